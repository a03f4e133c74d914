/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the fast paths of large releases: manifest_find_file
 * through the sorted index (against a linear scan), and
 * payload_extract_some writing only the files asked for. */
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
#include "diag.h"
#include "err.h"
#include "fsutil.h"
#include "manifest.h"
#include "payload.h"
#include "xalloc.h"

#define NFILES 2000

/* A manifest listing NFILES files in a scrambled order (i * 7919 mod N). */
static void big_manifest(struct buf *b)
{
	size_t i;

	buf_addf(b, "upgr: 1\napp: big\nversion: 1.0.0\ntarget: /opt/big\nfiles:\n");
	for (i = 0; i < NFILES; i++)
		buf_addf(b, "  - { path: d%02zu/f%05zu, mode: \"0644\" }\n",
			 (i * 7919 % NFILES) / 100, i * 7919 % NFILES);
}

static void test_find_file(void **state)
{
	struct buf b = BUF_INIT;
	struct manifest m;
	struct diag d;
	char path[64];
	size_t i;

	(void)state;
	big_manifest(&b);
	diag_init(&d, "big.yaml");
	assert_int_equal(manifest_parse(b.data, b.len, &m, &d), 0);
	assert_non_null(m.by_path);
	assert_int_equal(m.nby_path, NFILES);
	for (i = 0; i < NFILES; i++) {
		const struct mfile *f;

		snprintf(path, sizeof path, "d%02zu/f%05zu", i / 100, i);
		f = manifest_find_file(&m, path);
		assert_non_null(f);
		assert_string_equal(f->path, path);
	}
	assert_null(manifest_find_file(&m, "d00"));
	assert_null(manifest_find_file(&m, "d00/f0000"));
	assert_null(manifest_find_file(&m, "d00/f000000"));
	assert_null(manifest_find_file(&m, "zz"));
	assert_null(manifest_find_file(&m, ""));
	/* An index that no longer matches the files falls back to a scan. */
	m.nby_path = 0;
	assert_non_null(manifest_find_file(&m, "d19/f01999"));
	assert_null(manifest_find_file(&m, "d19/f02000"));
	manifest_release(&m);
	diag_release(&d);
	buf_release(&b);
}

static void test_extract_some(void **state)
{
	char tmpl[] = "/tmp/upgr-lookup.XXXXXX", *dir = mkdtemp(tmpl);
	char *src, *stage, *payload, *p;
	const char *names[] = { "a/one", "a/two", "b/three" };
	bool want[3] = { false, true, false };
	struct manifest m;
	struct stat st;
	struct err e;
	size_t i;

	(void)state;
	assert_non_null(dir);
	src = fs_join(dir, "src");
	stage = fs_join(dir, "stage");
	payload = fs_join(dir, "payload.tar.gz");
	memset(&m, 0, sizeof m);
	m.app = xstrdup("x");
	m.nfiles = 3;
	m.files = xcalloc(3, sizeof *m.files);
	for (i = 0; i < 3; i++) {
		m.files[i].path = xstrdup(names[i]);
		m.files[i].mode = 0644;
		p = fs_join(src, names[i]);
		assert_int_equal(fs_mkdir_p(src, 0755, &e), 0);
		{
			char *sub = fs_join(src, i < 2 ? "a" : "b");
			assert_int_equal(fs_mkdir_p(sub, 0755, &e), 0);
			free(sub);
		}
		assert_int_equal(fs_write_new(p, names[i], strlen(names[i]), 0644, &e), 0);
		free(p);
	}
	assert_int_equal(payload_create(payload, src, &m, &e), 0);
	assert_int_equal(fs_mkdir_p(stage, 0700, &e), 0);
	assert_int_equal(payload_extract_some(payload, stage, &m, want, 1 << 20, &e), 0);
	for (i = 0; i < 3; i++) {
		p = fs_join(stage, names[i]);
		assert_int_equal(lstat(p, &st) == 0, want[i]);
		free(p);
	}
	/* A tampered wanted file is still refused; a skipped one is not read. */
	m.files[1].sha256[0] ^= 1;
	assert_int_equal(fs_remove_tree(stage, &e), 0);
	assert_int_equal(fs_mkdir_p(stage, 0700, &e), 0);
	assert_int_equal(payload_extract_some(payload, stage, &m, want, 1 << 20, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	m.files[1].sha256[0] ^= 1;
	m.files[0].sha256[0] ^= 1;
	assert_int_equal(fs_remove_tree(stage, &e), 0);
	assert_int_equal(fs_mkdir_p(stage, 0700, &e), 0);
	assert_int_equal(payload_extract_some(payload, stage, &m, want, 1 << 20, &e), 0);
	assert_int_equal(fs_remove_tree(dir, &e), 0);
	manifest_release(&m);
	free(src);
	free(stage);
	free(payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_file),
		cmocka_unit_test(test_extract_some),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
