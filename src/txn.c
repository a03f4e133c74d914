/* SPDX-License-Identifier: Apache-2.0 */
/* The transaction.
 *
 * Applying a release moves one app through these states, each recorded in
 * the journal (STATE/apps/APP/journal, written with fs_write_atomic; its
 * format, writer and reader are journal.c) before the step that needs it:
 *
 *   (none) --prepare--> PREPARED --> STARTED --stop, swap, start, health--> COMMITTED
 *                          |                 |                                      |
 *                          | failure, crash  | failure, crash                       | commit
 *                          v                 v                                      v
 *                       (none)          stop the new version, restore the         DONE
 *                 (target untouched)    backups, rollback steps, start and          |
 *                                       health-check the old one  --> DONE          |
 *                                                                       |           |
 *                                   result recorded (audit log, status) -> txn_finish -> (none)
 *
 * Layout: WORK = plan.workdir, on the target's file system (inside the
 * target when that is a mount point: a directory its owner may control).
 *   WORK/              root's (or ours), mode 0700, opened with O_NOFOLLOW,
 *                      checked and held by work_open (refused, EXIT_TRUST,
 *                      when it is anything else)
 *   WORK/stage/        the new files, extracted, hashed, moded, flushed (syncfs)
 *   WORK/backup.new/   hard links to every file this transaction replaces
 *                      or removes (made before the stop)
 *   WORK/backup/       the previous transaction's backup.new, kept for
 *                      `upgr rollback`
 *   STATE/apps/APP/manifest.next.yaml  the manifest being installed
 *   STATE/apps/APP/last-txn            the ops of the last committed one
 *
 * Invariants:
 *  1. Nothing in the target changes before the journal says PREPARED and
 *     lists every op, every directory it will create ("mkdir PATH") and
 *     every directory the swap removes once emptied ("rmdir MODE PATH":
 *     plan.dirs, the release's directories no file of the new one needs);
 *     nothing but the created directories changes before it says STARTED.
 *     A removed directory is made again, with its mode, before the files
 *     are restored (remake_dirs); one that is not empty is kept.
 *  2. From STARTED on, every file the target had before is reachable: either
 *     still in place or as a hard link in WORK/backup.new. So restoring is
 *     a rename per op, whichever of the swap's renames had happened: a
 *     rename of two links to one file is a no-op (POSIX), an added file
 *     whose staged copy is gone was renamed into place and is unlinked.
 *  3. Each swap is one rename(2) or unlink(2), or, for a directory whose
 *     every entry changes (plan.xdirs, "xdir OLDINO NEWINO PATH" in the
 *     journal from PREPARED on: only the release's files, none kept, none
 *     foreign, no subdirectory, no extended attribute; chosen by
 *     find_xdirs once staged), one renameat2(RENAME_EXCHANGE) of the
 *     directory with its staged copy, which has taken its mode and owner
 *     (exchange_dirs, first in the swap; where the system refuses the
 *     flag, file by file as before). A directory (not the target) whose
 *     every entry, in the target and in the staging area alike, is such a
 *     directory, and nothing else, is exchanged instead of them, and so on
 *     upward (merge_up): the journal lists the topmost only, and no xdir
 *     lies in another, so the exchanges of a swap do not grow with the
 *     directories of a subtree that changes whole. The service sees the
 *     old file or the new one, never a mix within a file; within an
 *     exchanged directory, the old directory or the new one (its whole
 *     subtree). The old directory lies at
 *     WORK/stage/PATH meanwhile, and its files are linked in
 *     WORK/backup.new like every replaced file (invariant 2), so the
 *     per-file restore is right whichever directory is in place; before
 *     it, unexchange_dirs exchanges back a directory whose two sides have
 *     the journal's inodes, to give back the old directory itself (with
 *     its subtree). Both parents of an exchange are fsynced before
 *     COMMITTED (sync_exchanged); the exchanged directories themselves are
 *     the staged ones, durable since staging, and are not fsynced again.
 *     Everything the swap decides per op (which exchange covers it:
 *     t->xof) is worked out before the stop.
 *  4. COMMITTED is written only after the health checks pass; from then
 *     on recovery completes the commit (installed manifest, backup
 *     rotation), which is idempotent, and never rolls back.
 *  5. STARTED is written before the stop (so that no journal write falls
 *     inside the downtime); a recovery from STARTED assumes the new version
 *     may be running and stops it, with the release's own stop commands,
 *     before its files go. (TXN_SWAPPING, the same without that stop, is
 *     never written: it is only read, from journals of earlier versions.)
 *  6. The journal ends in DONE (with the result) and is dropped only after
 *     the result is in the audit log and the status (apply_conclude, in
 *     apply.c, the one caller of txn_finish); a crash in between is
 *     recorded by the recovery instead. DONE comes before any clean-up
 *     (staging, backup.new, manifest.next.yaml), and the clean-up only once
 *     DONE is on disk: a journal short of DONE always has what its recovery
 *     needs. A journal found by any later run is resolved (txn_recover)
 *     before anything else happens to that app.
 *  7. Every rename, link and unlink in the target goes through directories
 *     opened with O_NOFOLLOW from the target down (struct dirwalk); every
 *     one in WORK goes through the descriptor work_open holds, never WORK's
 *     name, so a WORK renamed away and replaced redirects nothing.
 *  8. A file put back from WORK by a process that did not hold WORK all
 *     along (`upgr rollback` from WORK/backup, a recovery from
 *     WORK/backup.new) is first checked against the sha256 and mode of the
 *     signed manifest of the release it came from (previous.yaml, resp. the
 *     installed manifest); a mismatch refuses (EXIT_TRUST) before anything
 *     is stopped. Recovery and `upgr rollback` check the target's parents
 *     as `upgr run` does (fs_check_parents).
 *  9. The quick check's record (quickcheck.h, STATE/apps/APP/quickcheck)
 *     is written by commit (record_quick) and only states facts that stay
 *     true whatever happens later: "the file with exactly this lstat holds
 *     this sha256" (any write or replacement changes the stat). A file
 *     renamed in is noted right after its rename (note_swapped), one in an
 *     exchanged directory as staged, one the plan read as the plan's lstat
 *     before the read. A crash at any point leaves a record that can only
 *     make the next run read more, never less.
 * 10. Durability: every directory whose entries change is fsynced before
 *     the journal write that relies on it: WORK/backup.new's directories
 *     before STARTED (sync_backup: one syncfs where payload_syncfs_trusted,
 *     else an fsync of each directory that got an entry), the parents of directories
 *     make_dirs (and fs_mkdir_p) creates before the swap, the target's
 *     directories after the swap (sync_swapped) before COMMITTED, WORK after
 *     the backup rotation (rotate_backup) before DONE, STATE/apps/APP after
 *     the manifest renames (commit) and after the journal goes (txn_finish).
 *
 * Transitions (enum txn_phase, in txn.h), each with the function that
 * makes it:
 *   (none)    -> PREPARED   prepare
 *   PREPARED  -> STARTED    txn_run, before the stop (the xdir lines were
 *                           written with PREPARED, by prepare)
 *   STARTED   -> COMMITTED  txn_run, after the health checks
 *   COMMITTED -> DONE       commit (success)
 *   PREPARED, STARTED -> DONE   roll_back (failure), resolve_prepared
 *   any journal -> resolved txn_recover (resolve: a switch on the phase,
 *                           completing a commit, rolling back, or
 *                           recording a DONE)
 *   DONE      -> (none)     txn_finish, once the result is recorded
 * txn_plan_rollback builds the inverse plan of the last transaction. The
 * results a transaction ends with are enum txn_outcome.
 */
#include "txn.h"
#include "dirswap.h"
#include "exec.h"
#include "fsutil.h"
#include "hash.h"
#include "journal.h"
#include "mcache.h"
#include "objects.h"
#include "payload.h"
#include "quickcheck.h"
#include "state.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Everything a transaction or its recovery needs besides the plan. */
struct txn {
	struct plan *p;
	const char *state_dir;
	char *appdir;            /* STATE/apps/APP */
	char *stage;             /* WORK/stage */
	char *backup;            /* WORK/backup.new */
	char **mkdirs;           /* target-relative directories we create */
	size_t nmkdirs;
	int workfd;              /* WORK, opened and checked by work_open, held */
	int stagefd, backfd;     /* WORK/stage, WORK/backup.new (or -1) */
	bool *xdone;             /* per p->xdirs: exchanged by this run's swap */
	long *xof;               /* per op: the index in p->xdirs of the directory
				  * it lies in, exchanged whole, or -1 (find_xdirs) */
	struct qc_stat *after;   /* per op: its file's lstat right after the swap
				  * renamed it (ino 0: none; NULL in a recovery) */
	struct txn_result *r;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void txn_result_init(struct txn_result *r)
{
	memset(r, 0, sizeof *r);
}

void txn_result_release(struct txn_result *r)
{
	size_t i;

	for (i = 0; i < r->nsteps; i++) {
		free(r->steps[i].run);
		free(r->steps[i].output);
	}
	free(r->steps);
	memset(r, 0, sizeof *r);
}

static void txn_init(struct txn *t, struct plan *p, const char *state_dir,
		     struct txn_result *r)
{
	memset(t, 0, sizeof *t);
	t->p = p;
	t->state_dir = state_dir;
	t->appdir = state_app_dir(state_dir, p->m->app);
	t->stage = fs_join(p->workdir, "stage");
	t->backup = fs_join(p->workdir, "backup.new");
	t->workfd = t->stagefd = t->backfd = -1;
	t->r = r;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void txn_release(struct txn *t)
{
	size_t i;

	close_fd(&t->workfd);
	close_fd(&t->stagefd);
	close_fd(&t->backfd);

	for (i = 0; i < t->nmkdirs; i++)
		free(t->mkdirs[i]);
	free(t->mkdirs);
	free(t->after);
	free(t->xdone);
	free(t->xof);
	free(t->appdir);
	free(t->stage);
	free(t->backup);
}

/* ---- journal ---------------------------------------------------------- */

static const char *const phase_names[] = {
	[TXN_PREPARED] = "prepared", [TXN_SWAPPING] = "swapping", [TXN_STARTED] = "started",
	[TXN_COMMITTED] = "committed", [TXN_DONE] = "done",
};

const char *txn_phase_name(enum txn_phase ph)
{
	return phase_names[ph];
}

bool txn_phase_parse(const char *name, enum txn_phase *ph)
{
	size_t k;

	for (k = 0; k < sizeof phase_names / sizeof phase_names[0]; k++)
		if (phase_names[k] && !strcmp(phase_names[k], name)) {
			*ph = (enum txn_phase)k;
			return true;
		}
	return false;
}

static const char *const outcome_names[] = {
	[TXN_SUCCESS] = "success", [TXN_ROLLED_BACK] = "rolled-back",
	[TXN_FAILED] = "failed", [TXN_REFUSED] = "refused",
};

const char *txn_outcome_name(enum txn_outcome o)
{
	return outcome_names[o];
}

void txn_result_set(struct txn_result *r, enum txn_outcome o)
{
	snprintf(r->result, sizeof r->result, "%s", outcome_names[o]);
}

/* Write t's journal at phase (journal_write), with t's result so far. */
static int write_journal(struct txn *t, enum txn_phase phase, struct err *e)
{
	return journal_write(t->appdir, t->p, phase, t->r ? t->r->result : NULL,
			     t->mkdirs, t->nmkdirs, e);
}

/* ---- commands --------------------------------------------------------- */

static void add_step(struct txn *t, const char *phase, const char *run,
		     const struct exec_result *er, const char *why)
{
	struct txn_result *r = t->r;
	struct txn_step *s;

	r->steps = xreallocarray(r->steps, r->nsteps + 1, sizeof *r->steps);
	s = &r->steps[r->nsteps++];
	memset(s, 0, sizeof *s);
	snprintf(s->phase, sizeof s->phase, "%s", phase);
	s->run = xstrdup(run);
	s->exit = er ? er->exit : -1;
	s->ms = er ? er->ms : 0;
	if (why)
		s->output = xstrdup(why);
	else if (er && er->exit != 0 && er->output.len)
		s->output = xstrdup(er->output.data);
}

/* One attempt (from 0) of a retried health check, as its own step: its
 * output begins "attempt N of M" (the audit log shows "passed on attempt
 * 2 of 6" as two steps, the second "attempt 2 of 6"). */
static void add_attempt(struct txn *t, const char *phase, const char *run,
			const struct exec_result *er, unsigned attempt, unsigned attempts)
{
	char *why = xasprintf("attempt %u of %u%s%s", attempt + 1, attempts,
			      er->timed_out ? ": timed out" : er->exit && er->output.len ? ": " : "",
			      er->timed_out || !er->exit ? "" : er->output.data ? er->output.data : "");

	add_step(t, phase, run, er, why);
	free(why);
}

static void set_error(struct txn *t, const char *fmt, ...) UPGR_PRINTF(2, 3);
static void result_error(struct txn_result *r, const char *fmt, ...) UPGR_PRINTF(2, 3);

/* Set r->error, cut to its size (an error message from below, e.msg,
 * may be longer than r->error: the cut is intended). */
static void result_error(struct txn_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
}

static void set_error(struct txn *t, const char *fmt, ...)
{
	va_list ap;

	if (t->r->error[0])
		return;             /* keep the first cause */
	va_start(ap, fmt);
	vsnprintf(t->r->error, sizeof t->r->error, fmt, ap);
	va_end(ap);
}

/* Run one command; a health command is retried. Returns 0 when it exits 0. */
static int run_cmd(struct txn *t, const char *phase, const struct mcmd *c)
{
	char **env = plan_command_env(t->p, phase);
	const char *cwd = access(t->p->target, F_OK) == 0 ? t->p->target : "/";
	unsigned attempt, attempts = !strcmp(phase, "health") ? c->retries + 1 : 1;
	struct exec_result er;
	struct err e;
	int rc = -1;

	exec_result_init(&er);
	for (attempt = 0; attempt < attempts; attempt++) {
		if (attempt)
			sleep(c->interval);
		exec_result_release(&er);
		exec_result_init(&er);
		if (exec_run(c->run, cwd, env, c->timeout, &er, &e) < 0) {
			add_step(t, phase, c->run, NULL, e.msg);
			set_error(t, "%s '%s': %s", phase, c->run, e.msg);
			goto done;
		}
		if (er.exit == 0) {
			rc = 0;
			break;
		}
		if (attempt + 1 < attempts)
			add_attempt(t, phase, c->run, &er, attempt, attempts);
	}
	if (attempts > 1)
		add_attempt(t, phase, c->run, &er, attempt - (rc < 0), attempts);
	else
		add_step(t, phase, c->run, &er, er.timed_out ? "timed out" : NULL);
	if (rc < 0)
		set_error(t, "%s '%s' %s %d", phase, c->run,
			  er.timed_out ? "timed out, exit" : "exited", er.exit);
done:
	exec_result_release(&er);
	plan_env_free(env);
	return rc;
}

static int run_cmds(struct txn *t, const char *phase, const struct mcmds *c)
{
	size_t i;

	for (i = 0; c && i < c->n; i++)
		if (run_cmd(t, phase, &c->v[i]) < 0)
			return -1;
	return 0;
}

/* ---- preparing -------------------------------------------------------- */

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The directory that holds a relative path under a base, opened by walking
 * each component with O_NOFOLLOW: a directory of the target that a local
 * user replaced by a symlink after the plan was made cannot redirect a
 * rename, link or unlink outside the target. The base itself (the
 * configured target, or our private work dir) may be reached through
 * symlinks the administrator set up. The last directory opened is kept,
 * since consecutive ops usually share it. */
struct dirwalk {
	const char *base;
	bool at;                 /* base is basefd, an open directory (not owned) */
	int basefd;
	char *dir;               /* relative directory of fd, "" for base */
	int fd;
	bool dirty;              /* entries changed: fsync before letting go */
};

static void walk_init(struct dirwalk *w, const char *base)
{
	w->base = base;
	w->at = false;
	w->basefd = -1;
	w->dir = NULL;
	w->fd = -1;
	w->dirty = false;
}

/* A walk from an open directory of the work directory (held since it was
 * checked: see work_open), never from its name. fd -1: it does not exist. */
static void walk_init_fd(struct dirwalk *w, const char *label, int fd)
{
	walk_init(w, label);
	w->at = true;
	w->basefd = fd;
}

static int walk_open_base(const struct dirwalk *w, struct err *e)
{
	int fd;

	if (!w->at)
		fd = open(w->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (w->basefd >= 0)
		fd = openat(w->basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else
		fd = (errno = ENOENT, -1);
	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", w->base);
	return fd;
}

/* Let go of the open directory, fsyncing it first if entries changed
 * (one fsync per directory, not per rename). */
static int walk_release(struct dirwalk *w, struct err *e)
{
	int rc = 0;

	if (w->fd >= 0 && w->dirty && fsync(w->fd) < 0)
		rc = err_sys(e, EXIT_SOFTWARE, "fsync %s/%s", w->base, w->dir);
	if (w->fd >= 0)
		close(w->fd);
	free(w->dir);
	w->dir = NULL;
	w->fd = -1;
	w->dirty = false;
	return rc;
}

/* Returns the parent's fd (owned by w) and sets *leaf into rel. */
static int walk_parent(struct dirwalk *w, const char *rel, const char **leaf,
		       struct err *e)
{
	const char *slash = strrchr(rel, '/'), *p, *q;
	size_t dlen = slash ? (size_t)(slash - rel) : 0;
	char name[NAME_MAX + 1];
	int fd, next;

	*leaf = slash ? slash + 1 : rel;
	if (w->fd >= 0 && strlen(w->dir) == dlen && !strncmp(w->dir, rel, dlen))
		return w->fd;
	if (walk_release(w, e) < 0 || (fd = walk_open_base(w, e)) < 0)
		return -1;
	for (p = rel; p < rel + dlen; p = q + 1) {
		q = memchr(p, '/', (size_t)(rel + dlen - p));
		if (!q)
			q = rel + dlen;
		if ((size_t)(q - p) > NAME_MAX) {
			close(fd);
			return err_set(e, EXIT_SOFTWARE, "%s: name too long", rel);
		}
		memcpy(name, p, (size_t)(q - p));
		name[q - p] = '\0';
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return err_sys(e, EXIT_SOFTWARE, "open %s/%.*s (a symlink or not a directory?)",
				       w->base, (int)(q - rel), rel);
		fd = next;
	}
	w->fd = fd;
	w->dir = xstrndup(rel, dlen);
	return fd;
}

static size_t dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path) : 0;
}

/* Directories of the target that the ops need and that do not exist yet,
 * parents first. Ops come sorted: each directory is looked at once, not
 * once per file in it. */
static void find_missing_dirs(struct txn *t)
{
	const char *last = NULL;   /* the last op's path looked at */
	size_t i;

	for (i = 0; i < t->p->nops; i++) {
		const struct plan_op *op = &t->p->ops[i];
		char *rel, *slash, *abs;
		size_t j, n = dir_len(op->path);

		if (op->kind == PLAN_REMOVE || op->kind == PLAN_UNCHANGED)
			continue;
		if (last && dir_len(last) == n && !strncmp(last, op->path, n))
			continue;
		last = op->path;
		rel = xstrdup(op->path);
		for (slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			for (j = 0; j < t->nmkdirs && strcmp(t->mkdirs[j], rel); j++)
				;
			abs = fs_join(t->p->target, rel);
			if (j == t->nmkdirs && !exists(abs)) {
				t->mkdirs = xreallocarray(t->mkdirs, t->nmkdirs + 1, sizeof *t->mkdirs);
				t->mkdirs[t->nmkdirs++] = xstrdup(rel);
			}
			free(abs);
			*slash = '/';
		}
		free(rel);
	}
}

/* Make the directories the journal lists (exactly 0755, whatever the
 * umask), each new entry made durable before the swap can put files in it
 * (the walk fsyncs each parent it changed). */
static int make_dirs(struct txn *t, struct err *e)
{
	struct dirwalk tw;
	const char *leaf;
	size_t i;
	int pfd, rc = 0;

	if (!exists(t->p->target) && fs_mkdir_p(t->p->target, 0755, e) < 0)
		return -1;
	walk_init(&tw, t->p->target);
	for (i = 0; i < t->nmkdirs && rc == 0; i++) {
		char *abs = fs_join(t->p->target, t->mkdirs[i]);

		if ((pfd = walk_parent(&tw, t->mkdirs[i], &leaf, e)) < 0 ||
		    fs_mkdir_at(pfd, leaf, 0755, abs, e) < 0)
			rc = -1;
		tw.dirty = true;
		free(abs);
	}
	if (walk_release(&tw, e) < 0)
		rc = -1;
	return rc;
}

/* Remove the directories this transaction made, deepest first, where
 * empty; their parents are fsynced as the walk lets go of them. */
static void remove_made_dirs(struct txn *t)
{
	struct dirwalk tw;
	const char *leaf;
	struct err e;
	size_t i;
	int pfd;

	walk_init(&tw, t->p->target);
	for (i = t->nmkdirs; i-- > 0;) {
		if ((pfd = walk_parent(&tw, t->mkdirs[i], &leaf, &e)) < 0)
			continue;
		if (unlinkat(pfd, leaf, AT_REMOVEDIR) == 0)
			tw.dirty = true;
	}
	walk_release(&tw, &e);
}

/* Make the private directories (0700) leading to rel under basefd. */
static int mkparents_at(int basefd, const char *label, const char *rel, struct err *e)
{
	char name[NAME_MAX + 1];
	const char *p = rel, *q;
	int fd, next, rc = 0;

	fd = openat(basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", label);
	for (; rc == 0 && (q = strchr(p, '/')); p = q + 1) {
		if ((size_t)(q - p) > NAME_MAX) {
			rc = err_set(e, EXIT_SOFTWARE, "%s: name too long", rel);
			break;
		}
		memcpy(name, p, (size_t)(q - p));
		name[q - p] = '\0';
		if (fs_mkdir_at(fd, name, 0700, label, e) < 0) {
			rc = -1;
			break;
		}
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if ((fd = next) < 0)
			rc = err_sys(e, EXIT_SOFTWARE, "open %s/%.*s", label, (int)(q - rel), rel);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* A copy when a hard link is impossible (another file system). */
static int copy_file_at(int sfd, const char *sleaf, int dfd, const char *dleaf,
			const char *label, struct err *e)
{
	char chunk[65536];
	struct stat st;
	ssize_t n = -1;
	int in, out = -1, rc = -1;

	in = openat(sfd, sleaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0 ||
	    (out = openat(dfd, dleaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600)) < 0) {
		err_sys(e, EXIT_SOFTWARE, "back up %s", label);
		goto done;
	}
	while ((n = read(in, chunk, sizeof chunk)) > 0)
		if (fs_write_all(out, chunk, (size_t)n) < 0)
			break;
	if (n != 0 || fchmod(out, st.st_mode & 07777) < 0 || fsync(out) < 0)
		err_sys(e, EXIT_SOFTWARE, "back up %s (a copy)", label);
	else
		rc = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* Does st have the owner and group f names? why says what differs. */
static bool owner_ok(const struct mfile *f, const struct stat *st, char *why, size_t len)
{
	uid_t uid;
	gid_t gid;

	if (!plan_resolve_owner(f, &uid, &gid, why, len))
		return false;
	if (uid != (uid_t)-1 && st->st_uid != uid) {
		snprintf(why, len, "owned by uid %u, not %s", (unsigned)st->st_uid, f->owner);
		return false;
	}
	if (gid != (gid_t)-1 && st->st_gid != gid) {
		snprintf(why, len, "group gid %u, not %s", (unsigned)st->st_gid, f->group);
		return false;
	}
	return true;
}

/* A file about to be restored from the work directory (name leaf in the
 * open directory pfd), checked against m, the signed manifest of the
 * release it came from: the mode and sha256 m lists for path, read through
 * the descriptor that the restore then renames. A path m does not list
 * (a PATH.upgr-new, a file that was no release's) has no signed hash. */
static int check_restored(int pfd, const char *leaf, const struct manifest *m,
			  const char *path, const char *where, struct err *e)
{
	const struct mfile *f = m ? manifest_find_file(m, path) : NULL;
	uint8_t got[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], why[256];
	struct stat st;
	int fd, rc = -1;

	if (!f)
		return 0;
	fd = openat(pfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		err_sys(e, EXIT_TRUST, "%s/%s (not a regular file?)", where, path);
	else if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != f->mode)
		err_set(e, EXIT_TRUST, "%s/%s: mode %04o, not the %04o that %s %s's signed manifest lists",
			where, path, (unsigned)(st.st_mode & 07777), (unsigned)f->mode, m->app,
			m->version);
	else if (!owner_ok(f, &st, why, sizeof why))
		err_set(e, EXIT_TRUST, "%s/%s: %s (%s %s's signed manifest)", where, path, why,
			m->app, m->version);
	else if (sha256_fd(fd, got, NULL, e) == 0) {
		hex_encode(got, SHA256_LEN, hex);
		if (f->has_sha256 && memcmp(got, f->sha256, SHA256_LEN))
			err_set(e, EXIT_TRUST, "%s/%s: sha256 %s, not the one %s %s's signed manifest lists",
				where, path, hex, m->app, m->version);
		else
			rc = 0;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* WORK, opened and checked by descriptor (fs_open_private_dir: root's or
 * ours, 0700, not a symlink) and held until txn_release: renaming it away
 * and putting another in its place changes nothing for this transaction,
 * since every later operation in it is relative to t->workfd. */
static int work_open(struct txn *t, struct err *e)
{
	char *parent = xstrdup(t->p->workdir);
	int rc = 0;

	close_fd(&t->workfd);
	if (fs_mkdir_p(dirname(parent), 0755, e) < 0 ||
	    (t->workfd = fs_open_private_dir(t->p->workdir, e)) < 0)
		rc = -1;
	free(parent);
	return rc;
}

/* Open WORK/name into *fd: emptied (or made) first when fresh, else as it
 * is (-1 when missing). */
static int work_sub(struct txn *t, const char *name, bool fresh, int *fd, struct err *e)
{
	char *label = fs_join(t->p->workdir, name);
	int rc = 0;

	close_fd(fd);
	if (fresh && (fs_remove_tree_at(t->workfd, name, e) < 0 ||
		      fs_mkdir_at(t->workfd, name, 0700, label, e) < 0))
		rc = -1;
	else if ((*fd = openat(t->workfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 &&
		 (fresh || errno != ENOENT))
		rc = err_sys(e, EXIT_SOFTWARE, "open %s", label);
	free(label);
	return rc;
}

/* The index in p->xdirs of the directory path[0..n), or -1. */
static long xdir_find(const struct plan *p, const char *path, size_t n)
{
	size_t lo = 0, hi = p->nxdirs;

	while (n && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *x = p->xdirs[mid].path;
		int c = strncmp(x, path, n);

		if (c == 0 && x[n] == '\0')
			return (long)mid;
		if (c == 0)
			c = 1;              /* x is longer: after path[0..n) */
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The index in p->xdirs of the exchanged directory path lies in (its
 * own, or one above it), or -1. */
static long xdir_of(const struct plan *p, const char *path)
{
	const char *q;
	long k;

	for (q = strchr(path, '/'); q; q = strchr(q + 1, '/'))
		if ((k = xdir_find(p, path, (size_t)(q - path))) >= 0)
			return k;
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fsync the directory rel ("" for itself) under WORK/backup.new. */
static int fsync_backup_dir(struct txn *t, const char *rel, struct err *e)
{
	int fd = *rel ? openat(t->backfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
		      : t->backfd;
	int rc = 0;

	if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL))
		rc = err_sys(e, EXIT_SOFTWARE, "fsync %s/%s", t->backup, rel);
	if (fd >= 0 && fd != t->backfd)
		close(fd);
	return rc;
}

/* Append to *dirs each directory on the way to path ("a", "a/b" for
 * "a/b/c"). */
static void add_parents(char ***dirs, size_t *n, const char *path)
{
	const char *q = path;

	while ((q = strchr(q, '/'))) {
		*dirs = xreallocarray(*dirs, *n + 1, sizeof **dirs);
		(*dirs)[(*n)++] = xstrndup(path, (size_t)(q - path));
		q++;
	}
}

/* fsync each directory of WORK/backup.new that dirs names (once each),
 * then free dirs. */
static int fsync_backup_dirs(struct txn *t, char **dirs, size_t n, struct err *e)
{
	size_t i;
	int rc = 0;

	if (n)
		qsort(dirs, n, sizeof *dirs, cmp_str);
	for (i = 0; i < n; i++)
		if (rc == 0 && (i == 0 || strcmp(dirs[i], dirs[i - 1])))
			rc = fsync_backup_dir(t, dirs[i], e);
	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	return rc;
}

/* Make WORK/backup.new's links durable before the swap relies on them.
 * Where syncfs is trusted, one flush for every link made (their
 * directories included); elsewhere (FUSE and the like, where syncfs may
 * flush nothing) an fsync of each directory in the backup that got an
 * entry (a link, a copy or a directory made), of backup.new and of WORK,
 * which got backup.new. Copies were fsynced by copy_file_at. */
static int sync_backup(struct txn *t, struct err *e)
{
	char **dirs = NULL;
	size_t i, n = 0;
	int rc;

	if (payload_syncfs_trusted(t->p->workdir))
		return fs_sync_fs_fd(t->backfd, t->backup, e);
	for (i = 0; i < t->p->nops; i++) {
		const struct plan_op *op = &t->p->ops[i];

		if (op->old_exists && op->kind != PLAN_UNCHANGED)
			add_parents(&dirs, &n, op->path);
	}
	rc = fsync_backup_dirs(t, dirs, n, e);
	if (rc == 0 && fsync_backup_dir(t, "", e) < 0)
		rc = -1;
	if (rc == 0 && fsync(t->workfd) < 0 && errno != EINVAL)
		rc = err_sys(e, EXIT_SOFTWARE, "fsync %s", t->p->workdir);
	return rc;
}

static int backup_files(struct txn *t, struct err *e)
{
	struct dirwalk tw, bw;
	const char *leaf, *bleaf;
	char *made = NULL;          /* the last directory made in the backup */
	size_t i;
	int pfd, bfd, rc = 0;

	if (work_sub(t, "backup.new", true, &t->backfd, e) < 0)
		return -1;
	walk_init(&tw, t->p->target);
	walk_init_fd(&bw, t->backup, t->backfd);
	for (i = 0; i < t->p->nops && rc == 0; i++) {
		const struct plan_op *op = &t->p->ops[i];
		const char *slash = strrchr(op->path, '/');
		size_t dlen = slash ? (size_t)(slash - op->path) : 0;

		if (!op->old_exists || op->kind == PLAN_UNCHANGED)
			continue;
		/* Ops come sorted, so most share the previous one's directory:
		 * make the parents only when it changes. */
		if (!(made && strlen(made) == dlen && !strncmp(made, op->path, dlen))) {
			free(made);
			made = xstrndup(op->path, dlen);
			rc = mkparents_at(t->backfd, t->backup, op->path, e);
		}
		if (rc < 0 || (pfd = walk_parent(&tw, op->path, &leaf, e)) < 0 ||
		    (bfd = walk_parent(&bw, op->path, &bleaf, e)) < 0)
			rc = -1;
		else if (linkat(pfd, leaf, bfd, bleaf, 0) < 0)
			rc = errno == EXDEV || errno == EPERM || errno == EMLINK
				? copy_file_at(pfd, leaf, bfd, bleaf, op->path, e)
				: err_sys(e, EXIT_SOFTWARE, "back up %s/%s", t->p->target, op->path);
	}
	free(made);
	walk_release(&tw, e);
	walk_release(&bw, e);
	return rc < 0 ? -1 : sync_backup(t, e);
}

/* Hard-link each file the plan installs from WORK/name (the kept backup)
 * into the staging area, each checked against the signed manifest of the
 * release being put back (check_restored) before anything is stopped. */
static int stage_from_dir(struct txn *t, const char *name, struct err *e)
{
	char *label = fs_join(t->p->workdir, name);
	struct dirwalk fw, sw;
	const char *fleaf, *sleaf;
	int srcfd, ffd, sfd, rc = 0;
	size_t i;

	srcfd = openat(t->workfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	walk_init_fd(&fw, label, srcfd);
	walk_init_fd(&sw, t->stage, t->stagefd);
	for (i = 0; i < t->p->nops && rc == 0; i++) {
		const struct plan_op *op = &t->p->ops[i];

		if (op->kind == PLAN_REMOVE || op->kind == PLAN_UNCHANGED)
			continue;
		if (mkparents_at(t->stagefd, t->stage, op->src, e) < 0 ||
		    (ffd = walk_parent(&fw, op->src, &fleaf, e)) < 0 ||
		    (sfd = walk_parent(&sw, op->src, &sleaf, e)) < 0)
			rc = -1;
		else if (linkat(ffd, fleaf, sfd, sleaf, 0) < 0)
			rc = err_sys(e, EXIT_SOFTWARE, "stage %s from the backup", op->src);
		else
			rc = check_restored(sfd, sleaf, t->p->m, op->src, label, e);
	}
	walk_release(&fw, e);
	walk_release(&sw, e);
	if (srcfd >= 0)
		close(srcfd);
	free(label);
	return rc;
}

/* Extract only the files the plan installs: a release changing 10 of its
 * 20,000 files writes 10 (the others are unchanged on the host). One read
 * of the payload (payload_extract_sealed) checks its size and sha256
 * against the signed manifest as it is unpacked. The payload is unpacked
 * into the held staging directory itself, by a path that names its
 * descriptor where the system has one. */
static int stage_payload(struct txn *t, uint64_t cap, struct err *e)
{
	const struct plan *p = t->p;
	bool *want = xcalloc(p->m->nfiles ? p->m->nfiles : 1, sizeof *want);
	char *dir = fs_fd_path(t->stagefd);
	size_t i, nwant = 0;
	int rc = -1;

	for (i = 0; i < p->nops; i++)
		if (p->ops[i].file && p->ops[i].kind != PLAN_UNCHANGED && !want[p->ops[i].file - p->m->files]) {
			want[p->ops[i].file - p->m->files] = true;
			nwant++;
		}
	/* Sizes not read beforehand (one pass): a release that stages every
	 * file needs at least its payload's signed size; below that, the cap
	 * (the free space) stops the extraction before the disk fills. */
	if (objects_is_source(p->payload))
		rc = objects_extract_some(p->payload, dir ? dir : t->stage, p->m, p->installed,
					  p->target, want, cap, e);
	else if (p->sizes_unknown && nwant == p->m->nfiles && p->m->payload_size > cap)
		err_set(e, EXIT_SOFTWARE, "%s: %llu bytes of payload to unpack, %llu free",
			p->workdir, (unsigned long long)p->m->payload_size,
			(unsigned long long)cap);
	else
		rc = payload_extract_sealed(p->payload, dir ? dir : t->stage, p->m, want, cap, e);
	free(want);
	free(dir);
	return rc;
}

/* Give each staged file the owner and group the release names, before
 * the stop (the swap only renames). A chown clears setuid and setgid
 * bits, which staged modes never carry. */
static int chown_staged(struct txn *t, struct err *e)
{
	struct dirwalk sw;
	const char *leaf;
	size_t i;
	int sfd, rc = 0;

	walk_init_fd(&sw, t->stage, t->stagefd);
	for (i = 0; i < t->p->nops && rc == 0; i++) {
		const struct plan_op *op = &t->p->ops[i];

		if (!op->src || op->kind == PLAN_UNCHANGED ||
		    (op->uid == (uid_t)-1 && op->gid == (gid_t)-1))
			continue;
		if ((sfd = walk_parent(&sw, op->src, &leaf, e)) < 0)
			rc = -1;
		else if (fchownat(sfd, leaf, op->uid, op->gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = err_sys(e, EXIT_SOFTWARE, "chown %s/%s", t->stage, op->src);
	}
	walk_release(&sw, e);
	return rc;
}

static int stage_files(struct txn *t, const char *stage_from, struct err *e)
{
	struct statvfs sv;
	uint64_t cap = UINT64_MAX;

	if (work_sub(t, "stage", true, &t->stagefd, e) < 0)
		return -1;
	if (stage_from)
		return stage_from_dir(t, stage_from, e);
	/* A payload may not unpack to more than the plan says, nor fill the disk. */
	if (fstatvfs(t->stagefd, &sv) == 0)
		cap = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (t->p->disk_needed > cap)
		return err_set(e, EXIT_SOFTWARE, "%s: %llu bytes needed, %llu free",
			       t->p->workdir, (unsigned long long)t->p->disk_needed,
			       (unsigned long long)cap);
	if (!t->p->sizes_unknown && t->p->disk_needed < cap)
		cap = t->p->disk_needed;
	if (stage_payload(t, cap, e) < 0)
		return -1;
	return chown_staged(t, e);
}

/* ---- whole directories ------------------------------------------------- */

/* A list of names (borrowed) with the op each came from. */
struct names {
	char **v;
	size_t *op, n;
};

static void names_add(struct names *l, char *name, size_t op)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->op = xreallocarray(l->op, l->n + 1, sizeof *l->op);
	l->v[l->n] = name;
	l->op[l->n++] = op;
}

static void names_free(struct names *l)
{
	free(l->v);
	free(l->op);
	memset(l, 0, sizeof *l);
}

/* The first of the ops sorted by path (byop) whose path is >= key. */
static size_t ops_from(struct plan_op *const *byop, size_t n, const char *key)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(byop[mid]->path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The same in the manifest's files, through m->by_path. */
static size_t files_from(const struct manifest *m, const char *key)
{
	size_t lo = 0, hi = m->nfiles, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(m->files[m->by_path[mid]].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The ops below dir (key: "dir/", n + 1 bytes; byop: the ops sorted by
 * path, in which they follow each other): the names they leave in it
 * (new: staged) and those it holds now (old). False when one of them
 * keeps a file (unchanged, a kept config) or lies deeper down. */
static bool dir_ops(const struct plan *p, struct plan_op *const *byop, const char *key,
		    size_t n, struct names *oldn, struct names *newn)
{
	size_t j;

	for (j = ops_from(byop, p->nops, key); j < p->nops && !strncmp(byop[j]->path, key, n + 1); j++) {
		const struct plan_op *op = byop[j];
		char *leaf = op->path + n + 1;
		size_t i = (size_t)(op - p->ops);

		if (strchr(leaf, '/') || op->kind == PLAN_UNCHANGED ||
		    op->kind == PLAN_CONFIG_KEEP ||
		    (op->kind != PLAN_REMOVE && (!op->src || strcmp(op->src, op->path))))
			return false;
		if (op->old_exists)
			names_add(oldn, leaf, i);
		if (op->kind != PLAN_REMOVE)
			names_add(newn, leaf, i);
	}
	return newn->n > 0;
}

/* How many of the release's files lie directly in dir (key: "dir/", n + 1
 * bytes); SIZE_MAX when one lies deeper (the directory is not all
 * files). Through m->by_path where the manifest has it. */
static size_t release_files_in(const struct manifest *m, const char *key, size_t n)
{
	size_t i, k = 0;

	if (m->by_path && m->nby_path == m->nfiles) {
		for (i = files_from(m, key); i < m->nfiles && !strncmp(m->files[m->by_path[i]].path, key, n + 1); i++) {
			if (strchr(m->files[m->by_path[i]].path + n + 1, '/'))
				return SIZE_MAX;
			k++;
		}
		return k;
	}
	for (i = 0; i < m->nfiles; i++)
		if (!strncmp(m->files[i].path, key, n + 1)) {
			if (strchr(m->files[i].path + n + 1, '/'))
				return SIZE_MAX;
			k++;
		}
	return k;
}

static int cmp_op_path(const void *a, const void *b)
{
	return strcmp((*(struct plan_op *const *)a)->path, (*(struct plan_op *const *)b)->path);
}

/* The directories find_xdirs has chosen so far, sorted by path; none
 * lies in another. */
struct xlist {
	struct plan_xdir *v;
	size_t n;
};

/* The first entry of l whose path is >= key. */
static size_t xlist_from(const struct xlist *l, const char *key)
{
	size_t lo = 0, hi = l->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(l->v[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Insert path in its place (appending costs no move: consider_dir comes
 * in order). */
static void xlist_add(struct xlist *l, char *path, uint64_t old_ino, uint64_t new_ino)
{
	size_t at = xlist_from(l, path);

	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof *l->v);
	l->v[at].path = path;
	l->v[at].old_ino = old_ino;
	l->v[at].new_ino = new_ino;
	l->n++;
}

/* Directory dir of the target, and of the staging area: does every entry
 * of both change (the release's files only, nothing foreign, nothing
 * kept)? Then the staged copy takes the target's mode and owner, and dir
 * joins the list, each staged file's stat noted for the quick check (an
 * exchange moves the directory, not its files). */
static void consider_dir(struct txn *t, struct plan_op *const *byop, struct dirwalk *tw,
			 struct dirwalk *sw, const char *dir, struct xlist *xl)
{
	size_t n = strlen(dir), i;
	struct names oldn = { 0 }, newn = { 0 };
	char *key = xasprintf("%s/", dir);
	const char *leaf;
	uint64_t old_ino, new_ino;
	struct stat st;
	struct err e;
	int tfd, sfd;

	if (!dir_ops(t->p, byop, key, n, &oldn, &newn) ||
	    release_files_in(t->p->m, key, n) != newn.n)
		goto done;
	if ((tfd = walk_parent(tw, key, &leaf, &e)) < 0 || (sfd = walk_parent(sw, key, &leaf, &e)) < 0)
		goto done;
	if (oldn.n)           /* qsort wants a pointer even for none */
		qsort(oldn.v, oldn.n, sizeof *oldn.v, cmp_str);
	if (newn.n)
		qsort(newn.v, newn.n, sizeof *newn.v, cmp_str);
	if (!dirswap_holds_only(tfd, oldn.v, oldn.n, false) ||
	    !dirswap_holds_only(sfd, newn.v, newn.n, false) ||
	    dirswap_match(tfd, sfd, &old_ino, &new_ino) < 0)
		goto done;
	xlist_add(xl, xstrdup(dir), old_ino, new_ino);
	for (i = 0; i < newn.n; i++)
		if (fstatat(sfd, t->p->ops[newn.op[i]].path + n + 1, &st, AT_SYMLINK_NOFOLLOW) == 0)
			quickcheck_stat(&st, &t->after[newn.op[i]]);
done:
	names_free(&oldn);
	names_free(&newn);
	free(key);
}

/* Directory dir (n bytes of path), which holds chosen directories: in the
 * target and in the staging area alike, is every entry of it one of them
 * (no file, nothing foreign, no other directory, no extended attribute)?
 * Then dir takes their place in the list, its staged copy with the
 * target's mode and owner: one exchange moves the whole subtree, whose
 * directories each passed consider_dir or this. */
static void consider_parent(struct dirwalk *tw, struct dirwalk *sw, const char *path, size_t n,
			    struct xlist *xl)
{
	char *dir = xstrndup(path, n), *key = xasprintf("%s/", dir);
	size_t i, k = 0, lo = xlist_from(xl, key), hi = lo;
	char **kids;
	const char *leaf;
	uint64_t old_ino, new_ino;
	struct err e;
	int tfd, sfd;

	/* The entries below dir follow each other, sorted, so the names do. */
	while (hi < xl->n && !strncmp(xl->v[hi].path, key, n + 1))
		hi++;
	kids = xcalloc(hi - lo + 1, sizeof *kids);
	for (i = lo; i < hi; i++)
		if (!strchr(xl->v[i].path + n + 1, '/'))
			kids[k++] = xl->v[i].path + n + 1;
	if (!k || (tfd = walk_parent(tw, key, &leaf, &e)) < 0 ||
	    (sfd = walk_parent(sw, key, &leaf, &e)) < 0 ||
	    !dirswap_holds_only(tfd, kids, k, true) || !dirswap_holds_only(sfd, kids, k, true) ||
	    dirswap_match(tfd, sfd, &old_ino, &new_ino) < 0)
		goto done;
	for (i = lo; i < hi; i++)
		free(xl->v[i].path);
	memmove(&xl->v[lo], &xl->v[hi], (xl->n - hi) * sizeof *xl->v);
	xl->n -= hi - lo;
	xlist_add(xl, dir, old_ino, new_ino);
	dir = NULL;
done:
	free(kids);
	free(key);
	free(dir);
}

/* How deep a directory lies: its slashes. */
static size_t depth(const char *path)
{
	size_t d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static int cmp_deeper(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t dx = depth(x), dy = depth(y);

	return dx != dy ? (dx < dy ? 1 : -1) : strcmp(x, y);
}

/* Exchange directories of directories whole: each directory above a
 * chosen one (the target itself excepted) is considered once, the
 * deepest first, so that a parent is judged after all its children
 * could join. */
static void merge_up(struct dirwalk *tw, struct dirwalk *sw, struct xlist *xl)
{
	char **up = NULL;
	size_t i, n = 0;
	const char *q;

	for (i = 0; i < xl->n; i++)
		for (q = strchr(xl->v[i].path, '/'); q; q = strchr(q + 1, '/')) {
			up = xreallocarray(up, n + 1, sizeof *up);
			up[n++] = xstrndup(xl->v[i].path, (size_t)(q - xl->v[i].path));
		}
	if (n)
		qsort(up, n, sizeof *up, cmp_deeper);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(up[i], up[i - 1]))
			consider_parent(tw, sw, up[i], strlen(up[i]), xl);
	for (i = 0; i < n; i++)
		free(up[i]);
	free(up);
}

/* Does this file system exchange directories? Tried on two empty ones
 * made in WORK (on the target's file system), so that the swap never
 * meets a refusal it would have to work around without backups. */
static bool exchange_works(struct txn *t)
{
	static const char *const probe[] = { "xprobe.a", "xprobe.b" };
	struct err e;
	bool works;
	int k;

	for (k = 0; k < 2; k++)
		if (fs_remove_tree_at(t->workfd, probe[k], &e) < 0 ||
		    mkdirat(t->workfd, probe[k], 0700) < 0)
			return false;
	works = dirswap_exchange(t->workfd, probe[0], t->workfd, probe[1]) == 0;
	for (k = 0; k < 2; k++)
		unlinkat(t->workfd, probe[k], AT_REMOVEDIR);
	return works;
}

/* Choose the directories the swap exchanges whole (p->xdirs, sorted):
 * every directory of the target holding a changed file is considered
 * (consider_dir), then the directories above those (merge_up), except
 * the target itself, which holds the work directory when it is a mount
 * point. Before the journal names them; each op's directory is looked up
 * here (t->xof), not during the downtime. */
static void find_xdirs(struct txn *t)
{
	struct dirwalk tw, sw;
	struct xlist xl = { 0 };
	char **dirs = xcalloc(t->p->nops ? t->p->nops : 1, sizeof *dirs);
	struct plan_op **byop = xcalloc(t->p->nops ? t->p->nops : 1, sizeof *byop);
	size_t i, n = 0;
	struct err e;
	bool works = exchange_works(t);

	for (i = 0; i < t->p->nops && works; i++)
		if (t->p->ops[i].kind != PLAN_UNCHANGED && dir_len(t->p->ops[i].path) &&
		    !(n && dir_len(t->p->ops[i].path) == strlen(dirs[n - 1]) &&
		      !strncmp(dirs[n - 1], t->p->ops[i].path, strlen(dirs[n - 1]))))
			dirs[n++] = xstrndup(t->p->ops[i].path, dir_len(t->p->ops[i].path));
	if (n)
		qsort(dirs, n, sizeof *dirs, cmp_str);
	walk_init(&tw, t->p->target);
	walk_init_fd(&sw, t->stage, t->stagefd);
	for (i = 0; i < t->p->nops; i++)
		byop[i] = &t->p->ops[i];
	if (t->p->nops)
		qsort(byop, t->p->nops, sizeof *byop, cmp_op_path);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(dirs[i], dirs[i - 1]))
			consider_dir(t, byop, &tw, &sw, dirs[i], &xl);
	merge_up(&tw, &sw, &xl);
	walk_release(&tw, &e);
	walk_release(&sw, &e);
	for (i = 0; i < xl.n; i++)
		plan_add_xdir(t->p, xl.v[i].path, xl.v[i].old_ino, xl.v[i].new_ino);
	free(xl.v);
	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	free(byop);
	t->xdone = xcalloc(t->p->nxdirs ? t->p->nxdirs : 1, sizeof *t->xdone);
	t->xof = xcalloc(t->p->nops ? t->p->nops : 1, sizeof *t->xof);
	for (i = 0; i < t->p->nops; i++)
		t->xof[i] = xdir_of(t->p, t->p->ops[i].path);
}

/* Exchange each directory of p->xdirs with its staged copy (t->xdone).
 * The probe of find_xdirs showed the system exchanges: a failure is the
 * swap's. Every old file is also linked in WORK/backup.new, so a restore
 * is right even where it cannot tell an exchanged directory by its inode
 * (a tree copied back from elsewhere): the per-file restore then puts the
 * old files into the directory in place. */
static int exchange_dirs(struct txn *t, struct err *e)
{
	struct dirwalk tw, sw;
	const char *leaf, *sleaf;
	int pfd, sfd, rc = 0;
	size_t k;

	walk_init(&tw, t->p->target);
	walk_init_fd(&sw, t->stage, t->stagefd);
	for (k = 0; k < t->p->nxdirs && rc == 0; k++) {
		const char *dir = t->p->xdirs[k].path;

		if ((pfd = walk_parent(&tw, dir, &leaf, e)) < 0 ||
		    (sfd = walk_parent(&sw, dir, &sleaf, e)) < 0)
			rc = -1;
		else if (dirswap_exchange(sfd, sleaf, pfd, leaf) == 0)
			t->xdone[k] = true;
		else
			rc = err_sys(e, EXIT_SOFTWARE, "exchange %s/%s with %s/%s", t->stage, dir,
				     t->p->target, dir);
	}
	walk_release(&tw, e);
	walk_release(&sw, e);
	return rc;
}

/* Restore, first: exchange back each directory of p->xdirs whose target
 * side has the staged copy's inode and whose staged side the old one's (a
 * recovery does not know how far the swap got). Anything else is left to
 * the per-file restore, which is right either way: every old file is
 * linked in WORK/backup.new, so it puts the old files into whichever
 * directory is in place and removes the added ones. Exchanging back only
 * keeps the old directory's inode; inode numbers alone cannot be trusted
 * to tell the two apart (a tree copied back has new ones, which may
 * happen to match), so a mismatch or a refusal here is no error. */
static void unexchange_dirs(struct txn *t)
{
	struct dirwalk tw, sw;
	const char *leaf, *sleaf;
	struct stat st, sst;
	struct err e;
	int pfd, sfd;
	size_t k;

	walk_init(&tw, t->p->target);
	walk_init_fd(&sw, t->stage, t->stagefd);
	for (k = 0; k < t->p->nxdirs; k++) {
		const struct plan_xdir *x = &t->p->xdirs[k];

		if ((pfd = walk_parent(&tw, x->path, &leaf, &e)) < 0 ||
		    fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (uint64_t)st.st_ino != x->new_ino ||
		    (sfd = walk_parent(&sw, x->path, &sleaf, &e)) < 0 ||
		    fstatat(sfd, sleaf, &sst, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (uint64_t)sst.st_ino != x->old_ino || !S_ISDIR(st.st_mode) ||
		    !S_ISDIR(sst.st_mode))
			continue;
		if (dirswap_exchange(sfd, sleaf, pfd, leaf) == 0)
			tw.dirty = sw.dirty = true;
	}
	walk_release(&tw, &e);
	walk_release(&sw, &e);
}

/* Remove what staging left (the plan was not carried out): only through
 * the held work directory, never by its name. */
static void cleanup_work(struct txn *t)
{
	struct err e;

	close_fd(&t->stagefd);
	close_fd(&t->backfd);
	if (t->workfd >= 0) {
		fs_remove_tree_at(t->workfd, "stage", &e);
		fs_remove_tree_at(t->workfd, "backup.new", &e);
	}
	remove_made_dirs(t);
}

/* ---- swapping and restoring ------------------------------------------- */

/* Op i's file was just renamed into place (leaf in pfd): nobody but us
 * has written it since it was checked, so its lstat now is what the
 * quick check records for it (the rename itself changed its ctime). */
static void note_swapped(struct txn *t, size_t i, int pfd, const char *leaf)
{
	struct stat st;

	if (t->after && fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		quickcheck_stat(&st, &t->after[i]);
}

/* Did this run's swap exchange the directory op i lies in? */
static bool exchanged(const struct txn *t, size_t i)
{
	return t->xof && t->xof[i] >= 0 && t->xdone[t->xof[i]];
}

static int swap(struct txn *t, struct err *e)
{
	struct dirwalk tw, sw;
	const char *leaf, *sleaf;
	int pfd, sfd, rc = 0;
	size_t i;

	if (exchange_dirs(t, e) < 0)
		return -1;
	walk_init(&tw, t->p->target);
	walk_init_fd(&sw, t->stage, t->stagefd);
	for (i = 0; i < t->p->nops && rc == 0; i++) {
		const struct plan_op *op = &t->p->ops[i];

		if (op->kind == PLAN_UNCHANGED || exchanged(t, i))
			continue;
		if ((pfd = walk_parent(&tw, op->path, &leaf, e)) < 0) {
			rc = -1;
		} else if (op->kind == PLAN_REMOVE) {
			if (unlinkat(pfd, leaf, 0) < 0 && errno != ENOENT)
				rc = err_sys(e, EXIT_SOFTWARE, "remove %s/%s", t->p->target, op->path);
		} else if ((sfd = walk_parent(&sw, op->src, &sleaf, e)) < 0) {
			rc = -1;
		} else if (renameat(sfd, sleaf, pfd, leaf) < 0) {
			rc = err_sys(e, EXIT_SOFTWARE, "rename %s/%s into %s/%s", t->stage, op->src,
				     t->p->target, op->path);
		} else {
			note_swapped(t, i, pfd, leaf);
		}
	}
	for (i = t->p->ndirs; rc == 0 && i-- > 0;) {
		const struct plan_dir *d = &t->p->dirs[i];

		/* Not empty after all (something appeared since the plan):
		 * kept, as the plan would have. */
		if (d->kept || (pfd = walk_parent(&tw, d->path, &leaf, e)) < 0)
			continue;
		if (unlinkat(pfd, leaf, AT_REMOVEDIR) < 0 && errno != ENOENT &&
		    errno != ENOTEMPTY && errno != EEXIST)
			rc = err_sys(e, EXIT_SOFTWARE, "rmdir %s/%s", t->p->target, d->path);
	}
	/* No fsync here, inside the downtime: sync_swapped makes the renames
	 * durable after the start, before the commit record (until then a
	 * crash rolls back, whichever renames reached the disk: invariant 2). */
	walk_release(&tw, e);
	walk_release(&sw, e);
	return rc;
}

/* The exchanges durable: both parents of each directory exchanged, the
 * target's and the staging area's (a recovery looks for the old
 * directory there). */
static int sync_exchanged(struct txn *t, struct err *e)
{
	struct dirwalk tw, sw;
	const char *leaf;
	size_t k;
	int rc = 0;

	walk_init(&tw, t->p->target);
	walk_init_fd(&sw, t->stage, t->stagefd);
	for (k = 0; k < t->p->nxdirs && rc == 0; k++) {
		if (!t->xdone[k])
			continue;
		if (walk_parent(&tw, t->p->xdirs[k].path, &leaf, e) < 0 ||
		    walk_parent(&sw, t->p->xdirs[k].path, &leaf, e) < 0)
			rc = -1;
		tw.dirty = sw.dirty = true;
	}
	if (walk_release(&tw, e) < 0 || walk_release(&sw, e) < 0)
		rc = -1;
	return rc;
}

/* Make the swap durable: fsync each directory of the target it changed
 * (the first fsync commits them all on a journalling file system; the
 * others find nothing left to do). Not syncfs: that would also wait for
 * every other process's dirty data on the file system. A directory
 * exchanged whole is the staged one, made durable with its entries when
 * staged: only the parents of the exchange changed (sync_exchanged). */
static int sync_swapped(struct txn *t, struct err *e)
{
	struct dirwalk tw;
	const char *leaf;
	size_t i;
	int rc = 0;

	walk_init(&tw, t->p->target);
	for (i = 0; i < t->p->nops && rc == 0; i++) {
		if (t->p->ops[i].kind == PLAN_UNCHANGED || exchanged(t, i))
			continue;
		/* A removal's directory may have gone too: its parent is
		 * fsynced for the directories below. */
		if (walk_parent(&tw, t->p->ops[i].path, &leaf, e) < 0 &&
		    !(t->p->ops[i].kind == PLAN_REMOVE && errno == ENOENT))
			rc = -1;
		tw.dirty = true;
	}
	for (i = 0; i < t->p->ndirs && rc == 0; i++) {
		if (t->p->dirs[i].kept)
			continue;
		if (walk_parent(&tw, t->p->dirs[i].path, &leaf, e) < 0 && errno != ENOENT)
			rc = -1;
		tw.dirty = true;
	}
	if (walk_release(&tw, e) < 0)
		rc = -1;
	return rc < 0 ? -1 : sync_exchanged(t, e);
}

/* Does rel exist under the walk's base? */
static bool walk_has(struct dirwalk *w, const char *rel)
{
	const char *leaf;
	struct stat st;
	struct err e;
	int fd = walk_parent(w, rel, &leaf, &e);

	return fd >= 0 && fstatat(fd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Recovery: the work directory was not held between the crash and now, so
 * every backup about to be restored is checked first against the signed
 * manifest of the release it came from, the installed one. Touches
 * nothing; a mismatch refuses the whole restore. */
static int check_backups(struct txn *t, struct err *e)
{
	struct dirwalk bw;
	const char *leaf;
	struct stat st;
	size_t i;
	int bfd, rc = 0;

	walk_init_fd(&bw, t->backup, t->backfd);
	for (i = 0; i < t->p->nops && rc == 0; i++) {
		const struct plan_op *op = &t->p->ops[i];

		if (!op->old_exists || op->kind == PLAN_UNCHANGED ||
		    (bfd = walk_parent(&bw, op->path, &leaf, e)) < 0 ||
		    fstatat(bfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;           /* restored already, or never backed up */
		rc = check_restored(bfd, leaf, t->p->installed, op->path, t->backup, e);
	}
	walk_release(&bw, e);
	return rc;
}

/* Make again, parents first and with their modes, the directories the
 * swap removed (those it did not are found in place). */
static int remake_dirs(struct txn *t, struct err *e)
{
	struct dirwalk tw;
	const char *leaf;
	size_t i;
	int pfd, rc = 0;

	walk_init(&tw, t->p->target);
	for (i = 0; i < t->p->ndirs; i++) {
		const struct plan_dir *d = &t->p->dirs[i];
		char *abs;

		if (d->kept)
			continue;
		abs = fs_join(t->p->target, d->path);
		if ((pfd = walk_parent(&tw, d->path, &leaf, e)) < 0 ||
		    fs_mkdir_at(pfd, leaf, d->mode, abs, e) < 0)
			rc = -1;
		tw.dirty = true;
		free(abs);
	}
	if (walk_release(&tw, e) < 0)
		rc = -1;
	return rc;
}

/* Put every file back as it was before the swap (invariant 2). Goes on
 * past errors so as much as possible is restored; returns -1 if any. */
static int restore(struct txn *t, struct err *e)
{
	struct dirwalk tw, bw, sw;
	const char *leaf, *bleaf;
	int pfd, bfd, rc = 0;
	struct stat st;
	size_t i;

	unexchange_dirs(t);
	if (remake_dirs(t, e) < 0)
		rc = -1;
	walk_init(&tw, t->p->target);
	walk_init_fd(&bw, t->backup, t->backfd);
	walk_init_fd(&sw, t->stage, t->stagefd);
	for (i = t->p->nops; i-- > 0;) {
		const struct plan_op *op = &t->p->ops[i];

		if (op->kind == PLAN_UNCHANGED)
			continue;
		if ((pfd = walk_parent(&tw, op->path, &leaf, e)) < 0) {
			if (op->old_exists || errno != ENOENT)
				rc = -1;
			continue;
		}
		if (op->old_exists) {
			if (walk_has(&bw, op->path) &&
			    ((bfd = walk_parent(&bw, op->path, &bleaf, e)) < 0 ||
			     renameat(bfd, bleaf, pfd, leaf) < 0))
				rc = err_sys(e, EXIT_ROLLBACK_FAILED, "restore %s/%s",
					     t->p->target, op->path);
		} else if (op->src && !walk_has(&sw, op->src) &&
			   fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			   unlinkat(pfd, leaf, 0) < 0) {
			rc = err_sys(e, EXIT_ROLLBACK_FAILED, "remove added %s/%s",
				     t->p->target, op->path);
		}
		tw.dirty = true;
	}
	if (walk_release(&tw, e) < 0)
		rc = -1;
	walk_release(&bw, e);
	walk_release(&sw, e);
	remove_made_dirs(t);
	return rc;
}

/* ---- committing ------------------------------------------------------- */

/* Keep this transaction's backup (and its ops, in last-txn) for `upgr
 * rollback`: WORK/backup.new becomes WORK/backup, and the staging area
 * goes. The work directory is fsynced before the journal can say DONE:
 * with the state on another file system, a power cut could otherwise keep
 * the DONE and lose the rotation (and `upgr rollback` would then restore
 * a backup of neither release). */
static int rotate_backup(struct txn *t, struct err *e)
{
	char *last = fs_join(t->appdir, STATE_LAST_TXN);
	struct buf b = BUF_INIT;
	struct stat st;
	int rc = -1;

	if (fstatat(t->workfd, "backup.new", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		journal_text(t->p, TXN_DONE, t->r ? t->r->result : NULL, t->mkdirs,
			     t->nmkdirs, &b);
		if (fs_write_atomic(last, b.data, b.len, 0600, e) < 0 ||
		    fs_remove_tree_at(t->workfd, "backup", e) < 0)
			goto done;
		if (renameat(t->workfd, "backup.new", t->workfd, "backup") < 0) {
			err_sys(e, EXIT_SOFTWARE, "rename %s", t->backup);
			goto done;
		}
	}
	close_fd(&t->stagefd);
	close_fd(&t->backfd);
	if (fs_remove_tree_at(t->workfd, "stage", e) < 0)
		goto done;
	if (fsync(t->workfd) < 0) {
		err_sys(e, EXIT_SOFTWARE, "fsync %s", t->p->workdir);
		goto done;
	}
	rc = 0;
done:
	buf_release(&b);
	free(last);
	return rc;
}

/* The release's file that op i put at its path (not a config), or NULL. */
static const struct mfile *quick_file(const struct txn *t, size_t i)
{
	const struct plan_op *op = &t->p->ops[i];
	const struct mfile *f = op->file ? op->file : manifest_find_file(t->p->m, op->path);

	return f && !f->config && !strcmp(f->path, op->path) ? f : NULL;
}

/* What op i gives the record: a line to add (QUICK_NEW: its file was
 * renamed in or read, *st its stat), one the old record holds already
 * (QUICK_KEPT: vouched for at the plan's lstat), or nothing. */
enum quick_line { QUICK_NONE, QUICK_NEW, QUICK_KEPT };

static enum quick_line quick_line(const struct txn *t, size_t i, const struct mfile **f,
				  struct qc_stat *st)
{
	const struct plan_op *op = &t->p->ops[i];

	if (!(*f = quick_file(t, i)))
		return QUICK_NONE;
	if (op->kind != PLAN_UNCHANGED) {
		*st = t->after[i];
		return st->ino ? QUICK_NEW : QUICK_NONE;
	}
	if (!op->old_exists || !S_ISREG(op->st.st_mode))
		return QUICK_NONE;
	quickcheck_stat(&op->st, st);
	return op->quick ? QUICK_KEPT : QUICK_NEW;
}

/* Write the quick check's record for the tree just committed: each file
 * the swap renamed in, as it was right after (note_swapped); each one the
 * plan found unchanged by reading it, as the plan's lstat before the read;
 * and the old record's entries for the release's other files, which stay
 * true as long as the files' stat does. When those are few, they are
 * appended to the old record, which keeps the rest (quickcheck.h); else
 * the record is written anew. Only a transaction that swapped writes it;
 * a recovery leaves the old one, whose entries stay true (an entry
 * vouches for one stat, which any change to the file breaks). A failure
 * is not the commit's: the record only saves reading. */
static void record_quick(struct txn *t)
{
	const struct plan *p = t->p;
	struct quickcheck old = QUICKCHECK_INIT, nq = QUICKCHECK_INIT;
	const struct quickcheck *was = p->how && p->how->quick ? p->how->quick : &old;
	const struct mfile *f;
	struct qc_stat st;
	size_t i, n, fresh = 0, covered = 0;    /* ops for a file of p->m: one each */
	enum quick_line k;
	bool append;
	struct err e;

	if (!t->after)
		return;
	if (was == &old)
		quickcheck_load(t->appdir, &old);
	for (i = 0; i < p->nops; i++) {
		const struct plan_op *op = &p->ops[i];

		if (op->file >= p->m->files && op->file < p->m->files + p->m->nfiles)
			covered++;
		fresh += quick_line(t, i, &f, &st) == QUICK_NEW;
	}
	/* Few lines to add: appended to the old record, which keeps the rest.
	 * Else the record anew, in the plan's (sorted) order. */
	append = was->loaded && was->lines + fresh <= p->m->nfiles + p->m->nfiles / 4;
	for (i = 0; i < p->nops; i++)
		if ((k = quick_line(t, i, &f, &st)) == QUICK_NEW || (k == QUICK_KEPT && !append))
			quickcheck_add(&nq, f->path, f->sha256, &st);
	if (append) {
		quickcheck_append(t->appdir, was, &nq, &e);
		goto done;
	}
	/* Files this transaction had no op for (`upgr rollback`'s inverse
	 * plan): the old entries that still name their bytes. */
	quickcheck_sort(&nq);
	for (i = 0, n = nq.n; covered < p->m->nfiles && i < was->n; i++) {
		f = manifest_find_file(p->m, was->v[i].path);
		if (f && !f->config && !memcmp(f->sha256, was->v[i].sha256, SHA256_LEN) &&
		    !quickcheck_find_n(&nq, n, f->path))
			quickcheck_add(&nq, f->path, f->sha256, &was->v[i].st);
	}
	quickcheck_save(t->appdir, &nq, &e);
done:
	quickcheck_release(&nq);
	quickcheck_release(&old);
}

/* Make the installed manifest the new one, keep the old as previous.yaml,
 * keep the backup (rotate_backup), and mark the journal "done" (the
 * caller drops it with txn_finish once the result is recorded).
 * Idempotent: recovery repeats it. */
static int commit(struct txn *t, struct err *e)
{
	char *next = fs_join(t->appdir, STATE_NEXT);
	char *cur = fs_join(t->appdir, STATE_INSTALLED);
	char *prev = fs_join(t->appdir, STATE_PREVIOUS);
	int rc = -1;

	if (exists(next)) {
		if (exists(cur) && rename(cur, prev) < 0) {
			err_sys(e, EXIT_SOFTWARE, "rename %s", cur);
			goto done;
		}
		if (rename(next, cur) < 0) {
			err_sys(e, EXIT_SOFTWARE, "rename %s", next);
			goto done;
		}
		if (fs_fsync_dir(t->appdir, e) < 0)
			goto done;
	}
	if (rotate_backup(t, e) < 0)
		goto done;
	record_quick(t);
	txn_result_set(t->r, TXN_SUCCESS);
	rc = write_journal(t, TXN_DONE, e);
	t->r->journal_done = rc == 0;
done:
	free(next);
	free(cur);
	free(prev);
	return rc;
}

/* After a failure past the stop: restore, rollback steps, old version up. */
static int roll_back(struct txn *t, bool started)
{
	const struct manifest *old = t->p->installed;
	char *journal = fs_join(t->appdir, STATE_JOURNAL);
	char *next = fs_join(t->appdir, STATE_NEXT);
	struct err e;
	int rc = EXIT_ROLLED_BACK;

	err_clear(&e);
	/* Once its start ran, the new version may be running from the files
	 * about to be taken away: stop it first (its own stop commands). */
	if (started && run_cmds(t, "stop", &t->p->m->stop) < 0) {
		size_t len = strlen(t->r->error);

		snprintf(t->r->error + len, sizeof t->r->error - len,
			 "; stopping the new version failed too");
	}
	/* On a first install the rollback steps live in the release's own
	 * files, which are about to go: run them while they are there. */
	if (!old && run_cmds(t, "rollback", &t->p->m->rollback) < 0) {
		size_t len = strlen(t->r->error);

		snprintf(t->r->error + len, sizeof t->r->error - len,
			 "; the rollback steps failed");
	}
	if (restore(t, &e) < 0) {
		set_error(t, "%s", e.msg);
		snprintf(t->r->error + strlen(t->r->error),
			 sizeof t->r->error - strlen(t->r->error),
			 "; restoring the old files failed: %s; the journal is kept, run 'upgr recover'",
			 e.msg);
		txn_result_set(t->r, TXN_FAILED);
		rc = EXIT_ROLLBACK_FAILED;
		goto done;
	}
	if (old && (run_cmds(t, "rollback", &t->p->m->rollback) < 0 ||
		    run_cmds(t, "start", &old->start) < 0 ||
		    run_cmds(t, "health", &old->health) < 0)) {
		size_t len = strlen(t->r->error);

		snprintf(t->r->error + len, sizeof t->r->error - len,
			 "; the old files (%s) are back in place but the old version did not come up: "
			 "a person must act",
			 old->version);
		txn_result_set(t->r, TXN_FAILED);
		rc = EXIT_ROLLBACK_FAILED;
	} else {
		txn_result_set(t->r, TXN_ROLLED_BACK);
	}
	/* DONE before the clean-up, and the clean-up only once DONE is on
	 * disk: a crash in between leaves a journal that says what happened,
	 * which the recovery records (invariant 6), never a STARTED one whose
	 * manifest.next.yaml is gone (that would read as a first install). */
	t->r->journal_done = write_journal(t, TXN_DONE, &e) == 0;
	if (t->r->journal_done) {
		cleanup_work(t);
		unlink(next);
	}
done:
	free(journal);
	free(next);
	return rc;
}

/* ---- the transaction -------------------------------------------------- */

/* Everything before the stop. On failure the target is as it was. */
static int prepare(struct txn *t, const char *manifest, size_t len,
		   const char *stage_from, struct err *e)
{
	char *next = fs_join(t->appdir, STATE_NEXT);
	size_t i;
	int rc = -1;

	if (t->p->owner_error[0]) {
		err_set(e, EXIT_ROLLED_BACK, "precondition failed (%s); nothing was changed",
			t->p->owner_error);
		goto done;
	}
	if (work_open(t, e) < 0 || fs_mkdir_p(t->appdir, 0700, e) < 0)
		goto done;
	if (stage_files(t, stage_from, e) < 0)
		goto done;
	t->after = xcalloc(t->p->nops ? t->p->nops : 1, sizeof *t->after);
	find_xdirs(t);
	plan_check_preconditions(t->p, true);
	for (i = 0; i < t->p->npre; i++) {
		const struct plan_pre *pp = &t->p->pre[i];

		if (pp->pre->kind == PRE_RUN) {
			struct exec_result er = { .exit = pp->exit, .ms = pp->ms };

			add_step(t, "precondition", pp->pre->cmd.run, &er, NULL);
		}
		if (pp->state == PRE_FAIL) {
			err_set(e, EXIT_ROLLED_BACK, "precondition %zu failed (%s); nothing was changed",
				i + 1, pp->detail);
			goto done;
		}
	}
	if (fs_write_atomic(next, manifest, len, 0600, e) < 0)
		goto done;
	find_missing_dirs(t);
	if (write_journal(t, TXN_PREPARED, e) < 0 || make_dirs(t, e) < 0 ||
	    backup_files(t, e) < 0)
		goto done;
	rc = 0;
done:
	free(next);
	return rc;
}

/* The manifest now installed, as the plan has it parsed, for the next
 * command that reads it (mcache.h), under the sha256 of its bytes (the
 * plan's, which apply took of these bytes; else taken now). Only a cache:
 * not writing it costs that command a parse, so a failure is not the
 * transaction's. */
static void keep_parsed(const struct txn *t, const char *manifest, size_t len)
{
	char *path = fs_join(t->appdir, MCACHE_NAME);
	const char *hex = t->p->manifest_sha256;
	uint8_t sha[SHA256_LEN];
	struct err e;

	if (!hex || strlen(hex) != SHA256_HEX_LEN || hex_decode(hex, sha, SHA256_LEN) < 0)
		sha256_buf(manifest, len, sha);
	mcache_write(path, sha, t->p->m, &e);
	free(path);
}

int txn_run(struct plan *p, const char *state_dir, const char *manifest,
	    size_t manifest_len, const char *stage_from, struct txn_result *r)
{
	long t0 = now_ms(), down0;
	struct txn t;
	struct err e;
	int rc = EXIT_OK;

	err_clear(&e);
	txn_init(&t, p, state_dir, r);
	if (prepare(&t, manifest, manifest_len, stage_from, &e) < 0) {
		char *next = fs_join(t.appdir, STATE_NEXT);
		char *journal = fs_join(t.appdir, STATE_JOURNAL);

		set_error(&t, "%s", e.msg);
		txn_result_set(r, TXN_FAILED);
		/* The journal first: left alone, a manifest.next.yaml or a
		 * staging area is harmless (the next run replaces both), a
		 * journal without its manifest is not. */
		if (unlink(journal) == 0)
			fs_fsync_dir(t.appdir, &e);
		cleanup_work(&t);
		unlink(next);
		free(next);
		free(journal);
		r->journal_done = true;
		rc = e.code == EXIT_TRUST ? EXIT_TRUST : EXIT_ROLLED_BACK;
		goto done;
	}
	/* STARTED is written before the stop, not between the swap and the
	 * start, to keep its fsyncs out of the downtime: a recovery from any
	 * point of the downtime stops whatever runs with the release's stop
	 * commands (a second stop of a stopped service) before restoring. */
	if (write_journal(&t, TXN_STARTED, &e) < 0) {
		set_error(&t, "%s", e.msg);
		rc = roll_back(&t, false);
		goto done;
	}
	down0 = now_ms();
	if ((p->installed && run_cmds(&t, "stop", &p->m->stop) < 0) ||
	    (swap(&t, &e) < 0 && (set_error(&t, "swap: %s", e.msg), 1))) {
		r->downtime_ms = now_ms() - down0;
		rc = roll_back(&t, false);
		goto done;
	}
	if (run_cmds(&t, "start", &p->m->start) < 0) {
		r->downtime_ms = now_ms() - down0;
		rc = roll_back(&t, true);
		goto done;
	}
	r->downtime_ms = now_ms() - down0;
	/* The swap's renames reach the disk before the commit record can. */
	if (sync_swapped(&t, &e) < 0) {
		set_error(&t, "swap: %s", e.msg);
		rc = roll_back(&t, true);
		goto done;
	}
	if (run_cmds(&t, "health", &p->m->health) < 0) {
		rc = roll_back(&t, true);
		goto done;
	}
	if (write_journal(&t, TXN_COMMITTED, &e) < 0) {
		/* Without a durable commit record, the old version it is. */
		set_error(&t, "commit: %s", e.msg);
		rc = roll_back(&t, true);
		goto done;
	}
	if (commit(&t, &e) < 0) {
		/* Past the commit point: the new version runs, and the next
		 * command's recovery finishes the bookkeeping (invariant 4). */
		result_error(r,
			 "committed, but finishing the commit failed (%s); the next run completes it",
			 e.msg);
	} else {
		keep_parsed(&t, manifest, manifest_len);
	}
	txn_result_set(r, TXN_SUCCESS);
done:
	r->duration_ms = now_ms() - t0;
	txn_release(&t);
	return rc;
}

/* ---- recovery ---------------------------------------------------------- */

int txn_pending(const char *state_dir, char ***apps, size_t *n, struct err *e)
{
	char *dir = fs_join(state_dir, "apps");
	struct dirent *de;
	DIR *d = opendir(dir);

	*apps = NULL;
	*n = 0;
	if (!d) {
		free(dir);
		return errno == ENOENT ? 0 : err_sys(e, EXIT_SOFTWARE, "open %s", state_dir);
	}
	while ((de = readdir(d))) {
		char *j;

		if (de->d_name[0] == '.')
			continue;
		j = xasprintf("%s/%s/" STATE_JOURNAL, dir, de->d_name);
		if (exists(j)) {
			*apps = xreallocarray(*apps, *n + 1, sizeof **apps);
			(*apps)[(*n)++] = xstrdup(de->d_name);
		}
		free(j);
	}
	closedir(d);
	free(dir);
	return 0;
}

/* Before a recovery touches the host: the target's parents pass the
 * checks `upgr run` makes (fs_check_parents), and the work directory is
 * opened and checked (work_open) with what staging and backups it holds.
 * Returns an exit code: 65 or 77 refuse, e says why. */
static int recover_open(struct txn *t, struct err *e)
{
	if (fs_check_parents(t->p->target, e) < 0 || work_open(t, e) < 0 ||
	    work_sub(t, "stage", false, &t->stagefd, e) < 0 ||
	    work_sub(t, "backup.new", false, &t->backfd, e) < 0)
		return e->code ? e->code : EXIT_ROLLBACK_FAILED;
	return EXIT_OK;
}

static int load_manifest_opt(const char *path, struct manifest *m, bool *have)
{
	struct diag d;
	int rc;

	*have = false;
	if (!exists(path))
		return 0;
	diag_init(&d, path);
	rc = manifest_load(path, m, &d);
	diag_release(&d);
	*have = rc == 0;
	return rc;
}

/* A journal in DONE: finished, but killed before its result was recorded
 * (or, after a rollback, before the clean-up that follows DONE). */
static int resolve_done(struct txn *t, const struct journal *j, const char *npath)
{
	struct txn_result *r = t->r;
	struct err e;

	if (strcmp(j->result, "success") && work_open(t, &e) == 0)
		cleanup_work(t);
	if (strcmp(j->result, "success"))
		unlink(npath);
	snprintf(r->result, sizeof r->result, "%s", j->result);
	r->journal_done = true;
	result_error(r,
		 "the run that %s %s -> %s was interrupted after it finished (result: %s), before it was recorded",
		 j->action, j->from[0] ? j->from : "nothing", j->to, j->result);
	return EXIT_OK;
}

/* A journal in PREPARED: the service was never stopped and the target
 * never touched. DONE first, as in roll_back. */
static int resolve_prepared(struct txn *t, const char *npath)
{
	struct txn_result *r = t->r;
	struct err e;

	txn_result_set(r, TXN_ROLLED_BACK);
	r->journal_done = write_journal(t, TXN_DONE, &e) == 0;
	if (r->journal_done) {
		cleanup_work(t);
		unlink(npath);
	}
	result_error(r,
		 "interrupted before the stop; nothing had changed");
	return EXIT_OK;
}

/* Resolve journal j of t (txn_recover), by the phase it reached. Returns
 * an exit code; r->result says what happened. */
static int resolve(struct txn *t, const struct journal *j, const char *npath)
{
	struct txn_result *r = t->r;
	struct err e;
	int rc;

	if (j->phase != TXN_DONE && (rc = recover_open(t, &e)) != EXIT_OK) {
		result_error(r, "%s; the journal is kept", e.msg);
		txn_result_set(r, TXN_REFUSED);
		return rc;
	}
	switch (j->phase) {
	case TXN_DONE:
		return resolve_done(t, j, npath);
	case TXN_COMMITTED:
		if (commit(t, &e) < 0) {
			result_error(r, "finishing the commit: %s", e.msg);
			txn_result_set(r, TXN_FAILED);
			return EXIT_ROLLBACK_FAILED;
		}
		txn_result_set(r, TXN_SUCCESS);
		return EXIT_OK;
	case TXN_PREPARED:
		return resolve_prepared(t, npath);
	case TXN_STARTED:
	case TXN_SWAPPING:
		break;
	}
	if (check_backups(t, &e) < 0) {
		result_error(r, "%s: refused, nothing was changed; the journal is kept",
			 e.msg);
		txn_result_set(r, TXN_REFUSED);
		return EXIT_TRUST;
	}
	result_error(r,
		 "interrupted during the swap (%s -> %s); restored %s",
		 j->from[0] ? j->from : "nothing", j->to, j->from[0] ? j->from : "the empty target");
	rc = roll_back(t, j->phase == TXN_STARTED);
	if (rc == EXIT_ROLLED_BACK)
		rc = EXIT_OK;
	return rc;
}

int txn_recover(const char *state_dir, const char *app, struct txn_result *r,
		char from[64], char to[64])
{
	char *appdir = state_app_dir(state_dir, app);
	char *jpath = fs_join(appdir, STATE_JOURNAL);
	char *npath = fs_join(appdir, STATE_NEXT);
	char *cpath = fs_join(appdir, STATE_INSTALLED);
	struct manifest next, cur;
	bool have_next = false, have_cur = false;
	struct buf b = BUF_INIT;
	struct journal j;
	struct plan p;
	struct txn t;
	struct err e;
	int rc = EXIT_ROLLBACK_FAILED;
	long t0 = now_ms();

	memset(&p, 0, sizeof p);
	memset(&j, 0, sizeof j);
	memset(&t, 0, sizeof t);
	memset(&next, 0, sizeof next);
	memset(&cur, 0, sizeof cur);
	from[0] = to[0] = '\0';
	if (fs_read_file(jpath, 16 << 20, &b, &e) < 0 ||
	    journal_parse(b.data, &j, &p, &t.mkdirs, &t.nmkdirs, &e) < 0) {
		result_error(r, "journal %s: %s", jpath, e.msg);
		txn_result_set(r, TXN_FAILED);
		goto done;
	}
	snprintf(from, 64, "%s", j.from);
	snprintf(to, 64, "%s", j.to);
	load_manifest_opt(npath, &next, &have_next);
	load_manifest_opt(cpath, &cur, &have_cur);
	if (!have_next && j.phase != TXN_COMMITTED) {
		/* Without the release's manifest only files can be restored. */
		memset(&next, 0, sizeof next);
	}
	p.m = have_next ? &next : (have_cur ? &cur : NULL);
	if (!p.m) {
		result_error(r, "journal %s: no manifest to recover with", jpath);
		txn_result_set(r, TXN_FAILED);
		goto done;
	}
	p.installed = have_cur && have_next ? &cur : NULL;
	p.root = j.root;
	p.target = j.target;
	p.workdir = j.workdir;
	p.manifest_sha256 = j.sha256;
	p.action = j.action;
	t.p = &p;
	t.state_dir = state_dir;
	t.appdir = xstrdup(appdir);
	t.stage = fs_join(p.workdir, "stage");
	t.backup = fs_join(p.workdir, "backup.new");
	t.workfd = t.stagefd = t.backfd = -1;
	t.r = r;
	rc = resolve(&t, &j, npath);
done:
	r->duration_ms = now_ms() - t0;
	p.root = p.target = p.workdir = p.manifest_sha256 = NULL;
	p.m = p.installed = NULL;
	plan_release(&p);
	journal_release(&j);
	txn_release(&t);
	if (have_next)
		manifest_release(&next);
	if (have_cur)
		manifest_release(&cur);
	buf_release(&b);
	free(appdir);
	free(jpath);
	free(npath);
	free(cpath);
	return rc;
}

/* ---- upgr rollback ----------------------------------------------------- */

int txn_plan_rollback(const char *state_dir, const char *app, const char *root,
		      struct plan *p, struct manifest *installed,
		      struct manifest *previous, char **stage_from,
		      struct err *e)
{
	char *appdir = state_app_dir(state_dir, app);
	char *last = fs_join(appdir, STATE_LAST_TXN);
	char *cpath = fs_join(appdir, STATE_INSTALLED);
	char *ppath = fs_join(appdir, STATE_PREVIOUS);
	struct plan fwd;
	struct buf b = BUF_INIT;
	struct journal j;
	bool have_cur = false, have_prev = false;
	size_t i;
	int rc = -1;

	memset(&fwd, 0, sizeof fwd);
	memset(&j, 0, sizeof j);
	memset(p, 0, sizeof *p);
	*stage_from = NULL;
	if (load_manifest_opt(cpath, installed, &have_cur) < 0 || !have_cur) {
		err_set(e, EXIT_DATAERR, "%s: nothing installed", app);
		goto done;
	}
	if (load_manifest_opt(ppath, previous, &have_prev) < 0 || !have_prev || !exists(last)) {
		err_set(e, EXIT_DATAERR, "%s %s: no previous version kept to roll back to",
			app, installed->version);
		manifest_release(installed);
		goto done;
	}
	if (fs_read_file(last, 16 << 20, &b, e) < 0 ||
	    journal_parse(b.data, &j, &fwd, NULL, NULL, e) < 0)
		goto fail;
	p->m = previous;
	p->installed = installed;
	p->root = xstrdup(root && *root ? root : j.root);
	p->target = xstrdup(j.target);
	p->workdir = xstrdup(j.workdir);
	p->payload = xstrdup("");
	p->manifest_sha256 = xstrdup("");
	p->action = "rollback";
	*stage_from = xstrdup("backup");
	/* The inverse of each forward op. */
	for (i = 0; i < fwd.nops; i++) {
		const struct plan_op *f = &fwd.ops[i];
		char *dest = fs_join(p->target, f->path);
		struct plan_op *op;

		p->ops = xreallocarray(p->ops, p->nops + 1, sizeof *p->ops);
		op = &p->ops[p->nops++];
		memset(op, 0, sizeof *op);
		op->path = xstrdup(f->path);
		op->old_exists = exists(dest);
		if (f->old_exists) {
			op->kind = op->old_exists ? PLAN_REPLACE : PLAN_ADD;
			op->src = xstrdup(f->path);
		} else {
			op->kind = PLAN_REMOVE;
		}
		p->nchanged++;
		free(dest);
	}
	plan_find_dirs(p);
	rc = 0;
	goto done;
fail:
	manifest_release(installed);
	manifest_release(previous);
done:
	plan_release(&fwd);
	journal_release(&j);
	buf_release(&b);
	free(appdir);
	free(last);
	free(cpath);
	free(ppath);
	return rc;
}

int txn_finish(const char *state_dir, const char *app, struct err *e)
{
	char *appdir = state_app_dir(state_dir, app);
	char *journal = fs_join(appdir, STATE_JOURNAL);
	int rc = 0;

	if (unlink(journal) < 0 && errno != ENOENT)
		rc = err_sys(e, EXIT_SOFTWARE, "remove %s", journal);
	else if (exists(appdir))
		rc = fs_fsync_dir(appdir, e);
	free(journal);
	free(appdir);
	return rc;
}
