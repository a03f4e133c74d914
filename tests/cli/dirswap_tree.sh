# SPDX-License-Identifier: Apache-2.0
# Directories of directories exchanged whole (issue 17, point 4): when
# every entry of a directory, in the target and in the staging area, is a
# directory that is itself exchanged whole, the swap exchanges the parent
# instead, one renameat2 for the subtree, however many directories it
# holds (site/ below, with site/css/ and site/js/ inside). A parent that
# holds a file of its own (lib/ with the host's lib/mine.txt) is not
# exchanged, its subdirectories are. The journal names site/ alone
# ("xdir"); a kill -9 before or after each exchange, a failed health check
# and `upgr rollback` all give back the old tree (site/'s inode), byte for
# byte, with the service running the old version.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

command -v strace >/dev/null || { ok "# SKIP strace missing"; exit 0; }
[ "$(uname -s)" = Linux ] || { ok "# SKIP not Linux"; exit 0; }
release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"
export ASAN_OPTIONS=detect_leaks=0

rel() {
	svc_src "$1" "$T/src$2" "  - { path: site/css/a.css, mode: \"0644\" }
  - { path: site/css/b.css, mode: \"0644\" }
  - { path: site/js/app.js, mode: \"0644\" }
  - { path: lib/x/one.txt, mode: \"0644\" }
  - { path: lib/y/two.txt, mode: \"0644\" }"
	mkdir -p "$T/src$2/site/css" "$T/src$2/site/js" "$T/src$2/lib/x" "$T/src$2/lib/y"
	for f in site/css/a.css site/css/b.css site/js/app.js lib/x/one.txt lib/y/two.txt; do
		echo "$f of $1" >"$T/src$2/$f"
	done
	release_make "$T/src$2/manifest.yaml" "$T/src$2" "$T/rel$2"
}
rel 1.0.0 1
rel 2.0.0 2
rel 3.0.0 3
ino() { stat -c %i "$TGT/$1"; }
bytes() { tree_sum "$1" | grep -v 'manifest.yaml\|etc/hello.conf\|lib/mine' | awk '{print $1, $3}'; }
running() { cat "$T/svc/running" 2>/dev/null; }

expect_exit 0 "install 1.0.0" $UPGR apply $A "$T/rel1"
chmod 0750 "$TGT/site"
chmod 0711 "$TGT/site/css"
echo "the host's own" >"$TGT/lib/mine.txt"
site1=$(ino site) css1=$(ino site/css) lib1=$(ino lib) x1=$(ino lib/x)

# --- one exchange for the subtree --------------------------------------------
strace -f -qq -e trace=renameat2 -o "$T/st2" $UPGR apply $A "$T/rel2" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] && ok "upgrade 1 -> 2 exits 0" || not_ok "upgrade 1 -> 2: exit $rc: $(cat "$T/err")"
grep -q 'renameat2(.*"site".*"site".*RENAME_EXCHANGE) = 0' "$T/st2" &&
	ok "site/ was exchanged whole (one renameat2 RENAME_EXCHANGE)" ||
	not_ok "no exchange of site/: $(grep renameat2 "$T/st2")"
grep -q 'renameat2(.*"\(css\|js\)"' "$T/st2" &&
	not_ok "site/css or site/js exchanged on its own: $(grep renameat2 "$T/st2")" ||
	ok "site/css/ and site/js/ moved with site/ (no exchange of their own)"
[ "$(ino site)" != "$site1" ] && [ "$(ino site/css)" != "$css1" ] &&
	ok "site/ and site/css/ are the staged directories now" || not_ok "site/ has its old inode"
[ "$(stat -c %a "$TGT/site")" = 750 ] && [ "$(stat -c %a "$TGT/site/css")" = 711 ] &&
	ok "site/ and site/css/ kept the modes set on the host (0750, 0711)" ||
	not_ok "modes: site $(stat -c %a "$TGT/site"), css $(stat -c %a "$TGT/site/css")"
[ "$(ino lib)" = "$lib1" ] && [ -f "$TGT/lib/mine.txt" ] &&
	ok "lib/ (holds a file of the host's) was not exchanged, the file stays" ||
	not_ok "lib/: inode $(ino lib) vs $lib1; $(ls "$TGT/lib")"
grep -q 'renameat2(.*"x".*"x".*RENAME_EXCHANGE) = 0' "$T/st2" && [ "$(ino lib/x)" != "$x1" ] &&
	ok "lib/x/ was exchanged on its own" || not_ok "lib/x/ not exchanged"
bytes "$TGT" >"$T/got2"; bytes "$T/src2" >"$T/want2"
expect_same "$T/want2" "$T/got2" "the target is exactly release 2"
[ "$(running)" = 2.0.0 ] && ok "2.0.0 runs" || not_ok "running $(running)"

# --- a failing health check: the old tree comes back --------------------------
site2=$(ino site) css2=$(ino site/css)
touch "$T/svc/unhealthy-3.0.0"
expect_exit 1 "3.0.0 fails its health check: rolled back (exit 1)" $UPGR apply $A "$T/rel3"
rm -f "$T/svc/unhealthy-3.0.0"
[ "$(ino site)" = "$site2" ] && [ "$(ino site/css)" = "$css2" ] &&
	ok "the rollback exchanged site/ back (its inode, and site/css/'s)" ||
	not_ok "site/ inode $(ino site), was $site2"
bytes "$TGT" >"$T/got"
expect_same "$T/want2" "$T/got" "after the rollback the target is exactly release 2"

# --- a kill -9 at every step of the exchanges ---------------------------------
# The renameat2 calls of an upgrade: the probe (in the preparation, before
# the journal), then one exchange per journalled directory; a kill at
# call N stops it before the Nth, so N = 1 .. exchanges + 1 covers every
# point before, between and after the exchanges (after the last one, the
# kill comes with the first per-file rename instead).
n=$(grep -c 'RENAME_EXCHANGE) = 0' "$T/st2")
[ "$n" -ge 4 ] && ok "upgrade 1 -> 2 made $n renameat2 calls (probe and exchanges)" ||
	not_ok "$n renameat2 calls"
k=1
while [ "$k" -le "$((n + 1))" ]; do
	if [ "$k" -le "$n" ]; then
		strace -f -qq -o /dev/null -e trace=renameat2 -e inject=renameat2:signal=KILL:when=$k \
			$UPGR apply $A "$T/rel3" >/dev/null 2>&1
	else
		strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:signal=KILL:when=1 \
			$UPGR apply $A "$T/rel3" >/dev/null 2>&1
	fi
	rc=$?
	[ $rc = 137 ] && ok "step $k: killed" || not_ok "step $k: exit $rc, not killed"
	if [ "$k" -gt 1 ]; then
		grep -q "^xdir $site2 [0-9]* site$" "$T/a-state/apps/hello/journal" &&
			! grep -q '^xdir .* site/' "$T/a-state/apps/hello/journal" &&
			ok "step $k: the journal names site/ (its inode before), nothing below it" ||
			not_ok "step $k: journal: $(grep xdir "$T/a-state/apps/hello/journal")"
	fi
	if [ "$k" -gt "$n" ]; then
		# Every directory exchanged, the files outside them not yet
		# renamed: status says the swap (the old files the exchanges
		# left in the staging area are not still to be swapped in).
		expect_exit 3 "step $k: status says an interrupted transaction (3)" $UPGR status $A
		expect_grep "$T/out" "^hello: interrupted during the swap " \
			"step $k: ... interrupted during the swap"
	fi
	expect_exit 0 "step $k: recover exits 0" $UPGR recover $A
	[ "$(ino site)" = "$site2" ] && [ "$(ino site/css)" = "$css2" ] &&
		ok "step $k: site/ is the old one again (its inode)" ||
		not_ok "step $k: site/ inode $(ino site), was $site2"
	bytes "$TGT" >"$T/got"
	expect_same "$T/want2" "$T/got" "step $k: after the recovery the target is exactly release 2"
	[ "$(running)" = 2.0.0 ] && [ ! -e "$T/a-state/apps/hello/journal" ] &&
		ok "step $k: 2.0.0 runs, no journal left" || not_ok "step $k: running $(running)"
	k=$((k + 1))
done

# --- upgr rollback after a subtree exchange -----------------------------------
expect_exit 0 "upgrade 2 -> 3 exits 0" $UPGR apply $A "$T/rel3"
bytes "$TGT" >"$T/got3"; bytes "$T/src3" >"$T/want3"
expect_same "$T/want3" "$T/got3" "the target is exactly release 3"
expect_exit 0 "upgr rollback 3 -> 2 exits 0" $UPGR rollback $A hello
bytes "$TGT" >"$T/got"
expect_same "$T/want2" "$T/got" "upgr rollback puts release 2 back exactly"
[ "$(stat -c %a "$TGT/site")" = 750 ] && [ "$(stat -c %a "$TGT/site/css")" = 711 ] &&
	ok "and site/ and site/css/ have their modes" ||
	not_ok "modes: site $(stat -c %a "$TGT/site"), css $(stat -c %a "$TGT/site/css")"

# --- where the system cannot exchange: file by file ---------------------------
site=$(ino site)
UPGR_NO_EXCHANGE=1 expect_exit 0 "with exchanges unavailable, upgrade 2 -> 3 exits 0" $UPGR apply $A "$T/rel3"
[ "$(ino site)" = "$site" ] && ok "site/ went file by file (same inode)" || not_ok "site/ was exchanged"
bytes "$TGT" >"$T/got"
expect_same "$T/want3" "$T/got" "the target is exactly release 3"
