# SPDX-License-Identifier: Apache-2.0
# Privilege: what upgr refuses to trust on the host, and what it keeps to
# itself.
#  - config, trusted keys, netrc: refused when others may write them (and
#    the netrc when others may read it);
#  - the state directory: refused when group/other-writable or owned by
#    another user; apps/APP (or a file in it) that is a symlink out of the
#    state is refused, and nothing is written through it;
#  - the target's parent directories: refused when group/other-writable
#    WITHOUT the sticky bit (a world-writable sticky directory such as /tmp,
#    where these tests live, is accepted: others cannot rename what is ours
#    in it), or owned by another user;
#  - release commands get a clean environment: PATH and UPGR_* only;
#  - secrets (a netrc password, a password in a server URL) never appear in
#    stderr, the audit log, status.yaml, the uploaded report, or the
#    process titles a release command can see.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"
svc_src 1.0.0 "$T/src1"
# The start step records the environment and every process title.
sed -i 's|^start: .*|start: [ "bin/hello-ctl start", "env >'"$T"'/env.txt; ps -eo args >'"$T"'/ps.txt" ]|' "$T/src1/manifest.yaml"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"
svc_src 2.0.0 "$T/src2"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"

# --- files others can write --------------------------------------------------------
chmod 0620 "$T/a.yaml"
expect_exit 65 "a group-writable config is refused" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "writable by group or others" "the config refusal says why"
chmod 0644 "$T/a.yaml"
chmod 0666 "$T/rel.pub"
expect_exit 65 "a trusted key others can write is refused" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "trusted_keys.*writable by group or others" "the key refusal says why"
chmod 0644 "$T/rel.pub"
printf 'machine 127.0.0.1 login u password pw\n' >"$T/netrc"; chmod 0644 "$T/netrc"
cp "$T/a.yaml" "$T/a.yaml.orig"; echo "netrc: $T/netrc" >>"$T/a.yaml"
expect_exit 65 "a netrc others can read is refused" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "netrc: .*readable by group or others" "the netrc refusal says why"
chmod 0600 "$T/netrc"; chmod 0622 "$T/netrc"
expect_exit 65 "a netrc others can write is refused" $UPGR apply $A "$T/rel1"
cp "$T/a.yaml.orig" "$T/a.yaml"

# --- the state directory ------------------------------------------------------------
mkdir -p "$T/a-state"; chmod 0777 "$T/a-state"
expect_exit 65 "a world-writable state directory is refused" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "a-state: writable by group or others" "the state refusal says why"
chmod 0770 "$T/a-state"
expect_exit 65 "a group-writable state directory is refused" $UPGR apply $A "$T/rel1"
chmod 0700 "$T/a-state"
chown nobody "$T/a-state"
expect_exit 65 "a state directory owned by another user is refused" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "owned by uid" "the owner refusal says why"
chown "$(id -u)" "$T/a-state"
[ ! -e "$TGT" ] && ok "nothing installed while the state was refused" || not_ok "installed anyway"

# --- target parents -------------------------------------------------------------------
chmod 0777 "$T/root"
expect_exit 65 "a target parent others can write (no sticky bit) is refused" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "root \(a parent of the target .*\): writable by group or others" "the parent refusal names the directory"
[ ! -e "$TGT" ] && ok "nothing installed under an unsafe parent" || not_ok "installed under an unsafe parent"
chmod 1777 "$T/root"
expect_exit 0 "a world-writable parent with the sticky bit (like /tmp) is accepted" $UPGR apply $A "$T/rel1"
chmod 0755 "$T/root"
[ "$(cat "$T/svc/running")" = 1.0.0 ] && ok "1.0.0 runs" || not_ok "1.0.0 not running"

# --- the clean environment -----------------------------------------------------------------
# The start command of the install saw only PATH and UPGR_* (dash itself
# adds PWD, which is not upgr's); then an upgrade run with a secret and
# loader and shell start-up variables in upgr's environment.
sed 's/=.*//' "$T/env.txt" | grep -vx PWD | sort >"$T/env.names"
if grep -vq -e '^PATH$' -e '^UPGR_' "$T/env.names"; then
	not_ok "commands see variables besides PATH and UPGR_*: $(grep -v -e '^PATH$' -e '^UPGR_' "$T/env.names" | tr '\n' ' ')"
else ok "commands see PATH and UPGR_* only ($(tr '\n' ' ' <"$T/env.names"))"; fi
chmod 0755 "$T/root"
rm -f "$T/env.txt"
svc_src 1.1.0 "$T/src11"
sed -i 's|^start: .*|start: [ "bin/hello-ctl start", "env >'"$T"'/env.txt" ]|' "$T/src11/manifest.yaml"
release_make "$T/src11/manifest.yaml" "$T/src11" "$T/rel11"
env SECRET_TOKEN=hunter2 LD_LIBRARY_PATH=/nonexistent BASH_ENV=/nonexistent ENV=/nonexistent \
	UPGR_FAKE=1 $UPGR apply $A "$T/rel11" >/dev/null 2>"$T/err" || not_ok "apply 1.1.0: $(cat "$T/err")"
expect_no_grep "$T/env.txt" "hunter2|LD_LIBRARY_PATH|BASH_ENV|^ENV=|^HOME=" "upgr's own environment does not reach commands"
expect_grep "$T/env.txt" "^PATH=" "commands get a PATH"
expect_grep "$T/env.txt" "^UPGR_PHASE=start" "commands get UPGR_PHASE"

# --- symlinks out of the state ---------------------------------------------------------------
mkdir -p "$T/elsewhere"
cp -a "$T/a-state/apps/hello/." "$T/elsewhere/"
ls -l "$T/elsewhere" | sed 's/ [A-Z][a-z][a-z] .*:[0-9][0-9] / /' >"$T/elsewhere.before"
tree_sum "$T/elsewhere" >"$T/elsewhere.sum"
mv "$T/a-state/apps/hello" "$T/hello.real"
ln -s "$T/elsewhere" "$T/a-state/apps/hello"
expect_exit 65 "STATE/apps/hello a symlink out of the state: refused" $UPGR apply $A "$T/rel2"
expect_grep "$T/err" "apps/hello: a symlink" "the refusal names the symlink"
tree_sum "$T/elsewhere" >"$T/sumx"
expect_same "$T/elsewhere.sum" "$T/sumx" "nothing was written through the symlink"
expect_exit 65 "upgr rollback refuses it too" $UPGR rollback $A hello
expect_exit 65 "upgr recover refuses it too" $UPGR recover $A
rm "$T/a-state/apps/hello"; mv "$T/hello.real" "$T/a-state/apps/hello"
mv "$T/a-state/apps/hello/status.yaml" "$T/elsewhere/status.yaml"
ln -s "$T/elsewhere/status.yaml" "$T/a-state/apps/hello/status.yaml"
expect_exit 65 "a state file that is a symlink: refused" $UPGR apply $A "$T/rel2"
rm "$T/a-state/apps/hello/status.yaml"; cp "$T/elsewhere/status.yaml" "$T/a-state/apps/hello/"
mv "$T/a-state/cache" "$T/cache.real" 2>/dev/null; ln -s "$T/elsewhere" "$T/a-state/cache"
expect_exit 65 "STATE/cache a symlink: refused" $UPGR apply $A "$T/rel2"
rm "$T/a-state/cache"; [ -d "$T/cache.real" ] && mv "$T/cache.real" "$T/a-state/cache"
expect_exit 0 "with the symlinks gone, the upgrade goes ahead" $UPGR apply $A "$T/rel2"
[ "$(cat "$T/svc/running")" = 2.0.0 ] && ok "2.0.0 runs" || not_ok "2.0.0 not running"

# --- secrets, through the agent against a real FTP server -------------------------------------
. "$UPGR_TOP/tests/lib/ftpd.sh"
if ! ftpd_can_run 2>"$T/why"; then
	echo "ok - # SKIP secrets: $(cat "$T/why")"; exit 0
fi
ftpd_start 1 || { not_ok "vsftpd starts"; exit 1; }
PASS=$(sed -n 's/.* password \([^ ]*\).*/\1/p' "$FTPD_NETRC")
[ -n "$PASS" ] || { not_ok "no password in the test netrc"; exit 1; }
REPO=$FTPD_ROOT_1/repo
APPDIR=$REPO/apps/hello
svc_src 1.0.0 "$T/s-src"
sed -i 's|^start: .*|start: [ "bin/hello-ctl start", "ps -eo args >'"$T"'/ps-run.txt" ]|' "$T/s-src/manifest.yaml"
release_make "$T/s-src/manifest.yaml" "$T/s-src" "$APPDIR/releases/1.0.0"
channel() {
	_sha=$(sha256sum "$APPDIR/releases/$2/manifest.yaml" | cut -d' ' -f1)
	mkdir -p "$APPDIR/channels"
	cat >"$APPDIR/channels/stable.yaml" <<-EOF
	upgr: 1
	app: hello
	channel: stable
	serial: $1
	version: $2
	manifest: releases/$2/manifest.yaml
	manifest_sha256: $_sha
	published: $(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
	expires: $(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
	EOF
	rm -f "$APPDIR/channels/stable.yaml.minisig"
	printf '' | minisign -S -s "$T/rel.key" -m "$APPDIR/channels/stable.yaml" \
		-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" >/dev/null 2>&1
	chown -R "$FTPD_USER:" "$FTPD_ROOT_1"
}
channel 1 1.0.0
U=$(echo "$FTPD_URL_1" | sed "s|ftp://|ftp://$FTPD_USER:$PASS@|")
cat >"$T/s.yaml" <<EOC
host: host-s
servers: [ "${U}repo", "${U}missing-repo" ]
apps: [ hello ]
root: $T/root-s
state_dir: $T/s-state
trusted_keys: [ $T/rel.pub ]
device_key: $T/s-device.key
audit_log: $T/s-audit.log
EOC
chmod 0644 "$T/s.yaml"
mkdir -p "$T/root-s"
expect_exit 65 "a password in a server URL in a config others can read is refused" $UPGR run -c "$T/s.yaml"
expect_no_grep "$T/err" "$PASS" "that refusal does not print the password"
chmod 0600 "$T/s.yaml"
expect_exit 0 "the agent installs with the URL password (config 0600)" $UPGR run -c "$T/s.yaml"
cp "$T/err" "$T/err.1"
# A failing server and a refusal, so URLs land in errors and records.
sed -i "s|\"${U}repo\", ||" "$T/s.yaml"
run $UPGR run -c "$T/s.yaml"; cp "$T/err" "$T/err.2"
[ "$rc" != 0 ] && ok "a missing repository fails (exit $rc)" || not_ok "a missing repository succeeded"
grep -q "missing-repo" "$T/err.2" && ok "the error names the server" || not_ok "the error does not name the server: $(cat "$T/err.2")"
# The netrc form too.
sed -i "s|${U}missing-repo|${FTPD_URL_1}missing-repo|" "$T/s.yaml"
echo "netrc: $FTPD_NETRC" >>"$T/s.yaml"
run $UPGR run -c "$T/s.yaml"; cp "$T/err" "$T/err.3"
RPT=$REPO/reports/host-s
for f in "$T/err.1" "$T/err.2" "$T/err.3" "$T/s-audit.log" "$T/s-state/apps/hello/status.yaml" \
	"$RPT/status.yaml" "$RPT/audit.log" "$T/ps-run.txt"; do
	if [ ! -e "$f" ]; then not_ok "secrets: $(basename "$f") is missing"; continue; fi
	expect_no_grep "$f" "$PASS" "the password is not in $(basename "$(dirname "$f")")/$(basename "$f")"
done
grep -q "upgr" "$T/ps-run.txt" && ok "the process titles were captured while upgr ran" ||
	not_ok "no upgr process in ps output"
