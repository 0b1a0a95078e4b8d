/* Dense int8/uint8 kernels: convolution and fully connected as a GEMM
 * (SDOT on ARMv8.2 dot-product cores, SMULL/SMLAL2/SADALP on ARMv8.0,
 * VPMADDWD on x86-64 AVX2, VPDPBUSD with AVX-512 VNNI), depthwise convolution (SMULL/SMLAL, VPMADDWD)
 * and same-shape quantized ADD. TFLite semantics, bit-exact with the
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
 * reference's skipped taps do.
 *
 * The AVX2 layouts (W16) work in the raw domain instead: weights are stored
 * as int16 w - zw (-255..255), activations widened to int16 as they are, and
 * za sum (w - zw) is folded into the bias; no row sums. VPMADDWD's int32 pair
 * sums (at most 2 * 255 * 255) cannot saturate, unlike VPMADDUBSW's int16
 * ones.
 *
 * The AVX-512 VNNI layout keeps the SDOT scheme with the activations in the
 * unsigned domain a' + 128 (VPDPBUSD multiplies unsigned by signed bytes, into
 * int32 directly: nothing saturates); ca and the row sums are in that domain
 * too, so the same bias folding holds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"
#include "kernels/ref/ref_kernels.h"

#define SL_DENSE_MAX_K (1 << 20)
#define SL_DENSE_MAX_N (1 << 16)

/* ---- ISA features and run-time dispatch ---------------------------------- */

enum {
	SL_DENSE_ISA_NEON = 1u << 0,
	SL_DENSE_ISA_DOT = 1u << 1, /* ARMv8.2 SDOT/UDOT */
	SL_DENSE_ISA_AVX2 = 1u << 2,
	SL_DENSE_ISA_AVX512VNNI = 1u << 3, /* with AVX-512 F, BW, DQ and VL */
};

/* Features of this CPU. */
unsigned sl_dense_cpu_isa(void);

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
} sl_dense_quant_desc;

/* Per-channel requantization, channel-indexed arrays of a packed layer (padded
 * to the kernel's channel tile with harmless values). rsh is the right shift
 * negated, as SRSHL wants it. */
typedef struct {
	int32_t *mult, *lsh, *rsh;
	bool any_lsh;
	/* Every channel shifts right by at least 1: the requantized value is
	 * within +-2^30, so the kernels may use the cheaper rounding fix-up and
	 * add the output zero point after narrowing to int16 (neon_simd.h). */
	bool all_rsh;
	/* act_min >= out_zp (ReLU, ReLU6): a negative value requantizes to the
	 * zero point or below whichever way its tie rounds, and the clamp makes
	 * it act_min, so the kernels may skip the fix-up that rounds negative
	 * ties away from zero. */
	bool clamps_negative;
	bool in_u8, out_u8;
	int32_t out_zp, act_min, act_max;
} sl_dense_requant;

/* ---- GEMM: CONV_2D (groups 1) and FULLY_CONNECTED ---------------------------- */

/* Weight layouts, one per kernel family member. */
typedef enum {
	/* SDOT: channel blocks of 8; per 4 K values, 8 channels x 4 bytes. */
	SL_DENSE_LAYOUT_DOT_8,
	/* SMLAL: channel blocks of 4; per 16 K values, 4 channels x 16 bytes (per
	 * 8 for a K tail of 8: 4 x 8 bytes). */
	SL_DENSE_LAYOUT_C16_4,
	/* AVX2: channel blocks of 16, int16 w - zw; per 2 K values, 16 channels
	 * x 2 int16 (two 256-bit rows: channels 0-7, 8-15). kp = K rounded up to
	 * 2; the activation tile is int16 (see sl_dense_gemm_fn). */
	SL_DENSE_LAYOUT_W16_16,
	/* AVX-512 VNNI: channel blocks of 16; per 4 K values, 16 channels x 4
	 * bytes (w' as for SDOT). The activation tile is in the unsigned domain
	 * (a' ^ 0x80: uint8 input as it is, int8 input flipped), and so are ca
	 * and the row sums. */
	SL_DENSE_LAYOUT_VNNI_16,
} sl_dense_layout;

/* Whether the layout's activation tile holds unsigned bytes (VPDPBUSD)
 * rather than the int8 domain. */
static inline bool sl_dense_layout_u8_tile(sl_dense_layout l)
{
	return l == SL_DENSE_LAYOUT_VNNI_16;
}

static inline bool sl_dense_layout_wide(sl_dense_layout l)
{
	return l == SL_DENSE_LAYOUT_W16_16;
}

typedef struct sl_dense_gemm {
	int32_t n, k;
	int32_t kp; /* packed row length: K rounded up to 8 (2 for W16, 4 for VNNI) */
	int32_t np; /* N rounded up to the channel block */
	int32_t nr; /* channel block */
	sl_dense_layout layout;
	int8_t *w;     /* packed weights w' (0 past k and n); W16: NULL */
	int16_t *w16;  /* W16 only: packed w - zw (0 past k and n) */
	int32_t *bias; /* [np] bias - ca sum w' + K ca cw; W16: bias - za sum(w - zw) */
	int16_t in_zp; /* raw input zero point (W16 padding value) */
	bool in_u8;
	int32_t *cw;	 /* [np] weight zero points (int8 domain), NULL when all 0 */
	int32_t ca;	 /* input zero point in the tile's domain */
	uint8_t in_flip; /* what the tile packer XORs the input with (0 or 0x80) */
	int8_t pad_byte; /* raw input byte of the zero point (padding value) */
	bool pair_ok;	 /* no w' == -128: two products may be summed in int16 */
	sl_dense_requant rq;
	size_t bytes;
} sl_dense_gemm;

/* n output channels, k = filter_h * filter_w * in_c values per channel;
 * w [n][k] (OHWI / [out, in]). Returns 0, -EINVAL (err says why), -ENOMEM. */
int sl_dense_gemm_pack(int n, int k, const void *w, const sl_dense_quant_desc *q, sl_dense_layout layout,
		       sl_dense_gemm **ret, sl_error *err);
sl_dense_gemm *sl_dense_gemm_free(sl_dense_gemm *p); /* NULL is a no-op; returns NULL */
static inline void sl_dense_gemm_freep(sl_dense_gemm **p)
{
	sl_dense_gemm_free(*p);
}

/* Micro-kernel: rows (1..mr) pixels of A (int8 domain, kp bytes each at
 * a_stride) times all n channels; rowsum[mr] (sum of each row's k values)
 * when p->cw, else ignored. Output rows at c + i * c_stride, n bytes each.
 * Wide (W16) layouts: a is really int16 raw values, kp per row, a_stride
 * counted in int16 elements; rowsum unused. */
typedef void (*sl_dense_gemm_fn)(const sl_dense_gemm *p, size_t rows, const int8_t *a, size_t a_stride,
				 const int32_t *rowsum, uint8_t *c, size_t c_stride);

typedef struct {
	const char *name;
	unsigned isa; /* all of these must be present */
	sl_dense_layout layout;
	int mr;
	sl_dense_gemm_fn fn;
	/* wide layouts: dst[i] = src[i] as uint8 (u8) or int8, i < n */
	void (*widen)(int16_t *dst, const uint8_t *src, size_t n, bool u8);
} sl_dense_gemm_impl;

/* ---- depthwise convolution (depth multiplier 1) ------------------------------ */

typedef struct sl_dense_dw {
	int32_t c, cp; /* channels, rounded up to 16 */
	int32_t taps;  /* filter_h * filter_w */
	/* Fast path: int8 input, int8 weights, zero weight zero points and no
	 * weight of -128: raw products summed by pairs in int16. */
	bool fast;
	int8_t *w8;	 /* fast only: [taps][cp] w */
	int16_t *w16;	 /* [taps][cp] w - zw */
	int32_t *bias8;	 /* fast only: [cp] bias - za sum w */
	int32_t *bias16; /* [cp] bias */
	/* AVX2: per 16-channel block, per tap pair, (w - zw) of taps 2j, 2j + 1
	 * interleaved in VPUNPCKL/HWD order (see dw_avx2.c); 0 past taps and c.
	 * The AVX-512 kernels read two blocks' rows as one register. */
	int16_t *wp;
	int32_t *biasp; /* [cp] bias - za sum(w - zw) */
	int32_t in_zp;
	uint8_t *zp_row; /* [cp] raw input zero point bytes: the padding source */
	sl_dense_requant rq;
	size_t bytes;
} sl_dense_dw;

/* w: [filter_h][filter_w][c] (1HWC). */
int sl_dense_dw_pack(int c, int taps, const void *w, const sl_dense_quant_desc *q, sl_dense_dw **ret,
		     sl_error *err);
sl_dense_dw *sl_dense_dw_free(sl_dense_dw *p);
static inline void sl_dense_dw_freep(sl_dense_dw **p)
{
	sl_dense_dw_free(*p);
}

/* n_px output pixels, each with taps input pointers (ptrs[px * taps + t],
 * pointing at the pixel's channel 0 or at p->zp_row); outputs at
 * out + px * out_stride, c bytes each. */
typedef void (*sl_dense_dw_fn)(const sl_dense_dw *p, size_t n_px, const uint8_t *const *ptrs, uint8_t *out,
			       size_t out_stride);

enum {
	SL_DENSE_DW_NEEDS_FAST = 1u << 0,
	SL_DENSE_DW_NEEDS_3X3 = 1u << 1,
	SL_DENSE_DW_NEEDS_S1 = 1u << 2, /* horizontal stride and dilation 1 */
};

typedef struct {
	const char *name;
	unsigned isa;
	unsigned needs; /* SL_DENSE_DW_NEEDS_* */
	sl_dense_dw_fn fn;
} sl_dense_dw_impl;

/* ---- family lists ------------------------------------------------------------- */

/* Every kernel compiled in for this architecture, best first (empty on x86,
 * where the engine has no NEON). */
const sl_dense_gemm_impl *sl_dense_gemm_impls(size_t *ret_n);
const sl_dense_dw_impl *sl_dense_dw_impls(size_t *ret_n);
/* Best kernel for this CPU, or NULL. */
const sl_dense_gemm_impl *sl_dense_gemm_select(void);
const sl_dense_dw_impl *sl_dense_dw_select(const sl_dense_dw *p, const sl_ref_conv_geom *g);
bool sl_dense_dw_usable(const sl_dense_dw_impl *impl, const sl_dense_dw *p, const sl_ref_conv_geom *g);

/* ---- whole layers, optionally multi-threaded ------------------------------------- */

struct pthreadpool;

/* A prepared CONV_2D / FULLY_CONNECTED layer: geometry, kernel, packed
 * weights (borrowed) and the scratch its tasks need, allocated once.
 * FULLY_CONNECTED is a 1x1 convolution over batch pixels. */
typedef struct sl_dense_conv sl_dense_conv;
int sl_dense_conv_new(const sl_ref_conv_geom *g, const sl_dense_gemm *p, const sl_dense_gemm_impl *impl,
		      int threads, sl_dense_conv **ret, sl_error *err);
sl_dense_conv *sl_dense_conv_free(sl_dense_conv *c);
static inline void sl_dense_conv_freep(sl_dense_conv **c)
{
	sl_dense_conv_free(*c);
}
/* in/out: NHWC tensors of the geometry. pool may be NULL. */
void sl_dense_conv_run(sl_dense_conv *c, const void *in, void *out, struct pthreadpool *pool);
/* Whether the layer reads its input in place (no activation packing). */
bool sl_dense_conv_direct(const sl_dense_conv *c);

typedef struct sl_dense_dwconv sl_dense_dwconv;
int sl_dense_dwconv_new(const sl_ref_conv_geom *g, const sl_dense_dw *p, const sl_dense_dw_impl *impl,
			int threads, sl_dense_dwconv **ret, sl_error *err);
sl_dense_dwconv *sl_dense_dwconv_free(sl_dense_dwconv *c);
static inline void sl_dense_dwconv_freep(sl_dense_dwconv **c)
{
	sl_dense_dwconv_free(*c);
}
void sl_dense_dwconv_run(sl_dense_dwconv *c, const void *in, void *out, struct pthreadpool *pool);

/* ---- quantized ADD (same shapes) ------------------------------------------------ */

/* TFLite's quantized ADD (sl_ref_add_q8's arithmetic): inputs and output of
 * one type; shifts in TFLite's convention (positive = left). */
typedef struct {
	bool u8;
	int32_t a_zp, b_zp, out_zp;
	int left_shift;
	int32_t a_mult, b_mult, out_mult;
	int a_shift, b_shift, out_shift;
	int32_t act_min, act_max;
} sl_dense_add_params;

/* out[i] = a[i] + b[i], i < n. */
typedef void (*sl_dense_add_fn)(const sl_dense_add_params *q, size_t n, const uint8_t *a, const uint8_t *b,
				uint8_t *out);

typedef struct {
	const char *name;
	unsigned isa;
	sl_dense_add_fn fn;
} sl_dense_add_impl;

/* Checks the parameters the kernels rely on (shift ranges, multipliers >= 0,
 * left_shift <= 20, zero points and activation range within the type). */
int sl_dense_add_check(const sl_dense_add_params *q, sl_error *err);
const sl_dense_add_impl *sl_dense_add_impls(size_t *ret_n);
const sl_dense_add_impl *sl_dense_add_select(void);
/* The whole tensor, split over pool (may be NULL) in cache-sized chunks. */
void sl_dense_add_run(const sl_dense_add_impl *impl, const sl_dense_add_params *q, size_t n, const void *a,
		      const void *b, void *out, struct pthreadpool *pool);

/* ---- AVERAGE_POOL_2D and SOFTMAX, int8/uint8 (pool_softmax.c) ------------------- */

/* sl_ref_avgpool_q8's results; acc: sl_dense_avgpool_q8_scratch(&a->g) bytes. */
size_t sl_dense_avgpool_q8_scratch(const sl_ref_pool_geom *g);
void sl_dense_avgpool_q8(const sl_ref_pool_q8_args *a, uint32_t *acc);

/* sl_ref_mean_q8's results for a 4-D NHWC input reduced over H and W
 * (axes_mask 0x6); acc: channels entries. */
void sl_dense_mean_hw_q8(const sl_ref_mean_q8_args *a, uint32_t *acc);

/* sl_ref_softmax_q8's results from tables built once per layer (input and
 * output pointers of a are not used). */
typedef struct {
	sl_ref_softmax_q8_args a;
	int32_t e[256];	   /* exp of -d, Q0.31, -1: left out */
	int32_t term[256]; /* its Q12.19 term of the row sum */
} sl_dense_softmax_tab;

void sl_dense_softmax_q8_init(const sl_ref_softmax_q8_args *a, sl_dense_softmax_tab *t);
void sl_dense_softmax_q8(const sl_dense_softmax_tab *t, const void *input, void *output);

/* ---- QUANTIZE float -> int8/uint8 (quantize.c) ---------------------------------- */

/* sl_ref_quantize_f32's results. */
void sl_dense_quantize_f32(const float *restrict in, void *restrict out, size_t n, sl_dtype type, float scale,
			   int32_t zp);
/* out = in ^ x: int8 <-> uint8 requantization whose byte map is a sign flip
 * (x 0x80: equal scales, zero points 128 apart) or the identity (x 0). */
void sl_dense_xor_bytes(const uint8_t *in, uint8_t *out, size_t n, uint8_t x);
