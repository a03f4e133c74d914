/* SPDX-License-Identifier: Apache-2.0 */
/* upgr rollback APP: back to the version before the installed one, from
 * the backup the last transaction kept, as a transaction of its own
 * (rollback.c: it only goes back, and holds the app where it went). */
#include "cli.h"
#include "cmd_common.h"
#include "rollback.h"

#include <getopt.h>

static int roll_back(const struct config *c, const char *app, struct err *e)
{
	struct msgs msgs = MSGS_INIT;
	int rc = rollback_app(c, app, &msgs, e);

	cmd_print_msgs(&msgs);
	msgs_release(&msgs);
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
	struct cmd_env env;
	struct err e;
	int ch, rc;

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
	err_clear(&e);
	if ((rc = cmd_setup(cfgpath, root, 0, false, NULL, &env)) == EXIT_OK &&
	    (rc = roll_back(&env.c, argv[optind], &e)) != EXIT_OK)
		cli_fail(&e);
	cmd_teardown(&env);
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
