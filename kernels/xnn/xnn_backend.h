/* XNNPACK backend: one XNNPACK operator per node it can run, bound to the
 * runtime's arena at prepare time. */
#pragma once

#include "kernels/runtime.h"

/* Idempotent and thread-safe; negative errno when XNNPACK can't initialise
 * (e.g. an unsupported CPU). */
int sl_xnn_init(void);

/* sl_prepare_fn: -EOPNOTSUPP when XNNPACK has no matching operator. */
int sl_xnn_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err);
