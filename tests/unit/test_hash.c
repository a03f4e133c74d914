/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: hash.c. The first use of libgcrypt may come from several
 * threads at once (the fleet's fetch workers each hash what they fetch),
 * and must neither abort nor give a wrong hash: in fresh processes, eight
 * threads released together by a barrier each hash first thing. Then
 * sha256_fd of a file longer than its read buffer, against sha256_buf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "hash.h"

#define THREADS 8
#define ROUNDS 40

/* sha256("abc"), FIPS 180-2's first example. */
static const uint8_t abc[SHA256_LEN] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
	0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

static pthread_barrier_t gate;

static void *first_use(void *arg)
{
	uint8_t out[SHA256_LEN];

	(void)arg;
	pthread_barrier_wait(&gate);
	sha256_buf("abc", 3, out);
	return memcmp(out, abc, sizeof out) ? (void *)1 : NULL;
}

/* In a child, so libgcrypt is not yet initialised: exit 0 if every
 * thread got the right hash (an abort is the failure seen). */
static void child(void)
{
	pthread_t th[THREADS];
	void *bad;
	int i, rc = 0;

	pthread_barrier_init(&gate, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&th[i], NULL, first_use, NULL))
			_exit(3);
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], &bad);
		rc |= bad != NULL;
	}
	_exit(rc);
}

static void test_first_use_in_threads(void **state)
{
	int r, st, failed = 0;
	pid_t pid;

	(void)state;
	for (r = 0; r < ROUNDS; r++) {
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child();
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	if (failed)
		fail_msg("%d of %d processes whose first hashes ran in %d threads at once "
			 "aborted or hashed wrong", failed, ROUNDS, THREADS);
}

static void test_fd_matches_buf(void **state)
{
	char path[] = "/tmp/upgr-hash.XXXXXX";
	size_t len = (1 << 18) + 12345, i;
	uint8_t a[SHA256_LEN], b[SHA256_LEN];
	unsigned char *data = malloc(len);
	uint64_t size = 0;
	struct err e;
	int fd;

	(void)state;
	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 131 + (i >> 9));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(sha256_fd(fd, a, &size, &e), 0);
	assert_int_equal(size, len);
	sha256_buf(data, len, b);
	assert_memory_equal(a, b, sizeof a);
	close(fd);
	unlink(path);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: it needs a process that has not hashed yet. */
		cmocka_unit_test(test_first_use_in_threads),
		cmocka_unit_test(test_fd_matches_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
