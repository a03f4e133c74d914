# SPDX-License-Identifier: Apache-2.0
# The work directory and the backups, attacked by the service user who
# owns the app's volume (the target is a mount point of its own, so the
# work directory TARGET/.upgr-hello is inside a directory that user owns;
# here the user is nobody, and the target a tmpfs chowned to nobody):
#  (a) a .upgr-hello the attacker made first (theirs, a symlink, or of the
#      wrong mode) is refused (77) before anything runs, and nothing is
#      removed through it;
#  (b) during a slow stop the attacker renames root's .upgr-hello away and
#      plants a stage/ of their own: the bytes installed are the release's;
#  (c) before `upgr rollback` the attacker plants backup/ (their own work
#      directory), or the bytes of a kept backup differ from what the
#      previous release's signed manifest lists: refused (77), the running
#      version left alone;
#  (d) `upgr rollback` and `upgr recover` refuse a target parent others can
#      write (0777), as `upgr run` does; a recovery refuses backups that
#      differ from the installed release's signed manifest.
# A planted control script writes $T/pwned when run: it must never exist.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

release_key
release_config a
TGT=$T/root/opt/hello
WORK=$TGT/.upgr-hello
A="-c $T/a.yaml"
mkdir -p "$TGT"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=32m,mode=0755 upgr-workdir "$TGT" 2>/dev/null; then
	echo "ok - # SKIP needs root and a tmpfs mount"; exit 0
fi
umount_tgt() { umount "$TGT" 2>/dev/null || umount -l "$TGT"; }
at_exit umount_tgt
chown 65534:65534 "$TGT"
chmod 0755 "$T" "$T/root" "$T/root/opt" "$T/svc"
as_attacker() { setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$1"; }
# The target's files, without the work directory in it.
tgt_sum() { tree_sum "$TGT" | grep -v '^\./\.upgr-'; }
running() { cat "$T/svc/running" 2>/dev/null; }

# A control script as the attacker would plant it: it "runs" any version
# and records the uid that ran it.
evil_ctl() {
	cat >"$1" <<EOC
#!/bin/sh
case "\$1" in
start) id -u >"$T/pwned"; echo "\$UPGR_VERSION" >"$T/svc/running" ;;
esac
exit 0
EOC
	chmod 0755 "$1"
}
no_pwn() {
	[ ! -e "$T/pwned" ] && ok "$1: nothing the attacker planted ran" ||
		{ not_ok "$1: planted code ran as uid $(cat "$T/pwned")"; rm -f "$T/pwned"; }
}

svc_src 1.0.0 "$T/src1"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"
svc_src 2.0.0 "$T/src2"
# 2.0.0's stop is slow and, while it runs, the attacker swaps stage/.
sed -i 's|^stop: .*|stop: [ { run: "bin/hello-ctl stop; setpriv --reuid=65534 --regid=65534 --clear-groups sh '"$T"'/swap.sh", timeout: 20 } ]|' \
	"$T/src2/manifest.yaml"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"
chmod -R a+rX "$T/src1" "$T/src2"

# --- (a) a work directory the attacker made first ----------------------------------
as_attacker "mkdir -m 0700 '$WORK' && mkdir '$WORK/stage' && echo keep >'$WORK/stage/mine'"
expect_exit 77 "(a) a .upgr-hello owned by the attacker is refused with 77" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "\.upgr-hello: owned by uid 65534" "(a) the refusal names the work directory and its owner"
[ ! -e "$TGT/bin/hello-ctl" ] && [ -z "$(running)" ] && ok "(a) nothing was installed or started" ||
	not_ok "(a) installed from the attacker's work directory"
[ -e "$WORK/stage/mine" ] && ok "(a) nothing was removed through the attacker's directory" ||
	not_ok "(a) the attacker's stage/ was emptied by root"
no_pwn "(a)"
rm -rf "$WORK"
as_attacker "mkdir /tmp/upgr-wd-$$ && ln -s /tmp/upgr-wd-$$ '$WORK'"
expect_exit 77 "(a) a .upgr-hello that is a symlink is refused with 77" $UPGR apply $A "$T/rel1"
[ -z "$(ls -A /tmp/upgr-wd-$$)" ] && ok "(a) nothing was written through the symlink" ||
	not_ok "(a) written through the symlink: $(ls /tmp/upgr-wd-$$)"
rm -rf "$WORK" "/tmp/upgr-wd-$$"
mkdir -m 0755 "$WORK"
expect_exit 77 "(a) a .upgr-hello of mode 0755 is refused with 77" $UPGR apply $A "$T/rel1"
expect_grep "$T/err" "mode 0755, not 0700" "(a) the refusal names the mode"
rmdir "$WORK"
expect_exit 0 "with the work directory gone, the install goes ahead" $UPGR apply $A "$T/rel1"
[ "$(stat -c '%u %a' "$WORK")" = "0 700" ] && ok "the work directory upgr made is root's, 0700" ||
	not_ok "work directory: $(stat -c '%u %a' "$WORK")"
tgt_sum >"$T/sum1"

# --- (b) stage/ swapped during the stop, after its hash check -------------------------
cat >"$T/swap.sh" <<EOS
cd "$TGT" || exit 1
mv .upgr-hello .upgr-hello.moved || exit 1
mkdir -p .upgr-hello/stage/bin .upgr-hello/stage/etc .upgr-hello/stage/share
cp "$T/src2/etc/hello.conf" .upgr-hello/stage/etc/
cp "$T/src2/share/data.txt" .upgr-hello/stage/share/
cp "$T/evil-ctl" .upgr-hello/stage/bin/hello-ctl
EOS
evil_ctl "$T/evil-ctl"
chmod 0755 "$T/swap.sh"
run $UPGR apply $A "$T/rel2"
[ -d "$TGT/.upgr-hello.moved" ] && ok "(b) the attacker swapped the work directory during the stop" ||
	not_ok "(b) the swap did not happen: $(cat "$T/err")"
no_pwn "(b)"
expect_same "$T/src2/bin/hello-ctl" "$TGT/bin/hello-ctl" "(b) the installed control script is the release's, not the planted one"
[ "$rc" = 0 ] && [ "$(running)" = 2.0.0 ] && ok "(b) the upgrade completed from the held staging area" ||
	not_ok "(b) exit $rc, running '$(running)': $(cat "$T/err")"
tgt_sum >"$T/sum2"
expect_exit 77 "(b) the next command refuses the planted work directory" $UPGR rollback $A hello
rm -rf "$WORK"; mv "$TGT/.upgr-hello.moved" "$WORK"

# --- (c) planted backups before upgr rollback -------------------------------------------
as_attacker "cd '$TGT' && mv .upgr-hello .upgr-hello.real && mkdir -p .upgr-hello/backup/bin .upgr-hello/backup/etc .upgr-hello/backup/share &&
	cp '$T/src1/etc/hello.conf' .upgr-hello/backup/etc/ && cp '$T/src1/share/data.txt' .upgr-hello/backup/share/ &&
	cp '$T/evil-ctl' .upgr-hello/backup/bin/hello-ctl && chmod -R go-rwx .upgr-hello"
expect_exit 77 "(c) planted backup/ (the attacker's work directory) is refused with 77" $UPGR rollback $A hello
no_pwn "(c) planted work directory"
tgt_sum >"$T/sumx"
expect_same "$T/sum2" "$T/sumx" "(c) the target is unchanged"
[ "$(running)" = 2.0.0 ] && ok "(c) 2.0.0 still runs" || not_ok "(c) running '$(running)'"
rm -rf "$WORK"; mv "$TGT/.upgr-hello.real" "$WORK"
# Root's own work directory, with bytes that are not the previous release's.
cp "$WORK/backup/bin/hello-ctl" "$T/kept-ctl"
cp "$T/evil-ctl" "$WORK/backup/bin/hello-ctl"
expect_exit 77 "(c) a kept backup with other bytes than previous.yaml lists is refused with 77" $UPGR rollback $A hello
expect_grep "$T/err" "bin/hello-ctl: sha256 [0-9a-f]{64}, not the one hello 1.0.0's signed manifest lists" \
	"(c) the refusal names the file and the release"
no_pwn "(c) altered backup"
[ "$(running)" = 2.0.0 ] && ok "(c) 2.0.0 still runs after the refusal" || not_ok "(c) running '$(running)'"
tgt_sum >"$T/sumx"
expect_same "$T/sum2" "$T/sumx" "(c) the target is unchanged after the refusal"
cp "$T/kept-ctl" "$WORK/backup/bin/hello-ctl"; chmod 4755 "$WORK/backup/bin/hello-ctl"
expect_exit 77 "(c) a kept backup of another mode than previous.yaml lists is refused" $UPGR rollback $A hello
chmod 0755 "$WORK/backup/bin/hello-ctl"
expect_exit 0 "(c) with the backup as the release shipped it, the rollback goes ahead" $UPGR rollback $A hello
tgt_sum >"$T/sumx"
expect_same "$T/sum1" "$T/sumx" "(c) the rollback restored 1.0.0"
[ "$(running)" = 1.0.0 ] && ok "(c) 1.0.0 runs" || not_ok "(c) running '$(running)'"

# --- (d) rollback and recover check the target's parents; recovery checks backups ---------
chmod 0777 "$T/root"
expect_exit 65 "(d) upgr rollback refuses a target parent others can write" $UPGR rollback $A hello
expect_grep "$T/err" "root \(a parent of the target .*\): writable by group or others" "(d) the rollback refusal names the directory"
[ "$(running)" = 1.0.0 ] && ok "(d) 1.0.0 still runs" || not_ok "(d) running '$(running)'"
chmod 0755 "$T/root"
# A 3.0.0 whose stop kills upgr (once): the journal says STARTED, the swap
# is to come.
svc_src 3.0.0 "$T/src3"
sed -i 's|^stop: .*|stop: [ "bin/hello-ctl stop; [ -e '"$T"'/killed ] \|\| { touch '"$T"'/killed; kill -9 $PPID; }" ]|' \
	"$T/src3/manifest.yaml"
release_make "$T/src3/manifest.yaml" "$T/src3" "$T/rel3"
run $UPGR apply $A "$T/rel3"
[ "$rc" = 137 ] && [ -e "$T/a-state/apps/hello/journal" ] && ok "(d) upgr killed during the stop leaves a journal" ||
	not_ok "(d) apply exit $rc, no journal"
chmod 0777 "$T/root"
expect_exit 65 "(d) upgr recover refuses a target parent others can write" $UPGR recover $A
expect_grep "$T/err" "writable by group or others" "(d) the recovery refusal says why"
[ -e "$T/a-state/apps/hello/journal" ] && [ -z "$(running)" ] && ok "(d) the refused recovery changed nothing" ||
	not_ok "(d) the refused recovery acted (running '$(running)')"
chmod 0755 "$T/root"
cp "$T/evil-ctl" "$WORK/backup.new/bin/hello-ctl"
expect_exit 77 "(d) a recovery refuses a backup that is not the installed release's" $UPGR recover $A
expect_grep "$T/err" "backup.new/bin/hello-ctl: sha256 [0-9a-f]{64}, not the one hello 1.0.0's" "(d) the refusal names the backup"
no_pwn "(d)"
cp "$T/kept-ctl" "$WORK/backup.new/bin/hello-ctl"
expect_exit 0 "(d) with the backup intact, the recovery goes ahead" $UPGR recover $A
tgt_sum >"$T/sumx"
expect_same "$T/sum1" "$T/sumx" "(d) the recovery restored 1.0.0"
[ "$(running)" = 1.0.0 ] && ok "(d) 1.0.0 runs after the recovery" || not_ok "(d) running '$(running)'"
no_pwn "at the end"
