/* SPDX-License-Identifier: Apache-2.0 */
/* The rollout plan: what the controller (rollout.h) is doing with one
 * app's channel, kept on the repository at REPO/apps/APP/rollout/CHANNEL.yaml
 * with CHANNEL.yaml.minisig by the channel key (docs/rollout.md; the
 * console reads it too):
 *
 *   upgr: 1
 *   type: rollout
 *   app: hello
 *   channel: stable
 *   version: "1.2.0"                 the release being rolled out
 *   from: "1.1.0"                    the channel's version before ("" none)
 *   waves: [1, 10, 50, 100]          percent of hosts, strictly growing
 *   wave: 2                          the current wave, 1-based
 *   soak: 1800                       seconds a complete wave must stay good
 *   max_failed: 2.5                  percent, up to two decimals
 *   state: running                   running | paused | halted | aborted | done
 *   started: 2026-11-24T10:00:00Z
 *   wave_started: 2026-11-24T11:00:00Z
 *   reason: "wave 2 opened: ..."     the last decision, one line
 *
 * Parsed strictly (unknown keys, wrong types, bad values are positioned
 * errors); emitted canonically in that order. */
#ifndef UPGR_ROLLOUT_PLAN_H
#define UPGR_ROLLOUT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "diag.h"

#define ROLLOUT_PLAN_MAX_BYTES (16u << 10)
#define ROLLOUT_WAVES_MAX 32
#define ROLLOUT_SOAK_MAX (3650ULL * 86400)
#define ROLLOUT_REASON_MAX 512     /* bytes of the reason line */

enum rollout_state {
	ROLLOUT_RUNNING, ROLLOUT_PAUSED, ROLLOUT_HALTED, ROLLOUT_ABORTED, ROLLOUT_DONE,
};

struct rollout_plan {
	char *app, *channel;       /* channel_name_ok */
	char *version;             /* a semver */
	char *from;                /* a semver or "" */
	unsigned waves[ROLLOUT_WAVES_MAX];   /* 1..100, strictly growing */
	size_t nwaves;             /* >= 1 */
	unsigned wave;             /* 1..nwaves */
	uint64_t soak;             /* seconds */
	unsigned max_failed;       /* hundredths of a percent, 0..10000 */
	enum rollout_state state;
	time_t started, wave_started;
	char *reason;              /* one line, no control characters */
};

/* Parse and validate a plan held in memory (at most ROLLOUT_PLAN_MAX_BYTES).
 * Every problem goes into d with its position; returns 0 only when there
 * is none. On failure p is released. */
int rollout_plan_parse(const char *buf, size_t len, struct rollout_plan *p,
		       struct diag *d);
void rollout_plan_release(struct rollout_plan *p);
/* Append p canonically; rollout_plan_parse of it gives back an equal plan. */
void rollout_plan_emit(const struct rollout_plan *p, struct buf *out);

/* Set p->reason to text cut to one line of at most ROLLOUT_REASON_MAX
 * bytes, control characters replaced by '?'. */
void rollout_plan_set_reason(struct rollout_plan *p, const char *text);

/* "running", "paused", ...; rollout_state_parse returns -1 on other text. */
const char *rollout_state_name(enum rollout_state s);
int rollout_state_parse(const char *s, enum rollout_state *out);

/* "2", "2.5" or "0.25" percent from hundredths, and back: up to two
 * decimals, at most 100; -1 on anything else (an optional '%' is allowed
 * by rollout_percent_parse when allow_sign). */
void rollout_percent_format(unsigned hundredths, char out[8]);
int rollout_percent_parse(const char *s, bool allow_sign, unsigned *hundredths);

/* A list of wave percentages like "1,10,50,100" into waves (at most
 * ROLLOUT_WAVES_MAX, each 1..100, strictly growing); -1 otherwise. */
int rollout_waves_parse(const char *s, unsigned *waves, size_t *n);

#endif
