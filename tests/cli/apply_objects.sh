# SPDX-License-Identifier: Apache-2.0
# Apply only what changed (issue 17.2, src/apply_objects.h): `upgr apply`
# of a release directory in a file:// repository takes the files the host
# lacks from the repository's objects, checked against the signed
# manifest, and neither reads the payload nor unpacks the files it has.
# Covered: an upgrade applies with its payload damaged (so the payload
# was not read) and leaves no copy behind; a host whose tree was edited
# goes by the whole index; a dry run writes nothing; and what a user who
# can write the repository could plant is refused with one warning while
# the payload installs the release: an object with other bytes, one
# larger than signed, a link, a FIFO, a missing one, an index signed by
# an unknown key, the index of another release, a FIFO for a change
# index. A manifest or its signature that is a FIFO is refused (65, 77)
# without waiting on it.
. "$(dirname "$0")/../lib/testlib.sh"

"$UPGR" keygen -W "$T/rel" >/dev/null 2>&1 || { not_ok "upgr keygen"; exit 1; }
"$UPGR" keygen -W "$T/other" >/dev/null 2>&1 || { not_ok "upgr keygen other"; exit 1; }
REPO=$T/repo
A=$REPO/apps/hello

. "$UPGR_TOP/tests/lib/objbuild.sh"
cat >"$T/h.yaml" <<EOF
host: host-h
servers: [ "file://$REPO" ]
apps: [hello]
root: $T/root
state_dir: $T/state
trusted_keys: [$T/rel.pub]
device_key: $T/device.key
audit_log: $T/audit.log
EOF
chmod 0644 "$T/h.yaml"
mkdir -p "$T/root"
apply() { run "$UPGR" apply -c "$T/h.yaml" "$A/releases/$1"; }
# at VERSION NAME: the installed tree is VERSION's build.
at() { expect_same "$T/b-$1/data" "$T/root/opt/hello/data" "$2"; }
# obj FILE: the repository's object for FILE's content.
obj() {
	_h=$(sha256sum "$1" | cut -d' ' -f1)
	_p=$(printf '%s' "$_h" | cut -c1-2)
	ls "$A/objects/$_p/"* | grep -i "/$_h.gz\$"
}
# back: roll the host back to 1.0.0 for the next case.
back() { "$UPGR" rollback -c "$T/h.yaml" hello >"$T/rb.out" 2>&1 || { not_ok "rollback"; sed "s/^/#   /" "$T/rb.out"; }; }

build 1.0.0; publish 1.0.0
build 1.1.0 3 7 11; publish 1.1.0
check "publish: objects and a change index from 1.0.0" \
	test -f "$A/releases/1.1.0/delta/1.0.0.yaml"
apply 1.0.0
if [ "$rc" = 0 ]; then ok "install 1.0.0 from the payload"; else not_ok "install 1.0.0: $rc"; cat "$T/err"; fi

# --- an upgrade reads the objects it lacks, not the payload ---------------
P=$A/releases/1.1.0/payload.tar.gz
cp "$P" "$T/payload.keep"
size=$(stat -c %s "$P")
head -c "$size" /dev/zero >"$P"      # the signed size, other bytes
apply 1.1.0
if [ "$rc" = 0 ]; then ok "upgrade 1.0.0 -> 1.1.0 from objects: the payload is not read"; else
	not_ok "upgrade from objects: exit $rc"; sed 's/^/#   /' "$T/err"; fi
at 1.1.0 "the installed tree is 1.1.0's"
expect_no_grep "$T/err" "warning" "no warning"
check "the copies of the objects are removed" test ! -e "$T/state/cache/hello/.apply"
expect_grep "$T/audit.log" 'action: "?upgrade' "the upgrade is in the audit log"
cp "$T/payload.keep" "$P"
back
at 1.0.0 "rolled back to 1.0.0"

# --- what a crash left is removed; a path that names another app ---------
mkdir -p "$T/state/cache/hello/.apply/objects" && echo junk >"$T/state/cache/hello/.apply/objects/x"
mkdir -p "$T/x/apps/other/releases" && cp -R "$A/releases/1.1.0" "$T/x/apps/other/releases/"
run "$UPGR" apply -c "$T/h.yaml" "$T/x/apps/other/releases/1.1.0"
if [ "$rc" = 0 ]; then ok "a copy under another app's name: applied (its payload)"; else
	not_ok "another app's path: exit $rc"; sed 's/^/#   /' "$T/err"; fi
at 1.1.0 "another app's path: the tree is 1.1.0's"
check "what a crash left in .apply is removed" test ! -e "$T/state/cache/hello/.apply"
back

# --- a dry run writes nothing ------------------------------------------------
run "$UPGR" apply -n -c "$T/h.yaml" "$A/releases/1.1.0"
check "dry run: no copies of objects" test ! -e "$T/state/cache/hello/.apply"

# --- what a writer of the repository plants: one warning, the payload -----
# planted NAME: the upgrade succeeds from the payload, one warning says
# why (matching REGEX), the tree is 1.1.0's; then back to 1.0.0.
planted() {
	apply 1.1.0
	if [ "$rc" = 0 ]; then ok "$1: applied from the payload"; else
		not_ok "$1: exit $rc"; sed 's/^/#   /' "$T/err"; fi
	expect_grep "$T/err" "warning: .*$2.*the payload is read instead" "$1: the warning says why"
	[ "$(grep -c warning "$T/err")" = 1 ] && ok "$1: said once" || not_ok "$1: said once"
	at 1.1.0 "$1: the tree is 1.1.0's"
	check "$1: no copies left" test ! -e "$T/state/cache/hello/.apply"
	back
}
o3=$(obj "$T/b-1.1.0/data/f3")
cp "$o3" "$T/o3.keep"
head -c 20000 /dev/urandom | gzip -c >"$o3.new" && head -c "$(stat -c %s "$o3")" "$o3.new" >"$o3"
planted "an object with other bytes" "not the signed manifest's|gzip"
head -c 40000 /dev/urandom | gzip -c >"$o3"
planted "an object larger than signed" "signed gzip size"
cp "$T/o3.keep" "$T/elsewhere.gz"; rm -f "$o3"; ln -s "$T/elsewhere.gz" "$o3"
planted "an object that is a link" "open"
rm -f "$o3"; mkfifo "$o3"
run timeout 60 "$UPGR" apply -c "$T/h.yaml" "$A/releases/1.1.0"
if [ "$rc" = 0 ]; then ok "an object that is a FIFO: no wait, the payload"; else
	not_ok "FIFO object: exit $rc"; sed 's/^/#   /' "$T/err"; fi
expect_grep "$T/err" "not a regular file" "a FIFO: the warning says why"
back
rm -f "$o3"
planted "a missing object" "open"
cp "$T/o3.keep" "$o3"

D=$A/releases/1.1.0
cp "$D/delta/1.0.0.yaml.minisig" "$T/dsig.keep"
"$UPGR" sign -k "$T/other.key" "$D/delta/1.0.0.yaml" >/dev/null 2>&1 || not_ok "sign with other key"
planted "a change index signed by an unknown key" "key"
cp "$T/dsig.keep" "$D/delta/1.0.0.yaml.minisig"

mv "$D/delta/1.0.0.yaml" "$T/delta.keep"; mkfifo "$D/delta/1.0.0.yaml"
run timeout 60 "$UPGR" apply -c "$T/h.yaml" "$A/releases/1.1.0"
if [ "$rc" = 0 ]; then ok "a change index that is a FIFO: no wait, the payload"; else
	not_ok "FIFO change index: exit $rc"; sed 's/^/#   /' "$T/err"; fi
expect_grep "$T/err" "delta/1.0.0.yaml: not a regular file" "a FIFO change index: the warning says why"
back
rm -f "$D/delta/1.0.0.yaml"; mv "$T/delta.keep" "$D/delta/1.0.0.yaml"

# A release directory others can write: its manifest or signature a FIFO.
mkdir -p "$T/fifo"; cp -R "$D/." "$T/fifo/"
rm -f "$T/fifo/manifest.yaml"; mkfifo "$T/fifo/manifest.yaml"
expect_exit 65 "a manifest that is a FIFO: refused, no wait" timeout 60 "$UPGR" apply -c "$T/h.yaml" "$T/fifo"
expect_grep "$T/err" "manifest.yaml: not a regular file" "a FIFO manifest: the message says why"
rm -f "$T/fifo/manifest.yaml"; cp "$D/manifest.yaml" "$T/fifo/"
rm -f "$T/fifo/manifest.yaml.minisig"; mkfifo "$T/fifo/manifest.yaml.minisig"
expect_exit 77 "a signature that is a FIFO: not trusted, no wait" timeout 60 "$UPGR" apply -c "$T/h.yaml" "$T/fifo"
expect_grep "$T/err" "minisig: not a regular file" "a FIFO signature: the message says why"

mkdir -p "$T/keep"; cp -R "$D/." "$T/keep/"
rm -rf "$D/delta"
cp "$A/releases/1.0.0/objects.yaml" "$A/releases/1.0.0/objects.yaml.minisig" "$D/"
planted "the index of another release" "releases/1.1.0/objects.yaml|1.0.0"
rm -rf "$D"; mkdir -p "$D"; cp -R "$T/keep/." "$D/"

# --- still whole: the objects used again once the repository is mended ---
head -c "$size" /dev/zero >"$P"
apply 1.1.0
[ "$rc" = 0 ] && ok "mended: from objects again" || { not_ok "mended: exit $rc"; sed 's/^/#   /' "$T/err"; }
cp "$T/payload.keep" "$P"
back

# --- an edited tree: the change index does not cover it, the whole one does
printf 'edited here\n' >"$T/root/opt/hello/data/f5"
head -c "$size" /dev/zero >"$P"
apply 1.1.0
if [ "$rc" = 0 ]; then ok "an edited tree upgrades from the whole index's objects"; else
	not_ok "edited tree: exit $rc"; sed 's/^/#   /' "$T/err"; fi
at 1.1.0 "the edited file is the release's again"
cp "$T/payload.keep" "$P"

