/* SPDX-License-Identifier: Apache-2.0 */
/* Messages returned to the caller (msg.h). */
#include "msg.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void msgs_add(struct msgs *m, enum msg_kind kind, const char *fmt, ...)
{
	va_list ap;
	size_t len;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	len = n < 0 ? 0 : (size_t)n;
	text = xmalloc(len + 1);
	text[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(text, len + 1, fmt, ap);
	va_end(ap);
	m->v = xreallocarray(m->v, m->n + 1, sizeof *m->v);
	m->v[m->n].kind = kind;
	m->v[m->n++].text = text;
}

void msgs_release(struct msgs *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}
