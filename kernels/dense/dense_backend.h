/* Dense backend: claims int8/uint8 CONV_2D (groups 1), DEPTHWISE_CONV_2D
 * (depth multiplier 1), FULLY_CONNECTED and same-shape ADD nodes and runs them
 * on the dense kernels (kernels/dense/dense.h: NEON on aarch64, AVX2 on
 * x86-64), bit-exact with the reference.
 * Weights are packed and scratch allocated at prepare time. Everything else
 * (other ops, fp32, x86) is declined with -EOPNOTSUPP for the next backend. */
#pragma once

#include "kernels/dense/dense.h"
#include "kernels/runtime.h"

/* sl_prepare_fn with the best kernels for this CPU. */
int sl_dense_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err);

/* The same with given kernels, on any architecture: the x86 tests pass the
 * SIMDe builds of the NEON kernels. gemm may be NULL (no GEMM nodes
 * claimed); the first usable depthwise kernel of dw[0..n_dw) is taken. */
typedef struct {
	const sl_dense_gemm_impl *gemm;
	const sl_dense_dw_impl *dw;
	size_t n_dw;
	const sl_dense_add_impl *add; /* NULL: ADD nodes declined */
} sl_dense_kernels;
int sl_dense_prepare_kernels(const sl_prepare_ctx *ctx, int node, const sl_dense_kernels *k, sl_step *step,
			     sl_error *err);
