/* SPDX-License-Identifier: Apache-2.0 */
/* An interrupted transaction, read from outside (pending.h). */
#include "pending.h"
#include "buf.h"
#include "fsutil.h"
#include "journal.h"
#include "plan.h"
#include "state.h"
#include "txn.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The journalled exchange (xdir) whose directory holds src, or NULL. */
static const struct plan_xdir *xdir_of(const struct plan *p, const char *src)
{
	size_t i, n;

	for (i = 0; i < p->nxdirs; i++) {
		n = strlen(p->xdirs[i].path);
		if (!strncmp(src, p->xdirs[i].path, n) && src[n] == '/')
			return &p->xdirs[i];
	}
	return NULL;
}

/* Whether op i's file is still to be swapped in: for a file of an
 * exchanged directory, whether the target's directory is still the old
 * one (after the exchange WORK/stage holds the old files under the same
 * names, so their presence says nothing); for the others, whether it is
 * still in WORK/stage. */
static bool still_staged(const struct plan *p, const char *target, const char *workdir,
			 const char *src)
{
	const struct plan_xdir *x = xdir_of(p, src);
	struct stat st;
	char *path;
	bool left;

	if (x) {
		path = xasprintf("%s/%s", target, x->path);
		left = lstat(path, &st) < 0 || (uint64_t)st.st_ino != x->new_ino;
	} else {
		path = xasprintf("%s/stage/%s", workdir, src);
		left = lstat(path, &st) == 0;
	}
	free(path);
	return left;
}

/* How many of the ops' staged files are still to be swapped in, of how
 * many the swap puts in place. */
static void count_staged(const struct plan *p, const char *target, const char *workdir,
			 size_t *left, size_t *total)
{
	size_t i;

	*left = *total = 0;
	for (i = 0; i < p->nops; i++) {
		if (!p->ops[i].src || p->ops[i].kind == PLAN_REMOVE)
			continue;
		++*total;
		*left += still_staged(p, target, workdir, p->ops[i].src);
	}
}

/* The step a journal at phase (with its ops in p) was interrupted in. */
static void find_hit(struct pending *pd, const struct journal *j, const struct plan *p)
{
	size_t left, total;

	pd->downtime = false;
	switch (j->phase) {
	case TXN_PREPARED:
		snprintf(pd->hit, sizeof pd->hit, "preparing");
		return;
	case TXN_COMMITTED:
		snprintf(pd->hit, sizeof pd->hit, "the commit");
		return;
	case TXN_DONE:
		snprintf(pd->hit, sizeof pd->hit, "recording the result");
		return;
	case TXN_STARTED:
	case TXN_SWAPPING:
		break;
	}
	pd->downtime = true;
	count_staged(p, j->target, j->workdir, &left, &total);
	snprintf(pd->hit, sizeof pd->hit, "%s",
		 !total ? "the stop, the swap or the start" :
		 left == total ? "the stop" : left ? "the swap" : "the start or the health checks");
}

int pending_read(const char *state_dir, const char *app, struct pending *pd,
		 bool *have, struct err *e)
{
	char *path = state_app_file(state_dir, app, STATE_JOURNAL);
	struct buf b = BUF_INIT;
	struct journal j;
	struct plan p;
	struct stat st;
	int rc = -1;

	memset(pd, 0, sizeof *pd);
	memset(&j, 0, sizeof j);
	memset(&p, 0, sizeof p);
	*have = false;
	if (stat(path, &st) < 0) {
		rc = errno == ENOENT ? 0 : err_sys(e, EXIT_SOFTWARE, "%s", path);
		goto done;
	}
	if (fs_read_file(path, 16 << 20, &b, e) < 0 ||
	    journal_parse(b.data, &j, &p, NULL, NULL, e) < 0) {
		err_prefix(e, "journal %s: ", path);
		goto done;
	}
	snprintf(pd->phase, sizeof pd->phase, "%s", txn_phase_name(j.phase));
	snprintf(pd->action, sizeof pd->action, "%s", j.action);
	snprintf(pd->from, sizeof pd->from, "%s", j.from);
	snprintf(pd->to, sizeof pd->to, "%s", j.to);
	pd->since = st.st_mtim;
	find_hit(pd, &j, &p);
	*have = true;
	rc = 0;
done:
	plan_release(&p);
	journal_release(&j);
	buf_release(&b);
	free(path);
	return rc;
}

long pending_downtime_ms(const struct pending *p)
{
	struct timespec now;
	long ms;

	if (!p->downtime)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	ms = (long)(now.tv_sec - p->since.tv_sec) * 1000L +
	     (now.tv_nsec - p->since.tv_nsec) / 1000000L;
	return ms > 0 ? ms : 0;
}

void pending_account(const struct pending *p, struct txn_result *r)
{
	size_t len = strlen(r->error);

	if (!strcmp(r->result, "refused"))
		return;
	r->downtime_ms = pending_downtime_ms(p);
	snprintf(r->error + len, sizeof r->error - len, "%sthe crash hit %s (journal: %s)%s",
		 len ? "; " : "", p->hit, p->phase, p->downtime ? ", the service was down "
		 "from the stop until the recovery" : "");
}
