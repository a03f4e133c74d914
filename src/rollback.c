/* The rollback transaction (rollback.h). */
#include "rollback.h"
#include "apply.h"
#include "fsutil.h"
#include "manifest.h"
#include "state.h"
#include "txn.h"

#include <stdlib.h>

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
	     fs_read_file(ppath, MANIFEST_MAX_BYTES, &bytes, e) < 0 ? e->code :
	     txn_run(&p, c->state_dir, bytes.data, bytes.len, stage_from, &r);
	if (!bytes.data)
		goto done;
	apply_conclude(c, app, "rollback", installed.version, previous.version, NULL, &r, msgs);
	if (rc == EXIT_OK)
		msgs_add(msgs, MSG_OUT, "%s: rolled back %s -> %s", app, installed.version,
			 previous.version);
	else
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
