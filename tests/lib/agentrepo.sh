# SPDX-License-Identifier: Apache-2.0
# A one-app repository (hello) served by vsftpd, for the agent tests that
# drive `upgr run` tick by tick (hold.sh, alerts.sh, metrics.sh). Source
# after testlib.sh; starts one vsftpd or SKIPs the test.
#
#   release VERSION               seal and sign hello VERSION
#   channel SERIAL VERSION        write, sign and serve the stable channel
#                                 (CH_EXPIRES overrides the expiry; CH_EXTRA
#                                 lines are appended, e.g. "rollout: 0")
#   agent_config NAME [EXTRA]     an agent config $T/NAME.yaml (EXTRA lines appended)
#   running VERSION               the fake service runs VERSION
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

upgr_copy
ftpd_or_skip 1 "agent repository tests"

REPO=$T/repo-master
APPDIR=$REPO/apps/hello
release_key

release() {
	svc_src "$1" "$T/src-$1" "${2:-}"
	release_make "$T/src-$1/manifest.yaml" "$T/src-$1" "$APPDIR/releases/$1"
}

utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

channel() {
	_sha=$(sha256sum "$APPDIR/releases/$2/manifest.yaml" | cut -d' ' -f1)
	mkdir -p "$APPDIR/channels"
	cat >"$APPDIR/channels/stable.yaml" <<-EOF2
	upgr: 1
	app: hello
	channel: stable
	serial: $1
	version: $2
	manifest: releases/$2/manifest.yaml
	manifest_sha256: $_sha
	published: $(utc '-1 hour')
	expires: ${CH_EXPIRES:-$(utc '+30 days')}
	${CH_EXTRA:-}
	EOF2
	rm -f "$APPDIR/channels/stable.yaml.minisig"
	printf '' | minisign -S -s "$T/rel.key" -m "$APPDIR/channels/stable.yaml" \
		-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" \
		>/dev/null 2>&1 || not_ok "minisign -S of the channel"
	mkdir -p "$FTPD_ROOT_1/repo"
	cp -R "$REPO/." "$FTPD_ROOT_1/repo/"
	chown -R "$FTPD_USER:" "$FTPD_ROOT_1"
}

agent_config() {
	agent_yaml "$1" "trusted_keys: [$T/rel.pub]${2:+
$2}" "${FTPD_URL_1}repo"
}

running() { [ "$(cat "$T/svc/running" 2>/dev/null)" = "$1" ]; }

# quiet NAME: the last command printed nothing at all.
quiet() {
	if [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then ok "$1"; else
		not_ok "$1"; sed 's/^/#   /' "$T/out" "$T/err" | head -10
	fi
}
