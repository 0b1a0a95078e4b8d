/* The inference thread: takes the newest frame from the source, runs the
 * active engine on it and hands the result to the main loop through a ring
 * and an eventfd. Swaps happen here, between two frames: an engine offered by
 * the main loop is picked up before the next frame, and the one it replaces is
 * handed back (retired) only after its last frame. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "capture/source.h"
#include "daemon/engine.h"

#define SL_RESULT_RING 128

typedef struct sl_pipeline sl_pipeline;

/* A swap that took effect: `from` ran its last frame (NULL for the first
 * engine); `to` runs from result `first_sequence` on. */
typedef struct {
	sl_engine *from; /* now owned by the receiver, to free */
	sl_engine *to;	 /* still owned by the pipeline */
	uint64_t first_sequence;
} sl_swap_event;

/* wake_fd: an eventfd the pipeline writes to whenever a result or a swap event
 * is ready. */
int sl_pipeline_new(int wake_fd, sl_pipeline **ret);
/* Frees the active and any offered engine; stops the thread first. */
sl_pipeline *sl_pipeline_free(sl_pipeline *p);

/* Starts the inference thread on src (not owned); capture is the spec the
 * source was created with. */
int sl_pipeline_start(sl_pipeline *p, sl_source *src, const sl_preprocess_spec *capture);
/* Joins the thread; the active engine stays for the next start. */
void sl_pipeline_stop(sl_pipeline *p);

/* Offer e (ownership passes) for the next frame. An engine offered earlier
 * and not taken yet is returned to the caller (to free). */
sl_engine *sl_pipeline_offer(sl_pipeline *p, sl_engine *e);

/* Main loop side. 1 with *ret filled, 0 when nothing is pending. */
int sl_pipeline_pop_result(sl_pipeline *p, sl_result *ret);
int sl_pipeline_pop_swap(sl_pipeline *p, sl_swap_event *ret);

/* Results overwritten in the ring before the main loop read them. */
uint64_t sl_pipeline_results_lost(sl_pipeline *p);
/* Advances every loop turn of the inference thread (at least every 100 ms
 * while it is alive), for the watchdog. */
uint64_t sl_pipeline_heartbeat(sl_pipeline *p);
uint64_t sl_pipeline_inferred(sl_pipeline *p);

/* Synthetic slow-down for tests: sleep ms before each frame of the variant
 * named (NULL/empty: every variant); 0 switches it off. */
void sl_pipeline_set_delay(sl_pipeline *p, int ms, const char *variant);
