#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The publisher's side of the trust root (issue 13 points 1, 3, 4, 5):
# against a real vsftpd and checked with the real minisign. publish signs
# the manifest with a release key and the channel file with a separate
# channel key, each signature file checkable alone; approve by a reviewer
# uploads a verifying signature, and is refused for a key outside the
# approve role (77), for the release key itself (four-eyes), and with no
# terminal and no --yes (2); on a terminal (a pty) it asks y/N: Enter or n
# uploads nothing (2), y the signature; fleet status shows the release unapproved,
# then approved; a scoped key signing outside its scope, a key outside the
# release role, a downgrade with only the channel threshold, and a server
# that rewinds or inflates the channel serial are all refused before
# anything on the server changes.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

cd "$T" || exit 1
umask 022

if ! ftpd_can_run 2>"$T/why"; then
	ok "trust publish # SKIP $(cat "$T/why")"
	exit 0
fi
if ! command -v minisign >/dev/null 2>&1; then
	ok "trust publish # SKIP no minisign"
	exit 0
fi
ftpd_start 1 || { not_ok "vsftpd starts"; exit 0; }

KEYS="ops1 ops2 alice bob carol console"
keys $KEYS
pub() { sed -n 2p "$1.pub"; }
{
	printf 'upgr: 1\ntype: root\nversion: 1\nexpires: 2099-01-01T00:00:00Z\nkeys:\n'
	for k in $KEYS; do printf '  %s: %s\n' "$k" "$(pub $k)"; done
	printf 'roles:\n  root: { keys: [ops1, ops2], threshold: 2 }\n'
	printf '  release: { keys: [alice, bob], threshold: 1 }\n'
	printf '  approve: { keys: [alice, carol], threshold: 1 }\n'
	printf '  channel: { keys: [console], threshold: 1 }\n'
	printf 'scopes:\n  bob: { apps: ["payments-*"], targets: ["/opt/payments"] }\n'
} >1.root.yaml
"$UPGR" trust sign -k ops1.key 1.root.yaml >/dev/null 2>&1 &&
	"$UPGR" trust sign -k ops2.key 1.root.yaml >/dev/null 2>&1 || not_ok "trust sign"

R=${FTPD_URL_1}repo
N="--netrc $FTPD_NETRC"
SRV=$FTPD_ROOT_1/repo/apps/hello
expect_exit 0 "trust publish root 1" "$UPGR" trust publish $N --repo "$R" 1.root.yaml

build() {
	d=$T/b-$1
	mkdir -p "$d/bin"
	printf '#!/bin/sh\necho hello %s\n' "$1" >"$d/bin/hello"
	printf 'upgr: 1\napp: hello\nversion: %s\ntarget: /opt/hello\n' "$1" >"$d/manifest.yaml"
	printf 'files:\n  - path: bin/hello\n    mode: "0755"\n' >>"$d/manifest.yaml"
	printf 'start:\n  - run: "true"\n' >>"$d/manifest.yaml"
}
for v in 1.0.0 1.1.0 1.2.0 0.9.0; do build $v; done
P="$UPGR publish $N --repo $R"
snap() { (cd "$FTPD_ROOT_1/repo" && find . -type f | sort | xargs sha256sum) >"$T/$1"; }

# --- point 1: release key + channel key -------------------------------
expect_exit 77 "publish under a root with the release key as channel key: 77" \
	$P --key alice.key b-1.0.0/manifest.yaml
expect_grep "$T/err" "not a key of the channel role" "... names the channel role"
[ ! -e "$SRV/releases/1.0.0/manifest.yaml" ] && ok "... nothing uploaded" ||
	not_ok "a release was uploaded"
expect_exit 0 "publish with --key alice --channel-key console" \
	$P --key alice.key --channel-key console.key b-1.0.0/manifest.yaml
M=$SRV/releases/1.0.0/manifest.yaml
C=$SRV/channels/stable.yaml
check "minisign -V: manifest.yaml.alice.minisig alone (alice.pub)" \
	minisign -V -q -p alice.pub -m "$M" -x "$M.alice.minisig"
check "minisign -V: manifest.yaml.minisig (trusted_keys: hosts) alone" \
	minisign -V -q -p alice.pub -m "$M" -x "$M.minisig"
check "minisign -V: stable.yaml.console.minisig alone (console.pub)" \
	minisign -V -q -p console.pub -m "$C" -x "$C.console.minisig"
if minisign -V -q -p alice.pub -m "$C" -x "$C.console.minisig" >/dev/null 2>&1; then
	not_ok "the channel file is signed by the channel key, not the release key"
else ok "the channel file is signed by the channel key, not the release key"; fi

# --- point 4: scope and role, refused before anything is uploaded -----
snap before
expect_exit 77 "bob (scoped to payments-*) signing hello: 77" \
	$P --key bob.key --channel-key console.key b-1.1.0/manifest.yaml
expect_grep "$T/err" "release key 'bob' is scoped" "... says the scope refuses it"
expect_exit 77 "carol (approve role only) as --key: 77" \
	$P --key carol.key --channel-key console.key b-1.1.0/manifest.yaml
expect_grep "$T/err" "not a key of the release role" "... names the release role"
snap after
expect_same "$T/before" "$T/after" "... nothing on the server changed"

# --- point 2: approve ---------------------------------------------------
A="$UPGR approve $N --repo $R"
expect_exit 77 "approve by a key outside the approve role (console): 77" \
	$A -k console.key --yes hello 1.0.0
expect_grep "$T/err" "not a key of the approve role" "... says so"
expect_exit 77 "approve by the release signer itself (alice): 77" \
	$A -k alice.key --yes hello 1.0.0
expect_grep "$T/err" "would not count" "... says it would not count (four-eyes)"
[ ! -e "$M.carol.minisig" ] && ok "... nothing uploaded" || not_ok "a signature appeared"
expect_exit 2 "approve with no terminal and no --yes: 2" \
	$A -k carol.key hello 1.0.0 </dev/null
expect_grep "$T/err" "pass --yes" "... says to pass --yes"
expect_grep "$T/out" "manifest  sha256 $(sha256sum "$M" | cut -c1-64)" \
	"... after showing the manifest's sha256"
expect_grep "$T/out" "files     1 added, 0 replaced, 0 removed" "... and the file counts"
expect_grep "$T/out" "start     1 command" "... and the commands per phase"
[ ! -e "$M.carol.minisig" ] && ok "... nothing uploaded" || not_ok "a signature appeared"

# --- point 3: fleet status, unapproved then approved --------------------
# The host runs with trusted_keys: (the agent's root support is separate
# work): it installs 1.0.0 and reports, so fleet status lists the app.
mkdir -p "$T/root-h"
"$UPGR" keygen -W "$T/h-device" >/dev/null 2>&1
cat >"$T/h.yaml" <<EOF
host: host-h
servers: [ "$R" ]
netrc: $FTPD_NETRC
apps: [hello]
root: $T/root-h
state_dir: $T/h-state
trusted_keys: [$T/alice.pub, $T/console.pub]
device_key: $T/h-device.key
audit_log: $T/h-audit.log
EOF
chmod 0644 "$T/h.yaml"
expect_exit 0 "a host on trusted_keys: installs 1.0.0 and reports" "$UPGR" run -c "$T/h.yaml"
F="$UPGR fleet status $N --repo $R"
expect_exit 0 "fleet status before approval" $F
expect_grep "$T/out" "^hello: latest 1.0.0 \\(channel stable\\) UNAPPROVED: waiting for approval \\(0 of 1\\)" \
	"... shows 1.0.0 unapproved (text)"
expect_exit 0 "fleet status --json before approval" $F --json
expect_grep "$T/out" '"approval": \{"hello": \{"state": "unapproved"' "... unapproved (json)"
expect_exit 0 "fleet status --html before approval" $F --html "$T/f1.html"
expect_grep "$T/f1.html" 'data-approval="unapproved"' "... unapproved (html)"

expect_exit 0 "approve by carol (--yes)" $A -k carol.key --yes hello 1.0.0
expect_grep "$T/out" "approved by 'carol' \\(approvals 1 of 1\\)" "... says so"
check "minisign -V: manifest.yaml.carol.minisig alone (carol.pub)" \
	minisign -V -q -p carol.pub -m "$M" -x "$M.carol.minisig"
expect_exit 0 "approve by carol again: already approved" $A -k carol.key --yes hello 1.0.0
expect_grep "$T/out" "already approved" "... says so"
expect_exit 0 "fleet status after approval" $F
expect_grep "$T/out" "^hello: latest 1.0.0 \\(channel stable\\) approved" "... shows 1.0.0 approved (text)"
expect_exit 0 "fleet status --json after approval" $F --json
expect_grep "$T/out" '"approval": \{"hello": \{"state": "approved"' "... approved (json)"
expect_exit 0 "fleet status --html after approval" $F --html "$T/f2.html"
expect_grep "$T/f2.html" 'data-approval="approved"' "... approved (html)"

# --- the change index under a root (issue 17) ---------------------------
# App bulk, 20 files: a host on the trust root installs 1.0.0 from the
# payload, then takes 1.1.0 (one file changed) by the change index from
# 1.0.0, signed by the release key as the whole index is, and its one
# object: no whole index, no payload.
bulk() {
	d=$T/k-$1
	mkdir -p "$d/data"
	[ -d "$T/k-last" ] && cp "$T/k-last/data/"* "$d/data/" ||
		for i in $(seq 1 20); do head -c 20000 /dev/urandom >"$d/data/f$i"; done
	[ -n "${2:-}" ] && head -c 20000 /dev/urandom >"$d/data/f$2"
	printf 'upgr: 1\napp: bulk\nversion: %s\ntarget: /opt/bulk\n' "$1" >"$d/manifest.yaml"
	printf 'files:\n  - path: data/\n    mode: "0644"\n' >>"$d/manifest.yaml"
	rm -rf "$T/k-last"; cp -R "$d" "$T/k-last"
}
bulk 1.0.0
expect_exit 0 "bulk 1.0.0: published and approved" \
	sh -c "$P --key alice.key --channel-key console.key k-1.0.0/manifest.yaml && $A -k carol.key --yes bulk 1.0.0"
agent_yaml r "trust_root: $T/1.root.yaml" "$R"
sed -i 's/^apps: .*/apps: [bulk]/' "$T/r.yaml"
expect_exit 0 "a host on the trust root installs bulk 1.0.0" "$UPGR" run -c "$T/r.yaml"
bulk 1.1.0 7
expect_exit 0 "bulk 1.1.0 (one file changed): published and approved" \
	sh -c "$P --key alice.key --channel-key console.key k-1.1.0/manifest.yaml && $A -k carol.key --yes --against 1.0.0 bulk 1.1.0"
D=$FTPD_ROOT_1/repo/apps/bulk/releases/1.1.0/delta/1.0.0.yaml
check "minisign -V: the change index from 1.0.0, delta/1.0.0.yaml.alice.minisig alone" \
	minisign -V -q -p alice.pub -m "$D" -x "$D.alice.minisig"
check "minisign -V: delta/1.0.0.yaml.minisig (trusted_keys: hosts) alone" \
	minisign -V -q -p alice.pub -m "$D" -x "$D.minisig"
l0=$(wc -l <"$FTPD_LOG_1")
expect_exit 0 "the host on the trust root upgrades to bulk 1.1.0" "$UPGR" run -c "$T/r.yaml"
tail -n +$((l0 + 1)) "$FTPD_LOG_1" | grep 'OK DOWNLOAD' >"$T/dl"
grep -q 'bulk/releases/1.1.0/delta/1.0.0.yaml"' "$T/dl" && ! grep -q 'objects.yaml"' "$T/dl" &&
	! grep -q 'payload.tar.gz' "$T/dl" && [ "$(grep -c '/objects/' "$T/dl")" = 1 ] &&
	ok "... by the change index and its one object: no whole index, no payload" ||
	{ not_ok "... downloads:"; sed 's/^/#   /' "$T/dl"; }
expect_same "$T/k-1.1.0/data" "$T/root-r/opt/bulk/data" "... with the build's bytes"

# --- point 5: the channel serial under a root ---------------------------
expect_exit 0 "publish 1.1.0 (serial 2)" \
	$P --key alice.key --channel-key console.key b-1.1.0/manifest.yaml
expect_exit 0 "approve 1.1.0 --against 1.0.0 by carol" $A -k carol.key --yes --against 1.0.0 hello 1.1.0
expect_grep "$T/out" "files     0 added, 1 replaced, 0 removed" "... counts the replaced file"
expect_grep "$T/out" "against   1.0.0" "... against 1.0.0"
serial_of() { sed -n 's/^serial: //p' "$C"; }
[ "$(serial_of)" = 2 ] && ok "... at serial 2" || not_ok "serial $(serial_of)"
cp "$C" ch2.yaml; cp "$C.console.minisig" ch2.sig
expect_exit 0 "publish 1.2.0 (serial 3)" \
	$P --key alice.key --channel-key console.key b-1.2.0/manifest.yaml
cp "$C" ch3.yaml; cp "$C.console.minisig" ch3.sig; cp "$C.minisig" ch3.legacy
# The y/N prompt on a terminal (a pty): Enter and n upload nothing, y the
# signature. pty_run ANSWER CMD...: type ANSWER once the prompt shows.
pty_run() { python3 "$UPGR_TOP/tests/lib/onpty.py" "[y/N]" "$@" >"$T/out" 2>&1; }
M12=$SRV/releases/1.2.0/manifest.yaml
for answer in "" n; do
	pty_run "$answer" $A -k carol.key --against 1.1.0 hello 1.2.0; rc=$?
	[ $rc = 2 ] && ok "approve on a terminal, answer '$answer': exit 2" ||
		not_ok "approve on a terminal, answer '$answer': exit $rc"
	expect_grep "$T/out" "approve hello 1.2.0 as 'carol'\\? \\[y/N\\]" "... after asking"
	expect_grep "$T/out" "manifest  sha256 $(sha256sum "$M12" | cut -c1-64)" \
		"... and showing the manifest's sha256"
	expect_grep "$T/out" "not approved: nothing uploaded" "... says nothing was uploaded"
	[ ! -e "$M12.carol.minisig" ] && ok "... and uploads nothing" ||
		not_ok "answer '$answer' uploaded a signature"
done
pty_run y $A -k carol.key --against 1.1.0 hello 1.2.0; rc=$?
[ $rc = 0 ] && ok "approve on a terminal, answer y: exit 0" || not_ok "answer y: exit $rc"
expect_grep "$T/out" "approved by 'carol' \\(approvals 1 of 1\\)" "... says so"
check "... uploads a signature minisign -V accepts (carol.pub)" \
	minisign -V -q -p carol.pub -m "$M12" -x "$M12.carol.minisig"
# Rewind: the server puts back serial 2, validly signed by the channel key.
cp ch2.yaml "$C"; cp ch2.sig "$C.console.minisig"; chown "$FTPD_USER:" "$C" "$C.console.minisig"
snap before
expect_exit 77 "the server rewinds the channel to serial 2: 77" \
	$P --key alice.key --channel-key console.key b-1.2.0/manifest.yaml
expect_grep "$T/err" "serial 2 is lower than the 3" "... names the serials"
snap after
expect_same "$T/before" "$T/after" "... nothing on the server changed"
# Inflate: serial 9, signed by the channel key (the console's online key).
sed -i 's/^serial: .*/serial: 9/' "$C"
printf '' | minisign -S -s console.key -m "$C" -x "$C.console.minisig" \
	-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" >/dev/null 2>&1 ||
	not_ok "minisign -S"
chown "$FTPD_USER:" "$C" "$C.console.minisig"
expect_exit 77 "the server inflates the serial to 9 (channel-signed): 77" \
	$P --key alice.key --channel-key console.key b-1.2.0/manifest.yaml
expect_grep "$T/err" "jumps more than one" "... says it jumps"
# Serial 4, but signed by the release key only: not the channel role.
sed -i 's/^serial: .*/serial: 4/' "$C"
printf '' | minisign -S -s alice.key -m "$C" -x "$C.console.minisig" \
	-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" >/dev/null 2>&1
chown "$FTPD_USER:" "$C" "$C.console.minisig"
expect_exit 77 "a channel file not signed by the channel role: 77" \
	$P --key alice.key --channel-key console.key b-1.2.0/manifest.yaml
expect_grep "$T/err" "does not verify against the trust root's channel role" "... says so"

# --- point 4: a downgrade needs the release threshold -------------------
cp ch3.yaml "$C"; cp ch3.sig "$C.console.minisig"; cp ch3.legacy "$C.minisig"
chown "$FTPD_USER:" "$C" "$C.console.minisig" "$C.minisig"
expect_exit 65 "publish the lower 0.9.0 without --downgrade: 65" \
	$P --key alice.key --channel-key console.key b-0.9.0/manifest.yaml
expect_exit 0 "--downgrade to 0.9.0 with release threshold 1: signed by alice too" \
	$P --key alice.key --channel-key console.key --downgrade b-0.9.0/manifest.yaml
check "minisign -V: stable.yaml.alice.minisig (the release key on the channel)" \
	minisign -V -q -p alice.pub -m "$C" -x "$C.alice.minisig"
check "minisign -V: stable.yaml.console.minisig" \
	minisign -V -q -p console.pub -m "$C" -x "$C.console.minisig"
# Root 2 asks two release signatures: the channel key and one release key
# cannot move hosts down any more.
sed 's/^version: 1/version: 2/; s/release: { keys: \[alice, bob\], threshold: 1 }/release: { keys: [alice, bob], threshold: 2 }/' \
	1.root.yaml >2.root.yaml
"$UPGR" trust sign -k ops1.key 2.root.yaml >/dev/null 2>&1 &&
	"$UPGR" trust sign -k ops2.key 2.root.yaml >/dev/null 2>&1 || not_ok "trust sign root 2"
expect_exit 0 "trust publish root 2 (release threshold 2)" "$UPGR" trust publish $N --repo "$R" 2.root.yaml
build 0.8.0
snap before
expect_exit 77 "--downgrade under root 2 with one release key: 77" \
	$P --key alice.key --channel-key console.key --downgrade b-0.8.0/manifest.yaml
expect_grep "$T/err" "needs the release role's threshold on the channel file: 2 release signatures" \
	"... names what is missing"
snap after
expect_same "$T/before" "$T/after" "... nothing on the server changed"
expect_exit 0 "trust show --repo walks to root 2" "$UPGR" trust show $N --repo "$R"
