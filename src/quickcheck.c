/* SPDX-License-Identifier: Apache-2.0 */
/* The quick check's record (quickcheck.h). */
#include "quickcheck.h"
#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "xalloc.h"

#include <errno.h>
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

/* Whether q is in order already: quickcheck_save writes it sorted. */
static bool in_order(const struct quickcheck *q)
{
	size_t i;

	for (i = 1; i < q->n; i++)
		if (strcmp(q->v[i - 1].path, q->v[i].path) > 0)
			return false;
	return true;
}

void quickcheck_load(const char *appdir, struct quickcheck *q)
{
	char *path = fs_join(appdir, QUICKCHECK_FILE), *line, *save = NULL;
	struct buf b = BUF_INIT;
	struct err e;
	struct qc_entry ent;
	size_t cap = 0;

	q->v = NULL;
	q->n = 0;
	q->sorted = true;
	if (access(path, F_OK) < 0 || fs_read_file(path, MAX_BYTES, &b, &e) < 0 || !b.data)
		goto done;
	line = strtok_r(b.data, "\n", &save);
	if (!line || strcmp(line, MAGIC))
		goto done;
	while ((line = strtok_r(NULL, "\n", &save)))
		if (parse_line(line, &ent)) {
			if (q->n == cap) {
				cap = cap ? 2 * cap : 64;
				q->v = xreallocarray(q->v, cap, sizeof *q->v);
			}
			q->v[q->n++] = ent;
		}
	q->sorted = false;
	quickcheck_sort(q);
done:
	buf_release(&b);
	free(path);
}

const struct qc_entry *quickcheck_find_n(const struct quickcheck *q, size_t n,
					 const char *path)
{
	struct qc_entry key;

	if (!q || !n)
		return NULL;
	key.path = (char *)path;
	return bsearch(&key, q->v, n, sizeof *q->v, by_path);
}

const struct qc_entry *quickcheck_find(const struct quickcheck *q, const char *path)
{
	return q && q->sorted ? quickcheck_find_n(q, q->n, path) : NULL;
}

void quickcheck_sort(struct quickcheck *q)
{
	/* Entries added in a sorted manifest's order need no sort. */
	if (!q->sorted && !in_order(q))
		qsort(q->v, q->n, sizeof *q->v, by_path);
	q->sorted = true;
}

bool quickcheck_same(const struct quickcheck *q, const char *path,
		     const uint8_t sha256[32], const struct stat *st)
{
	const struct qc_entry *ent = quickcheck_find(q, path);
	struct qc_stat now;

	if (!ent || !S_ISREG(st->st_mode) || memcmp(ent->sha256, sha256, SHA256_LEN))
		return false;
	quickcheck_stat(st, &now);
	return now.dev == ent->st.dev && now.ino == ent->st.ino && now.size == ent->st.size &&
	       now.mtime_ns == ent->st.mtime_ns && now.ctime_ns == ent->st.ctime_ns &&
	       now.mode == ent->st.mode && now.uid == ent->st.uid && now.gid == ent->st.gid;
}

void quickcheck_add(struct quickcheck *q, const char *path, const uint8_t sha256[32],
		    const struct qc_stat *st)
{
	struct qc_entry *ent;

	q->v = xreallocarray(q->v, q->n + 1, sizeof *q->v);
	ent = &q->v[q->n++];
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

int quickcheck_save(const char *appdir, struct quickcheck *q, struct err *e)
{
	char *path = fs_join(appdir, QUICKCHECK_FILE);
	char line[SHA256_HEX_LEN + 1 + 8 * 24];
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	quickcheck_sort(q);
	buf_grow(&b, q->n * 160);    /* a line is about 140 bytes: one allocation */
	buf_adds(&b, MAGIC "\n");
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
		buf_add(&b, line, (size_t)(p - line));
		buf_adds(&b, ent->path);
		buf_add(&b, "\n", 1);
	}
	rc = fs_write_atomic(path, b.data, b.len, 0600, e);
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
	q->v = NULL;
	q->n = 0;
}
