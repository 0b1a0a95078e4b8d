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
SL_Q8_TILE(32)
SL_Q8_TILE(16)
SL_Q8_TILE(8)

void sl_sparse_q8_avx2(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in, size_t in_stride,
		       void *out, size_t out_stride, void *scratch)
{
	/* 32-pixel tiles only while the tile (256 bytes per block column) stays in L1. */
	const bool wide = sl_sparse_q8_tile_bytes(p->kb) * 2 <= SL_SPARSE_WIDE_TILE;
	const q8_tile_fn fns[4] = {NULL, wide ? tile32 : NULL, tile16, tile8};
	run_tiles(p, m_begin, m_end, in, in_stride, out, out_stride, scratch, fns);
}
