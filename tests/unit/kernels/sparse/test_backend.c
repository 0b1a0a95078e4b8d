/* Mixed execution: graphs of a 1x1 CONV_2D followed by a FULLY_CONNECTED,
 * run on SL_BACKEND_XNNPACK (where the sparse backend claims pruned layers)
 * against SL_BACKEND_REF, or under fast numerics against XNNPACK's dense
 * operators (whose rounding the sparse kernels then copy). Pruned
 * int8/uint8 graphs must be bit-exact and
 * fp32 within 1e-5 of the largest output; dense graphs must stay on XNNPACK
 * with the sparse backend's reason in why; no_sparse must keep everything
 * dense. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/model.h"
#include "kernels/runtime.h"
#include "kernels/sparse/sparse.h"
#include "kernels/sparse/sparse_backend.h"

enum { SC_RANDOM, SC_TIES, SC_LARGE };

typedef struct {
	sl_model *m;
	uint64_t rng;
	int conv, fc;	  /* node indices */
	bool per_channel; /* int8: both layers' weights per-channel (qc8), else per-tensor */
	int scales;	  /* SC_*: see build_q */
} graph;

static uint32_t rnd(graph *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)((g->rng * 0x2545f4914f6cdd1dull) >> 32);
}

static double uni(graph *g, double lo, double hi)
{
	return lo + (hi - lo) * ((double)rnd(g) / 4294967296.0);
}

static int add_tensor(graph *g, sl_tensor *t)
{
	sl_error err = {{0}};
	int r = sl_model_add_tensor(g->m, t, &err);
	cr_assert_geq(r, 0, "add tensor: %s", err.msg);
	return r;
}

static int act(graph *g, sl_dtype dt, int rank, const int32_t *dims, float scale, int32_t zp)
{
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_ACTIVATION};
	memcpy(t.dims, dims, sizeof(int32_t) * (size_t)rank);
	if (dt != SL_DTYPE_F32)
		t.q = (sl_quant){.n = 1, .scale = &scale, .zero_point = &zp};
	return add_tensor(g, &t);
}

/* Weights [n][k] (the conv's OHWI with H = W = 1 is the same layout) with a
 * fraction `prune` of the 1x4 blocks set to the zero point and every other
 * block holding at least one non-zero weight. qn: 1 or n scales. */
static int weights(graph *g, sl_dtype dt, int rank, const int32_t *dims, int n, int k, double prune, int qn)
{
	const size_t es = dt == SL_DTYPE_F32 ? 4 : 1;
	uint8_t *data = calloc((size_t)n * (size_t)k, es);
	float *scale = malloc(sizeof(float) * (size_t)qn);
	int32_t *zp = calloc((size_t)qn, sizeof(int32_t));
	cr_assert(data && scale && zp);
	for (int i = 0; i < qn; i++) {
		scale[i] = g->scales != SC_RANDOM ? 1.0f / 128 : (float)uni(g, 0.005, 0.03);
		zp[i] = dt == SL_DTYPE_U8 ? 100 + (int)(rnd(g) % 40) : 0;
	}
	const int kb = (k + 3) / 4;
	for (int c = 0; c < n; c++) {
		const int32_t z = zp[qn > 1 ? c : 0];
		for (int b = 0; b < kb; b++) {
			const bool zero = uni(g, 0, 1) < prune;
			for (int j = 4 * b; j < k && j < 4 * b + 4; j++) {
				double v = zero ? 0.0 : uni(g, -1.0, 1.0);
				if (!zero && j == 4 * b && fabs(v) < 0.1)
					v = 0.5; /* a kept block is never all zero */
				const size_t i = (size_t)c * (size_t)k + (size_t)j;
				/* Large scales need small weights, or every output saturates. */
				const double mag =
				    g->scales == SC_LARGE ? 2.0 : (dt == SL_DTYPE_I8 ? 127.0 : 100.0);
				if (dt == SL_DTYPE_F32)
					((float *)(void *)data)[i] = (float)v;
				else if (dt == SL_DTYPE_I8)
					((int8_t *)data)[i] = (int8_t)lround(v * mag);
				else
					data[i] = (uint8_t)(z + lround(v * mag));
			}
		}
	}
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_CONST, .data = data};
	memcpy(t.dims, dims, sizeof(int32_t) * (size_t)rank);
	t.bytes = (size_t)n * (size_t)k * es;
	if (dt != SL_DTYPE_F32)
		t.q = (sl_quant){.n = qn, .axis = 0, .scale = scale, .zero_point = zp};
	cr_assert_eq(sl_model_own(g->m, data), 0);
	int r = add_tensor(g, &t);
	free(scale);
	free(zp);
	return r;
}

static int bias(graph *g, sl_dtype dt, int n)
{
	const bool f = dt == SL_DTYPE_F32;
	int32_t dims[1] = {n};
	void *data = malloc(4 * (size_t)n);
	cr_assert_not_null(data);
	for (int i = 0; i < n; i++) {
		if (f)
			((float *)data)[i] = (float)uni(g, -1, 1);
		else
			((int32_t *)data)[i] = g->scales == SC_LARGE ? (int32_t)(rnd(g) % 201) - 100
								     : (int32_t)(rnd(g) % 20001) - 10000;
	}
	cr_assert_eq(sl_model_own(g->m, data), 0);
	sl_tensor t = {
	    .dtype = f ? SL_DTYPE_F32 : SL_DTYPE_I32, .rank = 1, .kind = SL_TENSOR_CONST, .data = data};
	t.dims[0] = n;
	(void)dims;
	t.bytes = 4 * (size_t)n;
	return add_tensor(g, &t);
}

static int node(graph *g, sl_op op, sl_act a, int in, int w, int b, int out)
{
	int32_t ins[3] = {in, w, b}, outs[1] = {out};
	sl_node n = {.op = op, .act = a, .n_inputs = 3, .inputs = ins, .n_outputs = 1, .outputs = outs};
	if (op == SL_OP_CONV_2D)
		n.p.conv = (sl_conv_params){.stride_h = 1,
					    .stride_w = 1,
					    .dilation_h = 1,
					    .dilation_w = 1,
					    .padding = SL_PADDING_SAME};
	sl_error err = {{0}};
	int r = sl_model_add_node(g->m, &n, &err);
	cr_assert_geq(r, 0, "add node: %s", err.msg);
	return r;
}

/* input [1, 9, 7, 41] -> 1x1 conv (RELU) to 37 channels -> fully connected
 * to 23 outputs, 63 rows. Sizes are off every kernel tile on purpose. int8
 * weights are per-channel (XNNPACK's qc8) unless per_channel is false (qs8);
 * uint8 ones per-tensor (qu8). On AArch64 XNNPACK rounds qc8 differently
 * from the other two, hence one graph per kind rather than a mix. With
 * SC_TIES every requantization scale is 2^-9 exactly, so about one output
 * in 512 is an exact tie, which TFLite rounds away from zero, XNNPACK's fp32
 * to even and its rndnu up: only then do the three differ. SC_LARGE makes
 * them 0.75 (with weights of +-2), where rndnu shifts left first. */
enum { H = 9, W = 7, K = 41, N = 37, NF = 23 };

static void build_q(graph *g, sl_dtype dt, bool per_channel, int scales, double prune, uint64_t seed)
{
	g->scales = scales;
	g->per_channel = dt == SL_DTYPE_I8 && per_channel;
	g->m = sl_model_new();
	cr_assert_not_null(g->m);
	g->rng = seed * 0x9e3779b97f4a7c15ull + 1;
	const int32_t in_dims[4] = {1, H, W, K}, mid_dims[4] = {1, H, W, N}, out_dims[2] = {H * W, NF};
	const int32_t cw_dims[4] = {N, 1, 1, K}, fw_dims[2] = {NF, N};
	const int32_t in_zp = dt == SL_DTYPE_U8 ? 128 : 3, mid_zp = dt == SL_DTYPE_U8 ? 2 : -120;
	const int32_t out_zp = dt == SL_DTYPE_U8 ? 131 : -5;
	static const float sin[] = {0.05f, 1.0f / 16, 1.0f / 16}, smid[] = {0.6f, 0.25f, 1.0f / 1536},
			   sout[] = {0.9f, 1.0f, 1.0f / 147456};
	int in = act(g, dt, 4, in_dims, sin[scales], in_zp);
	int mid = act(g, dt, 4, mid_dims, smid[scales], mid_zp);
	int out = act(g, dt, 2, out_dims, sout[scales], out_zp);
	int cw = weights(g, dt, 4, cw_dims, N, K, prune, g->per_channel ? N : 1);
	int fw = weights(g, dt, 2, fw_dims, NF, N, prune, g->per_channel ? NF : 1);
	g->conv = node(g, SL_OP_CONV_2D, SL_ACT_RELU, in, cw, bias(g, dt, N), mid);
	g->fc = node(g, SL_OP_FULLY_CONNECTED, SL_ACT_NONE, mid, fw, bias(g, dt, NF), out);
	g->m->n_inputs = g->m->n_outputs = 1;
	g->m->inputs = malloc(sizeof(int32_t));
	g->m->outputs = malloc(sizeof(int32_t));
	cr_assert(g->m->inputs && g->m->outputs);
	g->m->inputs[0] = in;
	g->m->outputs[0] = out;
	sl_error err = {{0}};
	cr_assert_eq(sl_model_finalize(g->m, &err), 0, "finalize: %s", err.msg);
}

static void build(graph *g, sl_dtype dt, double prune, uint64_t seed)
{
	build_q(g, dt, true, SC_RANDOM, prune, seed);
}

static const sl_step *step_of(const sl_runtime *rt, int node)
{
	for (int i = 0; i < sl_runtime_n_steps(rt); i++)
		if (sl_runtime_step(rt, i)->node == node)
			return sl_runtime_step(rt, i);
	cr_assert_fail("no step for node %d", node);
	return NULL;
}

/* Runs both backends on the same random inputs and compares; checks the
 * implementation of both layers in the XNNPACK runtime. int8 layers the
 * sparse kernels claim must match bit for bit what the runtime's numerics
 * promise: TFLite's arithmetic (the reference backend), or with fast
 * numerics, where the kernels requantize as XNNPACK does, XNNPACK's own
 * dense operators on the same weights. */
static void compare_numerics(graph *g, sl_dtype dt, int threads, bool no_sparse, sl_impl want,
			     sl_numerics numerics)
{
	sl_runtime *ref = NULL, *mix = NULL;
	sl_error err = {{0}};
	const bool vs_xnn = dt != SL_DTYPE_F32 && numerics == SL_NUMERICS_FAST &&
			    sl_sparse_fast_requant(g->per_channel) != SL_SPARSE_RQ_TFLITE;
	const sl_runtime_options ro = vs_xnn ? (sl_runtime_options){.backend = SL_BACKEND_XNNPACK,
								    .numerics = SL_NUMERICS_FAST,
								    .threads = 1,
								    .no_sparse = true}
					     : (sl_runtime_options){.backend = SL_BACKEND_REF, .threads = 1};
	const sl_runtime_options xo = {
	    .backend = SL_BACKEND_XNNPACK, .numerics = numerics, .threads = threads, .no_sparse = no_sparse};
	cr_assert_eq(sl_runtime_new(g->m, &ro, &ref, &err), 0, "ref runtime: %s", err.msg);
	cr_assert_eq(sl_runtime_new(g->m, &xo, &mix, &err), 0, "xnnpack runtime: %s", err.msg);
	const int nodes[2] = {g->conv, g->fc};
	for (int i = 0; i < 2; i++) {
		const sl_step *s = step_of(mix, nodes[i]);
		cr_assert_eq(s->impl, want, "node %d: impl %s (%s), want %s", nodes[i], sl_impl_name(s->impl),
			     s->why, sl_impl_name(want));
		if (want == SL_IMPL_SPARSE)
			cr_assert(strncmp(s->why, "sparse: ", 8) == 0, "why: %s", s->why);
		/* Never the scalar reference behind a break-even measured for the
		 * CPU's best kernel: the packed layer must suit that kernel. */
		if (want == SL_IMPL_SPARSE && dt != SL_DTYPE_F32) {
			const sl_sparse_q8 *p = sl_sparse_step_packed(s);
			cr_assert(sl_sparse_q8_select(p) == sl_sparse_q8_select(NULL),
				  "node %d runs on %s, not %s", nodes[i], sl_sparse_q8_select(p)->name,
				  sl_sparse_q8_select(NULL)->name);
		}
	}
	const sl_tensor *it = sl_runtime_input_tensor(ref, 0);
	const size_t n_in = (size_t)sl_tensor_numel(it);
	const size_t n_out = (size_t)sl_tensor_numel(sl_runtime_output_tensor(ref, 0));
	for (int round = 0; round < 3; round++) {
		uint8_t *a = sl_runtime_input(ref, 0), *b = sl_runtime_input(mix, 0);
		for (size_t i = 0; i < n_in; i++) {
			if (dt == SL_DTYPE_F32)
				((float *)(void *)a)[i] = (float)uni(g, -4, 4);
			else
				a[i] = (uint8_t)rnd(g);
		}
		memcpy(b, a, it->bytes);
		cr_assert_eq(sl_runtime_invoke(ref), 0);
		cr_assert_eq(sl_runtime_invoke(mix), 0);
		const void *ra = sl_runtime_output(ref, 0), *rb = sl_runtime_output(mix, 0);
		if (dt != SL_DTYPE_F32) {
			/* Guard against a graph that saturates everything. */
			bool seen[256] = {false};
			int distinct = 0;
			for (size_t i = 0; i < n_out; i++)
				distinct += !seen[((const uint8_t *)ra)[i]],
				    seen[((const uint8_t *)ra)[i]] = true;
			cr_assert_gt(distinct, 20, "only %d distinct output values", distinct);
			if (want == SL_IMPL_SPARSE)
				cr_assert(memcmp(ra, rb, n_out) == 0, "int8 outputs differ from %s",
					  vs_xnn ? "dense XNNPACK (fast numerics)" : "the reference");
			continue;
		}
		const float *fa = ra, *fb = rb;
		double amax = 0;
		for (size_t i = 0; i < n_out; i++)
			amax = fmax(amax, fabs(fa[i]));
		for (size_t i = 0; i < n_out; i++)
			cr_assert(fabs(fa[i] - fb[i]) <= 1e-5 * amax, "out[%zu] %g vs reference %g (max %g)",
				  i, fb[i], fa[i], amax);
	}
	sl_runtime_free(mix);
	sl_runtime_free(ref);
}

/* Fast numerics, so that what the sparse backend declines goes to XNNPACK
 * (with TFLite numerics our dense kernels would take it first). */
static void compare(graph *g, sl_dtype dt, int threads, bool no_sparse, sl_impl want)
{
	compare_numerics(g, dt, threads, no_sparse, want, SL_NUMERICS_FAST);
}

Test(sparse_backend, int8_pruned_bit_exact)
{
	for (int threads = 1; threads <= 2; threads++) {
		graph g;
		build(&g, SL_DTYPE_I8, 0.9, 11 + (uint64_t)threads);
		compare(&g, SL_DTYPE_I8, threads, false, SL_IMPL_SPARSE);
		sl_model_unref(g.m);
	}
}

/* With TFLite numerics the sparse kernels round like TFLite, bit-exact with
 * the reference. The test layers are 90 % pruned: above every break-even,
 * also the one against the dense AVX-512 VNNI GEMM for layers this small
 * (63 pixels: 80 %), which TFLite numerics compete with. */
Test(sparse_backend, int8_pruned_tflite_numerics)
{
	graph g;
	build(&g, SL_DTYPE_I8, 0.9, 15);
	compare_numerics(&g, SL_DTYPE_I8, 2, false, SL_IMPL_SPARSE, SL_NUMERICS_TFLITE);
	sl_model_unref(g.m);
}

/* Per-tensor int8 (XNNPACK's qs8): the sparse kernels match XNNPACK's dense
 * operator, rounding fp32 on x86 and rndnu on AArch64 as it does. */
Test(sparse_backend, int8_per_tensor_pruned_bit_exact)
{
	graph g;
	build_q(&g, SL_DTYPE_I8, false, SC_RANDOM, 0.9, 17);
	compare(&g, SL_DTYPE_I8, 2, false, SL_IMPL_SPARSE);
	sl_model_unref(g.m);
}

/* Exact ties and large scales in every int8 kind, with both numerics: the
 * runs that tell the roundings apart (the random scales above almost never
 * produce a tie) and reach rndnu's left shift. */
Test(sparse_backend, int8_ties_and_large_scales_bit_exact)
{
	const struct {
		sl_dtype dt;
		bool per_channel;
	} kinds[] = {{SL_DTYPE_I8, true}, {SL_DTYPE_I8, false}, {SL_DTYPE_U8, false}};
	for (size_t i = 0; i < SL_ARRAY_SIZE(kinds); i++)
		for (int sc = SC_TIES; sc <= SC_LARGE; sc++)
			for (int nu = 0; nu < 2; nu++) {
				graph g;
				build_q(&g, kinds[i].dt, kinds[i].per_channel, sc, 0.9, 81 + i);
				compare_numerics(&g, kinds[i].dt, 2, false, SL_IMPL_SPARSE,
						 nu ? SL_NUMERICS_TFLITE : SL_NUMERICS_FAST);
				sl_model_unref(g.m);
			}
}

Test(sparse_backend, uint8_pruned_bit_exact)
{
	for (int threads = 1; threads <= 2; threads++) {
		graph g;
		build(&g, SL_DTYPE_U8, 0.9, 21 + (uint64_t)threads);
		compare(&g, SL_DTYPE_U8, threads, false, SL_IMPL_SPARSE);
		sl_model_unref(g.m);
	}
}

/* uint8 weights further than 127 from their zero point (most layers of a
 * classic uint8 model): the NEON kernels take int8 weights only, so the
 * packer stores such blocks split in two or three. They must still run
 * sparse and bit-exact, with both numerics, on every CPU. */
Test(sparse_backend, uint8_weights_beyond_int8)
{
	for (int nu = 0; nu < 2; nu++) {
		graph g;
		build(&g, SL_DTYPE_U8, 0.9, 25);
		sl_tensor *w = &g.m->tensors[g.m->nodes[g.conv].inputs[1]];
		uint8_t *b = (uint8_t *)(uintptr_t)w->data;
		const int32_t z = w->q.zero_point[0];
		for (size_t i = 0; i < w->bytes; i++) /* pruned blocks stay at the zero point */
			b[i] = b[i] == z ? 20 : (uint8_t)(b[i] - z + 121);
		w->q.zero_point[0] = 20;
		compare_numerics(&g, SL_DTYPE_U8, 2, false, SL_IMPL_SPARSE,
				 nu ? SL_NUMERICS_TFLITE : SL_NUMERICS_FAST);
		sl_model_unref(g.m);
	}
}

Test(sparse_backend, f32_pruned_close)
{
	const char *isa;
	if (sl_sparse_break_even(SL_DTYPE_F32, &isa) >= 0.8)
		cr_skip_test("fp32 sparse not modelled to win on this CPU (%s)", isa);
	for (int threads = 1; threads <= 2; threads++) {
		graph g;
		build(&g, SL_DTYPE_F32, 0.85, 31 + (uint64_t)threads);
		compare(&g, SL_DTYPE_F32, threads, false, SL_IMPL_SPARSE);
		sl_model_unref(g.m);
	}
}

Test(sparse_backend, dense_declined_with_reason)
{
	const sl_dtype dts[] = {SL_DTYPE_I8, SL_DTYPE_F32};
	for (size_t d = 0; d < 2; d++) {
		graph g;
		build(&g, dts[d], 0.0, 41 + d); /* every break-even is above 0 */
		sl_runtime *rt = NULL;
		sl_error err = {{0}};
		const sl_runtime_options o = {
		    .backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_FAST, .threads = 1};
		cr_assert_eq(sl_runtime_new(g.m, &o, &rt, &err), 0, "%s", err.msg);
		const sl_step *s = step_of(rt, g.conv);
		cr_assert_eq(s->impl, SL_IMPL_XNNPACK, "impl %s (%s)", sl_impl_name(s->impl), s->why);
		/* The reason names the measured fraction and the threshold. */
		cr_assert(strncmp(s->why, "not sparse: ", 12) == 0 && strstr(s->why, "% blocks zero <= ") &&
			      strstr(s->why, "break-even"),
			  "why: %s", s->why);
		sl_runtime_free(rt);
		sl_model_unref(g.m);
	}
}

Test(sparse_backend, no_sparse_keeps_xnnpack)
{
	graph g;
	build(&g, SL_DTYPE_I8, 0.9, 51);
	compare(&g, SL_DTYPE_I8, 1, true, SL_IMPL_XNNPACK);
	sl_model_unref(g.m);
}

Test(sparse_backend, ref_backend_unaffected)
{
	graph g;
	build(&g, SL_DTYPE_I8, 0.9, 61);
	sl_runtime *rt = NULL;
	sl_error err = {{0}};
	const sl_runtime_options o = {.backend = SL_BACKEND_REF, .threads = 1};
	cr_assert_eq(sl_runtime_new(g.m, &o, &rt, &err), 0, "%s", err.msg);
	cr_assert_eq(step_of(rt, g.conv)->impl, SL_IMPL_REF);
	sl_runtime_free(rt);
	sl_model_unref(g.m);
}

/* Packed weights live in the model's cache: a second runtime of the same
 * model (the daemon's hot swap) packs nothing and runs on the same copy, the
 * copy outlives the runtime that built it, and an in-place weight edit (as
 * the compression passes make) is never served a stale pack. */
Test(sparse_backend, packed_weights_cached_with_model)
{
	graph g;
	build(&g, SL_DTYPE_I8, 0.9, 71);
	sl_error err = {{0}};
	sl_runtime *a = NULL, *b = NULL, *c = NULL, *ref = NULL;
	const sl_runtime_options o1 = {.backend = SL_BACKEND_XNNPACK, .threads = 1};
	const sl_runtime_options o2 = {.backend = SL_BACKEND_XNNPACK, .threads = 2};
	const sl_runtime_options ro = {.backend = SL_BACKEND_REF, .threads = 1};
	sl_model_derived_stats s0, s1, s2;
	sl_model_derived_get_stats(g.m, &s0);
	cr_assert_eq(s0.builds, 0);
	cr_assert_eq(sl_runtime_new(g.m, &o1, &a, &err), 0, "%s", err.msg);
	sl_model_derived_get_stats(g.m, &s1);
	const void *pc = sl_sparse_step_packed(step_of(a, g.conv)),
		   *pf = sl_sparse_step_packed(step_of(a, g.fc));
	cr_assert(pc && pf && pc != pf);
	cr_assert_gt(s1.builds, 0);
	cr_assert_gt(s1.bytes, 0);

	cr_assert_eq(sl_runtime_new(g.m, &o2, &b, &err), 0, "%s", err.msg);
	sl_model_derived_get_stats(g.m, &s2);
	cr_assert_eq(s2.builds, s1.builds, "second runtime built %llu entries",
		     (unsigned long long)(s2.builds - s1.builds));
	cr_assert_gt(s2.hits, s1.hits);
	cr_assert_eq(sl_sparse_step_packed(step_of(b, g.conv)), pc);
	cr_assert_eq(sl_sparse_step_packed(step_of(b, g.fc)), pf);

	const sl_tensor *it = sl_runtime_input_tensor(a, 0);
	const size_t n_out = (size_t)sl_tensor_numel(sl_runtime_output_tensor(a, 0));
	/* The arena planner may reuse the input's bytes: keep a copy. */
	uint8_t *in = malloc(it->bytes);
	cr_assert_not_null(in);
	for (size_t i = 0; i < it->bytes; i++)
		in[i] = (uint8_t)rnd(&g);
	memcpy(sl_runtime_input(a, 0), in, it->bytes);
	memcpy(sl_runtime_input(b, 0), in, it->bytes);
	cr_assert_eq(sl_runtime_invoke(a), 0);
	cr_assert_eq(sl_runtime_invoke(b), 0);
	cr_assert(memcmp(sl_runtime_output(a, 0), sl_runtime_output(b, 0), n_out) == 0);
	uint8_t *want = malloc(n_out);
	cr_assert_not_null(want);
	memcpy(want, sl_runtime_output(a, 0), n_out);
	/* The runtime that built the entries goes; the other still runs on them. */
	a = sl_runtime_free(a);
	memcpy(sl_runtime_input(b, 0), in, it->bytes);
	cr_assert_eq(sl_runtime_invoke(b), 0);
	cr_assert(memcmp(sl_runtime_output(b, 0), want, n_out) == 0);

	/* Edit one kept weight of the conv in place: the next runtime repacks it
	 * (new hash) and stays bit-exact with the reference. */
	sl_tensor *w = &g.m->tensors[g.m->nodes[g.conv].inputs[1]];
	int8_t *wd = (int8_t *)(uintptr_t)w->data;
	size_t at = 0;
	while (at < w->bytes && wd[at] == 0)
		at++;
	cr_assert_lt(at, w->bytes);
	wd[at] = (int8_t)(wd[at] > 0 ? wd[at] - 7 : wd[at] + 7);
	cr_assert_eq(sl_runtime_new(g.m, &o1, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_runtime_new(g.m, &ro, &ref, &err), 0, "%s", err.msg);
	cr_assert_neq(sl_sparse_step_packed(step_of(c, g.conv)), pc);
	cr_assert_eq(sl_sparse_step_packed(step_of(c, g.fc)), pf);
	memcpy(sl_runtime_input(c, 0), in, it->bytes);
	memcpy(sl_runtime_input(ref, 0), in, it->bytes);
	cr_assert_eq(sl_runtime_invoke(c), 0);
	cr_assert_eq(sl_runtime_invoke(ref), 0);
	cr_assert(memcmp(sl_runtime_output(c, 0), sl_runtime_output(ref, 0), n_out) == 0);
	/* b still runs on the superseded pack; it goes with b, not before. */
	sl_model_derived_stats s3, s4, s5;
	sl_model_derived_get_stats(g.m, &s3);
	sl_runtime_free(b);
	sl_model_derived_get_stats(g.m, &s4);
	cr_assert_eq(s4.entries, s3.entries - 1);
	cr_assert_lt(s4.bytes, s3.bytes);
	/* Repeated edits (a compression loop) do not pile up copies. */
	sl_runtime_free(c);
	for (int i = 0; i < 4; i++) {
		wd[at] = (int8_t)(wd[at] ^ 1);
		cr_assert_eq(sl_runtime_new(g.m, &o1, &c, &err), 0, "%s", err.msg);
		c = sl_runtime_free(c);
	}
	sl_model_derived_get_stats(g.m, &s5);
	cr_assert_eq(s5.entries, s4.entries);
	free(want);
	free(in);
	sl_runtime_free(ref);
	sl_model_unref(g.m);
}

/* One row (a classifier's 1x1 conv on a pooled map): the kernels' pixel
 * lanes run mostly empty, so 80 % zero blocks stay dense and say why; 95 %
 * goes sparse, bit-exact. */
Test(sparse_backend, few_rows_need_more_sparsity)
{
	const double prune[2] = {0.8, 0.97};
	for (int i = 0; i < 2; i++) {
		graph g = {.m = sl_model_new(), .rng = 81 + (uint64_t)i};
		cr_assert_not_null(g.m);
		const int32_t in_dims[4] = {1, 1, 1, 256}, out_dims[4] = {1, 1, 1, 100},
			      w_dims[4] = {100, 1, 1, 256};
		int in = act(&g, SL_DTYPE_I8, 4, in_dims, 0.05f, 3);
		int out = act(&g, SL_DTYPE_I8, 4, out_dims, 0.3f, -7);
		int w = weights(&g, SL_DTYPE_I8, 4, w_dims, 100, 256, prune[i], 100);
		g.conv = node(&g, SL_OP_CONV_2D, SL_ACT_NONE, in, w, bias(&g, SL_DTYPE_I8, 100), out);
		g.m->n_inputs = g.m->n_outputs = 1;
		g.m->inputs = malloc(sizeof(int32_t));
		g.m->outputs = malloc(sizeof(int32_t));
		cr_assert(g.m->inputs && g.m->outputs);
		g.m->inputs[0] = in;
		g.m->outputs[0] = out;
		sl_error err = {{0}};
		cr_assert_eq(sl_model_finalize(g.m, &err), 0, "finalize: %s", err.msg);
		sl_runtime *rt = NULL, *ref = NULL;
		const sl_runtime_options o = {
		    .backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_FAST, .threads = 1};
		const sl_runtime_options ro = {.backend = SL_BACKEND_REF, .threads = 1};
		cr_assert_eq(sl_runtime_new(g.m, &o, &rt, &err), 0, "%s", err.msg);
		cr_assert_eq(sl_runtime_new(g.m, &ro, &ref, &err), 0, "%s", err.msg);
		const sl_step *s = step_of(rt, g.conv);
		const char *isa;
		const bool sparse_wins = sl_sparse_break_even(SL_DTYPE_I8, &isa) < 0.9;
		if (i == 0 || !sparse_wins) {
			cr_assert_neq(s->impl, SL_IMPL_SPARSE, "why: %s", s->why);
			if (sparse_wins)
				cr_assert(strstr(s->why, "at 1 rows"), "why: %s", s->why);
		} else {
			cr_assert_eq(s->impl, SL_IMPL_SPARSE, "why: %s", s->why);
			uint8_t *a = sl_runtime_input(rt, 0);
			for (int k = 0; k < 256; k++)
				a[k] = (uint8_t)rnd(&g);
			memcpy(sl_runtime_input(ref, 0), a, 256);
			cr_assert_eq(sl_runtime_invoke(rt), 0);
			cr_assert_eq(sl_runtime_invoke(ref), 0);
			cr_assert(memcmp(sl_runtime_output(rt, 0), sl_runtime_output(ref, 0), 100) == 0);
		}
		sl_runtime_free(ref);
		sl_runtime_free(rt);
		sl_model_unref(g.m);
	}
}
