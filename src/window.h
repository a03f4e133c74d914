/* SPDX-License-Identifier: Apache-2.0 */
/* Maintenance windows and freezes of the agent config (`window:`,
 * `freeze:`; docs/upgr.yaml.5): when this host may stop its services.
 *
 *   window  [DAYS ]HH:MM-HH:MM[ ZONE]      "Sat,Sun 01:00-05:00 Europe/Paris"
 *           DAYS  Mon..Sun, comma-separated, or ranges (Mon-Fri); every
 *                 day when left out. A window whose end is not after its
 *                 start crosses midnight and belongs to the day it starts.
 *           ZONE  a name of the system's tz database (/usr/share/zoneinfo),
 *                 local time (TZ, /etc/localtime) when left out.
 *   freeze  YYYY-MM-DD[..YYYY-MM-DD][ ZONE] whole days, both ends included
 *
 * Times are wall-clock times in the zone, as localtime(3) gives them: on a
 * spring-forward date a window loses the skipped hour, on a fall-back
 * date it gains the repeated one. */
#ifndef UPGR_WINDOW_H
#define UPGR_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define WINDOW_ZONE_MAX 64
#define WINDOW_WHY_MAX 160

struct window {
	unsigned days;             /* bit 0 Sunday .. bit 6 Saturday */
	int start, end;            /* minutes after midnight; end <= start wraps */
	char zone[WINDOW_ZONE_MAX];   /* "" for local time */
};

struct freeze {
	long from, to;             /* days since 1970-01-01, both included */
	char zone[WINDOW_ZONE_MAX];
};

/* Parse one window (one freeze) from s. On error returns -1 with *col
 * the 0-based offset in s where the problem starts and why a message
 * without position. */
int window_parse(const char *s, struct window *w, size_t *col, char why[WINDOW_WHY_MAX]);
int window_parse_freeze(const char *s, struct freeze *f, size_t *col,
			char why[WINDOW_WHY_MAX]);

/* Whether zone names a tz database file (a relative name of [A-Za-z0-9_+-/]
 * parts, no "." or ".." part, a regular file starting "TZif"). */
bool window_zone_ok(const char *zone);

/* Broken-down wall-clock time of t in zone ("" local). The process's TZ is
 * put back as it was before returning, so children started later see the
 * environment they would have. */
void window_localtime(time_t t, const char *zone, struct tm *tm);

/* Whether now falls inside one of the n windows (true when n is 0). */
bool window_open(const struct window *w, size_t n, time_t now);
/* The freeze now falls in, or NULL. */
const struct freeze *window_frozen(const struct freeze *f, size_t n, time_t now);

/* w as the config writes it ("Sat,Sun 01:00-05:00 Europe/Paris"). */
void window_format(const struct window *w, char *out, size_t len);
/* f as the config writes it. */
void window_format_freeze(const struct freeze *f, char *out, size_t len);

/* The clock the schedule is judged by: time(NULL), or UPGR_NOW (a test
 * hook: seconds since the epoch, or YYYY-MM-DDTHH:MM:SSZ) when set. */
time_t window_now(void);

#endif
