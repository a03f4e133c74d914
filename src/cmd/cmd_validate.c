/* SPDX-License-Identifier: Apache-2.0 */
/* upgr validate FILE...: check release manifests as `upgr publish` and the
 * agent will, printing every problem as FILE:LINE:COL: message. Quiet when
 * all are valid, like a compiler. */
#include "cli.h"
#include "diag.h"
#include "fsutil.h"
#include "manifest.h"
#include "root.h"

#include <getopt.h>
#include <stdio.h>

/* A trust root (`type: root`) rather than a manifest. */
static bool is_root(const char *path)
{
	struct buf b = BUF_INIT;
	struct err e;
	bool yes;

	err_clear(&e);
	yes = fs_read_file(path, ROOT_MAX_BYTES, &b, &e) == 0 && root_is_root_text(b.data, b.len);
	buf_release(&b);
	return yes;
}

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int ch, i, rc = EXIT_OK;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage(self, "expected at least one FILE");
	for (i = optind; i < argc; i++) {
		struct manifest m;
		struct diag d;

		diag_init(&d, argv[i]);
		if (is_root(argv[i])) {
			struct root r;

			if (root_load(argv[i], &r, &d) < 0) {
				diag_print(&d, stderr);
				rc = EXIT_DATAERR;
			}
			root_release(&r);
		} else if (manifest_load(argv[i], &m, &d) < 0) {
			diag_print(&d, stderr);
			rc = EXIT_DATAERR;
		} else {
			if (manifest_warnings(&m, &d))
				diag_print(&d, stderr);
			manifest_release(&m);
		}
		diag_release(&d);
	}
	return rc;
}

const struct command cmd_validate = {
	"validate", run,
	"usage: upgr validate FILE...\n\n"
	"Check release manifests, and trust roots (type: root), against every rule\nof their format (upgr: 1).\n"
	"Prints nothing and exits 0 when all are valid; otherwise prints every\n"
	"problem as FILE:LINE:COL: message on stderr and exits 65. A valid plan\n"
	"that would leave the service down (stop or health without start) gets\n"
	"a FILE:LINE:COL: warning: line, and still exits 0.\n",
	"check release manifests",
};
