/* Shared by the per-ISA kernel sources (gemm_smlal.c, gemm_sdot.c,
 * dw_smlal.c): built for aarch64 natively, or for x86 through SIMDe in the
 * test-only library (SL_DENSE_SIMDE), where the exported names get a _simde
 * suffix. Internal to kernels/dense/neon. */
#pragma once

#include <stdint.h>
#include <string.h>

#ifdef SL_DENSE_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>
#define SL_DENSE_FN(name) name##_simde
#else
#include <arm_neon.h>
#define SL_DENSE_FN(name) name
#endif

#include "kernels/dense/dense.h"
#include "kernels/dense/dense_kernels.h"

/* Small fixed loops over register arrays: fully unrolled so that the arrays
 * stay in registers at -O2. */
#ifdef __clang__
/* clang reports loops it cannot unroll as errors under -Werror (SIMDe's struct
 * vectors in the sanitizer build); gcc builds what ships. */
#define SL_DENSE_UNROLL
#else
#define SL_DENSE_UNROLL _Pragma("GCC unroll 16")
#endif

#ifdef SL_DENSE_SIMDE
/* SRSHL by a negative (right) shift. SIMDe 0.7.4's portable version adds the
 * rounding constant in int32 and wraps for values within 2^(n-1) of
 * INT32_MAX; the instruction (and qemu) compute it exactly. */
static inline int32x4_t sl_dense_srshl(int32x4_t a, int32x4_t b)
{
	int32_t va[4], vb[4];
	vst1q_s32(va, a);
	vst1q_s32(vb, b);
	for (int i = 0; i < 4; i++) {
		const int n = -(int8_t)vb[i];
		if (n > 0)
			va[i] = (int32_t)(((int64_t)va[i] + ((int64_t)1 << (n - 1))) >> n);
		else
			va[i] = (int32_t)((uint32_t)va[i] << -n);
	}
	return vld1q_s32(va);
}
#else
#define sl_dense_srshl vrshlq_s32
#endif

/* gemmlowp's MultiplyByQuantizedMultiplier on 4 lanes of 4 channels. The left
 * shift wraps like the reference's uint32 shift; SQRDMULH is exactly
 * SaturatingRoundingDoublingHighMul; RoundingDivideByPOT rounds half away
 * from zero, SRSHL half up, so negative values are first lowered by one. That
 * subtraction (SSRA of the sign) cannot overflow: with a multiplier in
 * [0, INT32_MAX] (the packers reject others) SQRDMULH never returns
 * INT32_MIN. rsh is the right shift negated; with rsh 0 the fix-up is 0. */
static inline int32x4_t sl_dense_rq(int32x4_t x, int32x4_t mult, int32x4_t lsh, int32x4_t rsh, int any_lsh)
{
	if (any_lsh)
		x = vshlq_s32(x, lsh);
	x = vqrdmulhq_s32(x, mult);
	x = vsraq_n_s32(x, vandq_s32(x, rsh), 31);
	return sl_dense_srshl(x, rsh);
}

/* sl_dense_rq when every lane shifts right by at least 1 (rsh <= -1, no left
 * shift; sl_dense_requant.all_rsh): the fix-up's mask x & rsh then has x's
 * sign bit, so the fix-up is x >> 31 and costs one SSRA instead of AND +
 * SSRA. */
static inline int32x4_t sl_dense_rq_rsh(int32x4_t x, int32x4_t mult, int32x4_t rsh)
{
	x = vqrdmulhq_s32(x, mult);
	x = vsraq_n_s32(x, x, 31);
	return sl_dense_srshl(x, rsh);
}

/* sl_dense_rq_rsh for a layer that clamps negative values
 * (sl_dense_requant.clamps_negative): SRSHL's half-up rounding differs from
 * the reference only on negative ties, and both results are then at most 0,
 * which the clamp turns into act_min alike. */
static inline int32x4_t sl_dense_rq_rsh_pos(int32x4_t x, int32x4_t mult, int32x4_t rsh)
{
	return sl_dense_srshl(vqrdmulhq_s32(x, mult), rsh);
}

/* Requantize channels [c0, c0 + 4) of one accumulator vector. */
static inline int32x4_t sl_dense_rq_at(const sl_dense_requant *q, int32x4_t x, size_t c0)
{
	return sl_dense_rq(x, vld1q_s32(q->mult + c0), vld1q_s32(q->lsh + c0), vld1q_s32(q->rsh + c0),
			   q->any_lsh);
}

/* Output stage constants, loaded once per call: the output buffer is bytes,
 * which may alias anything, so fields read in a loop would be reloaded after
 * every store. */
typedef struct {
	int32x4_t zp;
	int16x8_t zp16;
	uint8x16_t lo, hi; /* activation range as raw bytes of the output type */
	int u8;
} sl_dense_out;

static inline sl_dense_out sl_dense_out_of(const sl_dense_requant *q)
{
	return (sl_dense_out){.zp = vdupq_n_s32(q->out_zp),
			      .zp16 = vdupq_n_s16((int16_t)q->out_zp),
			      .lo = vdupq_n_u8((uint8_t)q->act_min),
			      .hi = vdupq_n_u8((uint8_t)q->act_max),
			      .u8 = q->out_u8};
}

/* Two requantized vectors -> 8 output bytes: the zero point is added with
 * int32 wrap-around as in the reference, then saturated to the output type
 * and clamped to the activation range. */
static inline uint8x8_t sl_dense_narrow8(const sl_dense_out *o, int32x4_t lo, int32x4_t hi)
{
	const int16x8_t h = vcombine_s16(vqmovn_s32(vaddq_s32(lo, o->zp)), vqmovn_s32(vaddq_s32(hi, o->zp)));
	if (o->u8)
		return vmin_u8(vmax_u8(vqmovun_s16(h), vget_low_u8(o->lo)), vget_low_u8(o->hi));
	return vreinterpret_u8_s8(vmin_s8(vmax_s8(vqmovn_s16(h), vreinterpret_s8_u8(vget_low_u8(o->lo))),
					  vreinterpret_s8_u8(vget_low_u8(o->hi))));
}

static inline uint8x16_t sl_dense_narrow16(const sl_dense_out *o, const int32x4_t x[4])
{
	const int16x8_t h0 =
	    vcombine_s16(vqmovn_s32(vaddq_s32(x[0], o->zp)), vqmovn_s32(vaddq_s32(x[1], o->zp)));
	const int16x8_t h1 =
	    vcombine_s16(vqmovn_s32(vaddq_s32(x[2], o->zp)), vqmovn_s32(vaddq_s32(x[3], o->zp)));
	if (o->u8)
		return vminq_u8(vmaxq_u8(vcombine_u8(vqmovun_s16(h0), vqmovun_s16(h1)), o->lo), o->hi);
	return vreinterpretq_u8_s8(
	    vminq_s8(vmaxq_s8(vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)), vreinterpretq_s8_u8(o->lo)),
		     vreinterpretq_s8_u8(o->hi)));
}

/* sl_dense_narrow16 for values within +-2^30 (sl_dense_rq_rsh's): the zero
 * point is added after narrowing to int16, 8 lanes per instruction. Exact:
 * without int32 wrap-around the reference computes clamp(x + zp); a lane
 * that saturates in int16 (|x| > 2^15 - 1) stays beyond the 8-bit range
 * after adding |zp| <= 255, on the same side, as x + zp does; otherwise the
 * int16 sum is x + zp or saturates on that side too. */
static inline uint8x16_t sl_dense_narrow16_zp16(const sl_dense_out *o, const int32x4_t x[4])
{
	const int16x8_t h0 = vqaddq_s16(vcombine_s16(vqmovn_s32(x[0]), vqmovn_s32(x[1])), o->zp16);
	const int16x8_t h1 = vqaddq_s16(vcombine_s16(vqmovn_s32(x[2]), vqmovn_s32(x[3])), o->zp16);
	if (o->u8)
		return vminq_u8(vmaxq_u8(vcombine_u8(vqmovun_s16(h0), vqmovun_s16(h1)), o->lo), o->hi);
	return vreinterpretq_u8_s8(
	    vminq_s8(vmaxq_s8(vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)), vreinterpretq_s8_u8(o->lo)),
		     vreinterpretq_s8_u8(o->hi)));
}

/* Keeps v in its register across a loop: stops GCC from hoisting its low half
 * into a register of its own (vget_low for SMULL), which in the depthwise
 * kernels costs more registers than there are. */
#ifdef SL_DENSE_SIMDE
#define SL_DENSE_PIN(v) ((void)0)
#else
#define SL_DENSE_PIN(v) __asm__("" : "+w"(v))
#endif

/* First n (< 8 or < 16) bytes of a vector. */
static inline void sl_dense_store_part8(uint8_t *d, uint8x8_t v, size_t n)
{
	uint8_t t[8];
	vst1_u8(t, v);
	memcpy(d, t, n);
}

static inline void sl_dense_store_part16(uint8_t *d, uint8x16_t v, size_t n)
{
	uint8_t t[16];
	vst1q_u8(t, v);
	memcpy(d, t, n);
}
