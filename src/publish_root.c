/* SPDX-License-Identifier: Apache-2.0 */
/* The repository's trust root as the publisher's side reads it (publish,
 * approve, fleet status): root 1 on its own threshold or the operator's
 * --root file, then the TUF walk upward; and the per-signer signature
 * files beside a manifest or channel file (docs/trust.md). */
#include "publish.h"
#include "fsutil.h"
#include "transport.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct walk_ctx {
	struct xfer *x;
	char *url;                  /* REPO, no trailing '/' */
};

static int walk_fetch(void *ctx, const char *rel, size_t max, struct buf *out,
		      bool *missing, struct err *e)
{
	struct walk_ctx *c = ctx;
	char *u = xasprintf("%s/%s", c->url, rel);
	int rc = xfer_get(c->x, u, max, out, missing, e);

	free(u);
	return rc;
}

static int parse_text(const struct buf *b, const char *label, struct root *r,
		      struct err *e)
{
	struct diag d;
	int rc;

	diag_init(&d, label);
	rc = root_parse(b->data, b->len, r, &d);
	if (rc < 0)
		diag_to_err(&d, EXIT_TRUST, e);
	diag_release(&d);
	return rc;
}

/* Root 1 from the server, believed only on its own root threshold. */
static int first_root(struct walk_ctx *c, struct root *r, struct buf *b, struct err *e)
{
	struct root_sig sigs[ROOT_MAX_KEYS];
	struct buf bufs[ROOT_MAX_KEYS];
	struct root_tally t;
	bool missing = false;
	int n, i, rc = -1;

	for (i = 0; i < ROOT_MAX_KEYS; i++)
		buf_init(&bufs[i]);
	if (walk_fetch(c, "root/1.root.yaml", ROOT_MAX_BYTES, b, &missing, e) < 0) {
		rc = missing ? 0 : -1;
		goto done;
	}
	if (parse_text(b, "root/1.root.yaml", r, e) < 0)
		goto done;
	n = root_fetch_sigs(r, NULL, 1, walk_fetch, c, sigs, bufs, ROOT_MAX_KEYS, e);
	if (n < 0 || root_verify_threshold(r, ROOT_ROLE_ROOT, b->data, b->len, sigs,
					   (size_t)n, NULL, &t, e) < 0) {
		root_release(r);
		err_prefix(e, "root/1.root.yaml: ");
		goto done;
	}
	rc = 1;
done:
	for (i = 0; i < ROOT_MAX_KEYS; i++)
		buf_release(&bufs[i]);
	return rc;
}

int publish_root_load(struct xfer *x, const char *repo, const char *root_file,
		      time_t now, struct root *r, struct buf *bytes, struct err *e)
{
	struct walk_ctx c = { x, NULL };
	size_t len = strlen(repo);
	unsigned walked;
	int rc;

	memset(r, 0, sizeof *r);
	while (len > 1 && repo[len - 1] == '/')
		len--;
	c.url = xasprintf("%.*s", (int)len, repo);
	if (root_file) {
		rc = fs_read_file(root_file, ROOT_MAX_BYTES, bytes, e) < 0 ||
		     parse_text(bytes, root_file, r, e) < 0 ? -1 : 1;
		if (rc < 0)
			err_prefix(e, "--root %s: ", root_file);
	} else {
		rc = first_root(&c, r, bytes, e);
	}
	if (rc == 1 && root_update(NULL, r, bytes, walk_fetch, &c, now, &walked, e) < 0) {
		root_release(r);
		rc = err_prefix(e, "the repository's trust root: ");
	}
	free(c.url);
	return rc;
}

bool publish_root_has(const struct root *r, enum root_role_id role, size_t k)
{
	size_t i;

	for (i = 0; i < r->roles[role].n; i++)
		if (r->roles[role].idx[i] == k)
			return true;
	return false;
}

char *publish_sig_url(const char *file_url, const char *name)
{
	return name ? xasprintf("%s.%s.minisig", file_url, name)
		    : xasprintf("%s.minisig", file_url);
}

/* Already fetched under this name? */
static bool have_name(const struct publish_sigs *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->sig[i].name, name))
			return true;
	return false;
}

int publish_sigs_fetch(struct xfer *x, const char *file_url, const struct root *r,
		       unsigned roles, struct publish_sigs *s, struct err *e)
{
	unsigned ro;
	size_t i;

	for (ro = 0; ro < ROOT_NROLES; ro++) {
		for (i = 0; (roles & (1u << ro)) && i < r->roles[ro].n; i++) {
			const char *name = r->keys[r->roles[ro].idx[i]].name;
			char *u;
			bool missing = false;
			int rc;

			if (have_name(s, name) || s->n == PUBLISH_SIGS_MAX)
				continue;
			u = publish_sig_url(file_url, name);
			buf_reset(&s->buf[s->n]);
			rc = xfer_get(x, u, REPO_SIG_MAX, &s->buf[s->n], &missing, e);
			free(u);
			if (rc < 0 && !missing)
				return -1;
			if (rc < 0)
				continue;
			s->sig[s->n].name = name;
			s->sig[s->n].text = s->buf[s->n].data;
			s->sig[s->n].len = s->buf[s->n].len;
			s->n++;
		}
	}
	err_clear(e);
	return 0;
}

void publish_sigs_init(struct publish_sigs *s)
{
	size_t i;

	s->n = 0;
	for (i = 0; i < PUBLISH_SIGS_MAX; i++)
		buf_init(&s->buf[i]);
}

void publish_sigs_release(struct publish_sigs *s)
{
	size_t i;

	for (i = 0; i < PUBLISH_SIGS_MAX; i++)
		buf_release(&s->buf[i]);
	s->n = 0;
}
