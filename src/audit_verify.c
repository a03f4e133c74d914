/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the audit log: the record grammar, the chain and the signatures
 * (audit/FORMAT.md sections 1, 2, 3 and 5; audit/verify implements the
 * same rules with sh, awk, sha256sum and openssl, and the tests hold the
 * two to the same answers).
 *
 * Verification streams over the bytes once: each record is parsed, hashed
 * and compared with the previous one; only the newest signature is checked
 * unless every_sig asks for each (the chain authenticates the rest). */
#include "audit.h"
#include "hash.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_B64_LEN 88

/* A cursor over one record's bytes. */
struct cur {
	const char *p, *end;
	unsigned line;           /* line number in the record, from 1 */
};

/* Storage for the steps of the record being parsed (NULL: count only). */
struct steps {
	struct audit_entry_step *v;
	size_t n, cap;
};

static int eat(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n))
		return 0;
	c->p += n;
	return 1;
}

/* A line's end: "\n". */
static int eat_nl(struct cur *c)
{
	if (!eat(c, "\n"))
		return 0;
	c->line++;
	return 1;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* SEQ: [1-9][0-9]*, at most 15 digits. */
static int eat_seq(struct cur *c, uint64_t *v)
{
	unsigned n = 0;

	if (c->p >= c->end || *c->p < '1' || *c->p > '9')
		return 0;
	*v = 0;
	while (c->p < c->end && is_digit(*c->p) && n < 16) {
		*v = *v * 10 + (uint64_t)(*c->p++ - '0');
		n++;
	}
	return n <= 15;
}

/* INT: 0 or -?[1-9][0-9]*, at most 18 digits. */
static int eat_int(struct cur *c, long long *v)
{
	int neg = eat(c, "-");
	unsigned n = 0;

	*v = 0;
	if (c->p < c->end && *c->p == '0' && !neg) {
		c->p++;
		return 1;
	}
	if (c->p >= c->end || *c->p < '1' || *c->p > '9')
		return 0;
	while (c->p < c->end && is_digit(*c->p) && n < 19) {
		*v = *v * 10 + (*c->p++ - '0');
		n++;
	}
	if (neg)
		*v = -*v;
	return n <= 18;
}

static int is_lower_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f');
}

/* QSTR: a double-quoted string with the escapes \" \\ \n \r \t \uXXXX. */
static int eat_qstr(struct cur *c, struct audit_str *s)
{
	const char *start = c->p;
	unsigned char ch;
	int i;

	if (!eat(c, "\""))
		return 0;
	while (c->p < c->end) {
		ch = (unsigned char)*c->p++;
		if (ch == '"') {
			if (s) {
				s->p = start;
				s->n = (size_t)(c->p - start);
			}
			return 1;
		}
		if (ch < 0x20 || ch == 0x7f)
			return 0;
		if (ch != '\\')
			continue;
		if (c->p >= c->end)
			return 0;
		ch = (unsigned char)*c->p++;
		if (ch == 'u') {
			for (i = 0; i < 4; i++)
				if (c->p >= c->end || !is_lower_hex(*c->p++))
					return 0;
		} else if (!strchr("\"\\nrt", ch) || !ch) {
			return 0;
		}
	}
	return 0;
}

/* "KEY: QSTR\n" */
static int eat_field(struct cur *c, const char *key, struct audit_str *s)
{
	return eat(c, key) && eat(c, ": ") && eat_qstr(c, s) && eat_nl(c);
}

static int eat_int_field(struct cur *c, const char *key, long long *v)
{
	return eat(c, key) && eat(c, ": ") && eat_int(c, v) && eat_nl(c);
}

/* "  - { phase: Q, run: Q, exit: INT, ms: INT[, output: Q] }\n" */
static int eat_step(struct cur *c, struct audit_entry_step *st)
{
	if (!(eat(c, "  - { phase: ") && eat_qstr(c, &st->phase) &&
	      eat(c, ", run: ") && eat_qstr(c, &st->run) &&
	      eat(c, ", exit: ") && eat_int(c, &st->exit) &&
	      eat(c, ", ms: ") && eat_int(c, &st->ms)))
		return 0;
	st->output.p = NULL;
	st->output.n = 0;
	if (eat(c, ", output: ") && !eat_qstr(c, &st->output))
		return 0;
	return eat(c, " }") && eat_nl(c);
}

static int eat_steps(struct cur *c, struct steps *sv, size_t *n)
{
	struct audit_entry_step st;

	*n = 0;
	if (eat(c, "steps: []"))
		return eat_nl(c);
	if (!(eat(c, "steps:") && eat_nl(c)))
		return 0;
	do {
		if (!eat_step(c, &st))
			return 0;
		if (sv) {
			if (sv->n == sv->cap) {
				sv->cap = sv->cap ? 2 * sv->cap : 8;
				sv->v = xreallocarray(sv->v, sv->cap, sizeof *sv->v);
			}
			sv->v[sv->n++] = st;
		}
		(*n)++;
	} while (c->end - c->p >= 4 && !memcmp(c->p, "  - ", 4));
	return 1;
}

/* 88 characters of canonical base64 for 64 bytes: 85 of the alphabet, one
 * whose low four bits are zero (A, Q, g or w), then "==". */
static int eat_sig(struct cur *c, const char **sig)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int i;

	if (c->end - c->p < SIG_B64_LEN)
		return 0;
	for (i = 0; i < 85; i++)
		if (!c->p[i] || !strchr(alpha, c->p[i]))
			return 0;
	if (!c->p[85] || !strchr("AQgw", c->p[85]) || memcmp(c->p + 86, "==", 2))
		return 0;
	*sig = c->p;
	c->p += SIG_B64_LEN;
	return 1;
}

static int eat_prev(struct cur *c, char prev[65])
{
	int i;

	if (!eat(c, "prev: \"") || c->end - c->p < 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!is_lower_hex(c->p[i]))
			return 0;
	memcpy(prev, c->p, 64);
	prev[64] = '\0';
	c->p += 64;
	return eat(c, "\"") && eat_nl(c);
}

/* Parse the record rec[0..len) (whole lines). On success ent is filled,
 * *msglen is the length of the signed bytes and *sig points at the 88
 * base64 characters. On failure, why says which line is wrong. */
static int parse_record(const char *rec, size_t len, struct audit_entry *ent,
			struct steps *sv, size_t *msglen, const char **sig,
			char *why, size_t whylen)
{
	static const char *const expect[] = {
		"---", "seq", "time", "host", "app", "action", "from", "to",
		"result", "duration_ms", "downtime_ms", "manifest_sha256",
		"steps", "error", "prev", "sig",
	};
	struct audit_str *strs[] = {
		&ent->time, &ent->host, &ent->app, &ent->action, &ent->from,
		&ent->to, &ent->result,
	};
	struct cur c = { rec, rec + len, 1 };
	unsigned what = 0, i;

	memset(ent, 0, sizeof *ent);
	if (sv)
		sv->n = 0;
	if (!(eat(&c, "---") && eat_nl(&c)))
		goto bad;
	what = 1;
	if (!(eat(&c, "seq: ") && eat_seq(&c, &ent->seq) && eat_nl(&c)))
		goto bad;
	for (i = 0; i < 7; i++) {
		what = 2 + i;
		if (!eat_field(&c, expect[what], strs[i]))
			goto bad;
	}
	what = 9;
	if (!eat_int_field(&c, "duration_ms", &ent->duration_ms))
		goto bad;
	what = 10;
	if (!eat_int_field(&c, "downtime_ms", &ent->downtime_ms))
		goto bad;
	what = 11;
	if (!eat_field(&c, "manifest_sha256", &ent->manifest_sha256))
		goto bad;
	what = 12;
	/* An optional server line (records of later versions). */
	if (c.end - c.p >= 8 && !memcmp(c.p, "server: ", 8) &&
	    !eat_field(&c, "server", &ent->server))
		goto bad;
	if (!eat_steps(&c, sv, &ent->nsteps))
		goto bad;
	what = 13;
	if (!eat_field(&c, "error", &ent->error))
		goto bad;
	what = 14;
	if (!eat_prev(&c, ent->prev))
		goto bad;
	what = 15;
	*msglen = (size_t)(c.p - rec);
	if (!(eat(&c, "sig: \"") && eat_sig(&c, sig) && eat(&c, "\"") && eat_nl(&c)))
		goto bad;
	if (c.p != c.end) {
		snprintf(why, whylen, "line %u: text after the sig line", c.line);
		return -1;
	}
	if (sv)
		ent->steps = sv->v;
	return 0;
bad:
	snprintf(why, whylen, "line %u: expected %s%s", c.line,
		 expect[what], what ? ": ..." : "");
	return -1;
}

/* The end of the complete part: just after the last line that starts with
 * "sig: " and ends with "\n" (0 if none). */
static size_t complete_end(const char *d, size_t len)
{
	size_t end = len, start;

	/* An unterminated last line is never complete: skip it. */
	while (end > 0 && d[end - 1] != '\n')
		end--;
	while (end > 0) {
		start = end - 1;
		while (start > 0 && d[start - 1] != '\n')
			start--;
		if (end - start >= 5 && !memcmp(d + start, "sig: ", 5))
			return end;
		end = start;
	}
	return 0;
}

/* Where the record starting at pos ends: at the next line "---", or at
 * end. */
static size_t record_end(const char *d, size_t pos, size_t end)
{
	const char *nl;

	while (pos < end) {
		nl = memchr(d + pos, '\n', end - pos);
		if (!nl)
			return end;
		pos = (size_t)(nl - d) + 1;
		if (end - pos >= 4 && !memcmp(d + pos, "---\n", 4))
			return pos;
	}
	return end;
}

/* True if a record after pos (before end) has "seq: want" as its second
 * line: the missing seq comes later, so the records were reordered. */
static int seq_comes_later(const char *d, size_t pos, size_t end, uint64_t want)
{
	char line[32];
	size_t n = (size_t)snprintf(line, sizeof line, "\nseq: %" PRIu64 "\n", want);

	/* pos is at a record's "---\n": its second line starts at pos + 4. */
	for (; pos < end; pos = record_end(d, pos, end))
		if (end - pos >= 3 + n && !memcmp(d + pos + 3, line, n))
			return 1;
	return 0;
}

static int sig_ok(const struct sign_pub *pub, const char *rec, size_t msglen,
		  const char *b64)
{
	uint8_t sig[SIGN_SIG_LEN];
	struct err e;

	if (b64_decode(b64, SIG_B64_LEN, sig, sizeof sig) != SIGN_SIG_LEN)
		return 0;
	return sign_ed25519_verify(pub, rec, msglen, sig, &e) == 0;
}

/* Record the first failure in rep and e; returns -1. */
static int fail(struct audit_report *rep, struct err *e, uint64_t pos,
		uint64_t seq, const char *kind, const char *fmt, ...)
	UPGR_PRINTF(6, 7);
static int fail(struct audit_report *rep, struct err *e, uint64_t pos,
		uint64_t seq, const char *kind, const char *fmt, ...)
{
	char detail[400], seqs[24] = "?";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (seq)
		snprintf(seqs, sizeof seqs, "%" PRIu64, seq);
	rep->bad_pos = pos;
	rep->bad_seq = seq;
	snprintf(rep->kind, sizeof rep->kind, "%s", kind);
	snprintf(rep->why, sizeof rep->why, "record %" PRIu64 " (seq %s): %s: %s",
		 pos, seqs, kind, detail);
	return err_set(e, EXIT_TRUST, "%s", rep->why);
}

/* The seq rules of FORMAT.md 5.3.2, for a record at pos..end with hash h;
 * prevseq and prevh describe the record before it. */
static int check_seq(const char *d, size_t end, size_t cend, uint64_t k,
		     uint64_t seq, uint64_t prevseq, const uint8_t *h,
		     const uint8_t *prevh, struct audit_report *rep, struct err *e)
{
	uint64_t want = prevseq + 1;

	if (seq == want)
		return 0;
	if (seq == prevseq && !memcmp(h, prevh, SHA256_LEN))
		return fail(rep, e, k, seq, "duplicated",
			    "the same bytes as the record before it");
	if (seq == prevseq)
		return fail(rep, e, k, seq, "inserted",
			    "a second record with seq %" PRIu64, seq);
	if (seq < prevseq)
		return fail(rep, e, k, seq, "reordered",
			    "seq goes down from %" PRIu64, prevseq);
	if (seq_comes_later(d, end, cend, want))
		return fail(rep, e, k, seq, "reordered",
			    "seq %" PRIu64 " expected, it comes later", want);
	return fail(rep, e, k, seq, "removed",
		    "seq jumps from %" PRIu64 " to %" PRIu64
		    " (records %" PRIu64 "..%" PRIu64 " are missing)",
		    prevseq, seq, want, seq - 1);
}

int audit_verify_mem(const char *d, size_t len, const struct sign_pub *pub,
		     bool every_sig, struct audit_report *rep, struct err *e)
{
	size_t cend = complete_end(d, len), pos = 0, end, msglen;
	uint8_t h[SHA256_LEN], prevh[SHA256_LEN];
	struct audit_entry ent;
	uint64_t k = 0, prevseq = 0;
	const char *sig;
	char why[128], hex[65];

	memset(rep, 0, sizeof *rep);
	memcpy(rep->head, AUDIT_GENESIS_HEX, 65);
	sha256_buf(AUDIT_GENESIS_TEXT, strlen(AUDIT_GENESIS_TEXT), prevh);
	for (; pos < cend; pos = end) {
		end = record_end(d, pos, cend);
		k++;
		if (parse_record(d + pos, end - pos, &ent, NULL, &msglen, &sig,
				 why, sizeof why) < 0)
			return fail(rep, e, k, 0, "malformed", "%s", why);
		sha256_buf(d + pos, end - pos, h);
		if (check_seq(d, end, cend, k, ent.seq, prevseq, h, prevh, rep, e) < 0)
			return -1;
		if (strcmp(ent.prev, rep->head) && k == 1)
			return fail(rep, e, k, ent.seq, "edited or inserted",
				    "prev is not the genesis value");
		if (strcmp(ent.prev, rep->head))
			return fail(rep, e, k, ent.seq, "edited or inserted",
				    "prev is not the hash of record %" PRIu64
				    " (that record was edited, or this one inserted)",
				    k - 1);
		if ((every_sig || end == cend) && !sig_ok(pub, d + pos, msglen, sig))
			return fail(rep, e, k, ent.seq, "bad signature",
				    "edited, or not signed by the device key");
		hex_encode(h, SHA256_LEN, hex);
		memcpy(rep->head, hex, 65);
		memcpy(prevh, h, SHA256_LEN);
		prevseq = ent.seq;
		rep->records = k;
		rep->size = end;
	}
	if (cend < len) {
		rep->torn_at = cend;
		return fail(rep, e, k + 1, 0, "torn",
			    "the log ends in a torn record at byte %zu "
			    "(%zu bytes of an incomplete append)", cend, len - cend);
	}
	return 0;
}

int audit_parse(const char *d, size_t len,
		int (*fn)(const struct audit_entry *ent, void *arg), void *arg,
		bool *torn, struct err *e)
{
	size_t cend = complete_end(d, len), pos = 0, end, msglen;
	struct steps sv = { NULL, 0, 0 };
	struct audit_entry ent;
	uint64_t k = 0;
	const char *sig;
	char why[128];
	int rc = 0;

	if (torn)
		*torn = cend < len;
	for (; pos < cend && !rc; pos = end) {
		end = record_end(d, pos, cend);
		k++;
		if (parse_record(d + pos, end - pos, &ent, &sv, &msglen, &sig,
				 why, sizeof why) < 0) {
			rc = err_set(e, EXIT_DATAERR, "record %" PRIu64
				     " (at byte %zu): malformed: %s", k, pos, why);
			break;
		}
		rc = fn(&ent, arg);
	}
	free(sv.v);
	return rc;
}

static int hexval(char ch)
{
	return is_digit(ch) ? ch - '0' : ch - 'a' + 10;
}

/* Append code point cp as UTF-8. */
static void add_utf8(struct buf *out, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		buf_add(out, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(out, u, 2);
	} else {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(out, u, 3);
	}
}

void audit_unquote(struct audit_str s, struct buf *out)
{
	const char *p = s.p + 1, *end = s.p + s.n - 1;
	unsigned cp;

	buf_grow(out, s.n);
	while (p < end) {
		if (*p != '\\') {
			buf_add(out, p++, 1);
			continue;
		}
		p++;
		switch (*p) {
		case 'n': buf_adds(out, "\n"); p++; break;
		case 'r': buf_adds(out, "\r"); p++; break;
		case 't': buf_adds(out, "\t"); p++; break;
		case 'u':
			cp = (unsigned)(hexval(p[1]) << 12 | hexval(p[2]) << 8 |
					hexval(p[3]) << 4 | hexval(p[4]));
			add_utf8(out, cp);
			p += 5;
			break;
		default: buf_add(out, p++, 1); break;
		}
	}
}

/* The start of the last line "---" before end, or -1 if d does not
 * show one (with base > 0, a "---" at d[0] may not start a line). */
static long last_record_start(const char *d, size_t end, uint64_t base)
{
	size_t p = end;

	while (p > 0) {
		p--;
		if (end - p < 4 || memcmp(d + p, "---\n", 4))
			continue;
		if (p > 0 ? d[p - 1] == '\n' : base == 0)
			return (long)p;
	}
	return base == 0 ? 0 : -1;
}

int audit_tail(const char *d, size_t len, uint64_t base,
	       const struct sign_pub *pub, uint64_t *seq, char head[65],
	       uint64_t *whole, struct err *e)
{
	size_t cend = complete_end(d, len), msglen;
	uint8_t h[SHA256_LEN];
	struct audit_entry ent;
	const char *sig;
	char why[128];
	long start;

	*seq = 0;
	memcpy(head, AUDIT_GENESIS_HEX, 65);
	if (whole)
		*whole = base + cend;
	if (len == 0 && base == 0)
		return 0;
	if (cend == 0 && base > 0)
		return 1;
	if (cend < len && !whole)
		return err_set(e, EXIT_SOFTWARE,
			       "ends in a torn record at byte %" PRIu64 ": %zu bytes "
			       "of an append that did not complete (a crash?); the "
			       "next append moves them aside (audit/FORMAT.md 7)",
			       base + cend, len - cend);
	if (cend == 0)
		return 0;
	start = last_record_start(d, cend, base);
	if (start < 0)
		return 1;
	if (parse_record(d + start, cend - (size_t)start, &ent, NULL, &msglen,
			 &sig, why, sizeof why) < 0)
		return err_set(e, EXIT_SOFTWARE,
			       "ends in a malformed record at byte %" PRIu64 ": %s",
			       base + (uint64_t)start, why);
	if (!sig_ok(pub, d + start, msglen, sig))
		return err_set(e, EXIT_TRUST,
			       "last record (seq %" PRIu64 ") has a bad signature: "
			       "edited, or signed by another key; refusing to extend it",
			       ent.seq);
	sha256_buf(d + start, cend - (size_t)start, h);
	hex_encode(h, SHA256_LEN, head);
	*seq = ent.seq;
	return 0;
}
