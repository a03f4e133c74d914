/* SPDX-License-Identifier: Apache-2.0 */
/* Release payloads (payload.tar.gz) through libarchive. */
#ifndef UPGR_PAYLOAD_H
#define UPGR_PAYLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "manifest.h"

/* Build a reproducible payload at out from the files m lists, read from
 * dir: entries sorted by path, fixed mtime (0), uid/gid 0, owner names
 * empty, each entry's mode from the manifest, gzip without a timestamp.
 * The same inputs give the same bytes. Fills each file's sha256 in m (and
 * sets has_sha256). A listed file missing from dir, or not a regular file,
 * is an error (EXIT_DATAERR). */
int payload_create(const char *out, const char *dir, struct manifest *m,
		   struct err *e);

/* Extract the payload at path into the directory staging (which exists
 * and is empty), securely: only regular files (and the directories
 * leading to them) that m lists; every other kind of entry, an entry not
 * listed, a duplicate, a path that is absolute or climbs out, is refused
 * (EXIT_TRUST). Files are written with O_NOFOLLOW under openat()ed
 * directories, given the manifest's mode (never the archive's), made durable
 * (one syncfs for all the data on a file system known to honour it: ext2/3/4,
 * XFS, btrfs, tmpfs; an fsync per file anywhere else, or when the environment
 * variable UPGR_STAGE_FSYNC is set to anything but "" or "0"; then each new
 * directory's fsync),
 * and checked against the manifest's sha256 when it has one (EXIT_TRUST on
 * a mismatch). Every listed file must be present. Total bytes written are
 * capped by max_total (a decompression bomb is refused). */
int payload_extract(const char *path, const char *staging,
		    const struct manifest *m, uint64_t max_total, struct err *e);

/* Whether one syncfs(2) makes durable what was written on the file system
 * holding the directory dir: true on ext2/3/4, XFS, btrfs and tmpfs (statfs
 * f_type), false anywhere else (FUSE, NFS, overlayfs, unknown), when dir
 * cannot be opened, or when UPGR_STAGE_FSYNC is set to anything but "" or
 * "0". Where false, fsync each file and directory written instead. */
bool payload_syncfs_trusted(const char *dir);

/* As payload_extract, but writes only the files m->files[i] for which
 * want[i] is true (want NULL: all). Every other listed file must still be
 * present in the payload, once, as a regular file; its data is skipped:
 * decompressed, not written nor hashed (the payload's own sha256, checked
 * against the signed manifest before, covers it). For a transaction that
 * changes a few files of a large release. */
int payload_extract_some(const char *path, const char *staging,
			 const struct manifest *m, const bool *want,
			 uint64_t max_total, struct err *e);

/* As payload_extract_some, in one read of the payload: its bytes are
 * hashed as libarchive reads them (a read callback that feeds SHA-256),
 * the stream is cut off past m->payload_size, and at the end of the
 * archive (what follows it read too) size and sha256 must be the ones the
 * signed manifest m lists (EXIT_TRUST otherwise, and that error wins over
 * any the parse found). The staged files are made durable only after it
 * passes; on failure the caller removes the staging directory. Bytes not
 * yet checked reach libarchive's gzip and tar parsers (only those two),
 * never the target: every file written is checked against its own signed
 * sha256 too. */
int payload_extract_sealed(const char *path, const char *staging,
			   const struct manifest *m, const bool *want,
			   uint64_t max_total, struct err *e);

/* Read the payload's table of contents without extracting: sizes[i]
 * receives the size of m->files[i] as stored (0 when absent). */
int payload_sizes(const char *path, const struct manifest *m, uint64_t *sizes,
		  struct err *e);

#endif
