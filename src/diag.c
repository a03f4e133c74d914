/* SPDX-License-Identifier: Apache-2.0 */
#include "diag.h"
#include "buf.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(struct diag *d, const char *file)
{
	d->file = xstrdup(file);
	d->v = NULL;
	d->n = 0;
}

void diag_release(struct diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	free(d->file);
	d->v = NULL;
	d->file = NULL;
	d->n = 0;
}

void diag_add(struct diag *d, int line, int col, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_grow(&b, n > 0 ? (size_t)n : 0);
	va_start(ap, fmt);
	vsnprintf(b.data, b.cap, fmt, ap);
	va_end(ap);
	d->v = xreallocarray(d->v, d->n + 1, sizeof *d->v);
	d->v[d->n].line = line;
	d->v[d->n].col = col;
	d->v[d->n].msg = b.data;
	d->n++;
}

void diag_print(const struct diag *d, FILE *to)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->v[i].line > 0)
			fprintf(to, "%s:%d:%d: %s\n", d->file, d->v[i].line,
				d->v[i].col, d->v[i].msg);
		else
			fprintf(to, "%s: %s\n", d->file, d->v[i].msg);
	}
}

int diag_to_err(const struct diag *d, int code, struct err *e)
{
	if (!d->n)
		return err_set(e, code, "%s: invalid", d->file);
	if (d->v[0].line > 0)
		err_set(e, code, "%s:%d:%d: %s", d->file, d->v[0].line,
			d->v[0].col, d->v[0].msg);
	else
		err_set(e, code, "%s: %s", d->file, d->v[0].msg);
	if (d->n > 1) {
		size_t len = strlen(e->msg);

		snprintf(e->msg + len, sizeof e->msg - len, " (and %zu more)", d->n - 1);
	}
	return -1;
}
