/* SPDX-License-Identifier: Apache-2.0 */
/* The rollout plans the console shows: REPO/apps/APP/rollout/CHANNEL.yaml,
 * written by `upgr rollout` and parsed by its module (rollout_plan.h);
 * here only what the page shows, as text. Untrusted
 * input: read with a size cap, every value checked; with a channel key
 * (--channel-key) the plan must carry that key's minisign signature, else
 * it is shown as unverified, or as bad and without its contents. */
#include "fleet.h"
#include "channel.h"
#include "diag.h"
#include "repo.h"
#include "rollout_plan.h"
#include "sign.h"
#include "utc.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

#define PLAN_MAX ROLLOUT_PLAN_MAX_BYTES

/* A soak as the controller was given it: 30m, 2h, 1d, 45s. */
static char *soak_text(uint64_t s)
{
	static const struct { uint64_t n; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};
	size_t i;

	for (i = 0; s && i < sizeof units / sizeof units[0]; i++)
		if (s % units[i].n == 0)
			return xasprintf("%llu%c", (unsigned long long)(s / units[i].n),
					 units[i].unit);
	return xasprintf("%llus", (unsigned long long)s);
}

static char *time_text(time_t t)
{
	char s[UTC_TIME_MAX];

	utc_format(t, 0, UTC_SECONDS_Z, s, sizeof s);
	return xstrdup(s);
}

/* Parse with the plan's own module (rollout_plan.h), check it is this
 * app's and channel's, and keep what the page shows as text. */
static int plan_parse(const char *data, size_t len, const char *app, const char *channel,
		      struct fleet_rollout *p, struct diag *d)
{
	struct rollout_plan plan;
	char pct[8];
	size_t i;

	if (rollout_plan_parse(data, len, &plan, d) < 0)
		return -1;
	if (strcmp(plan.app, app) || strcmp(plan.channel, channel))
		diag_add(d, 0, 0, "not the rollout of %s on %s", app, channel);
	else if (plan.nwaves > FLEET_WAVES_MAX)
		diag_add(d, 0, 0, "more than %d waves to show", FLEET_WAVES_MAX);
	if (d->n) {
		rollout_plan_release(&plan);
		return -1;
	}
	for (i = 0; i < plan.nwaves; i++)
		p->waves[i] = plan.waves[i];
	p->nwaves = plan.nwaves;
	p->wave = plan.wave;
	p->version = xstrdup(plan.version);
	p->from = xstrdup(plan.from);
	p->state = xstrdup(rollout_state_name(plan.state));
	p->soak = soak_text(plan.soak);
	rollout_percent_format(plan.max_failed, pct);
	p->max_failed = xasprintf("%s%%", pct);
	p->started = time_text(plan.started);
	p->wave_started = time_text(plan.wave_started);
	p->reason = xstrdup(plan.reason ? plan.reason : "");
	rollout_plan_release(&plan);
	return 0;
}

/* Check the plan's signature with the channel key, as the controller
 * does (repo_verify: the trusted comment names the app and the file); -1
 * with why in p. */
static int plan_check_sig(struct xfer *x, const char *url, const struct sign_pub *key,
			  const char *app, const char *channel, const struct buf *b,
			  struct fleet_rollout *p)
{
	const struct repo_trust t = { key, 1 };
	char *sigurl = xasprintf("%s.minisig", url);
	char *rel = xasprintf("rollout/%s.yaml", channel);
	struct buf sig = BUF_INIT;
	struct err e;
	int rc = -1;

	err_clear(&e);
	if (xfer_get(x, sigurl, REPO_SIG_MAX, &sig, NULL, &e) == 0 &&
	    repo_verify(&t, app, rel, b, &sig, &e) == 0)
		rc = 0;
	else
		p->error = xasprintf("signature: %s", e.msg);
	buf_release(&sig);
	free(rel);
	free(sigurl);
	return rc;
}

static void rollout_one(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
			const char *app)
{
	char *path = xasprintf("apps/%s/rollout/%s.yaml", app, f->channel);
	char *url = fleet_repo_url(o->repo, path);
	struct fleet_rollout *p;
	struct buf b = BUF_INIT;
	bool missing = false;
	struct diag d;
	struct err e;

	err_clear(&e);
	diag_init(&d, path);
	if (xfer_get(x, url, PLAN_MAX, &b, &missing, &e) < 0 && missing)
		goto done;
	f->rollouts = xreallocarray(f->rollouts, f->nrollouts + 1, sizeof *f->rollouts);
	p = &f->rollouts[f->nrollouts++];
	memset(p, 0, sizeof *p);
	p->app = xstrdup(app);
	if (e.msg[0]) {
		p->error = xstrdup(e.msg);
	} else if (o->channel_key && plan_check_sig(x, url, o->channel_key, app, f->channel, &b,
								 p) < 0) {
		/* p->error says why; nothing of an unsigned plan is shown. */
	} else if (plan_parse(b.data ? b.data : "", b.len, app, f->channel, p, &d) < 0) {
		p->error = d.n ? xasprintf("%s:%d:%d: %s", path, d.v[0].line, d.v[0].col,
					   d.v[0].msg) : xasprintf("%s: invalid", path);
	} else {
		p->verified = o->channel_key != NULL;
	}
done:
	diag_release(&d);
	buf_release(&b);
	free(url);
	free(path);
}

void fleet_load_rollouts(struct xfer *x, const struct fleet_opts *o, struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->nlatest; i++)
		if (channel_name_ok(f->latest[i].app) && channel_name_ok(f->channel))
			rollout_one(x, o, f, f->latest[i].app);
}

enum fleet_wave_outcome fleet_wave_outcome(const struct fleet_row *r, const char *version)
{
	if (r->tampered || r->unverified || r->problem == FLEET_TAMPERED ||
	    r->problem == FLEET_UNVERIFIED)
		return FLEET_WAVE_UNVERIFIED;
	if (!strcmp(r->version, version))
		return FLEET_WAVE_DONE;
	if ((!strcmp(r->result, "rolled-back") || !strcmp(r->result, "failed")) &&
	    !strcmp(r->to, version))
		return FLEET_WAVE_FAILED;
	return FLEET_WAVE_PENDING;
}

void fleet_rollout_progress(const struct fleet *f, const struct fleet_rollout *p,
			    struct fleet_wave_count out[FLEET_WAVES_MAX])
{
	enum fleet_wave_outcome o;
	size_t i, w;

	memset(out, 0, FLEET_WAVES_MAX * sizeof *out);
	if (p->error || !p->version)
		return;
	for (i = 0; i < f->nrows; i++) {
		const struct fleet_row *r = &f->rows[i];

		if (r->problem == FLEET_UNREADABLE || strcmp(r->app, p->app))
			continue;
		for (w = 0; w < p->nwaves; w++)
			if (repo_rollout_includes(r->host, p->version, p->waves[w]))
				break;
		if (w == p->nwaves)
			continue;
		o = fleet_wave_outcome(r, p->version);
		out[w].hosts++;
		out[w].done += o == FLEET_WAVE_DONE;
		out[w].failed += o == FLEET_WAVE_FAILED;
	}
}

void fleet_rollouts_release(struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->nrollouts; i++) {
		struct fleet_rollout *p = &f->rollouts[i];

		free(p->app);
		free(p->version);
		free(p->from);
		free(p->state);
		free(p->soak);
		free(p->max_failed);
		free(p->started);
		free(p->wave_started);
		free(p->reason);
		free(p->error);
	}
	free(f->rollouts);
	f->rollouts = NULL;
	f->nrollouts = 0;
}
