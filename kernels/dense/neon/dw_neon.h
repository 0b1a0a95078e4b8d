/* Shared by the NEON depthwise kernels (dw_smlal.c, dw_3x3.c): the scalar
 * channel tail, paired int8 products, requantization of 8 or 16 channels and
 * the per-layer variant switch of the 3x3 kernels. Internal to
 * kernels/dense/neon. */
#pragma once

#include "kernels/dense/neon/neon_simd.h"
#include "kernels/quant.h"

/* One channel, exactly as the reference: int32 wrap-around accumulation. */
static inline uint8_t tail_channel(const sl_dense_dw *p, bool fast, const uint8_t *const *pp, size_t ch)
{
	uint32_t acc = (uint32_t)(fast ? p->bias8 : p->bias16)[ch];
	const size_t cp = (size_t)p->cp;
	for (int t = 0; t < p->taps; t++) {
		const uint8_t raw = pp[t][ch];
		if (fast) {
			acc += (uint32_t)((int32_t)(int8_t)raw * p->w8[t * cp + ch]);
		} else {
			const int32_t a = p->rq.in_u8 ? (int32_t)raw : (int32_t)(int8_t)raw;
			acc += (uint32_t)((a - p->in_zp) * p->w16[t * cp + ch]);
		}
	}
	const sl_dense_requant *q = &p->rq;
	const int shift = q->lsh[ch] ? q->lsh[ch] : q->rsh[ch];
	const int32_t v =
	    (int32_t)((uint32_t)sl_mul_by_quantized_multiplier((int32_t)acc, q->mult[ch], shift) +
		      (uint32_t)q->out_zp);
	return (uint8_t)sl_clamp_i32(v, q->act_min, q->act_max);
}

static inline void tail(const sl_dense_dw *p, bool fast, size_t c0, size_t n_px, const uint8_t *const *ptrs,
			uint8_t *out, size_t out_stride)
{
	for (size_t px = 0; px < n_px; px++)
		for (size_t ch = c0; ch < (size_t)p->c; ch++)
			out[px * out_stride + ch] = tail_channel(p, fast, ptrs + px * (size_t)p->taps, ch);
}

/* acc[0..3] (16 channels) += taps t0 and t1 (t1 < 0: t0 alone). */
static inline void pair16(int32x4_t acc[4], int8x16_t a0, int8x16_t w0, const int8x16_t *a1,
			  const int8x16_t *w1)
{
	int16x8_t lo = vmull_s8(vget_low_s8(a0), vget_low_s8(w0));
	int16x8_t hi = vmull_high_s8(a0, w0);
	if (a1) {
		lo = vmlal_s8(lo, vget_low_s8(*a1), vget_low_s8(*w1));
		hi = vmlal_high_s8(hi, *a1, *w1);
	}
	acc[0] = vaddw_s16(acc[0], vget_low_s16(lo));
	acc[1] = vaddw_high_s16(acc[1], lo);
	acc[2] = vaddw_s16(acc[2], vget_low_s16(hi));
	acc[3] = vaddw_high_s16(acc[3], hi);
}

static inline void pair8(int32x4_t acc[2], int8x8_t a0, int8x8_t w0, const int8x8_t *a1, const int8x8_t *w1)
{
	int16x8_t pr = vmull_s8(a0, w0);
	if (a1)
		pr = vmlal_s8(pr, *a1, *w1);
	acc[0] = vaddw_s16(acc[0], vget_low_s16(pr));
	acc[1] = vaddw_high_s16(acc[1], pr);
}

/* Requantization parameters of one call, copied out of the layer so that
 * the stores to the (aliasing) output bytes do not force reloads. */
typedef struct {
	const int32_t *mult, *lsh, *rsh;
	int any_lsh;
	sl_dense_out o;
} rq_ctx;

static inline rq_ctx rq_ctx_of(const sl_dense_dw *p)
{
	return (rq_ctx){.mult = p->rq.mult,
			.lsh = p->rq.lsh,
			.rsh = p->rq.rsh,
			.any_lsh = p->rq.any_lsh,
			.o = sl_dense_out_of(&p->rq)};
}

static inline int32x4_t rq4(const rq_ctx *q, int32x4_t x, size_t c0)
{
	return sl_dense_rq(x, vld1q_s32(q->mult + c0), vld1q_s32(q->lsh + c0), vld1q_s32(q->rsh + c0),
			   q->any_lsh);
}

static inline void store16(const rq_ctx *q, int32x4_t acc[4], size_t c0, uint8_t *d)
{
	int32x4_t r[4];
	SL_DENSE_UNROLL
	for (int i = 0; i < 4; i++)
		r[i] = rq4(q, acc[i], c0 + 4 * (size_t)i);
	vst1q_u8(d, sl_dense_narrow16(&q->o, r));
}

static inline void store8(const rq_ctx *q, int32x4_t acc[2], size_t c0, uint8_t *d)
{
	vst1_u8(d, sl_dense_narrow8(&q->o, rq4(q, acc[0], c0), rq4(q, acc[1], c0 + 4)));
}

/* Requantization variants of the 3x3 kernels: with the output type, each is
 * inlined into a pixel loop of its own, so that the loops have no branch. */
enum { RQ_PLAIN, RQ_LSH, RQ_RSH, RQ_RSH_POS };

/* 16 requantized channels of one pixel. */
static inline __attribute__((always_inline)) uint8x16_t
rq16(const rq_ctx *q, const sl_dense_out *o, const int32x4_t acc[4], size_t c0, const int mode)
{
	int32x4_t r[4], mu[4], rs[4];
	/* single-register loads: LD1 of 4 registers needs 4 consecutive free
	 * ones, which costs spills here */
	SL_DENSE_UNROLL
	for (int i = 0; i < 4; i++) {
		mu[i] = vld1q_s32(q->mult + c0 + 4 * (size_t)i);
		rs[i] = vld1q_s32(q->rsh + c0 + 4 * (size_t)i);
	}
	if (mode == RQ_RSH || mode == RQ_RSH_POS) {
		SL_DENSE_UNROLL
		for (int i = 0; i < 4; i++)
			r[i] = mode == RQ_RSH ? sl_dense_rq_rsh(acc[i], mu[i], rs[i])
					      : sl_dense_rq_rsh_pos(acc[i], mu[i], rs[i]);
		return sl_dense_narrow16_zp16(o, r);
	}
	if (mode == RQ_LSH) {
		SL_DENSE_UNROLL
		for (int i = 0; i < 4; i++)
			r[i] = sl_dense_rq(acc[i], mu[i], vld1q_s32(q->lsh + c0 + 4 * (size_t)i), rs[i], 1);
	} else {
		SL_DENSE_UNROLL
		for (int i = 0; i < 4; i++)
			r[i] = sl_dense_rq(acc[i], mu[i], mu[i], rs[i], 0);
	}
	return sl_dense_narrow16(o, r);
}

/* a - za in int16 for 8 channels. */
static inline int16x8_t centred(const uint8_t *src, int in_u8, uint8x8_t zu, int8x8_t zs)
{
	if (in_u8)
		return vreinterpretq_s16_u16(vsubl_u8(vld1_u8(src), zu));
	return vsubl_s8(vld1_s8((const int8_t *)src), zs);
}

/* 8 requantized channels of one pixel (rq16's arithmetic). */
static inline __attribute__((always_inline)) uint8x8_t rq8(const rq_ctx *q, const sl_dense_out *o,
							   const int32x4_t acc[2], size_t c0, const int mode)
{
	int32x4_t r[2];
	SL_DENSE_UNROLL
	for (int i = 0; i < 2; i++) {
		const int32x4_t mu = vld1q_s32(q->mult + c0 + 4 * (size_t)i),
				rs = vld1q_s32(q->rsh + c0 + 4 * (size_t)i);
		if (mode == RQ_RSH)
			r[i] = sl_dense_rq_rsh(acc[i], mu, rs);
		else if (mode == RQ_RSH_POS)
			r[i] = sl_dense_rq_rsh_pos(acc[i], mu, rs);
		else
			r[i] = sl_dense_rq(acc[i], mu,
					   mode == RQ_LSH ? vld1q_s32(q->lsh + c0 + 4 * (size_t)i) : mu, rs,
					   mode == RQ_LSH);
	}
	if (mode != RQ_RSH && mode != RQ_RSH_POS)
		return sl_dense_narrow8(o, r[0], r[1]);
	const int16x8_t h = vqaddq_s16(vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1])), o->zp16);
	if (o->u8)
		return vmin_u8(vmax_u8(vqmovun_s16(h), vget_low_u8(o->lo)), vget_low_u8(o->hi));
	return vreinterpret_u8_s8(vmin_s8(vmax_s8(vqmovn_s16(h), vreinterpret_s8_u8(vget_low_u8(o->lo))),
					  vreinterpret_s8_u8(vget_low_u8(o->hi))));
}

/* Requantization and output variant of a layer. */
static inline int variant_of(const sl_dense_dw *p)
{
	const int mode = p->rq.all_rsh ? (p->rq.clamps_negative ? RQ_RSH_POS : RQ_RSH)
				       : (p->rq.any_lsh ? RQ_LSH : RQ_PLAIN);
	return 2 * mode + (p->rq.out_u8 ? 1 : 0);
}

#define DW3X3_VARIANT(fn, v, ...)                                                                            \
	do {                                                                                                 \
		switch (v) {                                                                                 \
		case 2 * RQ_PLAIN:                                                                           \
			fn(__VA_ARGS__, RQ_PLAIN, 0);                                                        \
			break;                                                                               \
		case 2 * RQ_PLAIN + 1:                                                                       \
			fn(__VA_ARGS__, RQ_PLAIN, 1);                                                        \
			break;                                                                               \
		case 2 * RQ_LSH:                                                                             \
			fn(__VA_ARGS__, RQ_LSH, 0);                                                          \
			break;                                                                               \
		case 2 * RQ_LSH + 1:                                                                         \
			fn(__VA_ARGS__, RQ_LSH, 1);                                                          \
			break;                                                                               \
		case 2 * RQ_RSH:                                                                             \
			fn(__VA_ARGS__, RQ_RSH, 0);                                                          \
			break;                                                                               \
		case 2 * RQ_RSH + 1:                                                                         \
			fn(__VA_ARGS__, RQ_RSH, 1);                                                          \
			break;                                                                               \
		case 2 * RQ_RSH_POS:                                                                         \
			fn(__VA_ARGS__, RQ_RSH_POS, 0);                                                      \
			break;                                                                               \
		default:                                                                                     \
			fn(__VA_ARGS__, RQ_RSH_POS, 1);                                                      \
			break;                                                                               \
		}                                                                                            \
	} while (0)
