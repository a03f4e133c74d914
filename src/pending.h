/* SPDX-License-Identifier: Apache-2.0 */
/* An interrupted transaction seen from outside, read-only: what its
 * journal (journal.h) says, when the journal was last written, and how
 * far the downtime had got when the run stopped. `upgr status` shows it
 * ("interrupted during the swap: run upgr recover"); a recovery's audit
 * record takes its real downtime and the phase the crash hit from it.
 *
 * The journal is written before the stop (STARTED) and not again until
 * the health checks pass (txn.c, invariant 5), so inside the downtime the
 * step is read from the work directory instead: every staged file still
 * in WORK/stage means the swap had not begun (the crash hit the stop),
 * none means it was done (the start or the health checks), some means
 * the swap itself. */
#ifndef UPGR_PENDING_H
#define UPGR_PENDING_H

#include <stdbool.h>
#include <time.h>
#include "err.h"

struct pending {
	char phase[16];          /* the journal's phase: prepared, started, ... */
	char hit[48];            /* the step the crash hit: "preparing", "the stop",
				  * "the swap", "the start or the health checks",
				  * "the commit", "recording the result" */
	char action[16], from[64], to[64];
	struct timespec since;   /* when the journal was last written (its mtime) */
	bool downtime;           /* the service may have been down since then */
};

/* Read app's journal under state_dir into p; *have = false when there is
 * none. EXIT_SOFTWARE for a journal that cannot be read or parsed. */
int pending_read(const char *state_dir, const char *app, struct pending *p,
		 bool *have, struct err *e);

/* Milliseconds from p->since to now (wall clock), 0 when p->downtime is
 * false: the downtime of a transaction that a recovery ends now. */
long pending_downtime_ms(const struct pending *p);

struct txn_result;

/* After app's recovery ended with r: its downtime is the real one, from
 * the journal's STARTED (just before the stop) to now, when the old
 * version is back (0 when the crash left the service up), and r->error
 * says which step the crash hit. Not for a refused recovery (the
 * journal stays; nothing was restored). */
void pending_account(const struct pending *p, struct txn_result *r);

#endif
