/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: state (lock, status, serial) and plan (how each file is
 * classified, what the plan shows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "hash.h"
#include "payload.h"
#include "plan.h"
#include "state.h"
#include "xalloc.h"

static char *scratch(void)
{
	char tmpl[] = "/tmp/upgr-unit-state.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void test_lock_excludes_another_process(void **state)
{
	char *dir = scratch();
	struct err e;
	int fd, status;
	pid_t pid;

	(void)state;
	assert_int_equal(state_lock(dir, &fd, &e), 0);
	pid = fork();
	if (pid == 0) {
		int fd2;

		_exit(state_lock(dir, &fd2, &e) < 0 && e.code == EXIT_LOCKED ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	state_unlock(fd);
	pid = fork();
	if (pid == 0) {
		int fd2;

		_exit(state_lock(dir, &fd2, &e) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fs_remove_tree(dir, &e);
	free(dir);
}

static void test_status_roundtrip(void **state)
{
	char *dir = scratch();
	struct app_status s, back;
	struct err e;
	bool have;

	(void)state;
	memset(&s, 0, sizeof s);
	strcpy(s.app, "hello");
	strcpy(s.version, "1.2.0");
	strcpy(s.action, "upgrade");
	strcpy(s.from, "1.1.0");
	strcpy(s.to, "1.2.0");
	strcpy(s.result, "rolled-back");
	state_now(s.time);
	strcpy(s.error, "health 'x' exited 1: \"quoted\"\\ and\nnewline\ttab\x01");
	assert_int_equal(state_status_read(dir, "hello", &back, &have, &e), 0);
	assert_false(have);
	assert_int_equal(state_status_write(dir, &s, &e), 0);
	assert_int_equal(state_status_read(dir, "hello", &back, &have, &e), 0);
	assert_true(have);
	assert_memory_equal(&s, &back, sizeof s);
	assert_int_equal(strlen(s.time), 24);
	assert_int_equal(s.time[23], 'Z');
	fs_remove_tree(dir, &e);
	free(dir);
}

static void test_serial(void **state)
{
	char *dir = scratch(), *path;
	struct buf b = BUF_INIT;
	uint64_t n;
	struct err e;

	(void)state;
	assert_int_equal(state_serial_read(dir, "a", "stable", &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(state_serial_write(dir, "a", "stable", 18446744073709551615ULL, &e), 0);
	assert_int_equal(state_serial_read(dir, "a", "stable", &n, &e), 0);
	assert_true(n == 18446744073709551615ULL);
	/* Per channel: beta's serial says nothing about stable's. */
	assert_int_equal(state_serial_write(dir, "a", "beta", 10, &e), 0);
	assert_int_equal(state_serial_read(dir, "a", "beta", &n, &e), 0);
	assert_true(n == 10);
	assert_int_equal(state_serial_read(dir, "a", "edge", &n, &e), 0);
	assert_true(n == 0);
	assert_int_equal(state_serial_write(dir, "a", "stable", 3, &e), 0);
	assert_int_equal(state_serial_read(dir, "a", "stable", &n, &e), 0);
	assert_true(n == 3);
	assert_int_equal(state_serial_read(dir, "a", "beta", &n, &e), 0);
	assert_true(n == 10);
	path = xasprintf("%s/apps/a/serial", dir);
	assert_int_equal(fs_write_atomic(path, "12x\n", 4, 0644, &e), 0);
	assert_int_equal(state_serial_read(dir, "a", "stable", &n, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	/* The per-app file of an older upgr counts for the configured
	 * channel, and becomes its line on the next update. */
	assert_int_equal(fs_write_atomic(path, "10\n", 3, 0644, &e), 0);
	assert_int_equal(state_serial_read(dir, "a", "beta", &n, &e), 0);
	assert_true(n == 10);
	assert_int_equal(state_serial_write(dir, "a", "beta", 11, &e), 0);
	assert_int_equal(fs_read_file(path, 1024, &b, &e), 0);
	assert_string_equal(b.data, "beta 11\n");
	assert_int_equal(state_serial_read(dir, "a", "stable", &n, &e), 0);
	assert_true(n == 0);
	buf_release(&b);
	fs_remove_tree(dir, &e);
	free(path);
	free(dir);
}

/* A tick's look at the installed manifest: the channel's when its bytes
 * hash to the channel's manifest_sha256, and only then; otherwise the
 * version its top gives. */
static void test_installed_peek(void **state)
{
	char *dir = scratch(), *appdir = xasprintf("%s/apps/a", dir);
	char *path = xasprintf("%s/manifest.yaml", appdir);
	const char text[] = "upgr: 1\napp: a\nversion: 1.0.0\n";
	const char more[] = "upgr: 1\napp: a\nversion: 1.0.1\n#\n";
	char hex[SHA256_HEX_LEN + 1], ver[64];
	uint8_t h[SHA256_LEN];
	bool same;
	struct err e;

	(void)state;
	sha256_buf(text, strlen(text), h);
	hex_encode(h, SHA256_LEN, hex);
	assert_false(state_installed_peek(dir, "a", hex, &same, ver, sizeof ver));  /* none */
	assert_int_equal(fs_mkdir_p(appdir, 0700, &e), 0);
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600, &e), 0);
	assert_true(state_installed_peek(dir, "a", hex, &same, ver, sizeof ver));
	assert_true(same);
	assert_string_equal(ver, "1.0.0");
	assert_true(state_installed_peek(dir, "a", NULL, &same, ver, sizeof ver));
	assert_false(same);
	assert_string_equal(ver, "1.0.0");
	assert_false(state_installed_peek(dir, "b", hex, &same, ver, sizeof ver));
	/* One byte more (a comment) is other bytes: the version is read. */
	assert_int_equal(fs_write_atomic(path, more, strlen(more), 0600, &e), 0);
	assert_true(state_installed_peek(dir, "a", hex, &same, ver, sizeof ver));
	assert_false(same);
	assert_string_equal(ver, "1.0.1");
	fs_remove_tree(dir, &e);
	free(path);
	free(appdir);
	free(dir);
}

/* A release of four files over an installed one: one unchanged, one
 * replaced, one config edited here, one new; and one removal. */
static void test_plan_classifies(void **state)
{
	static const char text[] =
		"upgr: 1\napp: t\nversion: 2.0.0\ntarget: /opt/t\nfiles:\n"
		"  - { path: same, mode: \"0644\" }\n"
		"  - { path: changed, mode: \"0644\" }\n"
		"  - { path: etc/conf, mode: \"0600\", config: true }\n"
		"  - { path: new/file, mode: \"0755\" }\n"
		"remove: [ gone, never-there ]\n";
	char *dir = scratch(), *src = fs_join(dir, "src"), *root = fs_join(dir, "root");
	char *tgt = fs_join(root, "opt/t"), *payload = fs_join(dir, "p.tar.gz"), *p;
	struct manifest m;
	struct plan pl;
	struct buf json = BUF_INIT;
	struct diag d;
	struct err e;
	size_t i;
	static const struct { const char *path, *content; } srcfiles[] = {
		{ "same", "same\n" }, { "changed", "new content\n" },
		{ "etc/conf", "conf v2\n" }, { "new/file", "hello\n" },
	}, oldfiles[] = {
		{ "same", "same\n" }, { "changed", "old content\n" },
		{ "etc/conf", "edited here\n" }, { "gone", "bye\n" },
	};

	(void)state;
	for (i = 0; i < 4; i++) {
		p = fs_join(src, srcfiles[i].path);
		*strrchr(p, '/') = '\0';
		assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
		free(p);
		p = fs_join(src, srcfiles[i].path);
		assert_int_equal(fs_write_new(p, srcfiles[i].content, strlen(srcfiles[i].content), 0644, &e), 0);
		free(p);
		p = fs_join(tgt, oldfiles[i].path);
		*strrchr(p, '/') = '\0';
		assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
		free(p);
		p = fs_join(tgt, oldfiles[i].path);
		assert_int_equal(fs_write_new(p, oldfiles[i].content, strlen(oldfiles[i].content),
					      i == 2 ? 0600 : 0644, &e), 0);
		free(p);
	}
	diag_init(&d, "t");
	assert_int_equal(manifest_parse(text, sizeof text - 1, &m, &d), 0);
	assert_int_equal(payload_create(payload, src, &m, &e), 0);
	assert_int_equal(plan_build(&pl, &m, NULL, root, payload, "", &e), 0);
	assert_int_equal(pl.nops, 5);
	assert_string_equal(pl.action, "install");
	assert_int_equal(pl.ops[0].kind, PLAN_UNCHANGED);
	assert_int_equal(pl.ops[1].kind, PLAN_REPLACE);
	assert_int_equal(pl.ops[1].old_size, 12);
	assert_int_equal(pl.ops[1].new_size, 12);
	/* Nothing installed: a config file already there is not ours, keep it. */
	assert_int_equal(pl.ops[2].kind, PLAN_CONFIG_KEEP);
	assert_string_equal(pl.ops[2].path, "etc/conf.upgr-new");
	assert_string_equal(pl.ops[2].src, "etc/conf");
	assert_int_equal(pl.ops[3].kind, PLAN_ADD);
	assert_int_equal(pl.ops[3].new_mode, 0755);
	assert_int_equal(pl.ops[4].kind, PLAN_REMOVE);
	assert_string_equal(pl.ops[4].path, "gone");
	assert_int_equal(pl.nchanged, 4);
	plan_json(&pl, &json);
	assert_non_null(strstr(json.data, "\"op\": \"keep-config\", \"path\": \"etc/conf.upgr-new\""));
	assert_non_null(strstr(json.data, "\"from\": null"));
	plan_release(&pl);
	manifest_release(&m);
	diag_release(&d);
	buf_release(&json);
	fs_remove_tree(dir, &e);
	free(dir);
	free(src);
	free(root);
	free(tgt);
	free(payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_excludes_another_process),
		cmocka_unit_test(test_status_roundtrip),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_installed_peek),
		cmocka_unit_test(test_plan_classifies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
