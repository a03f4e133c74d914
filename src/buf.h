/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer, always NUL-terminated so text can be read as a
 * C string. Allocation failure aborts (see xalloc.h): upgr treats out of
 * memory as fatal, never as a half-done state. */
#ifndef UPGR_BUF_H
#define UPGR_BUF_H

#include <stddef.h>
#include "err.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);                 /* len = 0, keeps memory */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) UPGR_PRINTF(2, 3);
/* Append s as a YAML/JSON double-quoted string (with the quotes). */
void buf_add_quoted(struct buf *b, const char *s);
/* Hand the memory to the caller; b is left empty. */
char *buf_detach(struct buf *b, size_t *len);

/* Format into the fixed array dst of size bytes (size > 0), cut to fit:
 * for a message copied into a bounded field, where a cut is wanted. */
void buf_fixedf(char *dst, size_t size, const char *fmt, ...) UPGR_PRINTF(3, 4);

#endif
