/* SPDX-License-Identifier: Apache-2.0 */
/* Messages returned to the caller (msg.h). */
#include "msg.h"
#include "plan.h"
#include "txn.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void msgs_add(struct msgs *m, enum msg_kind kind, const char *fmt, ...)
{
	va_list ap;
	size_t len;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	len = n < 0 ? 0 : (size_t)n;
	text = xmalloc(len + 1);
	text[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(text, len + 1, fmt, ap);
	va_end(ap);
	m->v = xreallocarray(m->v, m->n + 1, sizeof *m->v);
	m->v[m->n].kind = kind;
	m->v[m->n++].text = text;
}

void msgs_release(struct msgs *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Whether the transaction got as far as the stop (a step past the
 * preconditions ran). */
static bool stopped(const struct txn_result *r)
{
	size_t i;

	for (i = 0; i < r->nsteps; i++)
		if (strcmp(r->steps[i].phase, "precondition"))
			return true;
	return false;
}

void msg_txn_failed(struct err *e, int rc, const struct plan *p, const struct txn_result *r)
{
	const char *app = p->m->app, *to = p->m->version;
	const char *old = p->installed ? p->installed->version : NULL;

	if (rc == EXIT_ROLLED_BACK && !stopped(r))
		err_set(e, rc, "%s %s: not applied: %s; %s%s", app, to, r->error, old ? old : "",
			old ? " running" : "nothing installed");
	else if (rc == EXIT_ROLLED_BACK)
		err_set(e, rc, "%s %s: rolled back: %s; %s%s", app, to, r->error, old ? old : "",
			old ? " running" : "nothing installed (the target is as it was)");
	else if (rc == EXIT_ROLLBACK_FAILED)
		err_set(e, rc, "%s %s: rollback failed: %s", app, to, r->error);
	else
		err_set(e, rc, "%s %s: %s", app, to, r->error);
}

void msgs_config_kept(struct msgs *m, const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nops; i++)
		if (p->ops[i].kind == PLAN_CONFIG_KEEP && p->ops[i].file)
			msgs_add(m, MSG_OUT, "%s: config kept: %s (new version at %s)", p->m->app,
				 p->ops[i].file->path, p->ops[i].path);
}
