/* SPDX-License-Identifier: Apache-2.0 */
/* upgr sign: minisign "ED" signatures (FILE.minisig) with a secret key. */
#include "cli.h"
#include "sign.h"
#include "xalloc.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* minisign's default trusted comment, so tools that read it read ours. */
static char *default_comment(const char *path)
{
	char *copy = xstrdup(path);
	char *c = xasprintf("timestamp:%lld\tfile:%s\thashed",
			    (long long)time(NULL), basename(copy));

	free(copy);
	return c;
}

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "trusted-comment", required_argument, NULL, 't' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *keypath = NULL, *comment = NULL, *pass_file = NULL;
	struct sign_key key;
	struct err e;
	char *c;
	int ch, i, rc = EXIT_OK;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "k:t:P:h", opts)) != -1) {
		switch (ch) {
		case 'k': keypath = optarg; break;
		case 't': comment = optarg; break;
		case 'P': pass_file = optarg; break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!keypath)
		return cli_usage(self, "-k KEY is required");
	if (optind >= argc)
		return cli_usage(self, "expected at least one FILE");
	if (comment && (strpbrk(comment, "\r\n") || strlen(comment) > SIGN_COMMENT_TEXT_MAX))
		return cli_usage(self, "the trusted comment must be one line of at most %d bytes",
				 SIGN_COMMENT_TEXT_MAX);
	err_clear(&e);
	if (sign_key_open(keypath, pass_file, &key, &e) < 0)
		return cli_fail(&e);
	for (i = optind; i < argc && rc == EXIT_OK; i++) {
		c = comment ? xstrdup(comment) : default_comment(argv[i]);
		if (sign_file(&key, argv[i], c, &e) < 0)
			rc = cli_fail(&e);
		free(c);
	}
	sign_key_wipe(&key);
	return rc;
}

const struct command cmd_sign = {
	"sign", run,
	"usage: upgr sign -k KEY [--passphrase-file FILE] [-t COMMENT] FILE...\n"
	"\n"
	"Sign each FILE into FILE.minisig, in minisign's prehashed (\"ED\") format:\n"
	"`minisign -V` and `upgr verify` both check it. KEY is a minisign\n"
	"secret key (upgr keygen, minisign -G) that only its owner can read; an\n"
	"encrypted one is opened with the passphrase from the terminal or FILE.\n"
	"\n"
	"  -k, --key KEY              the secret key file\n"
	"  -t, --trusted-comment TXT  the signed comment (default, as minisign:\n"
	"                             \"timestamp:<unix time>\\tfile:<name>\\thashed\")\n"
	"  -P, --passphrase-file FILE the passphrase of an encrypted KEY (first\n"
	"                             line; FILE mode 0600)\n"
	"  -h, --help                 this text\n"
	"\n"
	"exit: 0 signed, 2 usage or no terminal for the passphrase, 65 unreadable\n"
	"or bad key or file, 77 wrong passphrase, or key or passphrase file\n"
	"readable by others, 70 I/O error\n",
	"sign files (FILE.minisig), minisign-compatible",
};
