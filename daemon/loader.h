/* The loader thread: builds engines (parse, runtime, head) and frees retired
 * ones, so neither the main loop nor the inference thread ever waits for a
 * model file. Jobs run in order; finished loads come back through wake_fd. */
#pragma once

#include <stdint.h>

#include "daemon/engine.h"
#include "daemon/ladder.h"

typedef struct sl_loader sl_loader;

typedef struct {
	uint64_t id;	   /* as returned by sl_loader_load */
	sl_engine *engine; /* NULL on failure */
	int error;
	char message[512];
} sl_load_done;

/* cache_bytes: the model cache's limit (sl_model_cache_new). */
int sl_loader_new(int wake_fd, size_t cache_bytes, sl_loader **ret);
sl_loader *sl_loader_free(sl_loader *l); /* waits for the running job, drops the rest */

/* Queue a load of v (copied) with o (copied). Returns a job id > 0. */
int sl_loader_load(sl_loader *l, const sl_variant_desc *v, const sl_engine_options *o, uint64_t generation,
		   uint64_t *ret_id);
void sl_loader_free_engine(sl_loader *l, sl_engine *e);
/* Forget parsed models (after a reload: files may have changed), and keep
 * up to cache_bytes from now on. */
void sl_loader_flush_cache(sl_loader *l, size_t cache_bytes);
int sl_loader_pop_done(sl_loader *l, sl_load_done *ret); /* 1, or 0 when none */
