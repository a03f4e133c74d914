/* Moving bytes to and from a repository URL through libcurl: ftp, ftps,
 * sftp, http(s) and file. One struct xfer keeps one curl handle so
 * successive requests to one server reuse its connection. */
#ifndef UPGR_TRANSPORT_H
#define UPGR_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

struct xfer_opts {
	const char *netrc;        /* credentials file, or NULL for ~/.netrc if present */
	long connect_timeout;     /* seconds; default 10 */
	long low_speed_limit;     /* bytes/s below which ... */
	long low_speed_time;      /* ... for this many seconds aborts; default 1 B/s, 30 s */
	bool progress;            /* a progress bar on stderr (callers set it only on a tty) */
};

struct xfer;

struct xfer *xfer_new(const struct xfer_opts *opts);
void xfer_free(struct xfer *x);

/* GET url into out; more than max bytes is an error (EXIT_TRUST: "larger
 * than declared"), cut off in the write callback. Errors reaching the
 * server are EXIT_UNAVAILABLE; a missing file is EXIT_UNAVAILABLE with
 * *missing set (when missing is not NULL). */
int xfer_get(struct xfer *x, const char *url, size_t max, struct buf *out,
	     bool *missing, struct err *e);

/* GET url into the file at path. With resume, an existing partial file is
 * continued from its size (HTTP range / FTP REST). The transfer is cut off
 * as soon as the file would exceed max bytes (EXIT_TRUST). After a failure
 * the partial file is kept for a resume, unless it is empty or was cut off;
 * a partial file already max bytes long is returned as it is (the caller's
 * hash check decides). */
int xfer_get_file(struct xfer *x, const char *url, const char *path,
		  uint64_t max, bool resume, struct err *e);

/* Upload data so that it appears at url all at once: to a temporary name
 * in the same directory, then renamed (FTP RNFR/RNTO; rename(2) for
 * file://). Missing directories are created. */
int xfer_put(struct xfer *x, const char *url, const void *data, size_t len,
	     struct err *e);
/* The same with the content of a local file. */
int xfer_put_file(struct xfer *x, const char *url, const char *path, struct err *e);

/* True (1) if url names an existing file, 0 if not, -1 on error. */
int xfer_exists(struct xfer *x, const char *url, struct err *e);

/* Names in the directory at url (which ends in '/'), without "." and "..",
 * sorted; free with xfer_names_free. Names beginning with '.' (temporary
 * uploads) are left out, and a directory that does not exist lists as
 * empty. */
int xfer_list(struct xfer *x, const char *url, char ***names, size_t *n,
	      struct err *e);
void xfer_names_free(char **names, size_t n);

/* Delete a file at url (cleanup after a failed publish). A file that is
 * already gone is not an error. */
int xfer_delete(struct xfer *x, const char *url, struct err *e);

#endif
