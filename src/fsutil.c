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

int fs_read_file(const char *path, size_t max, struct buf *out, struct err *e)
{
	char chunk[65536];
	int fd, rc = -1;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, EXIT_DATAERR, "open %s", path);
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

int fs_sync_fs(const char *path, struct err *e)
{
#if defined(__linux__)
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", path);
	if (syncfs(fd) < 0)
		rc = err_sys(e, EXIT_SOFTWARE, "syncfs %s", path);
	close(fd);
	return rc;
#else
	(void)path;
	(void)e;
	sync();
	return 0;
#endif
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

int fs_mkdir_p(const char *path, mode_t mode, struct err *e)
{
	char *p = xstrdup(path), *s;
	int rc = -1;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
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

int fs_remove_tree(const char *path, struct err *e)
{
	if (remove_at(AT_FDCWD, path, e) < 0)
		return err_prefix(e, "remove %s: ", path);
	return 0;
}
