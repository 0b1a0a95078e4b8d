#include "tests/unit/kernels/xnn/xnn_testutil.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"

void xt_init(xt_graph *g, uint64_t seed)
{
	g->m = sl_model_new();
	cr_assert_not_null(g->m);
	g->rng = seed * 0x9e3779b97f4a7c15ull + 1;
	g->focus = -1;
}

void xt_fini(xt_graph *g)
{
	g->m = sl_model_unref(g->m);
}

uint32_t xt_rand(xt_graph *g)
{
	/* xorshift64*: deterministic across platforms, unlike rand(). */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)((g->rng * 0x2545f4914f6cdd1dull) >> 32);
}

double xt_uniform(xt_graph *g, double lo, double hi)
{
	return lo + (hi - lo) * ((double)xt_rand(g) / 4294967296.0);
}

static bool is_q8(sl_dtype dt)
{
	return dt == SL_DTYPE_I8 || dt == SL_DTYPE_U8;
}

int xt_act(xt_graph *g, sl_dtype dt, int rank, const int32_t *dims, float scale, int32_t zp)
{
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_ACTIVATION};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	if (scale > 0)
		t.q = (sl_quant){.n = 1, .scale = &scale, .zero_point = &zp};
	sl_error err = {{0}};
	int r = sl_model_add_tensor(g->m, &t, &err);
	cr_assert_geq(r, 0, "add activation: %s", err.msg);
	return r;
}

static void fill(xt_graph *g, sl_dtype dt, void *data, int64_t n, double lo, double hi)
{
	for (int64_t i = 0; i < n; i++) {
		const double v = xt_uniform(g, lo, hi);
		switch (dt) {
		case SL_DTYPE_F32:
			((float *)data)[i] = (float)v;
			break;
		case SL_DTYPE_I8:
			((int8_t *)data)[i] = (int8_t)lround(v);
			break;
		case SL_DTYPE_U8:
			((uint8_t *)data)[i] = (uint8_t)lround(v);
			break;
		case SL_DTYPE_I32:
			((int32_t *)data)[i] = (int32_t)lround(v);
			break;
		default:
			cr_assert_fail("fill: dtype %s", sl_dtype_name(dt));
		}
	}
}

int xt_const(xt_graph *g, sl_dtype dt, int rank, const int32_t *dims, double lo, double hi, int qn,
	     const float *scales, const int32_t *zps, int axis)
{
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_CONST};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	const int64_t n = sl_tensor_numel(&t);
	cr_assert_geq(n, 0);
	t.bytes = (size_t)n * sl_dtype_size(dt);
	void *data = calloc(1, t.bytes + 1);
	cr_assert_not_null(data);
	fill(g, dt, data, n, lo, hi);
	cr_assert_eq(sl_model_own(g->m, data), 0);
	t.data = data;
	if (qn > 0)
		t.q =
		    (sl_quant){.n = qn, .axis = axis, .scale = (float *)scales, .zero_point = (int32_t *)zps};
	sl_error err = {{0}};
	int r = sl_model_add_tensor(g->m, &t, &err);
	cr_assert_geq(r, 0, "add constant: %s", err.msg);
	return r;
}

int xt_const_i32(xt_graph *g, int n, const int32_t *v, int rank, const int32_t *dims)
{
	sl_tensor t = {.dtype = SL_DTYPE_I32, .rank = rank, .kind = SL_TENSOR_CONST};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	t.bytes = (size_t)n * sizeof(int32_t);
	int32_t *data = malloc(t.bytes + 1);
	cr_assert_not_null(data);
	memcpy(data, v, t.bytes);
	cr_assert_eq(sl_model_own(g->m, data), 0);
	t.data = data;
	sl_error err = {{0}};
	int r = sl_model_add_tensor(g->m, &t, &err);
	cr_assert_geq(r, 0, "add int32 constant: %s", err.msg);
	return r;
}

int xt_node(xt_graph *g, const sl_node *tmpl, int n_in, const int32_t *in, int out)
{
	sl_node n = *tmpl;
	int32_t o = out;
	n.n_inputs = n_in;
	n.inputs = (int32_t *)in;
	n.n_outputs = 1;
	n.outputs = &o;
	sl_error err = {{0}};
	int r = sl_model_add_node(g->m, &n, &err);
	cr_assert_geq(r, 0, "add node: %s", err.msg);
	g->focus = r;
	return r;
}

void xt_finish(xt_graph *g, int n_in, const int32_t *in, int out)
{
	g->m->n_inputs = n_in;
	g->m->inputs = malloc(sizeof(int32_t) * (size_t)n_in);
	g->m->n_outputs = 1;
	g->m->outputs = malloc(sizeof(int32_t));
	cr_assert(g->m->inputs && g->m->outputs);
	memcpy(g->m->inputs, in, sizeof(int32_t) * (size_t)n_in);
	g->m->outputs[0] = out;
	sl_error err = {{0}};
	int r = sl_model_finalize(g->m, &err);
	cr_assert_eq(r, 0, "finalize: %s", err.msg);
}

float xt_acc_out_scale(float in_scale, float w_scale, int k)
{
	/* Full-range int8 operands have a standard deviation near 74 steps:
	 * aim the accumulator's spread at about 40 output steps. */
	return in_scale * w_scale * sqrtf((float)k) * 74.0f * 74.0f / 40.0f;
}

static void fill_input(xt_graph *g, const sl_tensor *t, void *a, void *b)
{
	const int64_t n = sl_tensor_numel(t);
	switch (t->dtype) {
	case SL_DTYPE_F32:
		fill(g, t->dtype, a, n, -4.0, 4.0);
		break;
	case SL_DTYPE_I8:
		fill(g, t->dtype, a, n, -128.0, 127.0);
		break;
	case SL_DTYPE_U8:
		fill(g, t->dtype, a, n, 0.0, 255.0);
		break;
	default:
		cr_assert_fail("input dtype %s", sl_dtype_name(t->dtype));
	}
	memcpy(b, a, t->bytes);
}

void xt_compare(xt_graph *g, int threads, int rounds, xt_result *ret)
{
	sl_runtime *ref = NULL, *xnn = NULL;
	sl_error err = {{0}};
	const sl_runtime_options ro = {.backend = SL_BACKEND_REF, .threads = 1};
	const sl_runtime_options xo = {
	    .backend = SL_BACKEND_XNNPACK, .numerics = SL_NUMERICS_FAST, .threads = threads};
	int r = sl_runtime_new(g->m, &ro, &ref, &err);
	cr_assert_eq(r, 0, "reference runtime: %s", err.msg);
	r = sl_runtime_new(g->m, &xo, &xnn, &err);
	cr_assert_eq(r, 0, "xnnpack runtime: %s", err.msg);

	xt_result res = {.impl = SL_IMPL_NONE};
	for (int i = 0; i < sl_runtime_n_steps(xnn); i++) {
		const sl_step *s = sl_runtime_step(xnn, i);
		if (s->node == g->focus) {
			res.impl = s->impl;
			memcpy(res.why, s->why, sizeof(res.why));
		}
	}

	const sl_tensor *ot = sl_runtime_output_tensor(ref, 0);
	const int64_t n = sl_tensor_numel(ot);
	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < g->m->n_inputs; i++)
			fill_input(g, sl_runtime_input_tensor(ref, i), sl_runtime_input(ref, i),
				   sl_runtime_input(xnn, i));
		cr_assert_eq(sl_runtime_invoke(ref), 0);
		cr_assert_eq(sl_runtime_invoke(xnn), 0);
		const void *a = sl_runtime_output(ref, 0), *b = sl_runtime_output(xnn, 0);
		if (ot->dtype == SL_DTYPE_F32) {
			const float *fa = a, *fb = b;
			double mag = 1.0;
			for (int64_t i = 0; i < n; i++)
				mag = fmax(mag, fabs(fa[i]));
			for (int64_t i = 0; i < n; i++) {
				/* Sums in another order: error relative to the output's magnitude. */
				const double e = fabs((double)fa[i] - fb[i]) / mag;
				if (e > 1e-4 || isnan(fb[i]) != isnan(fa[i]))
					res.n_diff++;
				res.max_diff = fmax(res.max_diff, e);
			}
		} else {
			cr_assert(is_q8(ot->dtype), "output dtype %s", sl_dtype_name(ot->dtype));
			const bool s8 = ot->dtype == SL_DTYPE_I8;
			for (int64_t i = 0; i < n; i++) {
				const int va = s8 ? ((const int8_t *)a)[i] : ((const uint8_t *)a)[i];
				const int vb = s8 ? ((const int8_t *)b)[i] : ((const uint8_t *)b)[i];
				if (va != vb)
					res.n_diff++;
				res.max_diff = fmax(res.max_diff, abs(va - vb));
			}
		}
		res.n += n;
	}
	sl_runtime_free(xnn);
	sl_runtime_free(ref);
	*ret = res;
}
