/* SPDX-License-Identifier: Apache-2.0 */
/* The cron agent's tick: poll, apply, de-duplicate refusals, report.
 * The contract is in agent.h. */
#include "agent.h"
#include "alert.h"
#include "apply.h"
#include "buf.h"
#include "fsutil.h"
#include "metrics.h"
#include "prestage.h"
#include "repo.h"
#include "report.h"
#include "runlog.h"
#include "state.h"
#include "transport.h"
#include "version.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One app's outcome this run, for the exit code and the report. */
struct app_run {
	int code;                 /* exit code */
	bool changed;             /* installed, upgraded or rolled back */
	bool acted;               /* changed or refused: worth a report */
	char error[ERR_MSG_MAX];  /* this run's transient error (69), else "" */
	char outcome[16];         /* the syslog line's word: current, held, success, ... */
	char version[64];         /* installed after this run, "" when none */
	char problem[STATE_NOTE_MAX];   /* the poll failure's class (alert.h), "" */
	char problem_msg[ERR_MSG_MAX];  /* and its message, said once under cron */
	long downtime_ms;
	uint64_t fetched_bytes;   /* payload bytes downloaded this run */
	char available[64];       /* the channel's version, "" when none */
	char why[256];            /* waiting: the reason */
	char *plan;               /* dry run --json: the plan's JSON, or NULL */
	char failure[ERR_MSG_MAX];  /* the apply's error, one line, "" */
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

/* e's message as one line, whatever it holds. */
static void one_line(char line[ERR_MSG_MAX], const struct err *e)
{
	size_t i;

	snprintf(line, ERR_MSG_MAX, "%s", e->msg[0] ? e->msg : "failed");
	for (i = 0; line[i]; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
}

static void say_error(const struct agent_opts *o, const struct err *e)
{
	char line[ERR_MSG_MAX];

	one_line(line, e);
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

/* A dry run with --json: the plan's JSON (the first text apply_release
 * returned) goes into the run's document, not out line by line. */
static void take_plan(struct msgs *m, struct app_run *ar)
{
	size_t i;

	for (i = 0; i < m->n && m->v[i].kind != MSG_TEXT; i++)
		;
	if (i == m->n)
		return;
	ar->plan = m->v[i].text;
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof *m->v);
	m->n--;
}

/* Apply the release the poll brought into the cache. */
static void apply_one(const struct config *c, const char *app, const struct repo_poll *p,
		      const struct agent_opts *ao, struct app_run *ar)
{
	struct apply_opts o = { 0 };
	struct apply_outcome out;
	char *server = p->have_server ? xfer_url_redact(c->servers[p->server]) : NULL;
	struct err e;

	err_clear(&e);
	o.server = server;
	o.dry_run = ao->dry_run;
	o.json = ao->json;
	o.diff = ao->diff;
	o.expect_app = p->ch.app;
	o.expect_version = p->ch.version;
	o.expect_sha256 = p->ch.manifest_sha256;
	o.allow_downgrade = p->ch.downgrade;
	o.quiet_if_current = true;
	o.seen = p->scan;
	ar->code = apply_release(c, p->release_dir, &o, &out, &e);
	if (ao->json)
		take_plan(&out.msgs, ar);
	say_msgs(ao, &out.msgs);
	msgs_release(&out.msgs);
	ar->changed = out.changed;
	ar->downtime_ms = out.downtime_ms;
	snprintf(ar->outcome, sizeof ar->outcome, "%s", out.result);
	if (ar->code == EXIT_OK && out.changed)
		snprintf(ar->version, sizeof ar->version, "%s", p->ch.version);
	ar->acted |= out.changed || !strcmp(out.result, "refused");
	if (ar->code != EXIT_OK) {
		one_line(ar->failure, &e);
		say_error(ao, &e);
	} else if (out.changed)
		say_change(ao, app, p);
	if (ar->code == EXIT_OK && !ao->dry_run)
		repo_cache_drop(c, app);
	if ((ar->code == EXIT_ROLLED_BACK || ar->code == EXIT_ROLLBACK_FAILED) && !ao->dry_run)
		repo_mark_failed(c, app, p->ch.version, p->ch.serial);
	free(server);
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

/* The class of a failed poll on channel, for alert_problem: "unavailable",
 * "trust CAUSE", "invalid CAUSE" or "error", then ", channel CHANNEL". */
static void problem_key(const struct repo_poll *p, int code, const char *channel,
			char key[STATE_NOTE_MAX])
{
	enum repo_cause cause = p->all_lied && p->nlies ? p->lies[0].cause : p->cause;
	const char *cls = code == EXIT_TRUST ? "trust " : code == EXIT_DATAERR ? "invalid " : "";

	snprintf(key, STATE_NOTE_MAX, "%s%s, channel %s", cls,
		 code == EXIT_UNAVAILABLE ? "unavailable" : p->local ? "installed manifest" :
		 cls[0] ? repo_cause_name(cause) : "error", channel);
}

/* The poll failed with e: keep it as the app's problem (said by
 * settle_problem), keep a transient error for the report, record a
 * refusal no lying server already accounts for. */
static void poll_failed(const struct config *c, const struct agent_opts *o, const char *app,
			const struct repo_poll *p, const struct err *e, struct app_run *ar)
{
	ar->code = e->code ? e->code : EXIT_SOFTWARE;
	one_line(ar->problem_msg, e);
	problem_key(p, ar->code, c->channel, ar->problem);
	snprintf(ar->outcome, sizeof ar->outcome, "%s", ar->code == EXIT_UNAVAILABLE ?
		 "unavailable" : ar->code == EXIT_SOFTWARE || p->local ? "error" : "refused");
	if (ar->code == EXIT_UNAVAILABLE || p->local)
		snprintf(ar->error, sizeof ar->error, "%s", e->msg);
	/* A server's data refused; this host's own broken state is an error. */
	if ((ar->code == EXIT_TRUST || ar->code == EXIT_DATAERR) && !o->dry_run &&
	    !p->all_lied && !p->local)
		ar->acted |= record_refusal(c, o, app, p->have_channel ? p->ch.version : "",
					    p->cause, "", e);
}

/* The release is verified in the cache: apply it now, or leave it staged
 * or waiting (prestage.h; said on a terminal, quiet under cron). */
static void gated_apply(struct repo *r, const char *app, const struct repo_poll *p,
			const struct agent_opts *o, struct app_run *ar)
{
	const char *st;
	struct prestage ps;
	struct err e;

	err_clear(&e);
	if (prestage_gate(r, app, p->release_dir, &ps, &e) < 0) {
		poll_failed(r->c, o, app, p, &e, ar);
		return;
	}
	st = ps.verdict == PRESTAGE_STAGED ? "staged" : ps.verdict == PRESTAGE_WAITING ?
	     "waiting" : "";
	if (!o->dry_run)
		ar->acted |= prestage_note(r->c->state_dir, app, st, ps.why, p->ch.version);
	if (st[0]) {
		snprintf(ar->outcome, sizeof ar->outcome, "%s", st);
		buf_fixedf(ar->why, sizeof ar->why, "%s", ps.why);
		if (!o->once)
			say(o, AGENT_OUT, "%s: %s %s: %s", app, p->ch.version, st, ps.why);
		return;
	}
	apply_one(r->c, app, p, o, ar);
	if (prestage_done(r, &ps, &e) < 0)
		say_error(o, &e);
}

/* Read app's hold into h (*have); a rollback's hold ends when the channel
 * names a version other than the one rolled back from (also the version
 * restored: the channel caught up). */
static void read_hold(const struct config *c, const struct agent_opts *o, const char *app,
		      const struct repo_poll *p, struct app_hold *h, bool *have)
{
	struct err e;

	if (state_hold_read(c->state_dir, app, h, have, &e) < 0) {
		say_error(o, &e);
		*have = true;      /* unreadable: do not upgrade past it */
		return;
	}
	if (*have && !state_hold_applies(h, p->ch.version)) {
		*have = false;
		if (!o->dry_run && state_hold_clear(c->state_dir, app, &e) < 0)
			say_error(o, &e);
	}
}

/* Whether a hold keeps app where it is this tick (said under --dry-run;
 * quiet under cron). */
static bool held(const struct config *c, const struct agent_opts *o, const char *app,
		 const struct repo_poll *p)
{
	struct app_hold h;
	bool have;

	read_hold(c, o, app, p, &h, &have);
	if (have && o->dry_run)
		say(o, AGENT_OUT, "%s: held at %s (%s, by %s at %s); %s is available: "
		    "upgr unhold %s", app, h.version, h.reason, h.user, h.time, p->ch.version, app);
	return have;
}

/* The installed version, from the status, when the poll failed before
 * it looked. */
static void installed_version(const struct config *c, const char *app, struct app_run *ar)
{
	struct app_status st;
	struct err e;
	bool have;

	if (!ar->version[0] && state_status_read(c->state_dir, app, &st, &have, &e) == 0)
		snprintf(ar->version, sizeof ar->version, "%s", st.version);
}

/* Say the app's problem this tick (alert.h): every time on a terminal;
 * under cron when it starts or changes (or a new refusal was recorded),
 * and once when it clears. */
static void settle_problem(const struct config *c, const struct agent_opts *o,
			   const char *app, const struct app_run *ar)
{
	char was[STATE_NOTE_MAX];
	enum alert_verdict v;
	struct err e;
	int rc;

	v = alert_problem(c->state_dir, app, ar->problem, !o->dry_run, was, &rc, &e);
	if (ar->problem[0] && (!o->once || v == ALERT_NEW || ar->acted))
		o->say(o->ctx, AGENT_ERROR, ar->problem_msg);
	else if (v == ALERT_CLEARED && o->once)
		say(o, AGENT_OUT, "%s: recovered (was: %s)", app, was);
	if (rc < 0)
		say_error(o, &e);
}

/* Warn of a channel about to expire (once a day under cron). */
static void warn_expiry(const struct repo *r, const struct agent_opts *o, const char *app,
			const struct repo_poll *p)
{
	char t[32];
	long left = (long)(p->ch.expires - r->now);

	if (!p->have_channel || !alert_expiry_due(r->c->state_dir, app, p->ch.expires, r->now,
						  r->c->expiry_warning, o->once, !o->dry_run))
		return;
	channel_time_format(p->ch.expires, t);
	say(o, AGENT_WARNING, "%s: channel %s expires at %s (in %ldh %02ldm); the publisher "
	    "must sign a fresh one", app, p->ch.channel, t, left / 3600, left % 3600 / 60);
}

/* The app's status as it was before this poll. */
static void status_keep(const struct config *c, const char *app, struct app_status *was,
			bool *had)
{
	struct err e;

	if (state_status_read(c->state_dir, app, was, had, &e) < 0)
		*had = false;
	if (!*had) {
		memset(was, 0, sizeof *was);
		snprintf(was->app, sizeof was->app, "%s", app);
	}
}

/* A lie the poll got past through another server is in the audit log,
 * but it is not what happened to the app: its status goes back to what
 * it said before (the liar is listed by record_servers). */
static void status_restore(const struct config *c, const struct agent_opts *o,
			   const struct app_status *was, bool had)
{
	struct err e;
	char *path;

	if (had) {
		if (state_status_write(c->state_dir, was, &e) < 0)
			say_error(o, &e);
		return;
	}
	path = state_app_file(c->state_dir, was->app, STATE_STATUS);
	unlink(path);
	free(path);
}

/* The servers of this poll, kept in the status (the one that answered
 * last, kept when none did; each that failed it: did not answer, or
 * served a file that failed a check). One that did not answer while
 * another served is said on a terminal; under cron it is not a problem
 * of the app's (alert.h), and the status and the report show it. */
static void record_servers(const struct repo *r, const struct agent_opts *o, const char *app,
			   const struct repo_poll *p)
{
	const struct config *c = r->c;
	struct buf failed = BUF_INIT;
	struct app_status was;
	char *used = p->have_server ? xfer_url_redact(c->servers[p->server]) : NULL;
	bool had;
	struct err e;
	size_t i;

	for (i = 0; i < p->ndown; i++) {
		char *u = xfer_url_redact(c->servers[p->down[i].server]);

		buf_addf(&failed, "%sserver %zu (%s) unreachable (%s)", failed.len ? "; " : "",
			 p->down[i].server + 1, u, p->down[i].why);
		if (used && !o->once)
			say(o, AGENT_WARNING, "%s: server %zu (%s) unreachable (%s), used server %zu (%s)",
			    app, p->down[i].server + 1, u, p->down[i].why, p->server + 1, used);
		free(u);
	}
	for (i = 0; i < p->nlies; i++)
		buf_addf(&failed, "%s%s", failed.len ? "; " : "", p->lies[i].msg);
	status_keep(c, app, &was, &had);
	if (!o->dry_run && state_set_servers(c->state_dir, app, used ? used : was.server,
					     failed.data ? failed.data : "", &e) < 0)
		say_error(o, &e);
	buf_release(&failed);
	free(used);
}

/* What the poll found, in the status (state.h, state_set_poll): current,
 * waiting and why, held; "" after a failed apply. */
static void record_state(const struct config *c, const struct agent_opts *o, const char *app,
			 const struct app_run *ar)
{
	const char *st = ar->outcome;
	struct err e;
	int rc;

	/* A staged release's state is prestage_note's (gated_apply). */
	if (o->dry_run || !strcmp(st, "staged"))
		return;
	if (!strcmp(st, "waiting"))
		rc = state_set_waiting(c->state_dir, app, ar->why, &e);
	else
		rc = state_set_poll(c->state_dir, app, !strcmp(st, "success") ? "current" :
				    !strcmp(st, "current") || !strcmp(st, "held") ? st : "", "", &e);
	if (rc < 0)
		say_error(o, &e);
}

static void poll_one(struct repo *r, const char *app, const struct agent_opts *o,
		     struct app_run *ar)
{
	const struct config *c = r->c;
	struct app_status was;
	struct repo_poll p;
	uint64_t before = repo_received(r);
	struct err e;
	bool had;
	int rc;

	err_clear(&e);
	status_keep(c, app, &was, &had);
	rc = repo_poll_app(r, app, &p, &e);
	if (!o->dry_run)
		ar->acted = record_lies(c, o, app, &p, rc == 0);
	if (!o->dry_run && rc == 0 && ar->acted)
		status_restore(c, o, &was, had);
	record_servers(r, o, app, &p);
	snprintf(ar->version, sizeof ar->version, "%s", p.installed);
	if (p.have_channel)
		snprintf(ar->available, sizeof ar->available, "%s", p.ch.version);
	if (rc < 0) {
		installed_version(c, app, ar);
		poll_failed(c, o, app, &p, &e, ar);
		goto done;
	}
	warn_expiry(r, o, app, &p);
	snprintf(ar->outcome, sizeof ar->outcome, "%s",
		 p.state == REPO_CURRENT ? "current" : p.state == REPO_WAIT ? "waiting" : "held");
	switch (p.state) {
	case REPO_CURRENT: {
		struct app_hold h;
		bool have;

		read_hold(c, o, app, &p, &h, &have);   /* a rollback's hold may end here */
		if (o->dry_run)
			say(o, AGENT_OUT, "%s: %s is installed and current", app, p.installed);
		break;
	}
	case REPO_WAIT:
		if (o->dry_run)
			say(o, AGENT_OUT, "%s: %s is available, not yet: %s", app,
			    p.ch.version, p.why);
		break;
	case REPO_HELD:
		held(c, o, app, &p);
		break;
	case REPO_READY:
		if (held(c, o, app, &p))
			break;
		/* What this poll downloaded: the payload, or only the objects. */
		ar->fetched_bytes = repo_received(r) - before;
		gated_apply(r, app, &p, o, ar);
		break;
	}
	if (p.state == REPO_WAIT)
		snprintf(ar->why, sizeof ar->why, "%s", p.why);
	/* A pre-stage this poll no longer leads to is forgotten (only then:
	 * record_state writes state and waiting anyway). */
	if (p.state != REPO_READY && !o->dry_run && was.staged[0])
		prestage_note(c->state_dir, app, "", "", "");
	record_state(c, o, app, ar);
	/* Something succeeded: the refusals recorded so far are forgotten (a
	 * mirror that keeps lying is then recorded once more, on the next
	 * tick). */
	if (!o->dry_run && (p.nlies == 0 || (ar->changed && ar->code == EXIT_OK)) &&
	    state_refused_clear(c->state_dir, app, &e) < 0)
		say_error(o, &e);
done:
	settle_problem(c, o, app, ar);
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

/* The run's one syslog line: "exit 0: hello current 1.0.0; web held 2.1.0". */
static void log_run(const struct config *c, const struct app_run *runs, int rc)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_addf(&b, "run exit %d:", rc);
	for (i = 0; i < c->napps; i++)
		buf_addf(&b, "%s %s %s%s%s", i ? ";" : "", c->apps[i],
			 runs[i].outcome[0] ? runs[i].outcome : "error",
			 runs[i].version[0] ? " " : "", runs[i].version);
	for (i = 0; i < c->napps && !runs[i].problem_msg[0]; i++)
		;
	if (i < c->napps)      /* the first problem, in its words (naming its app) */
		buf_addf(&b, " (%s)", runs[i].problem_msg);
	runlog_send(rc, b.data);
	buf_release(&b);
}

/* Runs in a row that did not exit 0, counted in STATE/apps/APP/failures. */
static unsigned count_failures(const struct config *c, const char *app, int code)
{
	char note[STATE_NOTE_MAX];
	unsigned long n;
	struct err e;

	state_note_read(c->state_dir, app, STATE_FAILURES, note);
	n = code == EXIT_OK ? 0 : strtoul(note, NULL, 10) + 1;
	if (n)                   /* "" removes the note */
		snprintf(note, sizeof note, "%lu", n);
	else
		note[0] = '\0';
	(void)state_note_write(c->state_dir, app, STATE_FAILURES, note, &e);
	return (unsigned)n;
}

/* Rewrite the config's metrics_file (metrics.h) for this run. */
static void write_metrics(const struct config *c, const struct agent_opts *o,
			  const struct app_run *runs)
{
	struct metrics_app *m = xcalloc(c->napps ? c->napps : 1, sizeof *m);
	struct timespec ts;
	struct app_hold h;
	struct err e;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (i = 0; i < c->napps; i++) {
		m[i].app = c->apps[i];
		m[i].version = runs[i].version;
		m[i].exit_code = runs[i].code;
		if (state_hold_read(c->state_dir, c->apps[i], &h, &m[i].held, &e) < 0)
			m[i].held = false;
		m[i].time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		m[i].downtime_seconds = runs[i].downtime_ms / 1000.0;
		m[i].fetched_bytes = runs[i].fetched_bytes;
		m[i].consecutive_failures = count_failures(c, c->apps[i], runs[i].code);
	}
	if (c->metrics_file && metrics_write(c->metrics_file, m, c->napps, &e) < 0)
		say_error(o, &e);
	free(m);
}

/* repo_open failed with e (code): every app's run did. With no trusted
 * key every app is refused (a netrc others can read is a config
 * problem, not a refusal). Said once for all the apps, under cron only
 * when it is new to one of them (alert.h). */
static void all_failed(const struct config *c, const struct agent_opts *o,
		       struct app_run *runs, int code, const struct err *e)
{
	char was[STATE_NOTE_MAX];
	bool new = !o->once;
	struct err we;
	size_t i;
	int rc;

	for (i = 0; i < c->napps; i++) {
		runs[i].code = code;
		snprintf(runs[i].outcome, sizeof runs[i].outcome, "refused");
		snprintf(runs[i].problem, sizeof runs[i].problem, "%s", code == EXIT_TRUST ?
			 "trust policy" : "config");
		one_line(runs[i].problem_msg, e);
		installed_version(c, c->apps[i], &runs[i]);
		if (!o->dry_run && code == EXIT_TRUST)
			new |= record_refusal(c, o, c->apps[i], "", REPO_CAUSE_POLICY, "", e);
		new |= alert_problem(c->state_dir, c->apps[i], runs[i].problem, !o->dry_run,
				     was, &rc, &we) == ALERT_NEW;
		if (rc < 0)
			say_error(o, &we);
	}
	if (new || !c->napps)
		say_error(o, e);
}

/* One app's entry in the dry run's JSON document (agent.h). */
static void json_app(struct buf *b, const char *app, const struct app_run *ar)
{
	static const char *const keys[] = { "app", "state", "installed", "available", "why",
					    "error" };
	const char *vals[] = { app, ar->plan ? "ready" : ar->outcome[0] ? ar->outcome : "error",
			       ar->version, ar->available, ar->why,
			       ar->problem_msg[0] ? ar->problem_msg : ar->failure };
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		buf_addf(b, "%s\"%s\": ", i ? ", " : "{", keys[i]);
		buf_add_quoted(b, vals[i]);
	}
	buf_addf(b, ", \"exit\": %d, \"plan\": ", ar->code);
	if (ar->plan) {
		size_t n = strlen(ar->plan);

		buf_add(b, ar->plan, n && ar->plan[n - 1] == '\n' ? n - 1 : n);
	} else {
		buf_adds(b, "null");
	}
	buf_adds(b, "}");
}

static void say_json(const struct config *c, const struct agent_opts *o,
		     const struct app_run *runs)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_adds(&b, "{\"host\": ");
	buf_add_quoted(&b, c->host);
	buf_adds(&b, ", \"apps\": [");
	for (i = 0; i < c->napps; i++) {
		buf_adds(&b, i ? ",\n  " : "\n  ");
		json_app(&b, c->apps[i], &runs[i]);
	}
	buf_adds(&b, c->napps ? "\n]}" : "]}");
	o->say(o->ctx, AGENT_DOC, b.data);
	buf_release(&b);
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
	runs = xcalloc(c->napps ? c->napps : 1, sizeof *runs);
	if (repo_open(&r, c, o->progress, o->dry_run, &e) < 0) {
		rc = e.code ? e.code : EXIT_SOFTWARE;
		all_failed(c, o, runs, rc, &e);
		goto done;
	}
	if (!o->dry_run && prestage_recovered(&r, &e) < 0)
		say_error(o, &e);
	if (c->trust_root && c->ntrusted_keys)
		say(o, AGENT_WARNING, "%s: trust_root is set, so trusted_keys is not used; "
		    "remove it", c->path);
	for (i = 0; i < c->napps; i++) {
		poll_one(&r, c->apps[i], o, &runs[i]);
		rc = agent_worse(rc, runs[i].code);
	}
	if (repo_root_warning(&r)) {
		say(o, AGENT_WARNING, "%s", r.root_warning);
		repo_root_warned(&r);
	}
	if (!o->dry_run)
		report(&r, o, runs);
done:
	if (!o->dry_run) {
		log_run(c, runs, rc);
		write_metrics(c, o, runs);
	}
	if (o->json)
		say_json(c, o, runs);
	for (i = 0; i < c->napps; i++)
		free(runs[i].plan);
	free(runs);
	repo_close(&r);
	return rc;
}
