/* SPDX-License-Identifier: Apache-2.0 */
/* Write a hostile payload.tar.gz with libarchive's writer (the same library
 * upgr reads with), for tests/cli/hostile.sh. Entries come from stdin, one
 * per line, fields separated by single spaces, written in that order:
 *
 *   file PATH MODE SRC         a regular file holding SRC's bytes
 *   zeros PATH MODE BYTES      a regular file of BYTES zero bytes
 *   dir PATH MODE              a directory
 *   symlink PATH TARGET        a symbolic link
 *   hardlink PATH TARGET [SRC] a hard link, with SRC's bytes as data if given
 *   chr|blk PATH MAJOR MINOR   a device node
 *   fifo PATH / sock PATH      a FIFO / a socket
 *   dirs N PATH                N directory entries all named PATH
 *   files N PREFIX             N empty files PREFIX0 .. PREFIX(N-1)
 *
 * MODE is octal and written as is (setuid bits included). pax format,
 * gzip at level 1. Exit 0, 3 when libarchive will not encode an entry (it
 * says why on stderr), 1 on any other error.
 *
 * Built by the test: cc -o $T/hostile_tar hostile_tar.c $(pkg-config
 * --cflags --libs libarchive). */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static struct archive *a;

static void die(const char *what)
{
	fprintf(stderr, "hostile_tar: %s: %s\n", what, archive_error_string(a));
	exit(1);
}

/* Write one header (and size bytes of data: from src, or zeros when src
 * is NULL). */
static void put(const char *path, unsigned type, unsigned mode, const char *link,
		int hard, long long size, const char *src, unsigned major, unsigned minor)
{
	struct archive_entry *e = archive_entry_new();
	static char zero[65536];
	char buf[65536];
	FILE *f = NULL;
	int r;

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_mode(e, type | mode);
	archive_entry_set_mtime(e, 0, 0);
	if (link && hard)
		archive_entry_set_hardlink(e, link);
	else if (link)
		archive_entry_set_symlink(e, link);
	if (type == AE_IFCHR || type == AE_IFBLK)
		archive_entry_set_rdev(e, makedev(major, minor));
	if (src) {
		struct stat st;

		if (stat(src, &st) < 0) {
			perror(src);
			exit(1);
		}
		size = st.st_size;
		f = fopen(src, "rb");
	}
	archive_entry_set_size(e, size);
	r = archive_write_header(a, e);
	if (r == ARCHIVE_FAILED || r == ARCHIVE_WARN) {
		fprintf(stderr, "hostile_tar: %s: %s\n", path, archive_error_string(a));
		exit(3);
	}
	if (r != ARCHIVE_OK)
		die(path);
	while (size > 0) {
		size_t n = size > (long long)sizeof buf ? sizeof buf : (size_t)size;
		const char *p = zero;

		if (f) {
			n = fread(buf, 1, n, f);
			p = buf;
			if (n == 0)
				break;
		}
		if (archive_write_data(a, p, n) != (la_ssize_t)n) {
			if (link && hard) {     /* the pax writer keeps no hard link data */
				fprintf(stderr, "hostile_tar: %s: libarchive will not write a hard link's data\n", path);
				exit(3);
			}
			die(path);
		}
		size -= (long long)n;
	}
	if (f)
		fclose(f);
	archive_entry_free(e);
}

int main(int argc, char **argv)
{
	char line[8192], kind[16], f1[4096], f2[4096], f3[4096];
	long long i, n;
	int k;

	if (argc != 2) {
		fprintf(stderr, "usage: hostile_tar OUT.tar.gz < spec\n");
		return 2;
	}
	a = archive_write_new();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level", "1") != ARCHIVE_OK ||
	    archive_write_open_filename(a, argv[1]) != ARCHIVE_OK)
		die(argv[1]);
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = '\0';
		f1[0] = f2[0] = f3[0] = '\0';
		k = sscanf(line, "%15s %4095s %4095s %4095s", kind, f1, f2, f3);
		if (k < 2)
			continue;
		if (!strcmp(kind, "file"))
			put(f1, AE_IFREG, (unsigned)strtoul(f2, NULL, 8), NULL, 0, 0, f3, 0, 0);
		else if (!strcmp(kind, "zeros"))
			put(f1, AE_IFREG, (unsigned)strtoul(f2, NULL, 8), NULL, 0,
			    strtoll(f3, NULL, 10), NULL, 0, 0);
		else if (!strcmp(kind, "dir"))
			put(f1, AE_IFDIR, (unsigned)strtoul(f2, NULL, 8), NULL, 0, 0, NULL, 0, 0);
		else if (!strcmp(kind, "symlink"))
			put(f1, AE_IFLNK, 0777, f2, 0, 0, NULL, 0, 0);
		else if (!strcmp(kind, "hardlink"))
			put(f1, AE_IFREG, 0644, f2, 1, 0, k == 4 ? f3 : NULL, 0, 0);
		else if (!strcmp(kind, "chr") || !strcmp(kind, "blk"))
			put(f1, kind[0] == 'c' ? AE_IFCHR : AE_IFBLK, 0666, NULL, 0, 0, NULL,
			    (unsigned)atoi(f2), (unsigned)atoi(f3));
		else if (!strcmp(kind, "fifo"))
			put(f1, AE_IFIFO, 0666, NULL, 0, 0, NULL, 0, 0);
		else if (!strcmp(kind, "sock"))
			put(f1, AE_IFSOCK, 0666, NULL, 0, 0, NULL, 0, 0);
		else if (!strcmp(kind, "dirs") || !strcmp(kind, "files")) {
			n = strtoll(f1, NULL, 10);
			for (i = 0; i < n; i++) {
				if (kind[0] == 'd') {
					put(f2, AE_IFDIR, 0755, NULL, 0, 0, NULL, 0, 0);
				} else {
					char name[4200];

					snprintf(name, sizeof name, "%s%lld", f2, i);
					put(name, AE_IFREG, 0644, NULL, 0, 0, NULL, 0, 0);
				}
			}
		} else {
			fprintf(stderr, "hostile_tar: unknown entry kind %s\n", kind);
			return 1;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		die("close");
	archive_write_free(a);
	return 0;
}
