# SPDX-License-Identifier: Apache-2.0
# A torn audit append (a power cut mid-append leaves part of the last
# record) is repaired by the next run, with nobody's help and nothing
# dropped: the torn bytes move to audit.log.torn-N (0600), the log keeps
# its whole records, a signed "repair" record names the torn file with its
# size and SHA-256, then the run's own record follows. Both verifiers
# accept the result and show the note. The log is cut inside the header,
# inside the steps, inside the sig line and just before the final newline;
# then upgr is killed at every write, fsync and rename of the repairing run.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/killeach.sh"

VERIFY="$UPGR_TOP/audit/verify"
release_key
release_config a
A="-c $T/a.yaml"
PUB=$T/a-device.pub LOG=$T/a-audit.log
for v in 1.0.0 1.1.0 1.2.0; do
	svc_src $v "$T/src$v"
	release_make "$T/src$v/manifest.yaml" "$T/src$v" "$T/rel$v"
done
$UPGR apply $A "$T/rel1.0.0" >/dev/null && $UPGR apply $A "$T/rel1.1.0" >/dev/null ||
	{ not_ok "install 1.0.0, upgrade to 1.1.0"; exit 1; }
mkdir "$T/base"
cp -a "$T/root" "$T/a-state" "$T/svc" "$LOG" "$T/base/"
size=$(wc -c <"$LOG")
rec2=$(grep -b '^---$' "$LOG" | sed -n 2p | cut -d: -f1)   # where record 2 starts

reset_host() {   # reset_host CUT: the host after 1.1.0, its log cut at CUT bytes
	rm -rf "$T/root" "$T/a-state" "$T/svc" "$LOG" "$LOG".*
	cp -a "$T/base/root" "$T/base/a-state" "$T/base/svc" "$T/"
	head -c "$1" "$T/base/a-audit.log" >"$LOG"
	chmod 0640 "$LOG"
}

# check_repaired LABEL CUT: the log verifies with both verifiers, a note
# names a torn file that holds exactly the bytes from record 2 to CUT, and
# the whole record 1 is kept as it was.
check_repaired() {
	_label=$1 _cut=$2
	if ! $UPGR audit verify -p "$PUB" --every-signature "$LOG" >"$T/u.out" 2>&1; then
		not_ok "$_label: upgr audit verify fails"; sed 's/^/#   /' "$T/u.out"; return
	fi
	if ! sh "$VERIFY" "$PUB" "$LOG" >"$T/v.out" 2>&1; then
		not_ok "$_label: audit/verify fails"; sed 's/^/#   /' "$T/v.out"; return
	fi
	if ! cmp -s "$T/u.out" "$T/v.out"; then
		not_ok "$_label: the verifiers print different lines"; diff "$T/u.out" "$T/v.out" | sed 's/^/#   /'; return
	fi
	torn=$(sed -n 's/.* were moved to \(a-audit\.log\.torn-[0-9]*\)$/\1/p' "$T/u.out" | tail -1)
	sum=$(sed -n 's/.*(sha256 \([0-9a-f]*\)) were moved to .*/\1/p' "$T/u.out" | tail -1)
	tail -c +$((rec2 + 1)) "$T/base/a-audit.log" | head -c $((_cut - rec2)) >"$T/want.torn"
	if [ -z "$torn" ] || ! cmp -s "$T/want.torn" "$T/$torn"; then
		not_ok "$_label: no note names a file with the torn bytes"; sed 's/^/#   /' "$T/u.out"; return
	fi
	if [ "$(sha256sum <"$T/$torn" | cut -c1-64)" != "$sum" ] ||
	   [ "$(stat -c %a "$T/$torn")" != 600 ] ||
	   ! cmp -s -n "$rec2" "$T/base/a-audit.log" "$LOG"; then
		not_ok "$_label: $torn: wrong sha256 or mode, or record 1 changed"; return
	fi
	ok "$_label: both verifiers accept the log and note $torn"
}

# The cut points: inside the header, the steps, the sig line, and just
# before the final newline.
steps=$(grep -b '^  - ' "$LOG" | tail -1 | cut -d: -f1)
sig=$(grep -b '^sig: ' "$LOG" | tail -1 | cut -d: -f1)
for cut in $((rec2 + 1)) $((rec2 + 20)) $((steps + 10)) $((sig + 5)) $((sig + 60)) $((size - 1)); do
	reset_host $cut
	expect_exit 77 "cut at byte $cut: verify names the torn record" \
		$UPGR audit verify -p "$PUB" "$LOG"
	expect_exit 0 "cut at byte $cut: the next upgrade succeeds" $UPGR apply $A "$T/rel1.2.0"
	check_repaired "cut at byte $cut" $cut
	expect_grep "$LOG" '^action: "repair"$' "cut at byte $cut: the log holds a repair record"
	n=$(grep -c '^---$' "$LOG")
	[ "$n" = 3 ] && ok "cut at byte $cut: record 1, the repair, the upgrade" ||
		not_ok "cut at byte $cut: $n records, want 3"
	expect_exit 0 "cut at byte $cut: the following run (a rollback) appends as usual" \
		$UPGR rollback $A hello
	check_repaired "cut at byte $cut, one run later" $cut
done
[ "$(stat -c %a "$LOG")" = 640 ] && ok "the repaired log keeps mode 0640" ||
	not_ok "the repaired log is mode $(stat -c %a "$LOG")"

# A crash while repairing: every point leaves the torn bytes in the log or
# in a file that a record names.
cut=$((steps + 10))
after_kill() {
	$UPGR recover $A >/dev/null 2>&1
	$UPGR apply $A "$T/rel1.2.0" >/dev/null 2>&1
	check_repaired "$1 of the repairing run" $cut
}
reset_cut() { reset_host $cut; }
KILL_RESET=reset_cut KILL_CHECK=after_kill
kill_each write,fsync,rename -- $UPGR apply $A "$T/rel1.2.0"
[ $kills -ge 20 ] && ok "killed at $kills points of the repairing run" || not_ok "only $kills kill points"
