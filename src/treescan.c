/* SPDX-License-Identifier: Apache-2.0 */
/* The installed tree as one pass of lstat saw it (treescan.h). */
#include "treescan.h"
#include "fsutil.h"
#include "state.h"
#include "worker.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct start {
	struct treescan *s;
	char *root, *state_dir, *app;
};

static void scan(struct treescan *s, const char *root, const char *state_dir, const char *app)
{
	const struct manifest *in = &s->installed;
	char *appdir = state_app_dir(state_dir, app);
	int tfd = -1, gone = ENOENT;
	size_t i;

	if (state_installed(state_dir, app, &s->installed, &s->have, &s->err) < 0)
		s->failed = true;
	if (!s->have)
		goto done;
	s->target = fs_under_root(root && *root ? root : "/", in->target);
	s->v = xcalloc(in->nfiles ? in->nfiles : 1, sizeof *s->v);
	/* Paths are looked up from the target: a few components each. */
	tfd = open(s->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	gone = errno;
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
done:
	free(appdir);
}

static void *run(void *arg)
{
	struct start *st = arg;

	scan(st->s, st->root, st->state_dir, st->app);
	free(st->root);
	free(st->state_dir);
	free(st->app);
	free(st);
	return NULL;
}

struct treescan *treescan_start(const char *root, const char *state_dir, const char *app)
{
	struct treescan *s = xcalloc(1, sizeof *s);
	struct start *st = xcalloc(1, sizeof *st);

	err_clear(&s->err);
	st->s = s;
	st->root = xstrdup(root ? root : "");
	st->state_dir = xstrdup(state_dir);
	st->app = xstrdup(app);
	s->running = worker_start(&s->thread, run, st);
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

	if (!s || s->running || !s->done || !s->have || !was || !installed || installed->nfiles != s->installed.nfiles ||
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
	if (s->have)
		manifest_release(&s->installed);
	free(s->v);
	free(s->target);
	free(s);
}
