# SPDX-License-Identifier: Apache-2.0
# Building signed release directories for tests, without `upgr publish`.
#
#   release_key                 make a minisign key pair in $T/rel.key/.pub
#   release_make MANIFEST SRCDIR OUTDIR   seal and sign a release
#   release_config NAME [ROOT]  write $T/NAME.yaml, an agent config using
#                               $T/NAME-state, $T/NAME-audit.log and the key
: "${T:?source testlib.sh first}"

release_key() {
	minisign -G -W -p "$T/rel.pub" -s "$T/rel.key" >/dev/null 2>&1 ||
		{ echo "not ok - minisign -G failed"; exit 1; }
}

# The trusted comment names the app and the file, as upgr publish does.
release_make() {
	/usr/bin/python3 "$UPGR_TOP/tests/lib/seal.py" "$1" "$2" "$3" ||
		{ echo "not ok - seal $1 failed"; exit 1; }
	_app=$(sed -n 's/^app: *//p' "$3/manifest.yaml")
	_ver=$(sed -n "s/^version: *'*\([^']*\)'*/\1/p" "$3/manifest.yaml")
	printf '' | minisign -S -s "$T/rel.key" -m "$3/manifest.yaml" \
		-t "timestamp:0	app:$_app	file:releases/$_ver/manifest.yaml" >/dev/null 2>&1 ||
		{ echo "not ok - minisign -S failed"; exit 1; }
}

release_config() {
	_root=${2:-$T/root}
	mkdir -p "$_root"
	cat >"$T/$1.yaml" <<EOC
host: test-$1
servers: [ "file://$T/repo" ]
apps: [ hello ]
root: $_root
state_dir: $T/$1-state
trusted_keys: [ $T/rel.pub ]
device_key: $T/$1-device.key
audit_log: $T/$1-audit.log
EOC
	chmod 0644 "$T/$1.yaml"
}
