/* SPDX-License-Identifier: Apache-2.0 */
/* Strict YAML loading into a positioned node tree, and the helpers that
 * read it. See ydoc.h for what is refused and why. */
#include "ydoc.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- pre-scan: size, NUL, UTF-8, tabs ---------------------------------- */

size_t ydoc_utf8_seq(const unsigned char *p, size_t n, uint32_t *cpp)
{
	unsigned char c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80) {
		if (cpp)
			*cpp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	if (cpp)
		*cpp = cp;
	return len;
}

/* Refuse what libyaml would either accept silently or report vaguely. Stops
 * at the first problem: a file with one of these is not worth reading on. */
static int prescan(const char *buf, size_t len, struct diag *d)
{
	const unsigned char *p = (const unsigned char *)buf;
	int line = 1, col = 1;
	bool indent = true;          /* still in a line's leading whitespace */
	size_t i = 0, n;

	while (i < len) {
		if (p[i] == 0) {
			diag_add(d, line, col, "NUL byte: not a text file");
			return -1;
		}
		n = ydoc_utf8_seq(p + i, len - i, NULL);
		if (!n) {
			diag_add(d, line, col, "invalid UTF-8 (byte 0x%02x): YAML files must be UTF-8",
				 p[i]);
			return -1;
		}
		if (p[i] == '\t' && indent) {
			diag_add(d, line, col, "tab in indentation: indent with spaces");
			return -1;
		}
		if (p[i] == '\n') {
			line++;
			col = 1;
			indent = true;
		} else {
			col++;
			if (p[i] != ' ' && p[i] != '\t')
				indent = false;
		}
		i += n;
	}
	return 0;
}

/* ---- building the tree from libyaml events ----------------------------- */

struct builder {
	struct ydoc *doc;
	struct diag *d;
	int flags;
	struct ynode *stack[YDOC_MAX_DEPTH + 1];
	size_t depth;
	size_t nodes;
	struct ynode *cur_root;
};

static void node_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	free(n->str);
	for (i = 0; i < n->nitems; i++)
		node_free(n->items[i]);
	free(n->items);
	for (i = 0; i < n->npairs; i++) {
		node_free(n->pairs[i].key);
		node_free(n->pairs[i].val);
	}
	free(n->pairs);
	free(n);
}

/* Grow an array of n elements so that it holds n + 1: doubling at powers
 * of two keeps appends linear without storing a capacity. */
static void *grow(void *v, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0)
		return xreallocarray(v, n < 2 ? 4 : 2 * n, size);
	return v;
}

static struct ynode *node_new(enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof *n);

	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

/* Hang n under the node on top of the stack (or make it the document's
 * root). Takes ownership of n. */
static int attach(struct builder *b, struct ynode *n)
{
	struct ynode *top;

	if (!b->depth) {
		b->cur_root = n;
		return 0;
	}
	top = b->stack[b->depth - 1];
	if (top->kind == YNODE_SEQ) {
		top->items = grow(top->items, top->nitems, sizeof *top->items);
		top->items[top->nitems++] = n;
		return 0;
	}
	if (top->npairs && !top->pairs[top->npairs - 1].val) {
		top->pairs[top->npairs - 1].val = n;
		return 0;
	}
	if (n->kind != YNODE_SCALAR) {
		diag_add(b->d, n->line, n->col,
			 "a %s as a mapping key: keys must be plain strings",
			 n->kind == YNODE_MAP ? "mapping" : "sequence");
		node_free(n);
		return -1;
	}
	top->pairs = grow(top->pairs, top->npairs, sizeof *top->pairs);
	top->pairs[top->npairs].key = n;
	top->pairs[top->npairs].val = NULL;
	top->npairs++;
	return 0;
}

/* Anchors, aliases and tags have no use in upgr's files; anchors and
 * aliases are how "billion laughs" bombs are built, so all are refused. */
static int refuse_props(struct builder *b, const yaml_mark_t *m,
			const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor) {
		diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
			 "anchor '&%s': anchors and aliases are not allowed", (const char *)anchor);
		return -1;
	}
	if (tag) {
		diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
			 "tag '%s': tags are not allowed", (const char *)tag);
		return -1;
	}
	return 0;
}

static int count_node(struct builder *b, const yaml_mark_t *m)
{
	if (++b->nodes > YDOC_MAX_NODES) {
		diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
			 "more than %u values: refused", YDOC_MAX_NODES);
		return -1;
	}
	return 0;
}

static int open_collection(struct builder *b, enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n;

	if (count_node(b, m) < 0)
		return -1;
	if (b->depth >= YDOC_MAX_DEPTH) {
		diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
			 "nested deeper than %d levels", YDOC_MAX_DEPTH);
		return -1;
	}
	n = node_new(kind, m);
	if (attach(b, n) < 0)
		return -1;
	b->stack[b->depth++] = n;
	return 0;
}

static bool is_null_scalar(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && ydoc_scalar_type(n) == YS_NULL;
}

static int end_document(struct builder *b, const yaml_mark_t *m)
{
	struct ydoc *doc = b->doc;

	if (!b->cur_root || is_null_scalar(b->cur_root)) {
		int line = b->cur_root ? b->cur_root->line : (int)m->line + 1;
		int col = b->cur_root ? b->cur_root->col : (int)m->column + 1;

		diag_add(b->d, line, col, "empty document");
		return -1;
	}
	doc->docs = grow(doc->docs, doc->ndocs, sizeof *doc->docs);
	doc->docs[doc->ndocs++] = b->cur_root;
	b->cur_root = NULL;
	return 0;
}

/* Handle one event; returns 1 at the end of the stream, 0 to go on, -1 on
 * a refusal (already reported). */
static int on_event(struct builder *b, yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	struct ynode *n;

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (b->doc->ndocs && !(b->flags & YDOC_MULTI)) {
			diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
				 "a second document: this file must hold exactly one");
			return -1;
		}
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		return end_document(b, m);
	case YAML_STREAM_END_EVENT:
		if (!b->doc->ndocs) {
			diag_add(b->d, 1, 1, "empty document");
			return -1;
		}
		return 1;
	case YAML_ALIAS_EVENT:
		diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
			 "alias '*%s': anchors and aliases are not allowed",
			 (const char *)ev->data.alias.anchor);
		return -1;
	case YAML_SCALAR_EVENT:
		if (refuse_props(b, m, ev->data.scalar.anchor, ev->data.scalar.tag) < 0 ||
		    count_node(b, m) < 0)
			return -1;
		/* The bytes are NUL-free, but a "\0" escape is not. */
		if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length)) {
			diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
				 "a NUL character in a value");
			return -1;
		}
		n = node_new(YNODE_SCALAR, m);
		n->str = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
		if (refuse_props(b, m, ev->data.sequence_start.anchor,
				 ev->data.sequence_start.tag) < 0)
			return -1;
		return open_collection(b, YNODE_SEQ, m);
	case YAML_MAPPING_START_EVENT:
		if (refuse_props(b, m, ev->data.mapping_start.anchor,
				 ev->data.mapping_start.tag) < 0)
			return -1;
		return open_collection(b, YNODE_MAP, m);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth)
			b->depth--;
		return 0;
	default:
		return 0;
	}
}

/* Line and column (1-based, in characters) of byte offset off in buf. */
static void offset_position(const char *buf, size_t len, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n')
			(*line)++, *col = 1;
		else if (((unsigned char)buf[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

static void yaml_problem(const yaml_parser_t *p, const char *buf, size_t len,
			 struct diag *d)
{
	const char *problem = p->problem ? p->problem : "cannot parse";
	int line, col;

	/* The reader (encoding, control characters) knows only an offset. */
	if (p->error == YAML_READER_ERROR) {
		offset_position(buf, len, p->problem_offset, &line, &col);
		diag_add(d, line, col, "invalid YAML: %s", problem);
	} else if (p->context)
		diag_add(d, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
			 "invalid YAML: %s (%s at %d:%d)", problem, p->context,
			 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
	else
		diag_add(d, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
			 "invalid YAML: %s", problem);
}

int ydoc_parse(const char *buf, size_t len, size_t max_bytes, int flags,
	       struct ydoc *doc, struct diag *d)
{
	struct builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = -1, r;

	memset(doc, 0, sizeof *doc);
	if (len > max_bytes) {
		diag_add(d, 0, 0, "larger than %zu bytes: refused", max_bytes);
		return -1;
	}
	if (prescan(buf, len, d) < 0)
		return -1;
	memset(&b, 0, sizeof b);
	b.doc = doc;
	b.d = d;
	b.flags = flags;
	if (!yaml_parser_initialize(&parser)) {
		diag_add(d, 0, 0, "cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			yaml_problem(&parser, buf, len, d);
			goto done;
		}
		r = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (r < 0)
			goto done;
		if (r > 0)
			break;
	}
	doc->root = doc->docs[0];
	rc = 0;
done:
	yaml_parser_delete(&parser);
	if (rc < 0) {
		/* An unfinished root still owns everything attached so far. */
		node_free(b.cur_root);
		ydoc_release(doc);
	}
	return rc;
}

void ydoc_release(struct ydoc *doc)
{
	size_t i;

	for (i = 0; i < doc->ndocs; i++)
		node_free(doc->docs[i]);
	free(doc->docs);
	memset(doc, 0, sizeof *doc);
}

/* ---- scalar types (YAML 1.2 core schema) ------------------------------- */

static bool all_of(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

static bool is_core_int(const char *s)
{
	if (!strncmp(s, "0o", 2))
		return all_of(s + 2, "01234567");
	if (!strncmp(s, "0x", 2))
		return all_of(s + 2, "0123456789abcdefABCDEF");
	if (*s == '-' || *s == '+')
		s++;
	return all_of(s, "0123456789");
}

static bool is_core_float(const char *s)
{
	static const char *const special[] = {
		".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
		"-.INF", ".nan", ".NaN", ".NAN", NULL
	};
	size_t i, digits = 0;

	for (i = 0; special[i]; i++)
		if (!strcmp(s, special[i]))
			return true;
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9')
		s++, digits++;
	if (*s == '.') {
		const char *f = ++s;

		while (*s >= '0' && *s <= '9')
			s++;
		if (!digits && s == f)
			return false;
		digits += (size_t)(s - f);
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

enum yscalar_type ydoc_scalar_type(const struct ynode *n)
{
	const char *s = n->str;

	if (!n->plain)
		return YS_STR;
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return YS_NULL;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") ||
	    !strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return YS_BOOL;
	if (is_core_int(s))
		return YS_INT;
	if (is_core_float(s))
		return YS_FLOAT;
	return YS_STR;
}

const char *ydoc_kind_name(const struct ynode *n)
{
	if (n->kind == YNODE_MAP)
		return "a mapping";
	if (n->kind == YNODE_SEQ)
		return "a sequence";
	switch (ydoc_scalar_type(n)) {
	case YS_NULL:  return "null";
	case YS_BOOL:  return "a boolean";
	case YS_INT:   return "an integer";
	case YS_FLOAT: return "a float";
	default:       return "a string";
	}
}

/* ---- walking ----------------------------------------------------------- */

const struct ypair *ydoc_get_pair(const struct ynode *map, const char *key)
{
	size_t i;

	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (i = 0; i < map->npairs; i++)
		if (!strcmp(map->pairs[i].key->str, key))
			return &map->pairs[i];
	return NULL;
}

const struct ynode *ydoc_get(const struct ynode *map, const char *key)
{
	const struct ypair *p = ydoc_get_pair(map, key);

	return p ? p->val : NULL;
}

void ydoc_name(char *out, size_t outlen, const char *where, const char *key)
{
	if (where && *where)
		snprintf(out, outlen, "%s.%s", where, key);
	else
		snprintf(out, outlen, "%s", key);
}

void ydoc_name_idx(char *out, size_t outlen, const char *where, size_t i)
{
	snprintf(out, outlen, "%s[%zu]", where ? where : "", i);
}

/* Optimal string alignment distance: Levenshtein plus adjacent swaps, so
 * "stpo" is one edit from "stop". Words longer than 63 bytes are never
 * typos of a key. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t dm[64][64];

	if (la > 63 || lb > 63)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		dm[i][0] = i;
	for (j = 0; j <= lb; j++)
		dm[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = dm[i - 1][j] + 1;

			if (dm[i][j - 1] + 1 < v)
				v = dm[i][j - 1] + 1;
			if (dm[i - 1][j - 1] + cost < v)
				v = dm[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    dm[i - 2][j - 2] + 1 < v)
				v = dm[i - 2][j - 2] + 1;
			dm[i][j] = v;
		}
	}
	return dm[la][lb];
}

const char *ydoc_suggest(const char *word, const char *const *list)
{
	size_t best = SIZE_MAX, limit, dist, i;
	const char *pick = NULL;

	limit = strlen(word) <= 4 ? 1 : 2;
	for (i = 0; list[i]; i++) {
		dist = edit_distance(word, list[i]);
		if (dist <= limit && dist < strlen(list[i]) && dist < best) {
			best = dist;
			pick = list[i];
		}
	}
	return pick;
}

static bool in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

size_t ydoc_check_keys(const struct ynode *map, const char *where,
		       const char *const *allowed, struct diag *d)
{
	char name[256];
	size_t i, j, problems = 0;

	if (!map || map->kind != YNODE_MAP)
		return 0;
	for (i = 0; i < map->npairs; i++) {
		const struct ynode *k = map->pairs[i].key;
		const char *hint;

		ydoc_name(name, sizeof name, where, k->str);
		for (j = 0; j < i; j++)
			if (!strcmp(map->pairs[j].key->str, k->str))
				break;
		if (j < i) {
			diag_add(d, k->line, k->col, "%s: duplicate key (first at %d:%d)",
				 name, map->pairs[j].key->line, map->pairs[j].key->col);
			problems++;
			continue;
		}
		if (in_list(k->str, allowed))
			continue;
		hint = ydoc_suggest(k->str, allowed);
		if (hint)
			diag_add(d, k->line, k->col, "%s: unknown key (did you mean '%s'?)",
				 name, hint);
		else
			diag_add(d, k->line, k->col, "%s: unknown key", name);
		problems++;
	}
	return problems;
}

size_t ydoc_require(const struct ynode *map, const char *where,
		    const char *const *keys, struct diag *d)
{
	size_t i, missing = 0;

	if (!map || map->kind != YNODE_MAP)
		return 0;
	for (i = 0; keys[i]; i++) {
		if (ydoc_get_pair(map, keys[i]))
			continue;
		if (where && *where)
			diag_add(d, map->line, map->col, "%s: missing required key '%s'",
				 where, keys[i]);
		else
			diag_add(d, map->line, map->col, "missing required key '%s'", keys[i]);
		missing++;
	}
	return missing;
}

/* ---- typed getters ----------------------------------------------------- */

static int wrong(const struct ynode *n, const char *what, const char *expected,
		 struct diag *d)
{
	diag_add(d, n->line, n->col, "%s: expected %s, got %s", what, expected,
		 ydoc_kind_name(n));
	return -1;
}

int ydoc_str(const struct ynode *n, const char *what, const char **out, struct diag *d)
{
	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_STR)
		return wrong(n, what, "a string", d);
	if (!n->len) {
		diag_add(d, n->line, n->col, "%s: must not be empty", what);
		return -1;
	}
	*out = n->str;
	return 0;
}

int ydoc_text(const struct ynode *n, const char *what, const char **out, struct diag *d)
{
	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) == YS_NULL)
		return wrong(n, what, "a string", d);
	if (!n->len) {
		diag_add(d, n->line, n->col, "%s: must not be empty", what);
		return -1;
	}
	*out = n->str;
	return 0;
}

int ydoc_uint(const struct ynode *n, const char *what, uint64_t max, uint64_t *out,
	      struct diag *d)
{
	uint64_t v = 0;
	const char *s;

	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_INT)
		return wrong(n, what, "an integer", d);
	s = n->str;
	if (*s == '-') {
		diag_add(d, n->line, n->col, "%s: %s is negative (expected an integer >= 0)",
			 what, s);
		return -1;
	}
	if (!all_of(s, "0123456789")) {
		diag_add(d, n->line, n->col, "%s: %s: write the integer in decimal", what, s);
		return -1;
	}
	for (; *s; s++) {
		uint64_t digit = (uint64_t)(*s - '0');

		/* v * 10 + digit without wrapping: the whole uint64 range. */
		if (v > (UINT64_MAX - digit) / 10 || v * 10 + digit > max) {
			diag_add(d, n->line, n->col, "%s: %s is too large (at most %" PRIu64 ")",
				 what, n->str, max);
			return -1;
		}
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

int ydoc_bool(const struct ynode *n, const char *what, bool *out, struct diag *d)
{
	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_BOOL)
		return wrong(n, what, "true or false", d);
	*out = n->str[0] == 't' || n->str[0] == 'T';
	return 0;
}

int ydoc_seq(const struct ynode *n, const char *what, struct diag *d)
{
	return n->kind == YNODE_SEQ ? 0 : wrong(n, what, "a sequence", d);
}

int ydoc_map(const struct ynode *n, const char *what, struct diag *d)
{
	return n->kind == YNODE_MAP ? 0 : wrong(n, what, "a mapping", d);
}

int ydoc_get_str(const struct ynode *map, const char *where, const char *key,
		 const char **out, struct diag *d)
{
	const struct ynode *v = ydoc_get(map, key);
	char name[256];

	if (!v)
		return 0;
	ydoc_name(name, sizeof name, where, key);
	return ydoc_str(v, name, out, d) < 0 ? -1 : 1;
}

int ydoc_get_uint(const struct ynode *map, const char *where, const char *key,
		  uint64_t max, uint64_t *out, struct diag *d)
{
	const struct ynode *v = ydoc_get(map, key);
	char name[256];

	if (!v)
		return 0;
	ydoc_name(name, sizeof name, where, key);
	return ydoc_uint(v, name, max, out, d) < 0 ? -1 : 1;
}

int ydoc_get_bool(const struct ynode *map, const char *where, const char *key,
		  bool *out, struct diag *d)
{
	const struct ynode *v = ydoc_get(map, key);
	char name[256];

	if (!v)
		return 0;
	ydoc_name(name, sizeof name, where, key);
	return ydoc_bool(v, name, out, d) < 0 ? -1 : 1;
}
