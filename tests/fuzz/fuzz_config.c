/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the agent configuration reader (which reads a file, so
 * each input is written to a private temporary file first). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct diag d;
	int fd;

	if (!path[0])
		snprintf(path, sizeof path, "/tmp/upgr-fuzz-config.%ld.yaml", (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fs_write_all(fd, data, size) < 0 || fchmod(fd, 0644) < 0)
		abort();
	close(fd);
	diag_init(&d, path);
	if (config_load(path, &c, &d) == 0)
		config_release(&c);
	diag_release(&d);
	unlink(path);
	return 0;
}
