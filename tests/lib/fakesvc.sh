# SPDX-License-Identifier: Apache-2.0
# A fake service for transaction tests: release sources for an app "hello"
# whose control script records what runs in $T/svc/, so tests can tell
# which version is up. The health check fails while $T/svc/unhealthy-VER
# exists.
#
#   svc_src VERSION DIR [EXTRA]   write a release's files and authored manifest
: "${T:?source testlib.sh first}"
mkdir -p "$T/svc"

svc_src() {
	_v=$1 _d=$2
	mkdir -p "$_d/bin" "$_d/etc" "$_d/share"
	cat >"$_d/bin/hello-ctl" <<EOC
#!/bin/sh
# hello $_v control script
case "\$1" in
start)  echo "$_v" >"$T/svc/running"; echo "start $_v \$UPGR_PHASE" >>"$T/svc/log" ;;
stop)   rm -f "$T/svc/running"; echo "stop $_v" >>"$T/svc/log" ;;
status) [ ! -e "$T/svc/unhealthy-$_v" ] && [ "\$(cat "$T/svc/running" 2>/dev/null)" = "$_v" ] ;;
migrate-down) echo "migrate-down $_v" >>"$T/svc/log" ;;
esac
EOC
	echo "greeting = hello from $_v" >"$_d/etc/hello.conf"
	echo "data of $_v" >"$_d/share/data.txt"
	echo "shared, never changes" >"$_d/share/same.txt"
	cat >"$_d/manifest.yaml" <<EOC
upgr: 1
app: hello
version: $_v
target: /opt/hello
files:
  - { path: bin/hello-ctl, mode: "0755" }
  - { path: etc/hello.conf, mode: "0644", config: true }
  - { path: share/data.txt, mode: "0644" }
  - { path: share/same.txt, mode: "0644" }
${3:-}
stop: [ { run: "bin/hello-ctl stop", timeout: 10 } ]
start: [ "bin/hello-ctl start" ]
health: [ { run: "bin/hello-ctl status", timeout: 5, retries: 1, interval: 1 } ]
rollback: [ "bin/hello-ctl migrate-down" ]
EOC
}

# tree_sum DIR: one line per file and symlink: path, mode, sha256.
tree_sum() {
	(cd "$1" && find . \( -type f -o -type l \) -printf '%p %m ' -exec sha256sum {} \; |
		awk '{print $1, $2, $3}' | sort)
}
