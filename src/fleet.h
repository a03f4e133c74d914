/* SPDX-License-Identifier: Apache-2.0 */
/* The management console: every host's last result, read from the reports
 * the agents upload to REPO/reports/HOST/ (docs/report-format.md), and the
 * check of their uploaded audit logs (docs/fleet.md is the operator guide
 * and documents the JSON shape, a contract for scripts).
 *
 * Every report is untrusted input: it is read with a size cap, parsed
 * strictly (ydoc), and a report that cannot be read becomes a row with an
 * error, never a failure of the whole view. Values are kept as the report
 * has them; each renderer escapes them for its medium (terminal, JSON,
 * HTML). */
#ifndef UPGR_FLEET_H
#define UPGR_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "sign.h"
#include "transport.h"

#define FLEET_STATUS_MAX (64u << 10)   /* bytes of one status.yaml */
#define FLEET_APPS_MAX 256             /* apps in one report */
#define FLEET_STALE_DEFAULT 120        /* minutes: two default heartbeats */

/* What is wrong with a row, most urgent first: the order rows sort in. */
enum fleet_problem {
	FLEET_UNREADABLE,   /* no status.yaml, or one that is not a valid report */
	FLEET_TAMPERED,     /* its status is unsigned, badly signed or contradicts
			     * its verified audit log, or the last fleet verify
			     * found its log or key wrong (with --keys) */
	FLEET_UNVERIFIED,   /* with --keys: no pinned key to check its status with */
	FLEET_FAILED,       /* the rollback failed too: a person must act */
	FLEET_ROLLED_BACK,  /* the upgrade failed and was undone */
	FLEET_REFUSED,      /* a trust check refused the release */
	FLEET_STALE,        /* no report within the stale limit */
	FLEET_UNAVAILABLE,  /* the host's last run reached no server */
	FLEET_OUTDATED,     /* not at the app's latest version */
	FLEET_NO_RESULT,    /* at the latest version, but no result recorded */
	/* Not problems: the states below FLEET_WAITING are. */
	FLEET_WAITING,      /* not current; the agent waits (window, freeze,
			     * approval, group lease): its report says why */
	FLEET_STAGED,       /* not current; the release is staged, waiting */
	FLEET_HELD,         /* not current; the channel's rollout percent does
			     * not include the host (repo_rollout_includes) */
	FLEET_OK,
};
#define FLEET_IS_PROBLEM(p) ((p) < FLEET_WAITING)

/* One host's one app. Strings are never NULL ("" when absent). */
struct fleet_row {
	char *host;         /* the report's directory name */
	char *app, *version, *result, *action, *from, *to;
	char *time;         /* when the result happened, as reported */
	char *reported;     /* when the report was made (the report's time) */
	char *error;        /* the app's error, or why the report is unreadable */
	char *state;        /* the agent's optional state: "waiting", "staged" or "" */
	char *waiting;      /* why it waits, as reported ("" when absent) */
	bool stale, current;
	bool held;          /* the channel's rollout does not include the host */
	bool channel_current; /* current with the channel's version, published
			       * after this row's result (an aborted rollout
			       * that took the channel back) */
	bool tampered;      /* set from the keys directory's verdicts or the
			     * status check (fleet_verify_status) */
	bool unverified;    /* with --keys, the status could not be checked */
	enum fleet_problem problem;
};

/* Whether the channel's release meets the trust root (four-eyes). */
enum fleet_approval {
	FLEET_APPR_NONE,       /* no trust root, or no channel release */
	FLEET_APPR_APPROVED,   /* release and approve thresholds met */
	FLEET_APPR_UNAPPROVED, /* release signed, approvals short */
	FLEET_APPR_UNSIGNED,   /* not even the release threshold, or unreadable */
};

/* The version every host of an app should run. */
struct fleet_latest {
	char *app;
	char *version;
	bool from_channel;  /* the channel file's; else the highest reported */
	enum fleet_approval approval;
	char *approval_why; /* "waiting for approval (0 of 1)"; NULL when none */
	unsigned rollout;   /* the channel's rollout percent (100 without one) */
	time_t published;   /* the channel file's publication time (0: none) */
};

/* One fetched report: its bytes, or missing, or why it could not be had. */
struct fleet_fetched {
	struct buf data;
	bool missing;
	char *error;
};
struct fleet_fetch_stats {
	size_t gets;      /* downloads */
	size_t stats;     /* size/time checks of a cached report */
	size_t hits;      /* reports taken from the cache */
};
/* A channel's rollout plan (REPO/apps/APP/rollout/CHANNEL.yaml, written
 * by upgr rollout), as fleet_rollout.c reads it for the page. */
#define FLEET_WAVES_MAX 16
struct fleet_rollout {
	char *app;
	char *error;                 /* why it cannot be shown, or NULL */
	bool verified;               /* signed by the channel key (--channel-key) */
	char *version, *from, *state, *soak, *max_failed;
	char *started, *wave_started, *reason;
	unsigned waves[FLEET_WAVES_MAX]; /* cumulative percents */
	size_t nwaves;
	unsigned wave;               /* the current wave, 1-based */
};
/* The hosts of one wave (those the wave's percent includes first). */
struct fleet_wave_count {
	size_t hosts, done, failed;
};

/* Where a host's row stands in a rollout of version: the controller's
 * rule (rollout tick decides by it) and the console's (its wave bars),
 * one rule so that the page shows what tick decides. */
enum fleet_wave_outcome {
	FLEET_WAVE_UNVERIFIED,       /* tampered or not verified: holds the wave */
	FLEET_WAVE_DONE,             /* runs version */
	FLEET_WAVE_FAILED,           /* its try at version failed or rolled back */
	FLEET_WAVE_PENDING,          /* not tried yet (or says nothing) */
};
enum fleet_wave_outcome fleet_wave_outcome(const struct fleet_row *r, const char *version);

struct fleet {
	char *repo;                  /* as given, for display */
	char *channel;
	bool verified;               /* statuses checked against pinned keys (--keys) */
	uint64_t root_version;       /* the repository's trust root; 0: none */
	char *root_error;            /* why the root could not be read, or NULL */
	time_t generated;
	unsigned stale_minutes;
	struct fleet_row *rows;
	size_t nrows;
	size_t *by_app;              /* row positions by app (fleet_finish), or NULL */
	struct fleet_latest *latest;
	size_t nlatest;
	/* status.yaml's warnings: (the trust root's expiry), one per line
	 * "HOST: text", in the order the reports were read. */
	char **warnings;
	size_t nwarnings;
	struct fleet_rollout *rollouts;
	size_t nrollouts;
	struct fleet_fetch_stats fetch; /* what fleet_load's fetch did */
	unsigned refresh;            /* the page reloads itself every so many
				      * seconds (0: never) */
};

struct fleet_opts {
	const char *repo;            /* URL of the repository (no trailing '/' needed) */
	const char *app;             /* only this app, or NULL for all */
	const char *channel;         /* channel whose version is "latest"; default stable */
	unsigned stale_minutes;
	time_t now;
	const char *keys_dir;        /* fleet verify's directory (pinned keys, seen,
				      * verdicts): check every status; or NULL */
	const char *hosts_file;      /* host names, one a line, instead of listing */
	const struct sign_pub *channel_key; /* checks the rollout plans, or NULL */
	const char *cache_dir;       /* reports cached here between runs, or NULL */
	unsigned jobs;               /* connections in parallel (0: default) */
	const struct xfer_opts *xfer; /* for the parallel connections' handles;
				      * NULL: fetch over the one handle given */
	bool no_rollouts;            /* the rollout plans are not read (the
				      * controller has them already) */
};
#define FLEET_JOBS_MAX 32
#define FLEET_JOBS_DEFAULT 4

/* The approval of each channel release (f->latest with from_channel)
 * against the repository's trust root (walked from root/1.root.yaml), when
 * it has one: manifest.yaml.NAME.minisig checked with root_check_manifest.
 * A root that does not verify is recorded in f->root_error. */
void fleet_load_approvals(struct xfer *x, const struct fleet_opts *o, struct fleet *f);
const char *fleet_approval_name(enum fleet_approval a);

void fleet_init(struct fleet *f, const struct fleet_opts *o);
void fleet_release(struct fleet *f);

/* True when name is usable as a report directory and file name: 1-255 of
 * [A-Za-z0-9._-], not starting with '.'. */
bool fleet_host_ok(const char *name);

/* Add the rows of one host's status.yaml (data[0..len), untrusted): one
 * per app (only o->app when set), or one unreadable row with the reason
 * when the report is missing (data NULL) or invalid. Never fails. */
void fleet_add_report(struct fleet *f, const struct fleet_opts *o, const char *host,
		      const char *data, size_t len);
/* Add an unreadable row for host with the given reason. */
void fleet_add_unreadable(struct fleet *f, const struct fleet_opts *o,
			  const char *host, const char *why);

/* Set an app's latest version from its channel file's text (untrusted;
 * NULL when there is none): the channel's version if the file parses,
 * else (worked out by fleet_finish) the highest version a host reports. */
void fleet_set_latest(struct fleet *f, const char *app, const char *channel_text,
		      size_t len);

/* Mark the rows of every host that the last fleet verify (its verdicts
 * file in dir, when there is one) found tampered with or whose key
 * changed: problem FLEET_TAMPERED, the verdict put before the error. A
 * malformed file is EXIT_DATAERR. */
int fleet_apply_verdicts(struct fleet *f, const char *dir, struct err *e);

/* Give every app a latest version, classify every row (stale, current,
 * problem), sort problems first (then by host and app) and index the rows
 * by app for fleet_count. Call after every report and latest is in. */
void fleet_finish(struct fleet *f, const struct fleet_opts *o);

/* The hosts to read: the names in hosts_file (one a line; blank lines and
 * '#' comments skipped) when not NULL, for servers that cannot list (http,
 * https); else the listing of REPO/reports/. Free with xfer_names_free. */
int fleet_hosts(struct xfer *x, const char *repo, const char *hosts_file,
		char ***names, size_t *n, struct err *e);

/* The whole view from the repository: list REPO/reports/ once (or read
 * o->hosts_file), then get every HOST/status.yaml (with o->keys_dir, also
 * its signature and the audit log, for fleet_verify_status; a status that
 * fails is read and checked once more, in case the agent was uploading)
 * and each app's channel file over the same transfer handle (one
 * connection), then the verdicts in o->keys_dir. Fails only when the
 * reports cannot be listed or KEYS/seen or the verdicts read. */
int fleet_load(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
	       struct err *e);

/* Each app's rollout plan on f->channel, when it has one (missing is
 * none; unreadable or badly signed is a plan with its error). */
void fleet_load_rollouts(struct xfer *x, const struct fleet_opts *o, struct fleet *f);
/* Per wave of p: its hosts, how many run p's version successfully, and
 * how many failed or rolled back. One pass over the rows. */
void fleet_rollout_progress(const struct fleet *f, const struct fleet_rollout *p,
			    struct fleet_wave_count out[FLEET_WAVES_MAX]);
void fleet_rollouts_release(struct fleet *f);
/* repo joined with path, without doubled '/' (allocated). */
char *fleet_repo_url(const char *repo, const char *path);

/* With o->keys_dir: remember each host's tampering in KEYS/tampered, and
 * keep a host that was tampered with tampered (its error saying when and
 * why) until REPO/reports/HOST/ack.yaml acknowledges what was seen
 * (fleet_ack.c). Fails only when KEYS/tampered cannot be read or written. */
int fleet_apply_tampered(struct xfer *x, const struct fleet_opts *o, struct fleet *f,
			 struct err *e);
/* upgr fleet ack: write REPO/reports/HOST/ack.yaml (who, when, the ID of
 * the tampering KEYS/tampered holds for host, and why), so that fleet
 * status stops showing that tampering. EXIT_DATAERR when none is held. */
int fleet_ack(struct xfer *x, const char *repo, const char *keys_dir, const char *host,
	      const char *who, time_t now, struct err *e);
/* Positions 0..nrows-1 ordered by the string field at offset off of each
 * row (offsetof(struct fleet_row, host)), then by position. */
size_t *fleet_row_index(const struct fleet *f, size_t off);

/* Get each of urls[0..n) (status.yaml files, FLEET_STATUS_MAX each) into
 * out[i], over o->jobs connections at once (handles made from o->xfer;
 * without it, over x alone, in order), through the cache in o->cache_dir
 * when set (fleet_fetch.c says when a cached copy is used). Fails only
 * when the cache directory is not private or its file cannot be written. */
int fleet_fetch(struct xfer *x, const struct fleet_opts *o, char **urls, size_t n,
		struct fleet_fetched *out, struct fleet_fetch_stats *stats, struct err *e);
/* Create the cache directory dir when missing (0700, its parents too) and
 * check it is private (fs_open_private_dir); EXIT_TRUST when it is not. */
int fleet_cache_check(const char *dir, struct err *e);
/* $XDG_CACHE_HOME/upgr/fleet, or ~/.cache/upgr/fleet; NULL without HOME. */
char *fleet_cache_default(void);

/* Comparisons made by the console's sorts and searches so far: the
 * operation count that shows its work grows as n log n in the hosts, not
 * n^2 (tests/cli/console.sh; printed with UPGR_FLEET_STATS=1). */
extern unsigned long long fleet_compares;

/* True when there is at least one row and no row is a problem. */
bool fleet_all_good(const struct fleet *f);
const char *fleet_problem_name(enum fleet_problem p);

/* Renderings, appended to out. Text: a table, problems first, then a
 * summary; control characters in report values are shown as '?'. JSON:
 * the shape in docs/fleet.md. HTML: one self-contained page (fleet_html.c),
 * every report value escaped. */
void fleet_text(const struct fleet *f, struct buf *out);
/* Text --problems: only the problem groups, one line each, and a count. */
void fleet_text_problems(const struct fleet *f, struct buf *out);
void fleet_json(const struct fleet *f, struct buf *out);
void fleet_html(const struct fleet *f, struct buf *out);

/* Helpers shared by the renderers. */
struct fleet_count {
	char *key;
	size_t n;
};
/* Counts of rows per key (of app's rows, or all rows when app is NULL), in
 * first-seen order; key_of picks the key (NULL: the row is not counted).
 * n log n in the rows counted: after fleet_finish only app's rows are. */
size_t fleet_count(const struct fleet *f, const char *(*key_of)(const struct fleet_row *),
		   const char *app, struct fleet_count **out);
void fleet_counts_free(struct fleet_count *c, size_t n);
/* The stale hosts, each once, in row order (pointers into f's rows). */
size_t fleet_stale_hosts(const struct fleet *f, const char ***out);
/* Rows grouped by (state, app, cause): the cause is the row's error for
 * the problems a run reports, else a sentence for its state ("runs 1.0.0",
 * "outside the rollout", the agent's waiting reason). Groups are ordered
 * worst state first, then most hosts; rows[] are row positions in row
 * order. With problems_only, only FLEET_IS_PROBLEM rows. n log n. */
struct fleet_group {
	enum fleet_problem state;
	const char *app;             /* points into the rows */
	char *cause;
	size_t *rows, n;
};
size_t fleet_groups(const struct fleet *f, bool problems_only, struct fleet_group **out);
void fleet_groups_free(struct fleet_group *g, size_t n);
/* The cause of r's state, as fleet_groups shows it (allocated). */
char *fleet_row_cause(const struct fleet *f, const struct fleet_row *r);
/* Number of distinct hosts, and of rows with a problem. */
size_t fleet_nhosts(const struct fleet *f);
size_t fleet_nproblems(const struct fleet *f);
/* Format t as YYYY-MM-DDTHH:MM:SSZ. */
void fleet_time_format(time_t t, char out[21]);

/* ---- fleet verify ------------------------------------------------------ */

enum fleet_verdict_kind {
	FLEET_V_OK,
	FLEET_V_TAMPERED,     /* signature, chain, checkpoint, or cut/rewritten */
	FLEET_V_KEY_CHANGED,  /* device.pub differs from the pinned key */
	FLEET_V_MISSING,      /* device.pub, audit.log or its signature absent */
	FLEET_V_ERROR,        /* could not fetch or store */
};

struct fleet_verdict {
	enum fleet_verdict_kind kind;
	char why[768];
	uint64_t seq;          /* records in the verified log */
	char head[65];
	bool pinned;           /* the key was pinned by this check */
};

/* The last seen seq and head of every host's log, kept in KEYS/seen. */
struct fleet_seen_entry {
	char *host;
	uint64_t seq;
	char head[65];
};
struct fleet_seen {
	struct fleet_seen_entry *v;
	size_t n;
};

/* Load DIR/seen (missing is empty; a malformed file is EXIT_DATAERR). */
int fleet_seen_load(const char *dir, struct fleet_seen *s, struct err *e);
/* Write DIR/seen durably (0600). */
int fleet_seen_save(const char *dir, const struct fleet_seen *s, struct err *e);
void fleet_seen_release(struct fleet_seen *s);

/* Append host's verdict to a verdicts file's text ("HOST\tKIND\tWHY\n",
 * KIND ok, tampered, key-changed, missing or error); written by the
 * caller to DIR/verdicts for fleet_apply_verdicts. */
void fleet_verdict_line(const char *host, const struct fleet_verdict *v, struct buf *out);

/* Verify host's uploaded audit log under REPO/reports/HOST/: device.pub
 * pinned in keys_dir/HOST.pub on first sight (0644), the log's minisign
 * signature by that key, its hash chain and newest record signature, the
 * checkpoint's trusted comment, and that it extends the seq/head last
 * seen (updated in seen when the log is ok). The verdict says why not.
 * Returns -1 only for local failures (cannot write the pin). */
int fleet_verify_host(struct xfer *x, const char *repo, const char *host,
		      const char *keys_dir, struct fleet_seen *seen,
		      struct fleet_verdict *v, struct err *e);
const char *fleet_verdict_name(enum fleet_verdict_kind k);

/* Check host's status.yaml (its bytes, as parsed into rows[0..n)) with the
 * device key pinned in keys_dir/HOST.pub: status.yaml.minisig must be that
 * key's signature of those bytes with the trusted comment "upgr status
 * host:HOST seq:N head:HEX" (the audit log's record count and head hash
 * when the agent made the report), the uploaded audit.log must verify with
 * the key, extend what KEYS/seen holds, have HEX as its hash at record N,
 * and its newest record of each app must say what the row says (action,
 * result, from, to and the installed version). Returns 0 when all hold;
 * else -1 with v: FLEET_V_TAMPERED (unsigned, badly signed, or
 * contradicted), FLEET_V_MISSING (no pinned key) or FLEET_V_ERROR. */
int fleet_verify_status(struct xfer *x, const char *repo, const char *host,
			const char *keys_dir, const struct fleet_seen *seen,
			const struct buf *status, const struct fleet_row *rows, size_t n,
			struct fleet_verdict *v);

#endif
