/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: exec (commands through /bin/sh with a clean environment,
 * captured output, timeouts that kill the whole process group). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "exec.h"
#include "fsutil.h"
#include "xalloc.h"

static char *const no_env[] = { NULL };

/* Run cmd in /tmp with env; assert it started. */
static void run(const char *cmd, char *const env[], unsigned timeout, struct exec_result *r)
{
	struct err e;

	exec_result_init(r);
	if (exec_run(cmd, "/tmp", env, timeout, r, &e) != 0)
		fail_msg("%s: %s", cmd, e.msg);
}

/* Signals upgr ignores or blocks are back to default in the command. */
static void test_signals_reset(void **state)
{
	struct sigaction ign, old_pipe, old_term;
	sigset_t block, old_mask;
	struct exec_result r;

	(void)state;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGTERM, &ign, &old_term);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	run("kill -TERM $$; echo survived", no_env, 10, &r);
	assert_int_equal(r.exit, 128 + SIGTERM);
	assert_int_equal(r.output.len, 0);
	exec_result_release(&r);
	run("kill -USR1 $$; echo survived", no_env, 10, &r);
	assert_int_equal(r.exit, 128 + SIGUSR1);
	exec_result_release(&r);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGTERM, &old_term, NULL);
}

/* Binary output, NUL bytes included, is kept as bytes. */
static void test_binary_output(void **state)
{
	struct exec_result r;

	(void)state;
	run("printf 'a\\000b\\377'", no_env, 10, &r);
	assert_int_equal(r.output.len, 4);
	assert_memory_equal(r.output.data, "a\0b\377", 4);
	exec_result_release(&r);
}

static void test_exit_codes(void **state)
{
	static const struct { const char *cmd; int exit; } cases[] = {
		{ "true", 0 },
		{ "exit 3", 3 },
		{ "exit 255", 255 },
		{ "kill -9 $$", 128 + SIGKILL },
		{ "kill -TERM $$", 128 + SIGTERM },
		{ "no-such-command-anywhere", 127 },
	};
	struct exec_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		run(cases[i].cmd, no_env, 10, &r);
		assert_int_equal(r.exit, cases[i].exit);
		assert_false(r.timed_out);
		assert_true(r.ms >= 0 && r.ms < 5000);
		exec_result_release(&r);
	}
}

static void test_output(void **state)
{
	struct exec_result r;
	size_t i;

	(void)state;
	run("echo out; echo err >&2; echo out2", no_env, 10, &r);
	assert_string_equal(r.output.data, "out\nerr\nout2\n");
	exec_result_release(&r);

	/* stdin is /dev/null: cat ends at once. */
	run("cat; echo done", no_env, 10, &r);
	assert_string_equal(r.output.data, "done\n");
	exec_result_release(&r);

	/* Only the first EXEC_OUTPUT_MAX bytes are kept; the rest is read
	 * and dropped, so the writer never blocks. */
	run("head -c 1000000 /dev/zero | tr '\\000' a; echo tail >&2; exit 4", no_env, 10, &r);
	assert_int_equal(r.exit, 4);
	assert_int_equal(r.output.len, EXEC_OUTPUT_MAX);
	for (i = 0; i < r.output.len; i++)
		assert_int_equal(r.output.data[i], 'a');
	exec_result_release(&r);
}

/* Only what env lists (and PATH) reaches the command. The shell's own
 * exports (PWD; bash adds SHLVL and _) are left out of the comparison. */
static void test_env(void **state)
{
	char *env[] = { (char *)"UPGR_APP=hello", (char *)"UPGR_PHASE=start", NULL };
	char *with_path[] = { (char *)"PATH=/bin", (char *)"HOME=/nowhere", NULL };
	struct exec_result r;

	(void)state;
	setenv("UPGR_TEST_LEAK", "secret", 1);
	setenv("HOME", "/root", 1);
	run("env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' | sort", env, 10, &r);
	assert_string_equal(r.output.data,
			    "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
			    "UPGR_APP=hello\n"
			    "UPGR_PHASE=start\n");
	exec_result_release(&r);

	run("echo \"${HOME-unset}\"", no_env, 10, &r);
	assert_string_equal(r.output.data, "unset\n");
	exec_result_release(&r);

	run("echo \"$PATH $HOME\"", with_path, 10, &r);
	assert_string_equal(r.output.data, "/bin /nowhere\n");
	exec_result_release(&r);
	unsetenv("UPGR_TEST_LEAK");
}

static void test_cwd(void **state)
{
	char tmpl[] = "/tmp/upgr-exec-XXXXXX", real[PATH_MAX];
	struct exec_result r;
	struct err e;
	char *want;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, real));
	exec_result_init(&r);
	assert_int_equal(exec_run("pwd -P", tmpl, no_env, 10, &r, &e), 0);
	want = xasprintf("%s\n", real);
	assert_string_equal(r.output.data, want);
	free(want);
	assert_int_equal(rmdir(tmpl), 0);

	/* A missing directory: the command does not start. */
	assert_int_equal(exec_run("echo should-not-run", tmpl, no_env, 10, &r, &e), -1);
	assert_int_equal(r.exit, -1);
	assert_int_equal(e.code, EXIT_SOFTWARE);
	assert_non_null(strstr(e.msg, "chdir"));
	assert_int_equal(r.output.len, 0);
	exec_result_release(&r);
}

/* The command leads a process group of its own, and sees none of upgr's
 * descriptors. */
static void test_isolation(void **state)
{
	struct exec_result r;
	int fd;

	(void)state;
	fd = open("/dev/null", O_RDONLY);          /* deliberately inheritable */
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 200), 200);
	run("test -e /proc/$$/fd/200 && echo leaked; test -e /proc/$$/fd/3 && echo leaked3;"
	    " echo $$ $(cut -d' ' -f5 /proc/$$/stat)", no_env, 10, &r);
	close(200);
	close(fd);
	assert_null(strstr(r.output.data, "leaked"));
	{
		long pid, pgrp;
		assert_int_equal(sscanf(r.output.data, "%ld %ld", &pid, &pgrp), 2);
		assert_int_equal(pid, pgrp);
		assert_true(pgrp != (long)getpgrp());
	}
	exec_result_release(&r);
}

/* 1 if pid has gone (or is a zombie nobody reaped yet), polling up to 3 s. */
static int dead(long pid)
{
	char path[64], stat[256], *p;
	struct buf b = BUF_INIT;
	struct err e;
	int i;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	for (i = 0; i < 300; i++) {
		if (fs_read_file(path, 4096, &b, &e) < 0) {
			buf_release(&b);
			return 1;
		}
		snprintf(stat, sizeof stat, "%s", b.data);
		p = strrchr(stat, ')');
		if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) {
			buf_release(&b);
			return 1;
		}
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	buf_release(&b);
	return 0;
}

static long read_pid(const char *path)
{
	struct buf b = BUF_INIT;
	struct err e;
	long pid;

	assert_int_equal(fs_read_file(path, 64, &b, &e), 0);
	pid = atol(b.data);
	buf_release(&b);
	assert_true(pid > 1);
	return pid;
}

/* On timeout the whole group dies, grandchildren included. */
static void test_timeout_kills_group(void **state)
{
	char tmpl[] = "/tmp/upgr-exec-XXXXXX";
	struct exec_result r;
	char *cmd, *pidfile;
	long pid;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	pidfile = fs_join(tmpl, "pid");
	cmd = xasprintf("sleep 100 & echo $! > %s; echo waiting; sleep 100", pidfile);
	run(cmd, no_env, 1, &r);
	assert_true(r.timed_out);
	assert_int_equal(r.exit, 128 + SIGTERM);
	assert_true(r.ms >= 1000 && r.ms < 2500);
	assert_string_equal(r.output.data, "waiting\n");
	pid = read_pid(pidfile);
	assert_true(dead(pid));
	exec_result_release(&r);
	free(cmd);

	/* TERM ignored by everyone: KILL follows 2 s later. */
	cmd = xasprintf("trap '' TERM; sleep 100 & echo $! > %s; sleep 100", pidfile);
	run(cmd, no_env, 1, &r);
	assert_true(r.timed_out);
	assert_int_equal(r.exit, 128 + SIGKILL);
	assert_true(r.ms >= 3000 && r.ms < 4500);
	assert_true(dead(read_pid(pidfile)));
	exec_result_release(&r);
	free(cmd);

	/* A command that closed its output and runs on is timed out too. */
	run("exec >/dev/null 2>&1; sleep 100", no_env, 1, &r);
	assert_true(r.timed_out);
	assert_true(r.ms >= 1000 && r.ms < 2500);
	exec_result_release(&r);

	unlink(pidfile);
	rmdir(tmpl);
	free(pidfile);
}

/* A daemon that keeps the output pipe open does not hold exec_run past
 * the grace period, and is not killed: a start command may launch it. */
static void test_daemon_keeps_pipe(void **state)
{
	struct exec_result r;
	long pid;

	(void)state;
	run("sleep 30 & echo $!; echo started >&2", no_env, 10, &r);
	assert_int_equal(r.exit, 0);
	assert_false(r.timed_out);
	assert_true(r.ms < 1500);
	pid = atol(r.output.data);
	assert_true(pid > 1);
	assert_non_null(strstr(r.output.data, "\nstarted\n"));
	assert_int_equal(kill((pid_t)pid, 0), 0);          /* still running */
	kill((pid_t)pid, SIGKILL);
	exec_result_release(&r);

	/* Quick commands are not slowed by the polling (generous bound:
	 * sanitizers and a loaded machine). */
	run("true", no_env, 10, &r);
	assert_true(r.ms < 500);
	exec_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_signals_reset),
		cmocka_unit_test(test_binary_output),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_daemon_keeps_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
