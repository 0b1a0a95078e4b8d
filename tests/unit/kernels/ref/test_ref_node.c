/* The node layer: sl_ref_prepare on small graphs built with the IR builder and
 * run through sl_runtime's reference backend, compared with the pure kernels
 * called directly; plus the errors for unsupported combinations. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/ref_ops.h"
#include "kernels/runtime.h"
#include "tests/unit/kernels/ref/ref_testutil.h"

typedef struct {
	sl_model *m;
	sl_error err;
} gb;

static int add_act(gb *g, sl_dtype dt, int rank, const int32_t *dims, float scale, int32_t zp)
{
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_ACTIVATION};
	memcpy(t.dims, dims, sizeof(int32_t) * (size_t)rank);
	if (dt == SL_DTYPE_I8 || dt == SL_DTYPE_U8)
		t.q = (sl_quant){.n = 1, .scale = &scale, .zero_point = &zp};
	int r = sl_model_add_tensor(g->m, &t, &g->err);
	cr_assert_geq(r, 0, "%s", g->err.msg);
	return r;
}

static int add_const(gb *g, sl_dtype dt, int rank, const int32_t *dims, const void *data, size_t bytes,
		     int qn, const float *scale, const int32_t *zp, int axis)
{
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_CONST, .bytes = bytes};
	memcpy(t.dims, dims, sizeof(int32_t) * (size_t)rank);
	void *copy = malloc(bytes);
	cr_assert_not_null(copy);
	memcpy(copy, data, bytes);
	cr_assert_eq(sl_model_own(g->m, copy), 0);
	t.data = copy;
	if (qn)
		t.q = (sl_quant){.n = qn, .axis = axis, .scale = (float *)scale, .zero_point = (int32_t *)zp};
	int r = sl_model_add_tensor(g->m, &t, &g->err);
	cr_assert_geq(r, 0, "%s", g->err.msg);
	return r;
}

static void add_node(gb *g, sl_node n, int n_in, const int32_t *ins, int32_t out)
{
	n.n_inputs = n_in;
	n.inputs = (int32_t *)ins;
	n.n_outputs = 1;
	n.outputs = &out;
	cr_assert_geq(sl_model_add_node(g->m, &n, &g->err), 0, "%s", g->err.msg);
}

static void set_io(gb *g, int in, int out)
{
	g->m->inputs = malloc(sizeof(int32_t));
	g->m->outputs = malloc(sizeof(int32_t));
	cr_assert(g->m->inputs && g->m->outputs);
	g->m->inputs[0] = in;
	g->m->outputs[0] = out;
	g->m->n_inputs = g->m->n_outputs = 1;
}

Test(ref_node, uint8_chain_matches_direct_kernels)
{
	gb g = {.m = sl_model_new()};
	tu_rng r = {77};
	const float in_s = 0.05f, c_s = 0.04f, f_s = 0.01f, w_s = 0.02f, fc_s = 0.1f;
	const int32_t in_zp = 128, c_zp = 0, f_zp = 120, w_zp = 128, fc_zp = 100;
	uint8_t filt[3 * 3 * 3 * 2], w[5 * 12];
	int32_t bias[3];
	tu_fill_q8(&r, filt, sizeof(filt), SL_DTYPE_U8);
	tu_fill_q8(&r, w, sizeof(w), SL_DTYPE_U8);
	for (int i = 0; i < 3; i++)
		bias[i] = tu_int(&r, -500, 500);
	const float bias_s = in_s * f_s;
	const int32_t zero = 0;

	const int32_t d_in[4] = {1, 4, 4, 2}, d_c[4] = {1, 4, 4, 3}, d_p[4] = {1, 2, 2, 3}, d_r[2] = {1, 12},
		      d_f[4] = {3, 3, 3, 2}, d_b[1] = {3}, d_w[2] = {5, 12}, d_o[2] = {1, 5};
	const int t_in = add_act(&g, SL_DTYPE_F32, 4, d_in, 0, 0);
	const int t_q = add_act(&g, SL_DTYPE_U8, 4, d_in, in_s, in_zp);
	const int t_f = add_const(&g, SL_DTYPE_U8, 4, d_f, filt, sizeof(filt), 1, &f_s, &f_zp, 0);
	const int t_b = add_const(&g, SL_DTYPE_I32, 1, d_b, bias, sizeof(bias), 1, &bias_s, &zero, 0);
	const int t_c = add_act(&g, SL_DTYPE_U8, 4, d_c, c_s, c_zp);
	const int t_p = add_act(&g, SL_DTYPE_U8, 4, d_p, c_s, c_zp);
	const int t_r = add_act(&g, SL_DTYPE_U8, 2, d_r, c_s, c_zp);
	const int t_w = add_const(&g, SL_DTYPE_U8, 2, d_w, w, sizeof(w), 1, &w_s, &w_zp, 0);
	const int t_fc = add_act(&g, SL_DTYPE_U8, 2, d_o, fc_s, fc_zp);
	const int t_sm = add_act(&g, SL_DTYPE_U8, 2, d_o, 1.0f / 256, 0);

	add_node(&g, (sl_node){.op = SL_OP_QUANTIZE}, 1, (int32_t[]){t_in}, t_q);
	add_node(&g,
		 (sl_node){.op = SL_OP_CONV_2D,
			   .act = SL_ACT_RELU6,
			   .p.conv = {.stride_h = 1,
				      .stride_w = 1,
				      .dilation_h = 1,
				      .dilation_w = 1,
				      .padding = SL_PADDING_SAME}},
		 3, (int32_t[]){t_q, t_f, t_b}, t_c);
	add_node(&g,
		 (sl_node){.op = SL_OP_AVERAGE_POOL_2D,
			   .p.pool = {.filter_h = 2,
				      .filter_w = 2,
				      .stride_h = 2,
				      .stride_w = 2,
				      .padding = SL_PADDING_VALID}},
		 1, (int32_t[]){t_c}, t_p);
	add_node(&g, (sl_node){.op = SL_OP_RESHAPE}, 2, (int32_t[]){t_p, -1}, t_r);
	add_node(&g, (sl_node){.op = SL_OP_FULLY_CONNECTED}, 3, (int32_t[]){t_r, t_w, -1}, t_fc);
	add_node(&g, (sl_node){.op = SL_OP_SOFTMAX, .p.softmax.beta = 1.0f}, 1, (int32_t[]){t_fc}, t_sm);
	set_io(&g, t_in, t_sm);
	cr_assert_eq(sl_model_finalize(g.m, &g.err), 0, "%s", g.err.msg);

	sl_runtime *rt = NULL;
	const sl_runtime_options opt = {.backend = SL_BACKEND_REF};
	cr_assert_eq(sl_runtime_new(g.m, &opt, &rt, &g.err), 0, "%s", g.err.msg);
	cr_assert_eq(sl_runtime_n_steps(rt), 6);
	for (int i = 0; i < 6; i++) {
		const sl_step *s = sl_runtime_step(rt, i);
		if (g.m->nodes[s->node].op == SL_OP_RESHAPE) {
			cr_assert_eq(s->impl, SL_IMPL_NONE);
		} else {
			cr_assert_eq(s->impl, SL_IMPL_REF);
			cr_assert_str_eq(s->why, "reference");
		}
	}

	float x[32];
	for (int i = 0; i < 32; i++)
		x[i] = tu_float(&r, -3, 3);
	memcpy(sl_runtime_input(rt, 0), x, sizeof(x));
	cr_assert_eq(sl_runtime_invoke(rt), 0);
	uint8_t got[5];
	memcpy(got, sl_runtime_output(rt, 0), 5);

	/* the same chain with the pure kernels */
	uint8_t q[32], c[48], p[12], fc[5], want[5];
	sl_ref_quantize_f32(x, q, 32, SL_DTYPE_U8, in_s, in_zp);
	int32_t mult;
	int shift;
	sl_ref_conv_q8_multipliers(in_s, &f_s, 1, c_s, &mult, &shift);
	sl_ref_conv_q8_args ca = {.g = {.batch = 1,
					.in_h = 4,
					.in_w = 4,
					.in_c = 2,
					.out_h = 4,
					.out_w = 4,
					.out_c = 3,
					.filter_h = 3,
					.filter_w = 3,
					.stride_h = 1,
					.stride_w = 1,
					.dilation_h = 1,
					.dilation_w = 1,
					.pad_top = 1,
					.pad_left = 1,
					.groups = 1},
				  .in_type = SL_DTYPE_U8,
				  .filter_type = SL_DTYPE_U8,
				  .out_type = SL_DTYPE_U8,
				  .input = q,
				  .filter = filt,
				  .bias = bias,
				  .output = c,
				  .in_zp = in_zp,
				  .out_zp = c_zp,
				  .filter_zp = &f_zp,
				  .mult = &mult,
				  .shift = &shift};
	sl_ref_act_range_q8(SL_ACT_RELU6, SL_DTYPE_U8, c_s, c_zp, &ca.act_min, &ca.act_max);
	sl_ref_conv2d_q8(&ca);
	sl_ref_pool_q8_args pa = {.g = {.batch = 1,
					.in_h = 4,
					.in_w = 4,
					.c = 3,
					.out_h = 2,
					.out_w = 2,
					.filter_h = 2,
					.filter_w = 2,
					.stride_h = 2,
					.stride_w = 2},
				  .type = SL_DTYPE_U8,
				  .input = c,
				  .output = p,
				  .act_min = 0,
				  .act_max = 255};
	sl_ref_avgpool_q8(&pa);
	sl_ref_conv_q8_multipliers(c_s, &w_s, 1, fc_s, &mult, &shift);
	sl_ref_fc_q8_args fa = {.batch = 1,
				.depth = 12,
				.out_c = 5,
				.in_type = SL_DTYPE_U8,
				.filter_type = SL_DTYPE_U8,
				.out_type = SL_DTYPE_U8,
				.input = p,
				.weights = w,
				.output = fc,
				.in_zp = c_zp,
				.out_zp = fc_zp,
				.filter_zp = &w_zp,
				.mult = &mult,
				.shift = &shift,
				.act_min = 0,
				.act_max = 255};
	sl_ref_fc_q8(&fa);
	sl_ref_softmax_q8_args sa = {.in_type = SL_DTYPE_U8,
				     .out_type = SL_DTYPE_U8,
				     .input = fc,
				     .output = want,
				     .outer = 1,
				     .depth = 5};
	sl_ref_softmax_q8_params(1.0f, fc_s, &sa);
	sl_ref_softmax_q8(&sa);
	tu_assert_ints(got, want, 5);

	/* a second invoke gives the same bits (the input is fed again: its
	 * storage is reused once QUANTIZE has consumed it) */
	memcpy(sl_runtime_input(rt, 0), x, sizeof(x));
	cr_assert_eq(sl_runtime_invoke(rt), 0);
	cr_assert_eq(memcmp(got, sl_runtime_output(rt, 0), 5), 0);
	sl_runtime_free(rt);
	sl_model_unref(g.m);
}

Test(ref_node, f32_add_constant_broadcast_relu)
{
	gb g = {.m = sl_model_new()};
	const int32_t d_a[3] = {2, 2, 3}, d_b[1] = {3};
	const float bias[3] = {1, -10, 0.5f};
	const int t_a = add_act(&g, SL_DTYPE_F32, 3, d_a, 0, 0);
	const int t_b = add_const(&g, SL_DTYPE_F32, 1, d_b, bias, sizeof(bias), 0, NULL, NULL, 0);
	const int t_o = add_act(&g, SL_DTYPE_F32, 3, d_a, 0, 0);
	add_node(&g, (sl_node){.op = SL_OP_ADD, .act = SL_ACT_RELU}, 2, (int32_t[]){t_a, t_b}, t_o);
	set_io(&g, t_a, t_o);
	cr_assert_eq(sl_model_finalize(g.m, &g.err), 0, "%s", g.err.msg);
	sl_runtime *rt = NULL;
	const sl_runtime_options opt = {.backend = SL_BACKEND_REF};
	cr_assert_eq(sl_runtime_new(g.m, &opt, &rt, &g.err), 0, "%s", g.err.msg);
	float x[12];
	for (int i = 0; i < 12; i++)
		x[i] = (float)i;
	memcpy(sl_runtime_input(rt, 0), x, sizeof(x));
	cr_assert_eq(sl_runtime_invoke(rt), 0);
	const float *y = sl_runtime_output(rt, 0);
	for (int i = 0; i < 12; i++)
		cr_assert_float_eq(y[i], fmaxf(x[i] + bias[i % 3], 0), 0, "element %d", i);
	sl_runtime_free(rt);
	sl_model_unref(g.m);
}

/* A one-node unary graph; returns sl_runtime_new's result. */
static int unary_graph(sl_op op, sl_dtype dt, float in_s, int32_t in_zp, float out_s, int32_t out_zp,
		       sl_error *err)
{
	gb g = {.m = sl_model_new()};
	const int32_t d[2] = {1, 8};
	const int t_in = add_act(&g, dt, 2, d, in_s, in_zp);
	const int t_out = add_act(&g, dt, 2, d, out_s, out_zp);
	add_node(&g, (sl_node){.op = op, .p.softmax.beta = 1.0f}, 1, (int32_t[]){t_in}, t_out);
	set_io(&g, t_in, t_out);
	cr_assert_eq(sl_model_finalize(g.m, &g.err), 0, "%s", g.err.msg);
	sl_runtime *rt = NULL;
	const sl_runtime_options opt = {.backend = SL_BACKEND_REF};
	int r = sl_runtime_new(g.m, &opt, &rt, err);
	sl_runtime_free(rt);
	sl_model_unref(g.m);
	return r;
}

Test(ref_node, unsupported_parameters_are_reported)
{
	sl_error err = {0};
	cr_assert_eq(unary_graph(SL_OP_SOFTMAX, SL_DTYPE_U8, 0.1f, 128, 1.0f / 256, 0, &err), 0);
	/* TFLite requires softmax outputs at scale 1/256 */
	cr_assert_eq(unary_graph(SL_OP_SOFTMAX, SL_DTYPE_U8, 0.1f, 128, 1.0f / 255, 0, &err),
		     -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "SOFTMAX") && strstr(err.msg, "1/256"), "%s", err.msg);
	memset(&err, 0, sizeof(err));
	cr_assert_eq(unary_graph(SL_OP_HARD_SWISH, SL_DTYPE_I8, 1.0f, 0, 0.0001f, 0, &err),
		     -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "HARD_SWISH"), "%s", err.msg);
	cr_assert_eq(unary_graph(SL_OP_LOGISTIC, SL_DTYPE_I8, 0.1f, 0, 1.0f / 256, -128, &err), 0);
	cr_assert_eq(unary_graph(SL_OP_RELU6, SL_DTYPE_U8, 0.1f, 3, 0.05f, 0, &err), 0);
}

Test(ref_node, unsupported_dtypes_name_op_and_types)
{
	gb g = {.m = sl_model_new()};
	const int32_t d_in[4] = {1, 3, 3, 1}, d_f[4] = {1, 1, 1, 1};
	const float one = 1;
	const int t_in = add_act(&g, SL_DTYPE_F32, 4, d_in, 0, 0);
	const int t_f = add_const(&g, SL_DTYPE_F32, 4, d_f, &one, sizeof(one), 0, NULL, NULL, 0);
	const int t_o = add_act(&g, SL_DTYPE_F32, 4, d_in, 0, 0);
	add_node(&g,
		 (sl_node){.op = SL_OP_CONV_2D,
			   .p.conv = {.stride_h = 1,
				      .stride_w = 1,
				      .dilation_h = 1,
				      .dilation_w = 1,
				      .padding = SL_PADDING_VALID}},
		 3, (int32_t[]){t_in, t_f, -1}, t_o);
	set_io(&g, t_in, t_o);
	cr_assert_eq(sl_model_finalize(g.m, &g.err), 0, "%s", g.err.msg);
	uint8_t arena[256];
	const sl_prepare_ctx ctx = {.model = g.m, .arena = arena, .threads = 1};
	sl_step step = {0};
	sl_error err = {0};
	/* finalize would reject this; the backend must still not accept it */
	g.m->tensors[t_o].dtype = SL_DTYPE_I32;
	cr_assert_eq(sl_ref_prepare(&ctx, 0, &step, &err), -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "CONV_2D") && strstr(err.msg, "float32") && strstr(err.msg, "int32"), "%s",
		  err.msg);
	cr_assert_null(step.state);
	g.m->tensors[t_o].dtype = SL_DTYPE_F32;
	cr_assert_eq(sl_ref_prepare(&ctx, 0, &step, &err), 0);
	cr_assert_eq(step.impl, SL_IMPL_REF);
	cr_assert_not_null(step.run);
	cr_assert_eq(step.run(&step, arena), 0);
	step.destroy(&step);
	cr_assert_eq(sl_ref_prepare(&ctx, 5, &step, &err), -EINVAL);
	sl_model_unref(g.m);
}
