# SPDX-License-Identifier: Apache-2.0
# The transaction through `upgr apply`, `status`, `rollback`, `recover`:
# plan and dry-run, install, upgrade with a config file edited locally,
# rollback, a failing health check, trust failures, the lock; umask 077,
# a symlinked config file, a directory named in remove:.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"

svc_src 1.0.0 "$T/src1" "  - { path: share/old.txt, mode: \"0600\" }"
echo "old file" >"$T/src1/share/old.txt"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"

svc_src 2.0.0 "$T/src2" "  - { path: lib/new.so, mode: \"0755\" }
remove: [ share/old.txt ]"
mkdir -p "$T/src2/lib"; echo "new library" >"$T/src2/lib/new.so"
cp "$T/src1/share/same.txt" "$T/src2/share/same.txt"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"

# --- dry-run changes nothing -------------------------------------------------
expect_exit 0 "dry-run of a first install exits 0" $UPGR apply $A --dry-run "$T/rel1"
expect_grep "$T/out" "^plan: install hello \(nothing\) -> 1.0.0" "dry-run names the action and versions"
expect_grep "$T/out" "add +bin/hello-ctl" "dry-run lists each file added"
expect_grep "$T/out" "stop +skipped: first install" "dry-run says stop is skipped on a first install"
expect_grep "$T/out" "start +bin/hello-ctl start" "dry-run lists the commands in order"
if [ -z "$(find "$T/root" -mindepth 1)" ] && [ ! -e "$T/a-state" ]; then
	ok "dry-run left nothing on disk"
else not_ok "dry-run left files: $(find "$T/root" "$T/a-state" 2>/dev/null | head -5)"; fi
expect_exit 0 "dry-run --json exits 0" $UPGR apply $A --dry-run --json "$T/rel1"
check "dry-run --json is JSON with every file" /usr/bin/python3 -c "
import json,sys; p=json.load(open('$T/out'))
assert p['action']=='install' and p['to']=='1.0.0' and p['from'] is None
assert sorted(f['path'] for f in p['files'])==['bin/hello-ctl','etc/hello.conf','share/data.txt','share/old.txt','share/same.txt'], p['files']
assert all(f['op']=='add' for f in p['files'])
assert [c['phase'] for c in p['commands']]==['start','health']"

# --- install --------------------------------------------------------------
expect_exit 0 "first install exits 0" $UPGR apply $A "$T/rel1"
expect_same "$T/src1/share/data.txt" "$TGT/share/data.txt" "installed file has the release's bytes"
[ "$(stat -c %a "$TGT/bin/hello-ctl")" = 755 ] && [ "$(stat -c %a "$TGT/share/old.txt")" = 600 ] &&
	ok "installed files have the manifest's modes" || not_ok "modes: $(stat -c '%n %a' "$TGT"/bin/* "$TGT"/share/*)"
[ "$(cat "$T/svc/running")" = 1.0.0 ] && ok "the service was started" || not_ok "service not running"
expect_exit 0 "status exits 0" $UPGR status $A
expect_grep "$T/out" "^hello +1\.0\.0 +install +success" "status shows the installed version and result"
expect_exit 0 "the same release again exits 0" $UPGR apply $A "$T/rel1"
expect_grep "$T/out" "already installed" "the same release again is a no-op"

# --- upgrade, keeping a locally edited config -------------------------------
echo "local edit" >>"$TGT/etc/hello.conf"
cp "$TGT/etc/hello.conf" "$T/edited.conf"
tree_sum "$TGT" >"$T/sum1"
expect_exit 0 "dry-run of the upgrade exits 0" $UPGR apply $A --dry-run "$T/rel2"
expect_grep "$T/out" "unchanged +share/same.txt" "dry-run shows unchanged files as skipped"
expect_grep "$T/out" "keep-config +etc/hello.conf.upgr-new" "dry-run shows the edited config is kept"
expect_grep "$T/out" "remove +share/old.txt" "dry-run shows removals"
expect_grep "$T/out" "stop +bin/hello-ctl stop" "dry-run shows the stop on an upgrade"
expect_exit 0 "upgrade exits 0" $UPGR apply $A "$T/rel2"
expect_same "$T/edited.conf" "$TGT/etc/hello.conf" "a locally edited config file is kept"
expect_same "$T/src2/etc/hello.conf" "$TGT/etc/hello.conf.upgr-new" "the new config lands as .upgr-new"
[ ! -e "$TGT/share/old.txt" ] && ok "removed file is gone" || not_ok "share/old.txt still there"
expect_same "$T/src2/lib/new.so" "$TGT/lib/new.so" "added file in a new directory"
[ "$(cat "$T/svc/running")" = 2.0.0 ] && ok "the new version runs" || not_ok "running: $(cat "$T/svc/running")"
tree_sum "$TGT" >"$T/sum2"
expect_exit 0 "status after upgrade" $UPGR status $A --json
check "status --json shows 2.0.0 upgrade success" /usr/bin/python3 -c "
import json; s=json.load(open('$T/out'))['apps'][0]
assert (s['app'],s['version'],s['action'],s['from'],s['result'])==('hello','2.0.0','upgrade','1.0.0','success'), s"

# --- rollback to the previous version ----------------------------------------
expect_exit 0 "upgr rollback exits 0" $UPGR rollback $A hello
tree_sum "$TGT" >"$T/sum-rb"
expect_same "$T/sum1" "$T/sum-rb" "rollback restores the old version byte for byte"
[ "$(cat "$T/svc/running")" = 1.0.0 ] && ok "the old version runs after rollback" || not_ok "running: $(cat "$T/svc/running")"
expect_exit 0 "status after rollback" $UPGR status $A
expect_grep "$T/out" "^hello +1\.0\.0 +rollback +success" "status shows the rollback"
# Traced: the stop, start and health commands are spawned (vfork), not
# forked, so no copy of upgr's memory is made for a process that execs.
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=clone,clone3,fork,vfork -o "$T/procs.log" \
	$UPGR apply $A "$T/rel2" >"$T/out" 2>"$T/err" && ok "upgrade again after the rollback" ||
	not_ok "upgrade again after the rollback: $(cat "$T/err")"
_me=$(head -1 "$T/procs.log" | cut -d' ' -f1)
grep -E "^$_me +(clone|clone3|fork|vfork)\(" "$T/procs.log" | grep -v CLONE_THREAD >"$T/procs" || true
_spawned=$(grep -c CLONE_VFORK "$T/procs" || true)
_forked=$(grep -vc CLONE_VFORK "$T/procs" || true)
[ "$_forked" = 0 ] && [ "$_spawned" -ge 3 ] && ok "... its $_spawned commands were spawned, none forked" ||
	{ not_ok "... $_forked commands forked, $_spawned spawned"; sed 's/^/#   /' "$T/procs"; }
tree_sum "$TGT" >"$T/sum2b"
expect_same "$T/sum2" "$T/sum2b" "re-applying gives the same tree"

# --- a failing health check rolls back byte for byte -----------------------------
svc_src 3.0.0 "$T/src3"
release_make "$T/src3/manifest.yaml" "$T/src3" "$T/rel3"
touch "$T/svc/unhealthy-3.0.0"
: >"$T/svc/log"
expect_exit 1 "failed health check exits 1" $UPGR apply $A "$T/rel3"
expect_grep "$T/err" "health 'bin/hello-ctl status'" "the error names the failing health check"
tree_sum "$TGT" >"$T/sum3"
expect_same "$T/sum2" "$T/sum3" "after a failed health check the target is byte-identical"
[ "$(cat "$T/svc/running")" = 2.0.0 ] && ok "the old version runs again" || not_ok "running: $(cat "$T/svc/running" 2>&1)"
expect_grep "$T/svc/log" "^migrate-down 2.0.0" "the rollback steps ran, after the old files were restored"
expect_exit 0 "status after the failed upgrade" $UPGR status $A
expect_grep "$T/out" "^hello +2\.0\.0 +upgrade +rolled-back" "status shows rolled-back and the old version"
[ ! -e "$T/a-state/apps/hello/journal" ] && [ ! -e "$T/root/opt/.hello.upgr/stage" ] &&
	ok "no journal or staging left after a rollback" || not_ok "leftovers: $(ls "$T/a-state/apps/hello" "$T/root/opt/.hello.upgr")"
rm -f "$T/svc/unhealthy-3.0.0"

# --- trust failures touch nothing --------------------------------------------------
cp -a "$T/rel3" "$T/bad"
sed -i 's/^version: .*/version: 3.0.1/' "$T/bad/manifest.yaml"
expect_exit 77 "an edited manifest is refused with 77" $UPGR apply $A "$T/bad"
expect_grep "$T/err" "signature" "the error names the signature"
rm -rf "$T/bad"; cp -a "$T/rel3" "$T/bad"
printf 'x' | dd of="$T/bad/payload.tar.gz" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_exit 77 "a tampered payload is refused with 77" $UPGR apply $A "$T/bad"
expect_grep "$T/err" "sha256" "the error names the payload hash"
rm -rf "$T/bad"; cp -a "$T/rel3" "$T/bad"
head -c 10 "$T/rel1/payload.tar.gz" >>"$T/bad/payload.tar.gz"
expect_exit 77 "a payload of the wrong size is refused with 77" $UPGR apply $A "$T/bad"
sed 's/^trusted_keys:.*/trusted_keys: []/' "$T/a.yaml" >"$T/nokeys.yaml"; chmod 644 "$T/nokeys.yaml"
expect_exit 77 "no trusted keys: nothing verifies (77)" $UPGR apply -c "$T/nokeys.yaml" "$T/rel3"
minisign -G -W -p "$T/other.pub" -s "$T/other.key" >/dev/null 2>&1
sed "s|$T/rel.pub|$T/other.pub|" "$T/a.yaml" >"$T/other.yaml"; chmod 644 "$T/other.yaml"
expect_exit 77 "a release signed by an untrusted key is refused" $UPGR apply -c "$T/other.yaml" "$T/rel3"
tree_sum "$TGT" >"$T/sum4"
expect_same "$T/sum2" "$T/sum4" "refused releases changed nothing"
expect_exit 77 "an older release is refused (downgrade)" $UPGR apply $A "$T/rel1"

# --- the lock ------------------------------------------------------------------------
/usr/bin/python3 -c "
import fcntl,os,time,sys
fd=os.open('$T/a-state/lock',os.O_RDWR)
fcntl.lockf(fd,fcntl.LOCK_EX); open('$T/locked','w').close(); time.sleep(30)" &
lockpid=$!
n=0; while [ ! -e "$T/locked" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
expect_exit 75 "a second upgr while one holds the lock exits 75" $UPGR apply $A "$T/rel3"
kill $lockpid; wait $lockpid 2>/dev/null || :

# --- a target directory replaced by a symlink between staging and swap ----------
# The release's stop command plays the local attacker: it swaps share/ for a
# symlink to a directory outside the target just before the renames.
mkdir -p "$T/outside"
svc_src 4.0.0 "$T/src4"
sed -i 's|^stop: .*|stop: [ "mv share share.real \&\& ln -s '"$T"'/outside share" ]|' "$T/src4/manifest.yaml"
release_make "$T/src4/manifest.yaml" "$T/src4" "$T/rel4"
run $UPGR apply $A "$T/rel4"
[ "$rc" = 1 ] || [ "$rc" = 3 ] && ok "a symlinked target directory stops the swap (exit $rc)" ||
	not_ok "symlink swap: exit $rc"
expect_grep "$T/err" "symlink" "the error names the symlink"
[ -z "$(ls -A "$T/outside")" ] && ok "nothing was written through the symlink" ||
	not_ok "written outside: $(ls "$T/outside")"

# --- a first install whose health check fails: the new version is stopped ---------
release_config b "$T/b-root"
svc_src 5.0.0 "$T/src5"
release_make "$T/src5/manifest.yaml" "$T/src5" "$T/rel5"
touch "$T/svc/unhealthy-5.0.0"
: >"$T/svc/log"
expect_exit 1 "a first install that fails its health check exits 1" $UPGR apply -c "$T/b.yaml" "$T/rel5"
expect_grep "$T/svc/log" "^stop 5.0.0" "the new version that had started is stopped"
expect_grep "$T/svc/log" "^migrate-down 5.0.0" "the rollback steps ran while the release's files were there"
[ -z "$(find "$T/b-root/opt/hello" -type f 2>/dev/null)" ] && ok "no file of the failed first install is left" ||
	not_ok "left: $(find "$T/b-root/opt/hello" -type f)"

# --- an air-gapped host: apply needs no servers; the agent says it does --------------
grep -v -e '^servers:' -e '^apps:' "$T/b.yaml" >"$T/offline.yaml"; chmod 0644 "$T/offline.yaml"
expect_exit 0 "apply --dry-run with a config that names no servers" $UPGR apply -c "$T/offline.yaml" --dry-run "$T/rel1"
expect_exit 65 "upgr run with no servers or apps exits 65" $UPGR run -c "$T/offline.yaml"
expect_grep "$T/err" "needs 'servers:' and 'apps:'" "the agent names what its config lacks"

# --- file-system semantics ---------------------------------------------------------
# Under umask 077 the directories upgr makes are still 0755 (the files get
# the manifest's modes): a service user can reach its files.
release_config c "$T/c-root"
C="-c $T/c.yaml"
CT=$T/c-root/opt/hello
(umask 077; $UPGR apply $C "$T/rel1" >"$T/out" 2>"$T/err") || not_ok "install under umask 077: $(cat "$T/err")"
modes=$(stat -c '%a' "$T/c-root/opt" "$CT" "$CT/bin" "$CT/etc" "$CT/share" | tr '\n' ' ')
[ "$modes" = "755 755 755 755 755 " ] && ok "under umask 077 the directories made are 0755" ||
	not_ok "directory modes under umask 077: $modes"
(umask 077; $UPGR apply $C "$T/rel2" >"$T/out" 2>"$T/err") || not_ok "upgrade under umask 077: $(cat "$T/err")"
[ "$(stat -c '%a' "$CT/lib")" = 755 ] && ok "a directory an upgrade adds under umask 077 is 0755" ||
	not_ok "lib/ is $(stat -c '%a' "$CT/lib")"
# A config file made a symlink on the host is a local edit: kept, the new
# one lands beside it.
mkdir -p "$T/conf-elsewhere"
echo "managed elsewhere" >"$T/conf-elsewhere/hello.conf"
rm "$CT/etc/hello.conf"; ln -s "$T/conf-elsewhere/hello.conf" "$CT/etc/hello.conf"
svc_src 2.1.0 "$T/src21" "  - { path: lib/new.so, mode: \"0755\" }"
mkdir -p "$T/src21/lib"; cp "$T/src2/lib/new.so" "$T/src21/lib/"
release_make "$T/src21/manifest.yaml" "$T/src21" "$T/rel21"
expect_exit 0 "an upgrade over a symlinked config file" $UPGR apply $C "$T/rel21"
[ -L "$CT/etc/hello.conf" ] && [ "$(readlink "$CT/etc/hello.conf")" = "$T/conf-elsewhere/hello.conf" ] &&
	ok "the symlinked config file is kept as a symlink" || not_ok "etc/hello.conf: $(ls -l "$CT/etc/hello.conf")"
[ "$(cat "$T/conf-elsewhere/hello.conf")" = "managed elsewhere" ] && ok "the file it points to is untouched" ||
	not_ok "the symlink's target was changed"
expect_same "$T/src21/etc/hello.conf" "$CT/etc/hello.conf.upgr-new" "the new config lands as .upgr-new beside the symlink"
# remove: may name a directory. One that is a directory of a shipped file
# is refused by validate; one that holds a file the release never owned
# is kept (issue 15), and the dry run says so: never dropped in silence.
svc_src 2.2.0 "$T/src22" "remove: [ share ]"
expect_exit 65 "validate refuses remove: naming a directory of a shipped file" $UPGR validate "$T/src22/manifest.yaml"
expect_grep "$T/err" "manifest.yaml:[0-9]+:[0-9]+: remove\[0\]: \"share\" is a directory of" "the refusal has FILE:LINE:COL"
svc_src 2.2.0 "$T/src22" "remove: [ var/cache ]"
release_make "$T/src22/manifest.yaml" "$T/src22" "$T/rel22"
mkdir -p "$CT/var/cache"; echo x >"$CT/var/cache/f"
expect_exit 0 "dry-run of a remove: directory holding a file of this host" $UPGR apply $C --dry-run "$T/rel22"
expect_grep "$T/out" "^  keep +var/cache/ +\(holds var/cache/f, which the release never owned" "the dry run says the directory is kept, and why"
expect_exit 0 "a remove: directory holding a file of this host does not stop the upgrade" $UPGR apply $C "$T/rel22"
[ "$(cat "$CT/var/cache/f")" = x ] && ok "the file the release never owned is untouched" || not_ok "var/cache/f changed"
