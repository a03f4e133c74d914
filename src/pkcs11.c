/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 signing (pkcs11.h). The few declarations used are written here
 * from the PKCS#11 specification (v2.40 and 3.0: the function list's
 * order, the constants below), so no header package is needed. */
#include "pkcs11.h"
#include "sign.h"
#include "xalloc.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long ck_ulong;
typedef ck_ulong ck_rv;
typedef void (*ck_any)(void);

struct ck_attr { ck_ulong type; void *value; ck_ulong len; };
struct ck_mech { ck_ulong mech; void *param; ck_ulong len; };
struct ck_funcs { unsigned char version[2]; ck_any fn[44]; };

enum {                          /* indices in the function list */
	F_INITIALIZE = 0, F_FINALIZE = 1, F_GET_SLOT_LIST = 4, F_GET_TOKEN_INFO = 6,
	F_OPEN_SESSION = 12, F_CLOSE_SESSION = 13, F_LOGIN = 18,
	F_GET_ATTR = 24, F_FIND_INIT = 26, F_FIND = 27, F_FIND_FINAL = 28,
	F_SIGN_INIT = 42, F_SIGN = 43,
};
#define CKR_OK 0UL
#define CKR_ALREADY_INITIALIZED 0x191UL
#define CKR_PIN_INCORRECT 0xa0UL
#define CKA_CLASS 0x0UL
#define CKA_LABEL 0x3UL
#define CKA_EC_POINT 0x181UL
#define CKO_PUBLIC_KEY 2UL
#define CKO_PRIVATE_KEY 3UL
#define CKU_USER 1UL
#define CKF_SERIAL_SESSION 4UL
#define CKM_EDDSA 0x1057UL

typedef ck_rv (*fn_init)(void *);
typedef ck_rv (*fn_slots)(unsigned char, ck_ulong *, ck_ulong *);
typedef ck_rv (*fn_tokinfo)(ck_ulong, void *);
typedef ck_rv (*fn_open)(ck_ulong, ck_ulong, void *, void *, ck_ulong *);
typedef ck_rv (*fn_close)(ck_ulong);
typedef ck_rv (*fn_login)(ck_ulong, ck_ulong, unsigned char *, ck_ulong);
typedef ck_rv (*fn_attr)(ck_ulong, ck_ulong, struct ck_attr *, ck_ulong);
typedef ck_rv (*fn_find_init)(ck_ulong, struct ck_attr *, ck_ulong);
typedef ck_rv (*fn_find)(ck_ulong, ck_ulong *, ck_ulong, ck_ulong *);
typedef ck_rv (*fn_sign_init)(ck_ulong, struct ck_mech *, ck_ulong);
typedef ck_rv (*fn_sign)(ck_ulong, unsigned char *, ck_ulong, unsigned char *, ck_ulong *);
typedef ck_rv (*fn_getlist)(struct ck_funcs **);

struct pkcs11_key {
	void *lib;
	struct ck_funcs *f;
	ck_ulong session, priv;
};

bool pkcs11_is_uri(const char *s)
{
	return s && !strncmp(s, "pkcs11:", 7);
}

/* The value of attribute name in the URI (path part ';', query '&'),
 * malloc'd, or NULL. Percent-encoding is not decoded. */
static char *uri_attr(const char *uri, const char *name)
{
	size_t n = strlen(name);
	const char *p = uri + 7;

	while (*p) {
		if (!strncmp(p, name, n) && p[n] == '=') {
			p += n + 1;
			return xstrndup(p, strcspn(p, ";?&"));
		}
		p += strcspn(p, ";?&");
		if (*p)
			p++;
	}
	return NULL;
}

static int find_slot(struct ck_funcs *f, const char *token, ck_ulong *slot,
		     struct err *e)
{
	ck_ulong slots[64], n = 64, i;
	unsigned char info[512];
	size_t tl = strlen(token), j;

	if (((fn_slots)f->fn[F_GET_SLOT_LIST])(1, slots, &n) != CKR_OK)
		return err_set(e, EXIT_SOFTWARE, "pkcs11: cannot list the slots");
	for (i = 0; i < n; i++) {
		if (((fn_tokinfo)f->fn[F_GET_TOKEN_INFO])(slots[i], info) != CKR_OK ||
		    tl > 32 || memcmp(info, token, tl))
			continue;
		for (j = tl; j < 32 && info[j] == ' '; j++)
			;
		if (j == 32) {
			*slot = slots[i];
			return 0;
		}
	}
	return err_set(e, EXIT_DATAERR, "pkcs11: no token labelled \"%s\"", token);
}

static int find_obj(struct pkcs11_key *k, ck_ulong cls, const char *label,
		    ck_ulong *obj, struct err *e)
{
	struct ck_attr t[2] = { { CKA_CLASS, &cls, sizeof cls },
				{ CKA_LABEL, (void *)label, strlen(label) } };
	ck_ulong n = 0;

	if (((fn_find_init)k->f->fn[F_FIND_INIT])(k->session, t, 2) != CKR_OK)
		return err_set(e, EXIT_SOFTWARE, "pkcs11: cannot search the token");
	((fn_find)k->f->fn[F_FIND])(k->session, obj, 1, &n);
	((fn_close)k->f->fn[F_FIND_FINAL])(k->session);
	if (n != 1)
		return err_set(e, EXIT_DATAERR, "pkcs11: no %s key labelled \"%s\"",
			       cls == CKO_PRIVATE_KEY ? "private" : "public", label);
	return 0;
}

/* The public key: CKA_EC_POINT, raw or as a DER OCTET STRING. */
static int get_pub(struct pkcs11_key *k, const char *label, uint8_t pk[32],
		   struct err *e)
{
	unsigned char v[64];
	struct ck_attr a = { CKA_EC_POINT, v, sizeof v };
	ck_ulong obj;

	if (find_obj(k, CKO_PUBLIC_KEY, label, &obj, e) < 0)
		return -1;
	if (((fn_attr)k->f->fn[F_GET_ATTR])(k->session, obj, &a, 1) != CKR_OK)
		return err_set(e, EXIT_SOFTWARE, "pkcs11: cannot read the public key");
	if (a.len == 34 && v[0] == 0x04 && v[1] == 32)
		memcpy(pk, v + 2, 32);
	else if (a.len == 32)
		memcpy(pk, v, 32);
	else
		return err_set(e, EXIT_DATAERR, "pkcs11: \"%s\" is not an Ed25519 key", label);
	return 0;
}

static int login(struct pkcs11_key *k, const char *pin_source, struct err *e)
{
	char *pin = NULL;
	size_t len = 0;
	ck_rv rv;

	if (!pin_source)
		return 0;
	if (strncmp(pin_source, "file:", 5))
		return err_set(e, EXIT_USAGE, "pkcs11: pin-source must be file:PATH");
	if (sign_passphrase_get(pin_source + 5, "the token", false, &pin, &len, e) < 0)
		return -1;
	rv = ((fn_login)k->f->fn[F_LOGIN])(k->session, CKU_USER,
					   (unsigned char *)pin, len);
	sign_passphrase_free(pin, len);
	if (rv == CKR_PIN_INCORRECT)
		return err_set(e, EXIT_TRUST, "pkcs11: wrong PIN");
	if (rv != CKR_OK)
		return err_set(e, EXIT_TRUST, "pkcs11: login failed (0x%lx)", rv);
	return 0;
}

static int session(struct pkcs11_key *k, const char *uri, uint8_t pk[32],
		   struct err *e)
{
	char *token = uri_attr(uri, "token"), *label = uri_attr(uri, "object"),
	     *pins = uri_attr(uri, "pin-source");
	ck_ulong slot;
	ck_rv rv;
	int rc = -1;

	rv = ((fn_init)k->f->fn[F_INITIALIZE])(NULL);
	if (rv != CKR_OK && rv != CKR_ALREADY_INITIALIZED) {
		err_set(e, EXIT_SOFTWARE, "pkcs11: C_Initialize failed (0x%lx)", rv);
		goto done;
	}
	if (!token || !label) {
		err_set(e, EXIT_USAGE, "pkcs11: the URI needs token= and object=");
		goto done;
	}
	if (find_slot(k->f, token, &slot, e) < 0)
		goto done;
	if (((fn_open)k->f->fn[F_OPEN_SESSION])(slot, CKF_SERIAL_SESSION, NULL, NULL,
						 &k->session) != CKR_OK) {
		err_set(e, EXIT_SOFTWARE, "pkcs11: cannot open a session");
		goto done;
	}
	if (login(k, pins, e) < 0 || get_pub(k, label, pk, e) < 0 ||
	    find_obj(k, CKO_PRIVATE_KEY, label, &k->priv, e) < 0)
		goto done;
	rc = 0;
done:
	free(token);
	free(label);
	free(pins);
	return rc;
}

int pkcs11_open(const char *uri, struct pkcs11_key **out, uint8_t pk[32],
		struct err *e)
{
	struct pkcs11_key *k = xcalloc(1, sizeof *k);
	char *mod = uri_attr(uri, "module-path");
	fn_getlist getlist = NULL;
	void *sym;

	*out = NULL;
	if (!mod) {
		free(k);
		return err_set(e, EXIT_USAGE, "pkcs11: the URI needs module-path=");
	}
	k->lib = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	sym = k->lib ? dlsym(k->lib, "C_GetFunctionList") : NULL;
	if (sym)
		memcpy(&getlist, &sym, sizeof getlist);
	if (!getlist || getlist(&k->f) != CKR_OK || !k->f) {
		err_set(e, EXIT_DATAERR, "pkcs11: cannot load the module %s", mod);
		free(mod);
		pkcs11_close(k);
		return -1;
	}
	free(mod);
	if (session(k, uri, pk, e) < 0) {
		pkcs11_close(k);
		return -1;
	}
	*out = k;
	return 0;
}

int pkcs11_sign(struct pkcs11_key *k, const void *msg, size_t len,
		uint8_t sig[64], struct err *e)
{
	struct ck_mech m = { CKM_EDDSA, NULL, 0 };
	ck_ulong n = 64;

	if (((fn_sign_init)k->f->fn[F_SIGN_INIT])(k->session, &m, k->priv) != CKR_OK ||
	    ((fn_sign)k->f->fn[F_SIGN])(k->session, (unsigned char *)msg, len,
					sig, &n) != CKR_OK || n != 64)
		return err_set(e, EXIT_SOFTWARE, "pkcs11: the token did not sign");
	return 0;
}

void pkcs11_close(struct pkcs11_key *k)
{
	if (!k)
		return;
	if (k->f && k->session)
		((fn_close)k->f->fn[F_CLOSE_SESSION])(k->session);
	if (k->f)
		((fn_init)k->f->fn[F_FINALIZE])(NULL);
	if (k->lib)
		dlclose(k->lib);
	free(k);
}
