/* SPDX-License-Identifier: Apache-2.0 */
/* Applying one release directory: verify, plan, dry-run or transaction,
 * record. The one path that `upgr apply` and `upgr run` share. */
#include "apply.h"
#include "apply_objects.h"
#include "audit.h"
#include "fsutil.h"
#include "hash.h"
#include "manifest.h"
#include "objects.h"
#include "pending.h"
#include "plan.h"
#include "quickcheck.h"
#include "repo.h"
#include "root.h"
#include "sign.h"
#include "state.h"
#include "treescan.h"
#include "txn.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The release as verified: the signed manifest's bytes and the struct. */
struct release {
	struct buf bytes;
	char sha256[SHA256_HEX_LEN + 1];
	struct manifest m;
	bool have_m;
	char *payload;
	struct sign_pub *keys;     /* what verified it */
	size_t nkeys;
};

static void release_free(struct release *rel)
{
	buf_release(&rel->bytes);
	if (rel->have_m)
		manifest_release(&rel->m);
	free(rel->payload);
	free(rel->keys);
}

/* With trust_root: the release role's keys of the host's newest root
 * (the agent checked thresholds, scopes and approvals when it fetched). */
static int root_release_keys(const struct config *c, struct sign_pub **keys, size_t *n,
			     struct err *e)
{
	struct root r;
	struct buf b = BUF_INIT;
	size_t i;

	if (root_state_load(c->state_dir, c->trust_root, &r, &b, e) < 0) {
		buf_release(&b);
		e->code = EXIT_TRUST;
		return err_prefix(e, "trust root: ");
	}
	*keys = xcalloc(r.roles[ROOT_ROLE_RELEASE].n, sizeof **keys);
	for (i = 0; i < r.roles[ROOT_ROLE_RELEASE].n; i++)
		(*keys)[i] = r.keys[r.roles[ROOT_ROLE_RELEASE].idx[i]].pub;
	*n = i;
	root_release(&r);
	buf_release(&b);
	return 0;
}

/* Load every trusted key; fail closed when none is configured. */
int apply_trusted_keys(const struct config *c, struct sign_pub **keys, size_t *n,
		       struct err *e)
{
	size_t i;

	*keys = NULL;
	*n = 0;
	if (c->trust_root)
		return root_release_keys(c, keys, n, e);
	if (!c->ntrusted_keys)
		return err_set(e, EXIT_TRUST, "%s: no trusted_keys configured; nothing can be verified",
			       c->path);
	*keys = xcalloc(c->ntrusted_keys, sizeof **keys);
	for (i = 0; i < c->ntrusted_keys; i++)
		if (sign_pub_load(c->trusted_keys[i], &(*keys)[i], e) < 0) {
			free(*keys);
			*keys = NULL;
			e->code = EXIT_TRUST;
			return err_prefix(e, "trusted key %s: ", c->trusted_keys[i]);
		}
	*n = c->ntrusted_keys;
	return 0;
}

/* The trusted comment of a manifest's signature names the app and the
 * file (releases/VERSION/manifest.yaml), so a signature moved to another
 * release or app is refused (repo.h). */
static int check_comment(const char *comment, const struct manifest *m, struct err *e)
{
	char path[128];

	snprintf(path, sizeof path, "releases/%s/manifest.yaml", m->version);
	return repo_check_comment(comment, m->app, path, e);
}

/* The payload's size against the signed manifest's, and with whole set
 * its sha256 too (a dry-run reads the payload to show sizes and diffs; a
 * run checks the sha256 as it unpacks, in the same read: txn.c's
 * stage_payload). */
static int verify_payload(struct release *rel, const char *dir, bool whole, struct err *e)
{
	uint8_t got[SHA256_LEN];
	uint64_t size;
	char hex[SHA256_HEX_LEN + 1];
	struct stat st;

	if (!manifest_payload_name_ok(rel->m.payload_file))
		return err_set(e, EXIT_DATAERR, "payload file name %s is not a plain file name",
			       rel->m.payload_file);
	rel->payload = fs_join(dir, rel->m.payload_file);
	/* Fetched as objects (objects.h): staging checks each file instead. */
	if (access(rel->payload, F_OK) < 0 && errno == ENOENT) {
		char *objs = fs_join(dir, OBJECTS_DIR_NAME);

		if (objects_is_source(objs)) {
			free(rel->payload);
			rel->payload = objs;
			return 0;
		}
		free(objs);
	}
	if (!whole && stat(rel->payload, &st) < 0)
		return err_sys(e, EXIT_DATAERR, "payload %s", rel->payload);
	if (!whole && !S_ISREG(st.st_mode))
		return err_set(e, EXIT_DATAERR, "payload %s: not a regular file", rel->payload);
	if (!whole)
		size = (uint64_t)st.st_size;
	else if (sha256_file(rel->payload, got, &size, e) < 0) {
		e->code = EXIT_DATAERR;
		return -1;
	}
	if (size != rel->m.payload_size)
		return err_set(e, EXIT_TRUST, "payload %s is %llu bytes, the signed manifest says %llu",
			       rel->payload, (unsigned long long)size,
			       (unsigned long long)rel->m.payload_size);
	if (whole && memcmp(got, rel->m.payload_sha256, SHA256_LEN)) {
		hex_encode(got, SHA256_LEN, hex);
		return err_set(e, EXIT_TRUST, "payload %s has sha256 %s, not the signed manifest's",
			       rel->payload, hex);
	}
	return 0;
}

/* Read, verify and parse DIR/manifest.yaml and its payload. */
static int load_release(const struct config *c, const char *dir,
			const struct apply_opts *o, struct release *rel,
			struct err *e)
{
	char *mpath = fs_join(dir, "manifest.yaml"), *comment = NULL;
	char *sigpath = fs_join(dir, "manifest.yaml.minisig");
	uint8_t digest[SHA256_LEN];
	size_t i;
	struct diag d;
	int rc = -1;

	diag_init(&d, mpath);
	if (apply_trusted_keys(c, &rel->keys, &rel->nkeys, e) < 0)
		goto done;
	if (fs_read_regular(mpath, MANIFEST_MAX_BYTES, &rel->bytes, e) < 0)
		goto done;
	sha256_buf(rel->bytes.data, rel->bytes.len, digest);
	hex_encode(digest, SHA256_LEN, rel->sha256);
	if (o->expect_sha256 && strcmp(o->expect_sha256, rel->sha256)) {
		err_set(e, EXIT_TRUST, "%s has sha256 %s but the signed channel names %s (mix-and-match)",
			mpath, rel->sha256, o->expect_sha256);
		goto done;
	}
	/* The bytes verified are the bytes parsed: one read of the manifest. */
	if (sign_verify_sigfile(rel->keys, rel->nkeys, rel->bytes.data, rel->bytes.len, sigpath,
				&comment, e) < 0) {
		e->code = EXIT_TRUST;
		err_prefix(e, "%s: ", mpath);
		goto done;
	}
	if (manifest_parse(rel->bytes.data, rel->bytes.len, &rel->m, &d) < 0) {
		diag_to_err(&d, EXIT_DATAERR, e);
		goto done;
	}
	rel->have_m = true;
	if (check_comment(comment, &rel->m, e) < 0)
		goto done;
	if (!rel->m.has_payload) {
		err_set(e, EXIT_DATAERR, "%s: not a published manifest (no payload:)", mpath);
		goto done;
	}
	for (i = 0; i < rel->m.nfiles; i++)
		if (!rel->m.files[i].has_sha256) {
			err_set(e, EXIT_DATAERR, "%s: files[%zu] (%s) has no sha256", mpath, i,
				rel->m.files[i].path);
			goto done;
		}
	if ((o->expect_app && strcmp(o->expect_app, rel->m.app)) ||
	    (o->expect_version && strcmp(o->expect_version, rel->m.version))) {
		err_set(e, EXIT_TRUST, "%s is %s %s but the signed channel names %s %s", mpath,
			rel->m.app, rel->m.version, o->expect_app ? o->expect_app : rel->m.app,
			o->expect_version ? o->expect_version : rel->m.version);
		goto done;
	}
	rc = verify_payload(rel, dir, o->dry_run, e);
done:
	free(comment);
	diag_release(&d);
	free(mpath);
	free(sigpath);
	return rc;
}

/* ---- recording ---------------------------------------------------------- */

/* apply_record, the record naming server (NULL: none). */
static int record(const struct config *c, const char *server, const char *app,
		  const char *action, const char *from, const char *to, const char *sha256,
		  const struct txn_result *r, const char *error, struct err *e)
{
	struct audit_step *steps = xcalloc(r->nsteps + 1, sizeof *steps);
	struct audit_rec rec = { 0 };
	struct app_status st;
	struct sign_key key;
	bool have;
	size_t i;
	int rc = -1;

	memset(&key, 0, sizeof key);
	for (i = 0; i < r->nsteps; i++) {
		steps[i].phase = r->steps[i].phase;
		steps[i].run = r->steps[i].run;
		steps[i].exit = r->steps[i].exit;
		steps[i].ms = r->steps[i].ms;
		steps[i].output = r->steps[i].output;
	}
	rec.host = c->host;
	rec.app = app;
	rec.action = action;
	rec.from = from;
	rec.to = to;
	rec.result = r->result;
	rec.duration_ms = r->duration_ms;
	rec.downtime_ms = r->downtime_ms;
	rec.manifest_sha256 = sha256 ? sha256 : "";
	rec.server = server;
	rec.steps = steps;
	rec.nsteps = r->nsteps;
	rec.error = error ? error : "";

	/* The local status first: it is what `upgr status` and the report show. */
	if (state_status_read(c->state_dir, app, &st, &have, e) < 0)
		memset(&st, 0, sizeof st);
	snprintf(st.app, sizeof st.app, "%s", app);
	if (!strcmp(r->result, "success"))
		snprintf(st.version, sizeof st.version, "%s", to);
	else if (!have)
		snprintf(st.version, sizeof st.version, "%s", from);
	snprintf(st.action, sizeof st.action, "%s", action);
	snprintf(st.from, sizeof st.from, "%s", from);
	snprintf(st.to, sizeof st.to, "%s", to);
	snprintf(st.result, sizeof st.result, "%s", r->result);
	state_now(st.time);
	snprintf(st.error, sizeof st.error, "%s", error ? error : "");
	if (state_status_write(c->state_dir, &st, e) < 0)
		goto done;
	if (audit_device_key(c->device_key, &key, e) < 0)
		goto done;
	rc = audit_append(c->audit_log, &key, &rec, e);
done:
	sign_key_wipe(&key);
	free(steps);
	if (rc < 0)
		err_prefix(e, "recording the result: ");
	return rc;
}

int apply_record(const struct config *c, const char *app, const char *action,
		 const char *from, const char *to, const char *sha256,
		 const struct txn_result *r, const char *error, struct err *e)
{
	return record(c, NULL, app, action, from, to, sha256, r, error, e);
}

int apply_record_refusal(const struct config *c, const char *app,
			 const char *to_version, const struct err *why,
			 struct err *e)
{
	struct app_status st;
	struct txn_result r;
	bool have = false;
	int rc;

	txn_result_init(&r);
	snprintf(r.result, sizeof r.result, "refused");
	if (state_status_read(c->state_dir, app, &st, &have, e) < 0)
		have = false;
	rc = apply_record(c, app, "refuse", have ? st.version : "", to_version ? to_version : "",
		    NULL, &r, why->msg, e);
	txn_result_release(&r);
	return rc;
}

int apply_conclude(const struct config *c, const char *app, const char *action,
		   const char *from, const char *to, const char *sha256,
		   const struct txn_result *r, struct msgs *msgs)
{
	return apply_conclude_from(c, NULL, app, action, from, to, sha256, r, msgs);
}

int apply_conclude_from(const struct config *c, const char *server, const char *app,
			const char *action, const char *from, const char *to,
			const char *sha256, const struct txn_result *r, struct msgs *msgs)
{
	struct err e;

	err_clear(&e);
	if (record(c, server, app, action, from, to, sha256, r, r->error, &e) < 0 ||
	    (r->journal_done && txn_finish(c->state_dir, app, &e) < 0)) {
		msgs_add(msgs, MSG_WARNING, "%s", e.msg);
		return -1;
	}
	return 0;
}

/* ---- the entry point ---------------------------------------------------- */

/* The plan, as text or JSON, for the caller to print. */
static int dry_run(struct plan *p, const struct apply_opts *o, struct msgs *msgs)
{
	struct buf b = BUF_INIT;
	struct err e;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	plan_check_preconditions(p, false);
	if (o->json) {
		plan_json(p, &b);
		msgs_add(msgs, MSG_TEXT, "%s", b.data ? b.data : "");
		buf_release(&b);
	} else if ((f = open_memstream(&text, &len))) {
		plan_print(p, f);
		fclose(f);
		msgs_add(msgs, MSG_TEXT, "%s", text);
		free(text);
	}
	if (!o->diff)
		return EXIT_OK;
	/* The diff follows the plan, as the caller prints msgs in order. */
	text = NULL;
	len = 0;
	if (!(f = open_memstream(&text, &len)))
		rc = err_sys(&e, EXIT_SOFTWARE, "memory");
	else {
		rc = plan_diff(p, f, &e);
		fclose(f);
		msgs_add(msgs, MSG_TEXT, "%s", text ? text : "");
		free(text);
	}
	if (rc < 0) {
		msgs_add(msgs, MSG_ERROR, "--diff: %s", e.msg);
		return e.code ? e.code : EXIT_SOFTWARE;
	}
	return EXIT_OK;
}

int apply_release(const struct config *c, const char *release_dir,
		  const struct apply_opts *o, struct apply_outcome *out,
		  struct err *e)
{
	struct manifest installed;
	bool have_installed = false;
	struct release rel;
	struct txn_result r;
	struct plan p;
	struct err rec_err;
	char why[512];
	struct quickcheck quick = QUICKCHECK_INIT;
	struct plan_how how = { 0 };
	struct treescan *own = NULL, *seen = o->seen;
	bool from_objects = false;
	char *appdir = NULL, *guess = NULL;
	int rc, cmp;

	memset(out, 0, sizeof *out);
	memset(&rel, 0, sizeof rel);
	memset(&p, 0, sizeof p);
	txn_result_init(&r);
	/* A run looks at the installed tree once (treescan.h), as the agent's
	 * poll does: from the start, when the path names the app, so that
	 * the scan runs while the manifest is verified and parsed. */
	if (!seen && !o->dry_run && (guess = apply_objects_app_of(release_dir)))
		seen = own = treescan_start(c->root, c->state_dir, guess);
	if (load_release(c, release_dir, o, &rel, e) < 0) {
		rc = e->code ? e->code : EXIT_DATAERR;
		snprintf(out->result, sizeof out->result, "refused");
		if (rc == EXIT_TRUST && !o->dry_run)
			apply_record_refusal(c, rel.have_m ? rel.m.app : (o->expect_app ? o->expect_app : "unknown"),
					     rel.have_m ? rel.m.version : "", e, &rec_err);
		goto done;
	}
	if (own && strcmp(guess, rel.m.app)) {
		treescan_free(own);           /* the path named another app */
		seen = own = NULL;
	}
	if (!seen && !o->dry_run)
		seen = own = treescan_start(c->root, c->state_dir, rel.m.app);
	if (state_installed(c->state_dir, rel.m.app, &installed, &have_installed, e) < 0) {
		rc = e->code;
		goto done;
	}
	cmp = have_installed ? semver_cmp(&rel.m.semver, &installed.semver) : 1;
	if (cmp == 0) {
		snprintf(out->result, sizeof out->result, "current");
		if (!o->quiet_if_current)
			msgs_add(&out->msgs, MSG_OUT, "%s %s is already installed", rel.m.app,
				 rel.m.version);
		rc = EXIT_OK;
		goto done;
	}
	if (cmp < 0 && !o->allow_downgrade) {
		err_set(e, EXIT_TRUST, "%s %s is older than the installed %s; refused (downgrades need a signed channel with downgrade: true)",
			rel.m.app, rel.m.version, installed.version);
		snprintf(out->result, sizeof out->result, "refused");
		if (!o->dry_run)
			apply_record_refusal(c, rel.m.app, rel.m.version, e, &rec_err);
		rc = EXIT_TRUST;
		goto done;
	}
	/* A run reads the payload once, to unpack it, and files the quick
	 * check vouches for not at all; the dry-run reads what it shows. */
	appdir = state_app_dir(c->state_dir, rel.m.app);
	treescan_wait(seen);
	if (own && have_installed && !objects_is_source(rel.payload)) {
		struct apply_objects ao = { c, release_dir, rel.keys, rel.nkeys, &rel.m,
					    rel.sha256, own };
		struct buf warn = BUF_INIT;
		char *src;

		if ((from_objects = apply_objects_prepare(&ao, &src, &warn) > 0)) {
			free(rel.payload);
			rel.payload = src;
		}
		if (warn.len)
			msgs_add(&out->msgs, MSG_WARNING, "%s", warn.data);
		buf_release(&warn);
	}
	if (!o->dry_run && seen && seen->have) {
		how.seen = seen;
		how.quick = &seen->quick;
	} else {
		if (!o->dry_run)
			quickcheck_load(appdir, &quick);
		how.quick = &quick;
	}
	how.no_sizes = !o->dry_run;
	if (plan_build_how(&p, &rel.m, have_installed ? &installed : NULL, c->root,
			   rel.payload, rel.sha256, &how, e) < 0) {
		rc = e->code;
		goto done;
	}
	if (o->dry_run) {
		rc = dry_run(&p, o, &out->msgs);
		/* What the run would exit with: a review gate can use it. */
		if (rc == EXIT_OK && plan_would_fail(&p, why, sizeof why)) {
			err_set(e, EXIT_ROLLED_BACK, "%s %s: the plan would fail: %s; nothing "
				"would be changed", rel.m.app, rel.m.version, why);
			rc = EXIT_ROLLED_BACK;
		}
		goto done;
	}
	if (fs_check_parents(p.target, e) < 0) {
		rc = e->code;
		snprintf(out->result, sizeof out->result, "refused");
		goto done;
	}
	rc = txn_run(&p, c->state_dir, rel.bytes.data, rel.bytes.len, NULL, &r);
	out->changed = true;
	out->downtime_ms = r.downtime_ms;
	snprintf(out->result, sizeof out->result, "%s", r.result);
	apply_conclude_from(c, o->server, rel.m.app, p.action,
			    have_installed ? installed.version : "", rel.m.version, rel.sha256,
			    &r, &out->msgs);
	if (rc != EXIT_OK)
		msg_txn_failed(e, rc, &p, &r);
	else
		msgs_config_kept(&out->msgs, &p);
done:
	plan_release(&p);
	if (from_objects)
		apply_objects_clean(c, rel.m.app);
	treescan_free(own);
	free(guess);
	quickcheck_release(&quick);
	free(appdir);
	if (have_installed)
		manifest_release(&installed);
	txn_result_release(&r);
	release_free(&rel);
	return rc;
}

int apply_recover_all(const struct config *c, bool quiet, struct msgs *msgs, struct err *e)
{
	char **apps = NULL, from[64], to[64];
	size_t n = 0, i;
	int rc = EXIT_OK, one;

	if (txn_pending(c->state_dir, &apps, &n, e) < 0)
		return e->code;
	for (i = 0; i < n; i++) {
		struct txn_result r;
		struct pending pd;
		bool have_pd;

		txn_result_init(&r);
		if (pending_read(c->state_dir, apps[i], &pd, &have_pd, e) < 0)
			have_pd = false;
		one = txn_recover(c->state_dir, apps[i], &r, from, to);
		if (have_pd)
			pending_account(&pd, &r);
		if (one != EXIT_OK)
			msgs_add(msgs, MSG_ERROR, "recovered %s: %s (%s)", apps[i], r.result, r.error);
		else if (!quiet)
			msgs_add(msgs, MSG_OUT, "upgr: recovered %s: %s (%s)", apps[i], r.result,
				 r.error);
		apply_conclude(c, apps[i], "recover", from, to, NULL, &r, msgs);
		if (one != EXIT_OK) {
			err_set(e, one, "recover %s: %s", apps[i], r.error);
			rc = one;
		}
		txn_result_release(&r);
		free(apps[i]);
	}
	free(apps);
	return rc;
}
