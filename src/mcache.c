/* SPDX-License-Identifier: Apache-2.0 */
/* The installed manifest as parsed, kept beside it (mcache.h). */
#include "mcache.h"
#include "buf.h"
#include "fsutil.h"
#include "version.h"
#include "xalloc.h"

#include <string.h>

#define MAGIC "upgr-mcache 1\n"
#define NO_STR 0xffffffffu
#define HEAD_LEN (sizeof MAGIC - 1 + 4 * 4 + SHA256_LEN + 8)

/* ---- writing ---- */

static void le64(unsigned char *c, uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		c[i] = (unsigned char)(v >> (8 * i));
}

static void put_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	buf_add(b, c, sizeof c);
}

static void put_u64(struct buf *b, uint64_t v)
{
	unsigned char c[8];

	le64(c, v);
	buf_add(b, c, sizeof c);
}

static void put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	put_u32(b, s ? (uint32_t)n : NO_STR);
	buf_add(b, s, n);
}

static void put_cmd(struct buf *b, const struct mcmd *c)
{
	put_str(b, c->run);
	put_u32(b, c->timeout);
	put_u32(b, c->retries);
	put_u32(b, c->interval);
	put_u32(b, (uint32_t)c->line);
	put_u32(b, (uint32_t)c->col);
}

static void put_cmds(struct buf *b, const struct mcmds *c)
{
	size_t i;

	put_u64(b, c->n);
	for (i = 0; i < c->n; i++)
		put_cmd(b, &c->v[i]);
}

static void put_body(struct buf *b, const struct manifest *m)
{
	size_t i;

	put_u32(b, (uint32_t)m->format);
	put_str(b, m->app);
	put_str(b, m->version);       /* and semver, parsed again from it */
	put_str(b, m->target);
	put_u32(b, m->has_payload);
	put_str(b, m->payload_file);
	buf_add(b, m->payload_sha256, sizeof m->payload_sha256);
	put_u64(b, m->payload_size);
	put_u64(b, m->nfiles);
	for (i = 0; i < m->nfiles; i++) {
		const struct mfile *f = &m->files[i];

		put_str(b, f->path);
		put_u32(b, (uint32_t)f->mode);
		put_u32(b, (uint32_t)f->config | (uint32_t)f->pattern << 1 |
			   (uint32_t)f->has_mode << 2 | (uint32_t)f->has_sha256 << 3);
		put_str(b, f->owner);
		put_str(b, f->group);
		buf_add(b, f->sha256, sizeof f->sha256);
		put_u32(b, (uint32_t)f->line);
		put_u32(b, (uint32_t)f->col);
	}
	put_u64(b, m->by_path ? m->nby_path : 0);
	for (i = 0; m->by_path && i < m->nby_path; i++)
		put_u64(b, m->by_path[i]);
	put_u64(b, m->nremove);
	for (i = 0; i < m->nremove; i++)
		put_str(b, m->remove[i]);
	put_u64(b, m->npre);
	for (i = 0; i < m->npre; i++) {
		const struct precond *p = &m->pre[i];

		put_u32(b, (uint32_t)p->kind);
		put_cmd(b, &p->cmd);
		put_str(b, p->path);
		put_u64(b, p->mb);
		put_str(b, p->constraint_text);   /* and constraint, from it */
		put_u32(b, (uint32_t)p->line);
		put_u32(b, (uint32_t)p->col);
	}
	put_cmds(b, &m->stop);
	put_cmds(b, &m->start);
	put_cmds(b, &m->health);
	put_cmds(b, &m->rollback);
}

static void put_head(struct buf *b, const uint8_t src[SHA256_LEN], uint64_t body)
{
	buf_add(b, MAGIC, sizeof MAGIC - 1);
	put_u32(b, sizeof(struct manifest));
	put_u32(b, sizeof(struct mfile));
	put_u32(b, sizeof(struct precond));
	put_u32(b, sizeof(struct mcmd));
	buf_add(b, src, SHA256_LEN);
	put_u64(b, body);
}

int mcache_write(const char *path, const uint8_t src[SHA256_LEN], const struct manifest *m,
		 struct err *e)
{
	struct buf all = BUF_INIT;
	uint8_t sum[SHA256_LEN];
	int rc;

	/* About what a file of a typical path length takes. */
	buf_grow(&all, HEAD_LEN + 4096 + m->nfiles * (64 + SHA256_LEN + 32));
	put_head(&all, src, 0);
	put_body(&all, m);
	le64((unsigned char *)all.data + HEAD_LEN - 8, all.len - HEAD_LEN);
	sha256_buf(all.data, all.len, sum);
	buf_add(&all, sum, sizeof sum);
	rc = fs_write_atomic(path, all.data, all.len, 0600, e);
	buf_release(&all);
	return rc;
}

/* ---- reading: any short or odd field makes the whole file unused ---- */

struct cur {
	const unsigned char *p, *end;
	bool bad;
};

static const unsigned char *take(struct cur *c, size_t n)
{
	const unsigned char *at = c->p;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	return at;
}

static uint32_t get_u32(struct cur *c)
{
	const unsigned char *q = take(c, 4);

	return q ? (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
			   (uint32_t)q[3] << 24
		 : 0;
}

static uint64_t get_u64(struct cur *c)
{
	uint64_t lo = get_u32(c);

	return lo | (uint64_t)get_u32(c) << 32;
}

static int get_int(struct cur *c)
{
	uint32_t v = get_u32(c);

	if (v > INT32_MAX)
		c->bad = true;
	return (int)v;
}

static char *get_str(struct cur *c)
{
	uint32_t n = get_u32(c);
	const unsigned char *q;
	char *s;

	if (n == NO_STR || c->bad)
		return NULL;
	q = take(c, n);
	if (!q || memchr(q, '\0', n)) {
		c->bad = true;
		return NULL;
	}
	s = xmalloc((size_t)n + 1);
	memcpy(s, q, n);
	s[n] = '\0';
	return s;
}

static void get_bytes(struct cur *c, void *out, size_t n)
{
	const unsigned char *q = take(c, n);

	if (q)
		memcpy(out, q, n);
}

/* A count of items that each take at least min bytes of what is left. */
static size_t get_count(struct cur *c, size_t min)
{
	uint64_t n = get_u64(c);

	if (n > (uint64_t)(c->end - c->p) / min) {
		c->bad = true;
		return 0;
	}
	return (size_t)n;
}

static void get_cmd(struct cur *c, struct mcmd *m)
{
	m->run = get_str(c);
	m->timeout = get_u32(c);
	m->retries = get_u32(c);
	m->interval = get_u32(c);
	m->line = get_int(c);
	m->col = get_int(c);
}

static void get_cmds(struct cur *c, struct mcmds *m)
{
	size_t i;

	m->n = get_count(c, 24);
	m->v = xcalloc(m->n ? m->n : 1, sizeof *m->v);
	for (i = 0; i < m->n; i++)
		get_cmd(c, &m->v[i]);
}

static void get_files(struct cur *c, struct manifest *m)
{
	size_t i;

	m->nfiles = get_count(c, 4 + 4 + 4 + 4 + 4 + SHA256_LEN + 8);
	m->files = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *m->files);
	for (i = 0; i < m->nfiles && !c->bad; i++) {
		struct mfile *f = &m->files[i];
		uint32_t flags;

		f->path = get_str(c);
		f->mode = (mode_t)get_u32(c);
		flags = get_u32(c);
		f->config = flags & 1;
		f->pattern = flags & 2;
		f->has_mode = flags & 4;
		f->has_sha256 = flags & 8;
		f->owner = get_str(c);
		f->group = get_str(c);
		get_bytes(c, f->sha256, sizeof f->sha256);
		f->line = get_int(c);
		f->col = get_int(c);
		if (!f->path || flags > 15 || f->mode > 0777)
			c->bad = true;
	}
	m->nby_path = get_count(c, 8);
	m->by_path = m->nby_path ? xcalloc(m->nby_path, sizeof *m->by_path) : NULL;
	for (i = 0; i < m->nby_path && !c->bad; i++) {
		m->by_path[i] = (size_t)get_u64(c);
		if (m->by_path[i] >= m->nfiles)
			c->bad = true;
	}
	if (m->nby_path && m->nby_path != m->nfiles)
		c->bad = true;
}

static void get_pre(struct cur *c, struct manifest *m)
{
	char why[128];
	size_t i;

	m->npre = get_count(c, 4 + 24 + 4 + 8 + 4 + 8);
	m->pre = xcalloc(m->npre ? m->npre : 1, sizeof *m->pre);
	for (i = 0; i < m->npre && !c->bad; i++) {
		struct precond *p = &m->pre[i];
		uint32_t kind = get_u32(c);

		p->kind = (enum precond_kind)kind;
		get_cmd(c, &p->cmd);
		p->path = get_str(c);
		p->mb = get_u64(c);
		p->constraint_text = get_str(c);
		p->line = get_int(c);
		p->col = get_int(c);
		if (kind > PRE_INSTALLED ||
		    (p->constraint_text &&
		     vconstraint_parse(p->constraint_text, &p->constraint, why, sizeof why) < 0))
			c->bad = true;
	}
}

static void get_body(struct cur *c, struct manifest *m)
{
	char why[128];
	size_t i;

	m->format = get_int(c);
	m->app = get_str(c);
	m->version = get_str(c);
	m->target = get_str(c);
	m->has_payload = get_u32(c) != 0;
	m->payload_file = get_str(c);
	get_bytes(c, m->payload_sha256, sizeof m->payload_sha256);
	m->payload_size = get_u64(c);
	if (!m->app || !m->version || !m->target ||
	    semver_parse(m->version, &m->semver, why, sizeof why) < 0)
		c->bad = true;
	get_files(c, m);
	m->nremove = get_count(c, 4);
	m->remove = xcalloc(m->nremove + 1, sizeof *m->remove);
	for (i = 0; i < m->nremove && !c->bad; i++)
		if (!(m->remove[i] = get_str(c)))
			c->bad = true;
	get_pre(c, m);
	get_cmds(c, &m->stop);
	get_cmds(c, &m->start);
	get_cmds(c, &m->health);
	get_cmds(c, &m->rollback);
}

bool mcache_read(const char *path, const uint8_t src[SHA256_LEN], struct manifest *m)
{
	struct buf b = BUF_INIT, head = BUF_INIT;
	uint8_t sum[SHA256_LEN];
	struct cur c;
	struct err e;
	uint64_t body;
	bool ok = false;

	memset(m, 0, sizeof *m);
	if (fs_read_file(path, 2 * (size_t)MANIFEST_MAX_BYTES + (1u << 20), &b, &e) < 0 ||
	    b.len < HEAD_LEN + SHA256_LEN)
		goto done;
	/* The header this binary would write for src and the body's length. */
	c.p = (const unsigned char *)b.data + HEAD_LEN - 8;
	c.end = (const unsigned char *)b.data + b.len;
	c.bad = false;
	body = get_u64(&c);
	put_head(&head, src, body);
	if (memcmp(head.data, b.data, HEAD_LEN) || body != b.len - HEAD_LEN - SHA256_LEN)
		goto done;
	sha256_buf(b.data, b.len - SHA256_LEN, sum);
	if (memcmp(sum, b.data + b.len - SHA256_LEN, SHA256_LEN))
		goto done;
	c.end = (const unsigned char *)b.data + b.len - SHA256_LEN;
	get_body(&c, m);
	ok = !c.bad && c.p == c.end;
	if (!ok)
		manifest_release(m);
done:
	buf_release(&b);
	buf_release(&head);
	return ok;
}
