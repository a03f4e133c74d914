/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the node_exporter textfile metrics (metrics.h): every
 * family has HELP and TYPE before its samples, one sample per app, the
 * info metric only for an installed version, label values escaped, and
 * the file written whole. The shell test tests/cli/metrics.sh checks the
 * agent's file with promtool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "metrics.h"

static const struct metrics_app two[] = {
	{ "hello", "1.2.0", 0, false, 1764590400.5, 0.25, 4096, 0 },
	{ "web", "", 69, true, 1764590401.0, 0, 0, 3 },
};

static bool has_line(const struct buf *b, const char *line)
{
	const char *at = b->data;
	size_t n = strlen(line);

	for (; at; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
		if (!strncmp(at, line, n) && (at[n] == '\n' || !at[n]))
			return true;
	return false;
}

static void test_samples(void **state)
{
	struct buf b = BUF_INIT;
	static const char *const want[] = {
		"# HELP upgr_last_run_timestamp_seconds When the last upgr run ended.",
		"# TYPE upgr_last_run_timestamp_seconds gauge",
		"upgr_last_run_timestamp_seconds{app=\"hello\"} 1764590400.500",
		"upgr_last_run_success{app=\"hello\"} 1",
		"upgr_last_run_success{app=\"web\"} 0",
		"upgr_last_run_exit_code{app=\"web\"} 69",
		"upgr_installed_info{app=\"hello\",version=\"1.2.0\"} 1",
		"upgr_held{app=\"web\"} 1",
		"upgr_last_downtime_seconds{app=\"hello\"} 0.250",
		"upgr_last_fetched_bytes{app=\"hello\"} 4096",
		"upgr_consecutive_failures{app=\"web\"} 3",
		"# TYPE upgr_consecutive_failures gauge",
	};
	size_t i;

	(void)state;
	metrics_render(two, 2, &b);
	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!has_line(&b, want[i]))
			fail_msg("no line: %s\n%s", want[i], b.data);
	/* No version installed: no info sample for web. */
	assert_null(strstr(b.data, "upgr_installed_info{app=\"web\""));
	/* HELP and TYPE come before the first sample of their family. */
	assert_true(strstr(b.data, "# TYPE upgr_held gauge") < strstr(b.data, "upgr_held{"));
	assert_int_equal(b.data[b.len - 1], '\n');
	buf_release(&b);
}

static void test_escaping(void **state)
{
	const struct metrics_app odd = { "a\"b\\c", "1.0.0+x\ny", 0, false, 0, 0, 0, 0 };
	struct buf b = BUF_INIT;

	(void)state;
	metrics_render(&odd, 1, &b);
	assert_true(has_line(&b, "upgr_installed_info{app=\"a\\\"b\\\\c\",version=\"1.0.0+x\\ny\"} 1"));
	buf_release(&b);
}

static void test_write(void **state)
{
	char dir[] = "/tmp/upgr-metrics.XXXXXX";
	struct buf b = BUF_INIT, want = BUF_INIT;
	struct stat st;
	struct err e;
	char *path;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = fs_join(dir, "upgr.prom");
	assert_int_equal(metrics_write(path, two, 2, &e), 0);
	assert_int_equal(fs_read_file(path, 1 << 20, &b, &e), 0);
	metrics_render(two, 2, &want);
	assert_int_equal(b.len, want.len);
	assert_memory_equal(b.data, want.data, b.len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* A directory that is not there: an error naming the key. */
	free(path);
	path = fs_join(dir, "no/such/upgr.prom");
	assert_int_equal(metrics_write(path, two, 2, &e), -1);
	assert_non_null(strstr(e.msg, "metrics_file: "));
	assert_int_equal(fs_remove_tree(dir, &e), 0);
	buf_release(&b);
	buf_release(&want);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
