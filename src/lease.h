/* SPDX-License-Identifier: Apache-2.0 */
/* The HA group lease (`group: NAME` in the agent config): two hosts of one
 * group never stop their services at the same time. Built on what a dumb
 * server offers atomically (docs/operator.md "HA groups"):
 *
 *   REPO/groups/NAME/lease/          the lease; exists while someone holds it
 *   REPO/groups/NAME/lease/holder    "host: H", "expires: T", "nonce: N"
 *   REPO/groups/NAME/lease/.break    made (MKD) by the one host breaking an
 *                                    expired lease
 *   REPO/groups/NAME/.take-H-N/      a lease being prepared by host H
 *
 * Take: upload .take-H-N/holder, then rename .take-H-N to lease: the rename
 * fails on a lease that exists with a holder in it (a directory that is not
 * empty), so of two hosts taking at once exactly one gets it, and a lease
 * is never seen without its holder. A lease past its expiry is broken by
 * the host that makes lease/.break (MKD is atomic): it reads the holder
 * again under that marker (no new lease can appear while the marker keeps
 * the directory non-empty) and removes it only if still expired. Release:
 * the holder deletes its holder file, then the directory, and only while
 * the lease has not expired: an expired lease is no longer its own (another
 * host may already have broken it and taken a new one).
 *
 * All on the first configured server: a lease on two servers would be two
 * leases. Times are the agent's clock (window_now); hosts of a group must
 * keep their clocks in step to much less than LEASE_TTL. */
#ifndef UPGR_LEASE_H
#define UPGR_LEASE_H

#include <stdbool.h>
#include <time.h>
#include "err.h"

struct xfer;

/* How long a lease lasts: longer than the slowest stop, start and health
 * check of the group's apps, or another host may stop while this one is
 * still down. */
#define LEASE_TTL 1800

struct lease_holder {
	char host[256];            /* "" when the lease has no holder file */
	time_t expires;
	char nonce[33];
};

/* Take group's lease at base (a repository URL without trailing '/') for
 * host, now, until now + LEASE_TTL. Returns 1 when taken (*mine is the
 * holder written), 0 when another host holds it (*who says who and until
 * when; host "" for a lease being broken or prepared), -1 when the server
 * could not be asked (e). A lease this host left (a crashed run, whose
 * transaction the recovery has finished) is released first. */
int lease_take(struct xfer *x, const char *base, const char *group, const char *host,
	       time_t now, struct lease_holder *mine, struct lease_holder *who,
	       struct err *e);

/* Release group's lease if host holds it and it has not expired (a lease
 * of another host, or none, is left alone: 0). */
int lease_release(struct xfer *x, const char *base, const char *group, const char *host,
		  time_t now, struct err *e);

#endif
