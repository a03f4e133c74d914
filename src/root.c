/* SPDX-License-Identifier: Apache-2.0 */
/* The trust root: parser, threshold checks, the TUF 5.3 walk, and the
 * local copy of the newest accepted root. See root.h. */
#include "root.h"
#include "channel.h"
#include "fsutil.h"
#include "version.h"
#include "xalloc.h"
#include "ydoc.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const top_keys[] = {
	"upgr", "type", "version", "expires", "keys", "roles", "scopes", NULL
};
static const char *const top_required[] = {
	"upgr", "type", "version", "expires", "keys", "roles", NULL
};
static const char *const role_names[] = {
	"root", "release", "approve", "channel", NULL
};
static const char *const role_keys[] = { "keys", "threshold", NULL };
static const char *const scope_keys[] = { "apps", "targets", NULL };

const char *root_role_name(enum root_role_id r)
{
	return role_names[r];
}

/* Key names become file names (N.root.yaml.NAME.minisig). */
static bool name_ok(const char *s)
{
	size_t i;

	if (!*s || strlen(s) > ROOT_NAME_MAX || *s == '-' || *s == '.')
		return false;
	for (i = 0; s[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_-.", s[i]))
			return false;
	return true;
}

int root_key_find(const struct root *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nkeys; i++)
		if (!strcmp(r->keys[i].name, name))
			return (int)i;
	return -1;
}

int root_key_by_pub(const struct root *r, const struct sign_pub *pub)
{
	size_t i;

	for (i = 0; i < r->nkeys; i++)
		if (!memcmp(r->keys[i].pub.pk, pub->pk, SIGN_PK_LEN))
			return (int)i;
	return -1;
}

static void parse_keys(const struct ynode *map, struct root *r, struct diag *d)
{
	size_t i;

	if (ydoc_map(map, "keys", d) < 0)
		return;
	if (map->npairs > ROOT_MAX_KEYS)
		diag_add(d, map->line, map->col, "keys: more than %d keys", ROOT_MAX_KEYS);
	r->keys = xcalloc(map->npairs ? map->npairs : 1, sizeof *r->keys);
	for (i = 0; i < map->npairs && r->nkeys < ROOT_MAX_KEYS; i++) {
		const struct ypair *p = &map->pairs[i];
		const char *b64;
		struct sign_pub pub;
		struct err e;
		char w[96];
		int dup;

		if (!name_ok(p->key->str)) {
			diag_add(d, p->key->line, p->key->col, "keys.%s: a key name is 1 to %d "
				 "letters, digits, '_', '-' or '.', not starting with '-' or '.'",
				 p->key->str, ROOT_NAME_MAX);
			continue;
		}
		if (root_key_find(r, p->key->str) >= 0) {
			diag_add(d, p->key->line, p->key->col, "keys.%s: duplicate key", p->key->str);
			continue;
		}
		ydoc_name(w, sizeof w, "keys", p->key->str);
		if (ydoc_str(p->val, w, &b64, d) < 0)
			continue;
		err_clear(&e);
		if (sign_pub_parse(b64, &pub, &e) < 0) {
			diag_add(d, p->val->line, p->val->col, "keys.%s: not a minisign public key: %s",
				 p->key->str, e.msg);
			continue;
		}
		dup = root_key_by_pub(r, &pub);
		if (dup >= 0) {
			diag_add(d, p->val->line, p->val->col, "keys.%s: the same public key as "
				 "keys.%s (one key, one name)", p->key->str, r->keys[dup].name);
			continue;
		}
		r->keys[r->nkeys].name = xstrdup(p->key->str);
		r->keys[r->nkeys++].pub = pub;
	}
}

static void parse_role(const struct ynode *n, const char *rname, struct root *r,
		       struct root_role *role, struct diag *d)
{
	const struct ynode *ks;
	uint64_t t = 0;
	size_t i, j;
	char w[96];

	if (ydoc_map(n, rname, d) < 0)
		return;
	ydoc_check_keys(n, rname, role_keys, d);
	ydoc_require(n, rname, role_keys, d);
	ks = ydoc_get(n, "keys");
	ydoc_name(w, sizeof w, rname, "keys");
	if (ks && ydoc_seq(ks, w, d) == 0) {
		for (i = 0; i < ks->nitems && role->n < ROOT_MAX_KEYS; i++) {
			const char *kn;
			int k;

			ydoc_name_idx(w, sizeof w, rname, i);
			if (ydoc_str(ks->items[i], w, &kn, d) < 0)
				continue;
			k = root_key_find(r, kn);
			if (k < 0) {
				diag_add(d, ks->items[i]->line, ks->items[i]->col,
					 "%s.keys[%zu]: no key named '%s' in keys", rname, i, kn);
				continue;
			}
			for (j = 0; j < role->n && role->idx[j] != (size_t)k; j++)
				;
			if (j < role->n) {
				diag_add(d, ks->items[i]->line, ks->items[i]->col,
					 "%s.keys[%zu]: '%s' is listed twice", rname, i, kn);
				continue;
			}
			role->idx[role->n++] = (size_t)k;
		}
	}
	if (ydoc_get_uint(n, rname, "threshold", ROOT_MAX_KEYS, &t, d) == 1) {
		const struct ynode *tn = ydoc_get(n, "threshold");

		if (t == 0)
			diag_add(d, tn->line, tn->col, "%s.threshold: must be at least 1", rname);
		else if (ks && ks->kind == YNODE_SEQ && t > ks->nitems)
			diag_add(d, tn->line, tn->col, "%s.threshold: %" PRIu64 " is more than "
				 "the role's %zu keys", rname, t, ks->nitems);
		role->threshold = (unsigned)t;
	}
}

static void parse_roles(const struct ynode *map, struct root *r, struct diag *d)
{
	size_t i;
	char w[32];

	if (ydoc_map(map, "roles", d) < 0)
		return;
	ydoc_check_keys(map, "roles", role_names, d);
	ydoc_require(map, "roles", role_names, d);
	for (i = 0; i < ROOT_NROLES; i++) {
		const struct ynode *n = ydoc_get(map, role_names[i]);

		ydoc_name(w, sizeof w, "roles", role_names[i]);
		if (n)
			parse_role(n, w, r, &r->roles[i], d);
	}
}

/* A list of strings at key in map into *out; check each with problem(). */
static void parse_list(const struct ynode *map, const char *where, const char *key,
		       const char *(*problem)(const char *), char ***out, size_t *n,
		       struct diag *d)
{
	const struct ynode *s = ydoc_get(map, key);
	size_t i;
	char w[160];

	ydoc_name(w, sizeof w, where, key);
	if (!s || ydoc_seq(s, w, d) < 0)
		return;
	*out = xcalloc(s->nitems ? s->nitems : 1, sizeof **out);
	for (i = 0; i < s->nitems; i++) {
		const char *v, *why;
		char wi[180];

		ydoc_name_idx(wi, sizeof wi, w, i);
		if (ydoc_str(s->items[i], wi, &v, d) < 0)
			continue;
		why = problem(v);
		if (why) {
			diag_add(d, s->items[i]->line, s->items[i]->col, "%s: %s", wi, why);
			continue;
		}
		(*out)[(*n)++] = xstrdup(v);
	}
}

static const char *glob_problem(const char *g)
{
	size_t i;
	int depth = 0;

	for (i = 0; g[i]; i++) {
		if (g[i] == '\\' && !g[++i])
			return "a glob must not end in '\\'";
		if (g[i] == '[')
			depth++;
		else if (g[i] == ']' && depth)
			depth--;
		else if ((unsigned char)g[i] < 0x20 || g[i] == '/' || g[i] == '"')
			return "an app glob has no '/', '\"' or control characters";
	}
	return depth ? "unclosed '[' in the glob" : NULL;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static const char *target_problem(const char *t)
{
	if (t[0] != '/')
		return "a target prefix must be absolute (start with '/')";
	if (strpbrk(t, "\"\\") || has_control(t))
		return "a target prefix has no '\"', '\\' or control characters";
	if (t[1] && t[strlen(t) - 1] == '/')
		return "a target prefix has no trailing '/'";
	if (strstr(t, "//") || strstr(t, "/./") || strstr(t, "/../") ||
	    !strcmp(t + strlen(t) - 2, "/.") || (strlen(t) > 2 && !strcmp(t + strlen(t) - 3, "/..")))
		return "a target prefix must be normalised (no '//', '.' or '..')";
	return NULL;
}

static bool in_role(const struct root *r, enum root_role_id role, size_t k)
{
	size_t i;

	for (i = 0; i < r->roles[role].n; i++)
		if (r->roles[role].idx[i] == k)
			return true;
	return false;
}

static void parse_scopes(const struct ynode *map, struct root *r, struct diag *d)
{
	size_t i;

	if (ydoc_map(map, "scopes", d) < 0)
		return;
	r->scopes = xcalloc(map->npairs ? map->npairs : 1, sizeof *r->scopes);
	for (i = 0; i < map->npairs; i++) {
		const struct ypair *p = &map->pairs[i];
		struct root_scope *s = &r->scopes[r->nscopes];
		char w[96];
		int k = root_key_find(r, p->key->str);

		ydoc_name(w, sizeof w, "scopes", p->key->str);
		if (k < 0 || !in_role(r, ROOT_ROLE_RELEASE, (size_t)k)) {
			diag_add(d, p->key->line, p->key->col, "%s: '%s' is not a key of the "
				 "release role: only release keys have scopes", w, p->key->str);
			continue;
		}
		if (ydoc_map(p->val, w, d) < 0)
			continue;
		ydoc_check_keys(p->val, w, scope_keys, d);
		s->key = (size_t)k;
		parse_list(p->val, w, "apps", glob_problem, &s->apps, &s->napps, d);
		parse_list(p->val, w, "targets", target_problem, &s->targets, &s->ntargets, d);
		r->nscopes++;
	}
}

static void parse_head(const struct ynode *top, struct root *r, struct diag *d)
{
	const struct ynode *n;
	const char *s;
	uint64_t u;

	n = ydoc_get(top, "upgr");
	if (ydoc_get_uint(top, "", "upgr", UINT64_MAX, &u, d) == 1 && u != 1)
		diag_add(d, n->line, n->col, "upgr: unsupported format version %" PRIu64
			 " (this upgr reads 1)", u);
	n = ydoc_get(top, "type");
	if (ydoc_get_str(top, "", "type", &s, d) == 1 && strcmp(s, "root"))
		diag_add(d, n->line, n->col, "type: expected 'root', got '%s'", s);
	n = ydoc_get(top, "version");
	if (ydoc_get_uint(top, "", "version", UINT32_MAX, &u, d) == 1) {
		if (u == 0)
			diag_add(d, n->line, n->col, "version: must be a positive integer");
		r->version = u;
	}
	n = ydoc_get(top, "expires");
	if (n && ydoc_text(n, "expires", &s, d) == 0 && channel_time_parse(s, &r->expires) < 0)
		diag_add(d, n->line, n->col, "expires: expected a UTC time "
			 "YYYY-MM-DDTHH:MM:SSZ, got '%s'", s);
}

int root_parse(const char *buf, size_t len, struct root *r, struct diag *d)
{
	struct ydoc doc = { 0 };
	const struct ynode *top;
	size_t before = d->n;

	memset(r, 0, sizeof *r);
	if (ydoc_parse(buf, len, ROOT_MAX_BYTES, 0, &doc, d) < 0)
		return -1;
	top = doc.root;
	if (ydoc_map(top, "the root file", d) == 0) {
		ydoc_check_keys(top, "", top_keys, d);
		ydoc_require(top, "", top_required, d);
		parse_head(top, r, d);
		if (ydoc_get(top, "keys"))
			parse_keys(ydoc_get(top, "keys"), r, d);
		if (ydoc_get(top, "roles"))
			parse_roles(ydoc_get(top, "roles"), r, d);
		if (ydoc_get(top, "scopes"))
			parse_scopes(ydoc_get(top, "scopes"), r, d);
	}
	ydoc_release(&doc);
	if (d->n > before) {
		root_release(r);
		return -1;
	}
	return 0;
}

int root_load(const char *path, struct root *r, struct diag *d)
{
	struct buf b = BUF_INIT;
	struct err e;
	int rc;

	err_clear(&e);
	memset(r, 0, sizeof *r);
	if (fs_read_file(path, ROOT_MAX_BYTES, &b, &e) < 0) {
		diag_add(d, 0, 0, "%s", e.msg);
		return -1;
	}
	rc = root_parse(b.data, b.len, r, d);
	buf_release(&b);
	return rc;
}

void root_release(struct root *r)
{
	size_t i, j;

	for (i = 0; i < r->nkeys; i++)
		free(r->keys[i].name);
	free(r->keys);
	for (i = 0; i < r->nscopes; i++) {
		for (j = 0; j < r->scopes[i].napps; j++)
			free(r->scopes[i].apps[j]);
		for (j = 0; j < r->scopes[i].ntargets; j++)
			free(r->scopes[i].targets[j]);
		free(r->scopes[i].apps);
		free(r->scopes[i].targets);
	}
	free(r->scopes);
	memset(r, 0, sizeof *r);
}

bool root_is_root_text(const char *buf, size_t len)
{
	struct ydoc doc = { 0 };
	struct diag d;
	const struct ynode *t;
	bool yes = false;

	diag_init(&d, "");
	if (ydoc_parse(buf, len, ROOT_MAX_BYTES, 0, &doc, &d) == 0) {
		t = ydoc_get(doc.root, "type");
		yes = t && t->kind == YNODE_SCALAR && !strcmp(t->str, "root");
	}
	ydoc_release(&doc);
	diag_release(&d);
	return yes;
}

/* --- checks (pure) --- */

static bool tally_has(const struct root_tally *t, size_t k)
{
	unsigned i;

	for (i = 0; t && i < t->got; i++)
		if (t->signer[i] == k)
			return true;
	return false;
}

struct filter {
	const char *app, *target;
	bool scoped;
};

static void tally(const struct root *r, enum root_role_id role, const void *data,
		  size_t len, const struct root_sig *sigs, size_t nsigs,
		  const struct root_tally *exclude, const struct filter *f,
		  struct root_tally *out)
{
	const struct root_role *ro = &r->roles[role];
	size_t i, s;

	memset(out, 0, sizeof *out);
	out->need = ro->threshold;
	for (i = 0; i < ro->n; i++) {
		size_t k = ro->idx[i];

		if (tally_has(out, k) || tally_has(exclude, k))
			continue;
		if (f && f->scoped && !root_check_scope(r, k, f->app, f->target))
			continue;
		for (s = 0; s < nsigs; s++) {
			struct err e;

			err_clear(&e);
			if (sign_verify(&r->keys[k].pub, 1, data, len, sigs[s].text,
					sigs[s].len, NULL, &e) == 0) {
				out->signer[out->got++] = k;
				break;
			}
		}
	}
}

static int tally_verdict(const struct root_tally *t, const char *what, struct err *e)
{
	if (t->need && t->got >= t->need)
		return 0;
	return err_set(e, EXIT_TRUST, "%s: %u of %u required signatures", what, t->got, t->need);
}

int root_verify_threshold(const struct root *r, enum root_role_id role,
			  const void *data, size_t len,
			  const struct root_sig *sigs, size_t nsigs,
			  const struct root_tally *exclude,
			  struct root_tally *out, struct err *e)
{
	char what[48];

	tally(r, role, data, len, sigs, nsigs, exclude, NULL, out);
	snprintf(what, sizeof what, "%s role", role_names[role]);
	return tally_verdict(out, what, e);
}

int root_accept_next(const struct root *cur, const struct root *next,
		     const void *next_data, size_t len,
		     const struct root_sig *sigs, size_t nsigs, struct err *e)
{
	struct root_tally t;

	if (next->version != cur->version + 1)
		return err_set(e, EXIT_TRUST, "root version %" PRIu64 ": expected version %"
			       PRIu64 " after %" PRIu64, next->version, cur->version + 1,
			       cur->version);
	if (root_verify_threshold(cur, ROOT_ROLE_ROOT, next_data, len, sigs, nsigs, NULL, &t, e) < 0)
		return err_prefix(e, "root %" PRIu64 " not signed by root %" PRIu64 "'s keys",
				  next->version, cur->version);
	if (root_verify_threshold(next, ROOT_ROLE_ROOT, next_data, len, sigs, nsigs, NULL, &t, e) < 0)
		return err_prefix(e, "root %" PRIu64 " not signed by its own root keys",
				  next->version);
	return 0;
}

static bool prefix_ok(const char *target, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!strcmp(prefix, "/"))
		return target[0] == '/';
	return !strncmp(target, prefix, n) && (target[n] == '\0' || target[n] == '/');
}

bool root_check_scope(const struct root *r, size_t key, const char *app, const char *target)
{
	size_t i, j;

	for (i = 0; i < r->nscopes; i++) {
		const struct root_scope *s = &r->scopes[i];
		bool ok_app = !app || !s->napps, ok_tgt = !target || !s->ntargets;

		if (s->key != key)
			continue;
		for (j = 0; j < s->napps && !ok_app; j++)
			ok_app = fnmatch(s->apps[j], app, 0) == 0;
		for (j = 0; j < s->ntargets && !ok_tgt; j++)
			ok_tgt = prefix_ok(target, s->targets[j]);
		return ok_app && ok_tgt;
	}
	return true;
}

int root_check_manifest(const struct root *r, const void *data, size_t len,
			const char *app, const char *target,
			const struct root_sig *sigs, size_t nsigs,
			struct root_manifest_result *res, struct err *e)
{
	struct filter f = { app, target, true };

	memset(res, 0, sizeof *res);
	tally(r, ROOT_ROLE_RELEASE, data, len, sigs, nsigs, NULL, &f, &res->release);
	tally(r, ROOT_ROLE_APPROVE, data, len, sigs, nsigs, &res->release, NULL, &res->approve);
	res->release_ok = res->release.got >= res->release.need && res->release.need;
	res->approve_ok = res->approve.got >= res->approve.need && res->approve.need;
	if (!res->release_ok)
		snprintf(res->why, sizeof res->why, "not signed by the release role for %s "
			 "(%u of %u in scope)", app ? app : "this app", res->release.got,
			 res->release.need);
	else if (!res->approve_ok)
		snprintf(res->why, sizeof res->why, "waiting for approval (%u of %u)",
			 res->approve.got, res->approve.need);
	else
		return 0;
	return err_set(e, EXIT_TRUST, "%s", res->why);
}

int root_check_channel(const struct root *r, const void *data, size_t len,
		       const struct root_sig *sigs, size_t nsigs,
		       const char *installed, const char *version,
		       bool release_signed, struct err *e)
{
	struct root_tally t;

	if (root_verify_threshold(r, ROOT_ROLE_CHANNEL, data, len, sigs, nsigs, NULL, &t, e) < 0)
		return err_prefix(e, "channel file");
	if (installed && version && semver_cmp_str(version, installed) < 0 && !release_signed)
		return err_set(e, EXIT_TRUST, "channel file: %s is lower than the installed %s: "
			       "a downgrade needs the release role's signatures too",
			       version, installed);
	return 0;
}

enum root_expiry root_expiry_state(const struct root *r, time_t now, long *days)
{
	long long left = (long long)r->expires - (long long)now;

	if (days)
		*days = (long)(left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
	if (left <= 0)
		return ROOT_EXP_EXPIRED;
	return left <= (long long)ROOT_WARN_DAYS * 86400 ? ROOT_EXP_WARN : ROOT_EXP_OK;
}

char *root_sig_name(uint64_t v, const char *name)
{
	return xasprintf("%" PRIu64 ".root.yaml.%s.minisig", v, name);
}

/* --- local state and the walk --- */

static int parse_err(const char *buf, size_t len, const char *label, struct root *r,
		     struct err *e)
{
	struct diag d;
	int rc;

	diag_init(&d, label);
	rc = root_parse(buf, len, r, &d);
	if (rc < 0)
		diag_to_err(&d, EXIT_TRUST, e);
	diag_release(&d);
	return rc;
}

int root_state_store(const char *state_dir, const void *data, size_t len,
		     const struct root *r, const struct root_sig *sigs,
		     size_t nsigs, struct err *e)
{
	char *dir = fs_join(state_dir, "trust"), *p = NULL;
	size_t i;
	int rc = -1;

	(void)r;
	if (fs_mkdir_p(dir, 0755, e) < 0)
		goto done;
	for (i = 0; i < nsigs; i++) {
		if (!name_ok(sigs[i].name))
			continue;
		free(p);
		p = xasprintf("%s/root.yaml.%s.minisig", dir, sigs[i].name);
		if (fs_write_atomic(p, sigs[i].text, sigs[i].len, 0644, e) < 0)
			goto done;
	}
	free(p);
	p = fs_join(dir, "root.yaml");
	rc = fs_write_atomic(p, data, len, 0644, e);
done:
	free(p);
	free(dir);
	return rc;
}

int root_state_load(const char *state_dir, const char *initial_path,
		    struct root *r, struct buf *bytes, struct err *e)
{
	char *p = xasprintf("%s/trust/root.yaml", state_dir);
	bool first = access(p, F_OK) != 0 && errno == ENOENT;
	const char *from = first ? initial_path : p;
	int rc = -1;

	buf_reset(bytes);
	if (!from) {
		err_set(e, EXIT_DATAERR, "no trust root: %s is missing and no trust_root: given", p);
		goto done;
	}
	if (fs_read_file(from, ROOT_MAX_BYTES, bytes, e) < 0 ||
	    parse_err(bytes->data, bytes->len, from, r, e) < 0)
		goto done;
	rc = first ? root_state_store(state_dir, bytes->data, bytes->len, r, NULL, 0, e) : 0;
	if (rc < 0)
		root_release(r);
done:
	free(p);
	return rc;
}

int root_fetch_sigs(const struct root *a, const struct root *b, uint64_t v,
		    root_fetch_fn fetch, void *ctx, struct root_sig *sigs,
		    struct buf *bufs, size_t max, struct err *e)
{
	const struct root *rs[2] = { a, b };
	size_t n = 0, i, j, m;

	for (j = 0; j < 2; j++) {
		for (i = 0; rs[j] && i < rs[j]->roles[ROOT_ROLE_ROOT].n && n < max; i++) {
			const char *name = rs[j]->keys[rs[j]->roles[ROOT_ROLE_ROOT].idx[i]].name;
			char *rel, *f;
			bool missing = false;
			int rc;

			for (m = 0; m < n && strcmp(sigs[m].name, name); m++)
				;
			if (m < n)
				continue;
			f = root_sig_name(v, name);
			rel = xasprintf("root/%s", f);
			free(f);
			buf_reset(&bufs[n]);
			rc = fetch(ctx, rel, 4096, &bufs[n], &missing, e);
			free(rel);
			if (rc < 0 && !missing)
				return -1;
			if (rc < 0)
				continue;
			sigs[n].name = name;
			sigs[n].text = bufs[n].data;
			sigs[n].len = bufs[n].len;
			n++;
		}
	}
	return (int)n;
}

/* Fetch, check and store root cur->version + 1 into *next / nb. Returns 1
 * when accepted, 0 when the server has none, -1 on a refusal. */
static int walk_step(const char *state_dir, const struct root *cur, struct root *next,
		     struct buf *nb, root_fetch_fn fetch, void *ctx, struct err *e)
{
	struct root_sig sigs[2 * ROOT_MAX_KEYS];
	struct buf bufs[2 * ROOT_MAX_KEYS];
	uint64_t v = cur->version + 1;
	char *rel = xasprintf("root/%" PRIu64 ".root.yaml", v);
	bool missing = false;
	int rc = -1, n = 0, i;

	memset(next, 0, sizeof *next);
	for (i = 0; i < 2 * ROOT_MAX_KEYS; i++)
		buf_init(&bufs[i]);
	if (fetch(ctx, rel, ROOT_MAX_BYTES, nb, &missing, e) < 0) {
		rc = missing ? 0 : -1;
		goto done;
	}
	if (parse_err(nb->data, nb->len, rel, next, e) < 0)
		goto done;
	n = root_fetch_sigs(cur, next, v, fetch, ctx, sigs, bufs, 2 * ROOT_MAX_KEYS, e);
	if (n < 0 || root_accept_next(cur, next, nb->data, nb->len, sigs, (size_t)n, e) < 0 ||
	    (state_dir && root_state_store(state_dir, nb->data, nb->len, next, sigs,
					   (size_t)n, e) < 0))
		goto done;
	rc = 1;
done:
	if (rc < 0)
		err_prefix(e, "%s", rel);
	if (rc != 1)
		root_release(next);
	for (i = 0; i < 2 * ROOT_MAX_KEYS; i++)
		buf_release(&bufs[i]);
	free(rel);
	return rc;
}

int root_update(const char *state_dir, struct root *r, struct buf *bytes,
		root_fetch_fn fetch, void *ctx, time_t now, unsigned *walked,
		struct err *e)
{
	struct root next;
	struct buf nb = BUF_INIT;
	char t[CHANNEL_TIME_LEN + 1];
	int rc;

	*walked = 0;
	for (;;) {
		buf_reset(&nb);
		rc = walk_step(state_dir, r, &next, &nb, fetch, ctx, e);
		if (rc <= 0)
			break;
		root_release(r);
		*r = next;
		buf_reset(bytes);
		buf_add(bytes, nb.data, nb.len);
		(*walked)++;
	}
	buf_release(&nb);
	if (rc < 0)
		return -1;
	if (root_expiry_state(r, now, NULL) == ROOT_EXP_EXPIRED) {
		channel_time_format(r->expires, t);
		return err_set(e, EXIT_TRUST, "trust root version %" PRIu64 " expired at %s: "
			       "all updates are refused until the root keys holders publish "
			       "version %" PRIu64, r->version, t, r->version + 1);
	}
	return 0;
}
