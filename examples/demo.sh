#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make demo: the main job on an embedded default, in build/demo/.
#   publish hello 1.0.0 to a local file:// repository, run the agent
#   (install), publish 1.1.0, show the plan (--dry-run), run the agent
#   (upgrade), show status and the audit log, and verify the log.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
demo=$top/build/demo
upgr=$top/upgr

say() { printf '\n== %s\n' "$*"; }

# A previous demo's daemon is stopped before its tree is removed.
if [ -x "$demo/root/opt/hello/bin/hello-ctl" ]; then
	"$demo/root/opt/hello/bin/hello-ctl" stop >/dev/null 2>&1 || true
fi
rm -rf "$demo"
mkdir -p "$demo"

say "upgr validate examples/hello/manifest.yaml"
$upgr validate examples/hello/manifest.yaml && echo "valid"

say "upgr keygen: the release author's key"
$upgr keygen -W "$demo/release"
ls -l "$demo/release.key" "$demo/release.pub"

say "upgr publish hello 1.0.0 to file://$demo/repo"
$upgr publish --repo "file://$demo/repo" --key "$demo/release.key" examples/hello/manifest.yaml
find "$demo/repo" -type f | sed "s|$demo/||" | sort

cat >"$demo/upgr.yaml" <<EOC
host: demo-host
servers: [ "file://$demo/repo" ]
apps: [ hello ]
root: $demo/root
state_dir: $demo/state
trusted_keys: [ $demo/release.pub ]
device_key: $demo/device.key
audit_log: $demo/audit.log
EOC
chmod 0644 "$demo/upgr.yaml"
mkdir -p "$demo/root"

say "upgr run: the cron agent installs 1.0.0"
$upgr run -c "$demo/upgr.yaml"
echo "exit $?"
"$demo/root/opt/hello/bin/hello-ctl" status

say "publish hello 1.1.0 (new greeting)"
cp -r examples/hello "$demo/hello-1.1.0"
sed -i 's/^version: .*/version: 1.1.0/' "$demo/hello-1.1.0/manifest.yaml"
sed -i 's/^greeting=.*/greeting=hello again, from 1.1.0/' "$demo/hello-1.1.0/etc/hello.conf"
$upgr publish --repo "file://$demo/repo" --key "$demo/release.key" "$demo/hello-1.1.0/manifest.yaml"

say "upgr --dry-run: what the next run will do"
$upgr --dry-run -c "$demo/upgr.yaml"

say "upgr run: the agent upgrades to 1.1.0"
$upgr run -c "$demo/upgr.yaml"
echo "exit $?"

say "upgr run again: nothing to do, so nothing printed"
$upgr run -c "$demo/upgr.yaml"
echo "exit $?"

say "upgr status"
$upgr status -c "$demo/upgr.yaml"

say "upgr audit show $demo/audit.log"
$upgr audit show "$demo/audit.log"

say "upgr audit verify -p device.pub audit.log"
$upgr audit verify -p "$demo/device.pub" "$demo/audit.log"

say "the report on the server"
find "$demo/repo/reports" -type f | sed "s|$demo/||" | sort

"$demo/root/opt/hello/bin/hello-ctl" stop >/dev/null
echo
echo "demo done; everything is in $demo"
