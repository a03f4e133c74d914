#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The channel serial that `upgr publish` signs next is never the server's
# word alone (issue 14 point 2): against a real vsftpd, a server that
# rewinds the serial (an older signed channel put back), inflates it near
# 2^64 (unsigned, or signed by a key the publisher does not trust), or
# jumps it beyond one is refused with exit 77 naming the URL; the first
# publish to an empty channel works; a publisher without its state file
# takes a channel that verifies; and the serial at UINT64_MAX-1 gives one
# last publication, which a host installs, and then refuses cleanly.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

if ! ftpd_can_run 2>"$T/why"; then
	echo "ok - # SKIP serial tests: $(cat "$T/why")"
	exit 0
fi
ftpd_start 1 || { not_ok "vsftpd server starts"; exit 1; }

keys "$T/rel" "$T/other"
P="$UPGR publish --key $T/rel.key --netrc $FTPD_NETRC --repo ${FTPD_URL_1}repo"
CH=$FTPD_ROOT_1/repo/apps/hello/channels/stable.yaml
URL="${FTPD_URL_1}repo/apps/hello/channels/stable.yaml"
STATE=$XDG_STATE_HOME/upgr/publish/serials

build() {
	_d=$T/b-$1
	mkdir -p "$_d/bin"
	printf '#!/bin/sh\necho hello %s\n' "$1" >"$_d/bin/hello"
	cat >"$_d/manifest.yaml" <<-EOF
	upgr: 1
	app: hello
	version: $1
	target: /opt/hello
	files:
	  - path: bin/hello
	    mode: "0755"
	EOF
}

# resign SERIAL KEY: the server's channel file with another serial, signed
# by KEY as publish signs (the app and file in the trusted comment).
resign() {
	sed -i "s/^serial: .*/serial: $1/" "$CH"
	rm -f "$CH.minisig"
	printf '' | minisign -S -s "$2" -m "$CH" \
		-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" \
		>/dev/null 2>&1 || not_ok "minisign -S of the channel"
	chown "$FTPD_USER:" "$CH" "$CH.minisig"
}

serial_of() { sed -n 's/^serial: //p' "$CH"; }

for v in 1.0.0 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0 1.6.0 1.7.0; do build $v; done

# --- the first publication, then the serial grows ------------------------
expect_exit 0 "the first publish to an empty channel works" $P "$T/b-1.0.0/manifest.yaml"
[ "$(serial_of)" = 1 ] && ok "... at serial 1" || not_ok "serial $(serial_of)"
f=$(ls "$STATE"/hello.stable.* 2>/dev/null | head -1)
[ -n "$f" ] && [ "$(cat "$f")" = 1 ] && ok "the publisher records serial 1 in its state file" ||
	not_ok "no state file under $STATE"
[ -n "$f" ] && [ "$(stat -c %a "$f")" = 600 ] && ok "... mode 0600" ||
	not_ok "state file mode $(stat -c %a "$f" 2>/dev/null)"
cp "$CH" "$T/ch1.yaml"; cp "$CH.minisig" "$T/ch1.yaml.minisig"
expect_exit 0 "publish 1.1.0" $P "$T/b-1.1.0/manifest.yaml"
[ "$(serial_of)" = 2 ] && ok "... at serial 2" || not_ok "serial $(serial_of)"
cp "$CH" "$T/ch2.yaml"; cp "$CH.minisig" "$T/ch2.yaml.minisig"

# restore N: put the saved channel file of serial N back on the server.
restore() {
	cp "$T/ch$1.yaml" "$CH"; cp "$T/ch$1.yaml.minisig" "$CH.minisig"
	chown "$FTPD_USER:" "$CH" "$CH.minisig"
}

# --- a rewound server ---------------------------------------------------------
restore 1
expect_exit 77 "a server that rewinds the serial (an older signed file) is refused" \
	$P "$T/b-1.2.0/manifest.yaml"
expect_grep "$T/err" "lower than the 2 this publisher signed last" "... saying what it signed last"
expect_grep "$T/err" "127.0.0.1:$FTPD_PORT_1/repo/apps/hello/channels/stable.yaml" "... naming the URL"
[ "$(serial_of)" = 1 ] && [ ! -e "$FTPD_ROOT_1/repo/apps/hello/releases/1.2.0/manifest.yaml" ] &&
	ok "... and nothing is published" || not_ok "published over a rewound channel"

# --- an inflated serial ---------------------------------------------------------
restore 2
sed -i 's/^serial: .*/serial: 18446744073709551614/' "$CH"
expect_exit 77 "a serial inflated near 2^64 without a signature that verifies is refused" \
	$P "$T/b-1.2.0/manifest.yaml"
expect_grep "$T/err" "does not verify" "... saying it does not verify"
expect_grep "$T/err" "$URL" "... naming the URL"
resign 18446744073709551614 "$T/other.key"
expect_exit 77 "a serial inflated and signed by a key the publisher does not trust is refused" \
	$P "$T/b-1.2.0/manifest.yaml"
expect_grep "$T/err" "does not verify" "... saying it does not verify"
resign 18446744073709551614 "$T/rel.key"
expect_exit 77 "an inflated serial even with a good signature jumps too far: refused" \
	$P "$T/b-1.2.0/manifest.yaml"
expect_grep "$T/err" "jumps more than one over the 2" "... saying it jumps"
resign 4 "$T/rel.key"
expect_exit 77 "a jump of two over the record is refused" $P "$T/b-1.2.0/manifest.yaml"
[ "$(serial_of)" = 4 ] && ok "... and the channel is untouched" || not_ok "serial $(serial_of)"
rm -f "$CH.minisig"
expect_exit 77 "a channel without a signature is refused" $P "$T/b-1.2.0/manifest.yaml"
expect_grep "$T/err" "no signature" "... saying so"

# One over the record: a publication whose record was not written.
resign 3 "$T/rel.key"
expect_exit 0 "one over the record is accepted (the last publish's record was lost)" \
	$P "$T/b-1.2.0/manifest.yaml"
[ "$(serial_of)" = 4 ] && ok "... and signs serial 4" || not_ok "serial $(serial_of)"

# --- no state file: the verified channel's serial is taken --------------------
rm -rf "$XDG_STATE_HOME"
resign 40 "$T/rel.key"
expect_exit 0 "without its state file the publisher takes a channel that verifies" \
	$P "$T/b-1.3.0/manifest.yaml"
[ "$(serial_of)" = 41 ] && ok "... and signs serial 41" || not_ok "serial $(serial_of)"
rm -rf "$XDG_STATE_HOME"
resign 50 "$T/other.key"
expect_exit 77 "... but not one signed by a key it does not trust" $P "$T/b-1.4.0/manifest.yaml"
expect_exit 0 "... which --trusted-key makes trusted" $P --trusted-key "$T/other.pub" \
	"$T/b-1.4.0/manifest.yaml"
[ "$(serial_of)" = 51 ] && ok "... and signs serial 51" || not_ok "serial $(serial_of)"
expect_exit 0 "--state-dir keeps the record elsewhere" $P --state-dir "$T/pubstate" \
	"$T/b-1.5.0/manifest.yaml"
[ "$(cat "$T"/pubstate/serials/hello.stable.* 2>/dev/null)" = 52 ] &&
	ok "... serial 52 recorded there" || not_ok "no record under --state-dir"

# --- the end of the serials ------------------------------------------------------
rm -rf "$XDG_STATE_HOME"
resign 18446744073709551614 "$T/rel.key"
expect_exit 0 "a channel at UINT64_MAX-1 takes one last publication" \
	$P "$T/b-1.6.0/manifest.yaml"
[ "$(serial_of)" = 18446744073709551615 ] && ok "... at serial UINT64_MAX" ||
	not_ok "serial $(serial_of)"
agent_yaml agent "trusted_keys: [$T/rel.pub]" "${FTPD_URL_1}repo"
expect_exit 0 "a host installs the release at serial UINT64_MAX" "$UPGR" run -c "$T/agent.yaml"
[ -x "$T/root-agent/opt/hello/bin/hello" ] && ok "... 1.6.0 is installed" || not_ok "not installed"
expect_exit 65 "the next publish is refused: the serial cannot grow" \
	$P "$T/b-1.7.0/manifest.yaml"
expect_grep "$T/err" "cannot grow" "... saying so"
[ "$(serial_of)" = 18446744073709551615 ] && ok "... and the channel is untouched" ||
	not_ok "serial $(serial_of)"
