# SPDX-License-Identifier: Apache-2.0
# Hostile payloads from a compromised build: each release below is signed
# with the real release key and applied with `upgr apply` over an installed,
# running 1.0.0. Each is refused (77; a listed bomb: 1, too big for the
# disk, before a byte is written; a manifest naming a bad path: 65) or
# neutralised (setuid/setgid bits: the manifest's mode wins). After each
# refusal: nothing was written outside the staging area (a sentinel
# directory, escape names under $T and /tmp, and a listing of the whole
# root), the installed tree is byte for byte 1.0.0, and 1.0.0 still runs.
#
# The payloads are written with libarchive's writer (tests/lib/hostile_tar.c,
# compiled here), except two it will not write: a hard link carrying data
# (its pax writer drops a hard link's data) and an unknown type flag; those
# two are written with Python's tarfile. A socket cannot be put in a tar at
# all: tar has no type for it, and libarchive's writer refuses (checked).
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"

HT=$T/hostile_tar
if ! cc -o "$HT" "$UPGR_TOP/tests/lib/hostile_tar.c" \
	$(pkg-config --cflags --libs libarchive) 2>"$T/cc.err"; then
	not_ok "compile tests/lib/hostile_tar.c"; sed 's/^/#   /' "$T/cc.err"; exit 1
fi

release_key
# The root on a small tmpfs when we may mount one (root): the listed bomb
# then cannot fit, whatever the real disk has free.
mkdir -p "$T/root"
TMPFS=no
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64m,mode=0755 upgr-hostile "$T/root" 2>/dev/null; then
	TMPFS=yes
	umount_root() { umount "$T/root" 2>/dev/null || umount -l "$T/root"; }
	at_exit umount_root
fi
release_config a
TGT=$T/root/opt/hello
A="-c $T/a.yaml"
ESC=upgr-hostile-escape-$$
mkdir -p "$T/outside"
echo "sentinel" >"$T/outside/keep"

svc_src 1.0.0 "$T/src1"
release_make "$T/src1/manifest.yaml" "$T/src1" "$T/rel1"
$UPGR apply $A "$T/rel1" >/dev/null 2>"$T/err" || { not_ok "install 1.0.0"; cat "$T/err"; exit 1; }
tree_sum "$TGT" >"$T/sum1"

# listing: every path under the root, the sentinel and $T's top level,
# with type and mode (what a refused release must leave as it was).
listing() {
	{ find "$T/root" "$T/outside" -printf '%p %y %m %s\n'
	  find "$T" -maxdepth 1 -printf '%p %y\n' | grep -Ev "/(out|err|check\.out|diff|listing\..*|sumx|b|sock\..*) [a-z]$"
	} | sort
}
listing >"$T/listing.1"

# sign DIR: put payload.tar.gz's hash and size in DIR/manifest.yaml and sign
# it with the release key.
sign() {
	/usr/bin/python3 - "$1" <<-'EOF' || not_ok "reseal $1"
	import hashlib, os, sys, yaml
	d = sys.argv[1]; p = os.path.join(d, "payload.tar.gz")
	m = yaml.safe_load(open(os.path.join(d, "manifest.yaml")))
	m["payload"] = {"file": "payload.tar.gz", "size": os.path.getsize(p),
	                "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()}
	yaml.safe_dump(m, open(os.path.join(d, "manifest.yaml"), "w"), sort_keys=False)
	EOF
	rm -f "$1/manifest.yaml.minisig"
	printf '' | minisign -S -s "$T/rel.key" -m "$1/manifest.yaml" \
		-t "timestamp:0	app:hello	file:releases/2.0.0/manifest.yaml" >/dev/null 2>&1 ||
		not_ok "minisign -S $1"
}

# build NAME SPEC [MANIFEST-EXTRA]: release hello 2.0.0 in $T/b/NAME/rel,
# listing the usual files plus MANIFEST-EXTRA's (created with some bytes);
# its payload is the usual files, except those SPEC has an entry for, then
# SPEC's entries (hostile_tar's format; SRC may be relative to the
# release's source directory). A SPEC line "@files" puts the usual files
# there instead; "omit PATH" leaves a usual file out. Sets D to the release directory.
NB=0
build() {
	NB=$((NB + 1))
	_b=$T/b/$NB
	rm -rf "$_b"
	svc_src 2.0.0 "$_b/src" "${3:-}"
	for _p in $(printf '%s\n' "${3:-}" | sed -n 's/.*path: *\([^,}]*\).*/\1/p'); do
		mkdir -p "$(dirname "$_b/src/$_p")"
		[ -e "$_b/src/$_p" ] || echo "listed $_p" >"$_b/src/$_p"
	done
	/usr/bin/python3 "$UPGR_TOP/tests/lib/seal.py" "$_b/src/manifest.yaml" "$_b/src" "$_b/rel" ||
		{ not_ok "$1: seal"; return 1; }
	sed -n 's/^ *path: *//p; s/^- path: *//p' "$_b/rel/manifest.yaml" | sort >"$_b/listed"
	: >"$_b/usual"
	while read -r _p; do
		_m=$(/usr/bin/python3 -c "import yaml,sys; print(next(f['mode'] for f in yaml.safe_load(open(sys.argv[1]))['files'] if f['path']==sys.argv[2]))" "$_b/rel/manifest.yaml" "$_p")
		printf '%s\n' "$2" | awk '{print $2}' | grep -qxF "$_p" ||
			echo "file $_p $_m $_b/src/$_p" >>"$_b/usual"
	done <"$_b/listed"
	if printf '%s\n' "$2" | grep -q '^@files$'; then
		printf '%s\n' "$2" | sed "/^@files\$/{r $_b/usual
d}" >"$_b/spec"
	else
		{ cat "$_b/usual"; printf '%s\n' "$2"; } >"$_b/spec"
	fi
	sed -i '/^omit /d' "$_b/spec"
	(cd "$_b/src" && "$HT" "$_b/rel/payload.tar.gz" <"$_b/spec") 2>"$_b/ht.err"
	_rc=$?
	[ $_rc = 0 ] || return $_rc
	sign "$_b/rel"
	D=$_b/rel
}

# untouched NAME: the checks after a refusal.
untouched() {
	tree_sum "$TGT" >"$T/sumx"
	if cmp -s "$T/sum1" "$T/sumx"; then ok "$1: installed tree untouched"; else
		not_ok "$1: installed tree changed"; diff "$T/sum1" "$T/sumx" | sed 's/^/#   /' | head
	fi
	if [ "$(cat "$T/svc/running" 2>/dev/null)" = 1.0.0 ] && (cd "$TGT" && sh bin/hello-ctl status); then
		ok "$1: 1.0.0 still runs"
	else not_ok "$1: 1.0.0 is not running"; fi
	listing >"$T/listing.2"
	if cmp -s "$T/listing.1" "$T/listing.2" && [ ! -e "/tmp/$ESC" ] && [ ! -e "/$ESC" ]; then
		ok "$1: nothing written outside the staging area"
	else
		not_ok "$1: files appeared"; diff "$T/listing.1" "$T/listing.2" | sed 's/^/#   /' | head
		ls -d "/tmp/$ESC" "/$ESC" 2>/dev/null | sed 's/^/#   /'
	fi
}

# refused NAME CODES REGEX SPEC [MANIFEST-EXTRA]: build, apply, expect an
# exit in CODES (a grep -E alternation), an error matching REGEX, and
# nothing changed.
refused() {
	_n=$1 _codes=$2 _re=$3; shift 3
	build "$_n" "$@" || { not_ok "$_n: payload not built: $(cat "$T/b/$NB/ht.err")"; return; }
	run $UPGR apply $A "$D"
	if echo "$rc" | grep -Eqx "$_codes"; then ok "$_n: refused (exit $rc)"; else
		not_ok "$_n: exit $rc, want $_codes"; sed 's/^/#   /' "$T/err" "$T/out" | head
	fi
	expect_grep "$T/err" "$_re" "$_n: the error says why"
	untouched "$_n"
}

S=$T/src1/share/data.txt             # some bytes to put in entries

# --- paths ----------------------------------------------------------------------
refused "../ climbing into the test root" 77 "'\.\.' components" \
	"file ../../../../$ESC 0644 $S"
refused "../ climbing past the root to /tmp" 77 "'\.\.' components" \
	"file ../../../../../../../../../../tmp/$ESC 0644 $S"
refused "../ inside a listed-looking path" 77 "'\.\.' components" \
	"file share/../../../../../$ESC 0644 $S"
refused "absolute path outside" 77 "must be relative" \
	"file /tmp/$ESC 0644 $S"
refused "absolute path onto the installed target" 77 "must be relative" \
	"file $TGT/share/data.txt 0644 $S"
refused "backslash path" 77 "backslashes" \
	"file share\\..\\..\\..\\..\\$ESC 0644 $S"
refused "a signed manifest that lists ../ (refused as invalid data)" "65|77" "'\.\.' components" \
	"file ../$ESC 0644 $S" "  - { path: ../$ESC, mode: \"0644\" }"
refused "an empty path component" 77 "empty components" \
	"file share//data2.txt 0644 $S" "  - { path: share/data2.txt, mode: \"0644\" }"
refused "a ./ component" 77 "'\.' components" \
	"file ./share/data2.txt 0644 $S
@files" "  - { path: share/data2.txt, mode: \"0644\" }"

# --- links -----------------------------------------------------------------------
refused "symlink then a file through it" 77 "symbolic link refused" \
	"symlink share/ln $T/outside
file share/ln/x 0644 $S" "  - { path: share/ln/x, mode: \"0644\" }"
refused "symlink to outside, then a directory entry over it, then a file in it" 77 "symbolic link refused" \
	"symlink lib $T/outside
dir lib 0755
file lib/x.so 0644 $S" "  - { path: lib/x.so, mode: \"0644\" }"
refused "symlink at a listed file's name" 77 "symbolic link refused" \
	"@files
symlink share/data.txt /etc/passwd"
refused "symlink first, before the listed file of the same name" 77 "symbolic link refused" \
	"symlink share/data.txt $T/outside/keep
@files"
refused "hard link to outside, without data" 77 "hard link refused" \
	"hardlink share/data.txt /etc/passwd
@files"
refused "hard link to a sentinel file, without data" 77 "hard link refused" \
	"hardlink share/new.txt $T/outside/keep" "  - { path: share/new.txt, mode: \"0644\" }"
refused "hard link within the payload" 77 "hard link refused" \
	"@files
hardlink share/data2.txt share/data.txt" "  - { path: share/data2.txt, mode: \"0644\" }"

# Hard link with data: libarchive's writer will not write it (checked), so
# Python's tarfile writes the pax entry: type '1', a size, and the bytes.
if build "hard link with data (libarchive)" "hardlink share/new.txt $T/outside/keep $S" \
	"  - { path: share/new.txt, mode: \"0644\" }"; then
	not_ok "libarchive wrote a hard link with data; test it with libarchive"
else
	ok "libarchive's writer refuses a hard link's data: $(sed 's/.*: //' "$T/b/$NB/ht.err")"
fi
# pytar NAME PYCODE [MANIFEST-EXTRA [SKIP]]: the usual files but SKIP
# written by Python's tarfile, then PYCODE adds entries to tar t.
pytar() {
	build "$1" "" "${3:-}" || return 1
	/usr/bin/python3 - "$D/payload.tar.gz" "$T/b/$NB/usual" "${4:-}" <<-EOF || return 1
	import io, sys, tarfile
	with tarfile.open(sys.argv[1], "w:gz", format=tarfile.PAX_FORMAT) as t:
	    for line in open(sys.argv[2]):
	        _, path, mode, src = line.split()
	        if path == sys.argv[3]: continue
	        i = t.gettarinfo(src, arcname=path); i.mode = int(mode, 8)
	        t.addfile(i, open(src, "rb"))
	$2
	EOF
	sign "$D"
}
for kind in data nodata; do
	if [ $kind = data ]; then body="b'root::0:0::/:/bin/sh\\\\n'"; else body="b''"; fi
	pytar "hard link to outside with $kind (tarfile)" "
    body = $body
    i = tarfile.TarInfo('share/new.txt'); i.type = tarfile.LNKTYPE
    i.linkname = '$T/outside/keep'; i.size = len(body)
    t.addfile(i, io.BytesIO(body))" "  - { path: share/new.txt, mode: \"0644\" }" share/new.txt ||
		{ not_ok "tarfile hard link"; continue; }
	run $UPGR apply $A "$D"
	[ "$rc" = 77 ] && ok "hard link to outside with $kind: refused (exit 77)" ||
		{ not_ok "hard link with $kind: exit $rc"; sed 's/^/#   /' "$T/err"; }
	expect_grep "$T/err" "hard link refused" "hard link with $kind: the error says why"
	expect_grep "$T/outside/keep" "^sentinel$" "hard link with $kind: the sentinel file is unchanged"
	untouched "hard link with $kind"
done

# A payload in another compression: upgr reads gzip or plain tar only, so
# no other decompressor (nor an external program libarchive would run for
# lrzip, lzop, grzip ...) sees it, not even for the plan's sizes.
for z in bz2 xz; do
	build "$z payload" "" || { not_ok "$z payload not built"; continue; }
	/usr/bin/python3 - "$D/payload.tar.gz" "$T/b/$NB/usual" "$z" <<-'EOF' || not_ok "tarfile w:$z"
	import sys, tarfile
	with tarfile.open(sys.argv[1], "w:" + sys.argv[3], format=tarfile.PAX_FORMAT) as t:
	    for line in open(sys.argv[2]):
	        _, path, mode, src = line.split()
	        i = t.gettarinfo(src, arcname=path); i.mode = int(mode, 8)
	        t.addfile(i, open(src, "rb"))
	EOF
	sign "$D"
	run $UPGR apply $A "$D"
	[ "$rc" = 77 ] && ok "a $z-compressed payload: refused (exit 77)" ||
		{ not_ok "$z payload: exit $rc"; sed 's/^/#   /' "$T/err"; }
	untouched "$z payload"
done

# --- special files ------------------------------------------------------------------
refused "character device at a listed name" 77 "not a regular file or directory" \
	"chr share/data.txt 1 3
@files"
refused "character device (/dev/mem's numbers)" 77 "not a regular file or directory" \
	"chr share/mem 1 1"
refused "block device" 77 "not a regular file or directory" \
	"blk share/disk 8 0"
refused "FIFO" 77 "not a regular file or directory" \
	"fifo share/data.txt
@files"
echo "sock share/sock" | "$HT" "$T/sock.tar.gz" 2>"$T/sock.err"
[ $? = 3 ] && ok "a socket cannot be written into a tar (libarchive: $(sed 's/.*: //' "$T/sock.err"))" ||
	not_ok "libarchive wrote a socket entry: add a socket case"
if pytar "unknown type flag (tarfile)" "
    i = tarfile.TarInfo('share/odd'); i.type = b'9'
    t.addfile(i)"; then
	run $UPGR apply $A "$D"
	[ "$rc" = 77 ] && ok "unknown type flag: refused (exit 77)" ||
		{ not_ok "unknown type flag: exit $rc"; sed 's/^/#   /' "$T/err"; }
	untouched "unknown type flag"
else not_ok "tarfile unknown type"; fi

# --- what the manifest does not say -----------------------------------------------------
refused "duplicate entry" 77 "appears twice" \
	"file share/data.txt 0644 share/data.txt
file share/data.txt 0644 $S"
refused "duplicate directory and file" 77 "directory not holding|appears twice|not listed" \
	"@files
dir share/data.txt 0755"
refused "an entry not in the manifest" 77 "not listed in the manifest" \
	"file share/extra.txt 0644 $S"
refused "an unlisted directory" 77 "directory not holding any listed file" \
	"dir var 0755"
refused "a listed file missing from the payload" 77 "listed but missing" \
	"omit share/gone.txt" "  - { path: share/gone.txt, mode: \"0644\" }"
refused "a listed file with other bytes" 77 "sha256 does not match" \
	"file share/data.txt 0644 $T/src1/bin/hello-ctl"

# --- bombs -----------------------------------------------------------------------------
refused "a 1 GiB unlisted entry (bomb)" 77 "not listed" \
	"zeros share/bomb.bin 0644 1073741824"
if [ $TMPFS = yes ]; then
	refused "a 1 GiB listed entry on a 64 MiB root (bomb)" "1|77" "bytes needed|expands past" \
		"zeros share/big.bin 0644 1073741824" "  - { path: share/big.bin, mode: \"0644\" }"
else
	ok "# SKIP listed bomb: no tmpfs root (not root, or mount refused)"
fi
refused "300000 directory entries (entry count)" 77 "more than [0-9]+ directory entries" \
	"dirs 300000 share"
refused "100000 unlisted files (entry count)" 77 "not listed" \
	"files 100000 share/f"

# --- setuid and setgid: neutralised, the manifest's mode wins -------------------------------
build "setuid and setgid bits" "dir bin 06777
file bin/hello-ctl 06755 bin/hello-ctl
dir share 02777
file share/data.txt 04777 share/data.txt"
expect_exit 0 "setuid/setgid bits in the payload: the release installs" $UPGR apply $A "$D"
[ -z "$(find "$T/root" -mindepth 1 -perm /7022 ! -type l)" ] &&
	ok "setuid/setgid: no setuid, setgid, sticky or group/other-writable file or directory" ||
	not_ok "setuid/setgid survived: $(find "$T/root" -perm /7022 ! -type l -printf '%p %m ')"
[ "$(stat -c %a "$TGT/bin/hello-ctl")" = 755 ] && [ "$(stat -c %a "$TGT/share/data.txt")" = 644 ] &&
	ok "setuid/setgid: files have the manifest's modes" ||
	not_ok "modes: $(stat -c '%n %a' "$TGT/bin/hello-ctl" "$TGT/share/data.txt")"
[ "$(cat "$T/svc/running")" = 2.0.0 ] && ok "setuid/setgid: 2.0.0 runs" || not_ok "2.0.0 not running"
expect_grep "$T/outside/keep" "^sentinel$" "the sentinel file is unchanged at the end"
[ "$(ls -A "$T/outside")" = keep ] && ok "nothing else in the sentinel directory" ||
	not_ok "sentinel directory: $(ls -A "$T/outside")"
