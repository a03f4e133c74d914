/* SPDX-License-Identifier: Apache-2.0 */
/* minisign signature files (.minisig): making and checking them.
 *
 *   untrusted comment: <anything, not signed>
 *   base64("ED" | keyid[8] | sig[64])     sig over BLAKE2b-512(data)
 *   trusted comment: <text>
 *   base64(global_sig[64])                over sig[64] || text
 *
 * The parser is strict where minisign is lenient (no data after the fourth
 * line, no carriage return anywhere in the trusted comment): a signature
 * file is only ever written by a signing tool, so anything unusual is
 * refused rather than interpreted. Line limits are minisign's, so every
 * file upgr writes or accepts, minisign accepts too. Every refusal is
 * EXIT_TRUST. */
#include "sign.h"
#include "fsutil.h"
#include "hash.h"
#include "xalloc.h"

#include <fcntl.h>
#include <gcrypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIG_BLOB_LEN (2 + SIGN_KEYID_LEN + SIGN_SIG_LEN)
#define HASH_LEN 64                     /* BLAKE2b-512 */
#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define UNTRUSTED_LINE_MAX 1022         /* minisign: 1024-byte buffer */
#define SIGFILE_MAX (UNTRUSTED_LINE_MAX + B64_LEN(SIG_BLOB_LEN) + \
		     SIGN_COMMENT_MAX + B64_LEN(SIGN_SIG_LEN) + 4)
#define LEGACY_DATA_MAX ((size_t)1 << 30)  /* "Ed" needs the whole file in memory */

/* A parsed signature file; comment points into the caller's copy. */
struct minisig {
	int hashed;                     /* "ED" (1) or legacy "Ed" (0) */
	uint8_t keyid[SIGN_KEYID_LEN];
	uint8_t sig[SIGN_SIG_LEN];
	const char *comment;
	size_t comment_len;
	uint8_t global[SIGN_SIG_LEN];
};

static void blake2b_512(const void *data, size_t len, uint8_t out[HASH_LEN])
{
	crypto_init();
	gcry_md_hash_buffer(GCRY_MD_BLAKE2B_512, out, data, len);
}

/* Format the signature file's text for a message (the BLAKE2b-512 hash
 * for "ED"). */
static int minisig_make(const struct sign_key *key, const uint8_t hash[HASH_LEN],
			const char *comment, struct buf *out, struct err *e)
{
	size_t clen = strlen(comment);
	uint8_t blob[SIG_BLOB_LEN], global[SIGN_SIG_LEN], *both;
	char id[17];
	int rc = -1;

	if (strpbrk(comment, "\r\n"))
		return err_set(e, EXIT_USAGE, "a trusted comment cannot hold a line break");
	if (clen > SIGN_COMMENT_TEXT_MAX)
		return err_set(e, EXIT_USAGE, "trusted comment longer than %d bytes",
			       SIGN_COMMENT_TEXT_MAX);
	memcpy(blob, "ED", 2);
	memcpy(blob + 2, key->keyid, SIGN_KEYID_LEN);
	if (sign_ed25519(key, hash, HASH_LEN, blob + 2 + SIGN_KEYID_LEN, e) < 0)
		return -1;
	both = xmalloc(SIGN_SIG_LEN + clen);
	memcpy(both, blob + 2 + SIGN_KEYID_LEN, SIGN_SIG_LEN);
	memcpy(both + SIGN_SIG_LEN, comment, clen);
	if (sign_ed25519(key, both, SIGN_SIG_LEN + clen, global, e) < 0)
		goto done;
	sign_keyid_hex(key->keyid, id);
	buf_reset(out);
	buf_addf(out, UNTRUSTED_PREFIX "signature from upgr secret key %s\n", id);
	b64_encode(blob, sizeof blob, out);
	buf_addf(out, "\n" TRUSTED_PREFIX "%s\n", comment);
	b64_encode(global, sizeof global, out);
	buf_adds(out, "\n");
	rc = 0;
done:
	free(both);
	return rc;
}

int sign_minisig(const struct sign_key *key, const void *data, size_t len,
		 const char *trusted_comment, struct buf *out, struct err *e)
{
	uint8_t hash[HASH_LEN];

	blake2b_512(data, len, hash);
	return minisig_make(key, hash, trusted_comment, out, e);
}

/* BLAKE2b-512 of the file at path, read in chunks. */
static int blake2b_file(const char *path, uint8_t out[HASH_LEN], struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return err_sys(e, EXIT_DATAERR, "open %s", path);
	rc = digest_fd(GCRY_MD_BLAKE2B_512, fd, out, NULL, e);
	close(fd);
	return rc < 0 ? err_prefix(e, "%s: ", path) : 0;
}

int sign_file(const struct sign_key *key, const char *path,
	      const char *trusted_comment, struct err *e)
{
	struct buf text = BUF_INIT;
	uint8_t hash[HASH_LEN];
	char *sigpath = xasprintf("%s.minisig", path);
	int rc = -1;

	if (blake2b_file(path, hash, e) < 0 ||
	    minisig_make(key, hash, trusted_comment, &text, e) < 0)
		goto done;
	rc = fs_write_atomic(sigpath, text.data, text.len, 0644, e);
done:
	buf_release(&text);
	free(sigpath);
	return rc;
}

/* Split off the next '\n'-terminated line of [*p, end): its start and
 * length, or NULL when no terminated line is left. A final line without
 * '\n' is returned only when last is set. */
static const char *next_line(const char **p, const char *end, int last, size_t *len)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	if (!nl) {
		if (!last || s == end)
			return NULL;
		nl = end;
	}
	*len = (size_t)(nl - s);
	*p = nl < end ? nl + 1 : end;
	return s;
}

/* Fail with EXIT_TRUST and "malformed signature file: <fmt...>". */
static int malformed(struct err *e, const char *fmt, ...) UPGR_PRINTF(2, 3);
static int malformed(struct err *e, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(e, EXIT_TRUST, "malformed signature file: %s", msg);
}

/* Decode a base64 line of exactly want bytes into out. */
static int line_blob(const char *s, size_t len, uint8_t *out, size_t want,
		     const char *what, struct err *e)
{
	uint8_t tmp[B64_LEN(SIG_BLOB_LEN)];
	long n;

	if (len > B64_LEN(want))
		return malformed(e, "%s line too long", what);
	n = b64_decode(s, len, tmp, sizeof tmp);
	if (n < 0)
		return malformed(e, "%s line is not valid base64", what);
	if ((size_t)n != want)
		return malformed(e, "%s is %ld bytes, expected %zu", what, n, want);
	memcpy(out, tmp, want);
	return 0;
}

static int minisig_parse(const char *text, size_t len, struct minisig *ms, struct err *e)
{
	const char *p = text, *end = text + len, *s;
	uint8_t blob[SIG_BLOB_LEN];
	size_t n, plen = strlen(TRUSTED_PREFIX);

	if (memchr(text, '\0', len))
		return malformed(e, "contains a NUL byte");
	if (!(s = next_line(&p, end, 0, &n)))
		return malformed(e, "truncated: empty file");
	if (n > UNTRUSTED_LINE_MAX)
		return malformed(e, "untrusted comment line too long");
	if (strncmp(s, UNTRUSTED_PREFIX, strlen(UNTRUSTED_PREFIX)))
		return malformed(e, "first line is not \"" UNTRUSTED_PREFIX "...\"");
	if (!(s = next_line(&p, end, 0, &n)))
		return malformed(e, "truncated: the signature line is missing or incomplete");
	if (line_blob(s, n, blob, SIG_BLOB_LEN, "signature", e) < 0)
		return -1;
	if (!memcmp(blob, "ED", 2))
		ms->hashed = 1;
	else if (!memcmp(blob, "Ed", 2))
		ms->hashed = 0;
	else
		return malformed(e, "unknown signature algorithm");
	memcpy(ms->keyid, blob + 2, SIGN_KEYID_LEN);
	memcpy(ms->sig, blob + 2 + SIGN_KEYID_LEN, SIGN_SIG_LEN);
	if (!(s = next_line(&p, end, 0, &n)))
		return malformed(e, "truncated: the trusted comment line is missing or incomplete");
	if (n > plen + SIGN_COMMENT_TEXT_MAX)
		return malformed(e, "trusted comment longer than %d bytes",
				 SIGN_COMMENT_TEXT_MAX);
	if (strncmp(s, TRUSTED_PREFIX, plen))
		return malformed(e, "third line is not \"" TRUSTED_PREFIX "...\"");
	if (memchr(s, '\r', n))
		return malformed(e, "trusted comment contains a carriage return");
	ms->comment = s + plen;
	ms->comment_len = n - plen;
	if (!(s = next_line(&p, end, 1, &n)))
		return malformed(e, "truncated: the global signature line is missing");
	if (line_blob(s, n, ms->global, SIGN_SIG_LEN, "global signature", e) < 0)
		return -1;
	if (p != end)
		return malformed(e, "data after the global signature line");
	return 0;
}

/* Check a parsed signature over msg (the data, or its hash for "ED"). */
static int minisig_check(const struct sign_pub *keys, size_t nkeys,
			 const struct minisig *ms, const void *msg, size_t len,
			 struct err *e)
{
	const struct sign_pub *pub = NULL;
	uint8_t *both;
	char id[17];
	size_t i;
	int rc;

	for (i = 0; i < nkeys && !pub; i++)
		if (!memcmp(keys[i].keyid, ms->keyid, SIGN_KEYID_LEN))
			pub = &keys[i];
	if (!pub) {
		sign_keyid_hex(ms->keyid, id);
		return err_set(e, EXIT_TRUST, "signed by key %s, not a trusted key", id);
	}
	if (sign_ed25519_verify(pub, msg, len, ms->sig, e) < 0) {
		if (e && e->code == EXIT_TRUST && !strcmp(e->msg, "signature does not match"))
			err_set(e, EXIT_TRUST, "the data does not match the signature");
		return err_prefix(e, "file signature invalid: ");
	}
	both = xmalloc(SIGN_SIG_LEN + ms->comment_len);
	memcpy(both, ms->sig, SIGN_SIG_LEN);
	memcpy(both + SIGN_SIG_LEN, ms->comment, ms->comment_len);
	rc = sign_ed25519_verify(pub, both, SIGN_SIG_LEN + ms->comment_len, ms->global, e);
	free(both);
	if (rc < 0) {
		if (e && e->code == EXIT_TRUST && !strcmp(e->msg, "signature does not match"))
			err_set(e, EXIT_TRUST, "the trusted comment or the global "
				"signature was altered");
		return err_prefix(e, "trusted comment signature invalid: ");
	}
	return 0;
}

/* Check ms over msg (the data for legacy "Ed", its BLAKE2b-512 for "ED")
 * and hand out the trusted comment. */
static int verify_parsed(const struct sign_pub *keys, size_t nkeys,
			 const struct minisig *ms, const void *msg, size_t len,
			 char **comment, struct err *e)
{
	if (minisig_check(keys, nkeys, ms, msg, len, e) < 0)
		return -1;
	if (comment)
		*comment = xstrndup(ms->comment, ms->comment_len);
	return 0;
}

int sign_verify(const struct sign_pub *keys, size_t nkeys,
		const void *data, size_t len, const char *sig, size_t siglen,
		char **comment, struct err *e)
{
	uint8_t hash[HASH_LEN];
	struct minisig ms;

	if (comment)
		*comment = NULL;
	if (nkeys == 0)
		return err_set(e, EXIT_TRUST, "no trusted public key: refusing to verify");
	if (siglen > SIGFILE_MAX)
		return malformed(e, "larger than a signature file can be");
	if (minisig_parse(sig, siglen, &ms, e) < 0)
		return -1;
	if (!ms.hashed)
		return verify_parsed(keys, nkeys, &ms, data, len, comment, e);
	blake2b_512(data, len, hash);
	return verify_parsed(keys, nkeys, &ms, hash, HASH_LEN, comment, e);
}

int sign_verify_sigfile(const struct sign_pub *keys, size_t nkeys,
			const void *data, size_t len, const char *sigpath,
			char **comment, struct err *e)
{
	struct buf text = BUF_INIT;
	int rc;

	if (comment)
		*comment = NULL;
	if (fs_read_regular(sigpath, SIGFILE_MAX, &text, e) < 0) {
		if (e)
			e->code = EXIT_TRUST;   /* no signature: not trusted */
		buf_release(&text);
		return -1;
	}
	rc = sign_verify(keys, nkeys, data, len, text.data, text.len, comment, e);
	buf_release(&text);
	return rc;
}

int sign_verify_file(const struct sign_pub *keys, size_t nkeys,
		     const char *path, const char *sigpath, char **comment,
		     struct err *e)
{
	char *own = sigpath ? NULL : xasprintf("%s.minisig", path);
	struct buf text = BUF_INIT, data = BUF_INIT;
	uint8_t hash[HASH_LEN];
	struct minisig ms;
	int rc = -1;

	if (comment)
		*comment = NULL;
	if (!sigpath)
		sigpath = own;
	if (nkeys == 0) {
		err_set(e, EXIT_TRUST, "no trusted public key: refusing to verify");
		goto done;
	}
	if (fs_read_file(sigpath, SIGFILE_MAX, &text, e) < 0) {
		if (e)
			e->code = EXIT_TRUST;   /* no signature: not trusted */
		goto done;
	}
	if (minisig_parse(text.data, text.len, &ms, e) < 0) {
		err_prefix(e, "%s: ", sigpath);
		goto done;
	}
	if (ms.hashed ? blake2b_file(path, hash, e) < 0
		      : fs_read_file(path, LEGACY_DATA_MAX, &data, e) < 0)
		goto done;
	if (verify_parsed(keys, nkeys, &ms, ms.hashed ? hash : (uint8_t *)data.data,
			  ms.hashed ? HASH_LEN : data.len, comment, e) < 0) {
		err_prefix(e, "%s: ", path);
		goto done;
	}
	rc = 0;
done:
	buf_release(&data);
	buf_release(&text);
	free(own);
	return rc;
}
