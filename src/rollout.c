/* SPDX-License-Identifier: Apache-2.0 */
/* The rollout controller (see rollout.h). Each decision is made in this
 * order, so that a failure part way is repaired by the next tick:
 *   1. the channel (publish_channel): the effect on the fleet;
 *   2. the decision log's record, then its checkpoint signature;
 *   3. the plan, last: until it is written the next tick decides again
 *      (the channel re-signed the same way, the log told twice: truthful). */
#include "rollout.h"
#include "audit.h"
#include "channel.h"
#include "fleet.h"
#include "fsutil.h"
#include "publish.h"
#include "repo.h"
#include "root.h"
#include "sign.h"
#include "transport.h"
#include "version.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MAX (64u << 20)        /* bytes of a decision log we read */

/* One command's connection, key and the keys a plan may be signed by. */
struct ctl {
	const struct rollout_opts *o;
	struct xfer *x;
	struct sign_key key;
	bool have_key;
	struct sign_pub *pubs;     /* the key's public half, the root's channel keys */
	size_t npubs;
	char *base;                /* o->repo without trailing '/' */
	char host[256];            /* who decides: this machine */
	const char *only_app;      /* the command's app, or NULL: every plan's */
	struct fleet fleet;        /* the reports, read once per command */
	bool have_fleet;
};

static char *app_url(const struct ctl *c, const char *app, const char *rel)
{
	return xasprintf("%s/apps/%s/%s", c->base, app, rel);
}

static char *plan_rel(const struct ctl *c)
{
	return xasprintf("rollout/%s.yaml", c->o->channel);
}

static char *log_rel(const struct ctl *c)
{
	return xasprintf("rollout/%s.log", c->o->channel);
}

/* The trust root's channel keys may have signed a plan too. */
static int add_root_keys(struct ctl *c, struct err *e)
{
	struct buf bytes = BUF_INIT;
	struct root r;
	size_t i;
	int rc = publish_root_load(c->x, c->o->repo, NULL, c->o->now, &r, &bytes, e);

	buf_release(&bytes);
	if (rc <= 0)
		return rc;
	c->pubs = xreallocarray(c->pubs, 1 + r.roles[ROOT_ROLE_CHANNEL].n, sizeof *c->pubs);
	for (i = 0; i < r.roles[ROOT_ROLE_CHANNEL].n; i++)
		c->pubs[c->npubs++] = r.keys[r.roles[ROOT_ROLE_CHANNEL].idx[i]].pub;
	root_release(&r);
	return 0;
}

static int ctl_open(struct ctl *c, const struct rollout_opts *o, struct err *e)
{
	struct xfer_opts xo = {
		.netrc = o->netrc, .ca_file = o->ca_file,
		.ssh_key = o->ssh_key, .ssh_known_hosts = o->ssh_known_hosts,
	};
	size_t len = strlen(o->repo);

	memset(c, 0, sizeof *c);
	c->o = o;
	while (len > 1 && o->repo[len - 1] == '/')
		len--;
	c->base = xasprintf("%.*s", (int)len, o->repo);
	if (gethostname(c->host, sizeof c->host) < 0 || !c->host[0])
		snprintf(c->host, sizeof c->host, "console");
	c->host[sizeof c->host - 1] = '\0';
	if (sign_key_open(o->key, o->passphrase_file, &c->key, e) < 0)
		return err_prefix(e, "--key %s: ", o->key);
	c->have_key = true;
	c->pubs = xcalloc(1, sizeof *c->pubs);
	sign_key_public(&c->key, &c->pubs[c->npubs++]);
	c->x = xfer_new(&xo);
	if (!c->x)
		return err_set(e, EXIT_SOFTWARE, "cannot start libcurl");
	return add_root_keys(c, e);
}

static void ctl_close(struct ctl *c)
{
	if (c->have_fleet)
		fleet_release(&c->fleet);
	if (c->have_key)
		sign_key_wipe(&c->key);
	xfer_free(c->x);
	free(c->pubs);
	free(c->base);
}

/* ---- the plan on the repository ---- */

/* The plan of app: 1 found and verified, 0 none there, -1 an error
 * (EXIT_TRUST when it does not verify or names another app or channel). */
static int plan_load(struct ctl *c, const char *app, struct rollout_plan *p,
		     struct err *e)
{
	struct repo_trust t = { c->pubs, c->npubs };
	char *rel = plan_rel(c), *url = app_url(c, app, rel);
	char *sig_url = xasprintf("%s.minisig", url), *shown = xfer_url_redact(url);
	struct buf data = BUF_INIT, sig = BUF_INIT;
	struct diag d;
	bool missing;
	int rc = -1;

	if (xfer_get(c->x, url, ROLLOUT_PLAN_MAX_BYTES, &data, &missing, e) < 0) {
		rc = missing ? 0 : -1;
		goto done;
	}
	if (xfer_get(c->x, sig_url, REPO_SIG_MAX, &sig, &missing, e) < 0) {
		if (missing)
			err_set(e, EXIT_TRUST, "%s has no signature", shown);
		goto done;
	}
	if (repo_verify(&t, app, rel, &data, &sig, e) < 0) {
		err_prefix(e, "rollout plan %s does not verify with --key or a channel "
			   "key of the trust root; not acting on it: ", shown);
		goto done;
	}
	diag_init(&d, shown);
	if (rollout_plan_parse(data.data, data.len, p, &d) < 0) {
		diag_to_err(&d, EXIT_DATAERR, e);
		diag_release(&d);
		goto done;
	}
	diag_release(&d);
	if (strcmp(p->app, app) || strcmp(p->channel, c->o->channel)) {
		err_set(e, EXIT_TRUST, "%s names app '%s' channel '%s'", shown, p->app,
			p->channel);
		rollout_plan_release(p);
		goto done;
	}
	rc = 1;
done:
	buf_release(&data);
	buf_release(&sig);
	free(shown);
	free(sig_url);
	free(url);
	free(rel);
	return rc;
}

/* Sign and upload the plan: its signature first, the plan last. */
static int plan_save(struct ctl *c, const struct rollout_plan *p, struct err *e)
{
	struct buf text = BUF_INIT, sig = BUF_INIT, comment = BUF_INIT;
	char *rel = plan_rel(c), *url = app_url(c, p->app, rel);
	char *sig_url = xasprintf("%s.minisig", url);
	int rc = -1;

	rollout_plan_emit(p, &text);
	repo_sig_comment(p->app, rel, c->o->now, &comment);
	if (sign_minisig(&c->key, text.data, text.len, comment.data, &sig, e) == 0 &&
	    xfer_put(c->x, sig_url, sig.data, sig.len, e) == 0 &&
	    xfer_put(c->x, url, text.data, text.len, e) == 0)
		rc = 0;
	if (rc < 0)
		err_prefix(e, "rollout plan: ");
	buf_release(&text);
	buf_release(&sig);
	buf_release(&comment);
	free(sig_url);
	free(url);
	free(rel);
	return rc;
}

/* ---- the decision log ---- */

/* A decision's log: the repository's copy in a temporary file, verified
 * before anything changes, extended after. */
struct dlog {
	char *dir, *path;
};

/* Fetch app's log into l (empty when there is none) and verify it whole
 * with the key: one key keeps a log, so another key (or an altered log)
 * is refused before the decision is carried out. */
static int log_open(struct ctl *c, const char *app, struct dlog *l, struct err *e)
{
	const char *tmp = getenv("TMPDIR");
	char *rel = log_rel(c), *url = app_url(c, app, rel);
	struct buf b = BUF_INIT;
	struct audit_report rep;
	bool missing;
	int rc = -1;

	l->dir = xasprintf("%s/upgr-rollout.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	l->path = NULL;
	if (!mkdtemp(l->dir)) {
		err_sys(e, EXIT_SOFTWARE, "create %s", l->dir);
		free(l->dir);
		l->dir = NULL;
		goto done;
	}
	l->path = fs_join(l->dir, "log");
	if (xfer_get(c->x, url, LOG_MAX, &b, &missing, e) < 0 && !missing)
		goto done;
	if (fs_write_atomic(l->path, b.data ? b.data : "", b.len, 0600, e) < 0)
		goto done;
	if (b.len && audit_verify(l->path, &c->pubs[0], false, &rep, e) < 0) {
		err_set(e, EXIT_TRUST, "%s does not verify with --key (%s): it is kept "
			"by another key, or was altered; nothing changed", rel, rep.why);
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		err_prefix(e, "decision log: ");
	buf_release(&b);
	free(url);
	free(rel);
	return rc;
}

static void log_close(struct dlog *l)
{
	struct err ignored;

	if (l->dir)
		fs_remove_tree(l->dir, &ignored);
	free(l->path);
	free(l->dir);
	memset(l, 0, sizeof *l);
}

/* Append one signed record for the decision action (why: the plan's
 * reason) and upload the log, then its checkpoint signature. */
static int log_commit(struct ctl *c, struct dlog *l, const struct rollout_plan *p,
		      const char *action, struct err *e)
{
	char *rel = log_rel(c), *url = app_url(c, p->app, rel);
	char *sig_url = xasprintf("%s.minisig", url);
	struct audit_step step = { "decision", p->reason, 0, 0, NULL };
	struct audit_rec r = {
		.host = c->host, .app = p->app, .action = action, .from = p->from,
		.to = p->version, .result = "success", .manifest_sha256 = "",
		.steps = &step, .nsteps = 1, .error = "",
	};
	struct buf log = BUF_INIT, sig = BUF_INIT;
	int rc = -1;

	if (audit_append(l->path, &c->key, &r, e) == 0 &&
	    audit_checkpoint(l->path, &c->key, &log, &sig, e) == 0 &&
	    xfer_put(c->x, url, log.data, log.len, e) == 0 &&
	    xfer_put(c->x, sig_url, sig.data, sig.len, e) == 0)
		rc = 0;
	if (rc < 0)
		err_prefix(e, "decision log: ");
	buf_release(&log);
	buf_release(&sig);
	free(sig_url);
	free(url);
	free(rel);
	return rc;
}

/* ---- the channel ---- */

/* Re-sign the channel of app at version with rollout percent. */
static int set_channel(struct ctl *c, const char *app, const char *version,
		       unsigned percent, bool downgrade,
		       struct publish_channel_result *res, struct err *e)
{
	const struct rollout_opts *o = c->o;
	struct publish_opts po = {
		.repo = o->repo, .key = o->key, .passphrase_file = o->passphrase_file,
		.channel = o->channel, .netrc = o->netrc, .ca_file = o->ca_file,
		.ssh_key = o->ssh_key, .ssh_known_hosts = o->ssh_known_hosts,
		.now = o->now, .expires = o->expires, .rollout = percent,
		.downgrade = downgrade, .trusted = o->trusted, .ntrusted = o->ntrusted,
		.state_dir = o->state_dir, .signer = &c->key,
	};

	return publish_channel(app, version, &po, res, e);
}

/* The decision: the log checked, the channel, the log's record, the plan
 * (see the top). */
static int decide(struct ctl *c, struct rollout_plan *p, const char *action,
		  unsigned percent, bool downgrade, struct err *e)
{
	struct publish_channel_result res = { 0 };
	const char *version = downgrade ? p->from : p->version;
	struct dlog l;
	char *reason;
	int rc = log_open(c, p->app, &l, e);

	if (rc == 0)
		rc = set_channel(c, p->app, version, percent, downgrade, &res, e);
	if (rc == 0) {
		reason = xasprintf("%s (channel %s serial %" PRIu64 ": %s at rollout %u%%%s)",
				   p->reason, c->o->channel, res.serial, version, percent,
				   downgrade ? ", downgrade" : "");
		rollout_plan_set_reason(p, reason);
		free(reason);
		rc = log_commit(c, &l, p, action, e);
	}
	if (rc == 0)
		rc = plan_save(c, p, e);
	log_close(&l);
	publish_channel_result_release(&res);
	return rc;
}

/* A decision that leaves the channel as it is: the log, the plan. */
static int note(struct ctl *c, struct rollout_plan *p, const char *action,
		struct err *e)
{
	struct dlog l;
	int rc = log_open(c, p->app, &l, e);

	if (rc == 0)
		rc = log_commit(c, &l, p, action, e);
	if (rc == 0)
		rc = plan_save(c, p, e);
	log_close(&l);
	return rc;
}

/* ---- what the hosts say ---- */

void rollout_view_release(struct rollout_view *v)
{
	size_t i;

	for (i = 0; i < v->nholding; i++)
		free(v->holding[i]);
	for (i = 0; i < v->nfailed; i++)
		free(v->failed_hosts[i]);
	free(v->holding);
	free(v->failed_hosts);
	rollout_plan_release(&v->plan);
	memset(v, 0, sizeof *v);
}

/* A report's "2026-11-24T02:00:01.000Z" to seconds; -1 when unreadable. */
static time_t report_time(const char *s)
{
	char t[CHANNEL_TIME_LEN + 1];
	time_t v;

	if (strlen(s) < 19)
		return -1;
	snprintf(t, sizeof t, "%.19sZ", s);
	return channel_time_parse(t, &v) == 0 ? v : -1;
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

/* One host's row inside the wave: ok, failed, or holding it (and why). */
static void count_row(const struct rollout_plan *p, const struct fleet_row *r,
		      struct rollout_view *v)
{
	enum fleet_wave_outcome o = fleet_wave_outcome(r, p->version);
	time_t t;

	if (o == FLEET_WAVE_UNVERIFIED) {
		v->unverified++;
		push(&v->holding, &v->nholding, r->host);
	} else if (o == FLEET_WAVE_DONE) {
		v->ok++;
		t = report_time(r->time);
		if (t > 0 && (time_t)(t + p->soak) > v->soak_until)
			v->soak_until = t + (time_t)p->soak;
	} else if (o == FLEET_WAVE_FAILED) {
		v->failed++;
		push(&v->failed_hosts, &v->nfailed, r->host);
	} else {
		t = report_time(r->reported);
		if (t < p->wave_started)
			v->silent++;      /* nothing heard since the wave opened */
		else
			v->pending++;
		push(&v->holding, &v->nholding, r->host);
	}
}

/* The fleet's reports, read on first use and kept for the command: every
 * plan it handles is counted against the same reading (one listing and
 * one fetch of each report, not one per app). The plans are not read
 * again with them. */
static int reports(struct ctl *c, struct err *e)
{
	struct fleet_opts fo = {
		.repo = c->o->repo, .app = c->only_app, .channel = c->o->channel,
		.stale_minutes = FLEET_STALE_DEFAULT, .now = c->o->now,
		.keys_dir = c->o->keys_dir, .no_rollouts = true,
	};

	if (c->have_fleet)
		return 0;
	fleet_init(&c->fleet, &fo);
	if (fleet_load(c->x, &fo, &c->fleet, e) < 0) {
		fleet_release(&c->fleet);   /* the next plan asks again, and fails */
		return err_prefix(e, "reports: ");
	}
	c->have_fleet = true;
	return 0;
}

/* Count the reports of p's app against p. */
static int view_load(struct ctl *c, struct rollout_view *v, struct err *e)
{
	const struct rollout_plan *p = &v->plan;
	size_t i;

	v->percent = p->waves[p->wave - 1];
	v->soak_until = p->wave_started + (time_t)p->soak;
	if (reports(c, e) < 0)
		return -1;
	for (i = 0; i < c->fleet.nrows; i++) {
		const struct fleet_row *r = &c->fleet.rows[i];

		if (strcmp(r->app, p->app))
			continue;
		v->hosts++;               /* one row per host and app */
		if (!repo_rollout_includes(r->host, p->version, v->percent))
			continue;
		v->in_wave++;
		count_row(p, r, v);
	}
	return 0;
}

/* ---- tick ---- */

/* "3 of 20 hosts that tried failed or rolled back (15%)". */
static void failed_share(const struct rollout_view *v, char *out, size_t n)
{
	size_t tried = v->ok + v->failed;
	char pct[8];

	rollout_percent_format(tried ? (unsigned)(v->failed * 10000 / tried) : 0, pct);
	snprintf(out, n, "%zu of %zu hosts that tried failed or rolled back (%s%%)",
		 v->failed, tried, pct);
}

static bool over_limit(const struct rollout_view *v)
{
	unsigned long long tried = v->ok + v->failed;

	return v->failed && (unsigned long long)v->failed * 10000 >
		(unsigned long long)v->plan.max_failed * tried;
}

static int halt(struct ctl *c, struct rollout_view *v, struct buf *out, struct err *e)
{
	struct rollout_plan *p = &v->plan;
	char share[128], lim[8], *why;

	failed_share(v, share, sizeof share);
	rollout_percent_format(p->max_failed, lim);
	why = xasprintf("halted in wave %u (%u%%): %s, more than max_failed %s%%; "
			"channel paused, hosts not yet upgraded stay", p->wave,
			v->percent, share, lim);
	rollout_plan_set_reason(p, why);
	free(why);
	p->state = ROLLOUT_HALTED;
	if (decide(c, p, "rollout-halt", 0, false, e) < 0)
		return -1;
	buf_addf(out, "upgr rollout: %s %s on %s %s\n", p->app, p->version, p->channel,
		 p->reason);
	return 0;
}

/* The wave is complete and soaked: open the next one, or finish. */
static int advance(struct ctl *c, struct rollout_view *v, struct buf *out, struct err *e)
{
	struct rollout_plan *p = &v->plan;
	char share[128], *why;
	int rc;

	failed_share(v, share, sizeof share);
	if (p->wave == p->nwaves) {
		why = xasprintf("done: wave %u of %zu (%u%%) complete, %zu in it succeeded, "
				"%s", p->wave, p->nwaves, v->percent, v->ok, share);
		rollout_plan_set_reason(p, why);
		p->state = ROLLOUT_DONE;
		rc = note(c, p, "rollout-done", e);
	} else {
		why = xasprintf("wave %u (%u%%) opened: wave %u (%u%%) complete, %zu in it "
				"succeeded, %s", p->wave + 1, p->waves[p->wave], p->wave,
				v->percent, v->ok, share);
		rollout_plan_set_reason(p, why);
		p->wave++;
		p->wave_started = c->o->now;
		rc = decide(c, p, "rollout-advance", p->waves[p->wave - 1], false, e);
	}
	free(why);
	if (rc == 0)
		buf_addf(out, "upgr rollout: %s %s on %s: %s\n", p->app, p->version,
			 p->channel, p->reason);
	return rc;
}

static int tick_one(struct ctl *c, struct rollout_view *v, void *arg, struct err *e)
{
	struct buf *out = arg;

	if (v->plan.state != ROLLOUT_RUNNING)
		return 0;
	if (view_load(c, v, e) < 0)
		return -1;
	if (over_limit(v))
		return halt(c, v, out, e);
	if (v->nholding == 0 && c->o->now >= v->soak_until)
		return advance(c, v, out, e);
	return 0;                 /* nothing new: nothing printed */
}

/* Call fn for the plan of app, or of every app that has one (the
 * repository's apps/ listed). The first error is returned, the other
 * plans still seen. */
static int each_plan(struct ctl *c, const char *app,
		     int (*fn)(struct ctl *c, struct rollout_view *v, void *arg,
			       struct err *e),
		     void *arg, struct err *e)
{
	char **names = NULL, *url = xasprintf("%s/apps/", c->base);
	size_t n = 0, i, found = 0;
	struct err e2;
	int rc = 0, r;

	c->only_app = app;
	if (app) {
		names = xcalloc(1, sizeof *names);
		names[n++] = xstrdup(app);
	} else if (xfer_list(c->x, url, &names, &n, e) < 0) {
		rc = err_prefix(e, "list the repository's apps: ");
	}
	for (i = 0; i < n; i++) {
		struct rollout_view v;

		memset(&v, 0, sizeof v);
		err_clear(&e2);
		r = channel_name_ok(names[i]) ? plan_load(c, names[i], &v.plan, &e2) : 0;
		if (r > 0) {
			found++;
			r = fn(c, &v, arg, &e2) < 0 ? -1 : 0;
		}
		rollout_view_release(&v);
		if (r < 0 && rc == 0) {
			*e = e2;
			rc = -1;
		}
	}
	if (rc == 0 && app && !found)
		rc = err_set(e, EXIT_DATAERR, "%s has no rollout on channel %s", app,
			     c->o->channel);
	xfer_names_free(names, n);
	free(url);
	return rc;
}

int rollout_tick(const struct rollout_opts *o, const char *app, struct buf *out,
		 struct err *e)
{
	struct ctl c;
	int rc = ctl_open(&c, o, e);

	if (rc == 0)
		rc = each_plan(&c, app, tick_one, out, e);
	ctl_close(&c);
	return rc;
}

/* ---- start ---- */

static bool live(enum rollout_state s)
{
	return s == ROLLOUT_RUNNING || s == ROLLOUT_PAUSED || s == ROLLOUT_HALTED;
}

/* No live rollout may be there already; *from gets the old plan's from
 * when it rolled out version too (a restart), else NULL. */
static int check_free(struct ctl *c, const char *app, const char *version,
		      char **from, struct err *e)
{
	struct rollout_plan old;
	int rc = plan_load(c, app, &old, e);

	*from = NULL;
	if (rc <= 0)
		return rc;
	if (live(old.state))
		rc = err_set(e, EXIT_DATAERR, "%s %s is %s on channel %s (wave %u of %zu): "
			     "abort it, or wait until it is done, before starting another",
			     old.app, old.version, rollout_state_name(old.state),
			     old.channel, old.wave, old.nwaves);
	else if (!strcmp(old.version, version))
		*from = xstrdup(old.from);
	rollout_plan_release(&old);
	return rc < 0 ? -1 : 0;
}

/* The highest published release of app below version ("" when none):
 * the version before a rollout whose release was published to the
 * channel already (publish --rollout 0, then start). */
static char *prev_release(struct ctl *c, const char *app, const char *version)
{
	char *url = app_url(c, app, "releases/"), **names = NULL, *best = NULL;
	struct semver v, cand, top;
	char why[128];
	size_t n = 0, i;
	struct err e;

	if (semver_parse(version, &v, why, sizeof why) == 0 &&
	    xfer_list(c->x, url, &names, &n, &e) == 0)
		for (i = 0; i < n; i++)
			if (semver_parse(names[i], &cand, why, sizeof why) == 0 &&
			    semver_cmp(&cand, &v) < 0 && (!best || semver_cmp(&cand, &top) > 0)) {
				best = names[i];
				top = cand;
			}
	best = xstrdup(best ? best : "");
	xfer_names_free(names, n);
	free(url);
	return best;
}

int rollout_start(const struct rollout_opts *o, const char *app, const char *version,
		  const unsigned *waves, size_t nwaves, unsigned long long soak,
		  unsigned max_failed, struct buf *out, struct err *e)
{
	struct rollout_plan p = { .nwaves = nwaves, .wave = 1, .soak = soak,
				  .max_failed = max_failed, .state = ROLLOUT_RUNNING };
	struct publish_channel_result res = { 0 };
	char *from = NULL, *why;
	struct dlog l = { NULL, NULL };
	struct ctl c;
	int rc = ctl_open(&c, o, e);

	if (rc == 0)
		rc = check_free(&c, app, version, &from, e);
	if (rc == 0)
		rc = log_open(&c, app, &l, e);
	if (rc == 0)
		rc = set_channel(&c, app, version, waves[0], false, &res, e);
	if (rc < 0)
		goto done;
	memcpy(p.waves, waves, nwaves * sizeof *waves);
	p.app = xstrdup(app);
	p.channel = xstrdup(o->channel);
	p.version = xstrdup(version);
	if (!from && res.prev_version && strcmp(res.prev_version, version))
		from = xstrdup(res.prev_version);
	p.from = from ? from : prev_release(&c, app, version);
	from = NULL;
	p.started = p.wave_started = o->now;
	why = xasprintf("wave 1 (%u%%) opened by start (channel %s serial %" PRIu64
			": %s at rollout %u%%)", waves[0], o->channel, res.serial,
			version, waves[0]);
	rollout_plan_set_reason(&p, why);
	free(why);
	rc = log_commit(&c, &l, &p, "rollout-start", e);
	if (rc == 0)
		rc = plan_save(&c, &p, e);
	if (rc == 0)
		buf_addf(out, "upgr rollout: %s %s on %s: %s\n", app, version, o->channel,
			 p.reason);
done:
	log_close(&l);
	free(from);
	publish_channel_result_release(&res);
	rollout_plan_release(&p);
	ctl_close(&c);
	return rc;
}

/* ---- pause, resume, abort ---- */

struct control {
	enum rollout_action a;
	bool one;                  /* an app was named: a done rollout is an error */
	struct buf *out;
};

/* Stop the channel at rollout 0 unless it is stopped already. */
static int pause_plan(struct ctl *c, struct rollout_plan *p, const char *who,
		      struct err *e)
{
	char *why;

	if (p->state != ROLLOUT_RUNNING)
		return 0;
	why = xasprintf("paused in wave %u (%u%%) by %s", p->wave, p->waves[p->wave - 1],
			who);
	rollout_plan_set_reason(p, why);
	free(why);
	p->state = ROLLOUT_PAUSED;
	return decide(c, p, "rollout-pause", 0, false, e);
}

static int resume_plan(struct ctl *c, struct rollout_plan *p, const char *who,
		       struct err *e)
{
	char *why;

	if (p->state == ROLLOUT_RUNNING)
		return 0;
	why = xasprintf("resumed in wave %u (%u%%) by %s, after: %s", p->wave,
			p->waves[p->wave - 1], who, p->reason);
	rollout_plan_set_reason(p, why);
	free(why);
	p->state = ROLLOUT_RUNNING;
	p->wave_started = c->o->now;
	return decide(c, p, "rollout-resume", p->waves[p->wave - 1], false, e);
}

/* Pause, then the signed return to from (downgrade: true, every host). */
static int abort_plan(struct ctl *c, struct rollout_plan *p, const char *who,
		      struct err *e)
{
	char *why;

	if (pause_plan(c, p, who, e) < 0)
		return -1;
	if (!p->from[0])
		return err_set(e, EXIT_DATAERR, "%s %s: the channel named no version "
			       "before this rollout, so there is none to return to; "
			       "the rollout stays %s", p->app, p->version,
			       rollout_state_name(p->state));
	why = xasprintf("aborted in wave %u by %s: every host back to %s", p->wave,
			who, p->from);
	rollout_plan_set_reason(p, why);
	free(why);
	p->state = ROLLOUT_ABORTED;
	if (decide(c, p, "rollout-abort", 100, true, e) < 0)
		return err_prefix(e, "abort: the channel stays paused at %s rollout 0: ",
				  p->version);
	return 0;
}

static int control_one(struct ctl *c, struct rollout_view *v, void *arg, struct err *e)
{
	struct control *k = arg;
	struct rollout_plan *p = &v->plan;
	enum rollout_state before = p->state;
	char id[17], who[320];
	int rc;

	if (!live(p->state))
		return k->one ? err_set(e, EXIT_DATAERR, "%s %s on %s is %s already",
					p->app, p->version, p->channel,
					rollout_state_name(p->state)) : 0;
	sign_keyid_hex(c->key.keyid, id);
	snprintf(who, sizeof who, "the operator (key %s on %s)", id, c->host);
	rc = k->a == ROLLOUT_PAUSE ? pause_plan(c, p, who, e)
	   : k->a == ROLLOUT_RESUME ? resume_plan(c, p, who, e)
	   : abort_plan(c, p, who, e);
	if (rc == 0 && p->state != before)
		buf_addf(k->out, "upgr rollout: %s %s on %s: %s\n", p->app, p->version,
			 p->channel, p->reason);
	else if (rc == 0)
		buf_addf(k->out, "upgr rollout: %s %s on %s is %s already\n", p->app,
			 p->version, p->channel, rollout_state_name(p->state));
	return rc;
}

int rollout_control(const struct rollout_opts *o, const char *app,
		    enum rollout_action a, struct buf *out, struct err *e)
{
	struct control k = { a, app != NULL, out };
	struct ctl c;
	int rc = ctl_open(&c, o, e);

	if (rc == 0)
		rc = each_plan(&c, app, control_one, &k, e);
	ctl_close(&c);
	return rc;
}

/* ---- status ---- */

#define TEXT_NAMES_MAX 20          /* host names listed per line in text */

struct status {
	bool json;
	size_t n;
	struct buf *out;
};

static void names_text(struct buf *out, const char *label, char **v, size_t n)
{
	size_t i;

	if (!n)
		return;
	buf_addf(out, "  %s:", label);
	for (i = 0; i < n && i < TEXT_NAMES_MAX; i++)
		buf_addf(out, " %s", v[i]);
	if (n > TEXT_NAMES_MAX)
		buf_addf(out, " and %zu more", n - TEXT_NAMES_MAX);
	buf_adds(out, "\n");
}

static void status_text(const struct ctl *c, const struct rollout_view *v, struct buf *out)
{
	const struct rollout_plan *p = &v->plan;
	char share[128], lim[8], t[CHANNEL_TIME_LEN + 1];

	failed_share(v, share, sizeof share);
	rollout_percent_format(p->max_failed, lim);
	buf_addf(out, "%s %s on %s: %s, wave %u of %zu (%u%%), from %s\n", p->app,
		 p->version, p->channel, rollout_state_name(p->state), p->wave,
		 p->nwaves, v->percent, p->from[0] ? p->from : "nothing");
	buf_addf(out, "  hosts: %zu reporting, %zu in the wave: %zu succeeded, %zu failed, "
		 "%zu holding it\n", v->hosts, v->in_wave, v->ok, v->failed, v->nholding);
	buf_addf(out, "  failures: %s; the limit is %s%%\n", share, lim);
	if (v->silent)
		buf_addf(out, "  %zu host(s) have not reported since the wave opened: they "
			 "hold the wave\n", v->silent);
	if (v->unverified)
		buf_addf(out, "  %zu host(s) have a report that does not verify: they hold "
			 "the wave\n", v->unverified);
	names_text(out, "holding", v->holding, v->nholding);
	names_text(out, "failed", v->failed_hosts, v->nfailed);
	channel_time_format(v->soak_until, t);
	if (p->state == ROLLOUT_RUNNING)
		buf_addf(out, "  soak: %s %s\n", c->o->now >= v->soak_until ? "passed at"
			 : "until", t);
	buf_addf(out, "  last decision: %s\n", p->reason);
}

static void names_json(struct buf *out, const char *key, char **v, size_t n)
{
	size_t i;

	buf_addf(out, ", \"%s\": [", key);
	for (i = 0; i < n; i++) {
		if (i)
			buf_adds(out, ", ");
		buf_add_quoted(out, v[i]);
	}
	buf_adds(out, "]");
}

static void status_json(const struct rollout_view *v, struct buf *out)
{
	const struct rollout_plan *p = &v->plan;
	size_t tried = v->ok + v->failed, i;
	char t[CHANNEL_TIME_LEN + 1], pct[8];

	buf_adds(out, "{\"app\": ");
	buf_add_quoted(out, p->app);
	buf_adds(out, ", \"channel\": ");
	buf_add_quoted(out, p->channel);
	buf_addf(out, ", \"version\": \"%s\", \"from\": \"%s\", \"state\": \"%s\", "
		 "\"wave\": %u, \"waves\": [", p->version, p->from,
		 rollout_state_name(p->state), p->wave);
	for (i = 0; i < p->nwaves; i++)
		buf_addf(out, "%s%u", i ? ", " : "", p->waves[i]);
	rollout_percent_format(p->max_failed, pct);
	buf_addf(out, "], \"percent\": %u, \"soak\": %" PRIu64 ", \"max_failed\": %s",
		 v->percent, p->soak, pct);
	channel_time_format(p->started, t);
	buf_addf(out, ", \"started\": \"%s\"", t);
	channel_time_format(p->wave_started, t);
	buf_addf(out, ", \"wave_started\": \"%s\"", t);
	channel_time_format(v->soak_until, t);
	buf_addf(out, ", \"soak_until\": \"%s\", \"reason\": ", t);
	buf_add_quoted(out, p->reason);
	rollout_percent_format(tried ? (unsigned)(v->failed * 10000 / tried) : 0, pct);
	buf_addf(out, ", \"hosts\": %zu, \"in_wave\": %zu, \"succeeded\": %zu, "
		 "\"failed\": %zu, \"pending\": %zu, \"silent\": %zu, \"unverified\": %zu, "
		 "\"failed_percent\": %s", v->hosts, v->in_wave, v->ok, v->failed,
		 v->pending, v->silent, v->unverified, pct);
	names_json(out, "holding", v->holding, v->nholding);
	names_json(out, "failed_hosts", v->failed_hosts, v->nfailed);
	buf_adds(out, "}");
}

static int status_one(struct ctl *c, struct rollout_view *v, void *arg, struct err *e)
{
	struct status *s = arg;

	if (view_load(c, v, e) < 0)
		return -1;
	if (s->json) {
		buf_adds(s->out, s->n ? ",\n  " : "\n  ");
		status_json(v, s->out);
	} else {
		if (s->n)
			buf_adds(s->out, "\n");
		status_text(c, v, s->out);
	}
	s->n++;
	return 0;
}

int rollout_status(const struct rollout_opts *o, const char *app, bool json,
		   struct buf *out, struct err *e)
{
	struct status s = { json, 0, out };
	struct ctl c;
	int rc = ctl_open(&c, o, e);

	if (json)
		buf_adds(out, "{\"channel\": ");
	if (json)
		buf_add_quoted(out, o->channel);
	if (json)
		buf_adds(out, ", \"rollouts\": [");
	if (rc == 0)
		rc = each_plan(&c, app, status_one, &s, e);
	if (json)
		buf_adds(out, s.n ? "\n]}\n" : "]}\n");
	else if (rc == 0 && !s.n)
		buf_addf(out, "no rollout on channel %s\n", o->channel);
	ctl_close(&c);
	return rc;
}
