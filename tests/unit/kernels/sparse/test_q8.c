/* int8/uint8 sparse kernels: the scalar reference against TFLite's formula on
 * the dense weights, then every optimised kernel (x86 SIMD, NEON natively or
 * through SIMDe) bit-exact against the reference, over edge sizes (m, n, k
 * off the tiles, k = 1, 16-value chunk and wide-tile boundaries), sparsity 0,
 * 0.5, 0.9 and 1, empty rows, extreme zero points, scales and biases, and
 * saturating outputs; the same sweep again with XNNPACK's fp32
 * requantization for the kernels that offer it. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/sparse/sparse.h"
#include "sparse_test_util.h"

static const size_t ms[] = {1, 5, 8, 9, 16, 17, 31, 32, 33, 49, 64, 70, 113, 130};
static const int ns[] = {1, 2, 15, 16, 17, 33};
static const int ks[] = {1, 2, 3, 4, 5, 15, 16, 17, 33, 64, 255, 257};
static const double sps[] = {0.0, 0.5, 0.9, 1.0};
static const sl_dtype types[] = {SL_DTYPE_I8, SL_DTYPE_U8};

/* A deterministic walk through the case space: sizes exhaustively, the other
 * parameters cycling with the case number. */
static size_t make_cases(sl_test_q8_case *out, size_t max)
{
	size_t n = 0;
	uint32_t i = 0;
	for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
			for (size_t si = 0; si < sizeof(sps) / sizeof(sps[0]) && n < max; si++, i++)
				out[n++] = (sl_test_q8_case){
				    .m = ms[i % (sizeof(ms) / sizeof(ms[0]))],
				    .n = ns[ni],
				    .k = ks[ki],
				    .sparsity = sps[si],
				    .unstructured = i % 7 == 3,
				    .in_t = types[i % 2],
				    .w_t = i % 5 == 4 ? SL_DTYPE_U8 : SL_DTYPE_I8,
				    .out_t = types[(i / 2) % 2],
				    .per_channel = i % 3 != 0,
				    .zp = (int)(i % 6 < 4 ? ZP_RANDOM : (i % 6 == 4 ? ZP_MIN : ZP_MAX)),
				    .scale = (int)((i / 3) % 4),
				    .bias = (int)(i % 11 == 0 ? BIAS_HUGE
							      : (i % 13 == 0 ? BIAS_NONE : BIAS_SMALL)),
				    .narrow_act = i % 4 == 1,
				    .empty_rows = i % 9 == 2,
				    .in_pad = i % 3,
				    .out_pad = (i / 3) % 2,
				    .seed = i,
				};
	/* Pixel counts around every tile size, on one mid-size layer. */
	for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]) && n < max; mi++, i++)
		out[n++] = (sl_test_q8_case){.m = ms[mi],
					     .n = 24,
					     .k = 40,
					     .sparsity = 0.5,
					     .in_t = SL_DTYPE_U8,
					     .w_t = SL_DTYPE_I8,
					     .out_t = SL_DTYPE_I8,
					     .per_channel = true,
					     .seed = i};
	/* The general requantization path everywhere: huge biases, wild multipliers. */
	for (int r = 0; r < 40 && n < max; r++, i++)
		out[n++] = (sl_test_q8_case){.m = 1 + r % 40,
					     .n = 1 + (r * 7) % 40,
					     .k = 1 + (r * 13) % 90,
					     .sparsity = sps[r % 4],
					     .in_t = types[r % 2],
					     .w_t = types[(r / 2) % 2],
					     .out_t = types[(r / 4) % 2],
					     .per_channel = r % 3 != 0,
					     .zp = (int)(r % 3),
					     .scale = SCALE_WILD,
					     .bias = r % 2 ? BIAS_HUGE : BIAS_SMALL,
					     .narrow_act = r % 5 == 0,
					     .empty_rows = r % 4 == 0,
					     .seed = i};
	/* Power-of-two scales and short rows, so that many outputs are exact
	 * ties in range: the one place where the roundings (TFLite's away from
	 * zero, fp32's to even, rndnu's up) differ. */
	for (int r = 0; r < 8 && n < max; r++, i++)
		out[n++] = (sl_test_q8_case){.m = 64,
					     .n = 40,
					     .k = 1 + r * 2,
					     .sparsity = r % 2 ? 0.5 : 0.0,
					     .in_t = types[r % 2],
					     .w_t = types[(r / 2) % 2],
					     .out_t = types[(r / 4) % 2],
					     .per_channel = r % 3 != 0,
					     .scale = SCALE_TIES,
					     .seed = i};
	/* Long rows: many 16-value chunks, large block columns, and K at the
	 * packer's limit, where |sum| comes closest to 2^31. */
	if (n + 3 <= max) {
		out[n++] = (sl_test_q8_case){.m = 20,
					     .n = 5,
					     .k = 2100,
					     .sparsity = 0.9,
					     .in_t = SL_DTYPE_I8,
					     .w_t = SL_DTYPE_I8,
					     .out_t = SL_DTYPE_I8,
					     .per_channel = true,
					     .seed = i++};
		out[n++] = (sl_test_q8_case){.m = 17,
					     .n = 3,
					     .k = SL_SPARSE_MAX_K,
					     .sparsity = 0.5,
					     .in_t = SL_DTYPE_U8,
					     .w_t = SL_DTYPE_U8,
					     .out_t = SL_DTYPE_U8,
					     .zp = ZP_MIN,
					     .scale = SCALE_TINY,
					     .seed = i++};
		out[n++] = (sl_test_q8_case){.m = 9,
					     .n = 2,
					     .k = SL_SPARSE_MAX_K - 3,
					     .sparsity = 0.0,
					     .in_t = SL_DTYPE_I8,
					     .w_t = SL_DTYPE_I8,
					     .out_t = SL_DTYPE_I8,
					     .zp = ZP_RANDOM,
					     .scale = SCALE_TINY,
					     .bias = BIAS_NONE,
					     .seed = i++};
	}
	return n;
}

#define MAX_CASES 400

static void use_rq(sl_test_q8_layer *L, sl_sparse_rq rq)
{
	if (rq == SL_SPARSE_RQ_FP32)
		sl_test_q8_use_fp32(L);
	else if (rq == SL_SPARSE_RQ_RNDNU)
		sl_test_q8_use_rndnu(L);
}

static const char *const rq_names[] = {"", " (fp32)", " (rndnu)"};

/* Every case's reference output against the formula on the dense weights
 * (TFLite's, or XNNPACK's fp32 or rndnu requantization), every byte of every
 * row. */
static void reference_vs_dense(sl_sparse_rq rq)
{
	static sl_test_q8_case cases[MAX_CASES];
	const size_t n_cases = make_cases(cases, MAX_CASES);
	for (size_t ci = 0; ci < n_cases; ci++) {
		sl_test_q8_layer L;
		sl_test_q8_layer_make(&cases[ci], &L);
		use_rq(&L, rq);
		sl_sparse_q8 *p;
		sl_error err;
		cr_assert_eq(sl_sparse_q8_pack(&L.d, 0, &p, &err), 0, "%s: %s",
			     sl_test_q8_case_str(&cases[ci]), err.msg);
		if (rq != SL_SPARSE_RQ_TFLITE)
			cr_assert(p->rq == rq && !p->fast_requant);
		const size_t bytes = L.m * L.out_stride;
		uint8_t *want = calloc(bytes, 1), *got = calloc(bytes, 1);
		sl_test_q8_dense(&L, want);
		sl_sparse_q8_ref(p, 0, L.m, L.a, L.in_stride, got, L.out_stride, NULL);
		for (size_t i = 0; i < bytes; i++)
			cr_assert_eq(got[i], want[i], "%s%s: pixel %zu byte %zu: reference %d, dense %d",
				     sl_test_q8_case_str(&cases[ci]), rq_names[rq], i / L.out_stride,
				     i % L.out_stride, got[i], want[i]);
		free(want);
		free(got);
		sl_sparse_q8_free(p);
		sl_test_q8_layer_free(&L);
	}
}

/* Packs L with the int8 weight copy (blocks that do not fit int8 split) and
 * runs the reference and kern on rows [m0, m) into buffers filled with 0xA5
 * beforehand, then compares every byte: the kernel must also leave other
 * rows and the padding alone. Returns the layer's fast_requant. */
static int kernel_vs_reference(const sl_test_q8_kernel *kern, const sl_test_q8_layer *L, size_t m0,
			       const char *what)
{
	sl_sparse_q8 *p;
	sl_error err;
	cr_assert_eq(sl_sparse_q8_pack(&L->d, SL_SPARSE_PACK_W8, &p, &err), 0, "%s: %s", what, err.msg);
	cr_assert_not_null(p->w8, "%s: the int8 copy is always built when asked for", what);
	/* Kernels without the layer's mode are never handed it. */
	if (p->rq == SL_SPARSE_RQ_FP32)
		cr_assert(sl_sparse_q8_usable(&(sl_sparse_q8_impl){.rndnu_requant = true}, p) == false);
	if (p->rq == SL_SPARSE_RQ_RNDNU)
		cr_assert(sl_sparse_q8_usable(&(sl_sparse_q8_impl){.fp32_requant = true}, p) == false);
	const size_t bytes = L->m * L->out_stride;
	uint8_t *want = malloc(bytes), *got = malloc(bytes);
	memset(want, 0xA5, bytes);
	memset(got, 0xA5, bytes);
	void *scratch = sl_test_aligned(sl_sparse_q8_scratch_bytes(p));
	sl_sparse_q8_ref(p, m0, L->m, L->a, L->in_stride, want, L->out_stride, NULL);
	kern->fn(p, m0, L->m, L->a, L->in_stride, got, L->out_stride, scratch);
	for (size_t i = 0; i < bytes; i++)
		cr_assert_eq(got[i], want[i],
			     "%s on %s (fast requant %d%s): pixel %zu byte %zu: got %d, want %d", kern->name,
			     what, p->fast_requant, rq_names[p->rq], i / L->out_stride, i % L->out_stride,
			     got[i], want[i]);
	const int fast = p->fast_requant;
	free(scratch);
	free(want);
	free(got);
	sl_sparse_q8_free(p);
	return fast;
}

/* The kernel tests' parameters: indices, not the entries, since Criterion
 * runs each case in a re-executed process, where function pointers from this
 * one mean nothing. */
static struct criterion_test_params kernel_ids(void)
{
	static size_t ids[16];
	sl_test_q8_kernel kernels[16];
	const size_t n = sl_test_q8_kernels(kernels, 16);
	for (size_t i = 0; i < n; i++)
		ids[i] = i;
	return cr_make_param_array(size_t, ids, n);
}

/* The kernel a parameterised test's index names. */
static sl_test_q8_kernel kernel_at(size_t ki)
{
	sl_test_q8_kernel kernels[16];
	cr_assert_lt(ki, sl_test_q8_kernels(kernels, 16));
	return kernels[ki];
}

Test(sparse_q8, reference_matches_dense_tflite_formula)
{
	reference_vs_dense(SL_SPARSE_RQ_TFLITE);
}

/* The whole sweep on kern in one requantization (every third case with a
 * ReLU-style clamp when relu), on row ranges that sometimes do not start at
 * 0, so that a kernel touching other rows shows. Counts (when asked) the
 * cases that took the fast and the exact TFLite requantization paths. */
static void kernel_sweep(const sl_test_q8_kernel *kern, sl_sparse_rq rq, bool relu, size_t *ret_fast,
			 size_t *ret_exact)
{
	static sl_test_q8_case cases[MAX_CASES];
	const size_t n_cases = make_cases(cases, MAX_CASES);
	size_t fast = 0, exact = 0;
	for (size_t ci = 0; ci < n_cases; ci++) {
		sl_test_q8_layer L;
		sl_test_q8_layer_make(&cases[ci], &L);
		use_rq(&L, rq);
		if (relu && ci % 3 == 1)
			L.d.act_min = SL_MAX(L.d.act_min, SL_MIN(L.d.out_zp, L.d.act_max));
		const size_t m0 = L.m > 3 && ci % 2 ? 3 : 0;
		const int f = kernel_vs_reference(kern, &L, m0, sl_test_q8_case_str(&cases[ci]));
		sl_test_q8_layer_free(&L);
		fast += f == 1;
		exact += f == 0;
	}
	if (ret_fast)
		*ret_fast = fast;
	if (ret_exact)
		*ret_exact = exact;
}

ParameterizedTestParameters(sparse_q8, kernel_matches_reference)
{
	return kernel_ids();
}

ParameterizedTest(size_t *ki, sparse_q8, kernel_matches_reference)
{
	const sl_test_q8_kernel k = kernel_at(*ki), *kern = &k;
	size_t fast, exact;
	kernel_sweep(kern, SL_SPARSE_RQ_TFLITE, false, &fast, &exact);
	cr_assert(fast > 0 && exact > 0,
		  "%s: both requantization paths must be covered (%zu fast, %zu exact)", kern->name, fast,
		  exact);
}

/* Accumulators at the edge of the fast requantization path and outputs that
 * saturate both ways, with every right shift from 0 to 31. */
ParameterizedTestParameters(sparse_q8, kernel_requant_edges)
{
	return kernel_ids();
}

ParameterizedTest(size_t *ki, sparse_q8, kernel_requant_edges)
{
	const sl_test_q8_kernel k = kernel_at(*ki), *kern = &k;
	enum { N = 32, K = 8, M = 20 };
	int8_t w[N * K];
	int32_t bias[N], mult[N], shift[N];
	uint8_t a[M * K];
	uint32_t s = 99;
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < K; k++)
			w[i * K + k] = (int8_t)(i % 2 ? 127 : -127);
		shift[i] = -i; /* rshift 0..31 */
		mult[i] = i % 3 ? INT32_MAX : (1 << 30) + (int32_t)(sl_test_rand(&s) % 1000);
		bias[i] = (i % 4 == 0) ? (1 << 29) : -(1 << 29) + i;
	}
	for (int i = 0; i < M * K; i++)
		a[i] = (uint8_t)(i % 3 ? 0x7f : 0x80);
	for (int variant = 0; variant < 4; variant++) {
		sl_sparse_q8_desc d = {.n = N,
				       .k = K,
				       .in_type = SL_DTYPE_I8,
				       .w_type = SL_DTYPE_I8,
				       .out_type = variant % 2 ? SL_DTYPE_U8 : SL_DTYPE_I8,
				       .w = w,
				       .bias = bias,
				       .nq = N,
				       .mult = mult,
				       .shift = shift,
				       .in_zp = variant < 2 ? 0 : -128,
				       .out_zp = variant % 2 ? 128 : 0,
				       .act_min = variant % 2 ? 0 : -128,
				       .act_max = variant % 2 ? 255 : 127};
		if (variant == 3)
			bias[5] = INT32_MIN + 1000; /* forces the general path */
		sl_sparse_q8 *p;
		sl_error err;
		cr_assert_eq(sl_sparse_q8_pack(&d, SL_SPARSE_PACK_W8, &p, &err), 0, "%s", err.msg);
		uint8_t want[M * N], got[M * N];
		void *scratch = sl_test_aligned(sl_sparse_q8_scratch_bytes(p));
		sl_sparse_q8_ref(p, 0, M, a, K, want, N, NULL);
		kern->fn(p, 0, M, a, K, got, N, scratch);
		for (int i = 0; i < M * N; i++)
			cr_assert_eq(got[i], want[i],
				     "%s variant %d (fast %d): pixel %d channel %d: got %d, want %d",
				     kern->name, variant, p->fast_requant, i / N, i % N, got[i], want[i]);
		free(scratch);
		sl_sparse_q8_free(p);
	}
}

/* ReLU-style clamps (act_min at, just above or just below the output zero
 * point), where the AVX2 kernel skips the rounding correction of negative
 * accumulators: every case of the sweep again with such a clamp. */

/* ReLU-style clamps (act_min at, just above or just below the output zero
 * point), where the AVX2 kernel skips the rounding correction of negative
 * accumulators: every case of the sweep again with such a clamp. */
ParameterizedTestParameters(sparse_q8, kernel_relu_clamp)
{
	return kernel_ids();
}

ParameterizedTest(size_t *ki, sparse_q8, kernel_relu_clamp)
{
	const sl_test_q8_kernel k = kernel_at(*ki), *kern = &k;
	static sl_test_q8_case cases[MAX_CASES];
	const size_t n_cases = make_cases(cases, MAX_CASES);
	size_t fast = 0;
	for (size_t ci = 0; ci < n_cases; ci++) {
		const sl_test_q8_case *c = &cases[ci];
		sl_test_q8_layer L;
		sl_test_q8_layer_make(c, &L);
		const int32_t lo = c->out_t == SL_DTYPE_U8 ? 0 : -128, hi = lo + 255;
		const int32_t delta = (int32_t)(ci % 3) - 1;
		L.d.act_min = SL_MIN(SL_MAX(L.d.out_zp + delta, lo), hi);
		L.d.act_max = hi;
		char what[256];
		snprintf(what, sizeof(what), "%s, act_min %d out_zp %d", sl_test_q8_case_str(c), L.d.act_min,
			 L.d.out_zp);
		fast += kernel_vs_reference(kern, &L, 0, what) == 1;
		sl_test_q8_layer_free(&L);
	}
	cr_assert_gt(fast, 0, "%s: the fast requantization path must be covered", kern->name);
}

/* XNNPACK's fp32 requantization: the reference against the formula on the
 * dense weights, and every kernel that offers it against the reference, over
 * the whole sweep (products far beyond int32 included: huge biases times
 * scales up to 255). */
Test(sparse_q8, fp32_reference_matches_dense_formula)
{
	reference_vs_dense(SL_SPARSE_RQ_FP32);
}

ParameterizedTestParameters(sparse_q8, kernel_fp32_requant)
{
	return kernel_ids();
}

ParameterizedTest(size_t *ki, sparse_q8, kernel_fp32_requant)
{
	const sl_test_q8_kernel k = kernel_at(*ki), *kern = &k;
	if (!kern->fp32_requant)
		cr_skip_test("%s has no fp32 requantization (dispatch never gives it such a layer)",
			     kern->name);
	kernel_sweep(kern, SL_SPARSE_RQ_FP32, true, NULL, NULL);
}

/* XNNPACK's AArch64 rndnu: the same two checks. */
Test(sparse_q8, rndnu_reference_matches_dense_formula)
{
	reference_vs_dense(SL_SPARSE_RQ_RNDNU);
}

ParameterizedTestParameters(sparse_q8, kernel_rndnu_requant)
{
	return kernel_ids();
}

ParameterizedTest(size_t *ki, sparse_q8, kernel_rndnu_requant)
{
	const sl_test_q8_kernel k = kernel_at(*ki), *kern = &k;
	if (!kern->rndnu_requant)
		cr_skip_test("%s has no rndnu requantization (dispatch never gives it such a layer)",
			     kern->name);
	kernel_sweep(kern, SL_SPARSE_RQ_RNDNU, true, NULL, NULL);
}
