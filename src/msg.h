/* SPDX-License-Identifier: Apache-2.0 */
/* What a library call has to say (a result line, a warning), returned to
 * the command that called it rather than printed: `upgr apply` prints
 * them (cmd_print_msgs), the agent hands each line to its say callback. */
#ifndef UPGR_MSG_H
#define UPGR_MSG_H

#include <stddef.h>
#include "err.h"

enum msg_kind {
	MSG_OUT,       /* a result line, for stdout */
	MSG_WARNING,   /* for stderr, as "upgr: warning: TEXT" */
	MSG_ERROR,     /* for stderr, as "upgr: TEXT" */
	MSG_TEXT,      /* text for stdout as it is (lines with their newlines: a plan) */
};

struct msg {
	enum msg_kind kind;
	char *text;              /* without a final newline, except MSG_TEXT */
};

struct msgs {
	struct msg *v;
	size_t n;
};

#define MSGS_INIT { NULL, 0 }

struct plan;
struct txn_result;

/* Append a message of kind to m. */
void msgs_add(struct msgs *m, enum msg_kind kind, const char *fmt, ...) UPGR_PRINTF(3, 4);
void msgs_release(struct msgs *m);

/* The error of a transaction of plan p that ended with exit code rc (not
 * 0) and result r, in words a person can act on, naming what runs now:
 *   "hello 3.0.0: rolled back: health 'bin/x status' exited 1; 2.0.0 running"
 *   "hello 3.0.0: not applied: precondition 1 failed (...); nothing was
 *    changed; 2.0.0 running"   (it failed before the stop)
 *   "hello 3.0.0: rollback failed: ...; a person must act"  (rc 3) */
void msg_txn_failed(struct err *e, int rc, const struct plan *p, const struct txn_result *r);

/* One MSG_OUT line per locally edited config file the plan kept:
 * "hello: config kept: etc/x.conf (new version at etc/x.conf.upgr-new)". */
void msgs_config_kept(struct msgs *m, const struct plan *p);

#endif
