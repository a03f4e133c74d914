/* SPDX-License-Identifier: Apache-2.0 */
/* The agent configuration (`-c FILE`, default /etc/upgr/upgr.yaml),
 * DESIGN.md "Agent configuration". Parsed strictly like manifests: unknown
 * keys, wrong types and bad values are positioned errors. */
#ifndef UPGR_CONFIG_H
#define UPGR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "diag.h"
#include "err.h"
#include "window.h"

#define CONFIG_DEFAULT_PATH "/etc/upgr/upgr.yaml"

enum balance { BALANCE_FAILOVER, BALANCE_RANDOM };

struct config {
	char *path;              /* the file it was read from */
	char *host;              /* default: the hostname */
	char **servers;          /* repository base URLs, tried in order */
	size_t nservers;
	enum balance balance;
	char *netrc;             /* NULL when not set */
	/* TLS and SSH trust (see transport.h); NULL when not set. */
	char *ca_file;           /* PEM certificates for ftps, ftpes, https */
	char *ssh_key;           /* sftp private key (a secret, like netrc) */
	char *ssh_known_hosts;   /* sftp host keys */
	char *channel;           /* default "stable" */
	char **apps;
	size_t napps;
	char *root;              /* default "/"; --root overrides */
	char *state_dir;         /* default /var/lib/upgr */
	char **trusted_keys;     /* paths of minisign public keys */
	size_t ntrusted_keys;
	char *trust_root;        /* the first trust root (docs/trust.md); when */
				 /* set, trusted_keys is not used by the agent */
	char *device_key;        /* default /etc/upgr/device.key */
	char *audit_log;         /* default /var/log/upgr/audit.log */
	struct window *windows;  /* window: one or a list (window.h); none: any time */
	size_t nwindows;
	struct freeze *freezes;  /* freeze: dates when nothing installs */
	size_t nfreezes;
	char *group;             /* group: HA group (lease.h); NULL when none */
	unsigned heartbeat;      /* minutes between reports when idle; default 60 */
	/* Per server: give up connecting after connect_timeout seconds, and
	 * abandon a transfer slower than low_speed_limit bytes/s for
	 * low_speed_time seconds (a server that trickles). */
	unsigned connect_timeout;   /* default 10 */
	unsigned low_speed_limit;   /* default 1024 */
	unsigned low_speed_time;    /* default 30 */
	char *metrics_file;      /* node_exporter textfile (metrics.h); NULL: none */
	long expiry_warning;     /* seconds: warn of a channel expiring this soon */
				 /* (once a day under cron); default 7 days, 0 off */
};

/* Read and validate the config at path. Every problem goes into d (which
 * the caller has set up with diag_init); returns
 * 0 only when there is none. Also refuses (EXIT_DATAERR in e, and a diag)
 * a config file that group or others can write, or that is not owned by
 * root or the current user. */
int config_load(const char *path, struct config *c, struct diag *d);
void config_release(struct config *c);

/* Apply a --root override (replaces c->root). */
void config_set_root(struct config *c, const char *root);

/* The permission rule for files upgr trusts: a regular file owned by root
 * or the current user, not writable by group or others; with secret, not
 * readable by them either (netrc, device key). EXIT_DATAERR otherwise.
 * Checked at load time and again where the file is used. */
int config_check_file(const char *path, bool secret, struct err *e);

/* True when now is inside one of the config's maintenance windows, or
 * when there is none. */
bool config_in_window(const struct config *c, time_t now);

/* A host name as upgr takes one (config host:, a lease holder): 1 to 253
 * of [A-Za-z0-9._-], not starting with '.' or '-', no "..". */
bool config_host_ok(const char *h);

#endif
