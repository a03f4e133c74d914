/* SPDX-License-Identifier: Apache-2.0 */
/* A thread of upgr's own beside the main one (the tree scan, the objects
 * index checked while the manifest is parsed, the console's fetches of
 * reports). Signals stay the main
 * thread's: it is the one that handles them (exec.c, lease.c), so a
 * worker starts with every signal blocked. */
#ifndef UPGR_WORKER_H
#define UPGR_WORKER_H

#include <pthread.h>
#include <stdbool.h>

/* Start fn(arg) on a thread of its own: true, with *t to join; false
 * when no thread could be made (the caller then runs fn itself). */
bool worker_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
