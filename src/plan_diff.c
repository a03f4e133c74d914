/* SPDX-License-Identifier: Apache-2.0 */
/* The dry run's --diff: for every file the plan changes, a unified diff
 * of the bytes on this host against the release's (config files first,
 * as a reviewer reads them), like `ansible --check --diff`. The new
 * bytes come from the verified payload, extracted (only the files that
 * change) into a private temporary directory that is removed after. */
#include "plan.h"
#include "diff.h"
#include "fsutil.h"
#include "objects.h"
#include "payload.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* At most DIFF_MAX_BYTES + 1 bytes of path (a regular file, never
 * through a symlink): enough for diff_unified to see it is too large. */
static int read_capped(const char *path, struct buf *out, struct err *e)
{
	char chunk[65536];
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	buf_reset(out);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return err_set(e, EXIT_DATAERR, "%s: not a regular file", path);
	}
	while (out->len <= DIFF_MAX_BYTES && (n = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(out, chunk, (size_t)n);
	close(fd);
	if (n < 0)
		return err_sys(e, EXIT_SOFTWARE, "read %s", path);
	buf_adds(out, "");          /* a terminated, possibly empty, buffer */
	return 0;
}

/* The diff of one op: host (target/path) against new (dir/src). */
static void diff_op(const struct plan *p, const struct plan_op *op, const char *dir,
		    struct buf *out)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *host = op->kind == PLAN_CONFIG_KEEP ? op->src : op->path;
	char *an = xasprintf("a/%s", host), *bn = xasprintf("b/%s", op->path);
	char *apath = fs_join(p->target, host);
	char *bpath = op->src ? fs_join(dir, op->src) : NULL;
	struct err e;

	err_clear(&e);
	buf_adds(&a, "");
	buf_adds(&b, "");
	/* A config kept here is shown against the edited file it sits beside. */
	bool read_host = op->kind == PLAN_CONFIG_KEEP || (op->kind != PLAN_ADD && op->old_exists);

	if (read_host && read_capped(apath, &a, &e) < 0)
		buf_addf(out, "%s: not shown (%s)\n", host, e.msg);
	else if (bpath && read_capped(bpath, &b, &e) < 0)
		buf_addf(out, "%s: not shown (%s)\n", op->path, e.msg);
	else
		diff_unified(a.data, a.len, b.data, b.len,
			     op->kind == PLAN_ADD ? "/dev/null" : an,
			     op->kind == PLAN_REMOVE ? "/dev/null" : bn, out);
	buf_release(&a);
	buf_release(&b);
	free(an);
	free(bn);
	free(apath);
	free(bpath);
}

static bool is_config(const struct plan_op *op)
{
	return op->file && op->file->config;
}

int plan_diff(const struct plan *p, FILE *to, struct err *e)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/upgr-diff-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	bool *want = xcalloc(p->m->nfiles ? p->m->nfiles : 1, sizeof *want);
	struct buf out = BUF_INIT;
	struct err e2;
	int pass, rc = -1;
	size_t i;

	for (i = 0; i < p->nops; i++)
		if (p->ops[i].file && p->ops[i].kind != PLAN_UNCHANGED)
			want[p->ops[i].file - p->m->files] = true;
	if (!mkdtemp(dir)) {
		err_sys(e, EXIT_SOFTWARE, "mkdtemp %s", dir);
		goto done;
	}
	if (objects_extract_some(p->payload, dir, p->m, p->installed, p->target, want,
				 p->disk_needed, e) < 0)
		goto clean;
	fputs("diff (configs first):\n", to);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < p->nops; i++)
			if (p->ops[i].kind != PLAN_UNCHANGED && is_config(&p->ops[i]) == !pass)
				diff_op(p, &p->ops[i], dir, &out);
	fwrite(out.data ? out.data : "", 1, out.len, to);
	rc = 0;
clean:
	if (fs_remove_tree(dir, &e2) < 0 && rc == 0) {
		*e = e2;
		rc = -1;
	}
done:
	buf_release(&out);
	free(want);
	free(dir);
	return rc;
}
