/* SPDX-License-Identifier: Apache-2.0 */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void vset(struct err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int err_sys(struct err *e, int code, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	len = strlen(e->msg);
	snprintf(e->msg + len, sizeof e->msg - len, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char head[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	size_t hl = strlen(head);

	memcpy(old, e->msg, sizeof old);
	if (hl >= sizeof e->msg)
		hl = sizeof e->msg - 1;
	memcpy(e->msg, head, hl);
	memcpy(e->msg + hl, old, sizeof e->msg - hl - 1);
	e->msg[sizeof e->msg - 1] = '\0';
	return -1;
}

void err_clear(struct err *e)
{
	e->code = EXIT_OK;
	e->msg[0] = '\0';
}
