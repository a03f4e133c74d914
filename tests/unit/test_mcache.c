/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the installed manifest as parsed, kept beside it
 * (mcache.c). What is read back is what the parse made, field by field;
 * the cache is unused for other YAML bytes, with any byte of it changed,
 * cut short or grown, or with another binary's struct sizes; and
 * manifest_load_cached takes it only for the bytes it names, and parses
 * otherwise. */
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
#include "diag.h"
#include "fsutil.h"
#include "hash.h"
#include "manifest.h"
#include "mcache.h"
#include "xalloc.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Every kind of field manifest.h has. */
static const char full[] =
	"upgr: 1\n"
	"app: hello\n"
	"version: 1.2.0-rc.1\n"
	"target: /opt/hello\n"
	"payload:\n"
	"  file: payload.tar.gz\n"
	"  sha256: " HEX64 "\n"
	"  size: 123456\n"
	"files:\n"
	"  - path: bin/hello\n"
	"    mode: \"0755\"\n"
	"    sha256: " HEX64 "\n"
	"  - path: etc/hello.conf\n"
	"    mode: \"640\"\n"
	"    config: true\n"
	"    owner: root\n"
	"    group: adm\n"
	"    sha256: " HEX64 "\n"
	"  - path: a/first\n"
	"    mode: \"0600\"\n"
	"    sha256: " HEX64 "\n"
	"remove: [lib/libold.so, \"share/old doc\"]\n"
	"preconditions:\n"
	"  - run: test -x /usr/bin/env\n"
	"    timeout: 10\n"
	"  - disk_free: { path: /opt, mb: 50 }\n"
	"  - installed: \">=1.0.0 <2.0.0\"\n"
	"stop:     [ { run: \"bin/hello-ctl stop\", timeout: 30 } ]\n"
	"start:    [ \"bin/hello-ctl start\" ]\n"
	"health:   [ { run: \"bin/hello-ctl status\", timeout: 10, retries: 5, interval: 2 } ]\n"
	"rollback: [ 'echo \"it''s back\"' ]\n";

static char dir[] = "/tmp/upgr-mcache.XXXXXX";
static char *path;
static uint8_t sha[SHA256_LEN];

static void parse(const char *text, struct manifest *m)
{
	struct diag d;

	diag_init(&d, "m.yaml");
	assert_int_equal(manifest_parse(text, strlen(text), m, &d), 0);
	diag_release(&d);
}

static void same_cmd(const struct mcmd *a, const struct mcmd *b)
{
	if (a->run || b->run)
		assert_string_equal(a->run, b->run);
	assert_int_equal(a->timeout, b->timeout);
	assert_int_equal(a->retries, b->retries);
	assert_int_equal(a->interval, b->interval);
	assert_int_equal(a->line, b->line);
	assert_int_equal(a->col, b->col);
}

static void same_cmds(const struct mcmds *a, const struct mcmds *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		same_cmd(&a->v[i], &b->v[i]);
}

static void same_str(const char *a, const char *b)
{
	assert_true((a == NULL) == (b == NULL));
	if (a)
		assert_string_equal(a, b);
}

/* b is a as the parse made it: the canonical form, and what that form
 * leaves out (positions, the path index, parsed constraints). */
static void same(const struct manifest *a, const struct manifest *b)
{
	struct buf ea = BUF_INIT, eb = BUF_INIT;
	size_t i;

	manifest_emit(a, &ea);
	manifest_emit(b, &eb);
	assert_int_equal(ea.len, eb.len);
	assert_memory_equal(ea.data, eb.data, ea.len);
	buf_release(&ea);
	buf_release(&eb);
	assert_int_equal(a->format, b->format);
	assert_memory_equal(&a->semver, &b->semver, sizeof a->semver);
	assert_int_equal(a->has_payload, b->has_payload);
	assert_int_equal(a->payload_size, b->payload_size);
	assert_memory_equal(a->payload_sha256, b->payload_sha256, SHA256_LEN);
	assert_int_equal(a->nfiles, b->nfiles);
	for (i = 0; i < a->nfiles; i++) {
		const struct mfile *x = &a->files[i], *y = &b->files[i];

		assert_string_equal(x->path, y->path);
		assert_int_equal(x->mode, y->mode);
		assert_int_equal(x->config, y->config);
		assert_int_equal(x->pattern, y->pattern);
		assert_int_equal(x->has_mode, y->has_mode);
		assert_int_equal(x->has_sha256, y->has_sha256);
		assert_memory_equal(x->sha256, y->sha256, SHA256_LEN);
		same_str(x->owner, y->owner);
		same_str(x->group, y->group);
		assert_int_equal(x->line, y->line);
		assert_int_equal(x->col, y->col);
	}
	assert_int_equal(a->nby_path, b->nby_path);
	assert_memory_equal(a->by_path, b->by_path, a->nby_path * sizeof *a->by_path);
	assert_int_equal(a->nremove, b->nremove);
	for (i = 0; i < a->nremove; i++)
		assert_string_equal(a->remove[i], b->remove[i]);
	assert_int_equal(a->npre, b->npre);
	for (i = 0; i < a->npre; i++) {
		const struct precond *x = &a->pre[i], *y = &b->pre[i];

		assert_int_equal(x->kind, y->kind);
		same_cmd(&x->cmd, &y->cmd);
		same_str(x->path, y->path);
		assert_int_equal(x->mb, y->mb);
		same_str(x->constraint_text, y->constraint_text);
		assert_memory_equal(&x->constraint, &y->constraint, sizeof x->constraint);
		assert_int_equal(x->line, y->line);
		assert_int_equal(x->col, y->col);
	}
	same_cmds(&a->stop, &b->stop);
	same_cmds(&a->start, &b->start);
	same_cmds(&a->health, &b->health);
	same_cmds(&a->rollback, &b->rollback);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	path = fs_join(dir, MCACHE_NAME);
	sha256_buf(full, strlen(full), sha);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(cmd);
	free(path);
	return 0;
}

/* path holding n bytes of data (no fsync: many are written) */
static void put(const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void write_full(void)
{
	struct manifest m;
	struct err e;

	parse(full, &m);
	assert_int_equal(mcache_write(path, sha, &m, &e), 0);
	manifest_release(&m);
}

static void test_round_trip(void **state)
{
	struct manifest m, back;

	(void)state;
	write_full();
	assert_true(mcache_read(path, sha, &back));
	parse(full, &m);
	same(&m, &back);
	manifest_release(&m);
	manifest_release(&back);
}

static void test_other_bytes(void **state)
{
	uint8_t other[SHA256_LEN];
	struct manifest m;

	(void)state;
	write_full();
	memcpy(other, sha, sizeof other);
	other[SHA256_LEN - 1] ^= 1;
	assert_false(mcache_read(path, other, &m));
	assert_null(m.files);
}

/* The file with one byte of it changed at each position in turn, then
 * cut at each length, then grown by a byte: never read. */
static void test_damage(void **state)
{
	struct buf good = BUF_INIT, bad = BUF_INIT;
	struct manifest m;
	struct err e;
	size_t i, read = 0;

	(void)state;
	write_full();
	assert_int_equal(fs_read_file(path, 1u << 20, &good, &e), 0);
	for (i = 0; i < good.len; i++) {
		buf_reset(&bad);
		buf_add(&bad, good.data, good.len);
		bad.data[i] ^= 0x20;
		put(bad.data, bad.len);
		read += mcache_read(path, sha, &m);
		manifest_release(&m);
	}
	for (i = 0; i < good.len; i++) {
		put(good.data, i);
		read += mcache_read(path, sha, &m);
		manifest_release(&m);
	}
	buf_reset(&bad);
	buf_add(&bad, good.data, good.len);
	buf_add(&bad, "\n", 1);
	put(bad.data, bad.len);
	read += mcache_read(path, sha, &m);
	manifest_release(&m);
	assert_int_equal(read, 0);
	buf_release(&good);
	buf_release(&bad);
}

/* A cache another binary wrote, whose struct manifest is another size, is
 * not this binary's to read, even with its sum made right. */
static void test_other_binary(void **state)
{
	struct buf b = BUF_INIT;
	struct manifest m;
	struct err e;

	(void)state;
	write_full();
	assert_int_equal(fs_read_file(path, 1u << 20, &b, &e), 0);
	b.data[sizeof "upgr-mcache 1\n" - 1] ^= 8;       /* sizeof(struct manifest) */
	sha256_buf(b.data, b.len - SHA256_LEN, (uint8_t *)b.data + b.len - SHA256_LEN);
	put(b.data, b.len);
	assert_false(mcache_read(path, sha, &m));
	buf_release(&b);
}

/* manifest_load_cached: the cache for exactly the file's bytes; another
 * file's cache beside it is not taken (the file is parsed). */
static void test_load_cached(void **state)
{
	static const char other[] = "upgr: 1\napp: other\nversion: 9.0.0\n"
				    "target: /opt/other\nfiles:\n  - path: x\n    mode: \"0644\"\n";
	char *yaml = fs_join(dir, "manifest.yaml");
	struct manifest m, want;
	struct diag d;
	struct err e;

	(void)state;
	write_full();
	assert_int_equal(fs_write_atomic(yaml, full, strlen(full), 0600, &e), 0);
	diag_init(&d, yaml);
	assert_int_equal(manifest_load_cached(yaml, path, &m, &d), 0);
	parse(full, &want);
	same(&want, &m);
	manifest_release(&m);
	manifest_release(&want);
	/* the YAML replaced (a rollback by an older upgr): the cache is stale */
	assert_int_equal(fs_write_atomic(yaml, other, strlen(other), 0600, &e), 0);
	assert_int_equal(manifest_load_cached(yaml, path, &m, &d), 0);
	assert_string_equal(m.app, "other");
	assert_int_equal(m.nfiles, 1);
	manifest_release(&m);
	diag_release(&d);
	free(yaml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_other_bytes),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_other_binary),
		cmocka_unit_test(test_load_cached),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
