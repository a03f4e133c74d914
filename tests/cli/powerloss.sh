# SPDX-License-Identifier: Apache-2.0
# Power loss, beside the kill -9 of tests/cli/crash.sh: each run below is
# recorded with strace, and every state a power cut could leave at each of
# its calls is rebuilt by tests/lib/powerloss.py, keeping only what fsync,
# fdatasync, syncfs and directory fsyncs had made durable (data not made
# durable is lost or torn; a create, rename, link, unlink or mkdir whose
# directory was not fsynced is undone; the model, after the ALICE study,
# Pillai et al., OSDI 2014, is described in that file's header). On each
# state `upgr recover` runs, then: the target holds exactly the old release
# or exactly the new one (per-file SHA-256 and mode), and `upgr status`, the
# installed manifest and the verified audit log's newest record say the
# same version; after an upgrade that kept the new version, a later
# `upgr rollback` gets back exactly the old one.
# Runs: an upgrade, a first install, a rollback; the same upgrade and
# rollback with the target on its own file system (tmpfs, a mount point:
# the work directory is then inside it, the state on the main disk); and
# the upgrade on a target whose syncfs is modelled as flushing nothing
# (FUSE), with the per-file fsync forced (UPGR_STAGE_FSYNC=1).
# tmpfs keeps everything across a real crash; the model, not a power cut,
# decides what is lost.
#
# POWERLOSS_KNOWN_GAPS lists SCENARIO:CLASS pairs (CLASS: tree, status,
# manifest, audit-verify, audit-record, journal, recover, rollback-after)
# whose failures are printed as "# known gap" lines, neither ok nor not
# ok, until the fix named beside each lands; set it empty to check all:
#   POWERLOSS_KNOWN_GAPS= UPGR=$PWD/upgr sh tests/run tests/cli/powerloss.sh
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

# Known gaps on the code of this commit: none. The last one (txn.c
# backup_files making backup.new durable only by syncfs, lost on a file
# system whose syncfs flushes nothing) was closed by sync_backup, which
# fsyncs each backup directory where syncfs is not trusted.
: "${POWERLOSS_KNOWN_GAPS=}"

PL="/usr/bin/python3 $UPGR_TOP/tests/lib/powerloss.py"
release_key
svc_src 1.0.0 "$T/src1" "  - { path: share/old.txt, mode: \"0644\" }"
echo "old" >"$T/src1/share/old.txt"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"
svc_src 2.0.0 "$T/src2" "  - { path: lib/sub/new.so, mode: \"0755\" }
remove: [ share/old.txt ]"
mkdir -p "$T/src2/lib/sub"; echo "new" >"$T/src2/lib/sub/new.so"
release_make "$T/src2/manifest.yaml" "$T/src2" "$T/rel2"

# host_config NAME: $T/NAME.yaml, everything upgr writes below $T/NAME/.
host_config() {
	mkdir -p "$T/$1/root"
	cat >"$T/$1.yaml" <<EOC
host: test-$1
servers: [ "file://$T/repo" ]
apps: [ hello ]
root: $T/$1/root
state_dir: $T/$1/state
trusted_keys: [ $T/rel.pub ]
device_key: $T/$1/device.key
audit_log: $T/$1/audit.log
EOC
	chmod 0644 "$T/$1.yaml"
}

# The two trees, for telling which release a rebuilt target holds.
host_config sums
$UPGR apply -c "$T/sums.yaml" "$T/rel1" >/dev/null || { not_ok "install 1.0.0"; exit 1; }
$PL treesum "$T/sums/root/opt/hello" >"$T/sum1"
$UPGR apply -c "$T/sums.yaml" "$T/rel2" >/dev/null || { not_ok "upgrade to 2.0.0"; exit 1; }
$PL treesum "$T/sums/root/opt/hello" >"$T/sum2"
printf '{"1.0.0": %s, "2.0.0": %s}' "$(cat "$T/sum1")" "$(cat "$T/sum2")" >"$T/both.json"
printf '{"": {}, "1.0.0": %s}' "$(cat "$T/sum1")" >"$T/first.json"
# 1.1.0: 1.0.0 plus one file in a directory it has; nothing is replaced.
cp -a "$T/src1" "$T/src3"
echo "added in 1.1.0" >"$T/src3/share/extra.txt"
sed -i 's/^version: 1.0.0/version: 1.1.0/; s|^files:|files:\n  - { path: share/extra.txt, mode: "0644" }|' "$T/src3/manifest.yaml"
release_make "$T/src3/manifest.yaml" "$T/src3" "$T/rel3"
host_config sums3
$UPGR apply -c "$T/sums3.yaml" "$T/rel1" >/dev/null &&
	$UPGR apply -c "$T/sums3.yaml" "$T/rel3" >/dev/null || { not_ok "upgrade to 1.1.0"; exit 1; }
$PL treesum "$T/sums3/root/opt/hello" >"$T/sum3"
printf '{"1.0.0": %s, "1.1.0": %s}' "$(cat "$T/sum1")" "$(cat "$T/sum3")" >"$T/add.json"

gaps=""
for g in $POWERLOSS_KNOWN_GAPS; do gaps="$gaps --known-gap $g"; done

# explore LABEL HOST RELEASES [OPTION...] -- CMD...
explore() {
	_l=$1 _h=$2 _r=$3; shift 3
	mkdir -p "$T/work-$_l"
	# shellcheck disable=SC2086
	$PL explore --label "$_l" --host "$T/$_h" --work "$T/work-$_l" --upgr "$UPGR" \
		--config "$T/$_h.yaml" --target "$T/$_h/root/opt/hello" --state "$T/$_h/state" \
		--audit "$T/$_h/audit.log" --pub "$T/$_h/device.pub" --releases "$_r" \
		--svc-running "$T/svc/running" $gaps "$@" || not_ok "$_l: powerloss.py exits $?"
}

# An upgrade, all on one file system.
host_config up
$UPGR apply -c "$T/up.yaml" "$T/rel1" >/dev/null || not_ok "up: install 1.0.0"
explore upgrade up "$T/both.json" --rollback-after 2.0.0 1.0.0 -- \
	$UPGR apply -c "$T/up.yaml" "$T/rel2"

# A first install: no state, no device key, no audit log yet.
host_config first
explore first-install first "$T/first.json" --audit-absent-ok -- \
	$UPGR apply -c "$T/first.yaml" "$T/rel1"

# An upgrade whose health check fails: txn.c rolls back to 1.0.0 (exit 1).
host_config fail
$UPGR apply -c "$T/fail.yaml" "$T/rel1" >/dev/null || not_ok "fail: install 1.0.0"
touch "$T/svc/unhealthy-2.0.0"
explore failed-upgrade fail "$T/both.json" --expect-exit 1 -- \
	$UPGR apply -c "$T/fail.yaml" "$T/rel2"
rm -f "$T/svc/unhealthy-2.0.0"

# upgr rollback from 2.0.0 to 1.0.0.
host_config rb
$UPGR apply -c "$T/rb.yaml" "$T/rel1" >/dev/null && $UPGR apply -c "$T/rb.yaml" "$T/rel2" >/dev/null ||
	not_ok "rb: install 1.0.0 then 2.0.0"
explore rollback rb "$T/both.json" -- $UPGR rollback -c "$T/rb.yaml" hello

# State on the main disk, the target a tmpfs mount point.
split_host() {
	host_config "$1"
	mkdir -p "$T/$1/root/opt/hello"
	mount -t tmpfs -o size=64m,mode=0755 "pl-$1" "$T/$1/root/opt/hello" || return 1
	_mounts="$_mounts $T/$1/root/opt/hello"
}
# fuse_run LABEL HOST REL RELEASES: from 1.0.0 to REL on a tmpfs target
# whose syncfs the model takes to flush nothing, with UPGR_STAGE_FSYNC=1.
fuse_run() {
	split_host "$2" || { not_ok "$1: mount a tmpfs target"; return; }
	$UPGR apply -c "$T/$2.yaml" "$T/rel1" >/dev/null || not_ok "$1: install 1.0.0"
	export UPGR_STAGE_FSYNC=1
	explore "$1" "$2" "$4" --syncfs-noop "$T/$2/root/opt/hello" -- \
		$UPGR apply -c "$T/$2.yaml" "$3"
	unset UPGR_STAGE_FSYNC
}
_mounts=""
umount_all() { for m in $_mounts; do umount "$m" 2>/dev/null; done; :; }
at_exit umount_all
if [ "$(id -u)" != 0 ]; then
	echo "# not root: the runs with the target on its own file system are left out"
else
	if split_host splitup; then
		$UPGR apply -c "$T/splitup.yaml" "$T/rel1" >/dev/null || not_ok "splitup: install 1.0.0"
		explore split-upgrade splitup "$T/both.json" --rollback-after 2.0.0 1.0.0 -- \
			$UPGR apply -c "$T/splitup.yaml" "$T/rel2"
	else not_ok "mount a tmpfs target"; fi
	if split_host splitrb; then
		$UPGR apply -c "$T/splitrb.yaml" "$T/rel1" >/dev/null &&
			$UPGR apply -c "$T/splitrb.yaml" "$T/rel2" >/dev/null || not_ok "splitrb: install 1.0.0 then 2.0.0"
		explore split-rollback splitrb "$T/both.json" -- $UPGR rollback -c "$T/splitrb.yaml" hello
	else not_ok "mount a tmpfs target"; fi
	# A target whose syncfs flushes nothing (FUSE): staged files are fsynced
	# one by one (forced here: tmpfs is a file system syncfs is trusted on).
	fuse_run fuse-upgrade fuse "$T/rel2" "$T/both.json"
	# The same with an upgrade that only adds a file: no backup, no new
	# directory, so only the staged file's own durability is tested (point
	# 12: with syncfs alone it is 0 bytes long after success).
	fuse_run fuse-add fuseadd "$T/rel3" "$T/add.json"
fi
