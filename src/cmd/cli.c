/* SPDX-License-Identifier: Apache-2.0 */
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

int cli_dispatch(const struct command *c, const struct subcommand subs[2],
		 int argc, char **argv)
{
	int i;

	optind = 1;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(c);
	if (argc < 2)
		return cli_usage(c, "expected %s or %s", subs[0].name, subs[1].name);
	for (i = 0; i < 2; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	return cli_usage(c, "unknown %s command '%s'", c->name, argv[1]);
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

bool cli_transport_opt(struct transport_opts *t, int ch, const char *arg)
{
	switch (ch) {
	case 'r': t->repo = arg; return true;
	case 'N': t->xfer.netrc = arg; return true;
	case 'C': t->xfer.ca_file = arg; return true;
	case 'S': t->xfer.ssh_key = arg; return true;
	case 'K': t->xfer.ssh_known_hosts = arg; return true;
	default: return false;
	}
}

int cli_transport_check(const struct command *c, const struct transport_opts *t,
			bool repo_required)
{
	if (!t->repo)
		return repo_required ? cli_usage(c, "--repo URL is required") : -1;
	if (xfer_url_has_password(t->repo))
		return cli_usage(c, "--repo must not carry a password: put it in a "
				 "netrc file (--netrc FILE or ~/.netrc)");
	return -1;
}

int cli_config_opts(const struct command *c, int argc, char **argv, const char **cfgpath)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int ch;

	optind = 1;
	while ((ch = cli_getopt(c, argc, argv, "c:h", opts)) != -1) {
		switch (ch) {
		case 'c': *cfgpath = optarg; break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	return -1;
}
