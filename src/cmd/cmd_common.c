/* SPDX-License-Identifier: Apache-2.0 */
#include "cmd_common.h"
#include "apply.h"
#include "cli.h"
#include "diag.h"
#include "state.h"
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cmd_load_config(const char *path, const char *root, struct config *c)
{
	struct diag d;
	int rc = 0;

	if (!path)
		path = CONFIG_DEFAULT_PATH;
	diag_init(&d, path);
	if (config_load(path, c, &d) < 0) {
		diag_print(&d, stderr);
		rc = EXIT_DATAERR;
	} else if (root) {
		config_set_root(c, root);
	}
	diag_release(&d);
	return rc;
}

void cmd_print_msgs(const struct msgs *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		const struct msg *g = &m->v[i];

		switch (g->kind) {
		case MSG_OUT: printf("%s\n", g->text); break;
		case MSG_TEXT: fputs(g->text, stdout); break;
		case MSG_WARNING: fprintf(stderr, "upgr: warning: %s\n", g->text); break;
		case MSG_ERROR: fprintf(stderr, "upgr: %s\n", g->text); break;
		}
	}
}

int cmd_lock_and_recover(const struct config *c, bool quiet, int *lockfd)
{
	struct msgs msgs = MSGS_INIT;
	struct err e;
	int rc;

	err_clear(&e);
	if (state_lock(c->state_dir, lockfd, &e) < 0)
		return cli_fail(&e);
	rc = apply_recover_all(c, quiet, &msgs, &e);
	cmd_print_msgs(&msgs);
	msgs_release(&msgs);
	if (rc != EXIT_OK)
		cli_fail(&e);
	return rc;
}

static unsigned declared_setup;

void cmd_declare_setup(unsigned setup)
{
	declared_setup = setup;
}

int cmd_setup(const char *path, const char *root, unsigned skip, bool quiet,
	      int (*check)(const struct config *c), struct cmd_env *env)
{
	unsigned want = declared_setup & ~skip;
	struct err e;
	int rc;

	env->have_config = false;
	env->lockfd = -1;
	if (!(want & CMD_SETUP_CONFIG))
		return EXIT_OK;
	if ((rc = cmd_load_config(path, root, &env->c)))
		return rc;
	env->have_config = true;
	if (check && (rc = check(&env->c)))
		return rc;
	if (want & CMD_SETUP_RECOVER)
		return cmd_lock_and_recover(&env->c, quiet, &env->lockfd);
	err_clear(&e);
	if ((want & CMD_SETUP_LOCK) && state_lock(env->c.state_dir, &env->lockfd, &e) < 0)
		return cli_fail(&e);
	return EXIT_OK;
}

void cmd_teardown(struct cmd_env *env)
{
	state_unlock(env->lockfd);
	env->lockfd = -1;
	if (env->have_config)
		config_release(&env->c);
	env->have_config = false;
}

int cmd_parse_duration(const char *s, long max, long *secs)
{
	static const struct { char unit; long secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char *end;
	unsigned long n;
	size_t i;

	if (*s < '0' || *s > '9')
		return -1;
	n = strtoul(s, &end, 10);
	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (end[0] == units[i].unit && end[1] == '\0' &&
		    n <= (unsigned long)(max / units[i].secs)) {
			*secs = (long)n * units[i].secs;
			return 0;
		}
	return -1;
}

const char *cmd_repo_problem(const char *url)
{
	static const char *const ok[] = {
		"file://", "ftp://", "ftps://", "ftpes://", "sftp://"
	};
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (!strncasecmp(url, ok[i], strlen(ok[i])))
			break;
	if (i == sizeof ok / sizeof ok[0])
		return "--repo wants a file://, ftp://, ftps://, ftpes:// or sftp:// URL";
	if (xfer_url_has_password(url))
		return "--repo must not carry a password: put it in a netrc file "
		       "(--netrc FILE or ~/.netrc)";
	return NULL;
}
