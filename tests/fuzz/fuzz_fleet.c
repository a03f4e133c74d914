/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a host's status.yaml as the management console reads it
 * (untrusted: it comes from any host or from the server). Whatever the
 * input, reading gives one row per app or one unreadable row, and every
 * rendering stays well formed: the HTML page holds exactly one script
 * element (its own) and no raw '<' from the report; JSON and text hold
 * no control characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fleet_opts o = { .repo = "file:///repo", .channel = "stable",
					     .stale_minutes = 120, .now = 1795000000 };
	struct buf html = BUF_INIT, json = BUF_INIT, text = BUF_INIT;
	struct fleet f;
	size_t i;

	fleet_init(&f, &o);
	fleet_add_report(&f, &o, "h", (const char *)data, size);
	fleet_finish(&f, &o);
	if (f.nrows < 1 || f.nrows > FLEET_APPS_MAX)
		abort();
	fleet_html(&f, &html);
	fleet_json(&f, &json);
	fleet_text(&f, &text);
	if (count(html.data, "<script") != 1 || count(html.data, "</script") != 1)
		abort();
	for (i = 0; i < json.len; i++)
		if ((unsigned char)json.data[i] < 0x20 && json.data[i] != '\n')
			abort();
	for (i = 0; i < text.len; i++)
		if ((unsigned char)text.data[i] < 0x20 && text.data[i] != '\n')
			abort();
	buf_release(&html);
	buf_release(&json);
	buf_release(&text);
	fleet_release(&f);
	return 0;
}
