/* SPDX-License-Identifier: Apache-2.0 */
/* The channel file (DESIGN.md "Repository layout", contract): the small,
 * signed version information file that an agent fetches every tick, at
 * REPO/apps/APP/channels/CHANNEL.yaml:
 *
 *   upgr: 1
 *   app: hello
 *   channel: stable
 *   serial: 17
 *   version: 1.2.0
 *   manifest: releases/1.2.0/manifest.yaml      (relative to REPO/apps/APP/)
 *   manifest_sha256: <64 hex>
 *   published: 2026-11-24T10:00:00Z
 *   expires: 2026-12-24T10:00:00Z
 *   not_before: 2026-11-25T02:00:00Z            (optional)
 *   rollout: 100                                (optional, default 100)
 *   downgrade: false                            (optional, default false)
 *   root: 3                                     (optional: the newest trust
 *                                               root; a host with a lower one
 *                                               fetches root/N+1 at once)
 *
 * Parsed strictly like manifests (unknown keys, wrong types and bad values
 * are positioned errors). Times are UTC, exactly YYYY-MM-DDTHH:MM:SSZ. */
#ifndef UPGR_CHANNEL_H
#define UPGR_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "diag.h"
#include "version.h"

/* Refused without parsing when larger: a channel file is a few hundred
 * bytes, and the agent caps its download at this size too. */
#define CHANNEL_MAX_BYTES (64u << 10)

struct channel {
	char *app;                 /* [a-z0-9][a-z0-9._-]{0,63} */
	char *channel;             /* the same rule */
	uint64_t serial;           /* >= 1 */
	char *version;
	struct semver semver;
	char *manifest;            /* relative path, normalised, no ".." */
	char manifest_sha256[65];  /* lower-case hex */
	time_t published;
	time_t expires;            /* later than published */
	bool has_not_before;
	time_t not_before;
	unsigned rollout;          /* percent, 0..100 */
	bool downgrade;
	uint64_t root;             /* 0: not named */
};

/* Parse and validate a channel file held in memory (at most
 * CHANNEL_MAX_BYTES). Every problem goes into d with its position; returns
 * 0 only when there is none. On failure ch is released. */
int channel_parse(const char *buf, size_t len, struct channel *ch, struct diag *d);
void channel_release(struct channel *ch);

/* Append ch as a canonical channel file (the keys in the order above;
 * not_before only when set). channel_parse of the output gives back an
 * equal struct. */
void channel_emit(const struct channel *ch, struct buf *out);

/* True when name is a valid app or channel name. */
bool channel_name_ok(const char *name);

#define CHANNEL_TIME_LEN 20        /* strlen("2026-11-24T10:00:00Z") */

/* Parse exactly YYYY-MM-DDTHH:MM:SSZ (UTC; real calendar dates, no leap
 * seconds, years 1970..9999) into *t. Returns 0, or -1 on anything else. */
int channel_time_parse(const char *s, time_t *t);

/* The YAML readers channel files and their kin (rollout plans) share;
 * each problem goes into d at its position. channel_get_name: root[key]
 * is a string that channel_name_ok accepts, *out a copy (left alone when
 * missing or bad). channel_get_time: root[key] a UTC time as above into
 * *t; *has whether it was there and good. */
struct ynode;
struct diag;
void channel_get_name(const struct ynode *root, const char *key, char **out,
		      struct diag *d);
void channel_get_time(const struct ynode *root, const char *key, bool *has, time_t *t,
		      struct diag *d);
/* Format t (UTC) as YYYY-MM-DDTHH:MM:SSZ. */
void channel_time_format(time_t t, char out[CHANNEL_TIME_LEN + 1]);

#endif
