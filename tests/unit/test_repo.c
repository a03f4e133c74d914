/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the agent's pure decisions (rollout, trusted comments) and
 * the report's format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "buf.h"
#include "repo.h"
#include "report.h"
#include "ydoc.h"

/* A host in at p% is in at every larger percentage; about p% are in. */
static void test_rollout_stable(void **state)
{
	char host[32];
	unsigned p, h, in[101] = { 0 };

	(void)state;
	for (h = 0; h < 2000; h++) {
		bool was = false;

		snprintf(host, sizeof host, "web-%u", h);
		assert_false(repo_rollout_includes(host, "1.2.0", 0));
		assert_true(repo_rollout_includes(host, "1.2.0", 100));
		for (p = 0; p <= 100; p++) {
			bool now = repo_rollout_includes(host, "1.2.0", p);

			assert_true(now || !was);
			in[p] += now;
			was = now;
		}
	}
	assert_in_range(in[10], 140, 260);
	assert_in_range(in[50], 900, 1100);
}

/* Another version picks other hosts first. */
static void test_rollout_per_version(void **state)
{
	char host[32];
	unsigned h, differ = 0;

	(void)state;
	for (h = 0; h < 500; h++) {
		snprintf(host, sizeof host, "web-%u", h);
		differ += repo_rollout_includes(host, "1.2.0", 50) !=
			  repo_rollout_includes(host, "1.3.0", 50);
	}
	assert_true(differ > 100);
}

static void test_comment(void **state)
{
	struct buf b = BUF_INIT;
	struct err e;

	(void)state;
	repo_sig_comment("hello", "channels/stable.yaml", 1795514400, &b);
	assert_string_equal(b.data, "timestamp:1795514400\tapp:hello\tfile:channels/stable.yaml");
	assert_int_equal(repo_check_comment(b.data, "hello", "channels/stable.yaml", &e), 0);
	assert_int_equal(repo_check_comment(b.data, "hell", "channels/stable.yaml", &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(repo_check_comment(b.data, "hello", "channels/beta.yaml", &e), -1);
	assert_int_equal(repo_check_comment(b.data, "hello", "stable.yaml", &e), -1);
	assert_int_equal(repo_check_comment("app:hello file:channels/stable.yamlx", "hello",
					    "channels/stable.yaml", &e), -1);
	assert_int_equal(repo_check_comment("timestamp:1 file:channels/stable.yaml app:hello",
					    "hello", "channels/stable.yaml", &e), 0);
	assert_int_equal(repo_check_comment("", "hello", "channels/stable.yaml", &e), -1);
	buf_release(&b);
}

/* The report reads back as YAML with every field, whatever the strings hold. */
static void test_report_format(void **state)
{
	struct app_status st[2];
	struct buf b = BUF_INIT;
	struct ydoc doc = { 0 };
	struct diag d;
	const struct ynode *apps, *a;
	const char *s;

	(void)state;
	memset(st, 0, sizeof st);
	strcpy(st[0].app, "hello");
	strcpy(st[0].version, "1.2.0");
	strcpy(st[0].result, "refused");
	strcpy(st[0].error, "bad \"quote\"\nand: a newline");
	strcpy(st[1].app, "world");
	report_format("web-17", "2026-11-24T02:00:03.123Z", st, 2, &b);
	diag_init(&d, "status.yaml");
	assert_int_equal(ydoc_parse(b.data, b.len, 1 << 20, 0, &doc, &d), 0);
	assert_int_equal(ydoc_get_str(doc.root, "", "host", &s, &d), 1);
	assert_string_equal(s, "web-17");
	apps = ydoc_get(doc.root, "apps");
	assert_non_null(apps);
	assert_int_equal(apps->nitems, 2);
	a = apps->items[0];
	assert_int_equal(ydoc_get_str(a, "", "error", &s, &d), 1);
	assert_string_equal(s, "bad \"quote\"\nand: a newline");
	a = apps->items[1];
	assert_non_null(ydoc_get(a, "version"));
	assert_non_null(ydoc_get(a, "action"));
	ydoc_release(&doc);
	diag_release(&d);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollout_stable),
		cmocka_unit_test(test_rollout_per_version),
		cmocka_unit_test(test_comment),
		cmocka_unit_test(test_report_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
