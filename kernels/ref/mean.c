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

/* Input offset of the lin-th element (row-major) of a sub-grid. */
static int64_t grid_offset(int64_t lin, int n, const int32_t *dim, const int64_t *stride)
{
	int64_t off = 0;
	for (int d = n - 1; d >= 0; d--) {
		off += (lin % dim[d]) * stride[d];
		lin /= dim[d];
	}
	return off;
}

void sl_ref_mean_f32(const sl_ref_mean_f32_args *a)
{
	reduce_plan p;
	reduce_plan_init(&a->g, &p);
	for (int64_t o = 0; o < p.n_out; o++) {
		const int64_t base = grid_offset(o, p.nk, p.kdim, p.kstride);
		float sum = 0.0f;
		/* Same summation order as TFLite: increasing input offset. */
		for (int64_t r = 0; r < p.n_red; r++)
			sum += a->input[base + grid_offset(r, p.nr, p.rdim, p.rstride)];
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
	for (int64_t o = 0; o < p.n_out; o++) {
		const int64_t base = grid_offset(o, p.nk, p.kdim, p.kstride);
		int64_t sum = 0;
		for (int64_t r = 0; r < p.n_red; r++)
			sum +=
			    sl_ref_ld(a->input, (size_t)(base + grid_offset(r, p.nr, p.rdim, p.rstride)), s);
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
