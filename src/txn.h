/* SPDX-License-Identifier: Apache-2.0 */
/* The transaction: applying a plan so that the host ends with the whole
 * new release or exactly the old one, whatever happens. See the top of
 * txn.c for the states and invariants. */
#ifndef UPGR_TXN_H
#define UPGR_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "plan.h"

/* The phase a journal records (STATE/apps/APP/journal), in the order a
 * transaction reaches them; see the top of txn.c for who writes each.
 * TXN_SWAPPING is never written: it is only read, from journals of
 * earlier versions (which did not stop the new version before it), and
 * recovered as TXN_STARTED without the stop. */
enum txn_phase {
	TXN_PREPARED,
	TXN_SWAPPING,
	TXN_STARTED,
	TXN_COMMITTED,
	TXN_DONE,
};

/* A transaction's (or a recovery's) result, as the audit log and the
 * status name it (txn_outcome_name). */
enum txn_outcome {
	TXN_SUCCESS,
	TXN_ROLLED_BACK,
	TXN_FAILED,
	TXN_REFUSED,
};

/* The journal's word for ph ("prepared", ...). */
const char *txn_phase_name(enum txn_phase ph);
/* The phase named name into *ph; false for a word that names none. */
bool txn_phase_parse(const char *name, enum txn_phase *ph);
/* "success", "rolled-back", "failed", "refused". */
const char *txn_outcome_name(enum txn_outcome o);

struct txn_step {
	char phase[16];          /* precondition, stop, start, health, rollback */
	char *run;
	int exit;
	long ms;
	char *output;            /* first lines of a failing command's output */
};

struct txn_result {
	char result[16];         /* txn_outcome_name(): success, rolled-back, failed, refused */
	long duration_ms;
	long downtime_ms;        /* stop started -> start finished */
	struct txn_step *steps;
	size_t nsteps;
	char error[1024];
	bool journal_done;       /* the journal says "done": txn_finish may drop it */
};

void txn_result_init(struct txn_result *r);
void txn_result_release(struct txn_result *r);
/* Set r->result to o's name. */
void txn_result_set(struct txn_result *r, enum txn_outcome o);

/* Run plan p. manifest holds the signed manifest's bytes, which become the
 * installed manifest on success. stage_from is NULL to extract the payload,
 * or the name of a directory in the work directory whose files are
 * hard-linked into the staging area, each checked against p->m's sha256
 * and mode (`upgr rollback` stages from "backup"). The work directory is
 * opened, checked (root's or ours, 0700, not a symlink) and held for the
 * whole transaction. Returns an exit code: 0 success; 1 failed before the
 * stop or rolled back (old version runs); 3 rollback failed too (r->error
 * says the host's state); 77 a hash check failed while staging, or the
 * work directory is not ours (nothing was run). r is filled in every case. */
int txn_run(struct plan *p, const char *state_dir, const char *manifest,
	    size_t manifest_len, const char *stage_from, struct txn_result *r);

/* Drop app's journal once the transaction's result is recorded (audit
 * log and status): until then a crash leaves it for txn_recover, which
 * records the result instead. */
int txn_finish(const char *state_dir, const char *app, struct err *e);

/* Apps under state_dir with an interrupted transaction (a journal). */
int txn_pending(const char *state_dir, char ***apps, size_t *n, struct err *e);

/* Finish app's interrupted transaction: roll it back if it had not
 * committed (restore files, rollback steps, start the old version, health),
 * or complete the commit. r->result says which; returns an exit code.
 * Refused first, touching nothing and keeping the journal (r->result
 * "refused"): a parent of the target that fails fs_check_parents (65), a
 * work directory that is not ours (77), a backup about to be restored whose
 * sha256 or mode differ from the installed release's signed manifest (77). */
int txn_recover(const char *state_dir, const char *app, struct txn_result *r,
		char from[64], char to[64]);

/* Plan returning app to the version before the installed one, from the
 * backup kept by the last transaction: *stage_from is set to the name to
 * pass to txn_run ("backup"). *installed and *previous are loaded here and
 * must outlive p (release them after plan_release). */
int txn_plan_rollback(const char *state_dir, const char *app, const char *root,
		      struct plan *p, struct manifest *installed,
		      struct manifest *previous, char **stage_from,
		      struct err *e);

#endif
