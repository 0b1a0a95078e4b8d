/* Sparse backend: runs pruned 1x1 CONV_2D and FULLY_CONNECTED nodes (int8,
 * uint8, fp32) on the block-sparse SpMM kernels of sparse.h, inside a runtime
 * whose other nodes go to XNNPACK (mixed execution, one shared pthreadpool).
 *
 * A node is claimed only when a cost model says the sparse kernel beats
 * XNNPACK's dense operator for it: the fraction of all-zero 1x4 weight blocks
 * must exceed a break-even fraction measured per ISA and dtype (see
 * sparse_backend.c). Either way the decision and its numbers go into
 * step->why so that `sightline inspect` can show why pruning paid off or not;
 * nodes the backend cannot run at all are declined with an empty why. */
#pragma once

#include "kernels/runtime.h"
#include "kernels/sparse/sparse.h"

/* sl_prepare_fn. Weights are packed here, once; run() allocates nothing. */
int sl_sparse_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err);

/* The packed weights a sparse step runs on (sl_sparse_q8 or sl_sparse_f32),
 * NULL for other steps. They live in the model's cache, so runtimes of one
 * model return the same pointer: for tests and inspect. */
const void *sl_sparse_step_packed(const sl_step *s);

/* Zero-block fraction above which a layer of this dtype (SL_DTYPE_I8/U8 or
 * F32) is taken sparse on this CPU, in [0, 1]; *ret_isa names the ISA the
 * figure was measured for. */
double sl_sparse_break_even(sl_dtype dtype, const char **ret_isa);

/* How an int8 layer is requantized under fast numerics: as XNNPACK's dense
 * operator for it would, so that a sparse layer gives the same bytes. On x86
 * XNNPACK's int8 kernels (qs8, qc8, qu8) all round fp32; on AArch64 its
 * per-channel (qc8) ones fp32, its per-tensor (qs8, qu8) ones rndnu. TFLite's
 * when the best kernel here has no such mode. */
sl_sparse_rq sl_sparse_fast_requant(bool per_channel);
