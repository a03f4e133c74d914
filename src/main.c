/* upgr: the subcommand table. Each subcommand lives in its own cmd_*.c,
 * owns its options and usage text; main() only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct command *const commands[] = {
	&cmd_run,
	&cmd_apply,
	&cmd_status,
	&cmd_rollback,
	&cmd_hold,
	&cmd_unhold,
	&cmd_recover,
	&cmd_keygen,
	&cmd_sign,
	&cmd_verify,
	&cmd_validate,
	&cmd_audit,
	&cmd_publish,
	&cmd_fleet,
	&cmd_trust,
	&cmd_approve,
	NULL
};


static void usage(FILE *to)
{
	size_t i;

	fputs("usage: upgr [run] [-c CONFIG] [--root DIR] [--dry-run] [--splay SECONDS]\n"
	      "       upgr COMMAND [--help] [ARGS...]\n"
	      "       upgr --help | --version\n\n"
	      "Declarative, manifest-driven software upgrader with a signed audit log.\n\n"
	      "commands:\n", to);
	for (i = 0; commands[i]; i++)
		fprintf(to, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\nexit codes: 0 ok, 1 rolled back, 2 usage, 3 rollback failed, 65 bad data,\n"
	      "69 no server, 75 locked, 77 trust check failed.\n"
	      "Run 'upgr COMMAND --help' for a command's options; man upgr for more.\n", to);
}

static const struct command *find(const char *name)
{
	size_t i;

	for (i = 0; commands[i]; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
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
