#include "cmd_common.h"
#include "apply.h"
#include "cli.h"
#include "diag.h"
#include "state.h"

#include <stdio.h>

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
