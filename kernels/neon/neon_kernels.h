/* The per-ISA kernels (compiled with their own flags, reached only through
 * the family lists of dispatch.c) and their SIMDe builds for x86 (_simde,
 * test-only library). */
#pragma once

#include "kernels/neon/neon.h"

#define SL_NEON_GEMM_MR_DOT 8
#define SL_NEON_GEMM_MR_C16 4

#define SL_NEON_GEMM_DECL(name)                                                                              \
	void name(const sl_neon_gemm *p, size_t rows, const int8_t *a, size_t a_stride,                      \
		  const int32_t *rowsum, uint8_t *c, size_t c_stride)
#define SL_NEON_DW_DECL(name)                                                                                \
	void name(const sl_neon_dw *p, size_t n_px, const uint8_t *const *ptrs, uint8_t *out,                \
		  size_t out_stride)

SL_NEON_GEMM_DECL(sl_neon_gemm_sdot_8x8);
SL_NEON_GEMM_DECL(sl_neon_gemm_smlal_4x4);
SL_NEON_DW_DECL(sl_neon_dw_3x3_smlal8);
SL_NEON_DW_DECL(sl_neon_dw_any_smlal8);
SL_NEON_DW_DECL(sl_neon_dw_any_smlal16);

SL_NEON_GEMM_DECL(sl_neon_gemm_sdot_8x8_simde);
SL_NEON_GEMM_DECL(sl_neon_gemm_smlal_4x4_simde);
SL_NEON_DW_DECL(sl_neon_dw_3x3_smlal8_simde);
SL_NEON_DW_DECL(sl_neon_dw_any_smlal8_simde);
SL_NEON_DW_DECL(sl_neon_dw_any_smlal16_simde);
