/* SPDX-License-Identifier: Apache-2.0 */
/* Showing a plan: for a reviewer (text) and for scripts (JSON). */
#include "plan.h"

#include "fsutil.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

/* The free bytes of the file system that holds path, or of its nearest
 * ancestor that exists (the work directory may not exist yet). */
static bool free_bytes(const char *path, uint64_t *n)
{
	char *dir = xstrdup(path), *slash;
	struct statvfs sv;
	bool ok;

	while (!(ok = statvfs(dir, &sv) == 0) && strcmp(dir, "/") && (slash = strrchr(dir, '/')))
		slash[slash == dir] = '\0';     /* "/a" -> "/", "/a/b" -> "/a" */
	free(dir);
	*n = ok ? (uint64_t)sv.f_bavail * sv.f_frsize : UINT64_MAX;
	return ok;
}

bool plan_would_fail(const struct plan *p, char *why, size_t len)
{
	uint64_t avail;
	size_t i;

	if (p->owner_error[0]) {
		snprintf(why, len, "owner/group: %s", p->owner_error);
		return true;
	}
	for (i = 0; i < p->npre; i++)
		if (p->pre[i].state == PRE_FAIL) {
			snprintf(why, len, "precondition %zu failed (%s)", i + 1, p->pre[i].detail);
			return true;
		}
	if (free_bytes(p->workdir, &avail) && avail < p->disk_needed) {
		snprintf(why, len, "%s: %" PRIu64 " bytes needed, %" PRIu64 " free", p->workdir,
			 p->disk_needed, avail);
		return true;
	}
	why[0] = '\0';
	return false;
}

static const char *pre_state_name(enum pre_state s)
{
	return s == PRE_PASS ? "pass" : s == PRE_FAIL ? "FAIL" : "will run";
}

static void pre_text(const struct precond *pre, struct buf *b)
{
	switch (pre->kind) {
	case PRE_RUN:
		buf_addf(b, "run: %s", pre->cmd.run);
		break;
	case PRE_DISK_FREE:
		buf_addf(b, "disk_free: %s >= %" PRIu64 " MB", pre->path, pre->mb);
		break;
	case PRE_INSTALLED:
		buf_addf(b, "installed: %s", pre->constraint_text);
		break;
	}
}

static void print_cmds(FILE *to, int *n, const char *phase, const struct mcmds *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		fprintf(to, "  %2d. %-9s %s  (timeout %us", ++*n, phase, c->v[i].run, c->v[i].timeout);
		if (!strcmp(phase, "health"))
			fprintf(to, ", %u retries %us apart", c->v[i].retries, c->v[i].interval);
		fputs(")\n", to);
	}
}

/* The directories the release leaves, and what the plan keeps. */
static void print_dirs(const struct plan *p, FILE *to)
{
	size_t i;

	if (p->ndirs)
		fputs("directories:\n", to);
	for (i = 0; i < p->ndirs; i++)
		fprintf(to, "  %-11s %s/  (%s)\n", p->dirs[i].kept ? "keep" : "rmdir",
			p->dirs[i].path, p->dirs[i].kept ? p->dirs[i].why
			: "the release no longer needs it; empty once its files go");
	if (p->nnotes)
		fputs("kept:\n", to);
	for (i = 0; i < p->nnotes; i++)
		fprintf(to, "  %s\n", p->notes[i]);
}

/* Steps 1-2: staging, and the backup (none on a first install, where
 * nothing on the host changes but what the release adds). */
static void print_prepare(const struct plan *p, FILE *to, int *n)
{
	size_t i, nbackup = 0;

	fprintf(to, "  %2d. %-9s extract and verify %zu files into %s/stage\n", ++*n, "stage",
		p->m->nfiles, p->workdir);
	for (i = 0; i < p->nops; i++)
		nbackup += p->ops[i].old_exists && p->ops[i].kind != PLAN_UNCHANGED;
	if (nbackup)
		fprintf(to, "  %2d. %-9s hard-link %zu files about to change into %s/backup\n", ++*n,
			"backup", nbackup, p->workdir);
}

static void print_swap(const struct plan *p, FILE *to, int *n)
{
	size_t i, nrmdir = 0;

	fprintf(to, "  %2d. %-9s %zu renames and removals", ++*n, "swap", p->nchanged);
	for (i = 0; i < p->ndirs; i++)
		nrmdir += !p->dirs[i].kept;
	if (nrmdir)
		fprintf(to, ", then %zu emptied directories removed", nrmdir);
	fputs("\n", to);
}

/* What a failure at or after the swap does: the new version stopped
 * (once it was started), the old files back, the old version started. */
static void print_on_failure(const struct plan *p, FILE *to)
{
	const struct manifest *m = p->m;
	size_t i;

	fputs("on failure (a start or health step fails):\n", to);
	for (i = 0; i < m->stop.n; i++)
		fprintf(to, "  stop the new version: '%s'\n", m->stop.v[i].run);
	if (!m->stop.n && m->start.n)
		fputs("  the new version is not stopped: the release has no stop step\n", to);
	fputs("  restore the backups by rename, delete what was added", to);
	if (p->ndirs)
		fputs(", make the removed directories again", to);
	fputs("\n", to);
	for (i = 0; i < m->rollback.n; i++)
		fprintf(to, "  run '%s'\n", m->rollback.v[i].run);
	if (p->installed)
		fprintf(to, "  start the old version (%s), health-check it\n", p->installed->version);
	else
		fputs("  nothing was installed before: the release's files go\n", to);
}

void plan_print(const struct plan *p, FILE *to)
{
	const struct manifest *m = p->m;
	size_t i, counts[5] = { 0 };
	struct buf b = BUF_INIT;
	char why[512];
	int n = 0;

	fprintf(to, "plan: %s %s %s -> %s (%s)\n", p->action, m->app,
		p->installed ? p->installed->version : "(nothing)", m->version,
		p->manifest_sha256[0] ? p->manifest_sha256 : "unsigned");
	fprintf(to, "target: %s\n", p->target);
	fprintf(to, "payload: %s, %" PRIu64 " bytes\n", p->payload, p->download_bytes);
	fputs("files:\n", to);
	for (i = 0; i < p->nops; i++) {
		const struct plan_op *op = &p->ops[i];

		counts[op->kind]++;
		fprintf(to, "  %-11s %s", plan_kind_name(op->kind), op->path);
		switch (op->kind) {
		case PLAN_ADD:
			fprintf(to, "  (%" PRIu64 " bytes, %04o)\n", op->new_size, (unsigned)op->new_mode);
			break;
		case PLAN_REPLACE:
			fprintf(to, "  (%" PRIu64 " -> %" PRIu64 " bytes, %04o -> %04o)\n",
				op->old_size, op->new_size, (unsigned)op->old_mode,
				(unsigned)op->new_mode);
			break;
		case PLAN_UNCHANGED:
			fprintf(to, "  (same content, skipped)\n");
			break;
		case PLAN_CONFIG_KEEP:
			fprintf(to, "  (%s edited here: kept; the new one lands beside it)\n",
				op->src);
			break;
		case PLAN_REMOVE:
			fprintf(to, "  (%" PRIu64 " bytes, backed up)\n", op->old_size);
			break;
		}
	}
	fprintf(to, "  %zu to add, %zu to replace, %zu unchanged, %zu config kept, %zu to remove\n",
		counts[PLAN_ADD], counts[PLAN_REPLACE], counts[PLAN_UNCHANGED],
		counts[PLAN_CONFIG_KEEP], counts[PLAN_REMOVE]);
	print_dirs(p, to);
	if (p->npre || p->owner_error[0])
		fputs("preconditions:\n", to);
	if (p->owner_error[0])
		fprintf(to, "  %-9s owner/group: %s\n", "FAIL", p->owner_error);
	for (i = 0; i < p->npre; i++) {
		buf_reset(&b);
		pre_text(p->pre[i].pre, &b);
		fprintf(to, "  %-9s %s%s%s%s\n", pre_state_name(p->pre[i].state), b.data,
			p->pre[i].detail[0] ? " (" : "", p->pre[i].detail,
			p->pre[i].detail[0] ? ")" : "");
	}
	fputs("steps, in order:\n", to);
	print_prepare(p, to, &n);
	if (p->installed)
		print_cmds(to, &n, "stop", &m->stop);
	else if (m->stop.n)
		fprintf(to, "  %2d. %-9s skipped: first install\n", ++n, "stop");
	print_swap(p, to, &n);
	print_cmds(to, &n, "start", &m->start);
	print_cmds(to, &n, "health", &m->health);
	print_on_failure(p, to);
	fprintf(to, "disk: %" PRIu64 " bytes needed in %s\n", p->disk_needed, p->workdir);
	if (plan_would_fail(p, why, sizeof why))
		fprintf(to, "would fail: %s; nothing would be changed\n", why);
	buf_release(&b);
}

static void json_cmds(struct buf *b, const char *phase, const struct mcmds *c, bool *first)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		buf_adds(b, *first ? "\n    " : ",\n    ");
		*first = false;
		buf_addf(b, "{\"phase\": \"%s\", \"run\": ", phase);
		buf_add_quoted(b, c->v[i].run);
		buf_addf(b, ", \"timeout\": %u", c->v[i].timeout);
		if (!strcmp(phase, "health"))
			buf_addf(b, ", \"retries\": %u, \"interval\": %u",
				 c->v[i].retries, c->v[i].interval);
		buf_adds(b, "}");
	}
}

/* Each directory the release leaves: {"path", "op": "rmdir" | "keep", "why"}. */
static void json_dirs(const struct plan *p, struct buf *b)
{
	size_t i;

	for (i = 0; i < p->ndirs; i++) {
		buf_adds(b, i ? ",\n    " : "\n    ");
		buf_adds(b, "{\"path\": ");
		buf_add_quoted(b, p->dirs[i].path);
		buf_addf(b, ", \"op\": \"%s\"", p->dirs[i].kept ? "keep" : "rmdir");
		if (p->dirs[i].why) {
			buf_adds(b, ", \"why\": ");
			buf_add_quoted(b, p->dirs[i].why);
		}
		buf_adds(b, "}");
	}
}

void plan_json(const struct plan *p, struct buf *b)
{
	const struct manifest *m = p->m;
	struct buf t = BUF_INIT;
	bool first = true;
	char why[512];
	size_t i;

	buf_adds(b, "{\n  \"app\": ");
	buf_add_quoted(b, m->app);
	buf_adds(b, ",\n  \"action\": ");
	buf_add_quoted(b, p->action);
	buf_adds(b, ",\n  \"from\": ");
	if (p->installed)
		buf_add_quoted(b, p->installed->version);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\n  \"to\": ");
	buf_add_quoted(b, m->version);
	buf_adds(b, ",\n  \"target\": ");
	buf_add_quoted(b, p->target);
	buf_adds(b, ",\n  \"workdir\": ");
	buf_add_quoted(b, p->workdir);
	buf_adds(b, ",\n  \"manifest_sha256\": ");
	buf_add_quoted(b, p->manifest_sha256);
	buf_addf(b, ",\n  \"download_bytes\": %" PRIu64 ",\n  \"disk_needed\": %" PRIu64,
		 p->download_bytes, p->disk_needed);
	buf_adds(b, ",\n  \"files\": [");
	for (i = 0; i < p->nops; i++) {
		const struct plan_op *op = &p->ops[i];

		buf_adds(b, i ? ",\n    " : "\n    ");
		buf_addf(b, "{\"op\": \"%s\", \"path\": ", plan_kind_name(op->kind));
		buf_add_quoted(b, op->path);
		if (op->old_exists)
			buf_addf(b, ", \"old_size\": %" PRIu64 ", \"old_mode\": \"%04o\"",
				 op->old_size, (unsigned)op->old_mode);
		if (op->kind != PLAN_REMOVE)
			buf_addf(b, ", \"new_size\": %" PRIu64 ", \"new_mode\": \"%04o\"",
				 op->new_size, (unsigned)op->new_mode);
		if (op->file && op->file->config)
			buf_adds(b, ", \"config\": true");
		buf_adds(b, "}");
	}
	buf_adds(b, p->nops ? "\n  ],\n  \"directories\": [" : "],\n  \"directories\": [");
	json_dirs(p, b);
	buf_adds(b, p->ndirs ? "\n  ],\n  \"preconditions\": [" : "],\n  \"preconditions\": [");
	for (i = 0; i < p->npre; i++) {
		buf_reset(&t);
		pre_text(p->pre[i].pre, &t);
		buf_adds(b, i ? ",\n    " : "\n    ");
		buf_adds(b, "{\"check\": ");
		buf_add_quoted(b, t.data);
		buf_addf(b, ", \"state\": \"%s\", \"detail\": ",
			 p->pre[i].state == PRE_PASS ? "pass" :
			 p->pre[i].state == PRE_FAIL ? "fail" : "unchecked");
		buf_add_quoted(b, p->pre[i].detail);
		buf_adds(b, "}");
	}
	buf_adds(b, p->npre ? "\n  ],\n  \"commands\": [" : "],\n  \"commands\": [");
	if (p->installed)
		json_cmds(b, "stop", &m->stop, &first);
	json_cmds(b, "start", &m->start, &first);
	json_cmds(b, "health", &m->health, &first);
	buf_adds(b, first ? "],\n  \"on_failure\": [" : "\n  ],\n  \"on_failure\": [");
	first = true;
	json_cmds(b, "rollback", &m->rollback, &first);
	buf_adds(b, first ? "],\n  \"would_fail\": " : "\n  ],\n  \"would_fail\": ");
	if (plan_would_fail(p, why, sizeof why))
		buf_add_quoted(b, why);
	else
		buf_adds(b, "null");
	buf_adds(b, "\n}\n");
	buf_release(&t);
}
