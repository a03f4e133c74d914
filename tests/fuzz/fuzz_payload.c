/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: payload extraction. The input is the payload; the manifest
 * lists a few files (without hashes). Whatever the archive holds, nothing
 * may be written outside the staging directory. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char manifest[] =
	"upgr: 1\napp: fuzz\nversion: 1.0.0\ntarget: /opt/fuzz\nfiles:\n"
	"  - { path: a, mode: \"0644\" }\n"
	"  - { path: bin/b, mode: \"0755\" }\n"
	"  - { path: x/y/z, mode: \"0600\" }\n";

/* The scratch directory must hold only "stage" and "payload" afterwards. */
static void check_nothing_escaped(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "stage") && strcmp(de->d_name, "payload"))
			abort();
	if (d)
		closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct manifest m;
	static bool have;
	char dir[] = "/tmp/upgr-fuzz-payload.XXXXXX";
	char *stage, *payload;
	struct diag d;
	struct err e;

	if (!have) {
		diag_init(&d, "fuzz");
		if (manifest_parse(manifest, sizeof manifest - 1, &m, &d) < 0)
			abort();
		diag_release(&d);
		have = true;
	}
	if (!mkdtemp(dir))
		abort();
	stage = fs_join(dir, "stage");
	payload = fs_join(dir, "payload");
	if (mkdir(stage, 0700) < 0 || fs_write_new(payload, data, size, 0600, &e) < 0)
		abort();
	payload_extract(payload, stage, &m, 1 << 20, &e);
	check_nothing_escaped(dir);
	fs_remove_tree(dir, &e);
	free(stage);
	free(payload);
	return 0;
}
