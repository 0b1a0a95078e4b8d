/* Latest-frame-wins hand-off between one producer (the capture thread) and
 * its consumers: a fixed set of preallocated tensors, no queue. With three
 * slots and a consumer holding one frame, the producer always finds a free
 * slot. Internal to capture/. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/source.h"

#define SL_SLOTS_MAX 4

typedef enum { SLOT_FREE, SLOT_WRITING, SLOT_READY, SLOT_HELD } sl_slot_state;

typedef struct {
	void *data;
	sl_slot_state state;
	sl_frame meta;
} sl_slot;

typedef struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	sl_slot slot[SL_SLOTS_MAX];
	int n;
	int ready; /* newest published, not yet taken; -1 if none */
	bool closed;
	int efd; /* eventfd: readable while a frame is ready */
	atomic_uint_fast64_t stale;
} sl_slots;

int sl_slots_init(sl_slots *s, int n, size_t bytes);
void sl_slots_destroy(sl_slots *s);

/* Producer: a slot to write into, or -1 when the consumers hold every slot
 * (the frame is then dropped and counted as stale). A ready frame nobody took
 * yet may be recycled: it is stale anyway. */
int sl_slots_begin(sl_slots *s);
void *sl_slots_data(sl_slots *s, int i);
void sl_slots_publish(sl_slots *s, int i, const sl_frame *meta);
void sl_slots_abort(sl_slots *s, int i);
/* No more frames: consumers get -EPIPE once the last ready one is taken. */
void sl_slots_close(sl_slots *s);

/* Consumer: timeout_ms < 0 waits forever, 0 polls. */
int sl_slots_acquire(sl_slots *s, int timeout_ms, sl_frame *ret);
void sl_slots_release(sl_slots *s, int i);
