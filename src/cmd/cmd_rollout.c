/* SPDX-License-Identifier: Apache-2.0 */
/* upgr rollout start|tick|status|pause|resume|abort: the closed-loop
 * rollout controller (the work is in rollout.c). */
#include "channel.h"
#include "cli.h"
#include "cmd_common.h"
#include "publish.h"
#include "rollout.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPIRES_DEFAULT (30L * 86400)
#define EXPIRES_MAX (3650L * 86400)

enum sub { SUB_START, SUB_TICK, SUB_STATUS, SUB_PAUSE, SUB_RESUME, SUB_ABORT };

static const char *const sub_names[] = {
	"start", "tick", "status", "pause", "resume", "abort", NULL
};

/* What the command line says, besides rollout_opts. */
struct args {
	enum sub sub;
	bool json;
	bool has_waves, has_soak, has_max;
	unsigned waves[ROLLOUT_WAVES_MAX];
	size_t nwaves;
	long soak;
	unsigned max_failed;
};

static int parse_start_opt(const struct command *self, int ch, struct args *a)
{
	switch (ch) {
	case 'w':
		if (rollout_waves_parse(optarg, a->waves, &a->nwaves) < 0)
			return cli_usage(self, "--waves wants growing percentages 1 to 100, "
					 "like 1,10,50,100 (at most %d)", ROLLOUT_WAVES_MAX);
		a->has_waves = true;
		return -1;
	case 'W':
		if (cmd_parse_duration(optarg, (long)ROLLOUT_SOAK_MAX, &a->soak) < 0)
			return cli_usage(self, "--soak wants a duration like 30m, 2h, 1d "
					 "or 0s");
		a->has_soak = true;
		return -1;
	case 'm':
		if (rollout_percent_parse(optarg, true, &a->max_failed) < 0)
			return cli_usage(self, "--max-failed wants a percentage like 2%% "
					 "or 0.5 (0 to 100, two decimals at most)");
		a->has_max = true;
		return -1;
	}
	return EXIT_USAGE;
}

/* Long-only options (their letters mean other things elsewhere: upgr(1)). */
enum { OPT_CHANNEL = 256, OPT_TRUSTED };

/* The options into o and a (trusted has room for argc names): -1 to go
 * on, else the exit code. */
static int parse(const struct command *self, int argc, char **argv,
		 struct rollout_opts *o, struct args *a, const char **trusted)
{
	static const struct option opts[] = {
		CLI_REPO_OPTION,
		CLI_TRANSPORT_OPTIONS,
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "state-dir", required_argument, NULL, 's' },
		{ "keys", required_argument, NULL, 'D' },
		{ "trusted-key", required_argument, NULL, OPT_TRUSTED },
		{ "expires", required_argument, NULL, 'e' },
		{ "waves", required_argument, NULL, 'w' },
		{ "soak", required_argument, NULL, 'W' },
		{ "max-failed", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct transport_opts t = { 0 };
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, CLI_REPO_SHORT CLI_TRANSPORT_SHORT
				"k:P:s:D:e:w:W:m:jh", opts)) != -1) {
		if (cli_transport_opt(&t, ch, optarg))
			continue;
		switch (ch) {
		case 'k': o->key = optarg; break;
		case 'P': o->passphrase_file = optarg; break;
		case OPT_CHANNEL: o->channel = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'D': o->keys_dir = optarg; break;
		case OPT_TRUSTED: trusted[o->ntrusted++] = optarg; break;
		case 'j': a->json = true; break;
		case 'e':
			if (cmd_parse_duration(optarg, EXPIRES_MAX, &o->expires) < 0 ||
			    o->expires < 3600)
				return cli_usage(self, "--expires wants a duration of an hour "
						 "or more, like 30d (at most 3650d)");
			break;
		case 'w': case 'W': case 'm':
			if (a->sub != SUB_START)
				return cli_usage(self, "--%s is for rollout start", ch == 'w'
						 ? "waves" : ch == 'W' ? "soak" : "max-failed");
			if ((rc = parse_start_opt(self, ch, a)) >= 0)
				return rc;
			break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if ((rc = cli_transport_check(self, &t, true)) >= 0)
		return rc;
	o->repo = t.repo;
	o->netrc = t.xfer.netrc;
	o->ca_file = t.xfer.ca_file;
	o->ssh_key = t.xfer.ssh_key;
	o->ssh_known_hosts = t.xfer.ssh_known_hosts;
	return -1;
}

/* The checks every subcommand shares, then the ones of its own. */
static int check(const struct command *self, int argc, char **argv,
		 const struct rollout_opts *o, const struct args *a)
{
	const char *why;
	int npos = argc - optind;

	if (!o->repo || !o->key)
		return cli_usage(self, "--repo URL and --key KEY are required");
	if ((why = cmd_repo_problem(o->repo)))
		return cli_usage(self, "%s", why);
	if (!channel_name_ok(o->channel))
		return cli_usage(self, "--channel: \"%s\" is not a channel name "
				 "([a-z0-9][a-z0-9._-]{0,63})", o->channel);
	if (a->json && a->sub != SUB_STATUS)
		return cli_usage(self, "--json is for rollout status");
	if (a->sub == SUB_START && npos != 2)
		return cli_usage(self, "start: expected APP VERSION");
	if (a->sub == SUB_START && !(a->has_waves && a->has_soak && a->has_max))
		return cli_usage(self, "start: --waves, --soak and --max-failed are required");
	if (a->sub != SUB_START && npos > 1)
		return cli_usage(self, "%s: expected at most one APP", sub_names[a->sub]);
	if (npos >= 1 && !channel_name_ok(argv[optind]))
		return cli_usage(self, "\"%s\" is not an app name", argv[optind]);
	if (!o->state_dir)
		return cli_usage(self, "no publisher state directory: set XDG_STATE_HOME "
				 "or HOME, or pass --state-dir");
	return -1;
}

static int act(const struct rollout_opts *o, const struct args *a, int argc, char **argv)
{
	const char *app = optind < argc ? argv[optind] : NULL;
	static const enum rollout_action ctl[] = {
		[SUB_PAUSE] = ROLLOUT_PAUSE, [SUB_RESUME] = ROLLOUT_RESUME,
		[SUB_ABORT] = ROLLOUT_ABORT,
	};
	struct buf out = BUF_INIT;
	struct err e;
	int rc;

	err_clear(&e);
	if (a->sub == SUB_START)
		rc = rollout_start(o, app, argv[optind + 1], a->waves, a->nwaves,
				   (unsigned long long)a->soak, a->max_failed, &out, &e);
	else if (a->sub == SUB_TICK)
		rc = rollout_tick(o, app, &out, &e);
	else if (a->sub == SUB_STATUS)
		rc = rollout_status(o, app, a->json, &out, &e);
	else
		rc = rollout_control(o, app, ctl[a->sub], &out, &e);
	if (out.len)
		fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_release(&out);
	return rc < 0 ? cli_fail(&e) : EXIT_OK;
}

static int run(const struct command *self, int argc, char **argv)
{
	struct rollout_opts o = {
		.channel = "stable", .expires = EXPIRES_DEFAULT, .now = time(NULL),
	};
	struct args a = { 0 };
	const char **trusted;
	char *state_dir = NULL;
	size_t i;
	int rc;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(self);
	if (argc < 2)
		return cli_usage(self, "expected start, tick, status, pause, resume or abort");
	for (i = 0; sub_names[i] && strcmp(sub_names[i], argv[1]); i++)
		;
	if (!sub_names[i])
		return cli_usage(self, "unknown rollout command '%s'", argv[1]);
	a.sub = (enum sub)i;
	argc--, argv++;
	trusted = xcalloc((size_t)argc + 1, sizeof *trusted);
	o.trusted = trusted;
	if ((rc = parse(self, argc, argv, &o, &a, trusted)) >= 0)
		goto done;
	if (!o.state_dir)
		o.state_dir = state_dir = publish_default_state_dir();
	if ((rc = check(self, argc, argv, &o, &a)) >= 0)
		goto done;
	rc = act(&o, &a, argc, argv);
done:
	free(state_dir);
	free(trusted);
	return rc;
}

const struct command cmd_rollout = {
	"rollout", run,
	"usage: upgr rollout start  --repo URL --key KEY [options] APP VERSION\n"
	"                           --waves 1,10,50,100 --soak DURATION --max-failed PERCENT\n"
	"       upgr rollout tick   --repo URL --key KEY [options] [APP]\n"
	"       upgr rollout status --repo URL --key KEY [options] [--json] [APP]\n"
	"       upgr rollout pause|resume|abort --repo URL --key KEY [options] [APP]\n"
	"\n"
	"Roll a published release out in waves, each a percentage of hosts that\n"
	"the agents pick by a stable hash of their name, and halt by itself when\n"
	"too many fail. start re-signs the channel with the first wave's\n"
	"percentage and writes the signed plan to URL/apps/APP/rollout/CHANNEL.yaml;\n"
	"tick (from cron) reads the hosts' reports and, when every reporting host\n"
	"of the wave has tried and the soak has passed since its last success,\n"
	"opens the next wave; when the failed or rolled-back share of the hosts\n"
	"that tried exceeds --max-failed it re-signs the channel with rollout 0\n"
	"(hosts not yet upgraded stay where they are) and prints one line. A tick\n"
	"with nothing new prints nothing. pause stops the channel the same way,\n"
	"resume reopens the current wave, abort pauses and then returns the\n"
	"channel to the version before the rollout (downgrade: true; under a trust\n"
	"root KEY must also hold the release role). Every decision is a signed\n"
	"record in URL/apps/APP/rollout/CHANNEL.log (upgr audit verify -p KEY.pub).\n"
	"Without APP, tick, status, pause, resume and abort act on every app with\n"
	"a rollout on the channel.\n"
	"\n"
	"  -r, --repo URL         file://, ftp://, ftps://, ftpes:// or sftp://\n"
	"  -k, --key KEY          the channel key (under a trust root: channel role)\n"
	"  -P, --passphrase-file FILE  its passphrase (first line; mode 0600)\n"
	"      --channel NAME     the channel (default stable)\n"
	"  -w, --waves LIST       start: growing percentages, like 1,10,50,100\n"
	"  -W, --soak DURATION    start: how long a complete wave must stay good\n"
	"                         before the next opens (s, m, h or d; 0s allowed)\n"
	"  -m, --max-failed PCT   start: halt above this failed share (like 2%)\n"
	"      --trusted-key PUB  a release key the release's manifest may be\n"
	"                         signed with (no trust root; repeatable)\n"
	"  -D, --keys DIR         fleet verify's pinned device keys: a host whose\n"
	"                         report does not verify holds the wave\n"
	"  -e, --expires DURATION how long each channel file is valid (default 30d)\n"
	"  -j, --json             status as JSON (docs/rollout.md)\n"
	CLI_TRANSPORT_USAGE
	"  -s, --state-dir DIR    the publisher's serials (as upgr publish)\n"
	"  -h, --help             this text\n"
	"\n"
	"exit: 0 done (a halt too: it is printed), 2 usage, 65 no such rollout,\n"
	"one already live, or bad data, 69 the repository did not answer, 77 a\n"
	"plan, channel, log or release that does not verify, or a key outside its\n"
	"role\n",
	"roll a release out in waves that halt on failures",
};
