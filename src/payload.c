/* SPDX-License-Identifier: Apache-2.0 */
/* Release payloads: a reproducible tar.gz made from the files a manifest
 * lists, and its secure extraction into a staging directory.
 *
 * Extraction trusts nothing in the archive. libarchive only parses; every
 * file is written here, under a directory fd opened component by component
 * with O_NOFOLLOW, so no entry can reach outside the staging directory
 * whatever its name or type. Names, kinds, modes and contents are checked
 * against the (signed) manifest, never taken from the archive. Memory use
 * is one 64 KiB block and an index of the manifest, whatever the payload's
 * size. */
#include "payload.h"
#include "fsutil.h"
#include "xalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "hash.h"

#define CHUNK (64u * 1024)

/* A printable copy of an untrusted name for messages: control bytes
 * become '?', long names are cut. */
static const char *shown(const char *name, char out[256])
{
	size_t i;

	if (!name)
		return "(no name)";
	for (i = 0; name[i] && i < 255; i++)
		out[i] = ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) ? '?' : name[i];
	out[i] = '\0';
	return out;
}

/* Open the directory that holds rel below root, one component at a time
 * with O_NOFOLLOW so a symlink anywhere on the way is refused. With
 * created != NULL, missing directories are made (0755 whatever the umask)
 * and each one made is appended to *created (*ncreated relative paths).
 * Returns the directory's fd (root itself is dup'ed) and sets *base to
 * rel's last component. */
static int open_parent(int root, const char *rel, char ***created, size_t *ncreated,
		       const char **base, struct err *e)
{
	char *copy = xstrdup(rel), *comp = copy, *slash;
	int fd = dup(root), next;

	if (fd < 0) {
		err_sys(e, EXIT_SOFTWARE, "dup");
		goto fail;
	}
	while ((slash = strchr(comp, '/'))) {
		bool made = false;

		*slash = '\0';
		if (created && mkdirat(fd, comp, 0755) == 0) {
			made = true;
			*created = xreallocarray(*created, *ncreated + 1, sizeof **created);
			(*created)[(*ncreated)++] = xstrndup(rel, (size_t)(slash - copy));
		} else if (created && errno != EEXIST) {
			err_sys(e, EXIT_SOFTWARE, "mkdir %.*s", (int)(slash - copy), rel);
			goto fail;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int code = (errno == ELOOP || errno == ENOTDIR) ? EXIT_TRUST : EXIT_DATAERR;
			if (created && code == EXIT_DATAERR)
				code = EXIT_SOFTWARE;
			err_sys(e, code, "open directory %.*s", (int)(slash - copy), rel);
			goto fail;
		}
		if (made && fchmod(next, 0755) < 0) {
			err_sys(e, EXIT_SOFTWARE, "chmod %.*s", (int)(slash - copy), rel);
			close(next);
			goto fail;
		}
		close(fd);
		fd = next;
		comp = slash + 1;
	}
	*base = rel + (comp - copy);
	free(copy);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	free(copy);
	return -1;
}

static int by_path(const void *a, const void *b)
{
	const struct mfile *x = *(const struct mfile *const *)a;
	const struct mfile *y = *(const struct mfile *const *)b;

	return strcmp(x->path, y->path);
}

/* The manifest's files sorted by path (pointers into m->files). */
static struct mfile **sorted_files(const struct manifest *m)
{
	struct mfile **v = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *v);
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		v[i] = &m->files[i];
	qsort(v, m->nfiles, sizeof *v, by_path);
	return v;
}

/* ---- create ---- */

/* Append one listed file to the archive, streaming and hashing it. */
static int add_file(struct archive *a, struct archive_entry *ent, int dirfd,
		    struct mfile *f, unsigned char *chunk, struct err *e)
{
	const char *base;
	struct stat st;
	gcry_md_hd_t md = NULL;
	uint64_t total = 0;
	int pfd, fd = -1, rc = -1;
	ssize_t n;

	pfd = open_parent(dirfd, f->path, NULL, NULL, &base, e);
	if (pfd < 0) {
		if (e)
			e->code = EXIT_DATAERR;   /* a bad build directory, not an attack */
		return err_prefix(e, "%s: ", f->path);
	}
	/* O_NONBLOCK so that a FIFO in its place cannot hang the open. */
	fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(pfd);
	if (fd < 0) {
		err_sys(e, EXIT_DATAERR, "%s", f->path);
		if (errno == ELOOP)
			err_set(e, EXIT_DATAERR, "%s: is a symbolic link", f->path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", f->path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, EXIT_DATAERR, "%s: not a regular file", f->path);
		goto done;
	}
	if (gcry_md_open(&md, GCRY_MD_SHA256, 0)) {
		err_set(e, EXIT_SOFTWARE, "%s: cannot start sha256", f->path);
		goto done;
	}
	archive_entry_clear(ent);
	archive_entry_copy_pathname(ent, f->path);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, f->mode & 0777);
	archive_entry_set_size(ent, st.st_size);
	archive_entry_set_mtime(ent, 0, 0);
	archive_entry_set_uid(ent, 0);
	archive_entry_set_gid(ent, 0);
	if (archive_write_header(a, ent) != ARCHIVE_OK) {
		err_set(e, EXIT_SOFTWARE, "%s: %s", f->path, archive_error_string(a));
		goto done;
	}
	for (;;) {
		n = read(fd, chunk, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, EXIT_SOFTWARE, "read %s", f->path);
			goto done;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > (uint64_t)st.st_size)
			break;
		gcry_md_write(md, chunk, (size_t)n);
		if (archive_write_data(a, chunk, (size_t)n) != n) {
			err_set(e, EXIT_SOFTWARE, "%s: %s", f->path, archive_error_string(a));
			goto done;
		}
	}
	if (total != (uint64_t)st.st_size) {
		err_set(e, EXIT_DATAERR, "%s: changed size while being read", f->path);
		goto done;
	}
	if (archive_write_finish_entry(a) != ARCHIVE_OK) {
		err_set(e, EXIT_SOFTWARE, "%s: %s", f->path, archive_error_string(a));
		goto done;
	}
	memcpy(f->sha256, gcry_md_read(md, GCRY_MD_SHA256), SHA256_LEN);
	f->has_sha256 = true;
	rc = 0;
done:
	if (md)
		gcry_md_close(md);
	close(fd);
	return rc;
}

/* Reproducibility: pax restricted only adds extended headers when a field
 * does not fit ustar (long or non-ASCII names); mtime, owners and mode are
 * fixed; gzip writes no timestamp and no name; block sizes are explicit.
 * Names are stored as the manifest's bytes (hdrcharset=BINARY), whatever
 * the locale: libarchive's conversion to UTF-8 fails in the C locale. */
static struct archive *writer_new(int fd, struct err *e)
{
	struct archive *a = archive_write_new();

	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		err_set(e, EXIT_SOFTWARE, "archive: %s", archive_error_string(a));
		archive_write_free(a);
		return NULL;
	}
	return a;
}

int payload_create(const char *out, const char *dir, struct manifest *m,
		   struct err *e)
{
	struct archive *a = NULL;
	struct archive_entry *ent = archive_entry_new();
	struct mfile **order = sorted_files(m);
	unsigned char *chunk = xmalloc(CHUNK);
	char *tmp = xasprintf("%s.tmp.XXXXXX", out);
	int dirfd = -1, fd = -1, rc = -1;
	bool made = false;        /* tmp exists and is ours to remove */
	size_t i;

	crypto_init();
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		err_sys(e, EXIT_DATAERR, "open %s", dir);
		goto done;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err_sys(e, EXIT_SOFTWARE, "create %s", tmp);
		goto done;
	}
	made = true;
	a = writer_new(fd, e);
	if (!a)
		goto done;
	for (i = 0; i < m->nfiles; i++) {
		if (i > 0 && !strcmp(order[i]->path, order[i - 1]->path)) {
			err_set(e, EXIT_DATAERR, "%s: listed twice", order[i]->path);
			goto done;
		}
		if (add_file(a, ent, dirfd, order[i], chunk, e) < 0) {
			err_prefix(e, "from %s: ", dir);
			goto done;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		err_set(e, EXIT_SOFTWARE, "write %s: %s", tmp, archive_error_string(a));
		goto done;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		err_sys(e, EXIT_SOFTWARE, "sync %s", tmp);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_sys(e, EXIT_SOFTWARE, "close %s", tmp);
		goto done;
	}
	fd = -1;
	if (rename(tmp, out) < 0) {
		err_sys(e, EXIT_SOFTWARE, "rename %s to %s", tmp, out);
		goto done;
	}
	made = false;
	rc = fs_fsync_parent(out, e);
done:
	if (a)
		archive_write_free(a);
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	if (rc < 0)
		err_prefix(e, "payload %s: ", out);
	if (dirfd >= 0)
		close(dirfd);
	archive_entry_free(ent);
	free(tmp);
	free(chunk);
	free(order);
	return rc;
}

/* ---- extract ---- */

struct extract {
	struct archive *a;
	int root;                 /* the staging directory */
	struct mfile **files;     /* sorted by path */
	const struct mfile *base; /* m->files, for indexing want */
	const bool *want;         /* per m->files index: write it (NULL: all) */
	bool *seen;               /* per sorted index */
	size_t nfiles;
	uint64_t max_total, total;
	char **created;           /* directories made, relative */
	size_t ncreated;
	uint64_t ndirs, max_dirs; /* directory entries seen, allowed */
	char *cached_dir;         /* parent of the last file written ... */
	int cached_fd;            /* ... and its fd */
	bool fsync_each;          /* fsync every file: syncfs is not trusted here */
	mode_t umask;             /* the process's, read once */
	unsigned char *chunk;
	struct sealed *seal;      /* the payload's own bytes checked as read, or NULL */
};

/* The payload read through our own callback (one read for everything):
 * each compressed block is hashed as libarchive takes it, and the stream
 * is cut off past the signed size; payload_seal_check compares at EOF. */
struct sealed {
	int fd;
	gcry_md_hd_t md;
	uint64_t size, max;       /* bytes read so far, the signed size */
	const uint8_t *sha256;    /* the signed sha256 */
	unsigned char *block;
	bool over;                /* more bytes than the signed size */
};

/* Index of the first sorted file whose path is >= key. */
static size_t lower_bound(const struct extract *x, const char *key)
{
	size_t lo = 0, hi = x->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(x->files[mid]->path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A directory entry is accepted only as a parent of a listed file. */
static int extract_dir(struct extract *x, const char *name, char *show, struct err *e)
{
	char *key = xasprintf("%s/x", name);
	size_t len = strlen(name) + 1, i;
	const char *base;
	int fd, rc = -1;

	key[len] = '\0';                         /* "name/" */
	i = lower_bound(x, key);
	if (i >= x->nfiles || strncmp(x->files[i]->path, key, len) != 0) {
		err_set(e, EXIT_TRUST, "entry %s: directory not holding any listed file", show);
		goto done;
	}
	if (++x->ndirs > x->max_dirs) {
		err_set(e, EXIT_TRUST, "entry %s: more than %llu directory entries", show,
			(unsigned long long)x->max_dirs);
		goto done;
	}
	key[len] = 'x';                          /* make name itself too */
	fd = open_parent(x->root, key, &x->created, &x->ncreated, &base, e);
	if (fd < 0) {
		err_prefix(e, "entry %s: ", show);
		goto done;
	}
	close(fd);
	rc = 0;
done:
	free(key);
	return rc;
}

/* The fd of the directory holding path, made as needed; the last one is
 * kept, since sorted entries mostly share it. */
static int parent_fd(struct extract *x, const char *path, const char **base, struct err *e)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;

	if (x->cached_dir && strlen(x->cached_dir) == dlen &&
	    !strncmp(x->cached_dir, path, dlen)) {
		*base = slash ? slash + 1 : path;
		return x->cached_fd;
	}
	if (x->cached_dir) {
		close(x->cached_fd);
		free(x->cached_dir);
		x->cached_dir = NULL;
	}
	x->cached_fd = open_parent(x->root, path, &x->created, &x->ncreated, base, e);
	if (x->cached_fd < 0)
		return -1;
	x->cached_dir = xstrndup(path, dlen);
	return x->cached_fd;
}

/* Copy the entry's data into fd, hashing it and keeping the total under
 * the cap. */
static int copy_data(struct extract *x, int fd, gcry_md_hd_t md, const char *show,
		     struct err *e)
{
	la_ssize_t n;

	for (;;) {
		n = archive_read_data(x->a, x->chunk, CHUNK);
		if (n == 0)
			return 0;
		if (n < 0)
			return err_set(e, EXIT_TRUST, "entry %s: %s", show,
				       archive_error_string(x->a));
		if ((uint64_t)n > x->max_total - x->total)
			return err_set(e, EXIT_TRUST,
				       "entry %s: payload expands past %llu bytes",
				       show, (unsigned long long)x->max_total);
		x->total += (uint64_t)n;
		gcry_md_write(md, x->chunk, (size_t)n);
		if (fs_write_all(fd, x->chunk, (size_t)n) < 0)
			return err_sys(e, EXIT_SOFTWARE, "write %s", show);
	}
}

static int extract_file(struct extract *x, struct archive_entry *ent,
			const char *name, const char *show, struct err *e)
{
	size_t i = lower_bound(x, name);
	const struct mfile *f;
	const char *base;
	gcry_md_hd_t md = NULL;
	int pfd, fd = -1, rc = -1;

	if (i >= x->nfiles || strcmp(x->files[i]->path, name) != 0)
		return err_set(e, EXIT_TRUST, "entry %s: not listed in the manifest", show);
	if (x->seen[i])
		return err_set(e, EXIT_TRUST, "entry %s: appears twice", show);
	x->seen[i] = true;
	f = x->files[i];
	if (x->want && !x->want[f - x->base]) {
		if (archive_read_data_skip(x->a) != ARCHIVE_OK)
			return err_set(e, EXIT_TRUST, "entry %s: %s", show,
				       archive_error_string(x->a));
		return 0;
	}
	if (archive_entry_size_is_set(ent) && archive_entry_size(ent) >= 0 &&
	    (uint64_t)archive_entry_size(ent) > x->max_total - x->total)
		return err_set(e, EXIT_TRUST, "entry %s: payload expands past %llu bytes",
			       show, (unsigned long long)x->max_total);
	pfd = parent_fd(x, name, &base, e);
	if (pfd < 0)
		return err_prefix(e, "entry %s: ", show);
	/* The manifest's permission bits only: never setuid, setgid, sticky.
	 * Made with them (the staging directory is private), changed after
	 * only where the umask took some away. */
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f->mode & 0777);
	if (fd < 0)
		return err_sys(e, errno == EEXIST ? EXIT_TRUST : EXIT_SOFTWARE,
			       "entry %s: create", show);
	if (gcry_md_open(&md, GCRY_MD_SHA256, 0)) {
		err_set(e, EXIT_SOFTWARE, "entry %s: cannot start sha256", show);
		goto done;
	}
	if (copy_data(x, fd, md, show, e) < 0)
		goto done;
	if ((f->mode & 0777 & x->umask) && fchmod(fd, f->mode & 0777) < 0) {
		err_sys(e, EXIT_SOFTWARE, "entry %s: chmod", show);
		goto done;
	}
	if (f->has_sha256 &&
	    memcmp(gcry_md_read(md, GCRY_MD_SHA256), f->sha256, SHA256_LEN) != 0) {
		err_set(e, EXIT_TRUST, "entry %s: sha256 does not match the manifest", show);
		goto done;
	}
	if (x->fsync_each && fsync(fd) < 0) {
		err_sys(e, EXIT_SOFTWARE, "entry %s: fsync", show);
		goto done;
	}
	rc = 0;
done:
	if (md)
		gcry_md_close(md);
	if (close(fd) < 0 && rc == 0)
		rc = err_sys(e, EXIT_SOFTWARE, "entry %s: close", show);
	return rc;
}

/* Check one header and write what it stands for. */
static int extract_entry(struct extract *x, struct archive_entry *ent, struct err *e)
{
	const char *raw = archive_entry_pathname(ent), *why;
	char show[256], *name;
	size_t len;
	int rc = -1;

	shown(raw, show);
	if (!raw)
		return err_set(e, EXIT_TRUST, "entry with no name");
	if (archive_entry_hardlink(ent))
		return err_set(e, EXIT_TRUST, "entry %s: hard link refused", show);
	if (archive_entry_symlink(ent) || archive_entry_filetype(ent) == AE_IFLNK)
		return err_set(e, EXIT_TRUST, "entry %s: symbolic link refused", show);
	name = xstrdup(raw);
	len = strlen(name);
	if (archive_entry_filetype(ent) == AE_IFDIR) {
		if (len > 1 && name[len - 1] == '/')
			name[len - 1] = '\0';
	} else if (archive_entry_filetype(ent) != AE_IFREG) {
		err_set(e, EXIT_TRUST, "entry %s: not a regular file or directory (type 0%o)",
			show, (unsigned)archive_entry_filetype(ent));
		goto done;
	}
	why = manifest_path_problem(name);
	if (why) {
		err_set(e, EXIT_TRUST, "entry %s: %s", show, why);
		goto done;
	}
	if (archive_entry_filetype(ent) == AE_IFDIR)
		rc = extract_dir(x, name, show, e);
	else
		rc = extract_file(x, ent, name, show, e);
done:
	free(name);
	return rc;
}

/* File systems whose syncfs(2) writes back every dirty page and inode of
 * the file system before it returns (statfs f_type): ext2/3/4 (one magic),
 * XFS and btrfs, which implement ->sync_fs and write back the page cache
 * they own; tmpfs holds nothing to flush. Elsewhere (FUSE: sshfs,
 * mergerfs; NFS; overlayfs before Linux 5.x; anything not known) syncfs
 * may return 0 and flush nothing, so each file is fsynced. */
static bool syncfs_trusted(int dirfd)
{
#if defined(__linux__)
	static const long trusted[] = {
		0xEF53,            /* EXT4_SUPER_MAGIC, also ext2 and ext3 */
		0x58465342,        /* XFS_SUPER_MAGIC */
		0x9123683E,        /* BTRFS_SUPER_MAGIC */
		0x01021994,        /* TMPFS_MAGIC */
	};
	const char *force = getenv("UPGR_STAGE_FSYNC");
	struct statfs sf;
	size_t i;

	if (force && *force && strcmp(force, "0") != 0)
		return false;
	if (fstatfs(dirfd, &sf) < 0)
		return false;
	for (i = 0; i < sizeof trusted / sizeof trusted[0]; i++)
		if ((long)sf.f_type == trusted[i])
			return true;
	return false;
#else
	(void)dirfd;
	return false;
#endif
}

bool payload_syncfs_trusted(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool trusted;

	if (fd < 0)
		return false;
	trusted = syncfs_trusted(fd);
	close(fd);
	return trusted;
}

/* Make the files, the new directories and the staging directory durable.
 * Where syncfs is trusted, one syncfs for the data of every file (an fsync
 * per file costs more than the extraction itself on a release of thousands
 * of files); elsewhere extract_file has fsynced each file. Then each
 * directory made, and the staging directory. */
static int sync_dirs(struct extract *x, const char *staging, struct err *e)
{
	const char *base;
	size_t i;
	int fd, rc = 0;

	if (!x->fsync_each && fs_sync_fs(staging, e) < 0)
		return -1;
	for (i = 0; i < x->ncreated && rc == 0; i++) {
		char *key = xasprintf("%s/x", x->created[i]);
		fd = open_parent(x->root, key, NULL, NULL, &base, e);
		free(key);
		if (fd < 0)
			return -1;
		if (fsync(fd) < 0)
			rc = err_sys(e, EXIT_SOFTWARE, "fsync %s", x->created[i]);
		close(fd);
	}
	if (rc == 0 && fsync(x->root) < 0)
		rc = err_sys(e, EXIT_SOFTWARE, "fsync staging directory");
	return rc;
}

/* Directory entries allowed: one per directory leading to a listed file
 * (counted with repeats, an upper bound). Files need no cap: each listed
 * one may appear once and anything else is refused, so a payload has at
 * most nfiles + this many entries. */
static uint64_t dir_cap(const struct manifest *m)
{
	uint64_t cap = 0;
	size_t i;
	const char *s;

	for (i = 0; i < m->nfiles; i++)
		for (s = m->files[i].path; *s; s++)
			cap += *s == '/';
	return cap;
}

static int extract_all(struct extract *x, struct err *e)
{
	struct archive_entry *ent;
	size_t i;
	int r;

	for (;;) {
		r = archive_read_next_header(x->a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return err_set(e, EXIT_TRUST, "%s", archive_error_string(x->a));
		if (extract_entry(x, ent, e) < 0)
			return -1;
	}
	for (i = 0; i < x->nfiles; i++)
		if (!x->seen[i])
			return err_set(e, EXIT_TRUST, "%s: listed but missing",
				       x->files[i]->path);
	return 0;
}

/* libarchive's read callback over a struct sealed. */
static la_ssize_t sealed_read(struct archive *a, void *ctx, const void **buf)
{
	struct sealed *s = ctx;
	ssize_t n;

	do
		n = read(s->fd, s->block, CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	if ((uint64_t)n > s->max - s->size) {
		s->over = true;
		archive_set_error(a, EFBIG, "payload longer than the %llu bytes the signed manifest says",
				  (unsigned long long)s->max);
		return -1;
	}
	s->size += (uint64_t)n;
	gcry_md_write(s->md, s->block, (size_t)n);
	*buf = s->block;
	return n;
}

/* At the end of the archive: read (and hash) what libarchive left, then
 * compare the size and the sha256 with the signed manifest's. */
static int sealed_finish(struct sealed *s, const char *path, struct err *e)
{
	char hex[SHA256_HEX_LEN + 1];
	ssize_t n;

	while (!s->over) {
		n = read(s->fd, s->block, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(e, EXIT_DATAERR, "read %s", path);
		if (n == 0)
			break;
		if ((uint64_t)n > s->max - s->size)
			s->over = true;
		else
			gcry_md_write(s->md, s->block, (size_t)n);
		s->size += (uint64_t)n;
	}
	if (s->over || s->size != s->max)
		return err_set(e, EXIT_TRUST, "payload %s is %s%llu bytes, the signed manifest says %llu",
			       path, s->over ? "more than " : "", (unsigned long long)s->size,
			       (unsigned long long)s->max);
	if (memcmp(gcry_md_read(s->md, GCRY_MD_SHA256), s->sha256, SHA256_LEN)) {
		hex_encode(gcry_md_read(s->md, GCRY_MD_SHA256), SHA256_LEN, hex);
		return err_set(e, EXIT_TRUST, "payload %s has sha256 %s, not the signed manifest's",
			       path, hex);
	}
	return 0;
}

/* Open the payload for x->a: through libarchive's own reader, or, with
 * x->seal, through sealed_read. */
static int open_payload(struct extract *x, const char *path, const struct manifest *m,
			struct err *e)
{
	struct sealed *s = x->seal;
	int r;

	if (!s) {
		r = archive_read_open_filename(x->a, path, CHUNK);
	} else {
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			return err_sys(e, EXIT_DATAERR, "open %s", path);
		if (gcry_md_open(&s->md, GCRY_MD_SHA256, 0))
			return err_set(e, EXIT_SOFTWARE, "cannot start sha256");
		s->max = m->payload_size;
		s->sha256 = m->payload_sha256;
		s->block = xmalloc(CHUNK);
		r = archive_read_open(x->a, s, NULL, sealed_read, NULL);
	}
	if (r != ARCHIVE_OK)
		return err_set(e, EXIT_TRUST, "%s", archive_error_string(x->a));
	return 0;
}

int payload_extract(const char *path, const char *staging,
		    const struct manifest *m, uint64_t max_total, struct err *e)
{
	return payload_extract_some(path, staging, m, NULL, max_total, e);
}

static void extract_release(struct extract *x)
{
	size_t i;

	if (x->a)
		archive_read_free(x->a);
	if (x->cached_dir) {
		close(x->cached_fd);
		free(x->cached_dir);
	}
	for (i = 0; i < x->ncreated; i++)
		free(x->created[i]);
	free(x->created);
	if (x->root >= 0)
		close(x->root);
	if (x->seal) {
		if (x->seal->fd >= 0)
			close(x->seal->fd);
		if (x->seal->md)
			gcry_md_close(x->seal->md);
		free(x->seal->block);
	}
	free(x->chunk);
	free(x->seen);
	free(x->files);
}

/* payload_extract_some, and with seal, payload_extract_sealed. */
static int extract_run(const char *path, const char *staging, const struct manifest *m,
		       const bool *want, uint64_t max_total, struct sealed *seal,
		       struct err *e)
{
	struct extract x;
	struct err late;
	int rc = -1;

	crypto_init();
	memset(&x, 0, sizeof x);
	x.root = -1;
	x.max_total = max_total;
	x.nfiles = m->nfiles;
	x.max_dirs = dir_cap(m);
	x.files = sorted_files(m);
	x.base = m->files;
	x.want = want;
	x.seal = seal;
	x.seen = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *x.seen);
	x.chunk = xmalloc(CHUNK);
	x.root = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.root < 0) {
		err_sys(e, EXIT_SOFTWARE, "open %s", staging);
		goto done;
	}
	x.fsync_each = !syncfs_trusted(x.root);
	x.umask = umask(077);
	umask(x.umask);
	/* gzip or nothing, tar only: no external decompressor programs and
	 * no other format parsers face untrusted bytes. */
	x.a = archive_read_new();
	if (archive_read_support_filter_gzip(x.a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(x.a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(x.a) != ARCHIVE_OK) {
		err_set(e, EXIT_SOFTWARE, "archive: %s", archive_error_string(x.a));
		goto done;
	}
	rc = open_payload(&x, path, m, e);
	if (rc == 0)
		rc = extract_all(&x, e);
	/* The payload's own check decides first: a payload that is not the
	 * signed one is refused as such, whatever its parse found. Nothing
	 * staged is used (nor made durable) before it passes. */
	if (seal && seal->md && sealed_finish(seal, path, &late) < 0) {
		*e = late;
		rc = -1;
	}
	if (rc == 0)
		rc = sync_dirs(&x, staging, e);
done:
	if (rc < 0)
		err_prefix(e, "extract %s: ", path);
	extract_release(&x);
	return rc;
}

int payload_extract_some(const char *path, const char *staging,
			 const struct manifest *m, const bool *want,
			 uint64_t max_total, struct err *e)
{
	return extract_run(path, staging, m, want, max_total, NULL, e);
}

int payload_extract_sealed(const char *path, const char *staging,
			   const struct manifest *m, const bool *want,
			   uint64_t max_total, struct err *e)
{
	struct sealed s;

	memset(&s, 0, sizeof s);
	s.fd = -1;
	if (!m->has_payload)
		return err_set(e, EXIT_DATAERR, "extract %s: not a published manifest", path);
	return extract_run(path, staging, m, want, max_total, &s, e);
}
