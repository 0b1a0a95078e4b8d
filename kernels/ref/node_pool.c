/* Node adapters for AVERAGE_POOL_2D, MAX_POOL_2D and MEAN. */
#include <stdlib.h>

#include "kernels/ref/node_internal.h"

typedef struct {
	bool avg, quant;
	sl_ref_tref in, out;
	sl_ref_pool_f32_args f;
	sl_ref_pool_q8_args q;
} pool_state;

static int run_pool(sl_step *s, uint8_t *arena)
{
	const pool_state *st = s->state;
	if (st->quant) {
		sl_ref_pool_q8_args a = st->q;
		a.input = sl_ref_tptr(&st->in, arena);
		a.output = sl_ref_tptr(&st->out, arena);
		(st->avg ? sl_ref_avgpool_q8 : sl_ref_maxpool_q8)(&a);
	} else {
		sl_ref_pool_f32_args a = st->f;
		a.input = sl_ref_tptr(&st->in, arena);
		a.output = sl_ref_tptr(&st->out, arena);
		(st->avg ? sl_ref_avgpool_f32 : sl_ref_maxpool_f32)(&a);
	}
	return 0;
}

int sl_ref_prep_pool(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);
	const sl_pool_params *p = &c->n->p.pool;

	if (in->rank != 4 || out->rank != 4 || in->dims[0] != out->dims[0] || in->dims[3] != out->dims[3])
		return sl_ref_fail(c, -SL_E_SHAPE,
				   "needs 4-D input and output with equal batch and channels");
	if (in->dtype != out->dtype || (in->dtype != SL_DTYPE_F32 && !sl_ref_is_q8(in->dtype)))
		return sl_ref_unsupported_dtypes(c);
	if (p->stride_h < 1 || p->stride_w < 1 || p->filter_h < 1 || p->filter_w < 1)
		return sl_ref_fail(c, -SL_E_FORMAT, "invalid window %dx%d or stride %dx%d", p->filter_h,
				   p->filter_w, p->stride_h, p->stride_w);
	if (sl_ref_is_q8(in->dtype) &&
	    (in->q.n != 1 || out->q.n != 1 || sl_ref_scale(in) != sl_ref_scale(out) ||
	     sl_ref_zp(in) != sl_ref_zp(out)))
		return sl_ref_fail(c, -SL_E_UNSUPPORTED,
				   "quantized pooling needs equal input and output scale and zero point");

	pool_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	const sl_ref_pool_geom g = sl_ref_pool_geom_of(in, out, p);
	st->avg = c->n->op == SL_OP_AVERAGE_POOL_2D;
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	if (in->dtype == SL_DTYPE_F32) {
		st->f.g = g;
		sl_ref_act_range_f32(c->n->act, &st->f.act_min, &st->f.act_max);
	} else {
		st->quant = true;
		st->q.g = g;
		st->q.type = in->dtype;
		sl_ref_act_range_q8(c->n->act, out->dtype, sl_ref_scale(out), sl_ref_zp(out), &st->q.act_min,
				    &st->q.act_max);
	}
	sl_ref_step_set(step, st, run_pool);
	return 0;
}

typedef struct {
	bool quant;
	sl_ref_tref in, out;
	sl_ref_mean_f32_args f;
	sl_ref_mean_q8_args q;
} mean_state;

static int run_mean(sl_step *s, uint8_t *arena)
{
	const mean_state *st = s->state;
	if (st->quant) {
		sl_ref_mean_q8_args a = st->q;
		a.input = sl_ref_tptr(&st->in, arena);
		a.output = sl_ref_tptr(&st->out, arena);
		sl_ref_mean_q8(&a);
	} else {
		sl_ref_mean_f32_args a = st->f;
		a.input = sl_ref_tptr(&st->in, arena);
		a.output = sl_ref_tptr(&st->out, arena);
		sl_ref_mean_f32(&a);
	}
	return 0;
}

int sl_ref_prep_mean(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);

	if (in->dtype != out->dtype || (in->dtype != SL_DTYPE_F32 && !sl_ref_is_q8(in->dtype)))
		return sl_ref_unsupported_dtypes(c);
	if (sl_ref_is_q8(in->dtype) && (in->q.n != 1 || out->q.n != 1))
		return sl_ref_fail(c, -SL_E_UNSUPPORTED, "needs per-tensor quantization");
	sl_ref_reduce_geom g = {.rank = in->rank};
	for (int d = 0; d < in->rank; d++)
		g.in_dims[d] = in->dims[d];
	for (int i = 0; i < c->n->p.mean.n_axes; i++) {
		const int ax = c->n->p.mean.axes[i];
		if (ax < 0 || ax >= in->rank)
			return sl_ref_fail(c, -SL_E_SHAPE, "axis %d out of range for %d-D input", ax,
					   in->rank);
		g.axes_mask |= 1u << ax;
	}
	int64_t n_out = 1;
	for (int d = 0; d < in->rank; d++)
		if (!(g.axes_mask & (1u << d)))
			n_out *= in->dims[d];
	if (n_out != sl_tensor_numel(out))
		return sl_ref_fail(c, -SL_E_SHAPE, "output has %lld elements, expected %lld",
				   (long long)sl_tensor_numel(out), (long long)n_out);

	mean_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	if (in->dtype == SL_DTYPE_F32) {
		st->f.g = g;
	} else {
		st->quant = true;
		st->q = (sl_ref_mean_q8_args){
		    .g = g,
		    .type = in->dtype,
		    .in_zp = sl_ref_zp(in),
		    .out_zp = sl_ref_zp(out),
		};
		sl_ref_mean_q8_params(sl_ref_scale(in), sl_ref_scale(out), &st->q);
	}
	sl_ref_step_set(step, st, run_mean);
	return 0;
}
