# SPDX-License-Identifier: Apache-2.0
# Faults beyond tests/cli/crash.sh (SIGKILL at every step of an upgrade,
# ENOSPC at every write):
#  - EIO at every write of an upgrade: refused with the old version intact
#    and running, or (past the commit point) the new one complete;
#  - a read-only target (a read-only bind mount): refused, nothing changed;
#  - staging: one syncfs on ext4/XFS/btrfs/tmpfs, an fsync per staged file
#    with UPGR_STAGE_FSYNC=1 (the path taken on FUSE and the rest);
#  - the agent (`upgr run` against vsftpd) killed at every write of the
#    download into the cache: the next run resumes and installs;
#    killed at every write of the audit append: the log verifies (or has
#    a torn last record that `upgr audit verify` reports) and the agent
#    goes on; killed during the report upload: the next run sends it;
#  - the server killed mid-transfer: the next run resumes (REST).
# (LeakSanitizer cannot run under ptrace: leaks are off for strace runs.)
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"
svc_src 1.0.0 "$T/src1" "  - { path: share/old.txt, mode: \"0644\" }"
echo "old" >"$T/src1/share/old.txt"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"
svc_src 2.0.0 "$T/src2" "  - { path: lib/sub/new.so, mode: \"0755\" }
remove: [ share/old.txt ]"
mkdir -p "$T/src2/lib/sub"; echo "new" >"$T/src2/lib/sub/new.so"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"

$UPGR apply $A "$T/rel1" >/dev/null || { not_ok "install 1.0.0"; exit 1; }
tree_sum "$TGT" >"$T/sum1"
mkdir "$T/base"
cp -a "$T/root" "$T/a-state" "$T/svc" "$T/base/"
[ -e "$T/a-audit.log" ] && cp -a "$T/a-audit.log" "$T/base/"
reset_host() {
	rm -rf "$T/root" "$T/a-state" "$T/svc"
	cp -a "$T/base/root" "$T/base/a-state" "$T/base/svc" "$T/"
	[ -e "$T/base/a-audit.log" ] && cp -a "$T/base/a-audit.log" "$T/"
}
$UPGR apply $A "$T/rel2" >/dev/null || { not_ok "upgrade to 2.0.0"; exit 1; }
tree_sum "$TGT" >"$T/sum2"

# --- EIO at every write -------------------------------------------------------------
reset_host
ASAN_OPTIONS=detect_leaks=0 strace -o "$T/writes" -e trace=write $UPGR apply $A "$T/rel2" >/dev/null 2>&1
total=$(grep -c '^write(' "$T/writes")
n=1 bad=0
while [ $n -le "$total" ]; do
	reset_host
	ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -e trace=write -e inject=write:error=EIO:when=$n \
		$UPGR apply $A "$T/rel2" >/dev/null 2>"$T/eio.err"
	rc=$?
	tree_sum "$TGT" >"$T/sumx"
	running=$(cat "$T/svc/running" 2>/dev/null)
	if [ $rc = 1 ] && cmp -s "$T/sumx" "$T/sum1" && [ "$running" = 1.0.0 ]; then
		ok "EIO at write #$n of $total: exit 1, old version intact and running"
	elif [ $rc = 0 ] && cmp -s "$T/sumx" "$T/sum2" && [ "$running" = 2.0.0 ]; then
		$UPGR recover $A >/dev/null 2>&1
		[ ! -e "$T/a-state/apps/hello/journal" ] && ok "EIO at write #$n of $total: past the commit point, 2.0.0 complete" ||
			not_ok "EIO at write #$n: a journal is left after recover"
	else
		not_ok "EIO at write #$n: exit $rc, running '$running'"; sed 's/^/#   /' "$T/eio.err"
		bad=$((bad + 1))
	fi
	n=$((n + 1))
done
[ "$total" -ge 8 ] && ok "EIO tried at all $total writes" || not_ok "only $total writes seen"

# --- a read-only target ----------------------------------------------------------------
reset_host
if [ "$(id -u)" = 0 ] && mount --bind "$TGT" "$TGT" 2>/dev/null; then
	ro_cleanup() { umount "$TGT" 2>/dev/null; umount "$TGT" 2>/dev/null; :; }
	at_exit ro_cleanup
	if mount -o remount,bind,ro "$TGT" 2>/dev/null && ! touch "$TGT/.probe" 2>/dev/null; then
		run $UPGR apply $A "$T/rel2"
		[ "$rc" != 0 ] && ok "a read-only target: the upgrade fails (exit $rc)" || not_ok "read-only target: exit 0"
		expect_grep "$T/err" "[Rr]ead-only" "a read-only target: the error says read-only"
		tree_sum "$TGT" >"$T/sumx"
		expect_same "$T/sum1" "$T/sumx" "a read-only target: the installed tree is unchanged"
		[ "$(cat "$T/svc/running")" = 1.0.0 ] && ok "a read-only target: 1.0.0 still runs" ||
			not_ok "a read-only target: 1.0.0 not running"
		[ ! -e "$T/a-state/apps/hello/journal" ] && ok "a read-only target: no journal left" ||
			not_ok "a read-only target: a journal is left"
		ro_cleanup
		expect_exit 0 "writable again: the upgrade goes ahead" $UPGR apply $A "$T/rel2"
		tree_sum "$TGT" >"$T/sumx"
		expect_same "$T/sum2" "$T/sumx" "writable again: 2.0.0 installed"
	else
		ro_cleanup
		ok "# SKIP read-only target: remount,ro refused here"
	fi
else
	ok "# SKIP read-only target: cannot bind-mount (needs root and mount)"
fi

# --- staged files: syncfs where it is honoured, an fsync each elsewhere --------------------
# (issue 14 point 12) UPGR_STAGE_FSYNC=1 takes the path used on FUSE and
# other file systems whose syncfs may flush nothing: every file created in
# the staging directory is fsynced, and no syncfs is called.
stage_trace() {
	reset_host
	ASAN_OPTIONS=detect_leaks=0 strace -f -yy -o "$T/st" -e trace=openat,fsync,syncfs,mkdirat,linkat \
		$UPGR apply $A "$T/rel2" >/dev/null 2>&1 || not_ok "$1: the upgrade fails"
	sed -n 's/.*openat(.*O_CREAT.*) = [0-9]*<\([^>]*\/stage\/[^>]*\)>$/\1/p' "$T/st" |
		sed 's|.*/stage/||' | sort >"$T/staged"
	sed -n 's/.*fsync([0-9]*<\([^>]*\/stage\/[^>]*\)>) = 0.*/\1/p' "$T/st" |
		sed 's|.*/stage/||' | sort -u >"$T/fsynced"
	nstaged=$(wc -l <"$T/staged")
	# The directories of the backup that got an entry (a link or a
	# directory made), and WORK, which got backup.new; and every fsynced one.
	{ sed -n 's/.*mkdirat([0-9]*<\([^>]*\/backup\.new[^>]*\)>, .* = 0$/\1/p' "$T/st"
	  sed -n 's/.*linkat([0-9]*<[^>]*>, "[^"]*", [0-9]*<\([^>]*\/backup\.new[^>]*\)>, .* = 0$/\1/p' "$T/st"
	  sed -n 's/.*mkdirat([0-9]*<\([^>]*\)>, "backup\.new", .* = 0$/\1/p' "$T/st"
	} | sort -u >"$T/bdirs"
	sed -n 's/.*fsync([0-9]*<\([^>]*\)>) = 0.*/\1/p' "$T/st" | sort -u >"$T/dsynced"
	nbdirs=$(wc -l <"$T/bdirs")
	nsyncfs=$(grep -c '^[0-9]* *syncfs(.*/stage' "$T/st")
}
export UPGR_STAGE_FSYNC=1
stage_trace "per-file fsync"
unset UPGR_STAGE_FSYNC
[ "$nstaged" -ge 4 ] && ok "per-file fsync: $nstaged files staged" || not_ok "per-file fsync: only $nstaged files staged"
if comm -23 "$T/staged" "$T/fsynced" | grep -q .; then
	not_ok "per-file fsync: staged files never fsynced: $(comm -23 "$T/staged" "$T/fsynced" | tr '\n' ' ')"
else ok "per-file fsync: each of the $nstaged staged files is fsynced"; fi
[ "$nsyncfs" = 0 ] && ok "per-file fsync: no syncfs of the staging directory" || not_ok "per-file fsync: $nsyncfs syncfs calls"
# backup.new's links: its directories fsynced one by one where syncfs is not
# trusted (a crash after the swap must find every old file in the backup).
[ "$nbdirs" -ge 3 ] && ok "per-file fsync: $nbdirs backup directories got entries" ||
	not_ok "per-file fsync: only $nbdirs backup directories seen: $(tr '\n' ' ' <"$T/bdirs")"
if comm -23 "$T/bdirs" "$T/dsynced" | grep -q .; then
	not_ok "per-file fsync: backup directories never fsynced: $(comm -23 "$T/bdirs" "$T/dsynced" | tr '\n' ' ')"
else ok "per-file fsync: each of the $nbdirs backup directories (and WORK) is fsynced"; fi
if [ "$(stat -f -c %T "$T")" = ext2/ext3 ] || [ "$(stat -f -c %T "$T")" = tmpfs ] ||
   [ "$(stat -f -c %T "$T")" = xfs ] || [ "$(stat -f -c %T "$T")" = btrfs ]; then
	stage_trace "syncfs"
	[ "$nsyncfs" = 1 ] && ok "on $(stat -f -c %T "$T"): one syncfs for the staged files" ||
		not_ok "on $(stat -f -c %T "$T"): $nsyncfs syncfs calls"
	comm -12 "$T/staged" "$T/fsynced" >"$T/both"
	[ "$nstaged" -ge 4 ] && [ ! -s "$T/both" ] && ok "on $(stat -f -c %T "$T"): no fsync per staged file" ||
		not_ok "on $(stat -f -c %T "$T"): $nstaged staged, fsynced one by one: $(tr '\n' ' ' <"$T/both")"
else
	ok "# SKIP syncfs path: $T is on $(stat -f -c %T "$T"), where syncfs is not trusted"
fi

# --- the agent against a real FTP server ------------------------------------------------
. "$UPGR_TOP/tests/lib/ftpd.sh"
if ! ftpd_can_run 2>"$T/why"; then
	echo "ok - # SKIP agent faults: $(cat "$T/why")"; exit 0
fi
ftpd_start 1 || { not_ok "vsftpd starts"; exit 1; }
APPDIR=$FTPD_ROOT_1/repo/apps/hello
head -c 400000 /dev/urandom >"$T/big.bin"
svc_src 1.0.0 "$T/rsrc" "  - { path: share/big.bin, mode: \"0644\" }"
cp "$T/big.bin" "$T/rsrc/share/big.bin"
release_make "$T/rsrc/manifest.yaml" "$T/rsrc" "$APPDIR/releases/1.0.0"
_sha=$(sha256sum "$APPDIR/releases/1.0.0/manifest.yaml" | cut -d' ' -f1)
mkdir -p "$APPDIR/channels"
cat >"$APPDIR/channels/stable.yaml" <<EOC
upgr: 1
app: hello
channel: stable
serial: 1
version: 1.0.0
manifest: releases/1.0.0/manifest.yaml
manifest_sha256: $_sha
published: $(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
expires: $(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
EOC
printf '' | minisign -S -s "$T/rel.key" -m "$APPDIR/channels/stable.yaml" \
	-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" >/dev/null 2>&1
chown -R "$FTPD_USER:" "$FTPD_ROOT_1"
cat >"$T/r.yaml" <<EOC
host: host-r
servers: [ "${FTPD_URL_1}repo" ]
netrc: $FTPD_NETRC
apps: [ hello ]
root: $T/root-r
state_dir: $T/r-state
trusted_keys: [ $T/rel.pub ]
device_key: $T/r-device.key
audit_log: $T/r-audit.log
EOC
chmod 0644 "$T/r.yaml"
R="-c $T/r.yaml"
RTGT=$T/root-r/opt/hello
RPT=$FTPD_ROOT_1/repo/reports/host-r
PART=$T/r-state/cache/hello/1.0.0/payload.tar.gz.part

reset_agent() {
	rm -rf "$T/r-state" "$T/root-r" "$T/r-audit.log" "$T/r-device.key" "$T/r-device.pub" \
		"$T/svc" "$RPT"
	mkdir -p "$T/root-r" "$T/svc"
}

# after_kill LABEL: the next run installs 1.0.0 and reports; the audit log
# verifies.
after_kill() {
	run $UPGR $R
	if [ "$rc" = 0 ] && cmp -s "$T/big.bin" "$RTGT/share/big.bin" &&
		[ "$(cat "$T/svc/running" 2>/dev/null)" = 1.0.0 ]; then
		ok "$1: the next run installs 1.0.0"
	else
		not_ok "$1: next run exit $rc, running '$(cat "$T/svc/running" 2>/dev/null)'"
		sed 's/^/#   /' "$T/err" | head -5
	fi
	if [ -s "$RPT/status.yaml" ] && grep -q 'version: "1.0.0"' "$RPT/status.yaml" &&
		[ ! -e "$T/r-state/report-pending" ]; then
		ok "$1: the report is on the server"
	else not_ok "$1: no report (pending: $(ls "$T/r-state/report-pending" 2>&1))"; fi
	run $UPGR audit verify -p "$T/r-device.pub" "$T/r-audit.log"
	[ "$rc" = 0 ] && ok "$1: the audit log verifies" ||
		{ not_ok "$1: audit verify exit $rc"; sed 's/^/#   /' "$T/err" | head -5; }
}

# kill_loop NAME SYSCALL STRACE-FILTER...: count SYSCALL (as selected by
# the filter) in a clean run, then SIGKILL upgr at each (at most 8, spread
# evenly); KILL_CHECK LABEL runs right after the kill, then after_kill.
kill_loop() {
	_name=$1 _sc=$2; shift 2
	reset_agent
	ASAN_OPTIONS=detect_leaks=0 strace -o "$T/trace" "$@" -e trace="$_sc" $UPGR $R >/dev/null 2>&1
	_total=$(grep -c "^$_sc(" "$T/trace")
	[ "$_total" -gt 0 ] || { not_ok "$_name: no $_sc in a run"; return; }
	_step=$(( (_total + 7) / 8 ))
	_killed=0 _n=1
	while [ $_n -le "$_total" ]; do
		reset_agent
		ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null "$@" -e trace="$_sc" \
			-e inject="$_sc":signal=KILL:when=$_n $UPGR $R >/dev/null 2>"$T/kill.err"
		_rc=$?
		if [ $_rc = 137 ]; then
			_killed=$((_killed + 1))
			[ -n "${KILL_CHECK:-}" ] && $KILL_CHECK "$_name #$_n of $_total"
			after_kill "SIGKILL at $_name #$_n of $_total"
		elif [ $_rc = 0 ] && [ $_n -gt 1 ]; then
			# The network's chunking varies: this run made fewer.
			ok "$_name #$_n of $_total: this run made fewer and completed"
		else
			not_ok "$_name #$_n of $_total: not killed (exit $_rc)"; sed 's/^/#   /' "$T/kill.err" | head -3
		fi
		_n=$((_n + _step))
	done
	[ $_killed -gt 0 ] && ok "$_name: killed at $_killed of $_total points" || not_ok "$_name: never killed"
}

# The download: every write into the payload cache; a partial file is kept
# and the next run resumes it (REST).
partial_kept() {
	_got=$(stat -c %s "$PART" 2>/dev/null || echo 0)
	[ "$_got" -lt "$(stat -c %s "$APPDIR/releases/1.0.0/payload.tar.gz")" ] &&
		ok "$1: the cache holds a partial payload ($_got bytes), not a whole one" ||
		not_ok "$1: cache file $_got bytes"
}
KILL_CHECK=partial_kept kill_loop "download write" write -P "$PART"
grep -Eq "REST [1-9]" "$FTPD_LOG_1" && ok "a killed download was resumed (REST)" ||
	not_ok "no REST in the server log"

# The audit append: each record is one write(2); killed there, the log has
# no torn record (or verify reports it); the next run goes on.
no_torn() {
	if [ ! -s "$T/r-audit.log" ]; then ok "$1: no audit log yet"; return; fi
	run $UPGR audit verify -p "$T/r-device.pub" "$T/r-audit.log"
	if [ "$rc" = 0 ] || grep -qi "torn" "$T/err"; then
		ok "$1: audit verify exit $rc (intact, or the torn record reported)"
	else not_ok "$1: audit verify exit $rc"; sed 's/^/#   /' "$T/err" | head -3; fi
}
KILL_CHECK=no_torn kill_loop "audit write" write -P "$T/r-audit.log"

# Every connection upgr opens: the downloads' and the report upload's.
KILL_CHECK='' kill_loop "connect" connect

# The report upload is the run's last network traffic: SIGKILL at each of
# the last 8 sendto calls (commands and data of its STORs); the install
# had completed, and the next run sends the report.
reset_agent
ASAN_OPTIONS=detect_leaks=0 strace -o "$T/trace" -e trace=sendto $UPGR $R >/dev/null 2>&1
total=$(grep -c '^sendto(' "$T/trace")
n=$((total > 8 ? total - 7 : 1)) killed=0
while [ $n -le "$total" ]; do
	reset_agent
	ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -e trace=sendto \
		-e inject=sendto:signal=KILL:when=$n $UPGR $R >/dev/null 2>&1
	if [ $? = 137 ]; then
		killed=$((killed + 1))
		[ "$(cat "$T/svc/running" 2>/dev/null)" = 1.0.0 ] &&
			ok "report upload sendto #$n of $total: the install had completed" ||
			not_ok "report upload sendto #$n: 1.0.0 not running"
		after_kill "SIGKILL at report upload sendto #$n of $total"
	fi
	n=$((n + 1))
done
[ $killed -gt 0 ] && ok "report upload: killed at $killed points" || not_ok "report upload: never killed"

# --- the server killed mid-transfer -----------------------------------------------------------
reset_agent
ftpd_throttle 1 100000
$UPGR $R >"$T/r.out" 2>"$T/r.err" &
agent=$!
n=0; while [ "$(stat -c %s "$PART" 2>/dev/null || echo 0)" -lt 100000 ] && [ $n -lt 200 ]; do
	sleep 0.05; n=$((n + 1))
done
ftpd_stop 1
wait "$agent"; rc=$?
[ "$rc" = 69 ] && ok "server killed mid-download: exit 69" ||
	{ not_ok "server killed mid-download: exit $rc"; sed 's/^/#   /' "$T/r.err"; }
got=$(stat -c %s "$PART" 2>/dev/null || echo 0)
[ "$got" -gt 0 ] && ok "server killed mid-download: a partial payload is kept ($got bytes)" ||
	not_ok "no partial payload"
[ ! -e "$RTGT" ] && ok "server killed mid-download: nothing installed" || not_ok "installed from a partial download"
ftpd_throttle 1 0
after_kill "server killed mid-download"
