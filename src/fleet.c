/* SPDX-License-Identifier: Apache-2.0 */
/* The management console's model: reports read into rows, classified and
 * sorted problems first (see fleet.h). Rendering is in fleet_render.c and
 * fleet_html.c, the audit check in fleet_verify.c. */
#include "fleet.h"
#include "channel.h"
#include "diag.h"
#include "fsutil.h"
#include "repo.h"
#include "transport.h"
#include "version.h"
#include "xalloc.h"
#include "ydoc.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FIELD_MAX 256          /* bytes of a value other than error */
#define ERROR_MAX 4096         /* bytes of an error kept */

/* ---- grouping in n log n ------------------------------------------------
 * A fleet of 200 hosts with 256 apps each has 51200 rows: every question
 * asked of all rows (distinct hosts, counts per key, the rows of a host or
 * an app) sorts once instead of comparing each row with all before it. */

unsigned long long fleet_compares;

struct keyed {
	const char *key;
	size_t pos;
};

struct group {
	const char *key;
	size_t first, n;
};

/* The string field at offset off of row r (offsetof(struct fleet_row, host)). */
#define ROW_STR(r, off) (*(char *const *)((const char *)(r) + (off)))

/* By key, then by position: equal keys stay in their first-seen order. */
static int keyed_cmp(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	fleet_compares++;
	return c ? c : a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int group_first_cmp(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;

	return a->first < b->first ? -1 : a->first > b->first;
}

/* The distinct strings of keys[0..n), each with the position it is first
 * seen at and how often it occurs, in first-seen order; *out is malloc'd
 * (keys point into the caller's strings). Returns the number of groups. */
static size_t group_keys(const char *const *keys, size_t n, struct group **out)
{
	struct keyed *k = xcalloc(n + 1, sizeof *k);
	struct group *g = xcalloc(n + 1, sizeof *g);
	size_t i, ng = 0;

	for (i = 0; i < n; i++) {
		k[i].key = keys[i];
		k[i].pos = i;
	}
	qsort(k, n, sizeof *k, keyed_cmp);
	for (i = 0; i < n; i++) {
		if (!ng || strcmp(g[ng - 1].key, k[i].key)) {
			g[ng].key = k[i].key;
			g[ng].first = k[i].pos;
			g[ng++].n = 0;
		}
		g[ng - 1].n++;
	}
	qsort(g, ng, sizeof *g, group_first_cmp);
	free(k);
	*out = g;
	return ng;
}

/* Positions 0..n-1 of rows ordered by the string field at offset off of
 * each row, then by position. */
size_t *fleet_row_index(const struct fleet *f, size_t off)
{
	struct keyed *k = xcalloc(f->nrows + 1, sizeof *k);
	size_t *ix = xcalloc(f->nrows + 1, sizeof *ix), i;

	for (i = 0; i < f->nrows; i++) {
		k[i].key = ROW_STR(&f->rows[i], off);
		k[i].pos = i;
	}
	qsort(k, f->nrows, sizeof *k, keyed_cmp);
	for (i = 0; i < f->nrows; i++)
		ix[i] = k[i].pos;
	free(k);
	return ix;
}

/* The positions [*lo, *hi) of ix (from fleet_row_index(f, off)) whose rows have
 * key in that field. */
static void index_range(const struct fleet *f, const size_t *ix, size_t off,
			const char *key, size_t *lo, size_t *hi)
{
	size_t a = 0, b = f->nrows, m;

	while (a < b) {          /* the first row whose field is >= key */
		m = a + (b - a) / 2;
		if (strcmp(ROW_STR(&f->rows[ix[m]], off), key) < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	for (b = f->nrows; a < b; ) {   /* the first whose field is > key */
		m = a + (b - a) / 2;
		if (strcmp(ROW_STR(&f->rows[ix[m]], off), key) <= 0)
			a = m + 1;
		else
			b = m;
	}
	*hi = a;
}

void fleet_init(struct fleet *f, const struct fleet_opts *o)
{
	memset(f, 0, sizeof *f);
	f->repo = xfer_url_redact(o->repo);   /* the page may be public */
	f->channel = xstrdup(o->channel ? o->channel : "stable");
	f->generated = o->now;
	f->stale_minutes = o->stale_minutes;
	f->verified = o->keys_dir != NULL;
}

static void row_release(struct fleet_row *r)
{
	free(r->host);
	free(r->app);
	free(r->version);
	free(r->result);
	free(r->action);
	free(r->from);
	free(r->to);
	free(r->time);
	free(r->reported);
	free(r->error);
	free(r->state);
	free(r->waiting);
}

void fleet_release(struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->nrows; i++)
		row_release(&f->rows[i]);
	for (i = 0; i < f->nlatest; i++) {
		free(f->latest[i].app);
		free(f->latest[i].version);
		free(f->latest[i].approval_why);
	}
	free(f->rows);
	free(f->by_app);
	free(f->latest);
	free(f->repo);
	free(f->channel);
	free(f->root_error);
	for (i = 0; i < f->nwarnings; i++)
		free(f->warnings[i]);
	free(f->warnings);
	fleet_rollouts_release(f);
	memset(f, 0, sizeof *f);
}

bool fleet_host_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 255 && name[0] != '.' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-") == n;
}

static struct fleet_row *new_row(struct fleet *f, const char *host)
{
	struct fleet_row *r;

	f->rows = xreallocarray(f->rows, f->nrows + 1, sizeof *f->rows);
	r = &f->rows[f->nrows++];
	memset(r, 0, sizeof *r);
	r->host = xstrdup(host);
	r->problem = FLEET_OK;
	return r;
}

/* Give every NULL string of r the value "". */
static void row_fill(struct fleet_row *r)
{
	char **s[] = { &r->app, &r->version, &r->result, &r->action, &r->from,
		       &r->to, &r->time, &r->reported, &r->error, &r->state, &r->waiting };
	size_t i;

	for (i = 0; i < sizeof s / sizeof s[0]; i++)
		if (!*s[i])
			*s[i] = xstrdup("");
}

void fleet_add_unreadable(struct fleet *f, const struct fleet_opts *o,
			  const char *host, const char *why)
{
	struct fleet_row *r = new_row(f, host);

	r->app = xstrdup(o->app ? o->app : "");
	r->error = xstrndup(why, ERROR_MAX);
	r->problem = FLEET_UNREADABLE;
	row_fill(r);
}

/* A report time: YYYY-MM-DDTHH:MM:SS, optional .fff (1-9 digits), Z. */
static int report_time(const char *s, time_t *t)
{
	char base[CHANNEL_TIME_LEN + 1];
	size_t n = strlen(s), digits;

	if (n < CHANNEL_TIME_LEN || s[n - 1] != 'Z')
		return -1;
	if (n > CHANNEL_TIME_LEN) {
		digits = n - CHANNEL_TIME_LEN - 1;
		if (s[19] != '.' || digits < 1 || digits > 9 ||
		    strspn(s + 20, "0123456789") != digits)
			return -1;
	}
	memcpy(base, s, 19);
	base[19] = 'Z';
	base[20] = '\0';
	return channel_time_parse(base, t);
}

/* A report value: a scalar the core schema reads as a string (the agent
 * quotes every one), empty allowed, at most max bytes. */
static int rstr(const struct ynode *map, const char *where, const char *key,
		size_t max, const char **out, struct diag *d)
{
	const struct ynode *n = ydoc_get(map, key);
	char name[96];

	ydoc_name(name, sizeof name, where, key);
	if (!n) {
		diag_add(d, map->line, map->col, "%s: missing", name);
		return -1;
	}
	if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_STR) {
		diag_add(d, n->line, n->col, "%s: expected a string, got %s", name,
			 ydoc_kind_name(n));
		return -1;
	}
	if (n->len > max) {
		diag_add(d, n->line, n->col, "%s: longer than %zu bytes", name, max);
		return -1;
	}
	*out = n->str;
	return 0;
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static const char *const top_keys[] = { "upgr", "host", "time", "apps", NULL };
static const char *const top_keys_all[] = { "upgr", "host", "time", "apps", "warnings",
					    NULL };
#define WARNINGS_MAX 8         /* host-level warnings kept per report */
/* The eight every entry has, then the optional ones (the agent writes
 * state and waiting while it waits for a window, a freeze, an approval or
 * its group's lease, and staged, the version it holds ready). */
static const char *const app_keys[] = { "app", "version", "result", "time", "action",
					"from", "to", "error", "state", "waiting", "staged", NULL };
#define APP_REQUIRED 8
#define APP_KEYS 11
static const char *const results[] = { "success", "rolled-back", "failed", "refused",
				       "unavailable", "", NULL };
static const char *const actions[] = { "install", "upgrade", "downgrade", "rollback",
				       "recover", "refuse", "poll", "", NULL };

/* Check one apps[i] entry; on success fill vals (pointers into the tree)
 * in app_keys order. */
static int check_app(const struct ynode *a, size_t i, const char *vals[APP_KEYS],
		     struct diag *d)
{
	char where[32];
	struct semver v;
	time_t t;
	size_t k;

	ydoc_name_idx(where, sizeof where, "apps", i);
	if (ydoc_map(a, where, d) < 0 || ydoc_check_keys(a, where, app_keys, d))
		return -1;
	for (k = 0; app_keys[k]; k++) {
		vals[k] = "";
		if (k >= APP_REQUIRED && !ydoc_get(a, app_keys[k]))
			continue;
		if (rstr(a, where, app_keys[k], k == 7 || k == 9 ? ERROR_MAX : FIELD_MAX,
			 &vals[k], d) < 0)
			return -1;
	}
	if (strspn(vals[8], "abcdefghijklmnopqrstuvwxyz-") != strlen(vals[8]))
		diag_add(d, a->line, a->col, "%s.state: not a state word", where);
	else if (!channel_name_ok(vals[0]))
		diag_add(d, a->line, a->col, "%s.app: not an app name", where);
	else if (vals[1][0] && semver_parse(vals[1], &v, NULL, 0) < 0)
		diag_add(d, a->line, a->col, "%s.version: not a version", where);
	else if (!one_of(vals[2], results))
		diag_add(d, a->line, a->col, "%s.result: unknown result", where);
	else if (vals[3][0] && report_time(vals[3], &t) < 0)
		diag_add(d, a->line, a->col, "%s.time: not a UTC time", where);
	else if (!one_of(vals[4], actions))
		diag_add(d, a->line, a->col, "%s.action: unknown action", where);
	else
		return 0;
	return -1;
}

/* Check the whole report; fill *reported and the apps node. */
static int check_report(const struct ynode *root, const char *host,
			const char **reported, const struct ynode **apps,
			struct diag *d)
{
	const char *h;
	uint64_t ver;
	time_t t;

	if (ydoc_map(root, "report", d) < 0 || ydoc_check_keys(root, "", top_keys_all, d) ||
	    ydoc_require(root, "", top_keys, d))
		return -1;
	if (ydoc_get_uint(root, "", "upgr", 1000, &ver, d) < 0)
		return -1;
	if (ver != 1) {
		diag_add(d, root->line, root->col, "upgr: format %llu is not 1",
			 (unsigned long long)ver);
		return -1;
	}
	if (rstr(root, "", "host", FIELD_MAX, &h, d) < 0 ||
	    rstr(root, "", "time", FIELD_MAX, reported, d) < 0)
		return -1;
	if (strcmp(h, host)) {
		diag_add(d, root->line, root->col,
			 "host: the report names another host than its directory");
		return -1;
	}
	if (report_time(*reported, &t) < 0) {
		diag_add(d, root->line, root->col, "time: not a UTC time");
		return -1;
	}
	*apps = ydoc_get(root, "apps");
	if (ydoc_seq(*apps, "apps", d) < 0)
		return -1;
	if ((*apps)->nitems > FLEET_APPS_MAX) {
		diag_add(d, (*apps)->line, (*apps)->col, "apps: more than %d", FLEET_APPS_MAX);
		return -1;
	}
	return 0;
}

/* The report's optional warnings: (strings, report.h) as "HOST: text"
 * lines of f; a malformed list is a problem of the report. */
static int add_warnings(struct fleet *f, const struct ynode *root, const char *host,
			struct diag *d)
{
	const struct ynode *w = ydoc_get(root, "warnings");
	size_t i, keep;

	if (!w)
		return 0;
	if (ydoc_seq(w, "warnings", d) < 0)
		return -1;
	for (i = 0; i < w->nitems && i < WARNINGS_MAX; i++) {
		const struct ynode *n = w->items[i];

		if (n->kind != YNODE_SCALAR || ydoc_scalar_type(n) != YS_STR ||
		    n->len > ERROR_MAX) {
			diag_add(d, n->line, n->col, "warnings[%zu]: expected a string of at "
				 "most %d bytes", i, ERROR_MAX);
			return -1;
		}
	}
	keep = w->nitems < WARNINGS_MAX ? w->nitems : WARNINGS_MAX;
	if (!keep)
		return 0;
	f->warnings = xreallocarray(f->warnings, f->nwarnings + keep, sizeof *f->warnings);
	for (i = 0; i < keep; i++)
		f->warnings[f->nwarnings++] = xasprintf("%s: %s", host, w->items[i]->str);
	return 0;
}

/* The first problem of d as one line: "status.yaml:L:C: message". */
static char *first_problem(const struct diag *d)
{
	if (!d->n)
		return xstrdup("status.yaml: invalid");
	if (d->v[0].line)
		return xasprintf("status.yaml:%d:%d: %s", d->v[0].line, d->v[0].col,
				 d->v[0].msg);
	return xasprintf("status.yaml: %s", d->v[0].msg);
}

void fleet_add_report(struct fleet *f, const struct fleet_opts *o, const char *host,
		      const char *data, size_t len)
{
	const struct ynode *apps = NULL;
	const char *reported = NULL, *vals[FLEET_APPS_MAX][APP_KEYS];
	struct ydoc doc;
	struct diag d;
	char *why;
	size_t i, before = f->nrows;

	if (!data) {
		fleet_add_unreadable(f, o, host, "no status.yaml");
		return;
	}
	memset(&doc, 0, sizeof doc);
	diag_init(&d, "status.yaml");
	if (ydoc_parse(data, len, FLEET_STATUS_MAX, 0, &doc, &d) < 0 ||
	    check_report(doc.root, host, &reported, &apps, &d) < 0)
		goto bad;
	for (i = 0; i < apps->nitems; i++)
		if (check_app(apps->items[i], i, vals[i], &d) < 0)
			goto bad;
	for (i = 0; i < apps->nitems; i++) {
		struct fleet_row *r;

		if (o->app && strcmp(o->app, vals[i][0]))
			continue;
		r = new_row(f, host);
		r->app = xstrdup(vals[i][0]);
		r->version = xstrdup(vals[i][1]);
		r->result = xstrdup(vals[i][2]);
		r->time = xstrdup(vals[i][3]);
		r->action = xstrdup(vals[i][4]);
		r->from = xstrdup(vals[i][5]);
		r->to = xstrdup(vals[i][6]);
		r->error = xstrdup(vals[i][7]);
		r->state = xstrdup(vals[i][8]);
		r->waiting = xstrdup(vals[i][9]);
		r->reported = xstrdup(reported);
	}
	if (f->nrows == before && !o->app)
		fleet_add_unreadable(f, o, host, "status.yaml: the report lists no apps");
	else if (f->nrows > before && add_warnings(f, doc.root, host, &d) < 0)
		goto bad;
	goto done;
bad:
	why = first_problem(&d);
	fleet_add_unreadable(f, o, host, why);
	free(why);
done:
	ydoc_release(&doc);
	diag_release(&d);
}

static struct fleet_latest *latest_of(const struct fleet *f, const char *app)
{
	size_t i;

	for (i = 0; i < f->nlatest; i++)
		if (!strcmp(f->latest[i].app, app))
			return &f->latest[i];
	return NULL;
}

void fleet_set_latest(struct fleet *f, const char *app, const char *text, size_t len)
{
	struct fleet_latest *l = latest_of(f, app);
	struct channel ch;
	struct diag d;

	if (!l) {
		f->latest = xreallocarray(f->latest, f->nlatest + 1, sizeof *f->latest);
		l = &f->latest[f->nlatest++];
		l->app = xstrdup(app);
		l->version = NULL;
		l->approval = FLEET_APPR_NONE;
		l->approval_why = NULL;
	}
	free(l->version);
	l->version = NULL;
	l->from_channel = false;
	l->rollout = 100;
	l->published = 0;
	diag_init(&d, "channel");
	memset(&ch, 0, sizeof ch);
	/* The channel must describe this app; its signature is the agents'
	 * business: here it only names the version to compare with. Without
	 * one, fleet_finish takes the highest version reported, for every app
	 * in one pass over the rows. */
	if (text && len <= CHANNEL_MAX_BYTES && channel_parse(text, len, &ch, &d) == 0) {
		if (!strcmp(ch.app, app)) {
			l->version = xstrdup(ch.version);
			l->from_channel = true;
			l->rollout = ch.rollout;
			l->published = ch.published;
		}
		channel_release(&ch);
	}
	diag_release(&d);
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct fleet_row *a = pa, *b = pb;
	int c;

	fleet_compares++;
	if (a->problem != b->problem)
		return a->problem < b->problem ? -1 : 1;
	c = strcmp(a->host, b->host);
	return c ? c : strcmp(a->app, b->app);
}

/* A row's state, worst first. A rolled-back result stays a problem until
 * the host is current again: a later success replaces the result, and a
 * channel taken back to the version the host runs (an aborted rollout)
 * makes it current (the highest version reported does not: that is the
 * one the host went back to); a
 * host that is not current is waiting, staged or held by the rollout
 * before it is outdated, when its report or the channel says so. */
static enum fleet_problem classify(const struct fleet_row *r)
{
	if (r->problem == FLEET_UNREADABLE)
		return FLEET_UNREADABLE;
	if (r->tampered)
		return FLEET_TAMPERED;
	if (r->unverified)
		return FLEET_UNVERIFIED;
	if (!strcmp(r->result, "failed"))
		return FLEET_FAILED;
	if (!strcmp(r->result, "rolled-back") && !r->channel_current)
		return FLEET_ROLLED_BACK;
	if (!strcmp(r->result, "refused"))
		return FLEET_REFUSED;
	if (r->stale)
		return FLEET_STALE;
	if (!strcmp(r->result, "unavailable"))
		return FLEET_UNAVAILABLE;
	/* Outside the rollout first: such a host also says it waits (for the
	 * rollout), but held is what the console calls it. */
	if (!r->current && r->held)
		return FLEET_HELD;
	if (!r->current && !strcmp(r->state, "waiting"))
		return FLEET_WAITING;
	if (!r->current && !strcmp(r->state, "staged"))
		return FLEET_STAGED;
	if (!r->current)
		return FLEET_OUTDATED;
	if (strcmp(r->result, "success") && strcmp(r->result, "rolled-back"))
		return FLEET_NO_RESULT;
	return FLEET_OK;
}

/* The distinct apps of the readable rows, in first-seen order. */
static size_t row_apps(const struct fleet *f, struct group **out)
{
	const char **keys = xcalloc(f->nrows + 1, sizeof *keys);
	size_t i, n = 0;

	for (i = 0; i < f->nrows; i++)
		if (f->rows[i].problem != FLEET_UNREADABLE)
			keys[n++] = f->rows[i].app;
	n = group_keys(keys, n, out);
	free(keys);
	return n;
}

static const struct fleet *latest_sorting;   /* qsort has no context argument */

static int latest_pos_cmp(const void *pa, const void *pb)
{
	fleet_compares++;
	return strcmp(latest_sorting->latest[*(const size_t *)pa].app,
		      latest_sorting->latest[*(const size_t *)pb].app);
}

/* f->latest's positions ordered by app. */
static size_t *latest_index(const struct fleet *f)
{
	size_t *ix = xcalloc(f->nlatest + 1, sizeof *ix), i;

	for (i = 0; i < f->nlatest; i++)
		ix[i] = i;
	latest_sorting = f;
	qsort(ix, f->nlatest, sizeof *ix, latest_pos_cmp);
	latest_sorting = NULL;
	return ix;
}

/* The latest entry of app, through ix (latest_index of the first n). */
static struct fleet_latest *latest_find(const struct fleet *f, const size_t *ix,
					size_t n, const char *app)
{
	size_t a = 0, b = n, m;
	int c;

	while (a < b) {
		m = a + (b - a) / 2;
		fleet_compares++;
		c = strcmp(f->latest[ix[m]].app, app);
		if (!c)
			return &f->latest[ix[m]];
		if (c < 0)
			a = m + 1;
		else
			b = m;
	}
	return NULL;
}

/* Give every app of a readable row its latest version: the channel's
 * when fleet_set_latest found one, else the highest any host reports.
 * Returns f->latest's index by app (latest_index). */
static size_t *finish_latest(struct fleet *f)
{
	struct group *apps;
	size_t *ix = latest_index(f), i, n = row_apps(f, &apps), known = f->nlatest;

	for (i = 0; i < n; i++)
		if (!latest_find(f, ix, known, apps[i].key)) {
			f->latest = xreallocarray(f->latest, f->nlatest + 1, sizeof *f->latest);
			f->latest[f->nlatest].app = xstrdup(apps[i].key);
			f->latest[f->nlatest].version = NULL;
			f->latest[f->nlatest].approval = FLEET_APPR_NONE;
			f->latest[f->nlatest].approval_why = NULL;
			f->latest[f->nlatest].rollout = 100;
			f->latest[f->nlatest].published = 0;
			f->latest[f->nlatest++].from_channel = false;
		}
	free(apps);
	free(ix);
	ix = latest_index(f);
	for (i = 0; i < f->nrows; i++) {
		const struct fleet_row *r = &f->rows[i];
		struct fleet_latest *l;

		if (r->problem == FLEET_UNREADABLE || !r->version[0])
			continue;
		l = latest_find(f, ix, f->nlatest, r->app);
		if (!l->from_channel &&
		    (!l->version || semver_cmp_str(r->version, l->version) > 0)) {
			free(l->version);
			l->version = xstrdup(r->version);
		}
	}
	for (i = 0; i < f->nlatest; i++)
		if (!f->latest[i].version)
			f->latest[i].version = xstrdup("");
	return ix;
}

void fleet_finish(struct fleet *f, const struct fleet_opts *o)
{
	size_t *ix = finish_latest(f), i;

	for (i = 0; i < f->nrows; i++) {
		struct fleet_row *r = &f->rows[i];
		const struct fleet_latest *l;
		time_t t;

		if (r->problem == FLEET_UNREADABLE)
			continue;
		l = latest_find(f, ix, f->nlatest, r->app);
		r->current = r->version[0] && l->version[0] &&
			     semver_cmp_str(r->version, l->version) == 0;
		r->channel_current = r->current && l->from_channel &&
				     report_time(r->time, &t) == 0 && l->published > t;
		r->held = l->from_channel && !r->current &&
			  !repo_rollout_includes(r->host, l->version, l->rollout);
		r->stale = report_time(r->reported, &t) < 0 ||
			   (o->now > t && (uint64_t)(o->now - t) >
					  (uint64_t)o->stale_minutes * 60);
	}
	free(ix);
	for (i = 0; i < f->nrows; i++)
		f->rows[i].problem = classify(&f->rows[i]);
	if (f->nrows)
		qsort(f->rows, f->nrows, sizeof *f->rows, row_cmp);
	free(f->by_app);
	f->by_app = fleet_row_index(f, offsetof(struct fleet_row, app));
}

bool fleet_all_good(const struct fleet *f)
{
	return f->nrows > 0 && fleet_nproblems(f) == 0;
}

const char *fleet_problem_name(enum fleet_problem p)
{
	static const char *const names[] = {
		[FLEET_UNREADABLE] = "unreadable", [FLEET_TAMPERED] = "tampered",
		[FLEET_UNVERIFIED] = "unverified",
		[FLEET_FAILED] = "failed",
		[FLEET_ROLLED_BACK] = "rolled-back", [FLEET_REFUSED] = "refused",
		[FLEET_STALE] = "stale", [FLEET_UNAVAILABLE] = "unavailable",
		[FLEET_OUTDATED] = "outdated", [FLEET_NO_RESULT] = "no-result",
		[FLEET_WAITING] = "waiting", [FLEET_STAGED] = "staged",
		[FLEET_HELD] = "held", [FLEET_OK] = "ok",
	};

	return names[p];
}

size_t fleet_nhosts(const struct fleet *f)
{
	const char **keys = xcalloc(f->nrows + 1, sizeof *keys);
	struct group *g;
	size_t i, n;

	for (i = 0; i < f->nrows; i++)
		keys[i] = f->rows[i].host;
	n = group_keys(keys, f->nrows, &g);
	free(g);
	free(keys);
	return n;
}

size_t fleet_stale_hosts(const struct fleet *f, const char ***out)
{
	const char **keys = xcalloc(f->nrows + 1, sizeof *keys);
	struct group *g;
	size_t i, n = 0;

	for (i = 0; i < f->nrows; i++)
		if (f->rows[i].stale)
			keys[n++] = f->rows[i].host;
	n = group_keys(keys, n, &g);
	for (i = 0; i < n; i++)
		keys[i] = g[i].key;
	free(g);
	*out = keys;
	return n;
}

size_t fleet_nproblems(const struct fleet *f)
{
	size_t i, n = 0;

	for (i = 0; i < f->nrows; i++)
		n += FLEET_IS_PROBLEM(f->rows[i].problem);
	return n;
}

size_t fleet_count(const struct fleet *f, const char *(*key_of)(const struct fleet_row *),
		   const char *app, struct fleet_count **out)
{
	const char **keys = xcalloc(f->nrows + 1, sizeof *keys);
	bool indexed = app && f->by_app;
	struct fleet_count *c;
	struct group *g;
	size_t i, lo = 0, hi = f->nrows, n = 0;

	/* With the index fleet_finish builds, only app's rows are looked at,
	 * so counting every app of the fleet reads each row once. */
	if (indexed)
		index_range(f, f->by_app, offsetof(struct fleet_row, app), app, &lo, &hi);
	for (i = lo; i < hi; i++) {
		const struct fleet_row *r = &f->rows[indexed ? f->by_app[i] : i];

		if ((!app || !strcmp(r->app, app)) && key_of(r))
			keys[n++] = key_of(r);
	}
	n = group_keys(keys, n, &g);
	c = xcalloc(n + 1, sizeof *c);
	for (i = 0; i < n; i++) {
		c[i].key = xstrdup(g[i].key);
		c[i].n = g[i].n;
	}
	free(g);
	free(keys);
	*out = c;
	return n;
}

void fleet_counts_free(struct fleet_count *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(c[i].key);
	free(c);
}

void fleet_time_format(time_t t, char out[21])
{
	channel_time_format(t, out);
}

/* Put "what: why" before r's error. */
static void row_blame(struct fleet_row *r, const char *what, const char *why)
{
	char *err = xasprintf("%s: %s%s%s", what, why, r->error[0] ? "; " : "", r->error);

	free(r->error);
	r->error = err;
}

/* One verdicts line "HOST\tKIND\tWHY": mark host's rows (found through
 * by_host, row_index by host) when KIND is tampered or key-changed. */
static int verdict_line(struct fleet *f, const size_t *by_host, char *line)
{
	char *kind = strchr(line, '\t'), *why, *what;
	size_t i, lo, hi;

	if (!kind || !(why = strchr(kind + 1, '\t')))
		return -1;
	*kind++ = '\0';
	*why++ = '\0';
	if (!fleet_host_ok(line))
		return -1;
	if (strcmp(kind, "tampered") && strcmp(kind, "key-changed"))
		return 0;
	what = xasprintf("audit log %s", kind);
	index_range(f, by_host, offsetof(struct fleet_row, host), line, &lo, &hi);
	for (i = lo; i < hi; i++) {
		struct fleet_row *r = &f->rows[by_host[i]];

		if (r->problem == FLEET_UNREADABLE)
			continue;
		row_blame(r, what, why);
		r->tampered = true;
	}
	free(what);
	return 0;
}

int fleet_apply_verdicts(struct fleet *f, const char *dir, struct err *e)
{
	char *path = fs_join(dir, "verdicts"), *p, *nl;
	size_t *by_host = fleet_row_index(f, offsetof(struct fleet_row, host));
	struct buf b = BUF_INIT;
	size_t lineno = 0;
	struct stat st;
	int rc = -1;

	if (stat(path, &st) < 0 && errno == ENOENT) {
		rc = 0;
		goto done;
	}
	if (fs_read_file(path, 64UL << 20, &b, e) < 0)
		goto done;
	for (p = b.data; p && *p; p = nl + 1) {
		lineno++;
		nl = strchr(p, '\n');
		if (!nl || (*nl = '\0', verdict_line(f, by_host, p) < 0)) {
			err_set(e, EXIT_DATAERR, "%s: line %zu: not \"HOST<tab>KIND<tab>WHY\"",
				path, lineno);
			goto done;
		}
	}
	rc = 0;
done:
	buf_release(&b);
	free(by_host);
	free(path);
	return rc;
}

/* ---- reading the repository ------------------------------------------- */

char *fleet_repo_url(const char *repo, const char *path)
{
	size_t n = strlen(repo);

	while (n && repo[n - 1] == '/')
		n--;
	return xasprintf("%.*s/%s", (int)n, repo, path);
}

/* Mark rows[from..] (all of one host) tampered or unverified, why first. */
static void mark_rows(struct fleet *f, size_t from, const char *what, const char *why,
		      bool tampered)
{
	size_t i;

	for (i = from; i < f->nrows; i++) {
		struct fleet_row *r = &f->rows[i];

		if (r->problem == FLEET_UNREADABLE)
			continue;
		row_blame(r, what, why);
		r->tampered |= tampered;
		r->unverified |= !tampered;
	}
}

static void drop_rows(struct fleet *f, size_t from)
{
	while (f->nrows > from)
		row_release(&f->rows[--f->nrows]);
}

/* Add host's rows from its status.yaml: the prefetched copy the first
 * time (got), fetched again over x for a second look. b gets the bytes. */
static void read_status(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
			const char *host, const struct fleet_fetched *got, struct buf *b)
{
	char *path = xasprintf("reports/%s/status.yaml", host), *url = fleet_repo_url(o->repo, path);
	bool missing = false;
	struct err e;
	int rc;

	buf_reset(b);
	err_clear(&e);
	if (got) {
		missing = got->missing;
		if (got->error)
			err_set(&e, EXIT_UNAVAILABLE, "%s", got->error);
		else if (!missing)
			buf_add(b, got->data.data ? got->data.data : "", got->data.len);
		rc = got->error || missing ? -1 : 0;
	} else {
		rc = xfer_get(x, url, FLEET_STATUS_MAX, b, &missing, &e);
	}
	if (rc == 0)
		fleet_add_report(f, o, host, b->data ? b->data : "", b->len);
	else if (missing)
		fleet_add_report(f, o, host, NULL, 0);
	else
		fleet_add_unreadable(f, o, host, e.msg);
	free(path);
	free(url);
}

static void load_host(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
		      const struct fleet_seen *seen, const char *host,
		      const struct fleet_fetched *got, struct buf *b)
{
	struct fleet_verdict v;
	size_t before = f->nrows;
	int attempt;

	if (!fleet_host_ok(host)) {
		fleet_add_unreadable(f, o, "?", "a report directory whose name is not a host name");
		return;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		read_status(x, o, f, host, attempt ? NULL : got, b);
		if (!o->keys_dir || f->nrows == before ||
		    f->rows[before].problem == FLEET_UNREADABLE ||
		    fleet_verify_status(x, o->repo, host, o->keys_dir, seen, b,
					&f->rows[before], f->nrows - before, &v) == 0)
			return;
		/* The agent uploads the log, then the status's signature, then
		 * the status: a reader between two renames sees a mismatch.
		 * Read it all once more before calling the host tampered. */
		if (v.kind != FLEET_V_TAMPERED || attempt == 1)
			break;
		drop_rows(f, before);
	}
	if (v.kind == FLEET_V_TAMPERED)
		mark_rows(f, before, "status.yaml tampered", v.why, true);
	else
		mark_rows(f, before, "status.yaml unverified", v.why, false);
}

/* Each app's channel file, once per app that a readable row names. */
static void load_channels(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
			  struct buf *b)
{
	struct group *apps;
	size_t i, n = row_apps(f, &apps);

	for (i = 0; i < n; i++) {
		char *app = xstrdup(apps[i].key), *path, *url;
		struct err e;
		bool missing;
		int rc;

		if (!channel_name_ok(app)) {
			free(app);
			continue;
		}
		path = xasprintf("apps/%s/channels/%s.yaml", app, f->channel);
		url = fleet_repo_url(o->repo, path);
		buf_reset(b);
		err_clear(&e);
		rc = xfer_get(x, url, CHANNEL_MAX_BYTES, b, &missing, &e);
		fleet_set_latest(f, app, rc == 0 ? (b->data ? b->data : "") : NULL,
				 rc == 0 ? b->len : 0);
		free(path);
		free(url);
		free(app);
	}
	free(apps);
}

static int hosts_read(const char *path, char ***names, size_t *n, struct err *e)
{
	struct buf b = BUF_INIT;
	char *p, *nl;
	size_t len;

	if (fs_read_file(path, 16UL << 20, &b, e) < 0)
		return err_prefix(e, "--hosts: ");
	for (p = b.data; p && *p; p = nl ? nl + 1 : p + len) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
			len--;
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		if (!len || *p == '#')
			continue;
		*names = xreallocarray(*names, *n + 1, sizeof **names);
		(*names)[(*n)++] = xstrndup(p, len);
	}
	buf_release(&b);
	return 0;
}

int fleet_hosts(struct xfer *x, const char *repo, const char *hosts_file,
		char ***names, size_t *n, struct err *e)
{
	char *url;
	int rc;

	*names = NULL;
	*n = 0;
	if (hosts_file)
		return hosts_read(hosts_file, names, n, e);
	if (!strncasecmp(repo, "http://", 7) || !strncasecmp(repo, "https://", 8))
		return err_set(e, EXIT_USAGE, "%s: an HTTP server cannot list reports/: "
			       "name the hosts with --hosts FILE", repo);
	url = fleet_repo_url(repo, "reports/");
	rc = xfer_list(x, url, names, n, e);
	if (rc < 0)
		err_prefix(e, "list the reports: ");
	free(url);
	return rc;
}

/* Every host's status.yaml at once (fleet_fetch), then each host in turn. */
static int load_hosts(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
		      const struct fleet_seen *seen, char **names, size_t n, struct err *e)
{
	struct fleet_fetched *got = xcalloc(n + 1, sizeof *got);
	char **urls = xcalloc(n + 1, sizeof *urls);
	struct buf b = BUF_INIT;
	size_t i, nurls = 0, *at = xcalloc(n + 1, sizeof *at);
	int rc = -1;

	for (i = 0; i < n; i++)
		if (fleet_host_ok(names[i])) {
			char *path = xasprintf("reports/%s/status.yaml", names[i]);

			at[i] = nurls;
			urls[nurls++] = fleet_repo_url(o->repo, path);
			free(path);
		}
	if (fleet_fetch(x, o, urls, nurls, got, &f->fetch, e) < 0)
		goto done;
	for (i = 0; i < n; i++)
		load_host(x, o, f, seen, names[i], fleet_host_ok(names[i]) ? &got[at[i]] : NULL,
			  &b);
	rc = 0;
done:
	for (i = 0; i < nurls; i++) {
		free(urls[i]);
		buf_release(&got[i].data);
		free(got[i].error);
	}
	free(urls);
	free(got);
	free(at);
	buf_release(&b);
	return rc;
}

int fleet_load(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
	       struct err *e)
{
	struct fleet_seen seen = { NULL, 0 };
	struct buf b = BUF_INIT;
	char **names = NULL;
	size_t n = 0;
	int rc = -1;

	if (o->keys_dir && fleet_seen_load(o->keys_dir, &seen, e) < 0)
		goto done;
	if (fleet_hosts(x, o->repo, o->hosts_file, &names, &n, e) < 0)
		goto done;
	if (load_hosts(x, o, f, &seen, names, n, e) < 0)
		goto done;
	load_channels(x, o, f, &b);
	fleet_load_approvals(x, o, f);
	if (!o->no_rollouts)
		fleet_load_rollouts(x, o, f);
	if (o->keys_dir && (fleet_apply_verdicts(f, o->keys_dir, e) < 0 ||
			    fleet_apply_tampered(x, o, f, e) < 0))
		goto done;
	fleet_finish(f, o);
	rc = 0;
done:
	xfer_names_free(names, n);
	fleet_seen_release(&seen);
	buf_release(&b);
	return rc;
}
