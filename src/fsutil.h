/* SPDX-License-Identifier: Apache-2.0 */
/* File-system helpers every module uses: capped reads, durable writes. */
#ifndef UPGR_FSUTIL_H
#define UPGR_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"
#include "err.h"

/* Read a whole file into out, refusing files larger than max bytes. */
int fs_read_file(const char *path, size_t max, struct buf *out, struct err *e);
/* fs_read_file for a file in a directory others may write (a release
 * directory): opened without waiting on a FIFO, and refused (EXIT_DATAERR)
 * unless it is a regular file. */
int fs_read_regular(const char *path, size_t max, struct buf *out, struct err *e);

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

int fs_sync_fs_fd(int fd, const char *label, struct err *e);

/* mkdir -p. Each directory it creates gets exactly mode (whatever the
 * umask) and its entry is made durable (its parent fsynced). */
int fs_mkdir_p(const char *path, mode_t mode, struct err *e);

/* mkdir name in dirfd with exactly mode (whatever the umask); making the
 * new entry durable (fsync dirfd) is the caller's, who may have many to
 * make in one directory. label names it in errors. Returns 1 when made, 0
 * when it existed already (of whatever kind), -1 on error. */
int fs_mkdir_at(int dirfd, const char *name, mode_t mode, const char *label,
		struct err *e);

/* Open the private directory at path, creating it (0700, durably) when
 * missing, and return its descriptor: the last component is opened with
 * O_NOFOLLOW and checked by descriptor to be a directory owned by root or
 * this user with mode exactly 0700. Anything else is refused (EXIT_TRUST),
 * never repaired: whoever could make it so could also have changed what
 * it holds. The components before the last are the caller's to trust. */
int fs_open_private_dir(const char *path, struct err *e);

/* A path that names the open directory fd itself, not whatever now has
 * its name (/proc/self/fd/N, when that resolves to fd's inode), for APIs
 * that take a path; NULL where there is none. Allocated. */
char *fs_fd_path(int fd);

/* Every existing directory on the way to target (target itself excluded)
 * must be root's or ours and not writable by group or others, unless it
 * has the sticky bit (as /tmp does): else a local user could rename a
 * directory of the path away and put his own in its place between our
 * checks and our renames. EXIT_DATAERR naming the directory. `upgr run`,
 * `apply`, `rollback` and the recovery of every command check this. */
int fs_check_parents(const char *target, struct err *e);

/* rm -rf without following symlinks. A missing path is not an error. */
int fs_remove_tree(const char *path, struct err *e);
/* The same for the entry name in the open directory dirfd. */
int fs_remove_tree_at(int dirfd, const char *name, struct err *e);

/* Write all of len bytes to fd, retrying on EINTR and short writes. */
int fs_write_all(int fd, const void *data, size_t len);

/* Join a and b with exactly one '/', freshly allocated. */
char *fs_join(const char *a, const char *b);

/* abs (an absolute path) under root, like rpm --root: abs itself when
 * root is NULL, "" or "/"; freshly allocated. */
char *fs_under_root(const char *root, const char *abs);

#endif
