#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The transport against real servers on 127.0.0.1: the FTP cases of the
# test_transport unit binary, run with three vsftpd servers: a live one, a
# stopped one (connection refused) and one throttled to a trickle (the
# low-speed cut-off, then killed mid-transfer); then its HTTP cases.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"

bin=$UPGR_TOP/${UPGR_BUILD:-build/plain}/tests/test_transport
if [ ! -x "$bin" ]; then
	not_ok "transport_ftp: $bin is not built (make unit)"
	exit 0
fi
if ! ftpd_can_run; then
	ok "transport_ftp # SKIP cannot run vsftpd here"
	exit 0
fi
if ! ftpd_start 3; then
	not_ok "transport_ftp: vsftpd servers did not start"
	exit 0
fi
ftpd_stop 2
ftpd_throttle 3 1000

# The unit binary prints the TAP lines that tests/run counts.
UPGR_FTP_URL=$FTPD_URL_1 UPGR_FTP_ROOT=$FTPD_ROOT_1 UPGR_FTP_LOG=$FTPD_LOG_1 \
UPGR_NETRC=$FTPD_NETRC UPGR_FTP_DEAD_URL=$FTPD_URL_2 \
UPGR_FTP_SLOW_URL=$FTPD_URL_3 UPGR_FTP_SLOW_ROOT=$FTPD_ROOT_3 \
UPGR_FTP_SLOW_STOP=$FTPD_STOP_3 \
	"$bin"
rc=$?
[ "$rc" = 0 ] || sed 's/^/#   vsftpd: /' "$FTPD_LOG_1" | tail -30

# The HTTP cases, against python's http.server (no Range support, so a
# resume falls back to a whole download).
mkdir -p "$T/www"
port=$(_ftpd_free_ports 1)
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$port" \
	>"$T/http.log" 2>&1 </dev/null &
http_pid=$!
stop_http() { kill "$http_pid" 2>/dev/null; wait "$http_pid" 2>/dev/null; }
at_exit stop_http
n=0
until curl -s -o /dev/null "http://127.0.0.1:$port/" || [ $n -gt 100 ]; do
	sleep 0.05; n=$((n + 1))
done
UPGR_HTTP_URL=http://127.0.0.1:$port/ UPGR_HTTP_ROOT=$T/www UPGR_NETRC=$FTPD_NETRC "$bin"
exit 0
