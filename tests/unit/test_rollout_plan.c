/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the rollout plan's parse and emit, percentages, wave lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "buf.h"
#include "diag.h"
#include "rollout_plan.h"

static const char good[] =
	"upgr: 1\n"
	"type: rollout\n"
	"app: hello\n"
	"channel: stable\n"
	"version: \"1.2.0\"\n"
	"from: \"1.1.0\"\n"
	"waves: [1, 10, 50, 100]\n"
	"wave: 2\n"
	"soak: 1800\n"
	"max_failed: 2.5\n"
	"state: running\n"
	"started: 2026-11-24T10:00:00Z\n"
	"wave_started: 2026-11-24T11:00:00Z\n"
	"reason: \"wave 2 opened\"\n";

static int parse(const char *text, struct rollout_plan *p, struct diag *d)
{
	diag_init(d, "plan.yaml");
	return rollout_plan_parse(text, strlen(text), p, d);
}

static void test_parse_good(void **state)
{
	struct rollout_plan p;
	struct diag d;

	(void)state;
	assert_int_equal(parse(good, &p, &d), 0);
	assert_string_equal(p.app, "hello");
	assert_string_equal(p.from, "1.1.0");
	assert_int_equal(p.nwaves, 4);
	assert_int_equal(p.waves[3], 100);
	assert_int_equal(p.wave, 2);
	assert_int_equal(p.soak, 1800);
	assert_int_equal(p.max_failed, 250);
	assert_int_equal(p.state, ROLLOUT_RUNNING);
	assert_string_equal(p.reason, "wave 2 opened");
	rollout_plan_release(&p);
	diag_release(&d);
}

/* The canonical form is the good text itself, and parses back equal. */
static void test_roundtrip(void **state)
{
	struct rollout_plan p, q;
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct diag d;

	(void)state;
	assert_int_equal(parse(good, &p, &d), 0);
	diag_release(&d);
	rollout_plan_emit(&p, &a);
	assert_string_equal(a.data, good);
	assert_int_equal(parse(a.data, &q, &d), 0);
	rollout_plan_emit(&q, &b);
	assert_string_equal(a.data, b.data);
	free(p.from);
	p.from = strdup("");
	rollout_plan_set_reason(&p, "two\nlines \x01 here");
	assert_string_equal(p.reason, "two");
	buf_release(&a);
	rollout_plan_emit(&p, &a);
	diag_release(&d);
	rollout_plan_release(&q);
	assert_int_equal(parse(a.data, &q, &d), 0);
	assert_string_equal(q.from, "");
	rollout_plan_release(&q);
	rollout_plan_release(&p);
	diag_release(&d);
	buf_release(&a);
	buf_release(&b);
}

/* Replace the line starting with key (up to its newline) by line. */
static char *with(const char *key, const char *line)
{
	const char *at = strstr(good, key), *nl = strchr(at, '\n');
	size_t n = strlen(good) + strlen(line) + 2;
	char *s = malloc(n);

	snprintf(s, n, "%.*s%s%s", (int)(at - good), good, line, nl);
	return s;
}

static void test_parse_bad(void **state)
{
	static const char *const cases[][3] = {
		{ "upgr:", "upgr: 2", "format version 2" },
		{ "type:", "type: release", "expected rollout" },
		{ "app:", "app: Hello", "not a valid name" },
		{ "version:", "version: \"x\"", "not a version" },
		{ "from:", "from: 1.x", "not a version" },
		{ "waves:", "waves: [10, 10]", "must grow" },
		{ "waves:", "waves: [0, 10]", "must grow" },
		{ "waves:", "waves: [1, 101]", "waves[1]" },
		{ "waves:", "waves: []", "1 to 32" },
		{ "wave:", "wave: 5", "number of waves" },
		{ "wave:", "wave: 0", "number of waves" },
		{ "soak:", "soak: -1", "soak" },
		{ "max_failed:", "max_failed: 2.555", "max_failed" },
		{ "max_failed:", "max_failed: 101", "max_failed" },
		{ "max_failed:", "max_failed: \"2\"", "max_failed" },
		{ "state:", "state: sleeping", "not running" },
		{ "started:", "started: 2026-11-24", "UTC time" },
		{ "reason:", "reason: \"a\\nb\"", "one line" },
		{ "reason:", "reason: \"ok\"\nextra: 1", "extra" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rollout_plan p;
		struct diag d;
		char *text = with(cases[i][0], cases[i][1]);

		assert_int_equal(parse(text, &p, &d), -1);
		assert_true(d.n > 0);
		if (!strstr(d.v[0].msg, cases[i][2]))
			fail_msg("%s: got '%s'", cases[i][1], d.v[0].msg);
		diag_release(&d);
		free(text);
	}
}

static void test_percent_and_waves(void **state)
{
	unsigned h, w[ROLLOUT_WAVES_MAX];
	char out[8];
	size_t n;

	(void)state;
	assert_int_equal(rollout_percent_parse("2%", true, &h), 0);
	assert_int_equal(h, 200);
	assert_int_equal(rollout_percent_parse("0.25", false, &h), 0);
	assert_int_equal(h, 25);
	assert_int_equal(rollout_percent_parse("100", false, &h), 0);
	assert_int_equal(rollout_percent_parse("2%", false, &h), -1);
	assert_int_equal(rollout_percent_parse("100.01", false, &h), -1);
	assert_int_equal(rollout_percent_parse(".5", false, &h), -1);
	assert_int_equal(rollout_percent_parse("5.", false, &h), -1);
	assert_int_equal(rollout_percent_parse("", false, &h), -1);
	rollout_percent_format(250, out);
	assert_string_equal(out, "2.5");
	rollout_percent_format(5, out);
	assert_string_equal(out, "0.05");
	rollout_percent_format(10000, out);
	assert_string_equal(out, "100");
	assert_int_equal(rollout_waves_parse("1,10,50,100", w, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(rollout_waves_parse("5", w, &n), 0);
	assert_int_equal(rollout_waves_parse("10,5", w, &n), -1);
	assert_int_equal(rollout_waves_parse("0,5", w, &n), -1);
	assert_int_equal(rollout_waves_parse("1,,5", w, &n), -1);
	assert_int_equal(rollout_waves_parse("1,5,", w, &n), -1);
	assert_int_equal(rollout_waves_parse("1,200", w, &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_percent_and_waves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
