/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet view as one self-contained HTML page: inline CSS and script,
 * an inline SVG chart, nothing fetched from anywhere. Every value that
 * comes from a report goes through html_esc; the page's own script is
 * allowed by its hash in the Content-Security-Policy, so even markup that
 * slipped through could not run a script of its own. The script reads the
 * table from the DOM (no report data is ever placed inside <script>). */
#include "fleet.h"
#include "b64.h"
#include "hash.h"
#include "version.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text or attribute value: the five special characters as entities and
 * control characters as U+FFFD. */
static void html_esc(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		switch (*p) {
		case '&': buf_adds(out, "&amp;"); break;
		case '<': buf_adds(out, "&lt;"); break;
		case '>': buf_adds(out, "&gt;"); break;
		case '"': buf_adds(out, "&quot;"); break;
		case '\'': buf_adds(out, "&#39;"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_adds(out, "&#xfffd;");
			else
				buf_add(out, p, 1);
		}
	}
}

/* In parts: C compilers need only support string literals of 4095 bytes. */
static const char *const style[] = {
	":root{--bg:#f4f6f9;--card:#fff;--ink:#1d2430;--mute:#667085;--line:#e3e7ee;"
	"--ok:#1a7f4b;--okbg:#e3f5eb;--warn:#b45309;--warnbg:#fdf0dc;--bad:#b42318;"
	"--badbg:#fde8e6;--info:#3159c4;--infobg:#e6edfc;--violet:#6d3fc0;--violetbg:#efe8fb;"
	"--grey:#555f6d;--greybg:#eceef2}"
	"*{box-sizing:border-box}"
	"body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
	"background:var(--bg);color:var(--ink)}"
	"header{background:#17202e;color:#fff;padding:18px 32px 20px}"
	"header h1{margin:0 0 4px;font-size:22px;font-weight:650;letter-spacing:.2px}"
	"header h1 span{color:#8fb3ff;font-weight:500}"
	".meta{color:#b8c2d3;font-size:13px}.meta code{color:#fff;font-size:13px}"
	".verdict{display:inline-block;margin-top:10px;padding:4px 12px;border-radius:999px;"
	"font-weight:600;font-size:13px}"
	".verdict.good{background:var(--okbg);color:var(--ok)}"
	".verdict.bad{background:var(--badbg);color:var(--bad)}"
	"main{padding:22px 32px 40px;max-width:1400px}"
	"h2{font-size:15px;margin:26px 0 10px;color:#344054;text-transform:uppercase;"
	"letter-spacing:.6px}"
	".cards{display:flex;flex-wrap:wrap;gap:12px}"
	".card{background:var(--card);border:1px solid var(--line);border-radius:10px;"
	"padding:10px 14px;min-width:96px;border-top:4px solid var(--grey)}"
	".card .n{font-size:28px;font-weight:700;line-height:1.1}"
	".card .l{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.5px}"
	".row2{display:grid;grid-template-columns:minmax(320px,1fr) minmax(320px,1.4fr);gap:18px}"
	"@media(max-width:900px){.row2{grid-template-columns:1fr}}"
	".panel{background:var(--card);border:1px solid var(--line);border-radius:10px;"
	"padding:14px 18px}"
	".panel h3{margin:0 0 8px;font-size:14px}"
	".chart text{font:12px system-ui,sans-serif;fill:#344054}"
	".chart .cnt{font-weight:700}"
	".problems{list-style:none;margin:0;padding:0}"
	".problems li{border:1px solid var(--line);border-left:4px solid var(--bad);"
	"background:#fff;border-radius:6px;padding:8px 12px;margin:0 0 8px}"
	".problems li.p-rolled-back,.problems li.p-stale{border-left-color:var(--warn)}"
	".problems li.p-refused{border-left-color:var(--violet)}"
	".problems li.p-outdated{border-left-color:var(--info)}"
	".problems li.p-unavailable,.problems li.p-no-result{border-left-color:var(--grey)}"
	".problems li.p-tampered{border-left-color:#7a1010}"
	".problems li.p-unverified{border-left-color:#9a3412}"
	".problems .h{font-weight:650}.problems .e{color:#475467;font-family:ui-monospace,"
	"SFMono-Regular,Menlo,monospace;font-size:12px;margin-top:3px;word-break:break-word}"
	".none{color:var(--ok);font-weight:600}"
	".badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;"
	"font-weight:600;white-space:nowrap}"
	".tools{display:flex;gap:12px;align-items:center;margin-bottom:8px}"
	"#filter{flex:0 1 380px;padding:7px 11px;border:1px solid #cfd5df;border-radius:8px;"
	"font:inherit;background:#fff}"
	"#shown{color:var(--mute);font-size:13px}"
	"table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);"
	"border-radius:10px;overflow:hidden}"
	"th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);"
	"vertical-align:top}"
	"th{background:#f8f9fb;font-size:12px;text-transform:uppercase;letter-spacing:.4px;"
	"color:#475467;cursor:pointer;user-select:none;white-space:nowrap}"
	"th:hover{background:#eef1f6}"
	"th[aria-sort=ascending]::after{content:' \\25B2';font-size:9px}"
	"th[aria-sort=descending]::after{content:' \\25BC';font-size:9px}"
	"td.err{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;"
	"color:#475467;word-break:break-word;max-width:420px}"
	"td.t{white-space:nowrap;color:#475467;font-size:13px}"
	"td.t small{display:block;color:#98a2b3;font-size:11px}"
	"td.h{white-space:nowrap;font-weight:600}"
	".legend{color:var(--mute);font-size:12px;margin-top:6px}"
	".legend i{display:inline-block;width:10px;height:10px;border-radius:2px;"
	"margin:0 5px 0 12px;vertical-align:-1px}.legend i:first-child{margin-left:0}"
	"tr:hover td{background:#fafbfd}",
	"footer{color:var(--mute);font-size:12px;margin-top:22px}"
	".k-ok,.k-success{background:var(--okbg);color:var(--ok)}"
	".k-rolled-back,.k-stale{background:var(--warnbg);color:var(--warn)}"
	".k-failed,.k-unreadable{background:var(--badbg);color:var(--bad)}"
	".k-tampered{background:#7a1010;color:#fff}"
	".k-unverified{background:#fdebd3;color:#9a3412}"
	".trust{margin-top:8px;color:#fcd9a8;font-size:13px}"
	".k-refused{background:var(--violetbg);color:var(--violet)}"
	".k-outdated{background:var(--infobg);color:var(--info)}"
	".k-unavailable,.k-no-result,.k-none{background:var(--greybg);color:var(--grey)}"
	".c-success,.c-ok{border-top-color:var(--ok)}"
	".c-rolled-back,.c-stale{border-top-color:var(--warn)}"
	".c-failed,.c-unreadable,.c-problems,.c-tampered{border-top-color:var(--bad)}"
	".c-unverified{border-top-color:#9a3412}"
	".c-refused{border-top-color:var(--violet)}.c-outdated{border-top-color:var(--info)}"
	".c-hosts{border-top-color:#17202e}"
	".k-held{background:#eef4ff;color:#3b5bab}.k-waiting{background:#f1ecfd;color:#5b3fa6}"
	".k-staged{background:#e6f6f8;color:#137083}"
	".c-held{border-top-color:#7b93c9}.c-waiting{border-top-color:#8a6fd1}"
	".c-staged{border-top-color:#2aa1b3}",
	".problems li.p-held,.problems li.p-waiting,.problems li.p-staged{border-left-color:#7b93c9}"
	".problems .n{float:right;font-weight:700;font-size:15px;margin-left:10px}"
	".problems details{margin-top:4px;font-size:12px;color:#475467}"
	".problems summary{cursor:pointer}"
	".rollout{margin:0 0 14px}.rollout h3{margin:0 0 6px;font-size:14px}"
	".rollout .st{font-weight:600}.waves{display:flex;gap:6px;flex-wrap:wrap}"
	".wave{flex:1 1 120px;border:1px solid var(--line);border-radius:8px;padding:6px 9px;"
	"background:#fafbfd;font-size:12px}.wave.cur{border-color:#3159c4;background:#eef3ff}"
	".wave .pc{font-weight:700;font-size:15px}.bar{height:6px;background:#e3e7ee;"
	"border-radius:3px;margin-top:4px;overflow:hidden;display:flex}.bar i{display:block;height:6px;"
	"background:#2e9d62}.bar i.f{background:#e0412f}"
	".rollout .why{color:#b42318;font-size:12px;margin-top:4px}",
	NULL
};

/* Sorting (click a header; again to reverse) and filtering. Problems-first
 * is the initial order; data-sort on the table and data-ready on <body>
 * say the script ran. */
static const char script[] =
	"(function(){'use strict';"
	"var t=document.getElementById('hosts'),tb=t.tBodies[0],"
	"hs=t.tHead.rows[0].cells,f=document.getElementById('filter'),"
	"sh=document.getElementById('shown');"
	"function val(r,i,type){var c=r.cells[i],v=c.getAttribute('data-v');"
	"if(v===null)v=c.textContent;return type==='num'?parseFloat(v)||0:v.toLowerCase();}"
	"function sort(i,dir){var type=hs[i].getAttribute('data-type'),"
	"rows=Array.prototype.slice.call(tb.rows);"
	"rows.sort(function(a,b){var x=val(a,i,type),y=val(b,i,type),"
	"c=x<y?-1:x>y?1:0;if(!c){x=a.cells[0].textContent;y=b.cells[0].textContent;"
	"c=x<y?-1:x>y?1:0;}return dir*c;});"
	"rows.forEach(function(r){tb.appendChild(r);});"
	"for(var k=0;k<hs.length;k++)hs[k].removeAttribute('aria-sort');"
	"hs[i].setAttribute('aria-sort',dir>0?'ascending':'descending');"
	"t.setAttribute('data-sort',hs[i].getAttribute('data-key')+(dir>0?':asc':':desc'));}"
	"Array.prototype.forEach.call(hs,function(h,i){h.addEventListener('click',"
	"function(){sort(i,h.getAttribute('aria-sort')==='ascending'?-1:1);});});"
	"function filter(){var q=f.value.trim().toLowerCase(),n=0;"
	"Array.prototype.forEach.call(tb.rows,function(r){"
	"var m=!q||r.textContent.toLowerCase().indexOf(q)>=0;r.hidden=!m;if(m)n++;});"
	"sh.textContent=n+' of '+tb.rows.length+' rows';}"
	"f.addEventListener('input',filter);"
	"Array.prototype.forEach.call(document.querySelectorAll('td.t[data-v]'),"
	"function(c){var s=(Date.now()-Date.parse(c.getAttribute('data-v')))/1000,"
	"a=s<90?'just now':s<5400?Math.round(s/60)+' min ago':s<172800?"
	"Math.round(s/3600)+' h ago':Math.round(s/86400)+' days ago',"
	"e=document.createElement('small');if(isNaN(s))return;e.textContent=a;"
	"c.appendChild(e);c.title=c.getAttribute('data-v');});"
	"function keep(){try{history.replaceState(null,'','#sort='+"
	"encodeURIComponent(t.getAttribute('data-sort'))+'&q='+encodeURIComponent(f.value));}"
	"catch(e){}}"
	"f.addEventListener('change',keep);t.tHead.addEventListener('click',keep);"
	"var p={};location.hash.slice(1).split('&').forEach(function(kv){"
	"var i=kv.indexOf('=');if(i>0)p[kv.slice(0,i)]=decodeURIComponent(kv.slice(i+1));});"
	"var s=(p.sort||'').split(':'),si=0;"
	"for(var k=0;k<hs.length;k++)if(hs[k].getAttribute('data-key')===s[0])si=k;"
	"if(p.q)f.value=p.q;sort(si,s[1]==='desc'?-1:1);filter();"
	"document.body.setAttribute('data-ready','1');})();";

static const char *problem_key(const struct fleet_row *r)
{
	return fleet_problem_name(r->problem);
}

static const char *version_key(const struct fleet_row *r)
{
	return r->problem == FLEET_UNREADABLE ? NULL : r->version[0] ? r->version : "none";
}

/* A CSS class suffix for a result or problem word: only known words, so a
 * report cannot choose a class. */
static const char *kind_class(const char *k)
{
	static const char *const known[] = { "ok", "success", "rolled-back", "stale",
		"failed", "unreadable", "tampered", "unverified", "refused", "outdated",
		"unavailable", "held", "waiting", "staged",
		"no-result", "none", NULL };
	size_t i;

	for (i = 0; known[i]; i++)
		if (!strcmp(k, known[i]))
			return known[i];
	return "none";
}

static void badge(struct buf *out, const char *word)
{
	buf_addf(out, "<span class=\"badge k-%s\">", kind_class(word));
	html_esc(out, word);
	buf_adds(out, "</span>");
}

static void card(struct buf *out, const char *cls, size_t n, const char *label)
{
	buf_addf(out, "<div class=\"card c-%s\" data-card=\"", cls);
	html_esc(out, label);
	buf_addf(out, "\"><div class=\"n\">%zu</div><div class=\"l\">", n);
	html_esc(out, label);
	buf_adds(out, "</div></div>");
}

static void head(const struct fleet *f, struct buf *out)
{
	struct buf s = BUF_INIT;
	uint8_t d[SHA256_LEN];
	size_t i, np = fleet_nproblems(f), nwait = 0;
	char when[21];

	sha256_buf(script, strlen(script), d);
	b64_encode(d, sizeof d, &s);
	fleet_time_format(f->generated, when);
	buf_addf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		 "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		 "style-src 'unsafe-inline'; script-src 'sha256-%s'; img-src data:\">"
		 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		 "<meta name=\"generator\" content=\"upgr fleet status\">", s.data);
	if (f->refresh)
		buf_addf(out, "<meta http-equiv=\"refresh\" content=\"%u\">", f->refresh);
	buf_adds(out, "<title>upgr fleet: ");
	html_esc(out, f->repo);
	buf_adds(out, "</title><style>");
	for (i = 0; style[i]; i++)
		buf_adds(out, style[i]);
	buf_adds(out, "</style></head>\n<body>\n<header><h1>upgr <span>fleet</span></h1>"
		 "<div class=\"meta\">repository <code id=\"repo\">");
	html_esc(out, f->repo);
	buf_adds(out, "</code> &middot; channel ");
	html_esc(out, f->channel);
	buf_addf(out, " &middot; generated <time id=\"generated\" datetime=\"%s\">%.10s %.8s "
		 "UTC</time> &middot; stale after %u min", when, when, when + 11,
		 f->stale_minutes);
	if (f->refresh)
		buf_addf(out, " &middot; <span id=\"refresh\">reloads every %u s</span>",
			 f->refresh);
	buf_adds(out, "</div>");
	for (i = 0; i < f->nrows; i++)
		nwait += !FLEET_IS_PROBLEM(f->rows[i].problem) && f->rows[i].problem != FLEET_OK;
	if (fleet_all_good(f) && !nwait)
		buf_addf(out, "<div class=\"verdict good\" id=\"verdict\">All %zu hosts current "
			 "and healthy</div>", fleet_nhosts(f));
	else if (fleet_all_good(f))
		buf_addf(out, "<div class=\"verdict good\" id=\"verdict\">No problems on %zu "
			 "hosts; %zu not yet current (held, waiting or staged)</div>",
			 fleet_nhosts(f), nwait);
	else if (!f->nrows)
		buf_adds(out, "<div class=\"verdict bad\" id=\"verdict\">No host has "
			 "reported</div>");
	else
		buf_addf(out, "<div class=\"verdict bad\" id=\"verdict\">%zu problem%s on %zu "
			 "hosts</div>", np, np == 1 ? "" : "s", fleet_nhosts(f));
	if (!f->verified)
		buf_adds(out, "<div class=\"trust\" id=\"trust\">Reports unverified: "
			 "anyone who can upload to the server can write them. Check them "
			 "with <code>--keys DIR</code>.</div>");
	for (i = 0; i < f->nwarnings; i++) {   /* "HOST: text" (fleet.h) */
		buf_adds(out, "<div class=\"trust warning\">Warning: ");
		html_esc(out, f->warnings[i]);
		buf_adds(out, "</div>");
	}
	buf_adds(out, "</header>\n<main>\n");
	buf_release(&s);
}

/* Hosts, problems, then the rows in each state, worst first (the same
 * states as the table's and the text's). */
static void cards(const struct fleet *f, struct buf *out)
{
	size_t count[FLEET_OK + 1] = { 0 }, i;
	int p;

	for (i = 0; i < f->nrows; i++)
		count[f->rows[i].problem]++;
	buf_adds(out, "<section class=\"cards\" id=\"cards\">");
	card(out, "hosts", fleet_nhosts(f), "hosts");
	card(out, "problems", fleet_nproblems(f), "problems");
	for (p = 0; p <= FLEET_OK; p++)
		if (count[p] || p == FLEET_OK)
			card(out, kind_class(fleet_problem_name(p)), count[p],
			     fleet_problem_name(p));
	buf_adds(out, "</section>\n");
}

static int newest_first(const void *pa, const void *pb)
{
	const struct fleet_count *a = pa, *b = pb;

	return semver_cmp_str(b->key, a->key);
}

/* Every row by state, worst first, as one stacked bar with a legend. */
static void health(const struct fleet *f, struct buf *out)
{
	static const char *const colour[] = {
		[FLEET_UNREADABLE] = "#b42318", [FLEET_TAMPERED] = "#7a1010",
		[FLEET_UNVERIFIED] = "#9a3412",
		[FLEET_FAILED] = "#e0412f", [FLEET_ROLLED_BACK] = "#d97706",
		[FLEET_REFUSED] = "#6d3fc0", [FLEET_STALE] = "#f5b544",
		[FLEET_UNAVAILABLE] = "#98a2b3", [FLEET_OUTDATED] = "#5b7fd6",
		[FLEET_NO_RESULT] = "#cfd5df", [FLEET_WAITING] = "#8a6fd1",
		[FLEET_STAGED] = "#2aa1b3", [FLEET_HELD] = "#a9bce6", [FLEET_OK] = "#2e9d62",
	};
	size_t count[FLEET_OK + 1] = { 0 }, i, x = 0, w;
	int p;

	if (!f->nrows)
		return;
	for (i = 0; i < f->nrows; i++)
		count[f->rows[i].problem]++;
	buf_adds(out, "<h2 style=\"margin-top:0\">Fleet health</h2><svg class=\"chart\" "
		 "id=\"health\" role=\"img\" width=\"100%\" height=\"26\" viewBox=\"0 0 1000 26\" "
		 "preserveAspectRatio=\"none\"><title>rows by state</title>");
	for (p = 0; p <= FLEET_OK; p++) {
		if (!count[p])
			continue;
		w = p == FLEET_OK ? 1000 - x : count[p] * 1000 / f->nrows;
		buf_addf(out, "<rect data-state=\"%s\" x=\"%zu\" y=\"0\" width=\"%zu\" "
			 "height=\"26\" fill=\"%s\"><title>%s: %zu</title></rect>",
			 fleet_problem_name(p), x, w, colour[p], fleet_problem_name(p), count[p]);
		x += w;
	}
	buf_adds(out, "</svg><div class=\"legend\" style=\"margin-bottom:14px\">");
	for (p = 0; p <= FLEET_OK; p++)
		if (count[p])
			buf_addf(out, "<i style=\"background:%s\"></i>%s %zu", colour[p],
				 fleet_problem_name(p), count[p]);
	buf_adds(out, "</div>");
}

/* Under a trust root: whether the channel's release is approved. */
static void approval_badge(const struct fleet_latest *l, struct buf *out)
{
	if (l->approval == FLEET_APPR_NONE)
		return;
	buf_addf(out, " <span class=\"appr\" data-approval=\"%s\" style=\"color:%s\">",
		 fleet_approval_name(l->approval),
		 l->approval == FLEET_APPR_APPROVED ? "#2e9d62" : "#c0392b");
	html_esc(out, l->approval == FLEET_APPR_APPROVED ? "approved" : l->approval_why);
	buf_adds(out, "</span>");
}

/* Hosts per version of each app, as horizontal bars; the latest in green. */
static void chart(const struct fleet *f, struct buf *out)
{
	const int rowh = 30, label = 120, barmax = 360;
	struct fleet_count *c;
	size_t a, i, n, max;

	buf_adds(out, "<div class=\"panel\">");
	health(f, out);
	buf_adds(out, "<h2 style=\"margin-top:0\">Hosts per version</h2>");
	for (a = 0; a < f->nlatest; a++) {
		const struct fleet_latest *l = &f->latest[a];

		n = fleet_count(f, version_key, l->app, &c);
		qsort(c, n, sizeof *c, newest_first);
		for (max = 1, i = 0; i < n; i++)
			if (c[i].n > max)
				max = c[i].n;
		buf_adds(out, "<h3>");
		html_esc(out, l->app);
		buf_adds(out, " <span style=\"color:#667085;font-weight:400\">latest ");
		html_esc(out, l->version[0] ? l->version : "none");
		buf_addf(out, "%s</span>", l->from_channel ? " (channel)" : "");
		approval_badge(l, out);
		buf_adds(out, "</h3>");
		buf_addf(out, "<svg class=\"chart\" role=\"img\" width=\"100%%\" viewBox=\"0 0 %d "
			 "%zu\" preserveAspectRatio=\"xMinYMin meet\" data-app=\"",
			 label + barmax + 60, n * (size_t)rowh + 4);
		html_esc(out, l->app);
		buf_adds(out, "\"><title>hosts per version of ");
		html_esc(out, l->app);
		buf_adds(out, "</title>");
		for (i = 0; i < n; i++) {
			size_t y = i * (size_t)rowh + 2;
			long w = (long)(c[i].n * (size_t)barmax / max);
			bool latest = !strcmp(c[i].key, l->version);

			buf_addf(out, "<g data-version=\"");
			html_esc(out, c[i].key);
			buf_addf(out, "\"><text x=\"%d\" y=\"%zu\" text-anchor=\"end\">", label - 10,
				 y + 18);
			html_esc(out, c[i].key);
			buf_addf(out, "</text><rect x=\"%d\" y=\"%zu\" width=\"%ld\" height=\"%d\" "
				 "rx=\"4\" fill=\"%s\"/><text class=\"cnt\" x=\"%ld\" y=\"%zu\">%zu"
				 "</text></g>", label, y + 3, w < 2 ? 2 : w, rowh - 8,
				 latest ? "#2e9d62" : "#7b93c9", label + (w < 2 ? 2 : w) + 8,
				 y + 18, c[i].n);
		}
		buf_adds(out, "</svg>");
		fleet_counts_free(c, n);
	}
	if (!f->nlatest)
		buf_adds(out, "<p>No versions reported.</p>");
	else
		buf_adds(out, "<div class=\"legend\"><i style=\"background:#2e9d62\">"
			 "</i>latest<i style=\"background:#7b93c9\"></i>"
			 "other versions</div>");
	buf_adds(out, "</div>\n");
}

/* One group: state, app, cause, how many hosts, and (folded) which. */
static void group_item(const struct fleet *f, const struct fleet_group *g, struct buf *out)
{
	size_t k;

	buf_addf(out, "<li class=\"p-%s\" data-state=\"%s\" data-hosts=\"%zu\">"
		 "<span class=\"n\">%zu host%s</span>", kind_class(fleet_problem_name(g->state)),
		 fleet_problem_name(g->state), g->n, g->n, g->n == 1 ? "" : "s");
	badge(out, fleet_problem_name(g->state));
	if (g->app[0]) {
		buf_adds(out, " <span class=\"h\">");
		html_esc(out, g->app);
		buf_adds(out, "</span>");
	}
	buf_adds(out, "<div class=\"e cause\">");
	html_esc(out, g->cause);
	buf_adds(out, "</div><details><summary>");
	for (k = 0; k < g->n && k < 3; k++) {
		buf_adds(out, k ? ", " : "");
		html_esc(out, f->rows[g->rows[k]].host);
	}
	if (g->n > 3)
		buf_addf(out, " and %zu more", g->n - 3);
	buf_adds(out, "</summary>");
	/* The first 200 names; the table below has them all. */
	for (k = 3; k < g->n && k < 200; k++) {
		buf_adds(out, k > 3 ? ", " : "");
		html_esc(out, f->rows[g->rows[k]].host);
	}
	if (g->n > 200)
		buf_addf(out, " &hellip; (%zu more in the table)", g->n - 200);
	buf_adds(out, "</details></li>");
}

/* Problems grouped by cause, then the hosts that are fine but not yet
 * current (held, waiting, staged), also by cause. */
static void problems(const struct fleet *f, struct buf *out)
{
	struct fleet_group *g;
	size_t i, n = fleet_groups(f, false, &g), np = 0;

	buf_adds(out, "<div class=\"panel\"><h2 style=\"margin-top:0\">Problems by cause</h2>"
		 "<ul class=\"problems\" id=\"problems\">");
	for (i = 0; i < n; i++)
		if (FLEET_IS_PROBLEM(g[i].state)) {
			group_item(f, &g[i], out);
			np++;
		}
	buf_adds(out, "</ul>");
	if (!np)
		buf_adds(out, "<p class=\"none\">No problems.</p>");
	buf_adds(out, "<h2>Not yet current, not a problem</h2><ul class=\"problems\" "
		 "id=\"pending\">");
	for (i = 0; i < n; i++)
		if (!FLEET_IS_PROBLEM(g[i].state) && g[i].state != FLEET_OK)
			group_item(f, &g[i], out);
	buf_adds(out, "</ul></div>\n");
	fleet_groups_free(g, n);
}

/* A time from a plan, "YYYY-MM-DDTHH:MM:SSZ", as "YYYY-MM-DD HH:MM:SS UTC";
 * anything else as it is. */
static void utc_text(struct buf *out, const char *t)
{
	if (strlen(t) == 20 && t[10] == 'T' && t[19] == 'Z' &&
	    strspn(t, "0123456789-:TZ") == 20)
		buf_addf(out, "%.10s %.8s UTC", t, t + 11);
	else
		html_esc(out, t[0] ? t : "?");
}

/* One wave: its percent, hosts, and a bar of done (green) and failed. */
static void wave_box(const struct fleet_rollout *p, size_t w,
		     const struct fleet_wave_count *c, struct buf *out)
{
	size_t done = c->hosts ? c->done * 100 / c->hosts : 0;
	size_t failed = c->hosts ? c->failed * 100 / c->hosts : 0;

	buf_addf(out, "<div class=\"wave%s\" data-wave=\"%zu\"><div class=\"pc\">%u%%</div>"
		 "wave %zu%s: %zu of %zu hosts done, %zu failed<div class=\"bar\">"
		 "<i style=\"width:%zu%%\"></i><i class=\"f\" style=\"width:%zu%%\"></i></div></div>",
		 w + 1 == p->wave ? " cur" : "", w + 1, p->waves[w], w + 1,
		 w + 1 == p->wave ? " (current)" : w + 1 < p->wave ? "" : " (not open)",
		 c->done, c->hosts, c->failed, done, failed);
}

static void rollouts(const struct fleet *f, struct buf *out)
{
	struct fleet_wave_count c[FLEET_WAVES_MAX];
	size_t i, w;

	if (!f->nrollouts)
		return;
	buf_adds(out, "<h2>Rollouts</h2><div class=\"panel\" id=\"rollouts\">");
	for (i = 0; i < f->nrollouts; i++) {
		const struct fleet_rollout *p = &f->rollouts[i];

		buf_adds(out, "<div class=\"rollout\" data-app=\"");
		html_esc(out, p->app);
		buf_addf(out, "\" data-state=\"%s\"><h3>", p->error ? "error" : p->state);
		html_esc(out, p->app);
		if (p->error) {
			buf_adds(out, " <span class=\"badge k-failed\">unreadable</span></h3>"
				 "<div class=\"why\">");
			html_esc(out, p->error);
			buf_adds(out, "</div></div>");
			continue;
		}
		buf_adds(out, " ");
		html_esc(out, p->from[0] ? p->from : "?");
		buf_adds(out, " &rarr; ");
		html_esc(out, p->version);
		buf_addf(out, " <span class=\"st\">%s</span>, wave %u of %zu", p->state, p->wave,
			 p->nwaves);
		buf_adds(out, p->verified ? " <span class=\"badge k-ok\">signed</span>" :
			 " <span class=\"badge k-none\">signature not checked</span>");
		buf_adds(out, "</h3><div class=\"legend\">started ");
		utc_text(out, p->started);
		buf_adds(out, ", wave since ");
		utc_text(out, p->wave_started);
		buf_adds(out, ", soak ");
		html_esc(out, p->soak);
		buf_adds(out, ", halts above ");
		html_esc(out, p->max_failed);
		buf_adds(out, " failed</div><div class=\"waves\">");
		fleet_rollout_progress(f, p, c);
		for (w = 0; w < p->nwaves; w++)
			wave_box(p, w, &c[w], out);
		buf_adds(out, "</div>");
		if (p->reason[0]) {
			buf_adds(out, "<div class=\"why\">");
			html_esc(out, p->reason);
			buf_adds(out, "</div>");
		}
		buf_adds(out, "</div>");
	}
	buf_adds(out, "</div>\n");
}

static void cell(struct buf *out, const char *cls, const char *v)
{
	buf_addf(out, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	html_esc(out, v);
	buf_adds(out, "</td>");
}

/* A report time shown as "YYYY-MM-DD HH:MM:SS", the exact value kept in
 * data-v for sorting and the script's "5 h ago". */
static void time_cell(struct buf *out, const char *t)
{
	if (!t[0]) {
		buf_adds(out, "<td class=\"t\"></td>");
		return;
	}
	buf_adds(out, "<td class=\"t\" data-v=\"");
	html_esc(out, t);
	buf_adds(out, "\">");
	/* Times are checked when read (YYYY-MM-DDTHH:MM:SS[.fff]Z, only
	 * digits and punctuation): the date and time with a space, without
	 * the fraction. */
	if (strlen(t) >= 19) {
		buf_add(out, t, 10);
		buf_adds(out, " ");
		buf_add(out, t + 11, 8);
	} else {
		html_esc(out, t);
	}
	buf_adds(out, "</td>");
}

static void table(const struct fleet *f, struct buf *out)
{
	static const char *const cols[][3] = {
		{ "state", "num", "State" }, { "host", "text", "Host" },
		{ "app", "text", "App" }, { "version", "text", "Version" },
		{ "result", "text", "Result" }, { "action", "text", "Action" },
		{ "time", "text", "Result time (UTC)" }, { "reported", "text", "Reported (UTC)" },
		{ "error", "text", "Error" },
	};
	size_t i, k;

	buf_adds(out, "<h2>All hosts</h2><div class=\"tools\"><input id=\"filter\" "
		 "type=\"search\" placeholder=\"Filter by host, version, result, error\" "
		 "aria-label=\"filter\"><span id=\"shown\"></span></div>\n"
		 "<table id=\"hosts\"><thead><tr>");
	for (k = 0; k < sizeof cols / sizeof cols[0]; k++)
		buf_addf(out, "<th data-key=\"%s\" data-type=\"%s\">%s</th>", cols[k][0],
			 cols[k][1], cols[k][2]);
	buf_adds(out, "</tr></thead><tbody>\n");
	for (i = 0; i < f->nrows; i++) {
		const struct fleet_row *r = &f->rows[i];

		buf_addf(out, "<tr data-problem=\"%s\" data-host=\"", problem_key(r));
		html_esc(out, r->host);
		buf_addf(out, "\"><td data-v=\"%d\">", (int)r->problem);
		badge(out, fleet_problem_name(r->problem));
		buf_adds(out, "</td>");
		cell(out, "h", r->host);
		cell(out, NULL, r->app);
		cell(out, NULL, r->version);
		buf_adds(out, "<td>");
		if (r->result[0])
			badge(out, r->result);
		buf_adds(out, "</td>");
		cell(out, NULL, r->action);
		time_cell(out, r->time);
		time_cell(out, r->reported);
		cell(out, "err", r->error);
		buf_adds(out, "</tr>\n");
	}
	buf_adds(out, "</tbody></table>\n");
}

void fleet_html(const struct fleet *f, struct buf *out)
{
	head(f, out);
	cards(f, out);
	buf_adds(out, "<div class=\"row2\" style=\"margin-top:18px\">");
	problems(f, out);
	chart(f, out);
	buf_adds(out, "</div>\n");
	rollouts(f, out);
	table(f, out);
	buf_adds(out, "<footer>Made by <code>upgr fleet status --html</code>. Verify audit "
		 "logs with <code>upgr fleet verify</code>.</footer>\n</main>\n<script>");
	buf_adds(out, script);
	buf_adds(out, "</script>\n</body></html>\n");
}
