/* Scalar reference operators: TFLite semantics in fp32 and int8/uint8
 * (int32 accumulation, gemmlowp requantization from kernels/quant.h). They are
 * the ground truth for every faster kernel and the fallback for every node. */
#pragma once

#include "kernels/runtime.h"

/* Prepare a reference step for any supported node (precomputes per-channel
 * multipliers etc. so that run() allocates nothing). Returns -SL_E_UNSUPPORTED
 * with err naming op and dtypes when the combination is not implemented. */
int sl_ref_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err);
