/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics for data files (manifests, configs, channel files): every
 * problem found, each with its position, printed as FILE:LINE:COL: message
 * like a compiler's. */
#ifndef UPGR_DIAG_H
#define UPGR_DIAG_H

#include <stddef.h>
#include <stdio.h>
#include "err.h"

struct diag_item {
	int line, col;          /* 1-based; 0 when the problem has no position */
	char *msg;
};

struct diag {
	char *file;             /* the name printed before each item */
	struct diag_item *v;
	size_t n;
};

void diag_init(struct diag *d, const char *file);
void diag_release(struct diag *d);
void diag_add(struct diag *d, int line, int col, const char *fmt, ...) UPGR_PRINTF(4, 5);
/* FILE:LINE:COL: message, one per line, in the order found. */
void diag_print(const struct diag *d, FILE *to);
/* Fill e with the first item (and a count of the rest); returns -1. */
int diag_to_err(const struct diag *d, int code, struct err *e);

#endif
