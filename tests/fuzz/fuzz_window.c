/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the window and freeze parsers (window.h). The first byte
 * picks which; an error's column stays inside the text; what parses
 * formats to text that parses to the same window (freeze), and judging it
 * at a time the input chooses never fails. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_window(const char *s, time_t t)
{
	char why[WINDOW_WHY_MAX], shown[256];
	struct window w, again;
	size_t col;

	if (window_parse(s, &w, &col, why) < 0) {
		if (col > strlen(s))
			abort();
		return;
	}
	window_format(&w, shown, sizeof shown);
	if (window_parse(shown, &again, &col, why) < 0 || memcmp(&w, &again, sizeof w))
		abort();
	(void)window_open(&w, 1, t);
}

static void one_freeze(const char *s, time_t t)
{
	char why[WINDOW_WHY_MAX], shown[256];
	struct freeze f, again;
	size_t col;

	if (window_parse_freeze(s, &f, &col, why) < 0) {
		if (col > strlen(s))
			abort();
		return;
	}
	window_format_freeze(&f, shown, sizeof shown);
	if (window_parse_freeze(shown, &again, &col, why) < 0 || memcmp(&f, &again, sizeof f))
		abort();
	(void)window_frozen(&f, 1, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	time_t t;

	if (size < 5 || size > 512)
		return 0;
	t = (time_t)(((uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
		      (uint32_t)data[3] << 8 | data[4]));
	s = malloc(size - 4);
	if (!s)
		return 0;
	memcpy(s, data + 5, size - 5);
	s[size - 5] = '\0';
	if (data[0] & 1)
		one_freeze(s, t);
	else
		one_window(s, t);
	free(s);
	return 0;
}
