/* SPDX-License-Identifier: Apache-2.0 */
/* upgr status: what is installed here, and how the last run went. */
#include "buf.h"
#include "cli.h"
#include "cmd_common.h"
#include "fsutil.h"
#include "pending.h"
#include "state.h"
#include "utc.h"
#include "xalloc.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The apps the config names plus any the state dir knows, sorted, unique. */
static char **list_apps(const struct config *c, size_t *n)
{
	char *dir = fs_join(c->state_dir, STATE_APPS), **v = NULL;
	struct dirent *de;
	size_t i, k = 0;
	DIR *d;

	for (i = 0; i < c->napps; i++) {
		v = xreallocarray(v, k + 1, sizeof *v);
		v[k++] = xstrdup(c->apps[i]);
	}
	if ((d = opendir(dir))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			v = xreallocarray(v, k + 1, sizeof *v);
			v[k++] = xstrdup(de->d_name);
		}
		closedir(d);
	}
	free(dir);
	if (k)
		qsort(v, k, sizeof *v, by_name);
	for (i = 0, *n = 0; i < k; i++) {
		if (*n && !strcmp(v[*n - 1], v[i]))
			free(v[i]);
		else
			v[(*n)++] = v[i];
	}
	return v;
}

/* Everything `upgr status` says about one app. */
struct app_view {
	struct app_status s;
	struct app_hold h;
	bool held;
	struct pending pd;
	bool interrupted;
	char **configs;          /* config files whose .upgr-new waits to be merged */
	size_t nconfigs;
};

static void view_release(struct app_view *v)
{
	size_t i;

	for (i = 0; i < v->nconfigs; i++)
		free(v->configs[i]);
	free(v->configs);
}

/* The installed release's config files that have a PATH.upgr-new beside
 * them under the target: a new version a person has not merged yet. */
static int find_configs(const struct config *c, const char *app, struct app_view *v,
			struct err *e)
{
	struct manifest m;
	struct stat st;
	bool have;
	char *target;
	size_t i;

	if (state_installed(c->state_dir, app, &m, &have, e) < 0)
		return -1;
	if (!have)
		return 0;
	target = fs_under_root(c->root, m.target);
	for (i = 0; i < m.nfiles; i++) {
		char *path;

		if (!m.files[i].config)
			continue;
		path = xasprintf("%s/%s.upgr-new", target, m.files[i].path);
		if (lstat(path, &st) == 0) {
			v->configs = xreallocarray(v->configs, v->nconfigs + 1, sizeof *v->configs);
			v->configs[v->nconfigs++] = xstrdup(m.files[i].path);
		}
		free(path);
	}
	free(target);
	manifest_release(&m);
	return 0;
}

static int view_load(const struct config *c, const char *app, struct app_view *v,
		     struct err *e)
{
	bool have;

	memset(v, 0, sizeof *v);
	if (state_status_read(c->state_dir, app, &v->s, &have, e) < 0 ||
	    state_hold_read(c->state_dir, app, &v->h, &v->held, e) < 0 ||
	    pending_read(c->state_dir, app, &v->pd, &v->interrupted, e) < 0 ||
	    find_configs(c, app, v, e) < 0)
		return -1;
	if (!have)
		snprintf(v->s.app, sizeof v->s.app, "%s", app);
	return 0;
}

/* What the app is doing now: interrupted, held, or the last poll's state. */
static const char *view_state(const struct app_view *v)
{
	return v->interrupted ? "interrupted" : v->held ? "held" : v->s.state;
}

static void json_field(struct buf *b, const char *key, const char *val, bool last)
{
	buf_addf(b, "\"%s\": ", key);
	buf_add_quoted(b, val);
	buf_adds(b, last ? "" : ", ");
}

/* "NAME": {KEY: VAL, ...}, or "NAME": null when have is false; then ", ". */
static void json_object(struct buf *b, const char *name, bool have, const char *const *keys,
			const char *const *vals, size_t n)
{
	size_t i;

	buf_addf(b, "\"%s\": %s", name, have ? "{" : "null, ");
	for (i = 0; have && i < n; i++)
		json_field(b, keys[i], vals[i], i + 1 == n);
	if (have)
		buf_adds(b, "}, ");
}

static void json_hold(const struct app_view *v, struct buf *b)
{
	static const char *const keys[] = { "version", "reason", "from", "user", "time" };
	const char *vals[] = { v->h.version, v->h.reason, v->h.from, v->h.user, v->h.time };

	json_object(b, "held", v->held, keys, vals, 5);
}

static void json_interrupted(const struct app_view *v, struct buf *b)
{
	static const char *const keys[] = { "phase", "during", "action", "from", "to", "since" };
	char since[UTC_TIME_MAX] = "";
	const char *vals[] = { v->pd.phase, v->pd.hit, v->pd.action, v->pd.from, v->pd.to, since };

	if (v->interrupted)
		utc_format(v->pd.since.tv_sec, v->pd.since.tv_nsec / 1000000L, UTC_MILLIS_Z, since,
			   sizeof since);
	json_object(b, "interrupted", v->interrupted, keys, vals, 6);
}

static void view_json(const struct app_view *v, struct buf *b)
{
	size_t i;

	buf_adds(b, "{");
	json_field(b, "app", v->s.app, false);
	json_field(b, "version", v->s.version, false);
	json_field(b, "action", v->s.action, false);
	json_field(b, "from", v->s.from, false);
	json_field(b, "to", v->s.to, false);
	json_field(b, "result", v->s.result, false);
	json_field(b, "time", v->s.time, false);
	json_field(b, "error", v->s.error, false);
	json_field(b, "state", view_state(v), false);
	json_field(b, "waiting", v->s.waiting, false);
	json_field(b, "server", v->s.server, false);
	json_field(b, "servers_failed", v->s.failed, false);
	json_hold(v, b);
	json_interrupted(v, b);
	buf_adds(b, "\"config_pending\": [");
	for (i = 0; i < v->nconfigs; i++) {
		buf_adds(b, i ? ", " : "");
		buf_add_quoted(b, v->configs[i]);
	}
	buf_adds(b, "]}");
}

/* The table's row, then what a person should know, one line each. */
static void view_text(const struct app_view *v, struct buf *b, struct buf *notes)
{
	const struct app_status *s = &v->s;
	size_t i;

	buf_addf(b, "%-16s %-12s %-9s %-12s %-24s %s\n", s->app, s->version[0] ? s->version : "-",
		 s->action[0] ? s->action : "-",
		 v->interrupted ? "interrupted" : s->result[0] ? s->result : "-",
		 s->time[0] ? s->time : "-", s->error);
	if (v->interrupted)
		buf_addf(notes, "%s: interrupted during %s (%s %s -> %s; journal: %s): run upgr recover\n",
			 s->app, v->pd.hit, v->pd.action, v->pd.from[0] ? v->pd.from : "nothing",
			 v->pd.to, v->pd.phase);
	if (v->held)
		buf_addf(notes, "%s: held at %s (%s%s%s, by %s at %s): upgr unhold %s\n", s->app,
			 v->h.version, v->h.reason, v->h.from[0] ? " from " : "", v->h.from,
			 v->h.user, v->h.time, s->app);
	if (!strcmp(s->state, "waiting") && !v->held && !v->interrupted)
		buf_addf(notes, "%s: not upgraded yet: %s\n", s->app, s->waiting);
	else if (!strcmp(s->state, "staged") && !v->held && !v->interrupted)
		buf_addf(notes, "%s: %s downloaded, verified and staged, not installed yet: %s\n",
			 s->app, s->staged[0] ? s->staged : "a release", s->waiting);
	for (i = 0; i < v->nconfigs; i++)
		buf_addf(notes, "%s: config kept: %s (new version at %s.upgr-new): merge it, "
			 "then remove the .upgr-new\n", s->app, v->configs[i], v->configs[i]);
	if (s->failed[0])
		buf_addf(notes, "%s: servers that failed the last poll: %s%s%s\n", s->app, s->failed,
			 s->server[0] ? "; used " : "", s->server);
	else if (s->server[0])
		buf_addf(notes, "%s: last poll answered by %s\n", s->app, s->server);
}

/* The table (or the JSON document) for apps; *interrupted when one is. */
static int show(const struct config *c, char **apps, size_t n, bool json, struct buf *b,
		bool *interrupted, struct err *e)
{
	struct buf notes = BUF_INIT;
	struct app_view v;
	size_t i;
	int rc = 0;

	if (json) {
		buf_adds(b, "{\"host\": ");
		buf_add_quoted(b, c->host);
		buf_adds(b, ", \"apps\": [");
	} else {
		buf_addf(b, "%-16s %-12s %-9s %-12s %-24s %s\n", "APP", "VERSION",
			 "ACTION", "RESULT", "TIME", "ERROR");
	}
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = view_load(c, apps[i], &v, e)) == 0) {
			*interrupted |= v.interrupted;
			if (json) {
				buf_adds(b, i ? ",\n  " : "\n  ");
				view_json(&v, b);
			} else {
				view_text(&v, b, &notes);
			}
		}
		view_release(&v);
	}
	if (json)
		buf_adds(b, n ? "\n]}\n" : "]}\n");
	else if (notes.len)
		buf_addf(b, "\n%s", notes.data);
	buf_release(&notes);
	return rc;
}

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cfgpath = NULL;
	struct buf b = BUF_INIT;
	bool json = false, interrupted = false;
	struct cmd_env env;
	struct err e;
	char **apps;
	size_t n, i;
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "c:h", opts)) != -1) {
		switch (ch) {
		case 'c': cfgpath = optarg; break;
		case 'j': json = true; break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage(self, "unexpected argument %s", argv[optind]);
	if ((rc = cmd_setup(cfgpath, NULL, 0, false, NULL, &env))) {
		cmd_teardown(&env);
		return rc;
	}
	apps = list_apps(&env.c, &n);
	if (show(&env.c, apps, n, json, &b, &interrupted, &e) < 0)
		rc = cli_fail(&e);
	else
		fwrite(b.data, 1, b.len, stdout);
	/* Monitoring reads the exit code: an interrupted transaction is a
	 * host in neither version until `upgr recover` (or the next run). */
	if (rc == EXIT_OK && interrupted)
		rc = EXIT_ROLLBACK_FAILED;
	for (i = 0; i < n; i++)
		free(apps[i]);
	free(apps);
	buf_release(&b);
	cmd_teardown(&env);
	return rc;
}

const struct command cmd_status = {
	"status", run,
	"usage: upgr status [-c CONFIG] [--json]\n"
	"\n"
	"Show each app's installed version and the last action on it: what it\n"
	"was, its result, when, and the error if it failed; then what a person\n"
	"should know: an interrupted transaction (run upgr recover), a hold (upgr\n"
	"hold, or a manual rollback), why the host waits (rollout, not_before,\n"
	"window, approval), config files whose new version waits in .upgr-new,\n"
	"and the servers of the last poll (the one used, those that failed).\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"      --json         {\"host\": ..., \"apps\": [{app, version, action, from,\n"
	"                     to, result, time, error, state, waiting, server,\n"
	"                     servers_failed, held, interrupted, config_pending}]}\n"
	"                     (see upgr-status(1))\n"
	"  -h, --help         this text\n"
	"\n"
	"exit: 0; 3 when a transaction is interrupted (run upgr recover); 65 bad\n"
	"config or state; 2 usage\n",
	"show installed versions and last results",
};
