/* SPDX-License-Identifier: Apache-2.0 */
/* `upgr apply DIR` from a repository on this file system (apply_objects.h). */
#include "apply_objects.h"
#include "fsutil.h"
#include "objects.h"
#include "repo.h"
#include "state.h"
#include "treescan.h"
#include "xalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* STATE/cache/APP/.apply */
static char *work_dir(const struct config *c, const char *app)
{
	return xasprintf("%s/" STATE_CACHE "/%s/" APPLY_OBJECTS_DIR, c->state_dir, app);
}

/* REPO/apps/APP for DIR, REPO/apps/APP/releases/VERSION: DIR without its
 * last two names, else DIR/../.. (allocated). */
static char *app_dir(const char *dir)
{
	size_t n = strlen(dir), k;

	for (k = 0; k < 2; k++) {
		while (n > 1 && dir[n - 1] == '/')
			n--;
		while (n > 0 && dir[n - 1] != '/')
			n--;
	}
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n ? xasprintf("%.*s", (int)n, dir) : xasprintf("%s/../..", dir);
}

char *apply_objects_app_of(const char *dir)
{
	char *appdir = app_dir(dir), *slash = strrchr(appdir, '/'), *app = NULL;
	size_t n = strlen(appdir);

	if (slash && n - (size_t)(slash - appdir) > 1 &&
	    manifest_app_name_ok(slash + 1) && strlen(dir) > n + 10 &&
	    !strncmp(dir + n, "/releases/", 10))
		app = xstrdup(slash + 1);
	free(appdir);
	return app;
}

/* DIR/objects.yaml (from NULL), or the change index DIR/delta/FROM.yaml
 * (allocated). */
static char *index_path(const struct apply_objects *a, const char *from)
{
	return from ? xasprintf("%s/" OBJECTS_DELTA_DIR "/%s.yaml", a->dir, from)
		    : fs_join(a->dir, OBJECTS_INDEX_NAME);
}

/* DIR's index (from NULL) or change index from release `from`, into ix
 * with its bytes in data: signed by a trusted key for this app and file,
 * and this release's (objects_index_check). Messages name the file as
 * APPDIR: releases/VERSION/... */
static int load_index(const struct apply_objects *a, const char *appdir, const char *from,
		      struct objects_index *ix, struct buf *data, struct err *e)
{
	char *rel = from ? objects_delta_rel(a->m->version, from) : objects_index_rel(a->m->version);
	char *path = index_path(a, from), *sigpath = xasprintf("%s.minisig", path);
	struct repo_trust t = { a->keys, a->nkeys };
	struct buf sig = BUF_INIT;
	int rc = -1;

	memset(ix, 0, sizeof *ix);
	if (fs_read_regular(path, OBJECTS_INDEX_MAX, data, e) < 0 ||
	    fs_read_regular(sigpath, REPO_SIG_MAX, &sig, e) < 0)
		goto done;
	if (repo_verify(&t, a->m->app, rel, data, &sig, e) < 0) {
		err_prefix(e, "%s: ", appdir);
		goto done;
	}
	if (objects_index_parse(data->data, data->len, ix, e) < 0 ||
	    objects_index_check(ix, a->m->app, a->m->version, a->manifest_sha256, from, a->m,
				e) < 0) {
		objects_index_release(ix);
		err_prefix(e, "%s: %s: ", appdir, rel);
		goto done;
	}
	rc = 0;
done:
	buf_release(&sig);
	free(rel);
	free(path);
	free(sigpath);
	return rc;
}

/* Whether DIR has the index named by from (index_path). */
static bool has_index(const struct apply_objects *a, const char *from)
{
	char *path = index_path(a, from);
	bool yes = access(path, F_OK) == 0;

	free(path);
	return yes;
}

/* The index to go by and what the host lacks of the release by it: the
 * change index from the installed version when there is one and it
 * lists all the host lacks, else the whole index. 1, 0 when neither
 * index is there, -1 with e set when something did not check. */
static int choose(const struct apply_objects *a, const char *appdir, const char *objdir,
		  struct objects_index *ix,
		  struct buf *data, const struct objects_entry ***need, size_t *nneed,
		  uint64_t *bytes, struct err *e)
{
	const char *from = a->seen->installed.version;

	if (has_index(a, from)) {
		if (load_index(a, appdir, from, ix, data, e) < 0)
			return -1;
		if (objects_missing(ix, a->m, a->seen, objdir, need, nneed, bytes, e) == 0)
			return 1;
		objects_index_release(ix);   /* the host lacks what it does not list */
		free(*need);
		*need = NULL;
	}
	if (!has_index(a, NULL))
		return 0;
	if (load_index(a, appdir, NULL, ix, data, e) < 0 ||
	    objects_missing(ix, a->m, a->seen, objdir, need, nneed, bytes, e) < 0)
		return -1;
	return 1;
}

int apply_objects_prepare(const struct apply_objects *a, char **src, struct buf *warn)
{
	char *appdir = app_dir(a->dir), *store = fs_join(appdir, OBJECTS_DIR_NAME);
	char *target = fs_under_root(a->c->root, a->m->target);
	char *work = work_dir(a->c, a->m->app), *objdir = fs_join(work, OBJECTS_DIR_NAME);
	char *ipath = NULL;
	const struct objects_entry **need = NULL;
	struct objects_index ix;
	struct buf data = BUF_INIT;
	size_t nneed = 0, i;
	uint64_t bytes = 0;
	struct err e;
	int rc = 0;

	*src = NULL;
	memset(&ix, 0, sizeof ix);
	err_clear(&e);
	apply_objects_clean(a->c, a->m->app);   /* what a crash left */
	/* Objects serve an upgrade whose installed tree is where the release goes. */
	if (!a->seen || !a->seen->have || strcmp(a->seen->target, target) ||
	    !objects_is_source(store))
		goto done;
	if ((rc = choose(a, appdir, objdir, &ix, &data, &need, &nneed, &bytes, &e)) <= 0)
		goto done;
	rc = 0;
	if (!objects_cheaper(bytes, a->m->payload_size))
		goto done;
	ipath = fs_join(work, ix.from ? OBJECTS_DELTA_NAME : OBJECTS_INDEX_NAME);
	if (fs_mkdir_p(objdir, 0700, &e) < 0 ||
	    fs_write_new(ipath, data.data, data.len, 0600, &e) < 0) {
		rc = -1;
		goto done;
	}
	for (i = 0; i < nneed; i++)
		if (objects_take(appdir, objdir, need[i], &e) < 0) {
			rc = -1;
			goto done;
		}
	*src = objdir;
	objdir = NULL;
	rc = 1;
done:
	if (rc < 0) {
		buf_addf(warn, "%s; the payload is read instead", e.msg);
		apply_objects_clean(a->c, a->m->app);
		rc = 0;
	}
	objects_index_release(&ix);
	free(need);
	buf_release(&data);
	free(appdir);
	free(store);
	free(target);
	free(work);
	free(objdir);
	free(ipath);
	return rc;
}

void apply_objects_clean(const struct config *c, const char *app)
{
	char *work = work_dir(c, app);
	struct err e;

	if (access(work, F_OK) == 0)
		fs_remove_tree(work, &e);
	free(work);
}
