/* SPDX-License-Identifier: Apache-2.0 */
/* upgr trust sign|show|publish: the tools for the holders of the root
 * keys (docs/trust.md). Signatures live beside the root file, one per
 * signer: FILE.NAME.minisig, NAME being the key's name in the root. */
#include "channel.h"
#include "cli.h"
#include "publish.h"
#include "fsutil.h"
#include "root.h"
#include "transport.h"
#include "xalloc.h"

#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int load_root(const char *path, struct root *r, struct buf *b, struct err *e)
{
	struct diag d;

	if (fs_read_file(path, ROOT_MAX_BYTES, b, e) < 0)
		return -1;
	diag_init(&d, path);
	if (root_parse(b->data, b->len, r, &d) < 0) {
		diag_print(&d, stderr);
		diag_release(&d);
		return err_set(e, EXIT_DATAERR, "%s: not a valid root file", path);
	}
	diag_release(&d);
	return 0;
}

/* The signature files beside path for every key of r (missing skipped). */
static size_t local_sigs(const char *path, const struct root *r, struct root_sig *sigs,
			 struct buf *bufs)
{
	size_t i, n = 0;

	for (i = 0; i < r->nkeys; i++) {
		char *p = xasprintf("%s.%s.minisig", path, r->keys[i].name);
		struct err e;

		err_clear(&e);
		buf_reset(&bufs[n]);
		if (fs_read_file(p, 4096, &bufs[n], &e) == 0) {
			sigs[n].name = r->keys[i].name;
			sigs[n].text = bufs[n].data;
			sigs[n].len = bufs[n].len;
			n++;
		}
		free(p);
	}
	return n;
}

static int do_sign(const char *keypath, const char *pass_file, const char *path)
{
	struct root r = { 0 };
	struct buf b = BUF_INIT, sig = BUF_INIT;
	struct sign_key key;
	struct sign_pub pub;
	struct err e;
	char *copy = xstrdup(path), *comment = NULL, *out = NULL;
	int k, rc = EXIT_OK;

	err_clear(&e);
	memset(&key, 0, sizeof key);
	if (load_root(path, &r, &b, &e) < 0 || sign_key_open(keypath, pass_file, &key, &e) < 0)
		goto fail;
	sign_key_public(&key, &pub);
	k = root_key_by_pub(&r, &pub);
	if (k < 0) {
		err_set(&e, EXIT_TRUST, "%s: this key is not one of the root's keys", keypath);
		goto fail;
	}
	comment = xasprintf("timestamp:%lld\tfile:%s\thashed", (long long)time(NULL),
			    basename(copy));
	out = xasprintf("%s.%s.minisig", path, r.keys[k].name);
	if (sign_minisig(&key, b.data, b.len, comment, &sig, &e) < 0 ||
	    fs_write_atomic(out, sig.data, sig.len, 0644, &e) < 0)
		goto fail;
	printf("%s\n", out);
	goto done;
fail:
	rc = cli_fail(&e);
done:
	sign_key_wipe(&key);
	root_release(&r);
	buf_release(&b);
	buf_release(&sig);
	free(copy);
	free(comment);
	free(out);
	return rc;
}

struct repo_ctx {
	struct xfer *x;
	const char *url;
};

static int repo_fetch(void *ctx, const char *rel, size_t max, struct buf *out,
		      bool *missing, struct err *e)
{
	struct repo_ctx *c = ctx;
	char *u = xasprintf("%s/%s", c->url, rel);
	int rc = xfer_get(c->x, u, max, out, missing, e);

	free(u);
	return rc;
}

/* Root 1 from the repo, on its own threshold, then the walk upward (no
 * expiry check: show reports it). */
static int repo_newest(struct repo_ctx *c, struct root *r, struct buf *b, struct err *e)
{
	return publish_root_load(c->x, c->url, NULL, (time_t)0, r, b, e);
}

static int sig_state(const struct root *r, size_t i, const struct root_sig *sigs,
		     size_t nsigs, const struct buf *b)
{
	struct err e;
	size_t s;

	for (s = 0; s < nsigs; s++)
		if (!strcmp(sigs[s].name, r->keys[i].name)) {
			err_clear(&e);
			return sign_verify(&r->keys[i].pub, 1, b->data, b->len, sigs[s].text,
					   sigs[s].len, NULL, &e) == 0 ? 1 : -1;
		}
	return 0;
}

/* v[0..n) joined by ", ", each a JSON string when json: root_parse
 * admits no quote or control character in globs and targets, but a glob
 * may hold a backslash (an fnmatch escape). */
/* s as it is, or as a JSON string (buf_add_quoted). */
static void print_str(const char *s, bool json)
{
	struct buf b = BUF_INIT;

	if (!json) {
		fputs(s, stdout);
		return;
	}
	buf_add_quoted(&b, s);
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}

static void print_list(char *const *v, size_t n, bool json)
{
	size_t j;

	for (j = 0; j < n; j++) {
		fputs(j ? ", " : "", stdout);
		print_str(v[j], json);
	}
}

/* The role's key names, as print_list prints them. */
static void print_role_keys(const struct root *r, size_t role, bool json)
{
	size_t j;

	for (j = 0; j < r->roles[role].n; j++) {
		fputs(j ? ", " : "", stdout);
		print_str(r->keys[r->roles[role].idx[j]].name, json);
	}
}

/* What trust show shows: the root, its bytes and signatures, its expiry. */
struct show {
	const struct root *r;
	const struct root_sig *sigs;
	size_t nsigs;
	const struct buf *b;
	char expires[CHANNEL_TIME_LEN + 1];
	long days;
	enum root_expiry ex;
};

/* Who of role i signed v's root (tl->got of tl->need). */
static void role_tally(const struct show *v, size_t i, struct root_tally *tl)
{
	struct err e;

	err_clear(&e);
	root_verify_threshold(v->r, (enum root_role_id)i, v->b->data, v->b->len, v->sigs,
			      v->nsigs, NULL, tl, &e);
}

static void show_text(const struct show *v)
{
	const struct root *r = v->r;
	char id[17];
	struct root_tally tl;
	size_t i;

	printf("version: %" PRIu64 "\nexpires: %s (%s, %ld days left)\nkeys:\n", r->version,
	       v->expires, v->ex == ROOT_EXP_OK ? "ok" : v->ex == ROOT_EXP_WARN ?
	       "expires soon" : "EXPIRED", v->days);
	for (i = 0; i < r->nkeys; i++) {
		int st = sig_state(r, i, v->sigs, v->nsigs, v->b);
		const char *state = st > 0 ? "signed, verifies" :
				    st < 0 ? "signature DOES NOT VERIFY" : "not signed";

		sign_keyid_hex(r->keys[i].pub.keyid, id);
		printf("  %-16s %s  %s\n", r->keys[i].name, id, state);
	}
	printf("roles:\n");
	for (i = 0; i < ROOT_NROLES; i++) {
		role_tally(v, i, &tl);
		printf("  %-8s threshold %u of [", root_role_name((enum root_role_id)i),
		       r->roles[i].threshold);
		print_role_keys(r, i, false);
		printf("]");
		if (i == ROOT_ROLE_ROOT)
			printf("  signed by %u: %s", tl.got, tl.got >= tl.need ? "met" : "NOT MET");
		printf("\n");
	}
	for (i = 0; i < r->nscopes; i++) {
		printf("scope %s: apps [", r->keys[r->scopes[i].key].name);
		print_list(r->scopes[i].apps, r->scopes[i].napps, false);
		printf("] targets [");
		print_list(r->scopes[i].targets, r->scopes[i].ntargets, false);
		printf("]\n");
	}
}

static void show_json(const struct show *v)
{
	const struct root *r = v->r;
	char id[17];
	struct root_tally tl;
	size_t i;

	printf("{\"version\": %" PRIu64 ", \"expires\": \"%s\", \"days_left\": %ld, "
	       "\"expiry\": \"%s\", \"keys\": [", r->version, v->expires, v->days,
	       v->ex == ROOT_EXP_OK ? "ok" : v->ex == ROOT_EXP_WARN ? "warn" : "expired");
	for (i = 0; i < r->nkeys; i++) {
		int st = sig_state(r, i, v->sigs, v->nsigs, v->b), signed_ = st != 0, ok = st > 0;

		sign_keyid_hex(r->keys[i].pub.keyid, id);
		printf("%s{\"name\": ", i ? ", " : "");
		print_str(r->keys[i].name, true);
		printf(", \"key_id\": \"%s\", \"signed\": %s, \"verifies\": %s}", id,
		       signed_ ? "true" : "false", ok ? "true" : "false");
	}
	printf("], \"roles\": {");
	for (i = 0; i < ROOT_NROLES; i++) {
		role_tally(v, i, &tl);
		printf("%s\"%s\": {\"threshold\": %u, \"signed\": %u, \"met\": %s, \"keys\": [",
		       i ? ", " : "", root_role_name((enum root_role_id)i), tl.need, tl.got,
		       tl.need && tl.got >= tl.need ? "true" : "false");
		print_role_keys(r, i, true);
		printf("]}");
	}
	printf("}, \"scopes\": {");
	for (i = 0; i < r->nscopes; i++) {
		fputs(i ? ", " : "", stdout);
		print_str(r->keys[r->scopes[i].key].name, true);
		fputs(": {\"apps\": [", stdout);
		print_list(r->scopes[i].apps, r->scopes[i].napps, true);
		printf("], \"targets\": [");
		print_list(r->scopes[i].targets, r->scopes[i].ntargets, true);
		printf("]}");
	}
	printf("}}\n");
}

static int show_or_publish(bool publish, bool json, const struct transport_opts *to,
			   const char *path)
{
	const char *repo = to->repo;
	struct repo_ctx c = { NULL, repo };
	struct root r = { 0 }, prev = { 0 };
	struct root_sig sigs[ROOT_MAX_KEYS];
	struct buf bufs[ROOT_MAX_KEYS], b = BUF_INIT, pb = BUF_INIT;
	struct root_tally t;
	struct err e;
	size_t n = 0, i;
	int rc = EXIT_OK, have = 0;

	err_clear(&e);
	for (i = 0; i < ROOT_MAX_KEYS; i++)
		buf_init(&bufs[i]);
	if (repo)
		c.x = xfer_new(&to->xfer);
	if (path) {
		if (load_root(path, &r, &b, &e) < 0)
			goto fail;
		n = local_sigs(path, &r, sigs, bufs);
	} else {
		have = repo_newest(&c, &r, &b, &e);
		if (have <= 0) {
			if (!have)
				err_set(&e, EXIT_UNAVAILABLE, "%s: no root/1.root.yaml", repo);
			goto fail;
		}
		rc = root_fetch_sigs(&r, NULL, r.version, repo_fetch, &c, sigs, bufs,
				     ROOT_MAX_KEYS, &e);
		if (rc < 0)
			goto fail;
		n = (size_t)rc;
		rc = EXIT_OK;
	}
	if (!publish) {
		struct show v = { &r, sigs, n, &b, "", 0, ROOT_EXP_OK };

		v.ex = root_expiry_state(&r, time(NULL), &v.days);
		channel_time_format(r.expires, v.expires);
		(json ? show_json : show_text)(&v);
		goto done;
	}
	if (root_verify_threshold(&r, ROOT_ROLE_ROOT, b.data, b.len, sigs, n, NULL, &t, &e) < 0)
		goto fail;
	have = repo_newest(&c, &prev, &pb, &e);
	if (have < 0)
		goto fail;
	if ((have ? prev.version + 1 : 1) != r.version) {
		err_set(&e, EXIT_TRUST, "the repository's newest root is version %" PRIu64
			": publish version %" PRIu64 " next", have ? prev.version : 0,
			have ? prev.version + 1 : 1);
		goto fail;
	}
	if (have && root_accept_next(&prev, &r, b.data, b.len, sigs, n, &e) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		char *f = root_sig_name(r.version, sigs[i].name);
		char *u = xasprintf("%s/root/%s", repo, f);

		free(f);
		rc = xfer_put(c.x, u, sigs[i].text, sigs[i].len, &e);
		free(u);
		if (rc < 0)
			goto fail;
	}
	{
		char *u = xasprintf("%s/root/%" PRIu64 ".root.yaml", repo, r.version);

		rc = xfer_put(c.x, u, b.data, b.len, &e);
		free(u);
		if (rc < 0)
			goto fail;
	}
	printf("published root version %" PRIu64 " with %zu signatures\n", r.version, n);
	rc = EXIT_OK;
	goto done;
fail:
	rc = cli_fail(&e);
done:
	for (i = 0; i < ROOT_MAX_KEYS; i++)
		buf_release(&bufs[i]);
	buf_release(&b);
	buf_release(&pb);
	root_release(&r);
	root_release(&prev);
	if (c.x)
		xfer_free(c.x);
	return rc;
}

static int run(const struct command *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		CLI_REPO_OPTION,
		CLI_TRANSPORT_OPTIONS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *key = NULL, *pass_file = NULL, *sub, *file;
	struct transport_opts t = { 0 };
	bool json = false;
	int ch, rc;

	if (argc < 2 || (strcmp(argv[1], "sign") && strcmp(argv[1], "show") &&
			 strcmp(argv[1], "publish"))) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
			return cli_help(self);
		return cli_usage(self, "expected sign, show or publish");
	}
	sub = argv[1];
	optind = 1;
	while ((ch = cli_getopt(self, argc - 1, argv + 1, CLI_REPO_SHORT CLI_TRANSPORT_SHORT
				"k:P:jh", opts)) != -1) {
		switch (ch) {
		case 'k': key = optarg; break;
		case 'P': pass_file = optarg; break;
		case 'j': json = true; break;
		case -2: return EXIT_OK;
		default:
			if (!cli_transport_opt(&t, ch, optarg))
				return EXIT_USAGE;
		}
	}
	if ((rc = cli_transport_check(self, &t, false)) >= 0)
		return rc;
	file = optind < argc - 1 ? argv[optind + 1] : NULL;
	if (optind + 2 < argc)
		return cli_usage(self, "expected one ROOTFILE");
	if (!strcmp(sub, "sign")) {
		if (!key || !file)
			return cli_usage(self, "trust sign needs -k KEY and ROOTFILE");
		return do_sign(key, pass_file, file);
	}
	if (!strcmp(sub, "publish")) {
		if (!t.repo || !file)
			return cli_usage(self, "trust publish needs --repo URL and ROOTFILE");
		return show_or_publish(true, false, &t, file);
	}
	if (!file == !t.repo)
		return cli_usage(self, "trust show needs ROOTFILE or --repo URL");
	return show_or_publish(false, json, &t, file);
}

const struct command cmd_trust = {
	"trust", run,
	"usage: upgr trust sign -k KEY [--passphrase-file FILE] ROOTFILE\n"
	"       upgr trust publish --repo URL [TRANSPORT] ROOTFILE\n"
	"       upgr trust show [--json] (ROOTFILE | --repo URL [TRANSPORT])\n"
	"TRANSPORT: [--netrc FILE] [--cacert FILE] [--ssh-key FILE] [--known-hosts FILE]\n"
	"\n"
	"Sign, publish and inspect the trust root (docs/trust.md).\n"
	"  sign     write ROOTFILE.NAME.minisig, NAME being KEY's name in the root;\n"
	"           a key the root does not name is refused (77)\n"
	"  publish  upload ROOTFILE as root/N.root.yaml with its signatures; it must\n"
	"           meet its own root threshold and, from version 2, that of the\n"
	"           repository's newest root (verified from root/1 upward), and be\n"
	"           exactly one version newer\n"
	"  show     roles, keys with key ids, scopes, expiry and days left, who\n"
	"           signed and whether each signature verifies; --repo shows the\n"
	"           newest root reached by the walk from root/1\n"
	"\n"
	"  -k, --key KEY          the secret key (sign): a file, encrypted or not, or\n"
	"                         a pkcs11: URI\n"
	"  -P, --passphrase-file FILE  the passphrase of an encrypted KEY\n"
	"  -r, --repo URL         the repository (ftp, sftp, http(s), file)\n"
	CLI_TRANSPORT_USAGE
	"  -j, --json             show as JSON\n"
	"  -h, --help             this text\n"
	"\n"
	"exit: 0 ok, 2 usage, 65 invalid root file, 69 no server, 77 trust check failed\n",
	"sign, publish and show the trust root",
};
