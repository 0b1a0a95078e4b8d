#include "daemon/pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"

#define SWAP_RING 16

struct sl_pipeline {
	int wake_fd;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	sl_source *src;
	sl_preprocess_spec capture;

	pthread_mutex_t lock; /* guards everything below */
	sl_engine *active;    /* inference thread's; read by others only under lock */
	sl_engine *offered;
	sl_result ring[SL_RESULT_RING];
	uint64_t next_seq; /* sequence of the next result */
	uint64_t read_seq; /* next sequence the main loop will read */
	uint64_t lost;
	sl_swap_event swaps[SWAP_RING];
	int swap_head, swap_n;
	int delay_ms;
	char delay_variant[SL_DBUS_NAME_MAX + 1];

	atomic_uint_fast64_t heartbeat;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void wake(sl_pipeline *p)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the loop will come anyway. */
	(void)!write(p->wake_fd, &one, sizeof(one));
}

int sl_pipeline_new(int wake_fd, sl_pipeline **ret)
{
	sl_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->wake_fd = wake_fd;
	p->next_seq = 1;
	p->read_seq = 1;
	pthread_mutex_init(&p->lock, NULL);
	*ret = p;
	return 0;
}

sl_pipeline *sl_pipeline_free(sl_pipeline *p)
{
	if (!p)
		return NULL;
	sl_pipeline_stop(p);
	for (int i = 0; i < p->swap_n; i++)
		sl_engine_free(p->swaps[(p->swap_head + i) % SWAP_RING].from);
	sl_engine_free(p->active);
	sl_engine_free(p->offered);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return NULL;
}

/* Between two frames: take an offered engine. The swap queue is bounded; when
 * the main loop has not drained it yet, the swap waits for the next turn (the
 * old engine keeps serving, nothing is lost). */
static sl_engine *take_offer(sl_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->offered && p->swap_n < SWAP_RING) {
		sl_swap_event *ev = &p->swaps[(p->swap_head + p->swap_n) % SWAP_RING];
		*ev = (sl_swap_event){.from = p->active, .to = p->offered, .first_sequence = p->next_seq};
		p->swap_n++;
		p->active = p->offered;
		p->offered = NULL;
		pthread_mutex_unlock(&p->lock);
		wake(p);
		pthread_mutex_lock(&p->lock);
	}
	sl_engine *e = p->active;
	pthread_mutex_unlock(&p->lock);
	return e;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int injected_delay(sl_pipeline *p, const sl_engine *e)
{
	pthread_mutex_lock(&p->lock);
	int ms = p->delay_ms;
	if (ms && p->delay_variant[0] && strcmp(p->delay_variant, sl_engine_name(e)) != 0)
		ms = 0;
	pthread_mutex_unlock(&p->lock);
	return ms;
}

static void publish(sl_pipeline *p, sl_result *res)
{
	pthread_mutex_lock(&p->lock);
	res->sequence = p->next_seq++;
	p->ring[res->sequence % SL_RESULT_RING] = *res;
	/* The main loop fell a whole ring behind: the oldest is gone; say so. */
	if (p->next_seq - p->read_seq > SL_RESULT_RING) {
		p->lost += p->next_seq - p->read_seq - SL_RESULT_RING;
		p->read_seq = p->next_seq - SL_RESULT_RING;
	}
	pthread_mutex_unlock(&p->lock);
	wake(p);
}

static void *thread_main(void *arg)
{
	sl_pipeline *p = arg;
	sl_result res;
	bool ended = false;

	while (!atomic_load(&p->stop)) {
		atomic_fetch_add(&p->heartbeat, 1);
		sl_engine *e = take_offer(p);
		if (ended) {
			sleep_ms(50);
			continue;
		}
		sl_frame f;
		int r = sl_source_acquire(p->src, 100, &f);
		if (r == -EPIPE) {
			ended = true; /* keep turning: swaps and the heartbeat go on */
			continue;
		}
		if (r < 0)
			continue;
		/* A swap offered while we waited still lands before this frame. */
		e = take_offer(p);
		if (!e) {
			sl_source_release(p->src, &f);
			continue;
		}
		uint64_t t0 = now_us();
		sl_image img = {.width = p->capture.width,
				.height = p->capture.height,
				.stride = (size_t)p->capture.width * 3,
				.data = (uint8_t *)f.data};
		/* In slices, so that stopping never waits for a long synthetic delay. */
		for (int left = injected_delay(p, e); left > 0 && !atomic_load(&p->stop); left -= 20)
			sleep_ms(SL_MIN(left, 20));
		(void)sl_engine_run(e, &img, &f, &res);
		sl_source_release(p->src, &f);
		res.timestamp_us = f.timestamp_us;
		res.done_us = now_us();
		res.latency_ms = (double)(res.done_us - t0) / 1000.0;
		publish(p, &res);
	}
	return NULL;
}

int sl_pipeline_start(sl_pipeline *p, sl_source *src, const sl_preprocess_spec *capture)
{
	if (p->running)
		return -EBUSY;
	if (capture->type != SL_PIXEL_U8)
		return -EINVAL;
	p->src = src;
	p->capture = *capture;
	atomic_store(&p->stop, false);
	int r = -pthread_create(&p->thread, NULL, thread_main, p);
	if (r < 0)
		return r;
	p->running = true;
	return 0;
}

void sl_pipeline_stop(sl_pipeline *p)
{
	if (!p->running)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	p->running = false;
	p->src = NULL;
}

sl_engine *sl_pipeline_offer(sl_pipeline *p, sl_engine *e)
{
	pthread_mutex_lock(&p->lock);
	sl_engine *old = p->offered;
	p->offered = e;
	pthread_mutex_unlock(&p->lock);
	/* Not running (no source): the swap still has to happen for the API. */
	if (!p->running)
		(void)take_offer(p);
	return old;
}

int sl_pipeline_pop_result(sl_pipeline *p, sl_result *ret)
{
	pthread_mutex_lock(&p->lock);
	int r = 0;
	if (p->read_seq < p->next_seq) {
		*ret = p->ring[p->read_seq % SL_RESULT_RING];
		p->read_seq++;
		r = 1;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

int sl_pipeline_pop_swap(sl_pipeline *p, sl_swap_event *ret)
{
	pthread_mutex_lock(&p->lock);
	int r = 0;
	if (p->swap_n > 0) {
		*ret = p->swaps[p->swap_head];
		p->swap_head = (p->swap_head + 1) % SWAP_RING;
		p->swap_n--;
		r = 1;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

uint64_t sl_pipeline_results_lost(sl_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t n = p->lost;
	pthread_mutex_unlock(&p->lock);
	return n;
}

uint64_t sl_pipeline_heartbeat(sl_pipeline *p)
{
	return atomic_load(&p->heartbeat);
}

uint64_t sl_pipeline_inferred(sl_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t n = p->next_seq - 1;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void sl_pipeline_set_delay(sl_pipeline *p, int ms, const char *variant)
{
	pthread_mutex_lock(&p->lock);
	p->delay_ms = ms > 0 ? ms : 0;
	snprintf(p->delay_variant, sizeof(p->delay_variant), "%s", variant ? variant : "");
	pthread_mutex_unlock(&p->lock);
}
