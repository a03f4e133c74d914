/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: version (semver parsing, precedence, constraints). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "version.h"

static void test_parse_good(void **state)
{
	static const struct {
		const char *s;
		unsigned long ma, mi, pa;
		const char *pre;
	} cases[] = {
		{ "0.0.0", 0, 0, 0, "" },
		{ "1.2.3", 1, 2, 3, "" },
		{ "10.20.30", 10, 20, 30, "" },
		{ "1.0.0-alpha", 1, 0, 0, "alpha" },
		{ "1.0.0-alpha.1", 1, 0, 0, "alpha.1" },
		{ "1.0.0-0.3.7", 1, 0, 0, "0.3.7" },
		{ "1.0.0-x.7.z.92", 1, 0, 0, "x.7.z.92" },
		{ "1.0.0-x-y-z.--", 1, 0, 0, "x-y-z.--" },
		{ "4294967296.0.0", 4294967296UL, 0, 0, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct semver v;
		char why[100];

		print_message("%s\n", cases[i].s);
		assert_int_equal(semver_parse(cases[i].s, &v, why, sizeof why), 0);
		assert_int_equal(v.major, cases[i].ma);
		assert_int_equal(v.minor, cases[i].mi);
		assert_int_equal(v.patch, cases[i].pa);
		assert_string_equal(v.pre, cases[i].pre);
	}
}

static void test_parse_bad(void **state)
{
	static const struct { const char *s, *why; } cases[] = {
		{ "", "empty version" },
		{ "1", "expected MAJOR.MINOR.PATCH" },
		{ "1.2", "expected MAJOR.MINOR.PATCH" },
		{ "1.2.3.4", "unexpected text" },
		{ "v1.2.3", "no 'v' prefix" },
		{ "01.2.3", "MAJOR has a leading zero" },
		{ "1.02.3", "MINOR has a leading zero" },
		{ "1.2.03", "PATCH has a leading zero" },
		{ "1.2.3-", "empty prerelease identifier" },
		{ "1.2.3-a..b", "empty prerelease identifier" },
		{ "1.2.3-01", "leading zero" },
		{ "1.2.3-a_b", "only [0-9A-Za-z-]" },
		{ "1.2.3+build", "build metadata" },
		{ "1.2.3-rc.1+build", "build metadata" },
		{ "1.x.3", "MINOR is not a number" },
		{ " 1.2.3", "MAJOR is not a number" },
		{ "1.2.3 ", "unexpected text" },
		{ "99999999999999999999999.0.0", "MAJOR is too large" },
		{ "1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "too long" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct semver v;
		char why[100] = "";

		print_message("'%s'\n", cases[i].s);
		assert_int_equal(semver_parse(cases[i].s, &v, why, sizeof why), -1);
		assert_non_null(strstr(why, cases[i].why));
	}
}

/* semver.org's example order, each strictly below the next. */
static void test_precedence(void **state)
{
	static const char *const order[] = {
		"0.9.9", "1.0.0-0", "1.0.0-9", "1.0.0-10", "1.0.0-alpha",
		"1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0",
		"2.0.0", "10.0.0",
	};
	size_t n = sizeof order / sizeof order[0], i, j;

	(void)state;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int want = i < j ? -1 : i > j;

			print_message("%s vs %s\n", order[i], order[j]);
			assert_int_equal(semver_cmp_str(order[i], order[j]), want);
		}
	assert_int_equal(semver_cmp_str("junk", "0.0.0"), -1);
	assert_int_equal(semver_cmp_str("1.0.0", "junk"), 1);
}

static void test_constraints(void **state)
{
	static const struct { const char *c, *v; bool match; } cases[] = {
		{ ">=1.0.0 <2.0.0", "1.0.0", true },
		{ ">=1.0.0 <2.0.0", "1.9.9", true },
		{ ">=1.0.0 <2.0.0", "2.0.0", false },
		{ ">=1.0.0 <2.0.0", "2.0.0-rc.1", true },
		{ ">=1.0.0 <2.0.0", "0.9.0", false },
		{ ">=1.0.0 <2.0.0", "1.0.0-rc.1", false },
		{ "=1.2.3", "1.2.3", true },
		{ "=1.2.3", "1.2.4", false },
		{ "1.2.3", "1.2.3", true },
		{ ">1.2.3", "1.2.3", false },
		{ "<=1.2.3", "1.2.3", true },
		{ "  >1.0.0   <=1.5.0 ", "1.5.0", true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct vconstraint c;
		struct semver v;
		char why[200];

		print_message("%s ~ %s\n", cases[i].c, cases[i].v);
		assert_int_equal(vconstraint_parse(cases[i].c, &c, why, sizeof why), 0);
		assert_int_equal(semver_parse(cases[i].v, &v, NULL, 0), 0);
		assert_int_equal(vconstraint_match(&c, &v), cases[i].match);
	}
}

static void test_constraints_bad(void **state)
{
	static const struct { const char *c, *why; } cases[] = {
		{ "", "empty constraint" },
		{ "   ", "empty constraint" },
		{ "<2", "'2' is not a full version" },
		{ ">= 1.0.0", "'>=' has no version after it" },
		{ ">=1.0", "not a full version" },
		{ "~1.0.0", "not a full version" },
		{ ">=1.0.0,<2.0.0", "not a full version" },
		{ "=1.0.0 =1.0.0 =1.0.0 =1.0.0 =1.0.0 =1.0.0 =1.0.0 =1.0.0 =1.0.0",
		  "too many terms" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct vconstraint c;
		char why[200] = "";

		print_message("'%s'\n", cases[i].c);
		assert_int_equal(vconstraint_parse(cases[i].c, &c, why, sizeof why), -1);
		assert_non_null(strstr(why, cases[i].why));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_constraints_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
