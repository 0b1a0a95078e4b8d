/* An engine is one variant ready to run: its runtime, the preprocessing that
 * feeds it and the head that reads its answer. Engines are built on the loader
 * thread, run on the inference thread only, and freed after their last frame. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/source.h"
#include "daemon/ladder.h"
#include "dbus/service.h"
#include "kernels/model.h"

#define SL_RESULT_MAX_CLASSES	 10
#define SL_RESULT_MAX_DETECTIONS 32
#define SL_LABEL_MAX		 128 /* the longest ImageNet label is 121 bytes */

typedef struct {
	int32_t index;
	float score;
	char label[SL_LABEL_MAX]; /* copied: a result outlives its engine */
} sl_result_class;

typedef struct {
	int32_t cls;
	float score;
	float x0, y0, x1, y1; /* normalised to the source image */
} sl_result_det;

/* Fixed size, so results move through the ring without allocating. */
typedef struct {
	uint64_t sequence;     /* daemon-wide, +1 per inferred frame, never skips */
	uint64_t timestamp_us; /* capture time (CLOCK_MONOTONIC) */
	uint64_t done_us;      /* result ready (CLOCK_MONOTONIC) */
	double latency_ms;     /* frame taken -> result ready: preprocess, invoke, head */
	uint64_t generation;   /* of the engine that produced it */
	char variant[SL_DBUS_NAME_MAX + 1];
	int error; /* negative errno when invoke failed; no classes then */
	int n_classes;
	sl_result_class classes[SL_RESULT_MAX_CLASSES];
	int n_detections;
	sl_result_det detections[SL_RESULT_MAX_DETECTIONS];
} sl_result;

typedef struct {
	const char *backend; /* "xnnpack" | "ref" | "dense" */
	bool fast_numerics;  /* XNNPACK's own int8 rounding instead of TFLite's */
	int threads;
	int top_k;
	float score_threshold;
} sl_engine_options;

typedef struct sl_engine sl_engine;

/* Models already parsed, by path: a swap back to a variant only builds a new
 * runtime. The most recently used ones whose files add up to at most
 * max_bytes are kept (0: none). Loader thread only. */
typedef struct sl_model_cache sl_model_cache;
sl_model_cache *sl_model_cache_new(size_t max_bytes);
void sl_model_cache_flush(sl_model_cache *c);
void sl_model_cache_set_limit(sl_model_cache *c, size_t max_bytes);
sl_model_cache *sl_model_cache_free(sl_model_cache *c);
/* The model of a file, parsed or from the cache (c may be NULL); a file
 * replaced on disk (new mtime or size) is parsed again. */
int sl_model_cache_get(sl_model_cache *c, const char *path, sl_model **ret, sl_error *err);
/* Files held, and their total size. */
int sl_model_cache_count(const sl_model_cache *c);
size_t sl_model_cache_bytes(const sl_model_cache *c);

int sl_engine_load(const sl_variant_desc *v, const sl_engine_options *o, sl_model_cache *cache,
		   uint64_t generation, sl_engine **ret, char *errbuf, size_t errlen);
sl_engine *sl_engine_free(sl_engine *e); /* NULL-safe */

const char *sl_engine_name(const sl_engine *e);
uint64_t sl_engine_generation(const sl_engine *e);
double sl_engine_macs(const sl_engine *e);
/* A problem found at load that does not stop the variant serving (labels
 * that do not fit the model), for the daemon to log; NULL if none. */
const char *sl_engine_note(const sl_engine *e);

/* One frame: src is the capture image (the source's preprocess output, RGB
 * U8), f gives timestamps and the source mapping. Fills everything in out but
 * sequence. Allocates nothing. */
int sl_engine_run(sl_engine *e, const sl_image *src, const sl_frame *f, sl_result *out);
