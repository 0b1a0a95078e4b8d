/* AVX2 int8/uint8 SpMM (built with -mavx2 -mfma, reached through dispatch).
 *
 * Tile: 16 pixels, activations widened to int16 in K-major pairs,
 *   at[(2 * j + h) * 32 + 2 * px + e] = a[px][4 * j + 2 * h + e],
 * so one vpmaddwd multiplies a K pair of 8 pixels by a broadcast weight pair:
 * 16 MACs, no horizontal reduction, and the int16 products cannot saturate
 * (|a| <= 510 even doubled, |w - w_zp| <= 255). vpmaddubsw would do 32 MACs
 * per instruction but saturates its int16 pair sums for our ranges.
 *
 * When every channel's accumulator is provably below 2^30 (pack time,
 * fast_requant) the tile holds 2 * a, so the accumulator arrives doubled and
 * gemmlowp's SaturatingRoundingDoublingHighMul + RoundingDivideByPOT collapse
 * to one 64-bit add and an extraction of the high half (see rq_fast). */
#include <immintrin.h>

#include "kernels/quant.h"
#include "kernels/sparse/x86/x86_common.h"

#define MR SL_X86_MR

static inline void tr8x8_epi32(__m256i r[8])
{
	__m256i t[8], u[8];
	SL_UNROLL
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	SL_UNROLL
	for (int i = 0; i < 2; i++) {
		u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
		u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
		u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	SL_UNROLL
	for (int i = 0; i < 4; i++) {
		r[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
		r[4 + i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
	}
}

static void pack_tile(const sl_sparse_q8 *p, const uint8_t *in, size_t stride, size_t rows, int16_t *at)
{
	sl_x86_rows r;
	sl_x86_rows_init(&r, in, stride, rows, p->k);
	const bool u8 = p->in_u8, dbl = p->fast_requant;
	for (int c = 0; c < p->k; c += 16) {
		int16_t *dst = at + (size_t)(c / 4) * 64;
		SL_UNROLL
		for (int half = 0; half < 2; half++) {
			__m256i v[8];
			SL_UNROLL
			for (int i = 0; i < 8; i++) {
				const __m128i x = _mm_loadu_si128((const __m128i *)sl_x86_rows_at(&r, 8 * half + i, c, p->k));
				v[i] = u8 ? _mm256_cvtepu8_epi16(x) : _mm256_cvtepi8_epi16(x);
				if (dbl)
					v[i] = _mm256_add_epi16(v[i], v[i]);
			}
			tr8x8_epi32(v);
			SL_UNROLL
			for (int d = 0; d < 8; d++)
				_mm256_store_si256((__m256i *)(dst + d * 32 + half * 16), v[d]);
		}
	}
}

static inline __m256i bcast_pair(const int16_t *w)
{
	int32_t v;
	memcpy(&v, w, sizeof(v));
	return _mm256_set1_epi32(v);
}

/* Accumulators of pixels 0..7 and 8..15 of channel n, starting from init. */
static inline void accumulate(const sl_sparse_q8 *p, int n, const int16_t *at, int32_t init, __m256i *lo,
			      __m256i *hi)
{
	__m256i a0 = _mm256_set1_epi32(init), a1 = a0;
	__m256i a2 = _mm256_setzero_si256(), a3 = a2;
	const uint16_t *idx = p->idx;
	const int16_t *w = p->w16;
	uint32_t i = p->row[n];
	const uint32_t e = p->row[n + 1];
	for (; i + 2 <= e; i += 2) {
		const int16_t *b0 = at + (size_t)idx[i] * 64;
		const int16_t *b1 = at + (size_t)idx[i + 1] * 64;
		const __m256i w0 = bcast_pair(w + 4 * (size_t)i), w1 = bcast_pair(w + 4 * (size_t)i + 2);
		const __m256i w2 = bcast_pair(w + 4 * (size_t)i + 4), w3 = bcast_pair(w + 4 * (size_t)i + 6);
		a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)b0), w0));
		a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b0 + 16)), w0));
		a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b0 + 32)), w1));
		a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b0 + 48)), w1));
		a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)b1), w2));
		a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b1 + 16)), w2));
		a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b1 + 32)), w3));
		a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b1 + 48)), w3));
	}
	if (i < e) {
		const int16_t *b0 = at + (size_t)idx[i] * 64;
		const __m256i w0 = bcast_pair(w + 4 * (size_t)i), w1 = bcast_pair(w + 4 * (size_t)i + 2);
		a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)b0), w0));
		a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b0 + 16)), w0));
		a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b0 + 32)), w1));
		a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(b0 + 48)), w1));
	}
	*lo = _mm256_add_epi32(a0, a2);
	*hi = _mm256_add_epi32(a1, a3);
}

/* x2 = 2 * acc, |acc << lshift| < 2^30. With y = acc << lshift, the high half
 * of 2y * mult + 2^31 is SRDHM(y, mult); adding 2^(rshift-1) to it, and -1
 * for y < 0, then shifting right arithmetically is RoundingDivideByPOT's
 * round-half-away-from-zero (y's sign stands in for the SRDHM result's: they
 * differ only when that result is 0, which rounds to 0 either way). The
 * 2^(rshift-1) rides in the 64-bit nudge so the 32-bit sum cannot overflow. */
static inline __m256i rq_fast(__m256i x2, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x2 = _mm256_sll_epi32(x2, _mm_cvtsi32_si128(c->lshift));
	const __m256i m = _mm256_set1_epi32(c->mult);
	const __m256i nudge = _mm256_set1_epi64x(c->nudge);
	const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x2, m), nudge);
	const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x2, 32), m), nudge);
	__m256i z = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
	if (c->rshift) {
		z = _mm256_add_epi32(z, _mm256_srai_epi32(x2, 31));
		z = _mm256_sra_epi32(z, _mm_cvtsi32_si128(c->rshift));
	}
	return z;
}

/* Any acc: gemmlowp's sequence as is (mult >= 0, so SRDHM never saturates). */
static inline __m256i rq_exact(__m256i x, const sl_sparse_q8_chan *c)
{
	if (c->lshift)
		x = _mm256_sll_epi32(x, _mm_cvtsi32_si128(c->lshift));
	const __m256i m = _mm256_set1_epi32(c->mult);
	const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
	const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
	const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge);
	__m256i z = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
	if (c->rshift) {
		const int32_t mask = (int32_t)(((int64_t)1 << c->rshift) - 1);
		const __m256i rem = _mm256_and_si256(z, _mm256_set1_epi32(mask));
		const __m256i thr = _mm256_sub_epi32(_mm256_set1_epi32(mask >> 1), _mm256_srai_epi32(z, 31));
		z = _mm256_sub_epi32(_mm256_sra_epi32(z, _mm_cvtsi32_si128(c->rshift)), _mm256_cmpgt_epi32(rem, thr));
	}
	return z;
}

/* Channel n's 16 outputs as saturated int16 with the output zero point added,
 * in pixel order 0-3, 8-11 | 4-7, 12-15 (packs works per 128-bit lane). */
static inline __m256i channel16(const sl_sparse_q8 *p, int n, const int16_t *at, __m256i zp16)
{
	const sl_sparse_q8_chan *c = &p->ch[n];
	__m256i lo, hi;
	if (p->fast_requant) {
		accumulate(p, n, at, (int32_t)((uint32_t)c->bias_raw * 2u), &lo, &hi);
		lo = rq_fast(lo, c);
		hi = rq_fast(hi, c);
	} else {
		accumulate(p, n, at, c->bias_raw, &lo, &hi);
		lo = rq_exact(lo, c);
		hi = rq_exact(hi, c);
	}
	return _mm256_adds_epi16(_mm256_packs_epi32(lo, hi), zp16);
}

static void channels16(const sl_sparse_q8 *p, int n0, int nc, const int16_t *at, uint8_t ct[16][16])
{
	const __m256i zp16 = _mm256_set1_epi16((int16_t)p->out_zp);
	const __m256i lo = _mm256_set1_epi8((char)p->act_min), hi = _mm256_set1_epi8((char)p->act_max);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	for (int c = 0; c < nc; c += 2) {
		const int na = n0 + c, nb = c + 1 < nc ? na + 1 : na;
		const bool ea = p->row[na] == p->row[na + 1], eb = p->row[nb] == p->row[nb + 1];
		if (!ea || !eb) {
			const __m256i ra = ea ? _mm256_setzero_si256() : channel16(p, na, at, zp16);
			const __m256i rb = eb ? _mm256_setzero_si256() : channel16(p, nb, at, zp16);
			__m256i v;
			if (p->out_u8) {
				v = _mm256_packus_epi16(ra, rb);
				v = _mm256_min_epu8(_mm256_max_epu8(v, lo), hi);
			} else {
				v = _mm256_packs_epi16(ra, rb);
				v = _mm256_min_epi8(_mm256_max_epi8(v, lo), hi);
			}
			_mm256_store_si256((__m256i *)ct[c], _mm256_permutevar8x32_epi32(v, order));
		}
		if (ea)
			memset(ct[c], p->ch[na].out_const, 16);
		if (eb && c + 1 < nc)
			memset(ct[c + 1], p->ch[nb].out_const, 16);
	}
}

void sl_sparse_q8_avx2(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in, size_t in_stride,
		       void *out, size_t out_stride, void *scratch)
{
	int16_t *at = sl_x86_align64(scratch);
	_Alignas(32) uint8_t ct[16][16];
	for (size_t m0 = m_begin; m0 < m_end; m0 += MR) {
		const size_t rows = m_end - m0 < MR ? m_end - m0 : MR;
		pack_tile(p, (const uint8_t *)in + m0 * in_stride, in_stride, rows, at);
		uint8_t *o = (uint8_t *)out + m0 * out_stride;
		for (int n0 = 0; n0 < p->n; n0 += 16) {
			const int nc = p->n - n0 < 16 ? p->n - n0 : 16;
			if (nc < 16)
				memset(ct[nc], 0, (size_t)(16 - nc) * 16);
			channels16(p, n0, nc, at, ct);
			sl_x86_store_tile_u8((const uint8_t(*)[16])ct, nc, rows, o + n0, out_stride);
		}
	}
}
