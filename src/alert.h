/* SPDX-License-Identifier: Apache-2.0 */
/* One alert per problem: under cron a problem that persists (an expired
 * channel, every server down, refused metadata) is said when it starts,
 * when it changes and when it clears, not every tick; a channel about to
 * expire is warned of once a day. The last problem said and the last
 * warning are notes in the app's state (state.h: STATE_PROBLEM,
 * STATE_EXPIRY_WARNED). */
#ifndef UPGR_ALERT_H
#define UPGR_ALERT_H

#include <stdbool.h>
#include <time.h>
#include "err.h"
#include "state.h"

enum alert_verdict {
	ALERT_NONE,       /* no problem now, none before */
	ALERT_NEW,        /* a problem that was not the last one said */
	ALERT_SAME,       /* the problem last said persists */
	ALERT_CLEARED,    /* no problem now; was holds the one that cleared */
};

/* Compare app's problem this tick (key, a class such as "trust expired";
 * "" for none) with the last one said, and when record, note key as the
 * last. A note that cannot be written is in e (-1 in *rc); the verdict
 * stands. */
enum alert_verdict alert_problem(const char *state_dir, const char *app, const char *key,
				 bool record, char was[STATE_NOTE_MAX], int *rc, struct err *e);

/* Whether a channel expiring at expires is worth a warning at now: it
 * expires within window seconds (0: never warn), and, when once, app was
 * not warned of in the last day. Notes the warning when record. */
bool alert_expiry_due(const char *state_dir, const char *app, time_t expires, time_t now,
		      long window, bool once, bool record);

#endif
