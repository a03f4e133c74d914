/* SPDX-License-Identifier: Apache-2.0 */
/* upgr recover: finish a transaction that a crash or kill interrupted.
 * Every other command that acts on the host does this first. */
#include "cli.h"
#include "cmd_common.h"

#include <getopt.h>
#include <stdio.h>

static int run(const struct command *self, int argc, char **argv)
{
	const char *cfgpath = NULL;
	struct cmd_env env;
	int rc;

	if ((rc = cli_config_opts(self, argc, argv, &cfgpath)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(self, "unexpected argument %s", argv[optind]);
	rc = cmd_setup(cfgpath, NULL, 0, false, NULL, &env);
	cmd_teardown(&env);
	return rc;
}

const struct command cmd_recover = {
	"recover", run,
	"usage: upgr recover [-c CONFIG]\n"
	"\n"
	"Resolve a transaction that was interrupted (power loss, kill -9): one\n"
	"that had not committed is rolled back to the old version and the old\n"
	"version started; one that had committed is completed. Every command\n"
	"that acts on the host does this first. Prints one line per app it\n"
	"recovered, nothing when there was nothing to do.\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"  -h, --help         this text\n"
	"\n"
	"Refused, touching nothing and keeping the journal: an unsafe parent of\n"
	"the target (65), a work directory that is not root's and 0700, or a\n"
	"backup whose sha256 or mode differ from the installed release's signed\n"
	"manifest (77).\n"
	"\n"
	"exit: 0 nothing to do or recovered, 3 recovery failed (a person must act),\n"
	"65 or 77 refused, 75 locked\n",
	"finish an interrupted transaction",
};
