/* SPDX-License-Identifier: Apache-2.0 */
/* The rollout plan: strict parse and canonical emit (see rollout_plan.h). */
#include "rollout_plan.h"
#include "channel.h"
#include "version.h"
#include "xalloc.h"
#include "ydoc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const plan_keys[] = {
	"upgr", "type", "app", "channel", "version", "from", "waves", "wave",
	"soak", "max_failed", "state", "started", "wave_started", "reason", NULL
};

static const char *const state_names[] = {
	"running", "paused", "halted", "aborted", "done",
};

const char *rollout_state_name(enum rollout_state s)
{
	return (size_t)s < sizeof state_names / sizeof state_names[0]
		? state_names[s] : "unknown";
}

int rollout_state_parse(const char *s, enum rollout_state *out)
{
	size_t i;

	for (i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
		if (!strcmp(s, state_names[i])) {
			*out = (enum rollout_state)i;
			return 0;
		}
	return -1;
}

void rollout_percent_format(unsigned h, char out[8])
{
	if (h % 100 == 0)
		snprintf(out, 8, "%u", h / 100 % 1000);
	else if (h % 10 == 0)
		snprintf(out, 8, "%u.%u", h / 100 % 1000, h % 100 / 10);
	else
		snprintf(out, 8, "%u.%02u", h / 100 % 1000, h % 100);
}

int rollout_percent_parse(const char *s, bool allow_sign, unsigned *h)
{
	unsigned whole = 0, frac = 0, scale = 10;
	size_t i = 0, nd = 0;

	for (; s[i] >= '0' && s[i] <= '9' && nd < 4; i++, nd++)
		whole = whole * 10 + (unsigned)(s[i] - '0');
	if (nd == 0 || nd > 3)
		return -1;
	if (s[i] == '.') {
		for (i++, nd = 0; s[i] >= '0' && s[i] <= '9'; i++, nd++, scale /= 10) {
			if (nd == 2)
				return -1;
			frac += (unsigned)(s[i] - '0') * scale;
		}
		if (nd == 0)
			return -1;
	}
	if (allow_sign && s[i] == '%')
		i++;
	if (s[i] || whole * 100 + frac > 10000)
		return -1;
	*h = whole * 100 + frac;
	return 0;
}

int rollout_waves_parse(const char *s, unsigned *waves, size_t *n)
{
	const char *c = s;
	char *end;
	unsigned long v;

	*n = 0;
	for (;;) {
		if (*c < '0' || *c > '9' || *n == ROLLOUT_WAVES_MAX)
			return -1;
		v = strtoul(c, &end, 10);
		if (v < 1 || v > 100 || (*n && v <= waves[*n - 1]))
			return -1;
		waves[(*n)++] = (unsigned)v;
		if (!*end)
			return 0;
		if (*end != ',')
			return -1;
		c = end + 1;
	}
}

void rollout_plan_set_reason(struct rollout_plan *p, const char *text)
{
	size_t n = strcspn(text, "\n"), i;
	char *r;

	if (n > ROLLOUT_REASON_MAX)
		n = ROLLOUT_REASON_MAX;
	r = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		r[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
	r[n] = '\0';
	free(p->reason);
	p->reason = r;
}

/* ---- parse ---- */

static void get_version(const struct ynode *root, const char *key, bool empty_ok,
			char **out, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, key);
	struct semver v;
	const char *s;
	char why[128];

	if (!n)
		return;
	if (empty_ok && n->kind == YNODE_SCALAR && !n->len && !n->plain) {
		*out = xstrdup("");       /* "" : no version before */
		return;
	}
	if (ydoc_text(n, key, &s, d) < 0)
		return;
	if (semver_parse(s, &v, why, sizeof why) < 0)
		diag_add(d, n->line, n->col, "%s: '%s' is not a version: %s", key, s, why);
	else
		*out = xstrdup(s);
}

static void get_waves(const struct ynode *root, struct rollout_plan *p, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "waves");
	uint64_t v;
	size_t i;

	if (!n || ydoc_seq(n, "waves", d) < 0)
		return;
	if (n->nitems == 0 || n->nitems > ROLLOUT_WAVES_MAX) {
		diag_add(d, n->line, n->col, "waves: expected 1 to %d percentages",
			 ROLLOUT_WAVES_MAX);
		return;
	}
	for (i = 0; i < n->nitems; i++) {
		const struct ynode *it = n->items[i];
		char what[32];

		snprintf(what, sizeof what, "waves[%zu]", i);
		if (ydoc_uint(it, what, 100, &v, d) < 0)
			return;
		if (v == 0 || (i && v <= p->waves[i - 1])) {
			diag_add(d, it->line, it->col, "%s: percentages must grow, from 1 "
				 "to 100", what);
			return;
		}
		p->waves[i] = (unsigned)v;
	}
	p->nwaves = n->nitems;
}

static void get_state(const struct ynode *root, struct rollout_plan *p, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "state");
	const char *s;

	if (n && ydoc_str(n, "state", &s, d) == 0 && rollout_state_parse(s, &p->state) < 0)
		diag_add(d, n->line, n->col, "state: '%s' is not running, paused, halted, "
			 "aborted or done", s);
}

static void get_numbers(const struct ynode *root, struct rollout_plan *p, struct diag *d)
{
	const struct ynode *n;
	const char *s;
	uint64_t v;

	n = ydoc_get(root, "upgr");
	if (ydoc_get_uint(root, "", "upgr", 1000, &v, d) == 1 && v != 1)
		diag_add(d, n->line, n->col, "upgr: format version %" PRIu64
			 " is not supported (this upgr reads 1)", v);
	n = ydoc_get(root, "type");
	if (n && ydoc_str(n, "type", &s, d) == 0 && strcmp(s, "rollout"))
		diag_add(d, n->line, n->col, "type: expected rollout, got '%s'", s);
	n = ydoc_get(root, "wave");
	if (ydoc_get_uint(root, "", "wave", ROLLOUT_WAVES_MAX, &v, d) == 1) {
		if (v < 1 || (p->nwaves && v > p->nwaves))
			diag_add(d, n->line, n->col, "wave: must be 1 to the number of waves");
		p->wave = (unsigned)v;
	}
	ydoc_get_uint(root, "", "soak", ROLLOUT_SOAK_MAX, &p->soak, d);
	n = ydoc_get(root, "max_failed");
	if (n && ydoc_text(n, "max_failed", &s, d) == 0 &&
	    (!n->plain || rollout_percent_parse(s, false, &p->max_failed) < 0))
		diag_add(d, n->line, n->col, "max_failed: expected a percentage 0 to 100 "
			 "with up to two decimals, got '%s'", s);
}

static void get_reason(const struct ynode *root, struct rollout_plan *p, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "reason");
	const char *s;
	size_t i;

	if (!n)
		return;
	if (n->kind == YNODE_SCALAR && !n->len && !n->plain)
		s = "";
	else if (ydoc_text(n, "reason", &s, d) < 0)
		return;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			break;
	if (s[i] || i > ROLLOUT_REASON_MAX)
		diag_add(d, n->line, n->col, "reason: one line of at most %d bytes, "
			 "no control characters", ROLLOUT_REASON_MAX);
	else
		p->reason = xstrdup(s);
}

int rollout_plan_parse(const char *buf, size_t len, struct rollout_plan *p,
		       struct diag *d)
{
	struct ydoc doc = { 0 };
	size_t before = d->n;
	bool has;   /* a missing time is ydoc_require's to report */

	memset(p, 0, sizeof *p);
	if (ydoc_parse(buf, len, ROLLOUT_PLAN_MAX_BYTES, 0, &doc, d) < 0)
		goto done;
	if (ydoc_map(doc.root, "rollout plan", d) < 0)
		goto done;
	ydoc_check_keys(doc.root, "", plan_keys, d);
	ydoc_require(doc.root, "", plan_keys, d);
	channel_get_name(doc.root, "app", &p->app, d);
	channel_get_name(doc.root, "channel", &p->channel, d);
	get_version(doc.root, "version", false, &p->version, d);
	get_version(doc.root, "from", true, &p->from, d);
	get_waves(doc.root, p, d);
	get_numbers(doc.root, p, d);
	get_state(doc.root, p, d);
	channel_get_time(doc.root, "started", &has, &p->started, d);
	channel_get_time(doc.root, "wave_started", &has, &p->wave_started, d);
	get_reason(doc.root, p, d);
done:
	ydoc_release(&doc);
	if (d->n > before) {
		rollout_plan_release(p);
		return -1;
	}
	return 0;
}

void rollout_plan_release(struct rollout_plan *p)
{
	free(p->app);
	free(p->channel);
	free(p->version);
	free(p->from);
	free(p->reason);
	memset(p, 0, sizeof *p);
}

void rollout_plan_emit(const struct rollout_plan *p, struct buf *out)
{
	char t[CHANNEL_TIME_LEN + 1], pct[8];
	size_t i;

	buf_adds(out, "upgr: 1\ntype: rollout\n");
	buf_addf(out, "app: %s\nchannel: %s\n", p->app, p->channel);
	buf_addf(out, "version: \"%s\"\nfrom: \"%s\"\nwaves: [", p->version, p->from);
	for (i = 0; i < p->nwaves; i++)
		buf_addf(out, "%s%u", i ? ", " : "", p->waves[i]);
	rollout_percent_format(p->max_failed, pct);
	buf_addf(out, "]\nwave: %u\nsoak: %" PRIu64 "\nmax_failed: %s\nstate: %s\n",
		 p->wave, p->soak, pct, rollout_state_name(p->state));
	channel_time_format(p->started, t);
	buf_addf(out, "started: %s\n", t);
	channel_time_format(p->wave_started, t);
	buf_addf(out, "wave_started: %s\nreason: ", t);
	buf_add_quoted(out, p->reason ? p->reason : "");
	buf_adds(out, "\n");
}
