/* SPDX-License-Identifier: Apache-2.0 */
/* The channel file: strict parse and canonical emit (see channel.h). */
#include "channel.h"
#include "hash.h"
#include "utc.h"
#include "xalloc.h"
#include "ydoc.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const channel_keys[] = {
	"upgr", "app", "channel", "serial", "version", "manifest",
	"manifest_sha256", "published", "expires", "not_before", "rollout",
	"downgrade", "root", NULL
};

static const char *const channel_required[] = {
	"upgr", "app", "channel", "serial", "version", "manifest",
	"manifest_sha256", "published", "expires", NULL
};

bool channel_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n < 1 || n > 64)
		return false;
	if (!islower((unsigned char)name[0]) && !isdigit((unsigned char)name[0]))
		return false;
	for (i = 1; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!(ch >= 'a' && ch <= 'z') && !isdigit(ch) && ch != '.' &&
		    ch != '_' && ch != '-')
			return false;
	}
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the classic
 * era-of-400-years computation; timegm is not POSIX). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* n decimal digits at s, or -1. */
static long digits(const char *s, int n)
{
	long v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int channel_time_parse(const char *s, time_t *t)
{
	long y, mo, d, h, mi, sec;

	if (strlen(s) != CHANNEL_TIME_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -1;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return -1;
	if ((unsigned long)d > days_in_month((unsigned)y, (unsigned)mo))
		return -1;
	*t = (time_t)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL +
		      h * 3600LL + mi * 60LL + sec);
	return 0;
}

void channel_time_format(time_t t, char out[CHANNEL_TIME_LEN + 1])
{
	utc_format(t, 0, UTC_SECONDS_Z, out, CHANNEL_TIME_LEN + 1);
}

/* The manifest's location ends up in a URL and a cache path, so it is held
 * to a narrow alphabet as well as the usual relative-path rules. */
static const char *manifest_ref_problem(const char *p)
{
	const char *c, *seg;
	size_t n = strlen(p);

	if (n == 0 || n > 1024)
		return "must be a relative path of 1 to 1024 bytes";
	if (p[0] == '/')
		return "must be relative (no leading '/')";
	for (c = p; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._+-/", *c))
			return "may hold only letters, digits, '.', '_', '+', '-' and '/'";
	for (seg = p; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
		size_t len = strcspn(seg, "/");

		if (len == 0)
			return "has an empty path component";
		if ((len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)))
			return "may not contain '.' or '..' components";
	}
	return NULL;
}

void channel_get_time(const struct ynode *root, const char *key, bool *has, time_t *t,
		      struct diag *d)
{
	const struct ynode *n = ydoc_get(root, key);
	const char *s;

	*has = false;
	if (!n)
		return;
	if (ydoc_text(n, key, &s, d) < 0)
		return;
	if (channel_time_parse(s, t) < 0) {
		diag_add(d, n->line, n->col,
			 "%s: expected a UTC time like 2026-11-24T10:00:00Z, got '%s'",
			 key, s);
		return;
	}
	*has = true;
}

void channel_get_name(const struct ynode *root, const char *key, char **out,
		      struct diag *d)
{
	const struct ynode *n = ydoc_get(root, key);
	const char *s;

	if (!n || ydoc_str(n, key, &s, d) < 0)
		return;
	if (!channel_name_ok(s)) {
		diag_add(d, n->line, n->col,
			 "%s: '%s' is not a valid name ([a-z0-9][a-z0-9._-]{0,63})", key, s);
		return;
	}
	*out = xstrdup(s);
}

static void get_version(const struct ynode *root, struct channel *ch, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "version");
	const char *s;
	char why[128];

	if (!n || ydoc_text(n, "version", &s, d) < 0)
		return;
	if (semver_parse(s, &ch->semver, why, sizeof why) < 0) {
		diag_add(d, n->line, n->col, "version: '%s' is not a version: %s", s, why);
		return;
	}
	ch->version = xstrdup(s);
}

static void get_manifest(const struct ynode *root, struct channel *ch, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "manifest");
	const char *s, *why;

	if (n && ydoc_str(n, "manifest", &s, d) == 0) {
		why = manifest_ref_problem(s);
		if (why)
			diag_add(d, n->line, n->col, "manifest: '%s' %s", s, why);
		else
			ch->manifest = xstrdup(s);
	}
	n = ydoc_get(root, "manifest_sha256");
	if (n && ydoc_str(n, "manifest_sha256", &s, d) == 0) {
		if (!is_sha256_hex(s)) {
			diag_add(d, n->line, n->col,
				 "manifest_sha256: expected 64 hex digits");
		} else {
			size_t i;

			for (i = 0; i < 64; i++)
				ch->manifest_sha256[i] = (char)tolower((unsigned char)s[i]);
			ch->manifest_sha256[64] = '\0';
		}
	}
}

static void get_scalars(const struct ynode *root, struct channel *ch, struct diag *d)
{
	const struct ynode *n;
	uint64_t v;
	bool has_pub, has_exp;
	int r;

	n = ydoc_get(root, "upgr");
	r = ydoc_get_uint(root, "", "upgr", 1000, &v, d);
	if (r == 1 && v != 1)
		diag_add(d, n->line, n->col,
			 "upgr: format version %" PRIu64 " is not supported (this upgr reads 1)", v);
	n = ydoc_get(root, "serial");
	r = ydoc_get_uint(root, "", "serial", UINT64_MAX, &ch->serial, d);
	if (r == 1 && ch->serial == 0)
		diag_add(d, n->line, n->col, "serial: must be at least 1");
	n = ydoc_get(root, "rollout");
	ch->rollout = 100;
	r = ydoc_get_uint(root, "", "rollout", 100, &v, d);
	if (r == 1)
		ch->rollout = (unsigned)v;
	ch->downgrade = false;
	ydoc_get_bool(root, "", "downgrade", &ch->downgrade, d);
	ch->root = 0;
	ydoc_get_uint(root, "", "root", UINT64_MAX, &ch->root, d);

	channel_get_time(root, "published", &has_pub, &ch->published, d);
	channel_get_time(root, "expires", &has_exp, &ch->expires, d);
	n = ydoc_get(root, "expires");
	if (has_pub && has_exp && ch->expires <= ch->published)
		diag_add(d, n->line, n->col, "expires: must be later than published");
	channel_get_time(root, "not_before", &ch->has_not_before, &ch->not_before, d);
}

int channel_parse(const char *buf, size_t len, struct channel *ch, struct diag *d)
{
	struct ydoc doc = { 0 };
	size_t before = d->n;

	memset(ch, 0, sizeof *ch);
	if (ydoc_parse(buf, len, CHANNEL_MAX_BYTES, 0, &doc, d) < 0)
		goto done;
	if (ydoc_map(doc.root, "channel file", d) < 0)
		goto done;
	ydoc_check_keys(doc.root, "", channel_keys, d);
	ydoc_require(doc.root, "", channel_required, d);
	channel_get_name(doc.root, "app", &ch->app, d);
	channel_get_name(doc.root, "channel", &ch->channel, d);
	get_version(doc.root, ch, d);
	get_manifest(doc.root, ch, d);
	get_scalars(doc.root, ch, d);
done:
	ydoc_release(&doc);
	if (d->n > before) {
		channel_release(ch);
		return -1;
	}
	return 0;
}

void channel_release(struct channel *ch)
{
	free(ch->app);
	free(ch->channel);
	free(ch->version);
	free(ch->manifest);
	memset(ch, 0, sizeof *ch);
}

void channel_emit(const struct channel *ch, struct buf *out)
{
	char t[CHANNEL_TIME_LEN + 1];

	buf_adds(out, "upgr: 1\n");
	buf_addf(out, "app: %s\n", ch->app);
	buf_addf(out, "channel: %s\n", ch->channel);
	buf_addf(out, "serial: %" PRIu64 "\n", ch->serial);
	/* Quoted: a version like 1.2 alone would read back as a number. */
	buf_addf(out, "version: \"%s\"\n", ch->version);
	buf_addf(out, "manifest: %s\n", ch->manifest);
	buf_addf(out, "manifest_sha256: %s\n", ch->manifest_sha256);
	channel_time_format(ch->published, t);
	buf_addf(out, "published: %s\n", t);
	channel_time_format(ch->expires, t);
	buf_addf(out, "expires: %s\n", t);
	if (ch->has_not_before) {
		channel_time_format(ch->not_before, t);
		buf_addf(out, "not_before: %s\n", t);
	}
	buf_addf(out, "rollout: %u\n", ch->rollout);
	buf_addf(out, "downgrade: %s\n", ch->downgrade ? "true" : "false");
	if (ch->root)
		buf_addf(out, "root: %" PRIu64 "\n", ch->root);
}
