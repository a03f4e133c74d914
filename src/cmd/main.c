/* SPDX-License-Identifier: Apache-2.0 */
/* upgr: the subcommand table. Each subcommand lives in its own cmd_*.c,
 * owns its options and usage text; the table declares the setup each one
 * needs (CMD_SETUP_*, done by cmd_setup once its options are parsed);
 * main() only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_common.h"

static const struct {
	const struct command *cmd;
	unsigned setup;
} commands[] = {
	{ &cmd_run, CMD_SETUP_ALL },
	{ &cmd_apply, CMD_SETUP_ALL },
	{ &cmd_status, CMD_SETUP_CONFIG },
	{ &cmd_rollback, CMD_SETUP_ALL },
	{ &cmd_hold, 0 },              /* their own config and lock (cmd_hold.c) */
	{ &cmd_unhold, 0 },
	{ &cmd_recover, CMD_SETUP_ALL },
	{ &cmd_keygen, 0 },
	{ &cmd_sign, 0 },
	{ &cmd_verify, 0 },
	{ &cmd_validate, 0 },
	{ &cmd_audit, 0 },
	{ &cmd_publish, 0 },
	{ &cmd_fleet, 0 },
	{ &cmd_trust, 0 },
	{ &cmd_approve, 0 },
	{ &cmd_rollout, 0 },
	{ NULL, 0 }
};


static void usage(FILE *to)
{
	size_t i;

	fputs("usage: upgr [run] [-c CONFIG] [--root DIR] [--dry-run] [--splay SECONDS]\n"
	      "       upgr COMMAND [--help] [ARGS...]\n"
	      "       upgr --help | --version\n\n"
	      "Declarative, manifest-driven software upgrader with a signed audit log.\n\n"
	      "commands:\n", to);
	for (i = 0; commands[i].cmd; i++)
		fprintf(to, "  %-10s %s\n", commands[i].cmd->name, commands[i].cmd->summary);
	fputs("\nexit codes: 0 ok, 1 rolled back, 2 usage, 3 rollback failed, 65 bad data,\n"
	      "69 no server, 75 locked, 77 trust check failed.\n"
	      "Run 'upgr COMMAND --help' for a command's options; man upgr for more.\n", to);
}

/* The command named name, its declared setup recorded; NULL for none. */
static const struct command *find(const char *name)
{
	size_t i;

	for (i = 0; commands[i].cmd; i++)
		if (!strcmp(commands[i].cmd->name, name)) {
			cmd_declare_setup(commands[i].setup);
			return commands[i].cmd;
		}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("upgr %s\n", UPGR_VERSION);
		return 0;
	}
	/* `upgr` alone, or `upgr --dry-run ...`, means `upgr run`. */
	if (argc < 2 || argv[1][0] == '-') {
		c = find("run");
		if (!c) {
			usage(stderr);
			return 2;
		}
		return c->fn(c, argc, argv);
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "upgr: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	return c->fn(c, argc - 1, argv + 1);
}
