/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: buf, err, hash, fsutil. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "hash.h"

static void test_buf_grows(void **state)
{
	struct buf b = BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		buf_addf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.data));
	assert_true(strncmp(b.data, "0,1,2,", 6) == 0);
	buf_release(&b);
}

static void test_buf_quoted(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_add_quoted(&b, "a\"b\\c\nd\x01");
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\"");
	buf_release(&b);
}

static void test_err_prefix(void **state)
{
	struct err e;

	(void)state;
	assert_int_equal(err_set(&e, EXIT_TRUST, "bad %s", "sig"), -1);
	err_prefix(&e, "fetch %s: ", "ftp://x/");
	assert_string_equal(e.msg, "fetch ftp://x/: bad sig");
	assert_int_equal(e.code, EXIT_TRUST);
}

static void test_sha256_known(void **state)
{
	uint8_t d[32];
	char hex[65];

	(void)state;
	sha256_buf("abc", 3, d);
	hex_encode(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(is_sha256_hex(hex));
	assert_false(is_sha256_hex("abc"));
	assert_int_equal(hex_decode(hex, d, 32), 0);
	assert_int_equal(hex_decode("zz", d, 1), -1);
}

static void test_write_atomic(void **state)
{
	char dir[] = "/tmp/upgr-unit.XXXXXX";
	struct buf b = BUF_INIT;
	struct err e;
	struct stat st;
	char *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	p = fs_join(dir, "sub/dir/f");
	*strrchr(p, '/') = '\0';
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	p[strlen(p)] = '/';
	assert_int_equal(fs_write_atomic(p, "hello", 5, 0640, &e), 0);
	assert_int_equal(fs_read_file(p, 100, &b, &e), 0);
	assert_string_equal(b.data, "hello");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(fs_read_file(p, 4, &b, &e), -1);
	assert_int_equal(fs_write_new(p, "x", 1, 0600, &e), -1);
	assert_int_equal(fs_remove_tree(dir, &e), 0);
	assert_int_equal(access(dir, F_OK), -1);
	buf_release(&b);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_grows),
		cmocka_unit_test(test_buf_quoted),
		cmocka_unit_test(test_err_prefix),
		cmocka_unit_test(test_sha256_known),
		cmocka_unit_test(test_write_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
