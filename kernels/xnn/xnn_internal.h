/* Shared plumbing of the XNNPACK backend: one "job" per node being prepared,
 * the step state (the node's operators and the buffers they read), and helpers
 * that map IR tensors and quantization onto XNNPACK's arguments. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <xnnpack.h>

#include "kernels/xnn/xnn_backend.h"

/* CONCATENATION needs one copy operator per input. */
#define SL_XNN_MAX_OPS	32
#define SL_XNN_MAX_BUFS 4

typedef struct {
	pthreadpool_t pool;
	int n_ops;
	xnn_operator_t ops[SL_XNN_MAX_OPS];
	/* Padded copies of constant tensors read at run time (XNNPACK may read
	 * XNN_EXTRA_BYTES past the end of an input, which a file mapping may
	 * not allow). */
	int n_bufs;
	void *bufs[SL_XNN_MAX_BUFS];
} sl_xnn_state;

typedef struct {
	const sl_prepare_ctx *ctx;
	const sl_model *m;
	const sl_node *n;
	sl_step *step;
	sl_error *err;
	sl_xnn_state *st;
} sl_xnn_job;

/* How XNNPACK sees an activation tensor. */
typedef enum {
	SL_XNN_OTHER, /* nothing XNNPACK handles (int32, per-channel activations, ...) */
	SL_XNN_F32,
	SL_XNN_QU8, /* uint8, per-tensor asymmetric (TF1) */
	SL_XNN_QS8, /* int8, per-tensor */
} sl_xnn_kind;

sl_xnn_kind sl_xnn_kind_of(const sl_tensor *t);
const char *sl_xnn_kind_name(sl_xnn_kind k);

/* Tensor `i` of the node's inputs / outputs, NULL when absent. */
const sl_tensor *sl_xnn_in(const sl_xnn_job *j, int i);
const sl_tensor *sl_xnn_out(const sl_xnn_job *j, int i);

/* Address of input / output `i` at run time: the arena for activations, a
 * padded state-owned copy for constants. NULL only on allocation failure
 * (err is filled). */
void *sl_xnn_in_ptr(sl_xnn_job *j, int i);
void *sl_xnn_out_ptr(sl_xnn_job *j, int i);

/* Float weights (XNNPACK packs them at create time), NULL unless constant
 * fp32. Finalize already insists on constant weights; importers fold fp16
 * weights behind DEQUANTIZE. */
const float *sl_xnn_const_f32(const sl_xnn_job *j, int tensor);

/* Records why XNNPACK doesn't take the node and returns -EOPNOTSUPP. */
int sl_xnn_decline(sl_xnn_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Describes the claim in step->why (truncated to fit). */
void sl_xnn_set_why(sl_xnn_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps an XNNPACK status: 0 on success, -ENOMEM (hard error) when out of
 * memory, otherwise declines naming `what`. */
int sl_xnn_check(sl_xnn_job *j, enum xnn_status s, const char *what);

/* Takes ownership of op (deleted with the step, also on failure). */
int sl_xnn_push_op(sl_xnn_job *j, xnn_operator_t op);

/* Fused activation bounds, computed like TFLite's CalculateActivationRange*:
 * the quantized version returns false when the range is empty. */
void sl_xnn_act_range_f32(sl_act act, float *lo, float *hi);
bool sl_xnn_act_range_q(sl_act act, const sl_tensor *out, int32_t *lo, int32_t *hi);

/* True when two per-tensor quantized tensors share scale and zero point. */
bool sl_xnn_same_quant(const sl_tensor *a, const sl_tensor *b);

/* Per-op preparers, each returning like sl_prepare_fn. */
int sl_xnn_prepare_conv(sl_xnn_job *j);
int sl_xnn_prepare_fully_connected(sl_xnn_job *j);
int sl_xnn_prepare_binary(sl_xnn_job *j);
int sl_xnn_prepare_pool(sl_xnn_job *j);
int sl_xnn_prepare_mean(sl_xnn_job *j);
int sl_xnn_prepare_unary(sl_xnn_job *j);
int sl_xnn_prepare_softmax(sl_xnn_job *j);
int sl_xnn_prepare_convert(sl_xnn_job *j);
int sl_xnn_prepare_pad(sl_xnn_job *j);
int sl_xnn_prepare_concat(sl_xnn_job *j);
int sl_xnn_prepare_reshape(sl_xnn_job *j);
