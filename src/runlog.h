/* SPDX-License-Identifier: Apache-2.0 */
/* Each agent run's outcome as one syslog line (facility LOG_DAEMON, ident
 * "upgr"), whether or not the run printed anything: cron mails only what
 * changed, the log keeps every tick.
 *
 * By default through syslog(3). When $UPGR_SYSLOG_SOCKET names an
 * AF_UNIX datagram socket, the line goes there instead, in the RFC 3164
 * form syslog(3) writes to /dev/log ("<PRI>Mmm dd hh:mm:ss upgr[PID]:
 * MSG"): the tests run a real rsyslogd on a socket of their own, where a
 * container has no /dev/log to bind over and a mount namespace would need
 * privileges the suite does not assume. */
#ifndef UPGR_RUNLOG_H
#define UPGR_RUNLOG_H

/* Log msg (one line) at the priority an exit code deserves: 0 info, 69
 * and 1 warning, the rest err. Failing to log is not an error of the run. */
void runlog_send(int exit_code, const char *msg);

#endif
