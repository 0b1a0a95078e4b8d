#include "capture/slots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int sl_slots_init(sl_slots *s, int n, size_t bytes)
{
	pthread_condattr_t ca;
	memset(s, 0, sizeof(*s));
	s->efd = -1;
	s->ready = -1;
	if (n < 2 || n > SL_SLOTS_MAX || !bytes)
		return -EINVAL;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0)
		return -errno;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->n = n;
	for (int i = 0; i < n; i++) {
		/* 64-byte aligned so that SIMD consumers can load tensors directly */
		if (posix_memalign(&s->slot[i].data, 64, bytes)) {
			sl_slots_destroy(s);
			return -ENOMEM;
		}
		memset(s->slot[i].data, 0, bytes);
	}
	return 0;
}

void sl_slots_destroy(sl_slots *s)
{
	if (s->efd < 0)
		return;
	for (int i = 0; i < s->n; i++)
		free(s->slot[i].data);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	close(s->efd);
	s->efd = -1;
	s->n = 0;
}

int sl_slots_begin(sl_slots *s)
{
	int pick = -1;
	bool lost_one = false;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n && pick < 0; i++)
		if (s->slot[i].state == SLOT_FREE)
			pick = i;
	if (pick < 0 && s->ready >= 0) {
		pick = s->ready;
		s->ready = -1;
	}
	/* either the recycled ready frame or this one never reaches a consumer */
	lost_one = pick < 0 || s->slot[pick].state == SLOT_READY;
	if (pick >= 0)
		s->slot[pick].state = SLOT_WRITING;
	pthread_mutex_unlock(&s->lock);
	if (lost_one)
		atomic_fetch_add_explicit(&s->stale, 1, memory_order_relaxed);
	return pick;
}

void *sl_slots_data(sl_slots *s, int i)
{
	return s->slot[i].data;
}

void sl_slots_publish(sl_slots *s, int i, const sl_frame *meta)
{
	uint64_t one = 1;
	pthread_mutex_lock(&s->lock);
	if (s->ready >= 0 && s->ready != i) {
		s->slot[s->ready].state = SLOT_FREE;
		atomic_fetch_add_explicit(&s->stale, 1, memory_order_relaxed);
	}
	s->slot[i].meta = *meta;
	s->slot[i].meta.data = s->slot[i].data;
	s->slot[i].meta.slot = i;
	s->slot[i].state = SLOT_READY;
	s->ready = i;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* cannot fail short of 2^64 - 1 pending frames; EAGAIN is harmless */
	(void)!write(s->efd, &one, sizeof(one));
}

void sl_slots_abort(sl_slots *s, int i)
{
	pthread_mutex_lock(&s->lock);
	s->slot[i].state = SLOT_FREE;
	pthread_mutex_unlock(&s->lock);
}

void sl_slots_close(sl_slots *s)
{
	uint64_t one = 1;
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	(void)!write(s->efd, &one, sizeof(one)); /* wake event loops so they see -EPIPE */
}

int sl_slots_acquire(sl_slots *s, int timeout_ms, sl_frame *ret)
{
	struct timespec deadline;
	int r = 0;
	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&s->lock);
	while (s->ready < 0 && !s->closed && r == 0) {
		if (timeout_ms == 0)
			r = ETIMEDOUT;
		else if (timeout_ms < 0)
			pthread_cond_wait(&s->cond, &s->lock);
		else
			r = pthread_cond_timedwait(&s->cond, &s->lock, &deadline);
	}
	if (s->ready >= 0) {
		sl_slot *sl = &s->slot[s->ready];
		sl->state = SLOT_HELD;
		*ret = sl->meta;
		s->ready = -1;
		r = 0;
		uint64_t v;
		if (!s->closed) /* nothing ready any more; after the end, stay readable */
			(void)!read(s->efd, &v, sizeof(v));
	} else {
		r = s->closed ? -EPIPE : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void sl_slots_release(sl_slots *s, int i)
{
	if (i < 0 || i >= s->n)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->slot[i].state == SLOT_HELD)
		s->slot[i].state = SLOT_FREE;
	pthread_mutex_unlock(&s->lock);
}
