/* SPDX-License-Identifier: Apache-2.0 */
/* node_exporter textfile metrics; the contract is in metrics.h. */
#include "metrics.h"
#include "fsutil.h"

#include <inttypes.h>
#include <string.h>

enum kind { M_TIME, M_SUCCESS, M_EXIT, M_INFO, M_HELD, M_DOWNTIME, M_BYTES, M_FAILURES };

static const struct {
	enum kind kind;
	const char *name, *help;
} families[] = {
	{ M_TIME, "upgr_last_run_timestamp_seconds", "When the last upgr run ended." },
	{ M_SUCCESS, "upgr_last_run_success", "1 when the last run exited 0, else 0." },
	{ M_EXIT, "upgr_last_run_exit_code", "The exit code of the last run (see upgr(1))." },
	{ M_INFO, "upgr_installed_info", "The installed version, as a label." },
	{ M_HELD, "upgr_held", "1 when the app is held (upgr hold, or a manual rollback)." },
	{ M_DOWNTIME, "upgr_last_downtime_seconds",
	  "Service downtime of the last transaction (stop to start)." },
	{ M_BYTES, "upgr_last_fetched_bytes", "Payload bytes the last run downloaded (0 when nothing was fetched)." },
	{ M_FAILURES, "upgr_consecutive_failures", "Runs in a row that did not exit 0." },
};

static void add_label(struct buf *b, const char *key, const char *val)
{
	buf_addf(b, "%s=\"", key);
	for (; val && *val; val++) {
		if (*val == '\\' || *val == '"')
			buf_addf(b, "\\%c", *val);
		else if (*val == '\n')
			buf_adds(b, "\\n");
		else
			buf_addf(b, "%c", *val);
	}
	buf_adds(b, "\"");
}

static void add_sample(struct buf *b, enum kind k, const char *name,
		       const struct metrics_app *a)
{
	if (k == M_INFO && !(a->version && *a->version))
		return;
	buf_addf(b, "%s{", name);
	add_label(b, "app", a->app);
	if (k == M_INFO) {
		buf_adds(b, ",");
		add_label(b, "version", a->version);
	}
	buf_adds(b, "} ");
	switch (k) {
	case M_TIME: buf_addf(b, "%.3f\n", a->time); break;
	case M_SUCCESS: buf_addf(b, "%d\n", a->exit_code == 0); break;
	case M_EXIT: buf_addf(b, "%d\n", a->exit_code); break;
	case M_INFO: buf_adds(b, "1\n"); break;
	case M_HELD: buf_addf(b, "%d\n", a->held); break;
	case M_DOWNTIME: buf_addf(b, "%.3f\n", a->downtime_seconds); break;
	case M_BYTES: buf_addf(b, "%" PRIu64 "\n", a->fetched_bytes); break;
	case M_FAILURES: buf_addf(b, "%u\n", a->consecutive_failures); break;
	}
}

void metrics_render(const struct metrics_app *apps, size_t n, struct buf *out)
{
	size_t f, i;

	for (f = 0; f < sizeof families / sizeof families[0]; f++) {
		buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", families[f].name,
			 families[f].help, families[f].name);
		for (i = 0; i < n; i++)
			add_sample(out, families[f].kind, families[f].name, &apps[i]);
	}
}

int metrics_write(const char *path, const struct metrics_app *apps, size_t n,
		  struct err *e)
{
	struct buf b = BUF_INIT;
	int rc;

	metrics_render(apps, n, &b);
	rc = fs_write_atomic(path, b.data, b.len, 0644, e);
	buf_release(&b);
	if (rc < 0)
		err_prefix(e, "metrics_file: ");
	return rc;
}
