/* SPDX-License-Identifier: Apache-2.0 */
/* The plan: what applying a release will do to this host, computed
 * without changing anything. The dry-run prints it; the transaction
 * executes the very same object (one code path, two endings). */
#ifndef UPGR_PLAN_H
#define UPGR_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "buf.h"
#include "err.h"
#include "manifest.h"

enum plan_kind {
	PLAN_ADD,          /* not on the host: renamed into place */
	PLAN_REPLACE,      /* on the host, different: backed up, renamed over */
	PLAN_UNCHANGED,    /* same content and mode: not touched */
	PLAN_CONFIG_KEEP,  /* locally edited config: kept, new one lands as PATH.upgr-new */
	PLAN_REMOVE,       /* the release removes it: backed up, unlinked */
};

struct plan_op {
	enum plan_kind kind;
	const struct mfile *file;  /* NULL for PLAN_REMOVE */
	char *path;                /* relative to the target: where the op lands */
	char *src;                 /* relative to the staging dir (NULL for PLAN_REMOVE) */
	bool old_exists;
	uint64_t old_size, new_size;
	mode_t old_mode, new_mode;
	uid_t uid;                 /* owner: resolved, or (uid_t)-1: left as made */
	gid_t gid;                 /* group: resolved, or (gid_t)-1 */
	struct stat st;            /* the plan's lstat of path, before any read (old_exists) */
	bool quick;                /* unchanged by the quick check: not read */
};

struct quickcheck;
struct treescan;

/* What a real run lets the plan skip (the dry-run skips nothing). */
struct plan_how {
	const struct quickcheck *quick;  /* a file it vouches for (quickcheck_same), listed
					  * with the same sha256 by the installed manifest,
					  * is unchanged without being read */
	bool no_sizes;                   /* the payload is not read: new_size and
					  * disk_needed stay 0, sizes_unknown is set */
	const struct treescan *seen;     /* the installed files' lstat, taken once
					  * (treescan.h, waited for), or NULL */
};

/* A directory the installed release's files implied and the new release
 * no longer needs (or one remove: names): removed after the swap when
 * nothing else is left in it, restored (with its mode) on rollback. One
 * that holds an entry the release never owned is kept, and why says so. */
struct plan_dir {
	char *path;                /* relative to the target */
	mode_t mode;
	bool kept;
	char *why;                 /* kept: what is in it; NULL otherwise */
};

/* A directory whose every entry the swap replaces (each a file the
 * release owned, none foreign, no subdirectory; or each such a directory,
 * txn.c's merge_up): exchanged whole with its
 * staged copy, in one renameat2(RENAME_EXCHANGE) (txn.c, dirswap.c), and
 * back on restore. Chosen while preparing; the journal lists it ("xdir"),
 * with the two directories' inode numbers, by which a restore recognises
 * the exchanged pair. */
struct plan_xdir {
	char *path;                /* relative to the target */
	uint64_t old_ino;          /* the target's directory before the swap */
	uint64_t new_ino;          /* its staged copy */
};

enum pre_state { PRE_PASS, PRE_FAIL, PRE_UNCHECKED };

struct plan_pre {
	const struct precond *pre;
	enum pre_state state;
	int exit;                /* PRE_RUN: the command's exit status */
	long ms;                 /* PRE_RUN: how long it ran */
	char detail[256];
};

struct plan {
	const struct manifest *m;          /* the release */
	const struct manifest *installed;  /* NULL on a first install */
	char *root;                        /* as configured, e.g. "/" */
	char *target;                      /* root + m->target, absolute */
	char *workdir;                     /* beside the target: staging and backups */
	char *payload;                     /* path of the verified payload */
	char *manifest_sha256;             /* hex of the signed manifest's bytes */
	struct plan_op *ops;
	size_t nops;
	struct plan_dir *dirs;             /* sorted: parents before children */
	size_t ndirs;
	struct plan_xdir *xdirs;           /* sorted by path (txn.c fills it) */
	size_t nxdirs;
	char **notes;                      /* what the plan keeps and why */
	size_t nnotes;
	struct plan_pre *pre;
	size_t npre;
	uint64_t download_bytes;
	uint64_t disk_needed;              /* staging + config copies */
	size_t nchanged;                   /* ops that touch the target */
	char owner_error[256];             /* an owner: or group: this host lacks:
					    * fails the preconditions */
	const char *action;                /* install, upgrade, rollback */
	const struct plan_how *how;        /* NULL: read everything */
	bool sizes_unknown;                /* how->no_sizes: disk_needed is not known */
};

/* Build the plan of applying m (whose payload is at payload) under root,
 * given the installed manifest (NULL if none). Hashes the files on the
 * host that the release lists; reads only. */
int plan_build(struct plan *p, const struct manifest *m,
	       const struct manifest *installed, const char *root,
	       const char *payload, const char *manifest_sha256, struct err *e);
/* plan_build, skipping what how allows (how must outlive p). */
int plan_build_how(struct plan *p, const struct manifest *m,
		   const struct manifest *installed, const char *root,
		   const char *payload, const char *manifest_sha256,
		   const struct plan_how *how, struct err *e);
void plan_release(struct plan *p);

/* Fill p->dirs from p->installed, p->m and the REMOVE ops (each directory
 * an installed file implied that no file of p->m needs), keeping those
 * that hold anything no REMOVE op or removed directory accounts for.
 * Called by plan_build and for the inverse plan of `upgr rollback`. */
void plan_find_dirs(struct plan *p);

/* Add a directory the plan removes (journal parsing); takes path. */
void plan_add_dir(struct plan *p, char *path, mode_t mode);

/* Add a directory the swap exchanges whole (txn.c, journal parsing);
 * takes path. Keep p->xdirs sorted by path: add in that order. */
void plan_add_xdir(struct plan *p, char *path, uint64_t old_ino, uint64_t new_ino);

/* Evaluate the preconditions that have no side effects (disk_free,
 * installed); `run` ones stay PRE_UNCHECKED unless run_commands is set,
 * when they are run with the environment of the UPGR_PHASE=precondition. */
void plan_check_preconditions(struct plan *p, bool run_commands);

/* Resolve f's owner: and group: names on this host into *uid, *gid
 * ((uid_t)-1 / (gid_t)-1 when not named). Returns false, with why set,
 * when a name is unknown here. */
bool plan_resolve_owner(const struct mfile *f, uid_t *uid, gid_t *gid, char *why,
			size_t whylen);

/* Whether the transaction would stop before the service does, and why
 * (one line in why): an owner or group unknown here, a precondition
 * that failed (plan_check_preconditions), less free space where the work
 * directory goes than disk_needed. A dry run exits 1 then, as the run
 * would (nothing changed, the old version runs). */
bool plan_would_fail(const struct plan *p, char *why, size_t len);

/* The plan for a person, and as JSON for scripts; both end with what
 * plan_would_fail says ("would fail: ...", "would_fail": "..." or null). */
void plan_print(const struct plan *p, FILE *to);
void plan_json(const struct plan *p, struct buf *out);

/* --diff: a unified diff of each file the plan changes (config files
 * first) against the release's bytes, extracted from the payload into a
 * temporary directory removed after. Binary files: "Binary files differ";
 * over DIFF_MAX_BYTES: "differ (too large to show)". */
int plan_diff(const struct plan *p, FILE *to, struct err *e);

const char *plan_kind_name(enum plan_kind k);

/* The environment for a release command (NULL-terminated, allocated). */
char **plan_command_env(const struct plan *p, const char *phase);
void plan_env_free(char **env);

#endif
