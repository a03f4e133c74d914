/* SPDX-License-Identifier: Apache-2.0 */
/* The installed tree as one pass of lstat saw it.
 *
 * An upgrade looks at each installed file twice: once to learn which
 * contents it need not fetch (objects_missing), once to plan what the
 * swap does (plan_build_how). On 20,000 files that was 40,000 lstat
 * calls and as many look-ups in the quick check's record. A scan looks
 * once, and on a background thread started as soon as a tick knows an
 * upgrade is due: the parse of the installed manifest, the lstat of
 * every file it lists, and whether the quick check's record
 * (quickcheck.h) vouches for it, come while the new manifest and the
 * objects index are fetched, checked and parsed.
 *
 * What a scan says is what the lstat said when it ran, the same as what
 * the plan's own lstat said a moment later before: nothing trusts it
 * past that. A file changed after the scan is found by the next run,
 * because the record written after the swap keeps the stat the scan
 * saw (txn.c, record_quick), which the change breaks. Staging checks
 * every byte it takes from the installed tree, whatever a scan said. A
 * dry run does not use one: it reads what it shows. */
#ifndef UPGR_TREESCAN_H
#define UPGR_TREESCAN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "err.h"
#include "manifest.h"
#include "quickcheck.h"

enum seen_kind {
	SEEN_ABSENT,     /* lstat said ENOENT (or ENOTDIR) */
	SEEN_STAT,       /* st holds its lstat */
	SEEN_VOUCHED,    /* and the record vouches for the sha256 listed */
	SEEN_ERROR,      /* lstat failed otherwise: look again */
};

struct seen {
	enum seen_kind kind;
	struct stat st;
};

struct treescan {
	/* Every field is the thread's until treescan_wait returns. */
	bool have;                    /* an installed manifest, parsed */
	struct err err;               /* !have: why, when one is there */
	bool failed;                  /* !have, and err says why */
	char *target;                 /* absolute: root + installed.target */
	struct manifest installed;    /* what was scanned */
	struct quickcheck quick;      /* STATE/apps/APP/quickcheck, loaded once */
	struct seen *v;               /* v[i] for installed.files[i] */
	pthread_t thread;
	bool running;                 /* a thread to join */
	bool done;                    /* v is filled */
};

/* Start parsing app's installed manifest (state_installed) and scanning
 * its target under root, with the quick check's record of the app; on a
 * thread when one can be made, else at once. Never fails: after
 * treescan_wait, have says whether there was a manifest to scan and
 * failed whether one would not parse (err: state_installed's error). */
struct treescan *treescan_start(const char *root, const char *state_dir, const char *app);

/* Wait for s's thread (nothing when it has none); s may be NULL. */
void treescan_wait(struct treescan *s);

/* What s saw of installed file was, for a plan of target whose installed
 * manifest lists was (the same parse or another of the same bytes):
 * NULL when s is not about that target and file, could not tell, or is
 * still running (treescan_wait first). */
const struct seen *treescan_find(const struct treescan *s, const char *target,
				 const struct manifest *installed, const struct mfile *was);

/* Wait for s, release it; s may be NULL. */
void treescan_free(struct treescan *s);

#endif
