/* SPDX-License-Identifier: Apache-2.0 */
#include "worker.h"

#include <signal.h>

bool worker_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	bool ok;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_create(t, NULL, fn, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ok;
}
