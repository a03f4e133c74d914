/* SPDX-License-Identifier: Apache-2.0 */
/* Exchanging two directories in one step (dirswap.h). */
#if defined(__linux__)
#define _GNU_SOURCE               /* syscall(2), flistxattr(2) */
#endif
#include "dirswap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/xattr.h>
#endif

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int dirswap_exchange(int afd, const char *aname, int bfd, const char *bname)
{
	const char *off = getenv("UPGR_NO_EXCHANGE");

	if (off && *off && strcmp(off, "0") != 0)
		return (errno = ENOSYS, -1);
#if defined(__linux__) && defined(SYS_renameat2)
	/* The raw call: glibc before 2.28 has no wrapper. */
	return (int)syscall(SYS_renameat2, afd, aname, bfd, bname, RENAME_EXCHANGE);
#else
	(void)afd; (void)aname; (void)bfd; (void)bname;
	return (errno = ENOSYS, -1);
#endif
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* No extended attribute on fd (where the system has them). */
static bool no_xattrs(int fd)
{
#if defined(__linux__)
	char one[1];
	ssize_t n = flistxattr(fd, one, 0);

	return n == 0 || (n < 0 && errno == ENOTSUP);
#else
	(void)fd;
	return true;
#endif
}

bool dirswap_holds_only(int fd, char *const *names, size_t n, bool dirs)
{
	const unsigned char want = dirs ? DT_DIR : DT_REG;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	struct stat st;
	size_t seen = 0;
	bool ok = d && no_xattrs(fd);

	if (!d && dfd >= 0)
		close(dfd);
	while (ok && (de = readdir(d))) {
		const char *name = de->d_name;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (de->d_type != want &&
		    (de->d_type != DT_UNKNOWN || fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     (dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))))
			ok = false;
		else if (!n || !bsearch(&name, names, n, sizeof *names, cmp_str))
			ok = false;
		else
			seen++;
	}
	if (d)
		closedir(d);
	return ok && seen == n;
}

int dirswap_match(int fromfd, int tofd, uint64_t *from_ino, uint64_t *ino)
{
	struct stat from, to;

	if (fstat(fromfd, &from) < 0 || fstat(tofd, &to) < 0)
		return -1;
	if (from.st_dev != to.st_dev)
		return (errno = EXDEV, -1);
	if ((to.st_uid != from.st_uid || to.st_gid != from.st_gid) &&
	    fchown(tofd, from.st_uid, from.st_gid) < 0)
		return -1;
	/* Made durable here: the exchange may reach the disk before
	 * anything else flushes this directory's inode. */
	if ((to.st_uid != from.st_uid || to.st_gid != from.st_gid ||
	     (to.st_mode & 07777) != (from.st_mode & 07777)) &&
	    (fchmod(tofd, from.st_mode & 07777) < 0 || fsync(tofd) < 0))
		return -1;
	*from_ino = (uint64_t)from.st_ino;
	*ino = (uint64_t)to.st_ino;
	return 0;
}
