/* SPDX-License-Identifier: Apache-2.0 */
/* upgr approve: a reviewer's signature on a published release (four-eyes,
 * docs/trust.md and docs/reviewer.md). The manifest is fetched and checked
 * against the repository's trust root, the reviewer sees what they
 * approve, confirms, and their signature lands beside the manifest as
 * manifest.yaml.NAME.minisig (uploaded whole, as publish does). */
#include "channel.h"
#include "cli.h"
#include "hash.h"
#include "manifest.h"
#include "publish.h"
#include "repo.h"
#include "sign.h"
#include "transport.h"
#include "xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct appr {
	const char *keyfile, *pass_file, *repo, *root_file, *channel, *app, *version;
	struct transport_opts t;   /* --repo (repo is t.repo) and its trust */
	const char *against;       /* the baseline version; NULL: the channel's */
	bool yes;
	struct xfer *x;
	struct root root;
	bool has_root;
	struct buf root_bytes;
	struct sign_key key;
	const char *name;          /* the reviewer's key name in the root */
	char *url;                 /* REPO/apps/APP/releases/VERSION/manifest.yaml */
	char *rel;                 /* releases/VERSION/manifest.yaml */
	struct buf data;
	struct manifest m, prev;
	bool has_m, has_prev;
	struct publish_sigs sigs;
	struct root_manifest_result res;
};

static char *app_url(const struct appr *a, const char *rel)
{
	size_t len = strlen(a->repo);

	while (len > 1 && a->repo[len - 1] == '/')
		len--;
	return xasprintf("%.*s/apps/%s/%s", (int)len, a->repo, a->app, rel);
}

/* The root, and the reviewer's key in its approve role. */
static int load_trust(struct appr *a, struct err *e)
{
	struct sign_pub pub;
	int rc, k;

	rc = publish_root_load(a->x, a->repo, a->root_file, time(NULL), &a->root,
			       &a->root_bytes, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return err_set(e, EXIT_TRUST, "%s has no trust root (root/1.root.yaml): "
			       "approvals need one (docs/trust.md)", a->repo);
	a->has_root = true;
	if (sign_key_open(a->keyfile, a->pass_file, &a->key, e) < 0)
		return err_prefix(e, "key: ");
	sign_key_public(&a->key, &pub);
	k = root_key_by_pub(&a->root, &pub);
	if (k < 0 || !publish_root_has(&a->root, ROOT_ROLE_APPROVE, (size_t)k))
		return err_set(e, EXIT_TRUST, "-k %s is not a key of the approve role of "
			       "the trust root (version %llu); nothing uploaded", a->keyfile,
			       (unsigned long long)a->root.version);
	a->name = a->root.keys[k].name;
	return 0;
}

static int parse_manifest(const struct buf *b, const char *label, struct manifest *m,
			  struct err *e)
{
	struct diag d;
	int rc;

	diag_init(&d, label);
	rc = manifest_parse(b->data, b->len, m, &d);
	if (rc < 0)
		diag_to_err(&d, EXIT_TRUST, e);
	diag_release(&d);
	return rc;
}

/* The release's manifest, naming this app and version, signed by the
 * release threshold in scope. */
static int load_release(struct appr *a, struct err *e)
{
	char *shown = xfer_url_redact(a->url);
	int rc = -1;

	if (xfer_get(a->x, a->url, MANIFEST_MAX_BYTES, &a->data, NULL, e) < 0 ||
	    parse_manifest(&a->data, shown, &a->m, e) < 0)
		goto done;
	a->has_m = true;
	if (strcmp(a->m.app, a->app) || strcmp(a->m.version, a->version) || !a->m.has_payload) {
		err_set(e, EXIT_TRUST, "%s names %s %s%s, not %s %s", shown, a->m.app,
			a->m.version, a->m.has_payload ? "" : " (unpublished)", a->app,
			a->version);
		goto done;
	}
	if (publish_sigs_fetch(a->x, a->url, &a->root, (1u << ROOT_ROLE_RELEASE) |
			       (1u << ROOT_ROLE_APPROVE), &a->sigs, e) < 0)
		goto done;
	root_check_manifest(&a->root, a->data.data, a->data.len, a->m.app, a->m.target,
			    a->sigs.sig, a->sigs.n, &a->res, e);
	err_clear(e);
	if (!a->res.release_ok) {
		err_set(e, EXIT_TRUST, "%s: %s: nothing to approve", shown, a->res.why);
		goto done;
	}
	rc = 0;
done:
	free(shown);
	return rc;
}

/* The version to compare with: --against, else the one the channel names
 * now when it is another (allocated), or NULL. */
static char *baseline(struct appr *a)
{
	char *rel = xasprintf("channels/%s.yaml", a->channel), *u = app_url(a, rel), *v = NULL;
	struct buf cb = BUF_INIT;
	struct channel ch;
	struct diag d;
	struct err e;

	diag_init(&d, u);
	err_clear(&e);
	if (a->against)
		v = xstrdup(a->against);
	else if (xfer_get(a->x, u, CHANNEL_MAX_BYTES, &cb, NULL, &e) == 0 &&
		 channel_parse(cb.data, cb.len, &ch, &d) == 0) {
		if (strcmp(ch.version, a->version))
			v = xstrdup(ch.version);
		channel_release(&ch);
	}
	diag_release(&d);
	buf_release(&cb);
	free(u);
	free(rel);
	return v;
}

/* The baseline release of the summary; only when it verifies (release
 * threshold); otherwise there is none. */
static void load_prev(struct appr *a)
{
	struct buf mb = BUF_INIT;
	struct publish_sigs s;
	struct root_manifest_result r;
	char *v = baseline(a), *rel = NULL, *mu = NULL;
	struct err e;

	publish_sigs_init(&s);
	err_clear(&e);
	if (v && !strchr(v, '/')) {
		rel = xasprintf("releases/%s/manifest.yaml", v);
		mu = app_url(a, rel);
	}
	if (mu && xfer_get(a->x, mu, MANIFEST_MAX_BYTES, &mb, NULL, &e) == 0 &&
	    publish_sigs_fetch(a->x, mu, &a->root, 1u << ROOT_ROLE_RELEASE, &s, &e) == 0 &&
	    parse_manifest(&mb, mu, &a->prev, &e) == 0) {
		root_check_manifest(&a->root, mb.data, mb.len, a->prev.app, a->prev.target,
				    s.sig, s.n, &r, &e);
		a->has_prev = r.release_ok && !strcmp(a->prev.app, a->app);
		if (!a->has_prev)
			manifest_release(&a->prev);
	}
	publish_sigs_release(&s);
	buf_release(&mb);
	free(mu);
	free(rel);
	free(v);
}

static void count_files(const struct appr *a, size_t n[3])
{
	size_t i;

	n[0] = n[1] = 0;
	n[2] = a->m.nremove;
	for (i = 0; i < a->m.nfiles; i++) {
		const struct mfile *f = &a->m.files[i];
		const struct mfile *o = a->has_prev ? manifest_find_file(&a->prev, f->path) : NULL;

		if (!o)
			n[0]++;
		else if (o->mode != f->mode || memcmp(o->sha256, f->sha256, SHA256_LEN))
			n[1]++;
	}
	for (i = 0; a->has_prev && i < a->prev.nfiles; i++)
		if (!manifest_find_file(&a->m, a->prev.files[i].path))
			n[2]++;
}

static void print_cmds(const char *phase, const struct mcmds *c)
{
	size_t i;

	printf("  %-9s %zu command%s\n", phase, c->n, c->n == 1 ? "" : "s");
	for (i = 0; i < c->n; i++)
		printf("            %s\n", c->v[i].run);
}

/* What the reviewer approves. */
static void summary(const struct appr *a)
{
	uint8_t h[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	size_t n[3], i, npre = 0;

	sha256_buf(a->data.data, a->data.len, h);
	hex_encode(h, SHA256_LEN, hex);
	count_files(a, n);
	printf("approve %s %s\n", a->m.app, a->m.version);
	printf("  target    %s\n", a->m.target);
	printf("  manifest  sha256 %s\n", hex);
	printf("  payload   %llu bytes\n", (unsigned long long)a->m.payload_size);
	if (a->has_prev)
		printf("  against   %s\n", a->prev.version);
	else
		printf("  against   nothing (no other verified release: channel %s, or "
		       "--against VERSION)\n", a->channel);
	printf("  files     %zu added, %zu replaced, %zu removed, %zu in all\n",
	       n[0], n[1], n[2], a->m.nfiles);
	for (i = 0; i < a->m.npre; i++)
		npre += a->m.pre[i].kind == PRE_RUN;
	printf("  precondition %zu command%s\n", npre, npre == 1 ? "" : "s");
	for (i = 0; i < a->m.npre; i++)
		if (a->m.pre[i].kind == PRE_RUN)
			printf("            %s\n", a->m.pre[i].cmd.run);
	print_cmds("stop", &a->m.stop);
	print_cmds("start", &a->m.start);
	print_cmds("health", &a->m.health);
	print_cmds("rollback", &a->m.rollback);
	printf("  release   signed by %u of %u; approvals %u of %u\n", a->res.release.got,
	       a->res.release.need, a->res.approve.got, a->res.approve.need);
}

/* 0 when the reviewer typed yes; 1 when not; -1 with no terminal. */
static int confirm(const struct appr *a)
{
	char line[16];

	if (a->yes)
		return 0;
	if (!isatty(STDIN_FILENO))
		return -1;
	printf("approve %s %s as '%s'? [y/N] ", a->app, a->version, a->name);
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	return (line[0] == 'y' || line[0] == 'Y') ? 0 : 1;
}

/* Four-eyes: the same key as a release signer, or an approval already. */
static int already(const struct appr *a, size_t k, struct err *e)
{
	unsigned i;

	for (i = 0; i < a->res.release.got; i++)
		if (a->res.release.signer[i] == k)
			return err_set(e, EXIT_TRUST, "'%s' already signed %s %s as its "
				       "release key: an approval by the same key would not "
				       "count (four-eyes); ask another reviewer", a->name,
				       a->app, a->version);
	for (i = 0; i < a->res.approve.got; i++)
		if (a->res.approve.signer[i] == k)
			return 1;
	return 0;
}

static int upload_sig(struct appr *a, struct err *e)
{
	struct buf c = BUF_INIT, sig = BUF_INIT;
	char *u = publish_sig_url(a->url, a->name);
	int rc;

	repo_sig_comment(a->app, a->rel, time(NULL), &c);
	buf_addf(&c, "\tversion:%s\tapproved", a->version);
	rc = sign_minisig(&a->key, a->data.data, a->data.len, c.data, &sig, e);
	if (rc == 0)
		rc = xfer_put(a->x, u, sig.data, sig.len, e);
	free(u);
	buf_release(&sig);
	buf_release(&c);
	return rc;
}

static int approve(struct appr *a, struct err *e)
{
	int k, rc;

	if (load_trust(a, e) < 0 || load_release(a, e) < 0)
		return -1;
	k = root_key_find(&a->root, a->name);
	rc = already(a, (size_t)k, e);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		printf("%s %s: already approved by '%s' (approvals %u of %u)\n", a->app,
		       a->version, a->name, a->res.approve.got, a->res.approve.need);
		return 0;
	}
	load_prev(a);
	summary(a);
	rc = confirm(a);
	if (rc < 0)
		return err_set(e, EXIT_USAGE, "no terminal to confirm on: read the summary "
			       "and pass --yes to approve");
	if (rc > 0)
		return err_set(e, EXIT_USAGE, "not approved: nothing uploaded");
	if (upload_sig(a, e) < 0)
		return -1;
	printf("%s %s: approved by '%s' (approvals %u of %u)\n", a->app, a->version,
	       a->name, a->res.approve.got + 1, a->res.approve.need);
	return 0;
}

static void appr_release(struct appr *a)
{
	sign_key_wipe(&a->key);
	if (a->has_root)
		root_release(&a->root);
	if (a->has_m)
		manifest_release(&a->m);
	if (a->has_prev)
		manifest_release(&a->prev);
	publish_sigs_release(&a->sigs);
	buf_release(&a->root_bytes);
	buf_release(&a->data);
	xfer_free(a->x);
	free(a->url);
	free(a->rel);
}

static int parse(const struct command *self, int argc, char **argv, struct appr *a)
{
	/* Long-only: --channel (-c is the config everywhere) and --against
	 * (-a is publish's --channel-key). */
	enum { OPT_CHANNEL = 256, OPT_AGAINST };
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		CLI_REPO_OPTION,
		CLI_TRANSPORT_OPTIONS,
		{ "root", required_argument, NULL, 'R' },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "yes", no_argument, NULL, 'y' },
		{ "against", required_argument, NULL, OPT_AGAINST },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt(self, argc, argv, CLI_REPO_SHORT CLI_TRANSPORT_SHORT
				"k:P:R:yh", opts)) != -1) {
		switch (ch) {
		case 'k': a->keyfile = optarg; break;
		case 'P': a->pass_file = optarg; break;
		case 'R': a->root_file = optarg; break;
		case OPT_CHANNEL: a->channel = optarg; break;
		case 'y': a->yes = true; break;
		case OPT_AGAINST: a->against = optarg; break;
		case -2: return EXIT_OK;
		default:
			if (!cli_transport_opt(&a->t, ch, optarg))
				return EXIT_USAGE;
		}
	}
	a->repo = a->t.repo;
	if (!a->keyfile || !a->repo)
		return cli_usage(self, "-k KEY and --repo URL are required");
	if ((rc = cli_transport_check(self, &a->t, true)) >= 0)
		return rc;
	if (!channel_name_ok(a->channel))
		return cli_usage(self, "--channel: \"%s\" is not a channel name", a->channel);
	if (optind + 2 != argc)
		return cli_usage(self, "expected APP VERSION");
	a->app = argv[optind];
	a->version = argv[optind + 1];
	if (!channel_name_ok(a->app) || strchr(a->version, '/') || a->version[0] == '.')
		return cli_usage(self, "\"%s %s\" is not an app name and version", a->app,
				 a->version);
	return -1;
}

static int run(const struct command *self, int argc, char **argv)
{
	struct appr a = { .channel = "stable", .root_bytes = BUF_INIT, .data = BUF_INIT };
	struct err e;
	int rc;

	publish_sigs_init(&a.sigs);
	if ((rc = parse(self, argc, argv, &a)) >= 0)
		goto done;
	a.x = xfer_new(&a.t.xfer);
	a.rel = xasprintf("releases/%s/manifest.yaml", a.version);
	a.url = app_url(&a, a.rel);
	err_clear(&e);
	if (!a.x)
		{ err_set(&e, EXIT_SOFTWARE, "cannot start libcurl"); rc = cli_fail(&e); }
	else
		rc = approve(&a, &e) < 0 ? cli_fail(&e) : EXIT_OK;
done:
	appr_release(&a);
	return rc;
}

const struct command cmd_approve = {
	"approve", run,
	"usage: upgr approve -k KEY [--passphrase-file FILE] --repo URL [--netrc FILE]\n"
	"                    [--cacert FILE] [--ssh-key FILE] [--known-hosts FILE]\n"
	"                    [--root FILE]\n"
	"                    [--channel NAME] [--against VERSION] [--yes] APP VERSION\n"
	"\n"
	"Approve a published release as a reviewer (four-eyes, docs/reviewer.md).\n"
	"The manifest URL/apps/APP/releases/VERSION/manifest.yaml must meet the\n"
	"trust root's release threshold; the summary shows its target, sha256,\n"
	"the files it adds, replaces and removes against the release the channel\n"
	"names now, and the commands of each phase. After confirmation the\n"
	"reviewer's signature is uploaded whole as manifest.yaml.NAME.minisig,\n"
	"NAME being KEY's name in the root.\n"
	"\n"
	"  -k, --key KEY          the reviewer's secret key (the root's approve role)\n"
	"  -P, --passphrase-file FILE  the key's passphrase when it is encrypted\n"
	"  -r, --repo URL         the repository (file, ftp, ftps, ftpes, sftp)\n"
	CLI_TRANSPORT_USAGE
	"  -R, --root FILE        the trust root to start from instead of the\n"
	"                         repository's root/1.root.yaml; walked upward\n"
	"      --channel NAME     compare with the release this channel names\n"
	"                         (default stable)\n"
	"      --against VERSION  compare with this release instead\n"
	"  -y, --yes              approve without asking (for scripts)\n"
	"  -h, --help             this text\n"
	"\n"
	"exit: 0 approved (or approved already), 2 usage, declined, or no terminal\n"
	"and no --yes, 69 the repository did not answer, 77 no trust root, KEY not\n"
	"in the approve role, a release that does not meet the release threshold,\n"
	"or KEY already signed it as a release key (it would not count)\n",
	"approve a published release as a reviewer (four-eyes)",
};
