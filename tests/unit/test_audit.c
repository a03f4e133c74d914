/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the audit log (audit/FORMAT.md). Appends, quoting, every
 * kind of tampering named by audit_verify, a flip of every byte, a torn
 * last record moved aside by the next append, appends refused after a
 * forged record, a device key's lost public half, and the upload
 * checkpoint.
 *
 * The binary is also the test suites' log generator (the shell tests and
 * audit/example/regen.sh write logs through the real audit_append):
 *   test_audit --gen LOG DEVICE.key N      append N varied records
 *   test_audit --checkpoint LOG DEVICE.key COPY
 *                                          audit_checkpoint's upload, as
 *                                          COPY and COPY.minisig
 * and the benchmark's (tests/bench/audit.sh):
 *   test_audit --bench LOG DEVICE.key N [all]
 *                                          write an N-record log in one go
 *                                          (only the newest signature real
 *                                          unless "all"), then time
 *                                          audit_verify in-process */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "sign.h"
#include "xalloc.h"

static char dir[64];
static char *keypath, *logpath;
static struct sign_key key;
static struct sign_pub pub;

/* The n-th of a few kinds of record: a success, a rolled-back upgrade with
 * a failing step's output, a refusal, and values that need escaping. */
static void gen_record(unsigned n, struct audit_rec *r, struct audit_step st[3])
{
	static const char *const hosts[] = { "web-17", "db-\"2\"", "h\xc3\xa9te" };

	memset(r, 0, sizeof *r);
	r->host = hosts[n % 3];
	r->app = "hello";
	r->manifest_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	r->error = "";
	st[0] = (struct audit_step){ "stop", "bin/hello-ctl stop", 0, 30, NULL };
	st[1] = (struct audit_step){ "start", "bin/hello-ctl start", 0, 12, NULL };
	st[2] = (struct audit_step){ "health", "bin/hello-ctl status\t# probe", 1, 10,
				     "not listening\nport 8080: \x1b[31mrefused\x7f\n" };
	switch (n % 5) {
	case 0:
		r->action = "upgrade"; r->from = "1.1.0"; r->to = "1.2.0";
		r->result = "success"; r->duration_ms = 1534; r->downtime_ms = 42;
		r->steps = st; r->nsteps = 2;
		break;
	case 1:
		r->action = "upgrade"; r->from = "1.2.0"; r->to = "1.3.0";
		r->result = "rolled-back"; r->duration_ms = 2210; r->downtime_ms = 80;
		r->steps = st; r->nsteps = 3;
		r->error = "health check failed: bin/hello-ctl status exited 1";
		break;
	case 2:
		r->action = "refuse"; r->from = "1.2.0"; r->to = "";
		r->result = "refused"; r->manifest_sha256 = "";
		r->error = "channel stable: signature by an untrusted key (\\ \"quoted\")";
		break;
	case 4:
		/* Every kind of byte a value may hold: controls, DEL, a C1
		 * control, U+FFFE, invalid UTF-8, a 4-byte sequence. */
		r->action = "recover"; r->from = "1.3.0"; r->to = "1.3.0";
		r->result = "failed"; r->duration_ms = 7; r->downtime_ms = -1;
		r->error = "bytes: \x01\x7f\xc2\x85\xef\xbf\xbe\xff\xf0\x9f\x98\x80 # not: a comment\r\n- [x]";
		break;
	default:
		r->action = "install"; r->from = ""; r->to = "2.0.0-rc.1";
		r->result = "success"; r->duration_ms = 99; r->downtime_ms = 0;
		r->steps = st + 1; r->nsteps = 1;
		break;
	}
}

static int gen(const char *log, const char *kpath, unsigned n)
{
	struct audit_step st[3];
	struct audit_rec r;
	struct sign_key k;
	struct err e;
	unsigned i;

	if (audit_device_key(kpath, &k, &e) < 0) {
		fprintf(stderr, "gen: %s\n", e.msg);
		return 1;
	}
	for (i = 0; i < n; i++) {
		gen_record(i, &r, st);
		if (audit_append(log, &k, &r, &e) < 0) {
			fprintf(stderr, "gen: %s\n", e.msg);
			return 1;
		}
	}
	sign_key_wipe(&k);
	return 0;
}

/* --checkpoint: what the agent uploads, from audit_checkpoint: the log's
 * bytes to copy and its signature to copy.minisig. */
static int checkpoint(const char *log, const char *kpath, const char *copy)
{
	struct buf data = BUF_INIT, sig = BUF_INIT;
	char *sigpath = xasprintf("%s.minisig", copy);
	struct sign_key k;
	struct err e;
	int rc;

	if (audit_device_key(kpath, &k, &e) == 0 &&
	    audit_checkpoint(log, &k, &data, &sig, &e) == 0 &&
	    fs_write_atomic(copy, data.data, data.len, 0644, &e) == 0 &&
	    fs_write_atomic(sigpath, sig.data, sig.len, 0644, &e) == 0) {
		rc = 0;
	} else {
		fprintf(stderr, "checkpoint: %s\n", e.msg);
		rc = e.code;
	}
	sign_key_wipe(&k);
	free(sigpath);
	buf_release(&data);
	buf_release(&sig);
	return rc;
}

/* --bench: n records written with one write each, every signature but the
 * newest a placeholder (the default verify checks only the newest). */
static int bench(const char *log, const char *kpath, unsigned long n, bool all)
{
	static const char fake[] = "sig: \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"\n";
	char prev[65] = AUDIT_GENESIS_HEX, time_[32];
	struct buf out = BUF_INIT;
	struct audit_report rep;
	struct audit_step st[3];
	struct audit_rec r;
	struct timespec t0, t1;
	uint8_t h[SHA256_LEN];
	unsigned long i;
	size_t start;
	struct err e;
	double s;

	if (audit_device_key(kpath, &key, &e) < 0)
		return fprintf(stderr, "bench: %s\n", e.msg), 1;
	sign_key_public(&key, &pub);
	for (i = 1; i <= n; i++) {
		gen_record((unsigned)i, &r, st);
		snprintf(time_, sizeof time_, "2026-11-24T02:%02lu:%02lu.%03luZ",
			 i / 60000 % 60, i / 1000 % 60, i % 1000);
		start = out.len;
		if (audit_format(&r, i, time_, prev, i == n || all ? &key : NULL,
				 &out, &e) < 0)
			return fprintf(stderr, "bench: %s\n", e.msg), 1;
		if (i < n && !all)
			buf_adds(&out, fake);
		sha256_buf(out.data + start, out.len - start, h);
		hex_encode(h, SHA256_LEN, prev);
	}
	if (fs_write_atomic(log, out.data, out.len, 0644, &e) < 0)
		return fprintf(stderr, "bench: %s\n", e.msg), 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (audit_verify(log, &pub, all, &rep, &e) < 0)
		return fprintf(stderr, "bench: %s\n", e.msg), 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("audit_verify%s: %" PRIu64 " records, %zu bytes, %.3f s\n",
	       all ? " (every signature)" : "", rep.records, out.len, s);
	buf_release(&out);
	sign_key_wipe(&key);
	return 0;
}

static int setup(void **state)
{
	struct err e;

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/upgr-audit.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	keypath = fs_join(dir, "etc/device.key");
	logpath = fs_join(dir, "audit.log");
	if (audit_device_key(keypath, &key, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	sign_key_public(&key, &pub);
	return 0;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	fs_remove_tree(dir, &e);
	free(keypath);
	free(logpath);
	sign_key_wipe(&key);
	return 0;
}

/* A fresh log of n records at logpath. */
static void fresh_log(unsigned n)
{
	unlink(logpath);
	assert_int_equal(gen(logpath, keypath, n), 0);
}

static void read_log(struct buf *b)
{
	struct err e;

	assert_int_equal(fs_read_file(logpath, 1 << 24, b, &e), 0);
}

static void write_log(const struct buf *b)
{
	struct err e;

	assert_int_equal(fs_write_atomic(logpath, b->data ? b->data : "", b->len,
					 0640, &e), 0);
}

/* The records of a log: offsets of each "---" line, and the end. */
static size_t split(const struct buf *b, size_t *off, size_t max)
{
	size_t n = 0, i;

	for (i = 0; i + 4 <= b->len && n < max; i++)
		if ((i == 0 || b->data[i - 1] == '\n') && !memcmp(b->data + i, "---\n", 4))
			off[n++] = i;
	off[n] = b->len;
	return n;
}

static int verify(bool every, struct audit_report *rep)
{
	struct err e;

	return audit_verify(logpath, &pub, every, rep, &e);
}

static void test_device_key(void **state)
{
	struct stat st;
	char *pubpath = fs_join(dir, "etc/device.pub");
	struct sign_pub p2;
	struct sign_key k2;
	struct err e;

	(void)state;
	assert_int_equal(stat(keypath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sign_pub_load(pubpath, &p2, &e), 0);
	assert_memory_equal(p2.pk, pub.pk, SIGN_PK_LEN);
	/* Second use loads the same key. */
	assert_int_equal(audit_device_key(keypath, &k2, &e), 0);
	assert_memory_equal(k2.sk, key.sk, SIGN_SK_LEN);
	sign_key_wipe(&k2);
	/* A crash between the two files of a first use leaves the key
	 * alone: the next use derives its public half again. */
	assert_int_equal(unlink(pubpath), 0);
	assert_int_equal(audit_device_key(keypath, &k2, &e), 0);
	sign_key_wipe(&k2);
	assert_int_equal(sign_pub_load(pubpath, &p2, &e), 0);
	assert_memory_equal(p2.pk, pub.pk, SIGN_PK_LEN);
	assert_int_equal(stat(pubpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(audit_device_key("/tmp/nosuffix", &k2, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	free(pubpath);
}

static void test_append_verify(void **state)
{
	struct audit_report rep;
	struct buf b = BUF_INIT;
	uint8_t h[SHA256_LEN];
	size_t off[16];
	char hex[65];
	struct stat st;

	(void)state;
	fresh_log(6);
	assert_int_equal(stat(logpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(verify(false, &rep), 0);
	assert_int_equal(rep.records, 6);
	assert_string_equal(rep.why, "");
	assert_int_equal(verify(true, &rep), 0);
	read_log(&b);
	assert_int_equal(split(&b, off, 15), 6);
	sha256_buf(b.data + off[5], off[6] - off[5], h);
	hex_encode(h, SHA256_LEN, hex);
	assert_string_equal(rep.head, hex);
	/* The first record chains to the genesis value. */
	assert_non_null(strstr(b.data, "prev: \"" AUDIT_GENESIS_HEX "\"\n"));
	sha256_buf(AUDIT_GENESIS_TEXT, strlen(AUDIT_GENESIS_TEXT), h);
	hex_encode(h, SHA256_LEN, hex);
	assert_string_equal(hex, AUDIT_GENESIS_HEX);
	assert_non_null(strstr(b.data, "\nseq: 6\n"));
	buf_release(&b);
}

static void test_empty_log(void **state)
{
	struct audit_report rep;
	int fd;

	(void)state;
	unlink(logpath);
	fd = open(logpath, O_WRONLY | O_CREAT, 0640);
	close(fd);
	assert_int_equal(verify(true, &rep), 0);
	assert_int_equal(rep.records, 0);
	assert_string_equal(rep.head, AUDIT_GENESIS_HEX);
}

static void test_quoting(void **state)
{
	struct audit_rec r = { 0 };
	struct audit_step st = { "health", "x", 1, 5, NULL };
	struct buf out = BUF_INIT, big = BUF_INIT;
	struct err e;
	int i;

	(void)state;
	r.host = "a\"b\\c\nd\re\tf\x01g\x7fh\xc3\xa9i\xc2\x85j\xef\xbf\xbek\xffl\xed\xa0\x80m\xf0\x9f\x98\x80";
	r.app = r.action = r.from = r.to = r.result = r.manifest_sha256 = r.error = "";
	assert_int_equal(audit_format(&r, 1, "T", AUDIT_GENESIS_HEX, NULL, &out, &e), 0);
	assert_non_null(strstr(out.data,
		"host: \"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007fh\xc3\xa9i\\u0085j\\ufffek"
		"\\ufffdl\\ufffd\\ufffd\\ufffdm\xf0\x9f\x98\x80\"\n"));
	assert_non_null(strstr(out.data, "steps: []\nerror: \"\"\nprev: \""));
	/* Without a key the text stops before the sig line. */
	assert_null(strstr(out.data, "sig:"));
	/* A failing step's output: its first 20 lines; any string: 4096 bytes. */
	for (i = 0; i < 30; i++)
		buf_addf(&big, "line %d\n", i);
	st.output = big.data;
	r.steps = &st;
	r.nsteps = 1;
	buf_reset(&out);
	assert_int_equal(audit_format(&r, 2, "T", AUDIT_GENESIS_HEX, &key, &out, &e), 0);
	assert_non_null(strstr(out.data, "line 19\\n\" }\n"));
	assert_null(strstr(out.data, "line 20"));
	r.nsteps = 0;
	buf_reset(&big);
	for (i = 0; i < 5000; i++)
		buf_adds(&big, "\xc3\xa9");
	r.error = big.data;
	buf_reset(&out);
	assert_int_equal(audit_format(&r, 2, "T", AUDIT_GENESIS_HEX, &key, &out, &e), 0);
	assert_non_null(strstr(out.data, "error: \""));
	assert_true(strstr(strstr(out.data, "error: \""), "\"\nprev") -
		    strstr(out.data, "error: \"") == 8 + 4096);
	buf_release(&out);
	buf_release(&big);
}

struct collect {
	unsigned n;
	struct buf host, output;
};

static int collect(const struct audit_entry *ent, void *arg)
{
	struct collect *c = arg;
	size_t i;

	c->n++;
	if (ent->seq == 2) {
		audit_unquote(ent->host, &c->host);
		for (i = 0; i < ent->nsteps; i++)
			if (ent->steps[i].output.p)
				audit_unquote(ent->steps[i].output, &c->output);
	}
	return 0;
}

static void test_parse_roundtrip(void **state)
{
	struct collect c = { 0, BUF_INIT, BUF_INIT };
	struct buf b = BUF_INIT;
	struct err e;
	bool torn;

	(void)state;
	fresh_log(4);
	read_log(&b);
	assert_int_equal(audit_parse(b.data, b.len, collect, &c, &torn, &e), 0);
	assert_false(torn);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.host.data, "db-\"2\"");
	assert_string_equal(c.output.data, "not listening\nport 8080: \x1b[31mrefused\x7f\n");
	buf_release(&b);
	buf_release(&c.host);
	buf_release(&c.output);
}

/* Tampering: build a copy of a 6-record log from its records in the given
 * order (1-based; 0 ends), verify, and check the named record and kind. */
static void expect_bad(const struct buf *b, const size_t *off, const int *order,
		       bool every, uint64_t pos, const char *kind)
{
	struct buf t = BUF_INIT;
	struct audit_report rep;
	int i;

	for (i = 0; order[i]; i++)
		buf_add(&t, b->data + off[order[i] - 1], off[order[i]] - off[order[i] - 1]);
	write_log(&t);
	assert_int_equal(verify(every, &rep), -1);
	if (rep.bad_pos != pos || strcmp(rep.kind, kind))
		fail_msg("want record %" PRIu64 " %s, got %s", pos, kind, rep.why);
	buf_release(&t);
}

static void test_tampering(void **state)
{
	static const int removed_first[] = { 2, 3, 4, 5, 6, 0 };
	static const int removed_mid[] = { 1, 2, 4, 5, 6, 0 };
	static const int swapped[] = { 1, 3, 2, 4, 5, 6, 0 };
	static const int moved_late[] = { 1, 2, 4, 5, 6, 3, 0 };
	static const int dup[] = { 1, 2, 3, 3, 4, 5, 6, 0 };
	static const int removed_last[] = { 1, 2, 3, 4, 5, 0 };
	struct buf b = BUF_INIT;
	struct audit_report rep;
	size_t off[16];

	(void)state;
	fresh_log(6);
	read_log(&b);
	assert_int_equal(split(&b, off, 15), 6);
	expect_bad(&b, off, removed_first, false, 1, "removed");
	expect_bad(&b, off, removed_mid, true, 3, "removed");
	expect_bad(&b, off, swapped, false, 2, "reordered");
	expect_bad(&b, off, moved_late, false, 3, "reordered");
	expect_bad(&b, off, dup, true, 4, "duplicated");
	/* Removing the last records leaves a log that verifies: only a
	 * checkpoint shows it (test_checkpoint). */
	{
		struct buf t = BUF_INIT;

		buf_add(&t, b.data, off[5]);
		write_log(&t);
		assert_int_equal(verify(true, &rep), 0);
		assert_int_equal(rep.records, 5);
		buf_release(&t);
		(void)removed_last;
	}
	buf_release(&b);
}

/* An edited field: default names the next record (its prev), every
 * signature names the record itself. Editing the last one: its signature. */
static void test_edited(void **state)
{
	struct buf b = BUF_INIT;
	struct audit_report rep;
	char *p;

	(void)state;
	fresh_log(6);
	read_log(&b);
	p = strstr(b.data, "\nseq: 3\n");
	p = strstr(p, "duration_ms: ");
	p[13] = p[13] == '9' ? '8' : '9';
	write_log(&b);
	assert_int_equal(verify(false, &rep), -1);
	assert_int_equal(rep.bad_pos, 4);
	assert_string_equal(rep.kind, "edited or inserted");
	assert_int_equal(verify(true, &rep), -1);
	assert_int_equal(rep.bad_pos, 3);
	assert_int_equal(rep.bad_seq, 3);
	assert_string_equal(rep.kind, "bad signature");
	assert_non_null(strstr(rep.why, "record 3 (seq 3): bad signature"));
	buf_release(&b);

	fresh_log(6);
	read_log(&b);
	p = strstr(b.data, "\nseq: 6\n");
	p = strstr(p, "app: \"hello\"");
	p[6] = 'j';
	write_log(&b);
	assert_int_equal(verify(false, &rep), -1);
	assert_int_equal(rep.bad_pos, 6);
	assert_string_equal(rep.kind, "bad signature");
	buf_release(&b);
}

/* Someone without the device key appends (or inserts) a well-chained
 * record signed with another key. */
static void test_inserted(void **state)
{
	struct audit_rec r;
	struct audit_step st[3];
	struct buf b = BUF_INIT, rec = BUF_INIT, t = BUF_INIT;
	struct audit_report rep;
	struct sign_key other;
	char *okey = fs_join(dir, "other.key");
	size_t off[16];
	struct err e;

	(void)state;
	assert_int_equal(audit_device_key(okey, &other, &e), 0);
	fresh_log(4);
	assert_int_equal(verify(false, &rep), 0);
	gen_record(1, &r, st);
	r.result = "success";
	assert_int_equal(audit_format(&r, 5, "2026-11-24T02:00:03.123Z", rep.head,
				      &other, &rec, &e), 0);
	read_log(&b);
	buf_add(&b, rec.data, rec.len);
	write_log(&b);
	assert_int_equal(verify(false, &rep), -1);
	assert_int_equal(rep.bad_pos, 5);
	assert_string_equal(rep.kind, "bad signature");
	/* upgr refuses to extend a record it did not sign. */
	gen_record(0, &r, st);
	assert_int_equal(audit_append(logpath, &key, &r, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_non_null(strstr(e.msg, "bad signature"));

	/* Inserted in the middle, chained to record 2: the old record 3 no
	 * longer chains (default), or the insert's signature fails (every). */
	fresh_log(4);
	read_log(&b);
	assert_int_equal(split(&b, off, 15), 4);
	{
		uint8_t h[SHA256_LEN];
		char hex[65];

		sha256_buf(b.data + off[1], off[2] - off[1], h);
		hex_encode(h, SHA256_LEN, hex);
		buf_reset(&rec);
		assert_int_equal(audit_format(&r, 3, "2026-11-24T02:00:03.123Z", hex,
					      &other, &rec, &e), 0);
	}
	buf_add(&t, b.data, off[2]);
	buf_add(&t, rec.data, rec.len);
	buf_add(&t, b.data + off[2], b.len - off[2]);
	write_log(&t);
	assert_int_equal(verify(false, &rep), -1);
	assert_int_equal(rep.bad_pos, 4);
	assert_string_equal(rep.kind, "inserted");
	assert_int_equal(verify(true, &rep), -1);
	assert_int_equal(rep.bad_pos, 3);
	assert_string_equal(rep.kind, "bad signature");
	sign_key_wipe(&other);
	free(okey);
	buf_release(&b);
	buf_release(&t);
	buf_release(&rec);
}

/* The torn bytes moved aside must be cut..end of b, mode 0600. */
static void check_torn_file(const struct buf *b, size_t at)
{
	char *torn = xasprintf("%s.torn-1", logpath);
	struct buf t = BUF_INIT;
	struct stat st;
	struct err e;

	assert_int_equal(fs_read_file(torn, 1 << 24, &t, &e), 0);
	assert_int_equal(t.len, b->len - at);
	assert_memory_equal(t.data, b->data + at, t.len);
	assert_int_equal(stat(torn, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(torn);
	free(torn);
	buf_release(&t);
}

/* A crash in the middle of an append: the log ends in a prefix of a
 * record. Verify names it; the next append moves the torn bytes to
 * LOG.torn-1, keeps every whole record as it was, and says so in a record
 * of its own before the new one. */
static void test_torn(void **state)
{
	struct buf b = BUF_INIT, after = BUF_INIT;
	struct audit_report rep;
	struct audit_step st[3];
	struct audit_rec r;
	size_t off[16], cut;
	struct err e;
	char want[160];

	(void)state;
	fresh_log(3);
	read_log(&b);
	assert_int_equal(split(&b, off, 15), 3);
	for (cut = off[2] + 1; cut < b.len; cut += 37) {
		struct buf t = BUF_INIT;

		buf_add(&t, b.data, cut);
		write_log(&t);
		assert_int_equal(verify(false, &rep), -1);
		assert_string_equal(rep.kind, "torn");
		assert_int_equal(rep.torn_at, off[2]);
		assert_int_equal(rep.records, 2);
		gen_record(0, &r, st);
		assert_int_equal(audit_append(logpath, &key, &r, &e), 0);
		assert_int_equal(verify(true, &rep), 0);
		assert_int_equal(rep.records, 4);
		read_log(&after);
		assert_memory_equal(after.data, b.data, off[2]);
		snprintf(want, sizeof want, "seq: 3\n");
		assert_memory_equal(after.data + off[2] + 4, want, strlen(want));
		snprintf(want, sizeof want, "action: \"repair\"\n");
		assert_non_null(strstr(after.data + off[2], want));
		snprintf(want, sizeof want, "error: \"torn append: the %zu bytes "
			 "after byte %zu (sha256 ", cut - off[2], off[2]);
		assert_non_null(strstr(after.data + off[2], want));
		check_torn_file(&t, off[2]);
		buf_release(&t);
	}
	/* Cut exactly after a record: that is a shorter, intact log. */
	{
		struct buf t = BUF_INIT;

		buf_add(&t, b.data, off[2]);
		write_log(&t);
		assert_int_equal(verify(true, &rep), 0);
		gen_record(0, &r, st);
		assert_int_equal(audit_append(logpath, &key, &r, &e), 0);
		assert_int_equal(verify(true, &rep), 0);
		assert_int_equal(rep.records, 3);
		buf_release(&t);
	}
	/* A first record torn: the whole file moves aside, seq starts at 1. */
	{
		struct buf t = BUF_INIT;

		buf_add(&t, b.data, off[1] - 10);
		write_log(&t);
		gen_record(0, &r, st);
		assert_int_equal(audit_append(logpath, &key, &r, &e), 0);
		assert_int_equal(verify(true, &rep), 0);
		assert_int_equal(rep.records, 2);
		check_torn_file(&t, 0);
		buf_release(&t);
	}
	buf_release(&b);
	buf_release(&after);
}

/* A flip of every byte of a 2-record log must fail, in both modes. */
static void test_flip_every_byte(void **state)
{
	struct buf b = BUF_INIT, t = BUF_INIT;
	struct audit_report rep;
	size_t i;
	int bit;

	(void)state;
	fresh_log(2);
	read_log(&b);
	for (i = 0; i < b.len; i++) {
		for (bit = 0; bit < 3; bit++) {
			buf_reset(&t);
			buf_add(&t, b.data, b.len);
			/* The lowest bit, the case bit, and all bits at once. */
			t.data[i] ^= (char)(bit == 0 ? 0x01 : bit == 1 ? 0x20 : 0xff);
			if (audit_verify_mem(t.data, t.len, &pub, false, &rep, NULL) == 0)
				fail_msg("flip of byte %zu bit %d verifies", i, bit);
			if (audit_verify_mem(t.data, t.len, &pub, true, &rep, NULL) == 0)
				fail_msg("flip of byte %zu bit %d verifies (every)", i, bit);
		}
	}
	buf_release(&b);
	buf_release(&t);
}

static void test_checkpoint(void **state)
{
	struct buf log = BUF_INIT, sig = BUF_INIT, cut = BUF_INIT;
	struct audit_step st[3];
	struct audit_rec r;
	char *comment = NULL, want[128];
	struct audit_report rep;
	size_t off[16];
	struct err e;

	(void)state;
	fresh_log(3);
	assert_int_equal(audit_checkpoint(logpath, &key, &log, &sig, &e), 0);
	assert_int_equal(sign_verify(&pub, 1, log.data, log.len, sig.data, sig.len,
				     &comment, &e), 0);
	assert_int_equal(verify(false, &rep), 0);
	snprintf(want, sizeof want, "upgr audit checkpoint seq:3 head:%s", rep.head);
	assert_string_equal(comment, want);
	/* The log as uploaded extends it; so does a longer one. */
	assert_int_equal(audit_extends(logpath, log.data, log.len, &e), 0);
	gen_record(0, &r, st);
	assert_int_equal(audit_append(logpath, &key, &r, &e), 0);
	assert_int_equal(audit_extends(logpath, log.data, log.len, &e), 0);
	/* Cut after the upload: verifies, but does not extend it. */
	assert_int_equal(split(&log, off, 15), 3);
	buf_add(&cut, log.data, off[2]);
	write_log(&cut);
	assert_int_equal(verify(true, &rep), 0);
	assert_int_equal(audit_extends(logpath, log.data, log.len, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_non_null(strstr(e.msg, "was cut"));
	/* Rewritten: cut, then appended anew. */
	assert_int_equal(audit_append(logpath, &key, &r, &e), 0);
	assert_int_equal(audit_append(logpath, &key, &r, &e), 0);
	assert_int_equal(audit_extends(logpath, log.data, log.len, &e), -1);
	assert_non_null(strstr(e.msg, "rewritten"));
	/* A missing log: an empty checkpoint. */
	unlink(logpath);
	assert_int_equal(audit_checkpoint(logpath, &key, &log, &sig, &e), 0);
	assert_int_equal(log.len, 0);
	free(comment);
	buf_release(&log);
	buf_release(&sig);
	buf_release(&cut);
}

/* Appends from several processes at once stay one chain (the lock). */
static void test_concurrent_appends(void **state)
{
	struct audit_report rep;
	struct audit_step st[3];
	struct audit_rec r;
	struct err e;
	pid_t pid[4];
	int i, j, status;

	(void)state;
	unlink(logpath);
	for (i = 0; i < 4; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			for (j = 0; j < 10; j++) {
				gen_record((unsigned)j, &r, st);
				if (audit_append(logpath, &key, &r, &e) < 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(verify(true, &rep), 0);
	assert_int_equal(rep.records, 40);
}

/* A short write (here the file size limit, as a full disk would): the
 * partial record is taken back, the log stays intact. */
static void test_short_write(void **state)
{
	struct audit_report rep;
	struct audit_step st[3];
	struct audit_rec r;
	struct rlimit rl;
	struct stat sb;
	struct err e;
	pid_t pid;
	int status;

	(void)state;
	fresh_log(2);
	assert_int_equal(stat(logpath, &sb), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = (rlim_t)sb.st_size + 100;
		setrlimit(RLIMIT_FSIZE, &rl);
		gen_record(1, &r, st);
		if (audit_append(logpath, &key, &r, &e) == 0)
			_exit(1);
		_exit(strstr(e.msg, "(nothing appended)") ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(verify(true, &rep), 0);
	assert_int_equal(rep.records, 2);
	gen_record(1, &r, st);
	assert_int_equal(audit_append(logpath, &key, &r, &e), 0);
	assert_int_equal(verify(true, &rep), 0);
	assert_int_equal(rep.records, 3);
}

/* A log in a directory that does not exist yet: made, 0750. */
static void test_log_dir_created(void **state)
{
	char *path = fs_join(dir, "var/log/upgr/audit.log");
	char *d = fs_join(dir, "var/log/upgr");
	struct audit_step st[3];
	struct audit_rec r;
	struct stat sb;
	struct err e;

	(void)state;
	gen_record(0, &r, st);
	assert_int_equal(audit_append(path, &key, &r, &e), 0);
	assert_int_equal(stat(d, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);
	free(path);
	free(d);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_key),
		cmocka_unit_test(test_append_verify),
		cmocka_unit_test(test_empty_log),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_parse_roundtrip),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_edited),
		cmocka_unit_test(test_inserted),
		cmocka_unit_test(test_torn),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_concurrent_appends),
		cmocka_unit_test(test_log_dir_created),
		cmocka_unit_test(test_short_write),
	};

	if (argc == 5 && !strcmp(argv[1], "--gen"))
		return gen(argv[2], argv[3], (unsigned)strtoul(argv[4], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "--checkpoint"))
		return checkpoint(argv[2], argv[3], argv[4]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "--bench"))
		return bench(argv[2], argv[3], strtoul(argv[4], NULL, 10),
			     argc == 6 && !strcmp(argv[5], "all"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
