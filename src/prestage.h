/* SPDX-License-Identifier: Apache-2.0 */
/* Pre-staging (issue 16): the gate between a release the poll brought into
 * the cache, verified (repo.h: manifest signed and matching the signed
 * channel, payload hash-checked), and its apply. Outside the maintenance
 * window or on a freeze date the release stays staged in the cache; while
 * another host of the group holds the lease it waits; so that only stop,
 * swap and start remain for the window. The next run re-polls the signed
 * channel and manifest and re-hashes the cached payload against the
 * manifest before it uses it (repo.c), and apply_release verifies them all
 * again; a cache directory that is not this host's private one (root's or
 * ours, 0700) is refused here.
 *
 * The state goes into STATE/apps/APP/status (and the report, report.h):
 *   state: "staged"    waiting: "outside the maintenance window ..."
 *                      or "frozen: 2026-12-20..2027-01-03"
 *   state: "waiting"   waiting: "group lease held by HOST until T"
 *   staged: VERSION    the release ready in the cache
 * and all three are "" when nothing waits. */
#ifndef UPGR_PRESTAGE_H
#define UPGR_PRESTAGE_H

#include <stdbool.h>
#include <time.h>
#include "err.h"
#include "lease.h"

struct repo;

enum prestage_verdict {
	PRESTAGE_GO,                  /* apply now (the group lease is held) */
	PRESTAGE_STAGED,              /* outside the window, or frozen */
	PRESTAGE_WAITING,             /* the group lease is another host's */
};

struct prestage {
	enum prestage_verdict verdict;
	char why[384];                /* STAGED, WAITING: the reason */
	bool leased;                  /* GO with a lease to release */
	time_t now;
};

/* Decide for app's release (version, in release_dir). -1 with e: the
 * cache directory is not private (EXIT_TRUST), or the lease server could
 * not be asked (EXIT_UNAVAILABLE: the release waits for the next run). */
int prestage_gate(struct repo *r, const char *app, const char *release_dir,
		  struct prestage *ps, struct err *e);

/* After the apply (health checks done, or rolled back): release the lease
 * prestage_gate took. */
int prestage_done(struct repo *r, struct prestage *ps, struct err *e);

/* At the start of a run, after the recovery: a lease this host still
 * holds was left by a run that did not finish; release it. */
int prestage_recovered(struct repo *r, struct err *e);

/* Record app's waiting state (state "staged", "waiting" or "" to clear,
 * why, version) in its status; returns whether it changed (a report is
 * then due). */
bool prestage_note(const char *state_dir, const char *app, const char *state,
		   const char *why, const char *version);

#endif
