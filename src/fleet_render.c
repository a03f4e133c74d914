/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet view as a terminal table and as JSON (the shape is a contract,
 * documented in docs/fleet.md). */
#include "fleet.h"
#include "version.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* s with control characters (C0, DEL, C1) as '?', so a report cannot
 * drive the operator's terminal. */
static void add_safe(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			buf_adds(out, "?");
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			buf_adds(out, "?");
		} else {
			buf_add(out, p, 1);
		}
	}
}

static void add_cell(struct buf *out, const char *s, size_t width)
{
	size_t n = strlen(s);

	add_safe(out, s);
	for (; n < width + 2; n++)
		buf_adds(out, " ");
}

static const char *result_or_dash(const char *s)
{
	return s[0] ? s : "-";
}

static int newest_first(const void *pa, const void *pb)
{
	const struct fleet_count *a = pa, *b = pb;

	return semver_cmp_str(b->key, a->key);
}

enum { C_HOST, C_APP, C_VERSION, C_RESULT, C_STATE, C_REPORTED, C_ERROR, NCOLS };

static void row_cells(const struct fleet_row *r, const char *c[NCOLS])
{
	c[C_HOST] = r->host;
	c[C_APP] = result_or_dash(r->app);
	c[C_VERSION] = result_or_dash(r->version);
	c[C_RESULT] = result_or_dash(r->result);
	c[C_STATE] = fleet_problem_name(r->problem);
	c[C_REPORTED] = result_or_dash(r->reported);
	c[C_ERROR] = r->error;
}

static const char *key_version(const struct fleet_row *r)
{
	return r->problem == FLEET_UNREADABLE ? NULL : r->version[0] ? r->version : "none";
}

static const char *key_result(const struct fleet_row *r)
{
	if (r->problem == FLEET_UNREADABLE)
		return "unreadable";
	return r->result[0] ? r->result : "none";
}

static void text_summary(const struct fleet *f, struct buf *out)
{
	struct fleet_count *c;
	const char **stale;
	char when[21];
	size_t i, j, n, nstale;

	fleet_time_format(f->generated, when);
	buf_addf(out, "\n%zu hosts, %zu with problems; %s at %s UTC (stale after %u min)\n",
		 fleet_nhosts(f), fleet_nproblems(f), f->repo, when, f->stale_minutes);
	if (f->root_error)
		buf_addf(out, "trust root: UNREADABLE: %s\n", f->root_error);
	else if (f->root_version)
		buf_addf(out, "trust root: version %llu\n", (unsigned long long)f->root_version);
	for (i = 0; i < f->nlatest; i++) {
		const struct fleet_latest *l = &f->latest[i];

		buf_addf(out, "%s: latest %s (", l->app, l->version[0] ? l->version : "none");
		if (l->from_channel)
			buf_addf(out, "channel %s)", f->channel);
		else
			buf_adds(out, "highest reported)");
		if (l->approval == FLEET_APPR_APPROVED)
			buf_adds(out, " approved");
		else if (l->approval != FLEET_APPR_NONE)
			buf_addf(out, " %s: %s", l->approval == FLEET_APPR_UNAPPROVED ?
				 "UNAPPROVED" : "UNSIGNED", l->approval_why);
		n = fleet_count(f, key_version, l->app, &c);
		qsort(c, n, sizeof *c, newest_first);
		for (j = 0; j < n; j++)
			buf_addf(out, "%s %s: %zu", j ? "," : ";", c[j].key, c[j].n);
		fleet_counts_free(c, n);
		buf_adds(out, "\n");
	}
	n = fleet_count(f, key_result, NULL, &c);
	buf_adds(out, "results:");
	for (j = 0; j < n; j++)
		buf_addf(out, "%s %s %zu", j ? "," : "", c[j].key, c[j].n);
	fleet_counts_free(c, n);
	buf_adds(out, "\nstale:");
	nstale = fleet_stale_hosts(f, &stale);
	for (i = 0; i < nstale; i++) {
		buf_adds(out, i ? ", " : " ");
		add_safe(out, stale[i]);
	}
	buf_adds(out, nstale ? "\n" : " none\n");
	free(stale);
	for (i = 0; i < f->nwarnings; i++) {
		buf_adds(out, "WARNING: ");
		add_safe(out, f->warnings[i]);
		buf_adds(out, "\n");
	}
	if (!f->verified)
		buf_adds(out, "reports unverified: status.yaml is checked against the hosts' "
			 "signed audit logs only with --keys DIR\n");
}

/* "STATE  APP  CAUSE: N hosts: h1, h2, h3, h4, h5 (+N more)" per group. */
static void text_groups(const struct fleet *f, bool problems_only, struct buf *out)
{
	struct fleet_group *g;
	size_t i, k, n = fleet_groups(f, problems_only, &g);

	for (i = 0; i < n; i++) {
		buf_addf(out, "%-12s ", fleet_problem_name(g[i].state));
		add_safe(out, g[i].app[0] ? g[i].app : "-");
		buf_adds(out, "  ");
		add_safe(out, g[i].cause);
		buf_addf(out, ": %zu host%s:", g[i].n, g[i].n == 1 ? "" : "s");
		for (k = 0; k < g[i].n && k < 5; k++) {
			buf_adds(out, k ? ", " : " ");
			add_safe(out, f->rows[g[i].rows[k]].host);
		}
		if (g[i].n > 5)
			buf_addf(out, " (+%zu more)", g[i].n - 5);
		buf_adds(out, "\n");
	}
	fleet_groups_free(g, n);
}

void fleet_text_problems(const struct fleet *f, struct buf *out)
{
	char when[21];

	fleet_time_format(f->generated, when);
	text_groups(f, true, out);
	buf_addf(out, "%zu hosts, %zu with problems (%.10s %.8s UTC)\n", fleet_nhosts(f),
		 fleet_nproblems(f), when, when + 11);
}

void fleet_text(const struct fleet *f, struct buf *out)
{
	static const char *const head[NCOLS] = { "HOST", "APP", "VERSION", "RESULT",
						  "STATE", "REPORTED", "ERROR" };
	size_t w[NCOLS], i, k;
	const char *c[NCOLS];

	for (k = 0; k < NCOLS; k++)
		w[k] = strlen(head[k]);
	for (i = 0; i < f->nrows; i++) {
		row_cells(&f->rows[i], c);
		for (k = 0; k < NCOLS; k++)
			if (strlen(c[k]) > w[k])
				w[k] = strlen(c[k]);
	}
	for (k = 0; k < C_ERROR; k++)
		add_cell(out, head[k], w[k]);
	buf_adds(out, "ERROR\n");
	for (i = 0; i < f->nrows; i++) {
		row_cells(&f->rows[i], c);
		for (k = 0; k < C_ERROR; k++)
			add_cell(out, c[k], w[k]);
		add_safe(out, c[C_ERROR]);
		/* No trailing blanks when the error is empty. */
		while (out->len && out->data[out->len - 1] == ' ')
			out->data[--out->len] = '\0';
		buf_adds(out, "\n");
	}
	if (!f->nrows)
		buf_adds(out, "(no host has reported)\n");
	buf_adds(out, "\nby state and cause:\n");
	text_groups(f, false, out);
	text_summary(f, out);
}

/* ---- JSON --------------------------------------------------------------- */

static void jfield(struct buf *out, const char *key, const char *val, const char *sep)
{
	buf_addf(out, "\"%s\": ", key);
	buf_add_quoted(out, val);
	buf_adds(out, sep);
}

static void json_counts(const struct fleet *f, struct buf *out,
			const char *(*key_of)(const struct fleet_row *), const char *app)
{
	struct fleet_count *c;
	size_t j, n = fleet_count(f, key_of, app, &c);

	buf_adds(out, "{");
	for (j = 0; j < n; j++) {
		buf_adds(out, j ? ", " : "");
		buf_add_quoted(out, c[j].key);
		buf_addf(out, ": %zu", c[j].n);
	}
	buf_adds(out, "}");
	fleet_counts_free(c, n);
}

/* Each channel release's approval under the trust root: {"state", "why"}. */
static void json_approvals(const struct fleet *f, struct buf *out)
{
	const char *sep = "";
	size_t i;

	for (i = 0; i < f->nlatest; i++) {
		const struct fleet_latest *l = &f->latest[i];

		if (l->approval == FLEET_APPR_NONE)
			continue;
		buf_adds(out, sep);
		buf_add_quoted(out, l->app);
		buf_adds(out, ": {\"state\": ");
		buf_add_quoted(out, fleet_approval_name(l->approval));
		buf_adds(out, ", \"why\": ");
		buf_add_quoted(out, l->approval_why);
		buf_adds(out, "}");
		sep = ", ";
	}
}

/* Every group: {"state", "problem", "app", "cause", "hosts"}. */
static void json_groups(const struct fleet *f, struct buf *out)
{
	struct fleet_group *g;
	size_t i, n = fleet_groups(f, false, &g);

	for (i = 0; i < n; i++) {
		buf_adds(out, i ? ", {" : "{");
		jfield(out, "problem", fleet_problem_name(g[i].state), ", ");
		buf_addf(out, "\"is_problem\": %s, ",
			 FLEET_IS_PROBLEM(g[i].state) ? "true" : "false");
		jfield(out, "app", g[i].app, ", ");
		jfield(out, "cause", g[i].cause, ", ");
		buf_addf(out, "\"hosts\": %zu}", g[i].n);
	}
	fleet_groups_free(g, n);
}

static void json_summary(const struct fleet *f, struct buf *out)
{
	const char **stale;
	size_t i, nstale;

	buf_addf(out, "  \"summary\": {\n    \"hosts\": %zu,\n    \"latest\": {", fleet_nhosts(f));
	for (i = 0; i < f->nlatest; i++) {
		buf_adds(out, i ? ", " : "");
		buf_add_quoted(out, f->latest[i].app);
		buf_adds(out, ": ");
		buf_add_quoted(out, f->latest[i].version);
	}
	buf_adds(out, "},\n    \"approval\": {");
	json_approvals(f, out);
	buf_adds(out, "},\n    \"versions\": {");
	for (i = 0; i < f->nlatest; i++) {
		buf_adds(out, i ? ", " : "");
		buf_add_quoted(out, f->latest[i].app);
		buf_adds(out, ": ");
		json_counts(f, out, key_version, f->latest[i].app);
	}
	buf_adds(out, "},\n    \"results\": ");
	json_counts(f, out, key_result, NULL);
	buf_adds(out, ",\n    \"stale\": [");
	nstale = fleet_stale_hosts(f, &stale);
	for (i = 0; i < nstale; i++) {
		buf_adds(out, i ? ", " : "");
		buf_add_quoted(out, stale[i]);
	}
	free(stale);
	buf_adds(out, "],\n    \"warnings\": [");
	for (i = 0; i < f->nwarnings; i++) {
		buf_adds(out, i ? ", " : "");
		buf_add_quoted(out, f->warnings[i]);
	}
	buf_adds(out, "],\n    \"groups\": [");
	json_groups(f, out);
	buf_addf(out, "],\n    \"problems\": %zu\n  }\n", fleet_nproblems(f));
}

void fleet_json(const struct fleet *f, struct buf *out)
{
	char when[21];
	size_t i;

	fleet_time_format(f->generated, when);
	buf_adds(out, "{\n  ");
	jfield(out, "repo", f->repo, ",\n  ");
	jfield(out, "generated", when, ",\n  ");
	jfield(out, "channel", f->channel, ",\n  ");
	buf_addf(out, "\"stale_minutes\": %u,\n  \"verified\": %s,\n  \"hosts\": [",
		 f->stale_minutes, f->verified ? "true" : "false");
	for (i = 0; i < f->nrows; i++) {
		const struct fleet_row *r = &f->rows[i];

		buf_adds(out, i ? ",\n    {" : "\n    {");
		jfield(out, "host", r->host, ", ");
		jfield(out, "app", r->app, ", ");
		jfield(out, "version", r->version, ", ");
		jfield(out, "result", r->result, ", ");
		jfield(out, "action", r->action, ", ");
		jfield(out, "from", r->from, ", ");
		jfield(out, "to", r->to, ", ");
		jfield(out, "time", r->time, ", ");
		jfield(out, "reported", r->reported, ", ");
		jfield(out, "error", r->error, ", ");
		buf_addf(out, "\"stale\": %s, \"current\": %s, ",
			 r->stale ? "true" : "false", r->current ? "true" : "false");
		jfield(out, "state", r->state, ", ");
		jfield(out, "waiting", r->waiting, ", ");
		jfield(out, "problem", fleet_problem_name(r->problem), "}");
	}
	buf_adds(out, f->nrows ? "\n  ],\n" : "],\n");
	json_summary(f, out);
	buf_adds(out, "}\n");
}
