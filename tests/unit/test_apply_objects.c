/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the app a release directory's path names (the guess that
 * starts the tree scan early, apply_objects.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "apply_objects.h"

static void expect_app(const char *dir, const char *want)
{
	char *got = apply_objects_app_of(dir);

	if (want) {
		assert_non_null(got);
		assert_string_equal(got, want);
	} else
		assert_null(got);
	free(got);
}

static void test_app_of(void **state)
{
	(void)state;
	expect_app("/srv/repo/apps/hello/releases/1.2.0", "hello");
	expect_app("/srv/repo/apps/hello/releases/1.2.0/", "hello");
	expect_app("apps/web-2/releases/3.0.0", "web-2");
	/* not REPO/apps/APP/releases/VERSION: no guess */
	expect_app("/media/usb/hello-1.2.0", NULL);
	expect_app("hello-1.2.0", NULL);
	expect_app("releases/1.2.0", NULL);
	expect_app("/releases/1.2.0", NULL);
	expect_app("/srv/cache/hello/1.2.0", NULL);
	/* not an app name: no path outside the state directory is made of it */
	expect_app("/srv/apps/../releases/1.2.0", NULL);
	expect_app("/srv/apps/Hello/releases/1.2.0", NULL);
	expect_app("/srv/apps/.hidden/releases/1.2.0", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
