/* SPDX-License-Identifier: Apache-2.0 */
/* UTC time formatting (utc.h). */
#include "utc.h"

#include <stdio.h>
#include <string.h>

size_t utc_format(time_t t, long ms, enum utc_style style, char *out, size_t size)
{
	static const char epoch[] = "1970-01-01T00:00:00";
	char tail[16] = "";
	struct tm tm;
	size_t n;

	if (!gmtime_r(&t, &tm) ||
	    strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm) != sizeof epoch - 1)
		snprintf(out, size, "%s", epoch);
	if (style == UTC_MILLIS_Z)
		snprintf(tail, sizeof tail, ".%03u", (unsigned)(ms % 1000 + 1000) % 1000);
	if (style != UTC_SECONDS)
		strcat(tail, "Z");
	n = strlen(out);
	snprintf(out + n, size - n, "%s", tail);
	return strlen(out);
}

void utc_now(char out[UTC_TIME_MAX])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	utc_format(ts.tv_sec, ts.tv_nsec / 1000000, UTC_MILLIS_Z, out, UTC_TIME_MAX);
}
