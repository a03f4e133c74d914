/* SPDX-License-Identifier: Apache-2.0 */
/* upgr publish: an authored manifest and a build directory become a
 * signed release on the repository, then the channel switches to it
 * (the work is in publish.c). */
#include "channel.h"
#include "cli.h"
#include "cmd_common.h"
#include "diag.h"
#include "manifest.h"
#include "publish.h"
#include "transport.h"
#include "xalloc.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPIRES_DEFAULT (30L * 86400)
#define EXPIRES_MAX (3650L * 86400)

static void report(const struct manifest *m, const struct publish_opts *o,
		   const struct publish_result *res)
{
	size_t i;

	for (i = 0; i < res->nunlisted; i++)
		cli_warn("%s/%s is not listed in the manifest: not published",
			 o->from, res->unlisted[i]);
	if (res->reused)
		printf("%s %s: already published, unchanged: %s\n", m->app,
		       m->version, res->release_url);
	else
		printf("%s %s: published %s\n", m->app, m->version, res->release_url);
	printf("%s %s: channel %s, serial %llu, rollout %u%%%s\n", m->app, m->version,
	       o->channel, (unsigned long long)res->serial, o->rollout,
	       o->downgrade ? ", downgrade allowed" : "");
}

static int publish(const char *path, struct publish_opts *o)
{
	struct publish_result res;
	struct manifest m;
	struct diag d;
	struct err e;
	char *copy = NULL;
	int rc = EXIT_OK;

	diag_init(&d, path);
	if (manifest_load(path, &m, &d) < 0) {
		diag_print(&d, stderr);
		diag_release(&d);
		return EXIT_DATAERR;
	}
	diag_release(&d);
	if (!o->from) {
		copy = xstrdup(path);
		o->from = dirname(copy);
	}
	err_clear(&e);
	if (publish_release(&m, path, o, &res, &e) < 0)
		rc = cli_fail(&e);
	else
		report(&m, o, &res);
	publish_result_release(&res);
	manifest_release(&m);
	free(copy);
	return rc;
}

/* The options into o (trusted has room for argc names): -1 to go on,
 * else the exit code. */
static int parse(const struct command *self, int argc, char **argv,
		 struct publish_opts *o, const char **trusted)
{
	/* Long-only: --channel (-c is the config everywhere), --not-before (-n
	 * is --dry-run), --trusted-key (-t is sign's --trusted-comment). */
	enum { OPT_CHANNEL = 256, OPT_NOT_BEFORE, OPT_TRUSTED };
	static const struct option opts[] = {
		CLI_REPO_OPTION,
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "channel-key", required_argument, NULL, 'a' },
		{ "root", required_argument, NULL, 'R' },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "from", required_argument, NULL, 'f' },
		{ "expires", required_argument, NULL, 'e' },
		{ "not-before", required_argument, NULL, OPT_NOT_BEFORE },
		{ "rollout", required_argument, NULL, 'o' },
		{ "downgrade", no_argument, NULL, 'd' },
		CLI_TRANSPORT_OPTIONS,
		{ "trusted-key", required_argument, NULL, OPT_TRUSTED },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct transport_opts t = { 0 };
	char *end;
	unsigned long pct;
	int ch;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, CLI_REPO_SHORT CLI_TRANSPORT_SHORT
				"k:P:a:R:f:e:o:ds:h", opts)) != -1) {
		switch (ch) {
		case 'k': o->key = optarg; break;
		case 'P': o->passphrase_file = optarg; break;
		case 'a': o->channel_key = optarg; break;
		case 'R': o->root_file = optarg; break;
		case OPT_CHANNEL: o->channel = optarg; break;
		case 'f': o->from = optarg; break;
		case OPT_TRUSTED: trusted[o->ntrusted++] = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'd': o->downgrade = true; break;
		case 'e':
			if (cmd_parse_duration(optarg, EXPIRES_MAX, &o->expires) < 0 ||
			    !o->expires)
				return cli_usage(self, "--expires wants a duration like 30d, "
						 "12h, 90m or 600s (at most 3650d)");
			break;
		case OPT_NOT_BEFORE:
			if (channel_time_parse(optarg, &o->not_before) < 0)
				return cli_usage(self, "--not-before wants a UTC time like "
						 "2026-11-25T02:00:00Z");
			o->has_not_before = true;
			break;
		case 'o':
			pct = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || pct > 100)
				return cli_usage(self, "--rollout wants a percentage, 0 to 100");
			o->rollout = (unsigned)pct;
			break;
		case -2: return EXIT_OK;
		default:
			if (!cli_transport_opt(&t, ch, optarg))
				return EXIT_USAGE;
		}
	}
	o->repo = t.repo;
	o->netrc = t.xfer.netrc;
	o->ca_file = t.xfer.ca_file;
	o->ssh_key = t.xfer.ssh_key;
	o->ssh_known_hosts = t.xfer.ssh_known_hosts;
	return -1;
}

static int run(const struct command *self, int argc, char **argv)
{
	struct publish_opts o = {
		.channel = "stable", .expires = EXPIRES_DEFAULT, .rollout = 100,
		.progress = isatty(STDERR_FILENO), .now = time(NULL),
	};
	const char **trusted = xcalloc((size_t)argc + 1, sizeof *trusted);
	char *state_dir = NULL;
	const char *why;
	int rc;

	o.trusted = trusted;
	if ((rc = parse(self, argc, argv, &o, trusted)) >= 0)
		goto done;
	if (!o.state_dir)
		o.state_dir = state_dir = publish_default_state_dir();
	if (!o.repo || !o.key)
		rc = cli_usage(self, "--repo URL and --key KEY are required");
	else if ((why = cmd_repo_problem(o.repo)))
		rc = cli_usage(self, "%s", why);
	else if (!channel_name_ok(o.channel))
		rc = cli_usage(self, "--channel: \"%s\" is not a channel name "
			       "([a-z0-9][a-z0-9._-]{0,63})", o.channel);
	else if (optind + 1 != argc)
		rc = cli_usage(self, "expected exactly one MANIFEST");
	else
		rc = publish(argv[optind], &o);
done:
	free(state_dir);
	free(trusted);
	return rc;
}

const struct command cmd_publish = {
	"publish", run,
	"usage: upgr publish --repo URL --key KEY [--channel-key KEY] [--root FILE]\n"
	"                    [--passphrase-file FILE] [--channel NAME] [--from DIR]\n"
	"                    [--expires DURATION] [--not-before TIME]\n"
	"                    [--rollout PERCENT] [--downgrade] [--netrc FILE]\n"
	"                    [--cacert FILE] [--ssh-key FILE] [--known-hosts FILE]\n"
	"                    [--trusted-key PUB]... [--state-dir DIR] MANIFEST\n"
	"\n"
	"Pack the files the authored MANIFEST lists from DIR into a reproducible\n"
	"payload.tar.gz, write their sha256 and the payload into the published\n"
	"manifest, sign it, upload the release to URL/apps/APP/releases/VERSION/,\n"
	"then write the channel file (serial one higher) and its signature last.\n"
	"The current channel file is believed only when signed by KEY's public\n"
	"half or a --trusted-key, and only when its serial is the one this\n"
	"publisher signed last (kept in DIR) or one more.\n"
	"When the repository has a trust root (root/N.root.yaml, or --root), KEY\n"
	"must be a release key in scope for the app and target, the channel key a\n"
	"channel key, and the current channel must meet the channel role's\n"
	"threshold; the signatures are also written as FILE.NAME.minisig, NAME\n"
	"being the key's name in the root (docs/trust.md).\n"
	"Every upload lands whole (temporary name, then rename). A version that is\n"
	"already published with other content is refused; publishing the same\n"
	"release again only writes a new channel file (to widen a rollout).\n"
	"\n"
	"  -r, --repo URL         file://, ftp://, ftps:// (implicit TLS), ftpes://\n"
	"                         (explicit TLS, required) or sftp:// repository\n"
	"  -k, --key KEY          the release author's secret key (signs the manifest;\n"
	"                         encrypted: the passphrase is asked on the terminal)\n"
	"  -a, --channel-key KEY  signs the channel file (default: --key)\n"
	"  -P, --passphrase-file FILE  the keys' passphrase (first line; mode 0600)\n"
	"  -R, --root FILE        the trust root to start from instead of the\n"
	"                         repository's root/1.root.yaml; walked upward\n"
	"      --channel NAME     the channel to switch (default stable)\n"
	"  -f, --from DIR         the build directory (default: the manifest's)\n"
	"  -e, --expires DURATION how long the channel file is valid (default 30d;\n"
	"                         s, m, h or d)\n"
	"      --not-before TIME  no host installs before TIME (2026-11-25T02:00:00Z)\n"
	"  -o, --rollout PERCENT  only this share of hosts (default 100)\n"
	"  -d, --downgrade        allow a version lower than the channel's\n"
	CLI_TRANSPORT_USAGE
	"      --trusted-key PUB  a public key that may have signed the current\n"
	"                         channel file besides KEY (repeatable)\n"
	"  -s, --state-dir DIR    the serials this publisher signed (default\n"
	"                         $XDG_STATE_HOME/upgr/publish, else\n"
	"                         ~/.local/state/upgr/publish)\n"
	"  -h, --help             this text\n"
	"\n"
	"exit: 0 published, 2 usage, 65 invalid manifest, missing file, version\n"
	"already published with other content, or a downgrade without --downgrade,\n"
	"or a channel serial that cannot grow, 69 the repository did not answer,\n"
	"77 key file readable by others, a key outside its role or scope in the\n"
	"trust root, a downgrade without the release threshold, the server's\n"
	"certificate or host key not\n"
	"trusted, or a current channel file that does not verify, or whose serial\n"
	"is lower than, or more than one over, the one this publisher signed last,\n"
	"70 I/O error\n",
	"publish a signed release and switch a channel to it",
};
