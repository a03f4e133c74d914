/* What the commands that act on this host share: reading the config,
 * taking the state lock, finishing an interrupted transaction first. */
#ifndef UPGR_CMD_COMMON_H
#define UPGR_CMD_COMMON_H

#include <stdbool.h>
#include "config.h"
#include "msg.h"

/* Load the config at path (NULL: the default), apply a --root override.
 * Prints every problem (FILE:LINE:COL) and returns its exit code on
 * failure, else 0. */
int cmd_load_config(const char *path, const char *root, struct config *c);

/* Print what a library call returned: MSG_OUT and MSG_TEXT on stdout,
 * warnings and errors on stderr after "upgr: ". */
void cmd_print_msgs(const struct msgs *m);

/* Take the lock on c's state dir and resolve interrupted transactions.
 * Returns 0, or an exit code after printing why (75 when locked). *lockfd
 * is released with state_unlock. */
int cmd_lock_and_recover(const struct config *c, bool quiet, int *lockfd);

#endif
