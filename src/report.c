/* SPDX-License-Identifier: Apache-2.0 */
/* The host's report to the repository (see report.h). */
#include "report.h"
#include "audit.h"
#include "fsutil.h"
#include "sign.h"
#include "transport.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void field(struct buf *out, const char *indent, const char *key, const char *val)
{
	buf_addf(out, "%s%s: ", indent, key);
	buf_add_quoted(out, val);
	buf_adds(out, "\n");
}

void report_format(const char *host, const char *time,
		   const struct app_status *apps, size_t n, struct buf *out)
{
	size_t i;

	buf_adds(out, "upgr: 1\n");
	field(out, "", "host", host);
	field(out, "", "time", time);
	buf_adds(out, n ? "apps:\n" : "apps: []\n");
	for (i = 0; i < n; i++) {
		const struct app_status *s = &apps[i];

		field(out, "  - ", "app", s->app);
		field(out, "    ", "version", s->version);
		field(out, "    ", "result", s->result);
		field(out, "    ", "time", s->time);
		field(out, "    ", "action", s->action);
		field(out, "    ", "from", s->from);
		field(out, "    ", "to", s->to);
		field(out, "    ", "error", s->error);
		/* Only while a release waits (docs/report-format.md): older
		 * consoles know no such keys, and the other states (current,
		 * held) are the console's to work out. */
		if (!strcmp(s->state, "waiting") || !strcmp(s->state, "staged")) {
			field(out, "    ", "state", s->state);
			field(out, "    ", "waiting", s->waiting);
			field(out, "    ", "staged", s->staged);
		}
	}
}

/* status.yaml's warnings: list (root expiry, issue 13: the console shows
 * what the agent warns of on stderr), on every report while it holds. */
static void report_warnings(struct repo *r, struct buf *out)
{
	const char *w = repo_root_expiry_note(r);

	if (!w)
		return;
	buf_adds(out, "warnings:\n  - ");
	buf_add_quoted(out, w);
	buf_adds(out, "\n");
}

static char *state_file(const struct config *c, const char *name)
{
	return fs_join(c->state_dir, name);
}

bool report_due(const struct config *c, bool did_something)
{
	char *pending = state_file(c, "report-pending"), *last = state_file(c, "report-last");
	struct stat st;
	bool due = did_something || access(pending, F_OK) == 0 ||
		   stat(last, &st) < 0 ||
		   time(NULL) - st.st_mtime >= (time_t)c->heartbeat * 60;

	free(pending);
	free(last);
	return due;
}

void report_mark_pending(const struct config *c, const char *why)
{
	char *path = state_file(c, "report-pending");
	char *text = xasprintf("%s\n", why);
	struct err e;

	if (fs_mkdir_p(c->state_dir, 0700, &e) < 0 ||
	    fs_write_atomic(path, text, strlen(text), 0600, &e) < 0)
		fprintf(stderr, "upgr: warning: %s\n", e.msg);
	free(path);
	free(text);
}

/* The device key's public half: NAME.pub beside NAME.key. */
static char *device_pub_path(const char *key)
{
	size_t n = strlen(key);

	if (n > 4 && !strcmp(key + n - 4, ".key"))
		return xasprintf("%.*s.pub", (int)(n - 4), key);
	return xasprintf("%s.pub", key);
}

/* What goes up, prepared once for every server. */
struct files {
	struct buf log, minisig, pub, status, status_sig;
};

/* status.yaml.minisig: the device key's signature of the status, its
 * trusted comment tying it to the log uploaded with it (record count and
 * head hash), so that a console holding the pinned key can tell a status
 * the host made for this log from one written by someone else. */
static int sign_status(const struct config *c, const struct sign_key *key,
		       struct files *f, struct err *e)
{
	struct sign_pub pub;
	char head[65], comment[320];
	uint64_t seq;
	int rc;

	sign_key_public(key, &pub);
	/* audit_checkpoint left any torn tail out of f->log. */
	rc = audit_tail(f->log.data ? f->log.data : "", f->log.len, 0, &pub, &seq, head,
			NULL, e);
	if (rc == 1)             /* the whole log always reaches its last record */
		err_set(e, EXIT_SOFTWARE, "no last record found");
	if (rc)
		return err_prefix(e, "%s: ", c->audit_log);
	snprintf(comment, sizeof comment, "upgr status host:%s seq:%llu head:%s", c->host,
		 (unsigned long long)seq, head);
	return sign_minisig(key, f->status.data, f->status.len, comment, &f->status_sig, e);
}

static int prepare(const struct config *c, struct files *f, struct err *e)
{
	struct sign_key key;
	char *pub = NULL;
	int rc = -1;

	memset(&key, 0, sizeof key);
	if (audit_device_key(c->device_key, &key, e) < 0)
		goto done;
	if (audit_checkpoint(c->audit_log, &key, &f->log, &f->minisig, e) < 0)
		goto done;
	if (sign_status(c, &key, f, e) < 0)
		goto done;
	pub = device_pub_path(c->device_key);
	if (access(pub, F_OK) == 0) {
		if (fs_read_file(pub, 4096, &f->pub, e) < 0)
			goto done;
	} else {
		struct sign_pub p;

		sign_key_public(&key, &p);
		sign_pub_format(&p, &f->pub);
	}
	rc = 0;
done:
	sign_key_wipe(&key);
	free(pub);
	return rc;
}

static int put(struct xfer *x, const char *base, const char *name,
	       const struct buf *b, struct err *e)
{
	char *url = xasprintf("%s/%s", base, name);
	int rc = xfer_put(x, url, b->data ? b->data : "", b->len, e);

	free(url);
	return rc;
}

/* The log before the status that describes it, so a console that reads
 * the status and then the log never finds the log older than the status;
 * the status's signature just before the status (a console that reads
 * them between the two renames reads them again). */
static int upload(struct xfer *x, const char *base, const struct files *f, struct err *e)
{
	if (f->log.len && (put(x, base, "audit.log", &f->log, e) < 0 ||
			   put(x, base, "audit.log.minisig", &f->minisig, e) < 0))
		return -1;
	if (put(x, base, "device.pub", &f->pub, e) < 0 ||
	    put(x, base, "status.yaml.minisig", &f->status_sig, e) < 0)
		return -1;
	return put(x, base, "status.yaml", &f->status, e);
}

static void mark_sent(const struct config *c)
{
	char *pending = state_file(c, "report-pending"), *last = state_file(c, "report-last");
	char now[32], text[40];
	struct err e;

	state_now(now);
	snprintf(text, sizeof text, "%s\n", now);
	if (fs_write_atomic(last, text, strlen(text), 0600, &e) < 0)
		fprintf(stderr, "upgr: warning: %s\n", e.msg);
	if (unlink(pending) == 0)
		fs_fsync_parent(pending, &e);
	free(pending);
	free(last);
}

int report_send(struct repo *r, const struct app_status *apps, size_t n,
		struct err *e)
{
	const struct config *c = r->c;
	struct files f = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
	char now[32];
	size_t k;
	int rc = -1;

	state_now(now);
	report_format(c->host, now, apps, n, &f.status);
	report_warnings(r, &f.status);
	if (prepare(c, &f, e) < 0)
		goto done;
	err_set(e, EXIT_UNAVAILABLE, "no server configured");
	for (k = 0; k < c->nservers; k++) {
		size_t i = (r->first + k) % c->nservers;
		char *base = xasprintf("%s/reports/%s", c->servers[i], c->host);

		rc = upload(repo_server(r, i), base, &f, e);
		if (rc < 0 && e->code == EXIT_UNAVAILABLE) {
			/* Once more after a pause: a busy server drops sessions. */
			struct timespec ts = { 0, (long)(100 + repo_random() % 300) * 1000000L };

			nanosleep(&ts, NULL);
			rc = upload(repo_server(r, i), base, &f, e);
		}
		free(base);
		if (rc == 0)
			break;
	}
done:
	if (rc < 0) {
		err_prefix(e, "report: ");
		report_mark_pending(c, e->msg);
	} else {
		mark_sent(c);
	}
	buf_release(&f.log);
	buf_release(&f.minisig);
	buf_release(&f.pub);
	buf_release(&f.status);
	buf_release(&f.status_sig);
	return rc;
}
