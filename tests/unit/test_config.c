/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the agent configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fsutil.h"
#include "xalloc.h"

static char dir[] = "/tmp/upgr-config.XXXXXX";

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

/* Write text as DIR/name with mode; returns the path (allocated). */
static char *put(const char *name, const char *text, mode_t mode)
{
	char *p = fs_join(dir, name);
	struct err e;

	unlink(p);
	assert_int_equal(fs_write_atomic(p, text, strlen(text), mode, &e), 0);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

static int load(const char *path, struct config *c, struct diag *d)
{
	diag_init(d, path);
	return config_load(path, c, d);
}

static void test_defaults(void **state)
{
	struct config c;
	struct diag d;
	char *p = put("min.yaml", "servers: [ftp://127.0.0.1:2121/repo/]\napps: [hello]\n", 0644);

	(void)state;
	assert_int_equal(load(p, &c, &d), 0);
	assert_int_equal(c.nservers, 1);
	assert_string_equal(c.servers[0], "ftp://127.0.0.1:2121/repo");
	assert_string_equal(c.channel, "stable");
	assert_string_equal(c.root, "/");
	assert_string_equal(c.state_dir, "/var/lib/upgr");
	assert_string_equal(c.device_key, "/etc/upgr/device.key");
	assert_string_equal(c.audit_log, "/var/log/upgr/audit.log");
	assert_int_equal(c.balance, BALANCE_FAILOVER);
	assert_int_equal(c.heartbeat, 60);
	assert_int_equal(c.connect_timeout, 10);
	assert_int_equal(c.low_speed_limit, 1024);
	assert_int_equal(c.low_speed_time, 30);
	assert_int_equal(c.nwindows, 0);
	assert_int_equal(c.nfreezes, 0);
	assert_null(c.group);
	assert_null(c.netrc);
	assert_int_equal(c.ntrusted_keys, 0);
	assert_true(c.host[0] != '\0');
	assert_true(config_in_window(&c, 0));
	config_set_root(&c, "/tmp/r");
	assert_string_equal(c.root, "/tmp/r");
	config_release(&c);
	diag_release(&d);
	free(p);
}

/* `upgr apply` on an air-gapped host needs neither servers nor apps. */
static void test_apply_only(void **state)
{
	struct config c;
	struct diag d;
	char *p = put("apply.yaml", "state_dir: /var/lib/upgr-x\n", 0644);

	(void)state;
	assert_int_equal(load(p, &c, &d), 0);
	assert_int_equal(c.nservers, 0);
	assert_int_equal(c.napps, 0);
	config_release(&c);
	diag_release(&d);
	free(p);
}

static void test_full(void **state)
{
	struct config c;
	struct diag d;
	char *p = put("full.yaml",
		"host: web-17\n"
		"servers:\n  - ftp://127.0.0.1:2121/repo\n  - file:///srv/repo\n"
		"balance: random\n"
		"netrc: /nonexistent/netrc\n"
		"channel: beta\n"
		"apps: [hello, world]\n"
		"root: /tmp/root\n"
		"state_dir: /tmp/state\n"
		"trusted_keys: [/nonexistent/release.pub]\n"
		"device_key: /nonexistent/device.key\n"
		"audit_log: /tmp/audit.log\n"
		"window: \"23:00-01:30\"\n"
		"heartbeat: 15\n"
		"connect_timeout: 3\n"
		"low_speed_limit: 100\n"
		"low_speed_time: 5\n", 0600);

	(void)state;
	if (load(p, &c, &d) < 0) {
		diag_print(&d, stderr);
		fail();
	}
	assert_string_equal(c.host, "web-17");
	assert_int_equal(c.nservers, 2);
	assert_int_equal(c.balance, BALANCE_RANDOM);
	assert_string_equal(c.netrc, "/nonexistent/netrc");
	assert_string_equal(c.channel, "beta");
	assert_int_equal(c.napps, 2);
	assert_string_equal(c.apps[1], "world");
	assert_int_equal(c.ntrusted_keys, 1);
	/* The old daily form: every day, local time (test_window.c judges it). */
	assert_int_equal(c.nwindows, 1);
	assert_int_equal(c.windows[0].days, 0x7f);
	assert_int_equal(c.windows[0].start, 23 * 60);
	assert_int_equal(c.windows[0].end, 90);
	assert_string_equal(c.windows[0].zone, "");
	assert_int_equal(c.heartbeat, 15);
	assert_int_equal(c.connect_timeout, 3);
	assert_int_equal(c.low_speed_limit, 100);
	assert_int_equal(c.low_speed_time, 5);
	config_release(&c);
	diag_release(&d);
	free(p);
}

static void test_bad(void **state)
{
	static const struct { const char *text; int line, col; const char *word; } cases[] = {
		{ "servers: [ftp://a/]\napps: [hello]\nserver: x\n", 3, 1, "server" },
		{ "servers: []\napps: [hello]\n", 1, 10, "at least one" },
		{ "servers: [gopher://a/]\napps: [hello]\n", 1, 11, "must start" },
		{ "servers: [ftp://a/]\napps: [Hello]\n", 2, 8, "app name" },
		{ "servers: [ftp://a/]\napps: [a, a]\n", 2, 11, "twice" },
		{ "servers: [ftp://a/]\napps: [a]\nbalance: roundrobin\n", 3, 10, "failover" },
		{ "servers: [ftp://a/]\napps: [a]\nroot: relative/dir\n", 3, 7, "absolute" },
		{ "servers: [ftp://a/]\napps: [a]\nwindow: \"2:00-4:00\"\n", 3, 10, "HH:MM" },
		{ "servers: [ftp://a/]\napps: [a]\nwindow: \"02:00-02:00\"\n", 3, 16, "same" },
		{ "servers: [ftp://a/]\napps: [a]\nheartbeat: ten\n", 3, 12, "heartbeat" },
		{ "servers: [ftp://a/]\napps: [a]\nhost: \"bad host\"\n", 3, 7, "host name" },
		{ "servers: [\"ftp://u:pw@a/\"]\napps: [a]\n", 1, 11, "password" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		struct diag d;
		char *p = put("bad.yaml", cases[i].text, 0644);

		if (load(p, &c, &d) == 0)
			fail_msg("case %zu accepted", i);
		if (d.v[0].line != cases[i].line || d.v[0].col != cases[i].col ||
		    !strstr(d.v[0].msg, cases[i].word))
			fail_msg("case %zu: %d:%d: %s", i, d.v[0].line, d.v[0].col, d.v[0].msg);
		diag_release(&d);
		free(p);
	}
}

/* A refused server URL is shown without any of its password, split at
 * the last '@' as curl splits it. */
static void test_password_masked(void **state)
{
	struct config c;
	struct diag d;
	char *p = put("pw.yaml", "servers:\n  - \"ftp://agent:s3cr@tP4ss@host/repo\"\n"
		      "apps: [a]\n", 0644);

	(void)state;
	assert_int_equal(load(p, &c, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "password"));
	assert_null(strstr(d.v[0].msg, "s3cr"));
	assert_null(strstr(d.v[0].msg, "tP4ss"));
	assert_null(strstr(d.v[0].msg, "agent"));
	assert_non_null(strstr(d.v[0].msg, "'ftp://host/repo'"));
	diag_release(&d);
	free(p);
}

static void test_permissions(void **state)
{
	struct config c;
	struct diag d;
	struct err e;
	char *p = put("gw.yaml", "servers: [ftp://a/]\napps: [a]\n", 0664);
	char *secret = put("netrc", "machine a login u password p\n", 0644);
	char *text;

	(void)state;
	assert_int_equal(load(p, &c, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "writable by group or others"));
	diag_release(&d);
	free(p);

	/* A netrc that others can read is refused at load time ... */
	text = xasprintf("servers: [ftp://a/]\napps: [a]\nnetrc: %s\n", secret);
	p = put("netrc.yaml", text, 0644);
	assert_int_equal(load(p, &c, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "secret readable"));
	diag_release(&d);
	/* ... and accepted once it is 0600. */
	assert_int_equal(chmod(secret, 0600), 0);
	assert_int_equal(load(p, &c, &d), 0);
	config_release(&c);
	diag_release(&d);
	assert_int_equal(config_check_file(secret, true, &e), 0);
	assert_int_equal(chmod(secret, 0640), 0);
	assert_int_equal(config_check_file(secret, true, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	assert_int_equal(config_check_file(secret, false, &e), 0);
	free(text);
	free(p);
	free(secret);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_apply_only),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_password_masked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
