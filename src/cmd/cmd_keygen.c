/* upgr keygen: a new Ed25519 key pair in minisign's file formats. */
#include "cli.h"
#include "sign.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sign_pub pub;
	struct err e;
	char id[17], *pubpath;
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "h", opts)) != -1)
		return ch == -2 ? EXIT_OK : EXIT_USAGE;
	if (optind != argc - 1 || !argv[optind][0])
		return cli_usage(self, "expected one NAME");
	err_clear(&e);
	if (sign_keygen(argv[optind], &e) < 0)
		return cli_fail(&e);
	/* Load the public key back, as every verifier will: the key id shown
	 * is the one in the file. */
	pubpath = xasprintf("%s.pub", argv[optind]);
	rc = sign_pub_load(pubpath, &pub, &e);
	free(pubpath);
	if (rc < 0)
		return cli_fail(&e);
	sign_keyid_hex(pub.keyid, id);
	printf("wrote %s.key (secret, mode 0600) and %s.pub, key id %s\n",
	       argv[optind], argv[optind], id);
	return EXIT_OK;
}

const struct command cmd_keygen = {
	"keygen", run,
	"usage: upgr keygen NAME\n"
	"\n"
	"Make a new Ed25519 key pair: NAME.key, the secret key (unencrypted, as\n"
	"`minisign -G -W` writes it, mode 0600), and NAME.pub, the public key\n"
	"(minisign's format). Existing files are never overwritten.\n"
	"\n"
	"  -h, --help  this text\n"
	"\n"
	"exit: 0 written, 2 usage or a file exists, 70 I/O error\n",
	"make an Ed25519 key pair (NAME.key, NAME.pub), minisign-compatible",
};
