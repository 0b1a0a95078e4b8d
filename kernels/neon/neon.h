/* Dense NEON int8/uint8 kernels: convolution and fully connected as a GEMM
 * (SDOT on ARMv8.2 dot-product cores, SMULL/SMLAL2/SADALP on ARMv8.0) and
 * depthwise convolution (SMULL/SMLAL). TFLite semantics, bit-exact with the
 * scalar reference kernels of kernels/ref (sl_ref_conv2d_q8, sl_ref_dwconv2d_q8,
 * sl_ref_fc_q8): int32 accumulation with wrap-around, gemmlowp requantization.
 *
 * Everything here but the per-ISA kernels is plain C, built on every
 * architecture (the x86 build runs the NEON kernels through SIMDe in its
 * tests). Packing happens once at prepare time; running allocates nothing.
 *
 * Zero points. The kernels multiply raw int8 values, uint8 data being seen as
 * int8 through x ^ 0x80 (x - 128). With a' = a - 128 for uint8 input (a
 * otherwise), ca the input zero point in that domain, w' and cw likewise for
 * the weights:
 *   sum_k (a - za)(w - zw) = sum a'w' - cw sum a' - ca sum w' + K ca cw.
 * The last two terms are folded into the bias at pack time; the second needs
 * the input, so it is computed per pixel (row sums of the packed activation
 * tile) and only when some channel has cw != 0 (uint8 weights; TFLite's int8
 * weights are symmetric). Positions outside the input (padding) are fed as
 * the input zero point, which contributes (za - za)(w - zw) = 0 as the
 * reference's skipped taps do. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"
#include "kernels/ref/ref_kernels.h"

#define SL_NEON_MAX_K (1 << 20)
#define SL_NEON_MAX_N (1 << 16)

/* ---- ISA features and run-time dispatch ---------------------------------- */

enum {
	SL_NEON_ISA_NEON = 1u << 0,
	SL_NEON_ISA_DOT = 1u << 1, /* ARMv8.2 SDOT/UDOT */
};

/* Features of this CPU (0 on x86). */
unsigned sl_neon_cpu_isa(void);

/* ---- quantization, shared by the packed layers ----------------------------- */

/* Layer description, as read from the model. Arrays marked [nq] have one
 * entry (per-tensor) or n entries (per-channel). */
typedef struct {
	sl_dtype in_type, w_type, out_type; /* each SL_DTYPE_I8 or SL_DTYPE_U8 */
	int nq;
	const int32_t *w_zp; /* [nq] */
	const int32_t *mult; /* [nq] sl_ref_conv_q8_multipliers() */
	const int *shift;    /* [nq] */
	const int32_t *bias; /* [n] or NULL */
	int32_t in_zp, out_zp, act_min, act_max;
} sl_neon_quant_desc;

/* Per-channel requantization, channel-indexed arrays of a packed layer (padded
 * to the kernel's channel tile with harmless values). rsh is the right shift
 * negated, as SRSHL wants it. */
typedef struct {
	int32_t *mult, *lsh, *rsh;
	bool any_lsh;
	bool in_u8, out_u8;
	int32_t out_zp, act_min, act_max;
} sl_neon_requant;

/* ---- GEMM: CONV_2D (groups 1) and FULLY_CONNECTED ---------------------------- */

/* Weight layouts, one per kernel family member. */
typedef enum {
	/* SDOT: channel blocks of 8; per 4 K values, 8 channels x 4 bytes. */
	SL_NEON_LAYOUT_DOT_8,
	/* SMLAL: channel blocks of 4; per 16 K values, 4 channels x 16 bytes (per
	 * 8 for a K tail of 8: 4 x 8 bytes). */
	SL_NEON_LAYOUT_C16_4,
} sl_neon_layout;

typedef struct sl_neon_gemm {
	int32_t n, k;
	int32_t kp; /* K rounded up to 8: packed row length */
	int32_t np; /* N rounded up to the channel block */
	int32_t nr; /* channel block */
	sl_neon_layout layout;
	int8_t *w;	 /* packed weights w' (0 past k and n) */
	int32_t *bias;	 /* [np] bias - ca sum w' + K ca cw */
	int32_t *cw;	 /* [np] weight zero points (int8 domain), NULL when all 0 */
	int32_t ca;	 /* input zero point in the int8 domain */
	uint8_t in_flip; /* 0x80 for uint8 input, else 0 */
	int8_t pad_byte; /* raw input byte of the zero point (padding value) */
	bool pair_ok;	 /* no w' == -128: two products may be summed in int16 */
	sl_neon_requant rq;
	size_t bytes;
} sl_neon_gemm;

/* n output channels, k = filter_h * filter_w * in_c values per channel;
 * w [n][k] (OHWI / [out, in]). Returns 0, -EINVAL (err says why), -ENOMEM. */
int sl_neon_gemm_pack(int n, int k, const void *w, const sl_neon_quant_desc *q, sl_neon_layout layout,
		      sl_neon_gemm **ret, sl_error *err);
sl_neon_gemm *sl_neon_gemm_free(sl_neon_gemm *p); /* NULL is a no-op; returns NULL */
static inline void sl_neon_gemm_freep(sl_neon_gemm **p)
{
	sl_neon_gemm_free(*p);
}

/* Micro-kernel: rows (1..mr) pixels of A (int8 domain, kp bytes each at
 * a_stride) times all n channels; rowsum[mr] (sum of each row's k values)
 * when p->cw, else ignored. Output rows at c + i * c_stride, n bytes each. */
typedef void (*sl_neon_gemm_fn)(const sl_neon_gemm *p, size_t rows, const int8_t *a, size_t a_stride,
				const int32_t *rowsum, uint8_t *c, size_t c_stride);

typedef struct {
	const char *name;
	unsigned isa; /* all of these must be present */
	sl_neon_layout layout;
	int mr;
	sl_neon_gemm_fn fn;
} sl_neon_gemm_impl;

/* ---- depthwise convolution (depth multiplier 1) ------------------------------ */

typedef struct sl_neon_dw {
	int32_t c, cp; /* channels, rounded up to 8 */
	int32_t taps;  /* filter_h * filter_w */
	/* Fast path: int8 input, int8 weights, zero weight zero points and no
	 * weight of -128: raw products summed by pairs in int16. */
	bool fast;
	int8_t *w8;	 /* fast only: [taps][cp] w */
	int16_t *w16;	 /* [taps][cp] w - zw */
	int32_t *bias8;	 /* fast only: [cp] bias - za sum w */
	int32_t *bias16; /* [cp] bias */
	int32_t in_zp;
	uint8_t *zp_row; /* [cp] raw input zero point bytes: the padding source */
	sl_neon_requant rq;
	size_t bytes;
} sl_neon_dw;

/* w: [filter_h][filter_w][c] (1HWC). */
int sl_neon_dw_pack(int c, int taps, const void *w, const sl_neon_quant_desc *q, sl_neon_dw **ret,
		    sl_error *err);
sl_neon_dw *sl_neon_dw_free(sl_neon_dw *p);
static inline void sl_neon_dw_freep(sl_neon_dw **p)
{
	sl_neon_dw_free(*p);
}

/* n_px output pixels, each with taps input pointers (ptrs[px * taps + t],
 * pointing at the pixel's channel 0 or at p->zp_row); outputs at
 * out + px * out_stride, c bytes each. */
typedef void (*sl_neon_dw_fn)(const sl_neon_dw *p, size_t n_px, const uint8_t *const *ptrs, uint8_t *out,
			      size_t out_stride);

enum {
	SL_NEON_DW_NEEDS_FAST = 1u << 0,
	SL_NEON_DW_NEEDS_3X3 = 1u << 1,
};

typedef struct {
	const char *name;
	unsigned isa;
	unsigned needs; /* SL_NEON_DW_NEEDS_* */
	sl_neon_dw_fn fn;
} sl_neon_dw_impl;

/* ---- family lists ------------------------------------------------------------- */

/* Every kernel compiled in for this architecture, best first (empty on x86,
 * where the engine has no NEON). */
const sl_neon_gemm_impl *sl_neon_gemm_impls(size_t *ret_n);
const sl_neon_dw_impl *sl_neon_dw_impls(size_t *ret_n);
/* Best kernel for this CPU, or NULL. */
const sl_neon_gemm_impl *sl_neon_gemm_select(void);
const sl_neon_dw_impl *sl_neon_dw_select(const sl_neon_dw *p, int filter_h, int filter_w);
bool sl_neon_dw_usable(const sl_neon_dw_impl *impl, const sl_neon_dw *p, int filter_h, int filter_w);

/* ---- whole layers, optionally multi-threaded ------------------------------------- */

struct pthreadpool;

/* A prepared CONV_2D / FULLY_CONNECTED layer: geometry, kernel, packed
 * weights (borrowed) and the scratch its tasks need, allocated once.
 * FULLY_CONNECTED is a 1x1 convolution over batch pixels. */
typedef struct sl_neon_conv sl_neon_conv;
int sl_neon_conv_new(const sl_ref_conv_geom *g, const sl_neon_gemm *p, const sl_neon_gemm_impl *impl,
		     int threads, sl_neon_conv **ret, sl_error *err);
sl_neon_conv *sl_neon_conv_free(sl_neon_conv *c);
static inline void sl_neon_conv_freep(sl_neon_conv **c)
{
	sl_neon_conv_free(*c);
}
/* in/out: NHWC tensors of the geometry. pool may be NULL. */
void sl_neon_conv_run(sl_neon_conv *c, const void *in, void *out, struct pthreadpool *pool);
/* Whether the layer reads its input in place (no activation packing). */
bool sl_neon_conv_direct(const sl_neon_conv *c);

typedef struct sl_neon_dwconv sl_neon_dwconv;
int sl_neon_dwconv_new(const sl_ref_conv_geom *g, const sl_neon_dw *p, const sl_neon_dw_impl *impl,
		       int threads, sl_neon_dwconv **ret, sl_error *err);
sl_neon_dwconv *sl_neon_dwconv_free(sl_neon_dwconv *c);
static inline void sl_neon_dwconv_freep(sl_neon_dwconv **c)
{
	sl_neon_dwconv_free(*c);
}
void sl_neon_dwconv_run(sl_neon_dwconv *c, const void *in, void *out, struct pthreadpool *pool);
