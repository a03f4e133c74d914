/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: payload (reproducible create, secure extract). The hostile
 * archives are built here with libarchive's writer, as a compromised build
 * would make them; each must be refused (or, for modes, neutralised) with
 * nothing written outside the staging directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "hash.h"
#include "payload.h"
#include "xalloc.h"

#define MB (1024ull * 1024)

/* A scratch tree: T/work (inputs, archives) and T/box/stage. T and box
 * must hold nothing else after an extraction, whatever the archive says. */
struct scratch {
	char *top, *work, *box, *stage, *archive;
};

static void scratch_init(struct scratch *s)
{
	char tmpl[] = "/tmp/upgr-payload-XXXXXX";
	struct err e;

	assert_non_null(mkdtemp(tmpl));
	s->top = xstrdup(tmpl);
	s->work = fs_join(s->top, "work");
	s->box = fs_join(s->top, "box");
	s->stage = fs_join(s->box, "stage");
	s->archive = fs_join(s->work, "payload.tar.gz");
	assert_int_equal(fs_mkdir_p(s->work, 0755, &e), 0);
	assert_int_equal(fs_mkdir_p(s->stage, 0755, &e), 0);
}

static void scratch_release(struct scratch *s)
{
	struct err e;

	assert_int_equal(fs_remove_tree(s->top, &e), 0);
	free(s->top);
	free(s->work);
	free(s->box);
	free(s->stage);
	free(s->archive);
}

/* The names in dir, sorted and joined with ','. */
static char *listing(const char *dir)
{
	struct buf b = BUF_INIT;
	struct dirent **v;
	int n, i;

	n = scandir(dir, &v, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, "..")) {
			if (b.len)
				buf_adds(&b, ",");
			buf_adds(&b, v[i]->d_name);
		}
		free(v[i]);
	}
	free(v);
	buf_add(&b, "", 0);
	return buf_detach(&b, NULL);
}

/* Nothing escaped staging: T holds work and box, box holds stage. */
static void assert_contained(const struct scratch *s)
{
	char *top = listing(s->top), *box = listing(s->box);

	assert_string_equal(top, "box,work");
	assert_string_equal(box, "stage");
	free(top);
	free(box);
}

/* ---- manifests built by hand ---- */

struct mspec {
	const char *path;
	mode_t mode;
	const char *sha_of;       /* content to hash into sha256, or NULL */
};

static void manifest_make(struct manifest *m, const struct mspec *v, size_t n)
{
	size_t i;

	memset(m, 0, sizeof *m);
	m->format = 1;
	m->files = xcalloc(n ? n : 1, sizeof *m->files);
	m->nfiles = n;
	for (i = 0; i < n; i++) {
		m->files[i].path = xstrdup(v[i].path);
		m->files[i].mode = v[i].mode;
		if (v[i].sha_of) {
			sha256_buf(v[i].sha_of, strlen(v[i].sha_of), m->files[i].sha256);
			m->files[i].has_sha256 = true;
		}
	}
}

static void manifest_free(struct manifest *m)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		free(m->files[i].path);
	free(m->files);
}

static void write_file(const char *dir, const char *rel, const void *data, size_t len)
{
	char *p = fs_join(dir, rel), *slash;
	struct err e;
	int fd;

	slash = strrchr(p, '/');
	*slash = '\0';
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	*slash = '/';
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, data, len), 0);
	close(fd);
	free(p);
}

static char *read_all(const char *path, size_t *len)
{
	struct buf b = BUF_INIT;
	struct err e;

	assert_int_equal(fs_read_file(path, 64 * MB, &b, &e), 0);
	return buf_detach(&b, len);
}

/* ---- create ---- */

#define LONG_PATH "lib/a-directory-name-long-enough/to-push-the-whole-path-past/" \
	"the-hundred-bytes-of-a-ustar-name-field/so-pax-headers-appear.so"

/* Some input files, one large enough to take several chunks. */
static const struct mspec build_files[] = {
	{ "etc/hello.conf", 0640, NULL },
	{ "bin/hello", 0755, NULL },
	{ LONG_PATH, 0644, NULL },
	{ "README", 0444, NULL },
	{ "share/caf\xc3\xa9 menu.txt", 0600, NULL },
};
#define NBUILD (sizeof build_files / sizeof build_files[0])

static size_t big_len = 300 * 1024 + 7;

static void make_inputs(const struct scratch *s, struct manifest *m)
{
	char *big = xmalloc(big_len);
	size_t i;

	for (i = 0; i < big_len; i++)
		big[i] = (char)(i * 31 + i / 977);
	write_file(s->work, "in/bin/hello", big, big_len);
	write_file(s->work, "in/etc/hello.conf", "port: 80\n", 9);
	write_file(s->work, "in/" LONG_PATH, "x", 1);
	write_file(s->work, "in/README", "", 0);
	write_file(s->work, "in/share/caf\xc3\xa9 menu.txt", "utf-8 name\n", 11);
	manifest_make(m, build_files, NBUILD);
	free(big);
}

static void test_create_reproducible(void **state)
{
	struct scratch s;
	struct manifest m;
	struct err e;
	char *in, *in2, *out2, *a, *b;
	size_t la, lb, i;
	uint8_t want[32];
	pid_t pid;
	int status;

	(void)state;
	scratch_init(&s);
	make_inputs(&s, &m);
	in = fs_join(s.work, "in");
	out2 = fs_join(s.work, "again.tar.gz");
	assert_int_equal(payload_create(s.archive, in, &m, &e), 0);
	/* The second copy comes from another process (another pid, later
	 * time), so nothing of either may leak into the bytes. */
	sleep(1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(payload_create(out2, in, &m, &e) == 0 ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	a = read_all(s.archive, &la);
	b = read_all(out2, &lb);
	assert_true(la > 20);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	/* gzip header: no mtime (bytes 4-7), no name flag (byte 3). */
	assert_int_equal((unsigned char)a[0], 0x1f);
	assert_int_equal(a[3] & 0x08, 0);
	assert_int_equal(a[4] | a[5] | a[6] | a[7], 0);
	for (i = 0; i < m.nfiles; i++) {
		char *p = fs_join(in, m.files[i].path);
		assert_true(m.files[i].has_sha256);
		assert_int_equal(sha256_file(p, want, NULL, &e), 0);
		assert_memory_equal(want, m.files[i].sha256, 32);
		free(p);
	}
	in2 = listing(s.work);
	assert_string_equal(in2, "again.tar.gz,in,payload.tar.gz");
	free(in2);
	free(a);
	free(b);
	free(in);
	free(out2);
	manifest_free(&m);
	scratch_release(&s);
}

static void test_roundtrip(void **state)
{
	struct scratch s;
	struct manifest m;
	struct stat st;
	struct err e;
	char *in;
	size_t i, la, lb;

	(void)state;
	scratch_init(&s);
	make_inputs(&s, &m);
	in = fs_join(s.work, "in");
	assert_int_equal(payload_create(s.archive, in, &m, &e), 0);
	assert_int_equal(payload_extract(s.archive, s.stage, &m, 10 * MB, &e), 0);
	for (i = 0; i < m.nfiles; i++) {
		char *p = fs_join(in, m.files[i].path), *q = fs_join(s.stage, m.files[i].path);
		char *a = read_all(p, &la), *b = read_all(q, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		assert_int_equal(lstat(q, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 07777, build_files[i].mode);
		free(a);
		free(b);
		free(p);
		free(q);
	}
	assert_contained(&s);

	/* The cap counts bytes written: just under the total is refused. */
	assert_int_equal(fs_remove_tree(s.stage, &e), 0);
	assert_int_equal(fs_mkdir_p(s.stage, 0755, &e), 0);
	assert_int_equal(payload_extract(s.archive, s.stage, &m, big_len + 9, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	free(in);
	manifest_free(&m);
	scratch_release(&s);
}

/* A listed file that is missing, a symlink, a FIFO or a directory, or that
 * sits under a symlinked directory, is refused. */
static void test_create_refuses(void **state)
{
	static const struct { const char *path, *why; } cases[] = {
		{ "missing", "No such file" },
		{ "link", "symbolic link" },
		{ "fifo", "not a regular file" },
		{ "dir", "not a regular file" },
		{ "linkdir/f", "open directory" },
	};
	struct scratch s;
	struct manifest m;
	struct err e;
	char *in, *p;
	size_t i;

	(void)state;
	scratch_init(&s);
	write_file(s.work, "in/real/f", "data", 4);
	in = fs_join(s.work, "in");
	p = fs_join(in, "link");
	assert_int_equal(symlink("real/f", p), 0);
	free(p);
	p = fs_join(in, "linkdir");
	assert_int_equal(symlink("real", p), 0);
	free(p);
	p = fs_join(in, "fifo");
	assert_int_equal(mkfifo(p, 0644), 0);
	free(p);
	p = fs_join(in, "dir");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mspec spec = { cases[i].path, 0644, NULL };
		manifest_make(&m, &spec, 1);
		assert_int_equal(payload_create(s.archive, in, &m, &e), -1);
		assert_int_equal(e.code, EXIT_DATAERR);
		assert_non_null(strstr(e.msg, cases[i].path));
		assert_non_null(strstr(e.msg, cases[i].why));
		assert_int_equal(access(s.archive, F_OK), -1);
		manifest_free(&m);
	}
	p = listing(s.work);
	assert_string_equal(p, "in");
	free(p);
	free(in);
	scratch_release(&s);
}

/* ---- hostile archives ---- */

enum { PLAIN = 0, DIR_, SYMLINK, HARDLINK, CHARDEV, BLOCKDEV, FIFO, ZEROS };

struct hentry {
	const char *name;
	int kind;
	const char *data;         /* content, or the link target */
	unsigned perm;            /* 0 means 0644 (0755 for directories) */
	uint64_t zeros;           /* ZEROS: this many zero bytes */
	size_t repeat;            /* write the entry this many times (0 = once) */
};

static void write_entry(struct archive *a, const struct hentry *h)
{
	static char zeros[65536];
	struct archive_entry *ent = archive_entry_new();
	size_t len = h->data && h->kind != SYMLINK && h->kind != HARDLINK ? strlen(h->data) : 0;
	uint64_t left;

	archive_entry_set_pathname(ent, h->name);
	archive_entry_set_perm(ent, h->perm ? h->perm : h->kind == DIR_ ? 0755 : 0644);
	archive_entry_set_mtime(ent, 0, 0);
	switch (h->kind) {
	case DIR_:
		archive_entry_set_filetype(ent, AE_IFDIR);
		break;
	case SYMLINK:
		archive_entry_set_filetype(ent, AE_IFLNK);
		archive_entry_set_symlink(ent, h->data);
		break;
	case HARDLINK:
		archive_entry_set_filetype(ent, AE_IFREG);
		archive_entry_set_hardlink(ent, h->data);
		len = h->zeros;     /* hard link "with data" */
		break;
	case CHARDEV:
	case BLOCKDEV:
		archive_entry_set_filetype(ent, h->kind == CHARDEV ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdevmajor(ent, 1);
		archive_entry_set_rdevminor(ent, 3);
		break;
	case FIFO:
		archive_entry_set_filetype(ent, AE_IFIFO);
		break;
	default:
		archive_entry_set_filetype(ent, AE_IFREG);
		if (h->kind == ZEROS)
			len = (size_t)h->zeros;
	}
	archive_entry_set_size(ent, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, ent), ARCHIVE_OK);
	if (h->kind == ZEROS || h->kind == HARDLINK) {
		for (left = len; left; ) {
			size_t n = left < sizeof zeros ? (size_t)left : sizeof zeros;
			assert_int_equal(archive_write_data(a, zeros, n), (la_ssize_t)n);
			left -= n;
		}
	} else if (len) {
		assert_int_equal(archive_write_data(a, h->data, len), (la_ssize_t)len);
	}
	archive_entry_free(ent);
}

static void hostile_archive(const char *path, const struct hentry *v)
{
	struct archive *a = archive_write_new();
	size_t r;

	assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_filter_option(a, "gzip", "compression-level", "1"),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (; v->name; v++)
		for (r = 0; r < (v->repeat ? v->repeat : 1); r++)
			write_entry(a, v);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

struct hcase {
	const char *what;
	struct hentry entries[4];
	struct mspec files[2];
	const char *why;           /* expected in the message; NULL = accepted */
	uint64_t max_total;        /* 0 = 1 MiB */
};

static void run_case(const struct hcase *c)
{
	struct scratch s;
	struct manifest m;
	struct err e;
	size_t n = c->files[1].path ? 2 : 1;
	int rc;

	scratch_init(&s);
	hostile_archive(s.archive, c->entries);
	manifest_make(&m, c->files, n);
	err_clear(&e);
	rc = payload_extract(s.archive, s.stage, &m, c->max_total ? c->max_total : MB, &e);
	if (c->why) {
		if (rc != -1 || e.code != EXIT_TRUST || !strstr(e.msg, c->why))
			fail_msg("%s: rc %d code %d msg \"%s\", wanted \"%s\"",
				 c->what, rc, e.code, e.msg, c->why);
	} else if (rc != 0) {
		fail_msg("%s: refused: %s", c->what, e.msg);
	}
	assert_contained(&s);
	manifest_free(&m);
	scratch_release(&s);
}

#define F(p) { p, 0644, NULL }

static const struct hcase hostile[] = {
	{ "dot-dot", { { "../x", PLAIN, "evil", 0, 0, 0 }, { NULL, 0, NULL, 0, 0, 0 } },
	  { F("x"), { NULL, 0, NULL } }, "'..' components are not allowed", 0 },
	{ "dot-dot deep", { { "a/../../x", PLAIN, "evil", 0, 0, 0 } },
	  { F("x") }, "'..' components are not allowed", 0 },
	{ "absolute", { { "/tmp/upgr-payload-abs", PLAIN, "evil", 0, 0, 0 } },
	  { F("x") }, "must be relative", 0 },
	{ "backslash", { { "a\\b", PLAIN, "evil", 0, 0, 0 } },
	  { F("a\\b") }, "backslashes are not allowed", 0 },
	{ "dot", { { "./x", PLAIN, "evil", 0, 0, 0 } },
	  { F("x") }, "'.' components are not allowed", 0 },
	{ "empty component", { { "a//x", PLAIN, "evil", 0, 0, 0 } },
	  { F("a/x") }, "empty components", 0 },
	{ "control character", { { "a\nx", PLAIN, "evil", 0, 0, 0 } },
	  { F("a\nx") }, "control characters are not allowed", 0 },
	{ "symlink", { { "x", SYMLINK, "../../..", 0, 0, 0 } },
	  { F("x") }, "symbolic link refused", 0 },
	{ "symlink then file through it",
	  { { "d", SYMLINK, "..", 0, 0, 0 }, { "d/x", PLAIN, "evil", 0, 0, 0 } },
	  { F("d/x") }, "symbolic link refused", 0 },
	{ "symlink then directory over it",
	  { { "d", SYMLINK, "/tmp", 0, 0, 0 }, { "d", DIR_, NULL, 0, 0, 0 },
	    { "d/x", PLAIN, "evil", 0, 0, 0 } },
	  { F("d/x") }, "symbolic link refused", 0 },
	{ "hard link", { { "x", HARDLINK, "/etc/passwd", 0, 0, 0 } },
	  { F("x") }, "hard link refused", 0 },
	{ "char device", { { "x", CHARDEV, NULL, 0, 0, 0 } },
	  { F("x") }, "not a regular file or directory", 0 },
	{ "block device", { { "x", BLOCKDEV, NULL, 0, 0, 0 } },
	  { F("x") }, "not a regular file or directory", 0 },
	{ "fifo", { { "x", FIFO, NULL, 0, 0, 0 } },
	  { F("x") }, "not a regular file or directory", 0 },
	{ "duplicate", { { "x", PLAIN, "one", 0, 0, 0 }, { "x", PLAIN, "two", 0, 0, 0 } },
	  { F("x") }, "appears twice", 0 },
	{ "not listed", { { "x", PLAIN, "ok", 0, 0, 0 }, { "y", PLAIN, "extra", 0, 0, 0 } },
	  { F("x") }, "y: not listed", 0 },
	{ "directory not listed", { { "etc", DIR_, NULL, 0, 0, 0 }, { "x", PLAIN, "ok", 0, 0, 0 } },
	  { F("x") }, "directory not holding any listed file", 0 },
	{ "sha256 mismatch", { { "x", PLAIN, "tampered", 0, 0, 0 } },
	  { { "x", 0644, "original" } }, "x: sha256 does not match", 0 },
	{ "missing listed file", { { "x", PLAIN, "ok", 0, 0, 0 } },
	  { F("x"), F("y") }, "y: listed but missing", 0 },
	{ "decompression bomb", { { "x", ZEROS, NULL, 0, 200 * MB, 0 } },
	  { F("x") }, "payload expands past 1048576 bytes", 0 },
	{ "bomb over several files",
	  { { "a", ZEROS, NULL, 0, 700 * 1024, 0 }, { "b", ZEROS, NULL, 0, 700 * 1024, 0 } },
	  { F("a"), F("b") }, "entry b: payload expands past", 0 },
	{ "huge entry count",
	  { { "d", DIR_, NULL, 0, 0, 200000 }, { "d/x", PLAIN, "ok", 0, 0, 0 } },
	  { F("d/x") }, "more than 1 directory entries", 0 },
	/* Accepted: parents as directory entries, and modes from the manifest. */
	{ "parent directories", { { "d", DIR_, NULL, 0700, 0, 0 }, { "d/e", DIR_, NULL, 0, 0, 0 },
	    { "d/e/x", PLAIN, "ok", 0, 0, 0 } },
	  { { "d/e/x", 0600, "ok" } }, NULL, 0 },
};

static void test_hostile(void **state)
{
	run_case(*state);
}

/* setuid, setgid and sticky bits in the archive are dropped: the file gets
 * exactly the manifest's mode. */
static void test_modes_from_manifest(void **state)
{
	static const struct hentry entries[] = {
		{ "bin/su", PLAIN, "#!/bin/sh\n", 06755, 0, 0 },
		{ "bin/tool", PLAIN, "tool", 01777, 0, 0 },
		{ NULL, 0, NULL, 0, 0, 0 },
	};
	static const struct mspec files[] = {
		{ "bin/su", 0755, "#!/bin/sh\n" },
		{ "bin/tool", 0640, NULL },
	};
	struct scratch s;
	struct manifest m;
	struct stat st;
	struct err e;
	mode_t old_umask;
	char *p;
	int rc;

	(void)state;
	scratch_init(&s);
	hostile_archive(s.archive, entries);
	manifest_make(&m, files, 2);
	old_umask = umask(077);     /* modes must not depend on upgr's umask */
	rc = payload_extract(s.archive, s.stage, &m, MB, &e);
	umask(old_umask);
	assert_int_equal(rc, 0);
	p = fs_join(s.stage, "bin/su");
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	p = fs_join(s.stage, "bin/tool");
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	free(p);
	p = fs_join(s.stage, "bin");
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	assert_contained(&s);
	manifest_free(&m);
	scratch_release(&s);
}

/* A raw ustar header: libarchive's writer drops the data of a hard link,
 * a hostile build need not. An uncompressed tar, which extract reads too. */
static void raw_tar(const char *path, const char *name, char type, const char *link,
		    const char *data)
{
	char h[512], pad[1024];
	size_t len = strlen(data), i;
	unsigned sum = 0;
	int fd;

	memset(h, 0, sizeof h);
	memset(pad, 0, sizeof pad);
	memcpy(h, name, strlen(name));
	snprintf(h + 100, 8, "%07o", 0644u);
	snprintf(h + 108, 8, "%07o", 0u);
	snprintf(h + 116, 8, "%07o", 0u);
	snprintf(h + 124, 12, "%011o", (unsigned)len);
	snprintf(h + 136, 12, "%011o", 0u);
	h[156] = type;
	memcpy(h + 157, link, strlen(link));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < sizeof h; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, h, sizeof h), 0);
	assert_int_equal(fs_write_all(fd, data, len), 0);
	assert_int_equal(fs_write_all(fd, pad, 512 - len % 512), 0);
	assert_int_equal(fs_write_all(fd, pad, sizeof pad), 0);
	close(fd);
}

static void test_hardlink_with_data(void **state)
{
	struct scratch s;
	struct manifest m;
	struct mspec spec = F("x");
	struct err e;

	(void)state;
	scratch_init(&s);
	raw_tar(s.archive, "x", '1', "../../outside", "evil\n");
	manifest_make(&m, &spec, 1);
	assert_int_equal(payload_extract(s.archive, s.stage, &m, MB, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_non_null(strstr(e.msg, "entry x: hard link refused"));
	/* The same header as a plain file is accepted: the raw writer is sound. */
	raw_tar(s.archive, "x", '0', "", "evil\n");
	assert_int_equal(payload_extract(s.archive, s.stage, &m, MB, &e), 0);
	assert_contained(&s);
	manifest_free(&m);
	scratch_release(&s);
}

/* A GNU long-name or pax extended header declaring megabytes: refused
 * (libarchive caps them) rather than read into memory. */
static void test_special_header_bomb(void **state)
{
	static const char flags[] = "LKx";
	struct scratch s;
	struct manifest m;
	struct mspec spec = F("x");
	struct err e;
	size_t len = 2 * MB, i;
	char *big = xmalloc(len + 1);

	(void)state;
	memset(big, 'a', len);
	big[len] = '\0';
	scratch_init(&s);
	manifest_make(&m, &spec, 1);
	for (i = 0; i < sizeof flags - 1; i++) {
		raw_tar(s.archive, "././@LongLink", flags[i], "", big);
		assert_int_equal(payload_extract(s.archive, s.stage, &m, 100 * MB, &e), -1);
		assert_int_equal(e.code, EXIT_TRUST);
		assert_contained(&s);
	}
	free(big);
	manifest_free(&m);
	scratch_release(&s);
}

/* Every tar type flag, as a raw header: each is refused, or becomes a
 * plain file with the manifest's mode (libarchive reads unknown flags as
 * regular files, as POSIX says); nothing else ever lands in staging. */
static void test_every_typeflag(void **state)
{
	static const char flags[] = "0123456789gxLKSVMNDAZ\x7f";
	struct scratch s;
	struct manifest m;
	struct mspec spec = { "x", 0640, NULL };
	struct stat st;
	struct err e;
	char *p;
	size_t i;

	(void)state;
	scratch_init(&s);
	manifest_make(&m, &spec, 1);
	p = fs_join(s.stage, "x");
	for (i = 0; i < sizeof flags - 1; i++) {
		raw_tar(s.archive, "x", flags[i], "/etc/passwd", "data\n");
		err_clear(&e);
		if (payload_extract(s.archive, s.stage, &m, MB, &e) == 0) {
			assert_int_equal(lstat(p, &st), 0);
			assert_true(S_ISREG(st.st_mode));
			assert_int_equal(st.st_mode & 07777, 0640);
		} else {
			if (e.code != EXIT_TRUST)
				fail_msg("type '%c': code %d: %s", flags[i], e.code, e.msg);
		}
		assert_contained(&s);
		assert_int_equal(fs_remove_tree(s.stage, &e), 0);
		assert_int_equal(fs_mkdir_p(s.stage, 0755, &e), 0);
	}
	free(p);
	manifest_free(&m);
	scratch_release(&s);
}

/* tar cannot encode a socket (libarchive's tar writers refuse one); cpio
 * can, and extraction reads no format but tar. */
static void test_socket_in_cpio(void **state)
{
	struct scratch s;
	struct manifest m;
	struct mspec spec = F("x");
	struct archive *a;
	struct archive_entry *ent;
	struct err e;
	char *p;

	(void)state;
	scratch_init(&s);
	a = archive_write_new();
	assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, s.archive), ARCHIVE_OK);
	ent = archive_entry_new();
	archive_entry_set_pathname(ent, "x");
	archive_entry_set_filetype(ent, AE_IFSOCK);
	archive_entry_set_perm(ent, 0777);
	archive_entry_set_size(ent, 0);
	assert_int_not_equal(archive_write_header(a, ent), ARCHIVE_OK);
	archive_write_free(a);

	a = archive_write_new();
	assert_int_equal(archive_write_set_format_cpio_newc(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, s.archive), ARCHIVE_OK);
	assert_int_equal(archive_write_header(a, ent), ARCHIVE_OK);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ent);
	manifest_make(&m, &spec, 1);
	assert_int_equal(payload_extract(s.archive, s.stage, &m, MB, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_contained(&s);
	p = listing(s.stage);
	assert_string_equal(p, "");
	free(p);
	manifest_free(&m);
	scratch_release(&s);
}

/* Not a gzip'd tar at all, or cut short: refused as untrusted data. */
static void test_garbage(void **state)
{
	struct scratch s;
	struct manifest m;
	struct mspec spec = F("bin/hello");
	struct err e;
	char *in;
	size_t len;
	char *data;
	int fd;

	(void)state;
	scratch_init(&s);
	write_file(s.work, "payload.tar.gz", "this is not an archive at all, not even close....", 49);
	manifest_make(&m, &spec, 1);
	assert_int_equal(payload_extract(s.archive, s.stage, &m, MB, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	manifest_free(&m);

	/* A real payload cut in half. */
	make_inputs(&s, &m);
	in = fs_join(s.work, "in");
	assert_int_equal(payload_create(s.archive, in, &m, &e), 0);
	data = read_all(s.archive, &len);
	fd = open(s.archive, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, data, len / 2), 0);
	close(fd);
	assert_int_equal(payload_extract(s.archive, s.stage, &m, 10 * MB, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_contained(&s);
	free(data);
	free(in);
	manifest_free(&m);
	scratch_release(&s);
}

#define NHOSTILE (sizeof hostile / sizeof hostile[0])

int main(void)
{
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_create_reproducible),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_create_refuses),
		cmocka_unit_test(test_modes_from_manifest),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_hardlink_with_data),
		cmocka_unit_test(test_every_typeflag),
		cmocka_unit_test(test_special_header_bomb),
		cmocka_unit_test(test_socket_in_cpio),
	};
	size_t nfixed = sizeof fixed / sizeof fixed[0], i;
	struct CMUnitTest tests[sizeof fixed / sizeof fixed[0] + NHOSTILE];

	/* One test per hostile archive, named for it. */
	memcpy(tests, fixed, sizeof fixed);
	for (i = 0; i < NHOSTILE; i++) {
		memset(&tests[nfixed + i], 0, sizeof tests[0]);
		tests[nfixed + i].name = hostile[i].what;
		tests[nfixed + i].test_func = test_hostile;
		tests[nfixed + i].initial_state = (void *)(uintptr_t)&hostile[i];
	}
	return _cmocka_run_group_tests("payload", tests, nfixed + NHOSTILE, NULL, NULL);
}
