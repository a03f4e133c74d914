/* SPDX-License-Identifier: Apache-2.0 */
/* Unified diff (diff.h): lines, Myers' shortest edit script, hunks. */
#include "diff.h"
#include "xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct line {
	const char *s;
	size_t len;              /* without the '\n' */
	bool nl;                 /* ended by '\n' */
};

struct lines {
	struct line *v;
	size_t n;
};

/* One step of the edit script: ' ' both, '-' a only, '+' b only. */
struct edit {
	char op;
	size_t a, b;             /* line indexes (a for ' ' and '-', b for ' ' and '+') */
};

static void split(const char *s, size_t len, struct lines *l)
{
	size_t i, start = 0;

	l->v = NULL;
	l->n = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
		l->v[l->n].s = s + start;
		l->v[l->n].len = i - start;
		l->v[l->n].nl = i < len;
		l->n++;
		start = i + 1;
	}
}

static bool same_line(const struct line *x, const struct line *y)
{
	return x->len == y->len && x->nl == y->nl && !memcmp(x->s, y->s, x->len);
}

/* V of round d (indexes k = -d..d at k + d); round -1 reads as 0. */
static long vget(long *const *trace, long d, long k)
{
	return d < 0 ? 0 : trace[d][k + d];
}

static bool down_move(long *const *trace, long d, long k)
{
	return k == -d || (k != d && vget(trace, d - 1, k - 1) < vget(trace, d - 1, k + 1));
}

/* Myers' forward search, keeping each round's V for the walk back.
 * Returns the edit distance, or -1 past DIFF_MAX_EDITS. */
static long search(const struct lines *a, const struct lines *b, long ***tracep)
{
	long n = (long)a->n, m = (long)b->n, d, k, x, y;
	long **trace = NULL;

	for (d = 0; d <= DIFF_MAX_EDITS; d++) {
		trace = xreallocarray(trace, (size_t)d + 1, sizeof *trace);
		trace[d] = xcalloc((size_t)(2 * d + 1), sizeof **trace);
		for (k = -d; k <= d; k += 2) {
			x = down_move(trace, d, k) ? vget(trace, d - 1, k + 1)
						   : vget(trace, d - 1, k - 1) + 1;
			y = x - k;
			while (x < n && y < m && same_line(&a->v[x], &b->v[y]))
				x++, y++;
			trace[d][k + d] = x;
			if (x >= n && y >= m) {
				*tracep = trace;
				return d;
			}
		}
	}
	*tracep = trace;
	return -1;
}

static void push(struct edit **v, size_t *n, char op, long a, long b)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[*n].op = op;
	(*v)[*n].a = (size_t)a;
	(*v)[*n].b = (size_t)b;
	(*n)++;
}

/* Walk back from (n, m) to (0, 0); the script comes out reversed. */
static void walk_back(long *const *trace, long dist, long n, long m,
		      struct edit **ev, size_t *ne)
{
	long d, k, pk, px, py, x = n, y = m;

	for (d = dist; d > 0; d--) {
		k = x - y;
		pk = down_move(trace, d, k) ? k + 1 : k - 1;
		px = vget(trace, d - 1, pk);
		py = px - pk;
		while (x > px && y > py)
			x--, y--, push(ev, ne, ' ', x, y);
		if (pk == k + 1)
			y--, push(ev, ne, '+', x, y);
		else
			x--, push(ev, ne, '-', x, y);
	}
	while (x > 0 && y > 0)
		x--, y--, push(ev, ne, ' ', x, y);
}

static void add_line(struct buf *out, char op, const struct line *l)
{
	buf_addf(out, "%c%.*s\n", op, (int)l->len, l->s);
	if (!l->nl)
		buf_adds(out, "\\ No newline at end of file\n");
}

static void range(struct buf *out, char sign, size_t start, size_t len)
{
	/* diff -u: an empty range names the line before it. */
	buf_addf(out, "%c%zu", sign, len ? start + 1 : start);
	if (len != 1)
		buf_addf(out, ",%zu", len);
}

/* One hunk: edits [from, to) of the script. */
static void hunk(const struct edit *ev, size_t from, size_t to, const struct lines *a,
		 const struct lines *b, size_t astart, size_t bstart, struct buf *out)
{
	size_t i, al = 0, bl = 0;

	for (i = from; i < to; i++) {
		al += ev[i].op != '+';
		bl += ev[i].op != '-';
	}
	buf_adds(out, "@@ ");
	range(out, '-', astart, al);
	buf_adds(out, " ");
	range(out, '+', bstart, bl);
	buf_adds(out, " @@\n");
	for (i = from; i < to; i++)
		add_line(out, ev[i].op, ev[i].op == '+' ? &b->v[ev[i].b] : &a->v[ev[i].a]);
}

#define CONTEXT 3

/* The hunks of the script: each change with CONTEXT lines around it,
 * changes closer than 2 * CONTEXT lines sharing one hunk. */
static void hunks(const struct edit *ev, size_t ne, const struct lines *a,
		  const struct lines *b, struct buf *out)
{
	size_t i = 0, from, to, last, an = 0, bn = 0, j;

	while (i < ne) {
		while (i < ne && ev[i].op == ' ')
			i++, an++, bn++;
		if (i == ne)
			break;
		from = i >= CONTEXT ? i - CONTEXT : 0;
		for (j = from; j < i; j++)
			an--, bn--;
		/* Extend past each change while another follows closely. */
		for (last = i, j = i; j < ne; j++) {
			if (ev[j].op != ' ')
				last = j;
			else if (j - last > 2 * CONTEXT)
				break;
		}
		to = last + 1 + CONTEXT < ne ? last + 1 + CONTEXT : ne;
		hunk(ev, from, to, a, b, an, bn, out);
		for (j = from; j < to; j++) {
			an += ev[j].op != '+';
			bn += ev[j].op != '-';
		}
		i = to;
	}
}

enum diff_result diff_unified(const char *a, size_t alen, const char *b, size_t blen,
			      const char *aname, const char *bname, struct buf *out)
{
	struct lines la, lb;
	struct edit *ev = NULL, t;
	long **trace = NULL, dist, d;
	size_t ne = 0, i;

	if (alen == blen && !memcmp(a, b, alen))
		return DIFF_SAME;
	if (memchr(a, '\0', alen) || memchr(b, '\0', blen)) {
		buf_addf(out, "Binary files %s and %s differ\n", aname, bname);
		return DIFF_BINARY;
	}
	if (alen > DIFF_MAX_BYTES || blen > DIFF_MAX_BYTES) {
		buf_addf(out, "files %s and %s differ (too large to show)\n", aname, bname);
		return DIFF_TOO_LARGE;
	}
	split(a, alen, &la);
	split(b, blen, &lb);
	dist = search(&la, &lb, &trace);
	if (dist < 0) {
		buf_addf(out, "files %s and %s differ (too many changes to show)\n", aname, bname);
	} else {
		walk_back(trace, dist, (long)la.n, (long)lb.n, &ev, &ne);
		for (i = 0; i < ne / 2; i++) {
			t = ev[i];
			ev[i] = ev[ne - 1 - i];
			ev[ne - 1 - i] = t;
		}
		buf_addf(out, "--- %s\n+++ %s\n", aname, bname);
		hunks(ev, ne, &la, &lb, out);
	}
	for (d = 0; trace && d <= (dist < 0 ? DIFF_MAX_EDITS : dist); d++)
		free(trace[d]);
	free(trace);
	free(ev);
	free(la.v);
	free(lb.v);
	return dist < 0 ? DIFF_TOO_LARGE : DIFF_TEXT;
}
