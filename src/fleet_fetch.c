/* SPDX-License-Identifier: Apache-2.0 */
/* Getting 10,000 hosts' status.yaml: several connections at once (one
 * thread per connection, each with its own transfer handle, taking the
 * next host from a shared counter) and a cache between runs, so a second
 * run fetches only the reports that changed.
 *
 * The cache is one file per repository in a private directory
 * (fs_open_private_dir: ours, 0700, else refused), written once per run
 * (fs_write_atomic). Each entry keeps a report's bytes with the size and
 * modification time the server gave (FTP SIZE/MDTM, HTTP Content-Length/
 * Last-Modified, stat for file://) and its SHA-256. An entry is used only
 * when the server says the same size and time now, the time was at least
 * 2 s older than the moment the bytes were fetched (a file rewritten
 * within the same second as the fetch has a time that cannot tell), and
 * its bytes still hash to what was stored. Cached bytes are then parsed
 * and verified exactly as fresh ones (fleet.c): the cache saves transfers,
 * never checks. */
#include "fleet.h"
#include "fsutil.h"
#include "hash.h"
#include "worker.h"
#include "xalloc.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHE_MAX (1UL << 30)          /* bytes of one cache file */
#define CACHE_MAGIC "upgr-fleet-cache 1\n"

struct centry {
	char *url;
	int64_t size, mtime, fetched;
	char sha[65];
	char *data;
	size_t len;
};

struct cache {
	struct centry *v;
	size_t n;
	struct buf file;                     /* the bytes v's data point into */
};

static int centry_cmp(const void *pa, const void *pb)
{
	return strcmp(((const struct centry *)pa)->url, ((const struct centry *)pb)->url);
}

/* One record: "URL\tSIZE\tMTIME\tFETCHED\tSHA\tLEN\n" then LEN bytes and
 * "\n". Returns the position after it, or NULL when it is malformed. */
static char *cache_record(char *p, const char *end, struct centry *c)
{
	char *nl = memchr(p, '\n', (size_t)(end - p)), *tab, sha[65];
	long long size, mtime, fetched;
	unsigned long long len;
	int used = 0;

	if (!nl || !(tab = memchr(p, '\t', (size_t)(nl - p))))
		return NULL;
	*nl = '\0';
	*tab = '\0';
	if (sscanf(tab + 1, "%lld\t%lld\t%lld\t%64[0-9a-f]\t%llu%n", &size, &mtime, &fetched,
		   sha, &len, &used) != 5 || tab[1 + used] != '\0' || strlen(sha) != 64 ||
	    len + 1 > (unsigned long long)(end - nl - 1) || nl[1 + len] != '\n')
		return NULL;
	c->url = p;
	c->size = size;
	c->mtime = mtime;
	c->fetched = fetched;
	memcpy(c->sha, sha, 65);
	c->data = nl + 1;
	c->len = (size_t)len;
	c->data[len] = '\0';
	return nl + 2 + len;
}

/* Load the cache at path; anything malformed is an empty cache. */
static void cache_load(const char *path, struct cache *c)
{
	struct err e;
	char *p, *end;

	memset(c, 0, sizeof *c);
	err_clear(&e);
	if (access(path, F_OK) < 0 || fs_read_file(path, CACHE_MAX, &c->file, &e) < 0 ||
	    c->file.len < strlen(CACHE_MAGIC) ||
	    memcmp(c->file.data, CACHE_MAGIC, strlen(CACHE_MAGIC)))
		return;
	end = c->file.data + c->file.len;
	for (p = c->file.data + strlen(CACHE_MAGIC); p < end;) {
		c->v = xreallocarray(c->v, c->n + 1, sizeof *c->v);
		if (!(p = cache_record(p, end, &c->v[c->n]))) {
			free(c->v);
			c->v = NULL;
			c->n = 0;
			return;
		}
		c->n++;
	}
	if (c->n)
		qsort(c->v, c->n, sizeof *c->v, centry_cmp);
}

static const struct centry *cache_find(const struct cache *c, const char *url)
{
	struct centry key;

	if (!c->n)
		return NULL;
	memset(&key, 0, sizeof key);
	key.url = (char *)url;
	return bsearch(&key, c->v, c->n, sizeof *c->v, centry_cmp);
}

static void sha_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[SHA256_LEN];

	sha256_buf(data, len, d);
	hex_encode(d, sizeof d, out);
}

/* ---- the workers ---------------------------------------------------------- */

struct fetch_job {
	const struct fleet_opts *o;
	char **urls;
	size_t n, next;
	pthread_mutex_t lock;
	const struct cache *old;
	struct centry *fresh;                /* per url: what to cache next time */
	struct fleet_fetched *out;
	struct fleet_fetch_stats stats;
};

static void count(struct fetch_job *j, size_t *field)
{
	pthread_mutex_lock(&j->lock);
	(*field)++;
	pthread_mutex_unlock(&j->lock);
}

/* The cached bytes of url, when the server says they are still current. */
static bool from_cache(struct fetch_job *j, struct xfer *x, size_t i)
{
	const struct centry *c = cache_find(j->old, j->urls[i]);
	struct fleet_fetched *r = &j->out[i];
	int64_t size, mtime;
	char sha[65];
	struct err e;

	if (!c || c->mtime < 0 || c->mtime + 2 > c->fetched)
		return false;
	err_clear(&e);
	count(j, &j->stats.stats);
	if (xfer_stat(x, j->urls[i], &size, &mtime, &r->missing, &e) < 0)
		return r->missing;     /* gone: missing, nothing to fetch */
	if (size != c->size || mtime != c->mtime)
		return false;
	sha_hex(c->data, c->len, sha);
	if (strcmp(sha, c->sha))
		return false;
	buf_add(&r->data, c->data, c->len);
	j->fresh[i] = *c;
	j->fresh[i].url = xstrdup(c->url);
	j->fresh[i].data = NULL;      /* r->data holds the bytes */
	count(j, &j->stats.hits);
	return true;
}

static void fetch_one(struct fetch_job *j, struct xfer *x, size_t i)
{
	struct fleet_fetched *r = &j->out[i];
	struct centry *c = &j->fresh[i];
	struct err e;
	time_t before = time(NULL);
	int64_t mtime = -1;

	if (from_cache(j, x, i))
		return;
	err_clear(&e);
	count(j, &j->stats.gets);
	buf_reset(&r->data);
	if (xfer_get_mtime(x, j->urls[i], FLEET_STATUS_MAX, &r->data, &r->missing, &mtime,
			   &e) < 0) {
		if (!r->missing)
			r->error = xstrdup(e.msg);
		return;
	}
	c->url = xstrdup(j->urls[i]);
	c->size = (int64_t)r->data.len;
	c->mtime = mtime;
	c->fetched = (int64_t)before;
	sha_hex(r->data.data, r->data.len, c->sha);
}

static void *worker(void *arg)
{
	struct fetch_job *j = arg;
	struct xfer *x = xfer_new(j->o->xfer);
	size_t i;

	for (;;) {
		pthread_mutex_lock(&j->lock);
		i = j->next < j->n ? j->next++ : j->n;
		pthread_mutex_unlock(&j->lock);
		if (i == j->n)
			break;
		if (x)
			fetch_one(j, x, i);
		else
			j->out[i].error = xstrdup("cannot start libcurl");
	}
	xfer_free(x);
	return NULL;
}

/* ---- the cache file --------------------------------------------------------- */

char *fleet_cache_default(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return xasprintf("%s/upgr/fleet", xdg);
	if (home && home[0] == '/')
		return xasprintf("%s/.cache/upgr/fleet", home);
	return NULL;
}

int fleet_cache_check(const char *dir, struct err *e)
{
	char *parent = xstrdup(dir), *slash = strrchr(parent, '/');
	int fd;

	if (slash && slash != parent) {
		*slash = '\0';
		if (fs_mkdir_p(parent, 0700, e) < 0) {
			free(parent);
			return err_prefix(e, "--cache: ");
		}
	}
	free(parent);
	if ((fd = fs_open_private_dir(dir, e)) < 0)
		return err_prefix(e, "--cache: ");
	close(fd);
	return 0;
}

/* DIR/reports-HASH.cache for repo, after checking DIR is private. */
static char *cache_path(const char *dir, const char *repo, struct err *e)
{
	char *shown, sha[65];

	if (fleet_cache_check(dir, e) < 0)
		return NULL;
	shown = xfer_url_redact(repo);
	sha_hex(shown, strlen(shown), sha);
	free(shown);
	sha[16] = '\0';
	return xasprintf("%s/reports-%s.cache", dir, sha);
}

static int cache_save(const char *path, const struct fetch_job *j, struct err *e)
{
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	buf_adds(&b, CACHE_MAGIC);
	for (i = 0; i < j->n; i++) {
		const struct centry *c = &j->fresh[i];
		const struct buf *d = &j->out[i].data;

		if (!c->url || c->mtime < 0)
			continue;
		buf_addf(&b, "%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%s\t%zu\n", c->url,
			 c->size, c->mtime, c->fetched, c->sha, d->len);
		buf_add(&b, d->data ? d->data : "", d->len);
		buf_adds(&b, "\n");
	}
	rc = fs_write_atomic(path, b.data, b.len, 0600, e);
	buf_release(&b);
	return rc;
}

int fleet_fetch(struct xfer *x, const struct fleet_opts *o, char **urls, size_t n,
		struct fleet_fetched *out, struct fleet_fetch_stats *stats, struct err *e)
{
	struct fetch_job j = { .o = o, .urls = urls, .n = n };
	struct cache old = { 0 };
	pthread_t th[FLEET_JOBS_MAX];
	size_t i, nth = o->jobs ? o->jobs : FLEET_JOBS_DEFAULT, started = 0;
	char *path = NULL;
	int rc = -1;

	if (o->cache_dir) {
		if (!(path = cache_path(o->cache_dir, o->repo, e)))
			return -1;
		cache_load(path, &old);
	}
	j.old = &old;
	j.fresh = xcalloc(n + 1, sizeof *j.fresh);
	j.out = out;
	pthread_mutex_init(&j.lock, NULL);
	if (!o->xfer || nth > n)
		nth = n ? n : 1;
	if (!o->xfer) {
		/* No options for more handles: the caller's one, in order. */
		for (i = 0; i < n; i++)
			fetch_one(&j, x, i);
	} else {
		for (started = 0; started < nth; started++)
			if (!worker_start(&th[started], worker, &j))
				break;
		if (!started)
			worker(&j);
		for (i = 0; i < started; i++)
			pthread_join(th[i], NULL);
	}
	if (path && cache_save(path, &j, e) < 0)
		goto done;
	rc = 0;
done:
	if (stats)
		*stats = j.stats;
	for (i = 0; i < n; i++)
		free(j.fresh[i].url);
	free(j.fresh);
	pthread_mutex_destroy(&j.lock);
	free(old.v);
	buf_release(&old.file);
	free(path);
	return rc;
}
