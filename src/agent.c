/* The cron agent's tick: poll, apply, de-duplicate refusals, report.
 * The contract is in agent.h. */
#include "agent.h"
#include "apply.h"
#include "repo.h"
#include "report.h"
#include "state.h"
#include "version.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int agent_worse(int a, int b)
{
	return severity(b) > severity(a) ? b : a;
}

static void say(const struct agent_opts *o, enum agent_say kind, const char *fmt, ...)
	UPGR_PRINTF(3, 4);

static void say(const struct agent_opts *o, enum agent_say kind, const char *fmt, ...)
{
	char line[ERR_MSG_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	o->say(o->ctx, kind, line);
}

/* Say e as one line, whatever its message holds. */
static void say_error(const struct agent_opts *o, const struct err *e)
{
	char line[ERR_MSG_MAX];
	size_t i;

	snprintf(line, sizeof line, "%s", e->msg[0] ? e->msg : "failed");
	for (i = 0; line[i]; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	o->say(o->ctx, AGENT_ERROR, line);
}

/* Say what the apply changed. */
static void say_change(const struct agent_opts *o, const char *app, const struct repo_poll *p)
{
	if (!p->installed[0])
		say(o, AGENT_OUT, "%s: installed %s", app, p->ch.version);
	else
		say(o, AGENT_OUT, "%s: %s %s -> %s", app,
		    semver_cmp_str(p->ch.version, p->installed) < 0 ? "downgraded" : "upgraded",
		    p->installed, p->ch.version);
}

/* Hand what apply_release returned to o->say, a line at a time. */
static void say_msgs(const struct agent_opts *o, const struct msgs *m)
{
	static const enum agent_say kinds[] = {
		[MSG_OUT] = AGENT_OUT, [MSG_WARNING] = AGENT_WARNING,
		[MSG_ERROR] = AGENT_ERROR, [MSG_TEXT] = AGENT_OUT,
	};
	size_t i;

	for (i = 0; i < m->n; i++) {
		char *line = m->v[i].text, *nl;

		if (m->v[i].kind != MSG_TEXT) {
			o->say(o->ctx, kinds[m->v[i].kind], line);
			continue;
		}
		for (; *line; line = nl + 1) {
			if (!(nl = strchr(line, '\n'))) {
				o->say(o->ctx, AGENT_OUT, line);
				break;
			}
			*nl = '\0';
			o->say(o->ctx, AGENT_OUT, line);
			*nl = '\n';
		}
	}
}

/* Apply the release the poll brought into the cache. */
static void apply_one(const struct config *c, const char *app, const struct repo_poll *p,
		      const struct agent_opts *ao, struct app_run *ar)
{
	struct apply_opts o = { 0 };
	struct apply_outcome out;
	struct err e;

	err_clear(&e);
	o.dry_run = ao->dry_run;
	o.expect_app = p->ch.app;
	o.expect_version = p->ch.version;
	o.expect_sha256 = p->ch.manifest_sha256;
	o.allow_downgrade = p->ch.downgrade;
	o.quiet_if_current = true;
	ar->code = apply_release(c, p->release_dir, &o, &out, &e);
	say_msgs(ao, &out.msgs);
	msgs_release(&out.msgs);
	ar->changed = out.changed;
	ar->acted |= out.changed || !strcmp(out.result, "refused");
	if (ar->code != EXIT_OK)
		say_error(ao, &e);
	else if (out.changed)
		say_change(ao, app, p);
	if (ar->code == EXIT_OK && !ao->dry_run)
		repo_cache_drop(c, app);
	if ((ar->code == EXIT_ROLLED_BACK || ar->code == EXIT_ROLLBACK_FAILED) && !ao->dry_run)
		repo_mark_failed(c, app, p->ch.version, p->ch.serial);
}

/* Record a refusal of app (why, of class cause, caused by server; "" for
 * none) unless one of the same class from the same server is recorded
 * since the app last polled clean: a bad file stays on a server until
 * someone acts, and a man in the middle can vary the message at will,
 * but a cron tick a minute must not add a record (and a whole-log upload)
 * a minute. Every run still says it and exits 77. Returns whether it was
 * recorded. */
static bool record_refusal(const struct config *c, const struct agent_opts *o,
			   const char *app, const char *version,
			   enum repo_cause cause, const char *server, const struct err *why)
{
	const char *cls = repo_cause_name(cause);
	struct err rec;

	if (state_refused_seen(c->state_dir, app, cls, server))
		return false;
	if (apply_record_refusal(c, app, version, why, &rec) < 0 ||
	    state_refused_add(c->state_dir, app, cls, server, &rec) < 0)
		say_error(o, &rec);
	return true;
}

/* Record each server that lied during the poll (once per class and
 * server); a lie the poll got past through another server is a warning. */
static bool record_lies(const struct config *c, const struct agent_opts *o,
			const char *app, const struct repo_poll *p, bool polled)
{
	const char *version = p->have_channel ? p->ch.version : "";
	bool recorded = false;
	struct err why;
	size_t i;

	for (i = 0; i < p->nlies; i++) {
		const struct repo_lie *l = &p->lies[i];

		err_set(&why, EXIT_TRUST, "%s: %s", app, l->msg);
		if (record_refusal(c, o, app, version, l->cause, l->server, &why)) {
			recorded = true;
			if (polled)
				say(o, AGENT_WARNING, "%s (another server served a good one)",
				    why.msg);
		}
	}
	return recorded;
}

/* The poll failed with e: say it, keep a transient error for the report,
 * record a refusal no lying server already accounts for. */
static void poll_failed(const struct config *c, const struct agent_opts *o, const char *app,
			const struct repo_poll *p, const struct err *e, struct app_run *ar)
{
	ar->code = e->code ? e->code : EXIT_SOFTWARE;
	say_error(o, e);
	if (ar->code == EXIT_UNAVAILABLE)
		snprintf(ar->error, sizeof ar->error, "%s", e->msg);
	if ((ar->code == EXIT_TRUST || ar->code == EXIT_DATAERR) && !o->dry_run &&
	    !p->all_lied)
		ar->acted |= record_refusal(c, o, app, p->have_channel ? p->ch.version : "",
					    p->cause, "", e);
}

static void poll_one(struct repo *r, const char *app, const struct agent_opts *o,
		     struct app_run *ar)
{
	const struct config *c = r->c;
	struct repo_poll p;
	struct err e;
	int rc;

	err_clear(&e);
	rc = repo_poll_app(r, app, &p, &e);
	if (!o->dry_run)
		ar->acted = record_lies(c, o, app, &p, rc == 0);
	if (rc < 0) {
		poll_failed(c, o, app, &p, &e, ar);
		goto done;
	}
	switch (p.state) {
	case REPO_CURRENT:
		if (o->dry_run)
			say(o, AGENT_OUT, "%s: %s is installed and current", app, p.installed);
		break;
	case REPO_WAIT:
		if (o->dry_run)
			say(o, AGENT_OUT, "%s: %s is available, not yet: %s", app,
			    p.ch.version, p.why);
		break;
	case REPO_READY:
		apply_one(c, app, &p, o, ar);
		break;
	}
	/* Something succeeded: the refusals recorded so far are forgotten (a
	 * mirror that keeps lying is then recorded once more, on the next
	 * tick). */
	if (!o->dry_run && (p.nlies == 0 || (ar->changed && ar->code == EXIT_OK)) &&
	    state_refused_clear(c->state_dir, app, &e) < 0)
		say_error(o, &e);
done:
	repo_poll_release(&p);
}

/* Each app's state for the report, with this run's transient errors. */
static void report(struct repo *r, const struct agent_opts *o, const struct app_run *runs)
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
		say_error(o, &e);
	free(st);
}

int agent_run(const struct config *c, const struct agent_opts *o)
{
	struct app_run *runs = NULL;
	struct repo r;
	struct err e;
	int rc = EXIT_OK;
	size_t i;

	memset(&r, 0, sizeof r);
	err_clear(&e);
	if (repo_open(&r, c, o->progress, o->dry_run, &e) < 0) {
		rc = e.code ? e.code : EXIT_SOFTWARE;
		say_error(o, &e);
		/* No trusted key: every app is refused (a netrc others can
		 * read is a config problem, not a refusal). */
		for (i = 0; i < c->napps && !o->dry_run && rc == EXIT_TRUST; i++)
			record_refusal(c, o, c->apps[i], "", REPO_CAUSE_POLICY, "", &e);
		goto done;
	}
	runs = xcalloc(c->napps, sizeof *runs);
	for (i = 0; i < c->napps; i++) {
		poll_one(&r, c->apps[i], o, &runs[i]);
		rc = agent_worse(rc, runs[i].code);
	}
	if (!o->dry_run)
		report(&r, o, runs);
done:
	free(runs);
	repo_close(&r);
	return rc;
}
