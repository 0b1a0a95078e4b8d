/* XNNPACK backend vs the reference ops for everything but convolutions:
 * ADD/MUL (with broadcasting and constant operands), pooling, MEAN, SOFTMAX,
 * HARD_SWISH, LOGISTIC, RELU/RELU6, PAD, CONCATENATION, QUANTIZE/DEQUANTIZE
 * (fp16 included) and RESHAPE. Each case either runs on XNNPACK and agrees
 * (fp32: 1e-4 of the output magnitude; quantized: within one step, with the
 * number of differing elements logged), or is declined with a reason in
 * step->why and runs on the reference op. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/xnn/xnn_backend.h"
#include "tests/unit/kernels/xnn/xnn_testutil.h"

static void expect_xnn(xt_graph *g, const char *label)
{
	const sl_dtype out = g->m->tensors[g->m->outputs[0]].dtype;
	for (int threads = 1; threads <= 2; threads++) {
		xt_result r;
		xt_compare(g, threads, 3, &r);
		cr_assert_eq(r.impl, SL_IMPL_XNNPACK, "%s: not run by XNNPACK (%s)", label, r.why);
		if (out == SL_DTYPE_F32) {
			cr_expect_eq(r.n_diff, 0, "%s threads %d: %lld of %lld beyond 1e-4 (max %g)", label,
				     threads, (long long)r.n_diff, (long long)r.n, r.max_diff);
		} else {
			cr_expect_leq(r.max_diff, 1.0, "%s threads %d: off by %g steps", label, threads,
				      r.max_diff);
			if (threads == 1 && r.n_diff)
				cr_log_info("%s: %lld of %lld elements one step apart", label,
					    (long long)r.n_diff, (long long)r.n);
		}
	}
}

/* The backend must decline with a reason naming what is missing, and the
 * runtime must then run the reference op. */
static void expect_ref(xt_graph *g, const char *label, const char *why)
{
	uint8_t *arena = calloc(1, g->m->arena_size + 64);
	cr_assert_not_null(arena);
	const sl_prepare_ctx ctx = {
	    .model = g->m, .arena = arena, .threads = 1, .numerics = SL_NUMERICS_FAST};
	sl_step step = {0};
	sl_error err = {{0}};
	cr_assert_eq(sl_xnn_prepare(&ctx, g->focus, &step, &err), -EOPNOTSUPP, "%s: XNNPACK took it", label);
	cr_assert(strstr(step.why, why), "%s: reason \"%s\" lacks \"%s\"", label, step.why, why);
	free(arena);

	xt_result r;
	xt_compare(g, 1, 1, &r);
	cr_assert_eq(r.impl, SL_IMPL_REF, "%s: expected the reference op, got %s", label, r.why);
	cr_assert_eq(r.n_diff, 0, "%s: same op, different output", label);
}

/* Quantization of a tensor in the tests: dtype and per-tensor parameters. */
typedef struct {
	sl_dtype dt;
	float scale; /* 0 for f32 */
	int32_t zp;
} qp;

/* Brace initializers, usable in static tables; cast them with (qp) in code. */
#define F32                                                                                                  \
	{                                                                                                    \
		SL_DTYPE_F32, 0.0f, 0                                                                        \
	}
#define QS8(s, z)                                                                                            \
	{                                                                                                    \
		SL_DTYPE_I8, (s), (z)                                                                        \
	}
#define QU8(s, z)                                                                                            \
	{                                                                                                    \
		SL_DTYPE_U8, (s), (z)                                                                        \
	}

static int tensor(xt_graph *g, qp q, int rank, const int32_t *dims)
{
	return xt_act(g, q.dt, rank, dims, q.scale, q.zp);
}

/* One node reading graph input x (and optional extra inputs), output inferred. */
static void single(xt_graph *g, const sl_node *tmpl, qp in, qp out, int rank, const int32_t *dims,
		   int n_extra, const int32_t *extra)
{
	const int x = tensor(g, in, rank, dims);
	const int y = tensor(g, out, 0, NULL);
	int32_t ins[8] = {x};
	for (int i = 0; i < n_extra; i++)
		ins[1 + i] = extra[i];
	xt_node(g, tmpl, 1 + n_extra, ins, y);
	const int32_t gin[1] = {x};
	xt_finish(g, 1, gin, y);
}

/* ---- ADD / MUL ---- */

typedef struct {
	sl_op op;
	int ra, rb;
	int32_t da[4], db[4];
	sl_act act;
	bool b_const;
	sl_dtype dt;
} binary_param;

ParameterizedTestParameters(xnn_ops, binary)
{
	static const binary_param shapes[] = {
	    {SL_OP_ADD, 4, 4, {1, 8, 8, 16}, {1, 8, 8, 16}, SL_ACT_NONE, false, 0},
	    {SL_OP_ADD, 4, 4, {1, 8, 8, 16}, {1, 1, 1, 16}, SL_ACT_RELU, false, 0},
	    {SL_OP_ADD, 4, 1, {2, 3, 4, 5}, {5}, SL_ACT_NONE, true, 0},
	    {SL_OP_MUL, 4, 4, {1, 8, 8, 16}, {1, 8, 8, 16}, SL_ACT_NONE, false, 0},
	    {SL_OP_MUL, 4, 4, {2, 3, 1, 5}, {1, 1, 4, 1}, SL_ACT_RELU6, false, 0},
	    {SL_OP_MUL, 4, 4, {1, 6, 6, 8}, {1, 1, 1, 8}, SL_ACT_NONE, true, 0},
	};
	static binary_param params[6 * 3];
	const sl_dtype dts[3] = {SL_DTYPE_F32, SL_DTYPE_U8, SL_DTYPE_I8};
	size_t n = 0;
	for (size_t i = 0; i < 6; i++)
		for (int d = 0; d < 3; d++) {
			params[n] = shapes[i];
			params[n++].dt = dts[d];
		}
	return cr_make_param_array(binary_param, params, n);
}

ParameterizedTest(binary_param *p, xnn_ops, binary)
{
	xt_graph g;
	xt_init(&g, 31 + (uint64_t)p->dt);
	const bool add = p->op == SL_OP_ADD;
	qp qa = (qp)F32, qb = (qp)F32, qo = (qp)F32;
	if (p->dt == SL_DTYPE_U8) {
		qa = (qp)QU8(0.05f, 130), qb = (qp)QU8(0.03f, 120),
		qo = add ? (qp)QU8(0.08f, 128) : (qp)QU8(0.12f, 128);
	} else if (p->dt == SL_DTYPE_I8) {
		qa = (qp)QS8(0.05f, 10), qb = (qp)QS8(0.03f, -3),
		qo = add ? (qp)QS8(0.08f, 0) : (qp)QS8(0.12f, -1);
	}
	const int a = tensor(&g, qa, p->ra, p->da);
	int b;
	if (p->b_const) {
		const double lo = p->dt == SL_DTYPE_U8 ? 0 : (p->dt == SL_DTYPE_I8 ? -128 : -4);
		const double hi = p->dt == SL_DTYPE_U8 ? 255 : (p->dt == SL_DTYPE_I8 ? 127 : 4);
		b = xt_const(&g, p->dt, p->rb, p->db, lo, hi, qb.scale > 0 ? 1 : 0, &qb.scale, &qb.zp, 0);
	} else {
		b = tensor(&g, qb, p->rb, p->db);
	}
	const int y = tensor(&g, qo, 0, NULL);
	sl_node n = {.op = p->op, .act = p->act};
	const int32_t ins[2] = {a, b};
	xt_node(&g, &n, 2, ins, y);
	const int32_t gin[2] = {a, b};
	xt_finish(&g, p->b_const ? 1 : 2, gin, y);
	char label[96];
	snprintf(label, sizeof(label), "%s %s rank %d/%d%s act%d", sl_op_name(p->op), sl_dtype_name(p->dt),
		 p->ra, p->rb, p->b_const ? " const" : "", (int)p->act);
	expect_xnn(&g, label);
	xt_fini(&g);
}

/* ---- pooling ---- */

typedef struct {
	sl_op op;
	sl_dtype dt;
	int32_t dims[4];
	int f, s;
	sl_padding pad;
	sl_act act;
	/* "": expected to run on XNNPACK; else the decline reason. An array, not
	 * a pointer: parameters are copied into the test's own process. */
	char why[40];
} pool_param;

ParameterizedTestParameters(xnn_ops, pool)
{
	static const pool_param params[] = {
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_F32, {1, 8, 8, 16}, 2, 2, SL_PADDING_VALID, SL_ACT_NONE, ""},
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_F32, {1, 7, 7, 8}, 3, 1, SL_PADDING_SAME, SL_ACT_NONE, ""},
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_F32, {2, 9, 9, 5}, 3, 2, SL_PADDING_SAME, SL_ACT_RELU6, ""},
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_F32, {1, 5, 5, 24}, 5, 1, SL_PADDING_VALID, SL_ACT_NONE, ""},
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_U8, {1, 8, 8, 16}, 2, 2, SL_PADDING_VALID, SL_ACT_NONE, ""},
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_U8, {1, 9, 9, 7}, 3, 2, SL_PADDING_VALID, SL_ACT_RELU, ""},
	    {SL_OP_AVERAGE_POOL_2D,
	     SL_DTYPE_U8,
	     {1, 7, 7, 8},
	     3,
	     1,
	     SL_PADDING_SAME,
	     SL_ACT_NONE,
	     "counts padding"},
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_U8, {1, 7, 7, 32}, 7, 1, SL_PADDING_VALID, SL_ACT_NONE, ""},
	    {SL_OP_AVERAGE_POOL_2D,
	     SL_DTYPE_I8,
	     {1, 8, 8, 16},
	     2,
	     2,
	     SL_PADDING_VALID,
	     SL_ACT_NONE,
	     "qs8 average pooling missing"},
	    {SL_OP_AVERAGE_POOL_2D, SL_DTYPE_I8, {1, 7, 7, 32}, 7, 2, SL_PADDING_VALID, SL_ACT_NONE, ""},
	    {SL_OP_MAX_POOL_2D, SL_DTYPE_F32, {1, 9, 9, 8}, 3, 2, SL_PADDING_SAME, SL_ACT_NONE, ""},
	    {SL_OP_MAX_POOL_2D, SL_DTYPE_F32, {2, 8, 8, 3}, 2, 2, SL_PADDING_VALID, SL_ACT_RELU, ""},
	    {SL_OP_MAX_POOL_2D, SL_DTYPE_U8, {1, 9, 9, 8}, 3, 2, SL_PADDING_SAME, SL_ACT_NONE, ""},
	    {SL_OP_MAX_POOL_2D, SL_DTYPE_U8, {1, 8, 8, 16}, 2, 2, SL_PADDING_VALID, SL_ACT_RELU6, ""},
	    {SL_OP_MAX_POOL_2D, SL_DTYPE_I8, {1, 8, 8, 16}, 2, 2, SL_PADDING_VALID, SL_ACT_NONE, ""},
	    {SL_OP_MAX_POOL_2D, SL_DTYPE_I8, {1, 7, 7, 5}, 3, 1, SL_PADDING_SAME, SL_ACT_RELU, ""},
	};
	return cr_make_param_array(pool_param, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(pool_param *p, xnn_ops, pool)
{
	xt_graph g;
	xt_init(&g, 41);
	const qp q = p->dt == SL_DTYPE_F32
			 ? (qp)F32
			 : (p->dt == SL_DTYPE_U8 ? (qp)QU8(0.04f, 100) : (qp)QS8(0.04f, -20));
	sl_node n = {.op = p->op, .act = p->act};
	n.p.pool = (sl_pool_params){
	    .filter_h = p->f, .filter_w = p->f, .stride_h = p->s, .stride_w = p->s, .padding = p->pad};
	single(&g, &n, q, q, 4, p->dims, 0, NULL);
	char label[96];
	snprintf(label, sizeof(label), "%s %s %dx%d/%d %s act%d", sl_op_name(p->op), sl_dtype_name(p->dt),
		 p->f, p->f, p->s, p->pad == SL_PADDING_SAME ? "SAME" : "VALID", (int)p->act);
	if (!p->why[0])
		expect_xnn(&g, label);
	else
		expect_ref(&g, label, p->why);
	xt_fini(&g);
}

/* ---- MEAN over H,W ---- */

typedef struct {
	sl_dtype dt;
	int32_t dims[4];
	bool keep_dims;
	float in_scale, out_scale; /* out_scale 0: same as the input */
	char why[48];		   /* as in pool_param */
} mean_param;

ParameterizedTestParameters(xnn_ops, mean)
{
	static const mean_param params[] = {
	    {SL_DTYPE_F32, {1, 7, 7, 32}, true, 0, 0, ""},
	    {SL_DTYPE_F32, {2, 5, 3, 10}, false, 0, 0, ""},
	    {SL_DTYPE_U8, {1, 7, 7, 32}, true, 0.05f, 0, ""},
	    {SL_DTYPE_U8, {2, 5, 3, 10}, true, 0.05f, 0.02f, ""},
	    {SL_DTYPE_U8, {1, 7, 7, 32}, true, 0.05f, 0.03f, "zero-point truncation"},
	    {SL_DTYPE_U8, {1, 7, 7, 32}, false, 0.05f, 0, "keep_dims=false"},
	    {SL_DTYPE_I8, {1, 7, 7, 32}, true, 0.05f, 0, ""},
	    {SL_DTYPE_I8, {2, 5, 3, 10}, true, 0.05f, 0.03f, ""},
	    {SL_DTYPE_I8, {1, 7, 7, 32}, false, 0.05f, 0.02f, "keep_dims=false"},
	    {SL_DTYPE_I8, {2, 5, 3, 10}, false, 0.05f, 0, "keep_dims=false"},
	};
	return cr_make_param_array(mean_param, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(mean_param *p, xnn_ops, mean)
{
	xt_graph g;
	xt_init(&g, 51);
	qp in = (qp)F32, out = (qp)F32;
	if (p->dt != SL_DTYPE_F32) {
		in = (qp){p->dt, p->in_scale, p->dt == SL_DTYPE_U8 ? 128 : -3};
		out = p->out_scale > 0 ? (qp){p->dt, p->out_scale, p->dt == SL_DTYPE_U8 ? 110 : 9} : in;
	}
	const int32_t axes[2] = {1, 2}, adims[1] = {2};
	const int ax = xt_const_i32(&g, 2, axes, 1, adims);
	sl_node n = {.op = SL_OP_MEAN};
	n.p.mean.keep_dims = p->keep_dims;
	single(&g, &n, in, out, 4, p->dims, 1, (const int32_t[]){ax});
	char label[96];
	snprintf(label, sizeof(label), "MEAN %s %dx%dx%dx%d keep %d scales %g/%g", sl_dtype_name(p->dt),
		 p->dims[0], p->dims[1], p->dims[2], p->dims[3], p->keep_dims, p->in_scale, p->out_scale);
	if (!p->why[0])
		expect_xnn(&g, label);
	else
		expect_ref(&g, label, p->why);
	xt_fini(&g);
}

/* ---- SOFTMAX, HARD_SWISH, LOGISTIC, RELU, RELU6 ---- */

typedef struct {
	sl_op op;
	qp in, out;
	int rank;
	int32_t dims[4];
	float beta;
	char why[40]; /* as in pool_param */
} unary_param;

ParameterizedTestParameters(xnn_ops, unary)
{
	static const unary_param params[] = {
	    {SL_OP_SOFTMAX, F32, F32, 2, {1, 10}, 1.0f, ""},
	    {SL_OP_SOFTMAX, F32, F32, 2, {2, 1001}, 1.0f, ""},
	    {SL_OP_SOFTMAX, F32, F32, 2, {1, 10}, 0.5f, "beta"},
	    {SL_OP_SOFTMAX, QU8(0.1f, 128), QU8(1.0f / 256, 0), 2, {1, 1001}, 1.0f, ""},
	    {SL_OP_SOFTMAX, QU8(0.05f, 120), QU8(1.0f / 256, 0), 2, {3, 10}, 0.5f, ""},
	    {SL_OP_SOFTMAX, QS8(0.1f, 0), QS8(1.0f / 256, -128), 2, {1, 1001}, 1.0f, "qs8 softmax missing"},
	    {SL_OP_HARD_SWISH, F32, F32, 4, {1, 5, 5, 16}, 0, ""},
	    {SL_OP_HARD_SWISH, QS8(0.05f, 0), QS8(0.04f, -30), 4, {1, 5, 5, 16}, 0, "qs8 hardswish missing"},
	    {SL_OP_HARD_SWISH, QU8(0.05f, 128), QU8(0.04f, 30), 4, {1, 5, 5, 16}, 0, "qu8 hardswish missing"},
	    {SL_OP_LOGISTIC, F32, F32, 2, {7, 33}, 0, ""},
	    {SL_OP_LOGISTIC, QU8(0.05f, 128), QU8(1.0f / 256, 0), 2, {7, 33}, 0, ""},
	    {SL_OP_LOGISTIC, QS8(0.05f, 0), QS8(1.0f / 256, -128), 2, {7, 33}, 0, ""},
	    {SL_OP_RELU, F32, F32, 4, {1, 4, 4, 9}, 0, ""},
	    {SL_OP_RELU, QU8(0.05f, 128), QU8(0.05f, 128), 4, {1, 4, 4, 9}, 0, ""},
	    {SL_OP_RELU, QS8(0.05f, -7), QS8(0.05f, -7), 4, {1, 4, 4, 9}, 0, ""},
	    {SL_OP_RELU, QS8(0.05f, -7), QS8(0.03f, -128), 4, {1, 4, 4, 9}, 0, "requantizing"},
	    {SL_OP_RELU6, F32, F32, 4, {1, 4, 4, 9}, 0, ""},
	    {SL_OP_RELU6, QU8(0.05f, 100), QU8(0.05f, 100), 4, {1, 4, 4, 9}, 0, ""},
	    {SL_OP_RELU6, QS8(0.05f, 20), QS8(0.05f, 20), 4, {1, 4, 4, 9}, 0, ""},
	};
	return cr_make_param_array(unary_param, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(unary_param *p, xnn_ops, unary)
{
	xt_graph g;
	xt_init(&g, 61);
	sl_node n = {.op = p->op};
	n.p.softmax.beta = p->beta;
	single(&g, &n, p->in, p->out, p->rank, p->dims, 0, NULL);
	char label[80];
	snprintf(label, sizeof(label), "%s %s->%s beta %g", sl_op_name(p->op), sl_dtype_name(p->in.dt),
		 sl_dtype_name(p->out.dt), p->beta);
	if (!p->why[0])
		expect_xnn(&g, label);
	else
		expect_ref(&g, label, p->why);
	xt_fini(&g);
}

/* ---- PAD, CONCATENATION, QUANTIZE, DEQUANTIZE, RESHAPE ---- */

Test(xnn_ops, pad)
{
	const qp qs[3] = {(qp)F32, (qp)QU8(0.1f, 77), (qp)QS8(0.1f, -9)};
	for (int i = 0; i < 3; i++) {
		xt_graph g;
		xt_init(&g, 71);
		sl_node n = {.op = SL_OP_PAD};
		const int32_t pads[4][2] = {{0, 0}, {1, 2}, {2, 1}, {0, 0}};
		memcpy(n.p.pad.pads, pads, sizeof(pads));
		single(&g, &n, qs[i], qs[i], 4, (const int32_t[]){1, 5, 6, 3}, 0, NULL);
		expect_xnn(&g, sl_dtype_name(qs[i].dt));
		xt_fini(&g);

		xt_init(&g, 72);
		sl_node n2 = {.op = SL_OP_PAD};
		n2.p.pad.pads[0][0] = 1, n2.p.pad.pads[1][1] = 2;
		single(&g, &n2, qs[i], qs[i], 2, (const int32_t[]){3, 4}, 0, NULL);
		expect_xnn(&g, "2-D pad");
		xt_fini(&g);
	}
}

static void concat_case(qp q, int n_in, int rank, const int32_t *dims, int axis, const int32_t *sizes,
			bool same_quant)
{
	xt_graph g;
	xt_init(&g, 81);
	int32_t ins[4];
	for (int i = 0; i < n_in; i++) {
		int32_t d[4] = {0};
		memcpy(d, dims, (size_t)rank * sizeof(d[0]));
		d[axis] = sizes[i];
		qp qi = q;
		if (!same_quant && i == 1)
			qi.scale *= 2;
		ins[i] = tensor(&g, qi, rank, d);
	}
	const int y = tensor(&g, q, 0, NULL);
	sl_node n = {.op = SL_OP_CONCATENATION};
	n.p.concat.axis = axis;
	xt_node(&g, &n, n_in, ins, y);
	xt_finish(&g, n_in, ins, y);
	char label[64];
	snprintf(label, sizeof(label), "CONCATENATION %s x%d axis %d", sl_dtype_name(q.dt), n_in, axis);
	if (same_quant)
		expect_xnn(&g, label);
	else
		expect_ref(&g, label, "requantizing");
	xt_fini(&g);
}

Test(xnn_ops, concatenation)
{
	const qp qs[3] = {(qp)F32, (qp)QU8(0.1f, 77), (qp)QS8(0.1f, -9)};
	for (int i = 0; i < 3; i++) {
		concat_case(qs[i], 2, 4, (const int32_t[]){1, 4, 4, 0}, 3, (const int32_t[]){3, 5}, true);
		concat_case(qs[i], 3, 4, (const int32_t[]){2, 0, 3, 6}, 1, (const int32_t[]){1, 4, 2}, true);
		concat_case(qs[i], 4, 2, (const int32_t[]){0, 7}, 0, (const int32_t[]){1, 2, 3, 4}, true);
		concat_case(qs[i], 4, 2, (const int32_t[]){5, 0}, 1, (const int32_t[]){1, 2, 3, 4}, true);
	}
	concat_case((qp)QS8(0.1f, -9), 2, 4, (const int32_t[]){1, 4, 4, 0}, 3, (const int32_t[]){3, 5},
		    false);
}

Test(xnn_ops, quantize_dequantize)
{
	const qp qs[2] = {(qp)QU8(0.02f, 128), (qp)QS8(0.03f, 5)};
	for (int i = 0; i < 2; i++) {
		xt_graph g;
		xt_init(&g, 91);
		sl_node q = {.op = SL_OP_QUANTIZE};
		single(&g, &q, (qp)F32, qs[i], 4, (const int32_t[]){1, 6, 7, 8}, 0, NULL);
		expect_xnn(&g, "QUANTIZE");
		xt_fini(&g);

		xt_init(&g, 92);
		sl_node d = {.op = SL_OP_DEQUANTIZE};
		single(&g, &d, qs[i], (qp)F32, 4, (const int32_t[]){1, 6, 7, 8}, 0, NULL);
		expect_xnn(&g, "DEQUANTIZE");
		xt_fini(&g);
	}
}

/* fp16 constant: sign, exponent 13..16 (0.25 to 4), random mantissa. */
static int f16_const(xt_graph *g, int rank, const int32_t *dims)
{
	sl_tensor t = {.dtype = SL_DTYPE_F16, .rank = rank, .kind = SL_TENSOR_CONST};
	memcpy(t.dims, dims, sizeof(int32_t) * (size_t)rank);
	const int64_t n = sl_tensor_numel(&t);
	t.bytes = (size_t)n * 2;
	uint16_t *h = malloc(t.bytes);
	cr_assert_not_null(h);
	for (int64_t i = 0; i < n; i++) {
		const uint32_t r = xt_rand(g);
		h[i] = (uint16_t)(((r & 1u) << 15) | ((13u + ((r >> 1) & 3u)) << 10) | ((r >> 3) & 0x3ffu));
	}
	cr_assert_eq(sl_model_own(g->m, h), 0);
	t.data = h;
	sl_error err = {{0}};
	int idx = sl_model_add_tensor(g->m, &t, &err);
	cr_assert_geq(idx, 0, "%s", err.msg);
	return idx;
}

Test(xnn_ops, fp16_constant_behind_dequantize)
{
	xt_graph g;
	xt_init(&g, 93);
	const int32_t dims[4] = {1, 4, 4, 8};
	const int h = f16_const(&g, 4, dims);
	const int t = tensor(&g, (qp)F32, 0, NULL);
	sl_node d = {.op = SL_OP_DEQUANTIZE};
	const int dq = xt_node(&g, &d, 1, (const int32_t[]){h}, t);
	const int x = tensor(&g, (qp)F32, 4, dims), y = tensor(&g, (qp)F32, 0, NULL);
	sl_node add = {.op = SL_OP_ADD};
	xt_node(&g, &add, 2, (const int32_t[]){x, t}, y);
	xt_finish(&g, 1, (const int32_t[]){x}, y);
	g.focus = dq;
	expect_xnn(&g, "f16 DEQUANTIZE");
	xt_fini(&g);
}

Test(xnn_ops, reshape_alias_left_to_runtime)
{
	xt_graph g;
	xt_init(&g, 95);
	const int32_t shape_v[2] = {1, 48}, shape_d[1] = {2};
	const int s = xt_const_i32(&g, 2, shape_v, 1, shape_d);
	sl_node n = {.op = SL_OP_RESHAPE};
	single(&g, &n, (qp)QS8(0.1f, 1), (qp)QS8(0.1f, 1), 4, (const int32_t[]){1, 4, 4, 3}, 1,
	       (const int32_t[]){s});
	xt_result r;
	xt_compare(&g, 1, 1, &r);
	cr_assert_neq(r.impl, SL_IMPL_XNNPACK, "an aliased reshape needs no copy");
	cr_assert_eq(r.n_diff, 0);
	xt_fini(&g);
}

/* ---- the thread pool between invocations ---- */

/* The ids of this process's threads other than the caller (at most max). */
static int other_threads(int *tids, int max)
{
	DIR *d = opendir("/proc/self/task");
	cr_assert(d, "/proc/self/task: %s", strerror(errno));
	int n = 0;
	for (struct dirent *e; n < max && (e = readdir(d));) {
		const int tid = atoi(e->d_name);
		if (tid > 0 && tid != gettid())
			tids[n++] = tid;
	}
	closedir(d);
	return n;
}

/* Threads of this process, other than the caller, that are running or
 * runnable ('R' in /proc/self/task/TID/stat). */
static int busy_threads(void)
{
	int tids[64], busy = 0;
	const int n = other_threads(tids, 64);
	for (int i = 0; i < n; i++) {
		char path[64], line[512];
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* gone meanwhile */
		const char *p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		fclose(f);
		busy += p && p[1] == ' ' && p[2] == 'R';
	}
	return busy;
}

/* One fp32 RELU large enough for XNNPACK to split over the pool. */
static void pool_graph(xt_graph *g, uint64_t seed)
{
	xt_init(g, seed);
	sl_node n = {.op = SL_OP_RELU};
	single(g, &n, (qp)F32, (qp)F32, 4, (const int32_t[]){1, 64, 64, 32}, 0, NULL);
}

/* pthreadpool's workers spin for milliseconds after each parallel call;
 * with yield_workers they are asleep as soon as invoke returns, so a daemon
 * at 10-30 frames per second does not burn a core per worker between
 * frames. Without the option this fails: the worker still spins after
 * 10 ms. */
Test(xnn_ops, yield_workers_sleep_after_invoke)
{
	xt_graph g;
	pool_graph(&g, 96);
	const sl_runtime_options o = {.backend = SL_BACKEND_XNNPACK, .threads = 2, .yield_workers = true};
	sl_runtime *rt = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_runtime_new(g.m, &o, &rt, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_runtime_step(rt, 0)->impl, SL_IMPL_XNNPACK, "%s", sl_runtime_step(rt, 0)->why);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sl_runtime_invoke(rt), 0);
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
		cr_assert_eq(busy_threads(), 0, "invoke %d: a pool worker still runs 10 ms after it", i);
	}
	sl_runtime_free(rt);
	xt_fini(&g);
}

/* The single CPU a thread of this process may run on, -1 if several. */
static int only_cpu(int tid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int cpu = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
			char *end;
			const long c = strtol(line + 18, &end, 10);
			cpu = *end == '\n' ? (int)c : -1;
		}
	fclose(f);
	return cpu;
}

/* pin_threads: the caller on one CPU, the pool's worker on another, so that
 * waking the worker never queues it behind a spinning caller. */
Test(xnn_ops, pin_threads_one_cpu_each)
{
	cpu_set_t all;
	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	if (CPU_COUNT(&all) < 2)
		cr_skip_test("one CPU: nothing to spread");
	xt_graph g;
	pool_graph(&g, 97);
	/* Twice: the second runtime's caller is pinned already, and its worker
	 * must still get a CPU of its own. */
	for (int round = 0; round < 2; round++) {
		const sl_runtime_options o = {
		    .backend = SL_BACKEND_XNNPACK, .threads = 2, .pin_threads = true};
		sl_runtime *rt = NULL;
		sl_error err = {{0}};
		cr_assert_eq(sl_runtime_new(g.m, &o, &rt, &err), 0, "%s", err.msg);
		/* A warm-up run (the daemon's loader thread) pins nobody. */
		cr_assert_eq(sl_runtime_warm_up(rt), 0);
		if (round == 0)
			cr_expect_lt(only_cpu(gettid()), 0, "warm-up pinned its caller");
		cr_assert_eq(sl_runtime_invoke(rt), 0);
		const int mine = only_cpu(gettid());
		cr_assert_geq(mine, 0, "the caller is pinned to one CPU");
		int tids[64], workers = 0;
		const int n = other_threads(tids, 64);
		for (int i = 0; i < n; i++) {
			const int cpu = only_cpu(tids[i]);
			if (cpu >= 0) {
				cr_expect_neq(cpu, mine, "round %d: thread %d shares the caller's CPU %d",
					      round, tids[i], cpu);
				workers++;
			}
		}
		cr_expect_eq(workers, 1, "round %d: one pinned worker", round);
		cr_assert_eq(sl_runtime_invoke(rt), 0, "a second invoke (already pinned) still runs");
		sl_runtime_free(rt);
	}
	xt_fini(&g);
}
