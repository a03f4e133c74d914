/* SPDX-License-Identifier: Apache-2.0 */
/* The memo of parsed bytes (memo.h). */
#include "memo.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static struct memo_slot *find(struct memo *m, const void *buf, size_t len)
{
	size_t i;

	for (i = 0; i < MEMO_SLOTS; i++)
		if (m->slot[i].bytes && m->slot[i].len == len &&
		    !memcmp(m->slot[i].bytes, buf, len))
			return &m->slot[i];
	return NULL;
}

bool memo_get(struct memo *m, const void *buf, size_t len, void *out)
{
	struct memo_slot *s;

	if (len < MEMO_MIN_BYTES)
		return false;
	pthread_mutex_lock(&m->lock);
	s = find(m, buf, len);
	if (s)
		m->copy(out, s->value);
	pthread_mutex_unlock(&m->lock);
	return s != NULL;
}

void memo_put(struct memo *m, const void *buf, size_t len, const void *value)
{
	struct memo_slot *s;

	if (len < MEMO_MIN_BYTES)
		return;
	pthread_mutex_lock(&m->lock);
	if (!find(m, buf, len)) {
		s = &m->slot[m->next];
		m->next = (m->next + 1) % MEMO_SLOTS;
		if (s->bytes) {
			m->release(s->value);
			free(s->value);
			free(s->bytes);
		}
		s->bytes = xmalloc(len);
		memcpy(s->bytes, buf, len);
		s->len = len;
		s->value = xcalloc(1, m->value_size);
		m->copy(s->value, value);
	}
	pthread_mutex_unlock(&m->lock);
}
