/* upgr rollback APP: back to the version before the installed one, from
 * the backup the last transaction kept, as a transaction of its own. A
 * rollback only goes back: when the backup is not older (a rollback just
 * made keeps the version rolled back from) it is refused. A rollback
 * done holds the app at the restored version (state.h, app_hold). */
#include "apply.h"
#include "cli.h"
#include "cmd_common.h"
#include "fsutil.h"
#include "state.h"
#include "txn.h"
#include "version.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

/* Hold app at the version restored, until `upgr unhold` or a channel
 * naming another version than the one rolled back from. */
static void hold_after(const struct config *c, const char *app, const char *restored,
		       const char *from)
{
	struct app_hold h;
	struct err e;

	state_hold_init(&h, restored, "rollback", from);
	if (state_hold_write(c->state_dir, app, &h, &e) < 0)
		fprintf(stderr, "upgr: warning: %s: not held: %s\n", app, e.msg);
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

static int roll_back(const struct config *c, const char *app, struct err *e)
{
	struct manifest installed, previous;
	char *stage_from = NULL, *ppath = NULL;
	struct buf bytes = BUF_INIT;
	struct txn_result r;
	struct err rec_err;
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
	if (apply_record(c, app, "rollback", installed.version, previous.version, NULL,
			 &r, r.error, &rec_err) < 0 ||
	    (r.journal_done && txn_finish(c->state_dir, app, &rec_err) < 0))
		fprintf(stderr, "upgr: warning: %s\n", rec_err.msg);
	if (rc == EXIT_OK) {
		hold_after(c, app, previous.version, installed.version);
		printf("%s: rolled back %s -> %s; held at %s until upgr unhold %s or a "
		       "version other than %s\n", app, installed.version, previous.version,
		       previous.version, app, installed.version);
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

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cfgpath = NULL, *root = NULL;
	struct config c;
	struct err e;
	int ch, rc, lockfd = -1;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "c:h", opts)) != -1) {
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'r': root = optarg; break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return cli_usage(self, "expected one APP");
	if ((rc = cmd_load_config(cfgpath, root, &c)))
		return rc;
	err_clear(&e);
	if ((rc = cmd_lock_and_recover(&c, false, &lockfd)) == EXIT_OK &&
	    (rc = roll_back(&c, argv[optind], &e)) != EXIT_OK)
		cli_fail(&e);
	state_unlock(lockfd);
	config_release(&c);
	return rc;
}

const struct command cmd_rollback = {
	"rollback", run,
	"usage: upgr rollback [-c CONFIG] [--root DIR] APP\n"
	"\n"
	"Return APP to the version installed before the current one, from the\n"
	"backup the last transaction kept, as a transaction of its own (stop,\n"
	"renames, start, health check; restored again if that fails). The app\n"
	"is then held at that version: upgr run leaves it there until\n"
	"`upgr unhold APP` or until the channel names a version other than the\n"
	"one rolled back from.\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"      --root DIR     the root the app was installed under\n"
	"  -h, --help         this text\n"
	"\n"
	"Every file put back is first checked against the sha256 and mode that\n"
	"the previous release's signed manifest lists; the work directory must\n"
	"be root's (or this user's), mode 0700, and the target's parents pass\n"
	"the checks of upgr run.\n"
	"\n"
	"exit: 0 rolled back, 1 the rollback failed and was undone, 3 undoing it\n"
	"failed too, 65 nothing to roll back to (or an unsafe parent of the\n"
	"target, or nothing older: a rollback never moves forward), 75 locked, 77 a backup or the work directory failed its check\n",
	"return an app to its previous version",
};
