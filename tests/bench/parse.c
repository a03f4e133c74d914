/* SPDX-License-Identifier: Apache-2.0 */
/* The parse microbenchmark (tests/bench/parse.sh): how long upgr takes to
 * read a manifest and an objects index, against libyaml's bare event loop
 * over the same bytes (the floor: every byte through the scanner, no tree).
 *
 * usage: parse MANIFEST OBJECTS STATEDIR [TRIES]
 *
 * Each measure is the best of TRIES (default 7) runs, the methods
 * interleaved (PARSE_ONLY=WORD: only those whose key holds WORD, for a
 * profiler). STATEDIR receives a quick check record of the manifest's
 * files (quickcheck_save), whose reading is timed too; its peer is a bare
 * pass over the same bytes that splits them into lines and fields. Prints
 * "key value" lines (milliseconds) for tests/bench/table.py, then the
 * ratios in words on stderr. */
#include "buf.h"
#include "diag.h"
#include "fsutil.h"
#include "hash.h"
#include "manifest.h"
#include "objects.h"
#include "quickcheck.h"
#include "ydoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

struct input {
	const char *path;
	struct buf b;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "parse: %s: %s\n", path, what);
	exit(1);
}

/* The peer: libyaml's events, each made and dropped. */
static void run_libyaml(const struct input *in)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int done = 0;

	if (!yaml_parser_initialize(&p))
		die("yaml_parser_initialize", in->path);
	yaml_parser_set_input_string(&p, (const unsigned char *)in->b.data, in->b.len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev))
			die("libyaml refuses it", in->path);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
}

static void run_ydoc(const struct input *in)
{
	struct diag d;
	struct ydoc doc;

	diag_init(&d, in->path);
	if (ydoc_parse(in->b.data, in->b.len, (size_t)64 << 20, 0, &doc, &d) < 0)
		die("ydoc_parse refuses it", in->path);
	ydoc_release(&doc);
	diag_release(&d);
}

/* upgr parses the same bytes once per run (memo.h): each timed parse gets
 * other bytes, a new number in the comment main appended, so that it is a
 * parse (with the memo's copy of what it parsed), not a lookup. */
#define TAIL "# this parse: 000000\n"
static void renumber(const struct input *in)
{
	static unsigned n;
	char digits[8];

	snprintf(digits, sizeof digits, "%06u", ++n % 1000000);
	memcpy(in->b.data + in->b.len - 7, digits, 6);
}

static void run_manifest(const struct input *in)
{
	struct manifest m;
	struct diag d;

	renumber(in);
	diag_init(&d, in->path);
	if (manifest_parse(in->b.data, in->b.len, &m, &d) < 0)
		die("manifest_parse refuses it", in->path);
	manifest_release(&m);
	diag_release(&d);
}

static void run_objects(const struct input *in)
{
	struct objects_index ix;
	struct err e;

	renumber(in);
	if (objects_index_parse(in->b.data, in->b.len, &ix, &e) < 0)
		die(e.msg, in->path);
	objects_index_release(&ix);
}

static const char *g_statedir;

static void run_quickcheck(const struct input *in)
{
	struct quickcheck q = QUICKCHECK_INIT;

	quickcheck_load(g_statedir, &q);
	if (!q.n)
		die("quickcheck_load reads nothing", in->path);
	quickcheck_release(&q);
}

/* The quick check's peer: every line cut into its ten fields. */
static void run_lines(const struct input *in)
{
	const char *p = in->b.data, *end = p + in->b.len;
	size_t fields = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			nl = end;
		for (; p < nl; p++)
			fields += *p == ' ';
		p = nl + 1;
	}
	if (!fields)
		die("no fields", in->path);
}

/* A quick check record with one entry per file of the manifest. */
static void write_quickcheck(const struct input *man, struct input *out)
{
	struct quickcheck q = QUICKCHECK_INIT;
	struct qc_stat st = { 2049, 1000000, 100, 1764590000123456789,
			      1764590000123456789, 0100644, 0, 0 };
	struct manifest m;
	struct diag d;
	struct err e;
	size_t i;

	diag_init(&d, man->path);
	if (manifest_parse(man->b.data, man->b.len, &m, &d) < 0)
		die("manifest_parse refuses it", man->path);
	for (i = 0; i < m.nfiles; i++, st.ino++)
		quickcheck_add(&q, m.files[i].path, m.files[i].sha256, &st);
	if (quickcheck_save(g_statedir, &q, &e) < 0)
		die(e.msg, g_statedir);
	out->path = fs_join(g_statedir, QUICKCHECK_FILE);
	if (fs_read_file(out->path, (size_t)256 << 20, &out->b, &e) < 0)
		die(e.msg, out->path);
	quickcheck_release(&q);
	manifest_release(&m);
	diag_release(&d);
}

struct method {
	const char *key;
	void (*fn)(const struct input *);
	const struct input *in;
	double best;
};

int main(int argc, char **argv)
{
	struct input man = { argc > 1 ? argv[1] : "", BUF_INIT };
	struct input obj = { argc > 2 ? argv[2] : "", BUF_INIT };
	struct input qc = { "", BUF_INIT };
	struct method ms[] = {
		{ "parse_manifest_libyaml", run_libyaml, &man, 0 },
		{ "parse_manifest_ydoc", run_ydoc, &man, 0 },
		{ "parse_manifest_upgr", run_manifest, &man, 0 },
		{ "parse_objects_libyaml", run_libyaml, &obj, 0 },
		{ "parse_objects_ydoc", run_ydoc, &obj, 0 },
		{ "parse_objects_upgr", run_objects, &obj, 0 },
		{ "parse_qc_lines", run_lines, &qc, 0 },
		{ "parse_qc_upgr", run_quickcheck, &qc, 0 },
	};
	size_t n = sizeof ms / sizeof ms[0], i;
	const char *only = getenv("PARSE_ONLY");   /* a part of a key: to profile one */
	int tries, t;
	struct err e;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: parse MANIFEST OBJECTS STATEDIR [TRIES]\n");
		return 2;
	}
	g_statedir = argv[3];
	tries = argc > 4 ? atoi(argv[4]) : 7;
	if (fs_read_file(man.path, (size_t)64 << 20, &man.b, &e) < 0 ||
	    fs_read_file(obj.path, (size_t)64 << 20, &obj.b, &e) < 0)
		die(e.msg, "read");
	buf_adds(&man.b, TAIL);
	buf_adds(&obj.b, TAIL);
	write_quickcheck(&man, &qc);
	for (t = 0; t < tries; t++)
		for (i = 0; i < n; i++) {
			double t0 = now_ms(), dt;

			if (only && !strstr(ms[i].key, only))
				continue;

			ms[i].fn(ms[i].in);
			dt = now_ms() - t0;
			if (!t || dt < ms[i].best)
				ms[i].best = dt;
		}
	for (i = 0; i < n; i++)
		printf("%s %.2f\n", ms[i].key, ms[i].best);
	fprintf(stderr, "manifest %zu bytes: libyaml %.1f ms, ydoc_parse %.1f ms (%.2fx), "
		"manifest_parse %.1f ms (%.2fx)\n", man.b.len, ms[0].best, ms[1].best,
		ms[1].best / ms[0].best, ms[2].best, ms[2].best / ms[0].best);
	fprintf(stderr, "objects %zu bytes: libyaml %.1f ms, ydoc_parse %.1f ms (%.2fx), "
		"objects_index_parse %.1f ms (%.2fx)\n", obj.b.len, ms[3].best, ms[4].best,
		ms[4].best / ms[3].best, ms[5].best, ms[5].best / ms[3].best);
	fprintf(stderr, "quickcheck %zu bytes: split into fields %.1f ms, quickcheck_load "
		"%.1f ms (%.2fx)\n", qc.b.len, ms[6].best, ms[7].best, ms[7].best / ms[6].best);
	buf_release(&man.b);
	buf_release(&obj.b);
	buf_release(&qc.b);
	free((char *)qc.path);
	return 0;
}
