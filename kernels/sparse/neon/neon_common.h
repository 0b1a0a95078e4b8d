/* Shared by the NEON kernels (q8_neon.c, q8_neondot.c, f32_neon.c). Built for
 * aarch64 natively, or for x86 through SIMDe in the test-only library
 * (SL_SPARSE_SIMDE), where the exported names get a _simde suffix.
 *
 * int8 tile: 16 pixels, K-major in 4-byte groups, at[j * 64 + 4 * px + e] =
 * a[px][4 * j + e], uint8 input flipped to int8 (a ^ 0x80; bias_x80 folds the
 * 128 back), so that one 16-byte load is one 1x4 block column for 4 pixels,
 * which is exactly SDOT's operand (and SMULL's, two pixels per half). */
#pragma once

#include <stdint.h>
#include <string.h>

#ifdef SL_SPARSE_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>
#define SL_NEON_FN(name) name##_simde
#else
#include <arm_neon.h>
#define SL_NEON_FN(name) name
#endif

#include "common/macros.h"
#include "kernels/sparse/sparse_internal.h"
#include "kernels/sparse/sparse_rows.h"

#define SL_NEON_MR 16

static inline void *sl_neon_align64(void *p)
{
	return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* 4x4 transpose of 32-bit elements. */
static inline void sl_neon_tr4x4_u32(uint32x4_t r[4])
{
	const uint32x4_t t0 = vtrn1q_u32(r[0], r[1]), t1 = vtrn2q_u32(r[0], r[1]);
	const uint32x4_t t2 = vtrn1q_u32(r[2], r[3]), t3 = vtrn2q_u32(r[2], r[3]);
	r[0] = vreinterpretq_u32_u64(vtrn1q_u64(vreinterpretq_u64_u32(t0), vreinterpretq_u64_u32(t2)));
	r[1] = vreinterpretq_u32_u64(vtrn1q_u64(vreinterpretq_u64_u32(t1), vreinterpretq_u64_u32(t3)));
	r[2] = vreinterpretq_u32_u64(vtrn2q_u64(vreinterpretq_u64_u32(t0), vreinterpretq_u64_u32(t2)));
	r[3] = vreinterpretq_u32_u64(vtrn2q_u64(vreinterpretq_u64_u32(t1), vreinterpretq_u64_u32(t3)));
}

static inline void sl_neon_pack_tile_q8(const sl_sparse_q8 *p, const uint8_t *in, size_t stride, size_t rows,
					int8_t *at)
{
	const int k = p->k;
	sl_sparse_rows r;
	sl_sparse_rows_init(&r, in, stride, rows, k, SL_NEON_MR);
	const uint8x16_t flip = vdupq_n_u8(p->in_u8 ? 0x80 : 0);
	for (int c = 0; c < k; c += 16) {
		int8_t *dst = at + (size_t)(c / 4) * 64;
		SL_UNROLL
		for (int q = 0; q < SL_NEON_MR / 4; q++) {
			uint32x4_t v[4];
			SL_UNROLL
			for (int i = 0; i < 4; i++) {
				/* Padding rows and columns hold 0 ^ flip: harmless, their
				 * weights are 0 or their outputs are not stored. */
				const uint8_t *src = sl_sparse_rows_at(&r, (size_t)(4 * q + i), c, k);
				v[i] = vreinterpretq_u32_u8(veorq_u8(vld1q_u8(src), flip));
			}
			sl_neon_tr4x4_u32(v);
			SL_UNROLL
			for (int j = 0; j < 4; j++)
				vst1q_u8((uint8_t *)dst + j * 64 + 16 * q, vreinterpretq_u8_u32(v[j]));
		}
	}
}

/* gemmlowp's requantization, TFLite's NEON formulation: SQRDMULH is exactly
 * SaturatingRoundingDoublingHighMul, and SRSHL after subtracting 1 from
 * negative values (saturating: only INT32_MIN is affected, and it rounds the
 * same) is RoundingDivideByPOT's round-half-away-from-zero. */
static inline int32x4_t sl_neon_requant(int32x4_t x, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x = vshlq_s32(x, vdupq_n_s32(c->lshift));
	x = vqrdmulhq_n_s32(x, c->mult);
	const int32x4_t sh = vdupq_n_s32(-c->rshift);
	const int32x4_t fix = vshrq_n_s32(vandq_s32(x, sh), 31);
	return vrshlq_s32(vqaddq_s32(x, fix), sh);
}

/* XNNPACK's fp32 requantization (sl_requantize_fp32), as its AArch64 qc8
 * kernels do it: FCVTNS rounds to nearest even like nearbyintf. There is no
 * clamp in float: FCVTNS and the narrowing in sl_neon_narrow saturate, and
 * past the output range every step ends at the same bound as the
 * reference's clamp-first. */
static inline int32x4_t sl_neon_requant_fp32(int32x4_t x, const sl_sparse_q8_chan *c)
{
	const float32x4_t f = vmulq_n_f32(vcvtq_f32_s32(x), c->scale);
#ifdef SL_SPARSE_SIMDE
	return vcvtq_s32_f32(vrndnq_f32(f)); /* Debian's SIMDe has no vcvtnq_s32_f32 */
#else
	return vcvtnq_s32_f32(f);
#endif
}

/* XNNPACK's rndnu (sl_requantize_rndnu), as its AArch64 per-tensor kernels
 * do it: SQSHL (scales of 0.5 and more only), SQDMULH, then SRSHL rounding
 * half up. */
static inline int32x4_t sl_neon_requant_rndnu(int32x4_t x, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x = vqshlq_s32(x, vdupq_n_s32(c->lshift));
	return vrshlq_s32(vqdmulhq_n_s32(x, c->mult), vdupq_n_s32(-c->rshift));
}

/* The layer's requantization: once per channel and 16 pixels, outside the
 * block loop, so a branch on the mode costs little (the SDOT kernel still
 * instantiates each mode: see there). */
static inline int32x4_t sl_neon_requant_any(int32x4_t x, const sl_sparse_q8_chan *c, sl_sparse_rq mode)
{
	if (mode == SL_SPARSE_RQ_RNDNU)
		return sl_neon_requant_rndnu(x, c);
	return mode == SL_SPARSE_RQ_FP32 ? sl_neon_requant_fp32(x, c) : sl_neon_requant(x, c);
}

/* Four requantized int32x4 (pixels 0-15) -> 16 output bytes. */
static inline uint8x16_t sl_neon_narrow(const sl_sparse_q8 *p, const int32x4_t r[4])
{
	const int16x8_t zp = vdupq_n_s16((int16_t)p->out_zp);
	const int16x8_t h0 = vqaddq_s16(vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1])), zp);
	const int16x8_t h1 = vqaddq_s16(vcombine_s16(vqmovn_s32(r[2]), vqmovn_s32(r[3])), zp);
	if (p->out_u8) {
		const uint8x16_t v = vcombine_u8(vqmovun_s16(h0), vqmovun_s16(h1));
		return vminq_u8(vmaxq_u8(v, vdupq_n_u8((uint8_t)p->act_min)),
				vdupq_n_u8((uint8_t)p->act_max));
	}
	const int8x16_t v = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
	return vreinterpretq_u8_s8(
	    vminq_s8(vmaxq_s8(v, vdupq_n_s8((int8_t)p->act_min)), vdupq_n_s8((int8_t)p->act_max)));
}

static inline void sl_neon_store_partial(uint8_t *d, uint8x16_t v, int nc)
{
	uint8_t t[16];
	vst1q_u8(t, v);
	memcpy(d, t, (size_t)nc);
}

/* ct[c] = channel c's 16 pixels -> out[px * stride + c], px < rows, c < nc. */
static inline void sl_neon_store_tile_u8(const uint8x16_t ct[16], int nc, size_t rows, uint8_t *out,
					 size_t stride)
{
	uint8x16_t a[16], b[16];
	SL_UNROLL
	for (int i = 0; i < 8; i++) {
		a[2 * i] = vtrn1q_u8(ct[2 * i], ct[2 * i + 1]);
		a[2 * i + 1] = vtrn2q_u8(ct[2 * i], ct[2 * i + 1]);
	}
	/* a[2i + s]: channels 2i, 2i+1 of pixels of parity s, as 16-bit pairs */
	SL_UNROLL
	for (int i = 0; i < 4; i++)
		SL_UNROLL
	for (int s = 0; s < 2; s++) {
		const uint16x8_t x = vreinterpretq_u16_u8(a[4 * i + s]),
				 y = vreinterpretq_u16_u8(a[4 * i + 2 + s]);
		b[4 * i + s] = vreinterpretq_u8_u16(vtrn1q_u16(x, y));
		b[4 * i + 2 + s] = vreinterpretq_u8_u16(vtrn2q_u16(x, y));
	}
	/* b[4i + t]: channels 4i..4i+3 of pixels = t (mod 4), as 32-bit groups */
	SL_UNROLL
	for (int i = 0; i < 2; i++)
		SL_UNROLL
	for (int t = 0; t < 4; t++) {
		const uint32x4_t x = vreinterpretq_u32_u8(b[8 * i + t]),
				 y = vreinterpretq_u32_u8(b[8 * i + 4 + t]);
		a[8 * i + t] = vreinterpretq_u8_u32(vtrn1q_u32(x, y));
		a[8 * i + 4 + t] = vreinterpretq_u8_u32(vtrn2q_u32(x, y));
	}
	/* a[8i + u]: channels 8i..8i+7 of pixels = u (mod 8), as 64-bit groups */
	SL_UNROLL
	for (int u = 0; u < 8; u++) {
		const uint64x2_t x = vreinterpretq_u64_u8(a[u]), y = vreinterpretq_u64_u8(a[8 + u]);
		b[u] = vreinterpretq_u8_u64(vtrn1q_u64(x, y));
		b[8 + u] = vreinterpretq_u8_u64(vtrn2q_u64(x, y));
	}
	/* b[px]: the 16 channels of pixel px */
	for (size_t px = 0; px < rows; px++) {
		if (nc == 16)
			vst1q_u8(out + px * stride, b[px]);
		else
			sl_neon_store_partial(out + px * stride, b[px], nc);
	}
}
