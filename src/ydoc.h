/* SPDX-License-Identifier: Apache-2.0 */
/* A small, strict YAML reader for upgr's data files (manifests, the agent
 * config, channel files, audit records).
 *
 * ydoc_parse loads YAML with libyaml into a tree of nodes (scalar, sequence,
 * mapping), each with its 1-based line and column, and refuses hostile or
 * surprising input before building anything big: input over a size cap, NUL
 * bytes, bytes that are not UTF-8, tabs in indentation, anchors and aliases
 * (so no alias expansion bombs), tags, nesting deeper than YDOC_MAX_DEPTH,
 * more than YDOC_MAX_NODES nodes, non-scalar mapping keys, empty documents and (unless asked) more than one
 * document. Every refusal is a positioned item in a struct diag.
 *
 * The walking helpers below are what every reader of these files uses, so
 * that all of them speak alike: unknown keys with a "did you mean", duplicate
 * keys, missing keys, and typed getters whose messages name the key and the
 * rule ("files[2].mode: expected a string, got an integer").
 *
 * Plain scalars are typed as the YAML 1.2 core schema says (ydoc_scalar_type):
 * `~`, `null`, `Null`, `NULL` and nothing are null; `true`/`false` (and their
 * Title and UPPER forms) are booleans; `123`, `-4`, `0o17`, `0x1f` integers;
 * `1.5`, `1e3`, `.inf`, `.nan` floats; everything else, and every quoted or
 * block scalar, is a string. So `mode: 0755` is an integer and
 * `mode: "0755"` a string, and `enabled: yes` is the string "yes".
 *
 * Names in messages: callers pass `where`, the path of the node being read
 * in the file's own terms ("" for the top level, "files[2]", "payload"); the
 * map-level getters append ".key" themselves. */
#ifndef UPGR_YDOC_H
#define UPGR_YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define YDOC_MAX_DEPTH 32
/* Bounds the memory a small hostile file ("[1,1,1,...]") can make the tree
 * take: a manifest listing 100,000 files holds about half as many nodes. */
#define YDOC_MAX_NODES (1u << 20)

enum ynode_kind { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

/* The type of a scalar under the YAML 1.2 core schema (see above). */
enum yscalar_type { YS_NULL, YS_BOOL, YS_INT, YS_FLOAT, YS_STR };

struct ynode;

struct ypair {
	struct ynode *key;          /* always a scalar */
	struct ynode *val;
};

struct ynode {
	enum ynode_kind kind;
	int line, col;              /* 1-based, where the node starts */
	/* YNODE_SCALAR */
	bool plain;                 /* written without quotes or block style */
	char *str;                  /* NUL-terminated (input has no NUL bytes) */
	size_t len;
	/* YNODE_SEQ */
	struct ynode **items;
	size_t nitems;
	/* YNODE_MAP, in the order written (duplicates kept, see ydoc_check_keys) */
	struct ypair *pairs;
	size_t npairs;
};

struct ydoc_arena;

/* Every node and string of a ydoc lives in its arena, until ydoc_release:
 * a node's str is borrowed (copy what outlives the document). */
struct ydoc {
	struct ynode **docs;        /* one root per document, never NULL roots */
	size_t ndocs;
	struct ynode *root;         /* docs[0] */
	struct ydoc_arena *arena;   /* private to ydoc.c */
};

/* The length (1..4) of the valid UTF-8 sequence at p (at most n > 0
 * bytes), with its code point in *cp when cp is not NULL; 0 if p does not
 * start one: overlong forms, surrogates and code points past U+10FFFF are
 * invalid. The one UTF-8 check of upgr: YAML input, audit log strings. */
size_t ydoc_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp);

/* Flags for ydoc_parse. */
enum {
	YDOC_MULTI = 1 << 0,        /* allow a stream of several documents */
};

/* Parse len bytes of buf (no NUL needed) into doc. Input longer than
 * max_bytes is refused without being looked at. Every document must be
 * non-empty; without YDOC_MULTI there must be exactly one. Returns 0, or
 * -1 with at least one positioned item added to d and doc left empty
 * (ydoc_release is still safe to call). */
int ydoc_parse(const char *buf, size_t len, size_t max_bytes, int flags,
	       struct ydoc *doc, struct diag *d);
void ydoc_release(struct ydoc *doc);

/* The scalar value of key in the top-level mapping of buf, read up to
 * there and no further (a version at the top of a 2 MB manifest): true
 * and out set, or false when it is not found first as a plain scalar key
 * of a mapping, does not fit outlen, or the YAML breaks before it. Not a
 * check of anything: whoever uses the answer parses the whole document
 * (ydoc_parse) before relying on the rest of it. */
bool ydoc_peek(const char *buf, size_t len, const char *key, char *out, size_t outlen);

/* "a mapping", "a sequence", "a string", "an integer", "a float",
 * "a boolean" or "null": for messages like "expected X, got Y". */
const char *ydoc_kind_name(const struct ynode *n);
enum yscalar_type ydoc_scalar_type(const struct ynode *n);

/* The value of the first key named key in map; NULL if map is not a
 * mapping or has no such key. */
const struct ynode *ydoc_get(const struct ynode *map, const char *key);
/* The same, for the key node (for positions); NULL when absent. */
const struct ypair *ydoc_get_pair(const struct ynode *map, const char *key);

/* Report every duplicate key in map ("where.key: duplicate key (first at
 * L:C)") and every key not in allowed (a NULL-terminated list), with a
 * "did you mean 'x'?" when one allowed key is close. Returns the number of
 * problems added to d. */
size_t ydoc_check_keys(const struct ynode *map, const char *where,
		       const char *const *allowed, struct diag *d);

/* The word in list (NULL-terminated) closest to word by edit distance
 * (adjacent transpositions count as one), or NULL when none is close
 * enough to be a likely typo. */
const char *ydoc_suggest(const char *word, const char *const *list);

/* Node-level typed getters. `what` names the node in messages. Each returns
 * 0 and fills *out, or -1 after adding a positioned item to d.
 *   ydoc_str:  a string scalar (quoted, or plain that is not null, bool,
 *              number); refuses empty strings
 *   ydoc_text: any scalar but null, as written (for values like versions
 *              where "1.2" deserves a better message than "not a string")
 *   ydoc_uint: a plain decimal integer, 0 <= value <= max
 *   ydoc_bool: a plain true or false
 *   ydoc_seq / ydoc_map: the node is a sequence / mapping */
int ydoc_str(const struct ynode *n, const char *what, const char **out, struct diag *d);
int ydoc_text(const struct ynode *n, const char *what, const char **out, struct diag *d);
int ydoc_uint(const struct ynode *n, const char *what, uint64_t max, uint64_t *out,
	      struct diag *d);
int ydoc_bool(const struct ynode *n, const char *what, bool *out, struct diag *d);
int ydoc_seq(const struct ynode *n, const char *what, struct diag *d);
int ydoc_map(const struct ynode *n, const char *what, struct diag *d);

/* ydoc_str, ydoc_uint and ydoc_bool naming the node "where.key" (as the
 * map-level getters below do), a name built only when there is a problem
 * to report: readers of large files call these on the way to success. */
int ydoc_str_at(const struct ynode *n, const char *where, const char *key,
		const char **out, struct diag *d);
int ydoc_uint_at(const struct ynode *n, const char *where, const char *key, uint64_t max,
		 uint64_t *out, struct diag *d);
int ydoc_bool_at(const struct ynode *n, const char *where, const char *key, bool *out,
		 struct diag *d);

/* Map-level getters: look key up in map and apply the node-level getter,
 * naming it "where.key". Return 1 when found and valid, 0 when absent
 * (nothing is reported: use ydoc_require for required keys), -1 when
 * present but invalid (reported). *out is untouched unless 1 is returned. */
int ydoc_get_str(const struct ynode *map, const char *where, const char *key,
		 const char **out, struct diag *d);
int ydoc_get_uint(const struct ynode *map, const char *where, const char *key,
		  uint64_t max, uint64_t *out, struct diag *d);
int ydoc_get_bool(const struct ynode *map, const char *where, const char *key,
		  bool *out, struct diag *d);

/* Add "where: missing required key 'key'" at map's position for each key
 * in keys (NULL-terminated) that map lacks. Returns how many were missing. */
size_t ydoc_require(const struct ynode *map, const char *where,
		    const char *const *keys, struct diag *d);

/* Write "where.key" (or "key" when where is empty) into out, cut to
 * outlen - 1 bytes as snprintf cuts. */
void ydoc_name(char *out, size_t outlen, const char *where, const char *key);
/* Write "where[i]" into out, cut the same way. */
void ydoc_name_idx(char *out, size_t outlen, const char *where, size_t i);

#endif
