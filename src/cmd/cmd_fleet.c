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

/* Long-only options whose letters mean something else in upgr (cli.h:
 * -C is --cacert, -S --ssh-key, -N --netrc, -c --config). */
enum { OPT_CHANNEL = 256, OPT_HOSTS, OPT_STALE, OPT_HTML, OPT_APP, OPT_KEYS, OPT_JSON,
       OPT_PROBLEMS, OPT_REFRESH, OPT_CHANNEL_KEY, OPT_CACHE, OPT_NO_CACHE, OPT_JOBS, OPT_BY };

/* The options status and verify share. */
#define FLEET_OPTIONS \
	CLI_REPO_OPTION, \
	CLI_TRANSPORT_OPTIONS, \
	{ "keys", required_argument, NULL, OPT_KEYS }, \
	{ "hosts", required_argument, NULL, OPT_HOSTS }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ 0 }
#define FLEET_SHORT CLI_REPO_SHORT CLI_TRANSPORT_SHORT "h"

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
		{ "app", required_argument, NULL, OPT_APP },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "stale", required_argument, NULL, OPT_STALE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "problems", no_argument, NULL, OPT_PROBLEMS },
		{ "refresh", required_argument, NULL, OPT_REFRESH },
		{ "channel-key", required_argument, NULL, OPT_CHANNEL_KEY },
		{ "cache", required_argument, NULL, OPT_CACHE },
		{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
		{ "jobs", required_argument, NULL, OPT_JOBS },
		FLEET_OPTIONS
	};
	struct fleet_opts o = { .channel = "stable", .stale_minutes = FLEET_STALE_DEFAULT };
	struct transport_opts t = { 0 };
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
	while ((ch = cli_getopt(self, argc, argv, FLEET_SHORT, opts)) != -1) {
		switch (ch) {
		case OPT_APP: o.app = optarg; break;
		case OPT_CHANNEL: o.channel = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_HTML: html = optarg; break;
		case OPT_KEYS: o.keys_dir = optarg; break;
		case OPT_HOSTS: o.hosts_file = optarg; break;
		case OPT_PROBLEMS: problems = true; break;
		case OPT_CHANNEL_KEY: chkey = optarg; break;
		case OPT_CACHE: cache = optarg; break;
		case OPT_NO_CACHE: nocache = true; break;
		case OPT_REFRESH:
			if (parse_count(optarg, 86400, &refresh) < 0)
				return cli_usage(self, "--refresh: not a number of seconds "
						 "(1-86400): %s", optarg);
			break;
		case OPT_JOBS:
			if (parse_count(optarg, FLEET_JOBS_MAX, &jobs) < 0)
				return cli_usage(self, "--jobs: not a number from 1 to %d: %s",
						 FLEET_JOBS_MAX, optarg);
			break;
		case OPT_STALE:
			if (parse_minutes(optarg, &o.stale_minutes) < 0)
				return cli_usage(self, "--stale: not a number of minutes: %s", optarg);
			break;
		case -2: return EXIT_OK;
		default:
			if (!cli_transport_opt(&t, ch, optarg))
				return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage(self, "status: unexpected argument '%s'", argv[optind]);
	if ((rc = cli_transport_check(self, &t, true)) >= 0)
		return rc;
	if (json + !!html + problems > 1)
		return cli_usage(self, "status: --json, --html and --problems exclude each other");
	if (refresh && !html)
		return cli_usage(self, "status: --refresh is for the --html page");
	if (chkey) {
		if (sign_pub_load(chkey, &pub, &e) < 0)
			return cli_fail(&e);
		o.channel_key = &pub;
	}
	o.repo = t.repo;
	if (!nocache)
		o.cache_dir = cache ? cache : (cache_dflt = default_cache());
	o.jobs = jobs;
	o.xfer = &t.xfer;
	o.now = time(NULL);
	fleet_init(&f, &o);
	f.refresh = refresh;
	x = xfer_new(&t.xfer);
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
		FLEET_OPTIONS
	};
	struct transport_opts t = { 0 };
	const char *hosts = NULL;
	char *keys = NULL;
	struct xfer *x = NULL;
	struct err e;
	int ch, rc;

	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, FLEET_SHORT, opts)) != -1) {
		switch (ch) {
		case OPT_KEYS: free(keys); keys = xstrdup(optarg); break;
		case OPT_HOSTS: hosts = optarg; break;
		case -2: free(keys); return EXIT_OK;
		default:
			if (cli_transport_opt(&t, ch, optarg))
				break;
			free(keys);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		free(keys);
		return cli_usage(self, "verify: unexpected argument");
	}
	if ((rc = cli_transport_check(self, &t, true)) >= 0) {
		free(keys);
		return rc;
	}
	if (!keys && !(keys = default_keys()))
		return cli_usage(self, "verify: no HOME to keep keys in: give --keys DIR");
	x = xfer_new(&t.xfer);
	if (!x)
		rc = err_set(&e, EXIT_SOFTWARE, "cannot start libcurl");
	else
		rc = verify_all(x, t.repo, hosts, keys, &e);
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
		CLI_REPO_OPTION,
		CLI_TRANSPORT_OPTIONS,
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "by", required_argument, NULL, OPT_BY },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct transport_opts t = { 0 };
	const char *keys = NULL, *by = NULL;
	char *dflt = NULL, *me = NULL;
	struct xfer *x = NULL;
	struct err e;
	int ch, rc;

	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, CLI_REPO_SHORT CLI_TRANSPORT_SHORT "h",
				opts)) != -1) {
		switch (ch) {
		case OPT_KEYS: keys = optarg; break;
		case OPT_BY: by = optarg; break;
		case -2: return EXIT_OK;
		default:
			if (cli_transport_opt(&t, ch, optarg))
				break;
			return EXIT_USAGE;
		}
	}
	if ((rc = cli_transport_check(self, &t, true)) >= 0)
		return rc;
	if (optind != argc - 1)
		return cli_usage(self, "ack: one HOST is required");
	if (!keys && !(keys = dflt = default_keys()))
		return cli_usage(self, "ack: no HOME to keep keys in: give --keys DIR");
	me = by ? xstrdup(by) : who_am_i();
	if (!(x = xfer_new(&t.xfer)))
		rc = err_set(&e, EXIT_SOFTWARE, "cannot start libcurl");
	else
		rc = fleet_ack(x, t.repo, keys, argv[optind], me, time(NULL), &e);
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
	"Both take -r, --repo URL.\n"
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
	"  --hosts FILE      as for status\n"
	"\n"
	"TRUST and --netrc, for both (as for upgr publish):\n"
	CLI_TRANSPORT_USAGE,
	"the management console: fleet status and audit verification",
};
