/* SPDX-License-Identifier: Apache-2.0 */
/* Moving bytes to and from a repository URL through libcurl: ftp, ftps,
 * ftpes, sftp, http(s) and file. One struct xfer keeps one curl handle so
 * successive requests to one server reuse its connection.
 *
 * TLS and SSH: ftps:// is implicit FTPS (TLS from the first byte, port 990
 * by default); ftpes:// is explicit FTPS (an ftp:// server, default port
 * 21, that must accept AUTH TLS for the control and the data connections:
 * a server that does not is refused, never used in clear). Certificates
 * (ftps, ftpes, https) are verified, host name included, against ca_file
 * or the system's store; SSH host keys (sftp) against a known_hosts file.
 * A server whose identity does not check out (certificate, host name, host
 * key, or refused AUTH TLS) is a trust failure, EXIT_TRUST: it is an
 * attack or a misconfiguration that a person must look at, not an outage
 * that the next run may not see, so callers do not fail over past it. */
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
	const char *ca_file;      /* PEM certificates trusted for ftps, ftpes and
				   * https, instead of the system's; NULL: system */
	const char *ssh_key;      /* sftp private key (unencrypted; its public half
				   * is derived); NULL: libcurl's ~/.ssh/id_rsa ... */
	const char *ssh_known_hosts; /* sftp host keys; NULL: ~/.ssh/known_hosts
				   * (/etc/ssh/ssh_known_hosts without HOME); a
				   * host not listed in it is refused */
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

/* xfer_get that also asks for the file's modification time (FTP MDTM,
 * HTTP Last-Modified, stat for file://): *mtime in seconds since the
 * epoch, -1 when the server does not say. For caches (fleet status). */
int xfer_get_mtime(struct xfer *x, const char *url, size_t max, struct buf *out,
		   bool *missing, int64_t *mtime, struct err *e);
/* The size and modification time of the file at url without its content
 * (FTP SIZE and MDTM, HTTP HEAD, stat for file://); either is -1 when the
 * server does not say. Not found: EXIT_UNAVAILABLE with *missing set. */
int xfer_stat(struct xfer *x, const char *url, int64_t *size, int64_t *mtime,
	      bool *missing, struct err *e);

/* GET url into the file at path. With resume, an existing partial file is
 * continued from its size (HTTP range / FTP REST). The transfer is cut off
 * as soon as the file would exceed max bytes (EXIT_TRUST). After a failure
 * the partial file is kept for a resume, unless it is empty or was cut off;
 * a partial file already max bytes long is returned as it is (the caller's
 * hash check decides). */
int xfer_get_file(struct xfer *x, const char *url, const char *path,
		  uint64_t max, bool resume, struct err *e);

/* The bytes downloaded through x so far (bodies, as received: a resumed
 * file counts only what came this time). */
uint64_t xfer_received(const struct xfer *x);

/* Draw the file downloads from here to xfer_progress_group_end as one
 * progress line (on a terminal, where progress is on): label and the
 * bytes of them all (the objects a host fetches instead of a payload).
 * label must live until the end. */
void xfer_progress_group(const char *label, uint64_t total);
void xfer_progress_group_end(void);

/* Upload data so that it appears at url all at once: to a temporary name
 * in the same directory, then renamed (FTP RNFR/RNTO; rename(2) for
 * file://). Missing directories are created. */
int xfer_put(struct xfer *x, const char *url, const void *data, size_t len,
	     struct err *e);
/* The same with the content of a local file. */
int xfer_put_file(struct xfer *x, const char *url, const char *path, struct err *e);

/* Names in the directory at url (which ends in '/'), without "." and "..",
 * sorted; free with xfer_names_free. Names beginning with '.' (temporary
 * uploads) are left out, and a directory that does not exist lists as
 * empty. */
int xfer_list(struct xfer *x, const char *url, char ***names, size_t *n,
	      struct err *e);
void xfer_names_free(char **names, size_t n);

/* url without its "user:password@", for messages and pages others read:
 * credentials never reach a terminal, a log or a report (allocated). */
char *xfer_url_redact(const char *url);
/* True if url carries a password in its user information. */
bool xfer_url_has_password(const char *url);

/* Delete a file at url (cleanup after a failed publish). A file that is
 * already gone is not an error. */
int xfer_delete(struct xfer *x, const char *url, struct err *e);

/* Directory operations for group leases (lease.h), each one atomic request
 * on the server: MKD, RMD, RNFR+RNTO over FTP; mkdir, rmdir, rename over
 * SFTP; mkdir(2), rmdir(2), rename(2) for file://. dir_url ends in '/';
 * the names are plain names in it. When the server refuses (FTP 5xx, an
 * SFTP failure, a local EEXIST, ENOTEMPTY or ENOENT) the call returns -1
 * with *refused set: the directory exists (mkdir), is not empty or is gone
 * (rmdir), the target is a directory that is not empty or the source is
 * gone (rename). Any other failure (server unreachable) leaves it false. */
int xfer_mkdir(struct xfer *x, const char *dir_url, const char *name, bool *refused,
	       struct err *e);
int xfer_rmdir(struct xfer *x, const char *dir_url, const char *name, bool *refused,
	       struct err *e);
int xfer_rename(struct xfer *x, const char *dir_url, const char *from, const char *to,
		bool *refused, struct err *e);

#endif
