/* Packing (validation, layout, size bounds, derived terms), the family lists
 * and run-time selection, and splitting rows over a pthreadpool. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthreadpool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/sparse/sparse.h"
#include "sparse_test_util.h"

static int8_t w_small[4 * 10];
static int32_t mult1[1] = {1 << 30}, shift1[1] = {-3};

static sl_sparse_q8_desc good_desc(void)
{
	return (sl_sparse_q8_desc){.n = 4,
				   .k = 10,
				   .in_type = SL_DTYPE_I8,
				   .w_type = SL_DTYPE_I8,
				   .out_type = SL_DTYPE_I8,
				   .w = w_small,
				   .nq = 1,
				   .mult = mult1,
				   .shift = shift1,
				   .act_min = -128,
				   .act_max = 127};
}

static void expect_einval(const sl_sparse_q8_desc *d, const char *what)
{
	sl_sparse_q8 *p = (sl_sparse_q8 *)0x1;
	sl_error err = {{0}};
	cr_expect_eq(sl_sparse_q8_pack(d, 0, &p, &err), -EINVAL, "%s accepted", what);
	cr_expect_neq(err.msg[0], '\0', "%s: no error text", what);
	cr_expect_eq(p, (sl_sparse_q8 *)0x1, "%s: ret written on failure", what);
}

Test(sparse_pack, rejects_bad_descriptions)
{
	sl_sparse_q8_desc d = good_desc();
	int32_t bad_mult[1] = {-1}, bad_shift[1] = {31}, zp[1] = {300};
	d.w = NULL;
	expect_einval(&d, "no weights");
	d = good_desc();
	d.n = 0;
	expect_einval(&d, "n = 0");
	d = good_desc();
	d.k = SL_SPARSE_MAX_K + 1;
	expect_einval(&d, "k too large");
	d = good_desc();
	d.in_type = SL_DTYPE_F32;
	expect_einval(&d, "fp32 input");
	d = good_desc();
	d.nq = 3;
	expect_einval(&d, "nq neither 1 nor n");
	d = good_desc();
	d.in_zp = 128;
	expect_einval(&d, "int8 zero point 128");
	d = good_desc();
	d.out_type = SL_DTYPE_U8;
	expect_einval(&d, "act range outside uint8");
	d = good_desc();
	d.act_min = 10;
	d.act_max = 5;
	expect_einval(&d, "act_min > act_max");
	d = good_desc();
	d.mult = bad_mult;
	expect_einval(&d, "negative multiplier");
	d = good_desc();
	d.shift = bad_shift;
	expect_einval(&d, "shift 31");
	d = good_desc();
	d.w_zp = zp;
	expect_einval(&d, "weight zero point 300");

	sl_sparse_f32_desc f = {.n = 2, .k = 3, .w = NULL, .out_min = 0, .out_max = 1};
	sl_sparse_f32 *fp;
	sl_error err;
	cr_expect_eq(sl_sparse_f32_pack(&f, &fp, &err), -EINVAL);
	float wf[6] = {0};
	f.w = wf;
	f.out_min = 2;
	cr_expect_eq(sl_sparse_f32_pack(&f, &fp, &err), -EINVAL);
	f.out_min = 0;
	f.k = 0;
	cr_expect_eq(sl_sparse_f32_pack(&f, &fp, &err), -EINVAL);
}

Test(sparse_pack, layout_and_terms)
{
	/* 3 channels, k = 10 (3 block columns, the last half past k), weight zero point 5. */
	uint8_t w[3 * 10];
	for (int i = 0; i < 30; i++)
		w[i] = 5;
	w[0 * 10 + 9] = 7;  /* channel 0: block 2 only */
	w[2 * 10 + 0] = 0;  /* channel 2: blocks 0 and 1 */
	w[2 * 10 + 5] = 10; /* channel 1 empty */
	int32_t zp[1] = {5}, bias[3] = {100, -7, 3};
	sl_sparse_q8_desc d = {.n = 3,
			       .k = 10,
			       .in_type = SL_DTYPE_U8,
			       .w_type = SL_DTYPE_U8,
			       .out_type = SL_DTYPE_U8,
			       .w = w,
			       .bias = bias,
			       .nq = 1,
			       .w_zp = zp,
			       .mult = mult1,
			       .shift = shift1,
			       .in_zp = 128,
			       .out_zp = 3,
			       .act_min = 0,
			       .act_max = 255};
	sl_sparse_q8 *p;
	sl_error err;
	cr_assert_eq(sl_sparse_q8_pack(&d, SL_SPARSE_PACK_W8, &p, &err), 0, "%s", err.msg);
	cr_expect_eq(p->kb, 3);
	cr_expect_eq(p->nnzb, 3);
	cr_expect_eq(p->row[0], 0);
	cr_expect_eq(p->row[1], 1);
	cr_expect_eq(p->row[2], 1);
	cr_expect_eq(p->row[3], 3);
	cr_expect_eq(p->idx[0], 2);
	cr_expect_eq(p->idx[1], 0);
	cr_expect_eq(p->idx[2], 1);
	cr_expect_eq(p->w16[0], 0);
	cr_expect_eq(p->w16[1], 2); /* k = 9 */
	cr_expect_eq(p->w16[2], 0); /* past k */
	cr_expect_eq(p->w16[4], -5);
	cr_expect_eq(p->w16[9], 5); /* k = 5 */
	cr_expect_not_null(p->w8);
	/* bias_raw = bias - in_zp * sum(w - w_zp); bias_x80 uses in_zp - 128 */
	cr_expect_eq(p->ch[0].bias_raw, 100 - 128 * 2);
	cr_expect_eq(p->ch[0].bias_x80, 100);
	cr_expect_eq(p->ch[2].bias_raw, 3 - 128 * 0);
	cr_expect_eq(p->ch[1].out_const,
		     (uint8_t)(3 + sl_mul_by_quantized_multiplier(-7, mult1[0], shift1[0])));
	cr_expect_eq(p->ch[0].rshift, 3);
	cr_expect_eq(p->ch[0].lshift, 0);
	cr_expect(p->fast_requant);
	cr_expect_leq(p->bytes, sl_sparse_q8_max_bytes(3, 10, SL_SPARSE_PACK_W8));
	sl_sparse_q8_free(p);

	/* w - w_zp = 195, outside int8: without an int8 copy one block as usual;
	 * with one, that block is stored twice (127 + 68) in the same column,
	 * and the int8 kernels can run the layer. */
	w[3] = 200;
	cr_assert_eq(sl_sparse_q8_pack(&d, 0, &p, &err), 0, "%s", err.msg);
	cr_expect_eq(p->nnzb, 4);
	cr_expect_null(p->w8);
	sl_sparse_q8_free(p);
	cr_assert_eq(sl_sparse_q8_pack(&d, SL_SPARSE_PACK_W8, &p, &err), 0, "%s", err.msg);
	cr_assert_not_null(p->w8);
	cr_expect_eq(p->nnzb, 5);
	cr_expect_eq(p->row[1], 3);
	cr_expect_eq(p->idx[0], 0);
	cr_expect_eq(p->idx[1], 0);
	cr_expect_eq(p->idx[2], 2);
	cr_expect_eq(p->w8[3], 127);
	cr_expect_eq(p->w8[4 + 3], 68);
	cr_expect_eq(p->w16[3] + p->w16[4 + 3], 195);
	cr_expect(p->w8_no_min);
	size_t n_impl;
	const sl_sparse_q8_impl *impls = sl_sparse_q8_impls(&n_impl);
	for (size_t i = 0; i < n_impl; i++)
		if ((impls[i].isa & sl_sparse_cpu_isa()) == impls[i].isa)
			cr_expect(sl_sparse_q8_usable(&impls[i], p), "%s not usable", impls[i].name);
	sl_sparse_q8_free(p);

	/* A bias near the int32 limits takes the general requantization. */
	bias[1] = INT32_MAX - 10;
	cr_assert_eq(sl_sparse_q8_pack(&d, 0, &p, &err), 0, "%s", err.msg);
	cr_expect_not(p->fast_requant);
	sl_sparse_q8_free(p);
}

Test(sparse_pack, size_bound_holds_for_any_sparsity)
{
	for (int s = 0; s <= 4; s++) {
		sl_test_q8_case c = {.m = 1,
				     .n = 37,
				     .k = 203,
				     .sparsity = s / 4.0,
				     .in_t = SL_DTYPE_I8,
				     .w_t = SL_DTYPE_I8,
				     .out_t = SL_DTYPE_I8,
				     .per_channel = true,
				     .seed = (uint32_t)s};
		sl_test_q8_layer L;
		sl_test_q8_layer_make(&c, &L);
		sl_sparse_q8 *p;
		sl_error err;
		cr_assert_eq(sl_sparse_q8_pack(&L.d, SL_SPARSE_PACK_W8, &p, &err), 0, "%s", err.msg);
		cr_expect_leq(p->bytes, sl_sparse_q8_max_bytes(37, 203, SL_SPARSE_PACK_W8));
		for (int n = 0; n < p->n; n++)
			for (uint32_t i = p->row[n] + 1; i < p->row[n + 1]; i++)
				cr_expect_lt(p->idx[i - 1], p->idx[i],
					     "block columns must ascend (nothing split)");
		cr_assert_eq(p->w16x2 != NULL, SL_SPARSE_HAVE_W16X2);
		for (size_t i = 0; p->w16x2 && i < 4 * (size_t)p->nnzb; i++)
			cr_assert_eq(p->w16x2[i], 2 * p->w16[i], "doubled weight %zu", i);
		sl_sparse_q8_free(p);
		sl_test_q8_layer_free(&L);
	}
	cr_expect_eq(sl_sparse_q8_max_bytes(0, 5, 0), 0);
}

/* The worst split: uint8 weights of 255 with zero point 0 take three blocks
 * each (127 + 127 + 1), which is what the size bound allows for. A column
 * repeats only after a part clipped to +-127. */
Test(sparse_pack, split_blocks_fill_the_bound)
{
	enum { N = 5, K = 10 };
	uint8_t w[N * K];
	memset(w, 255, sizeof(w));
	int32_t zp[1] = {0}, mult[1] = {1 << 30}, shift[1] = {-8};
	sl_sparse_q8_desc d = {.n = N,
			       .k = K,
			       .in_type = SL_DTYPE_U8,
			       .w_type = SL_DTYPE_U8,
			       .out_type = SL_DTYPE_U8,
			       .w = w,
			       .nq = 1,
			       .w_zp = zp,
			       .mult = mult,
			       .shift = shift,
			       .in_zp = 128,
			       .act_min = 0,
			       .act_max = 255};
	sl_sparse_q8 *p;
	sl_error err;
	cr_assert_eq(sl_sparse_q8_pack(&d, SL_SPARSE_PACK_W8, &p, &err), 0, "%s", err.msg);
	cr_expect_eq(p->nnzb, 3u * N * (uint32_t)p->kb);
	cr_expect_eq(p->bytes, sl_sparse_q8_max_bytes(N, K, SL_SPARSE_PACK_W8));
	for (int n = 0; n < N; n++)
		for (uint32_t i = p->row[n]; i < p->row[n + 1]; i++) {
			if (i > p->row[n] && p->idx[i - 1] == p->idx[i]) {
				cr_expect_eq(abs(p->w8[4 * (size_t)(i - 1)]), 127,
					     "a column repeats after a part of 127, not %d",
					     p->w8[4 * (size_t)(i - 1)]);
				continue;
			}
			int32_t sum = 0;
			for (uint32_t j = i; j < p->row[n + 1] && p->idx[j] == p->idx[i]; j++)
				sum += p->w8[4 * (size_t)j];
			cr_expect_eq(sum, 255, "channel %d, column %d: parts add to %d", n, p->idx[i], sum);
		}
	sl_sparse_q8_free(p);
}

Test(sparse_dispatch, family_lists_and_selection)
{
	size_t n;
	const sl_sparse_q8_impl *q8 = sl_sparse_q8_impls(&n);
	cr_assert_geq(n, 1);
	cr_expect_eq(q8[n - 1].fn, sl_sparse_q8_ref, "the reference closes the list");
	cr_expect_eq(q8[n - 1].isa, 0);
	const sl_sparse_q8_impl *best = sl_sparse_q8_select(NULL);
	cr_expect((best->isa & sl_sparse_cpu_isa()) == best->isa);
	const sl_sparse_f32_impl *f32 = sl_sparse_f32_impls(&n);
	cr_expect_eq(f32[n - 1].fn, sl_sparse_f32_ref);
	const sl_sparse_f32_impl *fbest = sl_sparse_f32_select();
	cr_expect((fbest->isa & sl_sparse_cpu_isa()) == fbest->isa);
#if defined(__x86_64__)
	cr_expect(sl_sparse_cpu_isa() & SL_SPARSE_ISA_SSE41, "every x86-64 CI machine has SSE4.1");
#elif defined(__aarch64__)
	cr_expect(sl_sparse_cpu_isa() & SL_SPARSE_ISA_NEON, "NEON is mandatory on AArch64");
	cr_expect_eq(sl_sparse_q8_pack_flags(), SL_SPARSE_PACK_W8);
#endif
}

static void run_impl_threads(const sl_sparse_q8_impl *impl, int threads, size_t tile, size_t m, int n)
{
	sl_test_q8_case c = {.m = m,
			     .n = n,
			     .k = 72,
			     .sparsity = 0.7,
			     .in_t = SL_DTYPE_U8,
			     .w_t = SL_DTYPE_I8,
			     .out_t = SL_DTYPE_U8,
			     .per_channel = true,
			     .seed = 5,
			     .out_pad = 3};
	sl_test_q8_layer L;
	sl_test_q8_layer_make(&c, &L);
	sl_sparse_q8 *p;
	sl_error err;
	cr_assert_eq(sl_sparse_q8_pack(&L.d, sl_sparse_q8_pack_flags(), &p, &err), 0, "%s", err.msg);
	if (!sl_sparse_q8_usable(impl, p)) {
		sl_sparse_q8_free(p);
		sl_test_q8_layer_free(&L);
		return;
	}
	const size_t bytes = L.m * L.out_stride;
	uint8_t *want = calloc(bytes, 1), *got = calloc(bytes, 1);
	sl_sparse_q8_ref(p, 0, L.m, L.a, L.in_stride, want, L.out_stride, NULL);
	pthreadpool_t pool = pthreadpool_create((size_t)threads);
	cr_assert_not_null(pool);
	sl_sparse_scratch *scratch;
	cr_assert_eq(sl_sparse_scratch_new(sl_sparse_q8_scratch_bytes(p), threads, &scratch), 0);
	for (int rep = 0; rep < 3; rep++) {
		memset(got, 0, bytes);
		cr_assert_eq(
		    sl_sparse_q8_run(impl, p, L.m, L.a, L.in_stride, got, L.out_stride, pool, tile, scratch),
		    0);
		cr_assert_arr_eq(got, want, bytes, "%s on %d threads, tile %zu, %zu x %d", impl->name,
				 threads, tile, m, n);
	}
	sl_sparse_scratch_free(scratch);
	if (threads > 1) {
		/* Fewer scratch slots than threads is refused, not raced on. */
		cr_assert_eq(sl_sparse_scratch_new(sl_sparse_q8_scratch_bytes(p), 1, &scratch), 0);
		cr_expect_eq(
		    sl_sparse_q8_run(impl, p, L.m, L.a, L.in_stride, got, L.out_stride, pool, 0, scratch),
		    -EINVAL);
		sl_sparse_scratch_free(scratch);
	}
	pthreadpool_destroy(pool);
	free(want);
	free(got);
	sl_sparse_q8_free(p);
	sl_test_q8_layer_free(&L);
}

static void run_threads(int threads, size_t tile, size_t m, int n)
{
	size_t ni;
	const sl_sparse_q8_impl *impls = sl_sparse_q8_impls(&ni);
	for (size_t i = 0; i < ni; i++)
		run_impl_threads(&impls[i], threads, tile, m, n);
}

Test(sparse_parallel, rows_split_over_threads_match_reference)
{
	run_threads(1, 0, 23 * 17, 40);
	run_threads(2, 0, 23 * 17, 40);
	run_threads(3, 16, 23 * 17, 40);
	run_threads(4, 5, 23 * 17, 40); /* tiles that are not a multiple of 16 rows */
}

/* Few rows (7x7, 14x14 layers): output channels are split into groups too,
 * each kernel call seeing a view of the packed layer; groups that are not a
 * multiple of 16 channels and a last group of a few channels included. */
Test(sparse_parallel, channels_split_over_threads_match_reference)
{
	run_threads(2, 0, 49, 160);
	run_threads(2, 0, 196, 100);
	run_threads(3, 0, 49, 100); /* groups of 48, 48, 4 */
	run_threads(4, 0, 15, 131);
	run_threads(2, 0, 1, 64);
}

Test(sparse_parallel, fp32_over_threads)
{
	for (int shape = 0; shape < 2; shape++) {
		sl_test_f32_layer L;
		/* 49 x 100: few rows, channels split too */
		if (shape == 0)
			sl_test_f32_layer_make(100, 19, 45, 0.6, true, 3, &L);
		else
			sl_test_f32_layer_make(49, 100, 33, 0.7, true, 3, &L);
		sl_sparse_f32 *p;
		sl_error err;
		cr_assert_eq(sl_sparse_f32_pack(&L.d, &p, &err), 0, "%s", err.msg);
		float *want = calloc(L.m * L.out_stride, sizeof(float)),
		      *got = calloc(L.m * L.out_stride, sizeof(float));
		const sl_sparse_f32_impl *impl = sl_sparse_f32_select();
		void *s1 = sl_test_aligned(sl_sparse_f32_scratch_bytes(p));
		impl->fn(p, 0, L.m, L.a, L.in_stride, want, L.out_stride, s1);
		pthreadpool_t pool = pthreadpool_create(2);
		sl_sparse_scratch *scratch;
		cr_assert_eq(sl_sparse_scratch_new(sl_sparse_f32_scratch_bytes(p), 2, &scratch), 0);
		cr_assert_eq(
		    sl_sparse_f32_run(impl, p, L.m, L.a, L.in_stride, got, L.out_stride, pool, 0, scratch),
		    0);
		cr_expect_arr_eq(got, want, L.m * L.out_stride * sizeof(float),
				 "same kernel, same bits, any split");
		sl_sparse_scratch_free(scratch);
		pthreadpool_destroy(pool);
		free(s1);
		free(want);
		free(got);
		sl_sparse_f32_free(p);
		sl_test_f32_layer_free(&L);
	}
}
