/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing a release: an authored manifest and a build directory become
 * a signed release on the repository (DESIGN.md "Repository layout"):
 *
 *   REPO/apps/APP/releases/VERSION/payload.tar.gz
 *   REPO/apps/APP/releases/VERSION/manifest.yaml.minisig
 *   REPO/apps/APP/releases/VERSION/manifest.yaml
 *   REPO/apps/APP/channels/CHANNEL.yaml.minisig
 *   REPO/apps/APP/channels/CHANNEL.yaml         written last: the switch
 *
 * uploaded in that order, each whole (see transport.h). A release is
 * immutable: publishing a version that exists with other content is
 * refused; publishing the same content again (the payload is
 * reproducible) only writes a new channel file, which is how a rollout
 * is widened or a channel re-signed before it expires. */
#ifndef UPGR_PUBLISH_H
#define UPGR_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "manifest.h"
#include "repo.h"
#include "root.h"

struct xfer;

#define PUBLISH_PAYLOAD_NAME "payload.tar.gz"

struct publish_opts {
	const char *repo;          /* repository URL (file, ftp, ftps, ftpes, sftp) */
	const char *key;           /* the release author's secret key file */
	const char *passphrase_file; /* its passphrase when encrypted (sign.h) */
	const struct sign_key *signer; /* publish_channel: key already open (the
				    * rollout controller's), used instead of
				    * opening key again; the caller closes it */
	const char *channel_key;   /* signs the channel file; NULL: key */
	const char *root_file;     /* --root: the trust root to start from;
				    * NULL: REPO/root/1.root.yaml if any */
	const char *channel;       /* channel name */
	const char *from;          /* build directory (required) */
	const char *netrc;         /* credentials; NULL: ~/.netrc when present */
	const char *ca_file;       /* TLS trust for ftps/ftpes (see transport.h) */
	const char *ssh_key;       /* sftp private key */
	const char *ssh_known_hosts; /* sftp host keys */
	time_t now;                /* the publication time */
	long expires;              /* seconds the channel file stays valid */
	bool has_not_before;
	time_t not_before;
	unsigned rollout;          /* percent of hosts */
	bool downgrade;            /* allow a version lower than the channel's */
	bool progress;             /* progress bars on stderr */
	const char *const *trusted; /* public key files that may have signed */
	size_t ntrusted;           /* the current channel, besides --key's own */
	const char *state_dir;     /* the publisher's state (see below) */
};

/* The publisher's own record, so that a server cannot choose the serial
 * it signs next: STATE_DIR/serials/APP.CHANNEL.H (0600, written durably
 * after each publication), H the first 16 hex digits of
 * sha256(REPO "\n" APP "\n" CHANNEL) with REPO as given without its
 * user information and trailing '/'. It holds the serial this publisher
 * signed last for that repository, app and channel. The default
 * STATE_DIR is $XDG_STATE_HOME/upgr/publish, else
 * ~/.local/state/upgr/publish (NULL: none could be found). */
char *publish_default_state_dir(void);

struct publish_result {
	uint64_t serial;           /* the new channel file's serial */
	bool reused;               /* the release was there already, identical */
	char *release_url;         /* REPO/apps/APP/releases/VERSION/ */
	char **unlisted;           /* files in the build directory that the */
	size_t nunlisted;          /* manifest does not list (not published) */
};

/* Publish the authored manifest m (read from manifest_path, which is left
 * out of the unlisted files) as the top of this file says. m gets its
 * files' sha256 and its payload section. An authored sha256 that does not
 * match the build is refused, as are a published manifest given as
 * input, a listed file missing from the build directory, a version
 * lower than the channel's without o->downgrade, and a channel whose
 * serial is already UINT64_MAX (EXIT_DATAERR).
 *
 * The current channel file is believed only once verified (EXIT_TRUST
 * otherwise, naming its URL): signed by o->key's own public half or a
 * key of o->trusted, for this app and file, naming this app and channel;
 * then its serial must be the one in the publisher's state or one more
 * (a publication whose record was not written), never lower (a rewound
 * server) nor higher (an inflated one). With no state the verified
 * channel's serial is taken; with no channel the state's (or 0). The new
 * serial is that plus one. Nothing
 * is uploaded until all of that is checked. If an upload fails, running
 * the same publication again completes it: a release without its
 * manifest is uploaded anew, a complete identical one is reused. Release
 * res with publish_result_release in every case.
 *
 * Under a trust root (publish_root_load: o->root_file or the repository's
 * root/1.root.yaml, walked upward) o->key must be a release key in scope
 * for m's app and target and the channel key (o->channel_key, else o->key)
 * a channel key, else EXIT_TRUST before any upload; the current channel
 * must meet the channel role's threshold (o->trusted is not used); every
 * signature is also uploaded as FILE.NAME.minisig (NAME: the key's name in
 * the root), the manifest's too when the release is reused; a downgrade
 * also signs the channel with o->key, and is refused (EXIT_TRUST) when the
 * release threshold is above one. */
int publish_release(struct manifest *m, const char *manifest_path,
		    const struct publish_opts *o, struct publish_result *res,
		    struct err *e);
void publish_result_release(struct publish_result *res);

/* The channel file alone, re-signed by o->key (the rollout controller,
 * rollout.h): for the release app version already on the repository, with
 * o->rollout, o->downgrade and o->expires from o->now; o->channel_key must
 * be NULL and o->state_dir set. The release's manifest must name app and
 * version; when the current (verified) channel names that version, its
 * manifest_sha256 must be the release's (a re-signature never changes the
 * code), else the manifest must be signed by o->key's public half or a key
 * of o->trusted (no root); under a root it must meet the release and
 * approve thresholds in every case (the channel key never points to code
 * that is not signed and approved). The current channel
 * is verified and the serial chosen as publish_release does; under a root
 * o->key must hold the channel role, and for a downgrade the release role
 * too (with a release threshold of one). res->prev_version is the channel's
 * version before (NULL when there was none). */
struct publish_channel_result {
	uint64_t serial;
	char *prev_version;
	unsigned prev_rollout;
};
int publish_channel(const char *app, const char *version, const struct publish_opts *o,
		    struct publish_channel_result *res, struct err *e);
void publish_channel_result_release(struct publish_channel_result *res);

/* ---- the trust root, from the publisher's side (publish_root.c) ---- */

/* The repository's newest trust root: root_file (the operator's word, not
 * signature-checked) or else REPO/root/1.root.yaml on its own root
 * threshold, then walked upward as an agent walks it (root_update), and
 * unexpired at now. Returns 1 with *r and *bytes filled, 0 when the
 * repository has no root (and no root_file), -1 (EXIT_TRUST mostly). */
int publish_root_load(struct xfer *x, const char *repo, const char *root_file,
		      time_t now, struct root *r, struct buf *bytes, struct err *e);
/* True when key index k holds role in r. */
bool publish_root_has(const struct root *r, enum root_role_id role, size_t k);
/* FILE_URL.NAME.minisig, or FILE_URL.minisig when name is NULL. */
char *publish_sig_url(const char *file_url, const char *name);

#define PUBLISH_SIGS_MAX (2 * ROOT_MAX_KEYS)
/* The signature files found beside one file, by key name. */
struct publish_sigs {
	struct root_sig sig[PUBLISH_SIGS_MAX];
	struct buf buf[PUBLISH_SIGS_MAX];
	size_t n;
};
void publish_sigs_init(struct publish_sigs *s);
void publish_sigs_release(struct publish_sigs *s);
/* Fetch FILE_URL.NAME.minisig for every key of the roles in the bit mask
 * roles (1u << ROOT_ROLE_x); missing files are skipped. */
int publish_sigs_fetch(struct xfer *x, const char *file_url, const struct root *r,
		       unsigned roles, struct publish_sigs *s, struct err *e);

#endif
