/* SPDX-License-Identifier: Apache-2.0 */
/* Objects and their index at publication (publish_objects.h). */
#include "publish_objects.h"
#include "fsutil.h"
#include "hash.h"
#include "objects.h"
#include "transport.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The index of the release at prev_rel (its objects.yaml beside it), if
 * it is there and names that manifest; else an empty one. */
static void previous_index(struct xfer *x, const char *app_url, const char *prev_rel,
			   const char *prev_sha, struct objects_index *prev)
{
	const char *slash = strrchr(prev_rel, '/');
	char *url = xasprintf("%s%.*s" OBJECTS_INDEX_NAME, app_url,
			      slash ? (int)(slash - prev_rel + 1) : 0, prev_rel);
	struct buf b = BUF_INIT;
	struct err e;
	bool missing;

	memset(prev, 0, sizeof *prev);
	if (xfer_get(x, url, OBJECTS_INDEX_MAX, &b, &missing, &e) == 0 &&
	    objects_index_parse(b.data, b.len, prev, &e) == 0 &&
	    strcmp(prev->manifest_sha256, prev_sha))
		objects_index_release(prev);
	buf_release(&b);
	free(url);
}

static int cmp_file_sha(const void *a, const void *b)
{
	return memcmp((*(const struct mfile *const *)a)->sha256,
		      (*(const struct mfile *const *)b)->sha256, SHA256_LEN);
}

/* Gzip f into tmpdir and upload it as its object; o gets its sizes. */
static int upload_one(struct xfer *x, const char *app_url, const struct mfile *f,
		      const char *from, const char *tmpdir, struct objects_entry *o,
		      struct err *e)
{
	char *src = fs_join(from, f->path), *gz = fs_join(tmpdir, "object.gz");
	char *rel = objects_rel(f->sha256), *url = xasprintf("%s%s", app_url, rel);
	uint64_t size;
	int rc = -1;

	if (sha256_file(src, o->sha256, &size, e) < 0)
		goto done;
	o->size = size;
	if (memcmp(o->sha256, f->sha256, SHA256_LEN)) {
		err_set(e, EXIT_DATAERR, "%s changed while publishing", src);
		goto done;
	}
	if (objects_gzip(src, gz, &o->gz, e) < 0 || xfer_put_file(x, url, gz, e) < 0)
		goto done;
	rc = 0;
done:
	unlink(gz);
	free(src);
	free(gz);
	free(rel);
	free(url);
	return rc;
}

int publish_objects(struct xfer *x, const char *app_url, const struct manifest *m,
		    const struct buf *manifest, const char *from, const char *tmpdir,
		    const char *prev_rel, const char *prev_sha, const char *prev_version,
		    struct buf *index, struct buf *delta, struct err *e)
{
	const struct mfile **order = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *order);
	struct objects_index prev = { 0 }, ix = { 0 }, dx = { 0 };
	uint8_t h[SHA256_LEN];
	size_t i;
	int rc = -1;

	if (prev_rel && prev_sha)
		previous_index(x, app_url, prev_rel, prev_sha, &prev);
	for (i = 0; i < m->nfiles; i++)
		order[i] = &m->files[i];
	qsort(order, m->nfiles, sizeof *order, cmp_file_sha);
	ix.v = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *ix.v);
	dx.v = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *dx.v);
	for (i = 0; i < m->nfiles; i++) {
		const struct objects_entry *had = objects_index_find(&prev, order[i]->sha256);

		if (ix.n && !memcmp(ix.v[ix.n - 1].sha256, order[i]->sha256, SHA256_LEN))
			continue;                 /* the same content twice */
		if (had)
			ix.v[ix.n] = *had;
		else if (upload_one(x, app_url, order[i], from, tmpdir, &ix.v[ix.n], e) < 0)
			goto done;
		else
			dx.v[dx.n++] = ix.v[ix.n];   /* in the order of ix: sorted */
		ix.n++;
	}
	ix.app = dx.app = m->app;
	ix.version = dx.version = m->version;
	sha256_buf(manifest->data, manifest->len, h);
	hex_encode(h, SHA256_LEN, ix.manifest_sha256);
	memcpy(dx.manifest_sha256, ix.manifest_sha256, sizeof dx.manifest_sha256);
	objects_index_emit(&ix, index);
	if (prev.app && prev_version) {
		dx.from = (char *)prev_version;
		dx.payload_size = m->payload_size;
		objects_index_emit(&dx, delta);
	}
	rc = 0;
done:
	if (rc < 0)
		err_prefix(e, "objects: ");
	free(ix.v);
	free(dx.v);
	objects_index_release(&prev);
	free(order);
	return rc;
}
