/* SPDX-License-Identifier: Apache-2.0 */
/* UTC times as upgr writes them: the audit log, the status, the report
 * and the channel file's times all come from utc_format. */
#ifndef UPGR_UTC_H
#define UPGR_UTC_H

#include <stddef.h>
#include <time.h>

#define UTC_TIME_MAX 32          /* room for every style, with the NUL */

enum utc_style {
	UTC_SECONDS,             /* 2026-12-01T11:31:23 */
	UTC_SECONDS_Z,           /* 2026-12-01T11:31:23Z (channel files) */
	UTC_MILLIS_Z,            /* 2026-12-01T11:31:23.456Z (audit log, status) */
};

/* Write t (and ms, 0 to 999, for UTC_MILLIS_Z) in style into out (size
 * bytes, the style's length and a NUL at least). A time that gmtime_r
 * cannot break down, or whose year is not four digits, is written as the
 * epoch (1970-01-01T00:00:00). Returns the length written. */
size_t utc_format(time_t t, long ms, enum utc_style style, char *out, size_t size);

/* Now (CLOCK_REALTIME), UTC_MILLIS_Z. */
void utc_now(char out[UTC_TIME_MAX]);

#endif
