# SPDX-License-Identifier: Apache-2.0
# The trust root: validate with positions, trust sign (one minisign file per
# signer, each accepted by the real minisign alone), trust publish refusing
# roots short of the old or new root threshold, distinct keys counted once,
# trust show (text, --json, --repo walking 1 -> 3), an expired root.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

cd "$T" || exit 1
umask 022

keys ops1 ops2 ops3 ops4 alice carol console
pub() { sed -n 2p "$1.pub"; }

# write_root FILE VERSION ROOTKEYS(comma) THRESHOLD [EXPIRES] [EXTRA KEYS...]
write_root() {
	f=$1 v=$2 rk=$3 th=$4 ex=${5:-2099-01-01T00:00:00Z}
	{
		printf 'upgr: 1\ntype: root\nversion: %s\nexpires: %s\nkeys:\n' "$v" "$ex"
		for k in ops1 ops2 ops3 ops4 alice carol console; do
			printf '  %s: %s\n' "$k" "$(pub $k)"
		done
		printf 'roles:\n  root: { keys: [%s], threshold: %s }\n' "$rk" "$th"
		printf '  release: { keys: [alice], threshold: 1 }\n'
		printf '  approve: { keys: [carol], threshold: 1 }\n'
		printf '  channel: { keys: [console], threshold: 1 }\n'
		printf 'scopes:\n  alice: { apps: ["payments-*"], targets: ["/opt/payments"] }\n'
	} >"$f"
}

write_root 1.root.yaml 1 "ops1, ops2, ops3" 2
expect_exit 0 "validate accepts a root file" "$UPGR" validate 1.root.yaml

# validate: each rule with FILE:LINE:COL.
sed 's/threshold: 2/threshold: 4/' 1.root.yaml >bad1.yaml
expect_exit 65 "threshold above the key count: 65" "$UPGR" validate bad1.yaml
expect_grep "$T/err" '^bad1.yaml:14:[0-9]+: roles.root.threshold: 4 is more than' "... at line:col"
sed 's/threshold: 2/threshold: 0/' 1.root.yaml >bad2.yaml
expect_exit 65 "threshold 0: 65" "$UPGR" validate bad2.yaml
expect_grep "$T/err" '^bad2.yaml:14:[0-9]+: roles.root.threshold: must be at least 1' "... says so"
sed 's/ops1, ops2, ops3/ops1, ops2, nobody/' 1.root.yaml >bad3.yaml
expect_exit 65 "unknown key name in a role: 65" "$UPGR" validate bad3.yaml
expect_grep "$T/err" "^bad3.yaml:14:[0-9]+: roles.root.keys\\[2\\]: no key named 'nobody'" "... names it"
sed "s|^  ops4: .*|  ops4: $(pub ops1)|" 1.root.yaml >bad4.yaml
expect_exit 65 "one public key under two names: 65" "$UPGR" validate bad4.yaml
expect_grep "$T/err" '^bad4.yaml:9:[0-9]+: keys.ops4: the same public key as keys.ops1' "... says so"
sed 's/^version: 1/version: 0/; s/^expires: .*/expires: tomorrow/' 1.root.yaml >bad5.yaml
expect_exit 65 "version 0 and a bad expires: 65" "$UPGR" validate bad5.yaml
expect_grep "$T/err" '^bad5.yaml:3:10: version: must be a positive integer' "... version at 3:10"
expect_grep "$T/err" '^bad5.yaml:4:10: expires: expected a UTC time' "... expires at 4:10"
sed 's/^  alice: {/  carol: {/; s|"/opt/payments"|"opt/x"|' 1.root.yaml >bad6.yaml
expect_exit 65 "a scope for a non-release key: 65" "$UPGR" validate bad6.yaml
expect_grep "$T/err" "^bad6.yaml:19:3: scopes.carol: 'carol' is not a key of the release role" "... says so"
sed '/^  channel:/d' 1.root.yaml >bad7.yaml
expect_exit 65 "a role missing: 65" "$UPGR" validate bad7.yaml
expect_grep "$T/err" "roles: missing required key 'channel'" "... names it"
sed 's|"/opt/payments"|"opt/payments"|; s|"payments-\*"|"pay[ments"|' 1.root.yaml >bad8.yaml
expect_exit 65 "a relative target and a bad glob: 65" "$UPGR" validate bad8.yaml
expect_grep "$T/err" 'scopes.alice.targets\[0\]: a target prefix must be absolute' "... target"
expect_grep "$T/err" "scopes.alice.apps\\[0\\]: unclosed '\\['" "... glob"

# trust sign.
expect_exit 0 "trust sign with ops1" "$UPGR" trust sign -k ops1.key 1.root.yaml
expect_exit 77 "trust sign with a key the root does not name: 77" \
	"$UPGR" trust sign -k "$(printf '%s' stranger; "$UPGR" keygen -W stranger >/dev/null 2>&1).key" 1.root.yaml
check "minisign -V accepts ops1's signature alone" \
	minisign -V -q -p ops1.pub -m 1.root.yaml -x 1.root.yaml.ops1.minisig
expect_exit 0 "show: one of two signatures" "$UPGR" trust show 1.root.yaml
expect_grep "$T/out" 'root .*signed by 1: NOT MET' "... threshold not met"

if ! ftpd_can_run 2>"$T/why"; then
	ok "trust publish # SKIP $(cat "$T/why")"
	exit 0
fi
ftpd_start 1 || { not_ok "vsftpd starts"; exit 0; }
R=${FTPD_URL_1}repo
N="--netrc $FTPD_NETRC"
expect_exit 77 "publish root 1 with 1 of 2 signatures: 77" $UPGR trust publish $N --repo "$R" 1.root.yaml
# A signature by a key outside the root role does not count.
cp 1.root.yaml.ops1.minisig 1.root.yaml.ops2.minisig
expect_exit 77 "the same key's signature under two names counts once: 77" \
	"$UPGR" trust publish $N --repo "$R" 1.root.yaml
"$UPGR" sign -k alice.key -t x 1.root.yaml && mv 1.root.yaml.minisig 1.root.yaml.alice.minisig
expect_exit 77 "a release key's signature does not count for the root role: 77" \
	"$UPGR" trust publish $N --repo "$R" 1.root.yaml
"$UPGR" trust sign -k ops2.key 1.root.yaml >/dev/null
expect_exit 0 "publish root 1 signed by 2 of 3" "$UPGR" trust publish $N --repo "$R" 1.root.yaml
for k in ops1 ops2; do
	check "minisign -V accepts $k's signature on the server" \
		minisign -V -q -p $k.pub -m "$FTPD_ROOT_1/repo/root/1.root.yaml" \
		-x "$FTPD_ROOT_1/repo/root/1.root.yaml.$k.minisig"
done

# Root 2 rotates ops3 out, ops4 in.
write_root 2.root.yaml 2 "ops1, ops2, ops4" 2
"$UPGR" trust sign -k ops1.key 2.root.yaml >/dev/null
"$UPGR" trust sign -k ops4.key 2.root.yaml >/dev/null
expect_exit 77 "root 2 with 1 old key (ops1 + new ops4): too few old: 77" \
	"$UPGR" trust publish $N --repo "$R" 2.root.yaml
expect_grep "$T/err" "not signed by root 1's keys" "... says which threshold"
rm 2.root.yaml.ops4.minisig
"$UPGR" trust sign -k ops3.key 2.root.yaml >/dev/null
expect_exit 77 "root 2 signed by ops1+ops3: too few new keys: 77" \
	"$UPGR" trust publish $N --repo "$R" 2.root.yaml
expect_grep "$T/err" "root role: 1 of 2 required signatures" "... says its own threshold is short"
"$UPGR" trust sign -k ops2.key 2.root.yaml >/dev/null
expect_exit 0 "root 2 signed by ops1+ops2 (old and new): published" \
	"$UPGR" trust publish $N --repo "$R" 2.root.yaml
write_root 4.root.yaml 4 "ops1, ops2, ops4" 2
"$UPGR" trust sign -k ops1.key 4.root.yaml >/dev/null
"$UPGR" trust sign -k ops2.key 4.root.yaml >/dev/null
expect_exit 77 "root 4 after 2 (a gap): 77" "$UPGR" trust publish $N --repo "$R" 4.root.yaml

# trust show --json of a scope glob with an fnmatch escape (a backslash):
# still valid JSON, the glob as written.
sed 's|"payments-\*"|"pay\\\\*"|' 1.root.yaml >esc.yaml
expect_exit 0 "validate takes a glob with a backslash escape" "$UPGR" validate esc.yaml
expect_exit 0 "trust show --json of it" "$UPGR" trust show --json esc.yaml
check "... is valid JSON with the glob as written (pay\\*)" python3 -c "
import json; d = json.load(open('$T/out')); assert d['scopes']['alice']['apps'] == ['pay\\\\*'], d['scopes']"

# Root 3 (ops3 now revoked), expired.
write_root 3.root.yaml 3 "ops2, ops4" 2 2020-01-01T00:00:00Z
"$UPGR" trust sign -k ops3.key 3.root.yaml >/dev/null
"$UPGR" trust sign -k ops2.key 3.root.yaml >/dev/null
expect_exit 77 "root 3 signed with the revoked ops3: 77" "$UPGR" trust publish $N --repo "$R" 3.root.yaml
rm 3.root.yaml.ops3.minisig
"$UPGR" trust sign -k ops4.key 3.root.yaml >/dev/null
expect_exit 0 "root 3 by ops2+ops4 published" "$UPGR" trust publish $N --repo "$R" 3.root.yaml

# A host on root 1 that never saw 2: the walk reaches 3.
expect_exit 0 "trust show --repo walks 1 -> 2 -> 3" "$UPGR" trust show --json $N --repo "$R"
check "trust show --json parses" python3 -c "import json,sys; d=json.load(open('$T/out')); assert d['version']==3, d; assert d['expiry']=='expired'; assert d['roles']['root']['met']"
expect_exit 0 "trust show names an expired root" "$UPGR" trust show 3.root.yaml
expect_grep "$T/out" 'EXPIRED' "... EXPIRED"
# A lying server: root 2 replaced.
sed -i 's/threshold: 2 }/threshold: 1 }/' "$FTPD_ROOT_1/repo/root/2.root.yaml"
expect_exit 77 "a tampered root 2 on the server stops the walk: 77" \
	"$UPGR" trust show $N --repo "$R"
