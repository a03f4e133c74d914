# SPDX-License-Identifier: Apache-2.0
# Shared by the benchmarks (tests/bench/*.sh). Source it; it gives:
#   $B            a scratch directory, removed at exit (under $BENCH_TMP or
#                 $TMPDIR or /tmp: it must hold a few GB)
#   $UPGR, $TOP   the binary under test, the source tree
#   ms            milliseconds now (monotonic enough for our intervals)
#   record K V    record measure K = V for the table (tests/bench/table.py)
#   best CMD...   run CMD 3 times (BENCH_TRIES), print the fastest in ms
#   bench_key     make a minisign key pair $B/rel.key, $B/rel.pub
#   bench_sign DIR APP VER  sign DIR/manifest.yaml as release.sh does
#   bench_config NAME ROOT  an agent/apply config $B/NAME.yaml (file repo)
#   bench_ftp_host NAME URL a fresh host's config $B/NAME.yaml for the
#                 repository URLrepo (tests/lib/ftpd.sh's FTPD_URL_N), the
#                 key $B/pk.pub; its root, state and log $B/NAME-*
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
: "${UPGR:=$TOP/upgr}"
: "${BENCH_TRIES:=3}"
# Where the rows go: tests/bench/run sets BENCH_RESULTS; alone, stdout.
: "${BENCH_RESULTS:=/dev/stdout}"
B=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/upgr-bench.XXXXXX")
_cleanups=""
trap 'for c in $_cleanups; do $c; done; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$B"' EXIT
at_exit() { _cleanups="$1 $_cleanups"; }
# tests/lib/ftpd.sh works in $T.
T=$B

ms() { echo $(($(date +%s%N) / 1000000)); }

record() { printf '%s %s\n' "$1" "$2" >>"$BENCH_RESULTS"; }

# best CMD...: the fastest of BENCH_TRIES runs, in ms; a failed run is fatal.
best() {
	_best=""
	_i=0
	while [ "$_i" -lt "$BENCH_TRIES" ]; do
		_t0=$(ms)
		"$@" >/dev/null || { echo "bench: failed: $*" >&2; exit 1; }
		_t=$(($(ms) - _t0))
		[ -z "$_best" ] || [ "$_t" -lt "$_best" ] && _best=$_t
		_i=$((_i + 1))
	done
	echo "$_best"
}

bench_key() {
	minisign -G -W -p "$B/rel.pub" -s "$B/rel.key" >/dev/null 2>&1 ||
		{ echo "bench: minisign -G failed" >&2; exit 1; }
}

bench_sign() {
	printf '' | minisign -S -s "$B/rel.key" -m "$1/manifest.yaml" \
		-t "timestamp:0	app:$2	file:releases/$3/manifest.yaml" >/dev/null 2>&1 ||
		{ echo "bench: minisign -S failed" >&2; exit 1; }
}

bench_config() {
	mkdir -p "$2"
	cat >"$B/$1.yaml" <<-EOF
	host: bench-$1
	servers: [ "file://$B/repo" ]
	apps: [ bench ]
	root: $2
	state_dir: $B/$1-state
	trusted_keys: [ $B/rel.pub ]
	device_key: $B/$1-device.key
	audit_log: $B/$1-audit.log
	EOF
	chmod 0644 "$B/$1.yaml"
}

# last_field LOG KEY: KEY's value in the log's last record.
last_field() { sed -n "s/^$2: *//p" "$1" | tail -1 | tr -d '"'; }

bench_ftp_host() {
	rm -rf "$B/$1-root" "$B/$1-state" "$B/$1-audit.log"
	mkdir -p "$B/$1-root"
	cat >"$B/$1.yaml" <<-EOF
	host: $1
	servers: [ "${2}repo" ]
	netrc: $FTPD_NETRC
	apps: [ bench ]
	root: $B/$1-root
	state_dir: $B/$1-state
	trusted_keys: [ $B/pk.pub ]
	device_key: $B/$1-device.key
	audit_log: $B/$1-audit.log
	EOF
	chmod 644 "$B/$1.yaml"
}
