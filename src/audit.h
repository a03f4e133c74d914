/* SPDX-License-Identifier: Apache-2.0 */
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
	const char *server;            /* the server the release came from (the
					* agent's), NULL or "" for none: no line */
	const struct audit_step *steps;
	size_t nsteps;
	const char *error;             /* "" when none */
};

/* Append one record to the log at path: seq and prev from the log's last
 * record (whose signature key must verify), time now, signed with key.
 * The write is one write(2) then fsync. A torn tail (a crash in an
 * earlier append) is moved to path.torn-N (0600) and the log replaced in
 * one rename by its whole records, a record with action "repair" saying
 * what was moved (size, SHA-256, file), then r (audit/FORMAT.md 7). */
int audit_append(const char *path, const struct sign_key *key,
		 const struct audit_rec *r, struct err *e);

/* The genesis value: prev of the record with seq 1 (audit/FORMAT.md). */
#define AUDIT_GENESIS_TEXT "upgr audit log genesis v1"
#define AUDIT_GENESIS_HEX \
	"73299d1edc99f933110350810c899b59bbe84c1820518f821d1771f2fe88d664"

struct audit_report {
	uint64_t records;        /* records that verified */
	uint64_t bad_seq;        /* the first failing record's seq (0 if unreadable) */
	uint64_t bad_pos;        /* its position in the file, from 1 (0 if intact) */
	uint64_t torn_at;        /* byte offset of a torn tail (if kind is "torn") */
	uint64_t size;           /* bytes verified: up to the end of the last good record */
	char head[65];           /* sha256 hex of the last good record (genesis if none) */
	char kind[24];           /* "" or: torn, malformed, removed, reordered,
				  * duplicated, inserted, edited or inserted,
				  * bad signature */
	char why[512];           /* empty when the log is intact */
};

/* Verify the log: chain of prev hashes from the genesis value, seq 1, 2,
 * ..., and the newest record's signature (every signature with
 * every_sig). Returns 0 if intact, -1 with rep->why naming the first
 * failing record and why (edited, removed, reordered, duplicated,
 * inserted, bad signature, torn). */
int audit_verify(const char *path, const struct sign_pub *pub, bool every_sig,
		 struct audit_report *rep, struct err *e);
/* The same for a log held in memory (an uploaded copy). */
/* The whole log at path (at most 1 GiB), read under its read lock, so
 * never with an append half done. */
int audit_read(const char *path, struct buf *out, struct err *e);
int audit_verify_mem(const char *data, size_t len, const struct sign_pub *pub,
		     bool every_sig, struct audit_report *rep, struct err *e);

/* A quoted string as it stands in the log, with its quotes: a valid YAML
 * and JSON string literal (audit/FORMAT.md "QSTR"). */
struct audit_str {
	const char *p;
	size_t n;
};

struct audit_entry_step {
	struct audit_str phase, run, output;   /* output.p NULL when absent */
	long long exit, ms;
};

/* One parsed record, pointing into the log's bytes. */
struct audit_entry {
	uint64_t seq;
	struct audit_str time, host, app, action, from, to, result,
		manifest_sha256, error;
	struct audit_str server;       /* p NULL when the record has no server line */
	long long duration_ms, downtime_ms;
	const struct audit_entry_step *steps;
	size_t nsteps;
	char prev[65];
};

/* Call fn for each complete record of the log data[0..len) in order,
 * parsing only (no hash or signature check: that is audit_verify). Stops
 * with -1 (EXIT_DATAERR) at a malformed record, or when fn returns
 * non-zero (that value is returned). A torn tail is ignored; *torn (if
 * not NULL) is set when there is one. */
int audit_parse(const char *data, size_t len,
		int (*fn)(const struct audit_entry *ent, void *arg), void *arg,
		bool *torn, struct err *e);

/* The end of a log, from its last bytes: d[0..len) are the log's bytes
 * from file offset base to its end. Returns 0 with *seq and head (hex) of
 * the last whole record (0 and the genesis value for an empty log); 1 when
 * d does not reach back to the start of that record (read more); -1 for a
 * malformed last record (EXIT_SOFTWARE), or a last record whose signature
 * pub rejects (EXIT_TRUST). A torn tail (FORMAT.md 5, step 1) is -1
 * (EXIT_SOFTWARE, "ends in a torn record at byte N: ...") when whole is
 * NULL; else *whole receives the offset where the whole records end (the
 * log's size when there is no torn tail) and the record before it is
 * checked as usual. audit_append and audit_checkpoint use it so that the
 * device key only ever extends a record it signed. */
int audit_tail(const char *d, size_t len, uint64_t base,
	       const struct sign_pub *pub, uint64_t *seq, char head[65],
	       uint64_t *whole, struct err *e);

/* Append the unescaped value of a quoted string to out. */
void audit_unquote(struct audit_str s, struct buf *out);

/* Format one record into out (appended): seq, time ("YYYY-MM-DDTHH:MM:SS.mmmZ"),
 * prev (64 hex) and r's fields, escaped and cut as audit/FORMAT.md says,
 * then the sig line signed with key. With key NULL, stop before the sig
 * line: out receives exactly the bytes a signature covers. */
int audit_format(const struct audit_rec *r, uint64_t seq, const char *time,
		 const char *prev, const struct sign_key *key, struct buf *out,
		 struct err *e);

/* The device key at path (NAME.key, its public half NAME.pub beside it),
 * created with sign_keygen on first use (0600; the directories are made
 * if missing, durably). A NAME.pub that is missing (a crash between the
 * two files) or holds another key is written again from the secret key,
 * the other key kept as NAME.pub.KEYID. path must end in ".key". */
int audit_device_key(const char *path, struct sign_key *out, struct err *e);

/* What the agent uploads to REPO/reports/HOST/: the log's bytes (log) and
 * audit.log.minisig (minisig), signed by the device key with the trusted
 * comment "upgr audit checkpoint seq:N head:HEX". Refuses a log whose last
 * whole record is malformed or has a bad signature, like audit_append; a
 * torn tail is left out (the next append moves it aside and notes it). A
 * missing log gives an empty log. */
int audit_checkpoint(const char *path, const struct sign_key *key,
		     struct buf *log, struct buf *minisig, struct err *e);

/* Check that the log at path extends copy: copy's bytes are a prefix of the
 * log and end where a record ends. -1 with EXIT_TRUST saying where they
 * part (cut, or rewritten at byte N). Verifies neither; callers verify both. */
int audit_extends(const char *path, const char *copy, size_t len, struct err *e);

#endif
