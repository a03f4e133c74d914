/* SPDX-License-Identifier: Apache-2.0 */
/* Pre-staging: window, freeze and group lease between the poll and the
 * apply (see prestage.h). */
#include "prestage.h"
#include "channel.h"
#include "fsutil.h"
#include "repo.h"
#include "state.h"
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The config's windows as one line: "A or B". */
static void windows_text(const struct config *c, char *out, size_t len)
{
	char one[128];
	size_t i, k = 0;

	out[0] = '\0';
	for (i = 0; i < c->nwindows && k < len; i++) {
		window_format(&c->windows[i], one, sizeof one);
		k += (size_t)snprintf(out + k, len - k, "%s%s", i ? " or " : "", one);
	}
}

/* Frozen or outside every window: the reason in why. */
static bool scheduled_out(const struct config *c, time_t now, char why[384])
{
	const struct freeze *f = window_frozen(c->freezes, c->nfreezes, now);
	char text[200];

	if (f) {
		window_format_freeze(f, text, sizeof text);
		snprintf(why, 384, "frozen: %s", text);
		return true;
	}
	if (!config_in_window(c, now)) {
		windows_text(c, text, sizeof text);
		snprintf(why, 384, "outside the maintenance window %s", text);
		return true;
	}
	return false;
}

/* STATE/lease-taken: written before this host tries for the group lease
 * and removed once it is released (or was not won), so that a run after
 * a crash knows to release it and the others ask the server nothing. A
 * marker without a lease costs one GET of the holder; a lease without a
 * marker cannot be: the marker goes first. */
static char *marker_path(const struct config *c)
{
	return fs_join(c->state_dir, STATE_LEASE);
}

static int marker_set(const struct config *c, struct err *e)
{
	char *p = marker_path(c);
	int rc = fs_write_atomic(p, c->group, strlen(c->group), 0600, e);

	free(p);
	return rc;
}

static void marker_clear(const struct config *c)
{
	char *p = marker_path(c);

	unlink(p);
	free(p);
}

static bool marker_is_set(const struct config *c)
{
	char *p = marker_path(c);
	bool set = access(p, F_OK) == 0;

	free(p);
	return set;
}

int prestage_gate(struct repo *r, const char *app, const char *release_dir,
		  struct prestage *ps, struct err *e)
{
	const struct config *c = r->c;
	struct lease_holder mine, who;
	char t[CHANNEL_TIME_LEN + 1];
	int fd, rc;

	memset(ps, 0, sizeof *ps);
	ps->now = window_now();
	/* What another user could write is no staged release of ours. */
	if ((fd = fs_open_private_dir(release_dir, e)) < 0)
		return err_prefix(e, "%s: staged release: ", app);
	close(fd);
	if (scheduled_out(c, ps->now, ps->why)) {
		ps->verdict = PRESTAGE_STAGED;
		return 0;
	}
	if (!c->group || r->dry_run)     /* a dry run takes no lease */
		return 0;
	if (marker_set(c, e) < 0)
		return err_prefix(e, "%s: ", app);
	rc = lease_take(repo_server(r, 0), c->servers[0], c->group, c->host, ps->now, &mine,
			&who, e);
	if (rc <= 0)
		marker_clear(c);
	if (rc < 0)
		return err_prefix(e, "%s: ", app);
	if (rc == 0) {
		ps->verdict = PRESTAGE_WAITING;
		channel_time_format(who.expires, t);
		if (who.host[0])
			snprintf(ps->why, sizeof ps->why, "group lease held by %s until %s",
				 who.host, t);
		else
			snprintf(ps->why, sizeof ps->why, "group lease being taken or broken by "
				 "another host");
		return 0;
	}
	ps->leased = true;
	return 0;
}

/* Release this host's lease on the first server, then its marker. */
static int release(struct repo *r, struct err *e)
{
	const struct config *c = r->c;

	if (lease_release(repo_server(r, 0), c->servers[0], c->group, c->host,
			  window_now(), e) < 0)
		return -1;
	marker_clear(c);
	return 0;
}

int prestage_done(struct repo *r, struct prestage *ps, struct err *e)
{
	if (!ps->leased)
		return 0;
	ps->leased = false;
	return release(r, e);
}

int prestage_recovered(struct repo *r, struct err *e)
{
	const struct config *c = r->c;

	if (!c->group || !c->nservers || !marker_is_set(c))
		return 0;
	return release(r, e);
}

bool prestage_note(const char *state_dir, const char *app, const char *state,
		   const char *why, const char *version)
{
	struct app_status st;
	struct err e;
	bool have, changed;

	if (state_status_read(state_dir, app, &st, &have, &e) < 0)
		return false;
	changed = strcmp(st.state, state) || strcmp(st.staged, state[0] ? version : "");
	if (!changed && !strcmp(st.waiting, why))
		return false;
	snprintf(st.app, sizeof st.app, "%s", app);
	snprintf(st.state, sizeof st.state, "%s", state);
	snprintf(st.waiting, sizeof st.waiting, "%s", state[0] ? why : "");
	snprintf(st.staged, sizeof st.staged, "%s", state[0] ? version : "");
	if (state_status_write(state_dir, &st, &e) < 0)
		return false;
	return changed;
}
