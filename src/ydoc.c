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

enum prescan_problem { PS_NONE, PS_NUL, PS_UTF8, PS_TAB };

/* The offset of the first byte that is a NUL, starts no valid UTF-8
 * sequence, or is a tab in a line's indentation (which *why names); len
 * if none. Positions are worked out only for a refusal. */
static size_t prescan_find(const unsigned char *p, size_t len, enum prescan_problem *why)
{
	bool indent = true;          /* still in a line's leading whitespace */
	size_t i = 0, n;

	while (i < len) {
		unsigned char c = p[i];

		if (c > ' ' && c < 0x80) {          /* printable ASCII: most bytes */
			indent = false;
		} else if (c == '\n') {
			indent = true;
		} else if (c == '\t') {
			if (indent)
				return *why = PS_TAB, i;
		} else if (c == 0) {
			return *why = PS_NUL, i;
		} else if (c >= 0x80) {
			n = ydoc_utf8_seq(p + i, len - i, NULL);
			if (!n)
				return *why = PS_UTF8, i;
			indent = false;
			i += n;
			continue;
		} else if (c != ' ') {
			indent = false;
		}
		i++;
	}
	*why = PS_NONE;
	return len;
}

/* Refuse what libyaml would either accept silently or report vaguely. Stops
 * at the first problem: a file with one of these is not worth reading on. */
static int prescan(const char *buf, size_t len, struct diag *d)
{
	enum prescan_problem why;
	size_t at = prescan_find((const unsigned char *)buf, len, &why);
	int line, col;

	if (at == len)
		return 0;
	offset_position(buf, len, at, &line, &col);
	if (why == PS_NUL)
		diag_add(d, line, col, "NUL byte: not a text file");
	else if (why == PS_TAB)
		diag_add(d, line, col, "tab in indentation: indent with spaces");
	else
		diag_add(d, line, col, "invalid UTF-8 (byte 0x%02x): YAML files must be UTF-8",
			 (unsigned char)buf[at]);
	return -1;
}

/* ---- the arena: every node and string of one parse ---------------------- */

/* Nodes and strings are carved from a few large blocks: a 20,000-file
 * manifest holds about 300,000 of them, which one malloc (and one free)
 * each made cost more than libyaml's whole scan. ydoc_release frees the
 * blocks. */
struct ydoc_arena {
	struct ydoc_arena *next;     /* the blocks filled before this one */
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_FIRST (8u << 10)
#define ARENA_MAX_BLOCK (1u << 20)

/* size bytes aligned to align (a power of two); NULL for 0 bytes. */
static void *arena_alloc(struct ydoc_arena **a, size_t size, size_t align)
{
	struct ydoc_arena *b = *a;
	size_t at, cap;

	if (!size)
		return NULL;
	at = b ? (b->used + align - 1) & ~(align - 1) : 0;
	if (!b || size > b->cap - b->used || at > b->cap - size) {
		cap = b ? (b->cap < ARENA_MAX_BLOCK ? 2 * b->cap : b->cap) : ARENA_FIRST;
		if (cap < size)
			cap = size;
		b = xmalloc(sizeof *b + cap);
		b->next = *a;
		b->used = 0;
		b->cap = cap;
		*a = b;
		at = 0;
	}
	b->used = at + size;
	return (char *)b->data + at;
}

static void arena_free(struct ydoc_arena *a)
{
	while (a) {
		struct ydoc_arena *next = a->next;

		free(a);
		a = next;
	}
}

/* ---- building the tree from libyaml events ----------------------------- */

/* A collection being read: its children so far are kids[first..nkids). */
struct open_node {
	struct ynode *n;
	size_t first;
};

struct builder {
	struct ydoc *doc;
	struct diag *d;
	int flags;
	struct open_node stack[YDOC_MAX_DEPTH];
	size_t depth;
	size_t nodes;
	/* The children of every open collection, innermost last: a
	 * collection's list is copied into the arena, at its final size, when
	 * it closes. */
	struct ynode **kids;
	size_t nkids, capkids;
	struct ynode *cur_root;
};

/* Grow an array of n elements so that it holds n + 1: doubling at powers
 * of two keeps appends linear without storing a capacity. */
static void *grow(void *v, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0)
		return xreallocarray(v, n < 2 ? 4 : 2 * n, size);
	return v;
}

static struct ynode *node_new(struct builder *b, enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n = arena_alloc(&b->doc->arena, sizeof *n, _Alignof(struct ynode));

	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

/* Hang n under the collection being read (or make it the document's
 * root). */
static int attach(struct builder *b, struct ynode *n)
{
	const struct open_node *top;

	if (!b->depth) {
		b->cur_root = n;
		return 0;
	}
	top = &b->stack[b->depth - 1];
	/* In a mapping, the children alternate key, value. */
	if (top->n->kind == YNODE_MAP && (b->nkids - top->first) % 2 == 0 &&
	    n->kind != YNODE_SCALAR) {
		diag_add(b->d, n->line, n->col,
			 "a %s as a mapping key: keys must be plain strings",
			 n->kind == YNODE_MAP ? "mapping" : "sequence");
		return -1;
	}
	if (b->nkids == b->capkids) {
		b->capkids = b->capkids ? 2 * b->capkids : 64;
		b->kids = xreallocarray(b->kids, b->capkids, sizeof *b->kids);
	}
	b->kids[b->nkids++] = n;
	return 0;
}

static void close_collection(struct builder *b)
{
	const struct open_node *top;
	struct ynode *n, **kids;
	size_t k, i;

	if (!b->depth)
		return;
	top = &b->stack[--b->depth];
	n = top->n;
	k = b->nkids - top->first;
	kids = k ? b->kids + top->first : NULL;     /* no kids yet: b->kids is NULL */
	if (n->kind == YNODE_SEQ) {
		n->items = arena_alloc(&b->doc->arena, k * sizeof *n->items,
				       _Alignof(struct ynode *));
		if (k)
			memcpy(n->items, kids, k * sizeof *n->items);
		n->nitems = k;
	} else {
		n->npairs = k / 2;
		n->pairs = arena_alloc(&b->doc->arena, n->npairs * sizeof *n->pairs,
				       _Alignof(struct ypair));
		for (i = 0; i < n->npairs; i++) {
			n->pairs[i].key = kids[2 * i];
			n->pairs[i].val = kids[2 * i + 1];
		}
	}
	b->nkids = top->first;
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
	n = node_new(b, kind, m);
	if (attach(b, n) < 0)
		return -1;
	b->stack[b->depth].n = n;
	b->stack[b->depth].first = b->nkids;
	b->depth++;
	return 0;
}

static int add_scalar(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	size_t len = ev->data.scalar.length;
	struct ynode *n;

	if (refuse_props(b, m, ev->data.scalar.anchor, ev->data.scalar.tag) < 0 ||
	    count_node(b, m) < 0)
		return -1;
	/* The bytes are NUL-free, but a "\0" escape is not. */
	if (memchr(ev->data.scalar.value, 0, len)) {
		diag_add(b->d, (int)m->line + 1, (int)m->column + 1,
			 "a NUL character in a value");
		return -1;
	}
	n = node_new(b, YNODE_SCALAR, m);
	n->str = arena_alloc(&b->doc->arena, len + 1, 1);
	memcpy(n->str, ev->data.scalar.value, len);
	n->str[len] = '\0';
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return attach(b, n);
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
		return add_scalar(b, ev);
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
		close_collection(b);
		return 0;
	default:
		return 0;
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
	free(b.kids);
	/* The arena holds every node made so far, finished or not. */
	if (rc < 0)
		ydoc_release(doc);
	return rc;
}

void ydoc_release(struct ydoc *doc)
{
	arena_free(doc->arena);
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

static bool in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

enum yscalar_type ydoc_scalar_type(const struct ynode *n)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = {
		"true", "True", "TRUE", "false", "False", "FALSE", NULL
	};
	const char *s = n->str;

	if (!n->plain)
		return YS_STR;
	/* Only these first bytes start a null, a boolean or a number. */
	switch (*s) {
	case '\0':
		return YS_NULL;
	case '~': case 'n': case 'N':
		return in_list(s, nulls) ? YS_NULL : YS_STR;
	case 't': case 'T': case 'f': case 'F':
		return in_list(s, bools) ? YS_BOOL : YS_STR;
	default:
		break;
	}
	if (!strchr("0123456789.+-", *s))
		return YS_STR;
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
	for (i = 0; i < map->npairs; i++) {
		const char *k = map->pairs[i].key->str;

		if (k[0] == key[0] && !strcmp(k, key))
			return &map->pairs[i];
	}
	return NULL;
}

const struct ynode *ydoc_get(const struct ynode *map, const char *key)
{
	const struct ypair *p = ydoc_get_pair(map, key);

	return p ? p->val : NULL;
}

/* Append n bytes of s to out at o, as far as outlen - 1 bytes allow (as
 * snprintf cuts); returns the new end. */
static size_t put(char *out, size_t outlen, size_t o, const char *s, size_t n)
{
	if (n > outlen - 1 - o)
		n = outlen - 1 - o;
	memcpy(out + o, s, n);
	return o + n;
}

void ydoc_name(char *out, size_t outlen, const char *where, const char *key)
{
	size_t o = 0;

	if (!outlen)
		return;
	if (where && *where) {
		o = put(out, outlen, o, where, strlen(where));
		o = put(out, outlen, o, ".", 1);
	}
	o = put(out, outlen, o, key, strlen(key));
	out[o] = '\0';
}

void ydoc_name_idx(char *out, size_t outlen, const char *where, size_t i)
{
	char digits[3 * sizeof i + 2];
	size_t n = sizeof digits - 1, o = 0;

	if (!outlen)
		return;
	digits[n] = ']';
	do
		digits[--n] = (char)('0' + i % 10);
	while (i /= 10);
	digits[--n] = '[';
	if (where)
		o = put(out, outlen, o, where, strlen(where));
	o = put(out, outlen, o, digits + n, sizeof digits - n);
	out[o] = '\0';
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

/* Maps longer than this find duplicate keys through a hash table: a
 * hostile 4 MiB manifest can hold a mapping of 380,000 keys, which
 * comparing each key with all before it takes minutes to check. */
#define KEYS_SCAN_MAX 16

struct keyset {
	size_t *slot;               /* pair index, or SIZE_MAX when free */
	size_t mask;
};

static size_t key_hash(const struct ynode *k)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < k->len; i++)
		h = (h ^ (unsigned char)k->str[i]) * 1099511628211ull;
	return (size_t)h;
}

/* The index of the first key of map equal to pair i's (i when it is the
 * first); with a keyset, pairs are added in order as they are asked for. */
static size_t first_key(const struct ynode *map, size_t i, struct keyset *ks)
{
	const struct ynode *k = map->pairs[i].key;
	size_t j, h;

	if (!ks->slot) {
		for (j = 0; j < i; j++)
			if (!strcmp(map->pairs[j].key->str, k->str))
				return j;
		return i;
	}
	for (h = key_hash(k) & ks->mask; ks->slot[h] != SIZE_MAX; h = (h + 1) & ks->mask) {
		const struct ynode *o = map->pairs[ks->slot[h]].key;

		if (o->len == k->len && !memcmp(o->str, k->str, k->len))
			return ks->slot[h];
	}
	ks->slot[h] = i;
	return i;
}

static void keyset_init(struct keyset *ks, size_t n)
{
	size_t cap = 16;

	ks->slot = NULL;
	ks->mask = 0;
	if (n <= KEYS_SCAN_MAX)
		return;
	while (cap < 2 * n)
		cap *= 2;
	ks->slot = xmalloc(cap * sizeof *ks->slot);
	memset(ks->slot, 0xff, cap * sizeof *ks->slot);
	ks->mask = cap - 1;
}

size_t ydoc_check_keys(const struct ynode *map, const char *where,
		       const char *const *allowed, struct diag *d)
{
	char name[256];
	size_t i, j, problems = 0;
	struct keyset ks;

	if (!map || map->kind != YNODE_MAP)
		return 0;
	keyset_init(&ks, map->npairs);
	for (i = 0; i < map->npairs; i++) {
		const struct ynode *k = map->pairs[i].key;
		const char *hint;

		j = first_key(map, i, &ks);
		if (j == i && in_list(k->str, allowed))
			continue;
		ydoc_name(name, sizeof name, where, k->str);
		problems++;
		if (j < i) {
			diag_add(d, k->line, k->col, "%s: duplicate key (first at %d:%d)",
				 name, map->pairs[j].key->line, map->pairs[j].key->col);
			continue;
		}
		hint = ydoc_suggest(k->str, allowed);
		if (hint)
			diag_add(d, k->line, k->col, "%s: unknown key (did you mean '%s'?)",
				 name, hint);
		else
			diag_add(d, k->line, k->col, "%s: unknown key", name);
	}
	free(ks.slot);
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

/* The name of the node a getter reads, for its messages: what, or
 * "where.key" written into buf the first time it is needed. */
struct lazy_name {
	const char *what, *where, *key;
	char buf[256];
};

static const char *name_of(struct lazy_name *nm)
{
	if (!nm->what) {
		ydoc_name(nm->buf, sizeof nm->buf, nm->where, nm->key);
		nm->what = nm->buf;
	}
	return nm->what;
}

static void name_init(struct lazy_name *nm, const char *what, const char *where,
		      const char *key)
{
	nm->what = what;
	nm->where = where;
	nm->key = key;
}

static int wrong(const struct ynode *n, struct lazy_name *nm, const char *expected,
		 struct diag *d)
{
	diag_add(d, n->line, n->col, "%s: expected %s, got %s", name_of(nm), expected,
		 ydoc_kind_name(n));
	return -1;
}

static int get_str(const struct ynode *n, struct lazy_name *nm, bool any, const char **out,
		   struct diag *d)
{
	enum yscalar_type t = n->kind == YNODE_SCALAR ? ydoc_scalar_type(n) : YS_NULL;

	if (n->kind != YNODE_SCALAR || (any ? t == YS_NULL : t != YS_STR))
		return wrong(n, nm, "a string", d);
	if (!n->len) {
		diag_add(d, n->line, n->col, "%s: must not be empty", name_of(nm));
		return -1;
	}
	*out = n->str;
	return 0;
}

static int get_uint(const struct ynode *n, struct lazy_name *nm, uint64_t max,
		    uint64_t *out, struct diag *d)
{
	uint64_t v = 0;
	const char *s;

	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_INT)
		return wrong(n, nm, "an integer", d);
	s = n->str;
	if (*s == '-') {
		diag_add(d, n->line, n->col, "%s: %s is negative (expected an integer >= 0)",
			 name_of(nm), s);
		return -1;
	}
	if (!all_of(s, "0123456789")) {
		diag_add(d, n->line, n->col, "%s: %s: write the integer in decimal",
			 name_of(nm), s);
		return -1;
	}
	for (; *s; s++) {
		uint64_t digit = (uint64_t)(*s - '0');

		/* v * 10 + digit without wrapping: the whole uint64 range. */
		if (v > (UINT64_MAX - digit) / 10 || v * 10 + digit > max) {
			diag_add(d, n->line, n->col, "%s: %s is too large (at most %" PRIu64 ")",
				 name_of(nm), n->str, max);
			return -1;
		}
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

static int get_bool(const struct ynode *n, struct lazy_name *nm, bool *out, struct diag *d)
{
	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_BOOL)
		return wrong(n, nm, "true or false", d);
	*out = n->str[0] == 't' || n->str[0] == 'T';
	return 0;
}

int ydoc_str(const struct ynode *n, const char *what, const char **out, struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, what, NULL, NULL);
	return get_str(n, &nm, false, out, d);
}

int ydoc_text(const struct ynode *n, const char *what, const char **out, struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, what, NULL, NULL);
	return get_str(n, &nm, true, out, d);
}

int ydoc_uint(const struct ynode *n, const char *what, uint64_t max, uint64_t *out,
	      struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, what, NULL, NULL);
	return get_uint(n, &nm, max, out, d);
}

int ydoc_bool(const struct ynode *n, const char *what, bool *out, struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, what, NULL, NULL);
	return get_bool(n, &nm, out, d);
}

int ydoc_seq(const struct ynode *n, const char *what, struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, what, NULL, NULL);
	return n->kind == YNODE_SEQ ? 0 : wrong(n, &nm, "a sequence", d);
}

int ydoc_map(const struct ynode *n, const char *what, struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, what, NULL, NULL);
	return n->kind == YNODE_MAP ? 0 : wrong(n, &nm, "a mapping", d);
}

int ydoc_str_at(const struct ynode *n, const char *where, const char *key,
		const char **out, struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, NULL, where, key);
	return get_str(n, &nm, false, out, d);
}

int ydoc_uint_at(const struct ynode *n, const char *where, const char *key, uint64_t max,
		 uint64_t *out, struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, NULL, where, key);
	return get_uint(n, &nm, max, out, d);
}

int ydoc_bool_at(const struct ynode *n, const char *where, const char *key, bool *out,
		 struct diag *d)
{
	struct lazy_name nm;

	name_init(&nm, NULL, where, key);
	return get_bool(n, &nm, out, d);
}

int ydoc_get_str(const struct ynode *map, const char *where, const char *key,
		 const char **out, struct diag *d)
{
	const struct ynode *v = ydoc_get(map, key);

	if (!v)
		return 0;
	return ydoc_str_at(v, where, key, out, d) < 0 ? -1 : 1;
}

int ydoc_get_uint(const struct ynode *map, const char *where, const char *key,
		  uint64_t max, uint64_t *out, struct diag *d)
{
	const struct ynode *v = ydoc_get(map, key);

	if (!v)
		return 0;
	return ydoc_uint_at(v, where, key, max, out, d) < 0 ? -1 : 1;
}

int ydoc_get_bool(const struct ynode *map, const char *where, const char *key,
		  bool *out, struct diag *d)
{
	const struct ynode *v = ydoc_get(map, key);

	if (!v)
		return 0;
	return ydoc_bool_at(v, where, key, out, d) < 0 ? -1 : 1;
}

/* The events of the top-level mapping up to key's value: each key at
 * depth 1 is a scalar (or the document is not one this answers for). */
bool ydoc_peek(const char *buf, size_t len, const char *key, char *out, size_t outlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0;
	bool found = false, done = false, want_key = false, is_key = false;

	if (!yaml_parser_initialize(&parser))
		return false;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done && yaml_parser_parse(&parser, &ev)) {
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == 0 && ev.type != YAML_MAPPING_START_EVENT)
				done = true;   /* not a mapping */
			else if (depth == 1 && is_key)
				done = true;   /* the value of key is not a scalar */
			want_key = depth == 0;
			depth++;
			is_key = false;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			done = --depth <= 0;
			want_key = depth == 1;
			break;
		case YAML_SCALAR_EVENT:
			if (depth == 1 && is_key) {
				if (ev.data.scalar.length < outlen && !ev.data.scalar.anchor) {
					memcpy(out, ev.data.scalar.value, ev.data.scalar.length);
					out[ev.data.scalar.length] = '\0';
					found = true;
				}
				done = true;
			} else if (depth == 1 && want_key) {
				is_key = !strcmp((const char *)ev.data.scalar.value, key) &&
					 strlen(key) == ev.data.scalar.length;
				want_key = false;
			} else if (depth == 1) {
				want_key = true;    /* another key's value */
			}
			break;
		case YAML_ALIAS_EVENT:
			done = depth == 1 && (is_key || want_key);
			want_key = depth == 1;
			break;
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return found;
}
