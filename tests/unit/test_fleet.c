/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: reading untrusted reports into fleet rows, classification
 * and order, and the three renderings' escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fleet.h"
#include "audit.h"
#include "fsutil.h"
#include "sign.h"
#include "transport.h"
#include "xalloc.h"

#define NOW 1795000000          /* 2026-11-18T11:06:40Z */
#define T_NOW "2026-11-18T11:06:40.000Z"
#define T_OLD "2026-11-18T06:06:40Z"

static const struct fleet_opts opts = { .repo = "ftp://user:pw@example.com/repo",
					.channel = "stable", .stale_minutes = 120,
					.now = NOW };

static char *report(const char *host, const char *time, const char *version,
		    const char *result, const char *error)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "upgr: 1\nhost: \"%s\"\ntime: \"%s\"\napps:\n"
		 "  - app: \"hello\"\n    version: \"%s\"\n    result: \"%s\"\n"
		 "    time: \"%s\"\n    action: \"upgrade\"\n    from: \"1.0.0\"\n"
		 "    to: \"1.1.0\"\n    error: %s\n", host, time, version, result, time, error);
	return buf_detach(&b, NULL);
}

static void add(struct fleet *f, const char *host, const char *text)
{
	fleet_add_report(f, &opts, host, text, strlen(text));
}

static void test_hostile_reports(void **state)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "", "status.yaml" },
		{ "upgr: 2\nhost: \"h\"\ntime: \"" T_NOW "\"\napps: []\n", "format 2 is not 1" },
		{ "upgr: 1\nhost: \"other\"\ntime: \"" T_NOW "\"\napps: []\n", "another host" },
		{ "upgr: 1\nhost: \"h\"\ntime: \"yesterday\"\napps: []\n", "not a UTC time" },
		{ "upgr: 1\nhost: \"h\"\ntime: \"" T_NOW "\"\napps: {}\n", "apps" },
		{ "upgr: 1\nhost: \"h\"\ntime: \"" T_NOW "\"\napps: []\nextra: 1\n", "extra" },
		{ "upgr: 1\nhost: h\nhost: h\ntime: \"" T_NOW "\"\napps: []\n", "duplicate" },
		{ "upgr: 1\nhost: &a \"h\"\ntime: \"" T_NOW "\"\napps: []\n", "status.yaml:" },
		{ "upgr: 1\nhost: \"h\"\ntime: \"" T_NOW "\"\napps:\n  - 3\n", "apps[0]" },
		{ "upgr: 1\nhost: \"h\"\ntime: \"" T_NOW "\"\napps:\n  - app: \"hello\"\n",
		  "missing" },
		{ "[1, 2", "status.yaml:" },
		{ "upgr: 1\nhost: \"h\"\ntime: \"" T_NOW "\"\napps: []\n", "lists no apps" },
	};
	struct fleet f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fleet_init(&f, &opts);
		add(&f, "h", bad[i].text);
		assert_int_equal(f.nrows, 1);
		assert_int_equal(f.rows[0].problem, FLEET_UNREADABLE);
		if (!strstr(f.rows[0].error, bad[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, f.rows[0].error, bad[i].want);
		fleet_release(&f);
	}
	/* Bad values inside an app entry. */
	{
		static const char *const fields[][4] = {
			{ "1.1.0", "exploded", "\"\"", "unknown result" },
			{ "v1", "success", "\"\"", "not a version" },
			{ "1.1.0", "success", "42", "expected a string" },
		};
		for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
			char *r = report("h", T_NOW, fields[i][0], fields[i][1], fields[i][2]);

			fleet_init(&f, &opts);
			add(&f, "h", r);
			assert_int_equal(f.rows[0].problem, FLEET_UNREADABLE);
			assert_non_null(strstr(f.rows[0].error, fields[i][3]));
			fleet_release(&f);
			free(r);
		}
	}
	/* Too big, and missing altogether. */
	{
		char *big = malloc(FLEET_STATUS_MAX + 2);

		memset(big, '#', FLEET_STATUS_MAX + 1);
		big[FLEET_STATUS_MAX + 1] = '\0';
		fleet_init(&f, &opts);
		add(&f, "h", big);
		fleet_add_report(&f, &opts, "g", NULL, 0);
		assert_int_equal(f.nrows, 2);
		assert_int_equal(f.rows[0].problem, FLEET_UNREADABLE);
		assert_string_equal(f.rows[1].error, "no status.yaml");
		fleet_release(&f);
		free(big);
	}
}

static void test_host_names(void **state)
{
	(void)state;
	assert_true(fleet_host_ok("web-17.example_1"));
	assert_false(fleet_host_ok(""));
	assert_false(fleet_host_ok(".hidden"));
	assert_false(fleet_host_ok("a/b"));
	assert_false(fleet_host_ok(".."));
	assert_false(fleet_host_ok("a b"));
	assert_false(fleet_host_ok("<x>"));
}

static const char *row_host(const struct fleet *f, size_t i)
{
	return f->rows[i].host;
}

static void test_classify_and_order(void **state)
{
	char *ok = report("ok", T_NOW, "1.1.0", "success", "\"\"");
	char *old = report("old", T_NOW, "1.0.0", "success", "\"\"");
	char *rb = report("rb", T_NOW, "1.0.0", "rolled-back", "\"health failed\"");
	char *st = report("st", T_OLD, "1.1.0", "success", "\"\"");
	char *fl = report("fl", T_NOW, "1.0.0", "failed", "\"down\"");
	struct fleet f;

	(void)state;
	fleet_init(&f, &opts);
	add(&f, "ok", ok);
	add(&f, "old", old);
	add(&f, "rb", rb);
	add(&f, "st", st);
	add(&f, "fl", fl);
	fleet_add_report(&f, &opts, "gone", NULL, 0);
	fleet_set_latest(&f, "hello", NULL, 0);   /* no channel: highest reported */
	fleet_finish(&f, &opts);
	assert_int_equal(f.nrows, 6);
	assert_string_equal(f.latest[0].version, "1.1.0");
	assert_false(f.latest[0].from_channel);
	assert_string_equal(row_host(&f, 0), "gone");
	assert_string_equal(row_host(&f, 1), "fl");
	assert_string_equal(row_host(&f, 2), "rb");
	assert_string_equal(row_host(&f, 3), "st");
	assert_string_equal(row_host(&f, 4), "old");
	assert_string_equal(row_host(&f, 5), "ok");
	assert_int_equal(f.rows[3].problem, FLEET_STALE);
	assert_true(f.rows[3].stale);
	assert_int_equal(f.rows[4].problem, FLEET_OUTDATED);
	assert_int_equal(f.rows[5].problem, FLEET_OK);
	assert_int_equal(fleet_nhosts(&f), 6);
	assert_int_equal(fleet_nproblems(&f), 5);
	assert_false(fleet_all_good(&f));
	/* The URL is shown without its user information. */
	assert_string_equal(f.repo, "ftp://example.com/repo");
	fleet_release(&f);
	free(ok);
	free(old);
	free(rb);
	free(st);
	free(fl);
}

/* Two apps on one stale host whose rows sort apart: the host is named
 * once as stale, counted once as a host. */
static void test_two_apps(void **state)
{
	static const char two[] =
		"upgr: 1\nhost: \"h\"\ntime: \"" T_OLD "\"\napps:\n"
		"  - { app: \"a\", version: \"1.0.0\", result: \"rolled-back\", time: \"\","
		" action: \"upgrade\", from: \"1.0.0\", to: \"2.0.0\", error: \"x\" }\n"
		"  - { app: \"b\", version: \"1.0.0\", result: \"success\", time: \"\","
		" action: \"install\", from: \"\", to: \"1.0.0\", error: \"\" }\n";
	char *other = report("g", T_NOW, "1.1.0", "success", "\"\"");
	struct buf json = BUF_INIT;
	const char **stale;
	struct fleet f;

	(void)state;
	fleet_init(&f, &opts);
	add(&f, "h", two);
	add(&f, "g", other);
	fleet_finish(&f, &opts);
	assert_int_equal(f.nrows, 3);
	assert_string_equal(f.rows[0].host, "h");
	assert_int_equal(f.rows[0].problem, FLEET_ROLLED_BACK);
	assert_int_equal(f.rows[1].problem, FLEET_STALE);
	assert_int_equal(fleet_nhosts(&f), 2);
	assert_int_equal(fleet_stale_hosts(&f, &stale), 1);
	assert_string_equal(stale[0], "h");
	free(stale);
	fleet_json(&f, &json);
	assert_non_null(strstr(json.data, "\"stale\": [\"h\"]"));
	buf_release(&json);
	fleet_release(&f);
	free(other);
}

/* The console's wave bars count by the controller's rule
 * (fleet_wave_outcome): a host at the rollout's version is done whatever
 * its last result says; a failure counts only when it was the try at that
 * version. The bars counted "success" alone as done, and any failure. */
static void test_wave_outcome(void **state)
{
	static const char *const hosts[] = { "a", "b", "c", "d" };
	char *text[4];
	struct fleet_wave_count c[FLEET_WAVES_MAX];
	struct fleet_rollout p = { .app = "hello", .version = "1.1.0",
				   .waves = { 100 }, .nwaves = 1, .wave = 1 };
	struct fleet f;
	size_t i;

	(void)state;
	text[0] = report("a", T_NOW, "1.1.0", "success", "\"\"");
	text[1] = report("b", T_NOW, "1.1.0", "refused", "\"a later refusal\"");
	text[2] = report("c", T_NOW, "1.0.0", "rolled-back", "\"health\"");
	text[3] = report("d", T_NOW, "1.0.0", "failed", "\"x\"");
	/* d's failure was a try at 0.9.0, not at the rollout's 1.1.0 */
	memcpy(strstr(text[3], "to: \"1.1.0\""), "to: \"0.9.0\"", 11);
	fleet_init(&f, &opts);
	for (i = 0; i < 4; i++)
		add(&f, hosts[i], text[i]);
	fleet_finish(&f, &opts);
	fleet_rollout_progress(&f, &p, c);
	assert_int_equal(c[0].hosts, 4);
	assert_int_equal(c[0].done, 2);
	assert_int_equal(c[0].failed, 1);
	for (i = 0; i < f.nrows; i++)
		assert_int_equal(fleet_wave_outcome(&f.rows[i], "1.1.0"),
				 f.rows[i].host[0] == 'd' ? FLEET_WAVE_PENDING :
				 f.rows[i].host[0] == 'c' ? FLEET_WAVE_FAILED : FLEET_WAVE_DONE);
	fleet_release(&f);
	for (i = 0; i < 4; i++)
		free(text[i]);
}

static void test_channel_latest(void **state)
{
	static const char ch[] =
		"upgr: 1\napp: hello\nchannel: stable\nserial: 3\nversion: 1.0.0\n"
		"manifest: releases/1.0.0/manifest.yaml\n"
		"manifest_sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
		"published: 2026-11-01T00:00:00Z\nexpires: 2026-12-24T10:00:00Z\n"
		"downgrade: true\n";
	char *r = report("h", T_NOW, "1.0.0", "success", "\"\"");
	struct fleet f;

	(void)state;
	fleet_init(&f, &opts);
	add(&f, "h", r);
	fleet_set_latest(&f, "hello", ch, strlen(ch));
	fleet_finish(&f, &opts);
	assert_true(f.latest[0].from_channel);
	assert_string_equal(f.latest[0].version, "1.0.0");
	assert_true(f.rows[0].current);
	assert_true(fleet_all_good(&f));
	fleet_release(&f);
	/* A channel file naming another app, or garbage, is not used. */
	fleet_init(&f, &opts);
	add(&f, "h", r);
	fleet_set_latest(&f, "hello", "garbage: [", 10);
	fleet_finish(&f, &opts);
	assert_false(f.latest[0].from_channel);
	fleet_release(&f);
	free(r);
}

static void test_escaping(void **state)
{
	char *r = report("h", T_NOW, "1.0.0", "failed",
			 "\"<script>alert(1)</script>\\e[31m\\u0085 & 'q' \\\"dq\\\"\"");
	struct buf html = BUF_INIT, json = BUF_INIT, text = BUF_INIT;
	struct fleet f;

	(void)state;
	fleet_init(&f, &opts);
	add(&f, "h", r);
	fleet_finish(&f, &opts);
	assert_int_equal(f.rows[0].problem, FLEET_FAILED);
	fleet_html(&f, &html);
	fleet_json(&f, &json);
	fleet_text(&f, &text);
	/* HTML: one script element (the page's own), the error as text. */
	assert_null(strstr(html.data, "<script>alert"));
	assert_non_null(strstr(html.data, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html.data, "&amp; &#39;q&#39; &quot;dq&quot;"));
	assert_null(strchr(html.data, '\033'));
	assert_non_null(strstr(html.data, "script-src 'sha256-"));
	assert_null(strstr(html.data, "user:pw"));
	/* JSON: control characters escaped. */
	assert_non_null(strstr(json.data, "\\u001b[31m"));
	assert_null(strchr(json.data, '\033'));
	/* Text: no escape sequence reaches the terminal. */
	assert_null(strchr(text.data, '\033'));
	assert_null(strstr(text.data, "\xc2\x85"));
	assert_non_null(strstr(text.data, "?[31m? & 'q'"));
	buf_release(&html);
	buf_release(&json);
	buf_release(&text);
	fleet_release(&f);
	free(r);
}

static void test_seen_and_verdicts(void **state)
{
	char dir[] = "/tmp/test_fleet.XXXXXX", *path;
	struct fleet_seen s = { NULL, 0 }, back = { NULL, 0 };
	struct fleet_verdict v;
	struct buf b = BUF_INIT;
	char *r = report("h", T_NOW, "1.1.0", "success", "\"\"");
	struct fleet f;
	struct err e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(fleet_seen_load(dir, &s, &e), 0);
	assert_int_equal(s.n, 0);
	s.v = calloc(1, sizeof *s.v);
	s.n = 1;
	s.v[0].host = strdup("h");
	s.v[0].seq = 12;
	memset(s.v[0].head, 'a', 64);
	assert_int_equal(fleet_seen_save(dir, &s, &e), 0);
	assert_int_equal(fleet_seen_load(dir, &back, &e), 0);
	assert_int_equal(back.n, 1);
	assert_int_equal(back.v[0].seq, 12);
	assert_string_equal(back.v[0].head, s.v[0].head);
	fleet_seen_release(&back);
	/* A malformed seen file is refused, not silently reset. */
	path = fs_join(dir, "seen");
	assert_int_equal(fs_write_atomic(path, "h 12\n", 5, 0600, &e), 0);
	assert_int_equal(fleet_seen_load(dir, &back, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	unlink(path);
	free(path);

	/* A verdict line cannot break its file's format. */
	memset(&v, 0, sizeof v);
	v.kind = FLEET_V_TAMPERED;
	snprintf(v.why, sizeof v.why, "bad\tline\nhere");
	fleet_verdict_line("h", &v, &b);
	assert_string_equal(b.data, "h\ttampered\tbad line here\n");
	path = fs_join(dir, "verdicts");
	assert_int_equal(fs_write_atomic(path, b.data, b.len, 0600, &e), 0);
	fleet_init(&f, &opts);
	add(&f, "h", r);
	assert_int_equal(fleet_apply_verdicts(&f, dir, &e), 0);
	fleet_finish(&f, &opts);
	assert_int_equal(f.rows[0].problem, FLEET_TAMPERED);
	assert_non_null(strstr(f.rows[0].error, "audit log tampered: bad line here"));
	fleet_release(&f);
	unlink(path);
	free(path);
	path = fs_join(dir, "seen");
	unlink(path);
	free(path);
	rmdir(dir);
	fleet_seen_release(&s);
	buf_release(&b);
	free(r);
}

/* Counts over a wide fleet (the console sorts and indexes instead of
 * comparing every row with every other): 300 hosts x 40 apps, versions by
 * host and app, every seventh host stale, one host's verdict tampered. The
 * answers are checked against what each host was given. */
#define W_HOSTS 300
#define W_APPS 40

static char *wide_report(unsigned h)
{
	struct buf b = BUF_INIT;
	unsigned a;

	buf_addf(&b, "upgr: 1\nhost: \"w%03u\"\ntime: \"%s\"\napps:\n", h,
		 h % 7 ? T_NOW : T_OLD);
	for (a = 0; a < W_APPS; a++)
		buf_addf(&b, "  - { app: \"app%02u\", version: \"1.%u.0\", result: \"%s\","
			 " time: \"\", action: \"upgrade\", from: \"\", to: \"\", error: \"\" }\n",
			 a, (h + a) % 3, (h * a) % 5 ? "success" : "rolled-back");
	return buf_detach(&b, NULL);
}

static const char *count_version(const struct fleet_row *r)
{
	return r->problem == FLEET_UNREADABLE ? NULL : r->version;
}

static const char *count_result(const struct fleet_row *r)
{
	return r->result;
}

static size_t count_of(const struct fleet_count *c, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(c[i].key, key))
			return c[i].n;
	return 0;
}

static void check_wide_counts(const struct fleet *f, bool finished)
{
	struct fleet_count *c;
	const char **stale;
	char app[8], ver[8];
	size_t want[3], rb = 0, n, i;
	unsigned h, a, v;

	assert_int_equal(fleet_nhosts(f), W_HOSTS);
	for (a = 0; a < W_APPS; a++) {
		snprintf(app, sizeof app, "app%02u", a);
		memset(want, 0, sizeof want);
		for (h = 0; h < W_HOSTS; h++) {
			want[(h + a) % 3]++;
			rb += (h * a) % 5 == 0;
		}
		n = fleet_count(f, count_version, app, &c);
		assert_int_equal(n, 3);
		for (v = 0; v < 3; v++) {
			snprintf(ver, sizeof ver, "1.%u.0", v);
			assert_int_equal(count_of(c, n, ver), want[v]);
		}
		fleet_counts_free(c, n);
	}
	n = fleet_count(f, count_result, NULL, &c);
	assert_int_equal(n, 2);
	assert_int_equal(count_of(c, n, "rolled-back"), rb);
	assert_int_equal(count_of(c, n, "success"), (size_t)W_HOSTS * W_APPS - rb);
	/* In first-seen order: the first row's result comes first. */
	assert_string_equal(c[0].key, f->rows[0].result);
	fleet_counts_free(c, n);
	n = fleet_count(f, count_result, "no-such-app", &c);
	assert_int_equal(n, 0);
	fleet_counts_free(c, n);
	if (!finished)
		return;
	/* Each stale host once, in the order its first row comes. */
	n = fleet_stale_hosts(f, &stale);
	assert_int_equal(n, (W_HOSTS + 6) / 7);
	for (i = 1; i < n; i++)
		assert_string_not_equal(stale[i - 1], stale[i]);
	for (i = 0; i < f->nrows && !f->rows[i].stale; i++)
		;
	assert_string_equal(stale[0], f->rows[i].host);
	free(stale);
}

static void test_wide_fleet(void **state)
{
	char dir[] = "/tmp/test_fleet.XXXXXX", *path;
	static const char verdicts[] = "w123\ttampered\tcut\nw124\tok\t\n";
	struct fleet f;
	struct err e;
	size_t i, ntampered = 0;
	unsigned h;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = fs_join(dir, "verdicts");
	assert_int_equal(fs_write_atomic(path, verdicts, strlen(verdicts), 0600, &e), 0);
	fleet_init(&f, &opts);
	for (h = 0; h < W_HOSTS; h++) {
		char *r = wide_report(h), host[8];

		snprintf(host, sizeof host, "w%03u", h);
		add(&f, host, r);
		free(r);
	}
	assert_int_equal(f.nrows, (size_t)W_HOSTS * W_APPS);
	/* Before fleet_finish there is no index: the same answers. */
	check_wide_counts(&f, false);
	assert_int_equal(fleet_apply_verdicts(&f, dir, &e), 0);
	fleet_finish(&f, &opts);
	check_wide_counts(&f, true);
	assert_int_equal(f.nlatest, W_APPS);
	for (i = 0; i < f.nlatest; i++)
		assert_string_equal(f.latest[i].version, "1.2.0");
	for (i = 0; i < f.nrows; i++) {
		const struct fleet_row *r = &f.rows[i];

		ntampered += r->problem == FLEET_TAMPERED;
		assert_int_equal(r->problem == FLEET_TAMPERED, !strcmp(r->host, "w123"));
		assert_int_equal(r->current, !strcmp(r->version, "1.2.0"));
	}
	assert_int_equal(ntampered, W_APPS);
	/* Problems first, then host and app. */
	for (i = 1; i < f.nrows; i++)
		assert_true(f.rows[i - 1].problem <= f.rows[i].problem);
	fleet_release(&f);
	unlink(path);
	free(path);
	rmdir(dir);
}

/* fleet_verify_status over a file:// repository: a host's status checked
 * against its device key and the newest records of its audit log (install
 * 1.0.0, then the upgrade to 1.1.0 rolled back). Each case signs a status
 * with the host's key (or not) and wants ok or tampered. */
struct status_case {
	const char *apps;        /* the apps: entries */
	int seq;                 /* the trusted comment's seq (-1: no signature) */
	enum fleet_verdict_kind want;
};

#define APP(a, v, res, act, fr, to) \
	"  - { app: \"" a "\", version: \"" v "\", result: \"" res "\", time: \"\"," \
	" action: \"" act "\", from: \"" fr "\", to: \"" to "\", error: \"\" }\n"

static void append(const char *log, const struct sign_key *key, const char *action,
		   const char *from, const char *to, const char *result)
{
	struct audit_rec r = { 0 };
	struct err e;

	r.host = "h";
	r.app = "hello";
	r.action = action;
	r.from = from;
	r.to = to;
	r.result = result;
	r.manifest_sha256 = "";
	r.error = "";
	assert_int_equal(audit_append(log, key, &r, &e), 0);
}

static void status_case(struct xfer *x, const char *repo, const char *dir,
			const struct sign_key *key, char heads[3][65],
			const struct status_case *c, size_t i)
{
	char *path = xasprintf("%s/reports/h/status.yaml.minisig", dir), comment[128];
	struct buf text = BUF_INIT, sig = BUF_INIT;
	struct fleet_verdict v;
	struct fleet_seen seen = { NULL, 0 };
	struct fleet f;
	struct err e;

	buf_addf(&text, "upgr: 1\nhost: \"h\"\ntime: \"%s\"\napps:\n%s", T_NOW, c->apps);
	unlink(path);
	if (c->seq >= 0) {
		snprintf(comment, sizeof comment, "upgr status host:h seq:%d head:%s",
			 c->seq, heads[c->seq > 2 ? 2 : c->seq]);
		assert_int_equal(sign_minisig(key, text.data, text.len, comment, &sig, &e), 0);
		assert_int_equal(fs_write_atomic(path, sig.data, sig.len, 0644, &e), 0);
	}
	fleet_init(&f, &opts);
	fleet_add_report(&f, &opts, "h", text.data, text.len);
	assert_int_not_equal(f.rows[0].problem, FLEET_UNREADABLE);
	fleet_verify_status(x, repo, "h", dir, &seen, &text, f.rows, f.nrows, &v);
	if (v.kind != c->want)
		fail_msg("case %zu: %s (%s), want %s", i, fleet_verdict_name(v.kind), v.why,
			 fleet_verdict_name(c->want));
	fleet_release(&f);
	buf_release(&text);
	buf_release(&sig);
	free(path);
}

static void test_status_against_log(void **state)
{
	static const struct status_case cases[] = {
		/* What the agent writes: ok. */
		{ APP("hello", "1.0.0", "rolled-back", "upgrade", "1.0.0", "1.1.0"), 2, FLEET_V_OK },
		{ APP("hello", "1.0.0", "unavailable", "poll", "1.0.0", "1.1.0"), 2, FLEET_V_OK },
		{ APP("hello", "1.0.0", "rolled-back", "upgrade", "1.0.0", "1.1.0")
		  APP("other", "", "", "", "", ""), 2, FLEET_V_OK },
		{ APP("other", "", "unavailable", "poll", "", ""), 2, FLEET_V_OK },
		/* The host's own status from after its first record, put back:
		 * the newest record has moved on. */
		{ APP("hello", "1.0.0", "success", "install", "", "1.0.0"), 1, FLEET_V_TAMPERED },
		/* Healthier than the log. */
		{ APP("hello", "1.1.0", "success", "upgrade", "1.0.0", "1.1.0"), 2, FLEET_V_TAMPERED },
		{ APP("hello", "1.1.0", "rolled-back", "upgrade", "1.0.0", "1.1.0"), 2, FLEET_V_TAMPERED },
		{ APP("hello", "1.1.0", "unavailable", "poll", "1.0.0", "1.1.0"), 2, FLEET_V_TAMPERED },
		{ APP("hello", "1.0.0", "", "", "", ""), 2, FLEET_V_TAMPERED },
		{ APP("other", "2.0.0", "success", "install", "", "2.0.0"), 2, FLEET_V_TAMPERED },
		{ APP("other", "2.0.0", "unavailable", "poll", "", ""), 2, FLEET_V_TAMPERED },
		/* Unsigned, or signed for records the log does not have. */
		{ APP("hello", "1.0.0", "rolled-back", "upgrade", "1.0.0", "1.1.0"), -1, FLEET_V_TAMPERED },
		{ APP("hello", "1.0.0", "rolled-back", "upgrade", "1.0.0", "1.1.0"), 3, FLEET_V_TAMPERED },
	};
	char dir[] = "/tmp/test_fleet.XXXXXX", heads[3][65];
	struct xfer_opts xo = { 0 };
	struct audit_report rep;
	struct sign_key key;
	struct sign_pub pub;
	struct xfer *x;
	char *name, *log, *repo, *pin;
	struct err e;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	name = fs_join(dir, "dev");
	log = xasprintf("%s/reports/h/audit.log", dir);
	repo = xasprintf("file://%s", dir);
	pin = fs_join(dir, "h.pub");
	assert_int_equal(sign_keygen(name, &e), 0);
	free(name);
	name = fs_join(dir, "dev.key");
	assert_int_equal(sign_key_load(name, &key, &e), 0);
	sign_key_public(&key, &pub);
	assert_int_equal(fs_mkdir_p(log, 0755, &e), 0);
	assert_int_equal(rmdir(log), 0);
	memcpy(heads[0], AUDIT_GENESIS_HEX, 65);
	append(log, &key, "install", "", "1.0.0", "success");
	assert_int_equal(audit_verify(log, &pub, true, &rep, &e), 0);
	memcpy(heads[1], rep.head, 65);
	append(log, &key, "upgrade", "1.0.0", "1.1.0", "rolled-back");
	assert_int_equal(audit_verify(log, &pub, true, &rep, &e), 0);
	memcpy(heads[2], rep.head, 65);
	x = xfer_new(&xo);
	assert_non_null(x);
	/* No pinned key yet: unverified, whatever the status says. */
	{
		static const struct status_case none = {
			APP("hello", "1.0.0", "rolled-back", "upgrade", "1.0.0", "1.1.0"), 2,
			FLEET_V_MISSING };
		status_case(x, repo, dir, &key, heads, &none, 99);
	}
	{
		struct buf b = BUF_INIT;

		sign_pub_format(&pub, &b);
		assert_int_equal(fs_write_atomic(pin, b.data, b.len, 0644, &e), 0);
		buf_release(&b);
	}
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		status_case(x, repo, dir, &key, heads, &cases[i], i);
	xfer_free(x);
	sign_key_wipe(&key);
	free(name);
	free(log);
	free(repo);
	free(pin);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_reports),
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_classify_and_order),
		cmocka_unit_test(test_two_apps),
		cmocka_unit_test(test_wave_outcome),
		cmocka_unit_test(test_channel_latest),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_seen_and_verdicts),
		cmocka_unit_test(test_wide_fleet),
		cmocka_unit_test(test_status_against_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
