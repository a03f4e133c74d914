/* SPDX-License-Identifier: Apache-2.0 */
/* Polling one app from the repository servers (see repo.h). The order of
 * checks follows what each one protects:
 *
 *   1. channel + signature from the first server that answers (size caps)
 *   2. signature by a trusted key, trusted comment naming app and file
 *   3. strict parse; app and channel as configured
 *   4. serial not lower than the highest seen (replay), not expired
 *      (freeze); the new highest serial is stored durably
 *   5. the version against the installed one (same: nothing to do; lower:
 *      only when the channel says downgrade: true)
 *   6. scheduling: not_before, rollout (the window, freezes and group
 *      lease come after the fetch: prestage.h)
 *   7. manifest whose hash is the channel's (mix-and-match), signed, with
 *      the channel's app and version
 *   8. payload, resumed from a partial file, cut off at the declared
 *      size, hash-checked before it is renamed into place
 *
 * A server whose channel, manifest or payload fails 2-4, 7 or 8 is noted
 * as a lie (note_lie) and the same file is fetched from the next server;
 * a server that does not answer is passed over the same way. */
#include "repo.h"
#include "fsutil.h"
#include "hash.h"
#include "manifest.h"
#include "objects.h"
#include "quickcheck.h"
#include "state.h"
#include "transport.h"
#include "treescan.h"
#include "worker.h"
#include "xalloc.h"
#include "ydoc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint32_t repo_random(void)
{
	uint32_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &v, sizeof v) != (ssize_t)sizeof v)
		v = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	if (fd >= 0)
		close(fd);
	return v;
}

bool repo_rollout_includes(const char *host, const char *version, unsigned percent)
{
	uint8_t d[SHA256_LEN];
	char *s;
	uint32_t v;

	if (percent >= 100)
		return true;
	s = xasprintf("%s/%s", host, version);
	sha256_buf(s, strlen(s), d);
	free(s);
	v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	return v % 100 < percent;
}

void repo_sig_comment(const char *app, const char *path, time_t when,
		      struct buf *out)
{
	buf_addf(out, "timestamp:%lld\tapp:%s\tfile:%s", (long long)when, app, path);
}

/* Whether comment holds tok as a whole whitespace-separated token. */
static bool has_token(const char *comment, const char *tok)
{
	size_t n = strlen(tok);
	const char *p = comment;

	while ((p = strstr(p, tok)) != NULL) {
		bool start = p == comment || isspace((unsigned char)p[-1]);
		bool end = p[n] == '\0' || isspace((unsigned char)p[n]);

		if (start && end)
			return true;
		p++;
	}
	return false;
}

int repo_check_comment(const char *comment, const char *app, const char *path,
		       struct err *e)
{
	char *a = xasprintf("app:%s", app), *f = xasprintf("file:%s", path);
	int rc = 0;

	if (!has_token(comment, a) || !has_token(comment, f))
		rc = err_set(e, EXIT_TRUST,
			     "the signature's trusted comment does not name %s and %s "
			     "(it says \"%s\"): a signature for another file",
			     a, f, comment);
	free(a);
	free(f);
	return rc;
}

int repo_open(struct repo *r, const struct config *c, bool progress,
	      bool dry_run, struct err *e)
{
	size_t i;

	memset(r, 0, sizeof *r);
	r->c = c;
	r->progress = progress;
	r->dry_run = dry_run;
	r->now = time(NULL);
	r->retries = 2;
	r->backoff_ms = 500;
	if (c->trust_root) {
		r->use_root = true;
		r->root_bytes = (struct buf)BUF_INIT;
		if (root_state_load(c->state_dir, c->trust_root, &r->root, &r->root_bytes, e) < 0) {
			r->use_root = false;
			e->code = EXIT_TRUST;
			return err_prefix(e, "trust root: ");
		}
	} else if (c->ntrusted_keys == 0)
		return err_set(e, EXIT_TRUST,
			       "%s: no trusted_keys: refusing to trust any release", c->path);
	if (!r->use_root)
		r->keys = xcalloc(c->ntrusted_keys, sizeof *r->keys);
	for (i = 0; !r->use_root && i < c->ntrusted_keys; i++) {
		const char *k = c->trusted_keys[i];

		if (config_check_file(k, false, e) < 0 ||
		    sign_pub_load(k, &r->keys[r->nkeys], e) < 0) {
			e->code = EXIT_TRUST;
			return err_prefix(e, "trusted key: ");
		}
		r->nkeys++;
	}
	if (c->netrc && config_check_file(c->netrc, true, e) < 0)
		return err_prefix(e, "netrc: ");
	r->x = xcalloc(c->nservers, sizeof *r->x);
	if (c->balance == BALANCE_RANDOM && c->nservers > 1)
		r->first = repo_random() % c->nservers;
	return 0;
}

void repo_close(struct repo *r)
{
	size_t i;

	if (r->x)
		for (i = 0; i < r->c->nservers; i++)
			if (r->x[i])
				xfer_free(r->x[i]);
	free(r->x);
	free(r->keys);
	if (r->use_root)
		root_release(&r->root);
	buf_release(&r->root_bytes);
	memset(r, 0, sizeof *r);
}

void repo_poll_release(struct repo_poll *p)
{
	channel_release(&p->ch);
	free(p->release_dir);
	treescan_free(p->scan);
	memset(p, 0, sizeof *p);
}

struct xfer *repo_server(struct repo *r, size_t i)
{
	if (!r->x[i]) {
		struct xfer_opts o = { 0 };

		o.netrc = r->c->netrc;
		o.ca_file = r->c->ca_file;
		o.ssh_key = r->c->ssh_key;
		o.ssh_known_hosts = r->c->ssh_known_hosts;
		o.connect_timeout = (long)r->c->connect_timeout;
		o.low_speed_limit = (long)r->c->low_speed_limit;
		o.low_speed_time = (long)r->c->low_speed_time;
		o.progress = r->progress;
		r->x[i] = xfer_new(&o);
	}
	return r->x[i];
}

uint64_t repo_received(const struct repo *r)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < r->c->nservers; i++)
		n += xfer_received(r->x[i]);
	return n;
}

/* SERVER/apps/APP/REL */
static char *app_url(const struct repo *r, size_t i, const char *app, const char *rel)
{
	return xasprintf("%s/apps/%s/%s", r->c->servers[i], app, rel);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* GET url from server i, once more after a short random pause when the
 * server failed in a way that may pass (a busy FTP server drops a session
 * when it runs out of passive ports); a missing file is not retried. */
static int get_small(struct repo *r, size_t i, const char *url, size_t max,
		     struct buf *out, bool *missing, struct err *e)
{
	*missing = false;
	if (xfer_get(repo_server(r, i), url, max, out, missing, e) == 0)
		return 0;
	if (e->code != EXIT_UNAVAILABLE || *missing)
		return -1;
	sleep_ms(100 + repo_random() % 300);
	return xfer_get(repo_server(r, i), url, max, out, missing, e);
}

const char *repo_cause_name(enum repo_cause c)
{
	static const char *const names[REPO_CAUSES] = {
		"signature", "hash", "replay", "expired", "mismatch", "policy", "root",
		"threshold",
	};

	return (unsigned)c < REPO_CAUSES ? names[c] : "policy";
}

/* Server i served a file that failed a check (why, EXIT_TRUST, its class
 * in p->cause): note it, naming the server, in p->lies and in all, the
 * text of every server's failure. */
static void note_lie(const struct repo *r, size_t i, struct repo_poll *p,
		     const struct err *why, struct buf *all)
{
	char *shown = xfer_url_redact(r->c->servers[i]);

	buf_addf(all, "%s%s: %s", all->len ? "; " : "", shown, why->msg);
	if (p->nlies < REPO_LIES_MAX) {
		struct repo_lie *l = &p->lies[p->nlies++];

		l->cause = p->cause;
		snprintf(l->server, sizeof l->server, "%s", shown);
		buf_fixedf(l->msg, sizeof l->msg, "server %s refused: %s", shown, why->msg);
	}
	free(shown);
}

/* Server i did not answer (last says why): noted once per server in
 * p->down, for the status and the messages. */
static void note_down(size_t i, struct repo_poll *p, const struct err *last)
{
	const char *why = strstr(last->msg, ": ");
	size_t k;

	for (k = 0; k < p->ndown && p->down[k].server != i; k++)
		;
	if (k < p->ndown || k == REPO_LIES_MAX)
		return;
	p->down[k].server = i;
	buf_fixedf(p->down[k].why, sizeof p->down[k].why, "%s", why ? why + 2 : last->msg);
	p->ndown++;
}

/* Checks a fetched file and its signature before it is used: 0, or -1
 * with e set (and p->cause for EXIT_TRUST). */
typedef int (*repo_check_fn)(struct repo *r, const char *app, const struct buf *data,
			     const struct buf *sig, struct repo_poll *p, void *arg,
			     struct err *e);

/* The error after every server failed for rel: EXIT_TRUST naming each
 * liar when one lied, else EXIT_UNAVAILABLE. */
static int all_failed(const char *rel, size_t n, size_t nmissing, bool lied,
		      const struct buf *all, const struct err *last, struct err *e)
{
	if (lied)
		return err_set(e, EXIT_TRUST, "%s: refused from every server (%zu tried): %s",
			       rel, n, all->data);
	if (n && nmissing == n)
		return err_set(e, EXIT_UNAVAILABLE, "%s: not on any server (%zu tried); last: %s",
			       rel, n, last->msg);
	return err_set(e, EXIT_UNAVAILABLE, "no server answered (%zu tried); last: %s",
		       n, last->msg);
}

/* Fetch REL and REL.minisig from the servers, starting at *from, until
 * one passes check; on success *from is that server. A transport error
 * or a check's EXIT_TRUST (noted as a lie) moves on to the next server;
 * anything else (a file over its cap, invalid signed data) is returned. */
static int fetch_signed(struct repo *r, const char *app, const char *rel,
			size_t max, struct buf *data, struct buf *sig, size_t *from,
			repo_check_fn check, void *arg, struct repo_poll *p,
			struct err *e)
{
	size_t k, n = r->c->nservers, nmissing = 0;
	struct buf all = BUF_INIT;
	struct err last;
	char *url = NULL, *sigurl = NULL;
	bool missing = false, lied = false;
	int rc = -1;

	err_set(&last, EXIT_UNAVAILABLE, "no server configured");
	for (k = 0; k < n; k++) {
		size_t i = (*from + k) % n;

		free(url);
		free(sigurl);
		url = app_url(r, i, app, rel);
		sigurl = xasprintf("%s.minisig", url);
		if (get_small(r, i, url, max, data, &missing, &last) < 0 ||
		    get_small(r, i, sigurl, REPO_SIG_MAX, sig, &missing, &last) < 0) {
			if (last.code != EXIT_UNAVAILABLE)
				goto fail;
			nmissing += missing;
			if (!missing)
				note_down(i, p, &last);
			buf_addf(&all, "%s%s", all.len ? "; " : "", last.msg);
			continue;
		}
		r->cur = i;
		if (check(r, app, data, sig, p, arg, &last) == 0) {
			*from = i;
			p->server = i;
			p->have_server = true;
			rc = 0;
			goto done;
		}
		if (last.code != EXIT_TRUST)
			goto fail;
		lied = true;
		note_lie(r, i, p, &last, &all);
	}
	all_failed(rel, n, nmissing, lied, &all, &last, e);
	p->all_lied = lied;
	goto done;
fail:
	*e = last;
done:
	buf_release(&all);
	free(url);
	free(sigurl);
	return rc;
}

int repo_verify(const struct repo_trust *t, const char *app, const char *rel,
		const struct buf *data, const struct buf *sig, struct err *e)
{
	char *comment = NULL;
	int rc = -1;

	if (sign_verify(t->keys, t->nkeys, data->data, data->len, sig->data,
			sig->len, &comment, e) < 0) {
		e->code = EXIT_TRUST;
		goto done;
	}
	rc = repo_check_comment(comment, app, rel, e);
done:
	free(comment);
	if (rc < 0)
		err_prefix(e, "%s: ", rel);
	return rc;
}

static int verify_sig(const struct repo *r, const char *app, const char *rel,
		      const struct buf *data, const struct buf *sig, struct err *e)
{
	struct repo_trust t = { r->keys, r->nkeys };

	return repo_verify(&t, app, rel, data, sig, e);
}

/* The class of a failed check, for the lie it makes (see note_lie). */
static int cause(struct repo_poll *p, enum repo_cause c, int rc)
{
	p->cause = c;
	return rc;
}

/* ---- trust root mode (config trust_root:, docs/trust.md "On a host") ---- */

/* The signatures of one file on one server: REL.minisig, then
 * REL.NAME.minisig for the key names of some roles (each key once). */
struct sigset {
	struct root_sig s[ROOT_MAX_KEYS + 1];
	struct buf b[ROOT_MAX_KEYS + 1];
	bool asked[ROOT_MAX_KEYS];
	size_t n;
};

static void sigset_init(struct sigset *ss, const struct buf *plain)
{
	memset(ss, 0, sizeof *ss);
	ss->s[0].name = "minisig";
	ss->s[0].text = plain->data;
	ss->s[0].len = plain->len;
	ss->n = 1;
}

static void sigset_release(struct sigset *ss)
{
	size_t i;

	for (i = 0; i < ROOT_MAX_KEYS + 1; i++)
		buf_release(&ss->b[i]);
}

/* Add REL.NAME.minisig from server r->cur for each key of role not asked
 * for yet; a missing file is "not signed". */
static int sigset_fetch(struct repo *r, const char *app, const char *rel,
			enum root_role_id role, struct sigset *ss, struct err *e)
{
	const struct root_role *ro = &r->root.roles[role];
	size_t j;

	for (j = 0; j < ro->n && ss->n < ROOT_MAX_KEYS + 1; j++) {
		size_t k = ro->idx[j];
		char *url;
		bool missing;
		int rc;

		if (ss->asked[k])
			continue;
		ss->asked[k] = true;
		url = xasprintf("%s/apps/%s/%s.%s.minisig", r->c->servers[r->cur], app, rel,
				r->root.keys[k].name);
		rc = get_small(r, r->cur, url, REPO_SIG_MAX, &ss->b[ss->n], &missing, e);
		free(url);
		if (rc < 0 && !missing)
			return -1;
		if (rc < 0)
			continue;
		ss->s[ss->n].name = r->root.keys[k].name;
		ss->s[ss->n].text = ss->b[ss->n].data;
		ss->s[ss->n].len = ss->b[ss->n].len;
		ss->n++;
	}
	return 0;
}

/* Whether role's threshold signed data: REL.minisig alone first (the
 * cheap tick), then with the role's named signatures. */
static int sigset_threshold(struct repo *r, const char *app, const char *rel,
			    enum root_role_id role, const struct buf *data,
			    struct sigset *ss, struct err *e)
{
	struct root_tally t;

	if (root_verify_threshold(&r->root, role, data->data, data->len, ss->s, ss->n,
				  NULL, &t, e) == 0)
		return 0;
	if (sigset_fetch(r, app, rel, role, ss, e) < 0)
		return -1;
	return root_verify_threshold(&r->root, role, data->data, data->len, ss->s, ss->n,
				     NULL, &t, e);
}

struct root_ctx {
	struct repo *r;
	size_t i;
};

/* A root_fetch_fn over one server: SERVER/root/N.root.yaml and its
 * signatures. */
static int fetch_root_file(void *ctx, const char *relpath, size_t max, struct buf *out,
			   bool *missing, struct err *e)
{
	struct root_ctx *c = ctx;
	char *url = xasprintf("%s/%s", c->r->c->servers[c->i], relpath);
	int rc = get_small(c->r, c->i, url, max, out, missing, e);

	free(url);
	return rc;
}

static char *trust_path(const struct repo *r, const char *name)
{
	return xasprintf("%s/trust/%s", r->c->state_dir, name);
}

/* Whether STATE/trust/NAME holds today's UTC date. */
static bool stamped_today(const struct repo *r, const char *name, char *today)
{
	char *path = trust_path(r, name);
	struct buf b = BUF_INIT;
	struct tm tm;
	struct err e;
	bool same;

	gmtime_r(&r->now, &tm);
	strftime(today, 16, "%Y-%m-%d\n", &tm);
	same = access(path, F_OK) == 0 && fs_read_file(path, 64, &b, &e) == 0 &&
	       b.len == strlen(today) && !memcmp(b.data, today, b.len);
	buf_release(&b);
	free(path);
	return same;
}

static void stamp_today(const struct repo *r, const char *name)
{
	char *path = trust_path(r, name);
	char today[16];
	struct err e;

	if (!r->dry_run && !stamped_today(r, name, today) &&
	    fs_write_atomic(path, today, strlen(today), 0600, &e) < 0)
		fprintf(stderr, "upgr: warning: %s\n", e.msg);
	free(path);
}

void repo_root_warned(const struct repo *r)
{
	stamp_today(r, "warned");
}

/* TUF 5.3 with the mirror rule: walk root/N+1, N+2, ... on each server in
 * turn; a server whose next root fails root_accept_next is noted as a
 * lie and the walk goes on from the last good root on the next server.
 * Expiry is the caller's (root_tick). When no server answers, the
 * current root stays. */
static int walk_roots(struct repo *r, struct repo_poll *p, struct err *e)
{
	size_t k, n = r->c->nservers, nlied = 0, nok = 0;
	struct buf all = BUF_INIT;
	int rc = 0;

	r->root_walked = true;
	for (k = 0; k < n; k++) {
		struct root_ctx ctx = { r, (r->first + k) % n };
		struct err last;
		unsigned walked;

		err_clear(&last);
		/* now 0: expiry is checked once, after every server. */
		if (root_update(r->dry_run ? NULL : r->c->state_dir, &r->root, &r->root_bytes,
				fetch_root_file, &ctx, 0, &walked, &last) == 0) {
			nok++;
			break;
		}
		if (last.code == EXIT_UNAVAILABLE)
			continue;
		p->cause = REPO_CAUSE_ROOT;
		nlied++;
		note_lie(r, ctx.i, p, &last, &all);
	}
	if (nok)
		stamp_today(r, "checked");
	else if (nlied) {
		p->all_lied = true;
		rc = err_set(e, EXIT_TRUST, "trust root: refused from every server (%zu tried): %s",
			     n, all.data);
	}
	buf_release(&all);
	return rc;
}

/* All updates are refused under an expired root (EXIT_TRUST). */
static int root_unexpired(struct repo *r, struct repo_poll *p, struct err *e)
{
	char t[CHANNEL_TIME_LEN + 1];

	if (root_expiry_state(&r->root, r->now, NULL) != ROOT_EXP_EXPIRED)
		return 0;
	channel_time_format(r->root.expires, t);
	return cause(p, REPO_CAUSE_ROOT,
		     err_set(e, EXIT_TRUST, "trust root version %" PRIu64 " expired at %s: "
			     "all updates are refused until the root key holders "
			     "publish version %" PRIu64, r->root.version, t,
			     r->root.version + 1));
}

/* Before each poll: look for root N+1 once a day (the channel's root:
 * field asks sooner, root_channel_policy) or when the root expired. */
static int root_tick(struct repo *r, struct repo_poll *p, struct err *e)
{
	char today[16];

	if (!r->root_walked &&
	    (root_expiry_state(&r->root, r->now, NULL) == ROOT_EXP_EXPIRED ||
	     !stamped_today(r, "checked", today)) &&
	    walk_roots(r, p, e) < 0)
		return -1;
	return root_unexpired(r, p, e);
}

const char *repo_root_warning(struct repo *r)
{
	char today[16];

	if (!repo_root_expiry_note(r) || stamped_today(r, "warned", today))
		return NULL;
	return r->root_warning;
}

const char *repo_root_expiry_note(struct repo *r)
{
	char t[CHANNEL_TIME_LEN + 1];
	long days;

	if (!r->use_root || root_expiry_state(&r->root, r->now, &days) != ROOT_EXP_WARN)
		return NULL;
	channel_time_format(r->root.expires, t);
	snprintf(r->root_warning, sizeof r->root_warning,
		 "trust root version %" PRIu64 " expires at %s (in %ld days): "
		 "the root key holders must publish version %" PRIu64 " before then",
		 r->root.version, t, days, r->root.version + 1);
	return r->root_warning;
}

/* The channel role's threshold over the channel bytes (a rotated channel
 * key: the root is walked once and the check made again). */
static int root_channel_sig(struct repo *r, const char *app, const char *rel,
			    const struct buf *data, const struct buf *sig,
			    struct repo_poll *p, struct err *e)
{
	struct sigset ss;
	int rc;

	sigset_init(&ss, sig);
	rc = sigset_threshold(r, app, rel, ROOT_ROLE_CHANNEL, data, &ss, e);
	sigset_release(&ss);
	if (rc == 0 || e->code != EXIT_TRUST || r->root_walked)
		return cause(p, REPO_CAUSE_THRESHOLD, rc);
	if (walk_roots(r, p, e) < 0)
		return -1;
	return root_channel_sig(r, app, rel, data, sig, p, e);
}

/* The installed version of app as a tick needs it, into p->inst, read
 * without parsing the manifest when it can be (state_installed_peek):
 * when its bytes are the ones the channel pins and its top names the
 * channel's version (the idle tick: it is that release), and when its top
 * names another version (an upgrade: the scan parses it in full,
 * fetch_release). Otherwise, as when a channel pins the installed bytes
 * under another version (mix and match, refused when the release is
 * fetched), it is parsed here. */
static int read_installed(struct repo *r, const char *app, struct repo_poll *p,
			  struct err *e)
{
	struct manifest m;
	bool same;

	if (state_installed_peek(r->c->state_dir, app, p->ch.manifest_sha256, &same,
				 p->inst.ver, sizeof p->inst.ver) &&
	    *p->inst.ver && semver_parse(p->inst.ver, &p->inst.sv, NULL, 0) == 0 &&
	    (semver_cmp(&p->inst.sv, &p->ch.semver) == 0) == same) {
		p->inst.have = true;
		return 0;
	}
	if (state_installed(r->c->state_dir, app, &m, &p->inst.have, e) < 0) {
		p->local = true;
		return -1;
	}
	p->inst.ver[0] = '\0';
	if (p->inst.have) {
		snprintf(p->inst.ver, sizeof p->inst.ver, "%s", m.version);
		p->inst.sv = m.semver;
		manifest_release(&m);
	}
	return 0;
}

/* read_installed's answer (ver and sv; *have: false when none is
 * installed), read once per channel: a trust root asks in the channel
 * check, and decide asks again. */
static int installed_version(struct repo *r, const char *app, struct repo_poll *p,
			     bool *have, char *ver, size_t len, struct semver *sv,
			     struct err *e)
{
	if (!p->inst.known || strcmp(p->inst.pin, p->ch.manifest_sha256) ||
	    semver_cmp(&p->inst.ch, &p->ch.semver)) {
		if (read_installed(r, app, p, e) < 0)
			return -1;
		p->inst.known = true;
		snprintf(p->inst.pin, sizeof p->inst.pin, "%s", p->ch.manifest_sha256);
		p->inst.ch = p->ch.semver;
	}
	*have = p->inst.have;
	snprintf(ver, len, "%s", p->inst.ver);
	*sv = p->inst.sv;
	return 0;
}

/* After the channel parsed: a higher root named walks the root (and the
 * channel is checked again under it); a channel lower than the installed
 * version needs the release threshold too (root_check_channel). */
static int root_channel_policy(struct repo *r, const char *app, const char *rel,
			       const struct buf *data, const struct buf *sig,
			       struct repo_poll *p, struct err *e)
{
	struct semver sv;
	struct sigset ss;
	struct root_tally t;
	struct err first;
	char ver[sizeof p->installed];
	bool have, release_signed = false;
	const char *installed;
	int rc = -1;

	if (p->ch.root > r->root.version && !r->root_walked &&
	    (walk_roots(r, p, e) < 0 || root_channel_sig(r, app, rel, data, sig, p, e) < 0))
		return -1;
	if (installed_version(r, app, p, &have, ver, sizeof ver, &sv, e) < 0)
		return -1;
	installed = have ? ver : NULL;
	sigset_init(&ss, sig);
	if (have && semver_cmp(&p->ch.semver, &sv) < 0) {
		struct err ignored;

		release_signed = sigset_fetch(r, app, rel, ROOT_ROLE_RELEASE, &ss, e) == 0 &&
				 root_verify_threshold(&r->root, ROOT_ROLE_RELEASE, data->data,
						       data->len, ss.s, ss.n, NULL, &t,
						       &ignored) == 0;
	}
	/* REL.minisig alone first (the cheap tick: a channel key's own
	 * signature), then with the channel role's named signatures. */
	if (root_check_channel(&r->root, data->data, data->len, ss.s, ss.n,
			       installed, p->ch.version, release_signed, &first) == 0)
		rc = 0;
	else if (sigset_fetch(r, app, rel, ROOT_ROLE_CHANNEL, &ss, e) == 0)
		rc = root_check_channel(&r->root, data->data, data->len, ss.s, ss.n,
					installed, p->ch.version, release_signed, e);
	sigset_release(&ss);
	if (rc < 0)
		err_prefix(e, "%s: ", rel);
	return cause(p, REPO_CAUSE_THRESHOLD, rc);
}

/* The signature of release key `key` among ss (for the cache's
 * manifest.yaml.minisig, which apply_release checks again). */
static const struct root_sig *signed_by(const struct repo *r, size_t key,
					const struct buf *data, const struct sigset *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++) {
		struct err e;
		char *comment = NULL;
		int rc = sign_verify(&r->root.keys[key].pub, 1, data->data, data->len,
				     ss->s[i].text, ss->s[i].len, &comment, &e);

		free(comment);
		if (rc == 0)
			return &ss->s[i];
	}
	return NULL;
}

/* The manifest's release (in scope for the app and target it names:
 * mapp, target) and approve thresholds. Approvals missing is no lie:
 * p->waiting, with p->why. The first release signer's signature goes to
 * keep. */
static int root_manifest_sig(struct repo *r, const char *app, const char *mapp,
			     const char *target, const struct buf *data, const struct buf *sig,
			     struct repo_poll *p, struct buf *keep, struct err *e)
{
	struct root_manifest_result res;
	const struct root_sig *s;
	struct sigset ss;
	int rc = -1;

	size_t nrel;

	sigset_init(&ss, sig);
	if (sigset_fetch(r, app, p->ch.manifest, ROOT_ROLE_RELEASE, &ss, e) < 0)
		goto done;
	nrel = ss.n;
	if (sigset_fetch(r, app, p->ch.manifest, ROOT_ROLE_APPROVE, &ss, e) < 0)
		goto done;
	memset(&res, 0, sizeof res);
	if (root_check_manifest(&r->root, data->data, data->len, mapp, target,
				ss.s, ss.n, &res, e) < 0) {
		err_prefix(e, "%s: ", p->ch.manifest);
		/* Too few approvals is waiting; an approver's file that does
		 * not count (another key's, the release signer's) is not. */
		if (res.release_ok && !res.approve_ok && ss.n - nrel == res.approve.got) {
			p->waiting = true;
			snprintf(p->why, sizeof p->why, "%s", res.why);
			rc = 0;
		}
		goto done;
	}
	s = signed_by(r, res.release.signer[0], data, &ss);
	buf_reset(keep);
	if (s)
		buf_add(keep, s->text, s->len);
	rc = 0;
done:
	sigset_release(&ss);
	return cause(p, REPO_CAUSE_THRESHOLD, rc);
}

/* Steps 2-4: the channel bytes are verified, parsed and checked against
 * the config and the replay and freeze defences (a repo_check_fn; arg is
 * the channel's REL). */
static int check_channel(struct repo *r, const char *app, const struct buf *data,
			 const struct buf *sig, struct repo_poll *p, void *arg,
			 struct err *e)
{
	const char *rel = arg;
	struct diag d;
	uint64_t seen;
	char t[CHANNEL_TIME_LEN + 1];
	char *name;

	if (p->have_channel) {     /* another server's, refused */
		channel_release(&p->ch);
		p->have_channel = false;
	}
	if (r->use_root ? root_channel_sig(r, app, rel, data, sig, p, e) < 0
			: verify_sig(r, app, rel, data, sig, e) < 0)
		return r->use_root ? -1 : cause(p, REPO_CAUSE_SIGNATURE, -1);
	name = xasprintf("apps/%s/%s", app, rel);
	diag_init(&d, name);
	free(name);
	if (channel_parse(data->data, data->len, &p->ch, &d) < 0) {
		diag_to_err(&d, EXIT_DATAERR, e);
		diag_release(&d);
		return cause(p, REPO_CAUSE_POLICY, -1);
	}
	diag_release(&d);
	p->have_channel = true;
	if (strcmp(p->ch.app, app) || strcmp(p->ch.channel, r->c->channel))
		return cause(p, REPO_CAUSE_MISMATCH,
			     err_set(e, EXIT_TRUST, "%s: names app '%s' channel '%s', not '%s' '%s'",
				     rel, p->ch.app, p->ch.channel, app, r->c->channel));
	if (r->use_root && root_channel_policy(r, app, rel, data, sig, p, e) < 0)
		return -1;
	if (state_serial_read(r->c->state_dir, app, r->c->channel, &seen, e) < 0)
		return -1;
	if (p->ch.serial < seen)
		return cause(p, REPO_CAUSE_REPLAY,
			     err_set(e, EXIT_TRUST,
				     "%s: serial %" PRIu64 " is lower than %" PRIu64
				     " already seen: a replayed old channel file", rel,
				     p->ch.serial, seen));
	if (r->now >= p->ch.expires) {
		channel_time_format(p->ch.expires, t);
		return cause(p, REPO_CAUSE_EXPIRED,
			     err_set(e, EXIT_TRUST,
				     "%s: expired at %s: refusing a frozen channel", rel, t));
	}
	if (!r->dry_run && p->ch.serial > seen &&
	    state_serial_write(r->c->state_dir, app, r->c->channel, p->ch.serial, e) < 0)
		return -1;
	return 0;
}

static char *failed_path(const struct config *c, const char *app, const char *version)
{
	return xasprintf("%s/" STATE_CACHE "/%s/%s/failed-serial", c->state_dir, app, version);
}

void repo_mark_failed(const struct config *c, const char *app, const char *version,
		      uint64_t serial)
{
	char *path = failed_path(c, app, version);
	char text[32];
	struct err e;

	snprintf(text, sizeof text, "%" PRIu64 "\n", serial);
	if (fs_write_atomic(path, text, strlen(text), 0600, &e) < 0)
		fprintf(stderr, "upgr: warning: %s\n", e.msg);
	free(path);
}

/* Whether this channel's release already failed here at this serial. */
static bool failed_before(const struct config *c, const char *app,
			  const struct channel *ch)
{
	char *path = failed_path(c, app, ch->version);
	struct buf b = BUF_INIT;
	struct err e;
	bool failed = false;

	if (access(path, F_OK) == 0 && fs_read_file(path, 64, &b, &e) == 0)
		failed = strtoull(b.data, NULL, 10) >= ch->serial;
	buf_release(&b);
	free(path);
	return failed;
}

/* Step 6: whether this host should not move yet, with the reason in
 * p->why. */
static bool must_wait(const struct repo *r, const char *app, struct repo_poll *p)
{
	const struct config *c = r->c;
	char t[CHANNEL_TIME_LEN + 1];

	if (failed_before(c, app, &p->ch)) {
		snprintf(p->why, sizeof p->why,
			 "%s failed and was rolled back; waiting for a newer channel file "
			 "than serial %" PRIu64, p->ch.version, p->ch.serial);
		return true;
	}
	if (p->ch.has_not_before && r->now < p->ch.not_before) {
		channel_time_format(p->ch.not_before, t);
		snprintf(p->why, sizeof p->why, "not before %s", t);
		return true;
	}
	if (!repo_rollout_includes(c->host, p->ch.version, p->ch.rollout)) {
		snprintf(p->why, sizeof p->why, "rollout %u%% does not include host %s",
			 p->ch.rollout, c->host);
		return true;
	}
	/* The window, the freezes and the group lease are the agent's
	 * (prestage.h): outside them the release is still fetched. */
	return false;
}

/* Whether a hold keeps app off the channel's version (state.h); one that
 * cannot be read is the agent's to report, after the fetch. */
static bool held_here(const struct repo *r, const char *app, const struct repo_poll *p)
{
	struct app_hold h;
	struct err e;
	bool have;

	return state_hold_read(r->c->state_dir, app, &h, &have, &e) == 0 && have &&
	       state_hold_applies(&h, p->ch.version);
}

/* Steps 5-6: returns 1 when the release should be fetched now. */
static int decide(struct repo *r, const char *app, struct repo_poll *p, struct err *e)
{
	struct semver sv;
	bool have;

	/* Without a parse when the top of the installed manifest says (the
	 * idle tick: its bytes are the ones the channel pins); the scan
	 * parses it in full if the release is fetched (fetch_release). */
	if (installed_version(r, app, p, &have, p->installed, sizeof p->installed, &sv, e) < 0)
		return -1;
	if (have) {
		int cmp = semver_cmp(&p->ch.semver, &sv);

		if (cmp == 0) {
			p->state = REPO_CURRENT;
			return 0;
		}
		if (cmp < 0 && !p->ch.downgrade)
			return cause(p, REPO_CAUSE_POLICY, err_set(e, EXIT_TRUST,
				       "channel offers %s, lower than the installed %s, "
				       "and does not say downgrade: true", p->ch.version,
				       p->installed));
	}
	if (held_here(r, app, p)) {
		p->state = REPO_HELD;     /* fetched again at every tick, before */
		return 0;
	}
	p->state = REPO_WAIT;
	return must_wait(r, app, p) ? 0 : 1;
}

struct index_check {
	struct objects_index ix;
	const struct manifest *m;
	const char *from;            /* a change index from this release, else NULL */
};

/* With trust_root: any one key of the release role signs an index (it
 * says nothing about content, see objects.h). */
static int root_index_sig(struct repo *r, const char *app, const char *rel,
			  const struct buf *data, const struct buf *sig, struct err *e)
{
	const struct root_role *ro = &r->root.roles[ROOT_ROLE_RELEASE];
	struct sign_pub *k = xcalloc(ro->n ? ro->n : 1, sizeof *k);
	struct repo_trust t = { k, ro->n };
	size_t j;
	int rc;

	for (j = 0; j < ro->n; j++)
		k[j] = r->root.keys[ro->idx[j]].pub;
	rc = repo_verify(&t, app, rel, data, sig, e);
	free(k);
	return rc;
}

/* The index's signature, as the trust in force wants it. */
static int index_sig(struct repo *r, const char *app, const char *rel, const struct buf *data,
		     const struct buf *sig, struct err *e)
{
	return r->use_root ? root_index_sig(r, app, rel, data, sig, e)
			   : verify_sig(r, app, rel, data, sig, e);
}

/* Object o from server i into objdir (objects_fetch). */
static int fetch_object(struct repo *r, size_t i, const char *app, const char *objdir,
			const struct objects_entry *o, struct err *e)
{
	char *orel = objects_rel(o->sha256), *url = app_url(r, i, app, orel);
	int rc = objects_fetch(repo_server(r, i), url, objdir, o, e);

	free(url);
	free(orel);
	return rc;
}

/* ---- the objects index, ahead of the manifest's parse ---- */

/* An upgrade's index is fetched from the server that served the
 * manifest as soon as the manifest's bytes are the channel's and signed,
 * and its signature checked and its YAML parsed, on a thread of its own
 * while the main thread parses the manifest (the two are the largest
 * documents of a release). The thread asks first for the change index
 * from the installed version (objects.h), a few lines for a small
 * change, and then fetches the objects it lists, which such a host lacks
 * by construction; all over that server's connection, which the main
 * thread does not use until ahead_take (or, when the manifest is
 * refused, until check_manifest has waited for the thread). Only a head
 * start:
 * fetch_objects takes what checked out, else goes to the servers as it
 * would without it, so every refusal, failover and lie is found and said
 * the one way; a change index that does not check is noted as that
 * server's lie once, by ahead_take. Objects fetched ahead are verified
 * as any object is, and counted by fetch_objects as ones the host has. */
struct index_ahead {
	struct repo *r;
	size_t server;               /* the one asked: r->cur then */
	char *app, *rel, *from;      /* from: a change index's release, or NULL */
	char *version, *manifest_sha256; /* the release's, from the channel */
	char *objdir;                /* for the objects of a change index */
	struct buf data, sig;
	struct objects_index ix;
	struct err err;              /* rc < 0: why */
	enum repo_cause cause;       /* and what kind of lie, when err is EXIT_TRUST */
	pthread_t thread;
	bool tried;                  /* once per poll */
	bool running;                /* a thread to join */
	bool prefetch;               /* fetch a change index's objects */
	int rc;                      /* 0: data and sig verified, ix parsed */
};

/* A change index's objects into a->objdir, each verified (objects_fetch),
 * when they weigh less than fetch_objects would take them at (the change
 * index's payload_size is held to the manifest's there); the first that
 * fails ends it, and fetch_objects asks for the rest. */
static void ahead_objects(struct index_ahead *a)
{
	uint64_t gz = 0;
	size_t i;
	struct err e;

	for (i = 0; i < a->ix.n; i++)
		gz += a->ix.v[i].gz;
	if (!objects_cheaper(gz, a->ix.payload_size) || fs_mkdir_p(a->objdir, 0700, &e) < 0)
		return;
	for (i = 0; i < a->ix.n; i++)
		if (fetch_object(a->r, a->server, a->app, a->objdir, &a->ix.v[i], &e) < 0)
			return;
}

/* rel and its signature from server a->server into a->data and a->sig. */
static bool ahead_get(struct index_ahead *a, const char *rel)
{
	char *url = app_url(a->r, a->server, a->app, rel), *sigurl = xasprintf("%s.minisig", url);
	struct xfer *x = repo_server(a->r, a->server);
	bool missing, ok;
	struct err e;

	buf_release(&a->data);
	buf_release(&a->sig);
	ok = xfer_get(x, url, OBJECTS_INDEX_MAX, &a->data, &missing, &e) == 0 &&
	     xfer_get(x, sigurl, REPO_SIG_MAX, &a->sig, &missing, &e) == 0;
	free(url);
	free(sigurl);
	return ok;
}

/* The change index from the installed version (a->from), else the
 * index; its checks; a change index's objects. */
static void *ahead_run(void *arg)
{
	struct index_ahead *a = arg;

	err_clear(&a->err);
	a->rc = -1;
	a->rel = objects_delta_rel(a->version, a->from);
	if (!ahead_get(a, a->rel)) {
		free(a->rel);
		free(a->from);
		a->from = NULL;
		a->rel = objects_index_rel(a->version);
		if (!ahead_get(a, a->rel))
			return NULL;
	}
	a->cause = REPO_CAUSE_SIGNATURE;
	if (index_sig(a->r, a->app, a->rel, &a->data, &a->sig, &a->err) < 0 ||
	    objects_index_parse(a->data.data, a->data.len, &a->ix, &a->err) < 0)
		return NULL;
	a->cause = REPO_CAUSE_MISMATCH;
	if (a->from && objects_index_check(&a->ix, a->app, a->version, a->manifest_sha256,
					   a->from, NULL, &a->err) < 0)
		return NULL;
	a->rc = 0;
	if (a->from && a->prefetch)
		ahead_objects(a);
	return NULL;
}

/* Whether the release's cache dir holds no more than its manifest: not a
 * payload begun nor an index kept (fetch_objects reads those itself). */
static bool cache_fresh(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool fresh = d != NULL;

	while (fresh && (de = readdir(d)))
		fresh = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			!strcmp(de->d_name, "manifest.yaml") ||
			!strcmp(de->d_name, "manifest.yaml.minisig");
	if (d)
		closedir(d);
	return fresh;
}

/* Start fetching the change index from the installed version (else the
 * index) from server r->cur, and its checks, when the host will want it:
 * it has a version installed (an upgrade) and nothing of this release in
 * dir yet. A transfer that fails is not retried here. */
static void ahead_start(struct index_ahead *a, struct repo *r, const char *app,
			const struct repo_poll *p, const char *dir)
{
	if (a->tried || !p->installed[0] || !dir || !cache_fresh(dir))
		return;
	a->tried = true;
	a->r = r;
	a->server = r->cur;
	a->app = xstrdup(app);
	a->version = xstrdup(p->ch.version);
	a->manifest_sha256 = xstrdup(p->ch.manifest_sha256);
	a->objdir = fs_join(dir, OBJECTS_DIR_NAME);
	a->prefetch = !r->progress;        /* no progress line from a thread */
	a->from = xstrdup(p->installed);
	a->running = worker_start(&a->thread, ahead_run, a);
	if (!a->running)
		ahead_run(a);
}

static void ahead_wait(struct index_ahead *a)
{
	if (a->running) {
		pthread_join(a->thread, NULL);
		a->running = false;
	}
}

/* The index fetched ahead into ic (ic->from set to its kind), data and
 * sig, when it verified, parsed and belongs to ic's manifest: true; false
 * leaves them alone. A change index that failed a check is noted as its
 * server's lie. */
static bool ahead_take(struct index_ahead *a, struct repo_poll *p,
		       struct index_check *ic, struct buf *data, struct buf *sig)
{
	ahead_wait(a);
	/* Now it can be held to the manifest too (its payload size). */
	if (a->tried && a->rc == 0 &&
	    objects_index_check(&a->ix, a->app, p->ch.version, p->ch.manifest_sha256, a->from,
				ic->m, &a->err) < 0) {
		a->rc = -1;
		a->cause = REPO_CAUSE_MISMATCH;
	}
	if (a->tried && a->rc < 0 && a->from && a->err.code == EXIT_TRUST) {
		struct buf all = BUF_INIT;

		p->cause = a->cause;
		note_lie(a->r, a->server, p, &a->err, &all);
		buf_release(&all);
		return false;
	}
	if (!a->tried || a->rc != 0)
		return false;
	objects_index_release(&ic->ix);
	ic->ix = a->ix;
	ic->from = a->from;
	memset(&a->ix, 0, sizeof a->ix);
	buf_release(data);
	buf_release(sig);
	*data = a->data;
	*sig = a->sig;
	memset(&a->data, 0, sizeof a->data);
	memset(&a->sig, 0, sizeof a->sig);
	return true;
}

static void ahead_release(struct index_ahead *a)
{
	ahead_wait(a);
	objects_index_release(&a->ix);
	buf_release(&a->data);
	buf_release(&a->sig);
	free(a->app);
	free(a->rel);
	free(a->from);
	free(a->version);
	free(a->manifest_sha256);
	free(a->objdir);
	memset(a, 0, sizeof *a);
}

/* What check_manifest fills: the manifest parsed, and (trust root) the
 * release signer's signature for the cache; and the index it fetched
 * ahead, for the release's cache dir. */
struct manifest_check {
	struct manifest m;
	struct buf keep;
	const char *dir;
	struct index_ahead ahead;
};

/* Step 7's checks (a repo_check_fn; arg is a struct manifest_check): the
 * channel's hash (mix-and-match), the signature (trust root: the release
 * and approve thresholds for the manifest's app and target: the
 * channel's app and the target read off the top of the bytes, then held
 * to what the parse finds; or after the parse, when the target is not
 * found there as a plain scalar), the channel's app and version, a plain
 * payload name. The index is fetched ahead once the signatures are known
 * to be enough. */
static int check_fetched(struct repo *r, const char *app, const struct buf *data,
			 const struct buf *sig, struct repo_poll *p, void *arg,
			 struct err *e)
{
	struct manifest_check *mc = arg;
	struct manifest *m = &mc->m;
	uint8_t h[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], target[4096];
	bool early = false;
	struct diag d;

	sha256_buf(data->data, data->len, h);
	hex_encode(h, sizeof h, hex);
	if (strcmp(hex, p->ch.manifest_sha256))
		return cause(p, REPO_CAUSE_HASH,
			     err_set(e, EXIT_TRUST,
				     "%s: sha256 %s is not the channel's %s: mix-and-match refused",
				     p->ch.manifest, hex, p->ch.manifest_sha256));
	if (!r->use_root && verify_sig(r, app, p->ch.manifest, data, sig, e) < 0)
		return cause(p, REPO_CAUSE_SIGNATURE, -1);
	if (r->use_root && ydoc_peek(data->data, data->len, "target", target, sizeof target)) {
		if (root_manifest_sig(r, app, p->ch.app, target, data, sig, p, &mc->keep, e) < 0)
			return -1;
		early = true;
	}
	if (!r->use_root || (early && !p->waiting))
		ahead_start(&mc->ahead, r, app, p, mc->dir);
	diag_init(&d, p->ch.manifest);
	if (manifest_parse(data->data, data->len, m, &d) < 0) {
		diag_to_err(&d, EXIT_DATAERR, e);
		diag_release(&d);
		return cause(p, REPO_CAUSE_POLICY, -1);
	}
	diag_release(&d);
	if (strcmp(m->app, p->ch.app) || strcmp(m->version, p->ch.version)) {
		err_set(e, EXIT_TRUST, "%s: is %s %s, but the channel says %s %s",
			p->ch.manifest, m->app, m->version, p->ch.app, p->ch.version);
		manifest_release(m);
		return cause(p, REPO_CAUSE_MISMATCH, -1);
	}
	if (!m->has_payload || !manifest_payload_name_ok(m->payload_file)) {
		err_set(e, EXIT_DATAERR, "%s: no payload, or a payload name that is "
			"not a plain file name", p->ch.manifest);
		manifest_release(m);
		return cause(p, REPO_CAUSE_POLICY, -1);
	}
	/* The scalar peeked is the one the parse read; held to it all the same. */
	if (early && strcmp(m->target, target)) {
		err_set(e, EXIT_TRUST, "%s: target %s is not the %s its signatures were checked for",
			p->ch.manifest, m->target, target);
		manifest_release(m);
		return cause(p, REPO_CAUSE_MISMATCH, -1);
	}
	if (r->use_root && !early &&
	    root_manifest_sig(r, app, m->app, m->target, data, sig, p, &mc->keep, e) < 0) {
		manifest_release(m);
		return -1;
	}
	return 0;
}

/* check_fetched; a refusal waits for the index fetched ahead, whose
 * thread may be using the server's connection the next try asks. */
static int check_manifest(struct repo *r, const char *app, const struct buf *data,
			  const struct buf *sig, struct repo_poll *p, void *arg,
			  struct err *e)
{
	struct manifest_check *mc = arg;
	int rc = check_fetched(r, app, data, sig, p, arg, e);

	if (rc < 0)
		ahead_wait(&mc->ahead);
	return rc;
}

/* A file an earlier poll stored at path (the manifest, the objects
 * index), with its signature beside it: 0 when it passes check as the
 * server's copy would, so that a host waiting with a staged release (or
 * after a run cut short) fetches the channel alone. Anything else (no
 * copy, other bytes, a signature that no longer checks) is left to the
 * servers; p keeps the cause it had. */
static int cached_copy(struct repo *r, const char *app, struct repo_poll *p,
		       const char *path, size_t max, repo_check_fn check, void *arg)
{
	char *spath = xasprintf("%s.minisig", path);
	struct buf data = BUF_INIT, sig = BUF_INIT;
	enum repo_cause was = p->cause;
	struct err e;
	int rc = -1;

	if (access(path, F_OK) == 0 && access(spath, F_OK) == 0 &&
	    fs_read_file(path, max, &data, &e) == 0 &&
	    fs_read_file(spath, REPO_SIG_MAX, &sig, &e) == 0 &&
	    check(r, app, &data, &sig, p, arg, &e) == 0)
		rc = 0;
	p->cause = was;
	buf_release(&data);
	buf_release(&sig);
	free(spath);
	return rc;
}

/* Step 7: the manifest, checked against the channel, stored in dir (not
 * while waiting for approvals); mc receives it parsed. */
static int fetch_manifest(struct repo *r, const char *app, struct repo_poll *p,
			  const char *dir, size_t *from, struct manifest_check *mc,
			  struct err *e)
{
	struct buf data = BUF_INIT, sig = BUF_INIT;
	char *path = fs_join(dir, "manifest.yaml");
	int rc = -1;

	if (cached_copy(r, app, p, path, MANIFEST_MAX_BYTES, check_manifest, mc) == 0) {
		rc = 0;
		goto done;
	}
	free(path);
	path = NULL;
	if (fetch_signed(r, app, p->ch.manifest, MANIFEST_MAX_BYTES, &data, &sig,
			 from, check_manifest, mc, p, e) < 0)
		goto done;
	if (p->waiting) {
		rc = 0;
		goto done;
	}
	path = fs_join(dir, "manifest.yaml.minisig");
	if (r->use_root ? fs_write_atomic(path, mc->keep.data, mc->keep.len, 0600, e) < 0
			: fs_write_atomic(path, sig.data, sig.len, 0600, e) < 0)
		goto fail;
	free(path);
	path = fs_join(dir, "manifest.yaml");
	if (fs_write_atomic(path, data.data, data.len, 0600, e) < 0)
		goto fail;
	rc = 0;
	goto done;
fail:
	manifest_release(&mc->m);
done:
	free(path);
	buf_release(&data);
	buf_release(&sig);
	return rc;
}

/* Whether the file at path has the payload's size and hash. */
static bool payload_matches(const struct manifest *m, const char *path)
{
	uint8_t h[SHA256_LEN];
	uint64_t size;
	struct err e;

	return sha256_file(path, h, &size, &e) == 0 && size == m->payload_size &&
	       !memcmp(h, m->payload_sha256, SHA256_LEN);
}

/* A cached payload verified by an earlier tick is not read again while it
 * stays the same file: the cache directory gets a quick check record
 * (quickcheck.h) of it, its sha256 and lstat, which any write or
 * replacement breaks. A staged release waiting for its window cost a full
 * read of the payload at every tick. apply_release checks the payload's
 * sha256 again as it unpacks it, before use. */
static bool stamp_holds(const struct manifest *m, const char *dir, const char *path)
{
	struct quickcheck q = QUICKCHECK_INIT;
	struct stat st;
	bool ok;

	quickcheck_load(dir, &q);
	ok = lstat(path, &st) == 0 && (uint64_t)st.st_size == m->payload_size &&
	     quickcheck_same(&q, m->payload_file, m->payload_sha256, &st);
	quickcheck_release(&q);
	return ok;
}

/* Best effort: without the record the next tick reads the payload. */
static void stamp_write(const struct manifest *m, const char *dir, const char *path)
{
	struct quickcheck q = QUICKCHECK_INIT;
	struct qc_stat qs;
	struct stat st;
	struct err e;

	if (lstat(path, &st) == 0) {
		quickcheck_stat(&st, &qs);
		quickcheck_add(&q, m->payload_file, m->payload_sha256, &qs);
		quickcheck_save(dir, &q, &e);
	}
	quickcheck_release(&q);
}

/* One server's attempts at the payload: 0 when part is complete and
 * right, -1 with last set (EXIT_TRUST: what it served was wrong, and part
 * is removed so that the next server starts over). */
static int download_from(struct repo *r, size_t i, const char *url, const char *part,
			 const struct manifest *m, struct repo_poll *p, struct err *last)
{
	unsigned attempt, delay = r->backoff_ms;
	int rc = -1;

	for (attempt = 0; attempt <= r->retries; attempt++) {
		if (attempt) {
			sleep_ms(delay);
			delay *= 2;
		}
		rc = xfer_get_file(repo_server(r, i), url, part, m->payload_size, true, last);
		if (rc == 0 || last->code != EXIT_UNAVAILABLE)
			break;
	}
	if (rc < 0 && last->code != EXIT_TRUST)
		return -1;
	if (rc == 0 && payload_matches(m, part))
		return 0;
	if (rc == 0)
		err_set(last, EXIT_TRUST, "%s: size or sha256 differs from the manifest's",
			m->payload_file);
	unlink(part);
	return cause(p, REPO_CAUSE_HASH, -1);
}

/* Download the payload into part, resuming; retries with backoff on each
 * server, then the next server, also after a server served wrong bytes. */
static int download(struct repo *r, const char *app, const char *rel,
		    const char *part, const struct manifest *m, size_t from,
		    struct repo_poll *p, struct err *e)
{
	size_t k, n = r->c->nservers;
	struct buf all = BUF_INIT;
	struct err last;
	bool lied = false;
	int rc = -1;

	err_set(&last, EXIT_UNAVAILABLE, "no server configured");
	for (k = 0; k < n && rc < 0; k++) {
		size_t i = (from + k) % n;
		char *url = app_url(r, i, app, rel);

		err_clear(&last);
		if (download_from(r, i, url, part, m, p, &last) == 0) {
			rc = 0;
		} else if (last.code == EXIT_TRUST) {
			lied = true;
			note_lie(r, i, p, &last, &all);
		} else if (last.code != EXIT_UNAVAILABLE) {
			*e = last;
			free(url);
			goto done;
		} else {
			note_down(i, p, &last);
			buf_addf(&all, "%s%s", all.len ? "; " : "", last.msg);
		}
		if (rc == 0)
			p->server = i;
		free(url);
	}
	p->all_lied = rc < 0 && lied;
	if (p->all_lied)
		err_set(e, EXIT_TRUST, "payload: refused from every server (%zu tried): %s",
			n, all.data);
	else if (rc < 0)
		err_set(e, EXIT_UNAVAILABLE,
			"payload: no server answered (%zu tried); last: %s", n, last.msg);
done:
	buf_release(&all);
	return rc;
}

/* ---- step 8 by objects (objects.h) ---- */

/* A repo_check_fn: the index (or the change index from ic->from) signed,
 * for this release (arg: index_check). */
static int check_index(struct repo *r, const char *app, const struct buf *data,
		       const struct buf *sig, struct repo_poll *p, void *arg,
		       struct err *e)
{
	struct index_check *ic = arg;
	char *rel = ic->from ? objects_delta_rel(p->ch.version, ic->from)
			     : objects_index_rel(p->ch.version);
	int rc = index_sig(r, app, rel, data, sig, e);

	free(rel);
	if (rc < 0)
		return cause(p, REPO_CAUSE_SIGNATURE, -1);
	objects_index_release(&ic->ix);
	if (objects_index_parse(data->data, data->len, &ic->ix, e) < 0)
		return cause(p, REPO_CAUSE_POLICY, -1);
	if (objects_index_check(&ic->ix, app, p->ch.version, p->ch.manifest_sha256, ic->from,
				ic->m, e) < 0)
		return cause(p, REPO_CAUSE_MISMATCH, -1);
	return 0;
}

/* Each needed object from the servers from `from` on; a server that
 * served wrong bytes is a lie and asked for nothing more. 1 when every
 * one is in objdir. */
static int fetch_missing(struct repo *r, const char *app, struct repo_poll *p,
			 const char *objdir, const struct objects_entry **need, size_t n,
			 size_t from)
{
	size_t ns = r->c->nservers, j, k;
	bool *bad = xcalloc(ns ? ns : 1, sizeof *bad), got = true;
	struct buf all = BUF_INIT;
	uint64_t total = 0;
	char label[48];

	for (j = 0; j < n; j++)
		total += need[j]->gz;
	snprintf(label, sizeof label, "%zu object%s", n, n == 1 ? "" : "s");
	xfer_progress_group(label, total);
	for (j = 0; j < n && got; j++) {
		for (got = false, k = 0; k < ns && !got; k++) {
			size_t i = (from + k) % ns;
			struct err last;

			err_clear(&last);
			if (bad[i])
				continue;
			if (fetch_object(r, i, app, objdir, need[j], &last) == 0)
				got = true;
			else if (last.code == EXIT_TRUST) {
				bad[i] = true;
				p->cause = REPO_CAUSE_HASH;
				note_lie(r, i, p, &last, &all);
			}
		}
	}
	xfer_progress_group_end();
	buf_release(&all);
	free(bad);
	return got;
}

/* Whether dir holds the payload, whole or in part (a run resumes it). */
static bool payload_started(const struct manifest *m, const char *dir)
{
	char *path = fs_join(dir, m->payload_file), *part = xasprintf("%s.part", path);
	bool yes = access(path, F_OK) == 0 || access(part, F_OK) == 0;

	free(path);
	free(part);
	return yes;
}

/* The index an earlier run of this release kept in dir, verified again
 * as the server's would be: the whole one, else the change index from
 * the installed version. ic->from says which. */
static bool index_kept(struct repo *r, const char *app, struct repo_poll *p,
		       const char *ipath, const char *dpath, struct index_check *ic)
{
	ic->from = NULL;
	if (cached_copy(r, app, p, ipath, OBJECTS_INDEX_MAX, check_index, ic) == 0)
		return true;
	ic->from = p->installed[0] ? p->installed : NULL;
	if (ic->from && cached_copy(r, app, p, dpath, OBJECTS_INDEX_MAX, check_index, ic) == 0)
		return true;
	ic->from = NULL;
	return false;
}

/* The objects the host lacks, when they weigh less than OBJECTS_MAX_SHARE
 * percent of the payload: 1 when dir then holds them (and the index), 0
 * to take the payload (a first install, no index, a refused one). A host
 * that lacks something its change index does not list (a file changed
 * here, a release not the one the change is from) takes the whole index. */
static int fetch_objects(struct repo *r, const char *app, struct repo_poll *p,
			 struct manifest_check *mc, const char *dir, size_t from,
			 struct err *e)
{
	const struct manifest *m = &mc->m;
	struct index_check ic = { .m = m };
	const struct objects_entry **need = NULL;
	char *objdir = fs_join(dir, OBJECTS_DIR_NAME), *rel = objects_index_rel(p->ch.version);
	char *ipath = fs_join(dir, OBJECTS_INDEX_NAME), *target = fs_under_root(r->c->root, m->target);
	char *spath = xasprintf("%s.minisig", ipath), *dpath = fs_join(dir, OBJECTS_DELTA_NAME);
	char *dspath = xasprintf("%s.minisig", dpath);
	struct buf data = BUF_INIT, sig = BUF_INIT;
	struct treescan *seen = p->scan;
	size_t nneed = 0;
	uint64_t bytes = 0;
	bool have, cached;
	struct err ie;
	int rc = 0, lacks;

	have = p->installed[0] != '\0';      /* decide found one */
	if (!have && !objects_is_source(objdir))
		goto done;                        /* a first install: the payload */
	if (payload_started(m, dir))
		goto done;
	cached = index_kept(r, app, p, ipath, dpath, &ic);
	if (!cached && !ahead_take(&mc->ahead, p, &ic, &data, &sig) &&
	    fetch_signed(r, app, rel, OBJECTS_INDEX_MAX, &data, &sig, &from, check_index, &ic,
			 p, &ie) < 0) {
		p->all_lied = false;              /* the payload may still come */
		goto done;
	}
	/* The scan ran while the manifest and the index came. */
	treescan_wait(seen);
	if (seen && seen->failed) {          /* what decide parsed, before */
		*e = seen->err;
		p->local = true;
		rc = -1;
		goto done;
	}
	/* The installed files are looked for where the release puts its own. */
	if (seen && (!seen->have || strcmp(seen->target, target)))
		seen = NULL;
	lacks = objects_missing(&ic.ix, m, seen, objdir, &need, &nneed, &bytes, &ie);
	if (lacks < 0 && ic.from) {
		free(need);
		need = NULL;
		ic.from = NULL;
		cached = false;
		if (fetch_signed(r, app, rel, OBJECTS_INDEX_MAX, &data, &sig, &from, check_index,
				 &ic, p, &ie) < 0) {
			p->all_lied = false;
			goto done;
		}
		lacks = objects_missing(&ic.ix, m, seen, objdir, &need, &nneed, &bytes, &ie);
	}
	if (lacks < 0 || !objects_cheaper(bytes, m->payload_size))
		goto done;
	if (fs_mkdir_p(objdir, 0700, e) < 0 ||
	    (!cached && (fs_write_atomic(ic.from ? dspath : spath, sig.data, sig.len, 0600, e) < 0 ||
			 fs_write_atomic(ic.from ? dpath : ipath, data.data, data.len, 0600, e) < 0))) {
		rc = -1;
		goto done;
	}
	rc = fetch_missing(r, app, p, objdir, need, nneed, from);
	if (!rc) {
		unlink(ipath);                    /* the payload, then */
		unlink(spath);
		unlink(dpath);
		unlink(dspath);
	}
done:
	objects_index_release(&ic.ix);
	free(need);
	buf_release(&data);
	buf_release(&sig);
	free(objdir);
	free(rel);
	free(ipath);
	free(spath);
	free(dpath);
	free(dspath);
	free(target);
	return rc;
}

/* Step 8. */
static int fetch_payload(struct repo *r, const char *app, struct repo_poll *p,
			 const struct manifest *m, const char *dir, size_t from,
			 struct err *e)
{
	char *final = fs_join(dir, m->payload_file);
	char *part = xasprintf("%s.part", final);
	const char *slash = strrchr(p->ch.manifest, '/');
	/* The payload lies next to the manifest. */
	char *prel = xasprintf("%.*s%s", slash ? (int)(slash - p->ch.manifest + 1) : 0,
			       p->ch.manifest, m->payload_file);
	struct stat st;
	int rc = -1;

	if (access(final, F_OK) == 0) {
		if (stamp_holds(m, dir, final)) {
			rc = 0;
			goto done;
		}
		if (payload_matches(m, final)) {
			stamp_write(m, dir, final);
			rc = 0;
			goto done;
		}
		unlink(final);
	}
	/* A partial file as long as the payload was complete when the last
	 * run stopped (before the rename); longer, it cannot be right. */
	if (stat(part, &st) == 0 && (uint64_t)st.st_size >= m->payload_size &&
	    (st.st_size != (off_t)m->payload_size || !payload_matches(m, part)))
		unlink(part);
	if ((stat(part, &st) < 0 || (uint64_t)st.st_size < m->payload_size) &&
	    download(r, app, prel, part, m, from, p, e) < 0)
		goto done;
	if (rename(part, final) < 0) {
		err_sys(e, EXIT_SOFTWARE, "rename %s", part);
		goto done;
	}
	stamp_write(m, dir, final);               /* download checked it */
	rc = fs_fsync_dir(dir, e);
done:
	free(final);
	free(part);
	free(prel);
	return rc;
}

/* Parse the installed manifest and scan its tree (treescan.h) while the
 * release's files come: what fetch_objects needs of it and the plan
 * after it. */
static void start_scan(struct repo *r, const char *app, struct repo_poll *p)
{
	if (p->installed[0])
		p->scan = treescan_start(r->c->root, r->c->state_dir, app);
}

static int fetch_release(struct repo *r, const char *app, struct repo_poll *p,
			 size_t from, struct err *e)
{
	struct manifest_check mc = { .keep = BUF_INIT };
	char *dir = xasprintf("%s/" STATE_CACHE "/%s/%s", r->c->state_dir, app, p->ch.version);
	int rc = -1;

	mc.dir = dir;
	if (fs_mkdir_p(dir, 0700, e) < 0)
		goto done;
	start_scan(r, app, p);
	if (fetch_manifest(r, app, p, dir, &from, &mc, e) < 0)
		goto done;
	if (p->waiting) {
		manifest_release(&mc.m);
		p->state = REPO_WAIT;
		rc = 0;
		goto done;
	}
	rc = fetch_objects(r, app, p, &mc, dir, from, e);
	ahead_release(&mc.ahead);
	if (rc == 0)
		rc = fetch_payload(r, app, p, &mc.m, dir, from, e);
	else if (rc > 0)
		rc = 0;
	manifest_release(&mc.m);
	if (rc == 0) {
		p->state = REPO_READY;
		p->release_dir = dir;
		dir = NULL;
	}
done:
	if (p->state != REPO_READY) {
		treescan_free(p->scan);   /* no plan to hand it to */
		p->scan = NULL;
	}
	treescan_wait(p->scan);
	ahead_release(&mc.ahead);
	buf_release(&mc.keep);
	free(dir);
	return rc;
}

int repo_poll_app(struct repo *r, const char *app, struct repo_poll *p,
		  struct err *e)
{
	struct buf data = BUF_INIT, sig = BUF_INIT;
	char *rel = xasprintf("channels/%s.yaml", r->c->channel);
	size_t from = r->first;
	int rc = -1, go;

	memset(p, 0, sizeof *p);
	if (r->use_root && root_tick(r, p, e) < 0)
		goto done;
	if (fetch_signed(r, app, rel, CHANNEL_MAX_BYTES, &data, &sig, &from,
			 check_channel, rel, p, e) < 0)
		goto done;
	/* The channel may have named a newer root, now walked to. */
	if (r->use_root && root_unexpired(r, p, e) < 0)
		goto done;
	go = decide(r, app, p, e);
	if (go < 0)
		goto done;
	if (go > 0 && fetch_release(r, app, p, from, e) < 0)
		goto done;
	rc = 0;
done:
	if (rc < 0)
		err_prefix(e, "%s: ", app);
	free(rel);
	buf_release(&data);
	buf_release(&sig);
	return rc;
}

void repo_cache_drop(const struct config *c, const char *app)
{
	char *dir = xasprintf("%s/" STATE_CACHE "/%s", c->state_dir, app);
	struct err e;

	fs_remove_tree(dir, &e);
	free(dir);
}
