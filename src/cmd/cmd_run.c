/* SPDX-License-Identifier: Apache-2.0 */
/* upgr run (and `upgr` alone): the cron agent's command. The agent itself
 * (poll, apply, refusals, report, the exit code's order) is agent.c; this
 * file parses the options, takes the lock and prints what the agent says.
 * Under cron a run with nothing to do prints nothing; every error is one
 * line on stderr; an upgrade prints one line on stdout. */
#include "agent.h"
#include "cli.h"
#include "cmd_common.h"
#include "repo.h"
#include "state.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPLAY_MAX (24 * 3600)

struct run_opts {
	const char *config, *root;
	bool dry_run, json, diff;
	unsigned long splay;
};

static void splay_sleep(unsigned long seconds)
{
	struct timespec ts;
	uint64_t ms;

	if (!seconds)
		return;
	ms = repo_random() % (seconds * 1000 + 1);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Where the agent's lines go: results on stdout, the rest on stderr; with
 * --json (ctx points to true) the document alone on stdout. */
static void print_line(void *ctx, enum agent_say kind, const char *line)
{
	bool json = *(const bool *)ctx;

	if (kind == AGENT_DOC || kind == AGENT_OUT) {
		if ((kind == AGENT_DOC) == json)
			printf("%s\n", line);
		return;
	}
	fprintf(stderr, "upgr: %s%s\n", kind == AGENT_WARNING ? "warning: " : "", line);
}

/* cmd_run's check of the config, before the lock: the agent needs
 * servers and apps. */
static int agent_config_check(const struct config *c)
{
	if (c->nservers && c->napps)
		return EXIT_OK;
	fprintf(stderr, "upgr: %s: the agent needs %s; name them in the config\n", c->path,
		!c->nservers && !c->napps ? "'servers:' and 'apps:'" :
		!c->nservers ? "'servers:'" : "'apps:'");
	return EXIT_DATAERR;
}

static int agent(const struct run_opts *ro)
{
	struct agent_opts ao = { 0 };
	struct cmd_env env;
	int rc;

	/* A dry run takes the lock but recovers nothing. */
	if ((rc = cmd_setup(ro->config, ro->root, ro->dry_run ? CMD_SETUP_RECOVER : 0,
			    true, agent_config_check, &env)))
		goto done;
	ao.dry_run = ro->dry_run;
	ao.json = ro->json;
	ao.diff = ro->diff;
	ao.progress = isatty(STDERR_FILENO);
	ao.once = !ro->dry_run && !isatty(STDERR_FILENO);
	ao.say = print_line;
	ao.ctx = (void *)&ro->json;
	rc = agent_run(&env.c, &ao);
done:
	cmd_teardown(&env);
	return rc;
}

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "diff", no_argument, NULL, 'd' },
		{ "splay", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct run_opts ro = { 0 };
	char *end;
	int ch;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "c:nh", opts)) != -1) {
		switch (ch) {
		case 'c': ro.config = optarg; break;
		case 'r': ro.root = optarg; break;
		case 'n': ro.dry_run = true; break;
		case 'j': ro.json = true; break;
		case 'd': ro.diff = true; break;
		case 's':
			errno = 0;
			ro.splay = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    ro.splay > SPLAY_MAX)
				return cli_usage(self, "--splay wants seconds, 0 to %d", SPLAY_MAX);
			break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage(self, "unexpected argument %s", argv[optind]);
	if ((ro.json || ro.diff) && !ro.dry_run)
		return cli_usage(self, "--json and --diff go with --dry-run");
	if (ro.json && ro.diff)
		return cli_usage(self, "--json and --diff: choose one");
	splay_sleep(ro.splay);
	return agent(&ro);
}

const struct command cmd_run = {
	"run", run,
	"usage: upgr [run] [-c CONFIG] [--root DIR] [--dry-run [--json | --diff]]\n"
	"                [--splay SECONDS]\n"
	"\n"
	"The agent, run from cron every minute: for each configured app, fetch\n"
	"the signed channel file from the servers (in order, or from a random one\n"
	"with balance: random), refuse replayed, expired, mismatched or unsigned\n"
	"metadata, download the release (resuming a partial download) and apply\n"
	"it as one transaction; then report to the repository. Prints nothing\n"
	"when there is nothing to do; each error is one line on stderr.\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"      --root DIR     install under DIR instead of the configured root\n"
	"  -n, --dry-run      print what the run would do for each app; change nothing\n"
	"                     (the release is still fetched into the cache)\n"
	"      --json         with --dry-run: one JSON document, {host, apps: [{app,\n"
	"                     state, installed, available, why, error, exit, plan}]},\n"
	"                     plan as upgr apply --dry-run --json prints it, or null\n"
	"      --diff         with --dry-run: a unified diff of each file that changes\n"
	"      --splay SECS   first sleep a random time up to SECS, to spread a\n"
	"                     fleet's cron ticks\n"
	"  -h, --help         this text\n"
	"\n"
	"On a terminal, a download shows one progress line on stderr (size,\n"
	"rate, time left); under cron, none.\n"
	"\n"
	"exit: the worst across the apps, most urgent first: 3 rollback failed,\n"
	"77 trust check failed, 65 invalid data, 1 rolled back (with --dry-run:\n"
	"the plan would fail, e.g. a precondition does not hold), 70 internal\n"
	"error, 69 no server answered, 0 upgraded, current or waiting; 75 when\n"
	"another upgr holds the lock, 2 usage\n",
	"poll the servers, upgrade, report (the cron agent; the default command)",
};
