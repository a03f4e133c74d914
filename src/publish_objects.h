/* SPDX-License-Identifier: Apache-2.0 */
/* The publisher's side of per-file objects (objects.h): upload the
 * objects a release adds and build its index. */
#ifndef UPGR_PUBLISH_OBJECTS_H
#define UPGR_PUBLISH_OBJECTS_H

#include "buf.h"
#include "err.h"
#include "manifest.h"

struct xfer;

/* Upload to APP_URL/objects/ (app_url ends in '/') a gzip object of each
 * distinct content of m (its files read from from, gzipped in tmpdir)
 * that the index of the release the channel names now does not list
 * (prev_rel: that release's manifest path relative to app_url, prev_sha
 * its sha256 and prev_version its version, as the verified current
 * channel names them; NULL: none), and write into index the new release's
 * index for the manifest whose bytes are manifest, and into delta its
 * change index from prev_version (the objects uploaded now; left empty
 * when there is no previous index to tell them). The previous index is
 * read without its signature: it only spares uploads, and a server that
 * lies in it can at worst send hosts back to the whole index or the
 * payload (objects.h). */
int publish_objects(struct xfer *x, const char *app_url, const struct manifest *m,
		    const struct buf *manifest, const char *from, const char *tmpdir,
		    const char *prev_rel, const char *prev_sha, const char *prev_version,
		    struct buf *index, struct buf *delta, struct err *e);

#endif
