/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: window (maintenance windows and freezes: the parser with
 * its error columns, midnight, DST change dates in Europe/Paris). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "window.h"

static time_t at(const char *utc)
{
	time_t t;

	if (channel_time_parse(utc, &t) < 0)
		fail_msg("bad test time %s", utc);
	return t;
}

static void parse_ok(const char *s, struct window *w)
{
	char why[WINDOW_WHY_MAX];
	size_t col;

	if (window_parse(s, w, &col, why) < 0)
		fail_msg("'%s': col %zu: %s", s, col, why);
}

static void test_parse_good(void **state)
{
	static const struct { const char *s, *shown; unsigned days; int start, end; } cases[] = {
		{ "01:00-05:00", "01:00-05:00", 0x7f, 60, 300 },
		{ "23:00-01:30", "23:00-01:30", 0x7f, 1380, 90 },
		{ "Sat,Sun 01:00-05:00 Europe/Paris", "Sat,Sun 01:00-05:00 Europe/Paris",
		  0x41, 60, 300 },
		{ "sun,SAT 01:00-05:00 UTC", "Sat,Sun 01:00-05:00 UTC", 0x41, 60, 300 },
		{ "Mon-Fri 09:00-17:00", "Mon,Tue,Wed,Thu,Fri 09:00-17:00", 0x3e, 540, 1020 },
		{ "Fri-Mon 22:00-02:00", "Mon,Fri,Sat,Sun 22:00-02:00", 0x63, 1320, 120 },
		{ "Wed  03:00-04:00   America/New_York", "Wed 03:00-04:00 America/New_York",
		  0x08, 180, 240 },
	};
	char shown[128];
	struct window w;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		parse_ok(cases[i].s, &w);
		assert_int_equal(w.days, cases[i].days);
		assert_int_equal(w.start, cases[i].start);
		assert_int_equal(w.end, cases[i].end);
		window_format(&w, shown, sizeof shown);
		assert_string_equal(shown, cases[i].shown);
	}
}

static void test_parse_bad(void **state)
{
	static const struct { const char *s; size_t col; const char *word; } cases[] = {
		{ "", 0, "time HH:MM" },
		{ "1:00-05:00", 0, "time HH:MM" },
		{ "Sat,Sun 1:00-05:00", 8, "time HH:MM" },
		{ "Sat,Sux 01:00-05:00", 4, "expected a day" },
		{ "Sat01:00-05:00", 3, "space after the days" },
		{ "Sat 25:00-05:00", 4, "hour" },
		{ "Sat 01:61-05:00", 7, "minute" },
		{ "01:00 05:00", 5, "'-'" },
		{ "01:00-05:00x", 11, "a space and a time zone" },
		{ "01:00-05:00 ", 12, "time zone after" },
		{ "Sat 01:00-01:00", 10, "same time" },
		{ "Sat 01:00-05:00 Europe/Nowhere", 16, "tz database" },
		{ "Sat 01:00-05:00 ../../etc/passwd", 16, "tz database" },
		{ "Sat 01:00-05:00 /usr/share/zoneinfo/UTC", 16, "tz database" },
		{ "Sat 01:00-05:00 Europe/Paris extra", 16, "tz database" },
		{ "Sat 01:00-05:00 zone.tab", 16, "tz database" },
		{ "Mon- 01:00-02:00", 4, "expected a day" },
	};
	char why[WINDOW_WHY_MAX];
	struct window w;
	size_t i, col;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		col = 999;
		if (window_parse(cases[i].s, &w, &col, why) == 0)
			fail_msg("'%s' parsed", cases[i].s);
		if (col != cases[i].col || !strstr(why, cases[i].word))
			fail_msg("'%s': col %zu (want %zu): %s (want %s)", cases[i].s, col,
				 cases[i].col, why, cases[i].word);
	}
}

/* Whether the window s is open at the UTC time t. */
static bool open_at(const char *s, const char *t)
{
	struct window w;

	parse_ok(s, &w);
	return window_open(&w, 1, at(t));
}

static void test_dst_paris(void **state)
{
	static const char *const sat_sun = "Sat,Sun 01:00-05:00 Europe/Paris";

	(void)state;
	/* Spring forward, Sunday 2026-03-29: 02:00 CET becomes 03:00 CEST. */
	assert_false(open_at(sat_sun, "2026-03-28T23:59:00Z"));   /* 00:59 CET */
	assert_true(open_at(sat_sun, "2026-03-29T00:00:00Z"));    /* 01:00 CET */
	assert_true(open_at(sat_sun, "2026-03-29T01:30:00Z"));    /* 03:30 CEST */
	assert_true(open_at(sat_sun, "2026-03-29T02:59:00Z"));    /* 04:59 CEST */
	assert_false(open_at(sat_sun, "2026-03-29T03:00:00Z"));   /* 05:00 CEST, not 04:00 */
	/* The skipped hour never comes. */
	assert_false(open_at("02:00-03:00 Europe/Paris", "2026-03-29T00:59:00Z"));
	assert_false(open_at("02:00-03:00 Europe/Paris", "2026-03-29T01:00:00Z"));
	/* Fall back, Sunday 2026-10-25: 03:00 CEST becomes 02:00 CET. */
	assert_false(open_at(sat_sun, "2026-10-24T22:59:00Z"));   /* 00:59 CEST */
	assert_true(open_at(sat_sun, "2026-10-24T23:00:00Z"));    /* 01:00 CEST */
	assert_true(open_at(sat_sun, "2026-10-25T03:30:00Z"));    /* 04:30 CET, not 05:30 */
	assert_false(open_at(sat_sun, "2026-10-25T04:00:00Z"));   /* 05:00 CET */
	/* The repeated hour counts twice. */
	assert_true(open_at("02:00-03:00 Europe/Paris", "2026-10-25T00:30:00Z"));
	assert_true(open_at("02:00-03:00 Europe/Paris", "2026-10-25T01:30:00Z"));
	assert_false(open_at("02:00-03:00 Europe/Paris", "2026-10-25T02:00:00Z"));
	/* A Saturday in summer; a Friday is not in. */
	assert_true(open_at(sat_sun, "2026-07-04T00:30:00Z"));    /* 02:30 CEST */
	assert_false(open_at(sat_sun, "2026-07-03T00:30:00Z"));
}

static void test_midnight(void **state)
{
	static const char *const fri = "Fri 23:00-02:00 UTC";

	(void)state;
	/* 2026-12-04 is a Friday. */
	assert_true(open_at(fri, "2026-12-04T23:30:00Z"));
	assert_true(open_at(fri, "2026-12-05T01:59:00Z"));     /* Saturday morning */
	assert_false(open_at(fri, "2026-12-05T02:00:00Z"));
	assert_false(open_at(fri, "2026-12-05T23:30:00Z"));    /* Saturday evening */
	assert_false(open_at(fri, "2026-12-04T01:00:00Z"));    /* Friday morning */
	assert_false(open_at(fri, "2026-12-04T22:59:00Z"));
	/* Every day, and the week's wrap: Sunday night into Monday. */
	assert_true(open_at("23:00-01:30 UTC", "2026-12-01T00:10:00Z"));
	assert_false(open_at("23:00-01:30 UTC", "2026-12-01T01:30:00Z"));
	assert_true(open_at("Sun 22:00-02:00 UTC", "2026-12-07T01:00:00Z"));
	assert_true(open_at("Fri-Mon 09:00-10:00 UTC", "2026-12-06T09:00:00Z"));
	assert_false(open_at("Fri-Mon 09:00-10:00 UTC", "2026-12-02T09:00:00Z"));
}

static void test_several(void **state)
{
	struct window w[2];

	(void)state;
	parse_ok("Sat 01:00-02:00 UTC", &w[0]);
	parse_ok("Tue 13:00-14:00 Asia/Tokyo", &w[1]);
	assert_true(window_open(w, 2, at("2026-12-05T01:30:00Z")));
	assert_true(window_open(w, 2, at("2026-12-01T04:30:00Z")));    /* 13:30 JST */
	assert_false(window_open(w, 2, at("2026-12-01T13:30:00Z")));
	assert_true(window_open(w, 0, at("2026-12-01T13:30:00Z")));     /* no window */
}

static void test_freeze(void **state)
{
	static const struct { const char *s; size_t col; const char *word; } bad[] = {
		{ "2026-02-30", 0, "date" },
		{ "26-12-20", 0, "date" },
		{ "2026-12-20..2026-12-01", 12, "before" },
		{ "2026-12-20..", 12, "date" },
		{ "2026-12-20..2027-01-03 Mars/Olympus", 23, "tz database" },
		{ "2026-12-20x", 10, "a space" },
	};
	char why[WINDOW_WHY_MAX], shown[128];
	struct freeze f[2];
	size_t i, col;

	(void)state;
	assert_int_equal(window_parse_freeze("2026-12-20..2027-01-03 Europe/Paris", &f[0], &col,
					     why), 0);
	assert_int_equal(window_parse_freeze("2026-05-01", &f[1], &col, why), 0);
	window_format_freeze(&f[0], shown, sizeof shown);
	assert_string_equal(shown, "2026-12-20..2027-01-03 Europe/Paris");
	window_format_freeze(&f[1], shown, sizeof shown);
	assert_string_equal(shown, "2026-05-01");
	assert_null(window_frozen(f, 1, at("2026-12-19T22:59:00Z")));     /* 23:59 CET */
	assert_ptr_equal(window_frozen(f, 1, at("2026-12-19T23:00:00Z")), &f[0]);
	assert_ptr_equal(window_frozen(f, 1, at("2027-01-03T22:59:00Z")), &f[0]);
	assert_null(window_frozen(f, 1, at("2027-01-03T23:00:00Z")));     /* Jan 4th */
	assert_null(window_frozen(f, 0, at("2026-12-25T12:00:00Z")));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		col = 999;
		if (window_parse_freeze(bad[i].s, &f[0], &col, why) == 0)
			fail_msg("'%s' parsed", bad[i].s);
		if (col != bad[i].col || !strstr(why, bad[i].word))
			fail_msg("'%s': col %zu (want %zu): %s (want %s)", bad[i].s, col,
				 bad[i].col, why, bad[i].word);
	}
}

/* A zone's computation leaves the process's TZ as it found it. */
static void test_tz_restored(void **state)
{
	struct tm tm;

	(void)state;
	setenv("TZ", "Asia/Tokyo", 1);
	window_localtime(at("2026-12-01T00:00:00Z"), "Europe/Paris", &tm);
	assert_int_equal(tm.tm_hour, 1);
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	window_localtime(at("2026-12-01T00:00:00Z"), "", &tm);
	assert_int_equal(tm.tm_hour, 9);
	unsetenv("TZ");
	window_localtime(at("2026-12-01T00:00:00Z"), "Europe/Paris", &tm);
	assert_null(getenv("TZ"));
}

static void test_now_hook(void **state)
{
	(void)state;
	setenv("UPGR_NOW", "2026-03-29T01:30:00Z", 1);
	assert_int_equal(window_now(), at("2026-03-29T01:30:00Z"));
	setenv("UPGR_NOW", "1000", 1);
	assert_int_equal(window_now(), 1000);
	unsetenv("UPGR_NOW");
	assert_true(window_now() > at("2026-01-01T00:00:00Z"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_dst_paris),
		cmocka_unit_test(test_midnight),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_freeze),
		cmocka_unit_test(test_tz_restored),
		cmocka_unit_test(test_now_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
