/* MEAN over arbitrary axes, fp32 and int8/uint8 (TFLite's integer
 * QuantizedMeanOrSum). */
#include <math.h>

#include "kernels/quant.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

/* Kept and reduced dimensions with their input strides. */
typedef struct {
	int nk, nr;
	int32_t kdim[SL_MAX_RANK], rdim[SL_MAX_RANK];
	int64_t kstride[SL_MAX_RANK], rstride[SL_MAX_RANK];
	int64_t n_out, n_red;
} reduce_plan;

static void reduce_plan_init(const sl_ref_reduce_geom *g, reduce_plan *p)
{
	int64_t stride[SL_MAX_RANK], s = 1;

	for (int d = g->rank - 1; d >= 0; d--) {
		stride[d] = s;
		s *= g->in_dims[d];
	}
	p->nk = p->nr = 0;
	p->n_out = p->n_red = 1;
	for (int d = 0; d < g->rank; d++) {
		if (g->axes_mask & (1u << d)) {
			p->rdim[p->nr] = g->in_dims[d];
			p->rstride[p->nr++] = stride[d];
			p->n_red *= g->in_dims[d];
		} else {
			p->kdim[p->nk] = g->in_dims[d];
			p->kstride[p->nk++] = stride[d];
			p->n_out *= g->in_dims[d];
		}
	}
}

/* Walks a sub-grid in row-major order, keeping the input offset of the
 * current element (no division per element: MEAN reads every input). */
typedef struct {
	int n;
	const int32_t *dim;
	const int64_t *stride;
	int32_t idx[SL_MAX_RANK];
	int64_t off;
} grid_walk;

static void walk_init(grid_walk *w, int n, const int32_t *dim, const int64_t *stride)
{
	*w = (grid_walk){.n = n, .dim = dim, .stride = stride};
}

static void walk_next(grid_walk *w)
{
	for (int d = w->n - 1; d >= 0; d--) {
		w->off += w->stride[d];
		if (++w->idx[d] < w->dim[d])
			return;
		w->off -= w->stride[d] * w->dim[d];
		w->idx[d] = 0;
	}
}

void sl_ref_mean_f32(const sl_ref_mean_f32_args *a)
{
	reduce_plan p;
	reduce_plan_init(&a->g, &p);
	grid_walk ko, ro;
	walk_init(&ko, p.nk, p.kdim, p.kstride);
	for (int64_t o = 0; o < p.n_out; o++, walk_next(&ko)) {
		float sum = 0.0f;
		/* Same summation order as TFLite: increasing input offset. */
		walk_init(&ro, p.nr, p.rdim, p.rstride);
		for (int64_t r = 0; r < p.n_red; r++, walk_next(&ro))
			sum += a->input[ko.off + ro.off];
		a->output[o] = p.n_red > 0 ? sum / (float)p.n_red : NAN;
	}
}

void sl_ref_mean_q8_params(float in_scale, float out_scale, sl_ref_mean_q8_args *a)
{
	reduce_plan p;
	int32_t mult;
	int shift;

	reduce_plan_init(&a->g, &p);
	sl_quantize_multiplier((double)in_scale / (double)out_scale, &mult, &shift);
	/* Fold 1/count into the multiplier with as many extra bits as the
	 * count has (at most 32, and keeping the total right shift <= 31), as
	 * TFLite does; the division truncates. */
	if (p.n_red > 0) {
		int s = 63 - __builtin_clzll((unsigned long long)p.n_red);
		s = s < 32 ? s : 32;
		s = s < 31 + shift ? s : 31 + shift;
		s = s > 0 ? s : 0;
		mult = (int32_t)(((int64_t)mult << s) / p.n_red);
		shift -= s;
	}
	a->mult = mult;
	a->shift = shift;
}

SL_REF_INLINE void mean_q8(const sl_ref_mean_q8_args *a, bool s)
{
	const int32_t lo = sl_ref_q8_min(a->type), hi = sl_ref_q8_max(a->type);
	reduce_plan p;

	reduce_plan_init(&a->g, &p);
	if (p.n_red <= 0)
		return;
	grid_walk ko, ro;
	walk_init(&ko, p.nk, p.kdim, p.kstride);
	for (int64_t o = 0; o < p.n_out; o++, walk_next(&ko)) {
		int64_t sum = 0;
		walk_init(&ro, p.nr, p.rdim, p.rstride);
		for (int64_t r = 0; r < p.n_red; r++, walk_next(&ro))
			sum += sl_ref_ld(a->input, (size_t)(ko.off + ro.off), s);
		/* TFLite keeps the sum in int32: truncate like it does */
		const int32_t shifted = (int32_t)(uint32_t)(uint64_t)(sum - (int64_t)a->in_zp * p.n_red);
		const int32_t v = sl_mul_by_quantized_multiplier(shifted, a->mult, a->shift) + a->out_zp;
		sl_ref_st(a->output, (size_t)o, s, sl_clamp_i32(v, lo, hi));
	}
}

void sl_ref_mean_q8(const sl_ref_mean_q8_args *a)
{
	if (sl_ref_signed(a->type))
		mean_q8(a, true);
	else
		mean_q8(a, false);
}
