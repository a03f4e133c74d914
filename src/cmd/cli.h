/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommand table's entry type and the helpers every cmd_*.c uses to
 * speak to the user the same way. */
#ifndef UPGR_CLI_H
#define UPGR_CLI_H

#include "err.h"
#include "transport.h"

#include <stdbool.h>

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

/* The options of a command that takes only -c CONFIG and --help: *cfgpath
 * set (left NULL: the default path). -1 to go on, else the exit code (the
 * help or the usage error printed). */
int cli_config_opts(const struct command *c, int argc, char **argv, const char **cfgpath);

/* The repository and transport-trust options, parsed in one place so that
 * every command spells them with the same letters (upgr(1), "Short
 * options"). A command that talks to a repository:
 *   - puts CLI_REPO_OPTION (when it takes --repo) and CLI_TRANSPORT_OPTIONS
 *     in its struct option table, CLI_REPO_SHORT and CLI_TRANSPORT_SHORT in
 *     its short option string, and CLI_TRANSPORT_USAGE in its --help text;
 *   - hands every option to cli_transport_opt first (its default: case);
 *   - opens the transport with xfer_new(&t.xfer).
 * The letters: -r repo, -N netrc, -C cacert, -S ssh-key, -K known-hosts. */
struct transport_opts {
	const char *repo;        /* -r, --repo URL; NULL when not given */
	struct xfer_opts xfer;   /* netrc, ca_file, ssh_key, ssh_known_hosts */
};

#define CLI_REPO_SHORT "r:"
#define CLI_TRANSPORT_SHORT "N:C:S:K:"
#define CLI_REPO_OPTION { "repo", required_argument, NULL, 'r' }
#define CLI_TRANSPORT_OPTIONS \
	{ "netrc", required_argument, NULL, 'N' }, \
	{ "cacert", required_argument, NULL, 'C' }, \
	{ "ssh-key", required_argument, NULL, 'S' }, \
	{ "known-hosts", required_argument, NULL, 'K' }
#define CLI_TRANSPORT_USAGE \
	"  -N, --netrc FILE       credentials (default ~/.netrc)\n" \
	"  -C, --cacert FILE      PEM certificates to trust for ftps/ftpes/https\n" \
	"                         instead of the system's\n" \
	"  -S, --ssh-key FILE     private key for sftp (default ~/.ssh/id_rsa)\n" \
	"  -K, --known-hosts FILE SSH host keys for sftp (default\n" \
	"                         ~/.ssh/known_hosts); unlisted hosts are refused\n"

/* True when ch (a getopt result) was one of the options above, now stored
 * in t from arg; false for any other option. */
bool cli_transport_opt(struct transport_opts *t, int ch, const char *arg);

/* Check t->repo: missing while required, or carrying a password (it goes
 * in a netrc file, never on the command line where ps shows it). Prints
 * the usage error and returns EXIT_USAGE, else -1. */
int cli_transport_check(const struct command *c, const struct transport_opts *t,
			bool repo_required);

#endif
