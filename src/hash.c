/* SPDX-License-Identifier: Apache-2.0 */
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Once per process, whichever thread comes first: libgcrypt's own
 * initialisation is not safe to run in two threads at once (the fleet's
 * fetch workers hash report bytes; the tree scan runs beside the main
 * thread), and gcry_check_version aborts on the second concurrent call. */
static void crypto_init_once(void)
{
	if (!gcry_check_version(GCRYPT_VERSION)) {
		/* A libgcrypt older than the headers: nothing is safe. */
		abort();
	}
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

void crypto_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, crypto_init_once);
}

void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	crypto_init();
	gcry_md_hash_buffer(GCRY_MD_SHA256, out, data, len);
}

int digest_fd(int algo, int fd, uint8_t *out, uint64_t *size, struct err *e)
{
	char chunk[1 << 16];
	gcry_md_hd_t md;
	uint64_t total = 0;
	ssize_t n;

	crypto_init();
	if (gcry_md_open(&md, algo, 0))
		return err_set(e, EXIT_SOFTWARE, "%s: cannot open digest", gcry_md_algo_name(algo));
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gcry_md_close(md);
			return err_sys(e, EXIT_SOFTWARE, "read");
		}
		if (n == 0)
			break;
		gcry_md_write(md, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	memcpy(out, gcry_md_read(md, algo), gcry_md_get_algo_dlen(algo));
	gcry_md_close(md);
	if (size)
		*size = total;
	return 0;
}

int sha256_fd(int fd, uint8_t out[SHA256_LEN], uint64_t *size, struct err *e)
{
	return digest_fd(GCRY_MD_SHA256, fd, out, size, e);
}

int sha256_file(const char *path, uint8_t out[SHA256_LEN], uint64_t *size, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc;

	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", path);
	rc = sha256_fd(fd, out, size, e);
	close(fd);
	if (rc < 0)
		return err_prefix(e, "%s: ", path);
	return 0;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* One more than the value of each hex digit (either case); 0 for every
 * other byte, NUL included, so a decoder stops at a string's end by itself. */
static const unsigned char hexval1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

int hex_decode(const char *in, uint8_t *out, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i;

	/* One pass: a NUL before 2 * len digits is not a digit. */
	for (i = 0; i < len; i++) {
		unsigned hi = hexval1[p[2 * i]], lo;

		if (!hi || !(lo = hexval1[p[2 * i + 1]]))
			return -1;
		out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return p[2 * len] == '\0' ? 0 : -1;
}

int is_sha256_hex(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < SHA256_HEX_LEN; i++)
		if (!hexval1[p[i]])
			return 0;
	return p[SHA256_HEX_LEN] == '\0';
}
