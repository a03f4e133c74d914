/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"
#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "mcache.h"
#include "utc.h"
#include "xalloc.h"
#include "ydoc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A directory of the state that others could change under us: not ours
 * (nor root's), or writable by group or others. */
static int check_owner_mode(const char *path, const struct stat *st, struct err *e)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return err_set(e, EXIT_DATAERR, "%s: owned by uid %lu, neither root nor this user",
			       path, (unsigned long)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return err_set(e, EXIT_DATAERR,
			       "%s: writable by group or others (mode %04o); chmod go-w",
			       path, (unsigned)(st->st_mode & 07777));
	return 0;
}

/* Nothing in the state may lead out of it: apps/, cache/, each apps/APP/
 * and the files in it are refused when they are symlinks (or not what they
 * should be). The state directory itself may be reached through a symlink
 * the administrator made; it must be ours and not writable by others. */
static int check_state_dir(const char *state_dir, struct err *e)
{
	static const char *const subdirs[] = { STATE_APPS, STATE_CACHE };
	struct stat st;
	struct dirent *de, *fe;
	DIR *d = NULL, *f;
	char *path = NULL, *app = NULL, *file;
	size_t i;
	int rc = -1;

	if (stat(state_dir, &st) < 0)
		return err_sys(e, EXIT_SOFTWARE, "%s", state_dir);
	if (check_owner_mode(state_dir, &st, e) < 0)
		return -1;
	for (i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		free(path);
		path = fs_join(state_dir, subdirs[i]);
		if (lstat(path, &st) < 0 && errno == ENOENT)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			err_set(e, EXIT_DATAERR, "%s: a symlink or not a directory; refused", path);
			goto done;
		}
		if (check_owner_mode(path, &st, e) < 0)
			goto done;
	}
	free(path);
	path = fs_join(state_dir, STATE_APPS);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		free(app);
		app = fs_join(path, de->d_name);
		if (lstat(app, &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			err_set(e, EXIT_DATAERR, "%s: a symlink or not a directory; refused", app);
			goto done;
		}
		if (check_owner_mode(app, &st, e) < 0)
			goto done;
		if (!(f = opendir(app)))
			continue;
		while ((fe = readdir(f))) {
			file = fs_join(app, fe->d_name);
			if (lstat(file, &st) == 0 && S_ISLNK(st.st_mode)) {
				err_set(e, EXIT_DATAERR, "%s: a symlink; refused", file);
				free(file);
				closedir(f);
				goto done;
			}
			free(file);
		}
		closedir(f);
	}
	rc = 0;
done:
	if (d)
		closedir(d);
	free(app);
	free(path);
	return rc;
}

int state_lock(const char *state_dir, int *fd, struct err *e)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char *path;
	int rc = -1;

	*fd = -1;
	if (fs_mkdir_p(state_dir, 0700, e) < 0 || check_state_dir(state_dir, e) < 0)
		return err_prefix(e, "state directory: ");
	path = fs_join(state_dir, STATE_LOCK);
	*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0) {
		err_sys(e, EXIT_SOFTWARE, "open %s", path);
		goto done;
	}
	if (fcntl(*fd, F_SETLK, &fl) < 0) {
		if (errno == EACCES || errno == EAGAIN)
			err_set(e, EXIT_LOCKED, "%s: another upgr is running", path);
		else
			err_sys(e, EXIT_SOFTWARE, "lock %s", path);
		close(*fd);
		*fd = -1;
		goto done;
	}
	rc = 0;
done:
	free(path);
	return rc;
}

void state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

char *state_app_dir(const char *state_dir, const char *app)
{
	return xasprintf("%s/" STATE_APPS "/%s", state_dir, app);
}

char *state_app_file(const char *state_dir, const char *app, const char *name)
{
	return xasprintf("%s/" STATE_APPS "/%s/%s", state_dir, app, name);
}

int state_installed(const char *state_dir, const char *app,
		    struct manifest *m, bool *have, struct err *e)
{
	char *path = state_app_file(state_dir, app, STATE_INSTALLED), *cache = NULL;
	struct diag d;
	int rc = 0;

	*have = false;
	diag_init(&d, path);
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		diag_release(&d);
		goto done;
	}
	cache = state_app_file(state_dir, app, MCACHE_NAME);
	if (manifest_load_cached(path, cache, m, &d) < 0) {
		rc = diag_to_err(&d, EXIT_DATAERR, e);
		err_prefix(e, "installed manifest: ");
		diag_release(&d);
		goto done;
	}
	diag_release(&d);
	*have = true;
done:
	free(path);
	free(cache);
	return rc;
}

bool state_installed_peek(const char *state_dir, const char *app, const char *sha256_hex,
			 bool *same, char *version, size_t len)
{
	char *path = state_app_file(state_dir, app, STATE_INSTALLED);
	char hex[SHA256_HEX_LEN + 1];
	uint8_t h[SHA256_LEN];
	struct buf b = BUF_INIT;
	struct err e;
	bool ok = fs_read_file(path, MANIFEST_MAX_BYTES, &b, &e) == 0 && b.data;

	*same = false;
	*version = '\0';
	if (ok) {
		sha256_buf(b.data, b.len, h);
		hex_encode(h, SHA256_LEN, hex);
		*same = sha256_hex && !strcmp(hex, sha256_hex);
		if (!ydoc_peek(b.data, b.len, "version", version, len))
			*version = '\0';
	}
	buf_release(&b);
	free(path);
	return ok;
}

/* The status and hold files are flat YAML mappings of double-quoted
 * strings that this module writes and reads back line by line, each
 * through a table of a struct's char-array fields. */
struct field {
	const char *key;
	size_t off, len;
};

#define F(type, k) { #k, offsetof(struct type, k), sizeof ((struct type *)0)->k }
static const struct field status_fields[] = {
	F(app_status, app), F(app_status, version), F(app_status, action),
	F(app_status, from), F(app_status, to), F(app_status, result),
	F(app_status, time), F(app_status, error), F(app_status, state),
	F(app_status, waiting), F(app_status, server), F(app_status, failed),
	F(app_status, staged),
};
static const struct field hold_fields[] = {
	F(app_hold, version), F(app_hold, reason), F(app_hold, from),
	F(app_hold, user), F(app_hold, time),
};
#undef F
#define NFIELDS(t) (sizeof t / sizeof t[0])

/* Write obj's fields to STATE/apps/APP/name, durably. */
static int fields_write(const char *state_dir, const char *app, const char *name,
			const struct field *f, size_t n, const void *obj, struct err *e)
{
	char *dir = state_app_dir(state_dir, app), *path = NULL;
	struct buf b = BUF_INIT;
	size_t i;
	int rc = -1;

	if (fs_mkdir_p(dir, 0700, e) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		buf_addf(&b, "%s: ", f[i].key);
		buf_add_quoted(&b, (const char *)obj + f[i].off);
		buf_adds(&b, "\n");
	}
	path = fs_join(dir, name);
	rc = fs_write_atomic(path, b.data, b.len, 0644, e);
done:
	free(dir);
	free(path);
	buf_release(&b);
	return rc;
}

int state_status_write(const char *state_dir, const struct app_status *s,
		       struct err *e)
{
	return fields_write(state_dir, s->app, STATE_STATUS, status_fields,
			    NFIELDS(status_fields), s, e);
}

/* Undo buf_add_quoted for one value; returns -1 on a malformed string. */
static int unquote(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (*in++ != '"')
		return -1;
	for (; *in && *in != '"'; in++) {
		char c = *in;

		if (c == '\\') {
			c = *++in;
			switch (c) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case '"': case '\\': break;
			case 'u': {
				unsigned v;

				if (sscanf(in + 1, "%4x", &v) != 1)
					return -1;
				c = (char)v;
				in += 4;
				break;
			}
			default:
				return -1;
			}
		}
		if (n + 1 < outlen)
			out[n++] = c;
	}
	out[n] = '\0';
	return *in == '"' ? 0 : -1;
}

/* Read STATE/apps/APP/name into obj's fields (zeroed, size objlen);
 * *have = false when there is no such file. */
static int fields_read(const char *state_dir, const char *app, const char *name,
		       const struct field *f, size_t n, void *obj, size_t objlen,
		       bool *have, struct err *e)
{
	char *path = state_app_file(state_dir, app, name);
	struct buf b = BUF_INIT;
	char *line, *save = NULL;
	size_t i;
	int rc = 0;

	memset(obj, 0, objlen);
	*have = false;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		goto done;
	if (fs_read_file(path, 64 << 10, &b, e) < 0) {
		rc = -1;
		goto done;
	}
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; i < n; i++) {
			size_t kl = strlen(f[i].key);

			if (!strncmp(line, f[i].key, kl) && !strncmp(line + kl, ": ", 2) &&
			    unquote(line + kl + 2, (char *)obj + f[i].off, f[i].len) < 0) {
				rc = err_set(e, EXIT_DATAERR, "%s: malformed line: %s", path, line);
				goto done;
			}
		}
	}
	*have = true;
done:
	free(path);
	buf_release(&b);
	return rc;
}

int state_status_read(const char *state_dir, const char *app,
		      struct app_status *s, bool *have, struct err *e)
{
	return fields_read(state_dir, app, STATE_STATUS, status_fields,
			   NFIELDS(status_fields), s, sizeof *s, have, e);
}

/* The field of status_fields named key in s. */
static char *status_field(struct app_status *s, const char *key, size_t *len)
{
	size_t i;

	for (i = 0; strcmp(status_fields[i].key, key); i++)
		;
	*len = status_fields[i].len;
	return (char *)s + status_fields[i].off;
}

/* Set app's status fields k1 and k2 to v1 and v2, writing the file only
 * when one changes. */
static int status_set_pair(const char *state_dir, const char *app, const char *k1,
			   const char *v1, const char *k2, const char *v2, struct err *e)
{
	struct app_status s;
	size_t l1, l2;
	char *f1, *f2;
	bool have;

	if (state_status_read(state_dir, app, &s, &have, e) < 0)
		return -1;
	f1 = status_field(&s, k1, &l1);
	f2 = status_field(&s, k2, &l2);
	if (have && !strncmp(f1, v1, l1 - 1) && !strncmp(f2, v2, l2 - 1))
		return 0;
	snprintf(s.app, sizeof s.app, "%s", app);
	snprintf(f1, l1, "%s", v1);
	snprintf(f2, l2, "%s", v2);
	return state_status_write(state_dir, &s, e);
}

int state_set_poll(const char *state_dir, const char *app, const char *state,
		   const char *why, struct err *e)
{
	return status_set_pair(state_dir, app, "state", state, "waiting", why ? why : "", e);
}

int state_set_waiting(const char *state_dir, const char *app, const char *reason,
		      struct err *e)
{
	return state_set_poll(state_dir, app, "waiting", reason, e);
}

int state_set_servers(const char *state_dir, const char *app, const char *server,
		      const char *failed, struct err *e)
{
	return status_set_pair(state_dir, app, "server", server, "failed", failed, e);
}

int state_hold_read(const char *state_dir, const char *app, struct app_hold *h,
		    bool *have, struct err *e)
{
	return fields_read(state_dir, app, STATE_HOLD, hold_fields, NFIELDS(hold_fields),
			   h, sizeof *h, have, e);
}

bool state_hold_applies(const struct app_hold *h, const char *version)
{
	return strcmp(h->reason, "rollback") || !strcmp(version, h->from);
}

int state_hold_write(const char *state_dir, const char *app, const struct app_hold *h,
		     struct err *e)
{
	return fields_write(state_dir, app, STATE_HOLD, hold_fields, NFIELDS(hold_fields),
			    h, e);
}

void state_hold_init(struct app_hold *h, const char *version, const char *reason,
		     const char *from)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(geteuid());

	memset(h, 0, sizeof *h);
	snprintf(h->version, sizeof h->version, "%s", version);
	snprintf(h->reason, sizeof h->reason, "%s", reason);
	snprintf(h->from, sizeof h->from, "%s", from);
	if (sudo && *sudo)
		snprintf(h->user, sizeof h->user, "%s", sudo);
	else if (pw)
		snprintf(h->user, sizeof h->user, "%s", pw->pw_name);
	else
		snprintf(h->user, sizeof h->user, "uid %lu", (unsigned long)geteuid());
	state_now(h->time);
}

/* Remove STATE/apps/APP/name durably; none is fine. */
static int remove_file(const char *state_dir, const char *app, const char *name,
		       struct err *e)
{
	char *path = state_app_file(state_dir, app, name);
	int rc = 0;

	if (unlink(path) == 0)
		rc = fs_fsync_parent(path, e);
	else if (errno != ENOENT)
		rc = err_sys(e, EXIT_SOFTWARE, "remove %s", path);
	free(path);
	return rc;
}

int state_hold_clear(const char *state_dir, const char *app, struct err *e)
{
	return remove_file(state_dir, app, STATE_HOLD, e);
}

void state_note_read(const char *state_dir, const char *app, const char *name,
		     char note[STATE_NOTE_MAX])
{
	char *path = state_app_file(state_dir, app, name);
	struct buf b = BUF_INIT;
	struct err e;

	note[0] = '\0';
	if (access(path, F_OK) == 0 && fs_read_file(path, STATE_NOTE_MAX, &b, &e) == 0 &&
	    b.data)
		snprintf(note, STATE_NOTE_MAX, "%.*s", (int)strcspn(b.data, "\n"), b.data);
	buf_release(&b);
	free(path);
}

int state_note_write(const char *state_dir, const char *app, const char *name,
		     const char *note, struct err *e)
{
	char *dir, *path, *line;
	int rc;

	if (!*note)
		return remove_file(state_dir, app, name, e);
	dir = state_app_dir(state_dir, app);
	path = fs_join(dir, name);
	line = xasprintf("%s\n", note);
	rc = fs_mkdir_p(dir, 0700, e);
	if (rc == 0)
		rc = fs_write_atomic(path, line, strlen(line), 0644, e);
	free(line);
	free(dir);
	free(path);
	return rc;
}

#define SERIAL_FILE_MAX (64u << 10)

/* One line of STATE/apps/APP/serial: "CHANNEL SERIAL", or the bare
 * "SERIAL" of the per-app file that came before (*channel = NULL then).
 * 0, or -1 when the line is neither. */
static int serial_line(char *line, const char **channel, uint64_t *serial)
{
	char *num = strchr(line, ' '), *end;

	*channel = NULL;
	if (num) {
		*num++ = '\0';
		if (!*line)
			return -1;
		*channel = line;
	} else {
		num = line;
	}
	if (*num < '0' || *num > '9')
		return -1;
	errno = 0;
	*serial = strtoull(num, &end, 10);
	return errno || *end ? -1 : 0;
}

/* The serial file's lines, each passed to fn (which may keep them): -1
 * with EXIT_DATAERR at the first that is not a serial line. */
static int serial_lines(const char *path, struct buf *b, void (*fn)(const char *channel,
			uint64_t serial, void *arg), void *arg, struct err *e)
{
	char *line, *next;
	const char *ch;
	uint64_t n;

	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (fs_read_file(path, SERIAL_FILE_MAX, b, e) < 0)
		return -1;
	for (line = b->data; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (serial_line(line, &ch, &n) < 0)
			return err_set(e, EXIT_DATAERR, "%s: not a serial number", path);
		fn(ch, n, arg);
	}
	return 0;
}

struct serial_find {
	const char *channel;
	uint64_t serial;
	struct buf *keep;          /* state_serial_write: the other channels */
};

static void serial_find_line(const char *channel, uint64_t serial, void *arg)
{
	struct serial_find *f = arg;

	/* The per-app serial of an older upgr belongs to the configured
	 * channel: the one a host asks about. */
	if (!channel || !strcmp(channel, f->channel)) {
		if (serial > f->serial)
			f->serial = serial;
	} else if (f->keep) {
		buf_addf(f->keep, "%s %" PRIu64 "\n", channel, serial);
	}
}

int state_serial_read(const char *state_dir, const char *app, const char *channel,
		      uint64_t *serial, struct err *e)
{
	char *path = state_app_file(state_dir, app, STATE_SERIAL);
	struct serial_find f = { channel, 0, NULL };
	struct buf b = BUF_INIT;
	int rc = serial_lines(path, &b, serial_find_line, &f, e);

	*serial = f.serial;
	free(path);
	buf_release(&b);
	return rc;
}

int state_serial_write(const char *state_dir, const char *app, const char *channel,
		       uint64_t serial, struct err *e)
{
	char *dir = state_app_dir(state_dir, app), *path = fs_join(dir, STATE_SERIAL);
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct serial_find f = { channel, 0, &out };
	int rc = -1;

	if (fs_mkdir_p(dir, 0700, e) < 0 ||
	    serial_lines(path, &b, serial_find_line, &f, e) < 0)
		goto done;
	buf_addf(&out, "%s %" PRIu64 "\n", channel, serial);
	rc = fs_write_atomic(path, out.data, out.len, 0644, e);
done:
	buf_release(&out);
	buf_release(&b);
	free(dir);
	free(path);
	return rc;
}

#define REFUSED_MAX (64u << 10)

static char *refused_path(const char *state_dir, const char *app)
{
	return state_app_file(state_dir, app, STATE_REFUSED);
}

static char *refused_line(const char *cause, const char *server)
{
	return xasprintf("%s %s\n", cause, server && *server ? server : "-");
}

bool state_refused_seen(const char *state_dir, const char *app, const char *cause,
			const char *server)
{
	char *path = refused_path(state_dir, app), *line = refused_line(cause, server);
	struct buf b = BUF_INIT;
	struct err e;
	size_t n = strlen(line);
	const char *at;
	bool seen = false;

	if (access(path, F_OK) == 0 && fs_read_file(path, REFUSED_MAX, &b, &e) == 0)
		for (at = b.data; at && !seen; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
			seen = !strncmp(at, line, n);
	buf_release(&b);
	free(line);
	free(path);
	return seen;
}

int state_refused_add(const char *state_dir, const char *app, const char *cause,
		      const char *server, struct err *e)
{
	char *path = refused_path(state_dir, app), *line = refused_line(cause, server);
	char *dir = state_app_dir(state_dir, app);
	struct buf b = BUF_INIT;
	int rc = fs_mkdir_p(dir, 0700, e);

	if (rc == 0 && access(path, F_OK) == 0)
		rc = fs_read_file(path, REFUSED_MAX, &b, e);
	if (rc == 0 && b.len + strlen(line) <= REFUSED_MAX) {
		buf_adds(&b, line);
		rc = fs_write_atomic(path, b.data, b.len, 0644, e);
	}
	buf_release(&b);
	free(dir);
	free(line);
	free(path);
	return rc;
}

int state_refused_clear(const char *state_dir, const char *app, struct err *e)
{
	return remove_file(state_dir, app, STATE_REFUSED, e);
}

void state_now(char out[32])
{
	utc_now(out);
}
