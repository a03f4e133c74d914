/* SPDX-License-Identifier: Apache-2.0 */
/* Tampering is remembered until a person looks. fleet status with --keys
 * keeps, in KEYS/tampered ("HOST\tID\tTIME\tWHY\tSALT" a line, sorted by
 * host), the last tampering it saw on each host: ID is the SHA-256 of
 * what it saw (the host's tampered rows), when, and a random SALT drawn
 * when it was first seen (two tamperings in one second differ too). While a host is tampered now it shows
 * tampered; afterwards it still shows tampered until `upgr fleet ack HOST`
 * has written REPO/reports/HOST/ack.yaml naming that ID (who looked, when,
 * what). A new tampering has a new ID, so an old ack does not hide it. */
#include "fleet.h"
#include "fsutil.h"
#include "hash.h"
#include "xalloc.h"
#include "ydoc.h"

#include <errno.h>
#include <gcrypt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TAMPERED_MAX (64UL << 20)
#define ACK_MAX 4096

struct tamper {
	char *host, *id, *time, *why, *salt;
};

struct tampers {
	struct tamper *v;
	size_t n;
	size_t nsorted;      /* v[0..nsorted) is sorted; new records follow */
	bool changed;
};

static void tampers_release(struct tampers *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].host);
		free(t->v[i].id);
		free(t->v[i].time);
		free(t->v[i].why);
		free(t->v[i].salt);
	}
	free(t->v);
	memset(t, 0, sizeof *t);
}

static int tamper_cmp(const void *pa, const void *pb)
{
	return strcmp(((const struct tamper *)pa)->host, ((const struct tamper *)pb)->host);
}

static struct tamper *tamper_find(const struct tampers *t, const char *host)
{
	struct tamper key = { (char *)host, NULL, NULL, NULL, NULL };

	/* Hosts come once each, so a record added this run is never looked up. */
	return t->nsorted ? bsearch(&key, t->v, t->nsorted, sizeof *t->v, tamper_cmp) : NULL;
}

/* One line; the fields are ours but the file is checked all the same
 * (a line of four, without SALT, is from an older console). */
static int tamper_line(struct tampers *t, char *line)
{
	char *f[5] = { NULL }, *p = line;
	size_t k;

	for (k = 0; k < 5 && p; k++) {
		f[k] = p;
		if ((p = strchr(p, '\t')))
			*p++ = '\0';
	}
	if (k < 4 || p || !fleet_host_ok(f[0]) || strlen(f[1]) != 64 ||
	    strspn(f[1], "0123456789abcdef") != 64 ||
	    (f[4] && strspn(f[4], "0123456789abcdef") != strlen(f[4])))
		return -1;
	t->v = xreallocarray(t->v, t->n + 1, sizeof *t->v);
	t->v[t->n].host = xstrdup(f[0]);
	t->v[t->n].id = xstrdup(f[1]);
	t->v[t->n].time = xstrdup(f[2]);
	t->v[t->n].why = xstrdup(f[3]);
	t->v[t->n++].salt = xstrdup(f[4] ? f[4] : "");
	return 0;
}

static int tampers_load(const char *dir, struct tampers *t, struct err *e)
{
	char *path = fs_join(dir, "tampered"), *p, *nl;
	struct buf b = BUF_INIT;
	size_t lineno = 0;
	struct stat st;
	int rc = -1;

	memset(t, 0, sizeof *t);
	if (stat(path, &st) < 0 && errno == ENOENT) {
		rc = 0;
		goto done;
	}
	if (fs_read_file(path, TAMPERED_MAX, &b, e) < 0)
		goto done;
	for (p = b.data; p && *p; p = nl + 1) {
		lineno++;
		nl = strchr(p, '\n');
		if (!nl || (*nl = '\0', tamper_line(t, p) < 0)) {
			err_set(e, EXIT_DATAERR, "%s: line %zu: not \"HOST<tab>ID<tab>TIME"
				"<tab>WHY<tab>SALT\"", path, lineno);
			goto done;
		}
	}
	if (t->n)
		qsort(t->v, t->n, sizeof *t->v, tamper_cmp);
	t->nsorted = t->n;
	rc = 0;
done:
	if (rc < 0)
		tampers_release(t);
	buf_release(&b);
	free(path);
	return rc;
}

static int tampers_save(const char *dir, const struct tampers *t, struct err *e)
{
	char *path = fs_join(dir, "tampered");
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < t->n; i++)
		if (t->v[i].host[0])   /* "" : forgotten (tamper_host) */
			buf_addf(&b, "%s\t%s\t%s\t%s\t%s\n", t->v[i].host, t->v[i].id,
				 t->v[i].time, t->v[i].why, t->v[i].salt);
	rc = fs_write_atomic(path, b.data ? b.data : "", b.len, 0600, e);
	buf_release(&b);
	free(path);
	return rc;
}

/* A value for the tab-separated file: tabs and newlines as blanks. */
static char *one_line(const char *s)
{
	char *c = xstrndup(s, 1024), *p;

	for (p = c; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = ' ';
	return c;
}

/* What was seen of host's tampered rows rows[ix[lo..hi)], when it was
 * first seen and its salt, hashed: the same forgery replayed after an ack
 * (the host seen clean in between) is a new tampering with a new ID, even
 * within the same second. */
static void seen_id(const struct fleet *f, const size_t *ix, size_t lo, size_t hi,
		    const char *since, const char *salt, char out[65])
{
	struct buf b = BUF_INIT;
	uint8_t d[SHA256_LEN];
	size_t i;

	buf_addf(&b, "%s\036%s\036", since, salt);
	for (i = lo; i < hi; i++) {
		const struct fleet_row *r = &f->rows[ix[i]];

		if (r->tampered)
			buf_addf(&b, "%s\037%s\037%s\037%s\037%s\036", r->host, r->app,
				 r->version, r->reported, r->error);
	}
	sha256_buf(b.data ? b.data : "", b.len, d);
	hex_encode(d, sizeof d, out);
	buf_release(&b);
}

/* Whether REPO/reports/HOST/ack.yaml acknowledges id. */
static bool acked(struct xfer *x, const char *repo, const char *host, const char *id)
{
	char *path = xasprintf("reports/%s/ack.yaml", host), *url = fleet_repo_url(repo, path);
	const struct ynode *seen;
	struct buf b = BUF_INIT;
	struct ydoc doc;
	struct diag d;
	struct err e;
	bool ok = false;

	err_clear(&e);
	memset(&doc, 0, sizeof doc);
	diag_init(&d, path);
	if (xfer_get(x, url, ACK_MAX, &b, NULL, &e) == 0 &&
	    ydoc_parse(b.data ? b.data : "", b.len, ACK_MAX, 0, &doc, &d) == 0 &&
	    doc.root->kind == YNODE_MAP && (seen = ydoc_get(doc.root, "seen")) &&
	    seen->kind == YNODE_SCALAR)
		ok = !strcmp(seen->str, id);
	ydoc_release(&doc);
	diag_release(&d);
	buf_release(&b);
	free(url);
	free(path);
	return ok;
}

/* Remember host's tampering now (rows ix[lo..hi)), or show the one
 * remembered until it is acknowledged. */
static void tamper_host(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
			struct tampers *t, const size_t *ix, size_t lo, size_t hi)
{
	const char *host = f->rows[ix[lo]].host;
	struct tamper *rec = tamper_find(t, host);
	bool now = false;
	char id[65], when[21], salt[33];
	uint8_t nonce[16];
	size_t i;

	for (i = lo; i < hi; i++)
		now |= f->rows[ix[i]].tampered;
	if (now) {
		if (rec && (seen_id(f, ix, lo, hi, rec->time, rec->salt, id),
			    !strcmp(rec->id, id)))
			return;
		fleet_time_format(o->now, when);
		gcry_create_nonce(nonce, sizeof nonce);
		hex_encode(nonce, sizeof nonce, salt);
		seen_id(f, ix, lo, hi, when, salt, id);
		if (!rec) {
			t->v = xreallocarray(t->v, t->n + 1, sizeof *t->v);
			rec = &t->v[t->n++];
			memset(rec, 0, sizeof *rec);
			rec->host = xstrdup(host);
		}
		free(rec->id);
		free(rec->time);
		free(rec->why);
		free(rec->salt);
		rec->salt = xstrdup(salt);
		rec->id = xstrdup(id);
		rec->time = xstrdup(when);
		for (i = lo; i < hi && !f->rows[ix[i]].tampered; i++)
			;
		rec->why = one_line(f->rows[ix[i]].error);
		t->changed = true;
		return;
	}
	if (!rec)
		return;
	if (acked(x, o->repo, host, rec->id)) {
		/* Looked at and clean now: forgotten, so that even the same
		 * forgery again is a new tampering. */
		rec->host[0] = '\0';
		t->changed = true;
		return;
	}
	for (i = lo; i < hi; i++) {
		struct fleet_row *r = &f->rows[ix[i]];
		char *err;

		if (r->problem == FLEET_UNREADABLE)
			continue;
		err = xasprintf("tampered at %s, not acknowledged (upgr fleet ack %s): %s",
				rec->time, host, rec->why);
		free(r->error);
		r->error = err;
		r->tampered = true;
	}
}

int fleet_apply_tampered(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
			 struct err *e)
{
	size_t *ix = fleet_row_index(f, offsetof(struct fleet_row, host)), lo, hi;
	struct tampers t;
	int rc = -1;

	if (tampers_load(o->keys_dir, &t, e) < 0)
		goto done;
	for (lo = 0; lo < f->nrows; lo = hi) {
		for (hi = lo + 1; hi < f->nrows &&
		     !strcmp(f->rows[ix[hi]].host, f->rows[ix[lo]].host); hi++)
			;
		tamper_host(x, o, f, &t, ix, lo, hi);
	}
	if (t.changed) {
		qsort(t.v, t.n, sizeof *t.v, tamper_cmp);
		if (tampers_save(o->keys_dir, &t, e) < 0)
			goto done;
	}
	rc = 0;
done:
	tampers_release(&t);
	free(ix);
	return rc;
}

int fleet_ack(struct xfer *x, const char *repo, const char *keys_dir, const char *host,
	      const char *who, time_t now, struct err *e)
{
	struct tampers t;
	struct tamper *rec;
	struct buf b = BUF_INIT;
	char *path = NULL, *url = NULL, when[21];
	int rc = -1;

	if (!fleet_host_ok(host))
		return err_set(e, EXIT_USAGE, "ack: not a host name: %s", host);
	if (tampers_load(keys_dir, &t, e) < 0)
		return -1;
	if (!(rec = tamper_find(&t, host))) {
		err_set(e, EXIT_DATAERR, "ack %s: no tampering recorded for this host in %s/"
			"tampered (run fleet status --keys first)", host, keys_dir);
		goto done;
	}
	fleet_time_format(now, when);
	buf_addf(&b, "upgr: 1\ntype: ack\nhost: \"%s\"\nby: ", host);
	buf_add_quoted(&b, who);
	buf_addf(&b, "\ntime: \"%s\"\nseen: \"%s\"\ntampered_at: ", when, rec->id);
	buf_add_quoted(&b, rec->time);
	buf_adds(&b, "\nwhy: ");
	buf_add_quoted(&b, rec->why);
	buf_adds(&b, "\n");
	path = xasprintf("reports/%s/ack.yaml", host);
	url = fleet_repo_url(repo, path);
	if (xfer_put(x, url, b.data, b.len, e) < 0) {
		err_prefix(e, "ack %s: ", host);
		goto done;
	}
	rc = 0;
done:
	tampers_release(&t);
	buf_release(&b);
	free(path);
	free(url);
	return rc;
}
