/* Data movement: PAD and CONCATENATION (RESHAPE is a plain copy done by the
 * node adapter). */
#include <math.h>
#include <string.h>

#include "kernels/ref/ref_internal.h"
#include "kernels/ref/ref_kernels.h"

void sl_ref_pad(const sl_ref_pad_args *a)
{
	const int rank = a->rank;
	int32_t out_dims[SL_MAX_RANK];
	int64_t out_stride[SL_MAX_RANK];
	int64_t out_n = 1, rows = 1;

	for (int d = 0; d < rank; d++)
		out_dims[d] = a->in_dims[d] + a->pads[d][0] + a->pads[d][1];
	for (int d = rank - 1; d >= 0; d--) {
		out_stride[d] = out_n;
		out_n *= out_dims[d];
	}
	uint8_t *out = a->output;
	for (int64_t i = 0; i < out_n; i++)
		memcpy(out + (size_t)i * a->elem_size, a->pad_value, a->elem_size);

	/* copy the input one innermost row at a time */
	const int64_t row_len = rank > 0 ? a->in_dims[rank - 1] : 1;
	for (int d = 0; d < rank - 1; d++)
		rows *= a->in_dims[d];
	if (row_len <= 0)
		return;
	const uint8_t *in = a->input;
	for (int64_t r = 0; r < rows; r++) {
		int64_t off = rank > 0 ? a->pads[rank - 1][0] : 0, rem = r;
		for (int d = rank - 2; d >= 0; d--) {
			off += (rem % a->in_dims[d] + a->pads[d][0]) * out_stride[d];
			rem /= a->in_dims[d];
		}
		memcpy(out + (size_t)off * a->elem_size, in + (size_t)(r * row_len) * a->elem_size,
		       (size_t)row_len * a->elem_size);
	}
}

void sl_ref_concat(const sl_ref_concat_args *a)
{
	uint8_t *out = a->output;
	for (int64_t o = 0; o < a->outer; o++)
		for (int i = 0; i < a->n; i++) {
			const size_t len = (size_t)a->axis_dims[i] * (size_t)a->inner * a->elem_size;
			memcpy(out, (const uint8_t *)a->inputs[i] + (size_t)o * len, len);
			out += len;
		}
}

void sl_ref_concat_q8(const sl_ref_concat_q8_args *a)
{
	const sl_ref_concat_args *c = &a->c;
	const bool s = sl_ref_signed(a->type);
	const int32_t lo = sl_ref_q8_min(a->type), hi = sl_ref_q8_max(a->type);
	const float inv_out_scale = 1.0f / a->out_scale;
	uint8_t *out = c->output;

	for (int64_t o = 0; o < c->outer; o++)
		for (int i = 0; i < c->n; i++) {
			const size_t len = (size_t)c->axis_dims[i] * (size_t)c->inner;
			const uint8_t *in = (const uint8_t *)c->inputs[i] + (size_t)o * len;
			if (a->in_zp[i] == a->out_zp && a->in_scale[i] == a->out_scale) {
				memcpy(out, in, len);
			} else {
				/* TFLite's ConcatenationWithScaling, in float */
				const float scale = a->in_scale[i] * inv_out_scale;
				const float bias = (float)-a->in_zp[i] * scale;
				for (size_t j = 0; j < len; j++) {
					const float r = roundf((float)sl_ref_ld(in, j, s) * scale + bias);
					const float v = r + (float)a->out_zp;
					sl_ref_st(out, j, s,
						  v >= (float)hi   ? hi
						  : v <= (float)lo ? lo
								   : (int32_t)v);
				}
			}
			out += len;
		}
}
