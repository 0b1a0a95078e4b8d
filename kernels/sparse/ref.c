/* Scalar references: the packed layer read as plainly as possible, with
 * TFLite's arithmetic (or XNNPACK's, for layers packed with its fp32 or rndnu
 * requantization). The optimised kernels are tested against these. */
#include "common/macros.h"
#include "kernels/quant.h"
#include "kernels/sparse/sparse.h"

void sl_sparse_q8_ref(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in, size_t in_stride,
		      void *out, size_t out_stride, void *scratch)
{
	(void)scratch;
	for (size_t m = m_begin; m < m_end; m++) {
		const uint8_t *a = (const uint8_t *)in + m * in_stride;
		uint8_t *o = (uint8_t *)out + m * out_stride;
		for (int n = 0; n < p->n; n++) {
			const sl_sparse_q8_chan *c = &p->ch[n];
			/* Wrapping, like the SIMD adds, so that a bias near the int32
			 * limits is defined; exact whenever the true sum fits. */
			uint32_t acc = (uint32_t)c->bias;
			for (uint32_t i = p->row[n]; i < p->row[n + 1]; i++) {
				const int k0 = 4 * p->idx[i];
				for (int j = 0; j < 4 && k0 + j < p->k; j++) {
					const int32_t av =
					    p->in_u8 ? (int32_t)a[k0 + j] : (int32_t)(int8_t)a[k0 + j];
					acc +=
					    (uint32_t)((av - p->in_zp) * (int32_t)p->w16[4 * (size_t)i + j]);
				}
			}
			if (p->rq == SL_SPARSE_RQ_RNDNU) {
				o[n] =
				    (uint8_t)sl_requantize_rndnu((int32_t)acc, c->mult, c->lshift, c->rshift,
								 p->out_zp, p->act_min, p->act_max);
				continue;
			}
			if (p->rq == SL_SPARSE_RQ_FP32) {
				o[n] = (uint8_t)sl_requantize_fp32((int32_t)acc, c->scale, p->out_zp,
								   p->act_min, p->act_max);
				continue;
			}
			const int shift = c->lshift - c->rshift;
			int64_t y =
			    (int64_t)p->out_zp + sl_mul_by_quantized_multiplier((int32_t)acc, c->mult, shift);
			y = y < p->act_min ? p->act_min : (y > p->act_max ? p->act_max : y);
			o[n] = (uint8_t)y;
		}
	}
}

void sl_sparse_f32_ref(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
		       size_t in_stride, float *out, size_t out_stride, void *scratch)
{
	(void)scratch;
	for (size_t m = m_begin; m < m_end; m++) {
		const float *a = in + m * in_stride;
		float *o = out + m * out_stride;
		for (int n = 0; n < p->n; n++) {
			float acc = p->bias[n];
			for (uint32_t i = p->row[n]; i < p->row[n + 1]; i++) {
				const int k0 = 4 * p->idx[i];
				for (int j = 0; j < 4 && k0 + j < p->k; j++)
					acc += a[k0 + j] * p->w[4 * (size_t)i + j];
			}
			acc = acc < p->out_min ? p->out_min : acc;
			o[n] = acc > p->out_max ? p->out_max : acc;
		}
	}
}
