/* SPDX-License-Identifier: Apache-2.0 */
/* upgr status: what is installed here, and how the last run went. */
#include "buf.h"
#include "cli.h"
#include "cmd_common.h"
#include "fsutil.h"
#include "state.h"
#include "xalloc.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void json_field(struct buf *b, const char *key, const char *val, bool last)
{
	buf_addf(b, "\"%s\": ", key);
	buf_add_quoted(b, val);
	buf_adds(b, last ? "" : ", ");
}

/* The app's hold, if any: a "held" object in JSON (null when none), a
 * line after the table otherwise. */
static int add_hold(const struct config *c, const char *app, bool json, struct buf *b,
		    struct buf *notes, struct err *e)
{
	struct app_hold h;
	bool have;

	if (state_hold_read(c->state_dir, app, &h, &have, e) < 0)
		return -1;
	if (json && !have) {
		buf_adds(b, ", \"held\": null");
	} else if (json) {
		buf_adds(b, ", \"held\": {");
		json_field(b, "version", h.version, false);
		json_field(b, "reason", h.reason, false);
		json_field(b, "from", h.from, false);
		json_field(b, "user", h.user, false);
		json_field(b, "time", h.time, true);
		buf_adds(b, "}");
	} else if (have) {
		buf_addf(notes, "%s: held at %s (%s%s%s, by %s at %s): upgr unhold %s\n", app,
			 h.version, h.reason, h.from[0] ? " from " : "", h.from, h.user, h.time, app);
	}
	return 0;
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
	struct buf b = BUF_INIT, notes = BUF_INIT;
	bool json = false, have;
	struct app_status s;
	const struct config *c;
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
	c = &env.c;
	apps = list_apps(c, &n);
	if (json) {
		buf_adds(&b, "{\"host\": ");
		buf_add_quoted(&b, c->host);
		buf_adds(&b, ", \"apps\": [");
	} else {
		buf_addf(&b, "%-16s %-12s %-9s %-12s %-24s %s\n", "APP", "VERSION",
			 "ACTION", "RESULT", "TIME", "ERROR");
	}
	for (i = 0; i < n; i++) {
		if (state_status_read(c->state_dir, apps[i], &s, &have, &e) < 0) {
			rc = cli_fail(&e);
			break;
		}
		if (!have)
			snprintf(s.app, sizeof s.app, "%s", apps[i]);
		if (json) {
			buf_adds(&b, i ? ",\n  {" : "\n  {");
			json_field(&b, "app", s.app, false);
			json_field(&b, "version", s.version, false);
			json_field(&b, "action", s.action, false);
			json_field(&b, "from", s.from, false);
			json_field(&b, "to", s.to, false);
			json_field(&b, "result", s.result, false);
			json_field(&b, "time", s.time, false);
			json_field(&b, "error", s.error, true);
			if (add_hold(c, apps[i], true, &b, &notes, &e) < 0) {
				rc = cli_fail(&e);
				break;
			}
			buf_adds(&b, "}");
		} else {
			buf_addf(&b, "%-16s %-12s %-9s %-12s %-24s %s\n", s.app,
				 s.version[0] ? s.version : "-", s.action[0] ? s.action : "-",
				 s.result[0] ? s.result : "-", s.time[0] ? s.time : "-", s.error);
			if (add_hold(c, apps[i], false, &b, &notes, &e) < 0) {
				rc = cli_fail(&e);
				break;
			}
		}
		free(apps[i]);
	}
	for (; i < n; i++)
		free(apps[i]);
	if (json)
		buf_adds(&b, n ? "\n]}\n" : "]}\n");
	else if (notes.len)
		buf_addf(&b, "\n%s", notes.data);
	if (rc == EXIT_OK)
		fwrite(b.data, 1, b.len, stdout);
	free(apps);
	buf_release(&b);
	buf_release(&notes);
	cmd_teardown(&env);
	return rc;
}

const struct command cmd_status = {
	"status", run,
	"usage: upgr status [-c CONFIG] [--json]\n"
	"\n"
	"Show each app's installed version and the last action on it: what it\n"
	"was, its result, when, and the error if it failed; then each held app\n"
	"(upgr hold, or a manual rollback): the version, why, who and when.\n"
	"\n"
	"  -c, --config FILE  agent configuration (default " CONFIG_DEFAULT_PATH ")\n"
	"      --json         {\"host\": ..., \"apps\": [{app, version, action, from,\n"
	"                     to, result, time, error, held}]}; held is null or\n"
	"                     {version, reason, from, user, time}\n"
	"  -h, --help         this text\n",
	"show installed versions and last results",
};
