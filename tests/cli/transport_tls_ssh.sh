#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# ftps://, ftpes:// and sftp:// for real, on loopback: `upgr publish` to
# each, `upgr run` installing from it and `upgr fleet` reading the reports
# (and https:// read by an agent), against vsftpd with TLS forced
# (a self-signed certificate made here, trusted through ca_file/--cacert)
# and a private OpenSSH server (host key and client key made here, trusted
# through ssh_known_hosts/--known-hosts, logging in with ssh_key/--ssh-key).
# A server whose certificate or host key does not check out, or that will
# not speak TLS on an ftpes:// URL, is refused with exit 77 (a trust
# failure) and nothing is installed. Nothing here reads or changes the
# real ~/.ssh, /etc/ssh or a system server.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/sshd.sh"

"$UPGR" keygen -W "$T/rel" >/dev/null 2>&1 || { not_ok "upgr keygen"; exit 1; }
P="$UPGR publish --key $T/rel.key"

# build VERSION: a build directory with an authored manifest.
build() {
	_d=$T/b-$1
	mkdir -p "$_d/bin" "$_d/share"
	printf '#!/bin/sh\necho hello %s\n' "$1" >"$_d/bin/hello"
	head -c 300000 /dev/urandom >"$_d/share/data.bin"
	cat >"$_d/manifest.yaml" <<-EOF
	upgr: 1
	app: hello
	version: $1
	target: /opt/hello
	files:
	  - path: bin/hello
	    mode: "0755"
	  - path: share/data.bin
	    mode: "0644"
	EOF
}

# agent NAME URL [EXTRA-LINE...]: an agent config $T/NAME.yaml.
agent() {
	_n=$1 _u=$2
	shift 2
	{
		echo "host: host-$_n"
		echo "servers: [ \"$_u\" ]"
		for _l in "$@"; do echo "$_l"; done
		echo "apps: [hello]"
		echo "root: $T/root-$_n"
		echo "state_dir: $T/$_n-state"
		echo "trusted_keys: [$T/rel.pub]"
		echo "device_key: $T/$_n-device.key"
		echo "audit_log: $T/$_n-audit.log"
		echo "heartbeat: 0"
	} >"$T/$_n.yaml"
	chmod 0644 "$T/$_n.yaml"
	mkdir -p "$T/root-$_n"
}

# installed NAME VERSION TITLE: the agent's root has VERSION's files.
installed() {
	expect_same "$T/b-$2/bin/hello" "$T/root-$1/opt/hello/bin/hello" "$3"
	expect_same "$T/b-$2/share/data.bin" "$T/root-$1/opt/hello/share/data.bin" \
		"... every file"
}

# nothing NAME TITLE: the agent installed nothing.
nothing() {
	[ ! -e "$T/root-$1/opt/hello" ] && ok "$2" ||
		not_ok "$2: $(ls -R "$T/root-$1" | head -5)"
}

build 1.0.0
build 1.1.0

# Another self-signed certificate for 127.0.0.1: a client trusting only
# this one must refuse the servers' certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/other-key.pem" \
	-out "$T/other-ca.pem" >/dev/null 2>&1 || not_ok "openssl makes a second certificate"

# --- the config keys --------------------------------------------------------
agent c1 "file://$T/none" "ca_file: relative.pem"
expect_exit 65 "ca_file must be an absolute path" "$UPGR" run -c "$T/c1.yaml"
expect_grep "$T/err" "c1.yaml:[0-9]+:[0-9]+: .*ca_file" "... a positioned error"
agent c2 "file://$T/none" "ssh_known_hosts: $T/kh"
printf 'x\n' >"$T/kh"
chmod 666 "$T/kh"
expect_exit 65 "an ssh_known_hosts others can write is refused" "$UPGR" run -c "$T/c2.yaml"
expect_grep "$T/err" "ssh_known_hosts: .*writable" "... saying why"
agent c3 "ftpes://127.0.0.1:1/repo" "ssh_key: $T/kh"
chmod 600 "$T/kh"
expect_exit 69 "ftpes:// is a server URL the config accepts (69: no one listens)" \
	"$UPGR" run -c "$T/c3.yaml"
expect_grep "$T/err" "ftpes://127.0.0.1:1/.*connect" "... and the run tried it"
expect_exit 2 "publish takes no http:// repository" $P --repo "https://127.0.0.1:1/r" \
	"$T/b-1.0.0/manifest.yaml"

# --- ftps:// (implicit) and ftpes:// (explicit) on vsftpd -------------------
if ! ftpd_can_run 2>"$T/why"; then
	not_ok "ftps/ftpes tests cannot run here: $(cat "$T/why")"
elif ! FTPD_TLS="implicit explicit none" ftpd_start 3 2>"$T/why"; then
	not_ok "vsftpd servers with TLS start: $(cat "$T/why")"
else
	N="--netrc $FTPD_NETRC"
	C="--cacert $FTPD_CA"
	case $FTPD_URL_1 in ftps://*) ok "server 1 is implicit FTPS (ftps://)" ;;
		*) not_ok "server 1: $FTPD_URL_1" ;; esac
	case $FTPD_URL_2 in ftpes://*) ok "server 2 is explicit FTPS (ftpes://)" ;;
		*) not_ok "server 2: $FTPD_URL_2" ;; esac

	# Implicit FTPS.
	expect_exit 0 "publish 1.0.0 to ftps://" $P $N $C --repo "${FTPD_URL_1}repo" \
		"$T/b-1.0.0/manifest.yaml"
	check "... minisign verifies the manifest on the server" minisign -Vm \
		"$FTPD_ROOT_1/repo/apps/hello/releases/1.0.0/manifest.yaml" -p "$T/rel.pub"
	expect_grep "$FTPD_LOG_1" 'OK LOGIN' "... the server saw a login"
	expect_no_grep "$FTPD_LOG_1" 'FAIL LOGIN' "... and no failed one"
	agent s1 "${FTPD_URL_1}repo" "netrc: $FTPD_NETRC" "ca_file: $FTPD_CA"
	expect_exit 0 "an agent installs 1.0.0 from ftps://" "$UPGR" run -c "$T/s1.yaml"
	installed s1 1.0.0 "... with the build's bytes"
	expect_exit 0 "publish 1.1.0 to ftps://" $P $N $C --repo "${FTPD_URL_1}repo" \
		"$T/b-1.1.0/manifest.yaml"
	expect_exit 0 "the agent upgrades to 1.1.0 over ftps://" "$UPGR" run -c "$T/s1.yaml"
	installed s1 1.1.0 "... with the build's bytes"
	expect_exit 0 "the report went up over ftps://" \
		test -s "$FTPD_ROOT_1/repo/reports/host-s1/status.yaml"
	expect_exit 0 "fleet status reads the reports over ftps://" \
		"$UPGR" fleet status $N $C --repo "${FTPD_URL_1}repo"
	expect_grep "$T/out" "host-s1 .*1\.1\.0" "... naming the host and its version"
	expect_exit 0 "fleet verify checks the audit logs over ftps://" \
		"$UPGR" fleet verify $N $C --keys "$T/fleet-keys" --repo "${FTPD_URL_1}repo"
	expect_exit 77 "fleet status refuses a certificate it does not trust" \
		"$UPGR" fleet status $N --cacert "$T/other-ca.pem" --repo "${FTPD_URL_1}repo"
	expect_exit 0 "audit verify --against reads the uploaded log over ftps://" \
		"$UPGR" audit verify -p "$T/s1-device.pub" --against \
		"${FTPD_URL_1}repo/reports/host-s1/" $N $C "$T/s1-audit.log"
	expect_exit 77 "... and refuses a certificate it does not trust" \
		"$UPGR" audit verify -p "$T/s1-device.pub" --against \
		"${FTPD_URL_1}repo/reports/host-s1/" $N --cacert "$T/other-ca.pem" "$T/s1-audit.log"

	# Explicit FTPS: AUTH TLS on the plain FTP port, required.
	expect_exit 0 "publish 1.0.0 to ftpes://" $P $N $C --repo "${FTPD_URL_2}repo" \
		"$T/b-1.0.0/manifest.yaml"
	expect_grep "$FTPD_LOG_2" '"AUTH (TLS|SSL)"' "... the client asked for TLS (AUTH)"
	expect_grep "$FTPD_LOG_2" '"PROT P"' "... and for TLS on the data connections (PROT P)"
	agent s2 "${FTPD_URL_2}repo" "netrc: $FTPD_NETRC" "ca_file: $FTPD_CA"
	expect_exit 0 "an agent installs 1.0.0 from ftpes://" "$UPGR" run -c "$T/s2.yaml"
	installed s2 1.0.0 "... with the build's bytes"
	# The same server as plain ftp://: the server demands TLS for logins.
	expect_exit 69 "plain ftp:// to a TLS-only server cannot log in (69)" \
		$P $N --repo "ftp://127.0.0.1:$FTPD_PORT_2/repo" "$T/b-1.1.0/manifest.yaml"

	# Refusals: exit 77, nothing published or installed.
	expect_exit 77 "publish refuses a certificate it does not trust (77)" \
		$P $N --cacert "$T/other-ca.pem" --repo "${FTPD_URL_1}repo2" \
		"$T/b-1.0.0/manifest.yaml"
	expect_grep "$T/err" "identity is not trusted" "... saying the server is not trusted"
	[ ! -e "$FTPD_ROOT_1/repo2" ] && ok "... and nothing was uploaded" ||
		not_ok "uploaded to an untrusted server"
	expect_exit 77 "publish refuses the certificate with the system's store (77)" \
		$P $N --repo "${FTPD_URL_2}repo2" \
		"$T/b-1.0.0/manifest.yaml"
	agent u1 "${FTPD_URL_1}repo" "netrc: $FTPD_NETRC" "ca_file: $T/other-ca.pem"
	expect_exit 77 "an agent refuses an ftps:// server whose certificate it does not trust" \
		"$UPGR" run -c "$T/u1.yaml"
	nothing u1 "... and installs nothing"
	expect_grep "$T/u1-audit.log" 'result: "refused"' "... and the refusal is in the audit log"
	expect_grep "$T/u1-audit.log" "identity is not trusted" "... saying why"
	agent u2 "ftps://localhost:$FTPD_PORT_1/repo" "netrc: $FTPD_NETRC" "ca_file: $FTPD_CA"
	sed 's/127\.0\.0\.1/localhost/' "$FTPD_NETRC" >"$T/netrc-localhost"
	chmod 600 "$T/netrc-localhost"
	sed -i "s|netrc: .*|netrc: $T/netrc-localhost|" "$T/u2.yaml"
	expect_exit 77 "a certificate for 127.0.0.1 is refused for the name localhost" \
		"$UPGR" run -c "$T/u2.yaml"
	nothing u2 "... and nothing is installed"
	# ftpes:// to a server without TLS: never falls back to clear text.
	mkdir -p "$FTPD_ROOT_3/repo"
	cp -R "$FTPD_ROOT_1/repo/." "$FTPD_ROOT_3/repo/"
	chown -R "$FTPD_USER:" "$FTPD_ROOT_3"
	agent u3 "ftpes://127.0.0.1:$FTPD_PORT_3/repo" "netrc: $FTPD_NETRC" "ca_file: $FTPD_CA"
	expect_exit 77 "ftpes:// to a server that refuses AUTH TLS is refused (77)" \
		"$UPGR" run -c "$T/u3.yaml"
	expect_grep "$T/err" "identity is not trusted" "... as a trust failure"
	nothing u3 "... and nothing is installed"
	expect_no_grep "$FTPD_LOG_3" '"PASS|"USER' "... and no credentials went out in clear"
	# https:// (read-only) with the same certificate and ca_file.
	HTTPS_PORT=$(_ftpd_free_ports 1)
	python3 - "$HTTPS_PORT" "$FTPD_ROOT_1" "$T/ftpd/tls/cert.pem" "$T/ftpd/tls/key.pem" \
		>"$T/https.log" 2>&1 <<-'EOF' &
	import functools, http.server, ssl, sys
	handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
	server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	ctx.load_cert_chain(sys.argv[3], sys.argv[4])
	server.socket = ctx.wrap_socket(server.socket, server_side=True)
	server.serve_forever()
	EOF
	https_pid=$!
	stop_https() { kill "$https_pid" 2>/dev/null; wait "$https_pid" 2>/dev/null; }
	at_exit stop_https
	n=0
	until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$HTTPS_PORT" 2>/dev/null || [ $n -ge 100 ]; do sleep 0.05; n=$((n + 1)); done
	agent w1 "https://127.0.0.1:$HTTPS_PORT/repo" "ca_file: $FTPD_CA"
	# Exit 0: the release is installed; the report waits for a server
	# that takes uploads, which https:// does not.
	expect_exit 0 "an agent runs against https:// trusting ca_file" "$UPGR" run -c "$T/w1.yaml"
	installed w1 1.1.0 "... and installs 1.1.0 from it"
	agent w2 "https://127.0.0.1:$HTTPS_PORT/repo" "ca_file: $T/other-ca.pem"
	expect_exit 77 "an agent refuses an https:// certificate it does not trust" \
		"$UPGR" run -c "$T/w2.yaml"
	nothing w2 "... and installs nothing"

	# No failover past an untrusted server: the good one after it is not
	# asked (a person must look at the first).
	agent u4 "ftpes://127.0.0.1:$FTPD_PORT_3/repo\", \"${FTPD_URL_1}repo" \
		"netrc: $FTPD_NETRC" "ca_file: $FTPD_CA"
	expect_exit 77 "an untrusted first server stops the run, no failover (77)" \
		"$UPGR" run -c "$T/u4.yaml"
	nothing u4 "... and nothing is installed from the second"
fi

# --- sftp:// on a private OpenSSH server -----------------------------------
if ! sshd_can_run 2>"$T/why"; then
	not_ok "sftp tests cannot run here: $(cat "$T/why")"
elif ! sshd_start 2>"$T/why"; then
	not_ok "a private sshd starts: $(cat "$T/why")"
else
	S="--ssh-key $SSHD_KEY --known-hosts $SSHD_KNOWN_HOSTS"
	# The real ~/.ssh is never looked at: HOME points at an empty place.
	H="env HOME=$T/home"
	mkdir -p "$T/home"
	expect_exit 0 "publish 1.0.0 to sftp://" $H $P $S --repo "${SSHD_URL}repo" \
		"$T/b-1.0.0/manifest.yaml"
	check "... minisign verifies the manifest on the server" minisign -Vm \
		"$SSHD_ROOT/repo/apps/hello/releases/1.0.0/manifest.yaml" -p "$T/rel.pub"
	expect_grep "$SSHD_LOG" "Accepted publickey for $FTPD_USER" "... logged in by public key"
	[ -z "$(find "$SSHD_ROOT" -name '.*')" ] && ok "... no temporary file is left" ||
		not_ok "left behind: $(find "$SSHD_ROOT" -name '.*')"
	[ "$(stat -c %U "$SSHD_ROOT/repo/apps/hello/channels/stable.yaml")" = "$FTPD_USER" ] &&
		ok "... written as the sftp user" || not_ok "owner of the channel file"
	agent h1 "${SSHD_URL}repo" "ssh_key: $SSHD_KEY" "ssh_known_hosts: $SSHD_KNOWN_HOSTS"
	expect_exit 0 "an agent installs 1.0.0 from sftp://" $H "$UPGR" run -c "$T/h1.yaml"
	installed h1 1.0.0 "... with the build's bytes"
	expect_exit 0 "publish 1.1.0 to sftp://" $H $P $S --repo "${SSHD_URL}repo" \
		"$T/b-1.1.0/manifest.yaml"
	expect_grep "$SSHD_ROOT/repo/apps/hello/channels/stable.yaml" "^serial: 2$" \
		"... the serial read back over sftp grows by one"
	expect_exit 0 "the agent upgrades to 1.1.0 over sftp://" $H "$UPGR" run -c "$T/h1.yaml"
	installed h1 1.1.0 "... with the build's bytes"
	expect_exit 0 "the report went up over sftp://" \
		test -s "$SSHD_ROOT/repo/reports/host-h1/status.yaml"
	expect_exit 0 "fleet status reads the reports over sftp://" \
		$H "$UPGR" fleet status $S --repo "${SSHD_URL}repo"
	expect_grep "$T/out" "host-h1 .*1\.1\.0" "... naming the host and its version"
	expect_exit 0 "audit verify --against reads the uploaded log over sftp://" \
		$H "$UPGR" audit verify -p "$T/h1-device.pub" --against \
		"${SSHD_URL}repo/reports/host-h1/" $S "$T/h1-audit.log"

	# Refusals.
	ssh-keygen -q -t ed25519 -N '' -f "$T/other_host" >/dev/null
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$T/other_host.pub")" \
		>"$T/known_hosts.changed"
	: >"$T/known_hosts.empty"
	expect_exit 77 "publish refuses a host not in known_hosts (77)" $H $P \
		--ssh-key "$SSHD_KEY" --known-hosts "$T/known_hosts.empty" \
		--repo "${SSHD_URL}repo2" "$T/b-1.0.0/manifest.yaml"
	expect_grep "$T/err" "identity is not trusted" "... saying the server is not trusted"
	[ ! -e "$SSHD_ROOT/repo2" ] && ok "... and nothing was uploaded" ||
		not_ok "uploaded to an unknown host"
	expect_exit 77 "publish refuses a host whose key changed (77)" $H $P \
		--ssh-key "$SSHD_KEY" --known-hosts "$T/known_hosts.changed" \
		--repo "${SSHD_URL}repo2" "$T/b-1.0.0/manifest.yaml"
	agent h2 "${SSHD_URL}repo" "ssh_key: $SSHD_KEY" "ssh_known_hosts: $T/known_hosts.empty"
	expect_exit 77 "an agent refuses an sftp:// host not in its known_hosts" \
		$H "$UPGR" run -c "$T/h2.yaml"
	nothing h2 "... and installs nothing"
	expect_grep "$T/h2-audit.log" 'result: "refused"' "... and the refusal is in the audit log"
	agent h3 "${SSHD_URL}repo" "ssh_key: $SSHD_KEY" "ssh_known_hosts: $T/known_hosts.changed"
	expect_exit 77 "an agent refuses an sftp:// host whose key changed" \
		$H "$UPGR" run -c "$T/h3.yaml"
	nothing h3 "... and installs nothing"
	ssh-keygen -q -t ed25519 -N '' -f "$T/stranger" >/dev/null
	agent h4 "${SSHD_URL}repo" "ssh_key: $T/stranger" "ssh_known_hosts: $SSHD_KNOWN_HOSTS"
	expect_exit 69 "a client key the server does not know cannot log in (69)" \
		$H "$UPGR" run -c "$T/h4.yaml"
	nothing h4 "... and installs nothing"
	chmod 644 "$SSHD_KEY"
	expect_exit 65 "an ssh_key others can read is refused (65)" $H "$UPGR" run -c "$T/h1.yaml"
	chmod 600 "$SSHD_KEY"
fi
