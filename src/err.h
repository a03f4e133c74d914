/* SPDX-License-Identifier: Apache-2.0 */
/* Errors that carry context upward.
 *
 * A fallible function returns -1 and fills a struct err; each caller may
 * prefix what it was doing ("fetch ftp://...: "), and only the command at
 * the top prints it and turns err.code into the exit status. */
#ifndef UPGR_ERR_H
#define UPGR_ERR_H

#include <stdarg.h>

/* Exit codes (contract, DESIGN.md "Exit codes"). */
enum {
	EXIT_OK = 0,             /* success, already current, or dry-run */
	EXIT_ROLLED_BACK = 1,    /* upgrade failed and was rolled back */
	EXIT_USAGE = 2,          /* bad command line */
	EXIT_ROLLBACK_FAILED = 3,/* rollback failed too: a person must act */
	EXIT_DATAERR = 65,       /* invalid manifest, config or channel data */
	EXIT_UNAVAILABLE = 69,   /* no server answered */
	EXIT_SOFTWARE = 70,      /* internal error (I/O, out of memory) */
	EXIT_LOCKED = 75,        /* another upgr holds the lock */
	EXIT_TRUST = 77,         /* a signature, hash or trust check failed */
};

#define ERR_MSG_MAX 2048

struct err {
	int code;                /* one of the exit codes above */
	char msg[ERR_MSG_MAX];
};

#if defined(__GNUC__)
#define UPGR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define UPGR_PRINTF(a, b)
#endif

/* Set e to code and a formatted message; returns -1 so callers can write
 * `return err_set(e, EXIT_DATAERR, "...")`. e may be NULL. */
int err_set(struct err *e, int code, const char *fmt, ...) UPGR_PRINTF(3, 4);

/* Like err_set, with ": strerror(errno)" appended (errno read on entry). */
int err_sys(struct err *e, int code, const char *fmt, ...) UPGR_PRINTF(3, 4);

/* Prepend context to the message already in e, keeping its code: returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) UPGR_PRINTF(2, 3);

/* Reset e to no error. */
void err_clear(struct err *e);

#endif
