/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the channel file parser, with the same round-trip
 * property as manifests (channel_emit's output parses to the same text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf once = BUF_INIT, twice = BUF_INIT;
	struct channel ch, again;
	struct diag d;

	diag_init(&d, "fuzz");
	if (channel_parse((const char *)data, size, &ch, &d) == 0) {
		channel_emit(&ch, &once);
		diag_release(&d);
		diag_init(&d, "fuzz-emitted");
		if (channel_parse(once.data, once.len, &again, &d) != 0)
			abort();
		channel_emit(&again, &twice);
		if (once.len != twice.len || memcmp(once.data, twice.data, once.len))
			abort();
		channel_release(&again);
		channel_release(&ch);
	}
	diag_release(&d);
	buf_release(&once);
	buf_release(&twice);
	return 0;
}
