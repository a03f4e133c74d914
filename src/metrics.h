/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's metrics for Prometheus's node_exporter (its textfile
 * collector): the config's metrics_file is rewritten atomically after
 * every run, one set of samples per app:
 *
 *   upgr_last_run_timestamp_seconds{app}   when the run ended (gauge)
 *   upgr_last_run_success{app}             1 when it exited 0, else 0
 *   upgr_last_run_exit_code{app}           its exit code (agent.h)
 *   upgr_installed_info{app,version}       1 for the installed version
 *   upgr_held{app}                         1 when upgr hold keeps it
 *   upgr_last_downtime_seconds{app}        the last transaction's downtime
 *   upgr_last_fetched_bytes{app}           payload bytes downloaded this run
 *   upgr_consecutive_failures{app}         runs in a row not exiting 0
 *
 * Each with its HELP and TYPE lines, as `promtool check metrics` wants. */
#ifndef UPGR_METRICS_H
#define UPGR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

struct metrics_app {
	const char *app;
	const char *version;        /* installed; "" or NULL when none */
	int exit_code;
	bool held;
	double time;                /* seconds since the epoch */
	double downtime_seconds;
	uint64_t fetched_bytes;
	unsigned consecutive_failures;
};

/* The text exposition format of apps[0..n) appended to out. Label values
 * are escaped (backslash, double quote, newline). */
void metrics_render(const struct metrics_app *apps, size_t n, struct buf *out);

/* Render and write to path with fs_write_atomic, mode 0644. */
int metrics_write(const char *path, const struct metrics_app *apps, size_t n,
		  struct err *e);

#endif
