#include "state.h"
#include "buf.h"
#include "fsutil.h"
#include "utc.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
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
	char *path = state_app_file(state_dir, app, STATE_INSTALLED);
	struct diag d;
	int rc = 0;

	*have = false;
	diag_init(&d, path);
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		diag_release(&d);
		goto done;
	}
	if (manifest_load(path, m, &d) < 0) {
		rc = diag_to_err(&d, EXIT_DATAERR, e);
		err_prefix(e, "installed manifest: ");
		diag_release(&d);
		goto done;
	}
	diag_release(&d);
	*have = true;
done:
	free(path);
	return rc;
}

/* The status file is a flat YAML mapping of double-quoted strings that
 * this module writes and reads back line by line. */
static const struct {
	const char *key;
	size_t off, len;
} status_fields[] = {
#define F(k) { #k, offsetof(struct app_status, k), sizeof ((struct app_status *)0)->k }
	F(app), F(version), F(action), F(from), F(to), F(result), F(time), F(error),
#undef F
};

#define NSTATUS (sizeof status_fields / sizeof status_fields[0])

int state_status_write(const char *state_dir, const struct app_status *s,
		       struct err *e)
{
	char *dir = state_app_dir(state_dir, s->app), *path = NULL;
	struct buf b = BUF_INIT;
	size_t i;
	int rc = -1;

	if (fs_mkdir_p(dir, 0700, e) < 0)
		goto done;
	for (i = 0; i < NSTATUS; i++) {
		buf_addf(&b, "%s: ", status_fields[i].key);
		buf_add_quoted(&b, (const char *)s + status_fields[i].off);
		buf_adds(&b, "\n");
	}
	path = fs_join(dir, STATE_STATUS);
	rc = fs_write_atomic(path, b.data, b.len, 0644, e);
done:
	free(dir);
	free(path);
	buf_release(&b);
	return rc;
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

int state_status_read(const char *state_dir, const char *app,
		      struct app_status *s, bool *have, struct err *e)
{
	char *path = state_app_file(state_dir, app, STATE_STATUS);
	struct buf b = BUF_INIT;
	char *line, *save = NULL;
	size_t i;
	int rc = 0;

	memset(s, 0, sizeof *s);
	*have = false;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		goto done;
	if (fs_read_file(path, 64 << 10, &b, e) < 0) {
		rc = -1;
		goto done;
	}
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; i < NSTATUS; i++) {
			size_t kl = strlen(status_fields[i].key);

			if (!strncmp(line, status_fields[i].key, kl) && !strncmp(line + kl, ": ", 2) &&
			    unquote(line + kl + 2, (char *)s + status_fields[i].off,
				    status_fields[i].len) < 0) {
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
	char *path = refused_path(state_dir, app);
	int rc = 0;

	if (unlink(path) == 0)
		rc = fs_fsync_parent(path, e);
	else if (errno != ENOENT)
		rc = err_sys(e, EXIT_SOFTWARE, "remove %s", path);
	free(path);
	return rc;
}

void state_now(char out[32])
{
	utc_now(out);
}
