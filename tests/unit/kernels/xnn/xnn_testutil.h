/* Helpers for the XNNPACK backend tests: build small graphs with the IR
 * builder, run them on the reference and the XNNPACK backends with the same
 * random inputs, and measure how far the outputs are apart. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernels/model.h"
#include "kernels/runtime.h"

typedef struct {
	sl_model *m;
	uint64_t rng;
	int focus; /* node whose implementation the comparison reports */
} xt_graph;

void xt_init(xt_graph *g, uint64_t seed);
void xt_fini(xt_graph *g);

uint32_t xt_rand(xt_graph *g);
double xt_uniform(xt_graph *g, double lo, double hi);

/* Activation tensor; quantized (per-tensor) when scale > 0. rank 0 lets
 * finalize infer the shape. */
int xt_act(xt_graph *g, sl_dtype dt, int rank, const int32_t *dims, float scale, int32_t zp);

/* Constant with uniformly random values in [lo, hi] (rounded for integer
 * dtypes), quantized with qn scale/zero-point pairs along `axis` (qn 0: not
 * quantized). */
int xt_const(xt_graph *g, sl_dtype dt, int rank, const int32_t *dims, double lo, double hi, int qn,
	     const float *scales, const int32_t *zps, int axis);
/* Constant int32 vector with the given values (MEAN axes, PAD paddings). */
int xt_const_i32(xt_graph *g, int n, const int32_t *v, int rank, const int32_t *dims);

/* Adds a copy of *tmpl wired to the given inputs and one output; it becomes
 * the focus node. */
int xt_node(xt_graph *g, const sl_node *tmpl, int n_in, const int32_t *in, int out);

/* Declares graph inputs/outputs and finalizes (asserts success). */
void xt_finish(xt_graph *g, int n_in, const int32_t *in, int out);

typedef struct {
	int64_t n;	 /* output elements compared */
	int64_t n_diff;	 /* quantized: elements that differ at all; f32: beyond tolerance */
	double max_diff; /* quantized: largest difference in steps; f32: largest relative error */
	sl_impl impl;	 /* implementation of the focus node in the XNNPACK runtime */
	char why[64];
} xt_result;

/* Builds a reference and an XNNPACK runtime (threads), feeds both the same
 * random inputs (`rounds` times) and compares output 0. */
void xt_compare(xt_graph *g, int threads, int rounds, xt_result *ret);

/* Output scale that keeps a K-term int8 dot product of full-range operands
 * mostly inside the output range. */
float xt_acc_out_scale(float in_scale, float w_scale, int k);
