/* Shared by the node adapters of kernels/ref (node*.c): they turn one IR node
 * into a prepared sl_step whose state holds the pure kernel's argument struct
 * (ref_kernels.h) with every parameter precomputed. Internal to kernels/ref. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/ref/ref_kernels.h"
#include "kernels/runtime.h"

/* Where a tensor's bytes are at run time: constants have fixed data,
 * activations live at an offset in the arena passed to run(). */
typedef struct {
	const void *cdata;
	size_t off;
} sl_ref_tref;

static inline void *sl_ref_tptr(const sl_ref_tref *r, uint8_t *arena)
{
	return r->cdata ? (void *)r->cdata : (void *)(arena + r->off);
}

typedef struct {
	const sl_model *m;
	const sl_node *n;
	int idx;
	sl_error *err;
} sl_ref_nctx;

/* Tensor of input slot k (NULL when absent) and of the output. */
const sl_tensor *sl_ref_in(const sl_ref_nctx *c, int k);
const sl_tensor *sl_ref_out(const sl_ref_nctx *c);
sl_ref_tref sl_ref_tref_of(const sl_tensor *t);

bool sl_ref_is_q8(sl_dtype t);
/* Per-tensor scale / zero point (entry 0). */
float sl_ref_scale(const sl_tensor *t);
int32_t sl_ref_zp(const sl_tensor *t);

/* Writes "node N (OP): <fmt>" into err and returns code. */
int sl_ref_fail(const sl_ref_nctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* -SL_E_UNSUPPORTED naming the op and the dtypes of all inputs and the output. */
int sl_ref_unsupported_dtypes(const sl_ref_nctx *c);

/* Fills the step for a prepared state (freed by the step's destroy). */
void sl_ref_step_set(sl_step *step, void *state, int (*run)(sl_step *s, uint8_t *arena));

/* One prepare function per op family; each returns 0 after filling step. */
int sl_ref_prep_conv(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_fc(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_binary(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_pool(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_mean(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_relu(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_hard_swish(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_logistic(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_softmax(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_quantize(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_dequantize(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_reshape(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_pad(const sl_ref_nctx *c, sl_step *step);
int sl_ref_prep_concat(const sl_ref_nctx *c, sl_step *step);
