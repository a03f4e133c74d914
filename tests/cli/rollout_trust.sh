#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# upgr rollout under a trust root (no agents: the controller's own checks,
# on a file:// repository): the key must hold the channel role; the
# release must be approved (four-eyes) before the channel key points hosts
# to it; abort's return to the previous version needs the release role too
# (a channel-only key leaves the rollout paused, 77); a key that holds both
# aborts, signing the channel as NAME.minisig under its name in the root,
# checked with minisign; a key other than the log's is refused before the
# channel changes.
. "$(dirname "$0")/../lib/testlib.sh"

cd "$T" || exit 1
umask 022
if ! command -v minisign >/dev/null 2>&1; then
	ok "rollout trust # SKIP no minisign"
	exit 0
fi

KEYS="ops1 ops2 alice carol console boss"
for k in $KEYS; do
	"$UPGR" keygen -W "$k" >/dev/null 2>&1 || not_ok "keygen $k"
done
pub() { sed -n 2p "$1.pub"; }
{
	printf 'upgr: 1\ntype: root\nversion: 1\nexpires: 2099-01-01T00:00:00Z\nkeys:\n'
	for k in $KEYS; do printf '  %s: %s\n' "$k" "$(pub $k)"; done
	printf 'roles:\n  root: { keys: [ops1, ops2], threshold: 2 }\n'
	printf '  release: { keys: [alice, boss], threshold: 1 }\n'
	printf '  approve: { keys: [carol], threshold: 1 }\n'
	printf '  channel: { keys: [console, boss], threshold: 1 }\n'
} >1.root.yaml
"$UPGR" trust sign -k ops1.key 1.root.yaml >/dev/null 2>&1 &&
	"$UPGR" trust sign -k ops2.key 1.root.yaml >/dev/null 2>&1 || not_ok "trust sign"
REPO=file://$T/repo
mkdir -p "$T/repo"
expect_exit 0 "trust publish root 1" "$UPGR" trust publish --repo "$REPO" 1.root.yaml

build() {
	d=$T/b-$1
	mkdir -p "$d/bin"
	printf '#!/bin/sh\necho hello %s\n' "$1" >"$d/bin/hello"
	printf 'upgr: 1\napp: hello\nversion: %s\ntarget: /opt/hello\n' "$1" >"$d/manifest.yaml"
	printf 'files:\n  - path: bin/hello\n    mode: "0755"\n' >>"$d/manifest.yaml"
}
# publish VERSION CHANNEL: by alice, the channel by console, no host moved.
publish() {
	build "$1"
	"$UPGR" publish --repo "$REPO" --key alice.key --channel-key console.key \
		--channel "$2" --rollout 0 "b-$1/manifest.yaml" >"$T/pub.out" 2>&1 ||
		{ not_ok "publish $1 on $2"; sed 's/^/#   /' "$T/pub.out"; }
}
approve() {
	"$UPGR" approve -k carol.key --repo "$REPO" --channel "$2" --yes hello "$1" \
		>"$T/appr.out" 2>&1 || { not_ok "approve $1"; sed 's/^/#   /' "$T/appr.out"; }
}
R="$UPGR rollout"
W="--waves 10,100 --soak 1h --max-failed 5%"
C=$T/repo/apps/hello/channels

for ch in stable beta; do
	publish 1.0.0 "$ch"; approve 1.0.0 "$ch"
	publish 1.1.0 "$ch"
done

expect_exit 77 "start with a key outside the channel role" \
	$R start --repo "$REPO" --key alice.key $W hello 1.1.0
expect_grep "$T/err" "not a key of the channel role" "... names the channel role"
expect_exit 77 "start of a release not yet approved" \
	$R start --repo "$REPO" --key console.key $W hello 1.1.0
expect_grep "$T/err" "approv" "... saying it waits for approval"
expect_grep "$C/stable.yaml" "^rollout: 0$" "... and the channel is unchanged"
approve 1.1.0 stable
approve 1.1.0 beta
expect_exit 0 "start with the channel key once approved" \
	$R start --repo "$REPO" --key console.key $W hello 1.1.0
expect_grep "$C/stable.yaml" "^rollout: 10$" "... the channel says rollout: 10"
check "... signed as stable.yaml.console.minisig (minisign -V)" \
	minisign -Vq -p console.pub -m "$C/stable.yaml" -x "$C/stable.yaml.console.minisig"
expect_exit 0 "a tick within the soak" $R tick --repo "$REPO" --key console.key
[ ! -s "$T/out" ] && ok "... prints nothing" || not_ok "... prints nothing: $(cat "$T/out")"

expect_exit 77 "abort with a channel-only key" $R abort --repo "$REPO" --key console.key hello
expect_grep "$T/err" "release" "... needs the release role"
expect_grep "$C/stable.yaml" '^version: "1.1.0"$' "... the channel still names 1.1.0"
expect_grep "$C/stable.yaml" "^rollout: 0$" "... paused at rollout 0"
grep -q '^state: paused$' "$T/repo/apps/hello/rollout/stable.yaml" &&
	ok "... the plan says paused" || not_ok "... the plan says paused"
expect_exit 77 "another channel key cannot extend console's log" \
	$R resume --repo "$REPO" --key boss.key hello
expect_grep "$T/err" "kept by another key" "... says why"
expect_grep "$C/stable.yaml" "^rollout: 0$" "... and the channel is unchanged"

# boss holds the channel and the release role: it runs beta and aborts it.
expect_exit 0 "start on beta with boss" \
	$R start --repo "$REPO" --key boss.key --channel beta $W hello 1.1.0
expect_exit 0 "abort with a key of both roles" \
	$R abort --repo "$REPO" --key boss.key --channel beta hello
expect_grep "$C/beta.yaml" '^version: "1.0.0"$' "... the channel names 1.0.0"
expect_grep "$C/beta.yaml" "^downgrade: true$" "... with downgrade: true"
check "... signed as beta.yaml.boss.minisig (minisign -V)" \
	minisign -Vq -p boss.pub -m "$C/beta.yaml" -x "$C/beta.yaml.boss.minisig"
L=$T/repo/apps/hello/rollout
expect_exit 0 "the beta log verifies with boss.pub" "$UPGR" audit verify -p boss.pub "$L/beta.log"
expect_exit 0 "the stable log verifies with console.pub" "$UPGR" audit verify -p console.pub "$L/stable.log"
