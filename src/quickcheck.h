/* SPDX-License-Identifier: Apache-2.0 */
/* The quick check: what each installed file looked like (lstat) when upgr
 * put it there or last read it whole, so that a later upgrade finds a
 * file it keeps unchanged without reading it (rsync's size-and-mtime
 * check, made stronger with the inode, the ctime in nanoseconds, the
 * mode and the owner: content written since changes the ctime, which no
 * unprivileged process can set back).
 *
 * The record is STATE/apps/APP/quickcheck (private state directory,
 * written with fs_write_atomic), one line per file:
 *
 *   upgr-quickcheck 1
 *   SHA256HEX MODE UID GID SIZE MTIME_NS CTIME_NS DEV INO PATH
 *
 * (MODE octal, with the file type bits; PATH last, to the end of the
 * line: manifest paths hold no control characters). A line that does not
 * parse is skipped, and so is a last line without its newline (an append
 * cut short); a file that is missing or not this format is an empty
 * record (every file is read as before). An entry vouches only for the
 * sha256 it names: the plan trusts it for a file whose sha256 the
 * installed and the new manifest agree on.
 *
 * Each line is a fact about one inode as it was (its stat and bytes),
 * true for as long as the stat is; a path may have several. An upgrade
 * that changes few files appends the lines of the files it put there or
 * read (quickcheck_append), so its cost follows the change; the record is
 * written anew, sorted, once its lines would outnumber the release's files
 * by a quarter. A file is vouched for when a line with its path and its
 * exact stat names its sha256 and none with that stat names another.
 *
 * Trust: the record is ours, the target's stat is not. Whoever can write
 * a target file can already change what runs; one who can also forge its
 * inode number and ctime (root, or the owner of the raw device or of a
 * FUSE file system under the target) can make a changed file look
 * unchanged, and it stays as they left it instead of being replaced by
 * the next upgrade. That is rsync's trust, and the same as a file changed
 * just after any upgrade. Config files are never quick-checked. */
#ifndef UPGR_QUICKCHECK_H
#define UPGR_QUICKCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"

#define QUICKCHECK_FILE "quickcheck"

struct qc_stat {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
	uint32_t mode, uid, gid;      /* mode with the type bits */
};

struct qc_entry {
	char *path;
	uint8_t sha256[32];
	struct qc_stat st;
};

struct quickcheck {
	struct qc_entry *v;           /* sorted by path once loaded or saved */
	size_t n, cap;
	bool sorted;
	bool loaded;                  /* read from a record of this format */
	size_t lines;                 /* loaded: the record's lines, read or not */
	size_t bytes;                 /* loaded: its length to the last newline */
};

#define QUICKCHECK_INIT { NULL, 0, 0, true, false, 0, 0 }

/* The fields of st the check compares. */
void quickcheck_stat(const struct stat *st, struct qc_stat *out);

/* Read appdir's record into q (empty when missing or not ours). */
void quickcheck_load(const char *appdir, struct quickcheck *q);

/* q's entry for path, or NULL (q must be sorted: loaded, or saved). */
const struct qc_entry *quickcheck_find(const struct quickcheck *q, const char *path);

/* The same among q's first n entries, sorted (quickcheck_sort) before
 * more were added. */
const struct qc_entry *quickcheck_find_n(const struct quickcheck *q, size_t n,
					 const char *path);

/* Sort q by path. */
void quickcheck_sort(struct quickcheck *q);

/* Does q vouch that the file at path, whose lstat is st, holds sha256?
 * Only for a regular file with exactly the recorded stat. */
bool quickcheck_same(const struct quickcheck *q, const char *path,
		     const uint8_t sha256[32], const struct stat *st);

/* Append an entry (path copied). */
void quickcheck_add(struct quickcheck *q, const char *path, const uint8_t sha256[32],
		    const struct qc_stat *st);

/* Sort q and write it durably as appdir's record. */
int quickcheck_save(const char *appdir, struct quickcheck *q, struct err *e);

/* Add add's entries durably to the end of appdir's record as was loaded
 * it (a last line cut short, which was not read, is cut off first). */
int quickcheck_append(const char *appdir, const struct quickcheck *was,
		      const struct quickcheck *add, struct err *e);

/* Remove appdir's record (every file is read again next time). */
int quickcheck_drop(const char *appdir, struct err *e);

void quickcheck_release(struct quickcheck *q);

#endif
