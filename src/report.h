/* SPDX-License-Identifier: Apache-2.0 */
/* The host's report to the repository, read by the fleet console
 * (`upgr fleet status`). After a run that did something, and otherwise at
 * most every `heartbeat` minutes, the agent uploads to the first server
 * that takes it (each file by temporary name and rename):
 *
 *   REPO/reports/HOST/audit.log           the whole signed audit log
 *   REPO/reports/HOST/audit.log.minisig   signed by the device key
 *   REPO/reports/HOST/device.pub          the device key's public half
 *   REPO/reports/HOST/status.yaml.minisig the status signed by the device key,
 *                                         trusted comment "upgr status
 *                                         host:HOST seq:N head:HEX" (the
 *                                         log's records and head hash)
 *   REPO/reports/HOST/status.yaml         last, so it names a complete set
 *
 * status.yaml (docs/report-format.md; every value a double-quoted string
 * except upgr):
 *
 *   upgr: 1
 *   host: "web-17"
 *   time: "2026-11-24T02:00:03.123Z"      when the report was made (UTC)
 *   apps:
 *     - app: "hello"
 *       version: "1.2.0"                  installed now, "" when none
 *       result: "success"                 success | rolled-back | failed |
 *                                         refused | unavailable | ""
 *       time: "2026-11-24T02:00:01.000Z"  of that result, "" when none
 *       action: "upgrade"                 install | upgrade | downgrade |
 *                                         rollback | recover | refuse | poll
 *       from: "1.1.0"
 *       to: "1.2.0"
 *       error: ""                         one line, "" when none
 *   warnings:                             only when there is one: host-level
 *     - "trust root version 3 expires ..." notes for the console (today the
 *                                         trust root's expiry, within 14 days)
 *
 * A failed upload leaves STATE/report-pending (holding the error), and the
 * next run reports whatever it did: the report is rebuilt from the durable
 * state each time, so nothing is lost. STATE/report-last's time is when
 * the last report went up. */
#ifndef UPGR_REPORT_H
#define UPGR_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "repo.h"
#include "state.h"

/* Append status.yaml's text for host at time (state_now format). */
void report_format(const char *host, const char *time,
		   const struct app_status *apps, size_t n, struct buf *out);

/* Whether this run should report: it did something, an earlier report is
 * pending, or the last report is heartbeat minutes old (or absent). */
bool report_due(const struct config *c, bool did_something);

/* Build and upload the report (see above). On failure STATE/report-pending
 * is written and e says why; on success it is removed. */
int report_send(struct repo *r, const struct app_status *apps, size_t n,
		struct err *e);

/* Leave STATE/report-pending without trying (no server answered). */
void report_mark_pending(const struct config *c, const char *why);

#endif
