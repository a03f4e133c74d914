# SPDX-License-Identifier: Apache-2.0
# Applying only what changed (issue 17, points 2 and 3): an upgrade that
# changes one file of many reads neither the unchanged files on the host
# (the quick check: STATE/apps/APP/quickcheck) nor the payload more than
# once; a file changed on the host behind upgr's back (same size, mtime
# put back, or another inode) is still found and replaced; the record is
# private and a broken one only costs reading; the record itself is
# appended to (the changed files' lines), a last line cut short is neither
# read nor kept, and it is written anew before it grows a quarter past
# the release's files; a payload that is not the signed one is refused in
# that single read, before anything is stopped; the installed manifest is
# read from its parsed copy (STATE/apps/APP/manifest.parsed), never from
# one written for other bytes.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

command -v strace >/dev/null || { ok "# SKIP strace missing"; exit 0; }
release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"
QC=$T/a-state/apps/hello/quickcheck
N=40

# many VER DIR [EXTRA]: the fake service plus $N files under share/many/
# that never change between versions.
many() {
	_list="" _i=0
	mkdir -p "$2/share/many"
	while [ "$_i" -lt "$N" ]; do
		echo "file $_i, the same in every version" >"$2/share/many/f$_i.txt"
		_list="$_list  - { path: share/many/f$_i.txt, mode: \"0644\" }
"
		_i=$((_i + 1))
	done
	svc_src "$1" "$2" "$_list${3:-}"
}
for v in 1 2 3 4 5; do
	many $v.0.0 "$T/src$v"
	release_make "$T/src$v/manifest.yaml" "$T/src$v" "$T/rel$v"
done
grep -c 'share/many/' "$T/src1/manifest.yaml" | grep -qx "$N" &&
	ok "the release lists $N unchanging files" || not_ok "manifest: $(grep -c many "$T/src1/manifest.yaml")"

# opens LOG PATTERN: how many successful opens of PATTERN the strace log has.
opens() { grep -E "open(at)?\(.*$2" "$1" | grep -vc ' = -1 '; }
# traced LOG REL LABEL: upgr apply REL with its opens traced into LOG.
traced() {
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=open,openat -o "$1" \
		$UPGR apply $A "$2" >"$T/out" 2>"$T/err"
	_rc=$?
	[ $_rc = 0 ] && ok "$3 exits 0" || not_ok "$3: exit $_rc: $(cat "$T/err")"
}

# --- install, then an upgrade changing only share/data.txt and the script -----
expect_exit 0 "first install exits 0" $UPGR apply $A "$T/rel1"
[ -f "$QC" ] && [ "$(stat -c %a "$QC")" = 600 ] &&
	ok "the quick check's record is in the state directory, mode 0600" ||
	not_ok "record: $(ls -l "$QC" 2>&1)"
[ "$(grep -c 'share/many/' "$QC")" = "$N" ] && ok "it has an entry per file installed" ||
	not_ok "entries: $(grep -c many "$QC")"
cp "$QC" "$T/qc1"
traced "$T/st2" "$T/rel2" "upgrade 1 -> 2"
n=$(opens "$T/st2" "$TGT/share/many/")
[ "$n" = 0 ] && ok "no unchanged file of the target was read (quick check)" ||
	not_ok "$n opens of unchanged files in the target"
n=$(opens "$T/st2" "rel2/payload.tar.gz")
[ "$n" = 1 ] && ok "the payload was read once (one pass: hash and extract)" ||
	not_ok "the payload was opened $n times"
expect_same "$T/src2/share/data.txt" "$TGT/share/data.txt" "the changed file has the new bytes"
# The record costs what changed: its lines kept as they were, the lines
# of the files the upgrade put there appended (no rewrite of the rest).
[ "$(opens "$T/st2" "quickcheck.tmp")" = 0 ] && cmp -s -n "$(stat -c %s "$T/qc1")" "$T/qc1" "$QC" &&
	ok "the record was appended to, not written anew" ||
	not_ok "the record was rewritten ($(opens "$T/st2" "quickcheck.tmp") temporary files)"
check "... with a line for each file the upgrade changed, naming its new bytes" \
	python3 - "$T/qc1" "$QC" "$T/rel2/manifest.yaml" <<'EOF'
import re, sys
old = open(sys.argv[1]).read().splitlines()
new = open(sys.argv[2]).read().splitlines()
text = open(sys.argv[3]).read()
want = dict(re.findall(r'path: "?([^"\n]+?)"?\n(?:\s+\w+: .*\n)*?\s+sha256: "?([0-9a-f]{64})', text))
added = new[len(old):]
assert 1 <= len(added) <= 4, added
for l in added:
    f = l.split(' ', 9)
    sha, path = f[0], f[9]
    assert not path.startswith('share/many/'), l
    assert want.get(path) == sha, (path, sha, want.get(path))
EOF
# bytes ($1, $3 of tree_sum: the sources' modes are not the manifest's)
bytes() { tree_sum "$1" | grep -v 'manifest.yaml\|etc/hello.conf' | awk '{print $1, $3}'; }
bytes "$TGT" >"$T/sum2"
bytes "$T/src2" >"$T/want2"
expect_same "$T/want2" "$T/sum2" "the target is exactly release 2"

# --- changed behind upgr's back: found without the record's word ------------
f5=$TGT/share/many/f5.txt f6=$TGT/share/many/f6.txt
touch -r "$f5" "$T/stamp"
printf 'FILE 5, THE SAME IN EVERY VERSION\n' | dd of="$f5" conv=notrunc 2>/dev/null
touch -r "$T/stamp" "$f5"
[ "$(stat -c %s "$f5")" = "$(stat -c %s "$T/src3/share/many/f5.txt")" ] &&
	ok "f5 edited in place: same size, mtime put back" || not_ok "f5 size changed"
cp -p "$f6" "$T/f6" && rm "$f6" && echo "file 6, changed in every versioN" >"$f6" &&
	touch -r "$T/f6" "$f6"
expect_exit 0 "upgrade 2 -> 3 exits 0" $UPGR apply $A "$T/rel3"
expect_same "$T/src3/share/many/f5.txt" "$f5" "a file edited in place (mtime put back) is replaced (ctime)"
expect_same "$T/src3/share/many/f6.txt" "$f6" "a file replaced by another inode is replaced"
expect_grep "$T/a-audit.log" 'result: "?success' "the upgrade is audited"

# --- a broken or foreign record costs only reading ---------------------------
sed -i '2,$ s/^[0-9a-f]\{64\}/0000000000000000000000000000000000000000000000000000000000000000/' "$QC"
printf 'not a record line\n' >>"$QC"
traced "$T/st4" "$T/rel4" "upgrade 3 -> 4 over a record naming other hashes"
n=$(opens "$T/st4" "$TGT/share/many/")
[ "$n" -ge "$N" ] && ok "entries naming other bytes vouch for nothing: every file read ($n)" ||
	not_ok "only $n opens with a wrong record"
[ "$(grep -c 'share/many/' "$QC")" = "$N" ] && ! grep -q '^0\{64\}' "$QC" &&
	ok "the record is written again with what was read" || not_ok "record: $(head -3 "$QC")"

# --- rollback restores exactly, and the next upgrade still skips the rest ----
tree_sum "$TGT" >"$T/sum4"
expect_exit 0 "rollback 4 -> 3 exits 0" $UPGR rollback $A hello
bytes "$TGT" >"$T/sum3b"
bytes "$T/src3" >"$T/want3"
expect_same "$T/want3" "$T/sum3b" "the rollback put release 3 back exactly"
traced "$T/st5" "$T/rel5" "upgrade 3 -> 5 after the rollback"
n=$(opens "$T/st5" "$TGT/share/many/")
[ "$n" = 0 ] && ok "after a rollback the record still vouches for the untouched files" ||
	not_ok "$n opens of unchanged files after the rollback"

# --- an append cut short: its last line is neither read nor kept ------------
expect_exit 0 "rollback 5 -> 3 exits 0" $UPGR rollback $A hello
# f7's line moved to the end without its newline, as a cut append leaves it
grep ' share/many/f7\.txt$' "$QC" | tail -1 | tr -d '\n' >"$T/f7torn"
grep -v ' share/many/f7\.txt$' "$QC" >"$T/qc"
cat "$T/qc" "$T/f7torn" >"$QC"
traced "$T/st6" "$T/rel5" "upgrade 3 -> 5 over a record whose last line was cut"
n=$(opens "$T/st6" "$TGT/share/many/f7.txt")
[ "$n" -ge 1 ] && ok "a last line without its newline vouches for nothing: f7 is read" ||
	not_ok "f7 was not read: the cut line vouched for it"
[ "$(opens "$T/st6" "$TGT/share/many/")" = "$n" ] && ok "... and only f7 of the unchanged files" ||
	not_ok "$(opens "$T/st6" "$TGT/share/many/") opens of unchanged files"
[ "$(grep -c 'share/many/f7\.txt' "$QC")" = 1 ] && [ "$(tail -c 1 "$QC" | od -An -tx1 | tr -d ' ')" = 0a ] &&
	ok "... the cut line is cut off before the new lines" ||
	not_ok "record: $(grep 'f7\.txt' "$QC" | cut -c1-80)"

# --- written anew before appended lines outnumber the files by a quarter ----
nf=$(grep -c 'path:' "$T/a-state/apps/hello/manifest.yaml")
max=0 rewrote=no prev=$(wc -l <"$QC")
for round in 1 2 3 4 5 6; do
	$UPGR rollback $A hello >/dev/null 2>&1 && $UPGR apply $A "$T/rel5" >/dev/null 2>&1 ||
		not_ok "round $round: rollback and upgrade"
	l=$(wc -l <"$QC")
	[ "$l" -gt "$max" ] && max=$l
	[ "$l" -lt "$prev" ] && rewrote=yes
	prev=$l
done
[ "$rewrote" = yes ] && [ $((max - 1)) -le $((nf + nf / 4)) ] &&
	ok "the record was written anew in time: never over $nf + $((nf / 4)) lines ($((max - 1)))" ||
	not_ok "written anew: $rewrote; up to $((max - 1)) lines for $nf files"

# --- a payload that is not the signed one: refused in the one read ----------
cp -a "$T/rel1" "$T/bad"
sed -i 's/^version: .*/version: 6.0.0/' "$T/bad/manifest.yaml"
python3 - "$T/bad" <<'EOF'
import hashlib, re, sys
d = sys.argv[1]
p = open(d + "/payload.tar.gz", "rb").read()
m = open(d + "/manifest.yaml").read()
# The manifest keeps the payload's signed sha256 while one byte near the
# end of the payload changes (the stream still inflates up to there).
b = bytearray(p)
b[len(b) - 12] ^= 0x01
open(d + "/payload.tar.gz", "wb").write(bytes(b))
EOF
printf '' | minisign -S -s "$T/rel.key" -m "$T/bad/manifest.yaml" \
	-t "timestamp:0	app:hello	file:releases/6.0.0/manifest.yaml" >/dev/null 2>&1
tree_sum "$TGT" >"$T/before"
cp "$T/svc/log" "$T/svclog"
expect_exit 77 "a payload whose sha256 is not the signed one is refused (77)" $UPGR apply $A "$T/bad"
expect_grep "$T/err" "sha256" "the error names the payload's sha256"
tree_sum "$TGT" >"$T/after"
expect_same "$T/before" "$T/after" "nothing in the target changed"
expect_same "$T/svclog" "$T/svc/log" "the service was never stopped"
[ -z "$(ls -A "$T/root/opt/.hello.upgr/stage" 2>/dev/null)" ] && ok "nothing staged is left" ||
	not_ok "staging left: $(ls "$T/root/opt/.hello.upgr/stage")"
[ ! -e "$T/a-state/apps/hello/journal" ] && ok "no journal left" || not_ok "journal left"

# --- the installed manifest as parsed, kept beside it (src/mcache.h) -------
# rel6 also owns share/extra.txt; rel7 drops it; rel8 is the next upgrade.
MC=$T/a-state/apps/hello/manifest.parsed
many 6.0.0 "$T/src6" '  - { path: share/extra.txt, mode: "0644" }
'
echo "extra, owned by 6.0.0" >"$T/src6/share/extra.txt"
many 7.0.0 "$T/src7"
many 8.0.0 "$T/src8"
for v in 6 7 8; do release_make "$T/src$v/manifest.yaml" "$T/src$v" "$T/rel$v"; done
expect_exit 0 "upgrade 5 -> 6 (owning share/extra.txt) exits 0" $UPGR apply $A "$T/rel6"
[ -f "$MC" ] && [ "$(stat -c %a "$MC")" = 600 ] &&
	ok "the commit kept the manifest as parsed beside it, mode 0600" ||
	not_ok "no parsed copy: $(ls -l "$MC" 2>&1)"
cp "$MC" "$T/mc6"
traced "$T/st7" "$T/rel7" "upgrade 6 -> 7"
[ "$(opens "$T/st7" "apps/hello/manifest.parsed")" -ge 1 ] &&
	ok "the installed manifest was taken from its parsed copy" ||
	not_ok "manifest.parsed was not opened"
[ ! -e "$TGT/share/extra.txt" ] && ok "... and 6.0.0's extra.txt, not in 7.0.0, is gone" ||
	not_ok "extra.txt left by the upgrade to 7.0.0"
# The host's own file where 6.0.0 had one, byte for byte, and 6.0.0's
# parsed copy put back beside 7.0.0's manifest: were it believed, the
# upgrade would take extra.txt for the release's and remove it.
cp "$T/src6/share/extra.txt" "$TGT/share/extra.txt"
cp "$T/mc6" "$MC"
expect_exit 0 "upgrade 7 -> 8 beside a parsed copy of 6.0.0's manifest exits 0" \
	$UPGR apply $A "$T/rel8"
expect_same "$T/src6/share/extra.txt" "$TGT/share/extra.txt" \
	"a parsed copy made from other bytes is not used: the host's extra.txt is left"
cmp -s "$T/mc6" "$MC" && not_ok "the stale parsed copy was kept" ||
	ok "... and the copy now beside the manifest is 8.0.0's"
