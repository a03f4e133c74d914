/* SPDX-License-Identifier: Apache-2.0 */
#include "b64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_encode(const uint8_t *in, size_t len, struct buf *out)
{
	char quad[4];
	size_t i;

	for (i = 0; i + 3 <= len; i += 3) {
		quad[0] = alphabet[in[i] >> 2];
		quad[1] = alphabet[(in[i] & 3) << 4 | in[i + 1] >> 4];
		quad[2] = alphabet[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		quad[3] = alphabet[in[i + 2] & 63];
		buf_add(out, quad, 4);
	}
	if (len - i == 1) {
		quad[0] = alphabet[in[i] >> 2];
		quad[1] = alphabet[(in[i] & 3) << 4];
		quad[2] = quad[3] = '=';
		buf_add(out, quad, 4);
	} else if (len - i == 2) {
		quad[0] = alphabet[in[i] >> 2];
		quad[1] = alphabet[(in[i] & 3) << 4 | in[i + 1] >> 4];
		quad[2] = alphabet[(in[i + 1] & 15) << 2];
		quad[3] = '=';
		buf_add(out, quad, 4);
	}
	if (!out->data)
		buf_add(out, "", 0);
}

/* The 6-bit value of c, or -1 if c is not in the alphabet. */
static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outmax)
{
	size_t i, n = 0, pad = 0;
	int v[4], k;
	uint32_t w;

	if (inlen % 4)
		return -1;
	if (inlen >= 4 && in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	for (i = 0; i < inlen; i += 4) {
		size_t last = i + 4 == inlen ? pad : 0;

		for (k = 0; k < 4; k++) {
			v[k] = k >= 4 - (int)last ? 0 : sextet(in[i + (size_t)k]);
			if (v[k] < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Bits under the padding must be zero: one encoding per input. */
		if ((last == 1 && (w & 0xff)) || (last == 2 && (w & 0xffff)))
			return -1;
		if (n + 3 - last > outmax)
			return -1;
		out[n++] = (uint8_t)(w >> 16);
		if (last < 2)
			out[n++] = (uint8_t)(w >> 8);
		if (last < 1)
			out[n++] = (uint8_t)w;
	}
	return (long)n;
}
