/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's syslog line; the contract is in runlog.h. */
#include "runlog.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int priority(int exit_code)
{
	switch (exit_code) {
	case EXIT_OK: return LOG_INFO;
	case EXIT_UNAVAILABLE: case EXIT_ROLLED_BACK: return LOG_WARNING;
	default: return LOG_ERR;
	}
}

/* One RFC 3164 datagram to the socket at path. */
static void send_to(const char *path, int pri, const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[2048], stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	int fd, n;

	if (strlen(path) >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "<%d>%s upgr[%ld]: %s", LOG_DAEMON | pri, stamp,
		     (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, line, (size_t)n, 0, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
}

void runlog_send(int exit_code, const char *msg)
{
	const char *sock = getenv("UPGR_SYSLOG_SOCKET");
	int pri = priority(exit_code);

	if (sock && *sock) {
		send_to(sock, pri, msg);
		return;
	}
	openlog("upgr", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	syslog(pri, "%s", msg);
	closelog();
}
