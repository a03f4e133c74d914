/* SPDX-License-Identifier: Apache-2.0 */
/* Per-file objects (objects.h): the index, gzip through libarchive's raw
 * format, what a host lacks, and staging from objects and the installed
 * tree. Every byte staged is checked against the signed manifest's
 * sha256 as it is copied, whatever its source. */
#include "objects.h"
#include "diag.h"
#include "fsutil.h"
#include "memo.h"
#include "payload.h"
#include "transport.h"
#include "treescan.h"
#include "xalloc.h"
#include "ydoc.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (64u * 1024)

/* ---- the index ---------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(((const struct objects_entry *)a)->sha256,
		      ((const struct objects_entry *)b)->sha256, SHA256_LEN);
}

void objects_index_release(struct objects_index *ix)
{
	free(ix->app);
	free(ix->version);
	free(ix->from);
	free(ix->v);
	memset(ix, 0, sizeof *ix);
}

const struct objects_entry *objects_index_find(const struct objects_index *ix,
					       const uint8_t *sha)
{
	struct objects_entry key;

	memcpy(key.sha256, sha, SHA256_LEN);
	return ix->n ? bsearch(&key, ix->v, ix->n, sizeof *ix->v, cmp_entry) : NULL;
}

/* One - { sha256, size, gz } item. */
static int parse_entry(const struct ynode *n, size_t i, struct objects_entry *o,
		       struct diag *d)
{
	static const char *const keys[] = { "sha256", "size", "gz", NULL };
	char where[64];
	const char *hex = NULL;

	ydoc_name_idx(where, sizeof where, "objects", i);
	if (ydoc_map(n, where, d) < 0 || ydoc_check_keys(n, where, keys, d) ||
	    ydoc_require(n, where, keys, d))
		return -1;
	if (ydoc_text(ydoc_get(n, "sha256"), "sha256", &hex, d) < 0 ||
	    ydoc_get_uint(n, where, "size", UINT64_MAX / 2, &o->size, d) < 0 ||
	    ydoc_get_uint(n, where, "gz", UINT64_MAX / 2, &o->gz, d) < 0)
		return -1;
	/* hex_decode takes exactly 64 hex digits, nothing else. */
	if (hex_decode(hex, o->sha256, SHA256_LEN) < 0) {
		diag_add(d, n->line, n->col, "%s.sha256: not 64 hex digits", where);
		return -1;
	}
	if (i && memcmp(o[-1].sha256, o->sha256, SHA256_LEN) >= 0) {
		diag_add(d, n->line, n->col, "%s: not sorted by sha256, or listed twice", where);
		return -1;
	}
	return 0;
}

static int parse_top(const struct ynode *root, struct objects_index *ix, struct diag *d)
{
	static const char *const keys[] = { "upgr", "type", "app", "version", "from",
					    "payload_size", "manifest_sha256", "objects", NULL };
	static const char *const need[] = { "upgr", "type", "app", "version",
					    "manifest_sha256", "objects", NULL };
	const char *type = NULL, *app = NULL, *version = NULL, *msha = NULL, *from = NULL;
	const struct ynode *list;
	uint64_t format = 0;
	size_t i;

	if (ydoc_map(root, "", d) < 0 || ydoc_check_keys(root, "", keys, d) ||
	    ydoc_require(root, "", need, d))
		return -1;
	/* A change index names where it is from and the payload it saves. */
	if (!ydoc_get(root, "from") != !ydoc_get(root, "payload_size")) {
		diag_add(d, root->line, root->col, "from and payload_size go together");
		return -1;
	}
	if (ydoc_get(root, "from") &&
	    (ydoc_get_str(root, "", "from", &from, d) < 0 ||
	     ydoc_get_uint(root, "", "payload_size", UINT64_MAX / 2, &ix->payload_size, d) < 0))
		return -1;
	if (ydoc_get_uint(root, "", "upgr", 1, &format, d) < 0 ||
	    ydoc_get_str(root, "", "type", &type, d) < 0 ||
	    ydoc_get_str(root, "", "app", &app, d) < 0 ||
	    ydoc_get_str(root, "", "version", &version, d) < 0 ||
	    ydoc_text(ydoc_get(root, "manifest_sha256"), "manifest_sha256", &msha, d) < 0)
		return -1;
	if (format != 1 || strcmp(type, "objects") || !is_sha256_hex(msha)) {
		diag_add(d, root->line, root->col, "not an objects index of format 1");
		return -1;
	}
	list = ydoc_get(root, "objects");
	if (ydoc_seq(list, "objects", d) < 0)
		return -1;
	ix->app = xstrdup(app);
	ix->version = xstrdup(version);
	ix->from = from ? xstrdup(from) : NULL;
	snprintf(ix->manifest_sha256, sizeof ix->manifest_sha256, "%s", msha);
	ix->v = xcalloc(list->nitems ? list->nitems : 1, sizeof *ix->v);
	for (i = 0; i < list->nitems; i++)
		if (parse_entry(list->items[i], i, &ix->v[i], d) < 0)
			return -1;
	ix->n = list->nitems;
	return 0;
}

static void copy_index(void *dstv, const void *srcv)
{
	struct objects_index *dst = dstv;
	const struct objects_index *src = srcv;

	*dst = *src;
	dst->app = xstrdup(src->app);
	dst->version = xstrdup(src->version);
	dst->from = src->from ? xstrdup(src->from) : NULL;
	dst->v = xcalloc(src->n ? src->n : 1, sizeof *src->v);
	memcpy(dst->v, src->v, src->n * sizeof *src->v);
}

static void release_index(void *ix)
{
	objects_index_release(ix);
}

/* An index is read when fetched and again when the plan takes its sizes. */
static struct memo parsed = MEMO_INIT(struct objects_index, copy_index, release_index);

int objects_index_parse(const char *buf, size_t len, struct objects_index *ix,
			struct err *e)
{
	struct ydoc doc = { 0 };
	struct diag d;
	int rc = -1;

	memset(ix, 0, sizeof *ix);
	if (memo_get(&parsed, buf, len, ix))
		return 0;
	diag_init(&d, OBJECTS_INDEX_NAME);
	if (ydoc_parse(buf, len, OBJECTS_INDEX_MAX, 0, &doc, &d) == 0 &&
	    parse_top(doc.root, ix, &d) == 0) {
		rc = 0;
		memo_put(&parsed, buf, len, ix);
	}
	if (rc < 0) {
		diag_to_err(&d, EXIT_DATAERR, e);
		objects_index_release(ix);
	}
	ydoc_release(&doc);
	diag_release(&d);
	return rc;
}

void objects_index_emit(const struct objects_index *ix, struct buf *out)
{
	char hex[SHA256_HEX_LEN + 1];
	size_t i;

	buf_addf(out, "upgr: 1\ntype: objects\napp: \"%s\"\nversion: \"%s\"\n", ix->app,
		 ix->version);
	if (ix->from)
		buf_addf(out, "from: \"%s\"\npayload_size: %llu\n", ix->from,
			 (unsigned long long)ix->payload_size);
	/* A change that adds no content lists none: an empty list, not null. */
	buf_addf(out, "manifest_sha256: \"%s\"\nobjects:%s\n", ix->manifest_sha256,
		 ix->n ? "" : " []");
	for (i = 0; i < ix->n; i++) {
		hex_encode(ix->v[i].sha256, SHA256_LEN, hex);
		buf_addf(out, "  - {sha256: \"%s\", size: %llu, gz: %llu}\n", hex,
			 (unsigned long long)ix->v[i].size, (unsigned long long)ix->v[i].gz);
	}
}

int objects_index_check(const struct objects_index *ix, const char *app,
			const char *version, const char *manifest_sha, const char *from,
			const struct manifest *m, struct err *e)
{
	size_t i;

	if (strcmp(ix->app, app) || strcmp(ix->version, version) ||
	    strcmp(ix->manifest_sha256, manifest_sha))
		return err_set(e, EXIT_TRUST, "objects index is for %s %s (manifest %.12s...), "
			       "not this release: refused", ix->app, ix->version,
			       ix->manifest_sha256);
	if (from ? !ix->from || strcmp(ix->from, from) : ix->from != NULL)
		return err_set(e, EXIT_TRUST, "objects index lists the change from %s, "
			       "not from %s: refused", ix->from ? ix->from : "nothing",
			       from ? from : "nothing");
	if (from && m && ix->payload_size != m->payload_size)
		return err_set(e, EXIT_TRUST, "change index weighs a payload of %llu bytes, "
			       "not the manifest's %llu: refused",
			       (unsigned long long)ix->payload_size,
			       (unsigned long long)m->payload_size);
	for (i = 0; !from && m && i < m->nfiles; i++)
		if (!objects_index_find(ix, m->files[i].sha256))
			return err_set(e, EXIT_TRUST, "objects index lacks %s", m->files[i].path);
	return 0;
}

bool objects_cheaper(uint64_t gz, uint64_t payload_size)
{
	return gz * 100 < payload_size * OBJECTS_MAX_SHARE;
}

char *objects_rel(const uint8_t *sha)
{
	char hex[SHA256_HEX_LEN + 1];

	hex_encode(sha, SHA256_LEN, hex);
	return xasprintf(OBJECTS_DIR_NAME "/%.2s/%s.gz", hex, hex);
}

char *objects_index_rel(const char *version)
{
	return xasprintf("releases/%s/" OBJECTS_INDEX_NAME, version);
}

char *objects_delta_rel(const char *version, const char *from)
{
	return xasprintf("releases/%s/" OBJECTS_DELTA_DIR "/%s.yaml", version, from);
}

/* ---- gzip, through libarchive ------------------------------------------ */

static int gzip_into(struct archive *a, int in, const char *src, struct err *e)
{
	struct archive_entry *ent = archive_entry_new();
	unsigned char *chunk = xmalloc(CHUNK);
	ssize_t n;
	int rc = -1;

	archive_entry_set_pathname(ent, "object");
	archive_entry_set_filetype(ent, AE_IFREG);
	if (archive_write_header(a, ent) != ARCHIVE_OK) {
		err_set(e, EXIT_SOFTWARE, "gzip %s: %s", src, archive_error_string(a));
		goto done;
	}
	while ((n = read(in, chunk, CHUNK)) > 0)
		if (archive_write_data(a, chunk, (size_t)n) != n) {
			err_set(e, EXIT_SOFTWARE, "gzip %s: %s", src, archive_error_string(a));
			goto done;
		}
	if (n < 0) {
		err_sys(e, EXIT_DATAERR, "read %s", src);
		goto done;
	}
	rc = archive_write_close(a) == ARCHIVE_OK ? 0
		: err_set(e, EXIT_SOFTWARE, "gzip %s: %s", src, archive_error_string(a));
done:
	archive_entry_free(ent);
	free(chunk);
	return rc;
}

int objects_gzip(const char *src, const char *dst, uint64_t *gz, struct err *e)
{
	struct archive *a = archive_write_new();
	struct stat st;
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = -1;

	unlink(dst);
	if (in < 0) {
		err_sys(e, EXIT_DATAERR, "open %s", src);
		goto done;
	}
	if (archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_filename(a, dst) != ARCHIVE_OK) {
		err_set(e, EXIT_SOFTWARE, "gzip %s: %s", dst, archive_error_string(a));
		goto done;
	}
	if (gzip_into(a, in, src, e) < 0)
		goto done;
	if (stat(dst, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", dst);
		goto done;
	}
	*gz = (uint64_t)st.st_size;
	rc = 0;
done:
	archive_write_free(a);
	if (in >= 0)
		close(in);
	return rc;
}

/* Decompress a's one entry into fd, at most max bytes, hashing. */
static int gunzip_data(struct archive *a, int fd, uint64_t max, gcry_md_hd_t md,
		       uint64_t *got, struct err *e)
{
	unsigned char *chunk = xmalloc(CHUNK);
	la_ssize_t n;
	int rc = -1;

	*got = 0;
	while ((n = archive_read_data(a, chunk, CHUNK)) > 0) {
		if ((uint64_t)n > max - *got) {
			err_set(e, EXIT_TRUST, "expands past its signed size %llu",
				(unsigned long long)(max - 1));
			goto done;
		}
		*got += (uint64_t)n;
		gcry_md_write(md, chunk, (size_t)n);
		if (fs_write_all(fd, chunk, (size_t)n) < 0) {
			err_sys(e, EXIT_SOFTWARE, "write");
			goto done;
		}
	}
	rc = n < 0 ? err_set(e, EXIT_TRUST, "%s", archive_error_string(a)) : 0;
done:
	free(chunk);
	return rc;
}

/* A reader of the gzip object at path, opened without following a link
 * or waiting on a FIFO (the file may be in a directory others write): a
 * regular file of no more than max_gz bytes (0: any), else EXIT_TRUST.
 * *fd receives the file, for the caller to close after the reader. The
 * messages do not name path: the caller's prefix does. */
static struct archive *gz_reader(const char *path, uint64_t max_gz, int *fd, struct err *e)
{
	struct archive *a;
	struct archive_entry *ent;
	struct stat st;

	*fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		err_sys(e, errno == ENOENT ? EXIT_DATAERR : EXIT_TRUST, "open");
		return NULL;
	}
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set(e, EXIT_TRUST, "not a regular file");
		return NULL;
	}
	if (max_gz && (uint64_t)st.st_size > max_gz) {
		err_set(e, EXIT_TRUST, "%llu bytes, its signed gzip size is %llu",
			(unsigned long long)st.st_size, (unsigned long long)max_gz);
		return NULL;
	}
	/* gzip and the raw format only: no other parser sees these bytes. */
	a = archive_read_new();
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_raw(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, *fd, CHUNK) != ARCHIVE_OK ||
	    archive_read_next_header(a, &ent) != ARCHIVE_OK ||
	    archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP) {
		err_set(e, EXIT_TRUST, "not a gzip object: %s", archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* objects_gunzip, the object no larger than max_gz (0: any), out made
 * durable when durable is set. */
static int gunzip_to(const char *gzpath, uint64_t max_gz, const char *out, uint64_t size,
		     const uint8_t *sha, bool durable, struct err *e)
{
	struct archive *a;
	gcry_md_hd_t md = NULL;
	uint64_t got = 0;
	int fd = -1, in = -1, rc = -1;

	unlink(out);
	if (!(a = gz_reader(gzpath, max_gz, &in, e)))
		goto done;
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(e, EXIT_SOFTWARE, "create %s", out);
		goto done;
	}
	if (gcry_md_open(&md, GCRY_MD_SHA256, 0)) {
		err_set(e, EXIT_SOFTWARE, "cannot start sha256");
		goto done;
	}
	if (gunzip_data(a, fd, size + 1, md, &got, e) < 0)
		goto done;
	if (got != size || memcmp(gcry_md_read(md, GCRY_MD_SHA256), sha, SHA256_LEN)) {
		err_set(e, EXIT_TRUST, "%llu bytes that are not the signed manifest's",
			(unsigned long long)got);
		goto done;
	}
	rc = durable && fsync(fd) < 0 ? err_sys(e, EXIT_SOFTWARE, "fsync %s", out) : 0;
done:
	if (md)
		gcry_md_close(md);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = err_sys(e, EXIT_SOFTWARE, "close %s", out);
	if (a)
		archive_read_free(a);
	if (in >= 0)
		close(in);
	if (rc < 0)
		unlink(out);
	return rc;
}

int objects_gunzip(const char *gzpath, const char *out, uint64_t size,
		   const uint8_t *sha, struct err *e)
{
	return gunzip_to(gzpath, 0, out, size, sha, true, e);
}

/* ---- what the host has --------------------------------------------------- */

static char *object_path(const char *objdir, const uint8_t *sha)
{
	char hex[SHA256_HEX_LEN + 1];

	hex_encode(sha, SHA256_LEN, hex);
	return fs_join(objdir, hex);
}

/* Installed files sorted by sha256, for the lookups by content. */
static _Thread_local const struct mfile *g_sort_base;
static int cmp_by_sha(const void *a, const void *b)
{
	return memcmp(g_sort_base[*(const size_t *)a].sha256,
		      g_sort_base[*(const size_t *)b].sha256, SHA256_LEN);
}

static size_t *by_sha(const struct manifest *m)
{
	size_t *v = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *v), i;

	for (i = 0; i < m->nfiles; i++)
		v[i] = i;
	g_sort_base = m->files;
	qsort(v, m->nfiles, sizeof *v, cmp_by_sha);
	return v;
}

/* Whether target/path is a regular file (not followed) with bytes sha,
 * read now. */
static bool file_has(int target, const char *path, const uint8_t *sha)
{
	int fd = openat(target, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	uint8_t h[SHA256_LEN];
	struct stat st;
	struct err e;
	bool ok = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && sha256_fd(fd, h, NULL, &e) == 0)
		ok = !memcmp(h, sha, SHA256_LEN);
	close(fd);
	return ok;
}

/* The first of order (by_sha of in) whose file is listed with sha; the
 * others with sha follow it. in->nfiles when none is. */
static size_t sha_first(const struct manifest *in, const size_t *order, const uint8_t *sha)
{
	size_t lo = 0, hi = in->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(in->files[order[mid]].sha256, sha, SHA256_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether some installed path listed with sha holds it now: vouched for
 * by the scan (its lstat matched the quick check's record), else read.
 * *order is by_sha of the installed files, made on first need; *tfd the
 * target, opened on first need (-2: not yet, -1: failed). */
static bool installed_has(const struct treescan *seen, size_t **order, int *tfd,
			  const uint8_t *sha)
{
	const struct manifest *in = &seen->installed;
	size_t lo, k;

	if (!*order)
		*order = by_sha(in);
	for (lo = sha_first(in, *order, sha);
	     lo < in->nfiles && !memcmp(in->files[(*order)[lo]].sha256, sha, SHA256_LEN); lo++) {
		k = (*order)[lo];
		if (!in->files[k].has_sha256 || seen->v[k].kind == SEEN_ABSENT ||
		    (seen->v[k].kind == SEEN_STAT && !S_ISREG(seen->v[k].st.st_mode)))
			continue;
		if (seen->v[k].kind == SEEN_VOUCHED)
			return true;
		if (*tfd == -2)
			*tfd = open(seen->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*tfd >= 0 && file_has(*tfd, in->files[k].path, sha))
			return true;
	}
	return false;
}

/* A verified object of an earlier run; one cut short (a power cut
 * before its data reached the disk) is fetched again. */
static bool have_object(const char *objdir, const struct objects_entry *o)
{
	char *p = object_path(objdir, o->sha256);
	struct stat st;
	bool ok = lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == o->size;

	free(p);
	return ok;
}

/* Whether objdir holds any entry: only a run cut short leaves objects
 * there, so most runs need not look for each one. */
static bool objdir_used(const char *objdir)
{
	DIR *d = opendir(objdir);
	struct dirent *de;
	bool used = false;

	if (!d)
		return errno != ENOENT;
	while (!used && (de = readdir(d)))
		used = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return used;
}

/* Whether the installed file at f's own path (mostly the installed
 * manifest's i-th) is vouched for with f's bytes: most files of an
 * upgrade, found with no look-up by content. */
static bool vouched_here(const struct treescan *seen, const struct mfile *f, size_t i)
{
	const struct mfile *was = manifest_find_file_near(&seen->installed, f->path, i);

	return was && was->has_sha256 && !memcmp(was->sha256, f->sha256, SHA256_LEN) &&
	       seen->v[was - seen->installed.files].kind == SEEN_VOUCHED;
}

int objects_missing(const struct objects_index *ix, const struct manifest *m,
		    const struct treescan *seen, const char *objdir,
		    const struct objects_entry ***need, size_t *nneed, uint64_t *bytes,
		    struct err *e)
{
	size_t *order = NULL, i;
	bool *done = xcalloc(ix->n ? ix->n : 1, sizeof *done), cached = objdir_used(objdir);
	int tfd = -2, rc = 0;

	*need = xcalloc(ix->n ? ix->n : 1, sizeof **need);
	*nneed = 0;
	*bytes = 0;
	for (i = 0; i < m->nfiles && rc == 0; i++) {
		const struct objects_entry *o;

		if (seen && vouched_here(seen, &m->files[i], i))
			continue;
		/* A change index lists only what is new since its release. */
		if (!(o = objects_index_find(ix, m->files[i].sha256)) && ix->from && seen &&
		    installed_has(seen, &order, &tfd, m->files[i].sha256))
			continue;
		if (!o) {
			rc = err_set(e, EXIT_TRUST, "objects index lacks %s", m->files[i].path);
			break;
		}
		if (done[o - ix->v])
			continue;
		done[o - ix->v] = true;
		if ((cached && have_object(objdir, o)) ||
		    (seen && installed_has(seen, &order, &tfd, o->sha256)))
			continue;
		(*need)[(*nneed)++] = o;
		*bytes += o->gz;
	}
	if (tfd >= 0)
		close(tfd);
	free(order);
	free(done);
	return rc < 0 ? -1 : 0;
}

int objects_fetch(struct xfer *x, const char *url, const char *objdir,
		  const struct objects_entry *o, struct err *e)
{
	char *final = object_path(objdir, o->sha256);
	char *part = xasprintf("%s.gz.part", final), *tmp = xasprintf("%s.tmp", final);
	int rc = -1;

	if (xfer_get_file(x, url, part, o->gz, true, e) < 0) {
		if (e->code == EXIT_TRUST)
			unlink(part);
		goto done;
	}
	if (objects_gunzip(part, tmp, o->size, o->sha256, e) < 0) {
		unlink(part);
		e->code = EXIT_TRUST;
		goto done;
	}
	if (rename(tmp, final) < 0) {
		err_sys(e, EXIT_SOFTWARE, "rename %s", tmp);
		goto done;
	}
	/* No fsync of objdir: an object whose name is lost is fetched again. */
	unlink(part);
	rc = 0;
done:
	if (rc < 0) {
		unlink(tmp);
		err_prefix(e, "object %s: ", strrchr(url, '/') ? strrchr(url, '/') + 1 : url);
	}
	free(final);
	free(part);
	free(tmp);
	return rc;
}

int objects_take(const char *appdir, const char *objdir, const struct objects_entry *o,
		 struct err *e)
{
	char *rel = objects_rel(o->sha256), *gz = fs_join(appdir, rel);
	char *final = object_path(objdir, o->sha256), *tmp = xasprintf("%s.tmp", final);
	int rc = gunzip_to(gz, o->gz, tmp, o->size, o->sha256, false, e);

	if (rc == 0 && rename(tmp, final) < 0)
		rc = err_sys(e, EXIT_SOFTWARE, "rename %s", tmp);
	if (rc < 0) {
		unlink(tmp);
		err_prefix(e, "%s: ", gz);
	}
	free(rel);
	free(gz);
	free(final);
	free(tmp);
	return rc;
}

/* ---- staging ------------------------------------------------------------ */

bool objects_is_source(const char *src)
{
	struct stat st;

	return src && stat(src, &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t objects_bytes(const char *src)
{
	DIR *d = opendir(src);
	struct dirent *de;
	struct stat st;
	uint64_t n = 0;

	while (d && (de = readdir(d)))
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
	if (d)
		closedir(d);
	return n;
}

/* The verified index beside the objects directory src. */
static int load_index(const char *src, struct objects_index *ix, struct err *e)
{
	char *dir = xstrdup(src), *slash = strrchr(dir, '/'), *path;
	struct buf b = BUF_INIT;
	int rc;

	if (slash)
		*slash = '\0';
	path = fs_join(slash ? dir : ".", OBJECTS_INDEX_NAME);
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		free(path);
		path = fs_join(slash ? dir : ".", OBJECTS_DELTA_NAME);
	}
	rc = fs_read_file(path, OBJECTS_INDEX_MAX, &b, e) < 0 ? -1
		: objects_index_parse(b.data, b.len, ix, e);
	if (rc < 0)
		err_prefix(e, "%s: ", path);
	buf_release(&b);
	free(path);
	free(dir);
	return rc;
}

int objects_sizes(const char *src, const struct manifest *m, uint64_t *sizes,
		  struct err *e)
{
	struct objects_index ix;
	size_t i;

	if (load_index(src, &ix, e) < 0)
		return -1;
	for (i = 0; i < m->nfiles; i++) {
		const struct objects_entry *o = objects_index_find(&ix, m->files[i].sha256);

		sizes[i] = o ? o->size : ix.from ? OBJECTS_SIZE_UNKNOWN : 0;
	}
	objects_index_release(&ix);
	return 0;
}

uint64_t objects_size_here(struct objects_here *h, const uint8_t *sha)
{
	const struct manifest *in = h->installed;
	char *p = object_path(h->src, sha);
	struct stat st;
	bool ok = lstat(p, &st) == 0 && S_ISREG(st.st_mode);
	size_t lo;

	free(p);
	if (ok)
		return (uint64_t)st.st_size;
	if (in && h->tfd == -2)
		h->tfd = open(h->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!in || h->tfd < 0)
		return 0;
	if (!h->order)
		h->order = by_sha(in);
	for (lo = sha_first(in, h->order, sha);
	     lo < in->nfiles && !memcmp(in->files[h->order[lo]].sha256, sha, SHA256_LEN); lo++)
		if (fstatat(h->tfd, in->files[h->order[lo]].path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			return (uint64_t)st.st_size;
	return 0;
}

void objects_here_release(struct objects_here *h)
{
	if (h->tfd >= 0)
		close(h->tfd);
	free(h->order);
	h->tfd = -2;
	h->order = NULL;
}

struct stager {
	int root;                  /* the staging directory */
	const struct manifest *installed; /* other sources of the bytes, or NULL */
	size_t *by_sha;            /* installed's files by sha256 (by_sha), made
				    * when a file is not at its own path */
	const char *target;        /* where installed's files are */
	bool fsync_each;
	uint64_t max_total, total;
	char **made;               /* directories made in staging, relative */
	size_t nmade;
	unsigned char *chunk;
};

/* The directory holding rel under the staging root, made (0755) as
 * needed, each component opened with O_NOFOLLOW. */
static int stage_parent(struct stager *s, const char *rel, const char **base, struct err *e)
{
	char *copy = xstrdup(rel), *comp = copy, *slash;
	int fd = dup(s->root), next;

	if (fd < 0)
		err_sys(e, EXIT_SOFTWARE, "dup");
	while (fd >= 0 && (slash = strchr(comp, '/'))) {
		*slash = '\0';
		if (mkdirat(fd, comp, 0755) == 0) {
			s->made = xreallocarray(s->made, s->nmade + 1, sizeof *s->made);
			s->made[s->nmade++] = xstrdup(copy);
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 || fchmod(next, 0755) < 0) {
			err_sys(e, EXIT_SOFTWARE, "directory %s in staging", copy);
			if (next >= 0)
				close(next);
			next = -1;
		}
		close(fd);
		fd = next;
		*slash = '/';
		comp = slash + 1;
	}
	*base = rel + (comp - copy);
	free(copy);
	return fd;
}

/* Copy in (a source opened by the caller) to out, hashing; 1 when the
 * bytes are f's, 0 when not (out is truncated back), -1 on an error. */
static int copy_checked(struct stager *s, int in, int out, const struct mfile *f,
			struct err *e)
{
	gcry_md_hd_t md;
	uint64_t n0 = s->total;
	ssize_t n;
	int rc = -1;

	if (gcry_md_open(&md, GCRY_MD_SHA256, 0))
		return err_set(e, EXIT_SOFTWARE, "cannot start sha256");
	while ((n = read(in, s->chunk, CHUNK)) > 0) {
		if ((uint64_t)n > s->max_total - s->total) {
			err_set(e, EXIT_SOFTWARE, "%s: staging past %llu bytes", f->path,
				(unsigned long long)s->max_total);
			goto done;
		}
		s->total += (uint64_t)n;
		gcry_md_write(md, s->chunk, (size_t)n);
		if (fs_write_all(out, s->chunk, (size_t)n) < 0) {
			err_sys(e, EXIT_SOFTWARE, "write %s", f->path);
			goto done;
		}
	}
	if (n == 0 && !memcmp(gcry_md_read(md, GCRY_MD_SHA256), f->sha256, SHA256_LEN)) {
		rc = 1;
		goto done;
	}
	s->total = n0;
	rc = ftruncate(out, 0) == 0 && lseek(out, 0, SEEK_SET) == 0 ? 0
		: err_sys(e, EXIT_SOFTWARE, "truncate %s", f->path);
done:
	gcry_md_close(md);
	return rc;
}

/* Try the source at path (a regular file, not followed). */
static int try_source(struct stager *s, const char *path, int out, const struct mfile *f,
		      struct err *e)
{
	int in = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc = 0;
	struct stat st;

	if (in < 0)
		return 0;
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode))
		rc = copy_checked(s, in, out, f, e);
	close(in);
	return rc;
}

/* The sources of f's bytes, in order, until one checks out: its object,
 * the installed file at its path, any installed file listed with its
 * sha256 (a file moved or copied). */
static int fill_file(struct stager *s, int out, const char *src, const struct mfile *f,
		     struct err *e)
{
	const struct manifest *in = s->installed;
	char *path = object_path(src, f->sha256);
	int rc = try_source(s, path, out, f, e);
	size_t i;

	free(path);
	if (rc == 0 && s->target) {
		path = fs_join(s->target, f->path);
		rc = try_source(s, path, out, f, e);
		free(path);
	}
	if (rc == 0 && in && s->target && !s->by_sha)
		s->by_sha = by_sha(in);          /* the first file moved or copied */
	i = rc == 0 && in && s->target ? sha_first(in, s->by_sha, f->sha256) : SIZE_MAX;
	for (; rc == 0 && in && i < in->nfiles &&
	       !memcmp(in->files[s->by_sha[i]].sha256, f->sha256, SHA256_LEN); i++) {
		path = fs_join(s->target, in->files[s->by_sha[i]].path);
		rc = try_source(s, path, out, f, e);
		free(path);
	}
	if (rc == 0)
		return err_set(e, EXIT_SOFTWARE, "%s: no verified object nor installed file "
			       "holds its bytes", f->path);
	return rc < 0 ? -1 : 0;
}

static int stage_one(struct stager *s, const char *src, const struct mfile *f,
		     struct err *e)
{
	const char *base;
	int pfd = stage_parent(s, f->path, &base, e), fd = -1, rc = -1;

	if (pfd < 0)
		return -1;
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(e, EXIT_SOFTWARE, "create %s", f->path);
		goto done;
	}
	if (fill_file(s, fd, src, f, e) < 0)
		goto done;
	if (fchmod(fd, f->mode & 0777) < 0 || (s->fsync_each && fsync(fd) < 0)) {
		err_sys(e, EXIT_SOFTWARE, "chmod or fsync %s", f->path);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = err_sys(e, EXIT_SOFTWARE, "close %s", f->path);
	close(pfd);
	return rc;
}

/* The data (one syncfs where trusted), each directory made, the root. */
static int stage_sync(struct stager *s, const char *staging, struct err *e)
{
	size_t i;
	int fd, rc = 0;

	if (!s->fsync_each && fs_sync_fs(staging, e) < 0)
		return -1;
	for (i = 0; i < s->nmade && rc == 0; i++) {
		fd = openat(s->root, s->made[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			rc = err_sys(e, EXIT_SOFTWARE, "fsync %s", s->made[i]);
		if (fd >= 0)
			close(fd);
	}
	if (rc == 0 && fsync(s->root) < 0)
		rc = err_sys(e, EXIT_SOFTWARE, "fsync staging directory");
	return rc;
}

static int stage_objects(const char *src, const char *staging, const struct manifest *m,
			 const struct manifest *installed, const char *target,
			 const bool *want, uint64_t max_total, struct err *e)
{
	struct stager s = { .root = -1, .max_total = max_total, .installed = installed,
			    .target = target };
	size_t i;
	int rc = -1;

	crypto_init();
	s.root = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.root < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", staging);
	s.fsync_each = !payload_syncfs_trusted(staging);
	s.chunk = xmalloc(CHUNK);
	for (i = 0; i < m->nfiles; i++)
		if ((!want || want[i]) && stage_one(&s, src, &m->files[i], e) < 0)
			goto done;
	rc = stage_sync(&s, staging, e);
done:
	for (i = 0; i < s.nmade; i++)
		free(s.made[i]);
	free(s.made);
	free(s.chunk);
	free(s.by_sha);
	close(s.root);
	return rc;
}

int objects_extract_some(const char *src, const char *staging, const struct manifest *m,
			 const struct manifest *installed, const char *target,
			 const bool *want, uint64_t max_total, struct err *e)
{
	if (!objects_is_source(src))
		return payload_extract_some(src, staging, m, want, max_total, e);
	if (stage_objects(src, staging, m, installed, target, want, max_total, e) < 0)
		return err_prefix(e, "stage from %s: ", src);
	return 0;
}
