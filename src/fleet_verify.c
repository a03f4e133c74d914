/* SPDX-License-Identifier: Apache-2.0 */
/* fleet verify: every host's uploaded audit log checked against the
 * host's device key, pinned on first sight, and against what the last
 * check saw, so a log that was cut or rewritten since is caught (see
 * fleet.h). Local state lives in the keys directory:
 *
 *   KEYS/HOST.pub   the device key first seen for HOST (0644)
 *   KEYS/seen       "HOST SEQ HEAD" per line: the log last found intact */
#include "fleet.h"
#include "audit.h"
#include "fsutil.h"
#include "sign.h"
#include "xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOG_MAX (256UL << 20)
#define SIG_MAX 65536
#define PUB_MAX 4096
#define SEEN_MAX (64UL << 20)

const char *fleet_verdict_name(enum fleet_verdict_kind k)
{
	static const char *const names[] = {
		[FLEET_V_OK] = "ok", [FLEET_V_TAMPERED] = "tampered",
		[FLEET_V_KEY_CHANGED] = "KEY CHANGED", [FLEET_V_MISSING] = "missing",
		[FLEET_V_ERROR] = "error",
	};

	return names[k];
}

void fleet_verdict_line(const char *host, const struct fleet_verdict *v, struct buf *out)
{
	static const char *const kinds[] = {
		[FLEET_V_OK] = "ok", [FLEET_V_TAMPERED] = "tampered",
		[FLEET_V_KEY_CHANGED] = "key-changed", [FLEET_V_MISSING] = "missing",
		[FLEET_V_ERROR] = "error",
	};
	const char *p;

	if (!fleet_host_ok(host))
		return;
	buf_addf(out, "%s\t%s\t", host, kinds[v->kind]);
	/* One line: no tab, newline or other control character in why. */
	for (p = v->why; *p; p++)
		buf_add(out, (unsigned char)*p < 0x20 || *p == 0x7f ? " " : p, 1);
	buf_adds(out, "\n");
}

/* ---- the seen file ------------------------------------------------------- */

void fleet_seen_release(struct fleet_seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].host);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static bool is_hex64(const char *s, size_t n)
{
	return n == 64 && strspn(s, "0123456789abcdef") >= 64;
}

/* s->v is kept sorted by host, so a fleet of 10,000 hosts is looked up in
 * log n, not by a scan per host. */
static int seen_cmp(const void *pa, const void *pb)
{
	fleet_compares++;
	return strcmp(((const struct fleet_seen_entry *)pa)->host,
		      ((const struct fleet_seen_entry *)pb)->host);
}

/* The position of host in s->v, or where it would go (*found false). */
static size_t seen_pos(const struct fleet_seen *s, const char *host, bool *found)
{
	size_t a = 0, b = s->n, m;
	int c;

	*found = false;
	while (a < b) {
		m = a + (b - a) / 2;
		fleet_compares++;
		c = strcmp(s->v[m].host, host);
		if (!c) {
			*found = true;
			return m;
		}
		if (c < 0)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

static struct fleet_seen_entry *seen_find(const struct fleet_seen *s, const char *host)
{
	bool found;
	size_t i = seen_pos(s, host, &found);

	return found ? &s->v[i] : NULL;
}

/* A new entry for host (not in s), in its sorted place: hosts come in
 * listing order, so this is mostly an append. */
static struct fleet_seen_entry *seen_add(struct fleet_seen *s, const char *host)
{
	struct fleet_seen_entry *x;
	bool found;
	size_t i = seen_pos(s, host, &found);

	s->v = xreallocarray(s->v, s->n + 1, sizeof *s->v);
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
	s->n++;
	x = &s->v[i];
	x->host = xstrdup(host);
	x->seq = 0;
	memcpy(x->head, AUDIT_GENESIS_HEX, 65);
	return x;
}

/* One line "HOST SEQ HEAD". */
static int seen_line(struct fleet_seen *s, char *line, size_t lineno, struct err *e)
{
	char *sp1 = strchr(line, ' '), *sp2, *end;
	unsigned long long seq;
	struct fleet_seen_entry *x;

	if (!sp1 || !(sp2 = strchr(sp1 + 1, ' ')))
		goto bad;
	*sp1 = *sp2 = '\0';
	if (!fleet_host_ok(line) || sp1[1] < '0' || sp1[1] > '9')
		goto bad;
	errno = 0;
	seq = strtoull(sp1 + 1, &end, 10);
	if (errno || *end || !is_hex64(sp2 + 1, strlen(sp2 + 1)))
		goto bad;
	/* Appended here; fleet_seen_load sorts once at the end. */
	s->v = xreallocarray(s->v, s->n + 1, sizeof *s->v);
	x = &s->v[s->n++];
	x->host = xstrdup(line);
	x->seq = seq;
	memcpy(x->head, sp2 + 1, 65);
	return 0;
bad:
	return err_set(e, EXIT_DATAERR, "line %zu: not \"HOST SEQ HEAD\"", lineno);
}

int fleet_seen_load(const char *dir, struct fleet_seen *s, struct err *e)
{
	char *path = fs_join(dir, "seen"), *p, *nl;
	struct buf b = BUF_INIT;
	size_t lineno = 0;
	struct stat st;
	int rc = -1;

	s->v = NULL;
	s->n = 0;
	if (stat(path, &st) < 0 && errno == ENOENT) {
		rc = 0;
		goto done;
	}
	if (fs_read_file(path, SEEN_MAX, &b, e) < 0)
		goto done;
	for (p = b.data; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		lineno++;
		if (!nl) {
			err_set(e, EXIT_DATAERR, "line %zu: no newline at the end", lineno);
			goto done;
		}
		*nl = '\0';
		if (seen_line(s, p, lineno, e) < 0)
			goto done;
	}
	if (s->n)
		qsort(s->v, s->n, sizeof *s->v, seen_cmp);
	for (lineno = 1; lineno < s->n; lineno++)
		if (!strcmp(s->v[lineno - 1].host, s->v[lineno].host)) {
			err_set(e, EXIT_DATAERR, "host %s: listed twice", s->v[lineno].host);
			goto done;
		}
	rc = 0;
done:
	if (rc < 0) {
		err_prefix(e, "%s: ", path);
		fleet_seen_release(s);
	}
	buf_release(&b);
	free(path);
	return rc;
}

int fleet_seen_save(const char *dir, const struct fleet_seen *s, struct err *e)
{
	char *path = fs_join(dir, "seen");
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < s->n; i++)
		buf_addf(&b, "%s %" PRIu64 " %s\n", s->v[i].host, s->v[i].seq, s->v[i].head);
	rc = fs_write_atomic(path, b.data ? b.data : "", b.len, 0600, e);
	buf_release(&b);
	free(path);
	return rc;
}

/* ---- one host ------------------------------------------------------------ */

/* GET REPO/reports/HOST/NAME: 0, 1 when missing, -1 on error. */
static int get(struct xfer *x, const char *repo, const char *host, const char *name,
	       size_t max, struct buf *out, struct err *e)
{
	size_t n = strlen(repo);
	bool missing = false;
	char *url;
	int rc;

	while (n && repo[n - 1] == '/')
		n--;
	url = xasprintf("%.*s/reports/%s/%s", (int)n, repo, host, name);
	buf_reset(out);
	rc = xfer_get(x, url, max, out, &missing, e);
	free(url);
	if (rc < 0 && missing)
		return 1;
	return rc;
}

/* The key in a minisign public key file's text: its last non-empty line. */
static int parse_pub(const struct buf *b, struct sign_pub *pub, struct err *e)
{
	const char *p = b->data ? b->data : "", *line = NULL, *nl;
	char text[128];
	size_t n = 0;

	for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		n = nl ? (size_t)(nl - p) : strlen(p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n) {
			line = p;
			if (!nl)
				break;
		}
	}
	if (!line || strncmp(line, "untrusted comment:", 18) == 0)
		return err_set(e, EXIT_TRUST, "device.pub: no key");
	n = strcspn(line, "\r\n");
	if (n >= sizeof text)
		return err_set(e, EXIT_TRUST, "device.pub: not a minisign public key");
	memcpy(text, line, n);
	text[n] = '\0';
	if (sign_pub_parse(text, pub, e) < 0)
		return err_prefix(e, "device.pub: ");
	return 0;
}

static bool same_pub(const struct sign_pub *a, const struct sign_pub *b)
{
	return !memcmp(a->keyid, b->keyid, sizeof a->keyid) && !memcmp(a->pk, b->pk, sizeof a->pk);
}

struct find_prev {
	uint64_t seq;            /* the record whose prev we want */
	char prev[65];
	bool found;
};

static int find_prev_cb(const struct audit_entry *ent, void *arg)
{
	struct find_prev *fp = arg;

	if (ent->seq != fp->seq)
		return 0;
	memcpy(fp->prev, ent->prev, 65);
	fp->found = true;
	return 1;
}

/* Does the verified log (rep) extend what was seen: the same head at the
 * old seq? The head at seq k is the prev of record k + 1. */
static void check_extends(const struct buf *log, const struct audit_report *rep,
			  const struct fleet_seen_entry *old, struct fleet_verdict *v)
{
	struct find_prev fp = { 0, "", false };
	struct err e;

	if (rep->records < old->seq) {
		v->kind = FLEET_V_TAMPERED;
		snprintf(v->why, sizeof v->why, "log cut: %" PRIu64 " records, "
			 "%" PRIu64 " were seen before", rep->records, old->seq);
		return;
	}
	if (rep->records == old->seq) {
		if (strcmp(rep->head, old->head)) {
			v->kind = FLEET_V_TAMPERED;
			snprintf(v->why, sizeof v->why, "log rewritten: record %" PRIu64
				 " is not the one seen before", old->seq);
		}
		return;
	}
	fp.seq = old->seq + 1;
	err_clear(&e);
	audit_parse(log->data ? log->data : "", log->len, find_prev_cb, &fp, NULL, &e);
	if (!fp.found || strcmp(fp.prev, old->head)) {
		v->kind = FLEET_V_TAMPERED;
		snprintf(v->why, sizeof v->why, "log rewritten: it does not extend "
			 "record %" PRIu64 " seen before", old->seq);
	}
}

/* Chain, signature, checkpoint comment, then history. */
static void check_log(const struct buf *log, const struct buf *sig,
		      const struct sign_pub *pub, struct fleet_seen *seen,
		      const char *host, struct fleet_verdict *v)
{
	struct fleet_seen_entry *old = seen_find(seen, host);
	struct audit_report rep;
	char *comment = NULL, want[128];
	struct err e;

	err_clear(&e);
	v->kind = FLEET_V_TAMPERED;
	/* The chain first: it names the record that was changed. */
	if (audit_verify_mem(log->data ? log->data : "", log->len, pub, false, &rep, &e) < 0) {
		buf_fixedf(v->why, sizeof v->why, "audit.log: %s",
			 rep.why[0] ? rep.why : e.msg);
		goto done;
	}
	if (sign_verify(pub, 1, log->data ? log->data : "", log->len,
			sig->data ? sig->data : "", sig->len, &comment, &e) < 0) {
		buf_fixedf(v->why, sizeof v->why, "audit.log.minisig: %s", e.msg);
		goto done;
	}
	snprintf(want, sizeof want, "upgr audit checkpoint seq:%" PRIu64 " head:%s",
		 rep.records, rep.head);
	if (strcmp(comment, want)) {
		snprintf(v->why, sizeof v->why, "audit.log.minisig: its trusted comment "
			 "does not describe the log (want \"%s\")", want);
		goto done;
	}
	v->kind = FLEET_V_OK;
	v->seq = rep.records;
	memcpy(v->head, rep.head, 65);
	if (old)
		check_extends(log, &rep, old, v);
	if (v->kind != FLEET_V_OK)
		goto done;
	if (!old)
		old = seen_add(seen, host);
	old->seq = rep.records;
	memcpy(old->head, rep.head, 65);
done:
	free(comment);
}

/* Compare with the pinned key: 0 same or none yet (*fresh), 1 changed. */
static int pinned(const char *path, const struct sign_pub *pub, bool *fresh,
		  struct err *e)
{
	struct sign_pub old;
	struct stat st;

	*fresh = false;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return err_sys(e, EXIT_SOFTWARE, "%s", path);
		*fresh = true;
		return 0;
	}
	if (sign_pub_load(path, &old, e) < 0)
		return err_prefix(e, "pinned key: ");
	return same_pub(&old, pub) ? 0 : 1;
}

int fleet_verify_host(struct xfer *x, const char *repo, const char *host,
		      const char *keys_dir, struct fleet_seen *seen,
		      struct fleet_verdict *v, struct err *e)
{
	struct buf pubtext = BUF_INIT, log = BUF_INIT, sig = BUF_INIT, fmt = BUF_INIT;
	char *name = xasprintf("%s.pub", host), *pinpath = fs_join(keys_dir, name);
	const struct fleet_seen_entry *old;
	struct sign_pub pub;
	struct err fe;
	bool fresh = false;
	int rc = -1, got;

	memset(v, 0, sizeof *v);
	err_clear(&fe);
	v->kind = FLEET_V_ERROR;
	if (!fleet_host_ok(host)) {
		snprintf(v->why, sizeof v->why, "not a host name");
		rc = 0;
		goto done;
	}
	got = get(x, repo, host, "device.pub", PUB_MAX, &pubtext, &fe);
	if (got == 0)
		got = parse_pub(&pubtext, &pub, &fe) < 0 ? -2 : 0;
	if (got == 0) {
		got = pinned(pinpath, &pub, &fresh, e);
		if (got < 0)
			goto done;
		if (got == 1) {
			v->kind = FLEET_V_KEY_CHANGED;
			snprintf(v->why, sizeof v->why, "device.pub is not the key pinned "
				 "in %s", pinpath);
			rc = 0;
			goto done;
		}
	}
	if (got == 0)
		got = get(x, repo, host, "audit.log", LOG_MAX, &log, &fe);
	if (got == 0)
		got = get(x, repo, host, "audit.log.minisig", SIG_MAX, &sig, &fe);
	if (got == 1 && (old = seen_find(seen, host)) && old->seq) {
		/* A log that was there is not "not yet uploaded". */
		v->kind = FLEET_V_TAMPERED;
		buf_fixedf(v->why, sizeof v->why, "log removed: %" PRIu64 " records were "
			 "seen before (%s)", old->seq, fe.msg);
	} else if (got == 1) {
		v->kind = FLEET_V_MISSING;
		buf_fixedf(v->why, sizeof v->why, "%s", fe.msg);
	} else if (got == -2) {
		v->kind = FLEET_V_TAMPERED;
		buf_fixedf(v->why, sizeof v->why, "%s", fe.msg);
	} else if (got < 0) {
		buf_fixedf(v->why, sizeof v->why, "%s", fe.msg);
	} else {
		check_log(&log, &sig, &pub, seen, host, v);
		if (v->kind == FLEET_V_OK && fresh) {
			sign_pub_format(&pub, &fmt);
			if (fs_write_new(pinpath, fmt.data, fmt.len, 0644, e) < 0)
				goto done;
			v->pinned = true;
		}
	}
	rc = 0;
done:
	buf_release(&pubtext);
	buf_release(&log);
	buf_release(&sig);
	buf_release(&fmt);
	free(name);
	free(pinpath);
	return rc;
}

/* ---- a host's status.yaml ---------------------------------------------- */

/* What the verified log says of one app of the status. */
struct app_log {
	const struct fleet_row *row;
	struct audit_str action, from, to, result;   /* the newest record's */
	struct audit_str first_from;                 /* the first record's from */
	struct audit_str success_to;                 /* the newest success's to */
	bool any, success;
};

struct derive {
	struct app_log *v;       /* sorted by the row's app */
	size_t n;
	struct buf tmp;
};

static int app_log_cmp(const void *pa, const void *pb)
{
	const struct app_log *a = pa, *b = pb;

	return strcmp(a->row->app, b->row->app);
}

static int derive_cb(const struct audit_entry *ent, void *arg)
{
	struct derive *d = arg;
	size_t lo = 0, hi = d->n, m;
	const char *app;

	buf_reset(&d->tmp);
	audit_unquote(ent->app, &d->tmp);
	app = d->tmp.data ? d->tmp.data : "";
	while (lo < hi) {           /* the first entry whose app is >= app */
		m = lo + (hi - lo) / 2;
		if (strcmp(d->v[m].row->app, app) < 0)
			lo = m + 1;
		else
			hi = m;
	}
	for (; lo < d->n && !strcmp(d->v[lo].row->app, app); lo++) {
		struct app_log *a = &d->v[lo];
		bool ok = ent->result.n == 9 && !memcmp(ent->result.p, "\"success\"", 9);

		if (!a->any)
			a->first_from = ent->from;
		a->any = true;
		a->action = ent->action;
		a->from = ent->from;
		a->to = ent->to;
		a->result = ent->result;
		if (ok) {
			a->success = true;
			a->success_to = ent->to;
		}
	}
	return 0;
}

/* s (a quoted string of the log) is want. */
static bool str_is(struct audit_str s, const char *want, struct buf *tmp)
{
	buf_reset(tmp);
	audit_unquote(s, tmp);
	return tmp->len == strlen(want) && !memcmp(tmp->data ? tmp->data : "", want, tmp->len);
}

/* Does the row (the status's claim for one app) agree with the log? The
 * agent writes both from one apply_record: action, result, from and to are
 * the newest record's; the version is the newest success's to, or before
 * any success the first record's from; "unavailable" (a poll that reached
 * no server) keeps the rest; "" is an app with no record. */
static bool app_agrees(const struct app_log *a, struct buf *tmp)
{
	const struct fleet_row *r = a->row;
	bool unavailable = !strcmp(r->result, "unavailable");

	if (!a->any)
		return !r->version[0] && (!r->result[0] || unavailable);
	if (!r->result[0])
		return false;
	if (!unavailable && (!str_is(a->action, r->action, tmp) ||
			     !str_is(a->result, r->result, tmp)))
		return false;
	if (!str_is(a->from, r->from, tmp) || !str_is(a->to, r->to, tmp))
		return false;
	if (a->success)
		return str_is(a->success_to, r->version, tmp);
	return !r->version[0] || str_is(a->first_from, r->version, tmp);
}

/* The first row of rows[0..n) that the verified log contradicts, or NULL. */
static const struct fleet_row *disagreeing(const struct buf *log, const struct fleet_row *rows,
					   size_t n, struct derive *d)
{
	const struct fleet_row *bad = NULL;
	struct err e;
	size_t i;

	d->v = xcalloc(n + 1, sizeof *d->v);
	d->n = n;
	for (i = 0; i < n; i++)
		d->v[i].row = &rows[i];
	qsort(d->v, n, sizeof *d->v, app_log_cmp);
	err_clear(&e);
	audit_parse(log->data ? log->data : "", log->len, derive_cb, d, NULL, &e);
	for (i = 0; i < n && !bad; i++)
		if (!app_agrees(&d->v[i], &d->tmp))
			bad = d->v[i].row;
	return bad;
}

/* The trusted comment "upgr status host:HOST seq:N head:HEX". */
static int status_comment(const char *c, const char *host, uint64_t *seq, char head[65])
{
	size_t n = strlen(host);
	const char *p;
	char *end;

	if (strncmp(c, "upgr status host:", 17) || strncmp(c + 17, host, n) ||
	    strncmp(c + 17 + n, " seq:", 5))
		return -1;
	p = c + 17 + n + 5;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	*seq = strtoull(p, &end, 10);
	if (errno || strncmp(end, " head:", 6) || !is_hex64(end + 6, strlen(end + 6)))
		return -1;
	memcpy(head, end + 6, 65);
	return 0;
}

/* The head of log at record seq: its prev of seq + 1, or the head itself. */
static bool head_at(const struct buf *log, const struct audit_report *rep, uint64_t seq,
		    const char *head)
{
	struct find_prev fp = { 0, "", false };
	struct err e;

	if (seq == rep->records)
		return !strcmp(rep->head, head);
	fp.seq = seq + 1;
	err_clear(&e);
	audit_parse(log->data ? log->data : "", log->len, find_prev_cb, &fp, NULL, &e);
	return fp.found && !strcmp(fp.prev, head);
}

/* Check the status's signature and trusted comment, then the log it
 * describes; v says why not. */
static void check_status(const struct buf *status, const struct buf *sig, const struct buf *log,
			 const struct sign_pub *pub, const struct fleet_seen_entry *old,
			 const char *host, const struct fleet_row *rows, size_t n,
			 struct fleet_verdict *v)
{
	struct derive d = { NULL, 0, BUF_INIT };
	const struct fleet_row *bad;
	struct audit_report rep;
	char *comment = NULL, head[65];
	uint64_t seq;
	struct err e;

	err_clear(&e);
	v->kind = FLEET_V_TAMPERED;
	if (sign_verify(pub, 1, status->data ? status->data : "", status->len,
			sig->data ? sig->data : "", sig->len, &comment, &e) < 0) {
		buf_fixedf(v->why, sizeof v->why, "status.yaml.minisig: %s", e.msg);
		goto done;
	}
	if (status_comment(comment, host, &seq, head) < 0) {
		snprintf(v->why, sizeof v->why, "status.yaml.minisig: its trusted comment is "
			 "not \"upgr status host:%s seq:N head:HEX\"", host);
		goto done;
	}
	if (audit_verify_mem(log->data ? log->data : "", log->len, pub, false, &rep, &e) < 0) {
		buf_fixedf(v->why, sizeof v->why, "audit.log: %s", rep.why[0] ? rep.why : e.msg);
		goto done;
	}
	v->kind = FLEET_V_OK;
	if (old)
		check_extends(log, &rep, old, v);
	if (v->kind != FLEET_V_OK)
		goto done;
	v->kind = FLEET_V_TAMPERED;
	if (seq > rep.records || !head_at(log, &rep, seq, head)) {
		snprintf(v->why, sizeof v->why, "status.yaml was signed for record %" PRIu64
			 " of another audit log than the one uploaded (%" PRIu64 " records)",
			 seq, rep.records);
		goto done;
	}
	if ((bad = disagreeing(log, rows, n, &d))) {
		snprintf(v->why, sizeof v->why, "status.yaml says %.64s %.64s %.64s, which the "
			 "audit log's newest records of %.64s do not say", bad->app,
			 bad->version[0] ? bad->version : "(none)",
			 bad->result[0] ? bad->result : "(no result)", bad->app);
		goto done;
	}
	v->kind = FLEET_V_OK;
	v->seq = rep.records;
done:
	free(d.v);
	buf_release(&d.tmp);
	free(comment);
}

int fleet_verify_status(struct xfer *x, const char *repo, const char *host,
			const char *keys_dir, const struct fleet_seen *seen,
			const struct buf *status, const struct fleet_row *rows, size_t n,
			struct fleet_verdict *v)
{
	struct buf sig = BUF_INIT, log = BUF_INIT;
	char *name = xasprintf("%s.pub", host), *pinpath = fs_join(keys_dir, name);
	struct sign_pub pub;
	struct stat st;
	struct err e;
	int got;

	memset(v, 0, sizeof *v);
	err_clear(&e);
	v->kind = FLEET_V_MISSING;
	if (lstat(pinpath, &st) < 0) {
		snprintf(v->why, sizeof v->why, "no device key pinned in %s (fleet verify "
			 "pins it)", pinpath);
		goto done;
	}
	v->kind = FLEET_V_ERROR;
	if (sign_pub_load(pinpath, &pub, &e) < 0) {
		buf_fixedf(v->why, sizeof v->why, "pinned key: %s", e.msg);
		goto done;
	}
	got = get(x, repo, host, "status.yaml.minisig", SIG_MAX, &sig, &e);
	if (got == 1) {
		v->kind = FLEET_V_TAMPERED;
		snprintf(v->why, sizeof v->why, "status.yaml is not signed (no "
			 "status.yaml.minisig)");
	}
	if (got == 0) {
		got = get(x, repo, host, "audit.log", LOG_MAX, &log, &e);
		if (got == 1)       /* nothing recorded yet: an empty log */
			got = 0;
	}
	if (got < 0)
		buf_fixedf(v->why, sizeof v->why, "%s", e.msg);
	else if (got == 0)
		check_status(status, &sig, &log, &pub, seen_find(seen, host),
			     host, rows, n, v);
done:
	buf_release(&sig);
	buf_release(&log);
	free(name);
	free(pinpath);
	return v->kind == FLEET_V_OK ? 0 : -1;
}
