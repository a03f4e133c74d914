/* SPDX-License-Identifier: Apache-2.0 */
/* Polling the repository for one app (DESIGN.md "Repository layout"):
 * fetch and verify the signed channel file from the servers in order,
 * defend against the update-metadata attacks, decide whether this host
 * should move now, and bring the release (manifest, signature, payload)
 * into the local cache, ready for apply_release:
 *
 *   STATE/cache/APP/VERSION/manifest.yaml
 *   STATE/cache/APP/VERSION/manifest.yaml.minisig
 *   STATE/cache/APP/VERSION/PAYLOAD            complete and hash-checked
 *   STATE/cache/APP/VERSION/PAYLOAD.part       a partial download, resumed
 *                                              by the next run
 *
 * Every file fetched is size-capped. Signatures are checked with the
 * config's trusted keys, failing closed when there are none; the trusted
 * comment of each repository file must hold the whitespace-separated
 * tokens "app:APP" and "file:PATH", PATH relative to REPO/apps/APP/
 * ("channels/stable.yaml", "releases/1.2.0/manifest.yaml"), which
 * repo_sig_comment writes: a valid signature on one file (another app's,
 * another version's) cannot vouch for another. apply_release checks the
 * manifest's the same way.
 *
 * Errors: EXIT_UNAVAILABLE when no server answered; EXIT_TRUST for a
 * file refused from every server that served it (bad signature, replayed or expired channel, mix-and-match,
 * a payload larger than declared or with the wrong hash, a downgrade the
 * channel does not allow); EXIT_DATAERR for signed data that is invalid. */
#ifndef UPGR_REPO_H
#define UPGR_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "channel.h"
#include "config.h"
#include "err.h"
#include "root.h"
#include "sign.h"

#define REPO_SIG_MAX (16u << 10)   /* a .minisig file */

/* One run's view of the servers: the trusted keys and a transfer handle
 * per server (connections are reused across apps). */
struct repo {
	const struct config *c;
	struct sign_pub *keys;
	size_t nkeys;
	struct xfer **x;           /* one per server, made on first use */
	size_t first;              /* the server tried first (balance: random) */
	bool progress;             /* download progress bar on stderr */
	bool dry_run;              /* record nothing (serial) */
	time_t now;                /* the run's clock, for expiry and not_before */
	unsigned retries;          /* extra payload attempts per server; default 2 */
	unsigned backoff_ms;       /* first retry delay, doubled each time; default 500 */
	/* trust_root: (docs/trust.md "On a host"): the root's roles decide
	 * who signs what, and keys/nkeys stay empty. */
	bool use_root;
	struct root root;          /* the newest accepted root */
	struct buf root_bytes;
	bool root_walked;          /* root/N+1 was looked for this run */
	char root_warning[256];    /* repo_root_warning's text */
	size_t cur;                /* the server whose file is being checked */
};

/* Load the trusted keys (none: EXIT_TRUST) or, with trust_root:, the
 * trust root (STATE/trust/root.yaml, first from the config's file); check
 * the netrc's mode, and pick the first server. */
int repo_open(struct repo *r, const struct config *c, bool progress,
	      bool dry_run, struct err *e);
void repo_close(struct repo *r);

enum repo_state {
	REPO_CURRENT,              /* the channel's version is installed */
	REPO_WAIT,                 /* not this run: not_before, rollout, window */
	REPO_READY,                /* release_dir holds the release to apply */
	REPO_HELD,                 /* a hold (upgr hold, a rollback) keeps the
				    * app where it is: nothing was fetched */
};

/* Why a server's file was refused: refusals are recorded once per cause
 * and server (cmd_run.c), so these are classes, not messages. */
enum repo_cause {
	REPO_CAUSE_SIGNATURE,      /* missing, malformed or not by a trusted key */
	REPO_CAUSE_HASH,           /* not the bytes the signed metadata names */
	REPO_CAUSE_REPLAY,         /* a serial lower than one seen */
	REPO_CAUSE_EXPIRED,        /* the freeze attack */
	REPO_CAUSE_MISMATCH,       /* signed for another app, channel or version */
	REPO_CAUSE_POLICY,         /* not from a server: a downgrade not allowed, */
				   /* no trusted key, invalid signed data */
	REPO_CAUSE_ROOT,           /* a trust root that fails root_accept_next, */
				   /* or the newest root expired */
	REPO_CAUSE_THRESHOLD,      /* signed, but not by the roles' thresholds */
				   /* in scope (root_check_manifest/_channel) */
};
#define REPO_CAUSES 8
/* "signature", "hash", "replay", "expired", "mismatch", "policy", "root",
 * "threshold". */
const char *repo_cause_name(enum repo_cause c);

/* A server that served a file failing a signature, hash or trust check:
 * the poll went on to the next server (TUF's mirror rule). */
struct repo_lie {
	enum repo_cause cause;
	char server[512];          /* its URL, without credentials */
	char msg[ERR_MSG_MAX];     /* what was wrong, naming the server */
};
#define REPO_LIES_MAX 8

/* A server that did not answer during the poll (a transport error), the
 * poll going on to the next one. */
struct repo_down {
	size_t server;             /* its index in servers: */
	char why[512];             /* the transport's reason, without the URL */
};

struct treescan;

struct repo_poll {
	enum repo_state state;
	struct repo_lie lies[REPO_LIES_MAX];  /* this poll's lying servers, */
	size_t nlies;              /* also when it succeeded through another */
	bool all_lied;             /* on -1: no server served a good file, */
				   /* and each that served one is in lies */
	enum repo_cause cause;     /* on -1 otherwise: the refusal's class */
	bool local;                /* on -1: this host's own state failed (its
				    * installed manifest), not a server: no
				    * refusal, and cause says nothing */
	struct channel ch;         /* the verified channel (app is set once parsed) */
	bool have_channel;
	char installed[64];        /* installed version, "" when none */
	struct {                   /* the installed version as last read, for */
		bool known, have;  /* the channel it was read against (a trust */
		char pin[65];      /* root reads it in the channel check and */
		struct semver ch;  /* decide again: once is enough) */
		struct semver sv;
		char ver[64];
	} inst;
	char why[256];             /* REPO_WAIT: the reason, for --dry-run */
	bool waiting;              /* REPO_WAIT for approvals (trust root) */
	char *release_dir;         /* REPO_READY */
	struct treescan *scan;     /* REPO_READY: the installed tree as the poll saw
				    * it (treescan.h), for the plan; or NULL */
	/* The servers, for status and messages: the one whose files the
	 * poll used (index into servers:), and each that did not answer. */
	bool have_server;
	size_t server;
	struct repo_down down[REPO_LIES_MAX];
	size_t ndown;
};

/* Poll app: see the top of this file. A channel, manifest or payload that
 * fails a signature, hash or trust check on one server is noted in
 * p->lies and fetched from the next; only when no server serves a good
 * one does the poll fail (EXIT_TRUST when some server lied, naming each).
 * On -1, p->have_channel says whether a channel was verified and parsed
 * (its version is what a refusal names). Release p with repo_poll_release
 * in every case. */
int repo_poll_app(struct repo *r, const char *app, struct repo_poll *p,
		  struct err *e);
void repo_poll_release(struct repo_poll *p);

/* The trust root's expiry warning (within ROOT_WARN_DAYS of expires)
 * when it was not given today yet, else NULL; repo_root_warned marks it
 * given (STATE/trust/warned holds the UTC date). Call after the polls:
 * they may have walked to a newer root. */
const char *repo_root_warning(struct repo *r);
void repo_root_warned(const struct repo *r);
/* The same text whenever the root is within ROOT_WARN_DAYS of expiring,
 * given today or not (the report carries it to the console on every
 * upload, report.h); NULL otherwise. */
const char *repo_root_expiry_note(struct repo *r);

/* The bytes downloaded from every server through r so far. */
uint64_t repo_received(const struct repo *r);

/* Server i's transfer handle (made on first use; owned by r). */
struct xfer *repo_server(struct repo *r, size_t i);

/* Remember that applying version failed (rolled back, or worse) while the
 * channel's serial was serial: repo_poll_app then waits (REPO_WAIT) instead
 * of stopping the service for the same release every tick, until a newer
 * channel file (a higher serial: the author published again) comes. Kept
 * as STATE/cache/APP/VERSION/failed-serial. */
void repo_mark_failed(const struct config *c, const char *app, const char *version,
		      uint64_t serial);

/* Remove STATE/cache/APP (after a successful apply). */
void repo_cache_drop(const struct config *c, const char *app);

/* The trusted comment for a repository file: "timestamp:T\tapp:APP\t
 * file:PATH" with PATH relative to REPO/apps/APP/ (for example
 * "channels/stable.yaml", "releases/1.2.0/manifest.yaml"). publish signs
 * with it; the agent and apply_release require the app and file tokens. */
void repo_sig_comment(const char *app, const char *path, time_t when,
		      struct buf *out);
/* 0 if comment holds the tokens app:APP and file:PATH, else EXIT_TRUST. */
int repo_check_comment(const char *comment, const char *app, const char *path,
		       struct err *e);

/* The keys that vouch for one app's repository files, as a host or a
 * publisher trusts them. Today a flat list (a host's trusted_keys, a
 * publisher's own key and --trusted-key); the trust root of issue 13 will
 * fill it from the role that signs the file (channel or release). */
struct repo_trust {
	const struct sign_pub *keys;
	size_t nkeys;
};

/* Verify sig (a .minisig file's text) over data by a key of t, and that
 * its trusted comment names app and rel (repo_check_comment). EXIT_TRUST
 * on any failure, the message prefixed with "REL: ". */
int repo_verify(const struct repo_trust *t, const char *app, const char *rel,
		const struct buf *data, const struct buf *sig, struct err *e);

/* Whether host is inside a rollout of percent for version: the first four
 * bytes of sha256(host "/" version), big-endian, mod 100 < percent. The
 * same hosts stay in as the percentage grows. */
bool repo_rollout_includes(const char *host, const char *version, unsigned percent);

/* A random number from the system's generator (server choice, splay). */
uint32_t repo_random(void);

#endif
