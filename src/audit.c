/* SPDX-License-Identifier: Apache-2.0 */
/* Writing the audit log: one signed, chained record per transaction or
 * refusal (audit/FORMAT.md), the device key, and what the agent uploads.
 *
 * Invariants an append keeps:
 *  1. The last record is complete and its signature verifies with the
 *     device key before a new record is chained to it (audit_tail), so one
 *     valid signature on the newest record authenticates the whole chain.
 *  2. A record reaches the file in one write(2) with O_APPEND, then fsync,
 *     under an fcntl write lock, so concurrent writers cannot interleave
 *     and a crash leaves at most one torn record at the end.
 *  3. A torn record is never dropped: the next append moves its bytes to
 *     LOG.torn-N (durably, first), then replaces the log in one rename by
 *     its whole records, a signed "repair" record naming the torn file,
 *     its size and SHA-256, and the new record (repair_torn, FORMAT.md
 *     section 7). Every crash leaves the torn tail in the log or a log
 *     that names where it went.
 *  4. Every directory entry an append or the device key makes (the log,
 *     its directory and those above made for it, torn files, the key
 *     files) is fsynced in its directory before the append reports done.
 * Readers (audit_verify, audit_checkpoint, audit_extends) take a read lock,
 * so they never see an append half done, and open the log again when it
 * was replaced while they waited; the checks on the bytes live in
 * audit_verify.c. */
#include "audit.h"
#include "fsutil.h"
#include "hash.h"
#include "utc.h"
#include "xalloc.h"
#include "ydoc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STR_MAX 4096             /* bytes of any one string value */
#define OUTPUT_LINES 20          /* lines of a failing step's output */
#define INT_LIMIT 999999999999999999LL   /* INT has at most 18 digits */
#define TAIL_CHUNK 65536
#define LOG_MAX (1UL << 30)      /* a log larger than this is not uploaded */

/* Append s as a QSTR (FORMAT.md section 1): at most STR_MAX bytes of it
 * and, if maxlines, its first maxlines lines. */
static void add_qstr(struct buf *out, const char *str, unsigned maxlines)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s), used = 0, len;
	unsigned lines = 0;
	uint32_t cp;

	buf_adds(out, "\"");
	while (used < n) {
		const unsigned char c = s[used];

		if (c == '\n' && maxlines && ++lines >= maxlines && used + 1 < n) {
			buf_adds(out, "\\n");
			break;
		}
		len = ydoc_utf8_seq(s + used, n - used, &cp);
		if (used + (len ? len : 1) > STR_MAX)
			break;
		if (c == '"' || c == '\\')
			buf_addf(out, "\\%c", c);
		else if (c == '\n')
			buf_adds(out, "\\n");
		else if (c == '\r')
			buf_adds(out, "\\r");
		else if (c == '\t')
			buf_adds(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_addf(out, "\\u%04x", c);
		else if (len == 0)
			buf_adds(out, "\\ufffd");
		else if (len > 1 && ((cp >= 0x80 && cp <= 0x9f) ||
				     cp == 0xfffe || cp == 0xffff))
			buf_addf(out, "\\u%04x", cp);
		else
			buf_add(out, s + used, len);
		used += len ? len : 1;
	}
	buf_adds(out, "\"");
}

static long long clamp(long v)
{
	long long x = v;

	return x > INT_LIMIT ? INT_LIMIT : x < -INT_LIMIT ? -INT_LIMIT : x;
}

static void add_steps(struct buf *out, const struct audit_rec *r)
{
	const struct audit_step *st;
	size_t i;

	if (!r->nsteps) {
		buf_adds(out, "steps: []\n");
		return;
	}
	buf_adds(out, "steps:\n");
	for (i = 0; i < r->nsteps; i++) {
		st = &r->steps[i];
		buf_adds(out, "  - { phase: ");
		add_qstr(out, st->phase, 0);
		buf_adds(out, ", run: ");
		add_qstr(out, st->run, 0);
		buf_addf(out, ", exit: %d, ms: %lld", st->exit, clamp(st->ms));
		/* A failing step's output, or a passing retried health
		 * check's "attempt N of M" (txn.c). */
		if (st->output && (st->exit != 0 || !strncmp(st->output, "attempt ", 8))) {
			buf_adds(out, ", output: ");
			add_qstr(out, st->output, OUTPUT_LINES);
		}
		buf_adds(out, " }\n");
	}
}

int audit_format(const struct audit_rec *r, uint64_t seq, const char *time,
		 const char *prev, const struct sign_key *key, struct buf *out,
		 struct err *e)
{
	const char *keys[] = { "host", "app", "action", "from", "to", "result" };
	const char *vals[] = { r->host, r->app, r->action, r->from, r->to, r->result };
	uint8_t sig[SIGN_SIG_LEN];
	size_t start = out->len, i;
	char lower[64];

	if (!seq || seq > 999999999999999ULL || !is_sha256_hex(prev))
		return err_set(e, EXIT_SOFTWARE, "audit record: bad seq or prev");
	buf_addf(out, "---\nseq: %" PRIu64 "\ntime: ", seq);
	add_qstr(out, time, 0);
	for (i = 0; i < 6; i++) {
		buf_addf(out, "\n%s: ", keys[i]);
		add_qstr(out, vals[i], 0);
	}
	buf_addf(out, "\nduration_ms: %lld\ndowntime_ms: %lld\nmanifest_sha256: ",
		 clamp(r->duration_ms), clamp(r->downtime_ms));
	add_qstr(out, r->manifest_sha256, 0);
	buf_adds(out, "\n");
	if (r->server && *r->server) {     /* optional (FORMAT.md 1) */
		buf_adds(out, "server: ");
		add_qstr(out, r->server, 0);
		buf_adds(out, "\n");
	}
	add_steps(out, r);
	buf_adds(out, "error: ");
	add_qstr(out, r->error, 0);
	buf_adds(out, "\nprev: \"");
	for (i = 0; i < 64; i++)
		lower[i] = prev[i] >= 'A' && prev[i] <= 'F' ? (char)(prev[i] - 'A' + 'a') : prev[i];
	buf_add(out, lower, 64);
	buf_adds(out, "\"\n");
	if (!key)
		return 0;
	if (sign_ed25519(key, out->data + start, out->len - start, sig, e) < 0) {
		out->len = start;
		out->data[start] = '\0';
		return err_prefix(e, "sign audit record: ");
	}
	buf_adds(out, "sig: \"");
	b64_encode(sig, sizeof sig, out);
	buf_adds(out, "\"\n");
	return 0;
}

static int pread_all(int fd, char *p, size_t n, off_t off)
{
	ssize_t r;

	while (n) {
		r = pread(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* The seq and hash of the log's last whole record, and where the whole
 * records end (*whole), reading back from its end only as far as that
 * record starts (audit_tail says when to read more). */
static int read_tail(int fd, uint64_t size, const struct sign_pub *pub,
		     uint64_t *seq, char head[65], uint64_t *whole,
		     struct err *e)
{
	size_t chunk = TAIL_CHUNK, n;
	char *d = NULL;
	int rc;

	for (;;) {
		n = size < chunk ? (size_t)size : chunk;
		d = xrealloc(d, n ? n : 1);
		if (pread_all(fd, d, n, (off_t)(size - n)) < 0) {
			rc = err_sys(e, EXIT_SOFTWARE, "read");
			break;
		}
		rc = audit_tail(d, n, size - n, pub, seq, head, whole, e);
		if (rc != 1 || n == size)
			break;
		chunk *= 4;
	}
	free(d);
	return rc == 1 ? err_set(e, EXIT_SOFTWARE, "cannot find the last record") : rc;
}

/* Create the directory that holds path and any missing above it (mode
 * for each), each new one's entry synced in its parent before anything
 * is made in it: else a power cut could keep a file whose directory is
 * gone. */
static int mkdir_parent(const char *path, mode_t mode, struct err *e)
{
	char *dir = xstrdup(path), *end = strrchr(dir, '/'), *s, c;
	int rc = 0;

	if (!end || end == dir)          /* the current or the root directory */
		goto done;
	*end = '\0';
	for (s = dir + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(dir, mode) == 0)
			rc = fs_fsync_parent(dir, e);
		else if (errno != EEXIST)
			rc = err_sys(e, EXIT_SOFTWARE, "mkdir %s", dir);
		*s = c;
		if (!c)
			break;
	}
done:
	free(dir);
	return rc;
}

/* Open the log and take an fcntl lock on all of it: a write lock to
 * append (the file and its directory are created if missing), a read lock
 * to read, so a reader never sees an append half done. Returns 1 when the
 * log was replaced (repair_torn) while we waited for the lock: the lock
 * is then on a file no longer the log, and the caller opens it again. */
static int open_lock_once(const char *path, bool write, int *fdp, struct err *e)
{
	/* O_NONBLOCK: a FIFO in the log's place must not hang a reader; it is
	 * refused below like any file that is not regular. */
	int flags = write ? O_RDWR | O_APPEND | O_CREAT : O_RDONLY | O_NONBLOCK;
	struct stat st, now;
	struct flock fl = { 0 };
	bool locked = true;
	int fd;

	/* 0640: the log quotes failing commands' output, which not every
	 * local user need read; it is not secret (it is uploaded). */
	/* The writer does not follow a symlink planted in the log directory;
	 * a reader (an auditor's copy) may. */
	if (write)
		flags |= O_NOFOLLOW;
	fd = open(path, flags | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT && write) {
		if (mkdir_parent(path, 0750, e) < 0)
			return err_prefix(e, "audit log %s: ", path);
		fd = open(path, flags | O_CLOEXEC, 0640);
	}
	if (fd < 0)
		return err_sys(e, errno == ENOENT ? EXIT_DATAERR : EXIT_SOFTWARE,
			       "audit log %s: open", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set(e, EXIT_DATAERR, "audit log %s: not a regular file", path);
		close(fd);
		return -1;
	}
	fl.l_type = write ? F_WRLCK : F_RDLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLKW, &fl) < 0) {
		/* A reader goes on without a lock where there is none (a
		 * read-only or lockless file system): appends only add bytes. */
		if (errno != EINTR && !write) {
			locked = false;
			break;
		}
		if (errno != EINTR) {
			err_sys(e, EXIT_SOFTWARE, "audit log %s: lock", path);
			close(fd);
			return -1;
		}
	}
	if (locked && (stat(path, &now) < 0 || now.st_ino != st.st_ino ||
		       now.st_dev != st.st_dev)) {
		close(fd);
		return 1;
	}
	*fdp = fd;
	return 0;
}

static int open_locked(const char *path, bool write, int *fdp, struct err *e)
{
	int tries, rc = 1;

	for (tries = 0; tries < 16 && rc == 1; tries++)
		rc = open_lock_once(path, write, fdp, e);
	return rc == 1 ? err_set(e, EXIT_SOFTWARE, "audit log %s: replaced again "
				 "and again while waiting for its lock", path) : rc;
}

/* The whole log at path, read under its lock; a missing log reads as
 * empty when missing_ok. */
static int read_locked(const char *path, bool missing_ok, struct buf *out,
		       struct err *e)
{
	struct stat st;
	int fd, rc = -1;

	buf_reset(out);
	buf_adds(out, "");
	if (missing_ok && access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (open_locked(path, false, &fd, e) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > LOG_MAX) {
		err_set(e, EXIT_DATAERR, "audit log %s: not a regular file of at "
			"most %lu bytes", path, LOG_MAX);
		goto done;
	}
	buf_grow(out, (size_t)st.st_size);
	if (pread_all(fd, out->data, (size_t)st.st_size, 0) < 0) {
		err_sys(e, EXIT_SOFTWARE, "audit log %s: read", path);
		goto done;
	}
	out->len = (size_t)st.st_size;
	out->data[out->len] = '\0';
	rc = 0;
done:
	close(fd);
	return rc;
}

int audit_read(const char *path, struct buf *out, struct err *e)
{
	return read_locked(path, false, out, e);
}

int audit_verify(const char *path, const struct sign_pub *pub, bool every_sig,
		 struct audit_report *rep, struct err *e)
{
	struct stat st;
	void *map = NULL;
	int fd, rc = -1;

	memset(rep, 0, sizeof *rep);
	if (open_locked(path, false, &fd, e) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", path);
		goto done;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			err_sys(e, EXIT_SOFTWARE, "mmap %s", path);
			goto done;
		}
	}
	rc = audit_verify_mem(map ? map : "", (size_t)st.st_size, pub, every_sig,
			      rep, e);
	if (rc < 0)
		err_prefix(e, "%s: ", path);
done:
	if (map)
		munmap(map, (size_t)st.st_size);
	close(fd);
	return rc;
}

/* Add rec (whole records) at the end of the log fd, then fsync. */
static int append_bytes(int fd, const char *path, off_t size,
			const struct buf *rec, struct err *e)
{
	if (fs_write_all(fd, rec->data, rec->len) < 0) {
		/* A short write (disk full, file size limit): take back our own
		 * partial record while we still hold the lock. Only if that
		 * fails too is the log left torn, for the next append to move
		 * aside. */
		int saved = errno;
		bool cut = ftruncate(fd, size) == 0 && fsync(fd) == 0;

		return err_set(e, EXIT_SOFTWARE, "audit log %s: append: %s%s",
			       path, strerror(saved), cut ? " (nothing appended)" :
			       "; cutting it back failed too: the log ends in a torn record");
	}
	if (fsync(fd) < 0)
		return err_sys(e, EXIT_SOFTWARE, "audit log %s: fsync", path);
	/* A new log's directory entry must survive a crash too. */
	if (size == 0 && fs_fsync_parent(path, e) < 0)
		return -1;
	return 0;
}

/* Format the record noting the torn tail moved to torn (FORMAT.md 7),
 * then r, chained after head, into out. */
static int format_repair(const struct audit_rec *r, uint64_t seq,
			 const char *head, const char *torn, const char *tail,
			 size_t n, uint64_t at, const struct sign_key *key,
			 struct buf *out, struct err *e)
{
	struct audit_rec note = { 0 };
	uint8_t h[SHA256_LEN];
	char hex[65], now[32], *msg;
	size_t start = out->len;
	int rc;

	sha256_buf(tail, n, h);
	hex_encode(h, SHA256_LEN, hex);
	msg = xasprintf("torn append: the %zu bytes after byte %" PRIu64
			" (sha256 %s) were moved to %s", n, at, hex,
			strrchr(torn, '/') ? strrchr(torn, '/') + 1 : torn);
	note.host = r->host;
	note.app = note.from = note.to = note.manifest_sha256 = "";
	note.action = "repair";
	note.result = "success";
	note.error = msg;
	utc_now(now);
	rc = audit_format(&note, seq + 1, now, head, key, out, e);
	free(msg);
	if (rc < 0)
		return -1;
	sha256_buf(out->data + start, out->len - start, h);
	hex_encode(h, SHA256_LEN, hex);
	return audit_format(r, seq + 2, now, hex, key, out, e);
}

/* The log fd ends in a torn record from byte whole on (a crash in an
 * append). Keep those bytes as path.torn-N (0600, durable), then replace
 * the log in one rename by its whole records, a record saying what was
 * moved, and r: cutting the tail and noting it in one step, so that no
 * crash leaves a torn file that no record names. The log must be locked. */
static int repair_torn(int fd, const char *path, const struct stat *st,
		       uint64_t whole, uint64_t seq, const char *head,
		       const struct sign_key *key, const struct audit_rec *r,
		       struct err *e)
{
	size_t size = (size_t)st->st_size, tail = size - (size_t)whole;
	struct buf log = BUF_INIT;
	struct stat ts;
	char *torn = NULL;
	unsigned k;
	int rc = -1;

	if ((uint64_t)st->st_size > LOG_MAX) {
		err_set(e, EXIT_SOFTWARE, "audit log %s: ends in a torn record at "
			"byte %" PRIu64 " but is too large to repair", path, whole);
		goto done;
	}
	buf_grow(&log, size + 8192);
	if (pread_all(fd, log.data, size, 0) < 0) {
		err_sys(e, EXIT_SOFTWARE, "audit log %s: read", path);
		goto done;
	}
	for (k = 1; k < 100000; k++) {
		free(torn);
		torn = xasprintf("%s.torn-%u", path, k);
		if (lstat(torn, &ts) < 0 && errno == ENOENT)
			break;
	}
	if (fs_write_atomic(torn, log.data + whole, tail, 0600, e) < 0)
		goto done;
	log.len = (size_t)whole;
	if (format_repair(r, seq, head, torn, log.data + whole, tail, whole,
			  key, &log, e) < 0)
		goto done;
	if (fs_write_atomic(path, log.data, log.len, st->st_mode & 0777, e) < 0)
		goto done;
	rc = 0;
done:
	if (rc < 0)
		err_prefix(e, "moving the torn end of the audit log aside: ");
	free(torn);
	buf_release(&log);
	return rc;
}

int audit_append(const char *path, const struct sign_key *key,
		 const struct audit_rec *r, struct err *e)
{
	struct buf rec = BUF_INIT;
	struct sign_pub pub;
	struct stat st;
	char head[65], now[32];
	uint64_t seq, whole;
	int fd, rc = -1;

	if (open_locked(path, true, &fd, e) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "audit log %s: stat", path);
		goto done;
	}
	sign_key_public(key, &pub);
	if (read_tail(fd, (uint64_t)st.st_size, &pub, &seq, head, &whole, e) < 0) {
		err_prefix(e, "audit log %s ", path);
		goto done;
	}
	if (whole < (uint64_t)st.st_size) {
		rc = repair_torn(fd, path, &st, whole, seq, head, key, r, e);
		goto done;
	}
	utc_now(now);
	if (audit_format(r, seq + 1, now, head, key, &rec, e) < 0)
		goto done;
	if (append_bytes(fd, path, st.st_size, &rec, e) < 0)
		goto done;
	rc = 0;
done:
	buf_release(&rec);
	close(fd);
	return rc;
}

/* NAME.pub must hold key's public half. A crash between sign_keygen's two
 * files leaves it missing, and a key replaced by hand leaves the old one:
 * derive it from the secret key and write it durably (fs_write_atomic
 * syncs the directory too). A different key found there is first kept as
 * NAME.pub.KEYID, for the records it signed. */
static int pub_ensure(const char *pubpath, const struct sign_key *key,
		      struct err *e)
{
	struct buf text = BUF_INIT;
	struct sign_pub want, have;
	struct err ignored;
	char id[17], *keep = NULL;
	int rc = -1;

	sign_key_public(key, &want);
	if (sign_pub_load(pubpath, &have, &ignored) == 0) {
		if (!memcmp(&have, &want, sizeof want))
			return 0;
		sign_keyid_hex(have.keyid, id);
		keep = xasprintf("%s.%s", pubpath, id);
		if (link(pubpath, keep) < 0 && errno != EEXIST) {
			err_sys(e, EXIT_SOFTWARE, "keep the old public key as %s", keep);
			goto done;
		}
	}
	sign_pub_format(&want, &text);
	if (fs_write_atomic(pubpath, text.data, text.len, 0644, e) < 0)
		goto done;
	rc = 0;
done:
	free(keep);
	buf_release(&text);
	return rc;
}

int audit_device_key(const char *path, struct sign_key *out, struct err *e)
{
	size_t n = strlen(path);
	char *name, *pubpath;
	int rc = -1;

	memset(out, 0, sizeof *out);    /* sign_key_wipe is safe on failure */
	if (n < 5 || strcmp(path + n - 4, ".key"))
		return err_set(e, EXIT_DATAERR,
			       "device key %s: the name must end in .key", path);
	name = xstrndup(path, n - 4);
	pubpath = xasprintf("%s.pub", name);
	/* O_EXCL inside: if another upgr made the key in the meantime, use it. */
	if (access(path, F_OK) < 0 &&
	    (mkdir_parent(path, 0755, e) < 0 ||
	     (sign_keygen(name, e) < 0 && access(path, F_OK) < 0))) {
		err_prefix(e, "create device key %s: ", path);
		goto done;
	}
	err_clear(e);
	if (sign_key_load(path, out, e) < 0)
		goto done;
	if (pub_ensure(pubpath, out, e) < 0) {
		sign_key_wipe(out);
		err_prefix(e, "device key %s: its public half: ", path);
		goto done;
	}
	rc = 0;
done:
	free(name);
	free(pubpath);
	return rc;
}

int audit_checkpoint(const char *path, const struct sign_key *key,
		     struct buf *log, struct buf *minisig, struct err *e)
{
	struct audit_report rep;
	struct sign_pub pub;
	char comment[128], head[65];
	uint64_t seq, whole;

	if (read_locked(path, true, log, e) < 0)
		return err_prefix(e, "audit checkpoint: ");
	/* The device key vouches only for a log that verifies: its tail as
	 * audit_append checks it (same errors), then the whole chain. A torn
	 * tail is left out: the next append moves it aside and notes it. */
	sign_key_public(key, &pub);
	if (audit_tail(log->data, log->len, 0, &pub, &seq, head, &whole, e) < 0)
		return err_prefix(e, "audit log %s ", path);
	log->len = (size_t)whole;
	log->data[log->len] = '\0';
	if (audit_verify_mem(log->data, log->len, &pub, false, &rep, e) < 0)
		return err_prefix(e, "audit log %s: ", path);
	snprintf(comment, sizeof comment, "upgr audit checkpoint seq:%" PRIu64
		 " head:%s", rep.records, rep.head);
	buf_reset(minisig);
	return sign_minisig(key, log->data, log->len, comment, minisig, e);
}

/* Which record of copy[0..len) holds byte off (from 1). */
static uint64_t record_at(const char *copy, size_t len, size_t off)
{
	uint64_t k = 1;
	size_t i;

	for (i = 1; i + 4 <= len && i <= off; i++)
		if (copy[i - 1] == '\n' && !memcmp(copy + i, "---\n", 4))
			k++;
	return k;
}

int audit_extends(const char *path, const char *copy, size_t len, struct err *e)
{
	struct buf local = BUF_INIT;
	size_t i, n;
	int rc = -1;

	if (read_locked(path, false, &local, e) < 0)
		return -1;
	n = local.len < len ? local.len : len;
	for (i = 0; i < n && local.data[i] == copy[i]; i++)
		;
	if (i < n) {
		err_set(e, EXIT_TRUST, "%s was rewritten since the checkpoint: it "
			"differs from it at byte %zu (record %" PRIu64 " of the "
			"checkpoint)", path, i, record_at(copy, len, i));
		goto done;
	}
	if (local.len < len) {
		err_set(e, EXIT_TRUST, "%s was cut since the checkpoint: it has "
			"%zu bytes, the checkpoint %zu (records from %" PRIu64
			" on are gone)", path, local.len, len,
			record_at(copy, len, local.len));
		goto done;
	}
	if (local.len > len && len > 0 &&
	    (local.len - len < 4 || memcmp(local.data + len, "---\n", 4))) {
		err_set(e, EXIT_TRUST, "%s does not extend the checkpoint: the "
			"checkpoint ends inside a record of the log (byte %zu)",
			path, len);
		goto done;
	}
	rc = 0;
done:
	buf_release(&local);
	return rc;
}
