/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 signing through a PKCS#11 token (CKM_EDDSA), named by an RFC
 * 7512 URI wherever a secret key file is accepted:
 *
 *   pkcs11:token=NAME;object=LABEL?module-path=/path/lib.so&pin-source=file:/path
 *
 * The module is loaded with dlopen; the PIN is the first line of the
 * pin-source file (owner-only, as a passphrase file). The public key is
 * the token's public key object with the same label (CKA_EC_POINT); the
 * key id is the first 8 bytes of BLAKE2b-512 of the public key. */
#ifndef UPGR_PKCS11_H
#define UPGR_PKCS11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct pkcs11_key;

bool pkcs11_is_uri(const char *s);
/* Open the token key the URI names: *out (release with pkcs11_close) and
 * its public key pk[32]. */
int pkcs11_open(const char *uri, struct pkcs11_key **out, uint8_t pk[32],
		struct err *e);
/* Ed25519 signature of msg by the token (64 bytes). */
int pkcs11_sign(struct pkcs11_key *k, const void *msg, size_t len,
		uint8_t sig[64], struct err *e);
void pkcs11_close(struct pkcs11_key *k);

#endif
