/* NEON quantized ADD, bit-exact with sl_ref_add_q8 (see x86/add_avx2.c for
 * the arithmetic): 16 elements per step, the tail through the same step on a
 * zero-padded copy. (x - za) << 20 stays below 2^28: no wrap the reference
 * does not have. */
#include "kernels/dense/neon/neon_simd.h"

typedef struct {
	int32x4_t am, al, ar, bm, bl, br, om, ol, orr;
	int a_lsh, b_lsh, o_lsh;
	int16x8_t za, zb;
	int32x4_t ls;
	sl_dense_out o;
} add_consts;

static inline void side(int16x8_t x16, const int32x4_t m, const int32x4_t l, const int32x4_t r, int any,
			const add_consts *k, int32x4_t out[2])
{
	out[0] = sl_dense_rq(vshlq_s32(vmovl_s16(vget_low_s16(x16)), k->ls), m, l, r, any);
	out[1] = sl_dense_rq(vshlq_s32(vmovl_s16(vget_high_s16(x16)), k->ls), m, l, r, any);
}

static inline uint8x16_t step16(const add_consts *k, uint8x16_t a, uint8x16_t b, int u8)
{
	int16x8_t xa[2], xb[2];
	if (u8) {
		xa[0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(a)));
		xa[1] = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(a)));
		xb[0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(b)));
		xb[1] = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(b)));
	} else {
		xa[0] = vmovl_s8(vget_low_s8(vreinterpretq_s8_u8(a)));
		xa[1] = vmovl_s8(vget_high_s8(vreinterpretq_s8_u8(a)));
		xb[0] = vmovl_s8(vget_low_s8(vreinterpretq_s8_u8(b)));
		xb[1] = vmovl_s8(vget_high_s8(vreinterpretq_s8_u8(b)));
	}
	int32x4_t s[4];
	for (int h = 0; h < 2; h++) {
		int32x4_t va[2], vb[2];
		side(vsubq_s16(xa[h], k->za), k->am, k->al, k->ar, k->a_lsh, k, va);
		side(vsubq_s16(xb[h], k->zb), k->bm, k->bl, k->br, k->b_lsh, k, vb);
		s[2 * h] = sl_dense_rq(vaddq_s32(va[0], vb[0]), k->om, k->ol, k->orr, k->o_lsh);
		s[2 * h + 1] = sl_dense_rq(vaddq_s32(va[1], vb[1]), k->om, k->ol, k->orr, k->o_lsh);
	}
	return sl_dense_narrow16(&k->o, s);
}

static inline void add(const add_consts *k, size_t n, const uint8_t *a, const uint8_t *b, uint8_t *out,
		       int u8)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		vst1q_u8(out + i, step16(k, vld1q_u8(a + i), vld1q_u8(b + i), u8));
	if (i < n) {
		uint8_t ta[16] = {0}, tb[16] = {0}, to[16];
		memcpy(ta, a + i, n - i);
		memcpy(tb, b + i, n - i);
		vst1q_u8(to, step16(k, vld1q_u8(ta), vld1q_u8(tb), u8));
		memcpy(out + i, to, n - i);
	}
}

void SL_DENSE_FN(sl_dense_add_neon)(const sl_dense_add_params *q, size_t n, const uint8_t *a,
				    const uint8_t *b, uint8_t *out)
{
	add_consts k = {
	    .am = vdupq_n_s32(q->a_mult),
	    .al = vdupq_n_s32(q->a_shift > 0 ? q->a_shift : 0),
	    .ar = vdupq_n_s32(q->a_shift > 0 ? 0 : q->a_shift),
	    .bm = vdupq_n_s32(q->b_mult),
	    .bl = vdupq_n_s32(q->b_shift > 0 ? q->b_shift : 0),
	    .br = vdupq_n_s32(q->b_shift > 0 ? 0 : q->b_shift),
	    .om = vdupq_n_s32(q->out_mult),
	    .ol = vdupq_n_s32(q->out_shift > 0 ? q->out_shift : 0),
	    .orr = vdupq_n_s32(q->out_shift > 0 ? 0 : q->out_shift),
	    .a_lsh = q->a_shift > 0,
	    .b_lsh = q->b_shift > 0,
	    .o_lsh = q->out_shift > 0,
	    .za = vdupq_n_s16((int16_t)q->a_zp),
	    .zb = vdupq_n_s16((int16_t)q->b_zp),
	    .ls = vdupq_n_s32(q->left_shift),
	};
	const sl_dense_requant rq = {
	    .out_u8 = q->u8, .out_zp = q->out_zp, .act_min = q->act_min, .act_max = q->act_max};
	k.o = sl_dense_out_of(&rq);
	if (q->u8)
		add(&k, n, a, b, out, 1);
	else
		add(&k, n, a, b, out, 0);
}
