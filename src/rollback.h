/* SPDX-License-Identifier: Apache-2.0 */
/* `upgr rollback`: return an app to the version installed before the
 * current one, from the backup the last transaction kept (txn_plan_rollback),
 * as a transaction of its own, recorded like any other (apply_conclude). */
#ifndef UPGR_ROLLBACK_H
#define UPGR_ROLLBACK_H

#include "config.h"
#include "err.h"
#include "msg.h"

/* Roll app back under c (the caller holds the state lock, with
 * interrupted transactions recovered). The target's parents pass the
 * checks `upgr run` makes (fs_check_parents) first. Returns an exit code:
 * 0 (msgs says "APP: rolled back FROM -> TO"), 1 failed and undone, 3
 * undoing it failed too, 65 nothing to roll back to or an unsafe parent,
 * 77 a backup or the work directory failed its check; e says why. A
 * warning about recording the result is added to msgs. */
int rollback_app(const struct config *c, const char *app, struct msgs *msgs,
		 struct err *e);

#endif
