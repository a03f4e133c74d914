/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: transport over file:// and, when tests/cli/transport_ftp.sh
 * runs this binary with real vsftpd servers, over ftp://.
 *
 * Environment for the FTP cases (set by transport_ftp.sh):
 *   UPGR_FTP_URL        a live server, ftp://127.0.0.1:PORT/
 *   UPGR_FTP_ROOT       its root directory on this machine
 *   UPGR_FTP_LOG        its protocol log (logins, commands)
 *   UPGR_NETRC          credentials for the servers
 *   UPGR_FTP_DEAD_URL   a server that has been stopped (refuses connections)
 *   UPGR_FTP_SLOW_URL   a server throttled to a trickle
 *   UPGR_FTP_SLOW_ROOT  its root directory
 *   UPGR_FTP_SLOW_STOP  a command that kills it, listener and sessions
 * and for the HTTP cases:
 *   UPGR_HTTP_URL       http://127.0.0.1:PORT/ served by python3 http.server
 *   UPGR_HTTP_ROOT      the directory it serves
 * With UPGR_HTTP_URL set only the HTTP cases run, with UPGR_FTP_URL only
 * the FTP cases; with neither, the file:// cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "transport.h"
#include "xalloc.h"

static char scratch[] = "/tmp/upgr-transport.XXXXXX";

static int setup_scratch(void **state)
{
	(void)state;
	return mkdtemp(scratch) ? 0 : -1;
}

static int remove_scratch(void **state)
{
	struct err e;

	(void)state;
	return fs_remove_tree(scratch, &e);
}

/* Whether url names a file, as the code asks it: a fetch that says
 * missing (1 there, 0 missing, -1 another error in e). */
static int present(struct xfer *x, const char *url, struct err *e)
{
	struct buf b = BUF_INIT;
	bool missing = false;
	int rc = xfer_get(x, url, 1 << 20, &b, &missing, e);

	buf_release(&b);
	return rc == 0 ? 1 : missing ? 0 : -1;
}

static char *scratch_path(const char *name)
{
	return fs_join(scratch, name);
}

static char *file_url(const char *name)
{
	return xasprintf("file://%s/%s", scratch, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
	struct err e;
	char *dir = xstrdup(path);

	*strrchr(dir, '/') = '\0';
	assert_int_equal(fs_mkdir_p(dir, 0755, &e), 0);
	assert_int_equal(fs_write_atomic(path, data, len, 0644, &e), 0);
	free(dir);
}

static void assert_file_is(const char *path, const void *data, size_t len)
{
	struct buf b = BUF_INIT;
	struct err e;

	assert_int_equal(fs_read_file(path, len + 1, &b, &e), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.data, data, len);
	buf_release(&b);
}

/* Deterministic bytes that differ at every offset a test cuts at. */
static char *pattern(size_t len, unsigned seed)
{
	char *p = xmalloc(len);
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)((i * 131u + seed + i / 251u) & 0xff);
	return p;
}

/* Names in a local directory, dot files included: what a server holds. */
static size_t count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

static struct xfer *new_xfer(void)
{
	struct xfer_opts o = { .netrc = getenv("UPGR_NETRC") };
	struct xfer *x = xfer_new(&o);

	assert_non_null(x);
	return x;
}

/* ---- file:// ---- */

static void test_file_put_creates_dirs(void **state)
{
	struct xfer *x = new_xfer();
	char *url = file_url("repo/apps/hello/releases/1.0.0/manifest.yaml");
	char *path = scratch_path("repo/apps/hello/releases/1.0.0/manifest.yaml");
	char *dir = scratch_path("repo/apps/hello/releases/1.0.0");
	struct err e;

	(void)state;
	assert_int_equal(xfer_put(x, url, "one\n", 4, &e), 0);
	assert_file_is(path, "one\n", 4);
	/* Replaced whole, and no temporary file is left beside it. */
	assert_int_equal(xfer_put(x, url, "second\n", 7, &e), 0);
	assert_file_is(path, "second\n", 7);
	assert_int_equal(count_entries(dir, ""), 1);
	free(dir);
	free(path);
	free(url);
	xfer_free(x);
}

static void test_file_put_file_and_get(void **state)
{
	struct xfer *x = new_xfer();
	char *data = pattern(300000, 1);
	char *src = scratch_path("src.bin"), *url = file_url("repo/put/big.bin");
	struct buf b = BUF_INIT;
	struct err e;
	bool missing = true;

	(void)state;
	write_file(src, data, 300000);
	assert_int_equal(xfer_put_file(x, url, src, &e), 0);
	assert_int_equal(xfer_get(x, url, 300000, &b, &missing, &e), 0);
	assert_false(missing);
	assert_int_equal(b.len, 300000);
	assert_memory_equal(b.data, data, 300000);
	buf_release(&b);
	free(url);
	free(src);
	free(data);
	xfer_free(x);
}

static void test_file_get_cap(void **state)
{
	struct xfer *x = new_xfer();
	char *data = pattern(100000, 2);
	char *path = scratch_path("cap/big.bin"), *url = file_url("cap/big.bin");
	char *dst = scratch_path("cap.out");
	struct buf b = BUF_INIT;
	struct err e;
	struct stat st;

	(void)state;
	write_file(path, data, 100000);
	assert_int_equal(xfer_get(x, url, 99999, &b, NULL, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_non_null(strstr(e.msg, "larger than the declared 99999 bytes"));
	assert_int_equal(b.len, 0);
	/* Into a file: cut off, and the oversized download is not kept. */
	assert_int_equal(xfer_get_file(x, url, dst, 50000, false, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(stat(dst, &st), -1);
	/* Exactly the cap is fine. */
	assert_int_equal(xfer_get(x, url, 100000, &b, NULL, &e), 0);
	assert_int_equal(b.len, 100000);
	buf_release(&b);
	free(dst);
	free(url);
	free(path);
	free(data);
	xfer_free(x);
}

static void test_file_resume(void **state)
{
	struct xfer *x = new_xfer();
	char *data = pattern(200000, 3);
	char *path = scratch_path("resume/f.bin"), *url = file_url("resume/f.bin");
	char *dst = scratch_path("resume.out");
	struct err e;

	(void)state;
	write_file(path, data, 200000);
	write_file(dst, data, 70000);
	assert_int_equal(xfer_get_file(x, url, dst, 200000, true, &e), 0);
	assert_file_is(dst, data, 200000);
	/* Without resume the partial file is started over. */
	write_file(dst, "garbage", 7);
	assert_int_equal(xfer_get_file(x, url, dst, 200000, false, &e), 0);
	assert_file_is(dst, data, 200000);
	/* A "partial" file longer than the cap is started over too. */
	write_file(dst, data, 10);
	assert_int_equal(xfer_get_file(x, url, dst, 5, true, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	free(dst);
	free(url);
	free(path);
	free(data);
	xfer_free(x);
}

static void test_file_list(void **state)
{
	struct xfer *x = new_xfer();
	const char *made[] = { "list/b", "list/a", "list/c.yaml", "list/.c.yaml.tmp-1" };
	char *url = file_url("list/"), *gone = file_url("nothing-here/");
	char **names;
	size_t n, i;
	struct err e;

	(void)state;
	for (i = 0; i < 4; i++) {
		char *p = scratch_path(made[i]);

		write_file(p, "x", 1);
		free(p);
	}
	assert_int_equal(xfer_list(x, url, &names, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "b");
	assert_string_equal(names[2], "c.yaml");
	xfer_names_free(names, n);
	assert_int_equal(xfer_list(x, gone, &names, &n, &e), 0);
	assert_int_equal(n, 0);
	xfer_names_free(names, n);
	free(gone);
	free(url);
	xfer_free(x);
}

static void test_file_missing_and_delete(void **state)
{
	struct xfer *x = new_xfer();
	char *url = file_url("del/f"), *none = file_url("del/none");
	char *path = scratch_path("del.out");
	struct buf b = BUF_INIT;
	struct stat st;
	struct err e;
	bool missing = false;

	(void)state;
	assert_int_equal(xfer_get(x, none, 100, &b, &missing, &e), -1);
	assert_true(missing);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	assert_int_equal(present(x, none, &e), 0);
	assert_int_equal(xfer_get_file(x, none, path, 100, false, &e), -1);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	assert_int_equal(stat(path, &st), -1);   /* no empty file left */

	assert_int_equal(xfer_put(x, url, "x", 1, &e), 0);
	assert_int_equal(present(x, url, &e), 1);
	assert_int_equal(xfer_delete(x, url, &e), 0);
	assert_int_equal(present(x, url, &e), 0);
	/* Deleting what is gone is what a cleanup wants: not an error. */
	assert_int_equal(xfer_delete(x, url, &e), 0);
	buf_release(&b);
	free(path);
	free(none);
	free(url);
	xfer_free(x);
}

static void test_refused_hides_credentials(void **state)
{
	struct xfer *x = new_xfer();
	struct buf b = BUF_INIT;
	struct err e;
	bool missing = true;

	(void)state;
	/* Port 1 on loopback: nothing listens there. */
	assert_int_equal(xfer_get(x, "ftp://bob:s3cret@127.0.0.1:1/x", 10, &b,
				  &missing, &e), -1);
	assert_false(missing);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "ftp://127.0.0.1:1/x"));
	assert_null(strstr(e.msg, "s3cret"));
	assert_null(strstr(e.msg, "bob"));
	buf_release(&b);
	xfer_free(x);
}

static void test_refused_schemes(void **state)
{
	struct xfer *x = new_xfer();
	char **names;
	size_t n;
	struct err e;

	(void)state;
	assert_int_equal(xfer_list(x, "http://127.0.0.1:1/repo/", &names, &n, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	assert_non_null(strstr(e.msg, "listing needs"));
	assert_int_equal(xfer_put(x, "gopher://127.0.0.1:1/x", "x", 1, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	assert_int_equal(xfer_put(x, "http://127.0.0.1:1/x", "x", 1, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	assert_non_null(strstr(e.msg, "uploads need"));
	assert_int_equal(xfer_put(x, "ftp://bob:s3cret@127.0.0.1:1/dir/", "x", 1, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	assert_null(strstr(e.msg, "s3cret"));
	assert_int_equal(xfer_put(x, "ftp://127.0.0.1:1/a%0d%0aDELE%20b", "x", 1, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	assert_int_equal(xfer_put(x, "file://otherhost/tmp/x", "x", 1, &e), -1);
	assert_int_equal(e.code, EXIT_DATAERR);
	xfer_free(x);
}

/* ---- ftp:// against real vsftpd servers ---- */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	assert_non_null(v);
	return v;
}

static char *ftp_url(const char *name)
{
	return xasprintf("%s%s", env("UPGR_FTP_URL"), name);
}

static char *ftp_path(const char *name)
{
	return fs_join(env("UPGR_FTP_ROOT"), name);
}

/* How many times the live server's log holds the text. */
static size_t log_count(const char *text)
{
	struct buf b = BUF_INIT;
	struct err e;
	size_t n = 0;
	const char *p;

	assert_int_equal(fs_read_file(env("UPGR_FTP_LOG"), 64u << 20, &b, &e), 0);
	for (p = b.data; (p = strstr(p, text)); p++)
		n++;
	buf_release(&b);
	return n;
}

/* A reader polling the final name while an upload runs: it must see no
 * file or the whole file, never a part. Returns once it saw the whole. */
static pid_t start_watcher(const char *path, off_t size)
{
	pid_t pid = fork();
	struct timespec nap = { 0, 200000 };
	struct stat st;
	int i;

	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	for (i = 0; i < 20000000; i++) {
		if (stat(path, &st) == 0) {
			if (st.st_size != size)
				_exit(1);
			_exit(0);
		}
		if (i % 64 == 0)
			nanosleep(&nap, NULL);
	}
	_exit(2);
}

static void test_ftp_put_atomic(void **state)
{
	struct xfer *x = new_xfer();
	const size_t len = 8u << 20;
	char *data = pattern(len, 4);
	char *url = ftp_url("apps/hello/releases/1.0.0/payload.tar.gz");
	char *path = ftp_path("apps/hello/releases/1.0.0/payload.tar.gz");
	char *dir = ftp_path("apps/hello/releases/1.0.0");
	char *tmp = xasprintf("STOR .payload.tar.gz.tmp-%ld", (long)getpid());
	struct err e;
	pid_t watcher;
	int status;

	(void)state;
	watcher = start_watcher(path, (off_t)len);
	assert_int_equal(xfer_put(x, url, data, len, &e), 0);
	assert_int_equal(waitpid(watcher, &status, 0), watcher);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_file_is(path, data, len);
	/* It went to the temporary name, then was renamed; nothing is left. */
	assert_int_equal(log_count(tmp), 1);
	assert_int_equal(log_count("RNTO payload.tar.gz"), 1);
	assert_int_equal(count_entries(dir, ""), 1);
	/* A second upload replaces the file whole. */
	assert_int_equal(xfer_put(x, url, "small", 5, &e), 0);
	assert_file_is(path, "small", 5);
	assert_int_equal(count_entries(dir, ""), 1);
	free(tmp);
	free(dir);
	free(path);
	free(url);
	free(data);
	xfer_free(x);
}

static void test_ftp_put_file_and_get(void **state)
{
	struct xfer_opts o = { .netrc = env("UPGR_NETRC"), .progress = true };
	struct xfer *x = xfer_new(&o);
	char *data = pattern(1u << 20, 5);
	char *src = scratch_path("ftp-src.bin"), *dst = scratch_path("ftp-dst.bin");
	char *url = ftp_url("get/one.bin"), *bar = scratch_path("progress.txt");
	struct buf b = BUF_INIT;
	struct err e;
	bool missing = true;
	int saved, fd;
	size_t i, lines;

	(void)state;
	write_file(src, data, 1u << 20);
	/* The progress bars go to stderr: catch them in a file. */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(bar, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	assert_int_equal(xfer_put_file(x, url, src, &e), 0);
	assert_int_equal(xfer_get(x, url, 1u << 20, &b, &missing, &e), 0);
	assert_int_equal(xfer_get_file(x, url, dst, 1u << 20, false, &e), 0);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_false(missing);
	assert_int_equal(b.len, 1u << 20);
	assert_memory_equal(b.data, data, 1u << 20);
	assert_file_is(dst, data, 1u << 20);
	/* Both gets count (the put does not). */
	assert_int_equal(xfer_received(x), 2u << 20);
	/* One line per file transfer (the put, the file get; not the get into
	 * memory, metadata), redrawn with \r, ending at 100% with sizes and
	 * the rate. */
	buf_reset(&b);
	assert_int_equal(fs_read_file(bar, 1u << 20, &b, &e), 0);
	assert_non_null(strstr(b.data, "\rone.bin"));
	assert_non_null(strstr(b.data, "1.0 MiB / 1.0 MiB    100%  "));
	assert_non_null(strstr(b.data, "/s\033[K\n"));
	assert_int_equal(b.data[b.len - 1], '\n');
	for (i = 0, lines = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	assert_int_equal(lines, 2);
	buf_release(&b);
	free(bar);
	free(url);
	free(dst);
	free(src);
	free(data);
	xfer_free(x);
}

static void test_ftp_cap(void **state)
{
	struct xfer *x = new_xfer();
	char *data = pattern(100000, 6);
	char *path = ftp_path("cap/big.bin"), *url = ftp_url("cap/big.bin");
	char *dst = scratch_path("ftp-cap.out");
	struct buf b = BUF_INIT;
	struct err e;
	struct stat st;

	(void)state;
	write_file(path, data, 100000);
	assert_int_equal(xfer_get(x, url, 4096, &b, NULL, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_non_null(strstr(e.msg, "larger than the declared 4096 bytes"));
	assert_int_equal(xfer_get_file(x, url, dst, 99999, false, &e), -1);
	assert_int_equal(e.code, EXIT_TRUST);
	assert_int_equal(stat(dst, &st), -1);
	/* The handle is still good after a cut-off. */
	assert_int_equal(xfer_get(x, url, 100000, &b, NULL, &e), 0);
	assert_int_equal(b.len, 100000);
	buf_release(&b);
	free(dst);
	free(url);
	free(path);
	free(data);
	xfer_free(x);
}

static void test_ftp_resume(void **state)
{
	struct xfer *x = new_xfer();
	char *data = pattern(200000, 7);
	char *path = ftp_path("resume/f.bin"), *url = ftp_url("resume/f.bin");
	char *dst = scratch_path("ftp-resume.out");
	struct err e;

	(void)state;
	write_file(path, data, 200000);
	write_file(dst, data, 100000);
	assert_int_equal(xfer_get_file(x, url, dst, 200000, true, &e), 0);
	assert_file_is(dst, data, 200000);
	/* Only the second half crossed the wire. */
	assert_int_equal(log_count("REST 100000"), 1);
	free(dst);
	free(url);
	free(path);
	free(data);
	xfer_free(x);
}

static void test_ftp_missing(void **state)
{
	struct xfer *x = new_xfer();
	char *none = ftp_url("nope/none.yaml"), *url = ftp_url("exists/here");
	struct buf b = BUF_INIT;
	struct err e;
	bool missing = false;

	(void)state;
	assert_int_equal(xfer_get(x, none, 100, &b, &missing, &e), -1);
	assert_true(missing);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "not found"));
	missing = false;
	free(none);
	none = ftp_url("exists/none.yaml");
	assert_int_equal(xfer_put(x, url, "here", 4, &e), 0);
	assert_int_equal(xfer_get(x, none, 100, &b, &missing, &e), -1);
	assert_true(missing);
	assert_int_equal(present(x, none, &e), 0);
	assert_int_equal(present(x, url, &e), 1);
	assert_int_equal(xfer_delete(x, url, &e), 0);
	assert_int_equal(present(x, url, &e), 0);
	assert_int_equal(xfer_delete(x, url, &e), 0);
	buf_release(&b);
	free(url);
	free(none);
	xfer_free(x);
}

static void test_ftp_dead_server(void **state)
{
	struct xfer *x = new_xfer();
	char *url = xasprintf("%sapps/x", env("UPGR_FTP_DEAD_URL"));
	struct buf b = BUF_INIT;
	struct err e;
	bool missing = true;

	(void)state;
	assert_int_equal(xfer_get(x, url, 100, &b, &missing, &e), -1);
	assert_false(missing);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	assert_non_null(strstr(e.msg, url));
	assert_int_equal(xfer_put(x, url, "x", 1, &e), -1);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	buf_release(&b);
	free(url);
	xfer_free(x);
}

static void test_ftp_one_login(void **state)
{
	struct xfer *x = new_xfer();
	const char *files[] = { "reuse/a", "reuse/sub/b", "other/c", "reuse/a" };
	char *none;
	struct buf b = BUF_INIT;
	struct err e;
	size_t before, i;

	(void)state;
	for (i = 0; i < 3; i++) {
		char *p = ftp_path(files[i]);

		write_file(p, files[i], strlen(files[i]));
		free(p);
	}
	before = log_count("OK LOGIN");
	for (i = 0; i < 4; i++) {
		char *url = ftp_url(files[i]);

		assert_int_equal(xfer_get(x, url, 100, &b, NULL, &e), 0);
		assert_string_equal(b.data, files[i]);
		free(url);
	}
	none = ftp_url("reuse/none");
	assert_int_equal(present(x, none, &e), 0);
	assert_int_equal(log_count("OK LOGIN") - before, 1);
	free(none);
	buf_release(&b);
	xfer_free(x);
}

static void test_ftp_list(void **state)
{
	struct xfer *x = new_xfer();
	const char *made[] = { "ls/2.0.0/m", "ls/1.0.0", "ls/1.10.0", "ls/.1.5.0.tmp-9" };
	char *url = ftp_url("ls/"), *gone = ftp_url("ls-none/");
	char **names;
	size_t n, i;
	struct err e;

	(void)state;
	for (i = 0; i < 4; i++) {
		char *p = ftp_path(made[i]);

		write_file(p, "x", 1);
		free(p);
	}
	assert_int_equal(xfer_list(x, url, &names, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "1.0.0");
	assert_string_equal(names[1], "1.10.0");
	assert_string_equal(names[2], "2.0.0");
	xfer_names_free(names, n);
	assert_int_equal(xfer_list(x, gone, &names, &n, &e), 0);
	assert_int_equal(n, 0);
	xfer_names_free(names, n);
	free(gone);
	free(url);
	xfer_free(x);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_ftp_slow_abandoned(void **state)
{
	struct xfer_opts o = { .netrc = env("UPGR_NETRC"), .low_speed_limit = 1000,
			       .low_speed_time = 2 };
	struct xfer *x = xfer_new(&o);
	char *data = pattern(1u << 20, 8);
	char *path = fs_join(env("UPGR_FTP_SLOW_ROOT"), "slow.bin");
	char *url = xasprintf("%sslow.bin", env("UPGR_FTP_SLOW_URL"));
	char *dst = scratch_path("slow.out");
	struct timespec t0;
	struct stat st;
	struct err e;

	(void)state;
	write_file(path, data, 1u << 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(xfer_get_file(x, url, dst, 1u << 20, true, &e), -1);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	assert_non_null(strstr(e.msg, url));
	/* Abandoned within the low-speed window (plus curl's averaging),
	 * long before the trickle could have finished. */
	assert_true(seconds_since(&t0) < 20);
	/* What arrived is kept for a resume. */
	assert_int_equal(stat(dst, &st), 0);
	assert_true(st.st_size > 0 && st.st_size < (off_t)(1u << 20));
	free(dst);
	free(url);
	free(path);
	free(data);
	xfer_free(x);
}

static void test_ftp_killed_mid_transfer(void **state)
{
	struct xfer *x = new_xfer();
	char *url = xasprintf("%sslow.bin", env("UPGR_FTP_SLOW_URL"));
	char *dst = scratch_path("killed.out");
	struct timespec t0;
	struct stat st;
	struct err e;
	pid_t killer;
	int status;

	(void)state;
	killer = fork();
	assert_true(killer >= 0);
	if (killer == 0) {
		sleep(1);
		execl("/bin/sh", "sh", "-c", env("UPGR_FTP_SLOW_STOP"), (char *)NULL);
		_exit(127);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(xfer_get_file(x, url, dst, 1u << 20, false, &e), -1);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	assert_true(seconds_since(&t0) < 10);
	assert_int_equal(waitpid(killer, &status, 0), killer);
	assert_int_equal(stat(dst, &st), 0);
	assert_true(st.st_size < (off_t)(1u << 20));
	free(dst);
	free(url);
	xfer_free(x);
}

/* ---- http:// (python's http.server, which ignores Range) ---- */

static char *http_url(const char *name)
{
	return xasprintf("%s%s", env("UPGR_HTTP_URL"), name);
}

static void test_http_get_missing_cap(void **state)
{
	struct xfer *x = new_xfer();
	char *data = pattern(50000, 9);
	char *path = fs_join(env("UPGR_HTTP_ROOT"), "h/f.bin");
	char *url = http_url("h/f.bin"), *none = http_url("h/none");
	struct buf b = BUF_INIT;
	struct err e;
	bool missing = true;

	(void)state;
	write_file(path, data, 50000);
	assert_int_equal(xfer_get(x, url, 50000, &b, &missing, &e), 0);
	assert_false(missing);
	assert_int_equal(b.len, 50000);
	assert_memory_equal(b.data, data, 50000);
	assert_int_equal(present(x, url, &e), 1);
	assert_int_equal(present(x, none, &e), 0);
	assert_int_equal(xfer_get(x, none, 100, &b, &missing, &e), -1);
	assert_true(missing);
	assert_int_equal(e.code, EXIT_UNAVAILABLE);
	/* Content-Length over the cap is refused before the body. */
	assert_int_equal(xfer_get(x, url, 49999, &b, &missing, &e), -1);
	assert_false(missing);
	assert_int_equal(e.code, EXIT_TRUST);
	buf_release(&b);
	free(none);
	free(url);
	free(path);
	free(data);
	xfer_free(x);
}

static void test_http_resume_without_ranges(void **state)
{
	struct xfer *x = new_xfer();
	char *data = pattern(80000, 10);
	char *path = fs_join(env("UPGR_HTTP_ROOT"), "h/r.bin");
	char *url = http_url("h/r.bin");
	char *dst = scratch_path("http-resume.out");
	struct err e;

	(void)state;
	write_file(path, data, 80000);
	write_file(dst, data, 30000);
	/* The server answers a range with the whole file: start over. */
	assert_int_equal(xfer_get_file(x, url, dst, 80000, true, &e), 0);
	assert_file_is(dst, data, 80000);
	free(dst);
	free(url);
	free(path);
	free(data);
	xfer_free(x);
}

int main(void)
{
	const struct CMUnitTest file_tests[] = {
		cmocka_unit_test(test_file_put_creates_dirs),
		cmocka_unit_test(test_file_put_file_and_get),
		cmocka_unit_test(test_file_get_cap),
		cmocka_unit_test(test_file_resume),
		cmocka_unit_test(test_file_list),
		cmocka_unit_test(test_file_missing_and_delete),
		cmocka_unit_test(test_refused_hides_credentials),
		cmocka_unit_test(test_refused_schemes),
	};
	const struct CMUnitTest ftp_tests[] = {
		cmocka_unit_test(test_ftp_put_atomic),
		cmocka_unit_test(test_ftp_put_file_and_get),
		cmocka_unit_test(test_ftp_cap),
		cmocka_unit_test(test_ftp_resume),
		cmocka_unit_test(test_ftp_missing),
		cmocka_unit_test(test_ftp_dead_server),
		cmocka_unit_test(test_ftp_one_login),
		cmocka_unit_test(test_ftp_list),
		cmocka_unit_test(test_ftp_slow_abandoned),
		cmocka_unit_test(test_ftp_killed_mid_transfer),
	};
	const struct CMUnitTest http_tests[] = {
		cmocka_unit_test(test_http_get_missing_cap),
		cmocka_unit_test(test_http_resume_without_ranges),
	};

	if (getenv("UPGR_HTTP_URL"))
		return cmocka_run_group_tests_name("transport over http", http_tests,
						   setup_scratch, remove_scratch);
	if (getenv("UPGR_FTP_URL"))
		return cmocka_run_group_tests_name("transport over ftp", ftp_tests,
						   setup_scratch, remove_scratch);
	return cmocka_run_group_tests_name("transport over file", file_tests,
					   setup_scratch, remove_scratch);
}
