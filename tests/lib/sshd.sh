# SPDX-License-Identifier: Apache-2.0
# A private OpenSSH server on 127.0.0.1 for sftp:// tests. Source it after
# testlib.sh and ftpd.sh (it uses $T, at_exit and the FTP test user); needs
# root and openssh-server's /usr/sbin/sshd, not a running service. It never
# reads or changes /etc/ssh, /root/.ssh or the system's sshd: everything it
# uses is under $T/sshd/.
#
#   sshd_can_run   0 if this machine can run the server; otherwise prints
#                  why on stderr.
#   sshd_start     start the server on a free port and wait until it
#                  answers. Exports:
#                    SSHD_PORT         its port
#                    SSHD_ROOT         a directory the test user owns (sftp
#                                      paths are absolute: no chroot)
#                    SSHD_URL          sftp://USER@127.0.0.1:PORT$SSHD_ROOT/
#                    SSHD_KEY          the client's private key (ed25519,
#                                      mode 0600), the only way to log in
#                    SSHD_KNOWN_HOSTS  a known_hosts file listing the
#                                      server's host key for [127.0.0.1]:PORT
#                    SSHD_LOG          the server's log
#                  The server is stopped when the script exits.
#   sshd_stop      stop it (the listener and its sessions).
#
# The login is the FTP harness's user (FTPD_USER), by public key only
# (PasswordAuthentication no), and the only thing it may run is the
# in-process sftp server (ForceCommand internal-sftp): no shell, no
# forwarding.

_sshd_dir=
_sshd_bin=/usr/sbin/sshd

sshd_can_run() {
	if [ "$(id -u)" != 0 ]; then
		echo "sshd: needs root (it serves the test user's files as that user)" >&2
		return 1
	fi
	if [ ! -x "$_sshd_bin" ]; then
		echo "sshd: $_sshd_bin is missing (openssh-server; make deps)" >&2
		return 1
	fi
	if ! command -v ssh-keygen >/dev/null 2>&1; then
		echo "sshd: ssh-keygen is missing (openssh-client; make deps)" >&2
		return 1
	fi
	return 0
}

# _sshd_wait PORT: wait (up to 10 s) until the server sends its banner.
_sshd_wait() {
	python3 - "$1" <<-'EOF'
	import socket, sys, time
	end = time.time() + 10
	while time.time() < end:
	    try:
	        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
	        s.settimeout(2)
	        if s.recv(100).startswith(b"SSH-2.0-"):
	            sys.exit(0)
	    except OSError:
	        pass
	    time.sleep(0.05)
	sys.exit("sshd on port %s did not answer" % sys.argv[1])
	EOF
}

sshd_start() {
	sshd_can_run || return 1
	_ftpd_setup_user || { echo "sshd: cannot set up user $FTPD_USER" >&2; return 1; }
	_sshd_dir=$T/sshd
	d=$_sshd_dir
	mkdir -p "$d/root" || return 1
	# The user must traverse to its directory after the login.
	chmod 711 "$T"
	chmod 755 "$d"
	chown "$FTPD_USER:" "$d/root"
	# sshd refuses to start without its privilege separation directory,
	# which the package's service unit would create at boot.
	[ -d /run/sshd ] || mkdir -p -m 755 /run/sshd || return 1
	ssh-keygen -q -t ed25519 -N '' -C upgr-test-host -f "$d/host_key" >/dev/null &&
	ssh-keygen -q -t ed25519 -N '' -C upgr-test-client -f "$d/client_key" >/dev/null ||
		{ echo "sshd: ssh-keygen failed" >&2; return 1; }
	cp "$d/client_key.pub" "$d/authorized_keys"
	chmod 644 "$d/authorized_keys"
	SSHD_PORT=$(_ftpd_free_ports 1) || return 1
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$d/host_key.pub")" \
		>"$d/known_hosts"
	cat >"$d/sshd_config" <<-EOF
	# upgr tests: a private sshd started by tests/lib/sshd.sh
	ListenAddress 127.0.0.1:$SSHD_PORT
	HostKey $d/host_key
	PidFile $d/pid
	AuthorizedKeysFile $d/authorized_keys
	# \$T is under /tmp (mode 1777), which StrictModes would refuse.
	StrictModes no
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	PermitRootLogin no
	AllowUsers $FTPD_USER
	Subsystem sftp internal-sftp
	ForceCommand internal-sftp
	AllowTcpForwarding no
	AllowAgentForwarding no
	X11Forwarding no
	PermitTTY no
	LogLevel VERBOSE
	EOF
	"$_sshd_bin" -t -f "$d/sshd_config" >"$d/check" 2>&1 || {
		echo "sshd: the configuration is refused:" >&2
		sed 's/^/sshd:   /' "$d/check" >&2
		return 1
	}
	at_exit sshd_stop
	"$_sshd_bin" -D -f "$d/sshd_config" -E "$d/sshd.log" </dev/null >/dev/null 2>&1 &
	echo $! >"$d/listener"
	if ! _sshd_wait "$SSHD_PORT"; then
		echo "sshd: the server did not start:" >&2
		sed 's/^/sshd:   /' "$d/sshd.log" >&2
		return 1
	fi
	export SSHD_PORT SSHD_ROOT="$d/root" SSHD_KEY="$d/client_key" \
		SSHD_KNOWN_HOSTS="$d/known_hosts" SSHD_LOG="$d/sshd.log"
	export SSHD_URL="sftp://$FTPD_USER@127.0.0.1:$SSHD_PORT$d/root/"
}

# The listener and the sessions it forked (each is its child), by id.
sshd_stop() {
	[ -n "$_sshd_dir" ] && [ -s "$_sshd_dir/listener" ] || return 0
	_pid=$(cat "$_sshd_dir/listener")
	_kids=$(ps -e -o pid=,ppid= | awk -v p="$_pid" '$2 == p { print $1 }')
	kill "$_pid" $_kids 2>/dev/null
	wait "$_pid" 2>/dev/null
	rm -f "$_sshd_dir/listener"
	return 0
}
