/* SPDX-License-Identifier: Apache-2.0 */
/* De-duplicated alerts; the contract is in alert.h. */
#include "alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY (24 * 3600)

enum alert_verdict alert_problem(const char *state_dir, const char *app, const char *key,
				 bool record, char was[STATE_NOTE_MAX], int *rc, struct err *e)
{
	enum alert_verdict v;

	*rc = 0;
	state_note_read(state_dir, app, STATE_PROBLEM, was);
	if (!strcmp(was, key))
		v = key[0] ? ALERT_SAME : ALERT_NONE;
	else
		v = key[0] ? ALERT_NEW : ALERT_CLEARED;
	if (record && (v == ALERT_NEW || v == ALERT_CLEARED))
		*rc = state_note_write(state_dir, app, STATE_PROBLEM, key, e);
	return v;
}

bool alert_expiry_due(const char *state_dir, const char *app, time_t expires, time_t now,
		      long window, bool once, bool record)
{
	char last[STATE_NOTE_MAX], stamp[32];
	long long then;
	struct err e;
	char *end;

	if (!window || expires - now > window)
		return false;
	state_note_read(state_dir, app, STATE_EXPIRY_WARNED, last);
	then = strtoll(last, &end, 10);
	/* A clock set back makes the last warning "in the future": warn. */
	if (once && last[0] && !*end && then <= (long long)now && (long long)now - then < DAY)
		return false;
	snprintf(stamp, sizeof stamp, "%lld", (long long)now);
	if (record)
		(void)state_note_write(state_dir, app, STATE_EXPIRY_WARNED, stamp, &e);
	return true;
}
