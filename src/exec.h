/* SPDX-License-Identifier: Apache-2.0 */
/* Running a release's commands: /bin/sh -c CMD in the target directory, in
 * a process group of its own (killed whole on timeout), with a clean
 * environment, output captured for the audit record. */
#ifndef UPGR_EXEC_H
#define UPGR_EXEC_H

#include <stdbool.h>
#include "buf.h"
#include "err.h"

#define EXEC_OUTPUT_MAX 4096   /* bytes of output kept (the first ones) */

struct exec_result {
	int exit;                /* exit status, or 128+signal, or -1 if it could not start */
	bool timed_out;
	long ms;                 /* wall time */
	struct buf output;       /* stdout+stderr, the first EXEC_OUTPUT_MAX bytes */
};

void exec_result_init(struct exec_result *r);
void exec_result_release(struct exec_result *r);

/* Run cmd with /bin/sh -c in cwd. env is a NULL-terminated list of
 * "NAME=value" (PATH is added when env has none); nothing else of upgr's
 * environment, descriptors or signal settings reaches the command, and its
 * stdin is /dev/null. timeout_s > 0 kills the whole process group (TERM,
 * then KILL after 2 s) when exceeded. Returns once the command itself has
 * exited: output from processes it left running (a daemon started by
 * `start` that kept stdout) is read for 200 ms more, then abandoned, and
 * those processes are left alone unless the command timed out. Returns 0
 * when the command ran (whatever its exit), -1 if it could not be started. */
int exec_run(const char *cmd, const char *cwd, char *const env[],
	     unsigned timeout_s, struct exec_result *r, struct err *e);

#endif
