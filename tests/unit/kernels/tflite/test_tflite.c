/* TFLite importer: the shared models (when present), synthetic models built
 * with tiny_tflite.h, and malformed files that must fail cleanly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/tflite/tflite.h"
#include "tests/unit/kernels/tflite/tiny_tflite.h"

static char *model_path(const char *file)
{
	const char *dir = getenv("SL_SHARED_DIR");
	if (!dir)
		return NULL;
	char *p = NULL;
	if (asprintf(&p, "%s/models/%s", dir, file) < 0)
		return NULL;
	if (access(p, R_OK) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

static sl_model *load_shared(const char *file)
{
	_cleanup_free_ char *p = model_path(file);
	if (!p)
		cr_skip_test("%s not found: set SL_SHARED_DIR to the shared data folder", file);
	sl_model *m = NULL;
	sl_error err = {{0}};
	int r = sl_tflite_load_file(p, &m, &err);
	cr_assert_eq(r, 0, "%s: %d %s", file, r, err.msg);
	return m;
}

static void check_io(const sl_model *m, bool input, int i, sl_dtype dt, int rank, const int32_t *dims)
{
	cr_assert_lt(i, input ? m->n_inputs : m->n_outputs);
	const sl_tensor *t = &m->tensors[input ? m->inputs[i] : m->outputs[i]];
	cr_assert_eq(t->dtype, dt, "%s %d: dtype %s", input ? "input" : "output", i, sl_dtype_name(t->dtype));
	cr_assert_eq(t->rank, rank, "%s %d: rank %d", input ? "input" : "output", i, t->rank);
	for (int d = 0; d < rank; d++)
		cr_assert_eq(t->dims[d], dims[d], "%s %d: dim %d is %d", input ? "input" : "output", i, d,
			     t->dims[d]);
}

static void check_quant(const sl_model *m, bool input, int i, float scale, int zp)
{
	const sl_tensor *t = &m->tensors[input ? m->inputs[i] : m->outputs[i]];
	cr_assert_eq(t->q.n, 1);
	cr_assert_float_eq(t->q.scale[0], scale, scale * 1e-3, "scale %g", t->q.scale[0]);
	cr_assert_eq(t->q.zero_point[0], zp, "zero point %d", t->q.zero_point[0]);
}

static int count_op(const sl_model *m, sl_op op)
{
	int n = 0;
	for (int i = 0; i < m->n_nodes; i++)
		n += m->nodes[i].op == op;
	return n;
}

static bool has_per_channel_weights(const sl_model *m)
{
	for (int i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].op == SL_OP_CONV_2D && m->tensors[m->nodes[i].inputs[1]].q.n > 1)
			return true;
	return false;
}

static const int32_t img224[] = {1, 224, 224, 3}, img128[] = {1, 128, 128, 3}, img32[] = {1, 32, 32, 3};
static const int32_t cls1001[] = {1, 1001}, cls10[] = {1, 10};

Test(tflite_shared, mobilenet_v2_uint8)
{
	_cleanup_(sl_model_unrefp) sl_model *m = load_shared("mobilenet_v2_1.0_224_quant.tflite");
	check_io(m, true, 0, SL_DTYPE_U8, 4, img224);
	check_quant(m, true, 0, 1.0f / 128, 128);
	check_io(m, false, 0, SL_DTYPE_U8, 2, cls1001);
	cr_assert_gt(count_op(m, SL_OP_DEPTHWISE_CONV_2D), 10);
	cr_assert(m->description && m->description[0]);
	cr_assert_gt(m->arena_size, 0u);
	int64_t macs = 0;
	for (int i = 0; i < m->n_nodes; i++)
		macs += sl_node_macs(m, &m->nodes[i]);
	/* ~300M multiply-accumulates, as published for MobileNet v2 1.0/224 */
	cr_assert(macs > 290000000 && macs < 310000000, "macs %lld", (long long)macs);
}

Test(tflite_shared, mobilenet_v2_tf2_int8)
{
	_cleanup_(sl_model_unrefp) sl_model *m = load_shared("tf2_mobilenet_v2_1.0_224_ptq.tflite");
	check_io(m, true, 0, SL_DTYPE_U8, 4, img224);
	check_quant(m, true, 0, 1.0f / 127.5f, 127);
	check_io(m, false, 0, SL_DTYPE_U8, 2, cls1001);
	cr_assert_geq(count_op(m, SL_OP_QUANTIZE), 1);
	cr_assert_eq(count_op(m, SL_OP_MEAN), 1);
	cr_assert(has_per_channel_weights(m));
}

Test(tflite_shared, mobilenet_v1_small)
{
	_cleanup_(sl_model_unrefp) sl_model *m = load_shared("mobilenet_v1_0.25_128_quant.tflite");
	check_io(m, true, 0, SL_DTYPE_U8, 4, img128);
	check_io(m, false, 0, SL_DTYPE_U8, 2, cls1001);
	cr_assert_eq(m->tensors[m->inputs[0]].q.n, 1);
}

Test(tflite_shared, resnet8_float)
{
	_cleanup_(sl_model_unrefp) sl_model *m = load_shared("cifar10_resnet8_float.tflite");
	check_io(m, true, 0, SL_DTYPE_F32, 4, img32);
	check_io(m, false, 0, SL_DTYPE_F32, 2, cls10);
	cr_assert_eq(m->tensors[m->inputs[0]].q.n, 0);
}

Test(tflite_shared, resnet8_int8)
{
	_cleanup_(sl_model_unrefp) sl_model *m = load_shared("cifar10_resnet8_int8.tflite");
	check_io(m, true, 0, SL_DTYPE_I8, 4, img32);
	check_quant(m, true, 0, 1.0f, -128);
	check_io(m, false, 0, SL_DTYPE_I8, 2, cls10);
	cr_assert(has_per_channel_weights(m));
}

Test(tflite_shared, blazeface_fp16_folded)
{
	_cleanup_(sl_model_unrefp) sl_model *m = load_shared("blazeface_short_range.tflite");
	check_io(m, true, 0, SL_DTYPE_F32, 4, img128);
	cr_assert_eq(m->n_outputs, 2);
	const int32_t reg[] = {1, 896, 16}, cls[] = {1, 896, 1};
	check_io(m, false, 0, SL_DTYPE_F32, 3, reg);
	check_io(m, false, 1, SL_DTYPE_F32, 3, cls);
	cr_assert_eq(count_op(m, SL_OP_DEQUANTIZE), 0);
	for (int i = 0; i < m->n_nodes; i++) {
		const sl_node *n = &m->nodes[i];
		if (n->op != SL_OP_CONV_2D && n->op != SL_OP_DEPTHWISE_CONV_2D)
			continue;
		const sl_tensor *w = &m->tensors[n->inputs[1]];
		cr_assert_eq(w->dtype, SL_DTYPE_F32);
		cr_assert_eq(w->kind, SL_TENSOR_CONST);
	}
}

Test(tflite_shared, load_mem_matches_file_and_truncations_fail)
{
	_cleanup_free_ char *p = model_path("mobilenet_v1_0.25_128_quant.tflite");
	if (!p)
		cr_skip_test("mobilenet_v1_0.25_128_quant.tflite not found: set SL_SHARED_DIR");
	FILE *f = fopen(p, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	_cleanup_free_ uint8_t *buf = malloc((size_t)len);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);

	sl_model *m = NULL;
	sl_error err;
	cr_assert_eq(sl_tflite_load_mem(buf, (size_t)len, "v1.tflite", &m, &err), 0, "%s", err.msg);
	cr_assert_eq(m->n_nodes, 31);
	cr_assert_str_eq(m->path, "v1.tflite");
	sl_model_unref(m);

	/* The tail of a file may hold bytes nothing references (metadata), so
	 * only cuts into the first 90 % must fail; none may crash. */
	for (int i = 0; i < 97; i++) {
		size_t cut = (size_t)len * (size_t)i / 97;
		m = NULL;
		int r = sl_tflite_load_mem(buf, cut, "v1.tflite", &m, &err);
		if (i < 87)
			cr_assert_lt(r, 0, "truncated at %zu loaded", cut);
		if (r == 0)
			sl_model_unref(m);
		else
			cr_assert_null(m);
	}
	/* Random bit flips over the whole file: any outcome but a crash. */
	srand(7);
	for (int i = 0; i < 300; i++) {
		size_t pos = (size_t)rand() % (size_t)len;
		uint8_t old = buf[pos];
		buf[pos] ^= (uint8_t)(1u << (rand() % 8));
		m = NULL;
		if (sl_tflite_load_mem(buf, (size_t)len, "v1.tflite", &m, &err) == 0)
			sl_model_unref(m);
		buf[pos] = old;
	}
}

/* ---- synthetic models ---- */

static int load_buf(const uint8_t *buf, size_t len, sl_model **m, sl_error *err)
{
	*m = NULL;
	memset(err->msg, 0, sizeof(err->msg));
	return sl_tflite_load_mem(buf, len, "tiny.tflite", m, err);
}

Test(tflite, builtin_names)
{
	cr_assert_str_eq(sl_tflite_builtin_name(0), "ADD");
	cr_assert_str_eq(sl_tflite_builtin_name(43), "SQUEEZE");
	cr_assert_str_eq(sl_tflite_builtin_name(114), "QUANTIZE");
	cr_assert_str_eq(sl_tflite_builtin_name(117), "HARD_SWISH");
	cr_assert_str_eq(sl_tflite_builtin_name(127), "PLACEHOLDER_FOR_GREATER_OP_CODES");
	cr_assert_str_eq(sl_tflite_builtin_name(150), "GELU");
	cr_assert_str_eq(sl_tflite_builtin_name(161), "RIGHT_SHIFT");
	cr_assert_str_eq(sl_tflite_builtin_name(162), "UNKNOWN");
	cr_assert_str_eq(sl_tflite_builtin_name(-1), "UNKNOWN");
}

Test(tflite, synthetic_conv)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = tt_build_conv(false, &buf);
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	sl_error err;
	cr_assert_eq(load_buf(buf, len, &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m->description, "tiny conv");
	cr_assert_eq(m->n_nodes, 2);
	cr_assert_eq(m->nodes[0].op, SL_OP_CONV_2D);
	cr_assert_eq(m->nodes[1].op, SL_OP_RELU);
	cr_assert_str_eq(m->tensors[1].name, "weights");
	cr_assert_eq(m->tensors[1].kind, SL_TENSOR_CONST);
	cr_assert_float_eq(((const float *)m->tensors[2].data)[3], 2.0f, 0);
	const sl_conv_params *p = &m->nodes[0].p.conv;
	cr_assert(p->stride_h == 1 && p->dilation_w == 1 && p->pad_top == 1 && p->pad_right == 1);
	cr_assert_eq(sl_node_macs(m, &m->nodes[0]), 8 * 8 * 4 * 27);
}

Test(tflite, fp16_dequantize_is_folded)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = tt_build_conv(true, &buf);
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	sl_error err;
	cr_assert_eq(load_buf(buf, len, &m, &err), 0, "%s", err.msg);
	cr_assert_eq(m->n_nodes, 2);
	cr_assert_eq(count_op(m, SL_OP_DEQUANTIZE), 0);
	const sl_tensor *w = &m->tensors[m->nodes[0].inputs[1]];
	cr_assert_eq(w->dtype, SL_DTYPE_F32);
	cr_assert_eq(w->kind, SL_TENSOR_CONST);
	cr_assert_eq(w->bytes, 108 * 4u);
	const float *f = w->data;
	cr_assert_float_eq(f[0], 1.0f, 0);
	cr_assert_float_eq(f[1], -2.0f, 0);
	cr_assert_float_eq(f[2], 0.25f, 0);
	cr_assert_float_eq(f[107], 0.25f, 0);
}

Test(tflite, every_supported_op)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = tt_build_zoo(&buf);
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	sl_error err;
	cr_assert_eq(load_buf(buf, len, &m, &err), 0, "%s", err.msg);
	cr_assert_eq(m->n_nodes, 18);
	for (int op = 0; op < SL_OP__COUNT; op++)
		cr_assert_eq(count_op(m, (sl_op)op), 1, "%s", sl_op_name((sl_op)op));
	const sl_node *n = m->nodes;
	cr_assert_eq(n[0].p.conv.padding, SL_PADDING_VALID);
	cr_assert_eq(n[0].act, SL_ACT_RELU);
	cr_assert_eq(n[1].act, SL_ACT_RELU6);
	cr_assert_eq(n[1].p.conv.depth_multiplier, 1);
	cr_assert(n[1].p.conv.pad_top == 1 && n[1].p.conv.pad_bottom == 1);
	cr_assert_eq(n[3].act, SL_ACT_RELU_N1_TO_1);
	cr_assert(n[4].p.pool.filter_h == 2 && n[4].p.pool.stride_w == 2 &&
		  n[4].p.pool.padding == SL_PADDING_VALID);
	/* MAX_POOL 3x3 stride 2 SAME on 4x4: out 2, total (1*2+3-4) = 1 */
	cr_assert(n[5].p.pool.pad_top == 0 && n[5].p.pool.pad_bottom == 1);
	cr_assert_eq(n[5].act, SL_ACT_RELU);
	cr_assert_eq(n[6].p.concat.axis, 3);
	cr_assert(n[7].p.pad.pads[1][0] == 1 && n[7].p.pad.pads[2][1] == 1 && n[7].p.pad.pads[3][1] == 0);
	cr_assert(n[12].p.mean.n_axes == 2 && !n[12].p.mean.keep_dims);
	cr_assert_float_eq(n[15].p.softmax.beta, 1.0f, 0);
	cr_assert_eq(m->tensors[24].dtype, SL_DTYPE_I8);
}

Test(tflite, quantized_models)
{
	for (int int8 = 0; int8 < 2; int8++) {
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = tt_build_quant(int8, &buf);
		_cleanup_(sl_model_unrefp) sl_model *m = NULL;
		sl_error err;
		cr_assert_eq(load_buf(buf, len, &m, &err), 0, "%s", err.msg);
		const sl_tensor *w = &m->tensors[1], *x = &m->tensors[0];
		cr_assert_eq(x->dtype, int8 ? SL_DTYPE_I8 : SL_DTYPE_U8);
		cr_assert_eq(x->q.zero_point[0], int8 ? -3 : 125);
		cr_assert_eq(w->q.n, int8 ? 3 : 1);
		cr_assert_float_eq(w->q.scale[w->q.n - 1], int8 ? 0.03f : 0.02f, 1e-7);
		cr_assert_eq(m->nodes[0].act, SL_ACT_RELU6);
		cr_assert_float_eq(sl_node_weight_sparsity(m, &m->nodes[0]), 0.0, 0);
	}
}

/* One-op model around a given operator for error tests. */
static size_t build_one(const tt_op *op, const tt_tensor *tensors, int n_tensors, uint8_t **ret)
{
	tt_model s = {.n_tensors = n_tensors,
		      .tensors = tensors,
		      .n_ops = 1,
		      .ops = op,
		      .n_in = 1,
		      .in = {0},
		      .n_out = 1,
		      .out = {n_tensors - 1}};
	return tt_build(&s, ret);
}

static const tt_tensor two_f32[] = {
    {.name = "x", .type = 0, .rank = 2, .dims = {1, 4}},
    {.name = "y", .type = 0, .rank = 2, .dims = {1, 4}},
};

Test(tflite, unsupported_ops_are_named)
{
	sl_error err;
	sl_model *m;
	_cleanup_free_ uint8_t *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL;
	const tt_op squeeze = {.code = 43, .nin = 1, .in = {0}, .nout = 1, .out = {1}};
	size_t len = build_one(&squeeze, two_f32, 2, &b1);
	cr_assert_eq(load_buf(b1, len, &m, &err), -SL_E_UNSUPPORTED);
	cr_assert_str_eq(err.msg, "tiny.tflite: operator 0 (SQUEEZE, builtin 43) is not supported");
	cr_assert_null(m);

	const tt_op gelu = {.code = 150, .nin = 1, .in = {0}, .nout = 1, .out = {1}};
	len = build_one(&gelu, two_f32, 2, &b2);
	cr_assert_eq(load_buf(b2, len, &m, &err), -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "operator 0 (GELU, builtin 150)"), "%s", err.msg);

	const tt_op custom = {
	    .code = 32, .nin = 1, .in = {0}, .nout = 1, .out = {1}, .custom = "TFLite_Detection"};
	len = build_one(&custom, two_f32, 2, &b3);
	cr_assert_eq(load_buf(b3, len, &m, &err), -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "CUSTOM 'TFLite_Detection'"), "%s", err.msg);

	const tt_op tanh_act = {.code = 0,
				.nin = 2,
				.in = {0, 0},
				.nout = 1,
				.out = {1},
				.opt_type = 11,
				.n_opts = 1,
				.opts = {{0, 'b', 4}}};
	len = build_one(&tanh_act, two_f32, 2, &b4);
	cr_assert_eq(load_buf(b4, len, &m, &err), -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "operator 0 (ADD, builtin 0): fused activation TANH"), "%s", err.msg);
}

Test(tflite, unsupported_dtype_and_version)
{
	sl_error err;
	sl_model *m;
	_cleanup_free_ uint8_t *b1 = NULL, *b2 = NULL;
	const tt_tensor t16[] = {{.name = "x", .type = 7, .rank = 1, .dims = {4}}, {.name = "y", .type = 7}};
	const tt_op relu = {.code = 19, .nin = 1, .in = {0}, .nout = 1, .out = {1}};
	size_t len = build_one(&relu, t16, 2, &b1);
	cr_assert_eq(load_buf(b1, len, &m, &err), -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "INT16"), "%s", err.msg);

	tt_model s = {.version = 2,
		      .n_tensors = 2,
		      .tensors = two_f32,
		      .n_ops = 1,
		      .ops = &relu,
		      .n_in = 1,
		      .n_out = 1,
		      .out = {1}};
	len = tt_build(&s, &b2);
	cr_assert_eq(load_buf(b2, len, &m, &err), -SL_E_UNSUPPORTED);
	cr_assert(strstr(err.msg, "schema version 2"), "%s", err.msg);
}

Test(tflite, cyclic_graph)
{
	const tt_tensor t[] = {
	    {.name = "x", .type = 0, .rank = 2, .dims = {1, 4}},
	    {.name = "a", .type = 0, .rank = 2, .dims = {1, 4}},
	    {.name = "b", .type = 0, .rank = 2, .dims = {1, 4}},
	};
	const tt_op ops[] = {
	    {.code = 0, .nin = 2, .in = {0, 2}, .nout = 1, .out = {1}},
	    {.code = 19, .nin = 1, .in = {1}, .nout = 1, .out = {2}},
	};
	tt_model s = {.n_tensors = 3,
		      .tensors = t,
		      .n_ops = 2,
		      .ops = ops,
		      .n_in = 1,
		      .in = {0},
		      .n_out = 1,
		      .out = {2}};
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = tt_build(&s, &buf);
	sl_model *m;
	sl_error err;
	cr_assert_eq(load_buf(buf, len, &m, &err), -SL_E_GRAPH);
	cr_assert(strstr(err.msg, "tiny.tflite: operator 0 (ADD) is part of or depends on a cycle"), "%s",
		  err.msg);
}

Test(tflite, huge_dimensions)
{
	const tt_tensor t[] = {
	    {.name = "x", .type = 0, .rank = 4, .dims = {1, 100000, 100000, 3}},
	    {.name = "y", .type = 0, .rank = 4, .dims = {1, 100000, 100000, 3}},
	};
	const tt_op relu = {.code = 19, .nin = 1, .in = {0}, .nout = 1, .out = {1}};
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = build_one(&relu, t, 2, &buf);
	sl_model *m;
	sl_error err;
	cr_assert_lt(load_buf(buf, len, &m, &err), 0);
	cr_assert(strstr(err.msg, "huge"), "%s", err.msg);

	const tt_tensor neg[] = {
	    {.name = "x", .type = 0, .rank = 2, .dims = {1, -5}},
	    {.name = "y", .type = 0, .rank = 2, .dims = {1, -5}},
	};
	_cleanup_free_ uint8_t *b2 = NULL;
	len = build_one(&relu, neg, 2, &b2);
	cr_assert_lt(load_buf(b2, len, &m, &err), 0);
}

Test(tflite, operator_index_survives_folding)
{
	/* op 0 folds away; op 2's shape error must still say "operator 2" */
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = tt_build_conv(true, &buf);
	/* Corrupt the declared output shape of "output" (tensor 4): find its
	 * shape vector [1,8,8,4] after the second occurrence of that pattern. */
	const int32_t pat[4] = {1, 8, 8, 4};
	int seen = 0;
	for (size_t i = 0; i + 16 <= len; i += 4)
		if (memcmp(buf + i, pat, 16) == 0 && ++seen == 2) {
			int32_t v = 5;
			memcpy(buf + i + 12, &v, 4);
		}
	cr_assert_eq(seen, 2);
	sl_model *m;
	sl_error err;
	cr_assert_eq(load_buf(buf, len, &m, &err), -SL_E_SHAPE);
	cr_assert(strstr(err.msg, "operator 2 (RELU)"), "%s", err.msg);
}

Test(tflite, missing_file)
{
	sl_model *m = NULL;
	sl_error err;
	cr_assert_eq(sl_tflite_load_file("/nonexistent/x.tflite", &m, &err), -ENOENT);
	cr_assert(strstr(err.msg, "/nonexistent/x.tflite: cannot open"), "%s", err.msg);
	cr_assert_eq(sl_tflite_load_file("/", &m, &err), -EINVAL);
	cr_assert_null(m);
}

/* ---- malformed files ---- */

static void try_load(const uint8_t *buf, size_t len)
{
	sl_model *m = NULL;
	sl_error err;
	int r = sl_tflite_load_mem(buf, len, "fuzz.tflite", &m, &err);
	if (r == 0) {
		cr_assert_not_null(m);
		for (int i = 0; i < m->n_nodes; i++)
			sl_node_macs(m, &m->nodes[i]);
		sl_model_unref(m);
	} else {
		cr_assert_null(m);
		cr_assert(strncmp(err.msg, "fuzz.tflite: ", 13) == 0, "%s", err.msg);
	}
}

Test(tflite_malformed, truncated_at_every_length)
{
	for (int fp16 = 0; fp16 < 2; fp16++) {
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = tt_build_conv(fp16, &buf);
		for (size_t cut = 0; cut < len; cut++) {
			sl_model *m = NULL;
			sl_error err;
			cr_assert_lt(sl_tflite_load_mem(buf, cut, "t.tflite", &m, &err), 0, "cut %zu of %zu",
				     cut, len);
			cr_assert_null(m);
		}
	}
}

Test(tflite_malformed, flipped_bytes)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = tt_build_conv(true, &buf);
	static const uint8_t masks[] = {0xff, 0x80, 0x01, 0x7f, 0x10};
	for (size_t pos = 0; pos < len; pos++)
		for (size_t k = 0; k < SL_ARRAY_SIZE(masks); k++) {
			buf[pos] ^= masks[k];
			try_load(buf, len);
			buf[pos] ^= masks[k];
		}
	/* and every byte set to the values that make offsets and sizes extreme */
	static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80};
	for (size_t pos = 0; pos < len; pos++) {
		uint8_t old = buf[pos];
		for (size_t k = 0; k < SL_ARRAY_SIZE(vals); k++) {
			buf[pos] = vals[k];
			try_load(buf, len);
		}
		buf[pos] = old;
	}
}

Test(tflite_malformed, random_bytes)
{
	unsigned s = 1;
	uint8_t buf[2048];
	for (int i = 0; i < 3000; i++) {
		size_t len = 8 + (size_t)(i % 2000);
		for (size_t k = 0; k < len; k++) {
			s = s * 1664525u + 1013904223u;
			buf[k] = (uint8_t)(s >> 24);
		}
		/* A plausible root offset gets the parser past the first check. */
		if (i % 2) {
			uint32_t root = (uint32_t)((s >> 8) % len);
			memcpy(buf, &root, 4);
		}
		try_load(buf, len);
	}
}

Test(tflite_malformed, offsets_out_of_range)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = tt_build_conv(false, &buf);
	sl_model *m;
	sl_error err;
	uint32_t root;
	memcpy(&root, buf, 4);
	const uint32_t bad_roots[] = {(uint32_t)len, (uint32_t)len - 2, 0xffffffffu, 0x80000000u, 3};
	for (size_t i = 0; i < SL_ARRAY_SIZE(bad_roots); i++) {
		memcpy(buf, &bad_roots[i], 4);
		cr_assert_eq(load_buf(buf, len, &m, &err), -SL_E_FORMAT, "root %u", bad_roots[i]);
		cr_assert(strstr(err.msg, "malformed"), "%s", err.msg);
	}
	memcpy(buf, &root, 4);
	/* vtable offset of the root table pointing before the file / past it */
	const int32_t bad_soff[] = {(int32_t)root + 1, -(int32_t)len, INT32_MIN, INT32_MAX};
	int32_t soff;
	memcpy(&soff, buf + root, 4);
	for (size_t i = 0; i < SL_ARRAY_SIZE(bad_soff); i++) {
		memcpy(buf + root, &bad_soff[i], 4);
		cr_assert_eq(load_buf(buf, len, &m, &err), -SL_E_FORMAT);
	}
	memcpy(buf + root, &soff, 4);
	/* every 32-bit word replaced by a huge offset, one at a time */
	for (size_t pos = 8; pos + 4 <= len; pos += 4) {
		uint32_t old, v = 0x7ffffff0u;
		memcpy(&old, buf + pos, 4);
		memcpy(buf + pos, &v, 4);
		try_load(buf, len);
		memcpy(buf + pos, &old, 4);
	}
	cr_assert_eq(load_buf(buf, len, &m, &err), 0, "%s", err.msg);
	sl_model_unref(m);
}

Test(tflite_malformed, shared_vectors_are_bounded)
{
	/* Many operators whose inputs vectors all point at one vector of 4096
	 * entries: the work budget must stop it quickly rather than visit
	 * ops * 4096 elements. */
	tfb b = {0};
	uint32_t hdr[2] = {0, 0};
	tfb_raw(&b, hdr, 8, 4);
	size_t model = tfb_table(&b, 5, 0x17);
	uint32_t root = (uint32_t)model;
	tfb_put(&b, 0, &root, 4);
	tfb_i32(&b, model, 0, 3);
	size_t codes = tfb_vec_refs(&b, 1);
	tfb_ref(&b, model, 1, codes);
	size_t oc = tfb_table(&b, 4, 0x1);
	tfb_vec_set(&b, codes, 0, oc);
	tfb_u8(&b, oc, 0, 2); /* CONCATENATION */
	size_t sgs = tfb_vec_refs(&b, 1);
	tfb_ref(&b, model, 2, sgs);
	size_t sg = tfb_table(&b, 4, 0xf);
	tfb_vec_set(&b, sgs, 0, sg);
	size_t tv = tfb_vec_refs(&b, 1);
	tfb_ref(&b, sg, 0, tv);
	size_t tt = tfb_table(&b, 2, 0x3);
	tfb_vec_set(&b, tv, 0, tt);
	int32_t d[1] = {4};
	tfb_ref(&b, tt, 0, tfb_vec(&b, d, 1, 4, 4));
	int32_t zero = 0;
	tfb_ref(&b, sg, 1, tfb_vec(&b, &zero, 1, 4, 4));
	tfb_ref(&b, sg, 2, tfb_vec(&b, &zero, 1, 4, 4));
	const uint32_t n_ops = 20000;
	size_t ov = tfb_vec_refs(&b, n_ops);
	tfb_ref(&b, sg, 3, ov);
	size_t op = tfb_table(&b, 3, 0x6);
	for (uint32_t i = 0; i < n_ops; i++)
		tfb_vec_set(&b, ov, i, op);
	static int32_t ins[4096];
	tfb_ref(&b, op, 1, tfb_vec(&b, ins, 4096, 4, 4));
	tfb_ref(&b, op, 2, tfb_vec(&b, &zero, 1, 4, 4));
	size_t bv = tfb_vec_refs(&b, 1);
	tfb_ref(&b, model, 4, bv);
	tfb_vec_set(&b, bv, 0, tfb_table(&b, 1, 0));
	sl_model *m;
	sl_error err;
	int r = load_buf(b.d, b.n, &m, &err);
	free(b.d);
	cr_assert_lt(r, 0);
	cr_assert(strstr(err.msg, "too complex"), "%s", err.msg);
}
