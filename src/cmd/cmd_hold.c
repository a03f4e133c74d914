/* SPDX-License-Identifier: Apache-2.0 */
/* upgr hold APP / upgr unhold APP: keep `upgr run` from upgrading an app
 * (like apt-mark hold), and let it go again. The hold is
 * STATE/apps/APP/hold (state.h), which a manual `upgr rollback` also
 * writes. */
#include "cli.h"
#include "cmd_common.h"
#include "state.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int hold(const struct config *c, const char *app, struct err *e)
{
	struct app_hold h;
	struct manifest m;
	bool have;

	if (state_installed(c->state_dir, app, &m, &have, e) < 0)
		return e->code;
	if (!have) {
		err_set(e, EXIT_DATAERR, "%s: nothing installed to hold", app);
		return e->code;
	}
	state_hold_init(&h, m.version, "manual", "");
	manifest_release(&m);
	if (state_hold_write(c->state_dir, app, &h, e) < 0)
		return e->code;
	printf("%s: held at %s\n", app, h.version);
	return EXIT_OK;
}

static int unhold(const struct config *c, const char *app, struct err *e)
{
	struct app_hold h;
	bool have;

	if (state_hold_read(c->state_dir, app, &h, &have, e) < 0 ||
	    (have && state_hold_clear(c->state_dir, app, e) < 0))
		return e->code;
	if (have)
		printf("%s: no longer held (was held at %s, %s)\n", app, h.version, h.reason);
	else
		printf("%s: was not held\n", app);
	return EXIT_OK;
}

static int run(const struct command *self, int argc, char **argv,
	       int (*fn)(const struct config *, const char *, struct err *))
{
	const char *cfgpath = NULL;
	struct config c;
	struct err e;
	int rc, lockfd = -1;

	if ((rc = cli_config_opts(self, argc, argv, &cfgpath)) >= 0)
		return rc;
	if (optind != argc - 1)
		return cli_usage(self, "expected one APP");
	if ((rc = cmd_load_config(cfgpath, NULL, &c)))
		return rc;
	err_clear(&e);
	if (state_lock(c.state_dir, &lockfd, &e) < 0 || (rc = fn(&c, argv[optind], &e)))
		rc = cli_fail(&e);
	state_unlock(lockfd);
	config_release(&c);
	return rc;
}

static int run_hold(const struct command *self, int argc, char **argv)
{
	return run(self, argc, argv, hold);
}

static int run_unhold(const struct command *self, int argc, char **argv)
{
	return run(self, argc, argv, unhold);
}

const struct command cmd_hold = {
	"hold", run_hold,
	"usage: upgr hold [-c CONFIG] APP\n"
	"\n"
	"Hold APP at its installed version: `upgr run` does not upgrade it\n"
	"(it says so under --dry-run and in `upgr status`) until `upgr unhold\n"
	"APP`. The hold records the version, who held it and when.\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"  -h, --help         this text\n"
	"\n"
	"exit: 0 held, 65 nothing installed, 75 locked\n",
	"keep an app at its installed version",
};

const struct command cmd_unhold = {
	"unhold", run_unhold,
	"usage: upgr unhold [-c CONFIG] APP\n"
	"\n"
	"Release a hold on APP, made by `upgr hold` or by a manual `upgr\n"
	"rollback`: the next `upgr run` upgrades it to the channel's version.\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"  -h, --help         this text\n"
	"\n"
	"exit: 0 released (or not held), 75 locked\n",
	"let `upgr run` upgrade a held app again",
};
