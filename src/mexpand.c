/* SPDX-License-Identifier: Apache-2.0 */
/* manifest_expand (manifest.h): the directories and globs of an authored
 * manifest's files:, expanded from the build directory into the explicit
 * list that upgr publish hashes and signs. */
#include "manifest.h"
#include "fsutil.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Does path match pattern, component by component? "**" matches any
 * number of components (none included); a pattern ending in '/' is
 * everything under that directory. */
static bool match(const char *pat, const char *path)
{
	const char *ps = strchr(pat, '/'), *qs;
	size_t plen = ps ? (size_t)(ps - pat) : strlen(pat);
	char seg[256], name[256];

	if (!*pat)
		return !*path;
	if (plen == 2 && !strncmp(pat, "**", 2)) {
		const char *rest = ps ? ps + 1 : "";

		for (;;) {
			if (match(rest, path) || (!*rest && *path))
				return true;
			if (!(qs = strchr(path, '/')))
				return false;
			path = qs + 1;
		}
	}
	if (!*path)
		return false;
	qs = strchr(path, '/');
	if (plen >= sizeof seg || (qs ? (size_t)(qs - path) : strlen(path)) >= sizeof name)
		return false;
	memcpy(seg, pat, plen);
	seg[plen] = '\0';
	snprintf(name, sizeof name, "%.*s", (int)(qs ? (size_t)(qs - path) : strlen(path)), path);
	if (fnmatch(seg, name, FNM_PERIOD) != 0)
		return false;
	if (!ps)
		return !qs;
	if (!ps[1])                 /* "dir/": all under it */
		return qs != NULL;
	return qs && match(ps + 1, qs + 1);
}

struct found {
	char **v;
	size_t n;
};

/* Every regular file under from/rel, relative to from (symlinks and
 * special files are not followed: payloads hold regular files). */
static int walk(const char *from, const char *rel, int depth, struct found *out,
		struct err *e)
{
	char *dir = rel ? fs_join(from, rel) : xstrdup(from);
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		rc = err_sys(e, EXIT_DATAERR, "open %s", dir);
		free(dir);
		return rc;
	}
	while (rc == 0 && (de = readdir(d))) {
		char *sub, *abs;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = rel ? fs_join(rel, de->d_name) : xstrdup(de->d_name);
		abs = fs_join(from, sub);
		if (lstat(abs, &st) == 0 && S_ISDIR(st.st_mode) && depth < 64) {
			rc = walk(from, sub, depth + 1, out, e);
			free(sub);
		} else if (S_ISREG(st.st_mode)) {
			out->v = xreallocarray(out->v, out->n + 1, sizeof *out->v);
			out->v[out->n++] = sub;
		} else {
			free(sub);
		}
		free(abs);
	}
	closedir(d);
	free(dir);
	return rc;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct mfile *)a)->path, ((const struct mfile *)b)->path);
}

static bool listed(const struct mfile *v, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!v[i].pattern && !strcmp(v[i].path, path))
			return true;
	return false;
}

/* Append, for pattern entry f, every found file it matches. */
static int expand_one(const struct manifest *m, const struct mfile *f, const char *dir,
		      const struct found *all, struct mfile **out, size_t *nout,
		      struct err *e)
{
	size_t i, hits = 0;
	struct stat st;

	for (i = 0; i < all->n; i++) {
		struct mfile *g;
		char *abs;

		if (!match(f->path, all->v[i]) || listed(m->files, m->nfiles, all->v[i]) ||
		    listed(*out, *nout, all->v[i]))
			continue;
		hits++;
		*out = xreallocarray(*out, *nout + 1, sizeof **out);
		g = &(*out)[(*nout)++];
		*g = *f;
		g->pattern = false;
		g->has_mode = true;
		g->path = xstrdup(all->v[i]);
		g->owner = f->owner ? xstrdup(f->owner) : NULL;
		g->group = f->group ? xstrdup(f->group) : NULL;
		abs = fs_join(dir, all->v[i]);
		if (!f->has_mode)
			g->mode = stat(abs, &st) == 0 ? st.st_mode & 0777 : 0644;
		free(abs);
	}
	if (!hits)
		return err_set(e, EXIT_DATAERR, "files: \"%s\" (line %d) matches no file in %s",
			       f->path, f->line, dir);
	return 0;
}

/* The expanded list, checked as manifest_parse checks any list. */
static int recheck(const struct manifest *m, struct err *e)
{
	struct buf b = BUF_INIT;
	struct manifest again;
	struct diag d;
	int rc;

	manifest_emit(m, &b);
	diag_init(&d, "the expanded manifest");
	rc = manifest_parse(b.data, b.len, &again, &d);
	if (rc < 0)
		diag_to_err(&d, EXIT_DATAERR, e);
	else
		manifest_release(&again);
	diag_release(&d);
	buf_release(&b);
	return rc;
}

int manifest_expand(struct manifest *m, const char *dir, struct err *e)
{
	struct found all = { 0 };
	struct mfile *out = NULL;
	size_t i, nout = 0, npat = 0;
	int rc = -1;

	for (i = 0; i < m->nfiles; i++)
		npat += m->files[i].pattern;
	if (!npat)
		return 0;
	if (walk(dir, NULL, 0, &all, e) < 0)
		goto done;
	for (i = 0; i < m->nfiles; i++) {
		if (!m->files[i].pattern) {
			out = xreallocarray(out, nout + 1, sizeof *out);
			out[nout] = m->files[i];
			out[nout++].path = xstrdup(m->files[i].path);
		} else if (expand_one(m, &m->files[i], dir, &all, &out, &nout, e) < 0) {
			goto done;
		}
	}
	qsort(out, nout, sizeof *out, cmp_file);
	for (i = 0; i < m->nfiles; i++) {
		free(m->files[i].path);
		if (m->files[i].pattern) {   /* the others moved to out */
			free(m->files[i].owner);
			free(m->files[i].group);
		}
	}
	free(m->files);
	m->files = out;
	m->nfiles = nout;
	out = NULL;
	nout = 0;
	manifest_reindex(m);
	rc = recheck(m, e);
done:
	for (i = 0; i < nout; i++)
		free(out[i].path);
	free(out);
	for (i = 0; i < all.n; i++)
		free(all.v[i]);
	free(all.v);
	return rc;
}
