#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# upgr publish: to a file:// repository and to a real vsftpd on loopback;
# the layout, the signatures (checked with the real minisign), the
# reproducible payload, the channel's serial, immutability, downgrades,
# refusals, and an agent reading the release back and installing it.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"

"$UPGR" keygen -W "$T/rel" >/dev/null 2>&1 || { not_ok "upgr keygen"; exit 1; }
P="$UPGR publish --key $T/rel.key"

# build VERSION [DIR]: a build directory with an authored manifest, three
# listed files and one that is not listed.
build() {
	_d=${2:-$T/b-$1}
	mkdir -p "$_d/bin" "$_d/etc" "$_d/share"
	printf '#!/bin/sh\necho hello %s\n' "$1" >"$_d/bin/hello"
	echo "greeting = hi" >"$_d/etc/hello.conf"
	head -c 200000 /dev/urandom >"$_d/share/data.bin"
	echo "not part of the release" >"$_d/notes.txt"
	cat >"$_d/manifest.yaml" <<-EOF
	upgr: 1
	app: hello
	version: $1
	target: /opt/hello
	files:
	  - path: share/data.bin
	    mode: "0644"
	  - path: bin/hello
	    mode: "0755"
	  - path: etc/hello.conf
	    mode: "0644"
	    config: true
	EOF
}

# field FILE KEY: a top-level value of a YAML file, unquoted.
field() { sed -n "s/^$2: *\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$1"; }

# layout NAME DIR VERSION: the release and the channel are where
# DESIGN.md says, and minisign verifies both signatures.
layout() {
	_a=$2/apps/hello
	for _f in releases/$3/payload.tar.gz releases/$3/manifest.yaml \
		releases/$3/manifest.yaml.minisig channels/stable.yaml \
		channels/stable.yaml.minisig; do
		[ -f "$_a/$_f" ] || { not_ok "$1: $_f is missing"; return; }
	done
	ok "$1: the release and the channel are laid out as DESIGN.md says"
	check "$1: minisign verifies the manifest" \
		minisign -Vm "$_a/releases/$3/manifest.yaml" -p "$T/rel.pub"
	check "$1: minisign verifies the channel" \
		minisign -Vm "$_a/channels/stable.yaml" -p "$T/rel.pub"
	[ -z "$(find "$2" -name '.*')" ] && ok "$1: no temporary file is left" ||
		not_ok "$1: left behind: $(find "$2" -name '.*')"
}

# --- usage ------------------------------------------------------------
build 1.0.0
M=$T/b-1.0.0/manifest.yaml
FILE=file://$T/repo
expect_exit 0 "--help exits 0" $UPGR publish --help
expect_grep "$T/out" "usage: upgr publish --repo URL --key KEY" "--help prints the usage"
expect_exit 2 "--repo and --key are required" $UPGR publish "$M"
expect_exit 2 "exactly one manifest" $P --repo "$FILE" "$M" "$M"
expect_exit 2 "--rollout over 100 is a usage error" $P --repo "$FILE" --rollout 101 "$M"
expect_exit 2 "--expires needs a unit" $P --repo "$FILE" --expires 30 "$M"
expect_exit 2 "--not-before needs a UTC time" $P --repo "$FILE" --not-before tomorrow "$M"
expect_exit 2 "--channel must be a channel name" $P --repo "$FILE" --channel 'Bad!' "$M"
expect_exit 2 "http:// cannot be published to" $P --repo http://127.0.0.1:1/repo "$M"
expect_exit 2 "a password in --repo is refused" $P --repo ftp://u:pw@127.0.0.1:1/repo "$M"
expect_grep "$T/err" "netrc" "... and the message points to netrc"
expect_no_grep "$T/err" "pw@" "... without echoing the password"
[ ! -e "$T/repo" ] && ok "usage errors upload nothing" || not_ok "usage errors uploaded"

# --- file:// -------------------------------------------------------------
expect_exit 0 "publish 1.0.0 to file://" $P --repo "$FILE" "$M"
expect_grep "$T/err" "notes.txt is not listed in the manifest" "an unlisted file is warned of"
expect_grep "$T/out" "channel stable, serial 1" "the first channel file has serial 1"
layout file "$T/repo" 1.0.0
A=$T/repo/apps/hello
check "upgr verify checks both signatures" "$UPGR" verify -p "$T/rel.pub" \
	"$A/releases/1.0.0/manifest.yaml" "$A/channels/stable.yaml"
check "the published manifest is valid" "$UPGR" validate "$A/releases/1.0.0/manifest.yaml"
expect_grep "$A/releases/1.0.0/manifest.yaml.minisig" \
	"^trusted comment: .*app:hello.*file:releases/1.0.0/manifest.yaml.*version:1.0.0" \
	"the manifest's trusted comment names app, file and version"
expect_grep "$A/channels/stable.yaml.minisig" \
	"^trusted comment: .*app:hello.*file:channels/stable.yaml.*version:1.0.0" \
	"the channel's trusted comment names app, file and version"
[ "$(field "$A/channels/stable.yaml" manifest_sha256)" = \
  "$(sha256sum <"$A/releases/1.0.0/manifest.yaml" | cut -d' ' -f1)" ] &&
	ok "the channel names the manifest's sha256" || not_ok "manifest_sha256 is wrong"
grep -A3 '^payload:' "$A/releases/1.0.0/manifest.yaml" >"$T/payload.sec"
expect_grep "$T/payload.sec" "sha256: \"?$(sha256sum <"$A/releases/1.0.0/payload.tar.gz" | cut -d' ' -f1)" \
	"the manifest names the payload's sha256"
expect_grep "$T/payload.sec" "size: $(wc -c <"$A/releases/1.0.0/payload.tar.gz")\$" \
	"the manifest names the payload's size"
expect_grep "$A/releases/1.0.0/manifest.yaml" \
	"sha256: \"?$(sha256sum <"$T/b-1.0.0/share/data.bin" | cut -d' ' -f1)" \
	"the manifest holds each file's sha256"
bsdtar tzf "$A/releases/1.0.0/payload.tar.gz" >"$T/toc"
printf 'bin/hello\netc/hello.conf\nshare/data.bin\n' >"$T/toc.want"
expect_same "$T/toc" "$T/toc.want" "the payload holds the listed files, sorted"
pub=$(date -u -d "$(field "$A/channels/stable.yaml" published)" +%s)
exp=$(date -u -d "$(field "$A/channels/stable.yaml" expires)" +%s)
[ $((exp - pub)) = 2592000 ] && ok "the channel expires in 30 days by default" ||
	not_ok "expires - published = $((exp - pub))"

# The same input gives the same bytes.
expect_exit 0 "publish the same build to a second repository" $P --repo "file://$T/repo2" "$M"
cmp -s "$A/releases/1.0.0/payload.tar.gz" "$T/repo2/apps/hello/releases/1.0.0/payload.tar.gz" &&
cmp -s "$A/releases/1.0.0/manifest.yaml" "$T/repo2/apps/hello/releases/1.0.0/manifest.yaml" &&
	ok "the payload and the manifest are reproducible" || not_ok "two publishes differ"

# Publishing the same release again only writes a new channel file.
cp "$A/releases/1.0.0/manifest.yaml.minisig" "$T/sig.before"
expect_exit 0 "publishing 1.0.0 again widens the rollout" \
	$P --repo "$FILE" --rollout 50 --expires 2d "$M"
expect_grep "$T/out" "already published, unchanged" "... and says the release is unchanged"
expect_grep "$A/channels/stable.yaml" "^serial: 2$" "... with serial 2"
expect_grep "$A/channels/stable.yaml" "^rollout: 50$" "... and the new rollout"
cmp -s "$T/sig.before" "$A/releases/1.0.0/manifest.yaml.minisig" &&
	ok "... and leaves the release untouched" || not_ok "the release was rewritten"

# Releases are immutable.
echo changed >>"$T/b-1.0.0/etc/hello.conf"
expect_exit 65 "the same version with other content is refused" $P --repo "$FILE" "$M"
expect_grep "$T/err" "already published with other content" "... saying releases are immutable"
expect_grep "$A/channels/stable.yaml" "^serial: 2$" "... and the channel is untouched"

# What publish refuses before uploading anything.
build 1.1.0
rm "$T/b-1.1.0/share/data.bin"
expect_exit 65 "a listed file missing from the build is refused" $P --repo "$FILE" "$T/b-1.1.0/manifest.yaml"
expect_grep "$T/err" "share/data.bin" "... naming the file"
[ ! -e "$A/releases/1.1.0" ] && ok "... and nothing is uploaded" || not_ok "1.1.0 was uploaded"
expect_exit 65 "a published manifest is refused as input" $P --repo "$FILE" \
	--from "$T/b-1.0.0" "$A/releases/1.0.0/manifest.yaml"
build 1.1.0
sed -i 's|^  - path: bin/hello$|&\n    sha256: "'"$(printf '%064d' 0)"'"|' "$T/b-1.1.0/manifest.yaml"
expect_exit 65 "an authored sha256 that the build does not match is refused" \
	$P --repo "$FILE" "$T/b-1.1.0/manifest.yaml"
printf 'upgr: 1\napp: hello\n' >"$T/bad.yaml"
expect_exit 65 "an invalid manifest is refused" $P --repo "$FILE" "$T/bad.yaml"
expect_grep "$T/err" "bad.yaml:[0-9]+:[0-9]+: " "... with FILE:LINE:COL"
chmod 0644 "$T/rel.key"
expect_exit 77 "a secret key others can read is refused" $P --repo "$FILE" "$M"
chmod 0600 "$T/rel.key"

# Newer, then older.
build 1.1.0
expect_exit 0 "publish 1.1.0" $P --repo "$FILE" "$T/b-1.1.0/manifest.yaml"
expect_grep "$A/channels/stable.yaml" "^serial: 3$" "the serial grows by one"
expect_grep "$A/channels/stable.yaml" '^version: "?1.1.0' "the channel names 1.1.0"
build 0.9.0
expect_exit 65 "a lower version needs --downgrade" $P --repo "$FILE" "$T/b-0.9.0/manifest.yaml"
expect_grep "$T/err" "needs --downgrade" "... and says so"
expect_exit 0 "with --downgrade it is published" $P --repo "$FILE" --downgrade \
	--not-before 2026-01-01T00:00:00Z "$T/b-0.9.0/manifest.yaml"
expect_grep "$A/channels/stable.yaml" "^downgrade: true$" "the channel allows the downgrade"
expect_grep "$A/channels/stable.yaml" "^not_before: 2026-01-01T00:00:00Z$" "the channel has not_before"
expect_exit 0 "another channel starts at serial 1" $P --repo "$FILE" --channel beta \
	"$T/b-1.1.0/manifest.yaml"
expect_grep "$A/channels/beta.yaml" "^serial: 1$" "... beta.yaml has serial 1"

# An agent reads the file:// release back, verifies and installs it.
agent_config() {
	cat >"$T/$1.yaml" <<-EOF
	host: host-$1
	servers: [ "$2" ]
	${3:-}
	channel: ${4:-stable}
	apps: [hello]
	root: $T/root-$1
	state_dir: $T/$1-state
	trusted_keys: [$T/rel.pub]
	device_key: $T/$1-device.key
	audit_log: $T/$1-audit.log
	EOF
	chmod 0644 "$T/$1.yaml"
	mkdir -p "$T/root-$1"
}
agent_config f "$FILE" "" beta
expect_exit 0 "an agent installs the published 1.1.0 from file://" "$UPGR" run -c "$T/f.yaml"
expect_same "$T/b-1.1.0/bin/hello" "$T/root-f/opt/hello/bin/hello" "... with the build's bytes"

# --- ftp:// on a real vsftpd ---------------------------------------------
if ! ftpd_can_run 2>"$T/why"; then
	ok "ftp publish # SKIP $(cat "$T/why")"
	exit 0
fi
ftpd_start 2 || { not_ok "vsftpd servers start"; exit 0; }
ftpd_stop 2
FTP=${FTPD_URL_1}repo
N="--netrc $FTPD_NETRC"
expect_exit 0 "publish 1.0.0 to ftp://" $P $N --repo "$FTP" "$M"
layout ftp "$FTPD_ROOT_1/repo" 1.0.0
[ "$(grep -c 'OK LOGIN' "$FTPD_LOG_1")" = 1 ] && ok "one publish is one FTP login" ||
	not_ok "logins: $(grep -c 'OK LOGIN' "$FTPD_LOG_1")"
expect_grep "$FTPD_LOG_1" 'RNTO channels/stable.yaml|RNTO stable.yaml' "the channel landed by rename"
grep 'FTP command: .*"RNTO ' "$FTPD_LOG_1" | sed 's/.*RNTO //; s/".*//' |
	sed 's/^[0-9a-f]\{64\}\.gz$/OBJECT/' >"$T/order"
printf 'OBJECT\nOBJECT\nOBJECT\nobjects.yaml.minisig\nobjects.yaml\n' >"$T/order.want"
printf 'payload.tar.gz\nmanifest.yaml.minisig\nmanifest.yaml\nstable.yaml.minisig\nstable.yaml\n' >>"$T/order.want"
expect_same "$T/order" "$T/order.want" "uploads land in order, the channel file last"
expect_exit 0 "publish 1.1.0 to ftp://" $P $N --repo "$FTP/" "$T/b-1.1.0/manifest.yaml"
expect_grep "$FTPD_ROOT_1/repo/apps/hello/channels/stable.yaml" "^serial: 2$" \
	"the serial read back over FTP grows by one"
expect_exit 69 "a dead server is exit 69" $P $N --repo "${FTPD_URL_2}repo" "$M"
expect_grep "$T/err" "127.0.0.1:$FTPD_PORT_2" "... naming the server"
expect_exit 69 "no credentials: exit 69" env HOME="$T/nohome" $P --repo "$FTP" "$M"

# The server dies in the middle of a publish; publishing again completes it.
build 2.0.0
R=$FTPD_ROOT_1/repo/apps/hello
ftpd_throttle 1 20000
$P $N --repo "$FTP" "$T/b-2.0.0/manifest.yaml" >"$T/bg.out" 2>"$T/bg.err" &
bg=$!
sleep 1
ftpd_stop 1
wait "$bg"
rc=$?
[ "$rc" = 69 ] && ok "a server killed mid-publish is exit 69" ||
	not_ok "a server killed mid-publish: exit $rc: $(cat "$T/bg.err")"
[ ! -e "$R/releases/2.0.0/manifest.yaml" ] &&
	ok "... the interrupted release has no manifest, so no agent sees it" ||
	not_ok "the interrupted release has a manifest"
expect_grep "$R/channels/stable.yaml" "^serial: 2$" "... and the channel is untouched"
ftpd_throttle 1 0
expect_exit 0 "publishing again completes the release" $P $N --repo "$FTP" "$T/b-2.0.0/manifest.yaml"
expect_grep "$T/out" "2.0.0: published" "... uploading it anew"
check "... minisign verifies its manifest" \
	minisign -Vm "$R/releases/2.0.0/manifest.yaml" -p "$T/rel.pub"
expect_grep "$R/channels/stable.yaml" "^serial: 3$" "... and the channel moves on"

agent_config t "${FTPD_URL_1}repo" "netrc: $FTPD_NETRC"
expect_exit 0 "an agent installs the published 2.0.0 over FTP" "$UPGR" run -c "$T/t.yaml"
expect_same "$T/b-2.0.0/bin/hello" "$T/root-t/opt/hello/bin/hello" "... with the build's bytes"
expect_same "$T/b-2.0.0/share/data.bin" "$T/root-t/opt/hello/share/data.bin" "... every file"
