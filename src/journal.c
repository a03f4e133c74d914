/* SPDX-License-Identifier: Apache-2.0 */
/* The journal's format, its writer and its reader (journal.h). */
#include "journal.h"
#include "fsutil.h"
#include "state.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The op line's word for each plan_kind, in its order. */
static const char *const op_words[] = { "add", "replace", "unchanged", "keep-config", "remove" };

void journal_text(const struct plan *p, enum txn_phase phase, const char *result,
		  char *const *mkdirs, size_t nmkdirs, struct buf *b)
{
	size_t i;

	buf_addf(b, JOURNAL_MAGIC "\nphase %s\nresult %s\napp %s\naction %s\nfrom %s\nto %s\n"
		 "root %s\ntarget %s\nworkdir %s\nsha256 %s\n",
		 txn_phase_name(phase), result && result[0] ? result : "-", p->m->app, p->action,
		 p->installed ? p->installed->version : "", p->m->version,
		 p->root, p->target, p->workdir, p->manifest_sha256);
	for (i = 0; i < nmkdirs; i++)
		buf_addf(b, "mkdir %s\n", mkdirs[i]);
	for (i = 0; i < p->ndirs; i++)
		if (!p->dirs[i].kept)
			buf_addf(b, "rmdir %04o %s\n", (unsigned)p->dirs[i].mode, p->dirs[i].path);
	for (i = 0; i < p->nxdirs; i++)
		buf_addf(b, "xdir %llu %llu %s\n", (unsigned long long)p->xdirs[i].old_ino,
			 (unsigned long long)p->xdirs[i].new_ino, p->xdirs[i].path);
	for (i = 0; i < p->nops; i++) {
		const struct plan_op *op = &p->ops[i];

		if (op->kind == PLAN_UNCHANGED)
			continue;
		buf_addf(b, "op %s %d %s\t%s\n", op_words[op->kind], op->old_exists,
			 op->path, op->src ? op->src : "");
	}
}

int journal_write(const char *appdir, const struct plan *p, enum txn_phase phase,
		  const char *result, char *const *mkdirs, size_t nmkdirs, struct err *e)
{
	struct buf b = BUF_INIT;
	char *path = fs_join(appdir, STATE_JOURNAL);
	int rc;

	journal_text(p, phase, result, mkdirs, nmkdirs, &b);
	rc = fs_mkdir_p(appdir, 0700, e) < 0 ? -1 :
	     fs_write_atomic(path, b.data, b.len, 0600, e);
	free(path);
	buf_release(&b);
	return rc;
}

void journal_release(struct journal *j)
{
	free(j->root);
	free(j->target);
	free(j->workdir);
	j->root = j->target = j->workdir = NULL;
}

static enum plan_kind op_kind(const char *w)
{
	size_t k;

	for (k = 0; k < sizeof op_words / sizeof op_words[0]; k++)
		if (!strcmp(op_words[k], w))
			return (enum plan_kind)k;
	return PLAN_UNCHANGED;
}

/* "KIND 0|1 PATH\tSRC" appended to p->ops. */
static int parse_op(char *val, struct plan *p, struct err *e)
{
	char *kind = val, *flag = strchr(kind, ' '), *path, *tab;
	struct plan_op *op;

	if (!flag || !(path = strchr(flag + 1, ' ')) || !(tab = strchr(path, '\t')))
		return err_set(e, EXIT_SOFTWARE, "malformed journal op");
	*flag = *path = *tab = '\0';
	p->ops = xreallocarray(p->ops, p->nops + 1, sizeof *p->ops);
	op = &p->ops[p->nops++];
	memset(op, 0, sizeof *op);
	op->kind = op_kind(kind);
	op->old_exists = flag[1] == '1';
	op->path = xstrdup(path + 1);
	op->src = tab[1] ? xstrdup(tab + 1) : NULL;
	return 0;
}

/* "OLDINO NEWINO PATH" appended to p->xdirs, which stay sorted: a line
 * out of order (or naming a path twice) is refused. */
static int parse_xdir(char *val, struct plan *p, struct err *e)
{
	unsigned long long ino[2];
	char *s = val, *end;
	int k;

	for (k = 0; k < 2; k++) {
		errno = 0;
		ino[k] = strtoull(s, &end, 10);
		if (end == s || *end != ' ' || errno || *s == '-')
			return err_set(e, EXIT_SOFTWARE, "malformed journal xdir");
		s = end + 1;
	}
	if (manifest_path_problem(s) ||
	    (p->nxdirs && strcmp(p->xdirs[p->nxdirs - 1].path, s) >= 0))
		return err_set(e, EXIT_SOFTWARE, "malformed journal xdir");
	plan_add_xdir(p, xstrdup(s), ino[0], ino[1]);
	return 0;
}

/* A repeated key keeps its last value. */
static void set_str(char **dst, const char *val)
{
	free(*dst);
	*dst = xstrdup(val);
}

/* One "KEY VALUE" line (key already cut at the space). */
static int parse_line(const char *key, char *val, struct journal *j, struct plan *p,
		      char ***mkdirs, size_t *nmkdirs, struct err *e)
{
	if (!strcmp(key, "phase")) {
		if (!txn_phase_parse(val, &j->phase))
			return err_set(e, EXIT_SOFTWARE, "unknown phase \"%.32s\"", val);
		j->have_phase = true;
	} else if (!strcmp(key, "result"))
		snprintf(j->result, sizeof j->result, "%s", val);
	else if (!strcmp(key, "action"))
		snprintf(j->action, sizeof j->action, "%s", val);
	else if (!strcmp(key, "from"))
		snprintf(j->from, sizeof j->from, "%s", val);
	else if (!strcmp(key, "to"))
		snprintf(j->to, sizeof j->to, "%s", val);
	else if (!strcmp(key, "sha256"))
		snprintf(j->sha256, sizeof j->sha256, "%s", val);
	else if (!strcmp(key, "root"))
		set_str(&j->root, val);
	else if (!strcmp(key, "target"))
		set_str(&j->target, val);
	else if (!strcmp(key, "workdir"))
		set_str(&j->workdir, val);
	else if (!strcmp(key, "mkdir") && mkdirs) {
		*mkdirs = xreallocarray(*mkdirs, *nmkdirs + 1, sizeof **mkdirs);
		(*mkdirs)[(*nmkdirs)++] = xstrdup(val);
	} else if (!strcmp(key, "rmdir")) {
		char *end;
		unsigned long mode = strtoul(val, &end, 8);

		if (end == val || *end != ' ' || !end[1] || mode > 07777)
			return err_set(e, EXIT_SOFTWARE, "malformed journal rmdir");
		plan_add_dir(p, xstrdup(end + 1), (mode_t)mode);
	} else if (!strcmp(key, "xdir")) {
		return parse_xdir(val, p, e);
	} else if (!strcmp(key, "op"))
		return parse_op(val, p, e);
	return 0;
}

int journal_parse(char *text, struct journal *j, struct plan *p,
		  char ***mkdirs, size_t *nmkdirs, struct err *e)
{
	char *line, *save = NULL;

	memset(j, 0, sizeof *j);
	line = strtok_r(text, "\n", &save);
	if (!line || strcmp(line, JOURNAL_MAGIC))
		return err_set(e, EXIT_SOFTWARE, "not an upgr journal");
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		*sp = '\0';
		if (parse_line(line, sp + 1, j, p, mkdirs, nmkdirs, e) < 0)
			return -1;
	}
	if (!j->target || !j->workdir || !j->root || !j->have_phase)
		return err_set(e, EXIT_SOFTWARE, "journal incomplete");
	return 0;
}
