/* SPDX-License-Identifier: Apache-2.0 */
/* upgr publish, the work: build, sign, upload, switch the channel.
 *
 * The order is what makes a publication safe to interrupt:
 *   1. everything local first (key, payload, hashes, manifest, signatures,
 *      the new channel file): a mistake costs no upload;
 *   2. the release files, the manifest last: a release without its
 *      manifest is incomplete, invisible to agents, and uploaded again by
 *      the next attempt; a complete one is immutable;
 *   3. the channel's signature, then the channel file: the switch.
 * Between the two channel uploads an agent may fetch a file and a
 * signature that do not match; it refuses them and tries again at its
 * next run. If the channel file's upload fails, the old signature is put
 * back. */
#include "publish.h"
#include "channel.h"
#include "fsutil.h"
#include "hash.h"
#include "objects.h"
#include "payload.h"
#include "publish_objects.h"
#include "repo.h"
#include "sign.h"
#include "transport.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WALK_DEPTH_MAX 64

/* One publication's working state. */
struct pub {
	const struct publish_opts *o;
	struct manifest *m;
	bool channel_only;         /* publish_channel: no release is built */
	struct sign_key key;       /* signs the manifest */
	struct sign_key ckey;      /* signs the channel file */
	bool has_root;             /* the repository has a trust root */
	struct root root;
	struct buf root_bytes;
	const char *kname, *cname; /* the keys' names in the root */
	struct buf channel_rsig;   /* a downgrade: the release key's too */
	struct publish_sigs cur_sigs; /* the current channel's, by name */
	struct xfer *x;
	char *app_url;             /* REPO/apps/APP/ */
	char *manifest_rel;        /* releases/VERSION/manifest.yaml */
	char *channel_rel;         /* channels/CHANNEL.yaml */
	char *tmpdir;
	char *payload;             /* tmpdir/payload.tar.gz */
	struct buf manifest, manifest_sig;
	struct buf channel, channel_sig;
	bool had_channel;
	struct channel current;    /* when had_channel, verified */
	struct buf current_sig;    /* its signature, to put back on failure */
	struct sign_pub *trusted;  /* the own public key, then o->trusted */
	size_t ntrusted;
	char *serial_path;         /* the publisher's record (publish.h) */
	uint64_t serial;           /* the serial this publication signs */
};

static char *url_of(const struct pub *p, const char *rel)
{
	return xasprintf("%s%s", p->app_url, rel);
}

/* ---- local work ---- */

/* Files under from/rel that m does not list (the manifest itself aside):
 * probably a forgotten manifest entry, so the command warns. */
static void find_unlisted(const char *from, const char *rel, int depth,
			  const struct manifest *m, const struct stat *skip,
			  struct publish_result *res)
{
	char *dir = rel ? fs_join(from, rel) : xstrdup(from);
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = depth < WALK_DEPTH_MAX ? opendir(dir) : NULL;
	while (d && (de = readdir(d))) {
		char *path, *sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path = fs_join(dir, de->d_name);
		sub = rel ? fs_join(rel, de->d_name) : xstrdup(de->d_name);
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				find_unlisted(from, sub, depth + 1, m, skip, res);
			} else if (!manifest_find_file(m, sub) &&
				   !(st.st_dev == skip->st_dev && st.st_ino == skip->st_ino)) {
				res->unlisted = xreallocarray(res->unlisted, res->nunlisted + 1,
							      sizeof *res->unlisted);
				res->unlisted[res->nunlisted++] = sub;
				sub = NULL;
			}
		}
		free(sub);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* payload.tar.gz, every file's sha256 (an authored one must match), and
 * the payload section of the manifest. */
static int build_payload(struct pub *p, struct err *e)
{
	struct manifest *m = p->m;
	uint8_t (*authored)[SHA256_LEN] = xcalloc(m->nfiles ? m->nfiles : 1, SHA256_LEN);
	bool *pinned = xcalloc(m->nfiles ? m->nfiles : 1, sizeof *pinned);
	int rc = -1;
	size_t i;

	for (i = 0; i < m->nfiles; i++) {
		pinned[i] = m->files[i].has_sha256;
		memcpy(authored[i], m->files[i].sha256, SHA256_LEN);
	}
	if (payload_create(p->payload, p->o->from, m, e) < 0)
		goto done;
	for (i = 0; i < m->nfiles; i++) {
		if (pinned[i] && memcmp(authored[i], m->files[i].sha256, SHA256_LEN)) {
			err_set(e, EXIT_DATAERR, "%s: the manifest gives a sha256 for %s "
				"that the file in %s does not have", m->version,
				m->files[i].path, p->o->from);
			goto done;
		}
	}
	if (sha256_file(p->payload, m->payload_sha256, &m->payload_size, e) < 0)
		goto done;
	free(m->payload_file);
	m->payload_file = xstrdup(PUBLISH_PAYLOAD_NAME);
	m->has_payload = true;
	rc = 0;
done:
	free(pinned);
	free(authored);
	return rc;
}

/* A minisign signature whose trusted comment names the app, the file (as
 * repo_check_comment wants it) and the version. */
static int sign_text(struct pub *p, const struct sign_key *key, const char *rel,
		     const struct buf *data, struct buf *sig, struct err *e)
{
	struct buf c = BUF_INIT;
	int rc;

	repo_sig_comment(p->m->app, rel, p->o->now, &c);
	buf_addf(&c, "\tversion:%s", p->m->version);
	rc = sign_minisig(key, data->data, data->len, c.data, sig, e);
	buf_release(&c);
	return rc;
}

/* The next channel file: serial one higher than the current one. */
static int build_channel(struct pub *p, struct err *e)
{
	const struct publish_opts *o = p->o;
	struct channel ch = { 0 }, check;
	uint8_t h[SHA256_LEN];
	struct diag d;
	int rc;

	if (p->had_channel && !o->downgrade &&
	    semver_cmp(&p->m->semver, &p->current.semver) < 0)
		return err_set(e, EXIT_DATAERR, "channel %s names %s; publishing the "
			       "lower %s needs --downgrade", o->channel,
			       p->current.version, p->m->version);
	ch.app = p->m->app;
	ch.channel = (char *)o->channel;
	ch.serial = p->serial;
	ch.version = p->m->version;
	ch.semver = p->m->semver;
	ch.manifest = p->manifest_rel;
	sha256_buf(p->manifest.data, p->manifest.len, h);
	hex_encode(h, SHA256_LEN, ch.manifest_sha256);
	ch.published = o->now;
	ch.expires = o->now + o->expires;
	ch.has_not_before = o->has_not_before;
	ch.not_before = o->not_before;
	ch.rollout = o->rollout;
	ch.downgrade = o->downgrade;
	channel_emit(&ch, &p->channel);
	/* What an agent will parse must parse: check it the same way. */
	diag_init(&d, p->channel_rel);
	rc = channel_parse(p->channel.data, p->channel.len, &check, &d);
	if (rc < 0)
		diag_to_err(&d, EXIT_DATAERR, e);
	else
		channel_release(&check);
	diag_release(&d);
	if (rc < 0)
		return err_prefix(e, "new channel file: ");
	if (p->has_root && o->downgrade && p->kname != p->cname &&
	    sign_text(p, &p->key, p->channel_rel, &p->channel, &p->channel_rsig, e) < 0)
		return -1;
	return sign_text(p, &p->ckey, p->channel_rel, &p->channel, &p->channel_sig, e);
}

/* ---- the repository ---- */

/* ---- the trust root: who may sign what ---- */

/* The name in the root of key's public half when it holds role, else NULL. */
static const char *role_key(const struct pub *p, const struct sign_key *key,
			    enum root_role_id role)
{
	struct sign_pub pub;
	int k;

	sign_key_public(key, &pub);
	k = root_key_by_pub(&p->root, &pub);
	if (k < 0 || !publish_root_has(&p->root, role, (size_t)k))
		return NULL;
	return p->root.keys[k].name;
}

/* Under a root, before anything is uploaded: --key holds the release role
 * in scope for this app and target, the channel key the channel role, and
 * a downgrade can carry the release threshold on the channel file. */
static int check_keys(struct pub *p, struct err *e)
{
	const struct root *r = &p->root;
	unsigned need = r->roles[ROOT_ROLE_RELEASE].threshold;
	int k;

	p->kname = role_key(p, &p->key, ROOT_ROLE_RELEASE);
	if (p->channel_only && !p->o->downgrade)
		goto channel;            /* the channel role alone re-signs */
	if (!p->kname)
		return err_set(e, EXIT_TRUST, "--key %s is not a key of the release role "
			       "of the repository's trust root (version %" PRIu64 "); "
			       "nothing uploaded", p->o->key, r->version);
	k = root_key_find(r, p->kname);
	if (!root_check_scope(r, (size_t)k, p->m->app, p->m->target))
		return err_set(e, EXIT_TRUST, "release key '%s' is scoped: it may not sign "
			       "app '%s' with target %s (trust root version %" PRIu64
			       "); nothing uploaded", p->kname, p->m->app, p->m->target,
			       r->version);
channel:
	p->cname = role_key(p, &p->ckey, ROOT_ROLE_CHANNEL);
	if (!p->cname)
		return err_set(e, EXIT_TRUST, "%s %s is not a key of the channel role of "
			       "the repository's trust root (version %" PRIu64 "); pass "
			       "the channel key with --channel-key; nothing uploaded",
			       p->o->channel_key ? "--channel-key" : "--key (the default "
			       "channel key)", p->o->channel_key ? p->o->channel_key
			       : p->o->key, r->version);
	if (p->o->downgrade && need > 1)
		return err_set(e, EXIT_TRUST, "--downgrade under a trust root needs the "
			       "release role's threshold on the channel file: %u release "
			       "signatures, and publish makes 1 (--key '%s'); the channel "
			       "key alone cannot move hosts down; nothing uploaded",
			       need, p->kname);
	return 0;
}

static int load_root(struct pub *p, struct err *e)
{
	int rc = publish_root_load(p->x, p->o->repo, p->o->root_file, p->o->now,
				   &p->root, &p->root_bytes, e);

	if (rc <= 0)
		return rc;
	p->has_root = true;
	return check_keys(p, e);
}

/* The current channel's signatures under a root: the channel role's
 * threshold, each signer's file by its name. */
static int verify_channel_root(struct pub *p, const char *url, const char *shown,
			       const struct buf *data, struct err *e)
{
	if (publish_sigs_fetch(p->x, url, &p->root, 1u << ROOT_ROLE_CHANNEL,
			       &p->cur_sigs, e) < 0)
		return -1;
	if (root_check_channel(&p->root, data->data, data->len, p->cur_sigs.sig,
			       p->cur_sigs.n, NULL, NULL, false, e) < 0)
		return err_prefix(e, "%s does not verify against the trust root's "
				  "channel role; refusing to publish over it: ", shown);
	return 0;
}

/* ---- the serial: never taken from the server unverified ---- */

char *publish_default_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return xasprintf("%s/upgr/publish", xdg);
	if (home && home[0] == '/')
		return xasprintf("%s/.local/state/upgr/publish", home);
	return NULL;
}

/* STATE_DIR/serials/APP.CHANNEL.H, as publish.h says. */
static char *serial_path(const struct pub *p)
{
	char *repo = xfer_url_redact(p->o->repo), *key;
	uint8_t h[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	size_t len = strlen(repo);

	while (len > 1 && repo[len - 1] == '/')
		len--;
	key = xasprintf("%.*s\n%s\n%s", (int)len, repo, p->m->app, p->o->channel);
	sha256_buf(key, strlen(key), h);
	hex_encode(h, sizeof h, hex);
	free(key);
	free(repo);
	return xasprintf("%s/serials/%s.%s.%.16s", p->o->state_dir, p->m->app,
			 p->o->channel, hex);
}

/* The serial this publisher signed last; *have = false when none. */
static int serial_read(const char *path, bool *have, uint64_t *serial, struct err *e)
{
	struct buf b = BUF_INIT;
	char *end;
	int rc = 0;

	*have = false;
	*serial = 0;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (fs_read_file(path, 64, &b, e) < 0)
		return err_prefix(e, "publisher state: ");
	errno = 0;
	*serial = strtoull(b.data, &end, 10);
	if (b.len == 0 || b.data[0] < '0' || b.data[0] > '9' || errno || *end != '\n')
		rc = err_set(e, EXIT_DATAERR, "%s: not a serial number", path);
	*have = rc == 0;
	buf_release(&b);
	return rc;
}

static int serial_write(const struct pub *p, struct err *e)
{
	char *dir = fs_join(p->o->state_dir, "serials");
	char text[32];
	int rc;

	snprintf(text, sizeof text, "%" PRIu64 "\n", p->serial);
	rc = fs_mkdir_p(dir, 0700, e);
	if (rc == 0)
		rc = fs_write_atomic(p->serial_path, text, strlen(text), 0600, e);
	free(dir);
	return rc;
}

/* The serial to sign: one more than the verified channel's, which must be
 * the recorded one or one more (see publish.h). */
static int next_serial(struct pub *p, const char *url, struct err *e)
{
	uint64_t last, cur;
	bool have;

	if (serial_read(p->serial_path, &have, &last, e) < 0)
		return -1;
	cur = p->had_channel ? p->current.serial : last;
	if (p->had_channel && have && cur < last)
		return err_set(e, EXIT_TRUST, "%s: serial %" PRIu64 " is lower than the %"
			       PRIu64 " this publisher signed last (%s): the server "
			       "shows an older channel file; refusing to publish",
			       url, cur, last, p->serial_path);
	if (p->had_channel && have && cur - last > 1)
		return err_set(e, EXIT_TRUST, "%s: serial %" PRIu64 " jumps more than one "
			       "over the %" PRIu64 " this publisher signed last (%s); "
			       "refusing to publish. If another publisher signed it, "
			       "remove that file to accept the channel's serial",
			       url, cur, last, p->serial_path);
	if (cur == UINT64_MAX)
		return err_set(e, EXIT_DATAERR, "%s: serial %" PRIu64 " is the largest "
			       "there is and cannot grow; publish to a new channel name",
			       url, cur);
	p->serial = cur + 1;
	return 0;
}

/* The trusted keys: --key's own public half first, then o->trusted. */
static int load_trusted(struct pub *p, struct err *e)
{
	size_t i;

	p->trusted = xcalloc(p->o->ntrusted + 2, sizeof *p->trusted);
	sign_key_public(&p->key, &p->trusted[p->ntrusted++]);
	sign_key_public(&p->ckey, &p->trusted[p->ntrusted++]);
	for (i = 0; i < p->o->ntrusted; i++) {
		if (sign_pub_load(p->o->trusted[i], &p->trusted[p->ntrusted], e) < 0)
			return err_prefix(e, "--trusted-key %s: ", p->o->trusted[i]);
		p->ntrusted++;
	}
	return 0;
}

/* The current channel's signature, trusted comment and content, checked
 * before anything in it is believed. */
static int verify_channel(struct pub *p, const char *url, const struct buf *data,
			  struct err *e)
{
	struct repo_trust t = { p->trusted, p->ntrusted };
	struct diag d;

	if (!p->has_root && repo_verify(&t, p->m->app, p->channel_rel, data, &p->current_sig, e) < 0)
		return err_prefix(e, "%s does not verify with the publisher's keys "
				  "(--key, --trusted-key); refusing to publish over it: ", url);
	diag_init(&d, url);
	if (channel_parse(data->data, data->len, &p->current, &d) < 0) {
		diag_to_err(&d, EXIT_DATAERR, e);
		diag_release(&d);
		return err_prefix(e, "the current channel file: ");
	}
	diag_release(&d);
	p->had_channel = true;
	if (strcmp(p->current.app, p->m->app) || strcmp(p->current.channel, p->o->channel))
		return err_set(e, EXIT_TRUST, "%s: names app '%s' channel '%s', not '%s' '%s'",
			       url, p->current.app, p->current.channel, p->m->app,
			       p->o->channel);
	return 0;
}

/* The current channel file, verified, and the serial to sign next. */
static int read_channel(struct pub *p, struct err *e)
{
	struct buf data = BUF_INIT;
	char *url = url_of(p, p->channel_rel), *sig = xasprintf("%s.minisig", url);
	char *shown = xfer_url_redact(url);
	bool missing;
	int rc = -1;

	if (xfer_get(p->x, url, CHANNEL_MAX_BYTES, &data, &missing, e) < 0) {
		if (missing)
			rc = next_serial(p, shown, e);
		goto done;
	}
	if (p->has_root) {
		if (verify_channel_root(p, url, shown, &data, e) < 0 ||
		    verify_channel(p, shown, &data, e) < 0)
			goto done;
		rc = next_serial(p, shown, e);
		goto done;
	}
	if (xfer_get(p->x, sig, REPO_SIG_MAX, &p->current_sig, &missing, e) < 0) {
		if (missing)
			err_set(e, EXIT_TRUST, "%s has no signature (%s.minisig); "
				"refusing to publish over it", shown, shown);
		goto done;
	}
	if (verify_channel(p, shown, &data, e) < 0)
		goto done;
	rc = next_serial(p, shown, e);
done:
	buf_release(&data);
	free(shown);
	free(sig);
	free(url);
	return rc;
}

/* Whether the release is there already: 1 identical (reuse it), 0 absent
 * or incomplete (upload it), -1 different content or an error. */
static int release_state(struct pub *p, struct err *e)
{
	struct buf old = BUF_INIT;
	char *url = url_of(p, p->manifest_rel);
	bool missing;
	int rc;

	if (xfer_get(p->x, url, MANIFEST_MAX_BYTES, &old, &missing, e) < 0)
		rc = missing ? 0 : -1;
	else if (old.len == p->manifest.len &&
		 !memcmp(old.data, p->manifest.data, old.len))
		rc = 1;
	else
		rc = err_set(e, EXIT_DATAERR, "%s %s is already published with other "
			     "content (%s): releases are immutable, publish a new "
			     "version", p->m->app, p->m->version, url);
	buf_release(&old);
	free(url);
	return rc;
}

static int upload(struct pub *p, const char *rel, const struct buf *data,
		  const char *path, struct err *e)
{
	char *url = url_of(p, rel);
	int rc = path ? xfer_put_file(p->x, url, path, e)
		      : xfer_put(p->x, url, data->data, data->len, e);

	free(url);
	return rc;
}

/* rel's signature: REL.NAME.minisig (name NULL: REL.minisig). */
static int upload_sig(struct pub *p, const char *rel, const char *name,
		      const struct buf *sig, struct err *e)
{
	char *s = publish_sig_url(rel, name);
	int rc = upload(p, s, sig, NULL, e);

	free(s);
	return rc;
}

/* rel's signature sig (the root layout's, then the one for hosts on
 * trusted_keys:), then rel itself. */
static int upload_with_sig(struct pub *p, const char *rel, const struct buf *data,
			   const struct buf *sig, struct err *e)
{
	return (!p->has_root || upload_sig(p, rel, p->kname, sig, e) == 0) &&
			upload_sig(p, rel, NULL, sig, e) == 0 && upload(p, rel, data, NULL, e) == 0
		? 0 : -1;
}

/* rel, signed as the manifest is, with its signature. */
static int upload_signed(struct pub *p, const char *rel, const struct buf *data,
			 struct err *e)
{
	struct buf sig = BUF_INIT;
	int rc = sign_text(p, &p->key, rel, data, &sig, e) == 0 &&
			 upload_with_sig(p, rel, data, &sig, e) == 0 ? 0 : -1;

	buf_release(&sig);
	return rc;
}

/* The objects the release adds, its signed index and its signed change
 * index from the release the channel names (objects.h). */
static int upload_objects(struct pub *p, struct err *e)
{
	struct buf ix = BUF_INIT, dx = BUF_INIT;
	char *rel = objects_index_rel(p->m->version), *drel = NULL;
	int rc = -1;

	if (publish_objects(p->x, p->app_url, p->m, &p->manifest, p->o->from, p->tmpdir,
			    p->had_channel ? p->current.manifest : NULL,
			    p->had_channel ? p->current.manifest_sha256 : NULL,
			    p->had_channel ? p->current.version : NULL, &ix, &dx, e) < 0)
		goto done;
	if (dx.len) {
		drel = objects_delta_rel(p->m->version, p->current.version);
		if (upload_signed(p, drel, &dx, e) < 0)
			goto done;
	}
	rc = upload_signed(p, rel, &ix, e);
done:
	buf_release(&ix);
	buf_release(&dx);
	free(rel);
	free(drel);
	return rc;
}

/* The objects, the payload, the signatures (the root layout's, then the
 * one for hosts on trusted_keys:), the manifest last. */
static int upload_release(struct pub *p, struct err *e)
{
	char *dir = xstrdup(p->manifest_rel), *rel;
	int rc = -1;

	*strrchr(dir, '/') = '\0';
	rel = fs_join(dir, PUBLISH_PAYLOAD_NAME);
	if (upload_objects(p, e) == 0 && upload(p, rel, NULL, p->payload, e) == 0 &&
	    upload_with_sig(p, p->manifest_rel, &p->manifest, &p->manifest_sig, e) == 0)
		rc = 0;
	free(rel);
	free(dir);
	return rc;
}

/* The channel key's signature as the current channel had it, or NULL. */
static const struct root_sig *old_sig(const struct pub *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->cur_sigs.n; i++)
		if (!strcmp(p->cur_sigs.sig[i].name, name))
			return &p->cur_sigs.sig[i];
	return NULL;
}

/* Best effort after a failed switch: keep the old channel verifiable. */
static void restore_sigs(struct pub *p)
{
	const struct root_sig *o = p->has_root ? old_sig(p, p->cname) : NULL;
	struct buf b = BUF_INIT;
	struct err ignored;

	if (p->current_sig.len)
		upload_sig(p, p->channel_rel, NULL, &p->current_sig, &ignored);
	if (o) {
		buf_add(&b, o->text, o->len);
		upload_sig(p, p->channel_rel, p->cname, &b, &ignored);
	}
	buf_release(&b);
}

static int switch_channel(struct pub *p, struct err *e)
{
	if (p->has_root && p->channel_rsig.len &&
	    upload_sig(p, p->channel_rel, p->kname, &p->channel_rsig, e) < 0)
		return -1;
	if (p->has_root && upload_sig(p, p->channel_rel, p->cname, &p->channel_sig, e) < 0)
		return -1;
	if (upload_sig(p, p->channel_rel, NULL, &p->channel_sig, e) < 0)
		return -1;
	if (upload(p, p->channel_rel, &p->channel, NULL, e) < 0) {
		restore_sigs(p);
		return -1;
	}
	return 0;
}

/* ---- the whole ---- */

/* Everything a publication holds, its temporary directory removed. */
static void pub_release(struct pub *p)
{
	struct err ignored;

	if (p->tmpdir && p->payload)
		fs_remove_tree(p->tmpdir, &ignored);
	else if (p->tmpdir)
		rmdir(p->tmpdir);
	if (p->o->channel_key)      /* else ckey is a copy of key: one token, closed once */
		sign_key_wipe(&p->ckey);
	if (p->o->signer)           /* the caller's: the copy wiped, the token kept */
		secure_wipe(&p->key, sizeof p->key);
	else
		sign_key_wipe(&p->key);
	if (p->has_root)
		root_release(&p->root);
	buf_release(&p->root_bytes);
	publish_sigs_release(&p->cur_sigs);
	buf_release(&p->channel_rsig);
	xfer_free(p->x);
	if (p->had_channel)
		channel_release(&p->current);
	buf_release(&p->current_sig);
	buf_release(&p->channel_sig);
	buf_release(&p->channel);
	buf_release(&p->manifest_sig);
	buf_release(&p->manifest);
	free(p->payload);
	free(p->tmpdir);
	free(p->serial_path);
	free(p->trusted);
	free(p->channel_rel);
	free(p->manifest_rel);
	free(p->app_url);
}

/* REPO/apps/APP/, the release's and the channel's paths under it. */
static void set_urls(struct pub *p, const char *app, const char *version)
{
	size_t len = strlen(p->o->repo);

	while (len > 1 && p->o->repo[len - 1] == '/')
		len--;
	p->app_url = xasprintf("%.*s/apps/%s/", (int)len, p->o->repo, app);
	p->manifest_rel = xasprintf("releases/%s/manifest.yaml", version);
	p->channel_rel = xasprintf("channels/%s.yaml", p->o->channel);
}


static int prepare(struct pub *p, const char *manifest_path, struct publish_result *res,
		   struct err *e)
{
	const struct publish_opts *o = p->o;
	const char *tmp = getenv("TMPDIR");
	struct stat self;

	if (p->m->has_payload)
		return err_set(e, EXIT_DATAERR, "%s: already a published manifest (it has "
			       "a payload); publish the authored one", manifest_path);
	if (manifest_expand(p->m, o->from, e) < 0)   /* directories and globs */
		return -1;
	if (sign_key_open(o->key, o->passphrase_file, &p->key, e) < 0)
		return err_prefix(e, "key: ");
	if (!o->channel_key)
		p->ckey = p->key;
	else if (sign_key_open(o->channel_key, o->passphrase_file, &p->ckey, e) < 0)
		return err_prefix(e, "channel key: ");
	if (load_trusted(p, e) < 0)
		return -1;
	if (!o->state_dir)
		return err_set(e, EXIT_USAGE, "no publisher state directory: set "
			       "XDG_STATE_HOME or HOME, or pass --state-dir");
	set_urls(p, p->m->app, p->m->version);
	p->serial_path = serial_path(p);
	res->release_url = xasprintf("%sreleases/%s/", p->app_url, p->m->version);
	p->tmpdir = xasprintf("%s/upgr-publish.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(p->tmpdir))
		return err_sys(e, EXIT_SOFTWARE, "create %s", p->tmpdir);
	p->payload = fs_join(p->tmpdir, PUBLISH_PAYLOAD_NAME);
	if (build_payload(p, e) < 0)
		return -1;
	if (stat(manifest_path, &self) < 0)
		memset(&self, 0, sizeof self);
	find_unlisted(o->from, NULL, 0, p->m, &self, res);
	if (res->nunlisted)
		qsort(res->unlisted, res->nunlisted, sizeof *res->unlisted, cmp_str);
	manifest_emit(p->m, &p->manifest);
	return sign_text(p, &p->key, p->manifest_rel, &p->manifest, &p->manifest_sig, e);
}

/* The connection to the repository. */
static int connect_repo(struct pub *p, struct err *e)
{
	const struct publish_opts *o = p->o;
	struct xfer_opts xo = {
		.netrc = o->netrc, .progress = o->progress, .ca_file = o->ca_file,
		.ssh_key = o->ssh_key, .ssh_known_hosts = o->ssh_known_hosts,
	};

	p->x = xfer_new(&xo);
	if (!p->x)
		return err_set(e, EXIT_SOFTWARE, "cannot start libcurl");
	return 0;
}

int publish_release(struct manifest *m, const char *manifest_path,
		    const struct publish_opts *o, struct publish_result *res,
		    struct err *e)
{
	struct pub p = { .o = o, .m = m, .root_bytes = BUF_INIT, .channel_rsig = BUF_INIT };
	int rc = -1, state;

	memset(res, 0, sizeof *res);
	publish_sigs_init(&p.cur_sigs);
	if (prepare(&p, manifest_path, res, e) < 0 || connect_repo(&p, e) < 0 ||
	    load_root(&p, e) < 0)
		goto done;
	state = release_state(&p, e);
	if (state < 0 || read_channel(&p, e) < 0 || build_channel(&p, e) < 0)
		goto done;
	res->reused = state == 1;
	if (!res->reused && upload_release(&p, e) < 0)
		goto done;
	/* A release published before the root, or by another release key:
	 * this key's signature in the root layout, so that it counts. */
	if (res->reused && p.has_root &&
	    upload_sig(&p, p.manifest_rel, p.kname, &p.manifest_sig, e) < 0)
		goto done;
	if (switch_channel(&p, e) < 0)
		goto done;
	res->serial = p.serial;
	if (serial_write(&p, e) < 0) {
		err_prefix(e, "published serial %" PRIu64 ", but could not record it "
			   "(the next publish accepts it as one over the record): ", p.serial);
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		err_prefix(e, "publish %s %s: ", m->app, m->version);
	pub_release(&p);
	return rc;
}

void publish_result_release(struct publish_result *res)
{
	size_t i;

	for (i = 0; i < res->nunlisted; i++)
		free(res->unlisted[i]);
	free(res->unlisted);
	free(res->release_url);
	memset(res, 0, sizeof *res);
}

/* ---- the channel alone (publish_channel) ---- */

/* The published release's manifest, parsed into m: it must name app and
 * version. */
static int fetch_release(struct pub *p, const char *app, const char *version,
			 struct manifest *m, struct err *e)
{
	char *url = url_of(p, p->manifest_rel), *shown = xfer_url_redact(url);
	struct diag d;
	int rc = -1;

	if (xfer_get(p->x, url, MANIFEST_MAX_BYTES, &p->manifest, NULL, e) < 0)
		goto done;
	diag_init(&d, shown);
	rc = manifest_parse(p->manifest.data, p->manifest.len, m, &d);
	if (rc < 0)
		diag_to_err(&d, EXIT_DATAERR, e);
	diag_release(&d);
	if (rc < 0)
		goto done;
	p->m = m;
	if (strcmp(m->app, app) || strcmp(m->version, version) || !m->has_payload)
		rc = err_set(e, EXIT_DATAERR, "%s is not the published manifest of %s %s",
			     shown, app, version);
done:
	if (rc < 0)
		err_prefix(e, "release %s %s: ", app, version);
	free(shown);
	free(url);
	return rc;
}

/* The channel key never points hosts to code no release author signed:
 * a channel that names this version already (verified) must name this
 * very manifest; another version's manifest must be signed by a trusted
 * key (no root); under a root every release must meet the release and
 * approve thresholds. */
static int check_release(struct pub *p, struct err *e)
{
	char *url = url_of(p, p->manifest_rel), *sig = xasprintf("%s.minisig", url);
	struct repo_trust t = { p->trusted, p->ntrusted };
	struct root_manifest_result res;
	struct publish_sigs sigs;
	uint8_t h[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	struct buf s = BUF_INIT;
	int rc;

	publish_sigs_init(&sigs);
	sha256_buf(p->manifest.data, p->manifest.len, h);
	hex_encode(h, SHA256_LEN, hex);
	if (p->had_channel && !strcmp(p->current.version, p->m->version))
		rc = strcmp(hex, p->current.manifest_sha256) ? err_set(e, EXIT_TRUST,
			"the channel names %s with manifest_sha256 %.16s..., the release "
			"on the server has %.16s...: refusing to re-sign", p->m->version,
			p->current.manifest_sha256, hex) : 0;
	else if (!p->has_root)
		rc = xfer_get(p->x, sig, REPO_SIG_MAX, &s, NULL, e) < 0 ||
		     repo_verify(&t, p->m->app, p->manifest_rel, &p->manifest, &s, e) < 0
		     ? -1 : 0;
	else
		rc = 0;
	if (rc == 0 && p->has_root)     /* approved, whatever the channel says */
		rc = publish_sigs_fetch(p->x, url, &p->root, 1u << ROOT_ROLE_RELEASE |
					1u << ROOT_ROLE_APPROVE, &sigs, e) < 0 ||
		     root_check_manifest(&p->root, p->manifest.data, p->manifest.len,
					 p->m->app, p->m->target, sigs.sig, sigs.n,
					 &res, e) < 0 ? -1 : 0;
	if (rc < 0)
		err_prefix(e, "release %s %s: ", p->m->app, p->m->version);
	buf_release(&s);
	publish_sigs_release(&sigs);
	free(sig);
	free(url);
	return rc;
}

int publish_channel(const char *app, const char *version, const struct publish_opts *o,
		    struct publish_channel_result *res, struct err *e)
{
	struct pub p = { .o = o, .channel_only = true, .root_bytes = BUF_INIT,
			 .channel_rsig = BUF_INIT };
	struct manifest m;
	int rc = -1;

	memset(res, 0, sizeof *res);
	memset(&m, 0, sizeof m);
	publish_sigs_init(&p.cur_sigs);
	if (o->channel_key || !o->state_dir) {
		err_set(e, EXIT_SOFTWARE, "publish_channel: one key and a state directory");
		goto done;
	}
	if (o->signer)
		p.key = *o->signer;
	else if (sign_key_open(o->key, o->passphrase_file, &p.key, e) < 0) {
		err_prefix(e, "key: ");
		goto done;
	}
	p.ckey = p.key;
	if (load_trusted(&p, e) < 0)
		goto done;
	set_urls(&p, app, version);
	/* The manifest first: the root's checks of the key want its app and
	 * target. */
	if (connect_repo(&p, e) < 0 || fetch_release(&p, app, version, &m, e) < 0 ||
	    load_root(&p, e) < 0)
		goto done;
	p.serial_path = serial_path(&p);
	if (read_channel(&p, e) < 0 || check_release(&p, e) < 0 || build_channel(&p, e) < 0 ||
	    switch_channel(&p, e) < 0)
		goto done;
	res->serial = p.serial;
	if (p.had_channel) {
		res->prev_version = xstrdup(p.current.version);
		res->prev_rollout = p.current.rollout;
	}
	if (serial_write(&p, e) < 0) {
		err_prefix(e, "signed serial %" PRIu64 ", but could not record it: ", p.serial);
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		err_prefix(e, "channel %s of %s: ", o->channel, app);
	if (p.m)
		manifest_release(&m);
	pub_release(&p);
	return rc;
}

void publish_channel_result_release(struct publish_channel_result *res)
{
	free(res->prev_version);
	memset(res, 0, sizeof *res);
}
