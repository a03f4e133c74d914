# SPDX-License-Identifier: Apache-2.0
# keygen, sign, verify: byte-compatible with the real minisign both ways,
# and every tampered or malformed signature refused with exit 77 and its
# own message.
. "$(dirname "$0")/../lib/testlib.sh"

cd "$T" || exit 1
umask 022

# set_line FILE N TEXT: replace line N of FILE with TEXT.
set_line() {
	awk -v n="$2" -v t="$3" 'NR == n { print t; next } { print }' "$1" >"$1.new" &&
		mv "$1.new" "$1"
}

# poke_blob FILE N OFFSET HEX...: decode the base64 line N of FILE, write the
# bytes given in hex at OFFSET, encode it back.
poke_blob() {
	f=$1 n=$2 off=$3; shift 3
	sed -n "${n}p" "$f" | base64 -d >"$T/blob"
	for h in "$@"; do
		printf "\\$(printf '%03o' "0x$h")" |
			dd of="$T/blob" bs=1 seek="$off" conv=notrunc 2>/dev/null
		off=$((off + 1))
	done
	set_line "$f" "$n" "$(base64 -w0 <"$T/blob")"
}

# flip_blob FILE N OFFSET: flip the low bit of one byte of base64 line N.
flip_blob() {
	b=$(sed -n "${2}p" "$1" | base64 -d | od -An -tu1 -j "$3" -N1 | tr -d ' ')
	poke_blob "$1" "$2" "$3" "$(printf '%02x' $((b ^ 1)))"
}

# refused NAME REGEX SIGFILE: upgr verify with k.pub refuses data with SIGFILE.
refused() {
	expect_exit 77 "$1: exit 77" "$UPGR" verify -p k.pub -x "$3" data
	expect_grep "$T/err" "$2" "$1: says so"
}

# Help and usage.
for c in keygen sign verify; do
	expect_exit 0 "$c --help exits 0" "$UPGR" "$c" --help
	expect_grep "$T/out" "^usage: upgr $c" "$c --help prints the usage"
done
expect_exit 2 "keygen without NAME is a usage error" "$UPGR" keygen
expect_exit 2 "sign without -k is a usage error" "$UPGR" sign data
expect_exit 2 "verify without FILE is a usage error" "$UPGR" verify -p k.pub

# Keys.
expect_exit 0 "keygen writes a key pair" "$UPGR" keygen -W k
expect_grep "$T/out" "key id [0-9A-F]{16}" "keygen names the key id"
check "the secret key is mode 0600" test "$(stat -c %a k.key)" = 600
expect_grep k.pub "^untrusted comment: minisign public key [0-9A-F]{16}$" \
	"the public key has minisign's comment"
check "the public key blob is Ed, id, key (42 bytes)" \
	test "$(sed -n 2p k.pub | base64 -d | wc -c)" = 42
check "the secret key blob is 158 bytes, Ed, no KDF, B2" \
	test "$(sed -n 2p k.key | base64 -d | head -c 6 | od -An -c | tr -d ' ')" = 'Ed\0\0B2'
cp k.pub k.pub.orig
expect_exit 2 "keygen never overwrites" "$UPGR" keygen -W k
expect_grep "$T/err" "exists" "keygen says the key exists"
check "the refused keygen left the public key alone" cmp k.pub k.pub.orig
minisign -G -W -p m.pub -s m.key >/dev/null || not_ok "minisign -G -W"

# upgr signs, minisign verifies ("ED"), with upgr's and minisign's keys.
printf 'release data\n' >data
expect_exit 0 "upgr signs" "$UPGR" sign -k k.key data
check "the signature is prehashed (ED)" \
	test "$(sed -n 2p data.minisig | base64 -d | head -c 2)" = ED
expect_grep data.minisig "^trusted comment: timestamp:[0-9]+	file:data	hashed$" \
	"the default trusted comment is minisign's"
check "minisign verifies upgr's signature" minisign -Vm data -p k.pub
expect_exit 0 "upgr verifies its own signature" "$UPGR" verify -p k.pub data
check "upgr verify prints nothing on success" test ! -s "$T/out"
expect_exit 0 "upgr signs with a minisign -G -W key" "$UPGR" sign -k m.key -t "app:hello version:1.2.0 file:data" data
check "minisign verifies it" minisign -Vm data -p m.pub
expect_exit 0 "upgr verify -v with several keys" "$UPGR" verify -v -p k.pub -p m.pub data
expect_grep "$T/out" "^data: signature ok, trusted comment: app:hello version:1.2.0 file:data$" \
	"verify -v prints the trusted comment"

# minisign signs, upgr verifies: prehashed, legacy, with upgr's key.
minisign -S -s m.key -m data -t "from minisign" >/dev/null
expect_exit 0 "upgr verifies minisign's ED signature" "$UPGR" verify -v -p m.pub data
expect_grep "$T/out" "trusted comment: from minisign$" "upgr reads minisign's trusted comment"
minisign -S -l -s m.key -m data >/dev/null
check "minisign -l writes a legacy (Ed) signature" \
	test "$(sed -n 2p data.minisig | base64 -d | head -c 2)" = Ed
expect_exit 0 "upgr verifies minisign's legacy Ed signature" "$UPGR" verify -p m.pub data
minisign -S -s k.key -m data >/dev/null
expect_exit 0 "upgr verifies minisign's signature made with an upgr key" \
	"$UPGR" verify -p k.pub data
check "minisign verifies with the upgr public key" minisign -Vm data -p k.pub
minisign -S -l -s k.key -m data >/dev/null
cp data.minisig legacy.minisig
expect_exit 0 "legacy signature, upgr key" "$UPGR" verify -p k.pub data

# The longest trusted comment minisign takes is upgr's limit too.
long=$(head -c 8173 /dev/zero | tr '\0' c)
expect_exit 0 "an 8173-byte trusted comment is signed" "$UPGR" sign -k k.key -t "$long" data
check "minisign verifies the 8173-byte comment" minisign -Vm data -p k.pub
expect_exit 2 "an 8174-byte trusted comment is a usage error" \
	"$UPGR" sign -k k.key -t "${long}c" data

# A good signature to tamper with, one change at a time.
"$UPGR" sign -k k.key -t "file:data" data
cp data.minisig good.minisig
t() { cp good.minisig "$1"; }

cp data data.orig
printf 'x' >>data
refused "a changed file" "file signature invalid: the data does not match" good.minisig
mv data.orig data
t s.minisig; flip_blob s.minisig 2 20
refused "a flipped byte in the signature" "file signature invalid: the data does not match" s.minisig
t s.minisig; flip_blob s.minisig 2 3
refused "a flipped byte in the key id" "signed by key [0-9A-F]{16}, not a trusted key" s.minisig
t s.minisig; set_line s.minisig 3 "trusted comment: file:dbta"
refused "a changed trusted comment" "trusted comment signature invalid: the trusted comment or the global signature was altered" s.minisig
t s.minisig; flip_blob s.minisig 4 5
refused "a flipped byte in the global signature" "trusted comment signature invalid" s.minisig
t s.minisig; poke_blob s.minisig 2 42 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff \
	ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 1f
refused "a signature with S >= L" "file signature invalid: non-canonical signature \(S >= L\)" s.minisig
t s.minisig; poke_blob s.minisig 4 32 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff \
	ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 1f
refused "a global signature with S >= L" "trusted comment signature invalid: non-canonical" s.minisig
"$UPGR" sign -k m.key data
refused "a signature by an untrusted key" "signed by key $(sed -n 2p m.pub | base64 -d | od -An -tx1 -j2 -N8 | awk '{for (i = 8; i >= 1; i--) printf "%s", toupper($i)}'), not a trusted key" data.minisig
expect_exit 77 "no trusted key: nothing verifies" "$UPGR" verify data
expect_grep "$T/err" "no trusted public key: refusing to verify" "no trusted key: says so"
rm data.minisig
expect_exit 77 "a missing signature file" "$UPGR" verify -p k.pub data

# Malformed signature files.
t s.minisig; head -n 2 good.minisig >s.minisig
refused "a file cut after two lines" "malformed signature file: truncated: the trusted comment line is missing" s.minisig
t s.minisig; head -c 180 good.minisig >s.minisig
refused "a file cut inside the third line" "malformed signature file: truncated: the trusted comment line is missing or incomplete" s.minisig
t s.minisig; head -n 3 good.minisig >s.minisig
refused "a file without its fourth line" "malformed signature file: truncated: the global signature line is missing" s.minisig
t s.minisig; head -c 100 good.minisig >s.minisig
refused "a file cut inside the second line" "malformed signature file: truncated: the signature line is missing or incomplete" s.minisig
t s.minisig; set_line s.minisig 4 "$(sed -n 4p good.minisig | cut -c1-40)"
refused "a truncated global signature line" "malformed signature file: global signature is 30 bytes, expected 64" s.minisig
t s.minisig; set_line s.minisig 2 "$(sed -n 2p good.minisig | cut -c1-96)"
refused "a truncated signature line" "malformed signature file: signature is 72 bytes, expected 74" s.minisig
t s.minisig; set_line s.minisig 1 "untrusted comment: $(head -c 1100 /dev/zero | tr '\0' u)"
refused "an overlong untrusted comment line" "malformed signature file: untrusted comment line too long" s.minisig
t s.minisig; set_line s.minisig 2 "$(sed -n 2p good.minisig)AAAA"
refused "an overlong signature line" "malformed signature file: signature line too long" s.minisig
t s.minisig; set_line s.minisig 4 "$(sed -n 4p good.minisig)AAAA"
refused "an overlong global signature line" "malformed signature file: global signature line too long" s.minisig
t s.minisig; set_line s.minisig 3 "trusted comment: file:data$(printf '\r')"
refused "a trusted comment with CR" "malformed signature file: trusted comment contains a carriage return" s.minisig
t s.minisig; set_line s.minisig 3 "trusted comment: $(head -c 9000 /dev/zero | tr '\0' c)"
refused "a trusted comment over 8192 bytes" "malformed signature file: trusted comment longer than 8173 bytes" s.minisig
t s.minisig; set_line s.minisig 2 "$(sed -n 2p good.minisig | base64 -d | head -c 73 | base64 -w0)"
refused "a 73-byte signature blob" "malformed signature file: signature is 73 bytes, expected 74" s.minisig
t s.minisig; set_line s.minisig 4 "$( (sed -n 4p good.minisig | base64 -d; printf 'x') | base64 -w0)"
refused "a 65-byte global signature" "malformed signature file: global signature is 65 bytes, expected 64" s.minisig
t s.minisig; set_line s.minisig 4 "$(sed -n 4p good.minisig | base64 -d | head -c 63 | base64 -w0)"
refused "a 63-byte global signature" "malformed signature file: global signature is 63 bytes, expected 64" s.minisig
t s.minisig; poke_blob s.minisig 2 0 45 58
refused "an unknown algorithm tag" "malformed signature file: unknown signature algorithm" s.minisig
t s.minisig; set_line s.minisig 2 "$(sed -n 2p good.minisig | sed 's/^./*/')"
refused "a signature line that is not base64" "malformed signature file: signature line is not valid base64" s.minisig
t s.minisig; set_line s.minisig 1 "a comment without the prefix"
refused "a first line without the prefix" "malformed signature file: first line" s.minisig
t s.minisig; set_line s.minisig 3 "file:data"
refused "a third line without the prefix" "malformed signature file: third line" s.minisig
t s.minisig; echo extra >>s.minisig
refused "data after the signature" "malformed signature file: data after the global signature line" s.minisig
expect_exit 0 "the untampered copy still verifies" "$UPGR" verify -p k.pub -x good.minisig data

# Key files: permissions, symlinks, encrypted and hostile keys.
chmod 644 k.key
expect_exit 77 "a secret key others can read is refused" "$UPGR" sign -k k.key data
expect_grep "$T/err" "others can read" "the readable key: says so"
chmod 600 k.key
ln -s k.key link.key
expect_exit 77 "a secret key behind a symlink is refused" "$UPGR" sign -k link.key data
chmod 666 k.pub
expect_exit 77 "a public key others can write is refused" "$UPGR" verify -p k.pub -x good.minisig data
expect_grep "$T/err" "others can write" "the writable public key: says so"
chmod 644 k.pub
cp m.key enc.key
poke_blob enc.key 2 2 53 63
chmod 600 enc.key
printf 'pass\n' >pw && chmod 600 pw
expect_exit 65 "an encrypted key with no scrypt limits is refused" \
	"$UPGR" sign -k enc.key --passphrase-file pw data
expect_grep "$T/err" "scrypt limits out of range" "the limitless key: says so"
{ echo "untrusted comment: small order"; { printf 'Ed12345678\001'; head -c 31 /dev/zero; } | base64 -w0; echo; } >small.pub
expect_exit 77 "a small-order public key is refused" "$UPGR" verify -p small.pub -x good.minisig data
expect_grep "$T/err" "small-order public key refused" "the small-order key: says so"
{ echo "untrusted comment: short"; { printf 'Ed12345678\000\000\000\000\001'; head -c 27 /dev/zero; } | base64 -w0; echo; } >short.pub
expect_exit 77 "a public key that crashes libgcrypt is refused" "$UPGR" verify -p short.pub -x good.minisig data
expect_grep "$T/err" "short coordinate" "the short-coordinate key: says so"
