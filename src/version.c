/* SPDX-License-Identifier: Apache-2.0 */
/* Semantic versions, strictly as semver 2.0 writes them (minus build
 * metadata, which has no place in a release's identity), and constraints
 * built from them. */
#include "version.h"

#include <stdio.h>
#include <string.h>

static int fail(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* A numeric field: digits, no leading zero, fits an unsigned long. Moves
 * *s past it. */
static int parse_num(const char **s, unsigned long *out, const char *field,
		     char *why, size_t whylen)
{
	const char *p = *s;
	unsigned long v = 0;
	char msg[80];

	if (!is_digit(*p)) {
		snprintf(msg, sizeof msg, "%s is not a number (expected MAJOR.MINOR.PATCH)", field);
		return fail(why, whylen, msg);
	}
	if (*p == '0' && is_digit(p[1])) {
		snprintf(msg, sizeof msg, "%s has a leading zero", field);
		return fail(why, whylen, msg);
	}
	for (; is_digit(*p); p++) {
		if (v > (~0UL - 9) / 10) {
			snprintf(msg, sizeof msg, "%s is too large", field);
			return fail(why, whylen, msg);
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*out = v;
	*s = p;
	return 0;
}

/* Dot-separated identifiers of [0-9A-Za-z-], none empty, numeric ones
 * without leading zeros. */
static int check_pre(const char *p, char *why, size_t whylen)
{
	const char *start;
	bool numeric;

	for (;;) {
		start = p;
		numeric = true;
		for (; *p && *p != '.'; p++) {
			if (!is_ident_char(*p))
				return fail(why, whylen, *p == '+' ?
					    "build metadata (+...) is not allowed" :
					    "prerelease may hold only [0-9A-Za-z-] and dots");
			if (!is_digit(*p))
				numeric = false;
		}
		if (p == start)
			return fail(why, whylen, "empty prerelease identifier");
		if (numeric && *start == '0' && p - start > 1)
			return fail(why, whylen, "numeric prerelease identifier has a leading zero");
		if (!*p)
			return 0;
		p++;
	}
}

int semver_parse(const char *s, struct semver *v, char *why, size_t whylen)
{
	struct semver t;
	const char *p = s;

	memset(&t, 0, sizeof t);
	if (!s || !*s)
		return fail(why, whylen, "empty version");
	if (*p == 'v' || *p == 'V')
		return fail(why, whylen, "no 'v' prefix: write MAJOR.MINOR.PATCH");
	if (parse_num(&p, &t.major, "MAJOR", why, whylen) < 0)
		return -1;
	if (*p != '.')
		return fail(why, whylen, "expected MAJOR.MINOR.PATCH");
	p++;
	if (parse_num(&p, &t.minor, "MINOR", why, whylen) < 0)
		return -1;
	if (*p != '.')
		return fail(why, whylen, "expected MAJOR.MINOR.PATCH");
	p++;
	if (parse_num(&p, &t.patch, "PATCH", why, whylen) < 0)
		return -1;
	if (*p == '+')
		return fail(why, whylen, "build metadata (+...) is not allowed");
	if (*p == '-') {
		p++;
		if (check_pre(p, why, whylen) < 0)
			return -1;
		if (strlen(p) >= SEMVER_PRE_MAX)
			return fail(why, whylen, "prerelease is too long");
		memcpy(t.pre, p, strlen(p) + 1);
	} else if (*p) {
		return fail(why, whylen, "unexpected text after MAJOR.MINOR.PATCH");
	}
	*v = t;
	return 0;
}

static int cmp_ulong(unsigned long a, unsigned long b)
{
	return a < b ? -1 : a > b;
}

/* Compare one identifier each (lengths la, lb): numeric ones numerically
 * (no leading zeros, so a longer one is larger), numeric below
 * alphanumeric, alphanumeric ones in ASCII order. */
static int cmp_ident(const char *a, size_t la, const char *b, size_t lb)
{
	bool na = strspn(a, "0123456789") >= la, nb = strspn(b, "0123456789") >= lb;
	size_t n = la < lb ? la : lb;
	int c;

	if (na && nb) {
		if (la != lb)
			return la < lb ? -1 : 1;
		c = memcmp(a, b, la);
		return c < 0 ? -1 : c > 0;
	}
	if (na != nb)
		return na ? -1 : 1;
	c = memcmp(a, b, n);
	if (c)
		return c < 0 ? -1 : 1;
	return la < lb ? -1 : la > lb;
}

static int cmp_pre(const char *a, const char *b)
{
	size_t la, lb;
	int c;

	/* A release ranks above any of its prereleases. */
	if (!*a || !*b)
		return !*a && !*b ? 0 : (!*a ? 1 : -1);
	for (;;) {
		la = strcspn(a, ".");
		lb = strcspn(b, ".");
		c = cmp_ident(a, la, b, lb);
		if (c)
			return c;
		a += la;
		b += lb;
		if (!*a || !*b)
			return !*a && !*b ? 0 : (!*a ? -1 : 1);
		a++;
		b++;
	}
}

int semver_cmp(const struct semver *a, const struct semver *b)
{
	int c;

	if ((c = cmp_ulong(a->major, b->major)) ||
	    (c = cmp_ulong(a->minor, b->minor)) ||
	    (c = cmp_ulong(a->patch, b->patch)))
		return c;
	return cmp_pre(a->pre, b->pre);
}

int semver_cmp_str(const char *a, const char *b)
{
	struct semver va, vb;
	bool oka = semver_parse(a, &va, NULL, 0) == 0;
	bool okb = semver_parse(b, &vb, NULL, 0) == 0;
	int c;

	if (oka && okb)
		return semver_cmp(&va, &vb);
	if (oka != okb)
		return oka ? 1 : -1;
	c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

/* One term: an operator (>=, <=, >, <, =, or none for =) and a full
 * version, with nothing between them. */
static int parse_term(const char *s, size_t len, enum vop *op, struct semver *v,
		      char *why, size_t whylen)
{
	char text[128], vwhy[96], msg[256];
	size_t skip = 0;

	if (len >= sizeof text)
		return fail(why, whylen, "term is too long");
	if (len >= 2 && s[0] == '>' && s[1] == '=')
		*op = VOP_GE, skip = 2;
	else if (len >= 2 && s[0] == '<' && s[1] == '=')
		*op = VOP_LE, skip = 2;
	else if (s[0] == '>')
		*op = VOP_GT, skip = 1;
	else if (s[0] == '<')
		*op = VOP_LT, skip = 1;
	else if (s[0] == '=')
		*op = VOP_EQ, skip = 1;
	else
		*op = VOP_EQ;
	memcpy(text, s + skip, len - skip);
	text[len - skip] = '\0';
	if (!text[0]) {
		snprintf(msg, sizeof msg, "'%.*s' has no version after it", (int)len, s);
		return fail(why, whylen, msg);
	}
	if (semver_parse(text, v, vwhy, sizeof vwhy) < 0) {
		snprintf(msg, sizeof msg, "'%s' is not a full version (%s)", text, vwhy);
		return fail(why, whylen, msg);
	}
	return 0;
}

int vconstraint_parse(const char *s, struct vconstraint *c, char *why, size_t whylen)
{
	struct vconstraint t;
	const char *p = s;
	size_t len;

	memset(&t, 0, sizeof t);
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " ");
		if (t.n == VCONSTRAINT_MAX)
			return fail(why, whylen, "too many terms");
		if (parse_term(p, len, &t.term[t.n].op, &t.term[t.n].v, why, whylen) < 0)
			return -1;
		t.n++;
		p += len;
	}
	if (!t.n)
		return fail(why, whylen, "empty constraint");
	*c = t;
	return 0;
}

bool vconstraint_match(const struct vconstraint *c, const struct semver *v)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		int r = semver_cmp(v, &c->term[i].v);
		bool ok;

		switch (c->term[i].op) {
		case VOP_EQ: ok = r == 0; break;
		case VOP_LT: ok = r < 0; break;
		case VOP_LE: ok = r <= 0; break;
		case VOP_GT: ok = r > 0; break;
		default:     ok = r >= 0; break;
		}
		if (!ok)
			return false;
	}
	return true;
}
