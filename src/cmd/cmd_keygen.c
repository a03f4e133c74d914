/* SPDX-License-Identifier: Apache-2.0 */
/* upgr keygen: a new Ed25519 key pair in minisign's file formats. */
#include "cli.h"
#include "sign.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* keygen --pkcs11: the token holds the key; write only NAME.pub. */
static int token_pub(const char *uri, const char *name, struct err *e)
{
	if (sign_keygen_token(name, uri, e) < 0)
		return cli_fail(e);
	printf("wrote %s.pub for the token's key\n", name);
	return EXIT_OK;
}

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "pkcs11", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *pass_file = NULL, *uri = NULL;
	bool plain = false;
	struct sign_pub pub;
	struct err e;
	char id[17], *pubpath, *pass = NULL;
	size_t passlen = 0;
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "WP:h", opts)) != -1) {
		switch (ch) {
		case 'W': plain = true; break;
		case 'P': pass_file = optarg; break;
		case 'T': uri = optarg; break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !argv[optind][0])
		return cli_usage(self, "expected one NAME");
	if (plain && pass_file)
		return cli_usage(self, "-W and --passphrase-file exclude each other");
	err_clear(&e);
	if (uri)
		return token_pub(uri, argv[optind], &e);
	if (!plain && sign_passphrase_get(pass_file, argv[optind], true, &pass,
					  &passlen, &e) < 0)
		return cli_fail(&e);
	rc = sign_keygen_pass(argv[optind], pass, passlen, &e);
	sign_passphrase_free(pass, passlen);
	if (rc < 0)
		return cli_fail(&e);
	/* Load the public key back, as every verifier will: the key id shown
	 * is the one in the file. */
	pubpath = xasprintf("%s.pub", argv[optind]);
	rc = sign_pub_load(pubpath, &pub, &e);
	free(pubpath);
	if (rc < 0)
		return cli_fail(&e);
	sign_keyid_hex(pub.keyid, id);
	printf("wrote %s.key (secret, %s, mode 0600) and %s.pub, key id %s\n",
	       argv[optind], plain ? "unencrypted" : "encrypted", argv[optind], id);
	return EXIT_OK;
}

const struct command cmd_keygen = {
	"keygen", run,
	"usage: upgr keygen [-W] [--passphrase-file FILE] NAME\n"
	"       upgr keygen --pkcs11 URI NAME\n"
	"\n"
	"Make a new Ed25519 key pair: NAME.key, the secret key (mode 0600), and\n"
	"NAME.pub, the public key, in minisign's formats. The secret key is\n"
	"encrypted with a passphrase as `minisign -G` does (scrypt), asked twice\n"
	"on the terminal, or read from FILE's first line; -W writes it\n"
	"unencrypted, as `minisign -G -W`. Existing files are never overwritten.\n"
	"\n"
	"  -W                      an unencrypted secret key\n"
	"  -P, --passphrase-file FILE  the passphrase (first line; FILE mode 0600)\n"
	"  --pkcs11 URI            write only NAME.pub, for the Ed25519 key of a\n"
	"                          PKCS#11 token (pkcs11:token=T;object=L?module-path=\n"
	"                          LIB&pin-source=file:PIN); -k URI then signs with it\n"
	"  -h, --help              this text\n"
	"\n"
	"exit: 0 written, 2 usage, a file exists, or no terminal and neither -W\n"
	"nor --passphrase-file, 65 unreadable passphrase file, 70 I/O error,\n"
	"77 passphrase file readable by others\n",
	"make an Ed25519 key pair (NAME.key, NAME.pub), minisign-compatible",
};
