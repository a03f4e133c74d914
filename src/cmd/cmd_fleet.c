/* SPDX-License-Identifier: Apache-2.0 */
/* upgr fleet status | verify: the management console (docs/fleet.md).
 * Thin: reading and rendering live in fleet*.c. */
#include "cli.h"
#include "fleet.h"
#include "fsutil.h"
#include "sign.h"
#include "transport.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pwd.h>
#include <unistd.h>

static const struct command *self;

static int parse_count(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_minutes(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > 525600)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* True (and the usage said why) when the --repo URL carries a password. */
static bool repo_has_password(const char *repo)
{
	if (!xfer_url_has_password(repo))
		return false;
	cli_usage(self, "--repo must not carry a password: put it in a netrc file "
		  "(--netrc FILE)");
	return true;
}

/* The TLS and SSH trust options both subcommands take (transport.h). */
#define TRUST_OPTIONS \
	{ "cacert", required_argument, NULL, 'A' }, \
	{ "ssh-key", required_argument, NULL, 'I' }, \
	{ "known-hosts", required_argument, NULL, 'K' }

/* True when ch was one of TRUST_OPTIONS, now set in xo. */
static bool trust_option(int ch, struct xfer_opts *xo)
{
	switch (ch) {
	case 'A': xo->ca_file = optarg; return true;
	case 'I': xo->ssh_key = optarg; return true;
	case 'K': xo->ssh_known_hosts = optarg; return true;
	default: return false;
	}
}

/* The default cache, when it is usable; one that is not (someone else's,
 * or open to others) is passed over with a warning: only a --cache DIR
 * named on the command line is refused. */
static char *default_cache(void)
{
	char *dir = fleet_cache_default();
	struct err e;

	err_clear(&e);
	if (dir && fleet_cache_check(dir, &e) < 0) {
		cli_warn("%s; reading without a cache", e.msg);
		free(dir);
		dir = NULL;
	}
	return dir;
}

/* With UPGR_FLEET_STATS=1, what the run did, on stderr (for the tests). */
static void print_stats(const struct fleet *f)
{
	const char *v = getenv("UPGR_FLEET_STATS");

	if (!v || strcmp(v, "1"))
		return;
	fprintf(stderr, "fleet stats: rows %zu, fetched %zu, checked %zu, cached %zu, "
		"compares %llu\n", f->nrows, f->fetch.gets, f->fetch.stats, f->fetch.hits,
		fleet_compares);
}

static int status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "app", required_argument, NULL, 'a' },
		{ "channel", required_argument, NULL, 'C' },
		{ "stale", required_argument, NULL, 's' },
		{ "netrc", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "html", required_argument, NULL, 'H' },
		{ "keys", required_argument, NULL, 'k' },
		{ "hosts", required_argument, NULL, 'S' },
		{ "problems", no_argument, NULL, 'P' },
		{ "refresh", required_argument, NULL, 'R' },
		{ "channel-key", required_argument, NULL, 'c' },
		{ "cache", required_argument, NULL, 'D' },
		{ "no-cache", no_argument, NULL, 'N' },
		{ "jobs", required_argument, NULL, 'J' },
		TRUST_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct fleet_opts o = { .channel = "stable", .stale_minutes = FLEET_STALE_DEFAULT };
	struct xfer_opts xo = { 0 };
	const char *html = NULL, *chkey = NULL, *cache = NULL;
	struct buf out = BUF_INIT;
	struct xfer *x = NULL;
	struct sign_pub pub;
	struct fleet f;
	bool json = false, problems = false, nocache = false;
	char *cache_dflt = NULL;
	unsigned refresh = 0, jobs = 0;
	struct err e;
	int ch, rc;

	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'r': o.repo = optarg; break;
		case 'a': o.app = optarg; break;
		case 'C': o.channel = optarg; break;
		case 'n': xo.netrc = optarg; break;
		case 'j': json = true; break;
		case 'H': html = optarg; break;
		case 'k': o.keys_dir = optarg; break;
		case 'S': o.hosts_file = optarg; break;
		case 'P': problems = true; break;
		case 'c': chkey = optarg; break;
		case 'D': cache = optarg; break;
		case 'N': nocache = true; break;
		case 'R':
			if (parse_count(optarg, 86400, &refresh) < 0)
				return cli_usage(self, "--refresh: not a number of seconds "
						 "(1-86400): %s", optarg);
			break;
		case 'J':
			if (parse_count(optarg, FLEET_JOBS_MAX, &jobs) < 0)
				return cli_usage(self, "--jobs: not a number from 1 to %d: %s",
						 FLEET_JOBS_MAX, optarg);
			break;
		case 's':
			if (parse_minutes(optarg, &o.stale_minutes) < 0)
				return cli_usage(self, "--stale: not a number of minutes: %s", optarg);
			break;
		case -2: return EXIT_OK;
		default:
			if (trust_option(ch, &xo))
				break;
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage(self, "status: unexpected argument '%s'", argv[optind]);
	if (!o.repo)
		return cli_usage(self, "status: --repo URL is required");
	if (json + !!html + problems > 1)
		return cli_usage(self, "status: --json, --html and --problems exclude each other");
	if (refresh && !html)
		return cli_usage(self, "status: --refresh is for the --html page");
	if (repo_has_password(o.repo))
		return EXIT_USAGE;
	if (chkey) {
		if (sign_pub_load(chkey, &pub, &e) < 0)
			return cli_fail(&e);
		o.channel_key = &pub;
	}
	if (!nocache)
		o.cache_dir = cache ? cache : (cache_dflt = default_cache());
	o.jobs = jobs;
	o.xfer = &xo;
	o.now = time(NULL);
	fleet_init(&f, &o);
	f.refresh = refresh;
	x = xfer_new(&xo);
	if (!x) {
		rc = cli_fail((err_set(&e, EXIT_SOFTWARE, "cannot start libcurl"), &e));
		goto done;
	}
	if (fleet_load(x, &o, &f, &e) < 0) {
		rc = cli_fail(&e);
		goto done;
	}
	if (html) {
		fleet_html(&f, &out);
		if (fs_write_atomic(html, out.data, out.len, 0644, &e) < 0) {
			rc = cli_fail(&e);
			goto done;
		}
	} else {
		if (json)
			fleet_json(&f, &out);
		else if (problems)
			fleet_text_problems(&f, &out);
		else
			fleet_text(&f, &out);
		fwrite(out.data, 1, out.len, stdout);
	}
	rc = fleet_all_good(&f) ? EXIT_OK : 1;
	print_stats(&f);
done:
	fleet_release(&f);
	xfer_free(x);
	buf_release(&out);
	free(cache_dflt);
	return rc;
}

/* --keys default: $XDG_STATE_HOME/upgr-fleet/keys, or
 * ~/.local/state/upgr-fleet/keys. */
static char *default_keys(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return xasprintf("%s/upgr-fleet/keys", xdg);
	if (home && home[0] == '/')
		return xasprintf("%s/.local/state/upgr-fleet/keys", home);
	return NULL;
}

static int verify_all(struct xfer *x, const char *repo, const char *hosts,
		      const char *keys, struct err *e)
{
	struct fleet_seen seen = { NULL, 0 };
	struct buf verdicts = BUF_INIT;
	struct fleet_verdict v;
	char *vpath = fs_join(keys, "verdicts");
	char **names = NULL;
	size_t n = 0, i, nbad = 0;
	int rc = -1;

	if (fs_mkdir_p(keys, 0700, e) < 0 || fleet_seen_load(keys, &seen, e) < 0 ||
	    fleet_hosts(x, repo, hosts, &names, &n, e) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		if (fleet_verify_host(x, repo, names[i], keys, &seen, &v, e) < 0)
			goto done;
		printf("%s: %s", fleet_host_ok(names[i]) ? names[i] : "?",
		       fleet_verdict_name(v.kind));
		if (v.kind == FLEET_V_OK)
			printf(" (%llu records%s)\n", (unsigned long long)v.seq,
			       v.pinned ? ", key pinned now" : "");
		else
			printf(": %s\n", v.why);
		nbad += v.kind != FLEET_V_OK;
		fleet_verdict_line(names[i], &v, &verdicts);
	}
	if (fleet_seen_save(keys, &seen, e) < 0 ||
	    fs_write_atomic(vpath, verdicts.data ? verdicts.data : "", verdicts.len,
			    0600, e) < 0)
		goto done;
	if (!n)
		printf("no host has reported\n");
	rc = nbad || !n ? 1 : 0;
done:
	fflush(stdout);
	xfer_names_free(names, n);
	fleet_seen_release(&seen);
	buf_release(&verdicts);
	free(vpath);
	return rc;
}

static int verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "netrc", required_argument, NULL, 'n' },
		{ "hosts", required_argument, NULL, 'S' },
		TRUST_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct xfer_opts xo = { 0 };
	const char *repo = NULL, *hosts = NULL;
	char *keys = NULL;
	struct xfer *x = NULL;
	struct err e;
	int ch, rc;

	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'r': repo = optarg; break;
		case 'k': free(keys); keys = xstrdup(optarg); break;
		case 'n': xo.netrc = optarg; break;
		case 'S': hosts = optarg; break;
		case -2: free(keys); return EXIT_OK;
		default:
			if (trust_option(ch, &xo))
				break;
			free(keys);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || !repo) {
		free(keys);
		return cli_usage(self, optind != argc ? "verify: unexpected argument" :
				 "verify: --repo URL is required");
	}
	if (repo_has_password(repo)) {
		free(keys);
		return EXIT_USAGE;
	}
	if (!keys && !(keys = default_keys()))
		return cli_usage(self, "verify: no HOME to keep keys in: give --keys DIR");
	x = xfer_new(&xo);
	if (!x)
		rc = err_set(&e, EXIT_SOFTWARE, "cannot start libcurl");
	else
		rc = verify_all(x, repo, hosts, keys, &e);
	if (rc < 0)
		rc = cli_fail(&e);
	xfer_free(x);
	free(keys);
	return rc;
}

/* "user@host" of whoever runs the ack. */
static char *who_am_i(void)
{
	const struct passwd *pw = getpwuid(getuid());
	char host[256] = "";

	if (gethostname(host, sizeof host - 1) < 0)
		strcpy(host, "?");
	return xasprintf("%s@%s", pw && pw->pw_name ? pw->pw_name : "?", host);
}

static int ack(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "netrc", required_argument, NULL, 'n' },
		{ "by", required_argument, NULL, 'b' },
		TRUST_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct xfer_opts xo = { 0 };
	const char *repo = NULL, *keys = NULL, *by = NULL;
	char *dflt = NULL, *me = NULL;
	struct xfer *x = NULL;
	struct err e;
	int ch, rc;

	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'r': repo = optarg; break;
		case 'k': keys = optarg; break;
		case 'n': xo.netrc = optarg; break;
		case 'b': by = optarg; break;
		case -2: return EXIT_OK;
		default:
			if (trust_option(ch, &xo))
				break;
			return EXIT_USAGE;
		}
	}
	if (!repo || optind != argc - 1)
		return cli_usage(self, "ack: --repo URL and one HOST are required");
	if (repo_has_password(repo))
		return EXIT_USAGE;
	if (!keys && !(keys = dflt = default_keys()))
		return cli_usage(self, "ack: no HOME to keep keys in: give --keys DIR");
	me = by ? xstrdup(by) : who_am_i();
	if (!(x = xfer_new(&xo)))
		rc = err_set(&e, EXIT_SOFTWARE, "cannot start libcurl");
	else
		rc = fleet_ack(x, repo, keys, argv[optind], me, time(NULL), &e);
	if (rc < 0)
		rc = cli_fail(&e);
	else
		printf("%s: acknowledged by %s\n", argv[optind], me);
	xfer_free(x);
	free(dflt);
	free(me);
	return rc;
}

static int run(const struct command *c, int argc, char **argv)
{
	static const struct subcommand subs[2] = { { "status", status }, { "verify", verify } };

	self = c;
	/* cli_dispatch takes two subcommands; ack is the third. */
	if (argc >= 2 && !strcmp(argv[1], "ack")) {
		optind = 1;
		return ack(argc - 1, argv + 1);
	}
	return cli_dispatch(c, subs, argc, argv);
}

const struct command cmd_fleet = {
	"fleet", run,
	"usage: upgr fleet status --repo URL [--app APP] [--channel NAME] [--stale MINUTES]\n"
	"                         [--netrc FILE] [--keys DIR] [--hosts FILE]\n"
	"                         [--channel-key PUB] [--cache DIR | --no-cache]\n"
	"                         [--jobs N] [--json | --problems |\n"
	"                         --html FILE [--refresh SECONDS]] [TRUST]\n"
	"       upgr fleet ack --repo URL [--netrc FILE] [--keys DIR] [--by NAME] HOST\n"
	"       upgr fleet verify --repo URL [--keys DIR] [--netrc FILE] [--hosts FILE]\n"
	"                         [TRUST]\n"
	"TRUST: [--cacert FILE] [--ssh-key FILE] [--known-hosts FILE]\n"
	"\n"
	"The management console: every host's last result, read from the reports\n"
	"the agents upload to REPO/reports/HOST/ (ftp, ftps, sftp, file; http and\n"
	"https with --hosts FILE, since those cannot list a directory).\n"
	"\n"
	"status: a table of host, app, version, result, state, last report and\n"
	"error, problems first, then hosts per version and per result and the\n"
	"stale hosts. Exit 0 when every host runs its app's latest version (the\n"
	"channel's, else the highest reported), its last result is success and it\n"
	"reported recently; 1 otherwise.\n"
	"  --app APP         only this app\n"
	"  --channel NAME    the channel whose version is latest (default stable)\n"
	"  --stale MINUTES   a host is stale without a report this long (default 120)\n"
	"  --netrc FILE      credentials for the server\n"
	"  --json            print JSON (shape in docs/fleet.md)\n"
	"  --html FILE       write a self-contained HTML page to FILE (atomically)\n"
	"  --keys DIR        check each status.yaml: signed by the device key pinned\n"
	"                    in DIR/HOST.pub, agreeing with the host's verified audit\n"
	"                    log; else the host is tampered (unverified without a\n"
	"                    pinned key); also what the last fleet verify found.\n"
	"                    Without it the reports are shown unverified\n"
	"  --hosts FILE      the host names, one a line, instead of listing reports/\n"
	"  --problems        only the problems, grouped by cause, one line each\n"
	"  --refresh SECONDS the --html page reloads itself this often\n"
	"  --channel-key PUB the rollout plans shown must be signed by this key\n"
	"  --cache DIR       reports kept between runs, fetched again only when their\n"
	"                    size or time changed (default $XDG_CACHE_HOME/upgr/fleet;\n"
	"                    must be yours and 0700); --no-cache: without\n"
	"  --jobs N          connections at once (default 4, at most 32)\n"
	"States: problems first (unreadable, tampered, unverified, failed,\n"
	"rolled-back, refused, stale, unavailable, outdated, no-result), then\n"
	"waiting, staged, held (outside the rollout) and ok, which are not.\n"
	"\n"
	"ack: record in REPO/reports/HOST/ack.yaml who looked at HOST's tampering\n"
	"(the one DIR/tampered holds); until then status --keys shows it tampered.\n"
	"  --keys DIR as for verify; --by NAME (default user@machine)\n"
	"\n"
	"verify: check every host's uploaded audit log: its signature by the\n"
	"host's device key (pinned in DIR on first sight; a replaced key is\n"
	"KEY CHANGED), its hash chain, and that it extends what the last verify\n"
	"saw (DIR/seen). One line per host, the verdicts kept in DIR/verdicts;\n"
	"exit 0 only when all are ok.\n"
	"  --keys DIR        pinned keys and state (default\n"
	"                    ~/.local/state/upgr-fleet/keys)\n"
	"  --netrc FILE, --hosts FILE   as for status\n"
	"\n"
	"TRUST, for both (as for upgr publish):\n"
	"  --cacert FILE      PEM certificates to trust for ftps/ftpes/https\n"
	"  --ssh-key FILE     private key for sftp\n"
	"  --known-hosts FILE SSH host keys for sftp; unlisted hosts are refused\n",
	"the management console: fleet status and audit verification",
};
