/* SPDX-License-Identifier: Apache-2.0 */
/* A memo of the last values parsed from exact bytes.
 *
 * One `upgr run` reads the same files several times: the installed
 * manifest when it decides, when it works out which objects it lacks and
 * when it plans; the new manifest when it checks the fetched copy and
 * when apply_release checks the cached one; the objects index when it is
 * fetched and when the plan takes its sizes. Each read re-verifies what it
 * must (hashes, signatures); only the parse, the same function of the same
 * bytes every time, is taken from the memo. A value is found only for
 * bytes equal to the ones it was parsed from (length and memcmp), and is
 * handed out as a deep copy, so callers own what they get exactly as if
 * they had parsed it. Failed parses are never kept.
 *
 * The memo lives for the process; small inputs are not kept (parsing them
 * costs less than keeping them). Safe to use from several threads. */
#ifndef UPGR_MEMO_H
#define UPGR_MEMO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define MEMO_SLOTS 2                 /* the installed file and the new one */
#define MEMO_MIN_BYTES (64u << 10)   /* smaller inputs are parsed each time */

struct memo_slot {
	void *bytes;                 /* a copy of the bytes parsed, or NULL */
	size_t len;
	void *value;                 /* what they parsed to (value_size bytes) */
};

struct memo {
	size_t value_size;
	void (*copy)(void *dst, const void *src);   /* deep copy into dst */
	void (*release)(void *value);               /* what copy allocated */
	pthread_mutex_t lock;
	struct memo_slot slot[MEMO_SLOTS];
	size_t next;                 /* the slot the next put replaces */
};

#define MEMO_INIT(type, copy_fn, release_fn) \
	{ sizeof(type), copy_fn, release_fn, PTHREAD_MUTEX_INITIALIZER, { { 0 } }, 0 }

/* A copy into out of the value parsed from exactly buf[0..len): true, or
 * false (out untouched) when there is none. */
bool memo_get(struct memo *m, const void *buf, size_t len, void *out);

/* Keep a copy of value, parsed from buf[0..len) (nothing when len is under
 * MEMO_MIN_BYTES), replacing the oldest slot. */
void memo_put(struct memo *m, const void *buf, size_t len, const void *value);

#endif
