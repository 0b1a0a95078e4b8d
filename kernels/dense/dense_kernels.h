/* The per-ISA kernels (compiled with their own flags, reached only through
 * the family lists of dispatch.c) and their SIMDe builds for x86 (_simde,
 * test-only library). */
#pragma once

#include "kernels/dense/dense.h"

#define SL_DENSE_GEMM_MR_DOT  8
#define SL_DENSE_GEMM_MR_C16  4
#define SL_DENSE_GEMM_MR_AVX2 6
#define SL_DENSE_GEMM_MR_VNNI 8

#define SL_DENSE_GEMM_DECL(name)                                                                             \
	void name(const sl_dense_gemm *p, size_t rows, const int8_t *a, size_t a_stride,                     \
		  const int32_t *rowsum, uint8_t *c, size_t c_stride)
#define SL_DENSE_DW_DECL(name)                                                                               \
	void name(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs, uint8_t *out,               \
		  size_t out_stride)

/* The x86 depthwise entry points: one instance of the kernel template FN per
 * input / output type (uint8 or int8), chosen from the packed layer. */
#define SL_DENSE_DW_VARIANTS(FN, TAPS, S1)                                                                   \
	do {                                                                                                 \
		if (p->rq.in_u8) {                                                                           \
			if (p->rq.out_u8)                                                                    \
				FN(p, n_px, ptrs, out, out_stride, TAPS, 1, 1, S1);                          \
			else                                                                                 \
				FN(p, n_px, ptrs, out, out_stride, TAPS, 1, 0, S1);                          \
		} else {                                                                                     \
			if (p->rq.out_u8)                                                                    \
				FN(p, n_px, ptrs, out, out_stride, TAPS, 0, 1, S1);                          \
			else                                                                                 \
				FN(p, n_px, ptrs, out, out_stride, TAPS, 0, 0, S1);                          \
		}                                                                                            \
	} while (0)

SL_DENSE_GEMM_DECL(sl_dense_gemm_sdot_8x8);
SL_DENSE_GEMM_DECL(sl_dense_gemm_smlal_4x4);
SL_DENSE_DW_DECL(sl_dense_dw_3x3s1_smlal8);
SL_DENSE_DW_DECL(sl_dense_dw_3x3_smlal8);
SL_DENSE_DW_DECL(sl_dense_dw_any_smlal8);
SL_DENSE_DW_DECL(sl_dense_dw_any_smlal16);
SL_DENSE_DW_DECL(sl_dense_dw_3x3_smlal16);

SL_DENSE_GEMM_DECL(sl_dense_gemm_sdot_8x8_simde);
SL_DENSE_GEMM_DECL(sl_dense_gemm_smlal_4x4_simde);
SL_DENSE_DW_DECL(sl_dense_dw_3x3s1_smlal8_simde);
SL_DENSE_DW_DECL(sl_dense_dw_3x3_smlal8_simde);
SL_DENSE_DW_DECL(sl_dense_dw_any_smlal8_simde);
SL_DENSE_DW_DECL(sl_dense_dw_any_smlal16_simde);
SL_DENSE_DW_DECL(sl_dense_dw_3x3_smlal16_simde);

void sl_dense_add_neon(const sl_dense_add_params *q, size_t n, const uint8_t *a, const uint8_t *b,
		       uint8_t *out);
void sl_dense_add_neon_simde(const sl_dense_add_params *q, size_t n, const uint8_t *a, const uint8_t *b,
			     uint8_t *out);

/* x86-64 AVX2 (kernels/dense/x86) */
SL_DENSE_GEMM_DECL(sl_dense_gemm_avx2_w16);
/* x86-64 AVX-512 VNNI (kernels/dense/x86) */
SL_DENSE_GEMM_DECL(sl_dense_gemm_avx512vnni_16);
SL_DENSE_DW_DECL(sl_dense_dw_3x3s1_avx512vnni);
SL_DENSE_DW_DECL(sl_dense_dw_3x3_avx512vnni);
SL_DENSE_DW_DECL(sl_dense_dw_any_avx512vnni);
void sl_dense_widen_avx2(int16_t *dst, const uint8_t *src, size_t n, bool u8);
SL_DENSE_DW_DECL(sl_dense_dw_3x3s1_avx2);
SL_DENSE_DW_DECL(sl_dense_dw_3x3_avx2);
SL_DENSE_DW_DECL(sl_dense_dw_any_avx2);
void sl_dense_add_avx2(const sl_dense_add_params *q, size_t n, const uint8_t *a, const uint8_t *b,
		       uint8_t *out);
/* portable (add.c): the reference arithmetic, element by element */
void sl_dense_add_scalar(const sl_dense_add_params *q, size_t n, const uint8_t *a, const uint8_t *b,
			 uint8_t *out);
