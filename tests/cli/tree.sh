# SPDX-License-Identifier: Apache-2.0
# The release owns its tree (issue 15, point 1): a file the installed
# release lists and the new one does not is removed in the swap, backed
# up, and back byte for byte after a rollback; a directory only the old
# release needed goes once empty and comes back; a file the app wrote
# (never listed) survives, and keeps its directory; remove: may name a
# directory the release owns. And the dry run says all of it (point 9:
# the stop of the new version on failure, no backup on a first install).
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

release_key
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"

svc_src 1.0.0 "$T/src1" "  - { path: share/b.txt, mode: \"0640\" }
  - { path: doc/old/guide.txt, mode: \"0644\" }
  - { path: logs/readme, mode: \"0644\" }
  - { path: plugins/x/x.so, mode: \"0755\" }
  - { path: share/logo.bin, mode: \"0644\" }
  - { path: etc/old.conf, mode: \"0644\", config: true }"
printf 'PNG\000one' >"$T/src1/share/logo.bin"
echo "old setting" >"$T/src1/etc/old.conf"
echo "b of 1.0.0" >"$T/src1/share/b.txt"
mkdir -p "$T/src1/doc/old" "$T/src1/logs" "$T/src1/plugins/x"
echo "the old guide" >"$T/src1/doc/old/guide.txt"
echo "logs go here" >"$T/src1/logs/readme"
echo "plugin" >"$T/src1/plugins/x/x.so"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"

# 2.0.0 drops share/b.txt, doc/old/guide.txt, logs/readme; names plugins
# (a directory) in remove:.
svc_src 2.0.0 "$T/src2" "  - { path: share/logo.bin, mode: \"0644\" }
remove: [ plugins ]"
printf 'PNG\000two' >"$T/src2/share/logo.bin"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"

expect_exit 0 "dry-run of a first install exits 0" $UPGR apply $A --dry-run "$T/rel1"
expect_grep "$T/out" "on failure" "the dry run says what a failure does"
expect_grep "$T/out" "stop the new version: 'bin/hello-ctl stop'" "the dry run shows the automatic stop of the new version on failure"
if grep -q "backup " "$T/out"; then not_ok "a first install shows a backup step: $(grep backup "$T/out")"
else ok "no backup step on a first install"; fi

expect_exit 0 "install 1.0.0" $UPGR apply $A "$T/rel1"
echo "written by the app" >"$TGT/logs/app.log"
echo "edited here" >>"$TGT/etc/old.conf"
tree_sum "$TGT" >"$T/sum1"
(cd "$TGT" && find . -type d | sort) >"$T/dirs1"

expect_exit 0 "dry-run of the upgrade exits 0" $UPGR apply $A --dry-run "$T/rel2"
expect_grep "$T/out" "^  remove +share/b.txt" "dry-run lists a dropped file as remove"
expect_grep "$T/out" "^  remove +doc/old/guide.txt" "dry-run lists a dropped file in a subdirectory"
expect_grep "$T/out" "^  remove +plugins/x/x.so" "dry-run removes the files of a directory named in remove:"
expect_grep "$T/out" "^  rmdir +doc/old/" "dry-run lists an emptied directory"
expect_grep "$T/out" "^  rmdir +plugins/" "dry-run lists the directory remove: names"
expect_grep "$T/out" "^  keep +logs/ +\(holds logs/app.log" "dry-run says a directory with a file the release never owned is kept"
expect_grep "$T/out" "^  etc/old.conf: a config file the release dropped, edited here: kept" "dry-run says a dropped config file edited here is kept"
expect_grep "$T/out" "^  [0-9 ]+\. backup +hard-link 8 files" "the backup step counts the 4 replaced and 4 removed files"
expect_exit 0 "dry-run --json of the upgrade" $UPGR apply $A --dry-run --json "$T/rel2"
check "dry-run --json lists the directories with rmdir or keep" /usr/bin/python3 -c "
import json; p=json.load(open('$T/out'))
d={x['path']:x['op'] for x in p['directories']}
assert d=={'doc':'rmdir','doc/old':'rmdir','logs':'keep','plugins':'rmdir','plugins/x':'rmdir'}, d"

# --diff (point 9): every changed text file as a unified diff, configs first.
mkdir "$T/tmp"
TMPDIR=$T/tmp expect_exit 0 "dry-run --diff of the upgrade exits 0" $UPGR apply $A --dry-run --diff "$T/rel2"
expect_grep "$T/out" "^--- a/etc/hello.conf$" "--diff shows the changed config file"
expect_grep "$T/out" "^-greeting = hello from 1.0.0$" "--diff shows the config's old line"
expect_grep "$T/out" "^\+greeting = hello from 2.0.0$" "--diff shows the config's new line"
cfg=$(grep -n '^--- a/etc/hello.conf' "$T/out" | cut -d: -f1); bin=$(grep -n '^--- a/bin/hello-ctl' "$T/out" | cut -d: -f1)
[ -n "$cfg" ] && [ -n "$bin" ] && [ "$cfg" -lt "$bin" ] && ok "--diff shows config files first" ||
	not_ok "config at line '$cfg', bin/hello-ctl at '$bin'"
expect_grep "$T/out" "^Binary files a/share/logo.bin and b/share/logo.bin differ$" "--diff names a changed binary file only"
expect_grep "$T/out" "^\+\+\+ /dev/null$" "--diff shows a removed file against /dev/null"
expect_no_grep "$T/out" "^--- a/share/same.txt" "--diff leaves out unchanged files"
[ -z "$(ls -A "$T/tmp")" ] && ok "--diff leaves nothing in TMPDIR" || not_ok "left in TMPDIR: $(ls -A "$T/tmp")"
# The diff, applied with patch(1) to the installed config, gives the new one.
if command -v patch >/dev/null; then
	cp "$TGT/etc/hello.conf" "$T/hello.conf"
	awk '/^--- a\/etc\/hello.conf$/ { on = 1 } on && /^(--- |Binary)/ && !/hello.conf/ { on = 0 } on' "$T/out" >"$T/conf.diff"
	patch -s "$T/hello.conf" "$T/conf.diff" && expect_same "$T/src2/etc/hello.conf" "$T/hello.conf" "patch(1) accepts --diff's output and gives the new config"
fi
expect_exit 2 "--diff without --dry-run is a usage error" $UPGR apply $A --diff "$T/rel2"

expect_exit 0 "upgrade to 2.0.0" $UPGR apply $A "$T/rel2"
[ ! -e "$TGT/share/b.txt" ] && ok "a file the new release dropped is gone" || not_ok "share/b.txt still there"
[ ! -e "$TGT/logs/readme" ] && ok "a dropped file beside an app's log is gone" || not_ok "logs/readme still there"
expect_same /dev/stdin "$TGT/logs/app.log" "a log file written by the app survives" <<EOT
written by the app
EOT
[ ! -e "$TGT/doc" ] && ok "an emptied directory (and its emptied parent) goes" || not_ok "doc still there: $(find "$TGT/doc")"
[ ! -e "$TGT/plugins" ] && ok "a directory named in remove: goes once its files go" || not_ok "plugins still there"
[ -e "$TGT/share/data.txt" ] && ok "a directory the new release still uses stays" || not_ok "share is gone"
grep -q "edited here" "$TGT/etc/old.conf" && ok "a dropped config file edited here is kept" || not_ok "etc/old.conf: $(cat "$TGT/etc/old.conf" 2>&1)"

expect_exit 0 "upgr rollback exits 0" $UPGR rollback $A hello
tree_sum "$TGT" >"$T/sum-rb"
expect_same "$T/sum1" "$T/sum-rb" "after rollback every dropped file is back byte for byte (and mode)"
(cd "$TGT" && find . -type d | sort) >"$T/dirs-rb"
expect_same "$T/dirs1" "$T/dirs-rb" "after rollback the removed directories are back"

# A health check that fails: the automatic rollback brings them back too.
expect_exit 0 "upgrade to 2.0.0 again" $UPGR apply $A "$T/rel2"
expect_exit 0 "rollback to 1.0.0 again" $UPGR rollback $A hello
svc_src 3.0.0 "$T/src3" ""
release_make "$T/src3/manifest.yaml" "$T/src3" "$T/rel3"
touch "$T/svc/unhealthy-3.0.0"
expect_exit 1 "an upgrade whose health check fails rolls back" $UPGR apply $A "$T/rel3"
tree_sum "$TGT" >"$T/sum-fail"
expect_same "$T/sum1" "$T/sum-fail" "after a failed upgrade the dropped files are back"
(cd "$TGT" && find . -type d | sort) >"$T/dirs-fail"
expect_same "$T/dirs1" "$T/dirs-fail" "after a failed upgrade the removed directories are back"
rm -f "$T/svc/unhealthy-3.0.0"

# A directory named in remove: that holds a file the release never owned
# is kept, and the plan says so.
mkdir -p "$TGT/plugins/x" && echo mine >"$TGT/plugins/local.so"
expect_exit 0 "dry-run with a local file in a remove: directory" $UPGR apply $A --dry-run "$T/rel2"
expect_grep "$T/out" "^  keep +plugins/ +\(holds plugins/local.so" "a remove: directory holding a local file is kept, and the dry run says so"
expect_exit 0 "upgrade with a local file in a remove: directory" $UPGR apply $A "$T/rel2"
[ -e "$TGT/plugins/local.so" ] && [ ! -e "$TGT/plugins/x" ] &&
	ok "the local file and its directory stay; the release's subdirectory goes" ||
	not_ok "plugins: $(find "$TGT/plugins" 2>&1)"

# --- point 2: an authored manifest names a directory and globs; upgr
# publish expands them from the build directory into the signed list.
"$UPGR" keygen -W "$T/pub" >/dev/null 2>&1 || not_ok "upgr keygen"
B=$T/build
mkdir -p "$B/site/css" "$B/lib" "$B/share/doc/deep" "$B/bin"
echo "<h1>hi</h1>" >"$B/site/index.html"; echo "a{}" >"$B/site/css/a.css"; echo h >"$B/site/.htaccess"
echo a >"$B/lib/a.so"; echo b >"$B/lib/b.so"; echo r >"$B/lib/readme"
echo d >"$B/share/doc/deep/x.txt"; chmod 0640 "$B/share/doc/deep/x.txt"
printf '#!/bin/sh\n' >"$B/bin/site-ctl"
cat >"$B/manifest.yaml" <<'EOM'
upgr: 1
app: site
version: 1.0.0
target: /srv/site
files:
  - path: site/
    mode: "0644"
  - path: lib/*.so
    mode: "0755"
  - path: lib/a.so
    mode: "0700"
  - path: share/**
  - path: bin/site-ctl
    mode: "0755"
start: [ "bin/site-ctl start" ]
EOM
expect_exit 0 "validate accepts directories and globs in an authored manifest" $UPGR validate "$B/manifest.yaml"
expect_exit 0 "publish expands the directory and the globs" \
	$UPGR publish --key "$T/pub.key" --repo "file://$T/pubrepo" --state-dir "$T/pubstate" "$B/manifest.yaml"
PM=$T/pubrepo/apps/site/releases/1.0.0/manifest.yaml
expect_exit 0 "the published, expanded manifest is valid" $UPGR validate "$PM"
check "the published list is exact: sorted, each file with its mode and sha256" /usr/bin/python3 -c "
import yaml,hashlib
m=yaml.safe_load(open('$PM'))
got=[(f['path'],f['mode']) for f in m['files']]
want=[('bin/site-ctl','0755'),('lib/a.so','0700'),('lib/b.so','0755'),('share/doc/deep/x.txt','0640'),
      ('site/.htaccess','0644'),('site/css/a.css','0644'),('site/index.html','0644')]
assert got==want, got
for f in m['files']:
    assert f['sha256']==hashlib.sha256(open('$B/'+f['path'],'rb').read()).hexdigest(), f
"
sed 's|  - path: bin/site-ctl|  - path: nothing/*.x\n  - path: bin/site-ctl|' "$B/manifest.yaml" >"$B/m2.yaml"
sed -i 's/^version: 1.0.0/version: 1.0.1/' "$B/m2.yaml"
expect_exit 65 "a glob that matches nothing is refused" \
	$UPGR publish --key "$T/pub.key" --repo "file://$T/pubrepo" --state-dir "$T/pubstate" --from "$B" "$B/m2.yaml"
expect_grep "$T/err" 'nothing/\*\.x.*matches no file' "... naming the glob"

# --- point 2: owner: and group: per file, resolved on the host; files are
# chowned in staging; an unknown name fails before anything stops.
release_config o "$T/oroot"
O="-c $T/o.yaml"
OT=$T/oroot/opt/hello
svc_src 1.0.0 "$T/osrc1" "  - { path: var/owned.txt, mode: \"0640\", owner: nobody, group: nogroup }"
mkdir -p "$T/osrc1/var"; echo "owned" >"$T/osrc1/var/owned.txt"
release_make "$T/osrc1/manifest.yaml" "$T/osrc1" "$T/orel1"
expect_exit 0 "install a release with owner: and group:" $UPGR apply $O "$T/orel1"
[ "$(stat -c %U:%G "$OT/var/owned.txt")" = nobody:nogroup ] && ok "the file has the owner and group the release names" ||
	not_ok "owner: $(stat -c %U:%G "$OT/var/owned.txt")"
[ "$(stat -c %U "$OT/share/data.txt")" = "$(id -un)" ] && ok "a file without owner: keeps the installer's" ||
	not_ok "share/data.txt: $(stat -c %U "$OT/share/data.txt")"
chown root "$OT/var/owned.txt"
expect_exit 0 "dry-run after a local chown" $UPGR apply $O --dry-run "$T/orel1"
svc_src 2.0.0 "$T/osrc2" "  - { path: var/owned.txt, mode: \"0640\", owner: no-such-user-15 }"
mkdir -p "$T/osrc2/var"; echo "owned 2" >"$T/osrc2/var/owned.txt"
release_make "$T/osrc2/manifest.yaml" "$T/osrc2" "$T/orel2"
chown nobody "$OT/var/owned.txt"
tree_sum "$OT" >"$T/osum1"; : >"$T/svc/log"
expect_exit 1 "the dry run of an unknown owner exits 1 (the plan would fail)" $UPGR apply $O --dry-run "$T/orel2"
expect_grep "$T/out" "FAIL +owner/group: var/owned.txt: owner \"no-such-user-15\" is not a user on this host" "the dry run shows the failing owner as a precondition"
expect_exit 1 "an unknown owner fails the upgrade" $UPGR apply $O "$T/orel2"
expect_grep "$T/err" "precondition failed \(var/owned.txt: owner \"no-such-user-15\" is not a user on this host\); nothing was changed" "... with a clear message"
[ ! -s "$T/svc/log" ] && ok "an unknown owner fails before anything stops" || not_ok "the service saw: $(cat "$T/svc/log")"
tree_sum "$OT" >"$T/osumx"
expect_same "$T/osum1" "$T/osumx" "an unknown owner changes nothing"
# The check of restored files compares the owner: a kept backup chowned
# away is refused by upgr rollback.
svc_src 2.0.0 "$T/osrc3" "  - { path: var/owned.txt, mode: \"0640\", owner: nobody, group: nogroup }"
mkdir -p "$T/osrc3/var"; echo "owned 3" >"$T/osrc3/var/owned.txt"
release_make "$T/osrc3/manifest.yaml" "$T/osrc3" "$T/orel3"
expect_exit 0 "upgrade with owner: to 2.0.0" $UPGR apply $O "$T/orel3"
chown root "$T/oroot/opt/.hello.upgr/backup/var/owned.txt"
expect_exit 77 "a kept backup with another owner than the signed manifest names is refused" $UPGR rollback $O hello
expect_grep "$T/err" "owned by uid 0, not nobody" "... naming the owner"
chown nobody "$T/oroot/opt/.hello.upgr/backup/var/owned.txt"
expect_exit 0 "with the backup's owner as signed, the rollback goes ahead" $UPGR rollback $O hello
[ "$(stat -c %U:%G "$OT/var/owned.txt")" = nobody:nogroup ] && ok "the restored file has its owner" ||
	not_ok "owner after rollback: $(stat -c %U:%G "$OT/var/owned.txt")"

