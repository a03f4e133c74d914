/* SPDX-License-Identifier: Apache-2.0 */
/* The quick check's record (quickcheck.h). */
#include "quickcheck.h"
#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "upgr-quickcheck 1"
#define MAX_BYTES (256u << 20)

void quickcheck_stat(const struct stat *st, struct qc_stat *out)
{
	out->dev = (uint64_t)st->st_dev;
	out->ino = (uint64_t)st->st_ino;
	out->size = (uint64_t)st->st_size;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	out->mode = (uint32_t)st->st_mode;
	out->uid = (uint32_t)st->st_uid;
	out->gid = (uint32_t)st->st_gid;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct qc_entry *)a)->path, ((const struct qc_entry *)b)->path);
}

/* The next space-separated number of base in *s. */
static bool number(char **s, int base, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(*s, &end, base);
	if (end == *s || *end != ' ' || errno)
		return false;
	*s = end + 1;
	return true;
}

static bool parse_line(char *line, struct qc_entry *q)
{
	uint64_t v[8];
	size_t i;
	char *s = line + SHA256_HEX_LEN + 1;

	if (strlen(line) <= SHA256_HEX_LEN + 1 || line[SHA256_HEX_LEN] != ' ')
		return false;
	line[SHA256_HEX_LEN] = '\0';
	if (hex_decode(line, q->sha256, SHA256_LEN) < 0)
		return false;
	for (i = 0; i < 8; i++)
		if (!number(&s, i == 0 ? 8 : 10, &v[i]))
			return false;
	if (!*s)
		return false;
	q->st.mode = (uint32_t)v[0];
	q->st.uid = (uint32_t)v[1];
	q->st.gid = (uint32_t)v[2];
	q->st.size = v[3];
	q->st.mtime_ns = (int64_t)v[4];
	q->st.ctime_ns = (int64_t)v[5];
	q->st.dev = v[6];
	q->st.ino = v[7];
	q->path = xstrdup(s);
	return true;
}

/* How many of q's first entries are in order: quickcheck_save writes
 * them sorted, quickcheck_append adds the rest. */
static size_t in_order(const struct quickcheck *q)
{
	size_t i;

	for (i = 1; i < q->n; i++)
		if (strcmp(q->v[i - 1].path, q->v[i].path) > 0)
			return i;
	return q->n;
}

/* Room for one more entry at the end of q: the new entry. */
static struct qc_entry *push(struct quickcheck *q)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 64;
		q->v = xreallocarray(q->v, q->cap, sizeof *q->v);
	}
	return &q->v[q->n++];
}

void quickcheck_load(const char *appdir, struct quickcheck *q)
{
	char *path = fs_join(appdir, QUICKCHECK_FILE), *line, *save = NULL;
	struct buf b = BUF_INIT;
	struct err e;
	struct qc_entry ent;

	*q = (struct quickcheck)QUICKCHECK_INIT;
	if (access(path, F_OK) < 0 || fs_read_file(path, MAX_BYTES, &b, &e) < 0 || !b.data)
		goto done;
	/* An append cut short leaves a last line without its newline. */
	while (b.len && b.data[b.len - 1] != '\n')
		b.data[--b.len] = '\0';
	line = strtok_r(b.data, "\n", &save);
	if (!line || strcmp(line, MAGIC))
		goto done;
	q->loaded = true;
	q->bytes = b.len;
	while ((line = strtok_r(NULL, "\n", &save))) {
		q->lines++;
		if (parse_line(line, &ent))
			*push(q) = ent;
	}
	q->sorted = false;
	quickcheck_sort(q);
done:
	buf_release(&b);
	free(path);
}

/* The first of q's first n entries (sorted) whose path is path, or NULL. */
const struct qc_entry *quickcheck_find_n(const struct quickcheck *q, size_t n,
					 const char *path)
{
	size_t lo = 0, hi = n, mid;

	if (!q)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(q->v[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(q->v[lo].path, path) ? &q->v[lo] : NULL;
}

const struct qc_entry *quickcheck_find(const struct quickcheck *q, const char *path)
{
	return q && q->sorted ? quickcheck_find_n(q, q->n, path) : NULL;
}

void quickcheck_sort(struct quickcheck *q)
{
	size_t k, i, j, o;
	struct qc_entry *m;

	/* A record written sorted, with a few lines appended since: the
	 * lines appended are sorted and merged in, not the whole record. */
	if (q->sorted || (k = in_order(q)) == q->n) {
		q->sorted = true;
		return;
	}
	qsort(q->v + k, q->n - k, sizeof *q->v, by_path);
	m = xreallocarray(NULL, q->n, sizeof *m);
	for (i = 0, j = k, o = 0; i < k || j < q->n;)
		m[o++] = j == q->n || (i < k && by_path(&q->v[i], &q->v[j]) <= 0) ? q->v[i++]
										 : q->v[j++];
	free(q->v);
	q->v = m;
	q->cap = q->n;
	q->sorted = true;
}

static bool stat_equal(const struct qc_stat *a, const struct qc_stat *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
	       a->mode == b->mode && a->uid == b->uid && a->gid == b->gid;
}

bool quickcheck_same(const struct quickcheck *q, const char *path,
		     const uint8_t sha256[32], const struct stat *st)
{
	const struct qc_entry *ent = quickcheck_find(q, path), *end;
	struct qc_stat now;
	bool yes = false;

	if (!ent || !S_ISREG(st->st_mode))
		return false;
	quickcheck_stat(st, &now);
	for (end = q->v + q->n; ent < end && !strcmp(ent->path, path); ent++)
		if (stat_equal(&now, &ent->st)) {
			if (memcmp(ent->sha256, sha256, SHA256_LEN))
				return false;   /* a line with this stat says other bytes */
			yes = true;
		}
	return yes;
}

void quickcheck_add(struct quickcheck *q, const char *path, const uint8_t sha256[32],
		    const struct qc_stat *st)
{
	struct qc_entry *ent = push(q);

	ent->path = xstrdup(path);
	memcpy(ent->sha256, sha256, SHA256_LEN);
	ent->st = *st;
	q->sorted = false;
}

/* v in base (8 or 10) and a space at p; returns the end. A record of
 * 20,000 files took 20,000 printf calls. */
static char *put_num(char *p, uint64_t v, unsigned base)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % base);
	while ((v /= base));
	while (n)
		*p++ = digits[--n];
	*p++ = ' ';
	return p;
}

/* A time in ns: negative before 1970, written as the reader takes it. */
static char *put_time(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_num(p, (uint64_t)0 - (uint64_t)v, 10);
	}
	return put_num(p, (uint64_t)v, 10);
}

/* q's entries as the record's lines, onto b. */
static void format_lines(struct buf *b, const struct quickcheck *q)
{
	char line[SHA256_HEX_LEN + 1 + 8 * 24];
	size_t i;

	buf_grow(b, q->n * 160);     /* a line is about 140 bytes: one allocation */
	for (i = 0; i < q->n; i++) {
		const struct qc_entry *ent = &q->v[i];
		char *p = line + SHA256_HEX_LEN;

		hex_encode(ent->sha256, SHA256_LEN, line);
		*p++ = ' ';
		p = put_num(p, ent->st.mode, 8);
		p = put_num(p, ent->st.uid, 10);
		p = put_num(p, ent->st.gid, 10);
		p = put_num(p, ent->st.size, 10);
		p = put_time(p, ent->st.mtime_ns);
		p = put_time(p, ent->st.ctime_ns);
		p = put_num(p, ent->st.dev, 10);
		p = put_num(p, ent->st.ino, 10);
		buf_add(b, line, (size_t)(p - line));
		buf_adds(b, ent->path);
		buf_add(b, "\n", 1);
	}
}

int quickcheck_save(const char *appdir, struct quickcheck *q, struct err *e)
{
	char *path = fs_join(appdir, QUICKCHECK_FILE);
	struct buf b = BUF_INIT;
	int rc;

	quickcheck_sort(q);
	buf_adds(&b, MAGIC "\n");
	format_lines(&b, q);
	rc = fs_write_atomic(path, b.data, b.len, 0600, e);
	buf_release(&b);
	free(path);
	return rc;
}

int quickcheck_append(const char *appdir, const struct quickcheck *was,
		      const struct quickcheck *add, struct err *e)
{
	char *path = fs_join(appdir, QUICKCHECK_FILE);
	struct buf b = BUF_INIT;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC), rc = -1;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "open %s", path);
		goto done;
	}
	if (!was->loaded || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < was->bytes) {
		err_set(e, EXIT_SOFTWARE, "%s is not the record read", path);
		goto done;
	}
	format_lines(&b, add);
	if (((uint64_t)st.st_size > was->bytes && ftruncate(fd, (off_t)was->bytes) < 0) ||
	    lseek(fd, (off_t)was->bytes, SEEK_SET) < 0 ||
	    fs_write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		err_sys(e, EXIT_SOFTWARE, "append to %s", path);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	free(path);
	return rc;
}

int quickcheck_drop(const char *appdir, struct err *e)
{
	char *path = fs_join(appdir, QUICKCHECK_FILE);
	int rc = 0;

	if (unlink(path) == 0)
		rc = fs_fsync_dir(appdir, e);
	else if (errno != ENOENT)
		rc = err_sys(e, EXIT_SOFTWARE, "remove %s", path);
	free(path);
	return rc;
}

void quickcheck_release(struct quickcheck *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		free(q->v[i].path);
	free(q->v);
	*q = (struct quickcheck)QUICKCHECK_INIT;
}
