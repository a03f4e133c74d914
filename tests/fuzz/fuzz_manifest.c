/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the manifest parser. A manifest that parses must survive
 * manifest_emit and parse again to the same canonical text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf once = BUF_INIT, twice = BUF_INIT;
	struct manifest m, again;
	struct diag d;

	diag_init(&d, "fuzz");
	if (manifest_parse((const char *)data, size, &m, &d) == 0) {
		manifest_emit(&m, &once);
		diag_release(&d);
		diag_init(&d, "fuzz-emitted");
		if (manifest_parse(once.data, once.len, &again, &d) != 0)
			abort();        /* the writer wrote what the reader refuses */
		manifest_emit(&again, &twice);
		if (once.len != twice.len || memcmp(once.data, twice.data, once.len))
			abort();        /* not canonical */
		manifest_release(&again);
		manifest_release(&m);
	}
	diag_release(&d);
	buf_release(&once);
	buf_release(&twice);
	return 0;
}
