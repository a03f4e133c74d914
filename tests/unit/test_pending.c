/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: an interrupted transaction read from outside (pending.c):
 * no journal is none; the step a STARTED journal was interrupted in is
 * read from how many staged files are left (all: the stop, some: the
 * swap, none: the start or the health checks); PREPARED and COMMITTED
 * are no downtime; the recovery's accounting sets the downtime and names
 * the step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "pending.h"
#include "state.h"
#include "txn.h"
#include "xalloc.h"

static char dir[] = "/tmp/upgr-pending.XXXXXX";

/* A journal of app "tool" at phase, staging a and b, with left of them
 * still in WORK/stage. */
static void journal_at(const char *phase, int left)
{
	char *text = xasprintf("upgr-journal 1\nphase %s\nresult -\napp tool\naction upgrade\n"
			       "from 1.0\nto 2.0\nroot /\ntarget %s/t\nworkdir %s/w\nsha256 ab\n"
			       "op replace 1 a\ta\nop add 0 b\tb\nop remove 1 c\t\n",
			       phase, dir, dir);
	char *jdir = xasprintf("%s/apps/tool", dir), *path = xasprintf("%s/journal", jdir);
	char *stage = xasprintf("%s/w/stage", dir), *f;
	const char *names[] = { "a", "b" };
	struct err e;
	int i;

	assert_int_equal(fs_mkdir_p(jdir, 0700, &e), 0);
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600, &e), 0);
	fs_remove_tree(stage, &e);
	assert_int_equal(fs_mkdir_p(stage, 0700, &e), 0);
	for (i = 0; i < left; i++) {
		f = fs_join(stage, names[i]);
		assert_int_equal(fs_write_atomic(f, "x", 1, 0600, &e), 0);
		free(f);
	}
	free(text);
	free(jdir);
	free(path);
	free(stage);
}

static void expect(const char *phase, int left, const char *hit, bool downtime)
{
	struct pending p;
	struct err e;
	bool have;

	journal_at(phase, left);
	assert_int_equal(pending_read(dir, "tool", &p, &have, &e), 0);
	assert_true(have);
	assert_string_equal(p.phase, phase);
	assert_string_equal(p.hit, hit);
	assert_int_equal(p.downtime, downtime);
	assert_string_equal(p.from, "1.0");
	assert_string_equal(p.to, "2.0");
}

static void test_none(void **state)
{
	struct pending p;
	struct err e;
	bool have = true;

	(void)state;
	assert_int_equal(pending_read(dir, "nothing", &p, &have, &e), 0);
	assert_false(have);
}

static void test_steps(void **state)
{
	(void)state;
	expect("started", 2, "the stop", true);
	expect("started", 1, "the swap", true);
	expect("started", 0, "the start or the health checks", true);
	expect("swapping", 1, "the swap", true);
	expect("prepared", 2, "preparing", false);
	expect("committed", 0, "the commit", false);
	expect("done", 0, "recording the result", false);
}

static void test_account(void **state)
{
	struct txn_result r;
	struct pending p;
	struct err e;
	bool have;

	(void)state;
	journal_at("started", 1);
	assert_int_equal(pending_read(dir, "tool", &p, &have, &e), 0);
	p.since.tv_sec -= 2;
	txn_result_init(&r);
	txn_result_set(&r, TXN_ROLLED_BACK);
	snprintf(r.error, sizeof r.error, "restored 1.0");
	pending_account(&p, &r);
	assert_true(r.downtime_ms >= 2000);
	assert_non_null(strstr(r.error, "restored 1.0; the crash hit the swap (journal: started)"));
	txn_result_set(&r, TXN_REFUSED);
	r.downtime_ms = 0;
	pending_account(&p, &r);
	assert_int_equal(r.downtime_ms, 0);
	txn_result_release(&r);
}

static void test_garbage_refused(void **state)
{
	char *path = xasprintf("%s/apps/tool/journal", dir);
	struct pending p;
	struct err e;
	bool have;

	(void)state;
	journal_at("started", 0);
	assert_int_equal(fs_write_atomic(path, "not a journal\n", 14, 0600, &e), 0);
	assert_int_equal(pending_read(dir, "tool", &p, &have, &e), -1);
	assert_non_null(strstr(e.msg, "not an upgr journal"));
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_account),
		cmocka_unit_test(test_garbage_refused),
	};
	struct err e;
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	fs_remove_tree(dir, &e);
	return rc;
}
