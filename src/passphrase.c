/* SPDX-License-Identifier: Apache-2.0 */
/* Passphrases for encrypted secret keys: from a file or the terminal,
 * never from the command line, held in libgcrypt's secure memory and
 * wiped after use (sign.h). */
#include "sign.h"
#include "hash.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define PASS_MAX 1024

void sign_passphrase_free(char *pass, size_t len)
{
	(void)len;
	if (!pass)
		return;
	secure_wipe(pass, PASS_MAX + 1);
	gcry_free(pass);
}

/* One line from fd into out (PASS_MAX + 1 bytes), byte by byte so that
 * nothing past the newline is read; its length, or -1 if too long. */
static long read_line(int fd, char *out)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n == PASS_MAX)
			return -1;
		out[n++] = c;
	}
	if (n && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	return (long)n;
}

static int from_file(const char *file, char *out, struct err *e)
{
	struct stat st;
	long n;
	int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return err_sys(e, errno == ELOOP ? EXIT_TRUST : EXIT_DATAERR, "open %s", file);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, EXIT_DATAERR, "%s: not a regular file", file);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return err_set(e, EXIT_TRUST, "%s: mode %04o: a passphrase file that "
			       "others can read or write is refused (chmod 600 it)",
			       file, (unsigned)(st.st_mode & 07777));
	}
	n = read_line(fd, out);
	close(fd);
	if (n < 0)
		return err_set(e, EXIT_DATAERR, "%s: passphrase longer than %d bytes",
			       file, PASS_MAX);
	return 0;
}

/* Ask on the terminal tty (open read-write) with echo off. */
static int ask(int tty, const char *prompt, char *out, struct err *e)
{
	struct termios old, quiet;
	bool restore = false;
	long n;

	if (tcgetattr(tty, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		restore = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
	}
	/* The prompt and the newline after it are a courtesy: a failed
	 * write changes nothing about what is read. */
	if (write(tty, prompt, strlen(prompt)) < 0)
		n = 0;
	n = read_line(tty, out);
	if (restore)
		tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0 && n >= 0)
		n = (long)strlen(out);
	if (n < 0)
		return err_set(e, EXIT_USAGE, "passphrase longer than %d bytes", PASS_MAX);
	return 0;
}

static int from_tty(const char *what, bool confirm, char *out, struct err *e)
{
	char *again = NULL, *prompt = xasprintf("Passphrase for %s: ", what);
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC), rc = -1;

	if (tty < 0) {
		err_set(e, EXIT_USAGE, "no terminal to ask for the passphrase of %s: pass "
			"--passphrase-file FILE%s", what,
			confirm ? ", or -W for an unencrypted key" : "");
		goto done;
	}
	if (ask(tty, prompt, out, e) < 0)
		goto done;
	if (confirm) {
		again = gcry_malloc_secure(PASS_MAX + 1);
		if (!again) {
			err_set(e, EXIT_SOFTWARE, "out of secure memory");
			goto done;
		}
		if (ask(tty, "Passphrase (again): ", again, e) < 0)
			goto done;
		if (strcmp(out, again)) {
			err_set(e, EXIT_USAGE, "the passphrases do not match");
			goto done;
		}
	}
	rc = 0;
done:
	sign_passphrase_free(again, 0);
	if (tty >= 0)
		close(tty);
	free(prompt);
	return rc;
}

int sign_passphrase_get(const char *file, const char *what, bool confirm,
			char **pass, size_t *len, struct err *e)
{
	char *p;
	int rc;

	crypto_init();
	*pass = NULL;
	*len = 0;
	p = gcry_malloc_secure(PASS_MAX + 1);
	if (!p)
		return err_set(e, EXIT_SOFTWARE, "out of secure memory");
	p[0] = '\0';
	rc = file ? from_file(file, p, e) : from_tty(what, confirm, p, e);
	if (rc == 0 && !p[0])
		rc = err_set(e, EXIT_USAGE, "an empty passphrase is refused%s",
			     file ? " (the passphrase file's first line is empty)" : "");
	if (rc < 0) {
		sign_passphrase_free(p, 0);
		return -1;
	}
	*pass = p;
	*len = strlen(p);
	return 0;
}
