/* SPDX-License-Identifier: Apache-2.0 */
/* syncfs(2) is Linux's; _GNU_SOURCE declares it (see fs_sync_fs). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "fsutil.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read fd (path, for messages) whole into out, then close it. */
static int read_fd(int fd, const char *path, size_t max, struct buf *out, struct err *e)
{
	char chunk[65536];
	int rc = -1;
	ssize_t n;

	buf_reset(out);
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, EXIT_SOFTWARE, "read %s", path);
			goto done;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max) {
			err_set(e, EXIT_DATAERR, "%s: larger than %zu bytes", path, max);
			goto done;
		}
		buf_add(out, chunk, (size_t)n);
	}
	if (!out->data)
		buf_add(out, "", 0);
	rc = 0;
done:
	close(fd);
	return rc;
}

int fs_read_file(const char *path, size_t max, struct buf *out, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(e, EXIT_DATAERR, "open %s", path);
	return read_fd(fd, path, max, out, e);
}

int fs_read_regular(const char *path, size_t max, struct buf *out, struct err *e)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return err_sys(e, EXIT_DATAERR, "open %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, EXIT_DATAERR, "%s: not a regular file", path);
	}
	return read_fd(fd, path, max, out, e);
}

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *fs_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	return xasprintf("%.*s/%s", (int)la, a, b);
}

char *fs_under_root(const char *root, const char *abs)
{
	if (!root || !*root || !strcmp(root, "/"))
		return xstrdup(abs);
	return fs_join(root, abs);
}

int fs_fsync_dir(const char *dir, struct err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open directory %s", dir);
	if (fsync(fd) < 0 && errno != EINVAL) {
		close(fd);
		return err_sys(e, EXIT_SOFTWARE, "fsync %s", dir);
	}
	close(fd);
	return 0;
}

int fs_sync_fs_fd(int fd, const char *label, struct err *e)
{
#if defined(__linux__)
	if (syncfs(fd) < 0)
		return err_sys(e, EXIT_SOFTWARE, "syncfs %s", label);
#else
	(void)fd;
	(void)label;
	(void)e;
	sync();
#endif
	return 0;
}

int fs_sync_fs(const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", path);
	rc = fs_sync_fs_fd(fd, path, e);
	close(fd);
	return rc;
}

int fs_fsync_parent(const char *path, struct err *e)
{
	char *copy = xstrdup(path);
	int rc = fs_fsync_dir(dirname(copy), e);

	free(copy);
	return rc;
}

static int write_fd(int fd, const char *path, const void *data, size_t len,
		    mode_t mode, struct err *e)
{
	if (fs_write_all(fd, data, len) < 0)
		return err_sys(e, EXIT_SOFTWARE, "write %s", path);
	if (fchmod(fd, mode) < 0)
		return err_sys(e, EXIT_SOFTWARE, "chmod %s", path);
	if (fsync(fd) < 0)
		return err_sys(e, EXIT_SOFTWARE, "fsync %s", path);
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode, struct err *e)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd, rc = -1;

	fd = mkstemp(tmp);
	if (fd < 0) {
		err_sys(e, EXIT_SOFTWARE, "create %s", tmp);
		goto done;
	}
	if (write_fd(fd, tmp, data, len, mode, e) < 0)
		goto unlink;
	if (close(fd) < 0) {
		fd = -1;
		err_sys(e, EXIT_SOFTWARE, "close %s", tmp);
		goto unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err_sys(e, EXIT_SOFTWARE, "rename %s to %s", tmp, path);
		goto unlink;
	}
	rc = fs_fsync_parent(path, e);
	goto done;
unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
done:
	free(tmp);
	return rc;
}

int fs_write_new(const char *path, const void *data, size_t len,
		 mode_t mode, struct err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "create %s", path);
	if (write_fd(fd, path, data, len, mode, e) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0)
		return err_sys(e, EXIT_SOFTWARE, "close %s", path);
	return fs_fsync_parent(path, e);
}

/* Give a directory we just made exactly mode (mkdir(2) honours the umask),
 * through a descriptor opened without following a symlink. */
static int chmod_made(int dirfd, const char *name, const char *label, mode_t mode,
		      struct err *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", label);
	if (fchmod(fd, mode) < 0)
		rc = err_sys(e, EXIT_SOFTWARE, "chmod %s", label);
	close(fd);
	return rc;
}

int fs_mkdir_at(int dirfd, const char *name, mode_t mode, const char *label,
		struct err *e)
{
	if (mkdirat(dirfd, name, mode) < 0)
		return errno == EEXIST ? 0 : err_sys(e, EXIT_SOFTWARE, "mkdir %s", label);
	return chmod_made(dirfd, name, label, mode, e) < 0 ? -1 : 1;
}

/* The directory at path was just made: give it mode, make its entry durable. */
static int settle_made(char *path, mode_t mode, struct err *e)
{
	char *slash = strrchr(path, '/');
	const char *parent = !slash ? "." : slash == path ? "/" : path;
	int pfd, rc;

	if (slash)
		*slash = '\0';
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slash)
		*slash = '/';
	if (pfd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open the parent of %s", path);
	rc = chmod_made(pfd, slash ? slash + 1 : path, path, mode, e);
	if (rc == 0 && fsync(pfd) < 0 && errno != EINVAL)
		rc = err_sys(e, EXIT_SOFTWARE, "fsync the parent of %s", path);
	close(pfd);
	return rc;
}

int fs_mkdir_p(const char *path, mode_t mode, struct err *e)
{
	char *p = xstrdup(path), *s;
	int rc = -1;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) == 0) {
			if (settle_made(p, mode, e) < 0)
				goto done;
		} else if (errno != EEXIST) {
			err_sys(e, EXIT_SOFTWARE, "mkdir %s", p);
			goto done;
		}
		*s = c;
		if (!c)
			break;
	}
	rc = 0;
done:
	free(p);
	return rc;
}

int fs_open_private_dir(const char *path, struct err *e)
{
	char *copy = xstrdup(path), *name = strrchr(copy, '/');
	struct stat st;
	int pfd = -1, fd = -1;

	if (!name || !name[1]) {
		err_set(e, EXIT_SOFTWARE, "%s: not a path to a directory", path);
		goto done;
	}
	*name++ = '\0';
	pfd = open(*copy ? copy : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		err_sys(e, EXIT_SOFTWARE, "open %s", *copy ? copy : "/");
		goto done;
	}
	switch (fs_mkdir_at(pfd, name, 0700, path, e)) {
	case -1:
		goto done;
	case 1:                     /* made: its entry durable before it is used */
		if (fsync(pfd) < 0 && errno != EINVAL) {
			err_sys(e, EXIT_SOFTWARE, "fsync the parent of %s", path);
			goto done;
		}
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err_sys(e, errno == ELOOP || errno == ENOTDIR ? EXIT_TRUST : EXIT_SOFTWARE,
			"open %s (a symlink or not a directory?)", path);
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", path);
	} else if (st.st_uid != 0 && st.st_uid != geteuid()) {
		err_set(e, EXIT_TRUST, "%s: owned by uid %lu, neither root nor this user: "
			"refused (whoever owns it could swap the files staged or backed up there)",
			path, (unsigned long)st.st_uid);
	} else if ((st.st_mode & 07777) != 0700) {
		err_set(e, EXIT_TRUST, "%s: mode %04o, not 0700: refused (others could swap "
			"the files staged or backed up there)", path, (unsigned)(st.st_mode & 07777));
	} else {
		goto done;
	}
	close(fd);
	fd = -1;
done:
	if (pfd >= 0)
		close(pfd);
	free(copy);
	return fd;
}

char *fs_fd_path(int fd)
{
	char *path = xasprintf("/proc/self/fd/%d", fd);
	struct stat a, b;

	if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return path;
	free(path);
	return NULL;
}

int fs_check_parents(const char *target, struct err *e)
{
	char *path = xstrdup(target), *slash;
	struct stat st;
	int rc = 0;

	for (slash = path; rc == 0 && (slash = strchr(slash + 1, '/')) != NULL; ) {
		*slash = '\0';
		if (stat(*path ? path : "/", &st) == 0 && S_ISDIR(st.st_mode)) {
			if (st.st_uid != 0 && st.st_uid != geteuid())
				rc = err_set(e, EXIT_DATAERR,
					     "%s (a parent of the target %s): owned by uid %lu, neither root nor this user",
					     *path ? path : "/", target, (unsigned long)st.st_uid);
			else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
				rc = err_set(e, EXIT_DATAERR,
					     "%s (a parent of the target %s): writable by group or others (mode %04o) without the sticky bit",
					     *path ? path : "/", target, (unsigned)(st.st_mode & 07777));
		}
		*slash = '/';
	}
	if (rc == 0 && stat("/", &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(st.st_mode & S_ISVTX))
		rc = err_set(e, EXIT_DATAERR, "/: writable by group or others");
	free(path);
	return rc;
}

static int remove_at(int dirfd, const char *name, struct err *e);

static int remove_dir_contents(int fd, struct err *e)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return err_sys(e, EXIT_SOFTWARE, "opendir");
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* An entry readdir says is no directory goes without a stat
		 * (one call per file, not two); one that became a directory
		 * meanwhile fails with EISDIR and takes the long way. */
#if defined(DT_UNKNOWN)
		if (de->d_type != DT_UNKNOWN && de->d_type != DT_DIR &&
		    (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT))
			continue;
#endif
		if (remove_at(dirfd(d), de->d_name, e) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

static int remove_at(int dirfd, const char *name, struct err *e)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(e, EXIT_SOFTWARE, "stat %s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return err_sys(e, EXIT_SOFTWARE, "unlink %s", name);
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", name);
	if (remove_dir_contents(fd, e) < 0)
		return err_prefix(e, "%s/", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_sys(e, EXIT_SOFTWARE, "rmdir %s", name);
	return 0;
}

int fs_remove_tree_at(int dirfd, const char *name, struct err *e)
{
	if (remove_at(dirfd, name, e) < 0)
		return err_prefix(e, "remove %s: ", name);
	return 0;
}

int fs_remove_tree(const char *path, struct err *e)
{
	if (remove_at(AT_FDCWD, path, e) < 0)
		return err_prefix(e, "remove %s: ", path);
	return 0;
}
