/* Fuzz target: the audit log reader and verifier (a log from a hostile
 * host reaches `upgr fleet verify`). */
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
	size_t n = 0;
	bool torn;

	audit_parse((const char *)data, size, count, &n, &torn, &e);
	if (sign_pub_parse(pub_b64, &key, &e) == 0) {
		audit_verify_mem((const char *)data, size, &key, false, &rep, &e);
		audit_verify_mem((const char *)data, size, &key, true, &rep, &e);
	}
	return 0;
}
