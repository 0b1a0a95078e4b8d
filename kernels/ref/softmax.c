/* SOFTMAX over the last dimension: fp32 with beta, and TFLite's reference
 * integer softmax for int8/uint8 (fixed-point exp and reciprocal, so results
 * are bit-exact with TFLite's reference kernel rather than within one step as a
 * float round trip would be). */
#include <float.h>
#include <math.h>

#include "kernels/quant.h"
#include "kernels/ref/fixedpoint.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

void sl_ref_softmax_f32(const float *in, float *out, int outer, int depth, float beta)
{
	for (int i = 0; i < outer; i++) {
		const float *x = in + (size_t)i * depth;
		float *y = out + (size_t)i * depth;
		float max = -FLT_MAX;
		for (int c = 0; c < depth; c++)
			max = max < x[c] ? x[c] : max;
		float sum = 0.0f;
		for (int c = 0; c < depth; c++) {
			y[c] = expf((x[c] - max) * beta);
			sum += y[c];
		}
		for (int c = 0; c < depth; c++)
			y[c] = y[c] / sum;
	}
}

/* Input differences are scaled to Q5.26: differences below -32 (after beta)
 * have exp() far below one output step. */
enum { SCALED_DIFF_INT_BITS = 5, ACCUM_INT_BITS = 12 };

void sl_ref_softmax_q8_params(float beta, float in_scale, sl_ref_softmax_q8_args *a)
{
	/* TFLite's PreprocessSoftmaxScaling and CalculateInputRadius */
	double real = (double)beta * (double)in_scale * (double)(1 << (31 - SCALED_DIFF_INT_BITS));
	if (real > (double)((1ll << 31) - 1))
		real = (double)((1ll << 31) - 1);
	sl_quantize_multiplier(real, &a->in_mult, &a->in_left_shift);
	const double max_rescaled = 1.0 * ((1 << SCALED_DIFF_INT_BITS) - 1) *
				    (double)(1ll << (31 - SCALED_DIFF_INT_BITS)) /
				    (double)(1ll << a->in_left_shift);
	a->diff_min = -(int32_t)floor(max_rescaled);
}

int32_t sl_ref_softmax_q8_exp(const sl_ref_softmax_q8_args *a, int32_t diff)
{
	if (diff < a->diff_min)
		return -1;
	const int32_t scaled = sl_srdhm(diff * (1 << a->in_left_shift), a->in_mult);
	return sl_fp_exp_neg(scaled, SCALED_DIFF_INT_BITS);
}

int32_t sl_ref_softmax_q8_term(int32_t e)
{
	return sl_fp_mul_pot32(e, -ACCUM_INT_BITS);
}

sl_ref_softmax_q8_norm sl_ref_softmax_q8_normalizer(int32_t sum)
{
	sl_ref_softmax_q8_norm nm;
	int bits_over_unit;
	nm.recip = sl_fp_reciprocal(sum, ACCUM_INT_BITS, &bits_over_unit);
	nm.shift = bits_over_unit + 31 - 8; /* 8 output bits */
	return nm;
}

int32_t sl_ref_softmax_q8_out(sl_ref_softmax_q8_norm nm, int32_t e, bool so)
{
	const int32_t out_min = so ? INT8_MIN : 0, out_max = so ? INT8_MAX : UINT8_MAX;
	if (e < 0)
		return out_min;
	/* Rows whose exps sum past 2^8 ask for shifts of 32 and more, where
	 * TFLite's shift is undefined; the exact rounded quotient of an int32 by
	 * 2^32 or more is 0. */
	const int32_t p = nm.shift > 31 ? 0 : sl_rounding_divide_by_pot(sl_srdhm(nm.recip, e), nm.shift);
	return sl_clamp_i32(p + out_min, out_min, out_max);
}

SL_REF_INLINE void softmax_q8(const sl_ref_softmax_q8_args *a, bool si, bool so)
{
	for (int i = 0; i < a->outer; i++) {
		const size_t row = (size_t)i * a->depth;
		int32_t max = si ? INT8_MIN : 0;
		for (int c = 0; c < a->depth; c++)
			max = sl_ref_max_i32(max, sl_ref_ld(a->input, row + c, si));

		int32_t sum = 0; /* Q12.19 */
		for (int c = 0; c < a->depth; c++) {
			const int32_t e = sl_ref_softmax_q8_exp(a, sl_ref_ld(a->input, row + c, si) - max);
			if (e >= 0)
				sum += sl_ref_softmax_q8_term(e);
		}

		const sl_ref_softmax_q8_norm nm = sl_ref_softmax_q8_normalizer(sum);
		for (int c = 0; c < a->depth; c++) {
			const int32_t e = sl_ref_softmax_q8_exp(a, sl_ref_ld(a->input, row + c, si) - max);
			sl_ref_st(a->output, row + c, so, sl_ref_softmax_q8_out(nm, e, so));
		}
	}
}

void sl_ref_softmax_q8(const sl_ref_softmax_q8_args *a)
{
	const bool si = sl_ref_signed(a->in_type), so = sl_ref_signed(a->out_type);

	if (si && so)
		softmax_q8(a, true, true);
	else if (si)
		softmax_q8(a, true, false);
	else if (so)
		softmax_q8(a, false, true);
	else
		softmax_q8(a, false, false);
}
