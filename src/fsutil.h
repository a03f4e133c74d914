/* File-system helpers every module uses: capped reads, durable writes. */
#ifndef UPGR_FSUTIL_H
#define UPGR_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"
#include "err.h"

/* Read a whole file into out, refusing files larger than max bytes. */
int fs_read_file(const char *path, size_t max, struct buf *out, struct err *e);

/* Write data to path durably and atomically: a temporary file in the same
 * directory, fsync, rename over path, fsync the directory. A reader sees
 * the old content or the new, never a mix. mode is applied to the file. */
int fs_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode, struct err *e);

/* Create a file that must not exist (O_EXCL|O_NOFOLLOW), write, fsync. */
int fs_write_new(const char *path, const void *data, size_t len,
		 mode_t mode, struct err *e);

/* fsync the directory that holds path (or path itself if a directory). */
int fs_fsync_dir(const char *dir, struct err *e);
int fs_fsync_parent(const char *path, struct err *e);

/* Flush every pending write on the file system that holds path (syncfs(2)
 * on Linux, sync(2) elsewhere): one call instead of an fsync per file when
 * thousands of files were just written. */
int fs_sync_fs(const char *path, struct err *e);

/* mkdir -p with mode for each directory created. */
int fs_mkdir_p(const char *path, mode_t mode, struct err *e);

/* rm -rf without following symlinks. A missing path is not an error. */
int fs_remove_tree(const char *path, struct err *e);

/* Write all of len bytes to fd, retrying on EINTR and short writes. */
int fs_write_all(int fd, const void *data, size_t len);

/* Join a and b with exactly one '/', freshly allocated. */
char *fs_join(const char *a, const char *b);

#endif
