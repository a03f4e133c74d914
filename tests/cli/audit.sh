# SPDX-License-Identifier: Apache-2.0
# upgr audit show/verify and audit/verify (the standard-tools verifier) on
# the same logs: intact, and every kind of tampering, a torn last record, a
# flip of every byte; the log as a YAML stream; checkpoints (--checkpoint,
# --against a directory, file:// and a real vsftpd); minisign -Vm.
. "$(dirname "$0")/../lib/testlib.sh"

GEN="$UPGR_TOP/${UPGR_BUILD:-build/plain}/tests/test_audit"
VERIFY="$UPGR_TOP/audit/verify"
if [ ! -x "$GEN" ]; then
	not_ok "log generator $GEN missing (make unit)"
	exit 1
fi
cd "$T"
"$GEN" --gen audit.log etc/device.key 6 >/dev/null 2>gen.err ||
	{ not_ok "generate a log"; cat gen.err; exit 1; }
PUB=etc/device.pub

# --- intact ----------------------------------------------------------------
expect_exit 0 "upgr audit verify accepts an intact log" \
	"$UPGR" audit verify -p $PUB audit.log
expect_grep "$T/out" "^audit.log: 6 records, head [0-9a-f]{64}, intact$" "summary line"
cp "$T/out" upgr.out
expect_exit 0 "--every-signature accepts it" \
	"$UPGR" audit verify -p $PUB --every-signature audit.log
expect_exit 0 "audit/verify accepts it" sh "$VERIFY" $PUB audit.log
expect_same upgr.out "$T/out" "both print the same summary and head"
: >empty.log
expect_exit 0 "an empty log is intact" "$UPGR" audit verify -p $PUB empty.log
expect_grep "$T/out" "0 records, head 73299d1edc99f933110350810c899b59bbe84c1820518f821d1771f2fe88d664" \
	"an empty log's head is the genesis value"
expect_exit 0 "audit/verify agrees on an empty log" sh "$VERIFY" $PUB empty.log

# --- the log is a YAML stream ---------------------------------------------
check "the log parses as a YAML stream of 6 documents, keys in order" /usr/bin/python3 -c '
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")))
assert len(docs) == 6, len(docs)
keys = ["seq", "time", "host", "app", "action", "from", "to", "result",
        "duration_ms", "downtime_ms", "manifest_sha256", "steps", "error",
        "prev", "sig"]
for i, d in enumerate(docs):
    assert list(d) == keys, list(d)
    assert d["seq"] == i + 1 and isinstance(d["from"], str)
    assert all(isinstance(s["exit"], int) for s in d["steps"])
assert docs[1]["host"] == "db-\"2\"", docs[1]["host"]
assert docs[4]["error"] == "bytes: \x01\x7f\x85\ufffe\ufffd\U0001f600 # not: a comment\r\n- [x]", repr(docs[4]["error"])
assert docs[1]["steps"][2]["output"].startswith("not listening\nport 8080: \x1b[31m")
' audit.log

# --- show -------------------------------------------------------------------
expect_exit 0 "audit show" "$UPGR" audit show audit.log
expect_grep "$T/out" "^#2 .* db-\"2\"  hello  upgrade 1\.2\.0 -> 1\.3\.0  rolled-back" "a line per record"
expect_grep "$T/out" "^      \| port 8080: \?\[31mrefused\?$" "failing output shown, control bytes as ?"
expect_exit 0 "audit show --json" "$UPGR" audit show --json audit.log
check "--json is an array of 6 objects" /usr/bin/python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 6 and a[5]["seq"] == 6 and a[1]["steps"][2]["exit"] == 1
assert a[4]["error"].startswith("bytes: \x01\x7f\x85\ufffe\ufffd\U0001f600"), a[4]["error"]
' "$T/out"
# A log upgr did not write (or one edited) may hold bytes that are not
# UTF-8 inside a string: the grammar lets them through, --json must not.
sed "s/output: \"not listening/output: \"n$(printf '\351')t listening/" audit.log >latin1.log
expect_exit 0 "audit show --json of a Latin-1 byte in a step's output" \
	"$UPGR" audit show --json latin1.log
check "--json stays valid JSON (the byte becomes U+FFFD)" /usr/bin/env PYTHONIOENCODING=utf-8 \
	/usr/bin/python3 -c '
import json, sys
a = json.load(sys.stdin)
assert a[1]["steps"][2]["output"].startswith("n\ufffdt listening"), a[1]["steps"][2]["output"]
' <"$T/out"
expect_exit 0 "audit show of it" "$UPGR" audit show latin1.log
check "the human form shows U+FFFD too" /usr/bin/python3 -c '
import sys
sys.stdin.buffer.read().decode("utf-8")' <"$T/out"
expect_exit 0 "show --since in the future" "$UPGR" audit show --json --since 2999-01-01 audit.log
expect_grep "$T/out" "^\[\]$" "nothing that recent"
expect_exit 0 "show --since 1d --app" "$UPGR" audit show --since 1d --app hello audit.log
expect_grep "$T/out" "^#6 " "the last day's records"
expect_exit 0 "show --app other" "$UPGR" audit show --app other audit.log
expect_no_grep "$T/out" "^#" "no record of another app"
awk '$0 == "---" && ++n == 3 { print "----"; next } { print }' audit.log >merged.log
expect_exit 65 "show stops at a malformed record" "$UPGR" audit show merged.log
expect_grep "$T/out" "^#1 " "after showing the records before it"
expect_grep "$T/err" "record 2 \(at byte [0-9]+\): malformed" "and names it"
expect_exit 2 "show --since garbage is a usage error" "$UPGR" audit show --since yesterday audit.log
expect_exit 2 "show --since a duration past a century is a usage error (no overflow)" \
	"$UPGR" audit show --since 99999999999999999d audit.log
expect_exit 2 "show --since -1d is a usage error" "$UPGR" audit show --since -1d audit.log
expect_exit 2 "verify without -p is a usage error" "$UPGR" audit verify audit.log
expect_exit 2 "unknown audit command" "$UPGR" audit frob audit.log
expect_exit 0 "audit --help" "$UPGR" audit --help
expect_grep "$T/out" "upgr audit verify -p PUB" "help names verify"

# --- tampering: both verifiers, the same record and reason ----------------
# Records of audit.log, one file each: rec.1 .. rec.6.
awk 'NR > 1 && $0 == "---" { n++ } NR == 1 { n = 1 } { print > ("rec." n) }' audit.log

# audit/verify runs with the system's awk (mawk on Debian) and, where it is
# installed, with gawk too: an auditor may have either.
GAWKBIN=
if command -v gawk >/dev/null 2>&1; then
	GAWKBIN=$T/gawkbin
	mkdir -p "$GAWKBIN" && ln -s "$(command -v gawk)" "$GAWKBIN/awk"
fi

# both NAME FILE WANT: upgr (--every-signature) and audit/verify both exit
# WANT; on 77 both name the same record and reason.
both() {
	name=$1 file=$2 want=$3
	run "$UPGR" audit verify -p $PUB --every-signature "$file"
	u_rc=$rc
	sed -n 's/^upgr: [^:]*: \(record [0-9]* ([^)]*): [^:]*\):.*/\1/p' "$T/err" >u.why
	run sh "$VERIFY" $PUB "$file"
	s_rc=$rc
	sed -n 's/^[^:]*: \(record [0-9]* ([^)]*): [^:]*\):.*/\1/p' "$T/err" >s.why
	if [ -n "$GAWKBIN" ]; then
		cp "$T/err" s.err
		PATH=$GAWKBIN:$PATH run sh "$VERIFY" $PUB "$file"
		[ "$rc" = "$s_rc" ] && cmp -s "$T/err" s.err || s_rc="$s_rc/gawk:$rc"
	fi
	if [ "$u_rc" = "$want" ] && [ "$s_rc" = "$want" ] && cmp -s u.why s.why; then
		ok "$name: both exit $want$([ -s u.why ] && echo " ($(cat u.why))")"
	else
		not_ok "$name: upgr $u_rc ($(cat u.why)), audit/verify $s_rc ($(cat s.why)), want $want"
		sed 's/^/#   /' "$T/err" | head -5
	fi
	if [ -n "${4:-}" ]; then
		if [ "$(cat u.why)" = "$4" ]; then ok "$name: names $4"; else
			not_ok "$name: names '$(cat u.why)', want '$4'"; fi
	fi
}

cat rec.1 rec.2 rec.3 rec.4 rec.5 rec.6 >same.log
both "an unchanged copy" same.log 0

sed '/^seq: 3$/,/^sig:/ s/^duration_ms: \([0-9]*\)$/duration_ms: 1\1/' audit.log >edited.log
both "edited field" edited.log 77 "record 3 (seq 3): bad signature"
expect_exit 77 "edited field, default mode" "$UPGR" audit verify -p $PUB edited.log
expect_grep "$T/err" "record 4 \(seq 4\): edited or inserted: prev is not the hash of record 3" \
	"default mode names the next record's broken chain"

cat rec.2 rec.3 rec.4 rec.5 rec.6 >nofirst.log
both "first record removed" nofirst.log 77 "record 1 (seq 2): removed"
cat rec.1 rec.2 rec.4 rec.5 rec.6 >nomiddle.log
both "middle record removed" nomiddle.log 77 "record 3 (seq 4): removed"
cat rec.1 rec.3 rec.2 rec.4 rec.5 rec.6 >swapped.log
both "records reordered" swapped.log 77 "record 2 (seq 3): reordered"
cat rec.1 rec.2 rec.3 rec.3 rec.4 rec.5 rec.6 >dup.log
both "record duplicated" dup.log 77 "record 4 (seq 3): duplicated"
cat rec.1 rec.2 rec.3 rec.4 rec.5 >nolast.log
both "last record removed: verifies (only a checkpoint shows it)" nolast.log 0

# A record added by someone without the device key: well chained (seq 7,
# prev the hash of record 6), with the only signature they have, another
# record's.
h6=$(sha256sum <rec.6 | cut -c1-64)
sed -e "s/^seq: 6$/seq: 7/" -e "s/^prev: .*/prev: \"$h6\"/" rec.6 >rec.7
cat audit.log rec.7 >forged.log
both "record appended without the device key" forged.log 77 "record 7 (seq 7): bad signature"
expect_exit 77 "default mode checks the newest signature" "$UPGR" audit verify -p $PUB forged.log
expect_grep "$T/err" "record 7 \(seq 7\): bad signature" "... and names it"

# Swap the signatures of records 2 and 3.
s2=$(sed -n 's/^sig: //p' rec.2) s3=$(sed -n 's/^sig: //p' rec.3)
{ cat rec.1; sed "s|^sig: .*|sig: $s3|" rec.2; sed "s|^sig: .*|sig: $s2|" rec.3
  cat rec.4 rec.5 rec.6; } >badsig.log
both "bad signature" badsig.log 77 "record 2 (seq 2): bad signature"

awk '$0 == "---" && ++n == 3 { print "----"; next } { print }' audit.log >merged.log
both "a broken record separator" merged.log 77 "record 2 (seq ?): malformed"

# Grammar edges, each applied to record 2: both verifiers must name the
# same record and reason (malformed, or a bad signature when the edit is
# still well-formed).
edge() {
	name=$1; shift
	{ cat rec.1; "$@" <rec.2; cat rec.3 rec.4 rec.5 rec.6; } >edge.log
	both "edge: $name" edge.log 77
}
edge "seq with a leading zero" sed 's/^seq: 2$/seq: 02/'
edge "seq of 16 digits" sed 's/^seq: 2$/seq: 1000000000000002/'
edge "an INT of 19 digits" sed 's/^duration_ms: .*/duration_ms: 1000000000000000000/'
edge "an INT of 18 digits" sed 's/^duration_ms: .*/duration_ms: -100000000000000000/'
edge "an escape JSON has but the format not" sed 's|^app: "hello"|app: "hel\\/lo"|'
edge "upper-case \\u hex" sed 's|^app: "hello"|app: "hel\\u00E9lo"|'
edge "lower-case \\u hex" sed 's|^app: "hello"|app: "hel\\u00e9lo"|'
edge "a space at a line's end" sed 's/^error: \(.*\)$/error: \1 /'
edge "a raw tab in a string" sed 's/^app: "hello"/app: "hel	lo"/'
edge "a raw 0xff byte in a string" sed "s/^app: \"hello\"/app: \"hel$(printf '\377')lo\"/"
edge "a NUL byte in a string" awk '/^app: / { printf "app: \"hel%clo\"\n", 0; next } { print }'
edge "steps: with no step" sed '/^  - /d'
edge "an output on a step that passed" sed 's/ms: 30 }/ms: 30, output: "x" }/'
edge "CRLF line ends" sed 's/$/\r/'
edge "a non-canonical signature" sed 's/==\"$/A=\"/'
edge "prev in upper case" sed '/^prev: /y/abcdef/ABCDEF/'
edge "keys out of order" sed -e 's/^from: /tmp: /' -e 's/^to: /from: /' -e 's/^tmp: /to: /'
edge "a blank line" sed 's/^error: /\nerror: /'
edge "a YAML comment" sed 's/^result: \(.*\)/result: \1 # ok/'
{ cat audit.log; echo; } >edge.log
both "a blank line after the last record" edge.log 77 "record 7 (seq ?): torn"
printf -- '---\n' >edge.log
both "a lone separator" edge.log 77 "record 1 (seq ?): torn"
{ printf 'x\n'; cat audit.log; } >edge.log
both "text before the first record" edge.log 77 "record 1 (seq ?): malformed"

# Another device's key.
"$GEN" --gen other.log other/device.key 1 >/dev/null
both "a log verified with another device's key" other.log 77 "record 1 (seq 1): bad signature"

# --- a crash mid-append ----------------------------------------------------
size=$(wc -c <audit.log)
head -c $((size - 50)) audit.log >torn.log
c=$(cat rec.1 rec.2 rec.3 rec.4 rec.5 | wc -c)
both "torn last record" torn.log 77 "record 6 (seq ?): torn"
expect_exit 77 "upgr names the torn record's byte" "$UPGR" audit verify -p $PUB torn.log
expect_grep "$T/err" "ends in a torn record at byte $c " "torn at the end of record 5"
cp torn.log torn2.log
"$GEN" --gen torn2.log etc/device.key 1 >/dev/null 2>gen.err &&
	ok "an append after a torn record goes on" || { not_ok "append after torn"; cat gen.err; }
expect_exit 0 "upgr accepts the log it repaired" "$UPGR" audit verify -p $PUB --every-signature torn2.log
expect_grep "$T/out" "^torn2.log: 7 records, head " "the repair record is seq 6, the new one seq 7"
expect_grep "$T/out" "^torn2.log: note: record 6 \(seq 6\): torn append: the $((size - 50 - c)) bytes after byte $c \(sha256 [0-9a-f]{64}\) were moved to torn2.log.torn-1$" \
	"and shows the note"
cp "$T/out" repair.out
expect_exit 0 "audit/verify accepts it" sh "$VERIFY" $PUB torn2.log
expect_same repair.out "$T/out" "and prints the same lines"
tail -c +$((c + 1)) torn.log >want.torn
expect_same want.torn torn2.log.torn-1 "the torn bytes are kept in torn2.log.torn-1"
head -c "$c" torn.log >cut.log
check "every whole record before them is kept" cmp -n "$c" cut.log torn2.log

# --- a flip of every byte --------------------------------------------------
# A 2-record log; upgr checks every byte flipped (XOR 1), audit/verify
# every 5th (an openssl run per signature makes it slower), and the two
# must agree on each one they both see.
"$GEN" --gen small.log etc2/device.key 2 >/dev/null
size=$(wc -c <small.log)
i=0 bad=0 disagree=0 n=0
while [ $i -lt "$size" ]; do
	b=$(od -An -tu1 -j $i -N1 small.log | tr -d ' ')
	{ head -c $i small.log
	  printf "\\$(printf %o $((b ^ 1)))"
	  tail -c +$((i + 2)) small.log; } >flip.log
	"$UPGR" audit verify -p etc2/device.pub flip.log >/dev/null 2>&1 && bad=$((bad + 1))
	if [ $((i % 5)) = 0 ]; then
		n=$((n + 1))
		sh "$VERIFY" etc2/device.pub flip.log >/dev/null 2>&1 && disagree=$((disagree + 1))
	fi
	i=$((i + 1))
done
if [ "$bad" = 0 ]; then ok "upgr rejects each of $size byte flips"; else
	not_ok "upgr accepts $bad of $size byte flips"; fi
if [ "$disagree" = 0 ]; then ok "audit/verify rejects each of $n byte flips it checked"; else
	not_ok "audit/verify accepts $disagree of $n byte flips"; fi

# --- checkpoints -------------------------------------------------------------
cp audit.log ckpt.log
head=$(sed -n 's/.*head \([0-9a-f]*\), intact/\1/p' upgr.out)
expect_exit 0 "sign a checkpoint with the device key" \
	"$UPGR" sign -k etc/device.key -t "upgr audit checkpoint seq:6 head:$head" ckpt.log
expect_exit 0 "minisign -Vm accepts the checkpoint" minisign -Vm ckpt.log -p $PUB
expect_grep "$T/out" "Trusted comment: upgr audit checkpoint seq:6 head:$head" "its trusted comment"
expect_exit 0 "the log extends its checkpoint" \
	"$UPGR" audit verify -p $PUB --checkpoint ckpt.log audit.log
expect_grep "$T/out" "extends the checkpoint ckpt.log \(seq 6, head $head\)" "says so"
cp audit.log grown.log
"$GEN" --gen grown.log etc/device.key 2 >/dev/null
expect_exit 0 "a longer log extends it" "$UPGR" audit verify -p $PUB --checkpoint ckpt.log grown.log
expect_exit 77 "a log cut after the checkpoint does not" \
	"$UPGR" audit verify -p $PUB --checkpoint ckpt.log nolast.log
expect_grep "$T/err" "nolast.log was cut since the checkpoint" "names the cut"
cp nolast.log rewritten.log
"$GEN" --gen rewritten.log etc/device.key 1 >/dev/null
expect_exit 0 "a cut-and-regrown log verifies alone" "$UPGR" audit verify -p $PUB rewritten.log
expect_exit 77 "but not against the checkpoint" \
	"$UPGR" audit verify -p $PUB --checkpoint ckpt.log rewritten.log
expect_grep "$T/err" "rewritten since the checkpoint: it differs from it at byte [0-9]+ \(record 6" \
	"names where"
"$UPGR" sign -k other/device.key -t "upgr audit checkpoint seq:6 head:$head" ckpt.log 2>/dev/null
expect_exit 77 "a checkpoint signed by another key is refused" \
	"$UPGR" audit verify -p $PUB --checkpoint ckpt.log audit.log
"$UPGR" sign -k etc/device.key -t "upgr audit checkpoint seq:5 head:$head" ckpt.log
expect_exit 77 "a checkpoint whose comment lies is refused" \
	"$UPGR" audit verify -p $PUB --checkpoint ckpt.log audit.log
expect_grep "$T/err" "does not describe it" "says why"

# The checkpoint the agent uploads (audit_checkpoint): minisign accepts it,
# and so does --checkpoint; a torn log gets none.
expect_exit 0 "audit_checkpoint makes the upload" "$GEN" --checkpoint audit.log etc/device.key up.log
expect_same audit.log up.log "the upload is the log's bytes"
expect_exit 0 "minisign -Vm accepts audit_checkpoint's signature" minisign -Vm up.log -p $PUB
expect_grep "$T/out" "Trusted comment: upgr audit checkpoint seq:6 head:$head$" "... with seq and head"
expect_exit 0 "--checkpoint accepts it" "$UPGR" audit verify -p $PUB --checkpoint up.log audit.log
expect_exit 0 "a torn log's checkpoint covers its whole records" "$GEN" --checkpoint torn.log etc/device.key up2.log
check "... up to the torn tail" cmp cut.log up2.log
expect_exit 0 "minisign -Vm accepts it" minisign -Vm up2.log -p $PUB
expect_grep "$T/out" "Trusted comment: upgr audit checkpoint seq:5 head:" "... with 5 records"

# --against a reports/HOST/ directory, a file:// URL, and a real FTP server.
mkdir -p repo/reports/web-17
cp audit.log repo/reports/web-17/audit.log
"$UPGR" sign -k etc/device.key -t "upgr audit checkpoint seq:6 head:$head" repo/reports/web-17/audit.log
expect_exit 0 "--against DIR" "$UPGR" audit verify -p $PUB --against repo/reports/web-17/ audit.log
expect_exit 77 "--against DIR catches a cut log" \
	"$UPGR" audit verify -p $PUB --against repo/reports/web-17/ nolast.log
expect_exit 0 "--against file://" \
	"$UPGR" audit verify -p $PUB --against "file://$T/repo/reports/web-17/" audit.log
expect_exit 77 "--against file:// catches a cut log" \
	"$UPGR" audit verify -p $PUB --against "file://$T/repo/reports/web-17/" nolast.log
expect_exit 69 "--against a missing checkpoint" \
	"$UPGR" audit verify -p $PUB --against "file://$T/repo/reports/nohost/" audit.log

. "$UPGR_TOP/tests/lib/ftpd.sh"
if ftpd_can_run 2>/dev/null; then
	ftpd_start 1
	mkdir -p "$FTPD_ROOT_1/repo/reports/web-17"
	cp repo/reports/web-17/audit.log repo/reports/web-17/audit.log.minisig \
		"$FTPD_ROOT_1/repo/reports/web-17/"
	chmod -R a+rX "$FTPD_ROOT_1/repo"
	expect_exit 0 "--against ftp:// (vsftpd)" "$UPGR" audit verify -p $PUB \
		--netrc "$FTPD_NETRC" --against "${FTPD_URL_1}repo/reports/web-17/" audit.log
	expect_exit 77 "--against ftp:// catches a cut log" "$UPGR" audit verify -p $PUB \
		--netrc "$FTPD_NETRC" --against "${FTPD_URL_1}repo/reports/web-17/" nolast.log
	expect_grep "$T/err" "was cut since the checkpoint" "names the cut"
else
	ok "# SKIP --against ftp:// (no vsftpd or not root)"
fi

# --- the example in audit/ -------------------------------------------------
expect_exit 0 "audit/example verifies with upgr" \
	"$UPGR" audit verify -p "$UPGR_TOP/audit/example/device.pub" "$UPGR_TOP/audit/example/audit.log"
expect_exit 0 "audit/example verifies with audit/verify" \
	sh "$VERIFY" "$UPGR_TOP/audit/example/device.pub" "$UPGR_TOP/audit/example/audit.log"
