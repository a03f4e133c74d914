/* SPDX-License-Identifier: Apache-2.0 */
/* Applying one release directory (manifest.yaml, manifest.yaml.minisig,
 * the payload) on this host: verify, plan, and either print the plan
 * (dry-run) or run the transaction, then record the result in the state
 * and the audit log. Shared by `upgr apply` and `upgr run`. The caller
 * holds the state lock and has run txn_recover. */
#ifndef UPGR_APPLY_H
#define UPGR_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "err.h"
#include "msg.h"
#include "sign.h"

struct txn_result;

struct treescan;

struct apply_opts {
	bool dry_run;
	bool json;                     /* dry-run: the plan as JSON */
	bool diff;                     /* dry-run: and a diff of each changed file */
	const char *expect_app;        /* agent: what the signed channel named, or NULL */
	const char *expect_version;    /* agent: mix-and-match defence, or NULL */
	const char *expect_sha256;     /* agent: the channel's manifest_sha256, or NULL */
	bool allow_downgrade;          /* the signed channel says downgrade: true */
	bool quiet_if_current;         /* agent: same version installed -> no output */
	const char *server;            /* agent: the server the release came from,
					* named in the audit record; NULL for none */
	struct treescan *seen;         /* agent: the poll's scan of the installed
					* tree (treescan.h), or NULL: looked at here */
};

struct apply_outcome {
	bool changed;                  /* something was installed or rolled back */
	char result[16];               /* success, rolled-back, failed, refused, current */
	long downtime_ms;              /* the transaction's, when changed */
	struct msgs msgs;              /* what to say (the plan, warnings): msgs_release */
};

/* Returns an exit code (DESIGN.md): 0, 1 rolled back, 3 rollback failed,
 * 65 bad data, 77 trust; e holds the message for non-zero, out->msgs what
 * else there is to say (the caller releases it, whatever the result).
 * Refusals and transactions are appended to the audit log. A target whose
 * existing parent directories are not all root's or ours, or are writable
 * by group or others without the sticky bit, is refused (65) before
 * anything. */
int apply_release(const struct config *c, const char *release_dir,
		  const struct apply_opts *o, struct apply_outcome *out,
		  struct err *e);

/* Append a refusal (action "refuse", result "refused") for app to the
 * audit log and status, e.g. a replayed channel file. */
int apply_record_refusal(const struct config *c, const char *app,
			 const char *to_version, const struct err *why,
			 struct err *e);

/* Append one record (and update the app's status) for a transaction's
 * result r: action install, upgrade, rollback or recover. */
int apply_record(const struct config *c, const char *app, const char *action,
		 const char *from, const char *to, const char *sha256,
		 const struct txn_result *r, const char *error, struct err *e);

/* Conclude a transaction (or a recovery) whose result is r: record it
 * (apply_record), and only then, if the journal says done, drop the
 * journal (txn_finish). The one place that keeps invariant 6 of txn.c: a
 * crash before the record leaves the journal, and the next run records
 * the result instead. A failure is added to msgs as a warning; returns -1
 * then (the result stands either way). */
int apply_conclude(const struct config *c, const char *app, const char *action,
		   const char *from, const char *to, const char *sha256,
		   const struct txn_result *r, struct msgs *msgs);
/* The same, the audit record naming server (NULL: none) the release came
 * from. */
int apply_conclude_from(const struct config *c, const char *server, const char *app,
			const char *action, const char *from, const char *to,
			const char *sha256, const struct txn_result *r, struct msgs *msgs);

/* Load the configured trusted keys; none configured is EXIT_TRUST (fail
 * closed). Free *keys with free(). */
int apply_trusted_keys(const struct config *c, struct sign_pub **keys, size_t *n,
		       struct err *e);

/* Resolve every interrupted transaction under the state dir (every
 * command does this first, holding the lock), recording each in the audit
 * log; adds one line per recovered app to msgs (a failed one even when
 * quiet). Returns the worst exit code (0 when nothing was pending). */
int apply_recover_all(const struct config *c, bool quiet, struct msgs *msgs, struct err *e);

#endif
