#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Protected signing keys: secret keys encrypted with a passphrase in
# minisign's own format, interoperable both ways with the real minisign
# (minisign -G and -S read the passphrase on stdin), the passphrase from a
# file or the terminal and never from argv, and every signing command
# (sign, publish) opening them the same way.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/tinyrel.sh"

cd "$T" || exit 1
umask 022
echo "some release data" >data
printf 'correct horse battery\n' >pw && chmod 600 pw
printf 'wrong horse\n' >bad && chmod 600 bad

# upgr keygen with a passphrase file: minisign signs with the key.
expect_exit 0 "keygen --passphrase-file writes a key pair" \
	"$UPGR" keygen --passphrase-file pw u
expect_grep u.key "^untrusted comment: minisign encrypted secret key" \
	"the secret key is marked encrypted"
check "the secret key is mode 0600" test "$(stat -c %a u.key)" = 600
b=$(sed -n 2p u.key | base64 -d | head -c 6)
check "its algorithms are Ed, Sc (scrypt), B2" test "$b" = EdScB2
check "the key material is not in the clear" \
	sh -c '! "$1" sign -k u.key data 2>/dev/null </dev/null' _ "$UPGR"
check "minisign -S signs with upgr's encrypted key" \
	sh -c 'printf "correct horse battery\n" | minisign -S -s u.key -m data'
check "minisign -V accepts that signature" minisign -V -p u.pub -m data
check "upgr verify accepts that signature" "$UPGR" verify -p u.pub data
rm -f data.minisig
check "minisign refuses upgr's key with a wrong passphrase" \
	sh -c '! printf "wrong\n" | minisign -S -s u.key -m data'

# minisign -G with a passphrase: upgr signs with the key.
check "minisign -G writes an encrypted key" \
	sh -c 'printf "correct horse battery\ncorrect horse battery\n" |
		minisign -G -p m.pub -s m.key'
chmod 600 m.key
expect_exit 0 "upgr sign opens minisign's encrypted key" \
	"$UPGR" sign -k m.key --passphrase-file pw data
check "minisign -V accepts upgr's signature" minisign -V -p m.pub -m data
check "upgr verify accepts it too" "$UPGR" verify -p m.pub data

# A wrong passphrase: the checksum tells, exit 77, nothing written.
rm -f data.minisig
expect_exit 77 "a wrong passphrase is refused (77)" \
	"$UPGR" sign -k m.key --passphrase-file bad data
expect_grep "$T/err" "wrong passphrase" "the wrong passphrase: says so"
check "no signature was written" test ! -e data.minisig
expect_exit 77 "a wrong passphrase for upgr's own key too" \
	"$UPGR" sign -k u.key --passphrase-file bad data

# Passphrase files: owner only, like config files; first line only.
chmod 640 pw
expect_exit 77 "a passphrase file others can read is refused" \
	"$UPGR" sign -k m.key --passphrase-file pw data
expect_grep "$T/err" "others can read" "the readable passphrase file: says so"
chmod 604 pw
expect_exit 77 "a world-readable passphrase file is refused" \
	"$UPGR" keygen --passphrase-file pw never
check "the refused keygen wrote nothing" test ! -e never.key -a ! -e never.pub
chmod 600 pw
ln -s pw pwlink
expect_exit 77 "a passphrase file behind a symlink is refused" \
	"$UPGR" sign -k m.key --passphrase-file pwlink data
printf 'correct horse battery\nsecond line ignored\n' >pw2 && chmod 600 pw2
expect_exit 0 "only the first line is the passphrase" \
	"$UPGR" sign -k m.key --passphrase-file pw2 data
: >empty && chmod 600 empty
expect_exit 2 "an empty passphrase is refused" \
	"$UPGR" keygen --passphrase-file empty e
check "the empty passphrase wrote nothing" test ! -e e.key

# No terminal and neither option: keygen refuses with 2 and names both.
expect_exit 2 "keygen with no terminal and no option exits 2" \
	setsid "$UPGR" keygen nott
expect_grep "$T/err" "--passphrase-file" "it names --passphrase-file"
expect_grep "$T/err" "-W" "it names -W"
check "nothing was written" test ! -e nott.key -a ! -e nott.pub
expect_exit 2 "sign with an encrypted key and no terminal exits 2" \
	setsid "$UPGR" sign -k m.key data
expect_exit 2 "-W and --passphrase-file together are a usage error" \
	"$UPGR" keygen -W --passphrase-file pw both

# -W: unencrypted, as minisign -G -W; minisign signs with it unprompted.
expect_exit 0 "keygen -W writes an unencrypted key" setsid "$UPGR" keygen -W w
expect_grep w.key "unencrypted secret key" "it is marked unencrypted"
check "minisign -S signs with it without a passphrase" \
	sh -c 'minisign -S -s w.key -m data </dev/null'
check "and upgr verify accepts it" "$UPGR" verify -p w.pub data

# publish --key with an encrypted key and --passphrase-file.
cp m.key rel.key && cp m.pub rel.pub
mkdir repo
expect_exit 0 "publish signs with an encrypted key" \
	tinyrel_publish "$UPGR" "file://$T/repo" 1.0.0 --passphrase-file pw \
	--state-dir "$T/state"
r=$T/repo/apps/hello/releases/1.0.0
check "minisign -V accepts the published manifest" \
	minisign -V -p rel.pub -m "$r/manifest.yaml"
check "minisign -V accepts the published channel" \
	minisign -V -p rel.pub -m "$T/repo/apps/hello/channels/stable.yaml"
expect_exit 77 "publish with a wrong passphrase is refused" \
	tinyrel_publish "$UPGR" "file://$T/repo" 1.0.1 --passphrase-file bad \
	--state-dir "$T/state"
check "and published nothing" test ! -e "$T/repo/apps/hello/releases/1.0.1"


# PKCS#11: a SoftHSM2 token with an Ed25519 key made by pkcs11-tool signs;
# minisign -V and upgr verify accept the token's signature.
mod=/usr/lib/softhsm/libsofthsm2.so
# SoftHSM2 leaks a few bytes of OpenSSL state per Ed25519 signature inside
# the module (upgr itself does not link OpenSSL): under LeakSanitizer,
# suppress leaks whose stack is in libcrypto, here only.
echo "leak:libcrypto.so" >"$T/lsan.supp"
LSAN_OPTIONS=suppressions=$T/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS} &&
	export LSAN_OPTIONS
mkdir hsm && printf 'directories.tokendir = %s/hsm\nobjectstore.backend = file\n' "$T" >hsm.conf
SOFTHSM2_CONF=$T/hsm.conf && export SOFTHSM2_CONF
printf '4321\n' >pin && chmod 600 pin
check "softhsm2 makes a token" softhsm2-util --init-token --free --label rel \
	--pin 4321 --so-pin 98765
check "pkcs11-tool makes an Ed25519 key on it" pkcs11-tool --module "$mod" \
	--token-label rel --login --pin 4321 --keypairgen \
	--key-type EC:edwards25519 --label release --id 01
uri="pkcs11:token=rel;object=release?module-path=$mod&pin-source=file:$T/pin"
expect_exit 0 "keygen --pkcs11 writes the token key's .pub" \
	"$UPGR" keygen --pkcs11 "$uri" tok
check "and no secret key file" test ! -e tok.key
rm -f data.minisig
expect_exit 0 "upgr sign -k pkcs11:... signs through the token" \
	"$UPGR" sign -k "$uri" data
check "minisign -V accepts the token's signature" minisign -V -p tok.pub -m data
check "upgr verify accepts it" "$UPGR" verify -p tok.pub data
printf '0000\n' >badpin && chmod 600 badpin
expect_exit 77 "a wrong PIN is refused (77)" "$UPGR" sign -k \
	"pkcs11:token=rel;object=release?module-path=$mod&pin-source=file:$T/badpin" data
expect_exit 65 "an unknown object is refused" "$UPGR" sign -k \
	"pkcs11:token=rel;object=nothing?module-path=$mod&pin-source=file:$T/pin" data
chmod 644 pin
expect_exit 77 "a PIN file others can read is refused" "$UPGR" sign -k "$uri" data
chmod 600 pin

# publish --key pkcs11:...: the release verifies with the token's .pub.
rm -rf repo2 state2 && mkdir repo2
cp tok.pub rel.pub
expect_exit 0 "publish --key pkcs11:... publishes" \
	"$UPGR" publish --repo "file://$T/repo2" --key "$uri" --state-dir "$T/state2" \
	"$T/tiny-1.0.0/manifest.yaml"
check "minisign -V accepts the token-signed manifest" \
	minisign -V -p tok.pub -m "$T/repo2/apps/hello/releases/1.0.0/manifest.yaml"
check "upgr verify accepts the token-signed channel" \
	"$UPGR" verify -p tok.pub "$T/repo2/apps/hello/channels/stable.yaml"


# A host that trusts the token's public key installs that release.
mkdir -p "$T/root-h"
cat >"$T/h.yaml" <<CONF
host: host-h
servers: [ "file://$T/repo2" ]
channel: stable
apps: [hello]
root: $T/root-h
state_dir: $T/h-state
trusted_keys: [$T/tok.pub]
device_key: $T/h-device.key
audit_log: $T/h-audit.log
CONF
chmod 0644 "$T/h.yaml"
expect_exit 0 "a host installs the token-signed release" "$UPGR" run -c "$T/h.yaml"
expect_same "$T/tiny-1.0.0/bin/hello" "$T/root-h/opt/hello/bin/hello" \
	"... with the build's bytes"
check "the host's device key stays unencrypted" \
	grep -q "unencrypted secret key" "$T/h-device.key"
