# SPDX-License-Identifier: Apache-2.0
# Releases of 20 files for the objects tests (tests/cli/objects.sh,
# apply_objects.sh), published to the file:// repository $REPO with the
# key $T/rel.key. Source after testlib.sh.
# build VERSION CHANGED...: the build directory $T/b-VERSION, 20 files of
# 20 kB; the files named CHANGED (numbers) get bytes of this version.
build() {
	_v=$1; shift
	_d=$T/b-$_v
	mkdir -p "$_d/data"
	if [ -d "$T/b-last" ]; then cp -R "$T/b-last/data/." "$_d/data/"; else
		for _i in $(seq 1 20); do head -c 20000 /dev/urandom >"$_d/data/f$_i"; done
	fi
	for _i in "$@"; do head -c 20000 /dev/urandom >"$_d/data/f$_i"; done
	cat >"$_d/manifest.yaml" <<-EOF
	upgr: 1
	app: hello
	version: $_v
	target: /opt/hello
	files:
	  - path: data/
	    mode: "0644"
	EOF
	rm -rf "$T/b-last"; cp -R "$_d" "$T/b-last"
}

publish() {
	"$UPGR" publish --repo "file://$REPO" --key "$T/rel.key" --from "$T/b-$1" \
		"$T/b-$1/manifest.yaml" >"$T/pub.out" 2>&1 || { not_ok "publish $1"; cat "$T/pub.out"; }
}
