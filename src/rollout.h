/* SPDX-License-Identifier: Apache-2.0 */
/* The rollout controller (docs/rollout.md): a release reaches the fleet in
 * waves, each a percentage of hosts chosen by the agents' own stable hash
 * (repo_rollout_includes), and stops by itself when too many fail. No
 * server process: the controller runs from cron on the console host
 * (`upgr rollout tick`), holds the channel role's key, and keeps its state
 * on the same dumb servers as everything else:
 *
 *   REPO/apps/APP/rollout/CHANNEL.yaml          the plan (rollout_plan.h)
 *   REPO/apps/APP/rollout/CHANNEL.yaml.minisig  signed by the controller key
 *   REPO/apps/APP/rollout/CHANNEL.log           its decisions, one signed,
 *   REPO/apps/APP/rollout/CHANNEL.log.minisig   chained audit record each
 *
 * Every change of the channel goes through publish_channel (publish.h):
 * the current channel verified, serial + 1 from the publisher's state, the
 * release already published and signed (approved, under a trust root).
 *
 * The channel during a rollout:
 *   running  version VERSION, rollout: the current wave's percent
 *   paused, halted   VERSION with rollout: 0 -- no host that has not
 *            upgraded starts, upgraded hosts stay (they are current)
 *   aborted  FROM with downgrade: true and rollout: 100 (when the key
 *            meets the release threshold; else it stays paused)
 *   done     VERSION at the last wave's percent
 *
 * A wave advances when every reporting host inside it has tried (runs
 * VERSION, or reports rolled-back or failed for it) and the soak has
 * passed since the later of the wave's start and its last success. It
 * halts, at once, when the failed share of the hosts that tried (in every
 * wave so far) exceeds max_failed. Hosts that do not report hold the wave:
 * status names them. Hosts with no report at all are unknown to it. */
#ifndef UPGR_ROLLOUT_H
#define UPGR_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "rollout_plan.h"

struct rollout_opts {
	const char *repo;            /* file, ftp, ftps, ftpes, sftp */
	const char *key;             /* the controller's (channel role) secret key */
	const char *passphrase_file;
	const char *channel;         /* default stable */
	const char *netrc, *ca_file, *ssh_key, *ssh_known_hosts;
	const char *state_dir;       /* the publisher's serials (publish.h) */
	const char *keys_dir;        /* fleet verify's pinned keys: check every
				      * status with them (fleet.h), or NULL */
	const char *const *trusted;  /* release public keys the release's manifest */
	size_t ntrusted;             /* may be signed with (no trust root) */
	long expires;                /* seconds each channel file stays valid */
	time_t now;
};

/* What one rollout's hosts say (rollout_view). */
struct rollout_view {
	struct rollout_plan plan;
	unsigned percent;            /* the current wave's share of hosts */
	size_t hosts;                /* reporting hosts of the app */
	size_t in_wave;              /* of them inside the current percent */
	size_t ok, failed, pending, silent, unverified;
	char **holding;              /* hosts inside the wave that have not tried */
	size_t nholding;
	char **failed_hosts;
	size_t nfailed;
	time_t soak_until;           /* when the wave is soaked */
};
void rollout_view_release(struct rollout_view *v);

/* Start a rollout of app version (already published) on o->channel: no
 * running, paused or halted rollout may be there; the channel is
 * re-signed at waves[0], then the plan and the log's first record are
 * uploaded. One line for the operator goes to out. */
int rollout_start(const struct rollout_opts *o, const char *app, const char *version,
		  const unsigned *waves, size_t nwaves, unsigned long long soak,
		  unsigned max_failed, struct buf *out, struct err *e);

/* One controller step for app (NULL: every app with a plan on o->channel):
 * advance, finish or halt each running rollout as the header says, one
 * line to out per decision and nothing when there is none. A plan that
 * does not verify with the key (or a channel key of the trust root) is
 * EXIT_TRUST and left alone. */
int rollout_tick(const struct rollout_opts *o, const char *app, struct buf *out,
		 struct err *e);

/* Every rollout's plan and hosts (app NULL: all) as text or JSON (the
 * shape in docs/rollout.md). */
int rollout_status(const struct rollout_opts *o, const char *app, bool json,
		   struct buf *out, struct err *e);

enum rollout_action { ROLLOUT_PAUSE, ROLLOUT_RESUME, ROLLOUT_ABORT };
/* Pause (channel at rollout 0), resume (the current wave's percent again,
 * its soak counted anew) or abort (pause, then the channel back to the
 * plan's from version with downgrade: true) the rollout of app, or of
 * every app with a live plan when app is NULL. */
int rollout_control(const struct rollout_opts *o, const char *app,
		    enum rollout_action a, struct buf *out, struct err *e);

#endif
