/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommand table's entry type and the helpers every cmd_*.c uses to
 * speak to the user the same way. */
#ifndef UPGR_CLI_H
#define UPGR_CLI_H

#include "err.h"

/* The setup a command declares in the command table (main.c commands[]),
 * as git's RUN_SETUP: main hands it to cmd_declare_setup before the
 * command runs, and cmd_setup (cmd_common.h) does it, in this order, once
 * the command has parsed its options; cmd_teardown undoes it. */
enum {
	CMD_SETUP_CONFIG = 1 << 0,   /* load -c CONFIG (default path), --root */
	CMD_SETUP_LOCK = 1 << 1,     /* take the state lock (75 when held) */
	CMD_SETUP_RECOVER = 1 << 2,  /* resolve interrupted transactions first */
};
#define CMD_SETUP_ALL (CMD_SETUP_CONFIG | CMD_SETUP_LOCK | CMD_SETUP_RECOVER)

struct command {
	const char *name;
	int (*fn)(const struct command *self, int argc, char **argv);
	const char *usage;     /* full --help text: synopsis line(s), options */
	const char *summary;   /* one line for `upgr --help` */
};

/* Every subcommand, one per cmd_*.c; the table lives in main.c. */
extern const struct command cmd_run, cmd_apply, cmd_validate, cmd_publish,
	cmd_status, cmd_rollback, cmd_recover, cmd_keygen, cmd_sign,
	cmd_verify, cmd_audit, cmd_fleet, cmd_trust, cmd_approve, cmd_hold,
	cmd_unhold;
extern const struct command cmd_rollout;

/* A command with subcommands of its own (upgr audit show|verify). */
struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);   /* argv[0] is the subcommand */
};

/* Run the subcommand argv[1] names from subs (two of them), handling
 * --help and the usage errors ("expected A or B", "unknown NAME command"). */
int cli_dispatch(const struct command *c, const struct subcommand subs[2],
		 int argc, char **argv);

/* Print the command's usage to stdout; returns EXIT_OK (for --help). */
int cli_help(const struct command *c);
/* Print "upgr NAME: message" and the usage to stderr; returns EXIT_USAGE. */
int cli_usage(const struct command *c, const char *fmt, ...) UPGR_PRINTF(2, 3);
/* Print "upgr: message" for e to stderr; returns e->code (never 0). */
int cli_fail(const struct err *e);
/* Print a one-line warning to stderr. */
void cli_warn(const char *fmt, ...) UPGR_PRINTF(1, 2);

/* Parse options with getopt_long, handling --help (-h) for every command.
 * Returns the option character like getopt_long, or -2 when --help was
 * printed (the caller returns EXIT_OK), or '?' after printing the usage
 * error (the caller returns EXIT_USAGE). */
struct option;
int cli_getopt(const struct command *c, int argc, char **argv,
	       const char *shortopts, const struct option *longopts);

#endif
