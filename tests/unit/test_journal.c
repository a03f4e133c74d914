/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the journal (journal.c): what journal_text writes is what
 * journal_parse reads back, malformed journals are refused with a message,
 * a journal of an earlier version (phase swapping) is still read, and an
 * unknown phase is refused. */
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

#include "fsutil.h"
#include "journal.h"
#include "manifest.h"
#include "plan.h"
#include "state.h"
#include "xalloc.h"

/* A plan upgrading app 1.0 to 2.0 with one op of each kind but
 * unchanged, and one unchanged op the journal must leave out. */
static void sample_plan(struct plan *p, struct manifest *m, struct manifest *old)
{
	static const struct { enum plan_kind kind; const char *path, *src; bool old; } ops[] = {
		{ PLAN_ADD, "bin/new", "bin/new", false },
		{ PLAN_REPLACE, "bin/tool", "bin/tool", true },
		{ PLAN_UNCHANGED, "share/same", "share/same", true },
		{ PLAN_CONFIG_KEEP, "etc/tool.conf", "etc/tool.conf", true },
		{ PLAN_REMOVE, "lib/gone with space", NULL, true },
	};
	size_t i;

	memset(p, 0, sizeof *p);
	memset(m, 0, sizeof *m);
	memset(old, 0, sizeof *old);
	m->app = "tool";
	m->version = "2.0";
	old->version = "1.0";
	p->m = m;
	p->installed = old;
	p->action = "upgrade";
	p->root = "/";
	p->target = "/opt/tool";
	p->workdir = "/opt/.tool.upgr";
	p->manifest_sha256 = "ab12";
	p->nops = sizeof ops / sizeof ops[0];
	p->ops = xcalloc(p->nops, sizeof *p->ops);
	for (i = 0; i < p->nops; i++) {
		p->ops[i].kind = ops[i].kind;
		p->ops[i].path = (char *)ops[i].path;
		p->ops[i].src = (char *)ops[i].src;
		p->ops[i].old_exists = ops[i].old;
	}
}

static void free_ops(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nops; i++) {
		free(p->ops[i].path);
		free(p->ops[i].src);
	}
	free(p->ops);
	p->ops = NULL;
	p->nops = 0;
}

static void test_round_trip(void **state)
{
	char *dirs[] = { "lib", "lib/sub" };
	struct manifest m, old;
	struct plan p, back;
	struct journal j;
	struct buf b = BUF_INIT;
	char **mk = NULL;
	size_t nmk = 0, i;
	struct err e;

	(void)state;
	sample_plan(&p, &m, &old);
	journal_text(&p, TXN_STARTED, "", dirs, 2, &b);
	assert_non_null(strstr(b.data, "\nresult -\n"));
	assert_null(strstr(b.data, "share/same"));
	memset(&back, 0, sizeof back);
	assert_int_equal(journal_parse(b.data, &j, &back, &mk, &nmk, &e), 0);
	assert_int_equal(j.phase, TXN_STARTED);
	assert_string_equal(j.result, "-");
	assert_string_equal(j.action, "upgrade");
	assert_string_equal(j.from, "1.0");
	assert_string_equal(j.to, "2.0");
	assert_string_equal(j.root, "/");
	assert_string_equal(j.target, "/opt/tool");
	assert_string_equal(j.workdir, "/opt/.tool.upgr");
	assert_string_equal(j.sha256, "ab12");
	assert_int_equal(nmk, 2);
	assert_string_equal(mk[0], "lib");
	assert_string_equal(mk[1], "lib/sub");
	assert_int_equal(back.nops, 4);
	for (i = 0; i < back.nops; i++) {
		const struct plan_op *want = &p.ops[i < 2 ? i : i + 1];

		assert_int_equal(back.ops[i].kind, want->kind);
		assert_int_equal(back.ops[i].old_exists, want->old_exists);
		assert_string_equal(back.ops[i].path, want->path);
		if (want->src)
			assert_string_equal(back.ops[i].src, want->src);
		else
			assert_null(back.ops[i].src);
	}
	for (i = 0; i < nmk; i++)
		free(mk[i]);
	free(mk);
	free_ops(&back);
	journal_release(&j);
	free(p.ops);
	buf_release(&b);
}

/* journal_write puts the same text at APPDIR/journal, 0600, making APPDIR. */
static void test_write_file(void **state)
{
	char tmpl[] = "/tmp/upgr-unit-journal.XXXXXX";
	struct manifest m, old;
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct plan p;
	struct stat st;
	struct err e;
	char *appdir, *path;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	appdir = fs_join(tmpl, "apps/tool");
	path = fs_join(appdir, STATE_JOURNAL);
	sample_plan(&p, &m, &old);
	assert_int_equal(journal_write(appdir, &p, TXN_DONE, "success", NULL, 0, &e), 0);
	journal_text(&p, TXN_DONE, "success", NULL, 0, &want);
	assert_int_equal(fs_read_file(path, 1 << 20, &got, &e), 0);
	assert_string_equal(got.data, want.data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(appdir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(fs_remove_tree(tmpl, &e), 0);
	free(p.ops);
	buf_release(&want);
	buf_release(&got);
	free(appdir);
	free(path);
}

/* Parse text; returns journal_parse's result, e holds its message. */
static int parse(const char *text, struct journal *j, struct err *e)
{
	char *copy = xstrdup(text);
	struct plan p;
	int rc;

	memset(&p, 0, sizeof p);
	rc = journal_parse(copy, j, &p, NULL, NULL, e);
	plan_release(&p);
	journal_release(j);
	free(copy);
	return rc;
}

/* Parse text, which must be read; returns the copy j's strings point
 * into (free it after journal_release and free_ops). */
static char *parse_ok(const char *text, struct journal *j, struct plan *p)
{
	char *copy = xstrdup(text);
	struct err e;

	memset(p, 0, sizeof *p);
	assert_int_equal(journal_parse(copy, j, p, NULL, NULL, &e), 0);
	return copy;
}

#define HEAD "upgr-journal 1\nphase started\nroot /\ntarget /opt/t\nworkdir /opt/.t\n"

static void test_malformed_refused(void **state)
{
	static const struct { const char *text, *msg; } bad[] = {
		{ "", "not an upgr journal" },
		{ "upgr-journal 2\n" "phase done\n", "not an upgr journal" },
		{ "\n\nphase done\n", "not an upgr journal" },
		{ "upgr-journal 1\nroot /\ntarget /t\nworkdir /w\n", "journal incomplete" },
		{ "upgr-journal 1\nphase done\ntarget /t\nworkdir /w\n", "journal incomplete" },
		{ "upgr-journal 1\nphase done\nroot /\nworkdir /w\n", "journal incomplete" },
		{ "upgr-journal 1\nphase done\nroot /\ntarget /t\n", "journal incomplete" },
		{ HEAD "op add\n", "malformed journal op" },
		{ HEAD "op add 1 path-without-tab\n", "malformed journal op" },
		{ HEAD "op add 1\tsrc\n", "malformed journal op" },
	};
	struct journal j;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		assert_int_equal(parse(bad[i].text, &j, &e), -1);
		assert_int_equal(e.code, EXIT_SOFTWARE);
		assert_string_equal(e.msg, bad[i].msg);
	}
}

/* Directories exchanged whole (xdir): written sorted, read back with
 * both inode numbers; a line out of order, with a bad number or a bad
 * path is refused. */
static void test_xdir(void **state)
{
	static const char *const bad[] = {
		HEAD "xdir 12 web\n",
		HEAD "xdir -1 13 web\n",
		HEAD "xdir 12 13 ../web\n",
		HEAD "xdir 12 13 web\nxdir 14 15 bin\n",
		HEAD "xdir 12 13 web\nxdir 14 15 web\n",
		HEAD "xdir 12x 13 web\n",
	};
	struct manifest m, old;
	struct plan p, back;
	struct journal j;
	struct buf b = BUF_INIT;
	struct err e;
	size_t i;

	(void)state;
	sample_plan(&p, &m, &old);
	plan_add_xdir(&p, xstrdup("bin"), 11, 99);
	plan_add_xdir(&p, xstrdup("web/static dir"), 18446744073709551615ull, 7);
	journal_text(&p, TXN_PREPARED, "", NULL, 0, &b);
	assert_non_null(strstr(b.data, "\nxdir 11 99 bin\n"));
	memset(&back, 0, sizeof back);
	assert_int_equal(journal_parse(b.data, &j, &back, NULL, NULL, &e), 0);
	assert_int_equal(back.nxdirs, 2);
	assert_string_equal(back.xdirs[0].path, "bin");
	assert_true(back.xdirs[0].old_ino == 11 && back.xdirs[0].new_ino == 99);
	assert_string_equal(back.xdirs[1].path, "web/static dir");
	assert_true(back.xdirs[1].old_ino == 18446744073709551615ull && back.xdirs[1].new_ino == 7);
	journal_release(&j);
	free_ops(&back);
	for (i = 0; i < back.nxdirs; i++)
		free(back.xdirs[i].path);
	free(back.xdirs);
	for (i = 0; i < p.nxdirs; i++)
		free(p.xdirs[i].path);
	free(p.xdirs);
	free(p.ops);
	buf_release(&b);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		assert_int_equal(parse(bad[i], &j, &e), -1);
		assert_string_equal(e.msg, "malformed journal xdir");
	}
}

/* A journal of an earlier version, which wrote "swapping" before the
 * swap, is read as that phase (txn_recover resolves it as STARTED). */
static void test_old_swapping_read(void **state)
{
	struct journal j;
	struct plan p;
	char *text = parse_ok("upgr-journal 1\nphase swapping\nresult -\napp t\naction install\n"
			      "from \nto 1.0\nroot /\ntarget /opt/t\nworkdir /opt/.t\nsha256 00\n"
			      "op add 0 bin/t\tbin/t\n", &j, &p);

	(void)state;
	assert_int_equal(j.phase, TXN_SWAPPING);
	assert_string_equal(j.from, "");
	assert_int_equal(p.nops, 1);
	assert_int_equal(p.ops[0].kind, PLAN_ADD);
	free_ops(&p);
	journal_release(&j);
	free(text);
}

static void test_unknown_phase_refused(void **state)
{
	struct journal j;
	struct err e;

	(void)state;
	assert_int_equal(parse("upgr-journal 1\nphase rolling\nroot /\ntarget /t\nworkdir /w\n",
			       &j, &e), -1);
	assert_int_equal(e.code, EXIT_SOFTWARE);
	assert_string_equal(e.msg, "unknown phase \"rolling\"");
	/* An empty phase names none either. */
	assert_int_equal(parse("upgr-journal 1\nphase \nroot /\ntarget /t\nworkdir /w\n", &j, &e), -1);
	assert_string_equal(e.msg, "unknown phase \"\"");
}

/* Unknown keys and lines without a space are skipped; a repeated key
 * keeps its last value (and leaks nothing). */
static void test_unknown_lines_skipped(void **state)
{
	struct journal j;
	struct plan p;
	char *text = parse_ok(HEAD "future-key x\nnospace\ntarget /opt/u\n", &j, &p);

	(void)state;
	assert_string_equal(j.target, "/opt/u");
	journal_release(&j);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_old_swapping_read),
		cmocka_unit_test(test_xdir),
		cmocka_unit_test(test_unknown_phase_refused),
		cmocka_unit_test(test_unknown_lines_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
