/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a payload's table of contents without extracting it, for the
 * plan's new sizes (the dry-run must not write anything). */
#include "payload.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static _Thread_local const struct manifest *sort_m;

static int by_path(const void *a, const void *b)
{
	return strcmp(sort_m->files[*(const size_t *)a].path,
		      sort_m->files[*(const size_t *)b].path);
}

static int key_vs_path(const void *key, const void *elt)
{
	return strcmp(key, sort_m->files[*(const size_t *)elt].path);
}

int payload_sizes(const char *path, const struct manifest *m, uint64_t *sizes,
		  struct err *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	size_t i, *order = xcalloc(m->nfiles, sizeof *order), *hit;
	int r, rc = -1;

	memset(sizes, 0, m->nfiles * sizeof *sizes);
	for (i = 0; i < m->nfiles; i++)
		order[i] = i;
	sort_m = m;
	qsort(order, m->nfiles, sizeof *order, by_path);
	/* What payload_extract reads and nothing more: filter_all would hand
	 * a payload in lrzip, lzop, grzip ... to an external program. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_none(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		err_set(e, EXIT_TRUST, "payload %s: %s", path, archive_error_string(a));
		goto done;
	}
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);

		if (name && !strncmp(name, "./", 2))
			name += 2;
		hit = name ? bsearch(name, order, m->nfiles, sizeof *order, key_vs_path) : NULL;
		if (hit)
			sizes[*hit] = (uint64_t)archive_entry_size(ent);
	}
	if (r != ARCHIVE_EOF) {
		err_set(e, EXIT_TRUST, "payload %s: %s", path, archive_error_string(a));
		goto done;
	}
	rc = 0;
done:
	archive_read_free(a);
	free(order);
	return rc;
}
