/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: base64, Ed25519 (RFC 8032 vectors, small-order keys, S >= L),
 * key files and in-memory minisign signatures. The command-line tests in
 * tests/cli/sign.sh check interoperability with the real minisign. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "sign.h"
#include "xalloc.h"

static void test_b64_vectors(void **state)
{
	/* RFC 4648 section 10. */
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
					     "Zm9vYmE=", "Zm9vYmFy" };
	uint8_t out[16];
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		struct buf b = BUF_INIT;

		b64_encode((const uint8_t *)plain[i], strlen(plain[i]), &b);
		assert_string_equal(b.data, coded[i]);
		assert_int_equal(b64_decode(coded[i], strlen(coded[i]), out, sizeof out),
				 (long)strlen(plain[i]));
		assert_memory_equal(out, plain[i], strlen(plain[i]));
		buf_release(&b);
	}
}

static void test_b64_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "Zm9", "Zh==", "Zm9=", "Zm=v", "=Zm9", "Zg==Zg==",
		"Zm9v\n", "Zm 9", "Zm9-", "Zm9_", "Zm9v====",
	};
	uint8_t out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(b64_decode(bad[i], strlen(bad[i]), out, sizeof out), -1);
	/* More bytes than the caller's room. */
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5), -1);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 6), 6);
}

/* A key and a public key from an RFC 8032 seed and public key in hex. */
static void rfc_key(const char *seed, const char *pk, struct sign_key *key,
		    struct sign_pub *pub)
{
	memset(key, 0, sizeof *key);
	assert_int_equal(hex_decode(seed, key->sk, 32), 0);
	assert_int_equal(hex_decode(pk, key->sk + 32, 32), 0);
	sign_key_public(key, pub);
}

static void test_ed25519_rfc8032(void **state)
{
	/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (0x72). */
	static const struct {
		const char *seed, *pk, *msg, *sig;
	} v[] = {
		{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
		  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
		{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "r",
		  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
		  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	};
	uint8_t sig[64], want[64];
	struct sign_key key;
	struct sign_pub pub;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		rfc_key(v[i].seed, v[i].pk, &key, &pub);
		assert_int_equal(hex_decode(v[i].sig, want, 64), 0);
		assert_int_equal(sign_ed25519(&key, v[i].msg, strlen(v[i].msg), sig, &e), 0);
		assert_memory_equal(sig, want, 64);
		assert_int_equal(sign_ed25519_verify(&pub, v[i].msg, strlen(v[i].msg), sig, &e), 0);
		assert_int_equal(sign_ed25519_verify(&pub, "x", 1, sig, &e), -1);
		assert_int_equal(e.code, EXIT_TRUST);
		sign_key_wipe(&key);
	}
}

/* S + L for the little-endian 32-byte scalar s (S < L, so no overflow). */
static void add_order(uint8_t s[32])
{
	static const uint8_t l[32] = {
		0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
		0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
	};
	unsigned carry = 0;
	int i;

	for (i = 0; i < 32; i++) {
		carry += (unsigned)s[i] + l[i];
		s[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

static void test_ed25519_noncanonical_s(void **state)
{
	uint8_t sig[64];
	struct sign_key key;
	struct sign_pub pub;
	struct err e;

	(void)state;
	rfc_key("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", &key, &pub);
	assert_int_equal(sign_ed25519(&key, "m", 1, sig, &e), 0);
	/* S + L is the same scalar mod L: the malleated signature that a
	 * verifier without the S < L check would accept. */
	add_order(sig + 32);
	assert_int_equal(sign_ed25519_verify(&pub, "m", 1, sig, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_non_null(strstr(e.msg, "non-canonical"));
	/* S = L exactly. */
	memset(sig + 32, 0, 32);
	add_order(sig + 32);
	assert_int_equal(sign_ed25519_verify(&pub, "m", 1, sig, &e), -1);
	assert_non_null(strstr(e.msg, "non-canonical"));
	sign_key_wipe(&key);
}

static void test_small_order_keys(void **state)
{
	/* y of every small-order point, and the non-canonical p, p+1. */
	static const char *const ys[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	};
	uint8_t blob[42], sig[64] = { 0 };
	struct sign_pub pub;
	struct buf b = BUF_INIT;
	struct err e;
	size_t i;
	int sign_bit;

	(void)state;
	memcpy(blob, "Ed", 2);
	memset(blob + 2, 0x42, 8);
	for (i = 0; i < sizeof ys / sizeof ys[0]; i++) {
		for (sign_bit = 0; sign_bit < 2; sign_bit++) {
			assert_int_equal(hex_decode(ys[i], blob + 10, 32), 0);
			blob[41] |= (uint8_t)(sign_bit << 7);
			buf_reset(&b);
			b64_encode(blob, sizeof blob, &b);
			assert_int_equal(sign_pub_parse(b.data, &pub, &e), -1);
			assert_int_equal(e.code, EXIT_TRUST);
			assert_non_null(strstr(e.msg, "small-order"));
			memcpy(pub.pk, blob + 10, 32);
			assert_int_equal(sign_ed25519_verify(&pub, "", 0, sig, &e), -1);
			assert_non_null(strstr(e.msg, "small-order"));
		}
	}
	/* An ordinary key parses. */
	assert_int_equal(hex_decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
				    blob + 10, 32), 0);
	buf_reset(&b);
	b64_encode(blob, sizeof blob, &b);
	assert_int_equal(sign_pub_parse(b.data, &pub, &e), 0);
	assert_memory_equal(pub.keyid, blob + 2, 8);
	buf_release(&b);
}

/* Public keys that make libgcrypt 1.10 abort the process (a coordinate
 * below 2^192), that are not points, or not canonical: all refused with
 * an error, and the process lives on. */
static void test_hostile_keys(void **state)
{
	static const struct {
		const char *pk, *msg;
	} v[] = {
		{ "0000000001000000000000000000000000000000000000000000000000000000", "short" },
		{ "0300000000000000000000000000000000000000000000800000000000000000", "short" },
		{ "9f6eac1aa6fa88641cb66970142b34ff4672ca870b9a98c2fa6eb96d8396a3f5", "short" },
		{ "9ccb149c16364e044593bd38efc702b31aa821127755ab7a48ebca85b30ef1b0", "short" },
		{ "0000000000000000000000000000000000000000000000000000000000000100", "not a point" },
		{ "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "non-canonical" },
	};
	uint8_t blob[42], sig[64] = { 0 };
	struct sign_pub pub;
	struct buf b = BUF_INIT;
	struct err e;
	size_t i;

	(void)state;
	memcpy(blob, "Ed", 2);
	memset(blob + 2, 0x42, 8);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(hex_decode(v[i].pk, blob + 10, 32), 0);
		buf_reset(&b);
		b64_encode(blob, sizeof blob, &b);
		assert_int_equal(sign_pub_parse(b.data, &pub, &e), -1);
		assert_int_equal(e.code, EXIT_TRUST);
		assert_non_null(strstr(e.msg, v[i].msg));
		memcpy(pub.pk, blob + 10, 32);
		assert_int_equal(sign_ed25519_verify(&pub, "", 0, sig, &e), -1);
		assert_non_null(strstr(e.msg, v[i].msg));
	}
	buf_release(&b);
}

static void test_minisig_memory(void **state)
{
	static const char data[] = "release manifest";
	struct buf sig = BUF_INIT;
	struct sign_key key, other;
	struct sign_pub pubs[2];
	struct err e;
	char *comment = NULL, *p;

	(void)state;
	rfc_key("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", &key, &pubs[0]);
	memset(key.keyid, 0x11, 8);
	sign_key_public(&key, &pubs[0]);
	rfc_key("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", &other, &pubs[1]);
	memset(other.keyid, 0x22, 8);
	sign_key_public(&other, &pubs[1]);

	assert_int_equal(sign_minisig(&key, data, strlen(data), "app:x file:m", &sig, &e), 0);
	/* Any of the trusted keys may match; the second here. */
	assert_int_equal(sign_verify(pubs + 1, 1, data, strlen(data), sig.data, sig.len,
				     NULL, &e), -1);
	assert_non_null(strstr(e.msg, "signed by key 1111111111111111, not a trusted key"));
	assert_int_equal(sign_verify(pubs, 2, data, strlen(data), sig.data, sig.len,
				     &comment, &e), 0);
	assert_string_equal(comment, "app:x file:m");
	free(comment);
	/* Fail closed. */
	assert_int_equal(sign_verify(pubs, 0, data, strlen(data), sig.data, sig.len,
				     &comment, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_null(comment);
	/* The data, then the trusted comment, altered. */
	assert_int_equal(sign_verify(pubs, 2, "Release manifest", strlen(data), sig.data,
				     sig.len, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "file signature invalid"));
	p = strstr(sig.data, "app:x");
	p[4] = 'y';
	assert_int_equal(sign_verify(pubs, 2, data, strlen(data), sig.data, sig.len, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "trusted comment signature invalid"));
	/* Comments the format cannot carry. */
	assert_int_equal(sign_minisig(&key, data, 1, "a\rb", &sig, &e), -1);
	assert_int_equal(sign_minisig(&key, data, 1, "a\nb", &sig, &e), -1);
	sign_key_wipe(&key);
	sign_key_wipe(&other);
	buf_release(&sig);
}

/* Every single-byte change to a signature file, and every truncation,
 * either leaves it valid (the untrusted comment is not signed) or is
 * refused with EXIT_TRUST; under the sanitizers, never a memory error. */
static void test_minisig_mutations(void **state)
{
	static const uint8_t vals[] = { 0, '\n', '\r', ' ', '=', 'A', 0x80, 0xff };
	struct buf sig = BUF_INIT;
	struct sign_key key;
	struct sign_pub pub;
	struct err e;
	size_t i, v, first_nl;
	char *copy;
	int rc;

	(void)state;
	rfc_key("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", &key, &pub);
	assert_int_equal(sign_minisig(&key, "d", 1, "c", &sig, &e), 0);
	first_nl = (size_t)(strchr(sig.data, '\n') - sig.data);
	copy = xmalloc(sig.len);
	for (i = 0; i < sig.len; i++) {
		for (v = 0; v < sizeof vals; v++) {
			memcpy(copy, sig.data, sig.len);
			if ((uint8_t)copy[i] == vals[v])
				continue;
			copy[i] = (char)vals[v];
			rc = sign_verify(&pub, 1, "d", 1, copy, sig.len, NULL, &e);
			if (rc == 0)
				assert_true(i >= strlen("untrusted comment: ") && i < first_nl);
			else
				assert_int_equal(e.code, EXIT_TRUST);
		}
		/* Cut before byte i (the final newline alone may go). */
		rc = sign_verify(&pub, 1, "d", 1, sig.data, i, NULL, &e);
		assert_int_equal(rc, i == sig.len - 1 ? 0 : -1);
	}
	free(copy);
	buf_release(&sig);
	sign_key_wipe(&key);
}

static void test_comment_limit(void **state)
{
	char *c = xmalloc(SIGN_COMMENT_TEXT_MAX + 2);
	struct buf sig = BUF_INIT;
	struct sign_key key;
	struct sign_pub pub;
	struct err e;

	(void)state;
	rfc_key("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", &key, &pub);
	memset(c, 'c', SIGN_COMMENT_TEXT_MAX);
	c[SIGN_COMMENT_TEXT_MAX] = '\0';
	assert_int_equal(sign_minisig(&key, "d", 1, c, &sig, &e), 0);
	assert_int_equal(sign_verify(&pub, 1, "d", 1, sig.data, sig.len, NULL, &e), 0);
	c[SIGN_COMMENT_TEXT_MAX] = 'c';
	c[SIGN_COMMENT_TEXT_MAX + 1] = '\0';
	assert_int_equal(sign_minisig(&key, "d", 1, c, &sig, &e), -1);
	free(c);
	buf_release(&sig);
	sign_key_wipe(&key);
}

static void test_key_files(void **state)
{
	char dir[] = "/tmp/upgr-sign.XXXXXX";
	struct sign_key key;
	struct sign_pub pub, pub2;
	struct buf b = BUF_INIT;
	struct stat st;
	struct err e;
	char *name, *kp, *pp, *link;
	uint8_t blob[160];
	long n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	name = fs_join(dir, "k");
	kp = xasprintf("%s.key", name);
	pp = xasprintf("%s.pub", name);
	assert_int_equal(sign_keygen(name, &e), 0);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sign_keygen(name, &e), -1);         /* never overwrites */
	assert_int_equal(sign_key_load(kp, &key, &e), 0);
	assert_int_equal(sign_pub_load(pp, &pub, &e), 0);
	sign_key_public(&key, &pub2);
	assert_memory_equal(&pub, &pub2, sizeof pub);
	sign_key_wipe(&key);

	/* The blob: "Ed", no KDF, "B2", a checksum that is correct. */
	assert_int_equal(fs_read_file(kp, 4096, &b, &e), 0);
	n = b64_decode(strchr(b.data, '\n') + 1, strlen(strchr(b.data, '\n') + 1) - 1,
		       blob, sizeof blob);
	assert_int_equal(n, 158);
	assert_memory_equal(blob, "Ed\0\0B2", 6);

	/* minisign -W leaves the checksum zero: accepted. A wrong one is not. */
	memset(blob + 126, 0, 32);
	buf_reset(&b);
	buf_adds(&b, "untrusted comment: x\n");
	b64_encode(blob, 158, &b);
	buf_adds(&b, "\n");
	assert_int_equal(fs_write_atomic(kp, b.data, b.len, 0600, &e), 0);
	assert_int_equal(sign_key_load(kp, &key, &e), 0);
	sign_key_wipe(&key);
	blob[126] = 1;
	buf_reset(&b);
	buf_adds(&b, "untrusted comment: x\n");
	b64_encode(blob, 158, &b);
	assert_int_equal(fs_write_atomic(kp, b.data, b.len, 0600, &e), 0);
	assert_int_equal(sign_key_load(kp, &key, &e), -1);
	assert_non_null(strstr(e.msg, "checksum"));

	/* A public half that is not the seed's. */
	blob[126] = 0;
	blob[100] ^= 1;
	buf_reset(&b);
	buf_adds(&b, "untrusted comment: x\n");
	b64_encode(blob, 158, &b);
	assert_int_equal(fs_write_atomic(kp, b.data, b.len, 0600, &e), 0);
	assert_int_equal(sign_key_load(kp, &key, &e), -1);
	assert_non_null(strstr(e.msg, "does not match"));

	/* Encrypted keys are refused by name. */
	blob[100] ^= 1;
	memcpy(blob + 2, "Sc", 2);
	buf_reset(&b);
	buf_adds(&b, "untrusted comment: x\n");
	b64_encode(blob, 158, &b);
	assert_int_equal(fs_write_atomic(kp, b.data, b.len, 0600, &e), 0);
	assert_int_equal(sign_key_load(kp, &key, &e), -1);
	assert_non_null(strstr(e.msg, "encrypted"));

	/* Modes and symlinks. */
	memcpy(blob + 2, "\0\0", 2);
	buf_reset(&b);
	buf_adds(&b, "untrusted comment: x\n");
	b64_encode(blob, 158, &b);
	assert_int_equal(fs_write_atomic(kp, b.data, b.len, 0640, &e), 0);
	assert_int_equal(sign_key_load(kp, &key, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(chmod(kp, 0600), 0);
	assert_int_equal(sign_key_load(kp, &key, &e), 0);
	sign_key_wipe(&key);
	link = fs_join(dir, "link.key");
	assert_int_equal(symlink(kp, link), 0);
	assert_int_equal(sign_key_load(link, &key, &e), -1);
	assert_int_equal(chmod(pp, 0666), 0);
	assert_int_equal(sign_pub_load(pp, &pub, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);

	assert_int_equal(fs_remove_tree(dir, &e), 0);
	buf_release(&b);
	free(link);
	free(name);
	free(kp);
	free(pp);
}

/* A key made by `minisign -G` (0.11) with the passphrase "upgr unit
 * test", and its public key: upgr opens it with that passphrase, derives
 * the public key minisign wrote, and says "wrong passphrase" otherwise. */
static const char minisign_enc_key[] =
	"untrusted comment: minisign encrypted secret key\n"
	"RWRTY0IyHLTEqEuqItSXinxXX6iELAh+e1BqhE94KR7LM/jcqggAAAACAAAAAAAAAEAAAAAAq5jJ"
	"KN6sP2d4KZ9CgMNXaf729t1J7fiq3TQpDCjcJ7aVNE/LKYfwQNfRniQU7JyueN9exMQxbcOg1nQZ"
	"qQY4YpzsfliGKH6zTqEYMa0uMNX6psw6p1UeQsUaDeM0sDtsIpnkRZFyUdg=\n";
static const char minisign_enc_pub[] =
	"RWSK/BxmcaIJz/R4hYVS7cdV2jPvNUm+hIuA/NJyi6WU7AnEVgQtfijE";

static void write_file(const char *path, const char *text, mode_t mode)
{
	struct err e;

	assert_int_equal(fs_write_atomic(path, text, strlen(text), mode, &e), 0);
}

static void test_encrypted_keys(void **state)
{
	char dir[] = "/tmp/upgr-test-enc.XXXXXX";
	struct sign_key key;
	struct sign_pub pub, want;
	struct err e;
	char *kp, *pw, *bad, *name, *own;

	(void)state;
	assert_non_null(mkdtemp(dir));
	kp = fs_join(dir, "m.key");
	pw = fs_join(dir, "pw");
	bad = fs_join(dir, "bad");
	name = fs_join(dir, "u");
	own = xasprintf("%s.key", name);
	write_file(kp, minisign_enc_key, 0600);
	write_file(pw, "upgr unit test\n", 0600);
	write_file(bad, "upgr unit tesT\n", 0600);
	assert_int_equal(sign_pub_parse(minisign_enc_pub, &want, &e), 0);

	/* minisign's key: the right passphrase gives minisign's public key. */
	assert_int_equal(sign_key_open(kp, pw, &key, &e), 0);
	sign_key_public(&key, &pub);
	assert_memory_equal(&pub, &want, sizeof pub);
	sign_key_wipe(&key);
	assert_int_equal(sign_key_open(kp, bad, &key, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_non_null(strstr(e.msg, "wrong passphrase"));
	/* The device key's loader never opens an encrypted key. */
	assert_int_equal(sign_key_load(kp, &key, &e), -1);
	assert_non_null(strstr(e.msg, "encrypted"));

	/* upgr's own encrypted key opens again with its passphrase. */
	assert_int_equal(sign_keygen_pass(name, "upgr unit test", 14, &e), 0);
	assert_int_equal(sign_key_open(own, pw, &key, &e), 0);
	sign_key_wipe(&key);

	assert_int_equal(fs_remove_tree(dir, &e), 0);
	free(kp);
	free(pw);
	free(bad);
	free(name);
	free(own);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_ed25519_rfc8032),
		cmocka_unit_test(test_ed25519_noncanonical_s),
		cmocka_unit_test(test_small_order_keys),
		cmocka_unit_test(test_hostile_keys),
		cmocka_unit_test(test_minisig_memory),
		cmocka_unit_test(test_minisig_mutations),
		cmocka_unit_test(test_comment_limit),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_encrypted_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
