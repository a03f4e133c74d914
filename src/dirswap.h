/* SPDX-License-Identifier: Apache-2.0 */
/* Exchanging two directories in one step (Linux renameat2 with
 * RENAME_EXCHANGE), for a swap whose downtime does not grow with the
 * number of files (nor of directories) in a subtree that changes whole.
 * txn.c decides which directories qualify and journals them (the "xdir"
 * line of journal.h). */
#ifndef UPGR_DIRSWAP_H
#define UPGR_DIRSWAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exchange the entries aname in the directory afd and bname in bfd, both
 * on one file system, atomically: each name then stands for what the
 * other did. 0, or -1 with errno: ENOSYS, EINVAL or EOPNOTSUPP when the
 * system cannot (not Linux, a kernel or file system without the flag,
 * or UPGR_NO_EXCHANGE set to anything but "" or "0", for tests). */
int dirswap_exchange(int afd, const char *aname, int bfd, const char *bname);

/* Does the open directory fd hold exactly the entries names[0..n) (sorted
 * by strcmp), each a regular file (dirs false) or each a directory (dirs
 * true, not followed: a symlink is neither), nothing else, and carry no
 * extended attribute (an ACL, a security label: an exchange would not
 * carry it over)? */
bool dirswap_holds_only(int fd, char *const *names, size_t n, bool dirs);

/* Give the directory tofd the mode and owner of the directory fromfd
 * (both open, on one file system), made durable (fsync) when it changed;
 * *ino receives tofd's inode number, *from_ino fromfd's. -1 with errno
 * when it cannot. */
int dirswap_match(int fromfd, int tofd, uint64_t *from_ino, uint64_t *ino);

#endif
