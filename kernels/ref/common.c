/* Shared helpers of the reference kernels: activation ranges, multipliers and
 * broadcasting. */
#include <float.h>
#include <math.h>

#include "kernels/quant.h"
#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

int32_t sl_ref_q8_min(sl_dtype type)
{
	return type == SL_DTYPE_I8 ? INT8_MIN : 0;
}

int32_t sl_ref_q8_max(sl_dtype type)
{
	return type == SL_DTYPE_I8 ? INT8_MAX : UINT8_MAX;
}

void sl_ref_act_range_f32(sl_act act, float *ret_min, float *ret_max)
{
	switch (act) {
	case SL_ACT_RELU:
		*ret_min = 0.0f;
		*ret_max = INFINITY;
		return;
	case SL_ACT_RELU_N1_TO_1:
		*ret_min = -1.0f;
		*ret_max = 1.0f;
		return;
	case SL_ACT_RELU6:
		*ret_min = 0.0f;
		*ret_max = 6.0f;
		return;
	case SL_ACT_NONE:
	default:
		*ret_min = -FLT_MAX;
		*ret_max = FLT_MAX;
		return;
	}
}

/* TFLite quantizes the bounds with a float division and round-half-away. */
static int32_t quantize_bound(float f, float scale, int32_t zp)
{
	return zp + (int32_t)roundf(f / scale);
}

void sl_ref_act_range_q8(sl_act act, sl_dtype type, float out_scale, int32_t out_zp, int32_t *ret_min,
			 int32_t *ret_max)
{
	const int32_t qmin = sl_ref_q8_min(type), qmax = sl_ref_q8_max(type);
	int32_t lo = qmin, hi = qmax;

	switch (act) {
	case SL_ACT_RELU:
		lo = sl_ref_max_i32(qmin, quantize_bound(0.0f, out_scale, out_zp));
		break;
	case SL_ACT_RELU6:
		lo = sl_ref_max_i32(qmin, quantize_bound(0.0f, out_scale, out_zp));
		hi = sl_ref_min_i32(qmax, quantize_bound(6.0f, out_scale, out_zp));
		break;
	case SL_ACT_RELU_N1_TO_1:
		lo = sl_ref_max_i32(qmin, quantize_bound(-1.0f, out_scale, out_zp));
		hi = sl_ref_min_i32(qmax, quantize_bound(1.0f, out_scale, out_zp));
		break;
	case SL_ACT_NONE:
	default:
		break;
	}
	*ret_min = lo;
	*ret_max = hi;
}

void sl_ref_conv_q8_multipliers(float in_scale, const float *filter_scale, int n, float out_scale,
				int32_t *mult, int *shift)
{
	for (int i = 0; i < n; i++) {
		const double real = (double)in_scale * (double)filter_scale[i] / (double)out_scale;
		sl_quantize_multiplier(real, &mult[i], &shift[i]);
	}
}

void sl_ref_conv_q8_multipliers_tflite(sl_dtype in_dtype, float in_scale, const float *filter_scale, int n,
				       float out_scale, int32_t *mult, int *shift)
{
	if (in_dtype != SL_DTYPE_U8 || n != 1) {
		sl_ref_conv_q8_multipliers(in_scale, filter_scale, n, out_scale, mult, shift);
		return;
	}
	/* TFLite's uint8 per-tensor path (GetQuantizedConvolutionMultipler) forms
	 * the scale product in float before widening; near a tie this moves the
	 * multiplier, which LiteRT's reference kernels show on real models. */
	const double real = (double)(in_scale * filter_scale[0]) / (double)out_scale;
	sl_quantize_multiplier(real, &mult[0], &shift[0]);
}

int sl_ref_bcast_init(sl_ref_bcast *bc, const int32_t *a_dims, int a_rank, const int32_t *b_dims, int b_rank)
{
	const int rank = a_rank > b_rank ? a_rank : b_rank;

	if (a_rank < 0 || b_rank < 0 || rank > SL_MAX_RANK)
		return -SL_E_SHAPE;
	bc->rank = rank;
	/* Right-align both shapes; missing leading dimensions are 1. */
	int64_t sa = 1, sb = 1;
	for (int d = rank - 1; d >= 0; d--) {
		const int ia = d - (rank - a_rank), ib = d - (rank - b_rank);
		const int32_t da = ia >= 0 ? a_dims[ia] : 1;
		const int32_t db = ib >= 0 ? b_dims[ib] : 1;
		if (da < 0 || db < 0 || (da != db && da != 1 && db != 1))
			return -SL_E_SHAPE;
		bc->out_dims[d] = da == 1 ? db : da;
		bc->a_stride[d] = da == 1 ? 0 : sa;
		bc->b_stride[d] = db == 1 ? 0 : sb;
		sa *= da;
		sb *= db;
	}
	return 0;
}

int64_t sl_ref_bcast_numel(const sl_ref_bcast *bc)
{
	int64_t n = 1;
	for (int d = 0; d < bc->rank; d++)
		n *= bc->out_dims[d];
	return n;
}
