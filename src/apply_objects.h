/* SPDX-License-Identifier: Apache-2.0 */
/* `upgr apply DIR` from a repository on this host's file system.
 *
 * A release directory as `upgr publish` lays it out in a file://
 * repository, REPO/apps/APP/releases/VERSION, has beside its payload the
 * signed index of its per-file objects (objects.h), and the objects
 * themselves are in REPO/apps/APP/objects. An upgrade from such a
 * directory takes only the contents the host lacks from there, as an
 * agent fetches them from a server, instead of reading the whole payload
 * (whose sha256 cannot be checked without reading every byte):
 *
 *   1. the change index from the installed version (delta/FROM.yaml),
 *      else the whole index, verified with the trusted keys, its trusted
 *      comment naming this app and file, and held to this release's
 *      signed manifest (objects_index_check);
 *   2. what the host lacks (objects_missing, over the scan of the
 *      installed tree), weighed against the payload (objects_cheaper);
 *   3. each object the host lacks gunzipped from the repository into
 *      STATE/cache/APP/.apply/objects/HEX (objects_take), beside the
 *      verified index, and checked against its signed size and the
 *      manifest's sha256;
 *   4. staging then takes each file from there or from the installed
 *      tree (objects_extract_some), checking every byte again.
 *
 * Anything that does not check (a signature, an index from another
 * release, an object whose bytes are not the manifest's, a missing one)
 * is said once as a warning and the payload is used, as before: the
 * repository's other files hold no authority over what is installed. */
#ifndef UPGR_APPLY_OBJECTS_H
#define UPGR_APPLY_OBJECTS_H

#include "buf.h"
#include "config.h"
#include "manifest.h"
#include "sign.h"

struct treescan;

#define APPLY_OBJECTS_DIR ".apply"   /* STATE/cache/APP/.apply */

struct apply_objects {
	const struct config *c;
	const char *dir;                /* the release directory */
	const struct sign_pub *keys;    /* the keys the manifest was verified with */
	size_t nkeys;
	const struct manifest *m;       /* the verified manifest */
	const char *manifest_sha256;    /* its sha256, hex */
	const struct treescan *seen;    /* the scan of the installed tree (waited for) */
};

/* 1 when *src is set to an objects directory holding what the host lacks
 * of a->m (allocated; apply_objects_clean removes it after the
 * transaction); 0 to read the payload: DIR is not in a repository with
 * objects, the host has no installed tree to take from, or the objects
 * would cost more than the payload; also 0, with *warn set, when
 * something in the repository did not check (the warning's text). */
int apply_objects_prepare(const struct apply_objects *a, char **src, struct buf *warn);

/* The app DIR is a release of by its path, REPO/apps/APP/releases/VERSION:
 * APP (allocated) when that is a valid app name, else NULL. Only a guess,
 * to scan the installed tree while the manifest is verified; the
 * manifest says which app it is. */
char *apply_objects_app_of(const char *dir);

/* Remove STATE/cache/APP/.apply (what apply_objects_prepare made). */
void apply_objects_clean(const struct config *c, const char *app);

#endif
