/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: minisign public key and signature files. The input is
 * tried as a public key line, as a public key file, and as the signature
 * of a fixed message under a fixed key (the seed is a valid signature, so
 * the fuzzer explores past the parsing into the checks). Nothing may crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed, valid public key (its secret half is not here). */
/* The key of tests/fuzz/corpus/minisig/message.minisig (its secret half
 * was thrown away). */
static const char *const pub_b64 = "RWQIM1kPkgUD1YVeQ7iQOXnoPQA+5864JFJasWKcmmTtIk6dUVW0NM37";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "upgr fuzz message\n";
	struct sign_pub key, parsed;
	char *text = malloc(size + 1), *comment = NULL;
	struct err e;

	memcpy(text, data, size);
	text[size] = '\0';
	sign_pub_parse(text, &parsed, &e);
	if (sign_pub_parse(pub_b64, &key, &e) < 0)
		abort();
	sign_verify(&key, 1, msg, sizeof msg - 1, text, size, &comment, &e);
	free(comment);
	free(text);
	return 0;
}
