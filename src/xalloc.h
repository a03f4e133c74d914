/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation that never returns NULL: out of memory aborts with a message. */
#ifndef UPGR_XALLOC_H
#define UPGR_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 1, 2)))
#endif
	;
/* Overwrite memory in a way the compiler may not optimise away. */
void secure_wipe(void *p, size_t n);

#endif
