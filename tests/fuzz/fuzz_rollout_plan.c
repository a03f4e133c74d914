/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the rollout plan parser, with the round-trip property of
 * the channel file (rollout_plan_emit's output parses to the same text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "rollout_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf once = BUF_INIT, twice = BUF_INIT;
	struct rollout_plan p, again;
	struct diag d;

	diag_init(&d, "fuzz");
	if (rollout_plan_parse((const char *)data, size, &p, &d) == 0) {
		rollout_plan_emit(&p, &once);
		diag_release(&d);
		diag_init(&d, "fuzz-emitted");
		if (rollout_plan_parse(once.data, once.len, &again, &d) != 0)
			abort();
		rollout_plan_emit(&again, &twice);
		if (once.len != twice.len || memcmp(once.data, twice.data, once.len))
			abort();
		rollout_plan_release(&again);
		rollout_plan_release(&p);
	}
	diag_release(&d);
	buf_release(&once);
	buf_release(&twice);
	return 0;
}
