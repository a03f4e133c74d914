/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's durable local state, under the config's state_dir:
 *
 *   STATE/lock                      fcntl lock: one upgr per state dir
 *   STATE/lease-taken               the HA group lease may be this host's (prestage.c)
 *   STATE/apps/APP/manifest.yaml    the installed release's manifest
 *   STATE/apps/APP/previous.yaml    the manifest of the version before it (rollback)
 *   STATE/apps/APP/status.yaml      last action, result, time, error
 *   STATE/apps/APP/serial           highest serial seen per channel (replay defence)
 *   STATE/apps/APP/refused          refusals recorded since the last clean poll
 *   STATE/apps/APP/journal          an interrupted transaction (txn.c)
 *   STATE/apps/APP/hold             held: `upgr run` does not upgrade it
 *   STATE/apps/APP/problem          the persisting problem last said under cron
 *   STATE/apps/APP/expiry-warned    when a channel about to expire was last warned of
 *   STATE/apps/APP/failures         consecutive failed runs (metrics)
 *   STATE/cache/APP/VERSION/        downloaded releases (agent)
 *
 * Every file is written with fs_write_atomic. */
#ifndef UPGR_STATE_H
#define UPGR_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "manifest.h"

/* The names of the state files (see above), joined to their directory
 * only through these (state_app_file, fs_join). */
#define STATE_LOCK       "lock"
#define STATE_APPS       "apps"
#define STATE_CACHE      "cache"
#define STATE_INSTALLED  "manifest.yaml"
#define STATE_NEXT       "manifest.next.yaml"
#define STATE_PREVIOUS   "previous.yaml"
#define STATE_LAST_TXN   "last-txn"
#define STATE_STATUS     "status.yaml"
#define STATE_SERIAL     "serial"
#define STATE_REFUSED    "refused"
#define STATE_JOURNAL    "journal"
#define STATE_HOLD       "hold"
#define STATE_PROBLEM    "problem"
#define STATE_EXPIRY_WARNED "expiry-warned"
#define STATE_FAILURES   "failures"
#define STATE_LEASE      "lease-taken"   /* STATE/: the group lease may be ours */

/* Take the state directory's lock without waiting (creating the directory
 * 0700 when missing). Another holder: EXIT_LOCKED. *fd keeps the lock
 * until state_unlock or exit. First refused (EXIT_DATAERR): a state
 * directory, apps/, cache/ or apps/APP/ owned by another user than this one
 * or root, or writable by group or others; apps/, cache/, apps/APP/ or a
 * file in apps/APP/ that is a symlink (nothing in the state leads out). */
int state_lock(const char *state_dir, int *fd, struct err *e);
void state_unlock(int fd);

/* STATE/apps/APP (allocated). */
char *state_app_dir(const char *state_dir, const char *app);
/* STATE/apps/APP/name, name one of the STATE_* above (allocated). */
char *state_app_file(const char *state_dir, const char *app, const char *name);

/* What a tick needs of app's installed manifest, without parsing it:
 * *same when its bytes are exactly those whose sha256 is sha256_hex (a
 * verified channel's manifest_sha256), and its version as the top of the
 * file gives it (ydoc_peek; "" when it does not). false when none is
 * installed or it cannot be read. The rest is for state_installed to
 * parse, and whoever uses the rest does. */
bool state_installed_peek(const char *state_dir, const char *app, const char *sha256_hex,
			 bool *same, char *version, size_t len);
/* Load the installed manifest of app; *have = false when none. */
int state_installed(const char *state_dir, const char *app,
		    struct manifest *m, bool *have, struct err *e);

struct app_status {
	char app[64];
	char version[64];        /* installed version, "" when none */
	char action[16];         /* install, upgrade, rollback, recover, refuse */
	char from[64], to[64];
	char result[16];         /* success, rolled-back, failed, refused */
	char time[32];           /* UTC, ISO 8601 with ms */
	char error[1024];
	/* What the last poll found (state_set_poll), beside the last result: */
	char state[16];          /* current, waiting, held, staged, "" (not polled) */
	char waiting[256];       /* state waiting or staged: why ("rollout 10% does
				  * not ...", "outside the window ...") */
	char server[512];        /* the server the last poll used, "" none */
	char failed[1024];       /* the servers that failed it: "URL: why; ...", "" */
	char staged[64];         /* state staged: the version ready in the cache
				  * (prestage.h) */
};

int state_status_read(const char *state_dir, const char *app,
		      struct app_status *s, bool *have, struct err *e);
int state_status_write(const char *state_dir, const struct app_status *s,
		       struct err *e);

/* Record what app's poll found in its status.yaml, keeping the last
 * result: state (current, waiting, held, or "" for none) and, for
 * waiting, why (one line a person reads: "rollout 10% does not include
 * host web-17", "not before ...", "outside the window ...", "waiting for
 * approval (1 of 2)"). Written only when it changes (one cron tick a
 * minute must not rewrite the file a minute). */
int state_set_poll(const char *state_dir, const char *app, const char *state,
		   const char *why, struct err *e);
/* The reason app waits: state_set_poll(..., "waiting", reason, e). */
int state_set_waiting(const char *state_dir, const char *app, const char *reason,
		      struct err *e);
/* Record the server app's last poll used ("" when none answered) and the
 * servers that failed it ("URL: why; ...", "" for none), the same way. */
int state_set_servers(const char *state_dir, const char *app, const char *server,
		      const char *failed, struct err *e);

/* Highest serial seen for app's channel (0 when none), and its update:
 * one line "CHANNEL SERIAL" per channel in STATE/apps/APP/serial, so
 * moving a host from beta to stable does not read as a replay. A bare
 * "SERIAL" line (the per-app file of an older upgr) counts for the
 * channel asked about, the configured one, and is rewritten as its line
 * on the next update. */
int state_serial_read(const char *state_dir, const char *app, const char *channel,
		      uint64_t *serial, struct err *e);
int state_serial_write(const char *state_dir, const char *app, const char *channel,
		       uint64_t serial, struct err *e);

/* The refusals of app recorded since its last clean poll, one line
 * "CAUSE SERVER" each (SERVER "-" for one that no server caused) in
 * STATE/apps/APP/refused: a refusal is recorded once per cause and
 * server, however its message varies, until the app polls clean
 * (state_refused_clear). */
bool state_refused_seen(const char *state_dir, const char *app, const char *cause,
			const char *server);
int state_refused_add(const char *state_dir, const char *app, const char *cause,
		      const char *server, struct err *e);
int state_refused_clear(const char *state_dir, const char *app, struct err *e);

/* A hold on app (upgr hold, or a manual rollback): `upgr run` leaves it
 * at version. reason "manual" lasts until `upgr unhold`; "rollback"
 * also ends when the channel names a version other than from, the one
 * rolled back from. user and time say who held it and when. */
struct app_hold {
	char version[64];
	char reason[16];         /* manual, rollback */
	char from[64];           /* rollback: the version rolled back from */
	char user[64];
	char time[32];
};

/* A hold at version for reason (from: see above), by this user
 * ($SUDO_USER when set), now. */
void state_hold_init(struct app_hold *h, const char *version, const char *reason,
		     const char *from);
/* *have = false when app is not held. */
int state_hold_read(const char *state_dir, const char *app, struct app_hold *h,
		    bool *have, struct err *e);
int state_hold_write(const char *state_dir, const char *app, const struct app_hold *h,
		     struct err *e);
/* Whether h still holds the app when the channel names version: a
 * rollback's hold ends at any version other than its from. */
bool state_hold_applies(const struct app_hold *h, const char *version);
/* Release the hold (none is fine). */
int state_hold_clear(const char *state_dir, const char *app, struct err *e);

/* A one-line note in STATE/apps/APP/NAME: STATE_PROBLEM, the persisting
 * problem (a poll failure's class, e.g. "trust expired", "unavailable")
 * last said for app under cron, so the agent says a problem when it
 * starts, changes or clears, not every tick; STATE_EXPIRY_WARNED, the
 * time (seconds since the epoch) of the last warning of a channel about
 * to expire. A missing or unreadable note reads as "" (said again);
 * writing "" removes the file. */
#define STATE_NOTE_MAX 128
void state_note_read(const char *state_dir, const char *app, const char *name,
		     char note[STATE_NOTE_MAX]);
int state_note_write(const char *state_dir, const char *app, const char *name,
		     const char *note, struct err *e);

/* Current UTC time as 2026-11-24T02:00:03.123Z (utc_now). */
void state_now(char out[32]);

#endif
