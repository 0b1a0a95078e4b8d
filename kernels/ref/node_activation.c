/* Node adapters for RELU, RELU6, HARD_SWISH, LOGISTIC and SOFTMAX. */
#include <math.h>
#include <stdlib.h>

#include "kernels/ref/node_internal.h"

/* Element-wise unary nodes: same shape in and out. */
typedef struct {
	sl_op op;
	bool quant;
	size_t n;
	sl_ref_tref in, out;
	float lo, hi; /* fp32 RELU/RELU6 */
	sl_ref_relu_q8_args relu;
	sl_ref_hard_swish_q8_args hswish;
	uint8_t lut[256];
} unary_state;

static int unary_check(const sl_ref_nctx *c)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	if ((in->dtype != SL_DTYPE_F32 && !sl_ref_is_q8(in->dtype)) || in->dtype != out->dtype)
		return sl_ref_unsupported_dtypes(c);
	if (sl_tensor_numel(in) != sl_tensor_numel(out))
		return sl_ref_fail(c, -SL_E_SHAPE, "input and output sizes differ");
	if (sl_ref_is_q8(in->dtype) && (in->q.n != 1 || out->q.n != 1))
		return sl_ref_fail(c, -SL_E_UNSUPPORTED, "needs per-tensor quantization");
	return 0;
}

static unary_state *unary_new(const sl_ref_nctx *c)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	unary_state *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->op = c->n->op;
	st->quant = sl_ref_is_q8(in->dtype);
	st->n = (size_t)sl_tensor_numel(in);
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	return st;
}

static int run_unary(sl_step *s, uint8_t *arena)
{
	const unary_state *st = s->state;
	const void *in = sl_ref_tptr(&st->in, arena);
	void *out = sl_ref_tptr(&st->out, arena);

	switch (st->op) {
	case SL_OP_RELU:
	case SL_OP_RELU6:
		if (st->quant) {
			sl_ref_relu_q8_args a = st->relu;
			a.input = in;
			a.output = out;
			sl_ref_relu_q8(&a);
		} else {
			sl_ref_clamp_f32(in, out, st->n, st->lo, st->hi);
		}
		break;
	case SL_OP_HARD_SWISH:
		if (st->quant) {
			sl_ref_hard_swish_q8_args a = st->hswish;
			a.input = in;
			a.output = out;
			sl_ref_hard_swish_q8(&a);
		} else {
			sl_ref_hard_swish_f32(in, out, st->n);
		}
		break;
	case SL_OP_LOGISTIC:
	default:
		if (st->quant)
			sl_ref_lut8(st->lut, in, out, st->n);
		else
			sl_ref_logistic_f32(in, out, st->n);
		break;
	}
	return 0;
}

int sl_ref_prep_relu(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	int r = unary_check(c);
	if (r < 0)
		return r;
	unary_state *st = unary_new(c);
	if (!st)
		return -ENOMEM;
	st->lo = 0.0f;
	st->hi = c->n->op == SL_OP_RELU6 ? 6.0f : INFINITY;
	if (st->quant) {
		st->relu = (sl_ref_relu_q8_args){
		    .type = in->dtype, .n = st->n, .in_zp = sl_ref_zp(in), .out_zp = sl_ref_zp(out)};
		sl_ref_relu_q8_params(sl_ref_scale(in), sl_ref_scale(out), st->lo, st->hi, &st->relu);
	}
	sl_ref_step_set(step, st, run_unary);
	return 0;
}

int sl_ref_prep_hard_swish(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	int r = unary_check(c);
	if (r < 0)
		return r;
	unary_state *st = unary_new(c);
	if (!st)
		return -ENOMEM;
	if (st->quant) {
		st->hswish = (sl_ref_hard_swish_q8_args){
		    .type = in->dtype, .n = st->n, .in_zp = sl_ref_zp(in), .out_zp = sl_ref_zp(out)};
		if (sl_ref_hard_swish_q8_params(sl_ref_scale(in), sl_ref_scale(out), &st->hswish) < 0) {
			free(st);
			return sl_ref_fail(c, -SL_E_UNSUPPORTED,
					   "output scale %g too small for input scale %g (as in TFLite)",
					   (double)sl_ref_scale(out), (double)sl_ref_scale(in));
		}
	}
	sl_ref_step_set(step, st, run_unary);
	return 0;
}

int sl_ref_prep_logistic(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	int r = unary_check(c);
	if (r < 0)
		return r;
	unary_state *st = unary_new(c);
	if (!st)
		return -ENOMEM;
	/* TFLite's reference LOGISTIC for 8-bit is this float-built table. */
	if (st->quant)
		sl_ref_lut8_build(SL_REF_LUT_LOGISTIC, in->dtype, sl_ref_scale(in), sl_ref_zp(in),
				  sl_ref_scale(out), sl_ref_zp(out), st->lut);
	sl_ref_step_set(step, st, run_unary);
	return 0;
}

typedef struct {
	bool quant;
	int outer, depth;
	float beta;
	sl_ref_tref in, out;
	sl_ref_softmax_q8_args q;
} softmax_state;

static int run_softmax(sl_step *s, uint8_t *arena)
{
	const softmax_state *st = s->state;
	if (st->quant) {
		sl_ref_softmax_q8_args a = st->q;
		a.input = sl_ref_tptr(&st->in, arena);
		a.output = sl_ref_tptr(&st->out, arena);
		sl_ref_softmax_q8(&a);
	} else {
		sl_ref_softmax_f32(sl_ref_tptr(&st->in, arena), sl_ref_tptr(&st->out, arena), st->outer,
				   st->depth, st->beta);
	}
	return 0;
}

int sl_ref_prep_softmax(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	const bool quant = sl_ref_is_q8(in->dtype);

	if (quant ? !sl_ref_is_q8(out->dtype) : (in->dtype != SL_DTYPE_F32 || out->dtype != SL_DTYPE_F32))
		return sl_ref_unsupported_dtypes(c);
	if (in->rank < 1 || sl_tensor_numel(in) != sl_tensor_numel(out))
		return sl_ref_fail(c, -SL_E_SHAPE, "input and output sizes differ");
	if (quant) {
		/* The integer kernel produces probabilities in 1/256 steps from
		 * the type's minimum; TFLite rejects other output parameters. */
		const int32_t want_zp = out->dtype == SL_DTYPE_I8 ? -128 : 0;
		if (in->q.n != 1 || out->q.n != 1 || sl_ref_zp(out) != want_zp ||
		    fabsf(sl_ref_scale(out) - 1.0f / 256) > 0.001f / 256)
			return sl_ref_fail(c, -SL_E_UNSUPPORTED,
					   "%s output needs scale 1/256 and zero point %d (has %g, %d)",
					   sl_dtype_name(out->dtype), want_zp, (double)sl_ref_scale(out),
					   sl_ref_zp(out));
	}
	softmax_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->quant = quant;
	st->depth = in->dims[in->rank - 1];
	st->outer = st->depth > 0 ? (int)(sl_tensor_numel(in) / st->depth) : 0;
	st->beta = c->n->p.softmax.beta;
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	if (quant) {
		st->q = (sl_ref_softmax_q8_args){
		    .in_type = in->dtype, .out_type = out->dtype, .outer = st->outer, .depth = st->depth};
		sl_ref_softmax_q8_params(st->beta, sl_ref_scale(in), &st->q);
	}
	sl_ref_step_set(step, st, run_softmax);
	return 0;
}
