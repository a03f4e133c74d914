/* The signed, hash-chained, human-readable audit log (DESIGN.md "Audit
 * log", contract; audit/FORMAT.md gives the exact bytes). */
#ifndef UPGR_AUDIT_H
#define UPGR_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "sign.h"

struct audit_step {
	const char *phase;       /* precondition, stop, start, health, rollback */
	const char *run;
	int exit;
	long ms;
	const char *output;      /* first lines of a failing command's output, or NULL */
};

struct audit_rec {
	const char *host, *app, *action, *from, *to, *result;
	long duration_ms, downtime_ms;
	const char *manifest_sha256;   /* hex or "" */
	const struct audit_step *steps;
	size_t nsteps;
	const char *error;             /* "" when none */
};

/* Append one record to the log at path: seq and prev from the log's last
 * record (after verifying the log's tail is not torn), time now, signed
 * with key. The write is one write(2) then fsync. A torn last record is
 * reported (EXIT_SOFTWARE) and left as it is for a person to see. */
int audit_append(const char *path, const struct sign_key *key,
		 const struct audit_rec *r, struct err *e);

struct audit_report {
	uint64_t records;        /* records that verified */
	uint64_t bad_seq;        /* the first failing record's seq (or position) */
	char head[65];           /* sha256 hex of the last good record */
	char why[512];           /* empty when the log is intact */
};

/* Verify the log: chain of prev hashes from the genesis value, seq 1, 2,
 * ..., and the newest record's signature (every signature with
 * every_sig). Returns 0 if intact, -1 with rep->why naming the first
 * failing record and why (edited, removed, reordered, duplicated,
 * inserted, bad signature, torn). */
int audit_verify(const char *path, const struct sign_pub *pub, bool every_sig,
		 struct audit_report *rep, struct err *e);

#endif
