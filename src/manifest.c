/* SPDX-License-Identifier: Apache-2.0 */
/* The release manifest: strict parsing into struct manifest, every
 * problem collected with its position, and the canonical writer.
 *
 * Reading goes in two passes over the ydoc tree: each key is checked on its
 * own (type, form, range), then the rules that relate entries (duplicate
 * paths, a file listed under another, remove entries that are also files).
 * A bad entry is reported and left out, so the cross checks run on what is
 * left and one mistake is not reported twice. */
#include "manifest.h"
#include "fsutil.h"
#include "hash.h"
#include "mcache.h"
#include "memo.h"
#include "xalloc.h"
#include "ydoc.h"

#include <inttypes.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 160         /* "preconditions[12].disk_free.path" and the like */
#define PATH_MAX_BYTES 4095
#define COMPONENT_MAX_BYTES 255
#define TIMEOUT_MAX 86400u       /* a day: anything longer is a hung step */
#define TIMEOUT_DEFAULT 60u
#define RETRIES_MAX 1000u
#define INTERVAL_MAX 3600u
#define MB_MAX (1ull << 32)

static const char *const top_keys[] = {
	"upgr", "app", "version", "target", "payload", "files", "remove",
	"preconditions", "stop", "start", "health", "rollback", NULL
};
static const char *const top_required[] = {
	"upgr", "app", "version", "target", "files", NULL
};
static const char *const payload_keys[] = { "file", "sha256", "size", NULL };
static const char *const file_keys[] = { "path", "mode", "sha256", "config", "owner", "group",
					  NULL };
static const char *const file_required[] = { "path", "mode", NULL };
static const char *const pattern_required[] = { "path", NULL };
static const char *const cmd_keys[] = { "run", "timeout", NULL };
static const char *const health_keys[] = { "run", "timeout", "retries", "interval", NULL };
static const char *const run_required[] = { "run", NULL };
static const char *const pre_kinds[] = { "run", "disk_free", "installed", NULL };
static const char *const pre_any_keys[] = { "run", "timeout", "disk_free", "installed", NULL };
static const char *const disk_keys[] = { "path", "mb", NULL };
static const char *const disk_only[] = { "disk_free", NULL };
static const char *const installed_only[] = { "installed", NULL };

/* A value made safe to print in a message: control bytes as \xNN, long
 * values cut with "...". */
struct shown { char s[96]; };

static struct shown show(const char *v)
{
	struct shown r;
	size_t o = 0;

	for (; *v && o < sizeof r.s - 8; v++) {
		unsigned char c = (unsigned char)*v;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(r.s + o, sizeof r.s - o, "\\x%02x", c);
		else
			r.s[o++] = (char)c;
	}
	if (*v)
		memcpy(r.s + o, "...", 3), o += 3;
	r.s[o] = '\0';
	return r;
}

const char *manifest_path_problem(const char *path)
{
	const char *p, *comp = path;

	if (!*path)
		return "must not be empty";
	if (*path == '/')
		return "must be relative (no leading '/')";
	if (strlen(path) > PATH_MAX_BYTES)
		return "longer than 4095 bytes";
	for (p = path;; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/' || c == '\0') {
			size_t n = (size_t)(p - comp);

			if (n == 0)
				return c ? "empty components ('//') are not allowed"
					 : "a trailing '/' is not allowed";
			if (n == 1 && comp[0] == '.')
				return "'.' components are not allowed";
			if (n == 2 && comp[0] == '.' && comp[1] == '.')
				return "'..' components are not allowed";
			if (n > COMPONENT_MAX_BYTES)
				return "a component is longer than 255 bytes";
			if (!c)
				return NULL;
			comp = p + 1;
		} else if (c == '\\') {
			return "backslashes are not allowed";
		} else if (c < 0x20 || c == 0x7f) {
			return "control characters are not allowed";
		}
	}
}

/* An absolute, normalised path; "/" itself only when allow_root. */
static const char *abs_path_problem(const char *path, bool allow_root)
{
	if (path[0] != '/')
		return "must be absolute (start with '/')";
	if (!path[1])
		return allow_root ? NULL : "'/' itself is not allowed: name the app's own directory";
	return manifest_path_problem(path + 1);
}

/* ydoc_require, except that a missing key is not reported when an unknown
 * key in map is a likely typo of it: "verison: 1.0.0" gets one message (the
 * typo, from ydoc_check_keys, with its did-you-mean), not two. */
static size_t require(const struct ynode *map, const char *where, const char *const *keys,
		      const char *const *allowed, struct diag *d)
{
	const char *missing[8];
	size_t i, j, n = 0, reported = 0;

	if (!map || map->kind != YNODE_MAP)
		return 0;
	for (i = 0; keys[i] && n < sizeof missing / sizeof missing[0] - 1; i++) {
		bool typo = false;

		if (ydoc_get_pair(map, keys[i]))
			continue;
		for (j = 0; j < map->npairs && !typo; j++) {
			const char *k = map->pairs[j].key->str, *hint;
			size_t a;

			for (a = 0; allowed[a] && strcmp(allowed[a], k); a++)
				;
			hint = allowed[a] ? NULL : ydoc_suggest(k, allowed);
			typo = hint && !strcmp(hint, keys[i]);
		}
		if (!typo)
			missing[n++] = keys[i];
	}
	missing[n] = NULL;
	if (n)
		reported = ydoc_require(map, where, missing, d);
	return reported;
}

/* ---- scalar fields ----------------------------------------------------- */

static void parse_format(const struct ynode *n, struct manifest *m, struct diag *d)
{
	uint64_t v;

	if (ydoc_uint(n, "upgr", UINT64_MAX, &v, d) < 0)
		return;
	if (v != 1) {
		diag_add(d, n->line, n->col,
			 "upgr: format %" PRIu64 " is not supported (this upgr reads format 1)", v);
		return;
	}
	m->format = 1;
}

bool manifest_payload_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 255 || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._+-", s[i]))
			return false;
	return true;
}

bool manifest_app_name_ok(const char *s)
{
	size_t i;

	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (i = 1; s[i]; i++) {
		char c = s[i];

		if (i > 63 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void parse_app(const struct ynode *n, struct manifest *m, struct diag *d)
{
	const char *s;

	if (ydoc_str(n, "app", &s, d) < 0)
		return;
	if (!manifest_app_name_ok(s)) {
		diag_add(d, n->line, n->col,
			 "app: \"%s\" is not a valid name (expected [a-z0-9][a-z0-9._-]{0,63})",
			 show(s).s);
		return;
	}
	m->app = xstrdup(s);
}

static void parse_version(const struct ynode *n, struct manifest *m, struct diag *d)
{
	char why[128];
	const char *s;

	if (ydoc_text(n, "version", &s, d) < 0)
		return;
	if (semver_parse(s, &m->semver, why, sizeof why) < 0) {
		diag_add(d, n->line, n->col, "version: \"%s\" is not a semantic version: %s",
			 show(s).s, why);
		return;
	}
	m->version = xstrdup(s);
}

static void parse_target(const struct ynode *n, struct manifest *m, struct diag *d)
{
	const char *s, *why;

	if (ydoc_str(n, "target", &s, d) < 0)
		return;
	why = abs_path_problem(s, false);
	if (why) {
		diag_add(d, n->line, n->col, "target: \"%s\": %s", show(s).s, why);
		return;
	}
	m->target = xstrdup(s);
}

/* Names are "where.key", written only when there is a problem to report:
 * on the way to success a 20,000-file manifest would build 100,000. */

/* A 64-hex sha256 into out. */
static int parse_sha256(const struct ynode *n, const char *where, const char *key,
			uint8_t out[32], struct diag *d)
{
	char name[NAME_MAX_LEN];
	const char *s;

	if (ydoc_str_at(n, where, key, &s, d) < 0)
		return -1;
	/* hex_decode takes exactly 64 hex digits, nothing else. */
	if (hex_decode(s, out, 32) < 0) {
		ydoc_name(name, sizeof name, where, key);
		diag_add(d, n->line, n->col, "%s: \"%s\" is not a sha256 (expected 64 hex digits)",
			 name, show(s).s);
		return -1;
	}
	return 0;
}

/* A number of something that must be at least 1. */
static int parse_positive(const struct ynode *n, const char *where, const char *key,
			  uint64_t max, uint64_t *out, struct diag *d)
{
	char name[NAME_MAX_LEN];

	if (ydoc_uint_at(n, where, key, max, out, d) < 0)
		return -1;
	if (*out == 0) {
		ydoc_name(name, sizeof name, where, key);
		diag_add(d, n->line, n->col, "%s: must be at least 1", name);
		return -1;
	}
	return 0;
}

static void parse_payload(const struct ynode *n, struct manifest *m, struct diag *d)
{
	const struct ynode *v;
	const char *s;
	size_t bad = 0;

	if (ydoc_map(n, "payload", d) < 0)
		return;
	bad += ydoc_check_keys(n, "payload", payload_keys, d);
	bad += require(n, "payload", payload_keys, payload_keys, d);
	if ((v = ydoc_get(n, "file")) && ydoc_str(v, "payload.file", &s, d) == 0) {
		if (!manifest_payload_name_ok(s) || manifest_path_problem(s)) {
			diag_add(d, v->line, v->col,
				 "payload.file: \"%s\" must be a plain file name (no '/')", show(s).s);
			bad++;
		} else {
			m->payload_file = xstrdup(s);
		}
	}
	if ((v = ydoc_get(n, "sha256")) &&
	    parse_sha256(v, "payload", "sha256", m->payload_sha256, d) < 0)
		bad++;
	if ((v = ydoc_get(n, "size")) &&
	    parse_positive(v, "payload", "size", UINT64_MAX, &m->payload_size, d) < 0)
		bad++;
	m->has_payload = !bad && m->payload_file;
}

/* ---- files ------------------------------------------------------------- */

static int parse_mode(const struct ynode *n, const char *where, mode_t *out, struct diag *d)
{
	const char *s = n->kind == YNODE_SCALAR ? n->str : "";
	char name[NAME_MAX_LEN];
	unsigned long v;
	size_t len = strlen(s);

	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_STR ||
	    len < 3 || len > 4 || strspn(s, "01234567") != len) {
		ydoc_name(name, sizeof name, where, "mode");
		if (n->kind == YNODE_SCALAR)
			diag_add(d, n->line, n->col, "%s: %s%s%s is not an octal mode "
				 "(expected a quoted string like \"0644\")", name,
				 n->plain ? "" : "\"", show(s).s, n->plain ? "" : "\"");
		else
			diag_add(d, n->line, n->col, "%s: expected an octal mode "
				 "(a quoted string like \"0644\"), got %s", name,
				 ydoc_kind_name(n));
		return -1;
	}
	v = strtoul(s, NULL, 8);
	if (v > 0777) {
		ydoc_name(name, sizeof name, where, "mode");
		diag_add(d, n->line, n->col, "%s: \"%s\" sets setuid, setgid or sticky bits, "
			 "which a release may not", name, s);
		return -1;
	}
	*out = (mode_t)v;
	return 0;
}

/* owner: or group: of a file entry, a user or group name as useradd
 * accepts one (resolved on the host when the release is applied).
 * Returns the number of problems (0 or 1). */
static size_t parse_account(const struct ynode *n, const char *where, const char *key,
			    char **out, struct diag *d)
{
	const struct ynode *v = ydoc_get(n, key);
	char name[NAME_MAX_LEN];
	const char *s;
	size_t i, len;

	if (!v)
		return 0;
	if (ydoc_str_at(v, where, key, &s, d) < 0)
		return 1;
	len = strlen(s);
	for (i = 0; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (i && ((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' ||
			     (s[i] == '$' && i == len - 1)))))
			break;
	if (!len || len > 32 || i < len) {
		ydoc_name(name, sizeof name, where, key);
		diag_add(d, v->line, v->col, "%s: \"%s\" is not a %s name (letters, digits, "
			 "'_', '-', '.', not starting with a digit or '-', at most 32)", name,
			 show(s).s, !strcmp(key, "owner") ? "user" : "group");
		return 1;
	}
	*out = xstrdup(s);
	return 0;
}

/* A directory ("site/") or a glob ("site/" "**", "lib/" "*.so"). */
static bool is_pattern(const char *s)
{
	size_t n = strlen(s);

	return (n && s[n - 1] == '/') || strpbrk(s, "*?[") != NULL;
}

/* manifest_path_problem, for a pattern of its trailing '/'. */
static const char *pattern_problem(const char *s)
{
	size_t n = strlen(s);
	char *copy;
	const char *why;

	if (!is_pattern(s) || n < 2 || s[n - 1] != '/')
		return manifest_path_problem(s);
	copy = xstrndup(s, n - 1);
	why = manifest_path_problem(copy);
	free(copy);
	return why;
}

static int parse_file(const struct ynode *n, const char *where, struct mfile *f,
		      struct diag *d)
{
	const struct ynode *v;
	char name[NAME_MAX_LEN];
	const char *s, *why;
	size_t bad = 0;

	memset(f, 0, sizeof *f);
	f->line = n->line;
	f->col = n->col;
	if (ydoc_map(n, where, d) < 0)
		return -1;
	bad += ydoc_check_keys(n, where, file_keys, d);
	v = ydoc_get(n, "path");
	f->pattern = v && v->kind == YNODE_SCALAR && is_pattern(v->str);
	bad += require(n, where, f->pattern ? pattern_required : file_required, file_keys, d);
	if (v) {
		if (ydoc_str_at(v, where, "path", &s, d) < 0) {
			bad++;
		} else if ((why = pattern_problem(s))) {
			ydoc_name(name, sizeof name, where, "path");
			diag_add(d, v->line, v->col, "%s: \"%s\": %s", name, show(s).s, why);
			bad++;
		} else {
			f->path = xstrdup(s);
			f->line = v->line;
			f->col = v->col;
		}
	}
	if ((v = ydoc_get(n, "mode")) && parse_mode(v, where, &f->mode, d) < 0)
		bad++;
	f->has_mode = v != NULL;
	if ((v = ydoc_get(n, "sha256")) && f->pattern) {
		ydoc_name(name, sizeof name, where, "sha256");
		diag_add(d, v->line, v->col, "%s: a directory or glob entry has no sha256 "
			 "(upgr publish hashes each file it expands to)", name);
		bad++;
	} else if (v) {
		if (parse_sha256(v, where, "sha256", f->sha256, d) < 0)
			bad++;
		else
			f->has_sha256 = true;
	}
	if (ydoc_get_bool(n, where, "config", &f->config, d) < 0)
		bad++;
	bad += parse_account(n, where, "owner", &f->owner, d);
	bad += parse_account(n, where, "group", &f->group, d);
	if (bad) {
		free(f->path);
		free(f->owner);
		free(f->group);
		f->path = f->owner = f->group = NULL;
		return -1;
	}
	return 0;
}

/* idx receives, for each file kept, its index in the list as written. */
static void parse_files(const struct ynode *n, struct manifest *m, struct diag *d,
			size_t **idx)
{
	char where[NAME_MAX_LEN];
	size_t i;

	if (ydoc_seq(n, "files", d) < 0)
		return;
	if (!n->nitems) {
		diag_add(d, n->line, n->col, "files: must list at least one file");
		return;
	}
	m->files = xcalloc(n->nitems, sizeof *m->files);
	*idx = xcalloc(n->nitems, sizeof **idx);
	for (i = 0; i < n->nitems; i++) {
		ydoc_name_idx(where, sizeof where, "files", i);
		if (parse_file(n->items[i], where, &m->files[m->nfiles], d) == 0)
			(*idx)[m->nfiles++] = i;
	}
}

static void parse_remove(const struct ynode *n, struct manifest *m, struct diag *d,
			 const struct ynode ***where_out)
{
	char name[NAME_MAX_LEN];
	const char *s, *why;
	size_t i;

	if (ydoc_seq(n, "remove", d) < 0)
		return;
	m->remove = xcalloc(n->nitems + 1, sizeof *m->remove);
	*where_out = xcalloc(n->nitems + 1, sizeof **where_out);
	for (i = 0; i < n->nitems; i++) {
		const struct ynode *v = n->items[i];

		ydoc_name_idx(name, sizeof name, "remove", i);
		if (ydoc_str(v, name, &s, d) < 0)
			continue;
		if ((why = manifest_path_problem(s))) {
			diag_add(d, v->line, v->col, "%s: \"%s\": %s", name, show(s).s, why);
			continue;
		}
		(*where_out)[m->nremove] = v;
		m->remove[m->nremove++] = xstrdup(s);
	}
}

/* ---- cross checks over paths ------------------------------------------- */

/* A small open-addressing set of paths, so that the checks stay linear in
 * the manifest's size even for a hostile 4 MiB list of files. */
struct pathset {
	struct { const char *path; size_t len, idx; } *slot;
	size_t cap;
};

static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static void pathset_init(struct pathset *ps, size_t n)
{
	ps->cap = 16;
	while (ps->cap < 2 * n)
		ps->cap *= 2;
	ps->slot = xcalloc(ps->cap, sizeof *ps->slot);
}

/* The index stored for the first len bytes of s, or SIZE_MAX. */
static size_t pathset_find(const struct pathset *ps, const char *s, size_t len)
{
	size_t i = (size_t)fnv1a(s, len) & (ps->cap - 1);

	for (; ps->slot[i].path; i = (i + 1) & (ps->cap - 1))
		if (ps->slot[i].len == len && !memcmp(ps->slot[i].path, s, len))
			return ps->slot[i].idx;
	return SIZE_MAX;
}

/* Add s with idx unless present; returns the index already there or SIZE_MAX. */
static size_t pathset_add(struct pathset *ps, const char *s, size_t idx)
{
	size_t len = strlen(s), i = (size_t)fnv1a(s, len) & (ps->cap - 1);

	for (; ps->slot[i].path; i = (i + 1) & (ps->cap - 1))
		if (ps->slot[i].len == len && !memcmp(ps->slot[i].path, s, len))
			return ps->slot[i].idx;
	ps->slot[i].path = s;
	ps->slot[i].len = len;
	ps->slot[i].idx = idx;
	return SIZE_MAX;
}

/* The index of a listed file that is a parent directory of path, or SIZE_MAX. */
static size_t pathset_parent(const struct pathset *ps, const char *path)
{
	const char *p;
	size_t j;

	for (p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
		if ((j = pathset_find(ps, path, (size_t)(p - path))) != SIZE_MAX)
			return j;
	return SIZE_MAX;
}

/* Duplicate files, and a file listed under another (one of the two would
 * have to be a directory). idx maps m->files to the list as written. */
static void check_files(const struct manifest *m, const size_t *idx, struct pathset *ps,
			struct diag *d)
{
	size_t i, j;

	for (i = 0; i < m->nfiles; i++) {
		const struct mfile *f = &m->files[i];

		if (f->pattern) {
			if (m->has_payload)
				diag_add(d, f->line, f->col,
					 "files[%zu].path: \"%s\" is a directory or glob: those belong "
					 "in an authored manifest (upgr publish expands them into the "
					 "file list); a published one lists each file", idx[i],
					 show(f->path).s);
			continue;
		}
		j = pathset_add(ps, f->path, i);
		if (j != SIZE_MAX)
			diag_add(d, f->line, f->col,
				 "files[%zu].path: \"%s\" is listed twice (first in files[%zu] at %d:%d)",
				 idx[i], show(f->path).s, idx[j], m->files[j].line, m->files[j].col);
	}
	for (i = 0; i < m->nfiles; i++) {
		const struct mfile *f = &m->files[i];

		if (f->pattern)
			continue;
		j = pathset_parent(ps, f->path);
		if (j != SIZE_MAX)
			diag_add(d, m->files[j].line, m->files[j].col,
				 "files[%zu].path: \"%s\" is a file, but files[%zu] \"%s\" "
				 "needs it to be a directory", idx[j], show(m->files[j].path).s,
				 idx[i], show(f->path).s);
	}
}

static void check_remove(const struct manifest *m, const struct pathset *files,
			 const struct ynode *const *where, struct diag *d)
{
	struct pathset seen;
	size_t i, j;
	char name[NAME_MAX_LEN];

	pathset_init(&seen, m->nremove);
	for (i = 0; i < m->nremove; i++) {
		const char *r = m->remove[i];
		const struct ynode *v = where[i];
		size_t len = strlen(r);

		if ((j = pathset_add(&seen, r, i)) != SIZE_MAX) {
			ydoc_name_idx(name, sizeof name, "remove", i);
			diag_add(d, v->line, v->col, "%s: \"%s\" is listed twice (first at %d:%d)",
				 name, show(r).s, where[j]->line, where[j]->col);
		} else if ((j = pathset_find(files, r, len)) != SIZE_MAX) {
			ydoc_name_idx(name, sizeof name, "remove", i);
			diag_add(d, v->line, v->col,
				 "%s: \"%s\" is also in files: a release cannot ship and remove a file",
				 name, show(r).s);
		} else if ((j = pathset_parent(files, r)) != SIZE_MAX) {
			ydoc_name_idx(name, sizeof name, "remove", i);
			diag_add(d, v->line, v->col, "%s: \"%s\" is under \"%s\", a file in files",
				 name, show(r).s, show(m->files[j].path).s);
		}
	}
	/* A removed path that is a directory of a shipped file. */
	for (i = 0; i < m->nfiles; i++) {
		j = pathset_parent(&seen, m->files[i].path);
		if (j != SIZE_MAX) {
			ydoc_name_idx(name, sizeof name, "remove", j);
			diag_add(d, where[j]->line, where[j]->col,
				 "%s: \"%s\" is a directory of \"%s\" in files", name,
				 show(m->remove[j]).s, show(m->files[i].path).s);
		}
	}
	free(seen.slot);
}

/* ---- commands and preconditions ---------------------------------------- */

static void cmd_defaults(struct mcmd *c, const struct ynode *n)
{
	memset(c, 0, sizeof *c);
	c->timeout = TIMEOUT_DEFAULT;
	c->interval = 1;
	c->line = n->line;
	c->col = n->col;
}

/* The fields of a command mapping (its keys already checked, so retries
 * and interval are read only where they are allowed). */
static int parse_cmd_fields(const struct ynode *n, const char *where, bool health,
			    struct mcmd *c, struct diag *d)
{
	const struct ynode *v;
	const char *s;
	uint64_t u;
	int bad = 0;

	if (ydoc_get_str(n, where, "run", &s, d) == 1)
		c->run = xstrdup(s);
	else
		bad = 1;   /* missing is reported by the caller (require) */
	if ((v = ydoc_get(n, "timeout"))) {
		if (parse_positive(v, where, "timeout", TIMEOUT_MAX, &u, d) < 0)
			bad = 1;
		else
			c->timeout = (unsigned)u;
	}
	if (!health)
		return bad ? -1 : 0;
	switch (ydoc_get_uint(n, where, "retries", RETRIES_MAX, &u, d)) {
	case -1: bad = 1; break;
	case 1:  c->retries = (unsigned)u; break;
	default: break;
	}
	if ((v = ydoc_get(n, "interval"))) {
		if (parse_positive(v, where, "interval", INTERVAL_MAX, &u, d) < 0)
			bad = 1;
		else
			c->interval = (unsigned)u;
	}
	return bad ? -1 : 0;
}

/* A command entry: a string, or a mapping with run (and timeout; for
 * health also retries and interval). */
static int parse_cmd(const struct ynode *n, const char *where, bool health,
		     struct mcmd *c, struct diag *d)
{
	size_t bad = 0;
	const char *s;

	cmd_defaults(c, n);
	if (n->kind == YNODE_SCALAR) {
		if (ydoc_str(n, where, &s, d) < 0)
			return -1;
		c->run = xstrdup(s);
		return 0;
	}
	if (n->kind != YNODE_MAP) {
		diag_add(d, n->line, n->col, "%s: expected a command (a string, or a mapping "
			 "with 'run'), got %s", where, ydoc_kind_name(n));
		return -1;
	}
	bad += ydoc_check_keys(n, where, health ? health_keys : cmd_keys, d);
	bad += require(n, where, run_required, health ? health_keys : cmd_keys, d);
	if (parse_cmd_fields(n, where, health, c, d) < 0 || bad) {
		free(c->run);
		c->run = NULL;
		return -1;
	}
	return 0;
}

static void parse_cmds(const struct ynode *n, const char *key, struct mcmds *out,
		       struct diag *d)
{
	char where[NAME_MAX_LEN];
	size_t i;

	if (ydoc_seq(n, key, d) < 0)
		return;
	out->v = xcalloc(n->nitems + 1, sizeof *out->v);
	for (i = 0; i < n->nitems; i++) {
		ydoc_name_idx(where, sizeof where, key, i);
		if (parse_cmd(n->items[i], where, !strcmp(key, "health"),
			      &out->v[out->n], d) == 0)
			out->n++;
	}
}

static int parse_disk_free(const struct ynode *n, const char *where, struct precond *p,
			   struct diag *d)
{
	char name[NAME_MAX_LEN];
	const struct ynode *v;
	const char *s, *why;
	size_t bad = 0;

	if (ydoc_map(n, where, d) < 0)
		return -1;
	bad += ydoc_check_keys(n, where, disk_keys, d);
	bad += require(n, where, disk_keys, disk_keys, d);
	if ((v = ydoc_get(n, "path"))) {
		if (ydoc_str_at(v, where, "path", &s, d) < 0) {
			bad++;
		} else if ((why = s[0] == '/' ? abs_path_problem(s, true)
					      : manifest_path_problem(s))) {
			ydoc_name(name, sizeof name, where, "path");
			diag_add(d, v->line, v->col, "%s: \"%s\": %s", name, show(s).s, why);
			bad++;
		} else {
			p->path = xstrdup(s);
		}
	}
	if ((v = ydoc_get(n, "mb")) && parse_positive(v, where, "mb", MB_MAX, &p->mb, d) < 0)
		bad++;
	return bad ? -1 : 0;
}

static int parse_installed(const struct ynode *n, const char *where, struct precond *p,
			   struct diag *d)
{
	char why[256];
	const char *s;

	if (ydoc_str(n, where, &s, d) < 0)
		return -1;
	if (vconstraint_parse(s, &p->constraint, why, sizeof why) < 0) {
		diag_add(d, n->line, n->col, "%s: \"%s\" is not a version constraint: %s",
			 where, show(s).s, why);
		return -1;
	}
	p->constraint_text = xstrdup(s);
	return 0;
}

static void precond_release(struct precond *p)
{
	free(p->cmd.run);
	free(p->path);
	free(p->constraint_text);
	memset(p, 0, sizeof *p);
}

/* One precondition: a mapping with exactly one of run, disk_free or
 * installed (run may carry a timeout). */
static int parse_precond(const struct ynode *n, const char *where, struct precond *p,
			 struct diag *d)
{
	const char *found[3];
	char name[NAME_MAX_LEN];
	size_t i, nfound = 0, bad = 0;

	memset(p, 0, sizeof *p);
	p->line = n->line;
	p->col = n->col;
	if (ydoc_map(n, where, d) < 0)
		return -1;
	for (i = 0; pre_kinds[i]; i++)
		if (ydoc_get(n, pre_kinds[i]))
			found[nfound++] = pre_kinds[i];
	if (nfound != 1) {
		/* A typo ("instaled") is reported as such; say what is expected
		 * only when the keys themselves were fine. */
		if (ydoc_check_keys(n, where, pre_any_keys, d))
			return -1;
		if (nfound == 0)
			diag_add(d, n->line, n->col, "%s: expected one of 'run', 'disk_free' "
				 "or 'installed'", where);
		else
			diag_add(d, n->line, n->col, "%s: '%s' and '%s' in one entry: write "
				 "one precondition per entry", where, found[0], found[1]);
		return -1;
	}
	if (!strcmp(found[0], "run")) {
		p->kind = PRE_RUN;
		cmd_defaults(&p->cmd, n);
		bad += ydoc_check_keys(n, where, cmd_keys, d);
		if (parse_cmd_fields(n, where, false, &p->cmd, d) < 0)
			bad++;
	} else if (!strcmp(found[0], "disk_free")) {
		p->kind = PRE_DISK_FREE;
		bad += ydoc_check_keys(n, where, disk_only, d);
		ydoc_name(name, sizeof name, where, "disk_free");
		if (parse_disk_free(ydoc_get(n, "disk_free"), name, p, d) < 0)
			bad++;
	} else {
		p->kind = PRE_INSTALLED;
		bad += ydoc_check_keys(n, where, installed_only, d);
		ydoc_name(name, sizeof name, where, "installed");
		if (parse_installed(ydoc_get(n, "installed"), name, p, d) < 0)
			bad++;
	}
	if (bad) {
		precond_release(p);
		return -1;
	}
	return 0;
}

static void parse_preconds(const struct ynode *n, struct manifest *m, struct diag *d)
{
	char where[NAME_MAX_LEN];
	size_t i;

	if (ydoc_seq(n, "preconditions", d) < 0)
		return;
	m->pre = xcalloc(n->nitems + 1, sizeof *m->pre);
	for (i = 0; i < n->nitems; i++) {
		ydoc_name_idx(where, sizeof where, "preconditions", i);
		if (parse_precond(n->items[i], where, &m->pre[m->npre], d) == 0)
			m->npre++;
	}
}

/* ---- the whole ---------------------------------------------------------- */

static void parse_root(const struct ynode *root, struct manifest *m, struct diag *d)
{
	const struct ynode *n, **remove_at = NULL;
	size_t *file_idx = NULL;
	struct pathset files;

	if (ydoc_map(root, "manifest", d) < 0)
		return;
	ydoc_check_keys(root, "", top_keys, d);
	require(root, "", top_required, top_keys, d);
	if ((n = ydoc_get(root, "upgr")))
		parse_format(n, m, d);
	if ((n = ydoc_get(root, "app")))
		parse_app(n, m, d);
	if ((n = ydoc_get(root, "version")))
		parse_version(n, m, d);
	if ((n = ydoc_get(root, "target")))
		parse_target(n, m, d);
	if ((n = ydoc_get(root, "payload")))
		parse_payload(n, m, d);
	if ((n = ydoc_get(root, "files")))
		parse_files(n, m, d, &file_idx);
	if ((n = ydoc_get(root, "remove")))
		parse_remove(n, m, d, &remove_at);
	if ((n = ydoc_get(root, "preconditions")))
		parse_preconds(n, m, d);
	if ((n = ydoc_get(root, "stop")))
		parse_cmds(n, "stop", &m->stop, d);
	if ((n = ydoc_get(root, "start")))
		parse_cmds(n, "start", &m->start, d);
	if ((n = ydoc_get(root, "health")))
		parse_cmds(n, "health", &m->health, d);
	if ((n = ydoc_get(root, "rollback")))
		parse_cmds(n, "rollback", &m->rollback, d);

	pathset_init(&files, m->nfiles);
	check_files(m, file_idx, &files, d);
	if (m->nremove)
		check_remove(m, &files, remove_at, d);
	free(files.slot);
	free(file_idx);
	free(remove_at);
}

size_t manifest_warnings(const struct manifest *m, struct diag *w)
{
	size_t n = w->n;

	if (m->stop.n && !m->start.n)
		diag_add(w, m->stop.v[0].line, m->stop.v[0].col,
			 "warning: stop: the release stops the service and never starts it "
			 "(no start:): every upgrade leaves it down");
	if (m->health.n && !m->start.n)
		diag_add(w, m->health.v[0].line, m->health.v[0].col,
			 "warning: health: checks a service the release never starts (no start:): "
			 "unless something else starts it, every upgrade fails its health check");
	return w->n - n;
}

/* The sorted index of files by path, so that finding one is a binary
 * search: the plan looks up every file of a release in the installed
 * manifest, which is quadratic with a scan (20,000 files: 2 x 10^8
 * comparisons). */
static _Thread_local const struct manifest *index_m;   /* qsort has no context argument */
static void build_index(struct manifest *m);

static int index_cmp(const void *a, const void *b)
{
	return strcmp(index_m->files[*(const size_t *)a].path,
		      index_m->files[*(const size_t *)b].path);
}

void manifest_reindex(struct manifest *m)
{
	free(m->by_path);
	m->by_path = NULL;
	m->nby_path = 0;
	build_index(m);
}

static void build_index(struct manifest *m)
{
	size_t i;

	if (!m->nfiles)
		return;
	m->by_path = xcalloc(m->nfiles, sizeof *m->by_path);
	for (i = 0; i < m->nfiles; i++)
		m->by_path[i] = i;
	index_m = m;
	qsort(m->by_path, m->nfiles, sizeof *m->by_path, index_cmp);
	index_m = NULL;
	m->nby_path = m->nfiles;
}

/* ---- the memo (memo.h): one parse per distinct manifest in a run ------ */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void *dup_array(const void *v, size_t n, size_t size)
{
	void *copy;

	if (!v)
		return NULL;
	copy = xcalloc(n ? n : 1, size);
	memcpy(copy, v, n * size);
	return copy;
}

static void copy_cmds(struct mcmds *dst, const struct mcmds *src)
{
	size_t i;

	dst->v = dup_array(src->v, src->n, sizeof *src->v);
	for (i = 0; i < src->n; i++)
		dst->v[i].run = dup_or_null(src->v[i].run);
}

/* Every pointer manifest_release frees, duplicated. */
static void copy_manifest(void *dstv, const void *srcv)
{
	struct manifest *dst = dstv;
	const struct manifest *src = srcv;
	size_t i;

	*dst = *src;
	dst->app = dup_or_null(src->app);
	dst->version = dup_or_null(src->version);
	dst->target = dup_or_null(src->target);
	dst->payload_file = dup_or_null(src->payload_file);
	dst->files = dup_array(src->files, src->nfiles, sizeof *src->files);
	for (i = 0; i < src->nfiles; i++) {
		dst->files[i].path = dup_or_null(src->files[i].path);
		dst->files[i].owner = dup_or_null(src->files[i].owner);
		dst->files[i].group = dup_or_null(src->files[i].group);
	}
	dst->by_path = dup_array(src->by_path, src->nby_path, sizeof *src->by_path);
	dst->remove = dup_array(src->remove, src->nremove + 1, sizeof *src->remove);
	for (i = 0; i < src->nremove; i++)
		dst->remove[i] = xstrdup(src->remove[i]);
	dst->pre = dup_array(src->pre, src->npre, sizeof *src->pre);
	for (i = 0; i < src->npre; i++) {
		dst->pre[i].cmd.run = dup_or_null(src->pre[i].cmd.run);
		dst->pre[i].path = dup_or_null(src->pre[i].path);
		dst->pre[i].constraint_text = dup_or_null(src->pre[i].constraint_text);
	}
	copy_cmds(&dst->stop, &src->stop);
	copy_cmds(&dst->start, &src->start);
	copy_cmds(&dst->health, &src->health);
	copy_cmds(&dst->rollback, &src->rollback);
}

static void release_manifest(void *m)
{
	manifest_release(m);
}

static struct memo parsed = MEMO_INIT(struct manifest, copy_manifest, release_manifest);

/* A parse of buf, kept in the memo (m is zeroed). */
static int parse_fresh(const char *buf, size_t len, struct manifest *m, struct diag *d)
{
	size_t before = d->n;
	struct ydoc doc;

	if (ydoc_parse(buf, len, MANIFEST_MAX_BYTES, 0, &doc, d) < 0)
		return -1;
	parse_root(doc.root, m, d);
	ydoc_release(&doc);
	if (d->n > before) {
		manifest_release(m);
		return -1;
	}
	build_index(m);
	memo_put(&parsed, buf, len, m);
	return 0;
}

int manifest_parse(const char *buf, size_t len, struct manifest *m, struct diag *d)
{
	memset(m, 0, sizeof *m);
	if (memo_get(&parsed, buf, len, m))
		return 0;
	return parse_fresh(buf, len, m, d);
}

/* The value parsed from buf (len bytes): the memo's, cache's (mcache.h)
 * or a parse's, in that order; what the cache or a parse gave goes to the
 * memo. */
static int parse_cached(const char *buf, size_t len, const char *cache, struct manifest *m,
			struct diag *d)
{
	uint8_t sha[SHA256_LEN];

	memset(m, 0, sizeof *m);
	if (memo_get(&parsed, buf, len, m))
		return 0;
	if (cache) {
		sha256_buf(buf, len, sha);
		if (mcache_read(cache, sha, m)) {
			memo_put(&parsed, buf, len, m);
			return 0;
		}
	}
	return parse_fresh(buf, len, m, d);
}

int manifest_load_cached(const char *path, const char *cache, struct manifest *m,
			 struct diag *d)
{
	struct buf b = BUF_INIT;
	struct err e;
	int rc;

	free(d->file);
	d->file = xstrdup(path);
	memset(m, 0, sizeof *m);
	if (fs_read_file(path, MANIFEST_MAX_BYTES, &b, &e) < 0) {
		diag_add(d, 0, 0, "cannot read: %s", e.msg);
		buf_release(&b);
		return -1;
	}
	rc = parse_cached(b.data, b.len, cache, m, d);
	buf_release(&b);
	return rc;
}

int manifest_load(const char *path, struct manifest *m, struct diag *d)
{
	return manifest_load_cached(path, NULL, m, d);
}

static void cmds_release(struct mcmds *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].run);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

void manifest_release(struct manifest *m)
{
	size_t i;

	free(m->app);
	free(m->version);
	free(m->target);
	free(m->payload_file);
	for (i = 0; i < m->nfiles; i++) {
		free(m->files[i].path);
		free(m->files[i].owner);
		free(m->files[i].group);
	}
	free(m->files);
	free(m->by_path);
	for (i = 0; i < m->nremove; i++)
		free(m->remove[i]);
	free(m->remove);
	for (i = 0; i < m->npre; i++)
		precond_release(&m->pre[i]);
	free(m->pre);
	cmds_release(&m->stop);
	cmds_release(&m->start);
	cmds_release(&m->health);
	cmds_release(&m->rollback);
	memset(m, 0, sizeof *m);
}

const struct mfile *manifest_find_file(const struct manifest *m, const char *path)
{
	size_t i, lo = 0, hi;
	int c;

	if (m->by_path && m->nby_path == m->nfiles) {
		for (hi = m->nfiles; lo < hi;) {
			i = lo + (hi - lo) / 2;
			c = strcmp(m->files[m->by_path[i]].path, path);
			if (c == 0)
				return &m->files[m->by_path[i]];
			if (c < 0)
				lo = i + 1;
			else
				hi = i;
		}
		return NULL;
	}
	for (i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

const struct mfile *manifest_find_file_near(const struct manifest *m, const char *path,
					    size_t hint)
{
	if (hint < m->nfiles && !strcmp(m->files[hint].path, path))
		return &m->files[hint];
	return manifest_find_file(m, path);
}

/* ---- the canonical writer ----------------------------------------------- */

static void emit_key_str(struct buf *out, const char *indent, const char *key, const char *v)
{
	buf_addf(out, "%s%s: ", indent, key);
	buf_add_quoted(out, v);
	buf_adds(out, "\n");
}

static void emit_sha(struct buf *out, const char *indent, const char *key, const uint8_t *h)
{
	char hex[SHA256_HEX_LEN + 1];

	hex_encode(h, SHA256_LEN, hex);
	buf_addf(out, "%s%s: \"%s\"\n", indent, key, hex);
}

static void emit_cmds(struct buf *out, const char *key, const struct mcmds *c, bool health)
{
	size_t i;

	if (!c->n)
		return;
	buf_addf(out, "%s:\n", key);
	for (i = 0; i < c->n; i++) {
		emit_key_str(out, "  - ", "run", c->v[i].run);
		buf_addf(out, "    timeout: %u\n", c->v[i].timeout);
		if (health)
			buf_addf(out, "    retries: %u\n    interval: %u\n",
				 c->v[i].retries, c->v[i].interval);
	}
}

static void emit_pre(struct buf *out, const struct precond *p)
{
	switch (p->kind) {
	case PRE_RUN:
		emit_key_str(out, "  - ", "run", p->cmd.run);
		buf_addf(out, "    timeout: %u\n", p->cmd.timeout);
		break;
	case PRE_DISK_FREE:
		buf_adds(out, "  - disk_free:\n");
		emit_key_str(out, "      ", "path", p->path);
		buf_addf(out, "      mb: %" PRIu64 "\n", p->mb);
		break;
	case PRE_INSTALLED:
		emit_key_str(out, "  - ", "installed", p->constraint_text);
		break;
	}
}

void manifest_emit(const struct manifest *m, struct buf *out)
{
	size_t i;

	buf_addf(out, "upgr: %d\n", m->format ? m->format : 1);
	emit_key_str(out, "", "app", m->app);
	emit_key_str(out, "", "version", m->version);
	emit_key_str(out, "", "target", m->target);
	if (m->has_payload) {
		buf_adds(out, "payload:\n");
		emit_key_str(out, "  ", "file", m->payload_file);
		emit_sha(out, "  ", "sha256", m->payload_sha256);
		buf_addf(out, "  size: %" PRIu64 "\n", m->payload_size);
	}
	buf_adds(out, "files:\n");
	for (i = 0; i < m->nfiles; i++) {
		const struct mfile *f = &m->files[i];

		emit_key_str(out, "  - ", "path", f->path);
		buf_addf(out, "    mode: \"%04o\"\n", (unsigned)f->mode);
		if (f->config)
			buf_adds(out, "    config: true\n");
		if (f->owner)
			emit_key_str(out, "    ", "owner", f->owner);
		if (f->group)
			emit_key_str(out, "    ", "group", f->group);
		if (f->has_sha256)
			emit_sha(out, "    ", "sha256", f->sha256);
	}
	if (m->nremove) {
		buf_adds(out, "remove:\n");
		for (i = 0; i < m->nremove; i++) {
			buf_adds(out, "  - ");
			buf_add_quoted(out, m->remove[i]);
			buf_adds(out, "\n");
		}
	}
	if (m->npre) {
		buf_adds(out, "preconditions:\n");
		for (i = 0; i < m->npre; i++)
			emit_pre(out, &m->pre[i]);
	}
	emit_cmds(out, "stop", &m->stop, false);
	emit_cmds(out, "start", &m->start, false);
	emit_cmds(out, "health", &m->health, true);
	emit_cmds(out, "rollback", &m->rollback, false);
}
