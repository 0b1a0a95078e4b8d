/* fp32 sparse kernels: the reference against a dense double-precision loop,
 * every optimised kernel against the reference (within summation-order
 * rounding), over edge sizes and sparsity 0, 0.5, 0.9, 1, with and without
 * clamping. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sparse/sparse.h"
#include "sparse_test_util.h"

static const size_t ms[] = {1, 3, 8, 9, 16, 17, 33, 49};
static const int ns[] = {1, 3, 4, 7, 8, 9, 17};
static const int ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 64, 130};
static const double sps[] = {0.0, 0.5, 0.9, 1.0};

typedef void (*check_fn)(const sl_test_f32_layer *L, const sl_sparse_f32 *p, const void *arg,
			 const char *what);

static void sweep(check_fn check, const void *arg)
{
	uint32_t i = 0;
	for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
			for (size_t si = 0; si < sizeof(sps) / sizeof(sps[0]); si++, i++) {
				sl_test_f32_layer L;
				sl_test_f32_layer_make(ms[i % (sizeof(ms) / sizeof(ms[0]))], ns[ni], ks[ki],
						       sps[si], i % 2, i, &L);
				sl_sparse_f32 *p;
				sl_error err;
				cr_assert_eq(sl_sparse_f32_pack(&L.d, &p, &err), 0, "%s", err.msg);
				char what[96];
				snprintf(what, sizeof(what), "m=%zu n=%d k=%d sparsity=%.1f clamp=%u", L.m,
					 L.d.n, L.d.k, sps[si], i % 2);
				check(&L, p, arg, what);
				sl_sparse_f32_free(p);
				sl_test_f32_layer_free(&L);
			}
}

static void check_ref(const sl_test_f32_layer *L, const sl_sparse_f32 *p, const void *arg, const char *what)
{
	(void)arg;
	float *want = calloc(L->m * L->out_stride, sizeof(float)),
	      *got = calloc(L->m * L->out_stride, sizeof(float));
	sl_test_f32_dense(L, want);
	sl_sparse_f32_ref(p, 0, L->m, L->a, L->in_stride, got, L->out_stride, NULL);
	for (size_t m = 0; m < L->m; m++)
		for (int n = 0; n < L->d.n; n++) {
			const size_t i = m * L->out_stride + n;
			cr_assert_leq(fabs((double)got[i] - want[i]), sl_test_f32_tol(L, m, n),
				      "%s: pixel %zu channel %d: reference %g, dense %g", what, m, n,
				      (double)got[i], (double)want[i]);
		}
	free(want);
	free(got);
}

Test(sparse_f32, reference_matches_dense)
{
	sweep(check_ref, NULL);
}

static void check_kernel(const sl_test_f32_layer *L, const sl_sparse_f32 *p, const void *arg,
			 const char *what)
{
	const sl_test_f32_kernel *kern = arg;
	const size_t total = L->m * L->out_stride;
	float *want = malloc(total * sizeof(float)), *got = malloc(total * sizeof(float));
	for (size_t i = 0; i < total; i++)
		want[i] = got[i] = -12345.0f;
	void *scratch = sl_test_aligned(sl_sparse_f32_scratch_bytes(p));
	const size_t m0 = L->m > 2 ? 1 : 0;
	sl_sparse_f32_ref(p, m0, L->m, L->a, L->in_stride, want, L->out_stride, NULL);
	kern->fn(p, m0, L->m, L->a, L->in_stride, got, L->out_stride, scratch);
	for (size_t m = 0; m < L->m; m++)
		for (size_t n = 0; n < L->out_stride; n++) {
			const size_t i = m * L->out_stride + n;
			const double tol =
			    (m >= m0 && n < (size_t)L->d.n) ? sl_test_f32_tol(L, m, (int)n) : 0.0;
			cr_assert_leq(fabs((double)got[i] - want[i]), tol,
				      "%s on %s: pixel %zu channel %zu: got %g, want %g", kern->name, what, m,
				      n, (double)got[i], (double)want[i]);
		}
	free(scratch);
	free(want);
	free(got);
}

ParameterizedTestParameters(sparse_f32, kernel_matches_reference)
{
	static size_t ids[8];
	sl_test_f32_kernel kernels[8];
	const size_t n = sl_test_f32_kernels(kernels, 8);
	for (size_t i = 0; i < n; i++)
		ids[i] = i;
	/* Indices, not the entries: Criterion runs each case in a re-executed
	 * process, where function pointers from this one mean nothing. */
	return cr_make_param_array(size_t, ids, n);
}

ParameterizedTest(size_t *ki, sparse_f32, kernel_matches_reference)
{
	sl_test_f32_kernel kernels[8];
	cr_assert_lt(*ki, sl_test_f32_kernels(kernels, 8));
	const sl_test_f32_kernel *kern = &kernels[*ki];
	sweep(check_kernel, kern);
}
