/* Sparse 1x1 convolution / fully connected (SpMM) on NHWC activations:
 * C[M pixels][N] = A[M][K] * W^T with W = [N out][K in] pruned in 1x4 blocks
 * (one output channel x four consecutive input channels).
 *
 * Why 1x4 and pixels in the vector lanes: every ISA we target has a MAC
 * instruction that reduces four consecutive K values into one 32-bit lane
 * (SDOT, or two vpmaddwd/pmaddwd int16 pairs, or SMULL + SADALP). Putting four
 * pixels' copies of one 4-value K group in a vector and the block's four weights
 * in a broadcast (SDOT's by-element form broadcasts them for free) gives 16
 * MACs per instruction with no horizontal reduction, and the weights of a block
 * are reused across the whole pixel tile. Output-channel blocks (4x1) would put
 * channels in the lanes instead, which NHWC outputs like, but then a K pair for
 * vpmaddwd/SDOT spans two unrelated stored blocks and the activations have to be
 * gathered per pixel. A 1x4 block is also what TFLite's sparse format and most
 * block-pruning tools produce. The price is a transposition of each pixel
 * tile of the activations to K-major order (amortised over all N output
 * channels) and of the output tile back to NHWC (cheap: bytes, 16x16 at a
 * time).
 *
 * Packed layout (built once at load time, immutable, shareable across threads):
 * block-CSR by output channel, a row pointer per channel, a compact uint16 block
 * column per block (K <= SL_SPARSE_MAX_K so it always fits; absolute rather than
 * delta-encoded so that a channel can be started anywhere and the kernels need
 * one load and one shift per block either way), four weights per block and the
 * per-channel terms the inner loops need (bias with the zero-point corrections
 * folded in, requantization multiplier and shifts) so that they only do MACs and
 * requantization. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"

#define SL_SPARSE_MAX_K	      32768 /* |sum| <= K * 255 * 255 stays below 2^31 */
#define SL_SPARSE_MAX_N	      65536
#define SL_SPARSE_MAX_WEIGHTS (1u << 28)
#define SL_SPARSE_MR	      16 /* pixels per tile; multiples of it balance threads best */
/* Only the x86 kernels read w16x2: other architectures do not pack it. */
#if defined(__x86_64__) || defined(__i386__)
#define SL_SPARSE_HAVE_W16X2 1
#else
#define SL_SPARSE_HAVE_W16X2 0
#endif

/* ---- int8 / uint8 ------------------------------------------------------- */

/* How a layer's int32 accumulators become output bytes. */
typedef enum {
	SL_SPARSE_RQ_TFLITE, /* TFLite's (gemmlowp): ch[].mult, lshift, rshift */
	SL_SPARSE_RQ_FP32,   /* XNNPACK's fp32: one float multiply, rounded to even (ch[].scale) */
	SL_SPARSE_RQ_RNDNU,  /* XNNPACK's AArch64 rndnu: Q31 multiply and shifts, ties up (ch[]) */
} sl_sparse_rq;

/* Layer description, as read from the model. Arrays marked [nq] have one entry
 * (per-tensor) or n entries (per-channel), nq being 1 or n. */
typedef struct {
	int n, k;
	sl_dtype in_type, w_type, out_type; /* each SL_DTYPE_I8 or SL_DTYPE_U8 */
	const void *w;			    /* [n][k] */
	const int32_t *bias;		    /* [n], may be NULL */
	int nq;
	const int32_t *w_zp;  /* [nq], may be NULL (all zero) */
	const int32_t *mult;  /* [nq] Q31 multipliers, >= 0 (sl_quantize_multiplier) */
	const int32_t *shift; /* [nq] > 0: left shift; in [-31, 30] */
	/* [nq] in_scale * w_scale / out_scale as float, or NULL. When given, the
	 * output is requantized as XNNPACK's int8 kernels do it (fp32:
	 * sl_requantize_fp32, or rndnu below), so that a sparse layer matches a
	 * dense XNNPACK one bit for bit, and mult/shift are not used (may be
	 * NULL). */
	const float *fp32_scale;
	/* With fp32_scale: round as XNNPACK's per-tensor AArch64 kernels do
	 * (sl_requantize_rndnu) instead; every scale must be in [2^-32, 256). */
	bool rndnu;
	int32_t in_zp, out_zp;
	int32_t act_min, act_max; /* within the output type's range */
} sl_sparse_q8_desc;

/* Which weight copies to build. W16 is always built (reference and x86
 * kernels); W8 when asked, in which case a block whose w - w_zp does not fit
 * int8 (uint8 weights far from their zero point) is stored as two or three
 * blocks of the same column that add up to it. */
enum {
	SL_SPARSE_PACK_W8 = 1u << 0,
};

typedef struct {
	int32_t bias;	       /* bias as given: the reference adds it to sum (a - in_zp)(w - w_zp) */
	int32_t bias_raw;      /* bias - in_zp * S, S = sum_k (w - w_zp): kernels that use raw a */
	int32_t bias_x80;      /* bias - (in_zp - 128) * S for uint8 input seen as a ^ 0x80 (int8 MACs) */
	int32_t bias_u8;       /* bias - (in_zp + 128) * S for int8 input seen as a ^ 0x80 (uint8 x int8
				  MACs: x86 VNNI); bias_raw for uint8 input */
	int32_t mult;	       /* TFLite's Q31 multiplier, or rndnu's */
	int8_t lshift, rshift; /* TFLite's or rndnu's shift split into left and right parts, both >= 0 */
	uint8_t out_const;     /* output when the row has no block (raw byte of the out type) */
	uint8_t pad_;
	int64_t nudge; /* 2^31 + (rshift ? 2^(31 + rshift) : 0): x86 fast requantization */
	float scale;   /* SL_SPARSE_RQ_FP32: the float requantization scale */
} sl_sparse_q8_chan;

typedef struct sl_sparse_q8 {
	int32_t n, k;
	int32_t kb;	       /* ceil(k / 4) block columns */
	uint32_t nnzb;	       /* stored blocks */
	uint32_t *row;	       /* [n + 1] block offsets per output channel */
	uint16_t *idx;	       /* [nnzb] block column, ascending within a row (split blocks repeat it) */
	int16_t *w16;	       /* [nnzb][4] w - w_zp (0 past k), or a split block's part of it */
	int16_t *w16x2;	       /* [nnzb][4] 2 (w - w_zp): x86 fast_requant path; NULL elsewhere */
	int8_t *w8;	       /* [nnzb][4] same as int8, or NULL */
	sl_sparse_q8_chan *ch; /* [n] */
	bool in_u8, out_u8;
	/* Every channel's |acc << lshift| < 2^30 whatever the input, so the x86
	 * kernels may accumulate 2 * acc (with w16x2) and requantize with 10 ops
	 * per 8 lanes. */
	bool fast_requant;
	sl_sparse_rq rq;
	bool w8_no_min; /* w8 != NULL and no weight is -128: NEON may add two products in int16 */
	int32_t in_zp, out_zp, act_min, act_max;
	size_t bytes; /* everything owned by this object */
} sl_sparse_q8;

/* Pack; 1x4 blocks whose weights all equal their zero point are dropped.
 * Returns 0, -EINVAL (bad description, err says what) or -ENOMEM; *ret is
 * written only on success. O(n * k) time, at most sl_sparse_q8_max_bytes(). */
int sl_sparse_q8_pack(const sl_sparse_q8_desc *d, unsigned flags, sl_sparse_q8 **ret, sl_error *err);
sl_sparse_q8 *sl_sparse_q8_free(sl_sparse_q8 *p); /* NULL is a no-op; returns NULL */
static inline void sl_sparse_q8_freep(sl_sparse_q8 **p)
{
	sl_sparse_q8_free(*p);
}
/* Upper bound of the packed size, whatever the sparsity. */
size_t sl_sparse_q8_max_bytes(int n, int k, unsigned flags);
/* Scratch one kernel call needs (16-pixel K-major tile), 64-byte aligned. */
size_t sl_sparse_q8_scratch_bytes(const sl_sparse_q8 *p);

/* Compute output rows [m_begin, m_end). in/out point at pixel 0 of the
 * layer; strides are in elements (>= k and >= n). scratch: 64-byte aligned,
 * sl_sparse_q8_scratch_bytes() long, private to the call. Allocates nothing,
 * so calls on disjoint row ranges may run concurrently. */
typedef void (*sl_sparse_q8_fn)(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in,
				size_t in_stride, void *out, size_t out_stride, void *scratch);

/* ---- fp32 --------------------------------------------------------------- */

typedef struct {
	int n, k;
	const float *w;	   /* [n][k] */
	const float *bias; /* [n], may be NULL */
	float out_min, out_max;
} sl_sparse_f32_desc;

typedef struct sl_sparse_f32 {
	int32_t n, k, kb;
	uint32_t nnzb;
	uint32_t *row;
	uint16_t *idx;
	float *w;    /* [nnzb][4] */
	float *bias; /* [n] */
	float out_min, out_max;
	size_t bytes;
} sl_sparse_f32;

int sl_sparse_f32_pack(const sl_sparse_f32_desc *d, sl_sparse_f32 **ret, sl_error *err);
sl_sparse_f32 *sl_sparse_f32_free(sl_sparse_f32 *p);
static inline void sl_sparse_f32_freep(sl_sparse_f32 **p)
{
	sl_sparse_f32_free(*p);
}
size_t sl_sparse_f32_max_bytes(int n, int k);
size_t sl_sparse_f32_scratch_bytes(const sl_sparse_f32 *p);

typedef void (*sl_sparse_f32_fn)(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
				 size_t in_stride, float *out, size_t out_stride, void *scratch);

/* ---- family lists and run-time dispatch ----------------------------------- */

/* ISA features (bits), as reported by cpuinfo. */
enum {
	SL_SPARSE_ISA_SSE41 = 1u << 0,
	SL_SPARSE_ISA_AVX2 = 1u << 1, /* with FMA3 */
	SL_SPARSE_ISA_NEON = 1u << 2,
	SL_SPARSE_ISA_NEON_DOT = 1u << 3,
	SL_SPARSE_ISA_AVX512 = 1u << 4, /* F, BW, DQ and VL */
	SL_SPARSE_ISA_AVX512VNNI = 1u << 5,
};

/* Requirements of a kernel on the packed layer. */
enum {
	SL_SPARSE_NEEDS_W8 = 1u << 0,
};

typedef struct {
	const char *name;
	unsigned isa;	/* all of these must be present */
	unsigned needs; /* SL_SPARSE_NEEDS_* */
	sl_sparse_q8_fn fn;
	bool fp32_requant;  /* also runs layers packed with fp32_scale (and not rndnu) */
	bool rndnu_requant; /* also runs layers packed with fp32_scale and rndnu */
	/* pixels in its widest tile on a layer of kb block columns (NULL: 32);
	 * the thread split keeps those tiles whole */
	size_t (*widest)(int32_t kb);
} sl_sparse_q8_impl;

typedef struct {
	const char *name;
	unsigned isa;
	sl_sparse_f32_fn fn;
} sl_sparse_f32_impl;

unsigned sl_sparse_cpu_isa(void);
/* Every kernel compiled in for this architecture, best first, the scalar
 * reference last. */
const sl_sparse_q8_impl *sl_sparse_q8_impls(size_t *ret_n);
const sl_sparse_f32_impl *sl_sparse_f32_impls(size_t *ret_n);
/* Pack flags the best kernel for this CPU wants (pass to sl_sparse_q8_pack). */
unsigned sl_sparse_q8_pack_flags(void);
/* Whether the best kernel for this CPU runs fp32_scale layers (only then
 * does the runtime pack them so). */
bool sl_sparse_q8_fp32_requant_here(void);
/* The same for rndnu layers. */
bool sl_sparse_q8_rndnu_requant_here(void);
/* Best kernel for this CPU and packed layer (p NULL: for this CPU, whatever
 * the layer); never NULL (the reference). */
const sl_sparse_q8_impl *sl_sparse_q8_select(const sl_sparse_q8 *p);
const sl_sparse_f32_impl *sl_sparse_f32_select(void);
/* Whether impl can run here on p (p NULL: on this CPU). */
bool sl_sparse_q8_usable(const sl_sparse_q8_impl *impl, const sl_sparse_q8 *p);

/* Scalar references (also the last entries of the lists). */
void sl_sparse_q8_ref(const sl_sparse_q8 *p, size_t m_begin, size_t m_end, const void *in, size_t in_stride,
		      void *out, size_t out_stride, void *scratch);
void sl_sparse_f32_ref(const sl_sparse_f32 *p, size_t m_begin, size_t m_end, const float *in,
		       size_t in_stride, float *out, size_t out_stride, void *scratch);

/* ---- multi-threading ------------------------------------------------------ */

struct pthreadpool;

/* Scratch for up to `threads` concurrent calls, handed out per task so that a
 * pthreadpool_parallelize_1d_tile_1d over rows needs no thread index. */
typedef struct sl_sparse_scratch sl_sparse_scratch;
int sl_sparse_scratch_new(size_t bytes_per_call, int threads, sl_sparse_scratch **ret);
sl_sparse_scratch *sl_sparse_scratch_free(sl_sparse_scratch *s);
static inline void sl_sparse_scratch_freep(sl_sparse_scratch **s)
{
	sl_sparse_scratch_free(*s);
}

/* Run all m rows with impl, split over pool (NULL: calling thread only) in
 * tiles of `tile` rows (0: chosen from m, n and the thread count, output
 * channels split into groups as well when there are few rows). scratch must
 * have at least pthreadpool_get_threads_count(pool) slots. */
int sl_sparse_q8_run(const sl_sparse_q8_impl *impl, const sl_sparse_q8 *p, size_t m, const void *in,
		     size_t in_stride, void *out, size_t out_stride, struct pthreadpool *pool, size_t tile,
		     sl_sparse_scratch *scratch);
int sl_sparse_f32_run(const sl_sparse_f32_impl *impl, const sl_sparse_f32 *p, size_t m, const float *in,
		      size_t in_stride, float *out, size_t out_stride, struct pthreadpool *pool, size_t tile,
		      sl_sparse_scratch *scratch);
