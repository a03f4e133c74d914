/* SPDX-License-Identifier: Apache-2.0 */
/* A unified diff of two texts (diff -u's format, 3 lines of context), for
 * the dry run's --diff. Myers' O((N+M)D) algorithm on lines, for texts up
 * to DIFF_MAX_BYTES each and at most DIFF_MAX_EDITS changed lines. */
#ifndef UPGR_DIFF_H
#define UPGR_DIFF_H

#include <stddef.h>
#include "buf.h"

#define DIFF_MAX_BYTES (1u << 20)
#define DIFF_MAX_EDITS 4000

enum diff_result {
	DIFF_SAME,        /* nothing appended */
	DIFF_TEXT,        /* the ---/+++ header and the hunks appended */
	DIFF_BINARY,      /* "Binary files A and B differ\n" appended */
	DIFF_TOO_LARGE,   /* "files A and B differ (too large to show)\n" appended */
};

/* Append to out the differences from a (named aname) to b (bname). A text
 * holding a NUL byte is binary. */
enum diff_result diff_unified(const char *a, size_t alen, const char *b, size_t blen,
			      const char *aname, const char *bname, struct buf *out);

#endif
