/* Node adapters for QUANTIZE and DEQUANTIZE. */
#include <stdlib.h>

#include "kernels/ref/node_internal.h"

typedef struct {
	sl_op op;
	sl_dtype in_type, out_type;
	size_t n;
	sl_ref_tref in, out;
	float scale; /* float -> q8 */
	int32_t zp;
	/* int8/uint8 -> int8/uint8: the output byte depends on the input byte
	 * alone, so the reference arithmetic runs once per byte value at prepare
	 * time (the input layers of TF2 models requantize every pixel). */
	uint8_t lut[256];
	sl_ref_dequantize_args dq;
	/* followed by dequantization scale[n_ch] and zp[n_ch] */
} convert_state;

static int run_convert(sl_step *s, uint8_t *arena)
{
	const convert_state *st = s->state;
	const void *in = sl_ref_tptr(&st->in, arena);
	void *out = sl_ref_tptr(&st->out, arena);

	if (st->op == SL_OP_QUANTIZE) {
		if (st->in_type == SL_DTYPE_F32) {
			sl_ref_quantize_f32(in, out, st->n, st->out_type, st->scale, st->zp);
		} else {
			const uint8_t *i8 = in;
			uint8_t *o8 = out;
			for (size_t i = 0; i < st->n; i++)
				o8[i] = st->lut[i8[i]];
		}
	} else if (st->in_type == SL_DTYPE_F16) {
		sl_ref_dequantize_f16(in, out, st->n);
	} else {
		sl_ref_dequantize_args a = st->dq;
		a.input = in;
		a.output = out;
		sl_ref_dequantize_q8(&a);
	}
	return 0;
}

int sl_ref_prep_quantize(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);

	if ((in->dtype != SL_DTYPE_F32 && !sl_ref_is_q8(in->dtype)) || !sl_ref_is_q8(out->dtype))
		return sl_ref_unsupported_dtypes(c);
	if (out->q.n != 1 || (sl_ref_is_q8(in->dtype) && in->q.n != 1))
		return sl_ref_fail(c, -SL_E_UNSUPPORTED, "needs per-tensor quantization");
	if (sl_tensor_numel(in) != sl_tensor_numel(out))
		return sl_ref_fail(c, -SL_E_SHAPE, "input and output sizes differ");
	convert_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->op = SL_OP_QUANTIZE;
	st->in_type = in->dtype;
	st->out_type = out->dtype;
	st->n = (size_t)sl_tensor_numel(in);
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	st->scale = sl_ref_scale(out);
	st->zp = sl_ref_zp(out);
	if (in->dtype != SL_DTYPE_F32)
		sl_ref_requantize_table(in->dtype, sl_ref_scale(in), sl_ref_zp(in), out->dtype,
					sl_ref_scale(out), sl_ref_zp(out), st->lut);
	sl_ref_step_set(step, st, run_convert);
	return 0;
}

int sl_ref_prep_dequantize(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *in = sl_ref_in(c, 0), *out = sl_ref_out(c);

	if ((in->dtype != SL_DTYPE_F16 && !sl_ref_is_q8(in->dtype)) || out->dtype != SL_DTYPE_F32)
		return sl_ref_unsupported_dtypes(c);
	if (sl_tensor_numel(in) != sl_tensor_numel(out))
		return sl_ref_fail(c, -SL_E_SHAPE, "input and output sizes differ");
	const int n_ch = sl_ref_is_q8(in->dtype) ? in->q.n : 0;
	if (sl_ref_is_q8(in->dtype) && (n_ch < 1 || (n_ch > 1 && (in->q.axis < 0 || in->q.axis >= in->rank ||
								  in->dims[in->q.axis] != n_ch))))
		return sl_ref_fail(c, -SL_E_FORMAT, "invalid quantization parameters (%d scales, axis %d)",
				   n_ch, in->q.axis);

	const size_t head = (sizeof(convert_state) + 7) & ~(size_t)7;
	uint8_t *mem = calloc(1, head + (size_t)n_ch * (sizeof(float) + sizeof(int32_t)));
	if (!mem)
		return -ENOMEM;
	convert_state *st = (convert_state *)(void *)mem;
	st->op = SL_OP_DEQUANTIZE;
	st->in_type = in->dtype;
	st->out_type = SL_DTYPE_F32;
	st->n = (size_t)sl_tensor_numel(in);
	st->in = sl_ref_tref_of(in);
	st->out = sl_ref_tref_of(out);
	if (n_ch > 0) {
		float *scale = (float *)(void *)(mem + head);
		int32_t *zp = (int32_t *)(void *)(scale + n_ch);
		for (int i = 0; i < n_ch; i++) {
			scale[i] = in->q.scale[i];
			zp[i] = in->q.zero_point[i];
		}
		/* per-tensor is the per-channel layout with one channel */
		int64_t outer = 1, inner = 1;
		const int axis = n_ch > 1 ? in->q.axis : 0;
		for (int d = 0; d < in->rank; d++) {
			if (n_ch > 1 && d < axis)
				outer *= in->dims[d];
			else if (n_ch == 1 || d > axis)
				inner *= in->dims[d];
		}
		st->dq = (sl_ref_dequantize_args){.type = in->dtype,
						  .outer = outer,
						  .inner = inner,
						  .n_ch = n_ch,
						  .scale = scale,
						  .zp = zp};
	}
	sl_ref_step_set(step, st, run_convert);
	return 0;
}
