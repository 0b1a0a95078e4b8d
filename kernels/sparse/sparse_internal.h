/* Shared by the sparse packers, the reference and the per-ISA kernels (which
 * are compiled with their own flags and reached only through dispatch.c). */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "kernels/sparse/sparse.h"

/* Small fixed loops over register arrays (transpositions): fully unrolled so
 * that the arrays stay in registers at -O2. */
#ifdef __clang__
/* clang honours the GCC pragma but reports (-Werror) loops it cannot unroll,
 * e.g. over SIMDe's struct vectors in the sanitizer build; gcc is what ships. */
#define SL_UNROLL
#else
#define SL_UNROLL _Pragma("GCC unroll 16")
#endif

/* K-major activation tile of 16 pixels: every layout the kernels use fits in
 * 128 bytes per int8 block column (int16 values) and 256 per fp32 one, with
 * the column count rounded up to the 16-value transposition chunk. Kernels
 * may use wider tiles when those fit in SL_SPARSE_WIDE_TILE bytes. */
#define SL_SPARSE_WIDE_TILE 16384
/* The VNNI kernel's byte tiles: 32 KB (L1d: 32 KB on Zen 4, 48 KB on Intel
 * cores with AVX-512 VNNI); the scratch is sized for it. */
#define SL_SPARSE_VNNI_TILE 32768
static inline size_t sl_sparse_q8_tile_bytes(int32_t kb)
{
	return (size_t)128 * (size_t)((kb + 3) & ~3);
}

/* The widest tiles (pixels) the AVX-512 kernels take on a layer of kb block
 * columns: the ones that stay within the sizes above. */
static inline size_t sl_sparse_q8_avx512_widest(int32_t kb)
{
	const size_t tb = sl_sparse_q8_tile_bytes(kb);
	return tb * 4 <= SL_SPARSE_WIDE_TILE ? 64 : tb * 2 <= SL_SPARSE_WIDE_TILE ? 32 : 16;
}

/* The VNNI kernel's byte tile is half the int16 one. */
static inline size_t sl_sparse_q8_vnni_widest(int32_t kb)
{
	const size_t tb = sl_sparse_q8_tile_bytes(kb);
	return tb * 2 <= SL_SPARSE_VNNI_TILE ? 64 : tb <= SL_SPARSE_VNNI_TILE ? 32 : 16;
}

static inline size_t sl_sparse_f32_tile_bytes(int32_t kb)
{
	return (size_t)256 * (size_t)((kb + 3) & ~3);
}

__attribute__((format(printf, 3, 4))) static inline int sl_sparse_fail(sl_error *err, int code,
								       const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Per-ISA kernels (kernels/sparse/x86, kernels/sparse/neon). The _simde
 * variants are the NEON sources built for x86 through SIMDe, tests only. */
#define SL_SPARSE_Q8_DECL(name)                                                                              \
	void name(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in, size_t in_stride,     \
		  void *out, size_t out_stride, void *scratch)
#define SL_SPARSE_F32_DECL(name)                                                                             \
	void name(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in, size_t in_stride,   \
		  float *out, size_t out_stride, void *scratch)

SL_SPARSE_Q8_DECL(sl_sparse_q8_sse41);
SL_SPARSE_Q8_DECL(sl_sparse_q8_avx2);
SL_SPARSE_Q8_DECL(sl_sparse_q8_avx512);
SL_SPARSE_Q8_DECL(sl_sparse_q8_avx512vnni);
SL_SPARSE_Q8_DECL(sl_sparse_q8_neon);
SL_SPARSE_Q8_DECL(sl_sparse_q8_neondot);
SL_SPARSE_Q8_DECL(sl_sparse_q8_neon_simde);
SL_SPARSE_Q8_DECL(sl_sparse_q8_neondot_simde);
SL_SPARSE_F32_DECL(sl_sparse_f32_sse41);
SL_SPARSE_F32_DECL(sl_sparse_f32_avx2);
SL_SPARSE_F32_DECL(sl_sparse_f32_avx512);
SL_SPARSE_F32_DECL(sl_sparse_f32_neon);
SL_SPARSE_F32_DECL(sl_sparse_f32_neon_simde);
