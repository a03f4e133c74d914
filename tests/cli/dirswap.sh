# SPDX-License-Identifier: Apache-2.0
# Whole directories exchanged in one step (issue 17, point 4): a directory
# of the target whose every entry the upgrade replaces is exchanged with
# its staged copy (renameat2 RENAME_EXCHANGE), keeping its mode; one that
# holds a file the release keeps, or a file the release does not own, or
# an extended attribute, goes file by file, as does everything when the
# system cannot exchange (UPGR_NO_EXCHANGE=1). The journal names each
# exchanged directory with both inodes ("xdir"); a failed health check, a
# kill -9 just after the exchange, and `upgr rollback` all put back the
# old directory itself (its inode), byte for byte.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

command -v strace >/dev/null || { ok "# SKIP strace missing"; exit 0; }
[ "$(uname -s)" = Linux ] || { ok "# SKIP not Linux"; exit 0; }
release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"

# web/ changes whole in every version; mixed/ keeps keep.txt; foreign/
# changes whole but will hold a file of the host's own.
rel() {
	svc_src "$1" "$T/src$2" "  - { path: web/a.html, mode: \"0644\" }
  - { path: web/b.html, mode: \"0644\" }
  - { path: web/c.js, mode: \"0755\" }
  - { path: mixed/keep.txt, mode: \"0644\" }
  - { path: mixed/change.txt, mode: \"0644\" }
  - { path: foreign/f.txt, mode: \"0644\" }"
	mkdir -p "$T/src$2/web" "$T/src$2/mixed" "$T/src$2/foreign"
	for f in a.html b.html c.js; do echo "$f of $1" >"$T/src$2/web/$f"; done
	echo "kept in every version" >"$T/src$2/mixed/keep.txt"
	echo "change of $1" >"$T/src$2/mixed/change.txt"
	echo "foreign dir's file of $1" >"$T/src$2/foreign/f.txt"
	release_make "$T/src$2/manifest.yaml" "$T/src$2" "$T/rel$2"
}
rel 1.0.0 1
rel 2.0.0 2
rel 3.0.0 3
rel 4.0.0 4
ino() { stat -c %i "$TGT/$1"; }
# bytes DIR: path and sha256 of every file (the sources' modes are not the manifest's).
bytes() { tree_sum "$1" | grep -v 'manifest.yaml\|etc/hello.conf\|foreign/mine' | awk '{print $1, $3}'; }

expect_exit 0 "install 1.0.0" $UPGR apply $A "$T/rel1"
chmod 0750 "$TGT/web"
echo "the host's own" >"$TGT/foreign/mine.txt"
web1=$(ino web) mixed1=$(ino mixed) foreign1=$(ino foreign)

# --- the exchange ------------------------------------------------------------
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=renameat,renameat2 -o "$T/st2" $UPGR apply $A "$T/rel2" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] && ok "upgrade 1 -> 2 exits 0" || not_ok "upgrade 1 -> 2: exit $rc: $(cat "$T/err")"
grep -q 'renameat2(.*"web".*"web".*RENAME_EXCHANGE) = 0' "$T/st2" &&
	ok "web/ was exchanged whole (one renameat2 RENAME_EXCHANGE)" ||
	not_ok "no exchange of web/: $(grep -c renameat2 "$T/st2") renameat2 calls"
n=$(grep -c 'renameat(.*"[abc]\.\(html\|js\)"' "$T/st2")
[ "$n" = 0 ] && ok "no file of web/ was renamed one by one" || not_ok "$n per-file renames in web/"
[ "$(ino web)" != "$web1" ] && ok "web/ is the staged directory now (another inode)" ||
	not_ok "web/ has its old inode"
[ "$(stat -c %a "$TGT/web")" = 750 ] && ok "the exchanged web/ kept the mode set on the host (0750)" ||
	not_ok "web/ mode $(stat -c %a "$TGT/web")"
[ "$(ino mixed)" = "$mixed1" ] && ok "mixed/ (a file kept unchanged) went file by file" ||
	not_ok "mixed/ was exchanged"
[ "$(ino foreign)" = "$foreign1" ] && [ -f "$TGT/foreign/mine.txt" ] &&
	ok "foreign/ (holds a file the release does not own) went file by file, the file stays" ||
	not_ok "foreign/: inode $(ino foreign) vs $foreign1, mine.txt $(ls "$TGT/foreign")"
bytes "$TGT" >"$T/got2"; bytes "$T/src2" >"$T/want2"
expect_same "$T/want2" "$T/got2" "the target is exactly release 2"
[ "$(cat "$T/svc/running")" = 2.0.0 ] && ok "2.0.0 runs" || not_ok "running $(cat "$T/svc/running")"

# --- a failing health check: the old directory comes back ---------------------
web2=$(ino web)
touch "$T/svc/unhealthy-3.0.0"
expect_exit 1 "3.0.0 fails its health check: rolled back (exit 1)" $UPGR apply $A "$T/rel3"
rm -f "$T/svc/unhealthy-3.0.0"
[ "$(ino web)" = "$web2" ] && ok "the rollback exchanged web/ back (its inode)" ||
	not_ok "web/ inode $(ino web), was $web2"
bytes "$TGT" >"$T/got2b"
expect_same "$T/want2" "$T/got2b" "after the rollback the target is exactly release 2"

# --- killed right after the exchange: recovery exchanges back ------------------
# Exchanges come first in the swap (bin/, etc/, web/), then the renames
# one by one (mixed/, foreign/): killed at the first of those.
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:signal=KILL:when=1 \
	$UPGR apply $A "$T/rel3" >/dev/null 2>&1
rc=$?
[ $rc = 137 ] && ok "killed at the first per-file rename, after the exchanges" || not_ok "exit $rc, not killed"
grep -q "^xdir $web2 [0-9]* web$" "$T/a-state/apps/hello/journal" &&
	ok "the journal names web/ with its inode before and its staged one's (xdir)" ||
	not_ok "journal: $(grep xdir "$T/a-state/apps/hello/journal")"
[ "$(ino web)" != "$web2" ] && ok "web/ had been exchanged when the kill came" || not_ok "web/ not exchanged"
expect_exit 0 "recover exits 0" $UPGR recover $A
[ "$(ino web)" = "$web2" ] && ok "recovery exchanged web/ back (its inode)" ||
	not_ok "web/ inode $(ino web), was $web2"
bytes "$TGT" >"$T/got2c"
expect_same "$T/want2" "$T/got2c" "after the recovery the target is exactly release 2"
[ "$(cat "$T/svc/running")" = 2.0.0 ] && [ ! -e "$T/a-state/apps/hello/journal" ] &&
	ok "2.0.0 runs again, no journal left" || not_ok "running $(cat "$T/svc/running")"

# --- upgr rollback after an exchange -------------------------------------------
expect_exit 0 "upgrade 2 -> 3 exits 0" $UPGR apply $A "$T/rel3"
expect_exit 0 "upgr rollback 3 -> 2 exits 0" $UPGR rollback $A hello
bytes "$TGT" >"$T/got2d"
expect_same "$T/want2" "$T/got2d" "upgr rollback puts release 2 back exactly"
[ "$(stat -c %a "$TGT/web")" = 750 ] && ok "and web/ has its mode" || not_ok "web/ mode $(stat -c %a "$TGT/web")"

# --- where the system cannot exchange: file by file --------------------------
web=$(ino web)
UPGR_NO_EXCHANGE=1 expect_exit 0 "with exchanges unavailable, upgrade 2 -> 3 exits 0" $UPGR apply $A "$T/rel3"
[ "$(ino web)" = "$web" ] && ok "web/ went file by file (same inode)" || not_ok "web/ was exchanged"
bytes "$TGT" >"$T/got3"; bytes "$T/src3" >"$T/want3"
expect_same "$T/want3" "$T/got3" "the target is exactly release 3"

# --- an extended attribute on the directory: not exchanged -------------------
if command -v setfattr >/dev/null && setfattr -n user.upgr-test -v 1 "$TGT/web" 2>/dev/null; then
	web=$(ino web)
	expect_exit 0 "upgrade 3 -> 4 with an xattr on web/ exits 0" $UPGR apply $A "$T/rel4"
	[ "$(ino web)" = "$web" ] && getfattr -n user.upgr-test "$TGT/web" >/dev/null 2>&1 &&
		ok "web/ with an extended attribute went file by file, the attribute stays" ||
		not_ok "web/ was exchanged, losing its attribute"
else
	ok "# SKIP no user extended attributes here"
fi
