/* upgr run (and `upgr` alone): the cron agent. For each configured app,
 * poll the servers, verify, download and apply a newer release through
 * the transaction; then report to the repository.
 *
 * Under cron a run with nothing to do prints nothing; every error is one
 * line on stderr; an upgrade prints one line on stdout. The exit code is
 * the worst across the apps, in this order (most urgent first):
 *
 *   3  a rollback failed: a person must act on this host
 *   77 a trust check failed: someone may be attacking the updates
 *   65 invalid signed data or config: the release author must act
 *   1  an upgrade failed and was rolled back: the old version runs
 *   70 an internal error (I/O)
 *   69 no server answered: transient, the next tick retries
 *   0  upgraded, current, waiting (not_before, rollout, window), dry-run
 *
 * A release that failed (rolled back) is not tried again every tick,
 * stopping the service each minute: the agent waits for a newer channel
 * file (repo_mark_failed).
 *
 * A refusal is recorded (audit log, status, report) once per class
 * (repo_cause: signature, hash, replay, ...) and server until the app
 * polls clean or an upgrade succeeds; the same on later ticks only prints
 * its line and exits 77 again. A server that lied while another served
 * good files is recorded the same way, and the run goes on with the good
 * files. A report that cannot be uploaded prints a line but does not
 * change the exit code: it waits in STATE/report-pending for the next
 * run. */
#include "apply.h"
#include "cli.h"
#include "cmd_common.h"
#include "repo.h"
#include "report.h"
#include "state.h"
#include "version.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPLAY_MAX (24 * 3600)

struct run_opts {
	const char *config, *root;
	bool dry_run;
	unsigned long splay;
};

/* One app's outcome this run, for the exit code and the report. */
struct app_run {
	int code;                 /* exit code */
	bool changed;             /* installed, upgraded or rolled back */
	bool acted;               /* changed or refused: worth a report */
	char error[ERR_MSG_MAX];  /* this run's transient error (69), else "" */
};

static int severity(int code)
{
	switch (code) {
	case EXIT_OK: return 0;
	case EXIT_UNAVAILABLE: return 1;
	case EXIT_SOFTWARE: return 2;
	case EXIT_ROLLED_BACK: return 3;
	case EXIT_DATAERR: return 4;
	case EXIT_TRUST: return 5;
	case EXIT_ROLLBACK_FAILED: return 6;
	default: return 2;
	}
}

static int worse(int a, int b)
{
	return severity(b) > severity(a) ? b : a;
}

/* Print e as one line on stderr, whatever its message holds. */
static void say_error(const struct err *e)
{
	char line[ERR_MSG_MAX];
	size_t i;

	snprintf(line, sizeof line, "%s", e->msg[0] ? e->msg : "failed");
	for (i = 0; line[i]; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	fprintf(stderr, "upgr: %s\n", line);
}

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

/* Apply the release the poll brought into the cache. */
static void apply_one(const struct config *c, const char *app,
		      const struct repo_poll *p, bool dry_run, struct app_run *ar)
{
	struct apply_opts o = { 0 };
	struct apply_outcome out;
	struct err e;

	err_clear(&e);
	o.dry_run = dry_run;
	o.expect_app = p->ch.app;
	o.expect_version = p->ch.version;
	o.expect_sha256 = p->ch.manifest_sha256;
	o.allow_downgrade = p->ch.downgrade;
	o.quiet_if_current = true;
	ar->code = apply_release(c, p->release_dir, &o, &out, &e);
	ar->changed = out.changed;
	ar->acted |= out.changed || !strcmp(out.result, "refused");
	if (ar->code != EXIT_OK)
		say_error(&e);
	else if (out.changed && !p->installed[0])
		printf("%s: installed %s\n", app, p->ch.version);
	else if (out.changed)
		printf("%s: %s %s -> %s\n", app,
		       semver_cmp_str(p->ch.version, p->installed) < 0 ? "downgraded" : "upgraded",
		       p->installed, p->ch.version);
	if (ar->code == EXIT_OK && !dry_run)
		repo_cache_drop(c, app);
	if ((ar->code == EXIT_ROLLED_BACK || ar->code == EXIT_ROLLBACK_FAILED) && !dry_run)
		repo_mark_failed(c, app, p->ch.version, p->ch.serial);
}

/* Record a refusal of app (why, of class cause, caused by server; "" for
 * none) unless one of the same class from the same server is recorded
 * since the app last polled clean: a bad file stays on a server until
 * someone acts, and a man in the middle can vary the message at will,
 * but a cron tick a minute must not add a record (and a whole-log upload)
 * a minute. Every run still says it on stderr and exits 77. Returns
 * whether it was recorded. */
static bool record_refusal(const struct config *c, const char *app, const char *version,
			   enum repo_cause cause, const char *server, const struct err *why)
{
	const char *cls = repo_cause_name(cause);
	struct err rec;

	if (state_refused_seen(c->state_dir, app, cls, server))
		return false;
	if (apply_record_refusal(c, app, version, why, &rec) < 0 ||
	    state_refused_add(c->state_dir, app, cls, server, &rec) < 0)
		say_error(&rec);
	return true;
}

/* Record each server that lied during the poll (once per class and
 * server); a lie the poll got past through another server is a warning. */
static bool record_lies(const struct config *c, const char *app,
			const struct repo_poll *p, bool polled)
{
	const char *version = p->have_channel ? p->ch.version : "";
	bool recorded = false;
	struct err why;
	size_t i;

	for (i = 0; i < p->nlies; i++) {
		const struct repo_lie *l = &p->lies[i];

		err_set(&why, EXIT_TRUST, "%s: %s", app, l->msg);
		if (record_refusal(c, app, version, l->cause, l->server, &why)) {
			recorded = true;
			if (polled)
				fprintf(stderr, "upgr: warning: %s (another server served "
					"a good one)\n", why.msg);
		}
	}
	return recorded;
}

static void poll_one(struct repo *r, const char *app, bool dry_run, struct app_run *ar)
{
	const struct config *c = r->c;
	struct repo_poll p;
	struct err e;
	int rc;

	err_clear(&e);
	rc = repo_poll_app(r, app, &p, &e);
	if (!dry_run)
		ar->acted = record_lies(c, app, &p, rc == 0);
	if (rc < 0) {
		ar->code = e.code ? e.code : EXIT_SOFTWARE;
		say_error(&e);
		if (ar->code == EXIT_UNAVAILABLE)
			snprintf(ar->error, sizeof ar->error, "%s", e.msg);
		if ((ar->code == EXIT_TRUST || ar->code == EXIT_DATAERR) && !dry_run &&
		    !p.all_lied)
			ar->acted |= record_refusal(c, app, p.have_channel ? p.ch.version : "",
						    p.cause, "", &e);
		goto done;
	}
	switch (p.state) {
	case REPO_CURRENT:
		if (dry_run)
			printf("%s: %s is installed and current\n", app, p.installed);
		break;
	case REPO_WAIT:
		if (dry_run)
			printf("%s: %s is available, not yet: %s\n", app, p.ch.version, p.why);
		break;
	case REPO_READY:
		apply_one(c, app, &p, dry_run, ar);
		break;
	}
	/* Something succeeded: the refusals recorded so far are forgotten (a
	 * mirror that keeps lying is then recorded once more, on the next
	 * tick). */
	if (!dry_run && (p.nlies == 0 || (ar->changed && ar->code == EXIT_OK)) &&
	    state_refused_clear(c->state_dir, app, &e) < 0)
		say_error(&e);
done:
	repo_poll_release(&p);
}

/* Each app's state for the report, with this run's transient errors. */
static void report(struct repo *r, const struct app_run *runs)
{
	const struct config *c = r->c;
	struct app_status *st = xcalloc(c->napps, sizeof *st);
	bool acted = false, reached = false;
	struct err e;
	size_t i;

	for (i = 0; i < c->napps; i++) {
		bool have;

		acted |= runs[i].acted;
		reached |= runs[i].code != EXIT_UNAVAILABLE;
		if (state_status_read(c->state_dir, c->apps[i], &st[i], &have, &e) < 0)
			memset(&st[i], 0, sizeof st[i]);
		snprintf(st[i].app, sizeof st[i].app, "%s", c->apps[i]);
		if (runs[i].error[0]) {
			snprintf(st[i].action, sizeof st[i].action, "poll");
			snprintf(st[i].result, sizeof st[i].result, "unavailable");
			snprintf(st[i].error, sizeof st[i].error, "%s", runs[i].error);
			state_now(st[i].time);
		}
	}
	/* No server answered: the report would not go up either. */
	if (reached && report_due(c, acted) && report_send(r, st, c->napps, &e) < 0)
		say_error(&e);
	free(st);
}

static int agent(const struct run_opts *ro)
{
	struct config c;
	struct repo r;
	struct app_run *runs = NULL;
	struct err e;
	int rc, lockfd = -1;
	size_t i;

	if ((rc = cmd_load_config(ro->config, ro->root, &c)))
		return rc;
	if (!c.nservers || !c.napps) {
		fprintf(stderr, "upgr: %s: the agent needs %s; name them in the config\n", c.path,
			!c.nservers && !c.napps ? "'servers:' and 'apps:'" :
			!c.nservers ? "'servers:'" : "'apps:'");
		config_release(&c);
		return EXIT_DATAERR;
	}
	memset(&r, 0, sizeof r);
	err_clear(&e);
	if (ro->dry_run)
		rc = state_lock(c.state_dir, &lockfd, &e) < 0 ? cli_fail(&e) : EXIT_OK;
	else
		rc = cmd_lock_and_recover(&c, true, &lockfd);
	if (rc)
		goto done;
	if (repo_open(&r, &c, !ro->dry_run && isatty(STDERR_FILENO), ro->dry_run, &e) < 0) {
		rc = e.code ? e.code : EXIT_SOFTWARE;
		say_error(&e);
		/* No trusted key: every app is refused (a netrc others can
		 * read is a config problem, not a refusal). */
		for (i = 0; i < c.napps && !ro->dry_run && rc == EXIT_TRUST; i++)
			record_refusal(&c, c.apps[i], "", REPO_CAUSE_POLICY, "", &e);
		goto done;
	}
	runs = xcalloc(c.napps, sizeof *runs);
	for (i = 0; i < c.napps; i++) {
		poll_one(&r, c.apps[i], ro->dry_run, &runs[i]);
		rc = worse(rc, runs[i].code);
	}
	if (!ro->dry_run)
		report(&r, runs);
done:
	free(runs);
	repo_close(&r);
	state_unlock(lockfd);
	config_release(&c);
	return rc;
}

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
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
	splay_sleep(ro.splay);
	return agent(&ro);
}

const struct command cmd_run = {
	"run", run,
	"usage: upgr [run] [-c CONFIG] [--root DIR] [--dry-run] [--splay SECONDS]\n"
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
	"      --splay SECS   first sleep a random time up to SECS, to spread a\n"
	"                     fleet's cron ticks\n"
	"  -h, --help         this text\n"
	"\n"
	"exit: the worst across the apps, most urgent first: 3 rollback failed,\n"
	"77 trust check failed, 65 invalid data, 1 rolled back, 70 internal\n"
	"error, 69 no server answered, 0 upgraded, current or waiting; 75 when\n"
	"another upgr holds the lock, 2 usage\n",
	"poll the servers, upgrade, report (the cron agent; the default command)",
};
