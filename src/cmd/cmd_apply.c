/* SPDX-License-Identifier: Apache-2.0 */
/* upgr apply: the transaction from a local release directory. */
#include "apply.h"
#include "cli.h"
#include "cmd_common.h"

#include <getopt.h>
#include <stdio.h>

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "diff", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cfgpath = NULL, *root = NULL;
	struct apply_opts o = { 0 };
	struct apply_outcome out;
	struct cmd_env env;
	struct err e;
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "c:nh", opts)) != -1) {
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'r': root = optarg; break;
		case 'n': o.dry_run = true; break;
		case 'j': o.json = true; break;
		case 'd': o.diff = true; break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return cli_usage(self, "expected one RELEASE_DIR");
	if ((o.json || o.diff) && !o.dry_run)
		return cli_usage(self, "--json and --diff go with --dry-run");
	/* A dry run changes nothing: it neither waits for the lock nor recovers. */
	err_clear(&e);
	if ((rc = cmd_setup(cfgpath, root,
			    o.dry_run ? CMD_SETUP_LOCK | CMD_SETUP_RECOVER : 0, false, NULL, &env)))
		goto done;
	rc = apply_release(&env.c, argv[optind], &o, &out, &e);
	cmd_print_msgs(&out.msgs);
	msgs_release(&out.msgs);
	if (rc != EXIT_OK)
		cli_fail(&e);
	else if (!o.dry_run && out.changed)
		printf("%s: %s\n", argv[optind], out.result);
done:
	cmd_teardown(&env);
	return rc;
}

const struct command cmd_apply = {
	"apply", run,
	"usage: upgr apply [-c CONFIG] [--root DIR] [--dry-run [--json] [--diff]] RELEASE_DIR\n"
	"\n"
	"Apply the release in RELEASE_DIR (manifest.yaml, manifest.yaml.minisig and\n"
	"the payload, as upgr publish lays them out) as one transaction, verified\n"
	"with the configured trusted keys. In a repository on this host\n"
	"(REPO/apps/APP/releases/VERSION), an upgrade takes only the files the\n"
	"host lacks from the repository's signed objects, not the payload.\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"      --root DIR     install under DIR instead of the configured root\n"
	"  -n, --dry-run      print the plan and change nothing\n"
	"      --json         with --dry-run: the plan as JSON\n"
	"      --diff         with --dry-run: a unified diff of each file that changes\n"
	"                     (config files first; binary or over 1 MiB: named only)\n"
	"  -h, --help         this text\n"
	"\n"
	"exit: 0 applied or already current, 1 failed and rolled back, 3 rollback\n"
	"failed, 65 invalid data, 75 locked, 77 signature or hash check failed\n",
	"apply a local release directory as one transaction",
};
