/* SPDX-License-Identifier: Apache-2.0 */
/* The trust root (DESIGN.md section 5, contract; docs/trust.md): a signed,
 * versioned YAML file naming minisign public keys and the roles they hold
 * (root, release, approve, channel), each with a threshold, and optional
 * scopes for release keys.
 *
 * Parsing reports every broken rule at its position (FILE:LINE:COL). The
 * checks (root_verify_threshold .. root_expiry_state) are pure: bytes and
 * signature texts in, a verdict out, no I/O. Only root_state_* and
 * root_update touch files, and root_update fetches through a callback.
 *
 * Signatures: one minisign file per signer, named after the key's name in
 * the root: "N.root.yaml.NAME.minisig" beside "N.root.yaml". A key counts
 * once however many names or files carry it (distinct public keys). */
#ifndef UPGR_ROOT_H
#define UPGR_ROOT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "buf.h"
#include "diag.h"
#include "err.h"
#include "sign.h"

#define ROOT_MAX_BYTES (256u * 1024)
#define ROOT_MAX_KEYS 64
#define ROOT_NAME_MAX 64
#define ROOT_WARN_DAYS 14

enum root_role_id { ROOT_ROLE_ROOT, ROOT_ROLE_RELEASE, ROOT_ROLE_APPROVE,
		    ROOT_ROLE_CHANNEL, ROOT_NROLES };

struct root_key {
	char *name;
	struct sign_pub pub;
};

struct root_role {
	size_t idx[ROOT_MAX_KEYS];   /* indexes into root.keys */
	size_t n;
	unsigned threshold;
};

struct root_scope {
	size_t key;                  /* index into root.keys (a release key) */
	char **apps;                 /* fnmatch globs; none: any app */
	size_t napps;
	char **targets;              /* absolute path prefixes; none: any */
	size_t ntargets;
};

struct root {
	uint64_t version;
	time_t expires;
	struct root_key *keys;
	size_t nkeys;
	struct root_role roles[ROOT_NROLES];
	struct root_scope *scopes;
	size_t nscopes;
};

/* One signature file's text, and the key name its file was found under
 * (for messages only: what counts is the key that verifies it). */
struct root_sig {
	const char *name;
	const char *text;
	size_t len;
};

/* What a threshold check counted: which distinct keys (indexes into the
 * root's keys) made valid signatures, against how many were needed. */
struct root_tally {
	unsigned got, need;
	size_t signer[ROOT_MAX_KEYS];
};

/* "root", "release", "approve", "channel". */
const char *root_role_name(enum root_role_id r);

/* Parse and validate; every problem goes to d. Returns 0 or -1. */
int root_parse(const char *buf, size_t len, struct root *r, struct diag *d);
/* root_parse of a file; unreadable files are reported in d too. */
int root_load(const char *path, struct root *r, struct diag *d);
void root_release(struct root *r);
/* True when the YAML text declares `type: root` (for upgr validate). */
bool root_is_root_text(const char *buf, size_t len);
/* Index of the key named name, or -1. */
int root_key_find(const struct root *r, const char *name);
/* Index of the key whose public key is pub, or -1. */
int root_key_by_pub(const struct root *r, const struct sign_pub *pub);

/* Count the distinct keys of role in r that signed data validly among
 * sigs. Keys in `exclude` (may be NULL) are not counted: four-eyes.
 * Returns 0 when the threshold is met, else -1 with EXIT_TRUST in e
 * ("root role: 1 of 2 signatures"); *out is filled either way. */
int root_verify_threshold(const struct root *r, enum root_role_id role,
			  const void *data, size_t len,
			  const struct root_sig *sigs, size_t nsigs,
			  const struct root_tally *exclude,
			  struct root_tally *out, struct err *e);

/* TUF 5.3: next (already parsed from next_data) may follow cur only when
 * its version is cur's + 1 and a threshold of cur's root role and of its
 * own root role signed next_data. Expiry is not checked here. EXIT_TRUST. */
int root_accept_next(const struct root *cur, const struct root *next,
		     const void *next_data, size_t len,
		     const struct root_sig *sigs, size_t nsigs, struct err *e);

/* True when release key `key` (index) may sign app for target: a key
 * with no scope may sign anything; app and target NULL are not checked. */
bool root_check_scope(const struct root *r, size_t key, const char *app,
		      const char *target);

struct root_manifest_result {
	struct root_tally release, approve;
	bool release_ok, approve_ok;
	char why[256];               /* "waiting for approval (1 of 2)" */
};
/* A manifest installs when the release threshold is met by keys in scope
 * for app and target, and the approve threshold by keys other than those
 * release signers. Returns 0, or -1 (EXIT_TRUST) with res->why set. */
int root_check_manifest(const struct root *r, const void *data, size_t len,
			const char *app, const char *target,
			const struct root_sig *sigs, size_t nsigs,
			struct root_manifest_result *res, struct err *e);

/* A channel file is trusted when the channel threshold signed it; when it
 * points lower than the installed version (semver), release_signed must
 * say the channel file itself also meets the release threshold (the agent
 * passes the result of root_verify_threshold(ROOT_ROLE_RELEASE) on the
 * channel bytes). installed NULL: nothing installed. Whether the release
 * it names is approved is root_check_manifest's business. EXIT_TRUST. */
int root_check_channel(const struct root *r, const void *data, size_t len,
		       const struct root_sig *sigs, size_t nsigs,
		       const char *installed, const char *version,
		       bool release_signed, struct err *e);

enum root_expiry { ROOT_EXP_OK, ROOT_EXP_WARN, ROOT_EXP_EXPIRED };
/* ok, warn (within ROOT_WARN_DAYS of expires) or expired (now >= expires);
 * days (may be NULL) gets the whole days left, negative once expired. */
enum root_expiry root_expiry_state(const struct root *r, time_t now, long *days);

/* The file name of a signature for root version v by key name:
 * "V.root.yaml.NAME.minisig" (allocated). */
char *root_sig_name(uint64_t v, const char *name);

/* Local trust state: STATE/trust/root.yaml and root.yaml.NAME.minisig.
 * root_state_load reads it, or, the first time, initial_path (the
 * config's trust_root: the operator's word, so not signature-checked) and
 * stores it. bytes receives the root's text. */
int root_state_load(const char *state_dir, const char *initial_path,
		    struct root *r, struct buf *bytes, struct err *e);
/* Store an accepted root durably: its signatures, then the root itself
 * (the rename of root.yaml is the commit point). */
int root_state_store(const char *state_dir, const void *data, size_t len,
		     const struct root *r, const struct root_sig *sigs,
		     size_t nsigs, struct err *e);

/* Fetch relpath (e.g. "root/3.root.yaml") into out, at most max bytes.
 * Return 0; or -1 with *missing true when the server has no such file;
 * or -1 for any other failure. The agent passes its transport with
 * failover; tests pass a directory reader. */
typedef int (*root_fetch_fn)(void *ctx, const char *relpath, size_t max,
			     struct buf *out, bool *missing, struct err *e);

/* TUF 5.3 walk: fetch N+1, N+2, ... until one is missing, accept each
 * with root_accept_next, store it (when state_dir is not NULL) and make it
 * current (*r and *bytes replaced). A bad one stops the walk with
 * EXIT_TRUST and nothing past the last good root is kept. Afterwards the
 * newest must be unexpired at now (EXIT_TRUST). *walked counts the steps. */
int root_update(const char *state_dir, struct root *r, struct buf *bytes,
		root_fetch_fn fetch, void *ctx, time_t now, unsigned *walked,
		struct err *e);

/* Fetch the signatures of root version v for every key named in a's and
 * b's (may be NULL) root roles into sigs (texts in bufs, one per sig);
 * missing ones are skipped. Returns the count, or -1 on a fetch error. */
int root_fetch_sigs(const struct root *a, const struct root *b, uint64_t v,
		    root_fetch_fn fetch, void *ctx, struct root_sig *sigs,
		    struct buf *bufs, size_t max, struct err *e);
#endif
