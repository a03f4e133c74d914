/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the audit log reader and verifier (a log from a hostile
 * host reaches `upgr fleet verify`), and the end of a log as an append
 * reads it before it repairs a torn tail. */
#include <stdint.h>
#include <stdlib.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* audit/example/device.pub, the key of the seed log. */
static const char *const pub_b64 = "RWSwz3ZA49TCMCAciCQRYTCI8Qs/DN8Qujr3XqAs6MKAYeFRdlQB1aRA";

static int count(const struct audit_entry *ent, void *arg)
{
	(void)ent;
	++*(size_t *)arg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_report rep;
	struct sign_pub key;
	struct err e;
	uint64_t seq, whole;
	char head[65];
	size_t n = 0;
	bool torn;

	audit_parse((const char *)data, size, count, &n, &torn, &e);
	if (sign_pub_parse(pub_b64, &key, &e) == 0) {
		audit_verify_mem((const char *)data, size, &key, false, &rep, &e);
		audit_verify_mem((const char *)data, size, &key, true, &rep, &e);
		/* What an append reads at the end of a log, a torn tail too,
		 * from the start and from a later offset. */
		audit_tail((const char *)data, size, 0, &key, &seq, head, &whole, &e);
		audit_tail((const char *)data, size, 4096, &key, &seq, head, &whole, &e);
		audit_tail((const char *)data, size, 0, &key, &seq, head, NULL, &e);
	}
	return 0;
}
