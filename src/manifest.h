/* SPDX-License-Identifier: Apache-2.0 */
/* The release manifest (`upgr: 1`), parsed strictly from YAML into one
 * struct that every later stage reads; nothing else re-parses the YAML.
 * The format is DESIGN.md's "Release manifest" (contract). */
#ifndef UPGR_MANIFEST_H
#define UPGR_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "diag.h"
#include "version.h"

#define MANIFEST_MAX_BYTES (4u << 20)

/* A command: `run` through /bin/sh -c, in the target directory. */
struct mcmd {
	char *run;
	unsigned timeout;        /* seconds; default 60 */
	unsigned retries;        /* health only: extra attempts; default 0 */
	unsigned interval;       /* health only: seconds between attempts; default 1 */
	int line, col;           /* where it was written, for messages */
};

struct mcmds {
	struct mcmd *v;
	size_t n;
};

struct mfile {
	char *path;              /* relative, normalised */
	mode_t mode;             /* permission bits, 0 to 0777 (no setuid, setgid, sticky) */
	bool config;
	bool pattern;            /* authored only: a directory ("site/") or a glob
				  * ("site/" "**", "lib/" "*.so") that upgr publish
				  * expands (manifest_expand); mode optional */
	bool has_mode;
	char *owner, *group;     /* user and group names, resolved on the host
				  * (getpwnam, getgrnam); NULL: the installer's */
	bool has_sha256;
	uint8_t sha256[32];
	int line, col;
};

enum precond_kind { PRE_RUN, PRE_DISK_FREE, PRE_INSTALLED };

struct precond {
	enum precond_kind kind;
	struct mcmd cmd;         /* PRE_RUN */
	char *path;              /* PRE_DISK_FREE: relative to the root */
	uint64_t mb;             /* PRE_DISK_FREE */
	char *constraint_text;   /* PRE_INSTALLED, as written */
	struct vconstraint constraint;
	int line, col;
};

/* A field added to these structs is added to mcache.c's writer and reader
 * too, and to test_mcache's comparison. */
struct manifest {
	int format;              /* 1 */
	char *app;
	char *version;
	struct semver semver;
	char *target;            /* absolute, normalised, as written */

	bool has_payload;        /* a published manifest */
	char *payload_file;
	uint8_t payload_sha256[32];
	uint64_t payload_size;

	struct mfile *files;
	size_t nfiles;
	size_t *by_path;         /* indexes of files sorted by path (manifest_parse),
				  * for manifest_find_file; NULL: a linear scan */
	size_t nby_path;         /* nfiles when by_path was built */
	char **remove;
	size_t nremove;
	struct precond *pre;
	size_t npre;
	struct mcmds stop, start, health, rollback;
};

/* Parse and validate a manifest held in memory. Every problem found goes
 * into d (with line and column); returns 0 only when d stays empty. name
 * is used for messages. On failure m is released. */
/* Whether s is a payload file name every command accepts: one path
 * component of 1..255 characters from [A-Za-z0-9._+-], not starting with
 * '.'. manifest_parse, the agent (repo.c) and apply all use this one. */
bool manifest_payload_name_ok(const char *s);
/* Whether s is a valid app: name ([a-z0-9][a-z0-9._-]{0,63}). */
bool manifest_app_name_ok(const char *s);

int manifest_parse(const char *buf, size_t len, struct manifest *m, struct diag *d);
/* Read path (at most MANIFEST_MAX_BYTES) and parse it; d->file = path. */
int manifest_load(const char *path, struct manifest *m, struct diag *d);
/* The same, taking the value from the cache file (mcache.h) when it was
 * written for exactly these bytes (NULL: no cache). */
int manifest_load_cached(const char *path, const char *cache, struct manifest *m,
			 struct diag *d);
void manifest_release(struct manifest *m);

/* Plans that are valid but would leave the service down: `stop` without
 * `start` (every upgrade stops it for good), `health` without `start`
 * (checks a service nothing starts). Each goes into w as "warning: ..."
 * at the position of the command concerned; returns how many. */
size_t manifest_warnings(const struct manifest *m, struct diag *w);

/* Find a file entry by path; NULL if the release does not list it.
 * O(log n) through by_path when it matches files, else a linear scan. */
const struct mfile *manifest_find_file(const struct manifest *m, const char *path);
/* The same, trying files[hint] first: two releases of an app mostly list
 * the same files in the same order, so a walk of one finds each file of
 * the other with one comparison. */
const struct mfile *manifest_find_file_near(const struct manifest *m, const char *path,
					    size_t hint);

/* Replace each pattern entry of the authored m by the regular files of
 * dir it matches (a directory: every file under it; '*', '?', '[...]'
 * within one component, "**" any number of components), each with the
 * entry's mode (or, without one, the file's permission bits) and config
 * flag; an explicit entry for the same path wins. The list comes out
 * sorted by path and is checked as manifest_parse would check it. A
 * pattern matching nothing is an error (EXIT_DATAERR). */
int manifest_expand(struct manifest *m, const char *dir, struct err *e);

/* Rebuild the path index after m->files changed. */
void manifest_reindex(struct manifest *m);

/* Write m as a canonical manifest YAML document (the published form, with
 * payload and every file's sha256 when known). manifest_parse of the output
 * gives back an equal struct. */
void manifest_emit(const struct manifest *m, struct buf *out);

/* Check a relative path as the manifest requires: non-empty, no leading
 * '/', no "." or ".." components, no empty components, no trailing '/',
 * no backslash or control characters, at most 4095 bytes. Returns NULL if
 * fine, else a static reason. */
const char *manifest_path_problem(const char *path);

#endif
