/* SPDX-License-Identifier: Apache-2.0 */
/* The installed tree as one pass of lstat saw it (treescan.h). */
#include "treescan.h"
#include "fsutil.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct start {
	struct treescan *s;
	char *appdir;
};

static void scan(struct treescan *s, const char *appdir)
{
	const struct manifest *in = &s->installed;
	/* Paths are looked up from the target: a few components each. */
	int tfd = open(s->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC), gone = errno;
	size_t i;

	quickcheck_load(appdir, &s->quick);
	for (i = 0; i < in->nfiles; i++) {
		const struct mfile *f = &in->files[i];
		struct seen *v = &s->v[i];
		int rc = tfd >= 0 ? fstatat(tfd, f->path, &v->st, AT_SYMLINK_NOFOLLOW) : -1;
		int why = tfd >= 0 ? errno : gone;

		if (rc == 0)
			v->kind = f->has_sha256 && quickcheck_same(&s->quick, f->path, f->sha256, &v->st)
				  ? SEEN_VOUCHED : SEEN_STAT;
		else
			v->kind = why == ENOENT || why == ENOTDIR ? SEEN_ABSENT : SEEN_ERROR;
	}
	if (tfd >= 0)
		close(tfd);
	s->done = true;
}

static void *run(void *arg)
{
	struct start *st = arg;

	scan(st->s, st->appdir);
	free(st->appdir);
	free(st);
	return NULL;
}

struct treescan *treescan_start(const char *root, struct manifest *installed,
				const char *appdir)
{
	struct treescan *s = xcalloc(1, sizeof *s);
	struct start *st = xcalloc(1, sizeof *st);
	sigset_t all, old;

	s->installed = *installed;
	memset(installed, 0, sizeof *installed);
	s->target = fs_under_root(root && *root ? root : "/", s->installed.target);
	s->v = xcalloc(s->installed.nfiles ? s->installed.nfiles : 1, sizeof *s->v);
	st->s = s;
	st->appdir = xstrdup(appdir);
	/* Signals stay the main thread's: it is the one that handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->running = pthread_create(&s->thread, NULL, run, st) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->running)
		run(st);
	return s;
}

void treescan_wait(struct treescan *s)
{
	if (s && s->running) {
		pthread_join(s->thread, NULL);
		s->running = false;
	}
}

const struct seen *treescan_find(const struct treescan *s, const char *target,
				 const struct manifest *installed, const struct mfile *was)
{
	size_t i;
	const struct mfile *f;

	if (!s || s->running || !s->done || !was || !installed || installed->nfiles != s->installed.nfiles ||
	    was < installed->files || was >= installed->files + installed->nfiles ||
	    strcmp(target, s->target))
		return NULL;
	i = (size_t)(was - installed->files);
	f = &s->installed.files[i];
	if (strcmp(f->path, was->path) || f->has_sha256 != was->has_sha256 ||
	    memcmp(f->sha256, was->sha256, sizeof f->sha256) || s->v[i].kind == SEEN_ERROR)
		return NULL;
	return &s->v[i];
}

void treescan_free(struct treescan *s)
{
	if (!s)
		return;
	treescan_wait(s);
	quickcheck_release(&s->quick);
	manifest_release(&s->installed);
	free(s->v);
	free(s->target);
	free(s);
}
