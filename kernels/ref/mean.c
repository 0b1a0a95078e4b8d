/* MEAN over arbitrary axes, fp32 and int8/uint8. Quantized MEAN follows the
 * three code paths of TFLite's reference EvalMean, which round differently:
 * see sl_ref_mean_kind. */
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

void sl_ref_mean_q8_params(bool keep_dims, sl_ref_mean_q8_args *a)
{
	const sl_ref_reduce_geom *g = &a->g;
	a->mult = 0;
	a->shift = 0;
	a->bias = 0;
	if (keep_dims && g->rank == 4 && g->axes_mask == 0x6u) {
		a->kind = SL_REF_MEAN_SPATIAL;
		if (a->type == SL_DTYPE_U8) {
			/* float arithmetic as in TFLite's uint8 4-D Mean */
			const float count = (float)(g->in_dims[1] * g->in_dims[2]);
			a->bias = a->out_zp - (int32_t)((float)a->in_zp * a->in_scale / a->out_scale);
			const double real = (double)(a->in_scale / (count * a->out_scale));
			sl_quantize_multiplier(real, &a->mult, &a->shift);
		} else {
			sl_quantize_multiplier((double)a->in_scale / (double)a->out_scale, &a->mult, &a->shift);
		}
	} else if (a->in_zp == a->out_zp && a->in_scale == a->out_scale) {
		a->kind = SL_REF_MEAN_SAME;
	} else {
		a->kind = SL_REF_MEAN_RESCALE;
	}
}

SL_REF_INLINE void mean_q8(const sl_ref_mean_q8_args *a, bool s)
{
	const int32_t lo = sl_ref_q8_min(a->type), hi = sl_ref_q8_max(a->type);
	reduce_plan p;

	reduce_plan_init(&a->g, &p);
	if (p.n_red <= 0)
		return;
	const int32_t n = (int32_t)p.n_red;
	const float scale = a->in_scale / a->out_scale;
	const float bias = (float)-a->in_zp * scale + 0.5f;

	for (int64_t o = 0; o < p.n_out; o++) {
		const int64_t base = grid_offset(o, p.nk, p.kdim, p.kstride);
		int32_t sum = 0;
		for (int64_t r = 0; r < p.n_red; r++)
			sum += sl_ref_ld(a->input, (size_t)(base + grid_offset(r, p.nr, p.rdim, p.rstride)), s);
		int32_t v;
		switch (a->kind) {
		case SL_REF_MEAN_SPATIAL:
			if (!s) {
				v = sl_mul_by_quantized_multiplier(sum, a->mult, a->shift) + a->bias;
			} else {
				int32_t acc = sl_mul_by_quantized_multiplier(sum - a->in_zp * n, a->mult, a->shift);
				acc = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
				v = acc + a->out_zp;
			}
			break;
		case SL_REF_MEAN_SAME:
			/* TFLite divides the raw sum with truncation here. */
			v = sum / n;
			break;
		case SL_REF_MEAN_RESCALE:
		default: {
			const float mean = (float)sum / (float)n;
			float r = roundf(mean * scale + bias) + (float)a->out_zp;
			r = r < (float)hi ? r : (float)hi;
			r = r > (float)lo ? r : (float)lo;
			v = (int32_t)r;
			break;
		}
		}
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
