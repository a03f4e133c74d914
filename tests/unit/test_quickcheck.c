/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the quick check's record (quickcheck.c). A record saved
 * sorted and appended to loads sorted; each line vouches for its own
 * stat, so a path with an old and a new line is vouched for at either
 * inode, and a line with the file's stat that names other bytes vouches
 * against it; a last line without its newline is not read, is not
 * counted, and is cut off by the next append; an append to a record that
 * is not the one read is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "fsutil.h"
#include "hash.h"
#include "quickcheck.h"
#include "xalloc.h"

static char dir[] = "/tmp/upgr-quickcheck.XXXXXX";

/* A file at dir/name holding text, and its lstat. */
static void put(const char *name, const char *text, struct stat *st)
{
	char *p = fs_join(dir, name);
	struct err e;

	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0644, &e), 0);
	assert_int_equal(lstat(p, st), 0);
	free(p);
}

static void add(struct quickcheck *q, const char *path, const char *text,
		const struct stat *st)
{
	uint8_t sha[SHA256_LEN];
	struct qc_stat qs;

	sha256_buf(text, strlen(text), sha);
	quickcheck_stat(st, &qs);
	quickcheck_add(q, path, sha, &qs);
}

static bool same(const struct quickcheck *q, const char *path, const char *text,
		 const struct stat *st)
{
	uint8_t sha[SHA256_LEN];

	sha256_buf(text, strlen(text), sha);
	return quickcheck_same(q, path, sha, st);
}

static char *record_path(void)
{
	return fs_join(dir, QUICKCHECK_FILE);
}

static void test_append(void **state)
{
	struct quickcheck q = QUICKCHECK_INIT, more = QUICKCHECK_INIT, got;
	struct stat a1, a2, b, c;
	struct err e;
	size_t i;

	(void)state;
	put("a", "alpha\n", &a1);
	put("b", "beta\n", &b);
	put("c", "gamma\n", &c);
	add(&q, "c", "gamma\n", &c);
	add(&q, "a", "alpha\n", &a1);
	add(&q, "b", "beta\n", &b);
	assert_int_equal(quickcheck_save(dir, &q, &e), 0);
	quickcheck_release(&q);

	quickcheck_load(dir, &got);
	assert_true(got.loaded);
	assert_int_equal(got.n, 3);
	assert_int_equal(got.lines, 3);
	/* a is replaced (another inode), and c is read again. */
	put("a", "ALPHA\n", &a2);
	add(&more, "a", "ALPHA\n", &a2);
	add(&more, "0first", "zero\n", &a2);     /* sorts before all */
	assert_int_equal(quickcheck_append(dir, &got, &more, &e), 0);
	quickcheck_release(&more);
	quickcheck_release(&got);

	quickcheck_load(dir, &got);
	assert_int_equal(got.n, 5);
	assert_int_equal(got.lines, 5);
	for (i = 1; i < got.n; i++)
		assert_true(strcmp(got.v[i - 1].path, got.v[i].path) <= 0);
	assert_true(same(&got, "a", "ALPHA\n", &a2));     /* the new line */
	assert_true(same(&got, "a", "alpha\n", &a1));     /* the old one: its inode */
	assert_false(same(&got, "a", "alpha\n", &a2));
	assert_true(same(&got, "b", "beta\n", &b));
	assert_true(same(&got, "c", "gamma\n", &c));
	assert_false(same(&got, "d", "gamma\n", &c));
	quickcheck_release(&got);
}

static void test_contradiction(void **state)
{
	struct quickcheck q = QUICKCHECK_INIT, got;
	struct stat st;
	struct err e;

	(void)state;
	put("x", "one\n", &st);
	add(&q, "x", "one\n", &st);
	add(&q, "x", "two\n", &st);             /* the same stat, other bytes */
	assert_int_equal(quickcheck_save(dir, &q, &e), 0);
	quickcheck_release(&q);
	quickcheck_load(dir, &got);
	assert_false(same(&got, "x", "one\n", &st));
	assert_false(same(&got, "x", "two\n", &st));
	quickcheck_release(&got);
}

static void test_cut_short(void **state)
{
	struct quickcheck q = QUICKCHECK_INIT, more = QUICKCHECK_INIT, got;
	struct stat a, b;
	struct buf text = BUF_INIT;
	char *path = record_path();
	const char *end, *start;
	struct err e;
	size_t whole;
	int fd;

	(void)state;
	put("a", "alpha\n", &a);
	put("b", "beta\n", &b);
	add(&q, "a", "alpha\n", &a);
	add(&q, "b", "beta\n", &b);
	assert_int_equal(quickcheck_save(dir, &q, &e), 0);
	quickcheck_release(&q);
	/* b's line again at the end, without its newline. */
	assert_int_equal(fs_read_file(path, 1 << 20, &text, &e), 0);
	whole = text.len;
	end = text.data + text.len - 1;          /* b's line is the last */
	for (start = end; start > text.data && start[-1] != '\n'; start--)
		;
	assert_memory_equal(end - 2, " b\n", 3);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, start, (size_t)(end - start)), end - start);
	close(fd);
	buf_release(&text);

	quickcheck_load(dir, &got);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.lines, 2);
	assert_int_equal(got.bytes, whole);
	add(&more, "c", "gamma\n", &b);
	assert_int_equal(quickcheck_append(dir, &got, &more, &e), 0);
	quickcheck_release(&got);
	quickcheck_load(dir, &got);
	assert_int_equal(got.n, 3);
	assert_int_equal(got.lines, 3);
	assert_true(same(&got, "b", "beta\n", &b));
	assert_true(same(&got, "c", "gamma\n", &b));
	quickcheck_release(&got);

	/* A record shorter than the one read is not appended to. */
	quickcheck_load(dir, &got);
	assert_int_equal(truncate(path, 10), 0);
	assert_int_equal(quickcheck_append(dir, &got, &more, &e), -1);
	quickcheck_release(&got);
	quickcheck_release(&more);
	free(path);
}

static int setup(void **state)
{
	(void)state;
	crypto_init();
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return fs_remove_tree(dir, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_contradiction),
		cmocka_unit_test(test_cut_short),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
