/* Node adapter from the IR to the SpMM kernels, with the cost model deciding
 * which pointwise layers are worth running sparse. */
#include "kernels/sparse/sparse_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/dense/dense.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/sparse/sparse.h"

/* Cost model. The dense operator's work is proportional to N * K whatever the
 * weights; the sparse kernel's to the stored blocks, plus a fixed part (the
 * transposition of each 16-pixel input tile, amortised over N, and the
 * requantization). So sparse / dense time is close to a + b * (1 - z) for a
 * zero-block fraction z, with per-ISA constants, and the sparse kernel wins
 * above one break-even fraction, which is all the model keeps: with layers
 * this small, shape-dependent terms are below the machine's noise. AVX2 int8 is measured with bench_sparse
 * (Zen 3, -r 100 -m, three runs, each layer with its fused activation) over MobileNet v2's 19 pointwise
 * shapes, sparse vs XNNPACK qc8: totals 1.09x / 1.15x / 1.22x / 1.28x / 1.36x at 20 / 25 / 30 / 35 / 40 %
 * zero blocks at 1 thread, 1.06x / 1.12x / 1.18x / 1.25x / 1.33x at 2. At 30 % the 7x7 projections and
 * the last conv dip to 0.93-0.96x; at 35 % only b15-16 project, at 2 threads (0.98-0.99x); from 40 % every
 * layer is at or above 1.0x in every run at both thread counts. Hence 39 %: a layer with 40 %
 * of its blocks zero, where the compressor's 10 % allocation steps often land, runs sparse. bench_sparse_e2e
 * agrees: summed per-step minima of the claimed layers in the whole network at 1 thread, 1.44x at 50 %
 * and 2.65x at 80 %, a line crossing 1.0x near 39 %. fp32 (no per-layer benchmark) from bench_sparse_e2e on
 * the fp32 MobileNet v2: 1.33x at 72 % and 1.61x at 80 %, crossing 1.0x near 57 %: 60 %. The other ISAs are
 * not measured yet and get a margin above AVX2. These are TFLite-rounding figures; with fast numerics the
 * int8 kernels requantize as XNNPACK does, 10-15 % faster (bench_sparse -f totals at 70-90 %), so the same
 * threshold errs on the dense side there.
 * AVX-512 (Intel Xeon model 207, against XNNPACK's 512-bit qc8 kernels; bench_sparse -t 1,2 -s 10,20,30,40
 * -r 100 -m -k K): avx512vnni has every layer at 1.06x or more already at 10 % zero blocks (totals 1.80x at 1
 * thread, 1.59x at 2), hence 10 %; avx512 dips to 0.97x at 10 % and has every layer at 1.04x or more from
 * 20 %, hence 20 %. fp32 (the avx512 kernel; bench_sparse_e2e -y -p -s S on the fp32 MobileNet v2, summed
 * per-step minima of the claimed layers): 0.88x / 0.90x at 60 % (1 / 2 threads), 1.36x / 1.18x at 70 %, so
 * 65 %; the AVX2 kernel on the same machine was at 1.03x / 1.04x at 70 %. */
/* Below 8 rows (a classifier's 1x1 convolution on a pooled 1x1 map, a fully
 * connected layer on one vector) the kernels' pixel lanes run mostly empty:
 * MobileNet v2's last 1x1 conv (1 row, K 1280, N 1001) measured in
 * bench_sparse_e2e -v on AVX2 at 80 / 90 / 95 % zero blocks: 0.68x / 1.20x /
 * 2.03x at 1 thread, 0.42x / 0.78x / 1.13x at 2. Such layers stay dense up
 * to 90 %. */
#define SMALL_M		   8
#define SMALL_M_BREAK_EVEN 0.90

/* Under TFLite numerics an int8 layer that does not run sparse runs on our
 * dense GEMM rather than XNNPACK (whose rounding differs), and with AVX-512
 * VNNI that kernel is 1.3-3.5x faster than XNNPACK's on MobileNet v2's 1x1
 * layers (bench_dense): the break-evens above, measured against XNNPACK,
 * would take layers sparse that run slower so. Measured against it instead
 * (bench_sparse -d -t 1,2 -s 20,30,40,50,60,70 -r 100 -m, two runs, Intel
 * Xeon model 207, after the 512-bit output stage and whole-tile thread split
 * of a3cbdd4), the break-even grows as the layer shrinks: every layer of
 * 28x28 pixels or more wins from 20 % (the lowest measured: b5-7 expand
 * 1.05-1.19x at 1 thread), the 14x14 ones up to 52 % at 1 thread and 56 % at
 * 2 (b12-14 expand, b12-13 project), the 7x7 ones up to 61 % at 1 thread
 * and 69 % at 2 (b17 project). Few pixels leave the pixel lanes partly
 * empty while the dense kernel's channel lanes stay full. */
static double vs_dense_vnni_break_even(size_t m, int threads)
{
	if (m >= 512)
		return 0.20;
	if (m >= 128)
		return threads > 1 ? 0.58 : 0.55;
	return threads > 1 ? 0.70 : 0.62;
}

static bool dense_competitor_is_vnni(const sl_prepare_ctx *ctx, sl_dtype dt)
{
	const sl_dense_gemm_impl *g =
	    dt == SL_DTYPE_F32 || ctx->numerics == SL_NUMERICS_FAST ? NULL : sl_dense_gemm_select();
	return g && g->layout == SL_DENSE_LAYOUT_VNNI_16;
}

typedef struct {
	unsigned isa; /* SL_SPARSE_ISA_* bits that must be present */
	const char *name;
	double q8, f32;
} break_even;

static const break_even break_evens[] = {
    {SL_SPARSE_ISA_AVX512VNNI | SL_SPARSE_ISA_AVX512 | SL_SPARSE_ISA_AVX2, "avx512vnni", 0.10, 0.65},
    {SL_SPARSE_ISA_AVX512 | SL_SPARSE_ISA_AVX2, "avx512", 0.20, 0.65},
    {SL_SPARSE_ISA_AVX2, "avx2", 0.39, 0.60},
    {SL_SPARSE_ISA_NEON_DOT, "neondot", 0.50, 0.70},
    {SL_SPARSE_ISA_NEON, "neon", 0.50, 0.70},
    {SL_SPARSE_ISA_SSE41, "sse4.1", 0.50, 0.70},
    {0, "scalar", 1.0, 1.0}, /* the scalar SpMM never beats XNNPACK */
};

double sl_sparse_break_even(sl_dtype dtype, const char **ret_isa)
{
	const unsigned isa = sl_sparse_cpu_isa();
	const break_even *b = &break_evens[0];
	for (size_t i = 0; i < SL_ARRAY_SIZE(break_evens); i++) {
		b = &break_evens[i];
		if ((isa & b->isa) == b->isa)
			break;
	}
	if (ret_isa) /* a row is named after its int8 kernel (avx512vnni): fp32 names its own */
		*ret_isa = dtype == SL_DTYPE_F32 ? sl_sparse_f32_select()->name : b->name;
	return dtype == SL_DTYPE_F32 ? b->f32 : b->q8;
}

/* The packed weights belong to the model's cache (sl_model_derived_get), not
 * to the step: every runtime of the model borrows the same copy, so a hot
 * swap to a cached variant packs nothing. */
typedef struct {
	bool quant;
	size_t in_off, out_off; /* arena offsets */
	size_t m, k, n;
	const sl_sparse_q8 *q8;
	const sl_sparse_q8_impl *q8_impl;
	const sl_sparse_f32 *f32;
	const sl_sparse_f32_impl *f32_impl;
	sl_sparse_scratch *scratch;
	struct pthreadpool *pool;
	const sl_model *model;	  /* outlives the step: the runtime holds a reference */
	sl_model_derived_key key; /* of q8 / f32 in the model's cache, while held */
	bool held;
} sp_state;

static void sp_destroy(sl_step *s)
{
	sp_state *st = s->state;
	if (!st)
		return;
	if (st->held)
		sl_model_derived_put(st->model, &st->key);
	sl_sparse_scratch_free(st->scratch);
	free(st);
	s->state = NULL;
}

const void *sl_sparse_step_packed(const sl_step *s)
{
	if (!s || s->impl != SL_IMPL_SPARSE || !s->state)
		return NULL;
	const sp_state *st = s->state;
	return st->quant ? (const void *)st->q8 : (const void *)st->f32;
}

/* Cache kinds; the q8 kind carries the pack flags in its high bits. */
enum {
	SP_KIND_ZERO_FRACTION = 1,
	SP_KIND_F32 = 2,
	SP_KIND_Q8 = 3,
};

static uint64_t hash_quant(uint64_t h, const sl_quant *q)
{
	h = sl_model_hash(h, &q->n, sizeof(q->n));
	if (q->n > 0) {
		h = sl_model_hash(h, q->scale, sizeof(float) * (size_t)q->n);
		h = sl_model_hash(h, q->zero_point, sizeof(int32_t) * (size_t)q->n);
	}
	return h;
}

static uint64_t hash_tensor(uint64_t h, const sl_tensor *t, bool with_data)
{
	const int32_t hdr[3] = {(int32_t)t->dtype, t->rank, (int32_t)t->kind};
	h = sl_model_hash(h, hdr, sizeof(hdr));
	h = sl_model_hash(h, t->dims, sizeof(int32_t) * (size_t)t->rank);
	h = hash_quant(h, &t->q);
	if (with_data && t->data)
		h = sl_model_hash(h, t->data, t->bytes);
	return h;
}

/* Everything a node's zero-block fraction and packed form derive from: the
 * weights and bias bytes, all quantization parameters, the activation. */
static uint64_t node_hash(const sl_model *mo, const sl_node *nd, size_t m, int k, int n)
{
	const int64_t geo[4] = {(int64_t)nd->op, (int64_t)nd->act, (int64_t)m, (int64_t)k * 65536 + n};
	uint64_t h = sl_model_hash(0, geo, sizeof(geo));
	h = hash_tensor(h, &mo->tensors[nd->inputs[0]], false);
	h = hash_tensor(h, &mo->tensors[nd->inputs[1]], true);
	h = hash_tensor(h, &mo->tensors[nd->outputs[0]], false);
	if (nd->n_inputs > 2 && nd->inputs[2] >= 0)
		h = hash_tensor(h, &mo->tensors[nd->inputs[2]], true);
	return h;
}

static int sp_run(sl_step *s, uint8_t *arena)
{
	sp_state *st = s->state;
	const void *in = arena + st->in_off;
	void *out = arena + st->out_off;
	if (st->quant)
		return sl_sparse_q8_run(st->q8_impl, st->q8, st->m, in, st->k, out, st->n, st->pool, 0,
					st->scratch);
	return sl_sparse_f32_run(st->f32_impl, st->f32, st->m, in, st->k, out, st->n, st->pool, 0,
				 st->scratch);
}

/* Fraction of 1x4 blocks (one output channel, four consecutive inputs; the
 * last block of a row may be short) whose weights all equal their zero point:
 * exactly the blocks sl_sparse_*_pack drops. */
static double zero_block_fraction(const sl_tensor *w, int n, int k)
{
	const int kb = (k + 3) / 4;
	int64_t zero = 0;
	for (int c = 0; c < n; c++) {
		const int32_t zp = w->q.n > 1 ? w->q.zero_point[c] : w->q.n == 1 ? w->q.zero_point[0] : 0;
		for (int b = 0; b < kb; b++) {
			bool all = true;
			for (int j = 4 * b; j < k && j < 4 * b + 4 && all; j++) {
				const size_t i = (size_t)c * (size_t)k + (size_t)j;
				switch (w->dtype) {
				case SL_DTYPE_F32:
					all = ((const float *)w->data)[i] == 0.0f;
					break;
				case SL_DTYPE_I8:
					all = ((const int8_t *)w->data)[i] == zp;
					break;
				default:
					all = ((const uint8_t *)w->data)[i] == zp;
					break;
				}
			}
			zero += all;
		}
	}
	return n && kb ? (double)zero / ((double)n * kb) : 0.0;
}

typedef struct {
	const sl_tensor *w;
	int n, k;
} zf_arg;

static int build_zero_fraction(void *arg, void **ret, size_t *bytes)
{
	const zf_arg *a = arg;
	double *z = malloc(sizeof(*z));
	if (!z)
		return -ENOMEM;
	*z = zero_block_fraction(a->w, a->n, a->k);
	*ret = z;
	*bytes = sizeof(*z);
	return 0;
}

/* Geometry of a node the kernels can run as C[m][n] = A[m][k] W^T, or false. */
static bool spmm_shape(const sl_model *mo, const sl_node *nd, size_t *m, int *k, int *n, const char **why)
{
	if (nd->n_inputs < 2 || nd->n_outputs != 1 || nd->inputs[0] < 0 || nd->inputs[1] < 0)
		return false;
	const sl_tensor *in = &mo->tensors[nd->inputs[0]], *w = &mo->tensors[nd->inputs[1]],
			*out = &mo->tensors[nd->outputs[0]];
	if (nd->op == SL_OP_CONV_2D) {
		const sl_conv_params *p = &nd->p.conv;
		if (in->rank != 4 || w->rank != 4 || out->rank != 4 || w->dims[1] != 1 || w->dims[2] != 1)
			return false;
		/* A 1x1 window at stride 1 without padding maps pixel i to pixel i:
		 * dilation cannot matter then, and groups must be 1 (filter depth
		 * equal to the input depth). */
		if (p->stride_h != 1 || p->stride_w != 1 || p->pad_top || p->pad_left || p->pad_bottom ||
		    p->pad_right || w->dims[3] != in->dims[3] || w->dims[0] != out->dims[3] ||
		    in->dims[0] != out->dims[0] || in->dims[1] != out->dims[1] ||
		    in->dims[2] != out->dims[2]) {
			/* Pruned strided 1x1 layers exist (ResNet shortcuts): say why
			 * their sparsity does not pay. */
			*why = "not sparse: 1x1 convs at stride 1 only";
			return false;
		}
		*k = in->dims[3];
		*n = out->dims[3];
		*m = (size_t)in->dims[0] * (size_t)in->dims[1] * (size_t)in->dims[2];
	} else if (nd->op == SL_OP_FULLY_CONNECTED) {
		if (w->rank != 2 || w->dims[1] < 1)
			return false;
		const int64_t numel = sl_tensor_numel(in);
		if (numel < 0 || numel % w->dims[1] != 0 ||
		    sl_tensor_numel(out) != numel / w->dims[1] * w->dims[0])
			return false;
		*k = w->dims[1];
		*n = w->dims[0];
		*m = (size_t)(numel / w->dims[1]);
	} else {
		return false;
	}
	return *k >= 1 && *n >= 1 && *m >= 1 && *k <= SL_SPARSE_MAX_K && *n <= SL_SPARSE_MAX_N &&
	       (uint64_t)*k * (uint64_t)*n <= SL_SPARSE_MAX_WEIGHTS;
}

/* Whether the dtypes and quantization are something the kernels take. */
static bool supported_types(const sl_tensor *in, const sl_tensor *w, const sl_tensor *b, const sl_tensor *out,
			    int n)
{
	if (in->kind != SL_TENSOR_ACTIVATION || out->kind != SL_TENSOR_ACTIVATION ||
	    w->kind != SL_TENSOR_CONST || !w->data || (b && (b->kind != SL_TENSOR_CONST || !b->data)))
		return false;
	if (in->dtype == SL_DTYPE_F32)
		return w->dtype == SL_DTYPE_F32 && out->dtype == SL_DTYPE_F32 &&
		       (!b || b->dtype == SL_DTYPE_F32);
	if (!sl_dtype_is_q8(in->dtype) || !sl_dtype_is_q8(w->dtype) || !sl_dtype_is_q8(out->dtype) ||
	    (b && b->dtype != SL_DTYPE_I32))
		return false;
	if (in->q.n < 1 || out->q.n < 1 || w->q.n < 1)
		return false;
	return w->q.n == 1 || (w->q.n == n && w->q.axis == 0);
}

typedef struct {
	const sl_model *mo;
	const sl_node *nd;
	int n, k;
	unsigned flags;
	sl_sparse_rq rq; /* fast numerics: requantize as XNNPACK's int8 operator would */
	sl_error *err;
} pack_arg;

static int build_q8(void *arg, void **ret, size_t *bytes)
{
	const pack_arg *a = arg;
	const sl_model *mo = a->mo;
	const sl_node *nd = a->nd;
	const int n = a->n, k = a->k;
	const sl_tensor *in = &mo->tensors[nd->inputs[0]], *w = &mo->tensors[nd->inputs[1]],
			*out = &mo->tensors[nd->outputs[0]];
	const sl_tensor *b = nd->n_inputs > 2 && nd->inputs[2] >= 0 ? &mo->tensors[nd->inputs[2]] : NULL;
	const int nq = w->q.n;
	int32_t *mult = calloc((size_t)nq, 2 * sizeof(int32_t));
	int *shift = calloc((size_t)nq, sizeof(int));
	if (!mult || !shift) {
		free(mult);
		free(shift);
		return -ENOMEM;
	}
	int32_t *shift32 = mult + nq;
	/* The reference's own derivation, so that results stay bit-exact with it. */
	sl_ref_conv_q8_multipliers_tflite(in->dtype, in->q.scale[0], w->q.scale, nq, out->q.scale[0], mult,
					  shift);
	for (int i = 0; i < nq; i++)
		shift32[i] = shift[i];
	free(shift);
	/* Fast numerics: the scale exactly as XNNPACK derives it for its qs8,
	 * qc8 and qu8 operators (float, in this order), so that the sparse layer
	 * gives the bytes the dense XNNPACK layer would (bench_sparse -f checks). */
	float *fscale = NULL;
	if (a->rq != SL_SPARSE_RQ_TFLITE) {
		if (!(fscale = malloc(sizeof(float) * (size_t)nq))) {
			free(mult);
			return -ENOMEM;
		}
		for (int i = 0; i < nq; i++)
			fscale[i] = in->q.scale[0] * w->q.scale[i] / out->q.scale[0];
	}
	sl_sparse_q8_desc d = {
	    .n = n,
	    .k = k,
	    .in_type = in->dtype,
	    .w_type = w->dtype,
	    .out_type = out->dtype,
	    .w = w->data,
	    .bias = b ? b->data : NULL,
	    .nq = nq,
	    .w_zp = w->q.zero_point,
	    .mult = mult,
	    .shift = shift32,
	    .fp32_scale = fscale,
	    .rndnu = a->rq == SL_SPARSE_RQ_RNDNU,
	    .in_zp = in->q.zero_point[0],
	    .out_zp = out->q.zero_point[0],
	};
	sl_ref_act_range_q8(nd->act, out->dtype, out->q.scale[0], out->q.zero_point[0], &d.act_min,
			    &d.act_max);
	sl_sparse_q8 *p = NULL;
	int r = sl_sparse_q8_pack(&d, a->flags, &p, a->err);
	free(mult);
	free(fscale);
	if (r < 0)
		return r;
	*ret = p;
	*bytes = p->bytes;
	return 0;
}

static void destroy_q8(void *p)
{
	sl_sparse_q8_free(p);
}

static int build_f32(void *arg, void **ret, size_t *bytes)
{
	const pack_arg *a = arg;
	const sl_tensor *w = &a->mo->tensors[a->nd->inputs[1]];
	const sl_tensor *b =
	    a->nd->n_inputs > 2 && a->nd->inputs[2] >= 0 ? &a->mo->tensors[a->nd->inputs[2]] : NULL;
	sl_sparse_f32_desc d = {.n = a->n, .k = a->k, .w = w->data, .bias = b ? b->data : NULL};
	sl_ref_act_range_f32(a->nd->act, &d.out_min, &d.out_max);
	sl_sparse_f32 *p = NULL;
	int r = sl_sparse_f32_pack(&d, &p, a->err);
	if (r < 0)
		return r;
	*ret = p;
	*bytes = p->bytes;
	return 0;
}

static void destroy_f32(void *p)
{
	sl_sparse_f32_free(p);
}

sl_sparse_rq sl_sparse_fast_requant(bool per_channel)
{
#if defined(__aarch64__)
	if (!per_channel)
		return sl_sparse_q8_rndnu_requant_here() ? SL_SPARSE_RQ_RNDNU : SL_SPARSE_RQ_TFLITE;
#else
	(void)per_channel;
#endif
	return sl_sparse_q8_fp32_requant_here() ? SL_SPARSE_RQ_FP32 : SL_SPARSE_RQ_TFLITE;
}

/* Packed weights from the model's cache (built on the first runtime only),
 * the kernel for them and per-runtime scratch. */
static int pack(const sl_prepare_ctx *ctx, int node, int n, int k, uint64_t hash, sp_state *st, sl_error *err)
{
	const sl_model *mo = ctx->model;
	const sl_node *nd = &mo->nodes[node];
	pack_arg a = {.mo = mo, .nd = nd, .n = n, .k = k, .err = err};
	void *p = NULL;
	int r;
	st->model = mo;
	if (st->quant) {
		a.flags = sl_sparse_q8_pack_flags();
		a.rq = ctx->numerics == SL_NUMERICS_FAST
			   ? sl_sparse_fast_requant(mo->tensors[nd->inputs[1]].q.n > 1)
			   : SL_SPARSE_RQ_TFLITE;
		st->key = (sl_model_derived_key){
		    .node = node, .kind = SP_KIND_Q8 | a.flags << 8 | (unsigned)a.rq << 16, .hash = hash};
		r = sl_model_derived_get(mo, &st->key, build_q8, destroy_q8, &a, &p);
		if (r < 0)
			return r;
		st->held = true;
		st->q8 = p;
		st->q8_impl = sl_sparse_q8_select(st->q8);
		return sl_sparse_scratch_new(sl_sparse_q8_scratch_bytes(st->q8), ctx->threads, &st->scratch);
	}
	st->key = (sl_model_derived_key){.node = node, .kind = SP_KIND_F32, .hash = hash};
	r = sl_model_derived_get(mo, &st->key, build_f32, destroy_f32, &a, &p);
	if (r < 0)
		return r;
	st->held = true;
	st->f32 = p;
	st->f32_impl = sl_sparse_f32_select();
	return sl_sparse_scratch_new(sl_sparse_f32_scratch_bytes(st->f32), ctx->threads, &st->scratch);
}

int sl_sparse_prepare(const sl_prepare_ctx *ctx, int node, sl_step *step, sl_error *err)
{
	const sl_model *mo = ctx->model;
	const sl_node *nd = &mo->nodes[node];
	size_t m = 0;
	int k = 0, n = 0;
	const char *shape_why = NULL;
	step->why[0] = '\0';
	if (!spmm_shape(mo, nd, &m, &k, &n, &shape_why)) {
		if (shape_why)
			snprintf(step->why, sizeof(step->why), "%s", shape_why);
		return -EOPNOTSUPP;
	}
	const sl_tensor *in = &mo->tensors[nd->inputs[0]], *w = &mo->tensors[nd->inputs[1]],
			*out = &mo->tensors[nd->outputs[0]];
	const sl_tensor *b = nd->n_inputs > 2 && nd->inputs[2] >= 0 ? &mo->tensors[nd->inputs[2]] : NULL;
	if (!supported_types(in, w, b, out, n))
		return -EOPNOTSUPP;

	const char *isa = "?";
	double be = sl_sparse_break_even(in->dtype, &isa);
	if (dense_competitor_is_vnni(ctx, in->dtype)) {
		be = SL_MAX(be, vs_dense_vnni_break_even(m, ctx->pool ? ctx->threads : 1));
		isa = "avx512vnni, against dense avx512vnni";
	}
	if (m < SMALL_M && be < SMALL_M_BREAK_EVEN)
		be = SMALL_M_BREAK_EVEN;
	const uint64_t hash = node_hash(mo, nd, m, k, n);
	zf_arg za = {.w = w, .n = n, .k = k};
	void *zp = NULL;
	const sl_model_derived_key zkey = {.node = node, .kind = SP_KIND_ZERO_FRACTION, .hash = hash};
	int r = sl_model_derived_get(mo, &zkey, build_zero_fraction, free, &za, &zp);
	if (r < 0) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "node %d (%s): %s", node, sl_op_name(nd->op),
				 strerror(-r));
		return r;
	}
	const double zf = *(const double *)zp;
	sl_model_derived_put(mo, &zkey);
	const double zpct = 100.0 * zf;
	const int bpct = (int)(100.0 * be + 0.5);
	if (zf <= be) {
		if (m < SMALL_M)
			snprintf(step->why, sizeof(step->why),
				 "not sparse: %.1f%% blocks zero <= %d%% at %zu rows (%s)", zpct, bpct, m,
				 isa);
		else
			snprintf(step->why, sizeof(step->why),
				 "not sparse: %.1f%% blocks zero <= %d%% break-even (%s)", zpct, bpct, isa);
		return -EOPNOTSUPP;
	}

	sp_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->in_off = in->arena_offset;
	st->out_off = out->arena_offset;
	st->m = m;
	st->k = (size_t)k;
	st->n = (size_t)n;
	st->pool = ctx->pool;
	st->quant = in->dtype != SL_DTYPE_F32;
	sl_error perr = {.msg = ""};
	r = pack(ctx, node, n, k, hash, st, &perr);
	step->state = st;
	step->destroy = sp_destroy;
	if (r == -EINVAL) {
		/* A combination the kernels reject (e.g. shifts out of range): the
		 * dense backends may still run it. */
		sp_destroy(step);
		step->destroy = NULL;
		snprintf(step->why, sizeof(step->why), "not sparse: pack: %.40s", perr.msg);
		return -EOPNOTSUPP;
	}
	if (r < 0) {
		sp_destroy(step);
		step->destroy = NULL;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "node %d (%s): sparse packing failed: %s", node,
				 sl_op_name(nd->op), perr.msg[0] ? perr.msg : strerror(-r));
		return r;
	}
	/* Blocks split for the int8 kernels (uint8 weights far from their zero
	 * point) are work as well: decide again on what is stored. */
	if (st->quant) {
		const double stored = 1.0 - (double)st->q8->nnzb / ((double)n * st->q8->kb);
		if (stored <= be) {
			sp_destroy(step);
			step->destroy = NULL;
			snprintf(step->why, sizeof(step->why),
				 "not sparse: %.1f%% blocks zero once split for int8 <= %d%% break-even (%s)",
				 100.0 * stored, bpct, isa);
			return -EOPNOTSUPP;
		}
	}
	step->impl = SL_IMPL_SPARSE;
	step->run = sp_run;
	/* Which rounding it does is worth a glance: fast numerics change it. */
	const char *rounding = !st->q8				  ? ""
			       : st->q8->rq == SL_SPARSE_RQ_FP32  ? ", XNNPACK's fp32 rounding"
			       : st->q8->rq == SL_SPARSE_RQ_RNDNU ? ", XNNPACK's rndnu rounding"
								  : ", TFLite's rounding";
	snprintf(step->why, sizeof(step->why), "sparse: %.1f%% blocks zero > %d%% break-even (%s%s)", zpct,
		 bpct, isa, rounding);
	return 0;
}
