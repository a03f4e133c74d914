/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: trust root parsing, thresholds over distinct keys, the
 * TUF 5.3 acceptance rule and walk, scopes, four-eyes, channel bounds,
 * expiry. Keys are made with sign_keygen in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "hash.h"
#include "root.h"
#include "xalloc.h"

enum { K_OPS1, K_OPS2, K_OPS3, K_ALICE, K_BOB, K_CAROL, K_CONSOLE, NK };
static const char *const kname[NK] = { "ops1", "ops2", "ops3", "alice", "bob", "carol", "console" };
static struct sign_key keys[NK];
static char pubs[NK][64];
static char dir[] = "/tmp/test_root.XXXXXX";

static int setup(void **state)
{
	struct sign_pub p;
	struct buf b = BUF_INIT;
	struct err e;
	int i;

	(void)state;
	crypto_init();
	if (!mkdtemp(dir) || chdir(dir) < 0)
		return -1;
	for (i = 0; i < NK; i++) {
		char *k = xasprintf("%s.key", kname[i]);

		err_clear(&e);
		if (sign_keygen(kname[i], &e) < 0 || sign_key_load(k, &keys[i], &e) < 0)
			return -1;
		sign_key_public(&keys[i], &p);
		buf_reset(&b);
		sign_pub_format(&p, &b);
		sscanf(strchr(b.data, '\n') + 1, "%63s", pubs[i]);
		free(k);
	}
	buf_release(&b);
	return 0;
}

/* A root text with version v whose root role is rk (threshold th). */
static char *root_text(unsigned v, const char *rk, unsigned th, const char *expires)
{
	return xasprintf("upgr: 1\ntype: root\nversion: %u\nexpires: %s\nkeys:\n"
			 "  ops1: %s\n  ops2: %s\n  ops3: %s\n  alice: %s\n  bob: %s\n"
			 "  carol: %s\n  console: %s\n"
			 "roles:\n  root: { keys: [%s], threshold: %u }\n"
			 "  release: { keys: [alice, bob], threshold: 1 }\n"
			 "  approve: { keys: [carol, bob], threshold: 1 }\n"
			 "  channel: { keys: [console], threshold: 1 }\n"
			 "scopes:\n  alice: { apps: [\"payments-*\"], targets: [\"/opt/payments\"] }\n",
			 v, expires, pubs[0], pubs[1], pubs[2], pubs[3], pubs[4], pubs[5],
			 pubs[6], rk, th);
}

static void must_parse(const char *t, struct root *r)
{
	struct diag d;

	diag_init(&d, "t");
	if (root_parse(t, strlen(t), r, &d) < 0)
		diag_print(&d, stderr);
	assert_int_equal(d.n, 0);
	diag_release(&d);
}

static void sig_by(int k, const char *data, struct buf *b, struct root_sig *s)
{
	struct err e;

	err_clear(&e);
	buf_reset(b);
	assert_int_equal(sign_minisig(&keys[k], data, strlen(data), "c", b, &e), 0);
	s->name = kname[k];
	s->text = b->data;
	s->len = b->len;
}

static void test_parse_good(void **state)
{
	char *t = root_text(1, "ops1, ops2, ops3", 2, "2099-01-01T00:00:00Z");
	struct root r;

	(void)state;
	must_parse(t, &r);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.nkeys, NK);
	assert_int_equal(r.roles[ROOT_ROLE_ROOT].threshold, 2);
	assert_int_equal(r.nscopes, 1);
	root_release(&r);
	free(t);
}

static void test_parse_rules(void **state)
{
	static const struct { const char *from, *to, *msg; } cases[] = {
		{ "threshold: 2", "threshold: 4", "is more than the role's 3 keys" },
		{ "threshold: 2", "threshold: 0", "must be at least 1" },
		{ "ops1, ops2, ops3", "ops1, ops1", "listed twice" },
		{ "ops1, ops2, ops3", "ops1, zed", "no key named 'zed'" },
		{ "version: 1", "version: -1", "version" },
		{ "2099-01-01T00:00:00Z", "2099-13-01T00:00:00Z", "expected a UTC time" },
		{ "type: root", "type: manifest", "expected 'root'" },
		{ "  alice: {", "  carol: {", "not a key of the release role" },
		{ "/opt/payments", "opt", "must be absolute" },
		{ "payments-*", "pay[x", "unclosed '['" },
		{ "  channel: { keys: [console], threshold: 1 }\n", "", "missing required key 'channel'" },
		{ "  approve:", "  aprove:", "did you mean" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *t = root_text(1, "ops1, ops2, ops3", 2, "2099-01-01T00:00:00Z");
		char *at = strstr(t, cases[i].from), *u;
		struct root r;
		struct diag d;
		size_t j;
		bool found = false;

		assert_non_null(at);
		u = xasprintf("%.*s%s%s", (int)(at - t), t, cases[i].to, at + strlen(cases[i].from));
		diag_init(&d, "t");
		assert_int_equal(root_parse(u, strlen(u), &r, &d), -1);
		for (j = 0; j < d.n; j++)
			found |= strstr(d.v[j].msg, cases[i].msg) != NULL && d.v[j].line > 0;
		if (!found)
			fail_msg("case %zu: no '%s' in %s", i, cases[i].msg, d.n ? d.v[0].msg : "-");
		diag_release(&d);
		free(u);
		free(t);
	}
}

static void test_threshold_distinct(void **state)
{
	char *t = root_text(1, "ops1, ops2, ops3", 2, "2099-01-01T00:00:00Z");
	struct buf b[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	struct root_sig s[3];
	struct root_tally tl;
	struct root r;
	struct err e;

	(void)state;
	must_parse(t, &r);
	sig_by(K_OPS1, t, &b[0], &s[0]);
	sig_by(K_OPS1, t, &b[1], &s[1]);         /* the same key twice */
	sig_by(K_ALICE, t, &b[2], &s[2]);        /* not in the root role */
	err_clear(&e);
	assert_int_equal(root_verify_threshold(&r, ROOT_ROLE_ROOT, t, strlen(t), s, 3, NULL,
					       &tl, &e), -1);
	assert_int_equal(tl.got, 1);
	assert_int_equal(e.code, EXIT_TRUST);
	sig_by(K_OPS3, t, &b[1], &s[1]);
	assert_int_equal(root_verify_threshold(&r, ROOT_ROLE_ROOT, t, strlen(t), s, 3, NULL,
					       &tl, &e), 0);
	assert_int_equal(tl.got, 2);
	/* A signature over other bytes does not count. */
	assert_int_equal(root_verify_threshold(&r, ROOT_ROLE_ROOT, "x", 1, s, 3, NULL,
					       &tl, &e), -1);
	assert_int_equal(tl.got, 0);
	root_release(&r);
	buf_release(&b[0]), buf_release(&b[1]), buf_release(&b[2]);
	free(t);
}

static void test_accept_next(void **state)
{
	char *t1 = root_text(1, "ops1, ops2", 2, "2000-01-01T00:00:00Z");
	char *t2 = root_text(2, "ops2, ops3", 2, "2099-01-01T00:00:00Z");
	char *t3 = root_text(3, "ops2, ops3", 2, "2099-01-01T00:00:00Z");
	struct buf b[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	struct root_sig s[3];
	struct root r1, r2, r3;
	struct err e;

	(void)state;
	must_parse(t1, &r1), must_parse(t2, &r2), must_parse(t3, &r3);
	err_clear(&e);
	sig_by(K_OPS2, t2, &b[0], &s[0]);
	sig_by(K_OPS3, t2, &b[1], &s[1]);
	/* old threshold short (ops1 missing) */
	assert_int_equal(root_accept_next(&r1, &r2, t2, strlen(t2), s, 2, &e), -1);
	sig_by(K_OPS1, t2, &b[2], &s[2]);
	/* expired r1 may still be walked through */
	assert_int_equal(root_accept_next(&r1, &r2, t2, strlen(t2), s, 3, &e), 0);
	/* new threshold short (ops3 missing) */
	assert_int_equal(root_accept_next(&r1, &r2, t2, strlen(t2), &s[0], 1, &e), -1);
	/* not exactly N+1 */
	assert_int_equal(root_accept_next(&r1, &r3, t3, strlen(t3), s, 3, &e), -1);
	assert_non_null(strstr(e.msg, "expected version 2"));
	root_release(&r1), root_release(&r2), root_release(&r3);
	buf_release(&b[0]), buf_release(&b[1]), buf_release(&b[2]);
	free(t1), free(t2), free(t3);
}

static void test_scope_and_manifest(void **state)
{
	char *t = root_text(1, "ops1, ops2", 2, "2099-01-01T00:00:00Z");
	const char *m = "upgr: 1\napp: payments-api\n";
	struct buf b[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	struct root_manifest_result res;
	struct root_sig s[3];
	struct root r;
	struct err e;

	(void)state;
	must_parse(t, &r);
	assert_true(root_check_scope(&r, K_ALICE, "payments-api", "/opt/payments"));
	assert_true(root_check_scope(&r, K_ALICE, "payments-api", "/opt/payments/x"));
	assert_false(root_check_scope(&r, K_ALICE, "payments-api", "/opt/paymentsX"));
	assert_false(root_check_scope(&r, K_ALICE, "core-banking", "/opt/payments"));
	assert_false(root_check_scope(&r, K_ALICE, "payments-api", "/etc"));
	assert_true(root_check_scope(&r, K_BOB, "core-banking", "/etc"));
	err_clear(&e);
	sig_by(K_ALICE, m, &b[0], &s[0]);
	assert_int_equal(root_check_manifest(&r, m, strlen(m), "payments-api", "/opt/payments",
					     s, 1, &res, &e), -1);
	assert_string_equal(res.why, "waiting for approval (0 of 1)");
	/* out of scope: alice does not count */
	assert_int_equal(root_check_manifest(&r, m, strlen(m), "core-banking", "/opt/cb",
					     s, 1, &res, &e), -1);
	assert_false(res.release_ok);
	/* bob releases and is also a reviewer: his one signature counts once */
	sig_by(K_BOB, m, &b[1], &s[1]);
	assert_int_equal(root_check_manifest(&r, m, strlen(m), "core-banking", "/opt/cb",
					     &s[1], 1, &res, &e), -1);
	assert_true(res.release_ok);
	assert_false(res.approve_ok);
	sig_by(K_CAROL, m, &b[2], &s[2]);
	assert_int_equal(root_check_manifest(&r, m, strlen(m), "core-banking", "/opt/cb",
					     &s[1], 2, &res, &e), 0);
	/* channel: the console key may move forward, not down alone */
	sig_by(K_CONSOLE, m, &b[0], &s[0]);
	assert_int_equal(root_check_channel(&r, m, strlen(m), s, 1, "1.2.0", "1.3.0", false, &e), 0);
	assert_int_equal(root_check_channel(&r, m, strlen(m), s, 1, "1.2.0", "1.1.0", false, &e), -1);
	assert_int_equal(root_check_channel(&r, m, strlen(m), s, 1, "1.2.0", "1.1.0", true, &e), 0);
	assert_int_equal(root_check_channel(&r, m, strlen(m), &s[1], 1, NULL, "1.1.0", true, &e), -1);
	root_release(&r);
	buf_release(&b[0]), buf_release(&b[1]), buf_release(&b[2]);
	free(t);
}

static void test_expiry(void **state)
{
	char *t = root_text(1, "ops1", 1, "2030-01-15T00:00:00Z");
	struct root r;
	long days;

	(void)state;
	must_parse(t, &r);
	assert_int_equal(root_expiry_state(&r, r.expires - 30 * 86400, &days), ROOT_EXP_OK);
	assert_int_equal(days, 30);
	assert_int_equal(root_expiry_state(&r, r.expires - 3 * 86400, &days), ROOT_EXP_WARN);
	assert_int_equal(root_expiry_state(&r, r.expires, &days), ROOT_EXP_EXPIRED);
	assert_int_equal(root_expiry_state(&r, r.expires + 1, &days), ROOT_EXP_EXPIRED);
	assert_int_equal(days, -1);
	root_release(&r);
	free(t);
}

/* The fetch callback over the directory "repo". */
static int dir_fetch(void *ctx, const char *rel, size_t max, struct buf *out,
		     bool *missing, struct err *e)
{
	char *p = xasprintf("%s/%s", (const char *)ctx, rel);
	int rc;

	*missing = access(p, F_OK) != 0;
	rc = fs_read_file(p, max, out, e);
	free(p);
	return rc;
}

static void put(const char *rel, const char *data, size_t len)
{
	char *p = xasprintf("repo/root/%s", rel);
	struct err e;

	err_clear(&e);
	assert_int_equal(fs_write_atomic(p, data, len, 0644, &e), 0);
	free(p);
}

static void publish(unsigned v, const char *t, const int *signers, size_t n)
{
	struct buf b = BUF_INIT;
	struct root_sig s;
	char name[64];
	size_t i;

	snprintf(name, sizeof name, "%u.root.yaml", v);
	put(name, t, strlen(t));
	for (i = 0; i < n; i++) {
		char *f = root_sig_name(v, kname[signers[i]]);

		sig_by(signers[i], t, &b, &s);
		put(f, b.data, b.len);
		free(f);
	}
	buf_release(&b);
}

static void test_walk(void **state)
{
	char *t1 = root_text(1, "ops1, ops2", 2, "2099-01-01T00:00:00Z");
	char *t2 = root_text(2, "ops2, ops3", 2, "2099-01-01T00:00:00Z");
	char *t3 = root_text(3, "ops2, ops3", 2, "2099-01-01T00:00:00Z");
	char *t4 = root_text(4, "ops2, ops3", 2, "2099-01-01T00:00:00Z");
	struct buf cur = BUF_INIT;
	struct root r;
	struct err e;
	unsigned walked;

	(void)state;
	assert_int_equal(fs_mkdir_p("repo/root", 0755, &e), 0);
	put("../../root1.yaml", t1, strlen(t1));
	publish(2, t2, (const int[]){ K_OPS1, K_OPS2, K_OPS3 }, 3);
	publish(3, t3, (const int[]){ K_OPS2, K_OPS3 }, 2);
	publish(4, t4, (const int[]){ K_OPS2 }, 1);    /* short: refused */
	err_clear(&e);
	assert_int_equal(root_state_load("state", "root1.yaml", &r, &cur, &e), 0);
	assert_int_equal(r.version, 1);
	assert_int_equal(root_update("state", &r, &cur, dir_fetch, "repo", 0, &walked, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(r.version, 3);                /* 1 -> 2 -> 3 kept */
	assert_int_equal(walked, 2);
	root_release(&r);
	/* The stored state is root 3, whatever trust_root says now. */
	assert_int_equal(root_state_load("state", "root1.yaml", &r, &cur, &e), 0);
	assert_int_equal(r.version, 3);
	root_release(&r);
	unlink("repo/root/4.root.yaml");
	assert_int_equal(root_state_load("state", NULL, &r, &cur, &e), 0);
	assert_int_equal(root_update("state", &r, &cur, dir_fetch, "repo", 0, &walked, &e), 0);
	assert_int_equal(walked, 0);
	/* The newest expired: refused after the walk. */
	assert_int_equal(root_update("state", &r, &cur, dir_fetch, "repo",
				     r.expires, &walked, &e), -1);
	assert_non_null(strstr(e.msg, "expired"));
	root_release(&r);
	buf_release(&cur);
	free(t1), free(t2), free(t3), free(t4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_rules),
		cmocka_unit_test(test_threshold_distinct),
		cmocka_unit_test(test_accept_next),
		cmocka_unit_test(test_scope_and_manifest),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_walk),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
