/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the trust root parser; what parses must name only keys it
 * holds, with thresholds between 1 and each role's key count. */
#include <stdint.h>
#include <stdlib.h>

#include "diag.h"
#include "root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct root r;
	struct diag d;
	size_t i, j;

	diag_init(&d, "fuzz");
	if (root_parse((const char *)data, size, &r, &d) == 0) {
		for (i = 0; i < ROOT_NROLES; i++) {
			if (!r.roles[i].threshold || r.roles[i].threshold > r.roles[i].n)
				abort();
			for (j = 0; j < r.roles[i].n; j++)
				if (r.roles[i].idx[j] >= r.nkeys)
					abort();
		}
		root_release(&r);
	}
	diag_release(&d);
	return 0;
}
