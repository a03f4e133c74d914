/* SPDX-License-Identifier: Apache-2.0 */
/* Moving bytes to and from a repository through libcurl.
 *
 * One struct xfer owns one curl easy handle. Every request starts with
 * curl_easy_reset, which clears the options but keeps the handle's
 * connection cache, so successive requests to one server reuse one
 * connection (one FTP login for a whole publish or fetch).
 *
 * Reads of every scheme go through libcurl. Writes, renames, deletes and
 * listings of file:// repositories use POSIX calls instead, because libcurl
 * cannot rename or list there and because local writes must be durable
 * (temporary file, fsync, rename, fsync of the directory).
 *
 * What a reader of the repository may see: a file appears whole, by a
 * rename of a temporary file in the same directory (".NAME.tmp-PID", which
 * FTP listings hide as a dot file), or not at all. */
#include "transport.h"
#include "fsutil.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIST_MAX (4u << 20)      /* bytes of a directory listing */
#define PROGRESS_EVERY_NS 250000000L

struct xfer {
	CURL *curl;
	CURLM *multi;             /* runs x->curl's requests (perform) */
	CURLSH *share;            /* one connection cache for every request */
	char *netrc;
	char *ca_file;
	char *ssh_key;
	char *ssh_known_hosts;
	char *curl_url;           /* the URL as given to curl (ftpes:// -> ftp://) */
	long connect_timeout;
	long low_speed_limit;
	long low_speed_time;
	bool progress;
	uint64_t received;        /* bytes downloaded through this handle */
	bool want_time;           /* xfer_get_mtime: ask for the file's time too */
	char errbuf[CURL_ERROR_SIZE];
};

/* Where downloaded bytes go, and the cap they must stay under. */
struct sink {
	struct buf *out;          /* either a buffer ... */
	int fd;                   /* ... or a file descriptor */
	uint64_t have;            /* bytes held so far, including a resumed part */
	uint64_t got;             /* bytes this request received */
	uint64_t max;
	bool over;                /* the cap cut the transfer off */
	int write_errno;          /* a local write failed */
};

/* Where uploaded bytes come from. */
struct source {
	const char *data;         /* either memory ... */
	size_t left;
	int fd;                   /* ... or a file descriptor */
};

struct progress {
	const char *label;
	struct timespec start, last;
	curl_off_t base;          /* bytes a resumed download already had */
	curl_off_t now, total;
	bool shown;
	bool fixed_total;         /* a group's: total is the group's, not curl's */
};

/* A group of downloads drawn as one line (xfer_progress_group): stderr is
 * the process's, so is the line. */
static struct progress group;
static bool grouped;

enum scheme { SCHEME_FILE, SCHEME_FTP, SCHEME_SFTP, SCHEME_HTTP, SCHEME_OTHER };

/* Explicit FTPS: an ftp:// URL for curl, with TLS required. */
#define FTPES_PREFIX "ftpes://"

static char *opt_dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* libcurl's global set-up, once, whichever thread makes the first handle
 * (the fleet's fetch workers each make their own). */
static bool curl_ready;

static void curl_init_once(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

struct xfer *xfer_new(const struct xfer_opts *opts)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct xfer *x;

	pthread_once(&once, curl_init_once);
	if (!curl_ready)
		return NULL;
	x = xcalloc(1, sizeof *x);
	x->curl = curl_easy_init();
	x->multi = curl_multi_init();
	x->share = curl_share_init();
	if (!x->curl || !x->multi || !x->share ||
	    curl_share_setopt(x->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
		xfer_free(x);
		return NULL;
	}
	x->netrc = opts ? opt_dup(opts->netrc) : NULL;
	x->ca_file = opts ? opt_dup(opts->ca_file) : NULL;
	x->ssh_key = opts ? opt_dup(opts->ssh_key) : NULL;
	x->ssh_known_hosts = opts ? opt_dup(opts->ssh_known_hosts) : NULL;
	x->connect_timeout = opts && opts->connect_timeout > 0 ? opts->connect_timeout : 10;
	x->low_speed_limit = opts && opts->low_speed_limit > 0 ? opts->low_speed_limit : 1;
	x->low_speed_time = opts && opts->low_speed_time > 0 ? opts->low_speed_time : 30;
	x->progress = opts && opts->progress;
	return x;
}

void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->curl)
		curl_easy_cleanup(x->curl);
	if (x->multi)
		curl_multi_cleanup(x->multi);
	if (x->share)
		curl_share_cleanup(x->share);
	free(x->netrc);
	free(x->ca_file);
	free(x->ssh_key);
	free(x->ssh_known_hosts);
	free(x->curl_url);
	free(x);
}

/* ---- URLs ---- */

static enum scheme url_scheme(const char *url)
{
	static const struct { const char *prefix; enum scheme s; } map[] = {
		{ "file://", SCHEME_FILE }, { "ftp://", SCHEME_FTP },
		{ "ftps://", SCHEME_FTP }, { FTPES_PREFIX, SCHEME_FTP },
		{ "sftp://", SCHEME_SFTP },
		{ "http://", SCHEME_HTTP }, { "https://", SCHEME_HTTP },
	};
	size_t i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strncasecmp(url, map[i].prefix, strlen(map[i].prefix)))
			return map[i].s;
	return SCHEME_OTHER;
}

/* The user information of url ("user:password"), between "://" and the
 * authority's last '@': *start and the returned length, or -1 when the URL
 * has none. */
static long url_userinfo(const char *url, const char **start)
{
	const char *auth = strstr(url, "://"), *end, *at = NULL, *p;

	if (!auth)
		return -1;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return -1;
	*start = auth;
	return at - auth;
}

char *xfer_url_redact(const char *url)
{
	const char *user;
	long n = url_userinfo(url, &user);

	if (n < 0)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(user - url), url, user + n + 1);
}

bool xfer_url_has_password(const char *url)
{
	const char *user;
	long n = url_userinfo(url, &user);

	return n > 0 && memchr(user, ':', (size_t)n) != NULL;
}

/* An error about a URL, named without its credentials. */
static int url_fail(struct err *e, int code, const char *url, const char *why)
{
	char *shown = xfer_url_redact(url);

	err_set(e, code, "%s: %s", shown, why);
	free(shown);
	return -1;
}

/* The decoded path of a URL. A file:// URL must name no host but
 * localhost; for sftp://, where the path goes into quote commands, it must
 * hold no quote, backslash or control character, and a "/~/" start (the
 * login's home) becomes a path relative to where the server starts. */
static int url_path(const char *url, char **path, struct err *e)
{
	CURLU *u = curl_url();
	char *host = NULL, *p = NULL;
	const char *q;
	bool local = url_scheme(url) == SCHEME_FILE;
	int rc = -1;

	if (!u)
		return err_set(e, EXIT_SOFTWARE, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		url_fail(e, EXIT_DATAERR, url, "malformed URL");
		goto done;
	}
	if (local && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host &&
	    strcasecmp(host, "localhost") != 0) {
		url_fail(e, EXIT_DATAERR, url, "a file:// URL names a local path, not a host");
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PATH, &p, CURLU_URLDECODE) != CURLUE_OK || !*p) {
		url_fail(e, EXIT_DATAERR, url, "no path in URL");
		goto done;
	}
	for (q = p; !local && *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == '"' || *q == '\\') {
			url_fail(e, EXIT_DATAERR, url, "unsafe path");
			goto done;
		}
	*path = xstrdup(!local && !strncmp(p, "/~/", 3) ? p + 3 : p);
	rc = 0;
done:
	curl_free(host);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* Split a file URL into its directory URL (ending in '/') and its decoded
 * last component, which must be a plain name that is safe inside an FTP
 * or SFTP command (no '/', no control characters, no quotes). */
static int url_split(const char *url, char **dir, char **name, struct err *e)
{
	const char *auth = strstr(url, "://"), *slash;
	char *n;
	int len;

	slash = auth ? strrchr(auth + 3, '/') : NULL;
	if (!slash || !slash[1] || strpbrk(url, "?#"))
		return url_fail(e, EXIT_DATAERR, url, "not a file URL");
	n = curl_easy_unescape(NULL, slash + 1, 0, &len);
	if (!n)
		return err_set(e, EXIT_SOFTWARE, "out of memory");
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)n[i];

		if (c < 0x20 || c == 0x7f || c == '/' || c == '"' || c == '\\') {
			curl_free(n);
			return url_fail(e, EXIT_DATAERR, url, "unsafe file name");
		}
	}
	if (!strcmp(n, ".") || !strcmp(n, "..")) {
		curl_free(n);
		return url_fail(e, EXIT_DATAERR, url, "not a file URL");
	}
	*name = xstrdup(n);
	curl_free(n);
	*dir = xstrndup(url, (size_t)(slash + 1 - url));
	return 0;
}

/* ---- the curl handle ---- */

/* n bytes as a person reads them: "512 B", "3.4 KiB", "12.0 MiB". */
static void human_size(double n, char *out, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (n >= 1024 && u + 1 < sizeof unit / sizeof unit[0]) {
		n /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", n, unit[u]);
}

static double seconds_since(const struct timespec *t0, const struct timespec *t)
{
	return (double)(t->tv_sec - t0->tv_sec) + (t->tv_nsec - t0->tv_nsec) / 1e9;
}

/* One line for the whole transfer, redrawn in place with \r: "payload.tar.gz
 * 12.0 MiB / 50.0 MiB  24%  5.1 MiB/s  ETA 0:07" (the rate over this run's
 * bytes; a resumed download counts what it had). */
static void progress_draw(const struct progress *pr, const struct timespec *t)
{
	char now[16], total[16], rate[16], eta[48] = "";
	double secs = seconds_since(&pr->start, t), bps;

	bps = secs > 0 ? (double)(pr->now - pr->base) / secs : 0;
	human_size((double)pr->now, now, sizeof now);
	human_size((double)pr->total, total, sizeof total);
	human_size(bps, rate, sizeof rate);
	if (pr->total > pr->now && bps > 0) {
		long left = (long)((double)(pr->total - pr->now) / bps + 0.5);

		snprintf(eta, sizeof eta, "  ETA %ld:%02ld", left / 60, left % 60);
	}
	if (pr->total > 0)
		fprintf(stderr, "\r%-28.28s %10s / %-10s %3d%%  %s/s%s\033[K", pr->label, now,
			total, (int)(pr->now * 100 / pr->total), rate, eta);
	else
		fprintf(stderr, "\r%-28.28s %10s  %s/s\033[K", pr->label, now, rate);
}

/* curl calls this many times a second; draw at most every 250 ms. */
static int progress_cb(void *p, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *pr = p;
	struct timespec t;

	if (!pr->fixed_total)
		pr->total = dltotal ? pr->base + dltotal : ultotal;
	pr->now = dltotal || dlnow ? pr->base + dlnow : ulnow;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (pr->shown && (t.tv_sec - pr->last.tv_sec) * 1000000000L +
			 (t.tv_nsec - pr->last.tv_nsec) < PROGRESS_EVERY_NS)
		return 0;
	pr->last = t;
	pr->shown = true;
	progress_draw(pr, &t);
	return 0;
}

/* The final state, then the line is done. */
static void progress_end(const struct progress *pr)
{
	struct timespec t;

	if (!pr->shown)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	progress_draw(pr, &t);
	fputc('\n', stderr);
}

static size_t discard_cb(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* libcurl accepts any SSH host key unless it is given known hosts; with
 * them, and no callback, a key that is not listed is refused. */
static void set_ssh(struct xfer *x)
{
	const char *home = getenv("HOME");
	char *path;

	if (x->ssh_known_hosts)
		path = xstrdup(x->ssh_known_hosts);
	else if (home && *home)
		path = xasprintf("%s/.ssh/known_hosts", home);
	else
		path = xstrdup("/etc/ssh/ssh_known_hosts");
	curl_easy_setopt(x->curl, CURLOPT_SSH_KNOWNHOSTS, path);
	free(path);
	if (x->ssh_key)
		curl_easy_setopt(x->curl, CURLOPT_SSH_PRIVATE_KEYFILE, x->ssh_key);
}

/* TLS: always verified (curl's default, said here so it stays so); for
 * ftps:// and ftpes:// (which becomes ftp://) TLS is required on both the
 * control and the data connections. Returns the URL to give curl. */
static const char *set_tls(struct xfer *x, const char *url)
{
	curl_easy_setopt(x->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (x->ca_file)
		curl_easy_setopt(x->curl, CURLOPT_CAINFO, x->ca_file);
	if (strncasecmp(url, FTPES_PREFIX, strlen(FTPES_PREFIX)) &&
	    strncasecmp(url, "ftps://", 7))
		return url;
	curl_easy_setopt(x->curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	/* TLS 1.2 exactly: FTP servers (vsftpd's require_ssl_reuse, the
	 * default) want each data connection to resume the control
	 * connection's TLS session, which libcurl cannot always do under
	 * TLS 1.3 on a reused connection (curl issue 4654: 522 "session reuse
	 * required" or 426 on the second transfer). */
	curl_easy_setopt(x->curl, CURLOPT_SSLVERSION,
			 (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	if (!strncasecmp(url, "ftps://", 7))
		return url;
	free(x->curl_url);
	x->curl_url = xasprintf("ftp://%s", url + strlen(FTPES_PREFIX));
	return x->curl_url;
}

/* Reset the handle to the options every request shares. */
static void setup(struct xfer *x, const char *url, struct progress *pr)
{
	CURL *c = x->curl;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_SHARE, x->share);
	x->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, set_tls(x, url));
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "file,ftp,ftps,sftp,http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "ftp,ftps,sftp,http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	if (x->netrc)
		curl_easy_setopt(c, CURLOPT_NETRC_FILE, x->netrc);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, x->connect_timeout);
	curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT,
			 x->low_speed_time > x->connect_timeout ?
			 x->low_speed_time : x->connect_timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, x->low_speed_limit);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, x->low_speed_time);
	if (url_scheme(url) == SCHEME_SFTP)
		set_ssh(x);
	/* Whatever a request does not collect (FTP answers to a NOBODY
	 * request, a listing after a DELE) must not reach stdout. */
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
	if (x->progress && pr) {
		const char *base = strrchr(url, '/');

		if (!pr->fixed_total) {
			pr->label = base && base[1] ? base + 1 : url;
			clock_gettime(CLOCK_MONOTONIC, &pr->start);
		}
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, pr);
	}
}

/* A "not found" answer: HTTP 404/410, FTP 550 (file or directory), or a
 * local file that is not there. code is the last response code. */
static bool is_missing(CURLcode rc, long code, bool http)
{
	if (http)
		return code == 404 || code == 410;
	if (rc == CURLE_REMOTE_FILE_NOT_FOUND || rc == CURLE_FILE_COULDNT_READ_FILE)
		return true;
	return (rc == CURLE_REMOTE_ACCESS_DENIED || rc == CURLE_QUOTE_ERROR) && code == 550;
}

/* The server's identity did not check out: a certificate not trusted or
 * not for this host, an SSH host key not in known_hosts or changed, or an
 * FTP server that will not speak TLS where TLS is required. */
static bool is_untrusted(CURLcode rc)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/* Turn a curl result into 0 or an error naming what and where. For a
 * lookup (not an upload), "not found" answers set *missing. */
static int finish(struct xfer *x, const char *what, const char *url, CURLcode rc,
		  const struct sink *s, bool lookup, bool *missing, struct err *e)
{
	char *shown;
	const char *why;
	int code = EXIT_UNAVAILABLE;
	long response = 0;
	bool http = url_scheme(url) == SCHEME_HTTP, http_failed;

	if (missing)
		*missing = false;
	if (rc == CURLE_OK)
		return 0;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &response);
	/* An HTTP error page can be larger than the cap: the error counts. */
	http_failed = http && response >= 400;
	shown = xfer_url_redact(url);
	why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	if (!http_failed && ((s && s->over) || rc == CURLE_FILESIZE_EXCEEDED)) {
		err_set(e, EXIT_TRUST, "%s %s: larger than the declared %" PRIu64 " bytes",
			what, shown, s ? s->max : 0);
	} else if (s && s->write_errno) {
		errno = s->write_errno;
		err_sys(e, EXIT_SOFTWARE, "%s %s: write", what, shown);
	} else if (lookup && is_missing(rc, response, http)) {
		if (missing)
			*missing = true;
		err_set(e, EXIT_UNAVAILABLE, "%s %s: not found", what, shown);
	} else if (http_failed) {
		err_set(e, EXIT_UNAVAILABLE, "%s %s: the server answered HTTP %ld",
			what, shown, response);
	} else if (is_untrusted(rc)) {
		err_set(e, EXIT_TRUST, "%s %s: the server's identity is not trusted: %s",
			what, shown, why);
	} else if (rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
		err_set(e, EXIT_DATAERR, "%s %s: %s", what, shown, why);
	} else {
		if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
			code = EXIT_DATAERR;
		err_set(e, code, "%s %s: %s", what, shown, why);
	}
	free(shown);
	return -1;
}

static size_t sink_cb(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->have + len > s->max) {
		s->over = true;
		return 0;        /* a short count: curl stops with CURLE_WRITE_ERROR */
	}
	if (s->out) {
		buf_add(s->out, p, len);
	} else if (fs_write_all(s->fd, p, len) < 0) {
		s->write_errno = errno;
		return 0;
	}
	s->have += len;
	s->got += len;
	return len;
}

static size_t source_cb(char *p, size_t size, size_t n, void *arg)
{
	struct source *s = arg;
	size_t len = size * n;
	ssize_t got;

	if (s->fd < 0) {
		if (len > s->left)
			len = s->left;
		memcpy(p, s->data, len);
		s->data += len;
		s->left -= len;
		return len;
	}
	do
		got = read(s->fd, p, len);
	while (got < 0 && errno == EINTR);
	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

/* The longest perform waits for a socket before it looks again. */
#define PERFORM_WAIT_MS 10

/* curl_easy_perform(x->curl), run through x->multi with its waits capped
 * at PERFORM_WAIT_MS: libcurl's own loop (7.88) sometimes sits out its
 * whole one-second poll after the EPSV/PASV answer on a reused FTP
 * connection, with no socket to wait on and no timer set, which made
 * about one no-op tick in ten a second long (docs/PERFORMANCE.md). The
 * connection cache is x->share's, so it is the same either way. */
static CURLcode perform(struct xfer *x)
{
	CURLcode rc = CURLE_OK;
	CURLMsg *msg;
	int running = 1, left;

	if (curl_multi_add_handle(x->multi, x->curl) != CURLM_OK)
		return curl_easy_perform(x->curl);
	while (running) {
		if (curl_multi_perform(x->multi, &running) != CURLM_OK) {
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
		if (running && curl_multi_poll(x->multi, NULL, 0, PERFORM_WAIT_MS, NULL) != CURLM_OK) {
			rc = CURLE_RECV_ERROR;
			break;
		}
	}
	while ((msg = curl_multi_info_read(x->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == x->curl)
			rc = msg->data.result;
	curl_multi_remove_handle(x->multi, x->curl);
	return rc;
}

/* Run a download into s (resuming from s->have when resume is set). */
static CURLcode get_into(struct xfer *x, const char *url, struct sink *s, bool resume)
{
	struct progress own = { 0 }, *pr = grouped ? &group : &own;
	curl_off_t got = 0, base = pr->base;
	CURLcode rc;

	/* Progress for a file (a payload, objects), not for the small
	 * metadata; a group's files share its line. */
	setup(x, url, s->fd >= 0 ? pr : NULL);
	if (!grouped)
		own.base = resume ? (curl_off_t)s->have : 0;
	curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, sink_cb);
	curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, s);
	/* A first line of defence: curl refuses at once a file whose
	 * announced size (FTP SIZE, Content-Length) is over the cap. */
	if (s->max > 0 && s->max <= (uint64_t)INT64_MAX)
		curl_easy_setopt(x->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
	if (resume && s->have > 0)
		curl_easy_setopt(x->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->have);
	if (x->want_time)
		curl_easy_setopt(x->curl, CURLOPT_FILETIME, 1L);
	rc = perform(x);
	if (curl_easy_getinfo(x->curl, CURLINFO_SIZE_DOWNLOAD_T, &got) == CURLE_OK && got > 0)
		x->received += (uint64_t)got;
	if (grouped)
		group.base = base + (got > 0 ? got : 0);
	else
		progress_end(&own);
	return rc;
}

void xfer_progress_group(const char *label, uint64_t total)
{
	memset(&group, 0, sizeof group);
	group.label = label;
	group.total = (curl_off_t)total;
	group.fixed_total = true;
	clock_gettime(CLOCK_MONOTONIC, &group.start);
	grouped = true;
}

void xfer_progress_group_end(void)
{
	if (!grouped)
		return;
	group.now = group.base;
	progress_end(&group);
	grouped = false;
}

uint64_t xfer_received(const struct xfer *x)
{
	return x ? x->received : 0;
}

int xfer_get(struct xfer *x, const char *url, size_t max, struct buf *out,
	     bool *missing, struct err *e)
{
	struct sink s = { .out = out, .fd = -1, .max = max };

	buf_reset(out);
	if (finish(x, "get", url, get_into(x, url, &s, false), &s, true, missing, e) < 0) {
		buf_reset(out);
		return -1;
	}
	if (!out->data)
		buf_add(out, "", 0);
	return 0;
}

/* The file time libcurl got for the last request, or -1. */
static int64_t last_filetime(struct xfer *x)
{
	curl_off_t t = -1;

	if (curl_easy_getinfo(x->curl, CURLINFO_FILETIME_T, &t) != CURLE_OK)
		return -1;
	return (int64_t)t;
}

int xfer_get_mtime(struct xfer *x, const char *url, size_t max, struct buf *out,
		   bool *missing, int64_t *mtime, struct err *e)
{
	int rc;

	x->want_time = true;
	rc = xfer_get(x, url, max, out, missing, e);
	x->want_time = false;
	*mtime = rc == 0 ? last_filetime(x) : -1;
	return rc;
}

int xfer_stat(struct xfer *x, const char *url, int64_t *size, int64_t *mtime,
	      bool *missing, struct err *e)
{
	curl_off_t len = -1;
	CURLcode rc;

	setup(x, url, NULL);
	curl_easy_setopt(x->curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(x->curl, CURLOPT_FILETIME, 1L);
	rc = perform(x);
	if (finish(x, "stat", url, rc, NULL, true, missing, e) < 0)
		return -1;
	if (curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) != CURLE_OK)
		len = -1;
	*size = (int64_t)len;
	*mtime = last_filetime(x);
	return 0;
}

/* ---- downloading into a file ---- */

static int open_partial(const char *path, uint64_t max, bool resume,
			uint64_t *have, struct err *e)
{
	struct stat st;
	int fd, flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC;

	fd = open(path, flags, 0644);
	if (fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", path);
	if (fstat(fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", path);
		close(fd);
		return -1;
	}
	/* A partial file longer than the cap cannot be a prefix of the
	 * right one: start over. */
	*have = resume && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= max ?
		(uint64_t)st.st_size : 0;
	if (ftruncate(fd, (off_t)*have) < 0 || lseek(fd, 0, SEEK_END) < 0) {
		err_sys(e, EXIT_SOFTWARE, "truncate %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

int xfer_get_file(struct xfer *x, const char *url, const char *path,
		  uint64_t max, bool resume, struct err *e)
{
	struct sink s = { .fd = -1, .max = max };
	CURLcode rc;
	int rv = -1;

	s.fd = open_partial(path, max, resume, &s.have, e);
	if (s.fd < 0)
		return -1;
	/* Already at the cap: complete as far as a download can tell; the
	 * caller's hash check decides (a range past the end is an error on
	 * HTTP, where there is nothing left to fetch). */
	if (resume && s.have == max && max > 0) {
		rv = 0;
		goto done;
	}
	rc = get_into(x, url, &s, resume);
	if (rc == CURLE_RANGE_ERROR && s.have > 0) {
		/* The server cannot resume: fetch the whole file again. */
		if (ftruncate(s.fd, 0) < 0 || lseek(s.fd, 0, SEEK_SET) < 0) {
			err_sys(e, EXIT_SOFTWARE, "truncate %s", path);
			goto done;
		}
		s.have = 0;
		rc = get_into(x, url, &s, false);
	}
	if (finish(x, "get", url, rc, &s, true, NULL, e) < 0) {
		/* Keep a partial file for a resume, unless it is empty or it
		 * grew past its declared size. */
		if (s.have == 0 || s.over)
			unlink(path);
		goto done;
	}
	if (fsync(s.fd) < 0) {
		err_sys(e, EXIT_SOFTWARE, "fsync %s", path);
		goto done;
	}
	rv = 0;
done:
	if (close(s.fd) < 0 && rv == 0)
		rv = err_sys(e, EXIT_SOFTWARE, "close %s", path);
	return rv;
}

/* ---- uploads ---- */

/* Copy the file at src to dst durably and atomically (file:// puts). */
static int copy_atomic(const char *src, const char *dst, struct err *e)
{
	char chunk[65536];
	char *tmp = xasprintf("%s.tmp.XXXXXX", dst);
	int in, out = -1, rc = -1;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		err_sys(e, EXIT_SOFTWARE, "open %s", src);
		goto done;
	}
	out = mkstemp(tmp);
	if (out < 0) {
		err_sys(e, EXIT_SOFTWARE, "create %s", tmp);
		goto done;
	}
	while ((n = read(in, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fs_write_all(out, chunk, (size_t)n) < 0) {
			err_sys(e, EXIT_SOFTWARE, "copy %s to %s", src, tmp);
			goto done;
		}
	}
	if (fchmod(out, 0644) < 0 || fsync(out) < 0) {
		err_sys(e, EXIT_SOFTWARE, "sync %s", tmp);
		goto done;
	}
	if (close(out) < 0) {
		out = -1;
		err_sys(e, EXIT_SOFTWARE, "close %s", tmp);
		goto done;
	}
	out = -1;
	if (rename(tmp, dst) < 0) {
		err_sys(e, EXIT_SOFTWARE, "rename %s to %s", tmp, dst);
		goto done;
	}
	rc = fs_fsync_parent(dst, e);
done:
	if (out >= 0)
		close(out);
	if (rc < 0)
		unlink(tmp);
	if (in >= 0)
		close(in);
	free(tmp);
	return rc;
}

/* file://: create the directories, then write (data) or copy (path). */
static int put_local(const char *url, const void *data, size_t len,
		     const char *src, struct err *e)
{
	char *path = NULL, *dir = NULL, *slash;
	int rc = -1;

	if (url_path(url, &path, e) < 0)
		goto done;
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (fs_mkdir_p(dir, 0755, e) < 0)
			goto done;
	}
	rc = src ? copy_atomic(src, path, e) : fs_write_atomic(path, data, len, 0644, e);
done:
	free(dir);
	free(path);
	return rc;
}

/* Best effort: remove a temporary upload left by a failed put. */
static void remove_temp(struct xfer *x, const char *dir_url, const char *tmp)
{
	struct err ignored;
	char *url = xasprintf("%s%s", dir_url, tmp);

	xfer_delete(x, url, &ignored);
	free(url);
}

/* ftp/sftp: upload to ".NAME.tmp-PID" beside the target, then rename. */
static int put_remote(struct xfer *x, const char *url, struct source *src,
		      uint64_t len, struct err *e)
{
	struct curl_slist *post = NULL;
	struct progress pr = { 0 };
	char *dir = NULL, *name = NULL, *tmp = NULL, *tmp_url = NULL;
	char *path = NULL, *from = NULL, *to = NULL;
	CURLcode rc;
	int rv = -1;

	/* Only these can rename, and a file must appear whole. */
	if (url_scheme(url) != SCHEME_FTP && url_scheme(url) != SCHEME_SFTP)
		return url_fail(e, EXIT_DATAERR, url,
				"put: uploads need an ftp, ftps, sftp or file URL");
	if (url_split(url, &dir, &name, e) < 0)
		return -1;
	tmp = xasprintf(".%s.tmp-%ld", name, (long)getpid());
	tmp_url = xasprintf("%s%s", dir, tmp);
	if (url_scheme(url) == SCHEME_SFTP) {
		/* SFTP quote commands take paths, not names in a directory. */
		if (url_path(url, &path, e) < 0)
			goto done;
		if (strrchr(path, '/'))
			*strrchr(path, '/') = '\0';
		else
			strcpy(path, ".");   /* "/~/NAME": NAME in the home */
		/* OpenSSH's SFTP rename does not replace an existing file
		 * and libcurl has no posix-rename: remove the old file
		 * first ('*': it may not exist), so a reader may find no
		 * file for an instant, but never half of one. */
		to = xasprintf("*rm \"%s/%s\"", path, name);
		from = xasprintf("rename \"%s/%s\" \"%s/%s\"", path, tmp, path, name);
		post = curl_slist_append(post, to);
		post = curl_slist_append(post, from);
	} else {
		from = xasprintf("RNFR %s", tmp);
		to = xasprintf("RNTO %s", name);
		post = curl_slist_append(post, from);
		post = curl_slist_append(post, to);
	}
	setup(x, tmp_url, &pr);
	pr.label = name;
	curl_easy_setopt(x->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(x->curl, CURLOPT_READFUNCTION, source_cb);
	curl_easy_setopt(x->curl, CURLOPT_READDATA, src);
	curl_easy_setopt(x->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(x->curl, CURLOPT_FTP_CREATE_MISSING_DIRS,
			 (long)CURLFTP_CREATE_DIR_RETRY);
	curl_easy_setopt(x->curl, CURLOPT_POSTQUOTE, post);
	rc = perform(x);
	progress_end(&pr);
	curl_easy_setopt(x->curl, CURLOPT_POSTQUOTE, NULL);
	rv = finish(x, "put", url, rc, NULL, false, NULL, e);
	if (rv < 0)
		remove_temp(x, dir, tmp);
done:
	curl_slist_free_all(post);
	free(from);
	free(to);
	free(path);
	free(tmp_url);
	free(tmp);
	free(name);
	free(dir);
	return rv;
}

int xfer_put(struct xfer *x, const char *url, const void *data, size_t len,
	     struct err *e)
{
	struct source src = { .data = data, .left = len, .fd = -1 };

	if (url_scheme(url) == SCHEME_FILE)
		return put_local(url, data, len, NULL, e);
	return put_remote(x, url, &src, len, e);
}

int xfer_put_file(struct xfer *x, const char *url, const char *path, struct err *e)
{
	struct source src = { .fd = -1 };
	struct stat st;
	int rc;

	if (url_scheme(url) == SCHEME_FILE)
		return put_local(url, NULL, 0, path, e);
	src.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (src.fd < 0)
		return err_sys(e, EXIT_SOFTWARE, "open %s", path);
	if (fstat(src.fd, &st) < 0) {
		err_sys(e, EXIT_SOFTWARE, "stat %s", path);
		close(src.fd);
		return -1;
	}
	rc = put_remote(x, url, &src, (uint64_t)st.st_size, e);
	close(src.fd);
	return rc;
}

/* ---- listing, deletion ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep a listed name, leaving out dot files: ".", "..", and temporary
 * uploads that a reader must not take for a finished file. */
static void add_name(char ***names, size_t *n, const char *s, size_t len)
{
	if (!len || s[0] == '.')
		return;
	if (memchr(s, '/', len))   /* some servers answer NLST with paths */
		return;
	*names = xreallocarray(*names, *n + 1, sizeof **names);
	(*names)[(*n)++] = xstrndup(s, len);
}

static int list_local(const char *url, char ***names, size_t *n, struct err *e)
{
	struct dirent *de;
	char *path;
	DIR *d;

	if (url_path(url, &path, e) < 0)
		return -1;
	d = opendir(path);
	if (!d) {
		int rc = errno == ENOENT ? 0 : err_sys(e, EXIT_SOFTWARE, "list %s", path);

		free(path);
		return rc;
	}
	while ((de = readdir(d)))
		add_name(names, n, de->d_name, strlen(de->d_name));
	closedir(d);
	free(path);
	return 0;
}

static int list_remote(struct xfer *x, const char *url, char ***names, size_t *n,
		       struct err *e)
{
	struct buf out = BUF_INIT;
	struct sink s = { .out = &out, .fd = -1, .max = LIST_MAX };
	bool missing;
	size_t i, start = 0;
	int rc = -1;

	setup(x, url, NULL);
	curl_easy_setopt(x->curl, CURLOPT_DIRLISTONLY, 1L);
	curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, sink_cb);
	curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, &s);
	if (finish(x, "list", url, perform(x), &s, true, &missing, e) < 0) {
		rc = missing ? 0 : -1;
		goto done;
	}
	for (i = 0; i <= out.len; i++) {
		if (i < out.len && out.data[i] != '\n')
			continue;
		size_t end = i;

		if (end > start && out.data[end - 1] == '\r')
			end--;
		add_name(names, n, out.data + start, end - start);
		start = i + 1;
	}
	rc = 0;
done:
	buf_release(&out);
	return rc;
}

int xfer_list(struct xfer *x, const char *url, char ***names, size_t *n,
	      struct err *e)
{
	enum scheme sc = url_scheme(url);
	int rc;

	*names = NULL;
	*n = 0;
	if (!*url || url[strlen(url) - 1] != '/')
		return url_fail(e, EXIT_DATAERR, url, "list: a directory URL ends in '/'");
	if (sc == SCHEME_FILE)
		rc = list_local(url, names, n, e);
	else if (sc == SCHEME_FTP || sc == SCHEME_SFTP)
		rc = list_remote(x, url, names, n, e);
	else
		rc = url_fail(e, EXIT_DATAERR, url,
			      "list: listing needs an ftp, ftps, sftp or file URL");
	if (rc < 0) {
		xfer_names_free(*names, *n);
		*names = NULL;
		*n = 0;
		return -1;
	}
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_names);
	return 0;
}

void xfer_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int delete_local(const char *url, struct err *e)
{
	char *path;
	int rc = 0;

	if (url_path(url, &path, e) < 0)
		return -1;
	if (unlink(path) < 0) {
		if (errno != ENOENT)
			rc = err_sys(e, EXIT_SOFTWARE, "delete %s", path);
	} else {
		rc = fs_fsync_parent(path, e);
	}
	free(path);
	return rc;
}

int xfer_delete(struct xfer *x, const char *url, struct err *e)
{
	struct curl_slist *cmd = NULL;
	char *dir = NULL, *name = NULL, *path = NULL, *line;
	bool missing;
	int rc = -1;

	if (url_scheme(url) == SCHEME_FILE)
		return delete_local(url, e);
	if (url_split(url, &dir, &name, e) < 0)
		return -1;
	if (url_scheme(url) == SCHEME_SFTP) {
		if (url_path(url, &path, e) < 0)
			goto done;
		line = xasprintf("rm \"%s\"", path);
	} else if (url_scheme(url) == SCHEME_FTP) {
		line = xasprintf("DELE %s", name);
	} else {
		url_fail(e, EXIT_DATAERR, url, "delete: needs an ftp, ftps, sftp or file URL");
		goto done;
	}
	cmd = curl_slist_append(cmd, line);
	free(line);
	/* The directory is the request; the command runs after the CWD. */
	setup(x, dir, NULL);
	curl_easy_setopt(x->curl, CURLOPT_NOBODY, 1L);
	/* POSTQUOTE: after the CWD (CURLOPT_QUOTE runs before it, in
	 * whatever directory a reused connection was left). */
	curl_easy_setopt(x->curl, CURLOPT_POSTQUOTE, cmd);
	rc = finish(x, "delete", url, perform(x), NULL, true, &missing, e);
	curl_easy_setopt(x->curl, CURLOPT_POSTQUOTE, NULL);
	if (rc < 0 && missing)
		rc = 0;          /* already gone: what a cleanup wants */
done:
	curl_slist_free_all(cmd);
	free(path);
	free(name);
	free(dir);
	return rc;
}

/* ---- directory operations (leases) ---- */

enum dir_op { DIR_MKDIR, DIR_RMDIR, DIR_RENAME };

static const char *dir_op_name(enum dir_op op)
{
	return op == DIR_MKDIR ? "mkdir" : op == DIR_RMDIR ? "rmdir" : "rename";
}

static bool plain_name(const char *n)
{
	const char *p;

	if (!*n || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (p = n; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || strchr("/\"\\ ", *p))
			return false;
	return true;
}

static int dir_op_local(const char *dir_url, enum dir_op op, const char *a, const char *b,
			bool *refused, struct err *e)
{
	char *dir = NULL, *pa = NULL, *pb = NULL;
	int rc = -1;

	if (url_path(dir_url, &dir, e) < 0)
		return -1;
	pa = fs_join(dir, a);
	pb = b ? fs_join(dir, b) : NULL;
	if ((op == DIR_MKDIR ? mkdir(pa, 0755) : op == DIR_RMDIR ? rmdir(pa) :
	     rename(pa, pb)) < 0) {
		*refused = errno == EEXIST || errno == ENOTEMPTY || errno == ENOENT;
		err_sys(e, EXIT_UNAVAILABLE, "%s %s", dir_op_name(op), pa);
		goto done;
	}
	rc = fs_fsync_dir(dir, e);
done:
	free(pb);
	free(pa);
	free(dir);
	return rc;
}

/* The quote commands of op for dir_url's scheme. */
static int dir_op_cmds(const char *dir_url, enum dir_op op, const char *a, const char *b,
		       struct curl_slist **cmds, struct err *e)
{
	static const char *const ftp[] = { "MKD", "RMD", "RNFR" };
	static const char *const sftp[] = { "mkdir", "rmdir", "rename" };
	char *path = NULL, *line;

	if (url_scheme(dir_url) == SCHEME_FTP) {
		*cmds = curl_slist_append(*cmds, line = xasprintf("%s %s", ftp[op], a));
		free(line);
		if (op == DIR_RENAME) {
			*cmds = curl_slist_append(*cmds, line = xasprintf("RNTO %s", b));
			free(line);
		}
		return 0;
	}
	if (url_scheme(dir_url) != SCHEME_SFTP)
		return url_fail(e, EXIT_DATAERR, dir_url,
				"leases need an ftp, ftps, ftpes, sftp or file URL");
	if (url_path(dir_url, &path, e) < 0)
		return -1;
	if (op == DIR_RENAME)
		line = xasprintf("rename \"%s%s\" \"%s%s\"", path, a, path, b);
	else
		line = xasprintf("%s \"%s%s\"", sftp[op], path, a);
	*cmds = curl_slist_append(*cmds, line);
	free(line);
	free(path);
	return 0;
}

static int dir_op(struct xfer *x, const char *dir_url, enum dir_op op, const char *a,
		  const char *b, bool *refused, struct err *e)
{
	struct curl_slist *cmds = NULL;
	CURLcode rc;
	int rv = -1;

	*refused = false;
	if (!*dir_url || dir_url[strlen(dir_url) - 1] != '/' || !plain_name(a) ||
	    (b && !plain_name(b)))
		return url_fail(e, EXIT_DATAERR, dir_url, "not a directory URL and plain names");
	if (url_scheme(dir_url) == SCHEME_FILE)
		return dir_op_local(dir_url, op, a, b, refused, e);
	if (dir_op_cmds(dir_url, op, a, b, &cmds, e) < 0)
		goto done;
	setup(x, dir_url, NULL);
	curl_easy_setopt(x->curl, CURLOPT_NOBODY, 1L);
	/* After the CWD into dir_url (CURLOPT_QUOTE would run before it,
	 * wherever a reused connection stands). */
	curl_easy_setopt(x->curl, CURLOPT_POSTQUOTE, cmds);
	rc = perform(x);
	curl_easy_setopt(x->curl, CURLOPT_POSTQUOTE, NULL);
	*refused = rc == CURLE_QUOTE_ERROR || rc == CURLE_REMOTE_ACCESS_DENIED ||
		   rc == CURLE_REMOTE_FILE_NOT_FOUND;
	rv = finish(x, dir_op_name(op), dir_url, rc, NULL, false, NULL, e);
done:
	curl_slist_free_all(cmds);
	return rv;
}

int xfer_mkdir(struct xfer *x, const char *dir_url, const char *name, bool *refused,
	       struct err *e)
{
	return dir_op(x, dir_url, DIR_MKDIR, name, NULL, refused, e);
}

int xfer_rmdir(struct xfer *x, const char *dir_url, const char *name, bool *refused,
	       struct err *e)
{
	return dir_op(x, dir_url, DIR_RMDIR, name, NULL, refused, e);
}

int xfer_rename(struct xfer *x, const char *dir_url, const char *from, const char *to,
		bool *refused, struct err *e)
{
	return dir_op(x, dir_url, DIR_RENAME, from, to, refused, e);
}
