/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: diff (the unified diff of the dry run's --diff). Fixed
 * cases against diff -u's output, and random texts whose diff, applied
 * back to the old text, must give the new one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diff.h"

static enum diff_result run(const char *a, const char *b, struct buf *out)
{
	buf_reset(out);
	return diff_unified(a, strlen(a), b, strlen(b), "a/f", "b/f", out);
}

static void test_same(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(run("x\ny\n", "x\ny\n", &out), DIFF_SAME);
	assert_int_equal(out.len, 0);
	buf_release(&out);
}

static void test_one_change(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(run("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", &out),
			 DIFF_TEXT);
	assert_string_equal(out.data, "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
	buf_release(&out);
}

static void test_two_hunks(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(run("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n",
			     "A\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nL\n", &out), DIFF_TEXT);
	assert_string_equal(out.data, "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n d\n"
			    "@@ -9,4 +9,4 @@\n i\n j\n k\n-l\n+L\n");
	buf_release(&out);
}

static void test_empty_and_no_newline(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(run("", "new\n", &out), DIFF_TEXT);
	assert_string_equal(out.data, "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+new\n");
	assert_int_equal(run("x\n", "x", &out), DIFF_TEXT);
	assert_string_equal(out.data, "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+x\n\\ No newline at end of file\n");
	assert_int_equal(run("gone\n", "", &out), DIFF_TEXT);
	assert_string_equal(out.data, "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-gone\n");
	buf_release(&out);
}

static void test_binary_and_large(void **state)
{
	struct buf out = BUF_INIT;
	char *big = malloc(DIFF_MAX_BYTES + 2);

	(void)state;
	assert_int_equal(diff_unified("a\0b", 3, "a\0c", 3, "a/f", "b/f", &out), DIFF_BINARY);
	assert_string_equal(out.data, "Binary files a/f and b/f differ\n");
	memset(big, 'x', DIFF_MAX_BYTES + 1);
	big[DIFF_MAX_BYTES + 1] = '\0';
	assert_int_equal(run(big, "x\n", &out), DIFF_TOO_LARGE);
	assert_string_equal(out.data, "files a/f and b/f differ (too large to show)\n");
	free(big);
	buf_release(&out);
}

/* Apply a unified diff to a (each hunk's '-' and ' ' lines must match). */
static char *apply(const char *a, const char *patch)
{
	struct buf r = BUF_INIT;
	const char *p = strstr(patch, "@@"), *ap = a;
	size_t line = 1;
	char prev = 0;

	while (p && *p) {
		unsigned long as = strtoul(p + 4, NULL, 10);
		const char *nl = strchr(p, '\n');

		if (strchr(p, ',') && strchr(p, ',') < strchr(p + 4, ' ') &&
		    strtoul(strchr(p, ',') + 1, NULL, 10) == 0)
			as++;               /* an empty old range names the line before */
		while (line < as) {
			const char *e = strchr(ap, '\n');

			buf_add(&r, ap, (size_t)(e - ap + 1));
			ap = e + 1, line++;
		}
		for (p = nl + 1; *p && strncmp(p, "@@", 2); p = nl + 1) {
			nl = strchr(p, '\n');
			if (*p == '\\') {
				/* After a '-' line it speaks of the old text only. */
				if (prev != '-' && r.len && r.data[r.len - 1] == '\n')
					r.data[--r.len] = '\0';
				continue;
			}
			prev = *p;
			if (*p == ' ' || *p == '-') {
				const char *e = strchr(ap, '\n');
				size_t n = e ? (size_t)(e - ap) : strlen(ap);

				assert_true(n == (size_t)(nl - p - 1) && !memcmp(ap, p + 1, n));
				ap += e ? n + 1 : n, line++;
			}
			if (*p == ' ' || *p == '+') {
				buf_add(&r, p + 1, (size_t)(nl - p - 1));
				buf_adds(&r, "\n");
			}
		}
	}
	buf_adds(&r, ap);
	return r.data ? r.data : calloc(1, 1);
}

static void random_text(struct buf *b, unsigned *seed, int lines)
{
	int i;

	buf_reset(b);
	for (i = 0; i < lines; i++)
		buf_addf(b, "%c\n", 'a' + rand_r(seed) % 4);
	if (rand_r(seed) % 4 == 0)
		buf_adds(b, "tail");
}

static void test_random_roundtrip(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT, out = BUF_INIT;
	unsigned seed = 15;
	int i;

	(void)state;
	for (i = 0; i < 2000; i++) {
		char *got;

		random_text(&a, &seed, rand_r(&seed) % 30);
		random_text(&b, &seed, rand_r(&seed) % 30);
		buf_adds(&a, "");
		buf_adds(&b, "");
		buf_reset(&out);
		if (diff_unified(a.data, a.len, b.data, b.len, "a", "b", &out) == DIFF_SAME)
			continue;
		got = apply(a.data, out.data);
		if (strcmp(got, b.data))
			fail_msg("case %d: a=[%s] b=[%s] diff=[%s] got=[%s]", i, a.data, b.data,
				 out.data, got);
		free(got);
	}
	buf_release(&a);
	buf_release(&b);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_one_change),
		cmocka_unit_test(test_two_hunks),
		cmocka_unit_test(test_empty_and_no_newline),
		cmocka_unit_test(test_binary_and_large),
		cmocka_unit_test(test_random_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
