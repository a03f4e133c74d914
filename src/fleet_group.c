/* SPDX-License-Identifier: Apache-2.0 */
/* Rows grouped by cause: one line per (state, app, cause) with its hosts,
 * so 26 hosts whose health check exits 1 read as one problem, not 26
 * cards. One sort of all rows: n log n. */
#include "fleet.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct member {
	char *key;          /* "STATE\037APP\037CAUSE" */
	size_t pos;
};

char *fleet_row_cause(const struct fleet *f, const struct fleet_row *r)
{
	switch (r->problem) {
	case FLEET_STALE:
		return xasprintf("no report for more than %u min", f->stale_minutes);
	case FLEET_OUTDATED:
		return xasprintf("runs %s", r->version[0] ? r->version : "nothing");
	case FLEET_NO_RESULT:
		return xstrdup("no result recorded");
	case FLEET_WAITING:
		return xstrdup(r->waiting[0] ? r->waiting : "waiting");
	case FLEET_STAGED:
		return xasprintf("staged%s%s", r->waiting[0] ? ": " : "", r->waiting);
	case FLEET_HELD:
		return xstrdup("outside the rollout");
	case FLEET_OK:
		return xstrdup("current and healthy");
	default:
		return xstrdup(r->error[0] ? r->error : fleet_problem_name(r->problem));
	}
}

static int member_cmp(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	fleet_compares++;
	return c ? c : a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Worst state first, then the most hosts, then the first row. */
static int group_cmp(const void *pa, const void *pb)
{
	const struct fleet_group *a = pa, *b = pb;

	fleet_compares++;
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return a->rows[0] < b->rows[0] ? -1 : a->rows[0] > b->rows[0];
}

size_t fleet_groups(const struct fleet *f, bool problems_only, struct fleet_group **out)
{
	struct member *m = xcalloc(f->nrows + 1, sizeof *m);
	struct fleet_group *g = xcalloc(f->nrows + 1, sizeof *g);
	size_t i, n = 0, ng = 0;

	for (i = 0; i < f->nrows; i++) {
		const struct fleet_row *r = &f->rows[i];
		char *cause;

		if (problems_only && !FLEET_IS_PROBLEM(r->problem))
			continue;
		cause = fleet_row_cause(f, r);
		m[n].key = xasprintf("%02d\037%s\037%s", (int)r->problem, r->app, cause);
		m[n++].pos = i;
		free(cause);
	}
	qsort(m, n, sizeof *m, member_cmp);
	for (i = 0; i < n; i++) {
		const struct fleet_row *r = &f->rows[m[i].pos];

		if (!ng || strcmp(m[i].key, m[i - 1].key)) {
			g[ng].state = r->problem;
			g[ng].app = r->app;
			g[ng].cause = fleet_row_cause(f, r);
			g[ng].rows = xcalloc(n - i, sizeof *g[ng].rows);
			g[ng++].n = 0;
		}
		g[ng - 1].rows[g[ng - 1].n++] = m[i].pos;
	}
	for (i = 0; i < n; i++)
		free(m[i].key);
	free(m);
	qsort(g, ng, sizeof *g, group_cmp);
	*out = g;
	return ng;
}

void fleet_groups_free(struct fleet_group *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(g[i].cause);
		free(g[i].rows);
	}
	free(g);
}
