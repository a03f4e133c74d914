/* SPDX-License-Identifier: Apache-2.0 */
/* What the commands that act on this host share: reading the config,
 * taking the state lock, finishing an interrupted transaction first. */
#ifndef UPGR_CMD_COMMON_H
#define UPGR_CMD_COMMON_H

#include <stdbool.h>
#include "cli.h"
#include "config.h"
#include "msg.h"

/* Load the config at path (NULL: the default), apply a --root override.
 * Prints every problem (FILE:LINE:COL) and returns its exit code on
 * failure, else 0. */
int cmd_load_config(const char *path, const char *root, struct config *c);

/* Print what a library call returned: MSG_OUT and MSG_TEXT on stdout,
 * warnings and errors on stderr after "upgr: ". */
void cmd_print_msgs(const struct msgs *m);

/* What cmd_setup made for a command. */
struct cmd_env {
	struct config c;
	bool have_config;
	int lockfd;              /* -1 without the lock */
};

/* Record the setup the command table declares for the command about to
 * run (CMD_SETUP_*); main calls it once, before the command. */
void cmd_declare_setup(unsigned setup);

/* Do the declared setup, leaving out the bits in skip (a dry run's lock or
 * recovery): load the config at path (NULL: the default) with a --root
 * override, run check on it (if not NULL: it prints why and returns an
 * exit code), take the state lock, resolve interrupted transactions
 * (saying only failures when quiet). Returns 0, or an exit code after
 * printing why; call cmd_teardown either way. */
int cmd_setup(const char *path, const char *root, unsigned skip, bool quiet,
	      int (*check)(const struct config *c), struct cmd_env *env);
/* Release the lock and the config cmd_setup took. */
void cmd_teardown(struct cmd_env *env);

/* Take the lock on c's state dir and resolve interrupted transactions.
 * Returns 0, or an exit code after printing why (75 when locked). *lockfd
 * is released with state_unlock. */
int cmd_lock_and_recover(const struct config *c, bool quiet, int *lockfd);

/* DURATION: a number with s, m, h or d, at most max seconds, into *secs
 * (0s is 0). Returns 0, or -1 on anything else. */
int cmd_parse_duration(const char *s, long max, long *secs);

/* Why url cannot be a repository to write to (NULL when it can): a scheme
 * upgr writes (file, ftp, ftps, ftpes, sftp), and no password on the
 * command line (others read it in ps); credentials go to netrc. */
const char *cmd_repo_problem(const char *url);

#endif
