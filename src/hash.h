/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 (libgcrypt) and hex. Every hash in upgr is SHA-256. */
#ifndef UPGR_HASH_H
#define UPGR_HASH_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

/* Initialise libgcrypt once (version check, no secure memory warnings).
 * Safe to call many times and from any thread (the first caller does it,
 * the others wait); every entry point that hashes or signs calls it. */
void crypto_init(void);

void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* Hash the file at path; *size (if not NULL) receives its length. */
int sha256_file(const char *path, uint8_t out[SHA256_LEN], uint64_t *size, struct err *e);
int sha256_fd(int fd, uint8_t out[SHA256_LEN], uint64_t *size, struct err *e);
/* The digest of everything read from fd with libgcrypt's algo (GCRY_MD_*);
 * out holds gcry_md_get_algo_dlen(algo) bytes. sha256_fd is this with
 * SHA-256; minisign's prehash uses it with BLAKE2b-512. */
int digest_fd(int algo, int fd, uint8_t *out, uint64_t *size, struct err *e);

/* Lower-case hex; out must hold 2*len+1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decode exactly 2*len hex digits (either case); -1 on anything else. */
int hex_decode(const char *in, uint8_t *out, size_t len);
/* True if s is exactly 64 lower- or upper-case hex digits. */
int is_sha256_hex(const char *s);

#endif
