/* SPDX-License-Identifier: Apache-2.0 */
/* Running a release's commands: /bin/sh -c CMD with a clean environment,
 * in a process group of its own, stdin from /dev/null, stdout and stderr
 * into one pipe whose first EXEC_OUTPUT_MAX bytes are kept.
 *
 * When it ends: the parent waits for the direct child, not for EOF on the
 * pipe. A `start` command that launches a daemon which forgot to close its
 * stdout leaves the pipe open forever; so once the child has exited, the
 * output is read for a grace period of GRACE_MS more and then abandoned
 * (the daemon keeps running; its later writes to the pipe fail with EPIPE).
 *
 * On timeout the whole group gets SIGTERM, then SIGKILL KILL_AFTER_MS
 * later if the child is still there; once a timed-out child is gone, what
 * is left of its group is killed at once, so no part of a timed-out
 * command outlives exec_run. A command that ends in time leaves its group
 * alone: daemons started by `start` must survive it.
 *
 * The child is made by posix_spawn where it can set the directory and
 * close every other descriptor (glibc 2.34 on): no copy of upgr's memory
 * (45 MB on a 20,000-file release, three commands an upgrade) is made
 * for a process that execs at once. Elsewhere, and with UPGR_EXEC_FORK
 * (the unit tests build both), fork and the same steps by hand. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE               /* posix_spawn's chdir and closefrom actions */
#endif
#include "exec.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GRACE_MS 200
#define KILL_AFTER_MS 2000
#define TICK_MAX_MS 50            /* longest sleep between checks on the child */
#define DEFAULT_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

#if !defined(UPGR_EXEC_FORK) && defined(__GLIBC__) && \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define EXEC_SPAWN 1
#endif

/* Dispositions upgr sets that must not reach a command (an ignored
 * SIGPIPE or TERM would survive exec). */
static const int reset_sigs[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD,
	SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU,
};

void exec_result_init(struct exec_result *r)
{
	r->exit = -1;
	r->timed_out = false;
	r->ms = 0;
	buf_init(&r->output);
}

void exec_result_release(struct exec_result *r)
{
	buf_release(&r->output);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A pipe whose ends are close-on-exec and above stderr (so dup2 onto
 * 0..2 in the child never clobbers them, even if upgr's own 0..2 were
 * closed). */
static int pipe_high(int p[2])
{
	int raw[2], i;

	if (pipe(raw) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		p[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 3);
		close(raw[i]);
	}
	if (p[0] < 0 || p[1] < 0) {
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		return -1;
	}
	return 0;
}

/* env plus PATH when it has none; the strings are not copied. */
static char **build_env(char *const env[])
{
	size_t n = 0, i;
	bool has_path = false;
	char **v;

	while (env && env[n]) {
		if (!strncmp(env[n], "PATH=", 5))
			has_path = true;
		n++;
	}
	v = xcalloc(n + 2, sizeof *v);
	for (i = 0; i < n; i++)
		v[i] = env[i];
	if (!has_path)
		v[n] = (char *)DEFAULT_PATH;
	return v;
}

#ifdef EXEC_SPAWN
/* Start /bin/sh (argv, envp) in cwd with stdout and stderr on out, as the
 * top of this file says: its pid, or -1 with e saying what failed. The
 * child is in its own group before this returns. */
static pid_t start_child(const char *cwd, char **argv, char **envp, int out,
			 struct err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t dfl, none;
	struct stat st;
	pid_t pid = -1;
	size_t i;
	int rc;

	/* The spawn says one errno for all its steps (and nothing at all
	 * under valgrind, which makes it a fork): the directory, which a
	 * release can get wrong, is looked at first. */
	if (stat(cwd, &st) < 0)
		return err_sys(e, EXIT_SOFTWARE, "chdir %s", cwd);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return err_sys(e, EXIT_SOFTWARE, "chdir %s", cwd);
	}
	sigemptyset(&none);
	sigemptyset(&dfl);
	for (i = 0; i < sizeof reset_sigs / sizeof reset_sigs[0]; i++)
		sigaddset(&dfl, reset_sigs[i]);
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		errno = rc;
		return err_sys(e, EXIT_SOFTWARE, "posix_spawn");
	}
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&at);
		errno = rc;
		return err_sys(e, EXIT_SOFTWARE, "posix_spawn");
	}
	if ((rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
						    POSIX_SPAWN_SETSIGMASK)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&at, &dfl)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out, 1)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out, 2)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, cwd)) == 0)
		rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc == 0)
		return pid;
	errno = rc;
	return err_sys(e, EXIT_SOFTWARE, "start /bin/sh in %s", cwd);
}
#else
/* The highest fd open now, so the child closes exactly up to it (one
 * close() per possible fd up to _SC_OPEN_MAX can be a million calls).
 * Read here, before fork: the child may not call opendir. */
static int highest_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long max = -1, open_max;

	if (d) {
		while ((de = readdir(d))) {
			long fd = strtol(de->d_name, NULL, 10);
			if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && fd > max)
				max = fd;
		}
		closedir(d);
		if (max >= 0)
			return (int)max;
	}
	open_max = sysconf(_SC_OPEN_MAX);
	if (open_max < 0 || open_max > 65536)
		open_max = 65536;
	return (int)open_max - 1;
}

/* What the child tells the parent when it fails before exec. */
struct child_failure {
	int step;                 /* 0 chdir, 1 exec, 2 stdin */
	int err;
};

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_run(const char *cwd, char **argv, char **envp, int out,
		      int report, int maxfd)
{
	struct child_failure f = { 2, 0 };
	struct sigaction dfl;
	sigset_t none;
	size_t i;
	int fd;

	setpgid(0, 0);
	/* Dispositions and mask upgr set must not reach the command (an
	 * ignored SIGPIPE or TERM would survive exec). */
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (i = 0; i < sizeof reset_sigs / sizeof reset_sigs[0]; i++)
		sigaction(reset_sigs[i], &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		goto fail;
	if (fd > 2)
		close(fd);
	for (fd = 3; fd <= maxfd; fd++)
		if (fd != report)
			close(fd);
	f.step = 0;
	if (chdir(cwd) < 0)
		goto fail;
	f.step = 1;
	execve("/bin/sh", argv, envp);
fail:
	f.err = errno;
	if (write(report, &f, sizeof f) < 0)
		_exit(127);
	_exit(127);
}

/* The child's report: 0 when exec succeeded (the pipe closed), else -1
 * with e saying what failed. */
static int child_started(int report, pid_t pid, const char *cwd, struct err *e)
{
	struct child_failure f;
	ssize_t n;

	do
		n = read(report, &f, sizeof f);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof f)
		return 0;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	errno = f.err;
	if (f.step == 0)
		return err_sys(e, EXIT_SOFTWARE, "chdir %s", cwd);
	if (f.step == 1)
		return err_sys(e, EXIT_SOFTWARE, "exec /bin/sh");
	return err_sys(e, EXIT_SOFTWARE, "set up stdin/stdout");
}

static pid_t start_child(const char *cwd, char **argv, char **envp, int out,
			 struct err *e)
{
	int report[2] = { -1, -1 }, maxfd;
	pid_t pid;

	if (pipe_high(report) < 0)
		return err_sys(e, EXIT_SOFTWARE, "pipe");
	maxfd = highest_fd();
	pid = fork();
	if (pid < 0) {
		err_sys(e, EXIT_SOFTWARE, "fork");
		goto done;
	}
	if (pid == 0)
		child_run(cwd, argv, envp, out, report[1], maxfd);
	/* Also here, so the group exists before any kill(-pid) (no race
	 * with the child's own setpgid). It may fail once the child has
	 * exec'd; the child's call did it then. */
	setpgid(pid, pid);
	close(report[1]);
	report[1] = -1;
	if (child_started(report[0], pid, cwd, e) < 0)
		pid = -1;                /* child_started waited for it */
done:
	close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	return pid;
}
#endif

/* The parent's side: read the pipe, watch the clock, reap the child. */
struct run {
	pid_t pid;
	int out;                  /* read end, -1 once at EOF or abandoned */
	long long start, deadline, kill_at, grace_end;
	bool reaped, killed;
	int status;
	unsigned tick;
	struct exec_result *r;
};

/* Read what is there (a bounded amount, so a command that writes without
 * pause cannot keep us from the clock). */
static void drain(struct run *x)
{
	char chunk[16384];
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		n = read(x->out, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(x->out);
			x->out = -1;
			return;
		}
		if (x->r->output.len < EXEC_OUTPUT_MAX) {
			size_t room = EXEC_OUTPUT_MAX - x->r->output.len;
			buf_add(&x->r->output, chunk, (size_t)n < room ? (size_t)n : room);
		}
	}
}

/* Send TERM on timeout, KILL when TERM was not enough. */
static void enforce_timeout(struct run *x, long long now)
{
	if (x->deadline && !x->r->timed_out && !x->reaped && now >= x->deadline) {
		x->r->timed_out = true;
		kill(-x->pid, SIGTERM);
		x->kill_at = now + KILL_AFTER_MS;
	}
	if (x->r->timed_out && !x->killed && (x->reaped || now >= x->kill_at)) {
		kill(-x->pid, SIGKILL);
		x->killed = true;
	}
}

static int reap(struct run *x, long long now, struct err *e)
{
	pid_t w;

	if (x->reaped)
		return 0;
	do
		w = waitpid(x->pid, &x->status, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return err_sys(e, EXIT_SOFTWARE, "wait for command");
	if (w == x->pid) {
		x->reaped = true;
		x->grace_end = now + GRACE_MS;
	}
	return 0;
}

/* How long poll may sleep: until the next thing to check. While the child
 * runs its exit is polled with a tick that grows from 1 to TICK_MAX_MS
 * (pipe EOF usually wakes us first). */
static int wait_ms(struct run *x, long long now)
{
	long long until;

	if (x->reaped)
		until = x->grace_end;
	else {
		if (x->tick < TICK_MAX_MS)
			x->tick = x->tick ? x->tick * 2 : 1;
		until = now + x->tick;
		if (x->deadline && !x->r->timed_out && x->deadline < until)
			until = x->deadline;
		if (x->r->timed_out && !x->killed && x->kill_at < until)
			until = x->kill_at;
	}
	return until > now ? (int)(until - now) : 0;
}

static int supervise(struct run *x, struct err *e)
{
	struct pollfd pfd;
	long long now;
	int n;

	for (;;) {
		now = now_ms();
		if (reap(x, now, e) < 0)
			return -1;
		enforce_timeout(x, now);
		if (x->reaped && (x->out < 0 || now >= x->grace_end))
			break;
		pfd.fd = x->out;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, x->out >= 0 ? 1 : 0, wait_ms(x, now));
		if (n < 0 && errno != EINTR)
			return err_sys(e, EXIT_SOFTWARE, "poll");
		if (n > 0) {
			drain(x);
			x->tick = 0;
		}
	}
	if (WIFEXITED(x->status))
		x->r->exit = WEXITSTATUS(x->status);
	else if (WIFSIGNALED(x->status))
		x->r->exit = 128 + WTERMSIG(x->status);
	return 0;
}

int exec_run(const char *cmd, const char *cwd, char *const env[],
	     unsigned timeout_s, struct exec_result *r, struct err *e)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)cmd, NULL };
	char **envp = build_env(env);
	int out[2] = { -1, -1 }, rc = -1;
	struct run x;

	memset(&x, 0, sizeof x);
	x.r = r;
	x.out = -1;
	r->exit = -1;
	r->timed_out = false;
	buf_reset(&r->output);
	x.start = now_ms();
	if (pipe_high(out) < 0) {
		err_sys(e, EXIT_SOFTWARE, "pipe");
		goto done;
	}
	x.pid = start_child(cwd, argv, envp, out[1], e);
	if (x.pid < 0)
		goto done;
	close(out[1]);
	out[1] = -1;
	x.out = out[0];
	out[0] = -1;
	fcntl(x.out, F_SETFL, fcntl(x.out, F_GETFL) | O_NONBLOCK);
	x.deadline = timeout_s ? x.start + (long long)timeout_s * 1000 : 0;
	rc = supervise(&x, e);
done:
	if (x.pid > 0 && !x.reaped && rc < 0) {
		/* Supervision failed: leave nothing running behind us. */
		kill(-x.pid, SIGKILL);
		while (waitpid(x.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	r->ms = (long)(now_ms() - x.start);
	if (rc < 0)
		err_prefix(e, "run \"%s\": ", cmd);
	if (x.out >= 0)
		close(x.out);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	free(envp);
	return rc;
}
