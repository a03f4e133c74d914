# SPDX-License-Identifier: Apache-2.0
# Agent configs and keys for the tests that run `upgr run` against their
# own servers. Source after testlib.sh (and ftpd.sh for ftpd_or_skip);
# defines functions only.
#
#   upgr_copy                      run a copy of $UPGR ($T/upgr): a long test
#                                  must not see a rebuild halfway
#   ftpd_or_skip N WHAT            start N vsftpd servers, or SKIP the test
#                                  (saying WHAT) where vsftpd cannot run
#   keys NAME...                   upgr keygen -W NAME (unencrypted) for each,
#                                  not ok (and exit) when one fails
#   set_servers FILE URL...        FILE's servers: replaced by URL...
#   agent_yaml NAME LINES URL...   $T/NAME.yaml for app hello, host host-NAME,
#                                  servers URL... (as given), netrc
#                                  $FTPD_NETRC, root $T/root-NAME (made),
#                                  state, device key and audit log under $T
#                                  named for NAME; LINES (newline-separated)
#                                  are the trust line ("trusted_keys: [...]"
#                                  or "trust_root: FILE") and any others
upgr_copy() {
	_w=0; while [ ! -x "$UPGR" ] && [ $_w -lt 100 ]; do sleep 0.1; _w=$((_w + 1)); done
	cp "$UPGR" "$T/upgr" && chmod 0755 "$T/upgr" && UPGR=$T/upgr
}

ftpd_or_skip() {
	if ! ftpd_can_run 2>"$T/why"; then
		echo "ok - # SKIP $2: $(cat "$T/why")"
		exit 0
	fi
	ftpd_start "$1" || { not_ok "vsftpd starts ($1)"; exit 1; }
}

keys() {
	for _k in "$@"; do
		"$UPGR" keygen -W "$_k" >/dev/null 2>&1 || { not_ok "upgr keygen $_k"; exit 1; }
	done
}

# set_servers FILE URL...: replace FILE's servers (either form) with URL...
set_servers() {
	_f=$1; shift
	_list=$(printf '"%s", ' "$@")
	awk -v list="[${_list%, }]" '
		/^servers:/ { print "servers: " list; skip = 1; next }
		skip && /^  - / { next }
		{ skip = 0; print }' "$_f" >"$_f.new" && mv "$_f.new" "$_f"
}

agent_yaml() {
	_n=$1 _lines=$2; shift 2
	{
		echo "host: host-$_n"
		echo "servers:"
		for _u in "$@"; do echo "  - \"$_u\""; done
		echo "netrc: $FTPD_NETRC"
		echo "apps: [hello]"
		echo "root: $T/root-$_n"
		echo "state_dir: $T/$_n-state"
		printf '%s\n' "$_lines"
		echo "device_key: $T/$_n-device.key"
		echo "audit_log: $T/$_n-audit.log"
	} >"$T/$_n.yaml"
	chmod 0644 "$T/$_n.yaml"
	mkdir -p "$T/root-$_n"
}
