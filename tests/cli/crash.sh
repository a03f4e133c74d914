# SPDX-License-Identifier: Apache-2.0
# Crash safety (the upgrade adds, replaces, removes dropped files and
# emptied directories): upgr is killed (SIGKILL, by strace's syscall fault
# injection) at every rename, unlink, link, write, fsync and mkdir of an
# upgrade; after `upgr recover` the target is byte for byte the old or the
# new release, `upgr status` agrees, and that version runs. The same at
# every rename, unlink, fsync and rmdir of an upgrade whose health check
# fails, and so of its rollback (txn.c:roll_back): after `upgr recover` the
# old version runs and the failed upgrade has its audit record. Then ENOSPC
# at every write: the old version stays intact and running. And, from a
# syscall trace, the directory fsyncs a power cut would need.
# (LeakSanitizer cannot run under ptrace: leaks are off for the strace runs.)
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"
# 1.0.0 also ships share/dropped.txt and doc/gone/a.txt, which the later
# releases no longer list: removed in the swap, doc/gone and doc with them.
svc_src 1.0.0 "$T/src1" "  - { path: share/old.txt, mode: \"0644\" }
  - { path: share/dropped.txt, mode: \"0600\" }
  - { path: doc/gone/a.txt, mode: \"0644\" }"
echo "old" >"$T/src1/share/old.txt"
echo "dropped by 2.0.0" >"$T/src1/share/dropped.txt"
mkdir -p "$T/src1/doc/gone"; echo "gone in 2.0.0" >"$T/src1/doc/gone/a.txt"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"
svc_src 2.0.0 "$T/src2" "  - { path: lib/sub/new.so, mode: \"0755\" }
remove: [ share/old.txt ]"
mkdir -p "$T/src2/lib/sub"; echo "new" >"$T/src2/lib/sub/new.so"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"

# The tree with its directories: an emptied directory must go in the
# new release and be back in the old one.
tree_all() {
	tree_sum "$1"; (cd "$1" && find . -mindepth 1 -type d -printf 'dir %p %m\n' | sort)
}
$UPGR apply $A "$T/rel1" >/dev/null || { not_ok "install 1.0.0"; exit 1; }
tree_all "$TGT" >"$T/sum1"
mkdir "$T/base"
cp -a "$T/root" "$T/a-state" "$T/svc" "$T/base/"
cp -a "$T/a-device.key" "$T/a-device.pub" "$T/base/" 2>/dev/null
cp -a "$T/a-audit.log" "$T/base/" 2>/dev/null

reset_host() {
	rm -rf "$T/root" "$T/a-state" "$T/svc"
	cp -a "$T/base/root" "$T/base/a-state" "$T/base/svc" "$T/"
	[ -e "$T/base/a-audit.log" ] && cp -a "$T/base/a-audit.log" "$T/"
}

# The upgrade once, to know the new tree.
$UPGR apply $A "$T/rel2" >/dev/null || { not_ok "upgrade to 2.0.0"; exit 1; }
tree_all "$TGT" >"$T/sum2"

# check_host LABEL: target is one release, status and the service agree.
check_host() {
	tree_all "$TGT" >"$T/sumx"
	if cmp -s "$T/sumx" "$T/sum1"; then want=1.0.0
	elif cmp -s "$T/sumx" "$T/sum2"; then want=2.0.0
	else
		not_ok "$1: target is neither release"; diff "$T/sum1" "$T/sumx" | sed 's/^/#   /' | head; return
	fi
	got=$($UPGR status $A --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['apps'][0]['version'])")
	running=$(cat "$T/svc/running" 2>/dev/null)
	if [ "$got" = "$want" ] && [ "$running" = "$want" ] && [ ! -e "$T/a-state/apps/hello/journal" ]; then
		ok "$1: host has $want, status and service agree"
	else
		not_ok "$1: tree is $want, status says '$got', running '$running'"
	fi
}

kills=0
for sc in rename renameat renameat2 unlink unlinkat linkat write fsync mkdir; do
	n=1
	while :; do
		reset_host
		ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -e trace="$sc" -e inject="$sc":signal=KILL:when=$n \
			$UPGR apply $A "$T/rel2" >/dev/null 2>"$T/run.err"
		rc=$?
		[ $rc = 137 ] || break          # fewer than n such calls: done
		kills=$((kills + 1))
		expect_exit 0 "recover after SIGKILL at $sc #$n" $UPGR recover $A
		check_host "SIGKILL at $sc #$n"
		n=$((n + 1))
	done
	[ $rc = 0 ] && ok "with fewer than $n ${sc}s killed, the upgrade completes" ||
		{ not_ok "after $sc #$n: exit $rc"; sed 's/^/#   /' "$T/run.err"; }
done
[ $kills -ge 40 ] && ok "killed at $kills points of the upgrade" || not_ok "only $kills kill points"

# Directory durability (what a power cut, unlike kill -9, would lose): the
# parent of every directory the upgrade makes in the target is fsynced
# before COMMITTED, and the work directory after the backup rotation
# (rename backup.new -> backup) before DONE.
reset_host
ASAN_OPTIONS=detect_leaks=0 strace -y -o "$T/dtrace" -e trace=mkdir,mkdirat,rename,renameat,renameat2,fsync \
	$UPGR apply $A "$T/rel2" >/dev/null 2>"$T/run.err" || sed 's/^/#   /' "$T/run.err"
/usr/bin/python3 - "$(realpath "$TGT")" "$(realpath "$T/root/opt")/.hello.upgr" "$T/dtrace" <<'EOF'
import re,sys
tgt, work, trace = sys.argv[1], sys.argv[2], sys.argv[3]
lines = open(trace).read().splitlines()
def fdpath(s):
    m = re.match(r'\s*(?:AT_FDCWD|\d+<([^>]*)>)', s)
    return m.group(1) if m else None
ev = []
for l in lines:
    m = re.match(r'(\w+)\((.*)\)\s+=\s+(-?\d+)', l)
    if not m or m.group(3).startswith('-'):
        continue
    name, args = m.group(1), m.group(2)
    if name == 'fsync':
        ev.append(('fsync', fdpath(args)))
    elif name in ('mkdir', 'mkdirat'):
        a = args.split(', ')
        if name == 'mkdir':
            ev.append(('mkdir', a[0].strip('"')))
        else:
            d = fdpath(a[0]); n = a[1].strip('"')
            ev.append(('mkdir', n if n.startswith('/') else (d or '.') + '/' + n))
    elif name.startswith('rename'):
        ev.append(('rename', args))
journal = [i for i, e in enumerate(ev) if e[0] == 'rename' and re.search(r'/journal"', e[1])]
bad = 0
if len(journal) < 4:
    print('not ok - durability: %d journal writes seen' % len(journal)); sys.exit(0)
committed, done = journal[2], journal[3]
made = [(i, e[1]) for i, e in enumerate(ev) if e[0] == 'mkdir' and e[1].startswith(tgt + '/')]
for i, d in made:
    parent = d.rsplit('/', 1)[0]
    if any(e == ('fsync', parent) for e in ev[i:committed]):
        print('ok - durability: the parent of %s is fsynced before COMMITTED' % d[len(tgt)+1:])
    else:
        print('not ok - durability: %s made, its parent not fsynced before COMMITTED' % d[len(tgt)+1:]); bad += 1
rot = [i for i, e in enumerate(ev) if e[0] == 'rename' and 'backup.new' in e[1] and re.search(r'[/"]backup"', e[1])]
if not rot:
    print('not ok - durability: no backup rotation seen')
elif any(e == ('fsync', work) for e in ev[rot[-1]:done]):
    print('ok - durability: the work directory is fsynced after the backup rotation, before DONE')
else:
    print('not ok - durability: the backup rotation is not made durable before DONE')
if not made:
    print('not ok - durability: no directory made in the target')
EOF

# SIGKILL at every point of a rollback: 3.0.0 fails its health check.
svc_src 3.0.0 "$T/src3" "  - { path: lib/sub/new.so, mode: \"0755\" }
remove: [ share/old.txt ]"
mkdir -p "$T/src3/lib/sub"; echo "new 3" >"$T/src3/lib/sub/new.so"
release_make "$T/src3/manifest.yaml" "$T/src3" "$T/rel3"
# check_rolled_back LABEL STOPPED: 1.0.0 in place and running, status
# agrees, the audit log verifies and, once the run had stopped the service
# (STOPPED > 0), has the failed upgrade's record (a run killed before the
# stop changed nothing and may leave none).
check_rolled_back() {
	tree_all "$TGT" >"$T/sumx"
	got=$($UPGR status $A --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['apps'][0]['version'])")
	running=$(cat "$T/svc/running" 2>/dev/null)
	recs=$($UPGR audit show --json "$T/a-audit.log" | /usr/bin/python3 -c "
import json,sys
print(sum(1 for r in json.load(sys.stdin) if r['to']=='3.0.0' and r['result']=='rolled-back'))")
	if cmp -s "$T/sumx" "$T/sum1" && [ "$got" = 1.0.0 ] && [ "$running" = 1.0.0 ] &&
	   [ ! -e "$T/a-state/apps/hello/journal" ] && { [ "$2" = 0 ] || [ "${recs:-0}" -ge 1 ]; } &&
	   $UPGR audit verify -p "$T/a-device.pub" "$T/a-audit.log" >/dev/null 2>&1; then
		ok "$1: 1.0.0 runs, status agrees, the failed upgrade is recorded"
	else
		not_ok "$1: status '$got', running '$running', $recs rolled-back records ($2 stops), tree $(cmp -s "$T/sumx" "$T/sum1" && echo 1.0.0 || echo other)"
	fi
}
rbkills=0
for sc in rename renameat renameat2 unlink unlinkat fsync rmdir; do
	n=1
	while :; do
		reset_host
		touch "$T/svc/unhealthy-3.0.0"; : >"$T/svc/log"
		ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -e trace="$sc" -e inject="$sc":signal=KILL:when=$n \
			$UPGR apply $A "$T/rel3" >/dev/null 2>"$T/run.err"
		rc=$?
		[ $rc = 137 ] || break
		rbkills=$((rbkills + 1))
		stopped=$(grep -c '^stop' "$T/svc/log")
		expect_exit 0 "recover after SIGKILL at $sc #$n of a failing upgrade" $UPGR recover $A
		check_rolled_back "SIGKILL at $sc #$n of a failing upgrade" "$stopped"
		n=$((n + 1))
	done
	[ $rc = 1 ] && ok "with fewer than $n ${sc}s killed, the failing upgrade rolls back (exit 1)" ||
		{ not_ok "failing upgrade after $sc #$n: exit $rc"; sed 's/^/#   /' "$T/run.err"; }
done
rm -f "$T/svc/unhealthy-3.0.0"
[ $rbkills -ge 30 ] && ok "killed at $rbkills points of a failing upgrade and its rollback" ||
	not_ok "only $rbkills kill points in the rollback"

# ENOSPC at every write of an upgrade: either it fails (exit 1) with the
# old version intact and running, or, for a write past the commit point,
# it succeeds and the next run finishes what the failed write left.
reset_host
ASAN_OPTIONS=detect_leaks=0 strace -o "$T/writes" -e trace=write $UPGR apply $A "$T/rel2" >/dev/null 2>"$T/run.err" ||
	sed 's/^/#   /' "$T/run.err"
total=$(grep -c '^write(' "$T/writes")
n=1
while [ $n -le "$total" ]; do
	reset_host
	ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -e trace=write -e inject=write:error=ENOSPC:when=$n \
		$UPGR apply $A "$T/rel2" >/dev/null 2>"$T/enospc.err"
	rc=$?
	tree_all "$TGT" >"$T/sumx"
	running=$(cat "$T/svc/running")
	if [ $rc = 1 ] && cmp -s "$T/sumx" "$T/sum1" && [ "$running" = 1.0.0 ]; then
		ok "ENOSPC at write #$n of $total: exit 1, old version intact and running"
	elif [ $rc = 0 ] && cmp -s "$T/sumx" "$T/sum2" && [ "$running" = 2.0.0 ]; then
		$UPGR recover $A >/dev/null 2>&1
		check_host "ENOSPC at write #$n of $total, past the commit point"
	else
		not_ok "ENOSPC at write #$n: exit $rc, running $running"; sed 's/^/#   /' "$T/enospc.err"
	fi
	n=$((n + 1))
done
[ "$total" -ge 8 ] && ok "ENOSPC tried at all $total writes" || not_ok "only $total writes seen"
