/* SPDX-License-Identifier: Apache-2.0 */
/* upgr verify: check minisign signatures against trusted public keys. */
#include "cli.h"
#include "sign.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'p' },
		{ "sig", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sign_pub *keys = NULL;
	const char *sigpath = NULL;
	size_t nkeys = 0, i;
	struct err e;
	char *comment, **pubpaths = NULL;
	int ch, f, verbose = 0, rc = EXIT_OK;

	optind = 1;
	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, "p:x:vh", opts)) != -1) {
		switch (ch) {
		case 'p':
			pubpaths = xreallocarray(pubpaths, nkeys + 1, sizeof *pubpaths);
			pubpaths[nkeys++] = optarg;
			break;
		case 'x': sigpath = optarg; break;
		case 'v': verbose = 1; break;
		case -2: goto done;
		default: rc = EXIT_USAGE; goto done;
		}
	}
	if (optind >= argc) {
		rc = cli_usage(self, "expected at least one FILE");
		goto done;
	}
	if (sigpath && argc - optind != 1) {
		rc = cli_usage(self, "-x SIGFILE goes with exactly one FILE");
		goto done;
	}
	keys = xreallocarray(NULL, nkeys, sizeof *keys);
	for (i = 0; i < nkeys; i++)
		if (sign_pub_load(pubpaths[i], &keys[i], &e) < 0) {
			rc = cli_fail(&e);
			goto done;
		}
	/* No -p: sign_verify_file refuses (fail closed), with its message. */
	for (f = optind; f < argc; f++) {
		if (sign_verify_file(keys, nkeys, argv[f], sigpath, &comment, &e) < 0) {
			rc = cli_fail(&e);
			continue;
		}
		if (verbose)
			printf("%s: signature ok, trusted comment: %s\n", argv[f], comment);
		free(comment);
	}
done:
	free(pubpaths);
	free(keys);
	return rc;
}

const struct command cmd_verify = {
	"verify", run,
	"usage: upgr verify -p PUB [-p PUB...] [-x SIGFILE] [-v] FILE...\n"
	"\n"
	"Check each FILE against FILE.minisig (minisign's \"ED\" or legacy \"Ed\"\n"
	"format) with the trusted public keys, in minisign's order: key id, file\n"
	"signature, trusted comment signature. Without a key nothing verifies.\n"
	"Prints nothing on success unless -v.\n"
	"\n"
	"  -p, --pubkey PUB   a trusted public key file (repeatable)\n"
	"  -x, --sig SIGFILE  the signature file (with one FILE)\n"
	"  -v, --verbose      print each file's trusted comment once verified\n"
	"  -h, --help         this text\n"
	"\n"
	"exit: 0 every file verified, 2 usage, 65 unreadable key, 77 a signature\n"
	"or trust check failed\n",
	"verify minisign signatures against trusted public keys",
};
