/* Internal helpers of the model IR, shared by model.c and the parts of
 * sl_model_finalize (model_check.c, model_shapes.c, model_arena.c); not for
 * other modules. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"
#include "kernels/model.h"

/* Limits that turn absurd (fuzzed or corrupt) models into errors instead of
 * overflows or multi-GiB allocations. */
#define SL_MAX_TENSOR_BYTES ((size_t)1 << 30)
#define SL_MAX_ARENA_BYTES  ((size_t)2 << 30)
#define SL_MAX_ITEMS	    (1 << 20) /* tensors, owned buffers */
#define SL_MAX_NODES	    (1 << 15) /* the arena planner is quadratic in nodes */
#define SL_MAX_GRAPH_IO	    4096
#define SL_MAX_NODE_IO	    4096      /* inputs of one node (CONCATENATION) */
#define SL_MAX_QUANT_N	    (1 << 24) /* per-channel entries */
#define SL_ARENA_ALIGN	    64

/* ---- errors (model.c) ---- */

/* Writes "<file>: <text>" into err and returns -code. */
int mi_fail(const sl_model *m, sl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline const char *mi_tname(const sl_model *m, int t)
{
	const char *n = m->tensors[t].name;
	return n ? n : "";
}

/* ---- dtypes ---- */

/* The bytes t's shape and type need (*ret), or -1 when beyond
 * SL_MAX_TENSOR_BYTES or not computable (a negative dimension). */
static inline int mi_tensor_bytes(const sl_tensor *t, size_t *ret)
{
	const int64_t n = sl_tensor_numel(t);
	size_t bytes;
	if (n < 0 || !sl_mul_size((size_t)n, sl_dtype_size(t->dtype), &bytes) || bytes > SL_MAX_TENSOR_BYTES)
		return -1;
	*ret = bytes;
	return 0;
}

static inline bool mi_is_act_dtype(sl_dtype d)
{
	return d == SL_DTYPE_F32 || d == SL_DTYPE_I8 || d == SL_DTYPE_U8;
}

static inline bool mi_is_quant_dtype(sl_dtype d)
{
	return d == SL_DTYPE_I8 || d == SL_DTYPE_U8;
}

/* ---- finalize steps, in the order sl_model_finalize runs them ---- */

/* model_check.c */
int mi_check_tensors(sl_model *m, sl_error *err);
/* Fills gin[t] = 1 for graph inputs. */
int mi_check_io(sl_model *m, uint8_t *gin, sl_error *err);
int mi_check_nodes(sl_model *m, const uint8_t *gin, sl_error *err);
int mi_topo_order(sl_model *m, sl_error *err);

/* model_shapes.c */
int mi_infer_shapes(sl_model *m, sl_error *err);
/* Sizes and quantization of every tensor, once all shapes are known. */
int mi_check_sizes_and_quant(sl_model *m, const uint8_t *gin, sl_error *err);
