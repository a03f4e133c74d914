/* SPDX-License-Identifier: Apache-2.0 */
/* The rollback transaction (rollback.h). A rollback only goes back: when
 * the backup is not older (a rollback just made keeps the version rolled
 * back from) it is refused. A rollback done holds the app at the restored
 * version (state.h, app_hold). */
#include "rollback.h"
#include "apply.h"
#include "fsutil.h"
#include "manifest.h"
#include "state.h"
#include "txn.h"
#include "version.h"

#include <stdlib.h>

/* Hold app at the version restored, until `upgr unhold` or a channel
 * naming another version than the one rolled back from. */
static void hold_after(const struct config *c, const char *app, const char *restored,
		       const char *from, struct msgs *msgs)
{
	struct app_hold h;
	struct err e;

	state_hold_init(&h, restored, "rollback", from);
	if (state_hold_write(c->state_dir, app, &h, &e) < 0)
		msgs_add(msgs, MSG_WARNING, "%s: not held: %s", app, e.msg);
}

/* A rollback only goes back: the version kept must be older. */
static int not_older(const char *app, const struct manifest *installed,
		     const struct manifest *previous, struct err *e)
{
	if (semver_cmp_str(previous->version, installed->version) < 0)
		return 0;
	return err_set(e, EXIT_DATAERR, "%s %s: nothing older to roll back to (the version "
		       "kept is %s); a rollback never moves forward: use upgr unhold to let "
		       "upgr run upgrade", app, installed->version, previous->version);
}

int rollback_app(const struct config *c, const char *app, struct msgs *msgs,
		 struct err *e)
{
	struct manifest installed, previous;
	char *stage_from = NULL, *ppath = NULL;
	struct buf bytes = BUF_INIT;
	struct txn_result r;
	struct plan p;
	int rc;

	txn_result_init(&r);
	if (txn_plan_rollback(c->state_dir, app, c->root, &p, &installed, &previous,
			      &stage_from, e) < 0)
		return e->code;
	ppath = state_app_file(c->state_dir, app, STATE_PREVIOUS);
	/* The same checks of the target's parents as `upgr run` makes. */
	rc = fs_check_parents(p.target, e) < 0 ? e->code :
	     not_older(app, &installed, &previous, e) < 0 ? e->code :
	     fs_read_file(ppath, MANIFEST_MAX_BYTES, &bytes, e) < 0 ? e->code :
	     txn_run(&p, c->state_dir, bytes.data, bytes.len, stage_from, &r);
	if (!bytes.data)
		goto done;
	apply_conclude(c, app, "rollback", installed.version, previous.version, NULL, &r, msgs);
	if (rc == EXIT_OK) {
		hold_after(c, app, previous.version, installed.version, msgs);
		msgs_add(msgs, MSG_OUT, "%s: rolled back %s -> %s; held at %s until upgr unhold "
			 "%s or a version other than %s", app, installed.version,
			 previous.version, previous.version, app, installed.version);
	} else
		err_set(e, rc, "rollback %s %s -> %s: %s", app, installed.version,
			previous.version, r.error);
done:
	plan_release(&p);
	manifest_release(&installed);
	manifest_release(&previous);
	txn_result_release(&r);
	buf_release(&bytes);
	free(stage_from);
	free(ppath);
	return rc;
}
