/* A runtime is one executable instance of a model: its activation arena (one
 * allocation, reused every frame) and one step per node, each run by the
 * backend that claimed it. invoke() allocates nothing. */
#pragma once

#include "kernels/model.h"

typedef enum {
	SL_BACKEND_REF,	    /* scalar reference ops only */
	SL_BACKEND_XNNPACK, /* XNNPACK where it has the op, reference otherwise */
	SL_BACKEND_DENSE,   /* our dense int8 kernels (NEON, AVX2) where they apply, reference otherwise */
} sl_backend;

/* How int8/uint8 operators round. TFLite's reference kernels requantize in
 * gemmlowp fixed point (two roundings); XNNPACK's x86 kernels use one fp32
 * multiply, which differs by one step now and then, and the differences grow
 * through a network (top-1 changes on about 2 % of ImageNet images). */
typedef enum {
	/* Bit-exact with TFLite's reference kernels on every backend and CPU:
	 * XNNPACK keeps only the int8 operators that do not round (max pool, pad,
	 * concatenation, reshape, clamps); convolutions, fully connected and ADD
	 * run on our own kernels (kernels/dense, kernels/sparse), the rest on the
	 * reference. The default. */
	SL_NUMERICS_TFLITE,
	/* XNNPACK's own int8 kernels where it has them: what LiteRT's XNNPACK
	 * delegate computes. The sparse kernels requantize as they do (fp32 on
	 * x86 and for per-channel weights on AArch64, rndnu for per-tensor ones
	 * there), so sparse and dense layers give the same bytes. */
	SL_NUMERICS_FAST,
} sl_numerics;

typedef struct {
	sl_backend backend;
	sl_numerics numerics;
	int threads; /* 0 or 1: single-threaded */
	/* SL_BACKEND_XNNPACK only: keep pruned 1x1 CONV_2D / FULLY_CONNECTED
	 * layers on XNNPACK's dense operators instead of the sparse kernels
	 * (for comparisons; false, the default, lets the cost model choose). */
	bool no_sparse;
	/* With threads > 1: send the pool's workers to sleep at the end of every
	 * invoke. pthreadpool's workers otherwise spin after each parallel call,
	 * tens of milliseconds on x86, so a caller that invokes at a frame rate
	 * (the daemon) pays most of a core per worker for nothing; one that
	 * invokes back to back (benchmarks) is better served by the spinning. */
	bool yield_workers;
	/* With threads > 1: at the first invoke from a thread, pin that thread to
	 * the first CPU the process may use (its affinity when a runtime first
	 * pinned) and each pool worker to one of the next. The pool's threads
	 * spin-wait for one another, so a worker the scheduler wakes onto the
	 * caller's CPU stalls the operation until one of them is preempted: in a
	 * VM, waking after an idle gap did so for ~8 ms of most frames (idle
	 * vCPUs look busy to the guest). The caller stays pinned afterwards. */
	bool pin_threads;
} sl_runtime_options;

/* Which implementation executes a node, for `sightline inspect`. */
typedef enum {
	SL_IMPL_REF,
	SL_IMPL_XNNPACK,
	SL_IMPL_SPARSE,
	SL_IMPL_DENSE,
	SL_IMPL_NONE, /* no-op, e.g. RESHAPE aliasing its input */
} sl_impl;

typedef struct sl_runtime sl_runtime;

/* One executable step. run() gets the runtime's arena base. */
typedef struct sl_step {
	sl_impl impl;
	int node; /* index into model->nodes */
	int (*run)(struct sl_step *s, uint8_t *arena);
	void (*destroy)(struct sl_step *s);
	void *state;
	char why[96]; /* reason for the choice, for inspect */
} sl_step;

/* What a backend gets to prepare one node: the arena is allocated before any
 * step is prepared and never moves, so backends may bind pointers into it
 * (XNNPACK's setup) once, at prepare time. */
struct pthreadpool;
typedef struct {
	const sl_model *model;
	uint8_t *arena;
	struct pthreadpool *pool; /* NULL when single-threaded */
	int threads;
	sl_numerics numerics;
} sl_prepare_ctx;

/* Each backend: claim node `node` by filling *step (run, destroy, state,
 * impl, why) and returning 0; -EOPNOTSUPP to let the next backend try; any
 * other negative value is a hard error described in err. */
typedef int (*sl_prepare_fn)(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err);

const char *sl_backend_name(sl_backend b);
int sl_backend_from_string(const char *s, sl_backend *ret);
const char *sl_impl_name(sl_impl i);
const char *sl_numerics_name(sl_numerics n);
/* The numerics a runtime of backend b really computes with: only xnnpack has
 * a fast mode, the others always round as TFLite does. */
sl_numerics sl_numerics_effective(sl_backend b, sl_numerics n);
int sl_numerics_from_string(const char *s, sl_numerics *ret);

int sl_runtime_new(sl_model *m, const sl_runtime_options *opt, sl_runtime **ret, sl_error *err);
sl_runtime *sl_runtime_free(sl_runtime *rt); /* NULL is a no-op; returns NULL */
static inline void sl_runtime_freep(sl_runtime **rt)
{
	sl_runtime_free(*rt);
}

sl_model *sl_runtime_model(const sl_runtime *rt);
/* Pointers into the arena; valid for the runtime's lifetime. */
void *sl_runtime_tensor_data(sl_runtime *rt, int tensor);
void *sl_runtime_input(sl_runtime *rt, int i);
const void *sl_runtime_output(sl_runtime *rt, int i);
const sl_tensor *sl_runtime_input_tensor(const sl_runtime *rt, int i);
const sl_tensor *sl_runtime_output_tensor(const sl_runtime *rt, int i);

int sl_runtime_invoke(sl_runtime *rt);
/* invoke() on whatever the input holds, without pin_threads: the first run
 * of a runtime pays its page faults and first-use setup, so a caller that
 * prepares runtimes on one thread and runs them on another (the daemon's
 * loader) can pay it there, and find a broken model before it serves. */
int sl_runtime_warm_up(sl_runtime *rt);
/* invoke() that calls cb after each step with the tensor that step produced,
 * while its data is still valid (the arena planner reuses memory, so a
 * tensor may be overwritten by later steps). For calibration and debugging. */
typedef void (*sl_runtime_observer)(void *userdata, int tensor, const void *data);
int sl_runtime_invoke_observed(sl_runtime *rt, sl_runtime_observer cb, void *userdata);
/* invoke() that writes each step's wall time (ms) to step_ms[n_steps]: for
 * profiles (`sightline inspect --profile`). */
int sl_runtime_invoke_timed(sl_runtime *rt, double *step_ms);

int sl_runtime_n_steps(const sl_runtime *rt);
const sl_step *sl_runtime_step(const sl_runtime *rt, int i);
