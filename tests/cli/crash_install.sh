# SPDX-License-Identifier: Apache-2.0
# Crash safety of a first install: no state, no device key, no audit log.
# upgr is killed (SIGKILL, by strace's syscall fault injection) at every
# write, fsync, link, rename, unlink and mkdir of `upgr apply`; the next
# run must finish with a device.pub beside device.key that verifies every
# record, with `upgr audit verify` and with audit/verify (standard tools).
# A crash between device.key and device.pub used to leave the key alone
# for good, signing records no auditor could check.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/killeach.sh"

VERIFY="$UPGR_TOP/audit/verify"
release_key
release_config a
A="-c $T/a.yaml"
KEY=$T/a-device.key PUB=$T/a-device.pub LOG=$T/a-audit.log
svc_src 1.0.0 "$T/src1"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"
svc_src 1.1.0 "$T/src2"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"

fresh_host() {
	rm -rf "$T/root" "$T/a-state" "$T/svc" "$KEY" "$PUB" "$LOG" "$T"/a-device.* "$T"/a-audit.log.*
	mkdir -p "$T/root" "$T/svc"
}

# check_keys LABEL: the pair is there and verifies the whole log, twice.
check_keys() {
	if [ ! -f "$PUB" ]; then
		not_ok "$1: device.key without device.pub"
		return
	fi
	if ! "$UPGR" audit verify -p "$PUB" --every-signature "$LOG" >"$T/v.out" 2>&1; then
		not_ok "$1: upgr audit verify -p device.pub fails"; sed 's/^/#   /' "$T/v.out"
	elif ! sh "$VERIFY" "$PUB" "$LOG" >"$T/v.out" 2>&1; then
		not_ok "$1: audit/verify fails"; sed 's/^/#   /' "$T/v.out"
	elif ! grep -q "^[^ ]*: [1-9][0-9]* records" "$T/v.out"; then
		not_ok "$1: no record"; sed 's/^/#   /' "$T/v.out"
	else
		ok "$1: device.pub verifies every record, with both verifiers"
	fi
}

after_kill() {
	if ! $UPGR apply $A "$T/rel1" >"$T/next.out" 2>&1; then
		not_ok "$1: the next run fails"; sed 's/^/#   /' "$T/next.out"
	else
		check_keys "$1"
	fi
}
KILL_RESET=fresh_host KILL_CHECK=after_kill
kill_each write,fsync,link,rename,unlink,mkdir -- $UPGR apply $A "$T/rel1"
[ $kills -ge 60 ] && ok "killed at $kills points of a first install" || not_ok "only $kills kill points"

# device.pub replaced by another key's (a key swapped by hand): written
# again from device.key, the other one kept for the records it signed.
fresh_host
$UPGR apply $A "$T/rel1" >/dev/null 2>&1
$UPGR keygen -W "$T/other" >/dev/null 2>&1
cp "$T/other.pub" "$PUB"
other_id=$(sed -n 's/.*minisign public key \([0-9A-F]*\)$/\1/p' "$T/other.pub")
expect_exit 0 "an upgrade with another key's device.pub" $UPGR apply $A "$T/rel2"
check_keys "device.pub of another key"
expect_same "$T/other.pub" "$PUB.$other_id" "the other key is kept as device.pub.KEYID"

# Directories made for the device key and the audit log: each new one's
# entry is fsynced in its parent before the run ends, and so is the
# directory of every file made in them (the log, the key files).
fresh_host
sed "s|^device_key: .*|device_key: $T/d/etc/upgr/device.key|
s|^audit_log: .*|audit_log: $T/d/var/log/upgr/audit.log|" "$T/a.yaml" >"$T/d.yaml"
ASAN_OPTIONS=detect_leaks=0 strace -y -o "$T/dirs.trace" -e trace=mkdir,fsync,link,rename \
	$UPGR apply -c "$T/d.yaml" "$T/rel1" >/dev/null 2>"$T/run.err" ||
	{ not_ok "first install with new key and log directories"; sed 's/^/#   /' "$T/run.err"; }
for d in etc etc/upgr var var/log var/log/upgr; do
	parent=$(dirname "$T/d/$d")
	if awk -v dir="$T/d/$d" -v parent="$parent" '
		index($0, "mkdir(\"" dir "\"") == 1 && / = 0$/ { made = 1 }
		made && index($0, "<" parent ">)") && /^fsync/ { found = 1 }
		END { exit !found }' "$T/dirs.trace"; then
		ok "new directory $d: fsynced in $(basename "$parent")"
	else
		not_ok "new directory $d: its parent is not fsynced after the mkdir"
	fi
done
for f in etc/upgr/device.key etc/upgr/device.pub var/log/upgr/audit.log; do
	if awk -v f="$T/d/$f" -v dir="$(dirname "$T/d/$f")" '
		(index($0, ", \"" f "\")") || index($0, "<" f ">)")) { made = 1 }
		made && index($0, "fsync(") == 1 && index($0, "<" dir ">)") { found = 1 }
		END { exit !found }' "$T/dirs.trace"; then
		ok "$f: its directory is fsynced after it is made"
	else
		not_ok "$f: its directory is not fsynced after it is made"
	fi
done
