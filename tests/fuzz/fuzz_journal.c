/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the journal reader (journal_parse). A later run reads the
 * journal a killed one left, and `upgr rollback` reads last-txn: whatever
 * a torn or edited file holds, the reader refuses it or reads it, without
 * a crash or a leak, and what it read writes back (journal_text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "manifest.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void release_mkdirs(char **mkdirs, size_t nmkdirs)
{
	size_t i;

	for (i = 0; i < nmkdirs; i++)
		free(mkdirs[i]);
	free(mkdirs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	struct manifest m;
	struct journal j;
	struct plan p;
	struct buf b = BUF_INIT;
	char **mkdirs = NULL;
	size_t nmkdirs = 0;
	struct err e;

	memcpy(text, data, size);
	text[size] = '\0';
	memset(&p, 0, sizeof p);
	if (journal_parse(text, &j, &p, &mkdirs, &nmkdirs, &e) == 0) {
		memset(&m, 0, sizeof m);
		m.app = "app";
		m.version = j.to;
		p.m = &m;
		p.action = j.action;
		p.root = j.root;
		p.target = j.target;
		p.workdir = j.workdir;
		p.manifest_sha256 = j.sha256;
		journal_text(&p, j.phase, j.result, mkdirs, nmkdirs, &b);
	}
	/* The strings borrowed from j are j's to free. */
	p.root = p.target = p.workdir = p.manifest_sha256 = NULL;
	p.m = NULL;
	plan_release(&p);
	release_mkdirs(mkdirs, nmkdirs);
	journal_release(&j);
	buf_release(&b);
	free(text);
	return 0;
}
