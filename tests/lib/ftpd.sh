# SPDX-License-Identifier: Apache-2.0
# Real vsftpd servers on 127.0.0.1 for tests. Source it after testlib.sh
# (it uses $T and at_exit); needs root and vsftpd, not a running service.
#
#   ftpd_start N         start N servers (numbered 1..N), each on a free port
#                        with its own root, passive port range, config and
#                        log under $T/ftpd/I/; returns once each answers.
#                        Exports, for each I:
#                          FTPD_PORT_I   its control port
#                          FTPD_ROOT_I   its root directory (what / is)
#                          FTPD_URL_I    ftp://127.0.0.1:PORT/
#                          FTPD_LOG_I    its protocol + transfer log
#                          FTPD_STOP_I   a script that kills it (listener and
#                                        sessions) at once, for use from C
#                                        tests: a kill mid-transfer
#                        and FTPD_NETRC, the credentials file for --netrc.
#                        All servers are stopped when the script exits.
#   ftpd_stop I          kill server I and its sessions at once (a dead
#                        server: its port refuses connections afterwards).
#   ftpd_restart I       start server I again, same port, root and config.
#   ftpd_throttle I RATE restart server I sending at most RATE bytes/s per
#                        session (vsftpd local_max_rate); RATE 0 unthrottles.
#   ftpd_logins I        how many logins server I has accepted so far.
#   ftpd_can_run         0 if this machine can run the servers (root, vsftpd);
#                        otherwise prints why on stderr.
#   FTPD_PASV_PORTS      passive ports per server (default 200), set before
#                        ftpd_start for more clients at once.
#   FTPD_TLS             set before ftpd_start: one word per server, in
#                        order (servers past the last word get none):
#                          none      plain FTP (the default)
#                          implicit  FTPS, TLS from the first byte;
#                                    FTPD_URL_I is ftps://127.0.0.1:PORT/
#                          explicit  AUTH TLS, required for the login and
#                                    the data; FTPD_URL_I is ftpes://...
#                        Both force TLS for logins and data. The servers
#                        share one self-signed certificate for 127.0.0.1,
#                        made with openssl: FTPD_CA is its PEM file, for
#                        the client's ca_file / --cacert.
#
# For tests that bring their own vsftpd configuration (tests/cli/server.sh
# runs the one docs/server.md documents):
#   ftpd_password NAME   give the existing local user NAME a random password
#                        (kept in a root-only file, the same for concurrent
#                        runs, like FTPD_USER's) and print it.
#   ftpd_cert            make the self-signed certificate for 127.0.0.1 if
#                        there is none yet; exports FTPD_CA and, for the
#                        server's configuration, FTPD_CERT and FTPD_KEY.
#   ftpd_free_ports N    print the first of N consecutive free ports.
#   ftpd_serve I CONF PORT [TLS]
#                        start server I from the complete configuration file
#                        CONF (copied to $T/ftpd/I/vsftpd.conf), listening
#                        on 127.0.0.1:PORT with TLS none|implicit|explicit;
#                        returns once it answers. ftpd_stop I stops it; it
#                        is stopped at exit like ftpd_start's servers.
#
# Logins use a local system user (FTPD_USER, shell nologin, home an empty
# root-owned directory: vsftpd changes into the home before local_root) created on first use, with a random password kept in a root-only
# file so concurrent test runs agree on it. The PAM service is our own
# (/etc/pam.d/upgr-test-ftp): unix password only, no /etc/shells or
# /etc/ftpusers check, so the nologin shell is accepted.

FTPD_USER=upgrftp
# Passive ports per server: one per data connection open at a time (and
# vsftpd picks them at random), so enough for many clients at once.
: "${FTPD_PASV_PORTS:=200}"
FTPD_PAM=upgr-test-ftp
_ftpd_home=/var/lib/upgr-test
_ftpd_secret=$_ftpd_home/ftp-password
_ftpd_count=0

ftpd_can_run() {
	if [ "$(id -u)" != 0 ]; then
		echo "ftpd: needs root (a local FTP user and chroot)" >&2
		return 1
	fi
	if ! command -v vsftpd >/dev/null 2>&1 && [ ! -x /usr/sbin/vsftpd ]; then
		echo "ftpd: vsftpd is not installed (make deps)" >&2
		return 1
	fi
	if ! command -v python3 >/dev/null 2>&1; then
		echo "ftpd: python3 is not installed (make deps)" >&2
		return 1
	fi
	return 0
}

# _ftpd_secret_of FILE: print the random password kept in FILE, making it
# first if there is none. FILE is created with link(2), which fails if
# another run got there first; then everyone uses the winner's password.
_ftpd_secret_of() {
	if [ ! -s "$1" ]; then
		(umask 077 &&
			python3 -c 'import secrets; print(secrets.token_hex(16))' \
				>"$1.$$" &&
			ln "$1.$$" "$1" 2>/dev/null
			rm -f "$1.$$")
	fi
	_s=$(cat "$1") && [ -n "$_s" ] && echo "$_s"
}

# The test user, its password and the PAM service, all idempotent.
_ftpd_setup_user() {
	mkdir -p "$_ftpd_home" && chmod 755 "$_ftpd_home" || return 1
	if ! id "$FTPD_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir "$_ftpd_home" \
			--shell /usr/sbin/nologin "$FTPD_USER" 2>/dev/null ||
			id "$FTPD_USER" >/dev/null 2>&1 || return 1
	fi
	if [ "$(getent passwd "$FTPD_USER" | cut -d: -f6)" != "$_ftpd_home" ]; then
		usermod --home "$_ftpd_home" "$FTPD_USER" || return 1
	fi
	_ftpd_password=$(_ftpd_secret_of "$_ftpd_secret") || return 1
	# Re-set every time: cheap, and repairs a user whose password changed.
	# SHA-512 crypt (5000 rounds, ~3 ms a login), not the default yescrypt
	# (~30 ms of the server's CPU a login): a random password of a test
	# user on loopback, and 1000 agents logging in at once (make bench)
	# would spend half their time in the server's password hashing.
	echo "$FTPD_USER:$_ftpd_password" | chpasswd -c SHA512 -s 5000 || return 1
	if [ ! -f /etc/pam.d/$FTPD_PAM ]; then
		cat >/etc/pam.d/$FTPD_PAM.$$ <<-'EOF'
		# upgr tests: vsftpd servers started by tests/lib/ftpd.sh
		auth     required pam_unix.so
		account  required pam_unix.so
		session  required pam_permit.so
		EOF
		mv /etc/pam.d/$FTPD_PAM.$$ /etc/pam.d/$FTPD_PAM
	fi
}

# _ftpd_free_ports COUNT: print the first of COUNT consecutive ports that
# are free on 127.0.0.1 right now (random, so parallel runs rarely collide;
# below Linux's ephemeral range, so clients' own ports do not take them).
_ftpd_free_ports() {
	python3 - "$1" <<-'EOF'
	import random, socket, sys
	n = int(sys.argv[1])
	for _ in range(500):
	    base = random.randrange(10000, 32000 - n)
	    socks = []
	    try:
	        for p in range(base, base + n):
	            s = socket.socket()
	            socks.append(s)
	            s.bind(("127.0.0.1", p))
	    except OSError:
	        continue
	    finally:
	        for s in socks:
	            s.close()
	    print(base)
	    sys.exit(0)
	sys.exit("no free ports")
	EOF
}

# _ftpd_wait PORT [TLS]: wait (up to 10 s) until the server greets with
# 220 (inside TLS for an implicit server, TLS "implicit").
_ftpd_wait() {
	python3 - "$1" "${2:-none}" <<-'EOF'
	import socket, ssl, sys, time
	end = time.time() + 10
	while time.time() < end:
	    try:
	        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
	        s.settimeout(2)
	        if sys.argv[2] == "implicit":
	            ctx = ssl.create_default_context()
	            ctx.check_hostname = False
	            ctx.verify_mode = ssl.CERT_NONE
	            s = ctx.wrap_socket(s)
	        if s.recv(100).startswith(b"220"):
	            s.sendall(b"QUIT\r\n")
	            sys.exit(0)
	    except OSError:
	        pass
	    time.sleep(0.05)
	sys.exit("vsftpd on port %s did not answer" % sys.argv[1])
	EOF
}

# _ftpd_config I RATE: write server I's configuration.
_ftpd_config() {
	d=$_ftpd_dir/$1
	eval "port=\$FTPD_PORT_$1 root=\$FTPD_ROOT_$1 pasv=\$_ftpd_pasv_$1"
	cat >"$d/vsftpd.conf" <<-EOF
	listen=YES
	listen_ipv6=NO
	listen_address=127.0.0.1
	listen_port=$port
	background=NO
	anonymous_enable=NO
	local_enable=YES
	write_enable=YES
	local_umask=022
	local_root=$root
	chroot_local_user=YES
	allow_writeable_chroot=YES
	pam_service_name=$FTPD_PAM
	check_shell=NO
	userlist_enable=NO
	seccomp_sandbox=NO
	isolate=NO
	isolate_network=NO
	secure_chroot_dir=$_ftpd_dir/empty
	connect_from_port_20=NO
	pasv_enable=YES
	pasv_address=127.0.0.1
	pasv_min_port=$pasv
	pasv_max_port=$((pasv + FTPD_PASV_PORTS - 1))
	local_max_rate=$2
	max_per_ip=0
	idle_session_timeout=60
	data_connection_timeout=60
	xferlog_enable=YES
	dual_log_enable=YES
	log_ftp_protocol=YES
	vsftpd_log_file=$d/vsftpd.log
	xferlog_file=$d/xferlog
	EOF
	eval "tls=\$_ftpd_tls_$1"
	[ "$tls" = none ] && return 0
	cat >>"$d/vsftpd.conf" <<-EOF
	ssl_enable=YES
	implicit_ssl=$([ "$tls" = implicit ] && echo YES || echo NO)
	rsa_cert_file=$_ftpd_dir/tls/cert.pem
	rsa_private_key_file=$_ftpd_dir/tls/key.pem
	force_local_logins_ssl=YES
	force_local_data_ssl=YES
	ssl_sslv2=NO
	ssl_sslv3=NO
	ssl_tlsv1=YES
	ssl_ciphers=HIGH
	EOF
}

# _ftpd_cert: the self-signed certificate every TLS server uses, valid
# for 127.0.0.1 (the address the URLs name) and nothing else.
_ftpd_cert() {
	[ -s "$_ftpd_dir/tls/cert.pem" ] && return 0
	mkdir -p "$_ftpd_dir/tls" && chmod 700 "$_ftpd_dir/tls" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 \
		-keyout "$_ftpd_dir/tls/key.pem" -out "$_ftpd_dir/tls/cert.pem" \
		>"$_ftpd_dir/tls/openssl.log" 2>&1 || {
		echo "ftpd: openssl could not make a certificate:" >&2
		cat "$_ftpd_dir/tls/openssl.log" >&2
		return 1
	}
	cp "$_ftpd_dir/tls/cert.pem" "$_ftpd_dir/ca.pem"
	chmod 644 "$_ftpd_dir/ca.pem"
	export FTPD_CA=$_ftpd_dir/ca.pem
}

# _ftpd_write_stop I: server I's stop script. vsftpd puts every session in
# a session of its own and sessions outlive the listener, so neither the
# process group nor the process tree finds them all: every process running
# this server's config file (a path unique to this test run) does.
_ftpd_write_stop() {
	d=$_ftpd_dir/$1
	cat >"$d/stop" <<-EOF
	#!/bin/sh
	# Kill vsftpd server $1 of this test run, listener and sessions at once.
	ours() {
		ps -e -o pid=,stat=,args= | awk -v want="vsftpd $d/vsftpd.conf" \\
			'\$2 !~ /^Z/ { p = \$1; \$1 = ""; \$2 = ""; sub(/^  /, "");
			  if (\$0 == want) print p }'
	}
	pids=\$(ours)
	[ -n "\$pids" ] && kill -9 \$pids 2>/dev/null
	# Return once they are gone (zombies hold no sockets): the port is closed.
	n=0
	while [ -n "\$(ours)" ] && [ \$n -lt 100 ]; do
		sleep 0.05; n=\$((n + 1))
	done
	EOF
	chmod 755 "$d/stop"
	export "FTPD_STOP_$1=$d/stop"
}

# _ftpd_run I: start server I and wait until it answers.
_ftpd_run() {
	d=$_ftpd_dir/$1
	eval "port=\$FTPD_PORT_$1 tls=\$_ftpd_tls_$1"
	rm -f "$d/pid"
	vsftpd "$d/vsftpd.conf" >>"$d/stderr" 2>&1 </dev/null &
	echo $! >"$d/pid"
	if ! _ftpd_wait "$port" "$tls"; then
		echo "ftpd: server $1 failed to start:" >&2
		sed 's/^/ftpd:   /' "$d/stderr" >&2
		return 1
	fi
}

ftpd_start() {
	ftpd_can_run || return 1
	_ftpd_setup_user || { echo "ftpd: cannot set up user $FTPD_USER" >&2; return 1; }
	# The FTP user must traverse to its root after dropping privileges.
	chmod 711 "$T"
	_ftpd_dir=$T/ftpd
	mkdir -p "$_ftpd_dir/empty"
	chmod 755 "$_ftpd_dir" "$_ftpd_dir/empty"
	printf 'machine 127.0.0.1 login %s password %s\n' \
		"$FTPD_USER" "$_ftpd_password" >"$_ftpd_dir/netrc"
	chmod 600 "$_ftpd_dir/netrc"
	export FTPD_NETRC=$_ftpd_dir/netrc
	at_exit ftpd_stop_all
	i=1
	while [ "$i" -le "$1" ]; do
		_ftpd_count=$i
		mkdir -p "$_ftpd_dir/$i/root"
		chmod 755 "$_ftpd_dir/$i"
		chown "$FTPD_USER:" "$_ftpd_dir/$i/root"
		# The control port, then the passive ports, in one free block.
		base=$(_ftpd_free_ports $((FTPD_PASV_PORTS + 1))) || return 1
		export "FTPD_PORT_$i=$base" "FTPD_ROOT_$i=$_ftpd_dir/$i/root"
		# This server's TLS mode: word i of FTPD_TLS.
		tls=$(echo ${FTPD_TLS:-} | cut -d' ' -f"$i" -s)
		[ -z "$tls" ] && [ "$i" = 1 ] && tls=${FTPD_TLS:-}
		case ${tls:-none} in
		none) scheme=ftp ;;
		implicit) scheme=ftps ;;
		explicit) scheme=ftpes ;;
		*) echo "ftpd: FTPD_TLS: '$tls' is not none, implicit or explicit" >&2
		   return 1 ;;
		esac
		eval "_ftpd_tls_$i=${tls:-none}"
		[ "${tls:-none}" = none ] || _ftpd_cert || return 1
		export "FTPD_URL_$i=$scheme://127.0.0.1:$base/"
		export "FTPD_LOG_$i=$_ftpd_dir/$i/vsftpd.log"
		eval "_ftpd_pasv_$i=$((base + 1))"
		_ftpd_config "$i" 0
		_ftpd_write_stop "$i"
		_ftpd_run "$i" || return 1
		i=$((i + 1))
	done
}

ftpd_stop() {
	[ -x "$_ftpd_dir/$1/stop" ] || return 0
	"$_ftpd_dir/$1/stop"
	# Reap the listener if it is this shell's child (started by _ftpd_run).
	[ -s "$_ftpd_dir/$1/pid" ] && wait "$(cat "$_ftpd_dir/$1/pid")" 2>/dev/null
	rm -f "$_ftpd_dir/$1/pid"
	return 0
}

ftpd_restart() {
	ftpd_stop "$1"
	_ftpd_run "$1"
}

ftpd_throttle() {
	ftpd_stop "$1"
	_ftpd_config "$1" "$2"
	_ftpd_run "$1"
}

ftpd_logins() {
	grep -c 'OK LOGIN' "$_ftpd_dir/$1/vsftpd.log" 2>/dev/null || true
}

ftpd_stop_all() {
	i=1
	while [ "$i" -le "$_ftpd_count" ]; do
		ftpd_stop "$i"
		i=$((i + 1))
	done
}

ftpd_password() {
	mkdir -p "$_ftpd_home" && chmod 755 "$_ftpd_home" || return 1
	_pw=$(_ftpd_secret_of "$_ftpd_home/$1.password") || return 1
	echo "$1:$_pw" | chpasswd -c SHA512 -s 5000 || return 1
	echo "$_pw"
}

ftpd_cert() {
	_ftpd_dir=${_ftpd_dir:-$T/ftpd}
	_ftpd_cert || return 1
	export FTPD_CA=$_ftpd_dir/ca.pem FTPD_CERT=$_ftpd_dir/tls/cert.pem \
		FTPD_KEY=$_ftpd_dir/tls/key.pem
}

ftpd_free_ports() {
	_ftpd_free_ports "$1"
}

ftpd_serve() {
	_ftpd_dir=${_ftpd_dir:-$T/ftpd}
	mkdir -p "$_ftpd_dir/$1" && chmod 755 "$_ftpd_dir" "$_ftpd_dir/$1" || return 1
	cp "$2" "$_ftpd_dir/$1/vsftpd.conf" || return 1
	export "FTPD_PORT_$1=$3"
	eval "_ftpd_tls_$1=${4:-none}"
	[ "$_ftpd_count" -ge "$1" ] || _ftpd_count=$1
	at_exit ftpd_stop_all
	_ftpd_write_stop "$1"
	_ftpd_run "$1"
}
