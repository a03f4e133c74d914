#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_help(const struct command *c)
{
	fputs(c->usage, stdout);
	return EXIT_OK;
}

int cli_usage(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "upgr %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(c->usage, stderr);
	return EXIT_USAGE;
}

int cli_fail(const struct err *e)
{
	fprintf(stderr, "upgr: %s\n", e->msg[0] ? e->msg : "failed");
	return e->code ? e->code : EXIT_SOFTWARE;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("upgr: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_getopt(const struct command *c, int argc, char **argv,
	       const char *shortopts, const struct option *longopts)
{
	int ch;

	opterr = 0;
	ch = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (ch == 'h') {
		cli_help(c);
		return -2;
	}
	if (ch == '?') {
		if (optopt)
			cli_usage(c, "unknown option or missing argument: -%c", optopt);
		else
			cli_usage(c, "unknown option: %s", argv[optind - 1]);
		return '?';
	}
	if (ch == ':') {
		cli_usage(c, "option needs an argument: %s", argv[optind - 1]);
		return '?';
	}
	return ch;
}
