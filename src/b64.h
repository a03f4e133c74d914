/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 (RFC 4648 section 4, standard alphabet, with padding): the
 * encoding of every minisign key and signature line. */
#ifndef UPGR_B64_H
#define UPGR_B64_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* The encoded length of len bytes (without a terminating NUL). */
#define B64_LEN(len) (((len) + 2) / 3 * 4)

/* Append the encoding of in[0..len) to out. */
void b64_encode(const uint8_t *in, size_t len, struct buf *out);

/* Decode exactly inlen characters (no whitespace, no line breaks) into out.
 * Returns the decoded length, or -1 on any invalid character, a length
 * that is not a multiple of 4, misplaced or excess padding, non-zero
 * padding bits (so every byte string has exactly one accepted encoding),
 * or more than outmax bytes. */
long b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outmax);

#endif
