/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: manifest (parsing, every rule, the canonical writer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "manifest.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

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
	"    mode: \"644\"\n"
	"    config: true\n"
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

static int parse(const char *text, struct manifest *m, struct diag *d)
{
	diag_init(d, "m.yaml");
	return manifest_parse(text, strlen(text), m, d);
}

static void test_full(void **state)
{
	struct manifest m;
	struct diag d;

	(void)state;
	if (parse(full, &m, &d) < 0)
		diag_print(&d, stderr);
	assert_int_equal(d.n, 0);
	assert_int_equal(m.format, 1);
	assert_string_equal(m.app, "hello");
	assert_string_equal(m.version, "1.2.0-rc.1");
	assert_string_equal(m.semver.pre, "rc.1");
	assert_string_equal(m.target, "/opt/hello");
	assert_true(m.has_payload);
	assert_string_equal(m.payload_file, "payload.tar.gz");
	assert_int_equal(m.payload_sha256[0], 0x01);
	assert_int_equal(m.payload_size, 123456);
	assert_int_equal(m.nfiles, 2);
	assert_string_equal(m.files[0].path, "bin/hello");
	assert_int_equal(m.files[0].mode, 0755);
	assert_true(m.files[0].has_sha256);
	assert_false(m.files[0].config);
	assert_int_equal(m.files[0].line, 10);
	assert_int_equal(m.files[0].col, 11);
	assert_int_equal(m.files[1].mode, 0644);
	assert_true(m.files[1].config);
	assert_false(m.files[1].has_sha256);
	assert_int_equal(m.nremove, 2);
	assert_string_equal(m.remove[1], "share/old doc");
	assert_int_equal(m.npre, 3);
	assert_int_equal(m.pre[0].kind, PRE_RUN);
	assert_string_equal(m.pre[0].cmd.run, "test -x /usr/bin/env");
	assert_int_equal(m.pre[0].cmd.timeout, 10);
	assert_int_equal(m.pre[1].kind, PRE_DISK_FREE);
	assert_string_equal(m.pre[1].path, "/opt");
	assert_int_equal(m.pre[1].mb, 50);
	assert_int_equal(m.pre[2].kind, PRE_INSTALLED);
	assert_int_equal(m.pre[2].constraint.n, 2);
	assert_int_equal(m.stop.n, 1);
	assert_int_equal(m.stop.v[0].timeout, 30);
	assert_int_equal(m.start.n, 1);
	assert_int_equal(m.start.v[0].timeout, 60);
	assert_string_equal(m.start.v[0].run, "bin/hello-ctl start");
	assert_int_equal(m.health.v[0].retries, 5);
	assert_int_equal(m.health.v[0].interval, 2);
	assert_string_equal(m.rollback.v[0].run, "echo \"it's back\"");
	assert_non_null(manifest_find_file(&m, "etc/hello.conf"));
	assert_null(manifest_find_file(&m, "etc"));
	/* The hint is tried first, and only taken when it is the path. */
	assert_ptr_equal(manifest_find_file_near(&m, "etc/hello.conf", 1), &m.files[1]);
	assert_ptr_equal(manifest_find_file_near(&m, "etc/hello.conf", 0), &m.files[1]);
	assert_ptr_equal(manifest_find_file_near(&m, "bin/hello", 7), &m.files[0]);
	assert_null(manifest_find_file_near(&m, "etc", 0));
	manifest_release(&m);
	diag_release(&d);
}

static void assert_mcmds_equal(const struct mcmds *a, const struct mcmds *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].run, b->v[i].run);
		assert_int_equal(a->v[i].timeout, b->v[i].timeout);
		assert_int_equal(a->v[i].retries, b->v[i].retries);
		assert_int_equal(a->v[i].interval, b->v[i].interval);
	}
}

static void assert_manifest_equal(const struct manifest *a, const struct manifest *b)
{
	size_t i;

	assert_string_equal(a->app, b->app);
	assert_string_equal(a->version, b->version);
	assert_int_equal(semver_cmp(&a->semver, &b->semver), 0);
	assert_string_equal(a->target, b->target);
	assert_int_equal(a->has_payload, b->has_payload);
	if (a->has_payload) {
		assert_string_equal(a->payload_file, b->payload_file);
		assert_memory_equal(a->payload_sha256, b->payload_sha256, 32);
		assert_int_equal(a->payload_size, b->payload_size);
	}
	assert_int_equal(a->nfiles, b->nfiles);
	for (i = 0; i < a->nfiles; i++) {
		assert_string_equal(a->files[i].path, b->files[i].path);
		assert_int_equal(a->files[i].mode, b->files[i].mode);
		assert_int_equal(a->files[i].config, b->files[i].config);
		assert_int_equal(a->files[i].has_sha256, b->files[i].has_sha256);
		assert_memory_equal(a->files[i].sha256, b->files[i].sha256, 32);
	}
	assert_int_equal(a->nremove, b->nremove);
	for (i = 0; i < a->nremove; i++)
		assert_string_equal(a->remove[i], b->remove[i]);
	assert_int_equal(a->npre, b->npre);
	for (i = 0; i < a->npre; i++) {
		assert_int_equal(a->pre[i].kind, b->pre[i].kind);
		if (a->pre[i].kind == PRE_RUN) {
			assert_string_equal(a->pre[i].cmd.run, b->pre[i].cmd.run);
			assert_int_equal(a->pre[i].cmd.timeout, b->pre[i].cmd.timeout);
		} else if (a->pre[i].kind == PRE_DISK_FREE) {
			assert_string_equal(a->pre[i].path, b->pre[i].path);
			assert_int_equal(a->pre[i].mb, b->pre[i].mb);
		} else {
			assert_string_equal(a->pre[i].constraint_text, b->pre[i].constraint_text);
		}
	}
	assert_mcmds_equal(&a->stop, &b->stop);
	assert_mcmds_equal(&a->start, &b->start);
	assert_mcmds_equal(&a->health, &b->health);
	assert_mcmds_equal(&a->rollback, &b->rollback);
}

/* Emitting and parsing again gives an equal struct, and emitting that
 * gives the same bytes (the form is canonical). */
static void test_emit_roundtrip(void **state)
{
	static const char *const inputs[] = {
		full,
		"upgr: 1\napp: a\nversion: 0.0.1\ntarget: /x\nfiles: [{path: \"we\\\"ird: #x \\u00e9\", mode: '0600'}]\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		struct buf out1 = BUF_INIT, out2 = BUF_INIT;
		struct manifest a, b;
		struct diag d;

		assert_int_equal(parse(inputs[i], &a, &d), 0);
		manifest_emit(&a, &out1);
		diag_release(&d);
		if (parse(out1.data, &b, &d) < 0) {
			fputs(out1.data, stderr);
			diag_print(&d, stderr);
		}
		assert_int_equal(d.n, 0);
		assert_manifest_equal(&a, &b);
		manifest_emit(&b, &out2);
		assert_string_equal(out1.data, out2.data);
		manifest_release(&a);
		manifest_release(&b);
		diag_release(&d);
		buf_release(&out1);
		buf_release(&out2);
	}
}

/* The memo (memo.h): a second parse of the same large bytes is a copy of
 * the first, owned by its caller; bytes that differ by one are parsed. */
static void test_memo(void **state)
{
	struct buf text = BUF_INIT, out1 = BUF_INIT, out2 = BUF_INIT;
	struct manifest a, b, c;
	struct diag d;
	size_t i;
	char *v;

	(void)state;
	buf_addf(&text, "%s", full);
	for (i = 0; i < 2000; i++)
		buf_addf(&text, "# padding line %zu, so that the memo keeps this manifest\n", i);
	assert_true(text.len >= 64 << 10);
	assert_int_equal(parse(text.data, &a, &d), 0);
	diag_release(&d);
	assert_int_equal(parse(text.data, &b, &d), 0);
	diag_release(&d);
	assert_manifest_equal(&a, &b);
	manifest_emit(&a, &out1);
	manifest_release(&a);                 /* b owns its own copy */
	manifest_emit(&b, &out2);
	assert_string_equal(out1.data, out2.data);
	v = strstr(text.data, "1.2.0-rc.1");
	v[4] = '1';                           /* 1.2.1-rc.1: other bytes */
	assert_int_equal(parse(text.data, &c, &d), 0);
	diag_release(&d);
	assert_string_equal(c.version, "1.2.1-rc.1");
	assert_string_equal(b.version, "1.2.0-rc.1");
	manifest_release(&b);
	manifest_release(&c);
	buf_release(&text);
	buf_release(&out1);
	buf_release(&out2);
}

/* One rule per case: a small valid manifest with one line changed. The
 * base is lines 1-7; each case replaces or appends text. */
#define BASE_HEAD "upgr: 1\napp: hello\nversion: 1.0.0\ntarget: /opt/hello\n"
#define BASE_FILES "files:\n  - path: bin/hello\n    mode: \"0755\"\n"

static const struct {
	const char *text;
	int line, col;
	const char *msg;
} bad[] = {
	{ "app: hello\nversion: 1.0.0\ntarget: /opt/hello\n" BASE_FILES, 1, 1,
	  "missing required key 'upgr'" },
	{ "upgr: 2\napp: hello\nversion: 1.0.0\ntarget: /x\n" BASE_FILES, 1, 7,
	  "upgr: format 2 is not supported" },
	{ "upgr: \"1\"\napp: hello\nversion: 1.0.0\ntarget: /x\n" BASE_FILES, 1, 7,
	  "upgr: expected an integer, got a string" },
	{ "upgr: 1\napp: Hello\nversion: 1.0.0\ntarget: /x\n" BASE_FILES, 2, 6,
	  "app: \"Hello\" is not a valid name" },
	{ "upgr: 1\napp: hello\nversion: 1.2\ntarget: /x\n" BASE_FILES, 3, 10,
	  "version: \"1.2\" is not a semantic version: expected MAJOR.MINOR.PATCH" },
	{ "upgr: 1\napp: hello\nversion: 1.0.0+b1\ntarget: /x\n" BASE_FILES, 3, 10,
	  "build metadata" },
	{ "upgr: 1\napp: hello\nversion: 1.0.0\ntarget: opt/hello\n" BASE_FILES, 4, 9,
	  "target: \"opt/hello\": must be absolute" },
	{ "upgr: 1\napp: hello\nversion: 1.0.0\ntarget: /\n" BASE_FILES, 4, 9,
	  "'/' itself is not allowed" },
	{ "upgr: 1\napp: hello\nversion: 1.0.0\ntarget: /opt/../etc\n" BASE_FILES, 4, 9,
	  "'..' components are not allowed" },
	{ "upgr: 1\napp: hello\nversion: 1.0.0\ntarget: /opt//x\n" BASE_FILES, 4, 9,
	  "empty components" },
	{ BASE_HEAD "files: []\n", 5, 8, "files: must list at least one file" },
	{ BASE_HEAD "files:\n  - path: /bin/hello\n    mode: \"0755\"\n", 6, 11,
	  "files[0].path: \"/bin/hello\": must be relative" },
	{ BASE_HEAD "files:\n  - path: bin/./hello\n    mode: \"0755\"\n", 6, 11,
	  "'.' components are not allowed" },
	{ BASE_HEAD BASE_FILES "remove: [ bin/ ]\n", 8, 11,
	  "a trailing '/' is not allowed" },
	{ BASE_HEAD "files:\n  - path: site/\n    mode: \"0644\"\n"
	  "payload: { file: p.tar.gz, sha256: \"" "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	  "\", size: 1 }\n", 6, 11,
	  "files[0].path: \"site/\" is a directory or glob: those belong in an authored manifest" },
	{ BASE_HEAD "files:\n  - path: bin/hello\n    mode: 0755\n", 7, 11,
	  "files[0].mode: 0755 is not an octal mode (expected a quoted string like \"0644\")" },
	{ BASE_HEAD "files:\n  - path: bin/hello\n    mode: \"0799\"\n", 7, 11,
	  "files[0].mode: \"0799\" is not an octal mode" },
	{ BASE_HEAD "files:\n  - path: bin/hello\n    mode: \"4755\"\n", 7, 11,
	  "sets setuid, setgid or sticky bits" },
	{ BASE_HEAD "files:\n  - path: bin/hello\n", 6, 5,
	  "files[0]: missing required key 'mode'" },
	{ BASE_HEAD BASE_FILES "    sha256: abc\n", 8, 13,
	  "files[0].sha256: \"abc\" is not a sha256 (expected 64 hex digits)" },
	{ BASE_HEAD BASE_FILES "    config: yes\n", 8, 13,
	  "files[0].config: expected true or false, got a string" },
	{ BASE_HEAD BASE_FILES "    mdoe: \"0644\"\n", 8, 5,
	  "files[0].mdoe: unknown key (did you mean 'mode'?)" },
	{ BASE_HEAD BASE_FILES "  - path: bin/hello\n    mode: \"0644\"\n", 8, 11,
	  "files[1].path: \"bin/hello\" is listed twice (first in files[0] at 6:11)" },
	{ BASE_HEAD BASE_FILES "  - path: bin/hello/x\n    mode: \"0644\"\n", 6, 11,
	  "files[0].path: \"bin/hello\" is a file, but files[1] \"bin/hello/x\" needs it" },
	{ BASE_HEAD BASE_FILES "remove: [bin/hello]\n", 8, 10,
	  "remove[0]: \"bin/hello\" is also in files" },
	{ BASE_HEAD BASE_FILES "remove: [bin]\n", 8, 10,
	  "remove[0]: \"bin\" is a directory of \"bin/hello\" in files" },
	{ BASE_HEAD BASE_FILES "remove: [a, ../b]\n", 8, 13,
	  "remove[1]: \"../b\": '..' components are not allowed" },
	{ BASE_HEAD BASE_FILES "stpo: []\n", 8, 1, "stpo: unknown key (did you mean 'stop'?)" },
	{ "upgr: 1\napp: hello\nverison: 1.0.0\ntarget: /x\n" BASE_FILES, 3, 1,
	  "verison: unknown key (did you mean 'version'?)" },
	{ BASE_HEAD "files:\n  - path: bin/hello\n    mod: \"0755\"\n", 7, 5,
	  "files[0].mod: unknown key (did you mean 'mode'?)" },
	{ BASE_HEAD BASE_FILES "app: again\n", 8, 1, "app: duplicate key (first at 2:1)" },
	{ BASE_HEAD BASE_FILES "stop: [{run: x, timeout: 0}]\n", 8, 26,
	  "stop[0].timeout: must be at least 1" },
	{ BASE_HEAD BASE_FILES "stop: [{run: x, timeout: -5}]\n", 8, 26,
	  "stop[0].timeout: -5 is negative" },
	{ BASE_HEAD BASE_FILES "stop: [{run: x, retries: 2}]\n", 8, 17,
	  "stop[0].retries: unknown key" },
	{ BASE_HEAD BASE_FILES "start: [{timeout: 5}]\n", 8, 9,
	  "start[0]: missing required key 'run'" },
	{ BASE_HEAD BASE_FILES "start: [42]\n", 8, 9,
	  "start[0]: expected a string, got an integer" },
	{ BASE_HEAD BASE_FILES "start: [[a]]\n", 8, 9,
	  "start[0]: expected a command (a string, or a mapping with 'run'), got a sequence" },
	{ BASE_HEAD BASE_FILES "start: x\n", 8, 8, "start: expected a sequence, got a string" },
	{ BASE_HEAD BASE_FILES "health: [{run: x, interval: 0}]\n", 8, 29,
	  "health[0].interval: must be at least 1" },
	{ BASE_HEAD BASE_FILES "health: [{run: x, timeout: 90000}]\n", 8, 28,
	  "health[0].timeout: 90000 is too large (at most 86400)" },
	{ BASE_HEAD BASE_FILES "preconditions: [{installed: \"<2\"}]\n", 8, 29,
	  "preconditions[0].installed: \"<2\" is not a version constraint: '2' is not a full version" },
	{ BASE_HEAD BASE_FILES "preconditions: [{disk_free: {path: /opt}}]\n", 8, 29,
	  "preconditions[0].disk_free: missing required key 'mb'" },
	{ BASE_HEAD BASE_FILES "preconditions: [{disk_free: {path: /opt, mb: 0}}]\n", 8, 46,
	  "preconditions[0].disk_free.mb: must be at least 1" },
	{ BASE_HEAD BASE_FILES "preconditions: [{run: x, installed: \"=1.0.0\"}]\n", 8, 17,
	  "preconditions[0]: 'run' and 'installed' in one entry" },
	{ BASE_HEAD BASE_FILES "preconditions: [{instaled: \"=1.0.0\"}]\n", 8, 18,
	  "preconditions[0].instaled: unknown key (did you mean 'installed'?)" },
	{ BASE_HEAD BASE_FILES "preconditions: [{disk_free: {path: /opt, mb: 1}, timeout: 3}]\n",
	  8, 50, "preconditions[0].timeout: unknown key" },
	{ BASE_HEAD BASE_FILES "payload: {file: p.tgz, size: 5}\n", 8, 10,
	  "payload: missing required key 'sha256'" },
	{ BASE_HEAD BASE_FILES "payload: {file: a/p.tgz, sha256: " HEX64 ", size: 1}\n", 8, 17,
	  "payload.file: \"a/p.tgz\" must be a plain file name" },
	{ BASE_HEAD BASE_FILES "payload: {file: p.tgz, sha256: " HEX64 ", size: 0}\n", 8, 104,
	  "payload.size: must be at least 1" },
	{ "- a\n- b\n", 1, 1, "manifest: expected a mapping, got a sequence" },
	{ BASE_HEAD BASE_FILES "stop: &s [x]\n", 8, 7, "anchors and aliases are not allowed" },
};

static void test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct manifest m;
		struct diag d;

		print_message("case %zu: %s\n", i, bad[i].msg);
		assert_int_equal(parse(bad[i].text, &m, &d), -1);
		if (d.n != 1 || d.v[0].line != bad[i].line || d.v[0].col != bad[i].col ||
		    !strstr(d.v[0].msg, bad[i].msg))
			diag_print(&d, stderr);
		assert_int_equal(d.n, 1);
		assert_int_equal(d.v[0].line, bad[i].line);
		assert_int_equal(d.v[0].col, bad[i].col);
		assert_non_null(strstr(d.v[0].msg, bad[i].msg));
		assert_null(m.app);
		assert_null(m.files);
		diag_release(&d);
	}
}

/* Every problem is reported, not only the first. */
static void test_all_problems(void **state)
{
	const char *text =
		"upgr: 1\n"
		"app: Hello\n"
		"version: 1.0\n"
		"target: /opt/hello\n"
		"files:\n"
		"  - path: ../x\n"
		"    mode: \"999\"\n"
		"stpo: []\n";
	struct manifest m;
	struct diag d;

	(void)state;
	assert_int_equal(parse(text, &m, &d), -1);
	assert_int_equal(d.n, 5);
	assert_int_equal(d.v[0].line, 8);   /* keys are checked first */
	assert_int_equal(d.v[1].line, 2);
	assert_int_equal(d.v[2].line, 3);
	assert_int_equal(d.v[3].line, 6);
	assert_int_equal(d.v[4].line, 7);
	diag_release(&d);
}

static void test_path_problem(void **state)
{
	static const struct { const char *p, *why; } cases[] = {
		{ "bin/hello", NULL }, { "a", NULL }, { "a/b.c/..d/...", NULL },
		{ "", "empty" }, { "/a", "relative" }, { "a//b", "'//'" },
		{ "a/", "trailing" }, { ".", "'.'" }, { "a/./b", "'.'" },
		{ "..", "'..'" }, { "a/../b", "'..'" }, { "a\\b", "backslash" },
		{ "a\nb", "control" }, { "a\x7f", "control" },
	};
	char longp[5000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *why = manifest_path_problem(cases[i].p);

		print_message("'%s'\n", cases[i].p);
		if (!cases[i].why)
			assert_null(why);
		else
			assert_non_null(strstr(why, cases[i].why));
	}
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	assert_non_null(strstr(manifest_path_problem(longp), "4095"));
	longp[300] = '\0';
	assert_non_null(strstr(manifest_path_problem(longp), "255"));
}

/* Every truncation of a full manifest, and every byte of it replaced by
 * characters that matter to YAML: the parser either accepts (and then the
 * canonical form round-trips) or reports at least one problem, never
 * crashes (run under the sanitizers), never reports success with items. */
static void check_mutant(const char *text, size_t len)
{
	struct manifest m, m2;
	struct buf out = BUF_INIT;
	struct diag d;
	int rc;

	diag_init(&d, "m.yaml");
	rc = manifest_parse(text, len, &m, &d);
	assert_true((rc == 0 && d.n == 0) || (rc == -1 && d.n > 0));
	if (rc == 0) {
		manifest_emit(&m, &out);
		assert_int_equal(manifest_parse(out.data, out.len, &m2, &d), 0);
		assert_manifest_equal(&m, &m2);
		manifest_release(&m2);
		manifest_release(&m);
	}
	buf_release(&out);
	diag_release(&d);
}

static void test_mutants(void **state)
{
	static const char subst[] = " :-\"'\t[]{},&*#!|>%@`\n\\x0\x01\xff";
	size_t len = strlen(full), i, j;
	char *copy = malloc(len);

	(void)state;
	for (i = 0; i <= len; i++)
		check_mutant(full, i);
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof subst; j++) {   /* includes the NUL byte */
			memcpy(copy, full, len);
			copy[i] = subst[j];
			check_mutant(copy, len);
		}
	}
	free(copy);
}

static void test_load_missing(void **state)
{
	struct manifest m;
	struct diag d;

	(void)state;
	diag_init(&d, "x");
	assert_int_equal(manifest_load("/nonexistent/m.yaml", &m, &d), -1);
	assert_string_equal(d.file, "/nonexistent/m.yaml");
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "cannot read"));
	diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_emit_roundtrip),
		cmocka_unit_test(test_memo),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_all_problems),
		cmocka_unit_test(test_path_problem),
		cmocka_unit_test(test_mutants),
		cmocka_unit_test(test_load_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
