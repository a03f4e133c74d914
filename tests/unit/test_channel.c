/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: channel file parse, emit, times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "buf.h"
#include "channel.h"
#include "diag.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char good[] =
	"upgr: 1\n"
	"app: hello\n"
	"channel: stable\n"
	"serial: 17\n"
	"version: 1.2.0\n"
	"manifest: releases/1.2.0/manifest.yaml\n"
	"manifest_sha256: " HEX "\n"
	"published: 2026-11-24T10:00:00Z\n"
	"expires: 2026-12-24T10:00:00Z\n"
	"not_before: 2026-11-25T02:00:00Z\n"
	"rollout: 40\n"
	"downgrade: true\n";

static int parse(const char *text, struct channel *ch, struct diag *d)
{
	diag_init(d, "ch.yaml");
	return channel_parse(text, strlen(text), ch, d);
}

static void test_parse_good(void **state)
{
	struct channel ch;
	struct diag d;

	(void)state;
	assert_int_equal(parse(good, &ch, &d), 0);
	assert_string_equal(ch.app, "hello");
	assert_string_equal(ch.channel, "stable");
	assert_int_equal(ch.serial, 17);
	assert_string_equal(ch.version, "1.2.0");
	assert_string_equal(ch.manifest, "releases/1.2.0/manifest.yaml");
	assert_string_equal(ch.manifest_sha256, HEX);
	assert_int_equal(ch.published, 1795514400);
	assert_true(ch.has_not_before);
	assert_int_equal(ch.rollout, 40);
	assert_true(ch.downgrade);
	channel_release(&ch);
	diag_release(&d);
}

static void test_roundtrip(void **state)
{
	struct channel a, b;
	struct buf out = BUF_INIT;
	struct diag d;

	(void)state;
	assert_int_equal(parse(good, &a, &d), 0);
	diag_release(&d);
	channel_emit(&a, &out);
	assert_int_equal(parse(out.data, &b, &d), 0);
	assert_string_equal(a.app, b.app);
	assert_string_equal(a.version, b.version);
	assert_string_equal(a.manifest_sha256, b.manifest_sha256);
	assert_int_equal(a.serial, b.serial);
	assert_int_equal(a.expires, b.expires);
	assert_int_equal(a.not_before, b.not_before);
	assert_int_equal(a.rollout, b.rollout);
	assert_int_equal(a.downgrade, b.downgrade);
	channel_release(&a);
	channel_release(&b);
	diag_release(&d);
	buf_release(&out);
}

/* Each bad input, and the line:col and a word of the first message. */
static void test_parse_bad(void **state)
{
	static const struct { const char *from, *to; int line; const char *word; } cases[] = {
		{ "serial: 17", "serial: 0", 4, "at least 1" },
		{ "serial: 17", "serial: \"17\"", 4, "serial" },
		{ "serial: 17", "serial: -3", 4, "serial" },
		{ "app: hello", "app: Hello", 2, "valid name" },
		{ "version: 1.2.0", "version: 1.2", 5, "not a version" },
		{ "releases/1.2.0/manifest.yaml", "../x/manifest.yaml", 6, "'..'" },
		{ "releases/1.2.0/manifest.yaml", "/abs/manifest.yaml", 6, "relative" },
		{ "releases/1.2.0/manifest.yaml", "rel?x=1", 6, "only letters" },
		{ HEX, "abc", 7, "64 hex" },
		{ "2026-11-24T10:00:00Z", "2026-11-24 10:00:00", 8, "UTC time" },
		{ "2026-11-24T10:00:00Z", "2026-02-30T10:00:00Z", 8, "UTC time" },
		{ "2026-12-24T10:00:00Z", "2026-11-24T10:00:00Z", 9, "later than" },
		{ "rollout: 40", "rollout: 101", 11, "rollout" },
		{ "downgrade: true", "downgrade: yes", 12, "downgrade" },
		{ "downgrade: true", "downgrade: true\nmirror: x", 13, "mirror" },
		{ "upgr: 1", "upgr: 2", 1, "not supported" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct channel ch;
		struct diag d;
		struct buf b = BUF_INIT;
		const char *at = strstr(good, cases[i].from);

		assert_non_null(at);
		buf_add(&b, good, (size_t)(at - good));
		buf_adds(&b, cases[i].to);
		buf_adds(&b, at + strlen(cases[i].from));
		if (parse(b.data, &ch, &d) == 0)
			fail_msg("case %zu accepted:\n%s", i, b.data);
		if (d.v[0].line != cases[i].line || !strstr(d.v[0].msg, cases[i].word))
			fail_msg("case %zu: %d:%d: %s", i, d.v[0].line, d.v[0].col, d.v[0].msg);
		diag_release(&d);
		buf_release(&b);
	}
}

static void test_missing_keys(void **state)
{
	struct channel ch;
	struct diag d;

	(void)state;
	assert_int_equal(parse("upgr: 1\napp: hello\n", &ch, &d), -1);
	assert_true(d.n >= 7);
	assert_non_null(strstr(d.v[0].msg, "missing"));
	diag_release(&d);
}

static void test_times(void **state)
{
	static const char *const ok[] = {
		"1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "2026-11-24T10:00:00Z",
		"2100-12-31T00:00:00Z", "9999-12-31T23:59:59Z",
	};
	static const char *const bad[] = {
		"1969-12-31T23:59:59Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-11-24T24:00:00Z", "2026-11-24T10:00:60Z", "2026-11-24T10:00:00",
		"2026-11-24T10:00:00+00:00", "2026-1-24T10:00:00Z", "",
	};
	char out[CHANNEL_TIME_LEN + 1];
	time_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(channel_time_parse(ok[i], &t), 0);
		channel_time_format(t, out);
		assert_string_equal(out, ok[i]);
	}
	assert_int_equal(channel_time_parse("1970-01-02T00:00:01Z", &t), 0);
	assert_int_equal(t, 86401);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(channel_time_parse(bad[i], &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_missing_keys),
		cmocka_unit_test(test_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
