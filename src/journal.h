/* SPDX-License-Identifier: Apache-2.0 */
/* The journal: what a transaction has done so far, in a line format that
 * a later run reads to finish it (STATE/apps/APP/journal), and the same
 * format for the record of the last transaction (STATE/apps/APP/last-txn)
 * that `upgr rollback` inverts. The format:
 *
 *   upgr-journal 1
 *   phase PHASE          txn_phase_name(): prepared, started, committed,
 *                        done (swapping is read from old journals only)
 *   result RESULT        txn_outcome_name(), or "-" before there is one
 *   app APP
 *   action ACTION        install, upgrade, rollback
 *   from VERSION         empty on a first install
 *   to VERSION
 *   root DIR
 *   target DIR
 *   workdir DIR
 *   sha256 HEX           of the signed manifest's bytes
 *   mkdir PATH           one a directory the transaction creates
 *   rmdir MODE PATH      a directory the swap removes once emptied (octal
 *                        MODE, to remake it with on restore)
 *   xdir OLDINO NEWINO PATH    a directory the swap exchanges whole with
 *                        WORK/stage/PATH (RENAME_EXCHANGE; sorted by
 *                        PATH; with its subtree: none lies in another):
 *                        OLDINO the target's directory's inode
 *                        before, NEWINO the staged one's: a restore
 *                        exchanges back where both sides match them
 *   op KIND 0|1 PATH<TAB>SRC   one a change (KIND add, replace,
 *                        keep-config, remove; 1 when PATH existed; SRC
 *                        empty for remove)
 *
 * A line without a space, or with a key this version does not know, is
 * skipped; phase, root, target and workdir are required. */
#ifndef UPGR_JOURNAL_H
#define UPGR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "err.h"
#include "plan.h"
#include "txn.h"

#define JOURNAL_MAGIC "upgr-journal 1"

/* A journal's header, as journal_parse reads it. */
struct journal {
	enum txn_phase phase;
	bool have_phase;
	char result[16], action[16], from[64], to[64], sha256[65];
	char *root, *target, *workdir;
};

/* Append the journal of plan p at phase, with result (NULL or "" for
 * none yet) and the directories mkdirs, to b. Unchanged ops are left out. */
void journal_text(const struct plan *p, enum txn_phase phase, const char *result,
		  char *const *mkdirs, size_t nmkdirs, struct buf *b);

/* Write that journal durably to APPDIR/journal (fs_write_atomic, 0600),
 * making appdir (0700) if it is missing. */
int journal_write(const char *appdir, const struct plan *p, enum txn_phase phase,
		  const char *result, char *const *mkdirs, size_t nmkdirs, struct err *e);

/* Parse text (NUL-terminated, modified in place) into j, appending its ops
 * to p->ops and, when mkdirs is not NULL, its directories to *mkdirs.
 * Refuses (EXIT_SOFTWARE, e says why) a text without the magic line, an
 * unknown phase, a malformed op or a missing required key. Release j with
 * journal_release, whatever it returns; p's ops and *mkdirs are the
 * caller's. */
int journal_parse(char *text, struct journal *j, struct plan *p,
		  char ***mkdirs, size_t *nmkdirs, struct err *e);

void journal_release(struct journal *j);

#endif
