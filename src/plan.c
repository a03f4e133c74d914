/* SPDX-License-Identifier: Apache-2.0 */
/* Building and showing the plan. Everything here only reads the host. */
#include "plan.h"
#include "exec.h"
#include "fsutil.h"
#include "hash.h"
#include "objects.h"
#include "payload.h"
#include "quickcheck.h"
#include "treescan.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

const char *plan_kind_name(enum plan_kind k)
{
	switch (k) {
	case PLAN_ADD: return "add";
	case PLAN_REPLACE: return "replace";
	case PLAN_UNCHANGED: return "unchanged";
	case PLAN_CONFIG_KEEP: return "keep-config";
	case PLAN_REMOVE: return "remove";
	}
	return "?";
}

/* Staging and backups must be on the target's file system so that every
 * swap is a rename(2): beside the target, unless the target is a mount
 * point of its own, then inside it. */
static char *choose_workdir(const char *target, const char *app)
{
	char *copy = xstrdup(target), *parent = dirname(copy), *dir;
	struct stat st_t, st_p;

	if (stat(target, &st_t) == 0 && stat(parent, &st_p) == 0 &&
	    st_t.st_dev != st_p.st_dev)
		dir = xasprintf("%s/.upgr-%s", target, app);
	else
		dir = xasprintf("%s/.%s.upgr", strcmp(parent, "/") ? parent : "", app);
	free(copy);
	return dir;
}

static struct plan_op *add_op(struct plan *p, enum plan_kind kind)
{
	struct plan_op *op;

	p->ops = xreallocarray(p->ops, p->nops + 1, sizeof *p->ops);
	op = &p->ops[p->nops++];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	return op;
}

bool plan_resolve_owner(const struct mfile *f, uid_t *uid, gid_t *gid, char *why,
			size_t whylen)
{
	struct passwd *pw;
	struct group *gr;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (f->owner) {
		if (!(pw = getpwnam(f->owner))) {
			snprintf(why, whylen, "%s: owner \"%s\" is not a user on this host",
				 f->path, f->owner);
			return false;
		}
		*uid = pw->pw_uid;
	}
	if (f->group) {
		if (!(gr = getgrnam(f->group))) {
			snprintf(why, whylen, "%s: group \"%s\" is not a group on this host",
				 f->path, f->group);
			return false;
		}
		*gid = gr->gr_gid;
	}
	return true;
}

/* p->target/path, made on first need into *dest (the caller frees it):
 * most files need no absolute path at all. */
static const char *full(const struct plan *p, const char *path, char **dest)
{
	if (!*dest)
		*dest = fs_join(p->target, path);
	return *dest;
}

/* The lstat of target/path, whose installed entry is was (or NULL): what
 * the scan saw (p->how, treescan.h), else looked at now, from tfd when it
 * is open. *vouched: the quick check's record vouches for the bytes was
 * lists (the scan's finding; otherwise left to quick_same). */
static int look(const struct plan *p, int tfd, char **dest, const char *path,
		const struct mfile *was, struct stat *st, bool *vouched)
{
	const struct seen *sn = p->how ? treescan_find(p->how->seen, p->target, p->installed, was)
		: NULL;

	*vouched = false;
	if (!sn)
		return tfd >= 0 ? fstatat(tfd, path, st, AT_SYMLINK_NOFOLLOW)
				: lstat(full(p, path, dest), st);
	if (sn->kind == SEEN_ABSENT) {
		errno = ENOENT;
		return -1;
	}
	*st = sn->st;
	*vouched = sn->kind == SEEN_VOUCHED;
	return 0;
}

/* May the quick check stand for reading f (p->how)? Not for a config,
 * and only where the installed release listed the same bytes: vouched
 * by the scan (look), or by the record for st. */
static bool quick_same(const struct plan *p, const struct mfile *f, const struct mfile *was,
		       const struct stat *st, bool vouched)
{
	return p->how && p->how->quick && !f->config && was && was->has_sha256 &&
	       !memcmp(was->sha256, f->sha256, SHA256_LEN) &&
	       (vouched || quickcheck_same(p->how->quick, f->path, f->sha256, st));
}

/* Decide what happens to one listed file, m->files[i]. tfd: the target
 * directory, or -1 (none yet): paths are looked up from it, a few
 * components rather than the whole absolute path per file. *new_size
 * OBJECTS_SIZE_UNKNOWN is found out here: the size of the file kept, or
 * of the bytes the host has elsewhere (here). */
static int plan_file(struct plan *p, int tfd, size_t i, uint64_t *new_size,
		     struct objects_here *here, struct err *e)
{
	const struct mfile *f = &p->m->files[i];
	const struct mfile *was = p->installed ? manifest_find_file_near(p->installed, f->path, i)
					       : NULL;
	char *dest = NULL;
	enum plan_kind kind = PLAN_ADD;
	uint8_t cur[SHA256_LEN];
	struct plan_op *op;
	struct stat st;
	bool same = false, changes, owned = true, quick = false, vouched;
	uid_t uid;
	gid_t gid;
	int rc = -1;

	char why[sizeof p->owner_error];

	/* The first unknown name is kept: it fails the preconditions. */
	if (!plan_resolve_owner(f, &uid, &gid, why, sizeof why) && !p->owner_error[0])
		memcpy(p->owner_error, why, sizeof why);
	if (look(p, tfd, &dest, f->path, was, &st, &vouched) == 0) {
		owned = (uid == (uid_t)-1 || st.st_uid == uid) && (gid == (gid_t)-1 || st.st_gid == gid);
		if (S_ISDIR(st.st_mode)) {
			err_set(e, EXIT_DATAERR, "%s is a directory on this host; the release has a file there",
				full(p, f->path, &dest));
			goto done;
		}
		kind = PLAN_REPLACE;
		/* A file the installed manifest lists with other bytes than the
		 * release's is replaced whatever it holds now: reading it could
		 * only find it identical by chance. Hashed are the files the
		 * release keeps the same, configs and files we never installed. */
		changes = !f->config && was && was->has_sha256 &&
			  memcmp(was->sha256, f->sha256, SHA256_LEN) != 0;
		if (S_ISREG(st.st_mode) && f->has_sha256 && !changes &&
		    quick_same(p, f, was, &st, vouched)) {
			same = quick = true;
		} else if (S_ISREG(st.st_mode) && f->has_sha256 && !changes) {
			if (sha256_file(full(p, f->path, &dest), cur, NULL, e) < 0)
				goto done;
			same = !memcmp(cur, f->sha256, SHA256_LEN);
		}
		/* A config file that is a symlink was made one here (releases
		 * ship regular files only): a local edit, kept like one. */
		if (same && (st.st_mode & 07777) == f->mode && owned)
			kind = PLAN_UNCHANGED;
		else if (f->config && S_ISLNK(st.st_mode))
			kind = PLAN_CONFIG_KEEP;
		else if (f->config && !same && S_ISREG(st.st_mode) &&
			 !(was && was->has_sha256 && !memcmp(cur, was->sha256, SHA256_LEN)))
			kind = PLAN_CONFIG_KEEP;   /* edited here, or never ours */
	} else if (errno != ENOENT) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", full(p, f->path, &dest));
		goto done;
	}
	/* A content the change index did not list is one the host has. */
	if (*new_size == OBJECTS_SIZE_UNKNOWN)
		*new_size = same ? (uint64_t)st.st_size : objects_size_here(here, f->sha256);
	op = add_op(p, kind);
	op->file = f;
	op->src = xstrdup(f->path);
	op->path = kind == PLAN_CONFIG_KEEP ? xasprintf("%s.upgr-new", f->path) : xstrdup(f->path);
	op->old_exists = kind != PLAN_ADD;
	op->old_size = op->old_exists ? (uint64_t)st.st_size : 0;
	op->old_mode = op->old_exists ? st.st_mode & 07777 : 0;
	op->new_size = *new_size;
	op->new_mode = f->mode;
	op->uid = uid;
	op->gid = gid;
	if (op->old_exists)
		op->st = st;
	op->quick = quick && kind == PLAN_UNCHANGED;
	if (kind == PLAN_CONFIG_KEEP) {
		/* The .upgr-new beside it may exist from an earlier release. */
		free(dest);
		dest = fs_join(p->target, op->path);
		op->old_exists = lstat(dest, &st) == 0;
		op->old_size = op->old_exists ? (uint64_t)st.st_size : 0;
	}
	rc = 0;
done:
	free(dest);
	return rc;
}

static void add_note(struct plan *p, char *note)
{
	p->notes = xreallocarray(p->notes, p->nnotes + 1, sizeof *p->notes);
	p->notes[p->nnotes++] = note;
}

void plan_add_dir(struct plan *p, char *path, mode_t mode)
{
	struct plan_dir *d;
	size_t i;

	for (i = 0; i < p->ndirs; i++)
		if (!strcmp(p->dirs[i].path, path)) {
			free(path);
			return;
		}
	p->dirs = xreallocarray(p->dirs, p->ndirs + 1, sizeof *p->dirs);
	d = &p->dirs[p->ndirs++];
	memset(d, 0, sizeof *d);
	d->path = path;
	d->mode = mode;
}

void plan_add_xdir(struct plan *p, char *path, uint64_t old_ino, uint64_t new_ino)
{
	struct plan_xdir *x;

	p->xdirs = xreallocarray(p->xdirs, p->nxdirs + 1, sizeof *p->xdirs);
	x = &p->xdirs[p->nxdirs++];
	x->path = path;
	x->old_ino = old_ino;
	x->new_ino = new_ino;
}

static struct plan_op *add_remove(struct plan *p, const char *path, const struct stat *st)
{
	struct plan_op *op = add_op(p, PLAN_REMOVE);

	op->path = xstrdup(path);
	op->old_exists = true;
	op->old_size = (uint64_t)st->st_size;
	op->old_mode = st->st_mode & 07777;
	return op;
}

/* One path of remove:, a file (or symlink) the release deletes, or a
 * directory: removed once what the release owned in it is gone and only
 * if nothing else is left in it (plan_find_dirs decides, and says why a
 * directory is kept). */
static int plan_remove(struct plan *p, const char *path, struct err *e)
{
	char *dest = fs_join(p->target, path);
	struct stat st;
	int rc = 0;

	if (lstat(dest, &st) < 0) {
		if (errno != ENOENT)
			rc = err_sys(e, EXIT_SOFTWARE, "stat %s", dest);
	} else if (S_ISDIR(st.st_mode)) {
		plan_add_dir(p, xstrdup(path), st.st_mode & 07777);
	} else {
		add_remove(p, path, &st);
	}
	free(dest);
	return rc;
}

static bool names_removal(const struct manifest *m, const char *path)
{
	size_t i;

	for (i = 0; i < m->nremove; i++)
		if (!strcmp(m->remove[i], path))
			return true;
	return false;
}

/* A file the installed release lists and this one does not: the release
 * owns it, so it goes (backed up like a replaced file), as dpkg removes
 * files dropped from a package. A config file edited here is kept (and
 * the plan says so); a directory in its place was never ours. It is
 * installed->files[i]. */
static int plan_dropped(struct plan *p, size_t i, struct err *e)
{
	const struct mfile *f = &p->installed->files[i];
	char *dest = NULL;
	uint8_t cur[SHA256_LEN];
	struct stat st;
	bool vouched;
	int rc = 0;

	if (manifest_find_file_near(p->m, f->path, i) || names_removal(p->m, f->path))
		goto done;
	if (look(p, -1, &dest, f->path, f, &st, &vouched) < 0) {
		if (errno != ENOENT)
			rc = err_sys(e, EXIT_SOFTWARE, "stat %s", full(p, f->path, &dest));
		goto done;
	}
	if (S_ISDIR(st.st_mode))
		goto done;
	if (f->config && (!S_ISREG(st.st_mode) || !f->has_sha256 ||
			  sha256_file(full(p, f->path, &dest), cur, NULL, e) < 0 ||
			  memcmp(cur, f->sha256, SHA256_LEN))) {
		err_clear(e);
		add_note(p, xasprintf("%s: a config file the release dropped, edited here: kept",
				      f->path));
		goto done;
	}
	add_remove(p, f->path, &st);
done:
	free(dest);
	return rc;
}

/* Is rel an ancestor directory of a file m lists? */
static bool needed_dir(const struct manifest *m, const char *rel)
{
	size_t i, n = strlen(rel), lo = 0, hi = m->nfiles;
	char *key;

	/* With the path index: the paths under "rel/" sort together, from
	 * the first one not below that key (20,000 files: no 4 x 10^8 scan). */
	if (m->by_path && m->nby_path == m->nfiles) {
		key = xasprintf("%s/", rel);
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(m->files[m->by_path[mid]].path, key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		free(key);
		return lo < m->nfiles && !strncmp(m->files[m->by_path[lo]].path, rel, n) &&
		       m->files[m->by_path[lo]].path[n] == '/';
	}
	for (i = 0; i < m->nfiles; i++)
		if (!strncmp(m->files[i].path, rel, n) && m->files[i].path[n] == '/')
			return true;
	return false;
}

static bool is_removed(const struct plan *p, const char *rel)
{
	size_t i;

	for (i = 0; i < p->nops; i++)
		if (p->ops[i].kind == PLAN_REMOVE && !strcmp(p->ops[i].path, rel))
			return true;
	for (i = 0; i < p->ndirs; i++)
		if (!p->dirs[i].kept && !strcmp(p->dirs[i].path, rel))
			return true;
	return false;
}

static int cmp_dir(const void *a, const void *b)
{
	return strcmp(((const struct plan_dir *)a)->path, ((const struct plan_dir *)b)->path);
}

/* Is everything in directory d going (a REMOVE op or a removed
 * directory)? If not, d is kept and says what it holds. */
static void check_dir(struct plan *p, struct plan_dir *d)
{
	char *abs = fs_join(p->target, d->path);
	DIR *dh = opendir(abs);
	struct dirent *de;

	if (!dh) {
		d->kept = true;
		d->why = xasprintf("cannot be read: %s", strerror(errno));
	}
	while (dh && !d->kept && (de = readdir(dh))) {
		char *rel;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rel = xasprintf("%s/%s", d->path, de->d_name);
		if (!is_removed(p, rel)) {
			d->kept = true;
			d->why = xasprintf("holds %s, which the release never owned", rel);
		}
		free(rel);
	}
	if (dh)
		closedir(dh);
	free(abs);
}

/* The length of the longest directory a and b are both under ("d/e" of
 * "d/e/f" and "d/e/g"), 0 for none. */
static size_t shared_dir(const char *a, const char *b)
{
	size_t i, dir = 0;

	for (i = 0; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			dir = i;
	return dir;
}

void plan_find_dirs(struct plan *p)
{
	const struct manifest *old = p->installed;
	const char *prev = NULL;
	struct stat st;
	size_t i, j;

	for (i = 0; old && i < old->nfiles; i++) {
		char *rel = xstrdup(old->files[i].path), *slash;
		/* The directories the previous file was under are decided. */
		size_t done = prev ? shared_dir(prev, rel) : 0;

		for (slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
			if ((size_t)(slash - rel) <= done)
				continue;
			*slash = '\0';
			if (!needed_dir(p->m, rel))
				plan_add_dir(p, xstrdup(rel), 0755);
			*slash = '/';
		}
		free(rel);
		prev = old->files[i].path;
	}
	/* Only real directories (a symlink or a file there is not ours to
	 * rmdir), with the mode they have now, for the rollback. */
	for (i = j = 0; i < p->ndirs; i++) {
		char *abs = fs_join(p->target, p->dirs[i].path);

		if (lstat(abs, &st) == 0 && S_ISDIR(st.st_mode)) {
			p->dirs[i].mode = st.st_mode & 07777;
			p->dirs[j++] = p->dirs[i];
		} else {
			free(p->dirs[i].path);
		}
		free(abs);
	}
	p->ndirs = j;
	if (p->ndirs)
		qsort(p->dirs, p->ndirs, sizeof *p->dirs, cmp_dir);
	/* Children sort after their parents: decide them first. */
	for (i = p->ndirs; i-- > 0;) {
		check_dir(p, &p->dirs[i]);
		if (p->dirs[i].kept)
			add_note(p, xasprintf("%s/: kept, it %s", p->dirs[i].path, p->dirs[i].why));
	}
}

int plan_build(struct plan *p, const struct manifest *m,
	       const struct manifest *installed, const char *root,
	       const char *payload, const char *manifest_sha256, struct err *e)
{
	return plan_build_how(p, m, installed, root, payload, manifest_sha256, NULL, e);
}

int plan_build_how(struct plan *p, const struct manifest *m,
		   const struct manifest *installed, const char *root,
		   const char *payload, const char *manifest_sha256,
		   const struct plan_how *how, struct err *e)
{
	struct objects_here here = OBJECTS_HERE_INIT(payload, installed, NULL);
	uint64_t *sizes = NULL;
	struct stat st;
	size_t i;
	int rc = -1, tfd = -1;
	bool objects;

	memset(p, 0, sizeof *p);
	p->m = m;
	p->installed = installed;
	p->root = xstrdup(root && *root ? root : "/");
	p->target = fs_under_root(p->root, m->target);
	p->workdir = choose_workdir(p->target, m->app);
	p->payload = xstrdup(payload);
	p->manifest_sha256 = xstrdup(manifest_sha256 ? manifest_sha256 : "");
	p->action = installed ? "upgrade" : "install";
	p->how = how;
	p->sizes_unknown = how && how->no_sizes;
	if (stat(payload, &st) < 0) {
		err_sys(e, EXIT_DATAERR, "payload %s", payload);
		goto done;
	}
	objects = objects_is_source(payload);
	p->download_bytes = objects ? objects_bytes(payload) : (uint64_t)st.st_size;
	sizes = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *sizes);
	if (objects)
		p->sizes_unknown = false;     /* the signed index gives them */
	if (objects ? objects_sizes(payload, m, sizes, e) < 0
	    : !p->sizes_unknown && payload_sizes(payload, m, sizes, e) < 0)
		goto done;
	tfd = open(p->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	here.target = p->target;
	for (i = 0; i < m->nfiles; i++) {
		if (plan_file(p, tfd, i, &sizes[i], &here, e) < 0)
			goto done;
		p->disk_needed += sizes[i];
	}
	for (i = 0; i < m->nremove; i++)
		if (plan_remove(p, m->remove[i], e) < 0)
			goto done;
	for (i = 0; installed && i < installed->nfiles; i++)
		if (plan_dropped(p, i, e) < 0)
			goto done;
	plan_find_dirs(p);
	for (i = 0; i < p->nops; i++)
		p->nchanged += p->ops[i].kind != PLAN_UNCHANGED;
	p->npre = m->npre;
	p->pre = xcalloc(m->npre, sizeof *p->pre);
	for (i = 0; i < m->npre; i++) {
		p->pre[i].pre = &m->pre[i];
		p->pre[i].state = PRE_UNCHECKED;
	}
	rc = 0;
done:
	if (tfd >= 0)
		close(tfd);
	objects_here_release(&here);
	free(sizes);
	if (rc < 0)
		err_prefix(e, "plan %s %s: ", m->app, m->version);
	return rc;
}

void plan_release(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nops; i++) {
		free(p->ops[i].path);
		free(p->ops[i].src);
	}
	free(p->ops);
	for (i = 0; i < p->ndirs; i++) {
		free(p->dirs[i].path);
		free(p->dirs[i].why);
	}
	free(p->dirs);
	for (i = 0; i < p->nxdirs; i++)
		free(p->xdirs[i].path);
	free(p->xdirs);
	for (i = 0; i < p->nnotes; i++)
		free(p->notes[i]);
	free(p->notes);
	free(p->pre);
	free(p->root);
	free(p->target);
	free(p->workdir);
	free(p->payload);
	free(p->manifest_sha256);
	memset(p, 0, sizeof *p);
}

char **plan_command_env(const struct plan *p, const char *phase)
{
	char **env = xcalloc(8, sizeof *env);

	env[0] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env[1] = xasprintf("UPGR_APP=%s", p->m->app);
	env[2] = xasprintf("UPGR_VERSION=%s", p->m->version);
	env[3] = xasprintf("UPGR_FROM=%s", p->installed ? p->installed->version : "");
	env[4] = xasprintf("UPGR_ROOT=%s", p->root);
	env[5] = xasprintf("UPGR_TARGET=%s", p->target);
	env[6] = xasprintf("UPGR_PHASE=%s", phase);
	return env;
}

void plan_env_free(char **env)
{
	size_t i;

	for (i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static void check_disk_free(const struct plan *p, struct plan_pre *pp)
{
	char *path = pp->pre->path[0] == '/' ? fs_under_root(p->root, pp->pre->path)
					     : fs_join(p->target, pp->pre->path);
	struct statvfs sv;
	uint64_t free_mb;

	if (statvfs(path, &sv) < 0) {
		pp->state = PRE_FAIL;
		snprintf(pp->detail, sizeof pp->detail, "%s: %s", path, strerror(errno));
	} else {
		free_mb = (uint64_t)sv.f_bavail * sv.f_frsize / (1024 * 1024);
		pp->state = free_mb >= pp->pre->mb ? PRE_PASS : PRE_FAIL;
		snprintf(pp->detail, sizeof pp->detail, "%llu MB free in %s",
			 (unsigned long long)free_mb, path);
	}
	free(path);
}

static void check_installed(const struct plan *p, struct plan_pre *pp)
{
	if (!p->installed) {
		pp->state = PRE_FAIL;
		snprintf(pp->detail, sizeof pp->detail, "nothing is installed");
		return;
	}
	pp->state = vconstraint_match(&pp->pre->constraint, &p->installed->semver)
		? PRE_PASS : PRE_FAIL;
	snprintf(pp->detail, sizeof pp->detail, "installed %s", p->installed->version);
}

static void check_run(const struct plan *p, struct plan_pre *pp)
{
	struct exec_result r;
	struct err e;
	char **env = plan_command_env(p, "precondition");
	const char *cwd = access(p->target, F_OK) == 0 ? p->target : "/";

	exec_result_init(&r);
	if (exec_run(pp->pre->cmd.run, cwd, env, pp->pre->cmd.timeout, &r, &e) < 0) {
		pp->state = PRE_FAIL;
		pp->exit = -1;
		snprintf(pp->detail, sizeof pp->detail, "%.*s", (int)sizeof pp->detail - 1, e.msg);
	} else {
		pp->state = r.exit == 0 ? PRE_PASS : PRE_FAIL;
		pp->exit = r.exit;
		pp->ms = r.ms;
		snprintf(pp->detail, sizeof pp->detail, "%s %d",
			 r.timed_out ? "timed out, exit" : "exit", r.exit);
	}
	exec_result_release(&r);
	plan_env_free(env);
}

void plan_check_preconditions(struct plan *p, bool run_commands)
{
	size_t i;

	for (i = 0; i < p->npre; i++) {
		switch (p->pre[i].pre->kind) {
		case PRE_DISK_FREE:
			check_disk_free(p, &p->pre[i]);
			break;
		case PRE_INSTALLED:
			check_installed(p, &p->pre[i]);
			break;
		case PRE_RUN:
			if (run_commands)
				check_run(p, &p->pre[i]);
			break;
		}
	}
}
