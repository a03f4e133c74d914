/* SPDX-License-Identifier: Apache-2.0 */
/* Maintenance windows and freezes (see window.h). */
#include "window.h"
#include "channel.h"
#include "xalloc.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONEINFO "/usr/share/zoneinfo/"

static const char *const day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

/* Where parsing stands: the text, the position, and the first error. */
struct scan {
	const char *s;
	size_t i;
	size_t col;
	char *why;
	bool failed;
};

static int fail(struct scan *sc, size_t at, const char *why)
{
	if (!sc->failed) {
		sc->failed = true;
		sc->col = at;
		snprintf(sc->why, WINDOW_WHY_MAX, "%s", why);
	}
	return -1;
}

static int day_at(struct scan *sc)
{
	int d;

	for (d = 0; d < 7; d++)
		if (!strncasecmp(sc->s + sc->i, day_names[d], 3) &&
		    !isalpha((unsigned char)sc->s[sc->i + 3])) {
			sc->i += 3;
			return d;
		}
	return fail(sc, sc->i, "expected a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)");
}

/* DAYS: "Mon", "Sat,Sun", "Mon-Fri", "Fri-Mon" (wraps past Sunday). */
static int days_at(struct scan *sc, unsigned *days)
{
	for (;;) {
		int a = day_at(sc), b;

		if (a < 0)
			return -1;
		b = a;
		if (sc->s[sc->i] == '-') {
			sc->i++;
			if ((b = day_at(sc)) < 0)
				return -1;
		}
		for (;; a = (a + 1) % 7) {
			*days |= 1u << a;
			if (a == b)
				break;
		}
		if (sc->s[sc->i] != ',')
			return 0;
		sc->i++;
	}
}

/* "HH:MM" into minutes after midnight. */
static int hhmm_at(struct scan *sc, int *out)
{
	const char *p = sc->s + sc->i;
	int h, m;

	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
	    !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
		return fail(sc, sc->i, "expected a time HH:MM");
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (h > 23)
		return fail(sc, sc->i, "hour past 23");
	if (m > 59)
		return fail(sc, sc->i + 3, "minute past 59");
	sc->i += 5;
	*out = h * 60 + m;
	return 0;
}

bool window_zone_ok(const char *zone)
{
	char magic[4], *path;
	struct stat st;
	const char *p;
	bool ok = false;
	int fd;

	if (!zone[0] || strlen(zone) >= WINDOW_ZONE_MAX || zone[0] == '/')
		return false;
	for (p = zone; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_+-/", *p))
			return false;
	if (strstr(zone, "//") || zone[strlen(zone) - 1] == '/')
		return false;
	path = xasprintf(ZONEINFO "%s", zone);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)    /* zoneinfo names are often symlinks (Europe/Paris -> ...) */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, 4) == 4 && !memcmp(magic, "TZif", 4))
		ok = true;
	if (fd >= 0)
		close(fd);
	free(path);
	return ok;
}

/* " ZONE" at the end, optional. */
static int zone_at(struct scan *sc, char zone[WINDOW_ZONE_MAX])
{
	size_t start;

	zone[0] = '\0';
	if (!sc->s[sc->i])
		return 0;
	if (sc->s[sc->i] != ' ')
		return fail(sc, sc->i, "expected a space and a time zone, or the end");
	while (sc->s[sc->i] == ' ')
		sc->i++;
	start = sc->i;
	if (!sc->s[start])
		return fail(sc, start, "expected a time zone after the space");
	if (strlen(sc->s + start) >= WINDOW_ZONE_MAX || !window_zone_ok(sc->s + start))
		return fail(sc, start, "not a time zone of the tz database (/usr/share/zoneinfo)");
	snprintf(zone, WINDOW_ZONE_MAX, "%s", sc->s + start);
	sc->i += strlen(zone);
	return 0;
}

int window_parse(const char *s, struct window *w, size_t *col, char why[WINDOW_WHY_MAX])
{
	struct scan sc = { .s = s, .why = why };

	memset(w, 0, sizeof *w);
	if (isalpha((unsigned char)s[0])) {
		if (days_at(&sc, &w->days) < 0)
			goto done;
		if (s[sc.i] != ' ') {
			fail(&sc, sc.i, "expected a space after the days");
			goto done;
		}
		while (s[sc.i] == ' ')
			sc.i++;
	} else {
		w->days = 0x7f;
	}
	if (hhmm_at(&sc, &w->start) < 0)
		goto done;
	if (s[sc.i] != '-') {
		fail(&sc, sc.i, "expected '-' between the start and the end");
		goto done;
	}
	sc.i++;
	if (hhmm_at(&sc, &w->end) < 0)
		goto done;
	if (w->start == w->end) {
		fail(&sc, sc.i - 5, "start and end are the same time");
		goto done;
	}
	zone_at(&sc, w->zone);
done:
	*col = sc.col;
	return sc.failed ? -1 : 0;
}

/* "YYYY-MM-DD" into days since the epoch. */
static int date_at(struct scan *sc, long *days)
{
	char t[CHANNEL_TIME_LEN + 1];
	time_t v;

	snprintf(t, sizeof t, "%.10sT00:00:00Z", sc->s + sc->i);
	if (strlen(sc->s + sc->i) < 10 || channel_time_parse(t, &v) < 0)
		return fail(sc, sc->i, "expected a date YYYY-MM-DD");
	sc->i += 10;
	*days = (long)(v / 86400);
	return 0;
}

int window_parse_freeze(const char *s, struct freeze *f, size_t *col,
			char why[WINDOW_WHY_MAX])
{
	struct scan sc = { .s = s, .why = why };

	memset(f, 0, sizeof *f);
	if (date_at(&sc, &f->from) < 0)
		goto done;
	f->to = f->from;
	if (!strncmp(s + sc.i, "..", 2)) {
		size_t at;

		sc.i += 2;
		at = sc.i;
		if (date_at(&sc, &f->to) < 0)
			goto done;
		if (f->to < f->from) {
			fail(&sc, at, "the range ends before it starts");
			goto done;
		}
	}
	zone_at(&sc, f->zone);
done:
	*col = sc.col;
	return sc.failed ? -1 : 0;
}

void window_localtime(time_t t, const char *zone, struct tm *tm)
{
	const char *old;
	char *saved = NULL;

	if (!zone[0]) {
		localtime_r(&t, tm);
		return;
	}
	old = getenv("TZ");
	if (old)
		saved = xstrdup(old);
	setenv("TZ", zone, 1);
	tzset();
	localtime_r(&t, tm);
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

static bool in_one(const struct window *w, time_t now)
{
	struct tm tm;
	int m, yesterday;

	window_localtime(now, w->zone, &tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	yesterday = (tm.tm_wday + 6) % 7;
	if (w->start < w->end)
		return (w->days >> tm.tm_wday & 1) && m >= w->start && m < w->end;
	/* Crosses midnight: the evening of a listed day, or the morning after. */
	return ((w->days >> tm.tm_wday & 1) && m >= w->start) ||
	       ((w->days >> yesterday & 1) && m < w->end);
}

bool window_open(const struct window *w, size_t n, time_t now)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (in_one(&w[i], now))
			return true;
	return n == 0;
}

const struct freeze *window_frozen(const struct freeze *f, size_t n, time_t now)
{
	struct tm tm;
	char t[64];
	time_t day;
	size_t i;

	for (i = 0; i < n; i++) {
		window_localtime(now, f[i].zone, &tm);
		snprintf(t, sizeof t, "%04d-%02d-%02dT00:00:00Z", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday);
		if (channel_time_parse(t, &day) == 0 && day / 86400 >= f[i].from &&
		    day / 86400 <= f[i].to)
			return &f[i];
	}
	return NULL;
}

void window_format(const struct window *w, char *out, size_t len)
{
	size_t k = 0;
	int d;

	out[0] = '\0';
	if (w->days != 0x7f)
		for (d = 1; d <= 7; d++)       /* Monday first */
			if (w->days >> (d % 7) & 1)
				k += (size_t)snprintf(out + k, k < len ? len - k : 0, "%s%s",
						      k ? "," : "", day_names[d % 7]);
	if (k >= len)
		return;
	snprintf(out + k, len - k, "%s%02d:%02d-%02d:%02d%s%s", k ? " " : "",
		 w->start / 60, w->start % 60, w->end / 60, w->end % 60,
		 w->zone[0] ? " " : "", w->zone);
}

static void format_day(long days, char out[11])
{
	char t[32];

	channel_time_format((time_t)days * 86400, t);
	snprintf(out, 11, "%.10s", t);
}

void window_format_freeze(const struct freeze *f, char *out, size_t len)
{
	char a[11], b[11];

	format_day(f->from, a);
	format_day(f->to, b);
	snprintf(out, len, "%s%s%s%s%s", a, f->to != f->from ? ".." : "",
		 f->to != f->from ? b : "", f->zone[0] ? " " : "", f->zone);
}

time_t window_now(void)
{
	const char *s = getenv("UPGR_NOW");
	time_t t;
	char *end;
	long long v;

	if (!s || !*s)
		return time(NULL);
	if (channel_time_parse(s, &t) == 0)
		return t;
	v = strtoll(s, &end, 10);
	return *end || v < 0 ? time(NULL) : (time_t)v;
}
