# SPDX-License-Identifier: Apache-2.0
# metrics_file (issue 15, point 7), against a real vsftpd: after every run
# the agent rewrites the node_exporter textfile, which the real
# `promtool check metrics` accepts: the last run's time and result, the
# installed version as an info metric, downtime, bytes, consecutive
# failures, the hold.
. "$(dirname "$0")/../lib/testlib.sh"
if ! command -v promtool >/dev/null 2>&1; then
	echo "ok - # SKIP metrics: no promtool (tests/lib/deps.sh installs prometheus)"
	exit 0
fi
. "$UPGR_TOP/tests/lib/agentrepo.sh"

mkdir -p "$T/textfile"
PROM=$T/textfile/upgr.prom
agent_config a "metrics_file: $PROM"
A="-c $T/a.yaml"

# sample NAME-AND-LABELS: the value of one sample in the metrics file.
sample() { grep -F "$1 " "$PROM" | awk '{print $2}'; }

promtool_ok() {
	if promtool check metrics <"$PROM" >"$T/promtool.out" 2>&1; then ok "$1"; else
		not_ok "$1"; sed 's/^/#   /' "$T/promtool.out" "$PROM" | head -40
	fi
}

release 1.0.0
release 2.0.0
channel 1 1.0.0
expect_exit 0 "1.0.0 installs" $UPGR $A
[ -s "$PROM" ] && ok "the run wrote the metrics file" || { not_ok "no $PROM"; exit 1; }
promtool_ok "promtool check metrics accepts it after an install"
[ "$(sample 'upgr_installed_info{app="hello",version="1.0.0"}')" = 1 ] &&
	ok "the installed version is an info metric" || not_ok "no info metric for 1.0.0"
[ "$(sample 'upgr_last_run_success{app="hello"}')" = 1 ] && ok "success 1" || not_ok "success"
now=$(date +%s); t=$(sample 'upgr_last_run_timestamp_seconds{app="hello"}')
[ "${t%.*}" -le "$now" ] && [ "${t%.*}" -ge $((now - 600)) ] && ok "the run's time is now" ||
	not_ok "timestamp $t, now $now"
[ "$(sample 'upgr_last_fetched_bytes{app="hello"}')" -gt 0 ] && ok "bytes fetched counted" ||
	not_ok "bytes: $(sample 'upgr_last_fetched_bytes{app="hello"}')"
for fam in upgr_last_run_timestamp_seconds upgr_last_run_success upgr_last_run_exit_code \
	upgr_installed_info upgr_held upgr_last_downtime_seconds upgr_last_fetched_bytes \
	upgr_consecutive_failures; do
	grep -q "^# HELP $fam " "$PROM" && grep -q "^# TYPE $fam gauge$" "$PROM" || bad="$fam"
done
[ -z "${bad:-}" ] && ok "every family has HELP and TYPE" || not_ok "no HELP/TYPE for $bad"

channel 2 2.0.0
expect_exit 0 "2.0.0 upgrades" $UPGR $A
promtool_ok "promtool check metrics accepts it after an upgrade"
[ "$(sample 'upgr_installed_info{app="hello",version="2.0.0"}')" = 1 ] &&
	! grep -q 'version="1.0.0"' "$PROM" && ok "the info metric moved to 2.0.0" ||
	not_ok "info metric after the upgrade"
d=$(sample 'upgr_last_downtime_seconds{app="hello"}')
awk "BEGIN { exit !($d > 0) }" && ok "the upgrade's downtime is there ($d s)" || not_ok "downtime $d"
[ "$(ls -A "$T/textfile")" = upgr.prom ] && ok "no temporary file left beside it" ||
	not_ok "left: $(ls -A "$T/textfile")"

# --- consecutive failures ---------------------------------------------------
ftpd_stop 1
run $UPGR $A
run $UPGR $A
[ "$rc" = 69 ] && ok "servers down: 69" || not_ok "exit $rc"
[ "$(sample 'upgr_consecutive_failures{app="hello"}')" = 2 ] && ok "two failures in a row" ||
	not_ok "failures: $(sample 'upgr_consecutive_failures{app="hello"}')"
[ "$(sample 'upgr_last_run_exit_code{app="hello"}')" = 69 ] && ok "exit code 69 in the file" ||
	not_ok "exit code"
[ "$(sample 'upgr_installed_info{app="hello",version="2.0.0"}')" = 1 ] &&
	ok "a failed poll still names the installed version" || not_ok "no version after a failed poll"
promtool_ok "promtool check metrics accepts it after failures"
ftpd_restart 1
expect_exit 0 "a good run" $UPGR $A
[ "$(sample 'upgr_consecutive_failures{app="hello"}')" = 0 ] && ok "a good run resets the count" ||
	not_ok "failures after a good run"

# --- held ---------------------------------------------------------------------
expect_exit 0 "hold" $UPGR hold $A hello
expect_exit 0 "a held tick" $UPGR $A
[ "$(sample 'upgr_held{app="hello"}')" = 1 ] && ok "upgr_held 1" || not_ok "held sample"
promtool_ok "promtool check metrics accepts it with a hold"

# --- the key ------------------------------------------------------------------
sed "s|^metrics_file:.*|metrics_file: relative.prom|" "$T/a.yaml" >"$T/b.yaml"
chmod 0644 "$T/b.yaml"
expect_exit 65 "a relative metrics_file is refused" $UPGR -c "$T/b.yaml"
expect_grep "$T/err" "metrics_file: 'relative.prom' must be an absolute path" "and says why"
rm -f "$PROM"
expect_exit 0 "--dry-run" $UPGR --dry-run $A
[ ! -e "$PROM" ] && ok "--dry-run writes no metrics" || not_ok "--dry-run wrote metrics"
