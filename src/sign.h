/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 keys and signatures through libgcrypt, in minisign's file
 * formats (DESIGN.md "Signatures", contract).
 *
 *   public key file:  "untrusted comment: ...\n" base64("Ed" keyid[8] pk[32]) "\n"
 *   secret key file:  unencrypted, as `minisign -G -W` writes it
 *   signature file:   "untrusted comment: ...\n"
 *                     base64(alg[2] keyid[8] sig[64]) "\n"
 *                     "trusted comment: ...\n"
 *                     base64(global_sig[64]) "\n"
 * alg "ED": sig is over BLAKE2b-512(file); legacy "Ed": over the file.
 * global_sig is over sig[64] || trusted comment text. */
#ifndef UPGR_SIGN_H
#define UPGR_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "b64.h"          /* b64_encode, b64_decode */
#include "buf.h"
#include "err.h"

#define SIGN_KEYID_LEN 8
#define SIGN_PK_LEN 32
#define SIGN_SK_LEN 64          /* seed[32] || pk[32], as minisign stores it */
#define SIGN_SIG_LEN 64
#define SIGN_COMMENT_MAX 8192   /* minisign's trusted comment line buffer */
/* The longest trusted comment text minisign accepts: its 8192-byte line
 * buffer holds "trusted comment: ", the text, the newline and a NUL. */
#define SIGN_COMMENT_TEXT_MAX (SIGN_COMMENT_MAX - 19)

struct sign_pub {
	uint8_t keyid[SIGN_KEYID_LEN];
	uint8_t pk[SIGN_PK_LEN];
};

struct pkcs11_key;
/* A secret key, or a PKCS#11 token's key (token not NULL: sk holds only
 * the public half at sk + 32, and the token signs). */
struct sign_key {
	uint8_t keyid[SIGN_KEYID_LEN];
	uint8_t sk[SIGN_SK_LEN];
	struct pkcs11_key *token;
};

/* Write NAME.key (0600) and NAME.pub (0644), each complete or absent (a
 * temporary file hard-linked into place, which never replaces a file, and
 * its directory fsynced); refuses with EXIT_USAGE if either exists. The
 * secret key comes first: a crash between the two leaves a key whose
 * public half can be derived again (audit_device_key does), never a
 * public key whose secret is lost. */
int sign_keygen(const char *name, struct err *e);
/* sign_keygen with NAME.key encrypted by pass (passlen bytes) in
 * minisign's format (kdf "Sc": scrypt with minisign's limits, the key id,
 * secret key and checksum XORed with its output); pass NULL: unencrypted,
 * as `minisign -G -W`. */
int sign_keygen_pass(const char *name, const char *pass, size_t passlen,
		     struct err *e);

/* Write NAME.pub (never replacing a file) for the PKCS#11 token key the
 * URI names (sign_key_open), with the key id sign_key_open gives it. */
int sign_keygen_token(const char *name, const char *uri, struct err *e);

/* Load a minisign public key file, or parse its base64 line. Small-order
 * public keys are refused. */
int sign_pub_load(const char *path, struct sign_pub *pub, struct err *e);
int sign_pub_parse(const char *b64, struct sign_pub *pub, struct err *e);
/* The public key file's text for pub ("untrusted comment: ...\n<b64>\n"). */
void sign_pub_format(const struct sign_pub *pub, struct buf *out);

/* Load an unencrypted minisign secret key (refuses encrypted ones, and a
 * key file that others can read): the agent's device key, which runs
 * unattended. Wipe with sign_key_wipe after use. */
int sign_key_load(const char *path, struct sign_key *key, struct err *e);
/* What every signing command uses: sign_key_load; a "pkcs11:" URI
 * (pkcs11.h) opens a token's key, its key id the first 8 bytes of
 * BLAKE2b-512 of its public key; and an encrypted key
 * ("Sc", minisign -G or upgr keygen) is opened with the passphrase from
 * passphrase_file (sign_passphrase_get) or else the terminal. A wrong
 * passphrase is EXIT_TRUST ("wrong passphrase"), no terminal and no file
 * EXIT_USAGE. */
int sign_key_open(const char *path, const char *passphrase_file,
		  struct sign_key *key, struct err *e);

/* A passphrase in libgcrypt's secure memory (free with
 * sign_passphrase_free): the first line of file (without its newline;
 * the file must be a regular file only its owner can read or write, else
 * EXIT_TRUST), or when file is NULL, read from /dev/tty without echo,
 * asked twice when confirm is set (a mismatch is EXIT_USAGE). No
 * terminal: EXIT_USAGE, naming --passphrase-file. what names the key in
 * the prompt. An empty passphrase is refused (EXIT_USAGE). */
int sign_passphrase_get(const char *file, const char *what, bool confirm,
			char **pass, size_t *len, struct err *e);
void sign_passphrase_free(char *pass, size_t len);
/* Wipes the key and closes its token: key must have been zeroed or
 * filled by a loader (an uninitialized token pointer would be closed). */
void sign_key_wipe(struct sign_key *key);
void sign_key_public(const struct sign_key *key, struct sign_pub *pub);

/* The key id as minisign prints it ("minisign public key 1A2B..."): the
 * little-endian 64-bit number in 16 upper-case hex digits. */
void sign_keyid_hex(const uint8_t keyid[SIGN_KEYID_LEN], char out[17]);

/* Make a minisign "ED" signature file's text for data, with the given
 * trusted comment (no CR or LF, at most SIGN_COMMENT_TEXT_MAX bytes). */
int sign_minisig(const struct sign_key *key, const void *data, size_t len,
		 const char *trusted_comment, struct buf *out, struct err *e);
/* sign_minisig for the file at path, written durably to path.minisig. */
int sign_file(const struct sign_key *key, const char *path,
	      const char *trusted_comment, struct err *e);

/* Verify a signature file's text against data with any of the trusted
 * keys (fail closed: nkeys == 0 refuses). Checks in minisign's order: key
 * id, file signature, trusted comment signature, each failure with its own
 * message and EXIT_TRUST. On success, if comment is not NULL, it receives
 * the trusted comment's text (after "trusted comment: "), malloc'd. */
int sign_verify(const struct sign_pub *keys, size_t nkeys,
		const void *data, size_t len, const char *sig, size_t siglen,
		char **comment, struct err *e);
/* sign_verify for data already in memory and the signature file at
 * sigpath: what a caller verifies is then exactly the bytes it goes on to
 * use, not a second read of a file that may have changed in between. A
 * missing or unreadable signature file, or one that is not a regular
 * file (fs_read_regular), is EXIT_TRUST. */
int sign_verify_sigfile(const struct sign_pub *keys, size_t nkeys,
			const void *data, size_t len, const char *sigpath,
			char **comment, struct err *e);
/* The same for a file and path.minisig (or sigpath when not NULL). */
int sign_verify_file(const struct sign_pub *keys, size_t nkeys,
		     const char *path, const char *sigpath, char **comment,
		     struct err *e);

/* Raw Ed25519 over a message (the audit log's per-record signature). */
int sign_ed25519(const struct sign_key *key, const void *msg, size_t len,
		 uint8_t sig[SIGN_SIG_LEN], struct err *e);
/* 0 if sig is a valid, canonical signature of msg by pub; else -1. */
int sign_ed25519_verify(const struct sign_pub *pub, const void *msg, size_t len,
			const uint8_t sig[SIGN_SIG_LEN], struct err *e);

#endif
