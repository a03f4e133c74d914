/* SPDX-License-Identifier: Apache-2.0 */
/* Per-file objects: fetch only the files a host lacks (issue 17.1).
 *
 * `upgr publish` writes, beside the payload, one gzip object per distinct
 * file content, named by the sha256 of its uncompressed bytes, and a
 * signed index of them for the release:
 *
 *   REPO/apps/APP/objects/AB/ABCD...EF.gz        written once, shared by releases
 *   REPO/apps/APP/releases/VERSION/objects.yaml  (+ .minisig, + .NAME.minisig)
 *
 *   upgr: 1
 *   type: objects
 *   app: hello
 *   version: 1.2.0
 *   manifest_sha256: <64 hex>     the manifest this index belongs to
 *   objects:                      sorted by sha256, each content once
 *     - { sha256: <64 hex>, size: 1234, gz: 567 }
 *
 * Beside it, a release published over another (the one its channel
 * named) gets a change index of the contents that one lacked: the same
 * document with `from: OLDVERSION`, listing only the objects publish
 * uploaded for it,
 *
 *   REPO/apps/APP/releases/VERSION/delta/OLDVERSION.yaml  (+ signatures)
 *
 * A host with OLDVERSION installed reads that (a few lines for a small
 * change) instead of the index of every content; whatever it lacks that
 * the change index does not list sends it to the whole index. A change
 * index also names the release's payload size (`payload_size:`, held to
 * the manifest's), so that a host can weigh the change against the
 * payload before it has parsed the manifest.
 *
 * Neither the manifest nor the channel file changes, so an agent that
 * knows nothing of objects installs the release from its payload. A new
 * agent that already has most of a release's bytes (in its installed
 * tree, or in the cache from an interrupted run) fetches the index, then
 * each missing object, cut off at its signed gz size, and checks it after
 * gunzip against its signed size and the manifest's sha256 before it is
 * kept. The index holds no authority over content: every byte installed is
 * still checked against the signed manifest; it only tells sizes, so a
 * wrong one can at worst send the host back to the whole payload.
 *
 * In the cache, a release fetched this way is
 *   STATE/cache/APP/VERSION/manifest.yaml, manifest.yaml.minisig
 *   STATE/cache/APP/VERSION/objects.yaml          the verified index,
 *   STATE/cache/APP/VERSION/delta.yaml            or the change index
 *   STATE/cache/APP/VERSION/objects/HEX           verified, uncompressed
 *   STATE/cache/APP/VERSION/objects/HEX.gz.part   a download, resumed
 * and no payload: apply_release then stages from objects/ and from the
 * installed tree (objects_extract_some). */
#ifndef UPGR_OBJECTS_H
#define UPGR_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"

#define OBJECTS_INDEX_NAME "objects.yaml"
#define OBJECTS_DELTA_NAME "delta.yaml"   /* a change index, in the cache */
#define OBJECTS_DELTA_DIR "delta"         /* change indexes, in the repository */
#define OBJECTS_DIR_NAME "objects"
#define OBJECTS_INDEX_MAX (32u << 20)
/* Objects are fetched when the missing ones weigh less than this percent
 * of the payload; above, the whole payload is cheaper (one transfer). */
#define OBJECTS_MAX_SHARE 60
/* Whether objects of gz bytes in all are the cheaper way to a release
 * whose payload is payload_size bytes (under OBJECTS_MAX_SHARE). */
bool objects_cheaper(uint64_t gz, uint64_t payload_size);

struct objects_entry {
	uint8_t sha256[SHA256_LEN];
	uint64_t size;             /* uncompressed: the file's size */
	uint64_t gz;               /* the object's size on the server */
};

struct objects_index {
	char *app, *version;
	char *from;                /* a change index: the release it is from; else NULL */
	uint64_t payload_size;     /* a change index: the release's payload, to weigh it by */
	char manifest_sha256[SHA256_HEX_LEN + 1];
	struct objects_entry *v;   /* sorted by sha256, no duplicates */
	size_t n;
};

/* Parse an index (strictly: unknown keys, a bad hash, unsorted or
 * duplicate objects are refused, EXIT_DATAERR naming the place). */
int objects_index_parse(const char *buf, size_t len, struct objects_index *ix,
			struct err *e);
void objects_index_emit(const struct objects_index *ix, struct buf *out);
void objects_index_release(struct objects_index *ix);
/* The entry for sha, or NULL (binary search). */
const struct objects_entry *objects_index_find(const struct objects_index *ix,
					       const uint8_t *sha);
/* 0 when the index names app, version and the manifest of hex sha256
 * manifest_sha and either (from NULL) is a whole index that lists every
 * file of m, or is the change index from release `from`; EXIT_TRUST
 * otherwise (an index spliced from another release, or another change). */
int objects_index_check(const struct objects_index *ix, const char *app,
			const char *version, const char *manifest_sha, const char *from,
			const struct manifest *m, struct err *e);

/* "objects/AB/ABCD...EF.gz", relative to REPO/apps/APP/ (allocated). */
char *objects_rel(const uint8_t *sha);
/* "releases/VERSION/objects.yaml" (allocated). */
char *objects_index_rel(const char *version);
/* "releases/VERSION/delta/FROM.yaml" (allocated). */
char *objects_delta_rel(const char *version, const char *from);

/* Gzip the file src into dst (replaced), as publish writes objects; *gz
 * receives dst's size. */
int objects_gzip(const char *src, const char *dst, uint64_t *gz, struct err *e);

/* Gunzip gzpath into out (0600, fsynced) reading no more than size + 1
 * uncompressed bytes; EXIT_TRUST unless the result is exactly size bytes
 * with sha256 sha (out is then removed). */
int objects_gunzip(const char *gzpath, const char *out, uint64_t size,
		   const uint8_t *sha, struct err *e);

struct xfer;

/* Fetch object o from url into objdir/HEX.gz.part (resumed from a
 * partial file, cut off past o->gz bytes), gunzip it (objects_gunzip)
 * and rename the result to objdir/HEX. EXIT_TRUST when the server served
 * other bytes (the partial file is removed, so the next server starts
 * over); EXIT_UNAVAILABLE when the transfer failed (kept, to resume). */
int objects_fetch(struct xfer *x, const char *url, const char *objdir,
		  const struct objects_entry *o, struct err *e);

/* Object o from a repository on this file system (appdir:
 * REPO/apps/APP, holding objects/AB/HEX.gz) into objdir/HEX, gunzipped
 * and checked as objects_fetch does a fetched one, not made durable (a
 * copy for one transaction, which staging checks again). The file is
 * opened without following a link and must be a regular file of no more
 * than o->gz bytes; EXIT_TRUST when it is not or its bytes are not the
 * signed ones, EXIT_DATAERR when it is not there. */
int objects_take(const char *appdir, const char *objdir, const struct objects_entry *o,
		 struct err *e);

/* What a host lacks of release m: every distinct content of m that is
 * neither a verified object in objdir (of the index's size) nor a regular
 * file at a path the installed manifest lists with that sha256, as the
 * scan seen of the installed tree found it (treescan.h, after
 * treescan_wait): vouched for by the quick check's record, else hashed
 * now. seen is NULL on a first install. need[] receives the index
 * entries (allocated, *nneed of them) and *bytes their gz sizes summed. A
 * content looked up that the index does not list is EXIT_TRUST (the index
 * is incomplete; objects_index_check says so of every content first): a
 * file vouched for at its own path with its bytes is not looked up, nor,
 * with a change index, one the installed tree holds.
 * Staging checks every byte it takes from the installed tree again,
 * whatever this decided. */
struct treescan;
int objects_missing(const struct objects_index *ix, const struct manifest *m,
		    const struct treescan *seen, const char *objdir,
		    const struct objects_entry ***need, size_t *nneed, uint64_t *bytes,
		    struct err *e);

/* Whether src (a plan's payload path) names an objects directory rather
 * than a payload file. */
bool objects_is_source(const char *src);

/* The bytes of the objects in the objects directory src (what the plan
 * shows as downloaded). */
uint64_t objects_bytes(const char *src);

/* The sizes of m's files (sizes[i] for m->files[i]) from the verified
 * index beside the objects directory src: OBJECTS_SIZE_UNKNOWN for one a
 * change index does not list (the host has it: the plan sees its size). */
#define OBJECTS_SIZE_UNKNOWN UINT64_MAX
int objects_sizes(const char *src, const struct manifest *m, uint64_t *sizes,
		  struct err *e);
/* Where the host has the contents a change index does not list. */
struct objects_here {
	const char *src;                  /* the objects directory */
	const struct manifest *installed; /* its files under target, or NULL */
	const char *target;
	int tfd;                          /* target, opened on first need (-2: not yet) */
	size_t *order;                    /* installed's files by sha256, made on first need */
};
#define OBJECTS_HERE_INIT(src, installed, target) { (src), (installed), (target), -2, NULL }
/* The size of content sha as the host has it: its object in h->src, else
 * the first regular file of h->installed listed with it; 0 when neither
 * is there. */
uint64_t objects_size_here(struct objects_here *h, const uint8_t *sha);
void objects_here_release(struct objects_here *h);

/* As payload_extract_some (payload.h), from src: a payload file, or an
 * objects directory. From objects, each file m->files[i] with want[i]
 * (NULL: all) is written into staging from src/HEX, else copied from
 * target (the same path, then each path of installed with that sha256),
 * under O_NOFOLLOW, with the manifest's mode, checked against its sha256
 * as it is copied (a source that fails the check is passed over), made
 * durable as payload_extract does. EXIT_SOFTWARE when no source holds a
 * file's bytes. Total bytes written capped by max_total. */
int objects_extract_some(const char *src, const char *staging, const struct manifest *m,
			 const struct manifest *installed, const char *target,
			 const bool *want, uint64_t max_total, struct err *e);

#endif
