/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the scan of the installed tree (treescan.c). It parses the
 * installed manifest itself; a file the quick check's record vouches
 * for is vouched; one the record lists with other bytes, and a symlink
 * in a file's place are only stat'ed; a missing one (or one under a
 * file) is absent; a scan says nothing until it is waited for, nor
 * about another target or another manifest; another parse of the same
 * bytes finds it. No manifest is nothing to scan; a broken one is the
 * parse's error, kept for the caller. */
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

#include "diag.h"
#include "fsutil.h"
#include "hash.h"
#include "manifest.h"
#include "quickcheck.h"
#include "treescan.h"
#include "xalloc.h"

static char dir[] = "/tmp/upgr-treescan.XXXXXX";

static void put(const char *rel, const char *text)
{
	char *p = xasprintf("%s/t/%s", dir, rel);
	struct err e;

	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0644, &e), 0);
	free(p);
}

static char *hex_of(const char *text)
{
	uint8_t h[SHA256_LEN];
	char *hex = xcalloc(1, SHA256_HEX_LEN + 1);

	sha256_buf(text, strlen(text), h);
	hex_encode(h, SHA256_LEN, hex);
	return hex;
}

/* The manifest of the tree: a, b, c (never made), d (a symlink), f/x
 * (f is a file on the host), e (not in the record). */
static char *manifest_text(void)
{
	char *ha = hex_of("alpha\n"), *hb = hex_of("beta\n"), *t;

	t = xasprintf("upgr: 1\napp: tool\nversion: 1.0.0\ntarget: /t\nfiles:\n"
		      "  - { path: a, mode: \"0644\", sha256: %s }\n"
		      "  - { path: b, mode: \"0644\", sha256: %s }\n"
		      "  - { path: c, mode: \"0644\", sha256: %s }\n"
		      "  - { path: d, mode: \"0644\", sha256: %s }\n"
		      "  - { path: f/x, mode: \"0644\", sha256: %s }\n"
		      "  - { path: e, mode: \"0644\", sha256: %s }\n", ha, hb, ha, ha, ha, hb);
	free(ha);
	free(hb);
	return t;
}

static void parse(const char *text, struct manifest *m)
{
	struct diag d;

	diag_init(&d, "m.yaml");
	if (manifest_parse(text, strlen(text), m, &d) < 0)
		diag_print(&d, stderr);
	assert_int_equal(d.n, 0);
	diag_release(&d);
}

/* Record path with the sha256 of text at its lstat now. */
static void record(struct quickcheck *q, const char *rel, const char *text)
{
	char *p = xasprintf("%s/t/%s", dir, rel);
	uint8_t h[SHA256_LEN];
	struct stat st;
	struct qc_stat qs;

	assert_int_equal(lstat(p, &st), 0);
	quickcheck_stat(&st, &qs);
	sha256_buf(text, strlen(text), h);
	quickcheck_add(q, rel, h, &qs);
	free(p);
}

/* Install text as app tool's manifest under dir/state. */
static char *install(const char *text)
{
	char *appdir = xasprintf("%s/state/apps/tool", dir), *p = fs_join(appdir, "manifest.yaml");
	struct err e;

	assert_int_equal(fs_mkdir_p(appdir, 0700, &e), 0);
	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0600, &e), 0);
	free(p);
	return appdir;
}

static void test_scan(void **state)
{
	struct manifest again, other;
	struct quickcheck q = QUICKCHECK_INIT;
	struct treescan *s;
	char *text = manifest_text(), *target = xasprintf("%s/t", dir), *d;
	char *appdir = install(text), *sdir = xasprintf("%s/state", dir);
	const struct seen *v;
	struct err e;

	(void)state;
	d = xasprintf("%s/t", dir);
	assert_int_equal(mkdir(d, 0755), 0);
	free(d);
	put("a", "alpha\n");
	put("b", "beta\n");
	put("e", "beta\n");
	put("f", "a file, not a directory\n");
	d = xasprintf("%s/t/d", dir);
	assert_int_equal(symlink("a", d), 0);
	free(d);
	record(&q, "a", "alpha\n");
	record(&q, "b", "not beta\n");      /* the record names other bytes */
	record(&q, "d", "alpha\n");         /* a symlink: never vouched */
	assert_int_equal(quickcheck_save(appdir, &q, &e), 0);
	quickcheck_release(&q);

	parse(text, &again);
	s = treescan_start(dir, sdir, "tool");
	treescan_wait(s);
	assert_true(s->have);
	assert_false(s->failed);
	assert_string_equal(s->target, target);
	v = treescan_find(s, target, &again, &again.files[0]);
	assert_non_null(v);
	assert_int_equal(v->kind, SEEN_VOUCHED);
	assert_true(S_ISREG(v->st.st_mode));
	assert_int_equal(treescan_find(s, target, &again, &again.files[1])->kind, SEEN_STAT);
	assert_int_equal(treescan_find(s, target, &again, &again.files[2])->kind, SEEN_ABSENT);
	v = treescan_find(s, target, &again, &again.files[3]);
	assert_int_equal(v->kind, SEEN_STAT);
	assert_true(S_ISLNK(v->st.st_mode));
	assert_int_equal(treescan_find(s, target, &again, &again.files[4])->kind, SEEN_ABSENT);
	assert_int_equal(treescan_find(s, target, &again, &again.files[5])->kind, SEEN_STAT);
	assert_int_equal(s->quick.n, 3);   /* the record, loaded once */

	/* Not about another target, nor a manifest it did not scan. */
	assert_null(treescan_find(s, "/elsewhere", &again, &again.files[0]));
	assert_null(treescan_find(s, target, &again, NULL));
	free(text);
	text = xasprintf("upgr: 1\napp: tool\nversion: 1.0.1\ntarget: /t\nfiles:\n"
			 "  - { path: b, mode: \"0644\" }\n");
	parse(text, &other);
	assert_null(treescan_find(s, target, &other, &other.files[0]));
	manifest_release(&other);
	/* Same count, other bytes at an index: not found. */
	free(again.files[0].path);
	again.files[0].path = xstrdup("z");
	assert_null(treescan_find(s, target, &again, &again.files[0]));

	treescan_free(s);
	manifest_release(&again);
	free(text);
	free(target);
	free(appdir);
	free(sdir);
}

static void test_no_target(void **state)
{
	char *text = manifest_text(), *root = xasprintf("%s/none", dir);
	char *appdir = install(text), *sdir = xasprintf("%s/state", dir);
	struct treescan *s;

	(void)state;
	s = treescan_start(root, sdir, "tool");
	/* Before it is waited for, it says nothing. */
	assert_null(treescan_find(s, "/", NULL, NULL));
	treescan_wait(s);
	assert_true(s->have);
	assert_int_equal(treescan_find(s, s->target, &s->installed, &s->installed.files[0])->kind,
			 SEEN_ABSENT);
	treescan_free(s);
	treescan_free(NULL);
	treescan_wait(NULL);
	free(text);
	free(root);
	free(appdir);
	free(sdir);
}

static void test_no_manifest(void **state)
{
	char *sdir = xasprintf("%s/state", dir), *appdir;
	struct treescan *s;

	(void)state;
	s = treescan_start(dir, sdir, "other");       /* none installed */
	treescan_wait(s);
	assert_false(s->have);
	assert_false(s->failed);
	assert_null(treescan_find(s, "/", NULL, NULL));
	treescan_free(s);
	appdir = install("upgr: 1\napp: tool\nversion: [1\n");
	s = treescan_start(dir, sdir, "tool");
	treescan_wait(s);
	assert_false(s->have);
	assert_true(s->failed);
	assert_non_null(strstr(s->err.msg, "installed manifest"));
	treescan_free(s);
	free(appdir);
	free(sdir);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return fs_remove_tree(dir, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_no_target),
		cmocka_unit_test(test_no_manifest),
	};

	crypto_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
