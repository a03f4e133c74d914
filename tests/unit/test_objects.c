/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the objects index and the change index (parse, emit,
 * find, check against a release) and an object's gzip round trip with its
 * size cut-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "hash.h"
#include "objects.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define HM "abababababababababababababababababababababababababababababababab"

static const char good[] =
	"upgr: 1\ntype: objects\napp: hello\nversion: 1.2.0\n"
	"manifest_sha256: " HM "\n"
	"objects:\n"
	"  - {sha256: " H1 ", size: 10, gz: 30}\n"
	"  - {sha256: " H2 ", size: 20, gz: 40}\n";

static const char delta[] =
	"upgr: 1\ntype: objects\napp: hello\nversion: 1.2.0\nfrom: 1.1.0\n"
	"payload_size: 5000\nmanifest_sha256: " HM "\n"
	"objects:\n"
	"  - {sha256: " H2 ", size: 20, gz: 40}\n";

static int parse(const char *text, struct objects_index *ix, struct err *e)
{
	err_clear(e);
	return objects_index_parse(text, strlen(text), ix, e);
}

static void test_parse_good(void **state)
{
	struct objects_index ix;
	struct buf out = BUF_INIT;
	struct objects_index again;
	uint8_t h[SHA256_LEN];
	struct err e;

	(void)state;
	assert_int_equal(parse(good, &ix, &e), 0);
	assert_string_equal(ix.app, "hello");
	assert_string_equal(ix.version, "1.2.0");
	assert_int_equal(ix.n, 2);
	hex_decode(H2, h, SHA256_LEN);
	assert_non_null(objects_index_find(&ix, h));
	assert_int_equal(objects_index_find(&ix, h)->gz, 40);
	hex_decode(HM, h, SHA256_LEN);
	assert_null(objects_index_find(&ix, h));
	objects_index_emit(&ix, &out);
	assert_int_equal(objects_index_parse(out.data, out.len, &again, &e), 0);
	assert_int_equal(again.n, 2);
	assert_int_equal(again.v[0].size, 10);
	objects_index_release(&again);
	objects_index_release(&ix);
	buf_release(&out);
}

/* The memo (memo.h): the same large index parsed twice gives two copies,
 * each its caller's own. */
static void test_parse_memo(void **state)
{
	struct objects_index a, b;
	struct buf text = BUF_INIT;
	struct err e;
	size_t i;

	(void)state;
	buf_addf(&text, "upgr: 1\ntype: objects\napp: hello\nversion: 1.2.0\n"
		 "manifest_sha256: " HM "\nobjects:\n");
	for (i = 0; i < 1000; i++)
		buf_addf(&text, "  - {sha256: %056x%08zx, size: %zu, gz: 30}\n", 0u, i, i + 1);
	assert_true(text.len >= 64 << 10);
	assert_int_equal(parse(text.data, &a, &e), 0);
	assert_int_equal(parse(text.data, &b, &e), 0);
	assert_int_equal(b.n, 1000);
	objects_index_release(&a);
	assert_string_equal(b.app, "hello");
	assert_int_equal(b.v[999].size, 1000);
	objects_index_release(&b);
	buf_release(&text);
}

static void test_parse_refused(void **state)
{
	static const char *const bad[] = {
		/* unsorted */
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\nmanifest_sha256: " HM "\n"
		"objects:\n  - {sha256: " H2 ", size: 1, gz: 1}\n  - {sha256: " H1 ", size: 1, gz: 1}\n",
		/* twice */
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\nmanifest_sha256: " HM "\n"
		"objects:\n  - {sha256: " H1 ", size: 1, gz: 1}\n  - {sha256: " H1 ", size: 1, gz: 1}\n",
		/* an unknown key */
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\nmanifest_sha256: " HM "\n"
		"objects:\n  - {sha256: " H1 ", size: 1, gz: 1, url: x}\n",
		/* not hex */
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\nmanifest_sha256: " HM "\n"
		"objects:\n  - {sha256: xyz, size: 1, gz: 1}\n",
		/* another type */
		"upgr: 1\ntype: manifest\napp: a\nversion: 1.0.0\nmanifest_sha256: " HM "\n"
		"objects: []\n",
		/* a negative size */
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\nmanifest_sha256: " HM "\n"
		"objects:\n  - {sha256: " H1 ", size: -1, gz: 1}\n",
		/* a change index with no payload size, a payload size with no from */
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\nfrom: 0.9.0\n"
		"manifest_sha256: " HM "\nobjects: []\n",
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\npayload_size: 9\n"
		"manifest_sha256: " HM "\nobjects: []\n",
		/* from is not a string */
		"upgr: 1\ntype: objects\napp: a\nversion: 1.0.0\nfrom: [0.9.0]\npayload_size: 9\n"
		"manifest_sha256: " HM "\nobjects: []\n",
	};
	struct objects_index ix;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(bad[i], &ix, &e), -1);
		assert_int_equal(e.code, EXIT_DATAERR);
	}
}

/* m with files a and b, of contents H1 and H2. */
static void two_files(struct manifest *m, struct mfile f[2])
{
	memset(m, 0, sizeof *m);
	memset(f, 0, 2 * sizeof *f);
	f[0].path = "a";
	f[1].path = "b";
	hex_decode(H1, f[0].sha256, SHA256_LEN);
	hex_decode(H2, f[1].sha256, SHA256_LEN);
	m->files = f;
	m->nfiles = 2;
}

static void test_check(void **state)
{
	struct objects_index ix;
	struct mfile f[2];
	struct manifest m;
	struct err e;

	(void)state;
	two_files(&m, f);
	assert_int_equal(parse(good, &ix, &e), 0);
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", HM, NULL, &m, &e), 0);
	/* another release's index, another manifest, another app */
	assert_int_equal(objects_index_check(&ix, "hello", "1.3.0", HM, NULL, &m, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", H1, NULL, &m, &e), -1);
	assert_int_equal(objects_index_check(&ix, "other", "1.2.0", HM, NULL, &m, &e), -1);
	/* a file it does not list */
	hex_decode(HM, f[1].sha256, SHA256_LEN);
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", HM, NULL, &m, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	objects_index_release(&ix);
}

/* A change index: parsed and emitted with its from and payload size; it
 * is taken only as the change from the release it names, for a manifest
 * of its payload size, never as a whole index, and a whole index never
 * as a change index; it need not list every file. */
static void test_delta(void **state)
{
	struct objects_index ix, full, again;
	struct buf out = BUF_INIT;
	struct mfile f[2];
	struct manifest m;
	struct err e;

	(void)state;
	two_files(&m, f);
	m.payload_size = 5000;
	assert_int_equal(parse(delta, &ix, &e), 0);
	assert_string_equal(ix.from, "1.1.0");
	assert_int_equal(ix.payload_size, 5000);
	assert_int_equal(ix.n, 1);
	objects_index_emit(&ix, &out);
	assert_int_equal(objects_index_parse(out.data, out.len, &again, &e), 0);
	assert_string_equal(again.from, "1.1.0");
	assert_int_equal(again.payload_size, 5000);
	objects_index_release(&again);
	buf_release(&out);
	/* a change that adds no content: an empty list, read back as one */
	ix.n = 0;
	objects_index_emit(&ix, &out);
	assert_int_equal(objects_index_parse(out.data, out.len, &again, &e), 0);
	assert_int_equal(again.n, 0);
	assert_string_equal(again.from, "1.1.0");
	objects_index_release(&again);
	buf_release(&out);
	ix.n = 1;

	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", HM, "1.1.0", &m, &e), 0);
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", HM, "1.1.0", NULL, &e), 0);
	/* the change from another release; taken as a whole index */
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", HM, "1.0.0", &m, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", HM, NULL, &m, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	/* another release, another manifest */
	assert_int_equal(objects_index_check(&ix, "hello", "1.3.0", HM, "1.1.0", &m, &e), -1);
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", H1, "1.1.0", &m, &e), -1);
	/* a payload size that is not the manifest's */
	m.payload_size = 4999;
	assert_int_equal(objects_index_check(&ix, "hello", "1.2.0", HM, "1.1.0", &m, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	/* a whole index is not a change index */
	assert_int_equal(parse(good, &full, &e), 0);
	assert_null(full.from);
	assert_int_equal(objects_index_check(&full, "hello", "1.2.0", HM, "1.1.0", &m, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	objects_index_release(&full);
	objects_index_release(&ix);
}

static void test_gzip_round_trip(void **state)
{
	char dir[] = "/tmp/upgr-objects.XXXXXX";
	char *src, *gz, *out;
	uint8_t h[SHA256_LEN];
	uint64_t size;
	struct err e;
	char data[5000];

	(void)state;
	assert_non_null(mkdtemp(dir));
	src = fs_join(dir, "src");
	gz = fs_join(dir, "src.gz");
	out = fs_join(dir, "out");
	memset(data, 'x', sizeof data);
	assert_int_equal(fs_write_atomic(src, data, sizeof data, 0600, &e), 0);
	sha256_buf(data, sizeof data, h);
	assert_int_equal(objects_gzip(src, gz, &size, &e), 0);
	assert_true(size < sizeof data);
	assert_int_equal(objects_gunzip(gz, out, sizeof data, h, &e), 0);
	/* signed smaller than it expands: cut off, refused, nothing left */
	assert_int_equal(objects_gunzip(gz, out, sizeof data - 1, h, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(access(out, F_OK), -1);
	/* other bytes than the hash */
	h[0] ^= 1;
	assert_int_equal(objects_gunzip(gz, out, sizeof data, h, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	/* not gzip */
	assert_int_equal(objects_gunzip(src, out, sizeof data, h, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(fs_remove_tree(dir, &e), 0);
	free(src);
	free(gz);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_memo),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_gzip_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
