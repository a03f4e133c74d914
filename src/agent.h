/* SPDX-License-Identifier: Apache-2.0 */
/* The cron agent: for each configured app, poll the servers, apply a newer
 * release through the transaction, record refusals once per cause class
 * and server, then report to the repository. cmd_run.c is its command.
 *
 * The exit code is the worst across the apps, in this order (most urgent
 * first):
 *
 *   3  a rollback failed: a person must act on this host
 *   77 a trust check failed: someone may be attacking the updates
 *   65 invalid signed data or config: the release author must act
 *   1  an upgrade failed and was rolled back: the old version runs
 *   70 an internal error (I/O)
 *   69 no server answered: transient, the next tick retries
 *   0  upgraded, current, waiting (not_before, rollout, window, approvals
 *      under a trust root), dry-run
 *
 * A release that failed (rolled back) is not tried again every tick,
 * stopping the service each minute: the agent waits for a newer channel
 * file (repo_mark_failed).
 *
 * A refusal is recorded (audit log, status, report) once per class
 * (repo_cause: signature, hash, replay, ...) and server until the app
 * polls clean or an upgrade succeeds (state_refused_*); the same on later
 * ticks exits 77 again. Under cron (o->once) a poll problem that persists
 * is said when it starts, changes or clears, not every tick (alert.h). A
 * held app (state.h, app_hold) is not upgraded. Every run (not a dry run)
 * ends with one syslog line (runlog.h) and the metrics file (metrics.h). A server that lied while
 * another served good files is recorded the same way, and the run goes on
 * with the good files. A report that cannot be uploaded is said but does
 * not change the exit code: it waits in STATE/report-pending. */
#ifndef UPGR_AGENT_H
#define UPGR_AGENT_H

#include <stdbool.h>
#include "config.h"

/* What the agent says; the command decides where it goes. */
enum agent_say {
	AGENT_OUT,      /* a result line: "app: upgraded 1.0 -> 1.1" */
	AGENT_ERROR,    /* an error, one line (no newline inside) */
	AGENT_WARNING,  /* a warning, one line */
	AGENT_DOC,      /* dry run --json: the run's JSON document, to print as it is */
};

struct agent_opts {
	bool dry_run;       /* say what would be done; change nothing */
	bool json;          /* dry run: one JSON document (AGENT_DOC) instead of the
			     * AGENT_OUT lines: {"host", "apps": [{app, state,
			     * installed, available, why, error, plan}]}, plan as
			     * `upgr apply --dry-run --json` prints it, or null */
	bool diff;          /* dry run: a diff of each changed file after the plan */
	bool progress;      /* show download progress (stderr is a tty) */
	bool once;          /* under cron: say a persisting problem once (alert.h) */
	void (*say)(void *ctx, enum agent_say kind, const char *line);
	void *ctx;
};

/* Run one agent tick over every app in c. The caller has loaded c and
 * holds the state lock, with interrupted transactions recovered (unless
 * dry-run). Returns the worst exit code across the apps (above); every
 * error has been said through o->say. */
int agent_run(const struct config *c, const struct agent_opts *o);

/* The more urgent of two exit codes, in the order above. */
int agent_worse(int a, int b);

#endif
