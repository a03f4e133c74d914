/* SPDX-License-Identifier: Apache-2.0 */
/* The rollout plans the console shows: REPO/apps/APP/rollout/CHANNEL.yaml,
 * written by `upgr rollout` (its own module owns the format; this is a
 * reader of the fields the page needs, to be unified with it). Untrusted
 * input: read with a size cap, every value checked; with a channel key
 * (--channel-key) the plan must carry that key's minisign signature, else
 * it is shown as unverified, or as bad and without its contents. */
#include "fleet.h"
#include "channel.h"
#include "diag.h"
#include "repo.h"
#include "sign.h"
#include "xalloc.h"
#include "ydoc.h"

#include <stdlib.h>
#include <string.h>

#define PLAN_MAX (64u << 10)

static const char *const plan_states[] = { "running", "paused", "halted", "aborted",
					   "done", NULL };

/* A scalar's text (any scalar type) of at most 256 bytes, or "". */
static char *scalar(const struct ynode *map, const char *key)
{
	const struct ynode *n = ydoc_get(map, key);

	if (!n || n->kind != YNODE_SCALAR || n->len > 256)
		return xstrdup("");
	return xstrdup(n->str);
}

static bool listed(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* The waves: 1..FLEET_WAVES_MAX percents, each 1..100, rising. */
static int plan_waves(const struct ynode *root, struct fleet_rollout *p, struct diag *d)
{
	const struct ynode *w = ydoc_get(root, "waves");
	uint64_t v;
	size_t i;

	if (ydoc_seq(w, "waves", d) < 0)
		return -1;
	if (!w->nitems || w->nitems > FLEET_WAVES_MAX)
		return diag_add(d, w->line, w->col, "waves: 1 to %d", FLEET_WAVES_MAX), -1;
	for (i = 0; i < w->nitems; i++) {
		if (ydoc_uint(w->items[i], "waves[]", 100, &v, d) < 0)
			return -1;
		if (!v || (i && v <= p->waves[i - 1]))
			return diag_add(d, w->line, w->col, "waves: rising percents 1-100"), -1;
		p->waves[p->nwaves++] = (unsigned)v;
	}
	return 0;
}

static int plan_parse(const char *data, size_t len, const char *app, const char *channel,
		      struct fleet_rollout *p, struct diag *d)
{
	struct ydoc doc;
	uint64_t v;
	const char *s;
	int rc = -1;

	memset(&doc, 0, sizeof doc);
	if (ydoc_parse(data, len, PLAN_MAX, 0, &doc, d) < 0 ||
	    ydoc_map(doc.root, "rollout", d) < 0 ||
	    ydoc_get_uint(doc.root, "", "upgr", 1, &v, d) < 0 ||
	    ydoc_get_str(doc.root, "", "type", &s, d) < 0)
		goto done;
	if (strcmp(s, "rollout") || ydoc_get_str(doc.root, "", "app", &s, d) < 0 ||
	    strcmp(s, app) || ydoc_get_str(doc.root, "", "channel", &s, d) < 0 ||
	    strcmp(s, channel)) {
		diag_add(d, 0, 0, "not the rollout of %s on %s", app, channel);
		goto done;
	}
	if (plan_waves(doc.root, p, d) < 0 ||
	    ydoc_get_uint(doc.root, "", "wave", p->nwaves, &v, d) < 0)
		goto done;
	p->wave = (unsigned)v;
	p->version = scalar(doc.root, "version");
	p->from = scalar(doc.root, "from");
	p->state = scalar(doc.root, "state");
	p->soak = scalar(doc.root, "soak");
	p->max_failed = scalar(doc.root, "max_failed");
	p->started = scalar(doc.root, "started");
	p->wave_started = scalar(doc.root, "wave_started");
	p->reason = scalar(doc.root, "reason");
	if (!listed(p->state, plan_states))
		diag_add(d, 0, 0, "state: not one of running, paused, halted, aborted, done");
	else if (!p->wave)
		diag_add(d, 0, 0, "wave: counts from 1");
	else
		rc = 0;
done:
	ydoc_release(&doc);
	return rc;
}

/* Check the plan's signature with the channel key; -1 with why in p. */
static int plan_check_sig(struct xfer *x, const char *url, const struct sign_pub *key,
			  const struct buf *b, struct fleet_rollout *p)
{
	char *sigurl = xasprintf("%s.minisig", url);
	struct buf sig = BUF_INIT;
	struct err e;
	int rc = -1;

	err_clear(&e);
	if (xfer_get(x, sigurl, 4096, &sig, NULL, &e) == 0 &&
	    sign_verify(key, 1, b->data, b->len, sig.data, sig.len, NULL, &e) == 0)
		rc = 0;
	else
		p->error = xasprintf("signature: %s", e.msg);
	buf_release(&sig);
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
	} else if (o->channel_key && plan_check_sig(x, url, o->channel_key, &b, p) < 0) {
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

void fleet_rollout_progress(const struct fleet *f, const struct fleet_rollout *p,
			    struct fleet_wave_count out[FLEET_WAVES_MAX])
{
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
		out[w].hosts++;
		out[w].done += !strcmp(r->version, p->version) &&
			       !strcmp(r->result, "success");
		out[w].failed += r->problem == FLEET_FAILED ||
				 r->problem == FLEET_ROLLED_BACK;
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
