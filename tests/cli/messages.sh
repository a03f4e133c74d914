# SPDX-License-Identifier: Apache-2.0
# Messages a person can act on, and the dry run a review gate can use
# (issue 15, points 5 and 8): "rolled back: health '...' exited 1; 1.0.0
# running", "config kept: etc/hello.conf (new version at ...upgr-new)",
# "server 1 ... unreachable (...), used server 2 (...)"; the audit record
# has each health attempt ("attempt 2 of 4"). A dry run whose plan would
# fail exits 1 for apply and run; `upgr run --dry-run --json` prints the
# plan as apply does, `--diff` a diff. On a terminal (a pty) a download
# shows one progress line with sizes, rate and ETA, also in a dry run;
# without a terminal, none.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/agentrepo.sh"

A="-c $T/a.yaml"
DEAD=$(ftpd_free_ports 1)

# release_with VERSION HEALTH [EXTRA]: hello VERSION with its health line
# replaced by HEALTH.
release_with() {
	svc_src "$1" "$T/src-$1" "${3:-}"
	sed -i "s#^health: .*#health: $2#" "$T/src-$1/manifest.yaml"
	release_make "$T/src-$1/manifest.yaml" "$T/src-$1" "$APPDIR/releases/$1"
}

# health_steps: the last upgrade record's health steps, [(exit, output)], in $T/health.
health_steps() {
	$T/upgr audit show --json "$T/a-audit.log" | /usr/bin/python3 -c '
import json,sys
r = [r for r in json.load(sys.stdin) if r["action"] == "upgrade"][-1]
print([(s["exit"], s.get("output", "")) for s in r["steps"] if s["phase"] == "health"])' >"$T/health"
}

release 1.0.0
channel 1 1.0.0
agent_config a
set_servers "$T/a.yaml" "ftp://127.0.0.1:$DEAD/repo" "${FTPD_URL_1}repo"
script -qec "$T/upgr run $A" /dev/null >"$T/tty" 2>&1
tr -d '\r' <"$T/tty" >"$T/tty.lines"
expect_grep "$T/tty.lines" "^upgr: warning: hello: server 1 \(ftp://127.0.0.1:$DEAD/repo\) unreachable \(Failed to connect[^)]*\), used server 2 \(${FTPD_URL_1}repo\)$" \
	"on a terminal: server 1 unreachable (why), used server 2"
running 1.0.0 && ok "1.0.0 installed through server 2" || not_ok "1.0.0 installed through server 2"
expect_exit 0 "the next tick under cron" $T/upgr run $A
quiet "under cron a dead server another one covers for is not said"

# 2.0.0 never comes up: rolled back, and the message says what runs.
release 2.0.0
touch "$T/svc/unhealthy-2.0.0"
channel 2 2.0.0
expect_exit 1 "2.0.0 fails its health check: exit 1" $T/upgr run $A
expect_grep "$T/err" "^upgr: hello 2.0.0: rolled back: health 'bin/hello-ctl status' exited 1; 1.0.0 running$" \
	"rolled back: health 'bin/hello-ctl status' exited 1; 1.0.0 running"
health_steps
expect_grep "$T/health" "\(1, 'attempt 1 of 2'\), \(1, 'attempt 2 of 2'\)" \
	"the audit record has each failed health attempt"

# 3.0.0 passes on its second health attempt, and a config edited here is kept.
release_with 3.0.0 "[ { run: \"test -e $T/svc/seen || { touch $T/svc/seen; exit 1; }\", timeout: 5, retries: 3, interval: 1 } ]"
echo "edited here" >"$T/root-a/opt/hello/etc/hello.conf"
channel 3 3.0.0
expect_exit 0 "3.0.0 passes on attempt 2" $T/upgr run $A
expect_grep "$T/out" "^hello: config kept: etc/hello.conf \(new version at etc/hello.conf.upgr-new\)$" \
	"config kept: etc/hello.conf (new version at etc/hello.conf.upgr-new)"
health_steps
expect_grep "$T/health" "^\[\(1, 'attempt 1 of 4'\), \(0, 'attempt 2 of 4'\)\]$" \
	"the audit record: passed on attempt 2 of 4"

# A plan that would fail (a precondition does not hold): the dry runs exit 1.
release 4.0.0 "preconditions: [ { installed: \">=9.0.0\" } ]"
channel 4 4.0.0
expect_exit 1 "run --dry-run: the plan would fail: exit 1" $T/upgr run $A --dry-run
expect_grep "$T/out" "^would fail: precondition 1 failed" "the plan says why it would fail"
expect_exit 1 "apply --dry-run: the plan would fail: exit 1" \
	$T/upgr apply $A --dry-run "$T/a-state/cache/hello/4.0.0"
expect_exit 1 "run --dry-run --json: exit 1" $T/upgr run $A --dry-run --json
/usr/bin/python3 -c '
import json,sys
d = json.load(open(sys.argv[1])); a = d["apps"][0]
print(a["state"], a["exit"], a["plan"]["to"], a["plan"]["would_fail"].startswith("precondition 1 failed"))' \
	"$T/out" >"$T/json" 2>&1
expect_grep "$T/json" "^ready 1 4.0.0 True$" "run --dry-run --json: the plan JSON, would_fail said"
$T/upgr apply $A --dry-run --json "$T/a-state/cache/hello/4.0.0" >"$T/apply.json"
/usr/bin/python3 -c '
import json,sys
a = json.load(open(sys.argv[1]))["apps"][0]["plan"]; b = json.load(open(sys.argv[2]))
print("same" if a == b else "differ")' "$T/out" "$T/apply.json" >"$T/same" 2>&1
expect_grep "$T/same" "^same$" "run --dry-run --json carries the plan apply --dry-run --json prints"

# --diff, and progress on a terminal: 5.0.0 brings a big file.
svc_src 5.0.0 "$T/src-5.0.0" "  - { path: share/big.bin, mode: \"0644\" }"
head -c 6000000 /dev/urandom >"$T/src-5.0.0/share/big.bin"
release_make "$T/src-5.0.0/manifest.yaml" "$T/src-5.0.0" "$APPDIR/releases/5.0.0"
channel 5 5.0.0
script -qec "$T/upgr run $A --dry-run" /dev/null >"$T/tty" 2>&1
tr '\r' '\n' <"$T/tty" >"$T/tty.lines"
expect_grep "$T/tty.lines" "^payload.tar.gz +[0-9.]+ (KiB|MiB) / +5\.[0-9] MiB +[0-9]+%  [0-9.]+ (B|KiB|MiB|GiB)/s" \
	"on a terminal: one progress line (sizes, percent, rate)"
[ "$(grep -c 'payload.tar.gz .* / ' "$T/tty.lines")" -ge 1 ] && [ "$(grep -c '^plan: ' "$T/tty.lines")" = 1 ] &&
	ok "the dry run on a terminal shows the plan after the progress" ||
	{ not_ok "dry run on a tty"; sed 's/^/#   /' "$T/tty.lines" | head; }
rm -rf "$T/a-state/cache/hello/5.0.0"
expect_exit 0 "run --dry-run --diff without a terminal" $T/upgr run $A --dry-run --diff
expect_no_grep "$T/err" "payload.tar.gz|/s" "without a terminal: no progress"
expect_grep "$T/out" "^\+greeting = hello from 5.0.0$|^\+\+\+ .*share/data.txt" \
	"run --dry-run --diff: a unified diff of the changed files"
expect_exit 2 "run --json without --dry-run is a usage error" $T/upgr run $A --json

# The audit record of an upgrade names the server the release came from,
# and both verifiers accept the log with that line.
$T/upgr audit show --json "$T/a-audit.log" | /usr/bin/python3 -c '
import json,sys
r = [r for r in json.load(sys.stdin) if r["action"] == "upgrade"][-1]
print(r.get("server"))' >"$T/server"
expect_grep "$T/server" "^${FTPD_URL_1}repo\$" "the audit record names the server used"
expect_exit 0 "upgr audit verify accepts records with a server line" \
	$T/upgr audit verify --every-signature -p "$T/a-device.pub" "$T/a-audit.log"
expect_exit 0 "audit/verify (sh, awk, openssl) accepts them too" \
	sh "$UPGR_TOP/audit/verify" "$T/a-device.pub" "$T/a-audit.log"
