/* AVX2 int8/uint8 SpMM (built with -mavx2 -mfma, reached through dispatch).
 *
 * Tile: mr = 32 pixels while the tile fits in L1 (small K), else 16, and 8
 * for the last few rows; activations widened to int16 in K-major pairs,
 *   at[(2 * j + h) * 2 * mr + 2 * px + e] = a[px][4 * j + 2 * h + e],
 * so one vpmaddwd multiplies a K pair of 8 pixels by a broadcast weight pair:
 * 16 MACs, no horizontal reduction, and the int16 products cannot saturate
 * (|a| <= 255, |w - w_zp| <= 510 even doubled). vpmaddubsw would do 32 MACs
 * per instruction but saturates its int16 pair sums for our ranges. A block's
 * weights are broadcast once for the whole tile (register blocking: mr / 8
 * accumulators per channel).
 *
 * When every channel's accumulator is provably below 2^30 (pack time,
 * fast_requant) the weights come doubled (w16x2, from the pack: doubling the
 * activations instead cost 8 adds per 128 tile values, 2-6 % of the small-N
 * projection layers), so the accumulator arrives doubled and
 * gemmlowp's SaturatingRoundingDoublingHighMul + RoundingDivideByPOT collapse
 * to one 64-bit add and an extraction of the high half (see rq_fast).
 *
 * Layers packed with fp32 scales (SL_SPARSE_RQ_FP32) are requantized as XNNPACK's
 * own int8 kernels do, for runtimes that let XNNPACK round its own way: the
 * sparse layers then match the dense ones bit for bit. */
#define SL_Q8_CHANNEL channel_avx2
#include "kernels/sparse/x86/q8_avx2_tile.h"
static void tile32(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows, uint8_t *out,
		   size_t out_stride, int16_t *at)
{
	tile(p, in, in_stride, rows, out, out_stride, at, 32);
}

static void tile8(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows, uint8_t *out,
		  size_t out_stride, int16_t *at)
{
	tile(p, in, in_stride, rows, out, out_stride, at, 8);
}

static void tile16(const sl_sparse_q8 *p, const uint8_t *in, size_t in_stride, size_t rows, uint8_t *out,
		   size_t out_stride, int16_t *at)
{
	tile(p, in, in_stride, rows, out, out_stride, at, 16);
}

void sl_sparse_q8_avx2(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in, size_t in_stride,
		       void *out, size_t out_stride, void *scratch)
{
	int16_t *at = sl_x86_align64(scratch);
	const uint8_t *a = in;
	uint8_t *o = out;
	/* 32-pixel tiles halve the per-channel work (row setup, requantization
	 * constants, weight broadcasts) per output, but only while the tile
	 * (256 bytes per block column) stays in L1. */
	const bool wide = sl_sparse_q8_tile_bytes(p->kb) * 2 <= SL_SPARSE_WIDE_TILE;
	size_t m0 = m_begin;
	while (wide && m_end - m0 > 16) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)32);
		tile32(p, a + m0 * in_stride, in_stride, rows, o + m0 * out_stride, out_stride, at);
		m0 += rows;
	}
	while (m_end - m0 > 8) {
		const size_t rows = SL_MIN(m_end - m0, (size_t)16);
		tile16(p, a + m0 * in_stride, in_stride, rows, o + m0 * out_stride, out_stride, at);
		m0 += rows;
	}
	/* Small layers (7x7 = 3 * 16 + 1 pixels) would waste most of a last 16-pixel tile. */
	if (m0 < m_end)
		tile8(p, a + m0 * in_stride, in_stride, m_end - m0, o + m0 * out_stride, out_stride, at);
}
