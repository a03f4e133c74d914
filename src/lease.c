/* SPDX-License-Identifier: Apache-2.0 */
/* The HA group lease on the repository server (see lease.h for the
 * protocol and why each step is safe). */
#include "lease.h"
#include "config.h"
#include "buf.h"
#include "channel.h"
#include "repo.h"
#include "transport.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOLDER_MAX 1024
#define RELEASE_MARGIN 60        /* seconds: an almost expired lease is left */

/* A holder file's value for key, copied into out (len); false if absent. */
static bool holder_value(const char *text, const char *key, char *out, size_t len)
{
	const char *p = text;
	size_t kl = strlen(key), n;

	for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) || strncmp(p + kl, ": ", 2))
			continue;
		p += kl + 2;
		n = strcspn(p, "\r\n");
		if (n >= len)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* Parse what a server served as a holder: on anything malformed the
 * holder's host is "?" and its expiry 0 (expired: it can be broken). */
static void holder_parse(const char *text, struct lease_holder *h)
{
	char t[CHANNEL_TIME_LEN + 8];

	memset(h, 0, sizeof *h);
	if (!holder_value(text, "host", h->host, sizeof h->host) ||
	    !holder_value(text, "expires", t, sizeof t) || channel_time_parse(t, &h->expires) < 0)
		h->expires = 0;
	holder_value(text, "nonce", h->nonce, sizeof h->nonce);
	if (!config_host_ok(h->host))
		snprintf(h->host, sizeof h->host, "?");
}

/* Read DIR/holder: 1 present (*h), 0 absent, -1 server unreachable. */
static int holder_read(struct xfer *x, const char *dir, struct lease_holder *h,
		       struct err *e)
{
	struct buf b = BUF_INIT;
	char *url = xasprintf("%sholder", dir);
	bool missing;
	int rc;

	memset(h, 0, sizeof *h);
	rc = xfer_get(x, url, HOLDER_MAX, &b, &missing, e);
	if (rc == 0)
		holder_parse(b.data ? b.data : "", h);
	rc = rc == 0 ? 1 : missing ? 0 : -1;
	buf_release(&b);
	free(url);
	return rc;
}

/* A holder another host may still rely on: unexpired, and not claiming
 * more than a lease can last (a server may lie: then it can be broken). */
static bool holder_live(const struct lease_holder *h, time_t now)
{
	return now < h->expires && h->expires <= now + 2 * LEASE_TTL;
}

/* Remove DIR/holder and then DIR (named name in parent); a directory
 * that is not empty (a breaker's marker) or gone is left to whoever
 * holds it. */
static int holder_remove(struct xfer *x, const char *parent, const char *name,
			 struct err *e)
{
	char *dir = xasprintf("%s%s/", parent, name), *url = xasprintf("%sholder", dir);
	bool refused;
	int rc;

	rc = xfer_delete(x, url, e);
	if (rc == 0 && xfer_rmdir(x, parent, name, &refused, e) < 0 && !refused)
		rc = -1;
	free(url);
	free(dir);
	return rc;
}

/* Break the expired lease at gurl/lease/: 1 broken, 0 another host is
 * breaking it (or it is live after all: *who), -1 unreachable. */
static int lease_break(struct xfer *x, const char *gurl, time_t now,
		       struct lease_holder *who, struct err *e)
{
	char *lurl = xasprintf("%slease/", gurl);
	bool refused;
	int rc = -1, have;

	if (xfer_mkdir(x, lurl, ".break", &refused, e) < 0) {
		rc = refused ? 0 : -1;
		goto done;
	}
	/* Under the marker the lease cannot change hands: read it again. */
	if ((have = holder_read(x, lurl, who, e)) < 0)
		goto done;
	if (have && holder_live(who, now)) {
		rc = xfer_rmdir(x, lurl, ".break", &refused, e) < 0 && !refused ? -1 : 0;
		goto done;
	}
	if (have) {
		char *hurl = xasprintf("%sholder", lurl);
		int gone = xfer_delete(x, hurl, e);

		free(hurl);
		if (gone < 0)
			goto done;
	}
	if (xfer_rmdir(x, lurl, ".break", &refused, e) < 0 && !refused)
		goto done;
	if (xfer_rmdir(x, gurl, "lease", &refused, e) < 0 && !refused)
		goto done;
	rc = 1;
done:
	free(lurl);
	return rc;
}

/* Upload .take-HOST-NONCE/holder and rename it to lease: 1 taken, 0 it
 * exists, -1 unreachable. */
static int lease_rename_in(struct xfer *x, const char *gurl, const struct lease_holder *mine,
			   struct err *e)
{
	char t[CHANNEL_TIME_LEN + 1];
	char *name = xasprintf(".take-%s-%s", mine->host, mine->nonce);
	char *url = xasprintf("%s%s/holder", gurl, name), *text;
	bool refused;
	int rc = -1;

	channel_time_format(mine->expires, t);
	text = xasprintf("host: %s\nexpires: %s\nnonce: %s\n", mine->host, t, mine->nonce);
	if (xfer_put(x, url, text, strlen(text), e) < 0)
		goto done;
	if (xfer_rename(x, gurl, name, "lease", &refused, e) == 0) {
		rc = 1;
		goto done;
	}
	if (refused) {
		struct err ignored;

		holder_remove(x, gurl, name, &ignored);
		rc = 0;
	}
done:
	free(text);
	free(url);
	free(name);
	return rc;
}

/* The holder to write: host, expiry, a random nonce. */
static void holder_new(struct lease_holder *h, const char *host, time_t now)
{
	memset(h, 0, sizeof *h);
	snprintf(h->host, sizeof h->host, "%s", host);
	h->expires = now + LEASE_TTL;
	snprintf(h->nonce, sizeof h->nonce, "%08x%08x", repo_random(), repo_random());
}

/* What is at the lease now, for lease_take: 1 free (or freed), 0 held
 * (*who), -1 unreachable. */
static int lease_clear_way(struct xfer *x, const char *gurl, const char *host, time_t now,
			   struct lease_holder *who, struct err *e)
{
	char *lurl = xasprintf("%slease/", gurl);
	bool refused;
	int have, rc = -1;

	if ((have = holder_read(x, lurl, who, e)) < 0)
		goto done;
	if (!have) {
		/* None, or an empty one (a release cut short), or one being
		 * prepared or broken: rmdir takes only an empty directory. */
		rc = xfer_rmdir(x, gurl, "lease", &refused, e) < 0 && !refused ? -1 : 1;
	} else if (!strcmp(who->host, host)) {
		/* Ours, left by a run that did not finish: the recovery
		 * has concluded its transaction since. */
		rc = holder_remove(x, gurl, "lease", e) < 0 ? -1 : 1;
	} else if (holder_live(who, now)) {
		rc = 0;
	} else {
		rc = lease_break(x, gurl, now, who, e);
	}
done:
	free(lurl);
	return rc;
}

int lease_take(struct xfer *x, const char *base, const char *group, const char *host,
	       time_t now, struct lease_holder *mine, struct lease_holder *who,
	       struct err *e)
{
	char *gurl = xasprintf("%s/groups/%s/", base, group);
	int rc;

	memset(who, 0, sizeof *who);
	holder_new(mine, host, now);
	rc = lease_clear_way(x, gurl, host, now, who, e);
	if (rc == 1)
		rc = lease_rename_in(x, gurl, mine, e);
	if (rc == 1) {
		/* Whatever the server did with the rename, the lease must
		 * now hold this very holder. */
		char *lurl = xasprintf("%slease/", gurl);

		rc = holder_read(x, lurl, who, e);
		if (rc == 1 && strcmp(who->nonce, mine->nonce))
			rc = 0;
		free(lurl);
	} else if (rc == 0 && !who->host[0]) {
		char *lurl = xasprintf("%slease/", gurl);

		if (holder_read(x, lurl, who, e) < 0)
			memset(who, 0, sizeof *who);
		free(lurl);
	}
	free(gurl);
	if (rc < 0)
		err_prefix(e, "group %s: lease: ", group);
	return rc;
}

int lease_release(struct xfer *x, const char *base, const char *group, const char *host,
		  time_t now, struct err *e)
{
	char *gurl = xasprintf("%s/groups/%s/", base, group);
	char *lurl = xasprintf("%slease/", gurl);
	struct lease_holder h;
	int rc, have;

	have = holder_read(x, lurl, &h, e);
	rc = have < 0 ? -1 : 0;
	if (have > 0 && !strcmp(h.host, host) && now + RELEASE_MARGIN < h.expires)
		rc = holder_remove(x, gurl, "lease", e);
	if (rc < 0)
		err_prefix(e, "group %s: releasing the lease: ", group);
	free(lurl);
	free(gurl);
	return rc;
}
