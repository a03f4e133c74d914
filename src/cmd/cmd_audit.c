/* SPDX-License-Identifier: Apache-2.0 */
/* upgr audit show | verify: read and verify the signed, hash-chained audit
 * log (audit/FORMAT.md). Thin: the format and the checks live in audit.c
 * and audit_verify.c. */
#include "audit.h"
#include "cmd_common.h"
#include "cli.h"
#include "fsutil.h"
#include "transport.h"
#include "utc.h"
#include "xalloc.h"
#include "ydoc.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MAX (1UL << 30)
#define MINISIG_MAX 65536

static const struct command *self;

/* Print s to stdout with control characters (C0, DEL, C1) shown as '?',
 * so a log cannot drive the reader's terminal, and bytes that are not
 * UTF-8 as U+FFFD. */
static void put_safe(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, len;
	uint32_t cp;

	for (i = 0; i < n; i += len ? len : 1) {
		len = ydoc_utf8_seq(p + i, n - i, &cp);
		if (!len)
			fputs("\xef\xbf\xbd", stdout);
		else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			putchar('?');
		else
			fwrite(p + i, 1, len, stdout);
	}
}

static void put_str(struct audit_str s, struct buf *tmp)
{
	buf_reset(tmp);
	audit_unquote(s, tmp);
	put_safe(tmp->data ? tmp->data : "", tmp->len);
}

/* put_str, then spaces up to width bytes. */
static void put_padded(struct audit_str s, int width, struct buf *tmp)
{
	put_str(s, tmp);
	printf("%*s", width > (int)tmp->len ? width - (int)tmp->len : 0, "");
}

struct show {
	bool json;
	const char *app;
	char since[40];          /* "" or a time prefix to compare with */
	uint64_t shown;
	struct buf tmp;
};

static int matches(struct show *sh, const struct audit_entry *r)
{
	if (sh->app) {
		buf_reset(&sh->tmp);
		audit_unquote(r->app, &sh->tmp);
		if (strcmp(sh->tmp.data ? sh->tmp.data : "", sh->app))
			return 0;
	}
	if (sh->since[0]) {
		buf_reset(&sh->tmp);
		audit_unquote(r->time, &sh->tmp);
		if (strcmp(sh->tmp.data ? sh->tmp.data : "", sh->since) < 0)
			return 0;
	}
	return 1;
}

static void show_human(struct show *sh, const struct audit_entry *r)
{
	const struct audit_entry_step *st;
	const char *p, *nl;
	size_t i;

	printf("#%" PRIu64 "  ", r->seq);
	put_str(r->time, &sh->tmp);
	fputs("  ", stdout);
	put_str(r->host, &sh->tmp);
	fputs("  ", stdout);
	put_str(r->app, &sh->tmp);
	fputs("  ", stdout);
	put_str(r->action, &sh->tmp);
	fputs(" ", stdout);
	put_str(r->from, &sh->tmp);
	fputs(" -> ", stdout);
	put_str(r->to, &sh->tmp);
	fputs("  ", stdout);
	put_str(r->result, &sh->tmp);
	printf("  %lld ms, down %lld ms\n", r->duration_ms, r->downtime_ms);
	if (r->server.p) {
		fputs("    from server ", stdout);
		put_str(r->server, &sh->tmp);
		putchar('\n');
	}
	for (i = 0; i < r->nsteps; i++) {
		st = &r->steps[i];
		fputs("    ", stdout);
		put_padded(st->phase, 12, &sh->tmp);
		printf(" exit %-4lld %6lld ms  ", st->exit, st->ms);
		put_str(st->run, &sh->tmp);
		putchar('\n');
		if (!st->output.p)
			continue;
		buf_reset(&sh->tmp);
		audit_unquote(st->output, &sh->tmp);
		for (p = sh->tmp.data; p && *p; p = nl ? nl + 1 : p + strlen(p)) {
			nl = strchr(p, '\n');
			fputs("      | ", stdout);
			put_safe(p, nl ? (size_t)(nl - p) : strlen(p));
			putchar('\n');
		}
	}
	if (r->error.n > 2) {
		fputs("    error: ", stdout);
		put_str(r->error, &sh->tmp);
		putchar('\n');
	}
}

/* A QSTR is a JSON string literal as it stands, but for its bytes of
 * 0x80 and above, which the grammar lets through unchecked (a log not
 * written by upgr, or edited): each byte that does not start valid UTF-8
 * is written as \ufffd, so the output is always valid JSON. */
static void json_str(const char *key, struct audit_str s, const char *sep)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i, len;

	printf("\"%s\": ", key);
	for (i = 0; i < s.n; i += len ? len : 1) {
		len = ydoc_utf8_seq(p + i, s.n - i, NULL);
		if (len)
			fwrite(p + i, 1, len, stdout);
		else
			fputs("\\ufffd", stdout);
	}
	fputs(sep, stdout);
}

static void show_json(struct show *sh, const struct audit_entry *r)
{
	const struct audit_entry_step *st;
	size_t i;

	printf("%s\n  {\"seq\": %" PRIu64 ", ", sh->shown ? "," : "", r->seq);
	json_str("time", r->time, ", ");
	json_str("host", r->host, ", ");
	json_str("app", r->app, ", ");
	json_str("action", r->action, ", ");
	json_str("from", r->from, ", ");
	json_str("to", r->to, ", ");
	json_str("result", r->result, ", ");
	printf("\"duration_ms\": %lld, \"downtime_ms\": %lld, ",
	       r->duration_ms, r->downtime_ms);
	json_str("manifest_sha256", r->manifest_sha256, ", ");
	if (r->server.p)
		json_str("server", r->server, ", ");
	fputs("\"steps\": [", stdout);
	for (i = 0; i < r->nsteps; i++) {
		st = &r->steps[i];
		fputs(i ? ", {" : "{", stdout);
		json_str("phase", st->phase, ", ");
		json_str("run", st->run, ", ");
		printf("\"exit\": %lld, \"ms\": %lld", st->exit, st->ms);
		if (st->output.p) {
			fputs(", ", stdout);
			json_str("output", st->output, "");
		}
		fputs("}", stdout);
	}
	fputs("], ", stdout);
	json_str("error", r->error, ", ");
	printf("\"prev\": \"%s\"}", r->prev);
}

static int show_one(const struct audit_entry *r, void *arg)
{
	struct show *sh = arg;

	if (!matches(sh, r))
		return 0;
	if (sh->json)
		show_json(sh, r);
	else
		show_human(sh, r);
	sh->shown++;
	return 0;
}

#define SINCE_MAX (100L * 366 * 86400)   /* a century: older is every record */

/* --since: a DURATION (30m, 7d: that long ago) or a UTC time or its
 * prefix (2026-11-24, 2026-11-24T02:00:00Z). */
static int parse_since(const char *arg, char out[40])
{
	size_t n = strlen(arg);
	long secs;

	if (n && strchr("smhd", arg[n - 1])) {
		if (cmd_parse_duration(arg, SINCE_MAX, &secs) < 0)
			return -1;
		utc_format(time(NULL) - (time_t)secs, 0, UTC_SECONDS, out, 40);
		return 0;
	}
	if (n < 4 || n > 30 || strspn(arg, "0123456789-T:.Z") != n)
		return -1;
	snprintf(out, 40, "%.*s", (int)(arg[n - 1] == 'Z' ? n - 1 : n), arg);
	return 0;
}

static int show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "since", required_argument, NULL, 's' },
		{ "app", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct show sh = { false, NULL, "", 0, BUF_INIT };
	struct buf log = BUF_INIT;
	struct err e;
	bool torn;
	int ch, rc = EXIT_OK;

	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'j': sh.json = true; break;
		case 'a': sh.app = optarg; break;
		case 's':
			if (parse_since(optarg, sh.since) < 0)
				return cli_usage(self, "--since: not a time or duration: %s", optarg);
			break;
		case -2: return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage(self, "show: expected one LOG");
	if (fs_read_file(argv[optind], LOG_MAX, &log, &e) < 0)
		return cli_fail(&e);
	if (sh.json)
		fputs("[", stdout);
	if (audit_parse(log.data ? log.data : "", log.len, show_one, &sh, &torn, &e) < 0) {
		err_prefix(&e, "%s: ", argv[optind]);
		rc = cli_fail(&e);
	}
	if (sh.json)
		fputs(sh.shown ? "\n]\n" : "]\n", stdout);
	if (torn)
		cli_warn("%s ends in a torn record (not shown): see upgr audit verify",
			 argv[optind]);
	buf_release(&log);
	buf_release(&sh.tmp);
	return rc;
}

/* Read NAME from a checkpoint directory or URL (".../reports/HOST/"). */
static int fetch(struct xfer **x, const struct xfer_opts *xo, const char *base,
		 const char *name, size_t max, struct buf *out, struct err *e)
{
	char *where = fs_join(base, name);
	int rc;

	if (strstr(base, "://")) {
		if (!*x)
			*x = xfer_new(xo);
		rc = *x ? xfer_get(*x, where, max, out, NULL, e) :
			err_set(e, EXIT_SOFTWARE, "cannot start libcurl");
	} else {
		rc = fs_read_file(where, max, out, e);
	}
	if (rc < 0)
		err_prefix(e, "checkpoint %s: ", where);
	free(where);
	return rc;
}

/* Check the signed checkpoint copy[...] (signature, chain, trusted
 * comment), then that the log at path extends it. */
static int check_checkpoint(const char *path, const char *src,
			    const struct buf *copy, const struct buf *sig,
			    const struct sign_pub *pub, struct err *e)
{
	struct audit_report rep;
	char *comment = NULL, want[128];
	int rc = -1;

	if (sign_verify(pub, 1, copy->data ? copy->data : "", copy->len,
			sig->data ? sig->data : "", sig->len, &comment, e) < 0) {
		err_prefix(e, "checkpoint %s: ", src);
		goto done;
	}
	if (audit_verify_mem(copy->data ? copy->data : "", copy->len, pub, false,
			     &rep, e) < 0) {
		err_prefix(e, "checkpoint %s: ", src);
		goto done;
	}
	snprintf(want, sizeof want, "upgr audit checkpoint seq:%" PRIu64 " head:%s",
		 rep.records, rep.head);
	if (strcmp(comment, want)) {
		err_set(e, EXIT_TRUST, "checkpoint %s: its trusted comment \"%s\" "
			"does not describe it (%s)", src, comment, want);
		goto done;
	}
	if (audit_extends(path, copy->data ? copy->data : "", copy->len, e) < 0)
		goto done;
	printf("%s: extends the checkpoint %s (seq %" PRIu64 ", head %s)\n",
	       path, src, rep.records, rep.head);
	rc = 0;
done:
	free(comment);
	return rc;
}

static int against(const char *path, const char *base, const char *file,
		   const struct xfer_opts *xo, const struct sign_pub *pub, struct err *e)
{
	struct buf copy = BUF_INIT, sig = BUF_INIT;
	struct xfer *x = NULL;
	char *sigpath = NULL;
	int rc = -1;

	if (base) {
		if (fetch(&x, xo, base, "audit.log", LOG_MAX, &copy, e) < 0 ||
		    fetch(&x, xo, base, "audit.log.minisig", MINISIG_MAX, &sig, e) < 0)
			goto done;
		file = base;
	} else {
		sigpath = xasprintf("%s.minisig", file);
		if (fs_read_file(file, LOG_MAX, &copy, e) < 0 ||
		    fs_read_file(sigpath, MINISIG_MAX, &sig, e) < 0) {
			err_prefix(e, "checkpoint: ");
			goto done;
		}
	}
	rc = check_checkpoint(path, file, &copy, &sig, pub, e);
done:
	xfer_free(x);
	free(sigpath);
	buf_release(&copy);
	buf_release(&sig);
	return rc;
}

/* After the summary, each repair record of a verified log (a torn append
 * moved aside, audit/FORMAT.md 7) as "LOG: note: record K (seq K): TEXT",
 * TEXT as it stands between the quotes of its error line: audit/verify
 * prints the same. */
static int show_note(const struct audit_entry *r, void *arg)
{
	if (r->action.n == 8 && !memcmp(r->action.p, "\"repair\"", 8))
		printf("%s: note: record %" PRIu64 " (seq %" PRIu64 "): %.*s\n",
		       (const char *)arg, r->seq, r->seq, (int)r->error.n - 2,
		       r->error.p + 1);
	return 0;
}

static int verify(int argc, char **argv)
{
	/* Long-only; -C is --cacert (cli.h). */
	enum { OPT_EVERY = 256, OPT_AGAINST, OPT_CHECKPOINT };
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'p' },
		{ "every-signature", no_argument, NULL, OPT_EVERY },
		{ "against", required_argument, NULL, OPT_AGAINST },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		CLI_TRANSPORT_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *pubpath = NULL, *base = NULL, *file = NULL, *log;
	struct transport_opts t = { 0 };
	struct buf bytes = BUF_INIT;
	struct audit_report rep;
	struct sign_pub pub;
	bool every = false;
	struct err e;
	int ch;

	err_clear(&e);
	while ((ch = cli_getopt(self, argc, argv, "p:" CLI_TRANSPORT_SHORT "h", opts)) != -1) {
		switch (ch) {
		case 'p': pubpath = optarg; break;
		case OPT_EVERY: every = true; break;
		case OPT_AGAINST: base = optarg; break;
		case OPT_CHECKPOINT: file = optarg; break;
		case -2: return EXIT_OK;
		default:
			if (!cli_transport_opt(&t, ch, optarg))
				return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage(self, "verify: expected one LOG");
	if (!pubpath)
		return cli_usage(self, "verify: -p PUB is required (the device's public key)");
	if (base && file)
		return cli_usage(self, "verify: --against and --checkpoint exclude each other");
	log = argv[optind];
	if (sign_pub_load(pubpath, &pub, &e) < 0 || audit_read(log, &bytes, &e) < 0)
		goto fail;
	if (audit_verify_mem(bytes.data, bytes.len, &pub, every, &rep, &e) < 0) {
		err_prefix(&e, "%s: ", log);
		goto fail;
	}
	printf("%s: %" PRIu64 " records, head %s, intact\n", log, rep.records, rep.head);
	audit_parse(bytes.data, rep.size, show_note, (void *)log, NULL, &e);
	if ((base || file) && against(log, base, file, &t.xfer, &pub, &e) < 0)
		goto fail;
	buf_release(&bytes);
	return EXIT_OK;
fail:
	buf_release(&bytes);
	return cli_fail(&e);
}

static int run(const struct command *c, int argc, char **argv)
{
	static const struct subcommand subs[2] = { { "show", show }, { "verify", verify } };

	self = c;
	return cli_dispatch(c, subs, argc, argv);
}

const struct command cmd_audit = {
	"audit", run,
	"usage: upgr audit show [--json] [--since TIME] [--app APP] LOG\n"
	"       upgr audit verify -p PUB [--every-signature]\n"
	"                         [--against DIR|URL [--netrc FILE] [--cacert FILE]\n"
	"                          [--ssh-key FILE] [--known-hosts FILE] |\n"
	"                          --checkpoint FILE] LOG\n"
	"\n"
	"show prints each record of the audit log (one line, then its steps), or\n"
	"a JSON array with --json. It does not verify: use verify for that.\n"
	"Bytes that are not UTF-8 are shown as U+FFFD (\\ufffd in JSON).\n"
	"  --json             a JSON array of records\n"
	"  --since TIME       records written at or after TIME: a UTC time or its\n"
	"                     prefix (2026-11-24, 2026-11-24T02:00:00Z) or a\n"
	"                     DURATION ago (30m, 7d)\n"
	"  --app APP          only this application's records\n"
	"\n"
	"verify checks the chain (seq 1, 2, ...; each prev the SHA-256 of the\n"
	"record before, the first the genesis value) and the newest signature,\n"
	"which authenticates the rest (audit/FORMAT.md). It prints\n"
	"\"LOG: N records, head HASH, intact\", or names the first failing record\n"
	"and why: malformed, removed, reordered, duplicated, inserted, edited or\n"
	"inserted, bad signature, torn. After the summary, one line\n"
	"\"LOG: note: record K (seq K): ...\" for each repair record (a torn\n"
	"append that a later append moved aside to LOG.torn-N).\n"
	"  -p, --pubkey PUB   the device's public key (device.pub)\n"
	"  --every-signature  check each record's signature (names the exact\n"
	"                     edited record)\n"
	"  --against DIR|URL  also check that LOG extends the signed copy\n"
	"                     uploaded there (REPO/reports/HOST/: audit.log and\n"
	"                     audit.log.minisig); catches a log cut short\n"
	"  --checkpoint FILE  the same with a local copy FILE and FILE.minisig\n"
	"For the --against server:\n"
	CLI_TRANSPORT_USAGE
	"  -h, --help         this text\n"
	"\n"
	"exit: 0 intact, 2 usage, 65 unreadable log or key, 69 checkpoint server\n"
	"unreachable, 77 the log or its checkpoint failed a check\n",
	"show or verify the signed, hash-chained audit log",
};
