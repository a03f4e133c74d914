/* SPDX-License-Identifier: Apache-2.0 */
/* fleet status under a trust root: is the release each channel names
 * approved (docs/trust.md, four-eyes)? The console reads the same
 * signature files an agent would and counts them with root_check_manifest;
 * it never trusts the channel file for this, only the manifest's
 * signatures against the root. */
#include "channel.h"
#include "fleet.h"
#include "manifest.h"
#include "publish.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

const char *fleet_approval_name(enum fleet_approval a)
{
	static const char *const names[] = { "", "approved", "unapproved", "unsigned" };

	return names[a];
}

static void set(struct fleet_latest *l, enum fleet_approval a, const char *why)
{
	l->approval = a;
	free(l->approval_why);
	l->approval_why = xstrdup(why);
}

/* One app's channel release against the root. */
static void check_one(struct xfer *x, const char *repo, const struct root *r,
		      struct fleet_latest *l)
{
	char *rel = xasprintf("apps/%s/releases/%s/manifest.yaml", l->app, l->version);
	size_t len = strlen(repo);
	char *url;
	struct root_manifest_result res;
	struct publish_sigs s;
	struct buf b = BUF_INIT;
	struct manifest m;
	struct diag d;
	struct err e;

	while (len > 1 && repo[len - 1] == '/')
		len--;
	url = xasprintf("%.*s/%s", (int)len, repo, rel);
	publish_sigs_init(&s);
	diag_init(&d, rel);
	err_clear(&e);
	if (xfer_get(x, url, MANIFEST_MAX_BYTES, &b, NULL, &e) < 0 ||
	    manifest_parse(b.data, b.len, &m, &d) < 0) {
		set(l, FLEET_APPR_UNSIGNED, "its manifest could not be read");
		goto done;
	}
	if (publish_sigs_fetch(x, url, r, (1u << ROOT_ROLE_RELEASE) |
			       (1u << ROOT_ROLE_APPROVE), &s, &e) < 0)
		set(l, FLEET_APPR_UNSIGNED, "its signatures could not be read");
	else if (root_check_manifest(r, b.data, b.len, m.app, m.target, s.sig, s.n,
				     &res, &e) == 0)
		set(l, FLEET_APPR_APPROVED, "approved");
	else
		set(l, res.release_ok ? FLEET_APPR_UNAPPROVED : FLEET_APPR_UNSIGNED, res.why);
	manifest_release(&m);
done:
	diag_release(&d);
	publish_sigs_release(&s);
	buf_release(&b);
	free(url);
	free(rel);
}

void fleet_load_approvals(struct xfer *x, const struct fleet_opts *o, struct fleet *f)
{
	struct buf bytes = BUF_INIT;
	struct root r;
	struct err e;
	size_t i;
	int rc;

	err_clear(&e);
	rc = publish_root_load(x, o->repo, NULL, o->now, &r, &bytes, &e);
	buf_release(&bytes);
	if (rc < 0) {
		f->root_error = xstrdup(e.msg);
		return;
	}
	if (rc == 0)
		return;
	f->root_version = r.version;
	for (i = 0; i < f->nlatest; i++)
		if (f->latest[i].from_channel && f->latest[i].version &&
		    channel_name_ok(f->latest[i].app) && !strchr(f->latest[i].version, '/'))
			check_one(x, o->repo, &r, &f->latest[i]);
	root_release(&r);
}
