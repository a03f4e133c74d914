/* SPDX-License-Identifier: Apache-2.0 */
/* The agent configuration: strict YAML reading, defaults, and the file
 * permission rules (see config.h). */
#include "config.h"
#include "buf.h"
#include "channel.h"
#include "fsutil.h"
#include "transport.h"
#include "xalloc.h"
#include "ydoc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (256u << 10)

static const char *const config_keys[] = {
	"host", "servers", "balance", "netrc", "channel", "apps", "root",
	"state_dir", "trusted_keys", "device_key", "audit_log", "window",
	"heartbeat", "connect_timeout", "low_speed_limit", "low_speed_time",
	"ca_file", "ssh_key", "ssh_known_hosts", "trust_root", "metrics_file",
	"expiry_warning", "group", "freeze", NULL
};

/* Nothing is required of every reader: `upgr apply` on an air-gapped host
 * needs no servers; `upgr run` requires servers and apps itself. */
static const char *const config_required[] = { NULL };

static const char *const url_schemes[] = {
	"ftp://", "ftps://", "ftpes://", "sftp://", "http://", "https://", "file://", NULL
};

/* Host names end up in report paths on the server: keep them to what a
 * DNS label allows, plus '_'. */
bool config_host_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (n < 1 || n > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr("._-", h[i]))
			return false;
	return strstr(h, "..") == NULL;
}

/* The rule of config_check_file; returns NULL when path passes, else a
 * reason (in why) without the path. */
static const char *file_problem(const char *path, bool secret, char *why, size_t len)
{
	struct stat st;

	if (stat(path, &st) < 0)
		snprintf(why, len, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, len, "not a regular file");
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		snprintf(why, len, "owned by uid %lu, neither root nor this user",
			 (unsigned long)st.st_uid);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		snprintf(why, len, "writable by group or others (mode %04o); chmod go-w",
			 (unsigned)(st.st_mode & 07777));
	else if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
		snprintf(why, len, "a secret readable by group or others (mode %04o); chmod 600",
			 (unsigned)(st.st_mode & 07777));
	else
		return NULL;
	return why;
}

int config_check_file(const char *path, bool secret, struct err *e)
{
	char why[256];

	if (file_problem(path, secret, why, sizeof why))
		return err_set(e, EXIT_DATAERR, "%s: %s", path, why);
	return 0;
}

/* A string that must be an absolute path. */
static void get_path(const struct ynode *root, const char *key, char **out,
		     struct diag *d)
{
	const struct ynode *n = ydoc_get(root, key);
	const char *s;

	if (!n || ydoc_str(n, key, &s, d) < 0)
		return;
	if (s[0] != '/') {
		diag_add(d, n->line, n->col, "%s: '%s' must be an absolute path", key, s);
		return;
	}
	free(*out);
	*out = xstrdup(s);
}

static const char *url_problem(const char *u, bool world_readable)
{
	const char *const *s;
	size_t i;

	for (s = url_schemes; *s; s++)
		if (!strncmp(u, *s, strlen(*s)))
			break;
	if (!*s)
		return "must start with ftp://, ftps://, ftpes://, sftp://, http://, https:// "
		       "or file://";
	for (i = 0; u[i]; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
			return "may not contain spaces or control characters";
	if (strchr(u, '?') || strchr(u, '#'))
		return "may not have a query or fragment";
	if (xfer_url_has_password(u) && world_readable)
		return "holds a password in a file others can read (use netrc:)";
	return NULL;
}

static void get_servers(const struct ynode *root, struct config *c,
			bool world_readable, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "servers");
	char what[64];
	size_t i;

	if (!n || ydoc_seq(n, "servers", d) < 0)
		return;
	if (n->nitems == 0) {
		diag_add(d, n->line, n->col, "servers: needs at least one URL");
		return;
	}
	c->servers = xcalloc(n->nitems, sizeof *c->servers);
	for (i = 0; i < n->nitems; i++) {
		const struct ynode *it = n->items[i];
		const char *s, *why;
		size_t len;

		ydoc_name_idx(what, sizeof what, "servers", i);
		if (ydoc_str(it, what, &s, d) < 0)
			continue;
		why = url_problem(s, world_readable);
		if (why) {
			/* Never the password: shown without its user information,
			 * split where curl splits it (the last '@'). */
			char *shown = xfer_url_redact(s);

			diag_add(d, it->line, it->col, "%s: '%s' %s", what, shown, why);
			free(shown);
			continue;
		}
		/* Stored without trailing '/' so paths join with exactly one. */
		len = strlen(s);
		while (len > 0 && s[len - 1] == '/')
			len--;
		c->servers[c->nservers++] = xstrndup(s, len);
	}
}

/* A list of strings; names: app names; paths: absolute paths. */
static void get_list(const struct ynode *root, const char *key, bool names,
		     char ***out, size_t *nout, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, key);
	char what[64];
	size_t i, j;

	if (!n || ydoc_seq(n, key, d) < 0)
		return;
	*out = xcalloc(n->nitems + 1, sizeof **out);
	for (i = 0; i < n->nitems; i++) {
		const struct ynode *it = n->items[i];
		const char *s;
		bool dup = false;

		ydoc_name_idx(what, sizeof what, key, i);
		if (ydoc_str(it, what, &s, d) < 0)
			continue;
		if (names && !channel_name_ok(s)) {
			diag_add(d, it->line, it->col,
				 "%s: '%s' is not a valid app name ([a-z0-9][a-z0-9._-]{0,63})",
				 what, s);
			continue;
		}
		if (!names && s[0] != '/') {
			diag_add(d, it->line, it->col, "%s: '%s' must be an absolute path",
				 what, s);
			continue;
		}
		for (j = 0; j < *nout; j++)
			dup |= !strcmp((*out)[j], s);
		if (dup) {
			diag_add(d, it->line, it->col, "%s: '%s' is listed twice", what, s);
			continue;
		}
		(*out)[(*nout)++] = xstrdup(s);
	}
	if (names && n->nitems == 0)
		diag_add(d, n->line, n->col, "%s: needs at least one app", key);
}

/* One window (freeze) string, or a list of them; a bad one is reported
 * at the line and column of the problem inside the string. */
static void get_schedule(const struct ynode *root, const char *key, bool freeze,
			 void **out, size_t *nout, size_t size, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, key);
	const struct ynode *const *items;
	char what[64], why[WINDOW_WHY_MAX];
	size_t i, nitems, col;

	if (!n)
		return;
	if (n->kind == YNODE_SEQ) {
		items = (const struct ynode *const *)n->items;
		nitems = n->nitems;
	} else {
		items = &n;
		nitems = 1;
	}
	*out = xcalloc(nitems ? nitems : 1, size);
	for (i = 0; i < nitems; i++) {
		const struct ynode *it = items[i];
		void *slot = (char *)*out + *nout * size;
		const char *s;
		int rc;

		if (n->kind == YNODE_SEQ)
			ydoc_name_idx(what, sizeof what, key, i);
		else
			snprintf(what, sizeof what, "%s", key);
		if (ydoc_str(it, what, &s, d) < 0)
			continue;
		rc = freeze ? window_parse_freeze(s, slot, &col, why) : window_parse(s, slot, &col, why);
		if (rc < 0) {
			diag_add(d, it->line, it->col + (int)col + !it->plain, "%s: %s in '%s'%s",
				 what, why, s, freeze ? " (YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)" :
				 " (\"[DAYS ]HH:MM-HH:MM[ ZONE]\", e.g. \"Sat,Sun 01:00-05:00 "
				 "Europe/Paris\")");
			continue;
		}
		(*nout)++;
	}
}

static void get_group(const struct ynode *root, struct config *c, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "group");
	const char *s;

	if (!n || ydoc_str(n, "group", &s, d) < 0)
		return;
	if (!channel_name_ok(s)) {
		diag_add(d, n->line, n->col,
			 "group: '%s' is not a valid name ([a-z0-9][a-z0-9._-]{0,63})", s);
		return;
	}
	c->group = xstrdup(s);
}

static void get_simple(const struct ynode *root, struct config *c, struct diag *d)
{
	const struct ynode *n;
	const char *s;
	uint64_t v;

	n = ydoc_get(root, "host");
	if (n && ydoc_str(n, "host", &s, d) == 0) {
		if (!config_host_ok(s))
			diag_add(d, n->line, n->col,
				 "host: '%s' is not a host name (letters, digits, '.', '_', '-')", s);
		else {
			free(c->host);
			c->host = xstrdup(s);
		}
	}
	n = ydoc_get(root, "balance");
	if (n && ydoc_str(n, "balance", &s, d) == 0) {
		if (!strcmp(s, "failover"))
			c->balance = BALANCE_FAILOVER;
		else if (!strcmp(s, "random"))
			c->balance = BALANCE_RANDOM;
		else
			diag_add(d, n->line, n->col,
				 "balance: expected failover or random, got '%s'", s);
	}
	n = ydoc_get(root, "channel");
	if (n && ydoc_str(n, "channel", &s, d) == 0) {
		if (!channel_name_ok(s))
			diag_add(d, n->line, n->col,
				 "channel: '%s' is not a valid name ([a-z0-9][a-z0-9._-]{0,63})", s);
		else {
			free(c->channel);
			c->channel = xstrdup(s);
		}
	}
	if (ydoc_get_uint(root, "", "heartbeat", 7 * 24 * 60, &v, d) == 1)
		c->heartbeat = (unsigned)v;
	if (ydoc_get_uint(root, "", "connect_timeout", 3600, &v, d) == 1)
		c->connect_timeout = v ? (unsigned)v : 1;
	if (ydoc_get_uint(root, "", "low_speed_limit", 1u << 30, &v, d) == 1)
		c->low_speed_limit = v ? (unsigned)v : 1;
	if (ydoc_get_uint(root, "", "low_speed_time", 3600, &v, d) == 1)
		c->low_speed_time = v ? (unsigned)v : 1;
	get_schedule(root, "window", false, (void **)&c->windows, &c->nwindows,
		     sizeof *c->windows, d);
	get_schedule(root, "freeze", true, (void **)&c->freezes, &c->nfreezes,
		     sizeof *c->freezes, d);
	get_group(root, c, d);
}

/* expiry_warning: a whole number of days ("7d"), hours ("12h") or
 * minutes ("30m"), at most a year; "0" turns the warning off. */
static void get_expiry_warning(const struct ynode *root, struct config *c, struct diag *d)
{
	const struct ynode *n = ydoc_get(root, "expiry_warning");
	unsigned long long v;
	const char *s;
	char *end;
	int unit;

	if (!n || ydoc_str(n, "expiry_warning", &s, d) < 0)
		return;
	errno = 0;
	v = strtoull(s, &end, 10);
	unit = !strcmp(end, "d") ? 86400 : !strcmp(end, "h") ? 3600 : !strcmp(end, "m") ? 60 :
	       !strcmp(s, "0") ? 1 : 0;
	if (errno || end == s || s[0] == '-' || !unit || v > 366ull * 86400 / (unsigned)unit)
		diag_add(d, n->line, n->col,
			 "expiry_warning: expected days, hours or minutes (7d, 12h, 30m) up to "
			 "366d, or 0, got '%s'", s);
	else
		c->expiry_warning = (long)v * unit;
}

static void set_defaults(struct config *c, const char *path)
{
	char host[256];

	memset(c, 0, sizeof *c);
	c->path = xstrdup(path);
	if (gethostname(host, sizeof host) < 0 || !host[0])
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	/* The short name: a report directory per host, as `hostname` says. */
	host[strcspn(host, ".")] = '\0';
	c->host = xstrdup(config_host_ok(host) ? host : "localhost");
	c->balance = BALANCE_FAILOVER;
	c->channel = xstrdup("stable");
	c->root = xstrdup("/");
	c->state_dir = xstrdup("/var/lib/upgr");
	c->device_key = xstrdup("/etc/upgr/device.key");
	c->audit_log = xstrdup("/var/log/upgr/audit.log");
	c->heartbeat = 60;
	c->connect_timeout = 10;
	c->low_speed_limit = 1024;
	c->low_speed_time = 30;
	c->expiry_warning = 7 * 86400;
}

/* Files the config names that exist must not be writable by others, and
 * the netrc must not be readable by them either; the device key is
 * checked where it is loaded (sign_key_load), and created 0600. */
static void check_named_files(const struct config *c, struct diag *d)
{
	struct err e;
	size_t i;

	if (c->netrc && access(c->netrc, F_OK) == 0 &&
	    config_check_file(c->netrc, true, &e) < 0)
		diag_add(d, 0, 0, "netrc: %s", e.msg);
	if (c->ssh_key && access(c->ssh_key, F_OK) == 0 &&
	    config_check_file(c->ssh_key, true, &e) < 0)
		diag_add(d, 0, 0, "ssh_key: %s", e.msg);
	if (c->ca_file && access(c->ca_file, F_OK) == 0 &&
	    config_check_file(c->ca_file, false, &e) < 0)
		diag_add(d, 0, 0, "ca_file: %s", e.msg);
	if (c->ssh_known_hosts && access(c->ssh_known_hosts, F_OK) == 0 &&
	    config_check_file(c->ssh_known_hosts, false, &e) < 0)
		diag_add(d, 0, 0, "ssh_known_hosts: %s", e.msg);
	if (access(c->device_key, F_OK) == 0 &&
	    config_check_file(c->device_key, true, &e) < 0)
		diag_add(d, 0, 0, "device_key: %s", e.msg);
	for (i = 0; i < c->ntrusted_keys; i++)
		if (access(c->trusted_keys[i], F_OK) == 0 &&
		    config_check_file(c->trusted_keys[i], false, &e) < 0)
			diag_add(d, 0, 0, "trusted_keys[%zu]: %s", i, e.msg);
	if (c->trust_root && access(c->trust_root, F_OK) == 0 &&
	    config_check_file(c->trust_root, false, &e) < 0)
		diag_add(d, 0, 0, "trust_root: %s", e.msg);
}

int config_load(const char *path, struct config *c, struct diag *d)
{
	struct buf b = BUF_INIT;
	struct ydoc doc = { 0 };
	struct stat st;
	struct err e;
	char why[256];
	bool world_readable;

	set_defaults(c, path);
	if (stat(path, &st) < 0) {
		diag_add(d, 0, 0, "cannot read: %s", strerror(errno));
		goto done;
	}
	if (file_problem(path, false, why, sizeof why)) {
		diag_add(d, 0, 0, "refused: %s", why);
		goto done;
	}
	if (fs_read_file(path, CONFIG_MAX_BYTES, &b, &e) < 0) {
		diag_add(d, 0, 0, "%s", e.msg);
		goto done;
	}
	world_readable = stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH));
	if (ydoc_parse(b.data, b.len, CONFIG_MAX_BYTES, 0, &doc, d) < 0)
		goto done;
	if (ydoc_map(doc.root, "config", d) < 0)
		goto done;
	ydoc_check_keys(doc.root, "", config_keys, d);
	ydoc_require(doc.root, "", config_required, d);
	get_simple(doc.root, c, d);
	get_servers(doc.root, c, world_readable, d);
	get_list(doc.root, "apps", true, &c->apps, &c->napps, d);
	get_list(doc.root, "trusted_keys", false, &c->trusted_keys, &c->ntrusted_keys, d);
	get_path(doc.root, "netrc", &c->netrc, d);
	get_path(doc.root, "ca_file", &c->ca_file, d);
	get_path(doc.root, "trust_root", &c->trust_root, d);
	get_path(doc.root, "ssh_key", &c->ssh_key, d);
	get_path(doc.root, "ssh_known_hosts", &c->ssh_known_hosts, d);
	get_path(doc.root, "root", &c->root, d);
	get_path(doc.root, "state_dir", &c->state_dir, d);
	get_path(doc.root, "device_key", &c->device_key, d);
	get_path(doc.root, "audit_log", &c->audit_log, d);
	get_path(doc.root, "metrics_file", &c->metrics_file, d);
	get_expiry_warning(doc.root, c, d);
	if (!d->n)
		check_named_files(c, d);
done:
	ydoc_release(&doc);
	buf_release(&b);
	if (d->n) {
		config_release(c);
		return -1;
	}
	return 0;
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void config_release(struct config *c)
{
	free(c->path);
	free(c->host);
	free_list(c->servers, c->nservers);
	free(c->netrc);
	free(c->ca_file);
	free(c->trust_root);
	free(c->ssh_key);
	free(c->ssh_known_hosts);
	free(c->channel);
	free_list(c->apps, c->napps);
	free(c->root);
	free(c->state_dir);
	free_list(c->trusted_keys, c->ntrusted_keys);
	free(c->device_key);
	free(c->audit_log);
	free(c->metrics_file);
	free(c->windows);
	free(c->freezes);
	free(c->group);
	memset(c, 0, sizeof *c);
}

void config_set_root(struct config *c, const char *root)
{
	free(c->root);
	c->root = xstrdup(root);
}

bool config_in_window(const struct config *c, time_t now)
{
	return window_open(c->windows, c->nwindows, now);
}
