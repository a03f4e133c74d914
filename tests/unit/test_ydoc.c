/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: ydoc (strict YAML loading and the walking helpers). */
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
#include "ydoc.h"

/* Parse text; return the number of diag items (0 on success). On failure
 * the first item's position and message are kept in the outputs. */
static size_t parse(const char *text, int flags, struct ydoc *doc, struct diag *d)
{
	diag_init(d, "t.yaml");
	if (ydoc_parse(text, strlen(text), 1 << 20, flags, doc, d) < 0)
		assert_true(d->n > 0);
	else
		assert_int_equal(d->n, 0);
	return d->n;
}

/* The refusal table: each input is refused with a message at a position. */
static const struct {
	const char *text;
	int line, col;
	const char *msg;
} refusals[] = {
	{ "a: &x 1\nb: 2\n", 1, 4, "anchor '&x'" },
	{ "a: [1]\nb: *x\n", 2, 4, "alias '*x'" },
	{ "a: !!str 1\n", 1, 4, "tag '" },
	{ "a:\n\tb: 1\n", 2, 1, "tab in indentation" },
	{ "a: 1\n  \tb: 2\n", 2, 3, "tab in indentation" },
	{ "", 1, 1, "empty document" },
	{ "# only a comment\n", 1, 1, "empty document" },
	{ "---\n", 2, 1, "empty document" },
	{ "a: 1\n---\nb: 2\n", 2, 1, "a second document" },
	{ "a: 1\nb: \xff\n", 2, 4, "invalid UTF-8 (byte 0xff)" },
	{ "a: \xc3\xa9\xc0\x80\n", 1, 5, "invalid UTF-8" },
	{ "a: \xed\xa0\x80\n", 1, 4, "invalid UTF-8" },
	{ "a: [1, 2\n", 2, 1, "invalid YAML" },
	{ "a: b: c\n", 1, 5, "invalid YAML: mapping values are not allowed" },
	{ "? [1]\n: 2\n", 1, 3, "as a mapping key" },
	{ "a: 1\nb: \"x\\0y\"\n", 2, 4, "a NUL character in a value" },
	{ "a: 1\nb: \"x\x01y\"\n", 2, 6, "invalid YAML: control characters are not allowed" },
};

static void test_refusals(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		struct ydoc doc;
		struct diag d;

		print_message("case %zu: %s\n", i, refusals[i].msg);
		assert_int_equal(parse(refusals[i].text, 0, &doc, &d), 1);
		assert_int_equal(d.v[0].line, refusals[i].line);
		assert_int_equal(d.v[0].col, refusals[i].col);
		assert_non_null(strstr(d.v[0].msg, refusals[i].msg));
		assert_null(doc.root);
		ydoc_release(&doc);
		diag_release(&d);
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "a: 1\nb: x\0y\n";
	struct ydoc doc;
	struct diag d;

	(void)state;
	diag_init(&d, "t.yaml");
	assert_int_equal(ydoc_parse(text, sizeof text - 1, 100, 0, &doc, &d), -1);
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[0].col, 5);
	assert_non_null(strstr(d.v[0].msg, "NUL byte"));
	diag_release(&d);
}

static void test_size_cap(void **state)
{
	struct ydoc doc;
	struct diag d;

	(void)state;
	diag_init(&d, "t.yaml");
	assert_int_equal(ydoc_parse("a: 12345\n", 9, 8, 0, &doc, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "larger than 8 bytes"));
	diag_release(&d);
}

static void test_depth(void **state)
{
	char text[200];
	struct ydoc doc;
	struct diag d;
	int i;

	(void)state;
	for (i = 0; i < YDOC_MAX_DEPTH; i++)
		text[i] = '[';
	for (i = 0; i < YDOC_MAX_DEPTH; i++)
		text[YDOC_MAX_DEPTH + i] = ']';
	text[2 * YDOC_MAX_DEPTH] = '\0';
	assert_int_equal(parse(text, 0, &doc, &d), 0);
	ydoc_release(&doc);
	diag_release(&d);

	memmove(text + 1, text, strlen(text) + 1);
	text[0] = '[';
	strcat(text, "]");
	assert_int_equal(parse(text, 0, &doc, &d), 1);
	assert_int_equal(d.v[0].col, YDOC_MAX_DEPTH + 1);
	assert_non_null(strstr(d.v[0].msg, "nested deeper than 32"));
	diag_release(&d);
}

static void test_node_cap(void **state)
{
	size_t n = YDOC_MAX_NODES, i;
	char *text = malloc(2 * n + 4);
	struct ydoc doc;
	struct diag d;

	(void)state;
	text[0] = '[';
	for (i = 0; i < n; i++)
		memcpy(text + 1 + 2 * i, "1,", 2);
	memcpy(text + 1 + 2 * n, "1]", 3);
	diag_init(&d, "t.yaml");
	assert_int_equal(ydoc_parse(text, strlen(text), 4u << 20, 0, &doc, &d), -1);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "more than 1048576 values"));
	diag_release(&d);
	free(text);
}

static void test_tree_positions(void **state)
{
	const char *text =
		"# comment\n"
		"name: hello\n"
		"list:\n"
		"  - one\n"
		"  - { k: \"v\", n: 3 }\n";
	const struct ynode *list, *m;
	struct ydoc doc;
	struct diag d;

	(void)state;
	assert_int_equal(parse(text, 0, &doc, &d), 0);
	assert_int_equal(doc.root->kind, YNODE_MAP);
	assert_int_equal(doc.root->line, 2);
	assert_int_equal(doc.root->npairs, 2);
	list = ydoc_get(doc.root, "list");
	assert_non_null(list);
	assert_int_equal(list->kind, YNODE_SEQ);
	assert_int_equal(list->nitems, 2);
	assert_string_equal(list->items[0]->str, "one");
	assert_int_equal(list->items[0]->line, 4);
	assert_int_equal(list->items[0]->col, 5);
	m = list->items[1];
	assert_int_equal(m->kind, YNODE_MAP);
	assert_int_equal(m->line, 5);
	assert_int_equal(m->col, 5);
	assert_false(ydoc_get(m, "k")->plain);
	assert_int_equal(ydoc_get(m, "n")->col, 18);
	assert_null(ydoc_get(doc.root, "nope"));
	ydoc_release(&doc);
	diag_release(&d);
}

/* Empty collections, the first thing read (nothing gathered before). */
static void test_empty_collections(void **state)
{
	static const char *const texts[] = { "[]\n", "{}\n", "- []\n- {}\n" };
	struct ydoc doc;
	struct diag d;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(parse(texts[i], 0, &doc, &d), 0);
		assert_int_equal(doc.root->kind, i == 1 ? YNODE_MAP : YNODE_SEQ);
		assert_int_equal(doc.root->nitems + doc.root->npairs, i == 2 ? 2 : 0);
		assert_true(i == 2 || (!doc.root->items && !doc.root->pairs));
		ydoc_release(&doc);
		diag_release(&d);
	}
}

static void test_multi(void **state)
{
	struct ydoc doc;
	struct diag d;

	(void)state;
	assert_int_equal(parse("---\na: 1\n---\na: 2\n", YDOC_MULTI, &doc, &d), 0);
	assert_int_equal(doc.ndocs, 2);
	assert_string_equal(ydoc_get(doc.docs[1], "a")->str, "2");
	ydoc_release(&doc);
	diag_release(&d);
	assert_int_equal(parse("---\na: 1\n---\n", YDOC_MULTI, &doc, &d), 1);
	assert_non_null(strstr(d.v[0].msg, "empty document"));
	diag_release(&d);
}

static void test_scalar_types(void **state)
{
	static const struct { const char *text; enum yscalar_type t; } cases[] = {
		{ "v: ~", YS_NULL }, { "v:", YS_NULL }, { "v: NULL", YS_NULL },
		{ "v: true", YS_BOOL }, { "v: False", YS_BOOL }, { "v: yes", YS_STR },
		{ "v: 12", YS_INT }, { "v: -3", YS_INT }, { "v: 0755", YS_INT },
		{ "v: 0x1F", YS_INT }, { "v: 0o17", YS_INT }, { "v: 1.5", YS_FLOAT },
		{ "v: 1.2.0", YS_STR }, { "v: .inf", YS_FLOAT }, { "v: 1e3", YS_FLOAT },
		{ "v: .", YS_STR }, { "v: \"12\"", YS_STR }, { "v: '~'", YS_STR },
		{ "v: 2026-11-24", YS_STR }, { "v: 1_000", YS_STR },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ydoc doc;
		struct diag d;

		print_message("case %s\n", cases[i].text);
		assert_int_equal(parse(cases[i].text, 0, &doc, &d), 0);
		assert_int_equal(ydoc_scalar_type(ydoc_get(doc.root, "v")), cases[i].t);
		ydoc_release(&doc);
		diag_release(&d);
	}
}

static void test_check_keys(void **state)
{
	static const char *const allowed[] = { "stop", "start", "health", NULL };
	const char *text = "stop: 1\nstpo: 2\nstop: 3\nbogus: 4\n";
	struct ydoc doc;
	struct diag d;

	(void)state;
	assert_int_equal(parse(text, 0, &doc, &d), 0);
	assert_int_equal(ydoc_check_keys(doc.root, "", allowed, &d), 3);
	assert_int_equal(d.v[0].line, 2);
	assert_string_equal(d.v[0].msg, "stpo: unknown key (did you mean 'stop'?)");
	assert_string_equal(d.v[1].msg, "stop: duplicate key (first at 1:1)");
	assert_int_equal(d.v[1].line, 3);
	assert_string_equal(d.v[2].msg, "bogus: unknown key");
	ydoc_release(&doc);
	diag_release(&d);
}

static void test_suggest(void **state)
{
	static const char *const keys[] = { "upgr", "app", "version", "target",
		"files", "preconditions", "rollback", NULL };

	(void)state;
	assert_string_equal(ydoc_suggest("verison", keys), "version");
	assert_string_equal(ydoc_suggest("file", keys), "files");
	assert_string_equal(ydoc_suggest("precondition", keys), "preconditions");
	assert_string_equal(ydoc_suggest("ap", keys), "app");
	assert_null(ydoc_suggest("x", keys));
	assert_null(ydoc_suggest("checksum", keys));
}

/* The whole uint64 range parses; one more is refused by name. */
static void test_uint_range(void **state)
{
	const char *text = "max: 18446744073709551615\nover: 18446744073709551616\n"
		"near: 18446744073709551614\nzero: 0\nlong: 000000000000000000000000042\n";
	uint64_t u = 0;
	struct ydoc doc;
	struct diag d;

	(void)state;
	assert_int_equal(parse(text, 0, &doc, &d), 0);
	assert_int_equal(ydoc_get_uint(doc.root, "", "max", UINT64_MAX, &u, &d), 1);
	assert_true(u == UINT64_MAX);
	assert_int_equal(ydoc_get_uint(doc.root, "", "near", UINT64_MAX, &u, &d), 1);
	assert_true(u == UINT64_MAX - 1);
	assert_int_equal(ydoc_get_uint(doc.root, "", "zero", UINT64_MAX, &u, &d), 1);
	assert_true(u == 0);
	assert_int_equal(ydoc_get_uint(doc.root, "", "long", UINT64_MAX, &u, &d), 1);
	assert_true(u == 42);
	assert_int_equal(d.n, 0);
	assert_int_equal(ydoc_get_uint(doc.root, "", "over", UINT64_MAX, &u, &d), -1);
	assert_string_equal(d.v[0].msg, "over: 18446744073709551616 is too large "
			    "(at most 18446744073709551615)");
	assert_int_equal(ydoc_get_uint(doc.root, "", "max", UINT64_MAX - 1, &u, &d), -1);
	ydoc_release(&doc);
	diag_release(&d);
}

static void test_getters(void **state)
{
	static const char *const req[] = { "s", "missing", NULL };
	const char *text =
		"s: hello\nq: \"\"\nn: 42\nneg: -1\nhex: 0x10\nbig: 99999999999999999999\n"
		"b: true\nbs: \"true\"\nl: [1]\nm: {a: 1}\nint: 7\n";
	const char *s = NULL;
	uint64_t u = 0;
	bool b = false;
	struct ydoc doc;
	struct diag d;

	(void)state;
	assert_int_equal(parse(text, 0, &doc, &d), 0);
	assert_int_equal(ydoc_get_str(doc.root, "", "s", &s, &d), 1);
	assert_string_equal(s, "hello");
	assert_int_equal(ydoc_get_str(doc.root, "", "absent", &s, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(ydoc_get_uint(doc.root, "", "n", 100, &u, &d), 1);
	assert_int_equal(u, 42);
	assert_int_equal(ydoc_get_bool(doc.root, "", "b", &b, &d), 1);
	assert_true(b);
	assert_int_equal(ydoc_get_str(doc.root, "", "q", &s, &d), -1);
	assert_string_equal(d.v[0].msg, "q: must not be empty");
	assert_int_equal(ydoc_get_uint(doc.root, "x", "neg", 100, &u, &d), -1);
	assert_string_equal(d.v[1].msg, "x.neg: -1 is negative (expected an integer >= 0)");
	assert_int_equal(ydoc_get_uint(doc.root, "", "hex", 100, &u, &d), -1);
	assert_int_equal(ydoc_get_uint(doc.root, "", "big", UINT64_MAX, &u, &d), -1);
	assert_non_null(strstr(d.v[3].msg, "too large"));
	assert_int_equal(ydoc_get_uint(doc.root, "", "n", 41, &u, &d), -1);
	assert_string_equal(d.v[4].msg, "n: 42 is too large (at most 41)");
	assert_int_equal(ydoc_get_bool(doc.root, "", "bs", &b, &d), -1);
	assert_string_equal(d.v[5].msg, "bs: expected true or false, got a string");
	assert_int_equal(ydoc_get_str(doc.root, "", "int", &s, &d), -1);
	assert_string_equal(d.v[6].msg, "int: expected a string, got an integer");
	assert_int_equal(ydoc_text(ydoc_get(doc.root, "int"), "int", &s, &d), 0);
	assert_string_equal(s, "7");
	assert_int_equal(ydoc_seq(ydoc_get(doc.root, "l"), "l", &d), 0);
	assert_int_equal(ydoc_map(ydoc_get(doc.root, "m"), "m", &d), 0);
	assert_int_equal(ydoc_map(ydoc_get(doc.root, "l"), "l", &d), -1);
	assert_string_equal(d.v[7].msg, "l: expected a mapping, got a sequence");
	assert_int_equal(ydoc_require(doc.root, "", req, &d), 1);
	assert_string_equal(d.v[8].msg, "missing required key 'missing'");
	assert_int_equal(d.v[8].line, 1);
	ydoc_release(&doc);
	diag_release(&d);
}

/* A mapping past the size where duplicates are found by hashing reads as
 * a small one does: each duplicate names the first occurrence. */
static void test_check_keys_large(void **state)
{
	static const char *const allowed[] = { "k0", "k1", "k2", "k3", "k4", "k5", "k6",
		"k7", "k8", "k9", NULL };
	struct buf b = BUF_INIT;
	struct ydoc doc;
	struct diag d;
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		buf_addf(&b, "k%zu: %zu\n", i % 10 == 9 ? 3 : i, i);
	buf_adds(&b, "k7: again\n");
	assert_int_equal(parse(b.data, 0, &doc, &d), 0);
	/* 891 unknown keys (k10 to k998), 100 duplicates of k3, one of k7. */
	assert_int_equal(ydoc_check_keys(doc.root, "top", allowed, &d), 891 + 100 + 1);
	assert_string_equal(d.v[0].msg, "top.k3: duplicate key (first at 4:1)");
	assert_int_equal(d.v[0].line, 10);
	assert_string_equal(d.v[1].msg, "top.k10: unknown key (did you mean 'k0'?)");
	assert_string_equal(d.v[d.n - 1].msg, "top.k7: duplicate key (first at 8:1)");
	assert_int_equal(d.v[d.n - 1].line, 1001);
	ydoc_release(&doc);
	diag_release(&d);
	buf_release(&b);
}

/* Names are cut to outlen - 1 bytes, as snprintf cuts them. */
static void test_names(void **state)
{
	static const char *const full[] = { "files[12].sha256", "sha256",
		"preconditions[99999]", "[0]" };
	char out[24];
	size_t len, i;

	(void)state;
	for (len = 1; len <= sizeof out; len++) {
		char want[4][24];

		for (i = 0; i < 4; i++) {
			memcpy(want[i], full[i], strlen(full[i]) + 1);
			if (strlen(want[i]) >= len)
				want[i][len - 1] = '\0';
		}
		ydoc_name(out, len, "files[12]", "sha256");
		assert_string_equal(out, want[0]);
		ydoc_name(out, len, "", "sha256");
		assert_string_equal(out, want[1]);
		ydoc_name_idx(out, len, "preconditions", 99999);
		assert_string_equal(out, want[2]);
		ydoc_name_idx(out, len, NULL, 0);
		assert_string_equal(out, want[3]);
	}
}

/* The *_at getters name the node "where.key" (or "key"), as the map-level
 * getters do. */
static void test_getters_at(void **state)
{
	const char *text = "mode: 0644\nn: x\nb: 1\ns: ok\n";
	const char *s = NULL;
	uint64_t u = 0;
	bool b = false;
	struct ydoc doc;
	struct diag d;

	(void)state;
	assert_int_equal(parse(text, 0, &doc, &d), 0);
	assert_int_equal(ydoc_str_at(ydoc_get(doc.root, "s"), "files[2]", "s", &s, &d), 0);
	assert_string_equal(s, "ok");
	assert_int_equal(ydoc_uint_at(ydoc_get(doc.root, "mode"), "", "mode", 1000, &u, &d), 0);
	assert_int_equal(u, 644);
	assert_int_equal(d.n, 0);
	assert_int_equal(ydoc_str_at(ydoc_get(doc.root, "mode"), "files[2]", "mode", &s, &d), -1);
	assert_string_equal(d.v[0].msg, "files[2].mode: expected a string, got an integer");
	assert_int_equal(ydoc_uint_at(ydoc_get(doc.root, "n"), "", "n", 10, &u, &d), -1);
	assert_string_equal(d.v[1].msg, "n: expected an integer, got a string");
	assert_int_equal(ydoc_uint_at(ydoc_get(doc.root, "mode"), "x", "mode", 10, &u, &d), -1);
	assert_string_equal(d.v[2].msg, "x.mode: 0644 is too large (at most 10)");
	assert_int_equal(ydoc_bool_at(ydoc_get(doc.root, "b"), "x", "b", &b, &d), -1);
	assert_string_equal(d.v[3].msg, "x.b: expected true or false, got an integer");
	assert_int_equal(d.v[3].line, 3);
	ydoc_release(&doc);
	diag_release(&d);
}

/* Trees far larger than one arena block, and a scalar larger than any
 * block, come back whole. */
static void test_large_tree(void **state)
{
	struct buf b = BUF_INIT;
	struct ydoc doc;
	struct diag d;
	char *big = malloc((2u << 20) + 1);
	size_t i;

	(void)state;
	memset(big, 'x', 2u << 20);
	big[2u << 20] = '\0';
	buf_adds(&b, "big: ");
	buf_adds(&b, big);
	buf_adds(&b, "\nlist:\n");
	for (i = 0; i < 50000; i++)
		buf_addf(&b, "  - {path: \"f%05zu\", n: %zu}\n", i, i);
	diag_init(&d, "t.yaml");
	assert_int_equal(ydoc_parse(b.data, b.len, 8u << 20, 0, &doc, &d), 0);
	assert_int_equal(ydoc_get(doc.root, "big")->len, 2u << 20);
	assert_string_equal(ydoc_get(doc.root, "big")->str, big);
	assert_int_equal(ydoc_get(doc.root, "list")->nitems, 50000);
	for (i = 0; i < 50000; i += 4999) {
		const struct ynode *m = ydoc_get(doc.root, "list")->items[i];
		char want[16];

		snprintf(want, sizeof want, "f%05zu", i);
		assert_int_equal(m->npairs, 2);
		assert_string_equal(ydoc_get(m, "path")->str, want);
		assert_int_equal(m->line, (int)i + 3);
	}
	ydoc_release(&doc);
	diag_release(&d);
	/* Refused half way: what was built so far is freed (valgrind, ASan). */
	buf_adds(&b, "  - *alias\n");
	diag_init(&d, "t.yaml");
	assert_int_equal(ydoc_parse(b.data, b.len, 8u << 20, 0, &doc, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "alias '*alias'"));
	assert_null(doc.root);
	ydoc_release(&doc);
	diag_release(&d);
	buf_release(&b);
	free(big);
}

/* ydoc_peek reads a top-level key's scalar and nothing past it; anything
 * it cannot answer plainly is false (the caller parses in full). */
static void test_peek(void **state)
{
	char v[16];
	const char *big;
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	assert_true(ydoc_peek("version: 1.0.0\n", 15, "version", v, sizeof v));
	assert_string_equal(v, "1.0.0");
	/* After other keys, nested values and a flow sequence. */
	big = "upgr: 1\nfiles:\n  - { path: a, mode: \"0644\" }\n  - path: b\n"
	      "x: { version: 9.9.9 }\nversion: \"2.0.0\"\n";
	assert_true(ydoc_peek(big, strlen(big), "version", v, sizeof v));
	assert_string_equal(v, "2.0.0");
	/* Not found: only nested, absent, not a scalar, an alias, too long. */
	big = "a: { version: 1.0.0 }\n";
	assert_false(ydoc_peek(big, strlen(big), "version", v, sizeof v));
	assert_false(ydoc_peek("app: x\n", 7, "version", v, sizeof v));
	big = "version: [1, 0]\n";
	assert_false(ydoc_peek(big, strlen(big), "version", v, sizeof v));
	big = "a: &x 1.0.0\nversion: *x\n";
	assert_false(ydoc_peek(big, strlen(big), "version", v, sizeof v));
	big = "version: 1.0.0-a-very-long-prerelease\n";
	assert_false(ydoc_peek(big, strlen(big), "version", v, sizeof v));
	assert_false(ydoc_peek("- version\n- 1.0.0\n", 19, "version", v, sizeof v));
	assert_false(ydoc_peek("versions: 1\n", 12, "version", v, sizeof v));
	assert_false(ydoc_peek("version: [\n", 11, "version", v, sizeof v));  /* broken */
	/* Read up to the key only: what is broken after it is not seen. */
	buf_adds(&b, "version: 3.0.0\nfiles:\n");
	for (i = 0; i < 1000; i++)
		buf_adds(&b, "  - { path: f, mode: \"0644\" }\n");
	buf_adds(&b, "  - [ broken\n");
	assert_true(ydoc_peek(b.data, b.len, "version", v, sizeof v));
	assert_string_equal(v, "3.0.0");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_node_cap),
		cmocka_unit_test(test_tree_positions),
		cmocka_unit_test(test_empty_collections),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_check_keys),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_uint_range),
		cmocka_unit_test(test_check_keys_large),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_getters_at),
		cmocka_unit_test(test_large_tree),
		cmocka_unit_test(test_peek),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
