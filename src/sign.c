/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 keys and raw signatures through libgcrypt, and minisign's key
 * files. The signature files (.minisig) are in sign_minisig.c.
 *
 * Secret key file, as `minisign -G -W` writes it (base64 of 158 bytes):
 *   sig_alg "Ed" | kdf_alg "\0\0" (none; "Sc" = scrypt, encrypted)
 *   | chk_alg "B2" | kdf_salt[32] | opslimit[8] | memlimit[8]
 *   | keyid[8] | sk[64] (seed || pk) | chk[32]
 * minisign computes chk = BLAKE2b-256(sig_alg || keyid || sk) only for
 * encrypted keys and leaves it zero with -W (0.11 and later alike). upgr
 * writes the real checksum (minisign ignores it for unencrypted keys) and
 * accepts either a zero or a correct one.
 *
 * libgcrypt 1.10 accepts small-order public keys and signatures whose S is
 * not reduced mod L; both would let one signature verify for several
 * messages or keys, so they are refused here before libgcrypt sees them.
 * It also aborts the whole process ("mulm_25519: different sizes") on a
 * public key that is a curve point with a coordinate below 2^192 (an MPI
 * with fewer limbs than it expects), and a public key can come from the
 * network (a host's device.pub): pub_check decodes the point itself with
 * plain MPI arithmetic and refuses any coordinate below 2^224 (so 32-bit
 * limbs are covered too; an honest key has one with odds of 2^-31). */
#include "sign.h"
#include "fsutil.h"
#include "hash.h"
#include "pkcs11.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SK_BLOB_LEN (2 + 2 + 2 + 32 + 8 + 8 + SIGN_KEYID_LEN + SIGN_SK_LEN + 32)
#define SK_KEYID_OFF 54
#define SK_CHK_OFF (SK_KEYID_OFF + SIGN_KEYID_LEN + SIGN_SK_LEN)
#define PK_BLOB_LEN (2 + SIGN_KEYID_LEN + SIGN_PK_LEN)
#define KEY_FILE_MAX 4096
#define UNTRUSTED_PREFIX "untrusted comment: "

/* The y coordinates (little-endian, sign bit cleared) of the 8 points of
 * order 1, 2, 4 and 8, plus the non-canonical encodings p and p+1 of y = 0
 * and y = 1. Any public key whose y is one of these has small order. */
static const uint8_t small_order_y[][32] = {
	{ 0 },                                            /* y = 0, order 4 */
	{ 1 },                                            /* y = 1, identity */
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* y = p-1, order 2 */
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* y = p (= 0) */
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* y = p+1 (= 1) */
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, /* order 8 */
	  0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
	  0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39,
	  0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
	{ 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, /* order 8 */
	  0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
	  0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6,
	  0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
};

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t group_order[32] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
};

static int is_small_order(const uint8_t pk[SIGN_PK_LEN])
{
	size_t i;

	for (i = 0; i < sizeof small_order_y / sizeof small_order_y[0]; i++)
		if (!memcmp(pk, small_order_y[i], 31) &&
		    (pk[31] & 0x7f) == small_order_y[i][31])
			return 1;
	return 0;
}

/* True if the little-endian scalar s is below L (a canonical S). */
static int scalar_is_canonical(const uint8_t s[32])
{
	int i;

	for (i = 31; i >= 0; i--) {
		if (s[i] < group_order[i])
			return 1;
		if (s[i] > group_order[i])
			return 0;
	}
	return 0;       /* s == L */
}

/* Decode the point pk encodes (RFC 8032 5.1.3) with libgcrypt's generic
 * MPI functions, which do not have the abort above. Returns 0 if it is a
 * point with both coordinates at least 2^224, else -1 with the reason. */
static int point_check(const uint8_t pk[SIGN_PK_LEN], struct err *e)
{
	gcry_mpi_t p = NULL, d = NULL, y = NULL, x = NULL, u = NULL, v = NULL,
		   t = NULL, one = gcry_mpi_set_ui(NULL, 1);
	uint8_t be[32];
	int i, rc = -1;

	for (i = 0; i < 32; i++)
		be[i] = pk[31 - i];
	be[0] &= 0x7f;
	if (gcry_mpi_scan(&y, GCRYMPI_FMT_USG, be, 32, NULL) ||
	    gcry_mpi_scan(&p, GCRYMPI_FMT_HEX,
			  "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFED",
			  0, NULL)) {
		err_set(e, EXIT_SOFTWARE, "ed25519: cannot decode the public key");
		goto done;
	}
	if (gcry_mpi_cmp(y, p) >= 0) {
		err_set(e, EXIT_TRUST, "non-canonical public key refused");
		goto done;
	}
	/* d = -121665 / 121666; x^2 = (y^2 - 1) / (d y^2 + 1). */
	d = gcry_mpi_new(256);
	u = gcry_mpi_new(256);
	v = gcry_mpi_new(256);
	t = gcry_mpi_new(256);
	x = gcry_mpi_new(256);
	gcry_mpi_set_ui(t, 121666);
	gcry_mpi_invm(d, t, p);
	gcry_mpi_set_ui(t, 121665);
	gcry_mpi_sub(t, p, t);
	gcry_mpi_mulm(d, d, t, p);
	gcry_mpi_mulm(u, y, y, p);
	gcry_mpi_mulm(v, u, d, p);
	gcry_mpi_addm(v, v, one, p);
	gcry_mpi_subm(u, u, one, p);
	gcry_mpi_invm(v, v, p);
	gcry_mpi_mulm(u, u, v, p);                      /* u = x^2 */
	/* x = u^((p+3)/8), times sqrt(-1) = 2^((p-1)/4) if that squares to -u. */
	gcry_mpi_add_ui(t, p, 3);
	gcry_mpi_rshift(t, t, 3);
	gcry_mpi_powm(x, u, t, p);
	gcry_mpi_mulm(v, x, x, p);
	if (gcry_mpi_cmp(v, u)) {
		gcry_mpi_sub_ui(t, p, 1);
		gcry_mpi_rshift(t, t, 2);
		gcry_mpi_set_ui(v, 2);
		gcry_mpi_powm(v, v, t, p);
		gcry_mpi_mulm(x, x, v, p);
		gcry_mpi_mulm(v, x, x, p);
	}
	if (gcry_mpi_cmp(v, u)) {
		err_set(e, EXIT_TRUST, "public key is not a point on Ed25519");
		goto done;
	}
	if ((unsigned)gcry_mpi_test_bit(x, 0) != (unsigned)(pk[31] >> 7))
		gcry_mpi_sub(x, p, x);
	if (gcry_mpi_get_nbits(x) <= 224 || gcry_mpi_get_nbits(y) <= 224) {
		err_set(e, EXIT_TRUST, "public key with a short coordinate refused "
			"(it would crash libgcrypt)");
		goto done;
	}
	rc = 0;
done:
	gcry_mpi_release(one);
	gcry_mpi_release(x);
	gcry_mpi_release(t);
	gcry_mpi_release(v);
	gcry_mpi_release(u);
	gcry_mpi_release(y);
	gcry_mpi_release(d);
	gcry_mpi_release(p);
	return rc;
}

/* Every public key passes here before libgcrypt sees it. */
static int pub_check(const uint8_t pk[SIGN_PK_LEN], struct err *e)
{
	if (is_small_order(pk))
		return err_set(e, EXIT_TRUST, "small-order public key refused");
	crypto_init();
	return point_check(pk, e);
}

/* Copy the data of the s-expression token name (exactly len bytes). */
static int sexp_get(gcry_sexp_t sx, const char *name, uint8_t *out, size_t len)
{
	gcry_sexp_t tok = gcry_sexp_find_token(sx, name, 0);
	const char *p;
	size_t n = 0;
	int rc = -1;

	if (!tok)
		return -1;
	p = gcry_sexp_nth_data(tok, 1, &n);
	if (p && n == len) {
		memcpy(out, p, len);
		rc = 0;
	}
	gcry_sexp_release(tok);
	return rc;
}

int sign_ed25519(const struct sign_key *key, const void *msg, size_t len,
		 uint8_t sig[SIGN_SIG_LEN], struct err *e)
{
	gcry_sexp_t skey = NULL, data = NULL, res = NULL;
	int rc = -1;

	if (len > INT_MAX)
		return err_set(e, EXIT_SOFTWARE, "ed25519: message too large");
	if (key->token)
		return pkcs11_sign(key->token, msg, len, sig, e);
	crypto_init();
	if (gcry_sexp_build(&skey, NULL,
			    "(private-key (ecc (curve Ed25519) (flags eddsa)"
			    " (q %b) (d %b)))",
			    SIGN_PK_LEN, key->sk + 32, 32, key->sk) ||
	    gcry_sexp_build(&data, NULL,
			    "(data (flags eddsa) (hash-algo sha512) (value %b))",
			    (int)len, msg)) {
		err_set(e, EXIT_SOFTWARE, "ed25519: cannot build the key or data");
		goto done;
	}
	if (gcry_pk_sign(&res, data, skey) ||
	    sexp_get(res, "r", sig, 32) < 0 || sexp_get(res, "s", sig + 32, 32) < 0) {
		err_set(e, EXIT_SOFTWARE, "ed25519: signing failed");
		goto done;
	}
	rc = 0;
done:
	gcry_sexp_release(res);
	gcry_sexp_release(data);
	gcry_sexp_release(skey);
	return rc;
}

int sign_ed25519_verify(const struct sign_pub *pub, const void *msg, size_t len,
			const uint8_t sig[SIGN_SIG_LEN], struct err *e)
{
	gcry_sexp_t pkey = NULL, data = NULL, sv = NULL;
	int rc = -1;

	if (pub_check(pub->pk, e) < 0)
		return -1;
	if (!scalar_is_canonical(sig + 32))
		return err_set(e, EXIT_TRUST, "non-canonical signature (S >= L) refused");
	if (len > INT_MAX)
		return err_set(e, EXIT_SOFTWARE, "ed25519: message too large");
	crypto_init();
	if (gcry_sexp_build(&pkey, NULL,
			    "(public-key (ecc (curve Ed25519) (flags eddsa) (q %b)))",
			    SIGN_PK_LEN, pub->pk) ||
	    gcry_sexp_build(&data, NULL,
			    "(data (flags eddsa) (hash-algo sha512) (value %b))",
			    (int)len, msg) ||
	    gcry_sexp_build(&sv, NULL, "(sig-val (eddsa (r %b) (s %b)))",
			    32, sig, 32, sig + 32)) {
		err_set(e, EXIT_SOFTWARE, "ed25519: cannot build the key or signature");
		goto done;
	}
	if (gcry_pk_verify(sv, data, pkey)) {
		err_set(e, EXIT_TRUST, "signature does not match");
		goto done;
	}
	rc = 0;
done:
	gcry_sexp_release(sv);
	gcry_sexp_release(data);
	gcry_sexp_release(pkey);
	return rc;
}

/* BLAKE2b-256(sig_alg || keyid || sk): the secret key file's checksum. */
static void key_checksum(const struct sign_key *key, uint8_t chk[32])
{
	uint8_t in[2 + SIGN_KEYID_LEN + SIGN_SK_LEN];

	memcpy(in, "Ed", 2);
	memcpy(in + 2, key->keyid, SIGN_KEYID_LEN);
	memcpy(in + 2 + SIGN_KEYID_LEN, key->sk, SIGN_SK_LEN);
	crypto_init();
	gcry_md_hash_buffer(GCRY_MD_BLAKE2B_256, chk, in, sizeof in);
	secure_wipe(in, sizeof in);
}

/* The key id as minisign shows it: a little-endian 64-bit number in hex. */
void sign_keyid_hex(const uint8_t keyid[SIGN_KEYID_LEN], char out[17])
{
	uint64_t v = 0;
	int i;

	for (i = SIGN_KEYID_LEN - 1; i >= 0; i--)
		v = v << 8 | keyid[i];
	snprintf(out, 17, "%016" PRIX64, v);
}

void sign_key_public(const struct sign_key *key, struct sign_pub *pub)
{
	memcpy(pub->keyid, key->keyid, SIGN_KEYID_LEN);
	memcpy(pub->pk, key->sk + 32, SIGN_PK_LEN);
}

void sign_key_wipe(struct sign_key *key)
{
	pkcs11_close(key->token);
	secure_wipe(key, sizeof *key);
}

void sign_pub_format(const struct sign_pub *pub, struct buf *out)
{
	uint8_t blob[PK_BLOB_LEN];
	char id[17];

	sign_keyid_hex(pub->keyid, id);
	memcpy(blob, "Ed", 2);
	memcpy(blob + 2, pub->keyid, SIGN_KEYID_LEN);
	memcpy(blob + 2 + SIGN_KEYID_LEN, pub->pk, SIGN_PK_LEN);
	buf_addf(out, UNTRUSTED_PREFIX "minisign public key %s\n", id);
	b64_encode(blob, sizeof blob, out);
	buf_adds(out, "\n");
}

/* minisign's scrypt cost (libsodium's "sensitive" limits), recorded in
 * every encrypted key upgr writes. */
#define KDF_OPSLIMIT 33554432ULL
#define KDF_MEMLIMIT 1073741824ULL
#define KDF_MEMLIMIT_MAX (4ULL << 30)   /* refuse keys asking for more */
#define SK_SALT_OFF 6
#define SK_OPS_OFF (SK_SALT_OFF + 32)
#define SK_MEM_OFF (SK_OPS_OFF + 8)
#define SK_SECRET_LEN (SIGN_KEYID_LEN + SIGN_SK_LEN + 32)  /* keyid..chk */

static uint64_t le64_get(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void le64_put(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* scrypt's N, r, p from libsodium's opslimit and memlimit, the way
 * libsodium's scryptsalsa208sha256 picks them (r is always 8). */
static void kdf_params(uint64_t ops, uint64_t mem, unsigned *nlog2, unsigned long *par)
{
	uint64_t maxn, maxrp;

	if (ops < 32768)
		ops = 32768;
	*par = 1;
	maxn = ops < mem / 32 ? ops / (8 * 4) : mem / (8 * 128);
	for (*nlog2 = 1; *nlog2 < 63; (*nlog2)++)
		if ((uint64_t)1 << *nlog2 > maxn / 2)
			break;
	if (ops >= mem / 32) {
		maxrp = (ops / 4) / ((uint64_t)1 << *nlog2);
		if (maxrp > 0x3fffffff)
			maxrp = 0x3fffffff;
		*par = (unsigned long)(maxrp / 8);
	}
}

/* XOR the secret part of blob (keyid, sk, chk) with scrypt's stream for
 * the passphrase and the salt and limits blob records. */
static int key_crypt(uint8_t *blob, const char *pass, size_t passlen, struct err *e)
{
	uint64_t ops = le64_get(blob + SK_OPS_OFF), mem = le64_get(blob + SK_MEM_OFF);
	uint8_t *stream;
	unsigned long par;
	unsigned nlog2;
	size_t i;
	int rc = -1;

	kdf_params(ops, mem, &nlog2, &par);
	if (mem > KDF_MEMLIMIT_MAX || nlog2 > 32 || par == 0 || par > 64)
		return err_set(e, EXIT_DATAERR, "scrypt limits out of range "
			       "(opslimit %" PRIu64 ", memlimit %" PRIu64 ")", ops, mem);
	crypto_init();
	stream = gcry_malloc_secure(SK_SECRET_LEN);
	if (!stream)
		return err_set(e, EXIT_SOFTWARE, "out of secure memory");
	if (gcry_kdf_derive(pass, passlen, GCRY_KDF_SCRYPT, 1UL << nlog2,
			    blob + SK_SALT_OFF, 32, par, SK_SECRET_LEN, stream)) {
		err_set(e, EXIT_SOFTWARE, "scrypt failed (it needs %" PRIu64 " MiB)",
			((uint64_t)128 * 8 << nlog2) >> 20);
		goto done;
	}
	for (i = 0; i < SK_SECRET_LEN; i++)
		blob[SK_KEYID_OFF + i] ^= stream[i];
	rc = 0;
done:
	secure_wipe(stream, SK_SECRET_LEN);
	gcry_free(stream);
	return rc;
}

/* The secret key file's text for key, in a buffer the caller wipes:
 * encrypted ("Sc") when pass is not NULL. */
static int key_format(const struct sign_key *key, const char *pass, size_t passlen,
		      struct buf *out, struct err *e)
{
	uint8_t blob[SK_BLOB_LEN];
	int rc = -1;

	memset(blob, 0, sizeof blob);
	memcpy(blob, pass ? "EdScB2" : "Ed\0\0B2", 6);
	memcpy(blob + SK_KEYID_OFF, key->keyid, SIGN_KEYID_LEN);
	memcpy(blob + SK_KEYID_OFF + SIGN_KEYID_LEN, key->sk, SIGN_SK_LEN);
	key_checksum(key, blob + SK_CHK_OFF);
	if (pass) {
		gcry_randomize(blob + SK_SALT_OFF, 32, GCRY_STRONG_RANDOM);
		le64_put(blob + SK_OPS_OFF, KDF_OPSLIMIT);
		le64_put(blob + SK_MEM_OFF, KDF_MEMLIMIT);
		if (key_crypt(blob, pass, passlen, e) < 0)
			goto done;
	}
	/* Reserve the whole text first: a buffer that moved would leave a
	 * copy of the secret behind in freed memory. */
	buf_grow(out, 128 + B64_LEN(sizeof blob));
	buf_addf(out, UNTRUSTED_PREFIX "minisign %s secret key\n",
		 pass ? "encrypted" : "unencrypted");
	b64_encode(blob, sizeof blob, out);
	buf_adds(out, "\n");
	rc = 0;
done:
	secure_wipe(blob, sizeof blob);
	return rc;
}

/* A fresh key pair from libgcrypt, with a random key id. A pair whose
 * public key pub_check would refuse (odds 2^-31) is drawn again. */
static int key_generate(struct sign_key *key, struct err *e)
{
	gcry_sexp_t parms = NULL, pair = NULL;
	int tries, rc = -1;

	crypto_init();
	if (gcry_sexp_build(&parms, NULL,
			    "(genkey (ecc (curve Ed25519) (flags eddsa)))"))
		return err_set(e, EXIT_SOFTWARE, "ed25519: key generation failed");
	for (tries = 0; tries < 4 && rc < 0; tries++) {
		gcry_sexp_release(pair);
		pair = NULL;
		if (gcry_pk_genkey(&pair, parms) ||
		    sexp_get(pair, "d", key->sk, 32) < 0 ||
		    sexp_get(pair, "q", key->sk + 32, SIGN_PK_LEN) < 0)
			break;
		rc = pub_check(key->sk + 32, NULL);
	}
	gcry_sexp_release(pair);
	gcry_sexp_release(parms);
	if (rc < 0)
		return err_set(e, EXIT_SOFTWARE, "ed25519: key generation failed");
	gcry_randomize(key->keyid, SIGN_KEYID_LEN, GCRY_STRONG_RANDOM);
	return 0;
}

/* Create path with data, never replacing a file, and never visible half
 * written: a temporary file (mkstemp: O_EXCL, 0600) is written, synced,
 * then hard-linked to path, which fails if path exists. */
static int write_new_atomic(const char *path, const void *data, size_t len,
			    mode_t mode, struct err *e)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd, rc = -1;

	fd = mkstemp(tmp);
	if (fd < 0) {
		err_sys(e, EXIT_SOFTWARE, "create %s", tmp);
		goto done;
	}
	if (fs_write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0)
		err_sys(e, EXIT_SOFTWARE, "write %s", tmp);
	else if (link(tmp, path) < 0)
		err_sys(e, errno == EEXIST ? EXIT_USAGE : EXIT_SOFTWARE, "create %s", path);
	else
		rc = 0;
done:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (rc == 0)
		rc = fs_fsync_parent(path, e);
	free(tmp);
	return rc;
}

int sign_keygen(const char *name, struct err *e)
{
	return sign_keygen_pass(name, NULL, 0, e);
}

int sign_keygen_pass(const char *name, const char *pass, size_t passlen,
		     struct err *e)
{
	char *pubpath = xasprintf("%s.pub", name), *keypath = xasprintf("%s.key", name);
	struct buf keytext = BUF_INIT, pubtext = BUF_INIT;
	struct sign_key key;
	struct sign_pub pub;
	int rc = -1;

	memset(&key, 0, sizeof key);
	/* Both names are checked before anything is written; the link in
	 * write_new_atomic still closes the race with another writer. */
	if (access(pubpath, F_OK) == 0 || access(keypath, F_OK) == 0) {
		err_set(e, EXIT_USAGE, "%s exists: refusing to overwrite a key",
			access(keypath, F_OK) == 0 ? keypath : pubpath);
		goto done;
	}
	if (key_generate(&key, e) < 0)
		goto done;
	if (key_format(&key, pass, passlen, &keytext, e) < 0)
		goto done;
	sign_key_public(&key, &pub);
	sign_pub_format(&pub, &pubtext);
	if (write_new_atomic(keypath, keytext.data, keytext.len, 0600, e) < 0)
		goto done;
	if (write_new_atomic(pubpath, pubtext.data, pubtext.len, 0644, e) < 0) {
		unlink(keypath);
		goto done;
	}
	rc = 0;
done:
	sign_key_wipe(&key);
	if (keytext.data)
		secure_wipe(keytext.data, keytext.cap);
	buf_release(&keytext);
	buf_release(&pubtext);
	free(pubpath);
	free(keypath);
	return rc;
}

/* The second line of a key file's text (after "untrusted comment: ..."),
 * its length in *len, or NULL if the file is not two such lines. */
static const char *key_line(const char *text, size_t *len)
{
	const char *nl = strchr(text, '\n'), *end;

	if (strncmp(text, UNTRUSTED_PREFIX, strlen(UNTRUSTED_PREFIX)) || !nl)
		return NULL;
	nl++;
	end = strchr(nl, '\n');
	*len = end ? (size_t)(end - nl) : strlen(nl);
	if (end && end[1] != '\0')
		return NULL;
	if (*len && nl[*len - 1] == '\r')
		(*len)--;
	return nl;
}

int sign_pub_parse(const char *b64, struct sign_pub *pub, struct err *e)
{
	uint8_t blob[PK_BLOB_LEN + 3];
	long n = b64_decode(b64, strlen(b64), blob, sizeof blob);

	if (n < 0)
		return err_set(e, EXIT_DATAERR, "public key is not valid base64");
	if (n != PK_BLOB_LEN)
		return err_set(e, EXIT_DATAERR, "public key is %ld bytes, expected %d",
			       n, PK_BLOB_LEN);
	if (memcmp(blob, "Ed", 2))
		return err_set(e, EXIT_DATAERR, "public key: unknown algorithm");
	memcpy(pub->keyid, blob + 2, SIGN_KEYID_LEN);
	memcpy(pub->pk, blob + 2 + SIGN_KEYID_LEN, SIGN_PK_LEN);
	if (pub_check(pub->pk, e) < 0)
		return -1;
	return 0;
}

/* Read a key file of at most KEY_FILE_MAX bytes through one descriptor,
 * refusing a symlink, a non-regular file, and any mode bit in forbid. */
static int key_file_read(const char *path, mode_t forbid, const char *why,
			 struct buf *out, struct err *e)
{
	char chunk[KEY_FILE_MAX + 1];
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, errno == ELOOP ? EXIT_TRUST : EXIT_DATAERR,
			       "open %s", path);
	if (fstat(fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, EXIT_DATAERR, "%s: not a regular file", path);
		goto done;
	}
	if (st.st_mode & forbid) {
		err_set(e, EXIT_TRUST, "%s: mode %04o: %s", path,
			(unsigned)(st.st_mode & 07777), why);
		goto done;
	}
	/* Up to one byte more than a key file may hold, to see the excess. */
	while (got < sizeof chunk) {
		n = read(fd, chunk + got, sizeof chunk - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, EXIT_SOFTWARE, "read %s", path);
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > KEY_FILE_MAX) {
		err_set(e, EXIT_DATAERR, "%s: larger than %d bytes: not a key file",
			path, KEY_FILE_MAX);
		goto done;
	}
	buf_grow(out, got + 1);
	buf_add(out, chunk, got);
	rc = 0;
done:
	secure_wipe(chunk, sizeof chunk);
	close(fd);
	return rc;
}

int sign_pub_load(const char *path, struct sign_pub *pub, struct err *e)
{
	struct buf text = BUF_INIT;
	const char *line;
	char *b64 = NULL;
	size_t len;
	int rc = -1;

	if (key_file_read(path, S_IWGRP | S_IWOTH,
			  "a trusted key that others can write is refused",
			  &text, e) < 0)
		goto done;
	line = key_line(text.data, &len);
	if (!line || memchr(text.data, '\0', text.len)) {
		err_set(e, EXIT_DATAERR, "%s: not a minisign public key file", path);
		goto done;
	}
	b64 = xstrndup(line, len);
	if (sign_pub_parse(b64, pub, e) < 0) {
		err_prefix(e, "%s: ", path);
		goto done;
	}
	rc = 0;
done:
	free(b64);
	buf_release(&text);
	return rc;
}

/* Check that the key's public half belongs to its seed: sign and verify
 * a fixed message (libgcrypt derives the signature from the seed). */
static int key_selftest(const struct sign_key *key, struct err *e)
{
	static const char msg[] = "upgr key self-test";
	uint8_t sig[SIGN_SIG_LEN];
	struct sign_pub pub;

	sign_key_public(key, &pub);
	if (sign_ed25519(key, msg, sizeof msg - 1, sig, e) < 0)
		return -1;
	if (sign_ed25519_verify(&pub, msg, sizeof msg - 1, sig, e) < 0)
		return err_set(e, EXIT_DATAERR,
			       "corrupt: its public half does not match its seed");
	return 0;
}

/* Decrypt an "Sc" blob in place with the passphrase from pass_file or
 * the terminal; the checksum tells a wrong passphrase. */
static int key_decrypt(uint8_t *blob, const char *path, const char *pass_file,
		       struct err *e)
{
	char *pass = NULL;
	size_t passlen = 0;
	int rc;

	if (sign_passphrase_get(pass_file, path, false, &pass, &passlen, e) < 0)
		return -1;
	rc = key_crypt(blob, pass, passlen, e);
	sign_passphrase_free(pass, passlen);
	return rc;
}

/* Decode the secret key blob into key, refusing what upgr cannot use.
 * An encrypted key is opened only when open_encrypted is set. */
static int key_parse(uint8_t *blob, long n, const char *path, bool open_encrypted,
		     const char *pass_file, struct sign_key *key, struct err *e)
{
	static const uint8_t zero[32];
	uint8_t chk[32];
	bool enc;

	if (n != SK_BLOB_LEN)
		return err_set(e, EXIT_DATAERR, "secret key is %ld bytes, expected %d",
			       n, SK_BLOB_LEN);
	if (memcmp(blob, "Ed", 2))
		return err_set(e, EXIT_DATAERR, "unknown signature algorithm");
	enc = !memcmp(blob + 2, "Sc", 2);
	if (enc && !open_encrypted)
		return err_set(e, EXIT_DATAERR, "the key is encrypted with a passphrase; "
			       "this key must be unencrypted (minisign -G -W, upgr keygen -W)");
	if (!enc && memcmp(blob + 2, "\0\0", 2))
		return err_set(e, EXIT_DATAERR, "unknown key derivation function");
	if (memcmp(blob + 4, "B2", 2))
		return err_set(e, EXIT_DATAERR, "unknown checksum function");
	if (enc && key_decrypt(blob, path, pass_file, e) < 0)
		return -1;
	memcpy(key->keyid, blob + SK_KEYID_OFF, SIGN_KEYID_LEN);
	memcpy(key->sk, blob + SK_KEYID_OFF + SIGN_KEYID_LEN, SIGN_SK_LEN);
	key_checksum(key, chk);
	if (enc && memcmp(blob + SK_CHK_OFF, chk, 32))
		return err_set(e, EXIT_TRUST, "wrong passphrase (the key's checksum "
			       "does not match)");
	if (memcmp(blob + SK_CHK_OFF, zero, 32) && memcmp(blob + SK_CHK_OFF, chk, 32))
		return err_set(e, EXIT_DATAERR, "checksum mismatch: the key is corrupt");
	return key_selftest(key, e);
}

static int key_load(const char *path, bool open_encrypted, const char *pass_file,
		    struct sign_key *key, struct err *e)
{
	uint8_t blob[SK_BLOB_LEN + 3];
	struct buf text = BUF_INIT;
	const char *line;
	size_t len;
	long n;
	int rc = -1;

	memset(key, 0, sizeof *key);
	if (key_file_read(path, S_IRWXG | S_IRWXO,
			  "a secret key that others can read is refused (chmod 600 it)",
			  &text, e) < 0)
		goto done;
	line = key_line(text.data, &len);
	if (!line || memchr(text.data, '\0', text.len)) {
		err_set(e, EXIT_DATAERR, "%s: not a minisign secret key file", path);
		goto done;
	}
	n = b64_decode(line, len, blob, sizeof blob);
	if (n < 0) {
		err_set(e, EXIT_DATAERR, "%s: secret key is not valid base64", path);
		goto done;
	}
	if (key_parse(blob, n, path, open_encrypted, pass_file, key, e) < 0) {
		err_prefix(e, "secret key %s: ", path);
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		sign_key_wipe(key);
	secure_wipe(blob, sizeof blob);
	if (text.data)
		secure_wipe(text.data, text.cap);
	buf_release(&text);
	return rc;
}

int sign_key_load(const char *path, struct sign_key *key, struct err *e)
{
	return key_load(path, false, NULL, key, e);
}

/* A token's key: the public half, a key id derived from it, checked
 * by signing and verifying once. */
static int token_load(const char *uri, struct sign_key *key, struct err *e)
{
	uint8_t h[64];

	memset(key, 0, sizeof *key);
	if (pkcs11_open(uri, &key->token, key->sk + 32, e) < 0)
		return -1;
	crypto_init();
	gcry_md_hash_buffer(GCRY_MD_BLAKE2B_512, h, key->sk + 32, SIGN_PK_LEN);
	memcpy(key->keyid, h, SIGN_KEYID_LEN);
	if (key_selftest(key, e) < 0) {
		sign_key_wipe(key);
		return err_prefix(e, "pkcs11 key: ");
	}
	return 0;
}

int sign_keygen_token(const char *name, const char *uri, struct err *e)
{
	char *pubpath = xasprintf("%s.pub", name);
	struct buf text = BUF_INIT;
	struct sign_key key;
	struct sign_pub pub;
	int rc = -1;

	if (token_load(uri, &key, e) < 0)
		goto done;
	sign_key_public(&key, &pub);
	sign_key_wipe(&key);
	sign_pub_format(&pub, &text);
	rc = write_new_atomic(pubpath, text.data, text.len, 0644, e);
done:
	buf_release(&text);
	free(pubpath);
	return rc;
}

int sign_key_open(const char *path, const char *passphrase_file,
		  struct sign_key *key, struct err *e)
{
	if (pkcs11_is_uri(path))
		return token_load(path, key, e);
	return key_load(path, true, passphrase_file, key, e);
}
