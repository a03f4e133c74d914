# SPDX-License-Identifier: Apache-2.0
# Fetch only what is missing (issue 17.1, src/objects.h): `upgr publish`
# writes per-file objects and a signed index beside the payload; an agent
# that has most of a release fetches only the objects it lacks, from real
# vsftpd servers, and checks each one. Covered: a first install takes the
# payload; a 3-file change fetches those 3 objects and no payload; an old
# agent (tests' UPGR_OLD, default /work/base4/upgr when present) installs
# a release the new publish made; lying servers (an object with other
# bytes, one larger than signed, an index signed by an unknown key, the
# index of another release) are refused, recorded once, and the host
# installs from the other server or the payload; a partial object resumes.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"

n=0; while [ ! -x "$UPGR" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
cp "$UPGR" "$T/upgr" && chmod 0755 "$T/upgr" && UPGR=$T/upgr

if ! ftpd_can_run 2>"$T/why"; then
	echo "ok - # SKIP objects tests: $(cat "$T/why")"
	exit 0
fi
ftpd_start 2 || { not_ok "vsftpd servers start"; exit 1; }

"$UPGR" keygen -W "$T/rel" >/dev/null 2>&1 || { not_ok "upgr keygen"; exit 1; }
"$UPGR" keygen -W "$T/other" >/dev/null 2>&1 || { not_ok "upgr keygen other"; exit 1; }
REPO=$T/repo
A=$REPO/apps/hello

. "$UPGR_TOP/tests/lib/objbuild.sh"

# sync: every server serves the master repository.
sync() {
	for _r in "$FTPD_ROOT_1" "$FTPD_ROOT_2"; do
		rm -rf "$_r/repo"; mkdir -p "$_r/repo"
		cp -R "$REPO/." "$_r/repo/"
		chown -R "$FTPD_USER:" "$_r"
	done
}

# agent_config NAME SERVER-URL...
agent_config() {
	_n=$1; shift
	{
		echo "host: host-$_n"
		echo "servers:"
		for _u in "$@"; do echo "  - ${_u}repo"; done
		echo "netrc: $FTPD_NETRC"
		echo "apps: [hello]"
		echo "root: $T/root-$_n"
		echo "state_dir: $T/$_n-state"
		echo "trusted_keys: [$T/rel.pub]"
		echo "device_key: $T/$_n-device.key"
		echo "audit_log: $T/$_n-audit.log"
	} >"$T/$_n.yaml"
	chmod 0644 "$T/$_n.yaml"
	mkdir -p "$T/root-$_n"
}

# mark: remember where each server's log ends; since I: its lines after.
mark() { for _i in 1 2; do eval "_m$_i=\$(wc -l <\"\$FTPD_LOG_$_i\")"; done; }
since() { eval "tail -n +\$((_m$1 + 1)) \"\$FTPD_LOG_$1\""; }
# downloads I REGEX: completed downloads from server I matching REGEX.
downloads() { since "$1" | grep 'OK DOWNLOAD' | grep -Ec -- "$2"; }
# dl_bytes I REGEX: their bytes.
dl_bytes() {
	since "$1" | grep 'OK DOWNLOAD' | grep -E -- "$2" |
		sed -n 's/.*", \([0-9]*\) bytes,.*/\1/p' | awk '{s+=$1} END {print s+0}'
}
# obj VERSION N: the object of file fN of VERSION, relative to the app.
obj() {
	_h=$(sha256sum "$T/b-$1/data/f$2" | cut -d' ' -f1)
	echo "objects/$(echo "$_h" | cut -c1-2)/$_h.gz"
}
installed_is() { expect_same "$T/b-$2/data" "$T/root-$1/opt/hello/data" "$3"; }
refusals() { grep -Ec '^result: "?refused' "$T/$1-audit.log" 2>/dev/null; }

# --- publish: objects and a signed index beside the payload ----------------
build 1.0.0
publish 1.0.0
[ -f "$A/releases/1.0.0/objects.yaml" ] && [ -f "$A/releases/1.0.0/objects.yaml.minisig" ] &&
	[ "$(find "$A/objects" -name '*.gz' | wc -l)" = 20 ] &&
	ok "publish: 20 objects and a signed index" || not_ok "publish: objects or index missing"
check "publish: the index verifies with the release key (minisign)" \
	minisign -Vm "$A/releases/1.0.0/objects.yaml" -p "$T/rel.pub"
[ ! -d "$A/releases/1.0.0/delta" ] && ok "publish: no change index for a first release" ||
	not_ok "publish: a change index from nothing"
f=$A/$(obj 1.0.0 3)
gzip -dc "$f" | cmp -s - "$T/b-1.0.0/data/f3" && ok "publish: an object is the gzip of its file" ||
	not_ok "publish: object content"
sync

# --- a first install takes the whole payload -------------------------------
agent_config a "$FTPD_URL_1" "$FTPD_URL_2"
mark
expect_exit 0 "first install" "$UPGR" run -c "$T/a.yaml"
installed_is a 1.0.0 "first install: the tree is the release"
[ "$(downloads 1 'payload.tar.gz')" = 1 ] && [ "$(downloads 1 '/objects')" = 0 ] &&
	ok "first install: the payload, no object" ||
	not_ok "first install: payload $(downloads 1 payload.tar.gz), objects $(downloads 1 /objects)"

# --- a 3-file change fetches those 3 objects, no payload ------------------
build 2.0.0 4 9 17
publish 2.0.0
[ "$(find "$A/objects" -name '*.gz' | wc -l)" = 23 ] &&
	ok "publish 2.0.0: only the 3 new objects are added" || not_ok "publish 2.0.0: objects"
dx=$A/releases/2.0.0/delta/1.0.0.yaml
check "publish 2.0.0: a change index from 1.0.0, signed (minisign)" minisign -Vm "$dx" -p "$T/rel.pub"
want=$(for i in 4 9 17; do basename "$(obj 2.0.0 "$i")" .gz; done | sort | tr '\n' ' ')
got=$(sed -n 's/.*{sha256: "\([0-9a-f]*\)".*/\1/p' "$dx" | tr '\n' ' ')
psize=$(stat -c %s "$A/releases/2.0.0/payload.tar.gz")
[ "$got" = "$want" ] && grep -qx 'from: "1.0.0"' "$dx" && grep -qx "payload_size: $psize" "$dx" &&
	ok "... it lists the 3 new contents, sorted, and the payload's size" ||
	{ not_ok "... change index: $got, want $want"; sed 's/^/#   /' "$dx"; }
sync
mark
expect_exit 0 "upgrade 2.0.0, on a terminal" script -qec "$UPGR run -c $T/a.yaml" /dev/null
installed_is a 2.0.0 "upgrade: the tree is the release"
# One progress line for the whole download, however many objects.
tr '\r' '\n' <"$T/out" >"$T/tty.lines"
expect_grep "$T/tty.lines" '^3 objects +[0-9.]+ (B|KiB) / +[0-9.]+ (B|KiB) +100%' \
	"on a terminal: one progress line, 3 objects, to 100%"
[ "$(grep -c '^3 objects .* 100%' "$T/tty.lines")" = 1 ] &&
	[ "$(grep -c '\.gz ' "$T/tty.lines")" = 0 ] &&
	ok "... drawn once to the end, no line per object" ||
	{ not_ok "progress lines"; sed 's/^/#   /' "$T/tty.lines" | head; }
want=0; for i in 4 9 17; do want=$((want + $(stat -c %s "$A/$(obj 2.0.0 "$i")" 2>/dev/null || echo 0))); done
got=$(dl_bytes 1 '/objects/')
[ "$(downloads 1 '/objects/')" = 3 ] && [ "$got" = "$want" ] &&
	ok "upgrade: 3 objects fetched ($got bytes, their size)" ||
	not_ok "upgrade: $(downloads 1 /objects/) objects, $got bytes, want 3 and $want"
[ "$(downloads 1 'payload.tar.gz')" = 0 ] && [ "$(downloads 2 '.')" = 0 ] &&
	ok "upgrade: no payload, nothing from the second server" ||
	not_ok "upgrade: payload downloads $(downloads 1 payload.tar.gz), server 2 $(downloads 2 .)"
[ ! -d "$T/a-state/cache/hello" ] && ok "upgrade: the cache is dropped after" ||
	not_ok "upgrade: cache left"

# --- an old agent installs a release the new publish made -----------------
OLD=${UPGR_OLD:-/work/base4/upgr}
if [ -x "$OLD" ]; then
	agent_config old "$FTPD_URL_1"
	expect_exit 0 "old agent: installs 2.0.0" "$OLD" run -c "$T/old.yaml"
	installed_is old 2.0.0 "old agent: the tree is the release"
else
	echo "ok - # SKIP old agent: no $OLD"
fi

# --- deciding what it lacks reads no unchanged installed file ---------------
# (the quick check's record of what it installed vouches for them; the
# changed file's object is checked as it is fetched)
if command -v strace >/dev/null; then
	build 2.1.0 5
	publish 2.1.0
	sync
	mark
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -s 64 -e trace=open,openat,sendto \
		-o "$T/open.log" "$UPGR" run -c "$T/a.yaml" >"$T/out" 2>"$T/err" &&
		ok "upgrade 2.1.0 (one file), traced" || not_ok "upgrade 2.1.0: $(cat "$T/err")"
	installed_is a 2.1.0 "upgrade 2.1.0: the tree is the release"
	n=$(grep -E "open(at)?\(.*root-a/opt/hello/data/f" "$T/open.log" | grep -vc ' = -1 ')
	[ "$n" = 0 ] && ok "... no installed file was opened (quick check)" ||
		{ not_ok "... $n installed files opened"; grep 'root-a/opt/hello/data/f' "$T/open.log" | head -3 | sed 's/^/#   /'; }
	# Once the manifest's bytes are the channel's and signed, a thread
	# asks for the change index from the installed 2.0.0 and checks it
	# while the main thread parses the manifest (and keeps it in the
	# cache), then fetches the one object it lists (src/repo.c, struct
	# index_ahead); strace names the thread of each request. The whole
	# index is not fetched, and the object once.
	ri=$(grep -n 'RETR 2.0.0.yaml' "$T/open.log" | head -n 1 | cut -d: -f1)
	ro=$(grep -n "RETR $(basename "$(obj 2.1.0 5)" | cut -c1-40)" "$T/open.log" | head -n 1 | cut -d: -f1)
	km=$(grep -n 'cache/hello/2.1.0/manifest.yaml.tmp' "$T/open.log" | head -n 1 | cut -d: -f1)
	ti=$(sed -n "${ri:-1}s/ .*//p" "$T/open.log")
	to=$(sed -n "${ro:-1}s/ .*//p" "$T/open.log")
	tm=$(sed -n "${km:-1}s/ .*//p" "$T/open.log")
	[ -n "$ri" ] && [ -n "$km" ] && [ "$ti" != "$tm" ] &&
		ok "... the change index was asked for by a thread beside the manifest's parse" ||
		not_ok "... the change index asked for at trace line ${ri:-none} by $ti, the manifest kept by $tm"
	[ -n "$ro" ] && [ "$to" = "$ti" ] &&
		ok "... and the object it lists, by the same thread" ||
		not_ok "... the object asked for at trace line ${ro:-none} by $to, the change index by $ti"
	[ "$(downloads 1 'delta/2.0.0.yaml"')" = 1 ] && [ "$(downloads 1 'objects.yaml"')" = 0 ] &&
		[ "$(downloads 2 '.')" = 0 ] && [ "$(downloads 1 '/objects/')" = 1 ] &&
		ok "... the change index and the object fetched once, not the whole index" ||
		not_ok "... change index $(downloads 1 'delta/2.0.0.yaml"'), index $(downloads 1 'objects.yaml"'), objects $(downloads 1 /objects/), server 2 $(downloads 2 .)"

	# --- each installed file is looked at once; what changed behind
	# upgr's back is still found (src/treescan.h) --------------------------
	# (f2 edited in place with its mtime put back, f3 made a symlink, f8
	# removed: none may pass for the installed bytes; f7 is the change)
	build 2.1.1 7
	publish 2.1.1
	sync
	I=$T/root-a/opt/hello/data
	touch -r "$I/f2" "$T/stamp"
	printf 'X' | dd of="$I/f2" bs=1 seek=100 conv=notrunc 2>/dev/null
	touch -r "$T/stamp" "$I/f2"
	rm "$I/f3" && ln -s f4 "$I/f3"
	rm "$I/f8"
	mark
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=stat,lstat,newfstatat,statx \
		-o "$T/stat.log" "$UPGR" run -c "$T/a.yaml" >"$T/out" 2>"$T/err" &&
		ok "upgrade 2.1.1 (one file; three changed on the host), traced" ||
		not_ok "upgrade 2.1.1: $(cat "$T/err")"
	installed_is a 2.1.1 "... the tree is the release: the three are put right"
	[ "$(downloads 1 '/objects/')" = 4 ] && [ "$(downloads 1 'payload.tar.gz')" = 0 ] &&
		ok "... 4 objects fetched: the change and the three the host lost" ||
		not_ok "... $(downloads 1 /objects/) objects, $(downloads 1 payload.tar.gz) payloads"
	# The change index lists f7's alone: the three lost send the host to
	# the whole index.
	[ "$(downloads 1 'delta/2.1.0.yaml"')" = 1 ] && [ "$(downloads 1 'objects.yaml"')" = 1 ] &&
		ok "... the change index, then the whole index for what it does not list" ||
		not_ok "... change index $(downloads 1 'delta/2.1.0.yaml"'), index $(downloads 1 'objects.yaml"')"
	looks=""
	for i in 1 5 10 15 20; do
		looks="$looks $(grep -Ec "(\"|/)data/f$i\"" "$T/stat.log")"
	done
	[ "$looks" = " 1 1 1 1 1" ] && ok "... each unchanged installed file was looked at once" ||
		{ not_ok "... lstat calls of f1 f5 f10 f15 f20:$looks"; grep 'data/f1"' "$T/stat.log" | sed 's/^/#   /'; }
else
	echo "ok - # SKIP strace missing"
fi

# --- a file moved: staged from the installed file at its old path -----------
# (the staging looks the bytes up by sha256 among the installed files)
build 2.2.0
for d in "$T/b-2.2.0" "$T/b-last"; do mv "$d/data/f6" "$d/data/moved6"; done
publish 2.2.0
sync
mark
# The change index from 2.1.1 lists nothing (no content is new): the plan
# takes every size from the host, moved6's from the installed f6.
"$UPGR" --dry-run --json -c "$T/a.yaml" >"$T/dry.json" 2>"$T/err" || not_ok "dry run 2.2.0: $(cat "$T/err")"
grep -q '"disk_needed": 400000' "$T/dry.json" &&
	grep -Eq '"path": "data/moved6".*"new_size": 20000' "$T/dry.json" &&
	ok "dry run 2.2.0: every size known, moved6's from the installed f6" ||
	{ not_ok "dry run 2.2.0: sizes"; grep -E 'disk_needed|moved6' "$T/dry.json" | sed 's/^/#   /'; }
[ "$(downloads 1 'delta/2.1.1.yaml"')" = 1 ] && [ "$(downloads 1 'objects.yaml"')" = 0 ] &&
	ok "... by the change index of no object, not the whole index" ||
	not_ok "... change index $(downloads 1 'delta/2.1.1.yaml"'), index $(downloads 1 'objects.yaml"')"
expect_exit 0 "upgrade 2.2.0 (f6 moved to moved6)" "$UPGR" run -c "$T/a.yaml"
installed_is a 2.2.0 "upgrade 2.2.0: the tree is the release"
[ "$(downloads 1 '/objects/')" = 0 ] && [ "$(downloads 1 'payload.tar.gz')" = 0 ] &&
	ok "... no object nor payload fetched: the bytes came from the installed f6" ||
	not_ok "... fetched $(downloads 1 /objects/) objects, $(downloads 1 payload.tar.gz) payloads"

# lie VERSION CHANGED... then SETUP: publish, sync, then SETUP changes
# server 1; the agent upgrades; one refusal is audited naming server 1.
r0=$(refusals a)
upgrade_past() {
	_v=$1; _what=$2
	mark
	expect_exit 0 "$_what: the host still installs $_v" "$UPGR" run -c "$T/a.yaml"
	installed_is a "$_v" "$_what: the tree is the release"
	_r=$(refusals a)
	if [ "$_r" = $((r0 + 1)) ] && tail -n 30 "$T/a-audit.log" | grep -q "${FTPD_URL_1%/}"; then
		ok "$_what: refused and audited once, naming the server"
	else
		not_ok "$_what: refusals $r0 -> $_r"; tail -n 20 "$T/a-audit.log" | sed 's/^/#   /'
	fi
	r0=$_r
	# a clean poll (the host is current) adds nothing
	"$UPGR" run -c "$T/a.yaml" >/dev/null 2>&1
	[ "$(refusals a)" = "$r0" ] || not_ok "$_what: a second record"
}

# --- an object with other bytes ------------------------------------------
build 3.0.0 1 2 3
publish 3.0.0
sync
o=$(obj 3.0.0 2)
head -c 20000 /dev/urandom | gzip -c >"$FTPD_ROOT_1/repo/apps/hello/$o"
upgrade_past 3.0.0 "an object with other bytes"
[ "$(downloads 2 '/objects/')" -ge 1 ] && [ "$(downloads 2 'payload.tar.gz')" = 0 ] &&
	ok "other bytes: the objects came from the second server" ||
	not_ok "other bytes: server 2 objects $(downloads 2 /objects/), payload $(downloads 2 payload.tar.gz)"

# --- an object larger than signed -----------------------------------------
build 4.0.0 5 6 7
publish 4.0.0
sync
o=$(obj 4.0.0 6)
{ cat "$A/$o" 2>/dev/null; head -c 100000 /dev/urandom; } >"$FTPD_ROOT_1/repo/apps/hello/$o"
upgrade_past 4.0.0 "an object larger than signed"

tail -n 30 "$T/a-audit.log" | grep -Eq "^error: .*larger than" &&
	ok "larger: the transfer was cut off at the signed size" ||
	not_ok "larger: no cut-off recorded"

# nodelta VERSION: the servers have no change index of VERSION (as a
# release published by an older upgr): hosts read the whole index.
nodelta() { rm -rf "$FTPD_ROOT_1/repo/apps/hello/releases/$1/delta" "$FTPD_ROOT_2/repo/apps/hello/releases/$1/delta"; }

# --- an index signed by an unknown key -------------------------------------
build 5.0.0 8 10 11
publish 5.0.0
sync
nodelta 5.0.0
i1=$FTPD_ROOT_1/repo/apps/hello/releases/5.0.0/objects.yaml
rm -f "$i1.minisig"
"$UPGR" sign -k "$T/other.key" "$i1" >/dev/null 2>&1 || not_ok "sign with other key"
upgrade_past 5.0.0 "an index signed by an unknown key"
[ "$(downloads 2 'objects.yaml"')" = 1 ] && [ "$(downloads 2 'payload.tar.gz')" = 0 ] &&
	ok "unknown key: the index came from the second server" || not_ok "unknown key: server 2"

# --- the index of another release ----------------------------------------
build 6.0.0 12 13 14
publish 6.0.0
sync
d=$FTPD_ROOT_1/repo/apps/hello/releases
nodelta 6.0.0
cp "$d/5.0.0/objects.yaml" "$d/6.0.0/objects.yaml"
cp "$d/5.0.0/objects.yaml.minisig" "$d/6.0.0/objects.yaml.minisig"
upgrade_past 6.0.0 "the index of another release"

# --- a change index signed by an unknown key: the whole index --------------
build 6.1.0 2 3
publish 6.1.0
sync
dx1=$d/6.1.0/delta/6.0.0.yaml
rm -f "$dx1.minisig"
"$UPGR" sign -k "$T/other.key" "$dx1" >/dev/null 2>&1 || not_ok "sign with other key"
upgrade_past 6.1.0 "a change index signed by an unknown key"
[ "$(downloads 1 'objects.yaml"')" = 1 ] && [ "$(downloads 1 '/objects/')" = 2 ] &&
	[ "$(downloads 1 'payload.tar.gz')" = 0 ] &&
	ok "unknown key: the whole index, then the 2 objects" ||
	not_ok "unknown key: index $(downloads 1 'objects.yaml"'), objects $(downloads 1 /objects/), payload $(downloads 1 payload.tar.gz)"

# --- the change index of another release ------------------------------------
build 6.2.0 4 5
publish 6.2.0
sync
cp "$d/6.1.0/delta/6.0.0.yaml" "$d/6.2.0/delta/6.1.0.yaml"
cp "$d/6.1.0/delta/6.0.0.yaml.minisig" "$d/6.2.0/delta/6.1.0.yaml.minisig"
upgrade_past 6.2.0 "the change index of another release"
[ "$(downloads 1 '/objects/')" = 2 ] && [ "$(downloads 1 'payload.tar.gz')" = 0 ] &&
	ok "another release's change index: the 2 objects, by the whole index" ||
	not_ok "another release's change index: objects $(downloads 1 /objects/), payload $(downloads 1 payload.tar.gz)"

# --- a change index signed by the release key, for another payload ---------
# (a publisher's mistake, or its key in other hands: every other field is
# right; held to the manifest's payload size, it is refused)
build 6.3.0 6 7
publish 6.3.0
sync
dx3=$d/6.3.0/delta/6.2.0.yaml
sed -i 's/^payload_size: .*/payload_size: 1/' "$dx3"
rm -f "$dx3.minisig"
"$UPGR" sign -k "$T/rel.key" -t "$(printf 'timestamp:%s\tapp:hello\tfile:releases/6.3.0/delta/6.2.0.yaml\tversion:6.3.0' "$(date +%s)")" \
	"$dx3" >/dev/null 2>&1 || not_ok "sign with the release key"
upgrade_past 6.3.0 "a change index for another payload size"
tail -n 30 "$T/a-audit.log" | grep -q "weighs a payload of 1 bytes" &&
	ok "another payload size: the record says so" || not_ok "another payload size: no such record"
[ "$(downloads 1 'objects.yaml"')" = 1 ] && [ "$(downloads 1 'payload.tar.gz')" = 0 ] &&
	ok "another payload size: the objects, by the whole index" ||
	not_ok "another payload size: index $(downloads 1 'objects.yaml"'), payload $(downloads 1 payload.tar.gz)"

# --- every server lies about an object: the payload ------------------------
build 7.0.0 15 16 18
publish 7.0.0
sync
o=$(obj 7.0.0 16)
for r in "$FTPD_ROOT_1" "$FTPD_ROOT_2"; do
	head -c 20000 /dev/urandom | gzip -c >"$r/repo/apps/hello/$o"
done
mark
expect_exit 0 "every server lies: the host still installs 7.0.0" "$UPGR" run -c "$T/a.yaml"
installed_is a 7.0.0 "every server lies: the tree is the release"
[ "$(downloads 1 'payload.tar.gz')" = 1 ] && ok "every server lies: the payload was taken" ||
	not_ok "every server lies: payload $(downloads 1 payload.tar.gz)"
r0=$(refusals a)

# --- a partial object resumes --------------------------------------------
build 8.0.0 19 20 1
publish 8.0.0
sync
o=$(obj 8.0.0 19)
h=$(basename "$o" .gz)
# As a killed run leaves it: the cache directories are the agent's, 0700.
(umask 077; mkdir -p "$T/a-state/cache/hello/8.0.0/objects")
head -c 5000 "$A/$o" 2>/dev/null >"$T/a-state/cache/hello/8.0.0/objects/$h.gz.part"
mark
expect_exit 0 "resume: installs 8.0.0" "$UPGR" run -c "$T/a.yaml"
installed_is a 8.0.0 "resume: the tree is the release"
since 1 | grep -Eq "REST 5000" && ok "resume: the partial object was continued (REST 5000)" ||
	not_ok "resume: no REST 5000"

# --- the sizes of a big change: the payload ---------------------------------
build 9.0.0 $(seq 1 15)
publish 9.0.0
sync
mark
expect_exit 0 "15 of 20 changed: installs 9.0.0" "$UPGR" run -c "$T/a.yaml"
installed_is a 9.0.0 "15 of 20 changed: the tree is the release"
[ "$(downloads 1 'payload.tar.gz')" = 1 ] && [ "$(downloads 1 '/objects/')" = 0 ] &&
	ok "15 of 20 changed: the payload, cheaper than the objects" ||
	not_ok "15 of 20: payload $(downloads 1 payload.tar.gz), objects $(downloads 1 /objects/)"

# --- killed at each step of an objects upgrade: old or new, then new ----------
# Each run is SIGKILLed at its Nth rename (then, for the next release, its
# Nth fsync) (tests/lib/killeach.sh); after each kill, `upgr recover`
# leaves the old release or the new one whole, and the next run goes on
# from what the last one left (a partial object, the cache).
. "$UPGR_TOP/tests/lib/killeach.sh"
kill_check() {
	"$UPGR" recover -c "$T/a.yaml" >/dev/null 2>&1
	diff -r "$T/b-$old/data" "$T/root-a/opt/hello/data" >/dev/null 2>&1 ||
		diff -r "$T/b-$new/data" "$T/root-a/opt/hello/data" >/dev/null 2>&1 ||
		not_ok "$1: the tree is neither $old nor $new"
}
KILL_RESET=: KILL_CHECK=kill_check
old=9.0.0 all=0
mark
for step in rename:10.0.0 fsync:11.0.0; do
	sc=${step%%:*} new=${step#*:}
	build "$new" 2 5 8
	publish "$new"
	sync
	kill_each "$sc" -- "$UPGR" run -c "$T/a.yaml"
	installed_is a "$new" "killed at each $sc: $new in the end"
	all=$((all + kills)) old=$new
done
[ "$(downloads 1 'payload.tar.gz')" = 0 ] && [ "$all" -gt 10 ] &&
	ok "killed at each step: $all kills, never the payload" ||
	not_ok "killed: $all kills, payload downloads $(downloads 1 payload.tar.gz)"
