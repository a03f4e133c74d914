# SPDX-License-Identifier: Apache-2.0
# The version-server recipes of docs/server.md, run as documented so they
# cannot rot: docs/server/repo-setup.sh lays out the repository and the
# accounts, docs/server/vsftpd.conf (its @TOKENS@ replaced by ports, paths
# and a certificate for 127.0.0.1, nothing else) runs a real vsftpd with
# docs/server/upgr-ftp.pam and docs/server/vsftpd-users/; the release
# author publishes as upgr-publish, two agents fetch and report as their
# own accounts, upgr fleet reads as upgr-read, and host A's account tries
# everything it must not do to host B's report. The SFTP recipe
# (docs/server/sshd_config) then runs in a private sshd on the same layout,
# and the nginx recipe (docs/server/nginx.conf) serves the releases over
# HTTPS to an agent that reports over FTPS.
#
# The recipe's accounts (upgr-publish, upgr-read, upgr-h-host-a/-b, groups
# upgr-ftp and upgr-read) are real local users, made by repo-setup.sh with
# their home in this run's repository, and /etc/pam.d/upgr-ftp is the
# documented file: two runs of this script at once would point each
# other's accounts at a repository that may be gone (make check runs it
# once).
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/tinyrel.sh"
doc=$UPGR_TOP/docs/server

if ! ftpd_can_run 2>"$T/why"; then
	not_ok "server recipes: $(cat "$T/why")"
	exit 0
fi

# --- the repository and its accounts (repo-setup.sh) -----------------------
# The FTP users must reach the repository from / after dropping privileges.
chmod 711 "$T"
repo=$T/srv/repo
mkdir -p "$T/srv" && chmod 755 "$T/srv"
check "repo-setup.sh REPO host-a host-b" sh "$doc/repo-setup.sh" "$repo" host-a host-b
expect_exit 2 "repo-setup.sh refuses a host name that is not one" \
	sh "$doc/repo-setup.sh" "$repo" "../etc"
# mode OWNER:GROUP PATH NAME
mode() {
	_got=$(stat -c '%a %U:%G' "$3" 2>&1)
	[ "$_got" = "$1 $2" ] && ok "$4" || not_ok "$4: $3 is $_got, want $1 $2"
}
mode 755 root:root "$repo" "layout: the chroot is root's"
mode 755 upgr-publish:upgr-ftp "$repo/apps" "layout: apps/ is the publisher's"
mode 751 root:upgr-read "$repo/reports" "layout: reports/ is listed by readers only"
mode 2750 upgr-h-host-a:upgr-read "$repo/reports/host-a" "layout: reports/host-a is host-a's"

# netrc NAME ACCOUNT: $T/NAME.netrc with ACCOUNT's password.
netrc() {
	_pw=$(ftpd_password "$2") || { not_ok "password for $2"; return 1; }
	printf 'machine 127.0.0.1 login %s password %s\n' "$2" "$_pw" >"$T/$1.netrc"
	chmod 600 "$T/$1.netrc"
}
netrc pub upgr-publish && netrc ro upgr-read && netrc a upgr-h-host-a &&
	netrc b upgr-h-host-b && ok "passwords set"

# The PAM service, exactly as documented.
if ! cmp -s "$doc/upgr-ftp.pam" /etc/pam.d/upgr-ftp 2>/dev/null; then
	cp "$doc/upgr-ftp.pam" /etc/pam.d/upgr-ftp.$$ && mv /etc/pam.d/upgr-ftp.$$ /etc/pam.d/upgr-ftp
fi

# --- vsftpd from the documented configuration -----------------------------
ftpd_cert || { not_ok "a certificate for 127.0.0.1"; exit 0; }
base=$(ftpd_free_ports 21) || { not_ok "free ports"; exit 0; }
port=$base
mkdir -p "$T/empty" && chmod 755 "$T/empty"
# render TEMPLATE OUT: replace the documented tokens, nothing else.
render() {
	sed -e "s|@ADDRESS@|127.0.0.1|g" -e "s|@PORT@|$port|g" \
		-e "s|@PASV_MIN@|$((base + 1))|g" -e "s|@PASV_MAX@|$((base + 20))|g" \
		-e "s|@REPO@|$repo|g" -e "s|@USERS@|$doc/vsftpd-users|g" \
		-e "s|@CERT@|$FTPD_CERT|g" -e "s|@KEY@|$FTPD_KEY|g" \
		-e "s|@EMPTY@|$T/empty|g" -e "s|@LOG@|$T/vsftpd.log|g" \
		-e "s|@HTTPS_PORT@|${https_port:-}|g" -e "s|@SERVER_NAME@|127.0.0.1|g" "$1" >"$2"
}
render "$doc/vsftpd.conf" "$T/vsftpd.conf"
grep -v '^#' "$T/vsftpd.conf" >"$T/vsftpd.settings"
expect_no_grep "$T/vsftpd.settings" '@[A-Z_]+@' "vsftpd.conf: every token replaced"
if ftpd_serve 1 "$T/vsftpd.conf" "$port" explicit 2>"$T/serve.err"; then
	ok "vsftpd runs the documented configuration"
else
	not_ok "vsftpd runs the documented configuration"; sed 's/^/#   /' "$T/serve.err"
	exit 0
fi
url=ftpes://127.0.0.1:$port
curl_url=ftp://127.0.0.1:$port

# ftp ACCOUNT CURL-ARGS...: curl over explicit TLS as ACCOUNT ($T/ACCOUNT.netrc).
ftp() {
	_n=$1; shift
	curl -sS --ssl-reqd --cacert "$FTPD_CA" --netrc-file "$T/$_n.netrc" "$@"
}

# refused NAME [PATH]: the last curl (run ftp ...) logged in and the server
# refused the command itself (curl 9: CWD, 19: RETR, 21: a -Q command,
# 25: STOR, 78: no such file), not the login or TLS; PATH, when given,
# is a file under the repository that must still not exist.
refused() {
	case $rc in
	9 | 19 | 21 | 25 | 78)
		if [ -n "${2:-}" ] && [ -e "$repo/$2" ]; then not_ok "$1: $2 was written"
		else ok "$1"; fi ;;
	*) not_ok "$1: curl exit $rc"; sed 's/^/#   /' "$T/err" ;;
	esac
}

# --- the release author publishes as upgr-publish ---------------------------
run tinyrel_publish "$UPGR" "$url/" 1.0.0 --netrc "$T/pub.netrc" --cacert "$FTPD_CA"
[ "$rc" = 0 ] && ok "upgr publish as upgr-publish over FTPS" ||
	{ not_ok "upgr publish as upgr-publish over FTPS: exit $rc"; sed 's/^/#   /' "$T/err"; }
mode 644 upgr-publish:upgr-ftp "$repo/apps/hello/channels/stable.yaml" \
	"the published channel is the publisher's, readable by every host"

# --- two agents, each with its own account ---------------------------------
# agent NAME HOST NETRC: $T/NAME.yaml, an agent of HOST logging in with NETRC.
agent() {
	mkdir -p "$T/$1-root"
	cat >"$T/$1.yaml" <<-EOC
	host: $2
	servers: [ "$url/" ]
	netrc: $T/$3.netrc
	ca_file: $FTPD_CA
	apps: [ hello ]
	root: $T/$1-root
	state_dir: $T/$1-state
	trusted_keys: [ $T/rel.pub ]
	device_key: $T/$1-device.key
	audit_log: $T/$1-audit.log
	EOC
	chmod 644 "$T/$1.yaml"
}
agent a host-a a
agent b host-b b
expect_exit 0 "agent host-a installs the release and reports, as upgr-h-host-a" \
	"$UPGR" run -c "$T/a.yaml"
expect_exit 0 "agent host-b does the same as upgr-h-host-b" "$UPGR" run -c "$T/b.yaml"
[ -x "$T/a-root/opt/hello/bin/hello" ] && ok "host-a has the release" ||
	not_ok "host-a has the release"
for h in host-a host-b; do
	mode 640 "upgr-h-$h:upgr-read" "$repo/reports/$h/audit.log" \
		"reports/$h/audit.log: written by $h's account, readable by readers"
done
expect_grep "$T/vsftpd.log" '\[upgr-h-host-a\] OK LOGIN' "the server logged host-a's own login"

# --- the read-only account ---------------------------------------------------
expect_exit 0 "upgr fleet status as upgr-read sees both hosts" \
	"$UPGR" fleet status --repo "$url/" --netrc "$T/ro.netrc" --cacert "$FTPD_CA"
expect_grep "$T/out" 'host-a' "... host-a"
expect_grep "$T/out" 'host-b' "... host-b"
expect_exit 0 "upgr audit verify --against as upgr-read" \
	"$UPGR" audit verify -p "$T/a-device.pub" --against "$url/reports/host-a/" \
	--netrc "$T/ro.netrc" --cacert "$FTPD_CA" "$T/a-audit.log"
echo x >"$T/x"
cp "$repo/apps/hello/channels/stable.yaml" "$T/channel.before"
run ftp ro -T "$T/x" "$curl_url/apps/hello/channels/stable.yaml"
refused "upgr-read cannot overwrite a channel"
run ftp ro -T "$T/x" "$curl_url/reports/host-a/x"
refused "upgr-read cannot write a report" reports/host-a/x
run ftp ro "$curl_url/reports/host-b/audit.log"
cmp -s "$T/out" "$repo/reports/host-b/audit.log" && ok "upgr-read reads host-b's log" ||
	not_ok "upgr-read reads host-b's log"
# An agent fetching with the read-only account installs, but its report
# goes nowhere (and is kept pending for the next run).
agent r host-r ro
"$UPGR" run -c "$T/r.yaml" >"$T/r.out" 2>&1
[ -x "$T/r-root/opt/hello/bin/hello" ] && ok "an agent fetching as upgr-read installs" ||
	{ not_ok "an agent fetching as upgr-read installs"; sed 's/^/#   /' "$T/r.out"; }
sed "s/^/#   read-only agent: /" "$T/r.out"
[ ! -e "$repo/reports/host-r" ] && ok "... and writes nothing on the server" ||
	not_ok "... and writes nothing on the server"

# --- host-a's account against host-b's report ---------------------------------
(cd "$repo/reports/host-b" && sha256sum audit.log audit.log.minisig status.yaml) >"$T/b.sum" 2>&1
run ftp a -T "$T/x" "$curl_url/reports/host-b/audit.log"
refused "host-a cannot overwrite reports/host-b/audit.log"
run ftp a -T "$T/x" "$curl_url/reports/host-b/new"
refused "host-a cannot create a file in reports/host-b/" reports/host-b/new
run ftp a -T "$T/x" "$curl_url/reports/host-a/mine"
[ "$rc" = 0 ] && ok "host-a can write in its own reports/host-a/ (the control)" ||
	{ not_ok "host-a can write in its own reports/host-a/ (the control)"; sed 's/^/#   /' "$T/err"; }
run ftp a "$curl_url/" -Q "RNFR reports/host-a/mine" -Q "RNTO reports/host-b/status.yaml"
refused "host-a cannot rename its file over host-b's"
run ftp a "$curl_url/" -Q "DELE reports/host-b/audit.log"
refused "host-a cannot delete host-b's log"
run ftp a "$curl_url/" -Q "MKD reports/host-c"
refused "host-a cannot make a report directory for another host" reports/host-c
run ftp a "$curl_url/reports/host-b/audit.log"
refused "host-a cannot read host-b's log"
# vsftpd answers a LIST it may not read with an empty listing.
run ftp a "$curl_url/reports/"
if [ "$rc" = 0 ] && [ ! -s "$T/out" ]; then ok "host-a cannot list reports/"
else refused "host-a cannot list reports/"; fi
run ftp a "$curl_url/reports/host-b/"
if [ "$rc" = 0 ] && [ ! -s "$T/out" ]; then ok "host-a cannot list reports/host-b/"
else refused "host-a cannot list reports/host-b/"; fi
run ftp a "$curl_url/reports/host-a/"
expect_grep "$T/out" 'audit\.log' "host-a lists its own reports/host-a/ (the control)"
run ftp a -T "$T/x" "$curl_url/apps/hello/channels/stable.yaml"
refused "host-a cannot overwrite a channel"
cmp -s "$T/channel.before" "$repo/apps/hello/channels/stable.yaml" &&
	ok "... the channel is unchanged" || not_ok "... the channel is unchanged"
run ftp a --path-as-is "$curl_url/../../../../../etc/passwd"
refused "host-a is chrooted to the repository"
# host-a's agent claiming to be host-b: its report cannot land.
agent liar host-b a
"$UPGR" run -c "$T/liar.yaml" >"$T/liar.out" 2>&1
(cd "$repo/reports/host-b" && sha256sum audit.log audit.log.minisig status.yaml) >"$T/b.sum2" 2>&1
expect_same "$T/b.sum" "$T/b.sum2" "host-a's agent posing as host-b leaves host-b's report as it was"
expect_grep "$T/liar.out" "report: .*(550|553|denied|refused)" "... and says its report did not go"
sed "s/^/#   liar: /" "$T/liar.out"
# No login without TLS, and only group upgr-ftp logs in.
run curl -sS --netrc-file "$T/a.netrc" "ftp://127.0.0.1:$port/apps/"
[ "$rc" != 0 ] && ok "a login without TLS is refused" || not_ok "a login without TLS is refused"
id nobody >/dev/null 2>&1 && printf 'machine 127.0.0.1 login nobody password x\n' >"$T/nobody.netrc"
run ftp nobody "$curl_url/apps/"
[ "$rc" != 0 ] && ok "an account outside upgr-ftp is refused" || not_ok "an account outside upgr-ftp is refused"

# --- SFTP with OpenSSH (docs/server/sshd_config) -----------------------------
# sshd refuses a ChrootDirectory with a directory above it that others can
# write, and $T is under /tmp (1777): this repository is under root's own
# /var/lib/upgr-test instead. The documented block is appended to the
# least global configuration a private sshd needs (port, host key, pid).
sftp_section() {
	[ -x /usr/sbin/sshd ] || { not_ok "sshd is not installed (make deps)"; return; }
	. "$UPGR_TOP/tests/lib/sshd.sh"
	mkdir -p /var/lib/upgr-test && chmod 755 /var/lib/upgr-test
	sdir=$(mktemp -d /var/lib/upgr-test/srv.XXXXXX) || return
	chmod 755 "$sdir"
	sftp_clean() { rm -rf "$sdir"; }
	at_exit sftp_clean
	srepo=$sdir/repo keys=$sdir/keys
	check "repo-setup.sh for the SFTP repository" sh "$doc/repo-setup.sh" "$srepo" host-a host-b
	install -d -m 0755 "$keys"
	for acct in upgr-publish upgr-h-host-a; do
		ssh-keygen -q -t ed25519 -N '' -f "$T/key-$acct" &&
			install -m 0644 "$T/key-$acct.pub" "$keys/$acct" || return
	done
	ssh-keygen -q -t ed25519 -N '' -f "$T/sshd_host_key" || return
	sport=$(ftpd_free_ports 1) || return
	printf '[127.0.0.1]:%s %s\n' "$sport" "$(cut -d' ' -f1,2 "$T/sshd_host_key.pub")" \
		>"$T/sftp_known_hosts"
	cat >"$T/sshd_config" <<-EOC
	ListenAddress 127.0.0.1:$sport
	HostKey $T/sshd_host_key
	PidFile $T/sshd.pid
	UsePAM no
	Subsystem sftp internal-sftp
	LogLevel VERBOSE
	EOC
	sed -e "s|@REPO@|$srepo|g" -e "s|@KEYS@|$keys|g" "$doc/sshd_config" >>"$T/sshd_config"
	grep -v '^#' "$T/sshd_config" >"$T/sshd.settings"
	expect_no_grep "$T/sshd.settings" '@[A-Z_]+@' "sshd_config: every token replaced"
	[ -d /run/sshd ] || mkdir -p -m 755 /run/sshd
	check "sshd -t accepts the documented block" /usr/sbin/sshd -t -f "$T/sshd_config"
	/usr/sbin/sshd -D -f "$T/sshd_config" -E "$T/sshd.log" </dev/null >/dev/null 2>&1 &
	echo $! >"$T/sshd.listener"
	sftp_stop() {
		_p=$(cat "$T/sshd.listener")
		kill "$_p" $(ps -e -o pid=,ppid= | awk -v p="$_p" '$2 == p { print $1 }') 2>/dev/null
		wait "$_p" 2>/dev/null
	}
	at_exit sftp_stop
	_sshd_wait "$sport" || { not_ok "sshd starts"; sed 's/^/#   /' "$T/sshd.log"; return; }
	surl=sftp://127.0.0.1:$sport

	run tinyrel_publish "$UPGR" "sftp://upgr-publish@127.0.0.1:$sport/" 1.0.0 \
		--ssh-key "$T/key-upgr-publish" --known-hosts "$T/sftp_known_hosts"
	[ "$rc" = 0 ] && ok "upgr publish as upgr-publish over SFTP" ||
		{ not_ok "upgr publish as upgr-publish over SFTP: exit $rc"; sed 's/^/#   /' "$T/err" | tail -5; }
	mode 644 upgr-publish:upgr-ftp "$srepo/apps/hello/channels/stable.yaml" \
		"SFTP: the channel is the publisher's, readable by every host"
	mkdir -p "$T/sa-root"
	cat >"$T/sa.yaml" <<-EOC
	host: host-a
	servers: [ "sftp://upgr-h-host-a@127.0.0.1:$sport/" ]
	ssh_key: $T/key-upgr-h-host-a
	ssh_known_hosts: $T/sftp_known_hosts
	apps: [ hello ]
	root: $T/sa-root
	state_dir: $T/sa-state
	trusted_keys: [ $T/rel.pub ]
	device_key: $T/sa-device.key
	audit_log: $T/sa-audit.log
	EOC
	chmod 644 "$T/sa.yaml"
	expect_exit 0 "SFTP: agent host-a installs and reports as upgr-h-host-a" \
		"$UPGR" run -c "$T/sa.yaml"
	mode 640 upgr-h-host-a:upgr-read "$srepo/reports/host-a/audit.log" \
		"SFTP: reports/host-a/audit.log is host-a's, readable by readers"
	# sftp_as CMD: run one sftp command as host-a; the exit status is sftp's.
	sftp_as() {
		echo "$1" | sftp -q -b - -i "$T/key-upgr-h-host-a" -P "$sport" \
			-o UserKnownHostsFile="$T/sftp_known_hosts" -o BatchMode=yes \
			upgr-h-host-a@127.0.0.1 >"$T/out" 2>"$T/err"
		rc=$?
	}
	echo x >"$T/x"
	: >"$srepo/reports/host-b/audit.log"
	chown upgr-h-host-b:upgr-read "$srepo/reports/host-b/audit.log"
	sftp_as "put $T/x /reports/host-a/mine"
	[ "$rc" = 0 ] && ok "SFTP: host-a writes in its own directory (the control)" ||
		{ not_ok "SFTP: host-a writes in its own directory (the control)"; sed 's/^/#   /' "$T/err"; }
	for cmd in "put $T/x /reports/host-b/x" "put $T/x /reports/host-b/audit.log" \
		"rename /reports/host-a/mine /reports/host-b/audit.log" \
		"rm /reports/host-b/audit.log" "mkdir /reports/host-c" \
		"ls /reports/host-b" "get /reports/host-b/audit.log $T/stolen" \
		"put $T/x /apps/hello/channels/stable.yaml" "cd /etc"; do
		sftp_as "$cmd"
		[ "$rc" != 0 ] && ok "SFTP: host-a may not: $cmd" ||
			not_ok "SFTP: host-a may not: $cmd"
	done
	[ -e "$srepo/reports/host-b/x" ] || [ -e "$srepo/reports/host-c" ] ||
		[ -s "$srepo/reports/host-b/audit.log" ] &&
		not_ok "SFTP: host-b's directory is as it was" ||
		ok "SFTP: host-b's directory is as it was"
}
sftp_section

# --- the HTTPS mirror (nginx) ---------------------------------------------
# docs/server/nginx.conf is a server block for nginx's sites; the test
# wraps it in the smallest nginx.conf that runs in the foreground with its
# pid and logs under $T.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	not_ok "nginx is not installed (make deps)"
	exit 0
fi
https_port=$(ftpd_free_ports 1) || { not_ok "a free port for nginx"; exit 0; }
ngx=$T/nginx
mkdir -p "$ngx"
render "$doc/nginx.conf" "$ngx/upgr-mirror.conf"
grep -v '^#' "$ngx/upgr-mirror.conf" >"$ngx/settings"
expect_no_grep "$ngx/settings" '@[A-Z_]+@' "nginx.conf: every token replaced"
cat >"$ngx/nginx.conf" <<EOC
daemon off;
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log;
events { worker_connections 64; }
http {
	include /etc/nginx/mime.types;
	access_log $ngx/access.log;
	include $ngx/upgr-mirror.conf;
}
EOC
/usr/sbin/nginx -c "$ngx/nginx.conf" -p "$ngx" >"$ngx/stderr" 2>&1 &
echo $! >"$ngx/main.pid"
ngx_stop() { kill "$(cat "$ngx/main.pid")" 2>/dev/null; wait "$(cat "$ngx/main.pid")" 2>/dev/null; }
at_exit ngx_stop
n=0
while ! curl -s -o /dev/null --cacert "$FTPD_CA" "https://127.0.0.1:$https_port/" && [ $n -lt 100 ]; do
	sleep 0.1; n=$((n + 1))
done
hurl=https://127.0.0.1:$https_port
run curl -sS -f --cacert "$FTPD_CA" -D "$T/headers" -o "$T/channel" "$hurl/apps/hello/channels/stable.yaml"
[ "$rc" = 0 ] && cmp -s "$T/channel" "$repo/apps/hello/channels/stable.yaml" &&
	ok "nginx serves the channel over HTTPS" ||
	{ not_ok "nginx serves the channel over HTTPS (curl $rc)"; sed 's/^/#   /' "$T/err" "$ngx/stderr" "$ngx/error.log"; }
expect_grep "$T/headers" '^Cache-Control: no-cache' "... marked no-cache (it changes in place)"
curl -s -o /dev/null -w '%{http_code}\n' --cacert "$FTPD_CA" "$hurl/reports/host-a/audit.log" >"$T/code"
expect_grep "$T/code" '^404$' "nginx does not serve reports/"
: >"$repo/apps/hello/releases/.upload.tmp"
curl -s -o /dev/null -w '%{http_code}\n' --cacert "$FTPD_CA" "$hurl/apps/hello/releases/.upload.tmp" >"$T/code"
expect_grep "$T/code" '^404$' "nginx does not serve a temporary dot-file"
rm -f "$repo/apps/hello/releases/.upload.tmp"
curl -s -o /dev/null -w '%{http_code}\n' --cacert "$FTPD_CA" "$hurl/apps/hello/releases/" >"$T/code"
expect_no_grep "$T/code" '^200$' "nginx lists no directory"

# An agent that fetches from the mirror and reports to the FTPS server.
run tinyrel_publish "$UPGR" "$url/" 1.1.0 --netrc "$T/pub.netrc" --cacert "$FTPD_CA"
[ "$rc" = 0 ] && ok "publish 1.1.0 to the FTPS server" || not_ok "publish 1.1.0 to the FTPS server: exit $rc"
sed -i "s|^servers: .*|servers: [ \"$hurl/\", \"$url/\" ]|" "$T/a.yaml"
: >"$ngx/access.log"
expect_exit 0 "host-a upgrades from the HTTPS mirror" "$UPGR" run -c "$T/a.yaml"
"$T/a-root/opt/hello/bin/hello" >"$T/hello.out" 2>&1
expect_grep "$T/hello.out" '^hello 1\.1\.0$' "... host-a runs 1.1.0"
# The changed files' objects (docs/repository.md), or the payload.
expect_grep "$ngx/access.log" 'GET /apps/hello/(releases/1\.1\.0/payload|objects/)[^ ]* HTTP/[0-9.]+" 200' \
	"... the release came from nginx"
expect_grep "$repo/reports/host-a/status.yaml" '1\.1\.0' "... and its report, over FTPS, says 1.1.0"
