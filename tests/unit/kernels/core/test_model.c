/* Model IR: builder ownership, validation errors, shape inference, TFLite
 * padding, arena planning (checked by brute force) and MAC counts. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/model.h"

/* ---- tiny graph-building helpers ---- */

static int add_t(sl_model *m, sl_dtype dt, int rank, ...)
{
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_ACTIVATION};
	va_list ap;
	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		t.dims[i] = va_arg(ap, int);
	va_end(ap);
	float scale = 0.5f;
	int32_t zp = dt == SL_DTYPE_U8 ? 128 : 0;
	if (dt == SL_DTYPE_I8 || dt == SL_DTYPE_U8)
		t.q = (sl_quant){.n = 1, .scale = &scale, .zero_point = &zp};
	sl_error err;
	int r = sl_model_add_tensor(m, &t, &err);
	cr_assert_geq(r, 0, "%s", err.msg);
	return r;
}

/* Constant with zero-filled data owned by the model. */
static int add_c(sl_model *m, sl_dtype dt, int rank, ...)
{
	sl_tensor t = {.dtype = dt, .rank = rank, .kind = SL_TENSOR_CONST};
	va_list ap;
	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		t.dims[i] = va_arg(ap, int);
	va_end(ap);
	int64_t n = sl_tensor_numel(&t);
	t.bytes = (size_t)n * sl_dtype_size(dt);
	void *data = calloc(1, t.bytes + 1);
	cr_assert_eq(sl_model_own(m, data), 0);
	t.data = data;
	float scale = 0.25f;
	int32_t zp = 0;
	if (dt == SL_DTYPE_I8 || dt == SL_DTYPE_U8)
		t.q = (sl_quant){.n = 1, .scale = &scale, .zero_point = &zp};
	sl_error err;
	int r = sl_model_add_tensor(m, &t, &err);
	cr_assert_geq(r, 0, "%s", err.msg);
	return r;
}

static int add_n(sl_model *m, sl_op op, int out, int n_in, ...)
{
	int32_t in[16];
	va_list ap;
	va_start(ap, n_in);
	for (int i = 0; i < n_in; i++)
		in[i] = va_arg(ap, int);
	va_end(ap);
	int32_t o = out;
	sl_node n = {.op = op, .n_inputs = n_in, .inputs = in, .n_outputs = 1, .outputs = &o};
	if (op == SL_OP_CONV_2D || op == SL_OP_DEPTHWISE_CONV_2D)
		n.p.conv = (sl_conv_params){.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
	if (op == SL_OP_AVERAGE_POOL_2D || op == SL_OP_MAX_POOL_2D)
		n.p.pool = (sl_pool_params){.filter_h = 2, .filter_w = 2, .stride_h = 2, .stride_w = 2};
	if (op == SL_OP_SOFTMAX)
		n.p.softmax.beta = 1.0f;
	sl_error err;
	int r = sl_model_add_node(m, &n, &err);
	cr_assert_geq(r, 0, "%s", err.msg);
	return r;
}

static void set_io(sl_model *m, int n_in, const int *in, int n_out, const int *out)
{
	free(m->inputs);
	free(m->outputs);
	m->inputs = malloc(sizeof(int32_t) * (size_t)(n_in ? n_in : 1));
	m->outputs = malloc(sizeof(int32_t) * (size_t)n_out);
	for (int i = 0; i < n_in; i++)
		m->inputs[i] = in[i];
	for (int i = 0; i < n_out; i++)
		m->outputs[i] = out[i];
	m->n_inputs = n_in;
	m->n_outputs = n_out;
}

static void io1(sl_model *m, int in, int out)
{
	set_io(m, 1, &in, 1, &out);
}

/* ---- builder and lifetime ---- */

Test(model, builder_copies)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	cr_assert_not_null(m);
	char name[] = "input";
	float scale[3] = {0.1f, 0.2f, 0.3f};
	int32_t zp[3] = {1, 2, 3};
	sl_tensor t = {.name = name,
		       .dtype = SL_DTYPE_I8,
		       .rank = 4,
		       .dims = {3, 1, 1, 1},
		       .q = {.n = 3, .axis = 0, .scale = scale, .zero_point = zp}};
	sl_error err;
	cr_assert_eq(sl_model_add_tensor(m, &t, &err), 0);
	name[0] = 'X';
	scale[1] = 9.0f;
	zp[2] = 99;
	cr_assert_str_eq(m->tensors[0].name, "input");
	cr_assert_neq(m->tensors[0].name, name);
	cr_assert_float_eq(m->tensors[0].q.scale[1], 0.2f, 1e-9);
	cr_assert_eq(m->tensors[0].q.zero_point[2], 3);

	int32_t in[1] = {0}, out[1] = {1};
	add_t(m, SL_DTYPE_I8, 4, 3, 1, 1, 1);
	sl_node n = {.op = SL_OP_RELU, .n_inputs = 1, .inputs = in, .n_outputs = 1, .outputs = out};
	cr_assert_eq(sl_model_add_node(m, &n, &err), 0);
	in[0] = 7;
	cr_assert_eq(m->nodes[0].inputs[0], 0);
	cr_assert_neq(m->nodes[0].inputs, in);

	/* Many tensors: growth keeps earlier entries. */
	for (int i = 0; i < 300; i++)
		cr_assert_eq(add_t(m, SL_DTYPE_F32, 1, i + 1), i + 2);
	for (int i = 0; i < 300; i++)
		cr_assert_eq(m->tensors[i + 2].dims[0], i + 1);
}

Test(model, refcount_and_names)
{
	sl_model *m = sl_model_new();
	cr_assert_eq(sl_model_ref(m), m);
	cr_assert_eq(m->refcount, 2u);
	cr_assert_null(sl_model_unref(m));
	cr_assert_eq(m->refcount, 1u);
	cr_assert_eq(sl_model_own(m, malloc(10)), 0);
	sl_model_unref(m);
	sl_model_unref(NULL);

	cr_assert_str_eq(sl_op_name(SL_OP_DEPTHWISE_CONV_2D), "DEPTHWISE_CONV_2D");
	cr_assert_str_eq(sl_op_name(SL_OP_RELU6), "RELU6");
	cr_assert_str_eq(sl_op_name((sl_op)999), "INVALID");
	cr_assert_str_eq(sl_act_name(SL_ACT_RELU6), "relu6");
	cr_assert_str_eq(sl_dtype_name(SL_DTYPE_U8), "uint8");
	cr_assert_eq(sl_dtype_size(SL_DTYPE_F16), 2u);
	cr_assert_eq(sl_dtype_size(SL_DTYPE_I64), 8u);
	cr_assert_str_eq(sl_strerror(-SL_E_SHAPE), "inconsistent tensor shapes");
	cr_assert_str_eq(sl_strerror(-ENOMEM), "Cannot allocate memory");

	sl_tensor t = {.rank = 3, .dims = {2, 3, 4}};
	cr_assert_eq(sl_tensor_numel(&t), 24);
	t.dims[1] = -1;
	cr_assert_eq(sl_tensor_numel(&t), -1);
	t = (sl_tensor){.rank = 6, .dims = {INT32_MAX, INT32_MAX, INT32_MAX, 2, 2, 2}};
	cr_assert_eq(sl_tensor_numel(&t), -1);
}

Test(model, builder_rejects_bad_input)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	sl_error err;
	sl_tensor t = {.dtype = (sl_dtype)77, .rank = 1, .dims = {1}};
	cr_assert_eq(sl_model_add_tensor(m, &t, &err), -SL_E_FORMAT);
	t = (sl_tensor){.dtype = SL_DTYPE_F32, .rank = 7};
	cr_assert_lt(sl_model_add_tensor(m, &t, &err), 0);
	t = (sl_tensor){.dtype = SL_DTYPE_F32, .rank = 1, .q = {.n = 2}};
	cr_assert_eq(sl_model_add_tensor(m, &t, &err), -SL_E_FORMAT);
	sl_node n = {.op = (sl_op)55, .n_outputs = 0};
	cr_assert_lt(sl_model_add_node(m, &n, &err), 0);
	n = (sl_node){.op = SL_OP_ADD, .n_inputs = 2, .inputs = NULL};
	cr_assert_eq(sl_model_add_node(m, &n, &err), -SL_E_FORMAT);
	cr_assert_eq(m->n_tensors, 0);
	cr_assert_eq(m->n_nodes, 0);
}

/* ---- graph errors ---- */

Test(model, rejects_cycle)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int x = add_t(m, SL_DTYPE_F32, 2, 1, 4);
	int a = add_t(m, SL_DTYPE_F32, 2, 1, 4);
	int b = add_t(m, SL_DTYPE_F32, 2, 1, 4);
	add_n(m, SL_OP_ADD, a, 2, x, b);
	add_n(m, SL_OP_RELU, b, 1, a);
	io1(m, x, b);
	sl_error err = {{0}};
	cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
	cr_assert(strstr(err.msg, "node 0 (ADD)") && strstr(err.msg, "cycle"), "%s", err.msg);
	cr_assert_null(m->order);
}

Test(model, rejects_self_loop)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int x = add_t(m, SL_DTYPE_F32, 1, 4);
	int a = add_t(m, SL_DTYPE_F32, 1, 4);
	add_n(m, SL_OP_ADD, a, 2, x, a);
	io1(m, x, a);
	sl_error err;
	cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
	cr_assert(strstr(err.msg, "cycle"), "%s", err.msg);
}

Test(model, rejects_graph_errors)
{
	sl_error err;
	{ /* tensor produced twice */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 1, 4), y = add_t(m, SL_DTYPE_F32, 1, 4);
		add_n(m, SL_OP_RELU, y, 1, x);
		add_n(m, SL_OP_RELU6, y, 1, x);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		cr_assert(strstr(err.msg, "already produced"), "%s", err.msg);
	}
	{ /* dangling input */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 1, 4), z = add_t(m, SL_DTYPE_F32, 1, 4);
		int y = add_t(m, SL_DTYPE_F32, 1, 4);
		add_n(m, SL_OP_ADD, y, 2, x, z);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		cr_assert(strstr(err.msg, "nothing produces"), "%s", err.msg);
	}
	{ /* index out of range, wrong input count, missing outputs */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 1, 4), y = add_t(m, SL_DTYPE_F32, 1, 4);
		add_n(m, SL_OP_RELU, y, 1, 42);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		cr_assert(strstr(err.msg, "out of range"), "%s", err.msg);
		m->nodes[0].inputs[0] = -1;
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		m->nodes[0].inputs[0] = x;
		m->nodes[0].n_inputs = 0;
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		m->nodes[0].n_inputs = 1;
		m->n_outputs = 0;
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		m->n_outputs = 1;
		m->outputs[0] = 5;
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		m->outputs[0] = y;
		cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	}
	{ /* constant data size mismatch, output written to a constant */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 1, 4), c = add_c(m, SL_DTYPE_F32, 1, 4);
		add_n(m, SL_OP_RELU, c, 1, x);
		io1(m, x, x);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_GRAPH);
		m->tensors[c].bytes = 3;
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_FORMAT);
	}
}

Test(model, rejects_shape_errors)
{
	sl_error err;
	{ /* conv: filter channels differ from input channels */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 4, 1, 8, 8, 3);
		int w = add_c(m, SL_DTYPE_F32, 4, 4, 3, 3, 2);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_CONV_2D, y, 3, x, w, -1);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_SHAPE);
		cr_assert(strstr(err.msg, "node 0 (CONV_2D)"), "%s", err.msg);
	}
	{ /* add: shapes that do not broadcast */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int a = add_t(m, SL_DTYPE_F32, 2, 3, 4), b = add_t(m, SL_DTYPE_F32, 2, 2, 4);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_ADD, y, 2, a, b);
		int in[2] = {a, b};
		set_io(m, 2, in, 1, &y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_SHAPE);
		cr_assert(strstr(err.msg, "broadcast"), "%s", err.msg);
	}
	{ /* declared output shape differs */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 4, 1, 8, 8, 3);
		int y = add_t(m, SL_DTYPE_F32, 4, 1, 4, 4, 4);
		add_n(m, SL_OP_MAX_POOL_2D, y, 1, x);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_SHAPE);
		cr_assert(strstr(err.msg, "[1,4,4,4]") && strstr(err.msg, "[1,4,4,3]"), "%s", err.msg);
	}
	{ /* filter larger than the input with VALID padding */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 4, 1, 2, 2, 3);
		int w = add_c(m, SL_DTYPE_F32, 4, 4, 3, 3, 3);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_CONV_2D, y, 2, x, w);
		m->nodes[0].p.conv.padding = SL_PADDING_VALID;
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_SHAPE);
	}
	{ /* reshape changing the element count */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 2, 3, 4), y = add_t(m, SL_DTYPE_F32, 1, 13);
		add_n(m, SL_OP_RESHAPE, y, 1, x);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_SHAPE);
	}
	{ /* mixed dtypes */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 2, 1, 16);
		int w = add_c(m, SL_DTYPE_I8, 2, 10, 16);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_FULLY_CONNECTED, y, 3, x, w, -1);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_UNSUPPORTED);
	}
}

Test(model, rejects_huge_dimensions)
{
	sl_error err;
	{
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 4, 1, 65536, 65536, 3);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_RELU, y, 1, x);
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_UNSUPPORTED);
		cr_assert(strstr(err.msg, "huge"), "%s", err.msg);
	}
	{
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 6, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, 7, 9);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_RELU, y, 1, x);
		io1(m, x, y);
		cr_assert_lt(sl_model_finalize(m, &err), 0);
	}
	{ /* padding that overflows int32 */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 2, 4, 4);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_PAD, y, 1, x);
		m->nodes[0].p.pad.pads[0][0] = INT32_MAX;
		io1(m, x, y);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_SHAPE);
	}
	{ /* many 512 MiB activations alive together exceed the arena bound */
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int x = add_t(m, SL_DTYPE_F32, 1, 128 << 20);
		int a = add_t(m, SL_DTYPE_F32, 0), b = add_t(m, SL_DTYPE_F32, 0);
		int c = add_t(m, SL_DTYPE_F32, 0), d = add_t(m, SL_DTYPE_F32, 0);
		int e = add_t(m, SL_DTYPE_F32, 0), f = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_RELU, a, 1, x);
		add_n(m, SL_OP_RELU, b, 1, a);
		add_n(m, SL_OP_ADD, c, 2, a, b);
		add_n(m, SL_OP_ADD, d, 2, c, x);
		add_n(m, SL_OP_ADD, e, 2, d, b);
		add_n(m, SL_OP_ADD, f, 2, e, a);
		io1(m, x, f);
		cr_assert_eq(sl_model_finalize(m, &err), -SL_E_UNSUPPORTED);
		cr_assert(strstr(err.msg, "MiB"), "%s", err.msg);
	}
}

/* ---- shapes and padding ---- */

typedef struct {
	int in, filt, stride, dil;
	sl_padding pad;
	int out, before, after;
} pad_case;

/* Hand-computed from TFLite's formulas: out = ceil(in / stride) for SAME and
 * ceil((in - eff + 1) / stride) for VALID; total = max(0, (out-1)*stride + eff
 * - in), the odd pixel at the end. */
static const pad_case pad_cases[] = {
    {224, 3, 2, 1, SL_PADDING_SAME, 112, 0, 1},	 {225, 3, 2, 1, SL_PADDING_SAME, 113, 1, 1},
    {7, 3, 1, 1, SL_PADDING_SAME, 7, 1, 1},	 {10, 3, 1, 2, SL_PADDING_SAME, 10, 2, 2},
    {224, 2, 2, 1, SL_PADDING_SAME, 112, 0, 0},	 {8, 5, 1, 1, SL_PADDING_SAME, 8, 2, 2},
    {8, 4, 1, 1, SL_PADDING_SAME, 8, 1, 2},	 {1, 3, 1, 1, SL_PADDING_SAME, 1, 1, 1},
    {224, 3, 2, 1, SL_PADDING_VALID, 111, 0, 0}, {7, 7, 1, 1, SL_PADDING_VALID, 1, 0, 0},
    {9, 3, 1, 3, SL_PADDING_VALID, 3, 0, 0},	 {32, 3, 3, 1, SL_PADDING_SAME, 11, 0, 1},
};

Test(model, conv_padding_matches_tflite)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(pad_cases); i++) {
		const pad_case *pc = &pad_cases[i];
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		/* H uses the case, W a fixed 1x1 VALID so only H varies. */
		int x = add_t(m, SL_DTYPE_F32, 4, 1, pc->in, 5, 2);
		int w = add_c(m, SL_DTYPE_F32, 4, 3, pc->filt, 1, 2);
		int b = add_c(m, SL_DTYPE_F32, 1, 3);
		int y = add_t(m, SL_DTYPE_F32, 0);
		add_n(m, SL_OP_CONV_2D, y, 3, x, w, b);
		sl_conv_params *p = &m->nodes[0].p.conv;
		p->stride_h = pc->stride;
		p->dilation_h = pc->dil;
		p->padding = pc->pad;
		io1(m, x, y);
		sl_error err;
		cr_assert_eq(sl_model_finalize(m, &err), 0, "case %zu: %s", i, err.msg);
		const sl_tensor *o = &m->tensors[y];
		cr_assert_eq(o->rank, 4);
		cr_assert_eq(o->dims[1], pc->out, "case %zu: out %d", i, o->dims[1]);
		cr_assert_eq(o->dims[2], 5);
		cr_assert_eq(o->dims[3], 3);
		cr_assert_eq(p->pad_top, pc->before, "case %zu: top %d", i, p->pad_top);
		cr_assert_eq(p->pad_bottom, pc->after, "case %zu: bottom %d", i, p->pad_bottom);
		cr_assert_eq(p->pad_left, 0);
		cr_assert_eq(p->pad_right, 0);
	}
}

Test(model, pool_padding_and_depthwise)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int x = add_t(m, SL_DTYPE_U8, 4, 1, 8, 9, 4);
	int w = add_c(m, SL_DTYPE_U8, 4, 1, 3, 3, 8);
	int b = add_c(m, SL_DTYPE_I32, 1, 8);
	int d = add_t(m, SL_DTYPE_U8, 0);
	int p = add_t(m, SL_DTYPE_U8, 0);
	add_n(m, SL_OP_DEPTHWISE_CONV_2D, d, 3, x, w, b);
	m->nodes[0].p.conv.stride_h = m->nodes[0].p.conv.stride_w = 2;
	m->nodes[0].p.conv.depth_multiplier = 2;
	add_n(m, SL_OP_AVERAGE_POOL_2D, p, 1, d);
	m->nodes[1].p.pool = (sl_pool_params){
	    .filter_h = 3, .filter_w = 3, .stride_h = 2, .stride_w = 2, .padding = SL_PADDING_SAME};
	io1(m, x, p);
	sl_error err;
	cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	const sl_tensor *dt = &m->tensors[d], *pt = &m->tensors[p];
	/* 8x9 stride 2 SAME -> 4x5; totals: H (3*2+3-8)=1, W (4*2+3-9)=2 */
	cr_assert(dt->dims[1] == 4 && dt->dims[2] == 5 && dt->dims[3] == 8);
	const sl_conv_params *cp = &m->nodes[0].p.conv;
	cr_assert(cp->pad_top == 0 && cp->pad_bottom == 1 && cp->pad_left == 1 && cp->pad_right == 1);
	/* 4x5 stride 2 SAME -> 2x3; totals: H (1*2+3-4)=1, W (2*2+3-5)=2 */
	cr_assert(pt->dims[1] == 2 && pt->dims[2] == 3 && pt->dims[3] == 8);
	const sl_pool_params *pp = &m->nodes[1].p.pool;
	cr_assert(pp->pad_top == 0 && pp->pad_bottom == 1 && pp->pad_left == 1 && pp->pad_right == 1);
}

Test(model, infers_other_ops)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int x = add_t(m, SL_DTYPE_F32, 4, 1, 4, 4, 6);
	int axes = add_c(m, SL_DTYPE_I32, 1, 2);
	((int32_t *)m->tensors[axes].data)[0] = 1;
	((int32_t *)m->tensors[axes].data)[1] = -2; /* negative: counts from the end */
	int mean = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_MEAN, mean, 2, x, axes);
	m->nodes[0].p.mean.keep_dims = true;
	int r = add_t(m, SL_DTYPE_F32, 2, 1, 6);
	add_n(m, SL_OP_RESHAPE, r, 1, mean);
	int w = add_c(m, SL_DTYPE_F32, 2, 5, 6);
	int fc = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_FULLY_CONNECTED, fc, 3, r, w, -1);
	int sm = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_SOFTMAX, sm, 1, fc);
	int pads = add_c(m, SL_DTYPE_I32, 2, 2, 2);
	((int32_t *)m->tensors[pads].data)[3] = 3; /* after, axis 1 */
	int pd = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_PAD, pd, 2, sm, pads);
	int cat = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_CONCATENATION, cat, 3, pd, pd, pd);
	m->nodes[5].p.concat.axis = -2;
	int q = add_t(m, SL_DTYPE_I8, 0);
	add_n(m, SL_OP_QUANTIZE, q, 1, cat);
	int dq = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_DEQUANTIZE, dq, 1, q);
	int hs = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_HARD_SWISH, hs, 1, dq);
	int bc = add_c(m, SL_DTYPE_F32, 1, 8);
	int mul = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_MUL, mul, 2, hs, bc);
	io1(m, x, mul);
	sl_error err;
	cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	const sl_tensor *t = m->tensors;
	cr_assert(t[mean].rank == 4 && t[mean].dims[1] == 1 && t[mean].dims[2] == 1 && t[mean].dims[3] == 6);
	cr_assert_eq(m->nodes[0].p.mean.n_axes, 2);
	cr_assert(t[fc].rank == 2 && t[fc].dims[0] == 1 && t[fc].dims[1] == 5);
	cr_assert(t[pd].rank == 2 && t[pd].dims[0] == 1 && t[pd].dims[1] == 8);
	cr_assert(t[cat].rank == 2 && t[cat].dims[0] == 3 && t[cat].dims[1] == 8);
	cr_assert_eq(m->nodes[5].p.concat.axis, 0);
	cr_assert(t[mul].rank == 2 && t[mul].dims[0] == 3 && t[mul].dims[1] == 8);
	cr_assert_eq(t[mul].bytes, 3 * 8 * 4u);
	/* RESHAPE aliases its input. */
	cr_assert_eq(t[r].arena_offset, t[mean].arena_offset);
	cr_assert_eq(t[x].producer, -1);
	cr_assert_eq(t[fc].producer, 2);
	cr_assert_eq(t[mul].last_use, m->n_nodes);
}

Test(model, fc_keep_dims)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int x = add_t(m, SL_DTYPE_I8, 3, 2, 3, 16);
	int w = add_c(m, SL_DTYPE_I8, 2, 10, 16);
	int b = add_c(m, SL_DTYPE_I32, 1, 10);
	int y = add_t(m, SL_DTYPE_I8, 0);
	add_n(m, SL_OP_FULLY_CONNECTED, y, 3, x, w, b);
	io1(m, x, y);
	sl_error err;
	cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	cr_assert(m->tensors[y].rank == 2 && m->tensors[y].dims[0] == 6 && m->tensors[y].dims[1] == 10);
	m->tensors[y].rank = 0;
	m->nodes[0].p.fc.keep_dims = true;
	cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	cr_assert(m->tensors[y].rank == 3 && m->tensors[y].dims[1] == 3 && m->tensors[y].dims[2] == 10);
	cr_assert_eq(sl_node_macs(m, &m->nodes[0]), 6 * 10 * 16);
}

/* ---- arena planner ---- */

static unsigned rng_state = 12345;
static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) % n;
}

/* Independent recomputation of the lifetimes, then every pair of live
 * activation tensors whose lifetimes intersect must not share bytes. */
static void check_plan(const sl_model *m)
{
	const int nt = m->n_tensors, nn = m->n_nodes;
	int first[1024], last[1024], root[1024];
	cr_assert_leq(nt, 1024);
	for (int t = 0; t < nt; t++) {
		first[t] = last[t] = -1;
		root[t] = t;
	}
	for (int i = 0; i < m->n_inputs; i++)
		first[m->inputs[i]] = last[m->inputs[i]] = 0;
	for (int pos = 0; pos < nn; pos++) {
		const sl_node *n = &m->nodes[m->order[pos]];
		for (int k = 0; k < n->n_inputs; k++)
			if (n->inputs[k] >= 0)
				last[n->inputs[k]] = pos;
		first[n->outputs[0]] = last[n->outputs[0]] = pos;
		/* A RESHAPE output is meant to share its input's bytes. */
		if (n->op == SL_OP_RESHAPE)
			root[n->outputs[0]] = root[n->inputs[0]];
		/* inputs must be ready */
		for (int k = 0; k < n->n_inputs; k++) {
			int t = n->inputs[k];
			if (t >= 0 && m->tensors[t].kind == SL_TENSOR_ACTIVATION)
				cr_assert(first[t] >= 0 && (first[t] < pos || m->tensors[t].producer < 0));
		}
	}
	for (int i = 0; i < m->n_outputs; i++)
		last[m->outputs[i]] = nn;
	for (int a = 0; a < nt; a++) {
		const sl_tensor *ta = &m->tensors[a];
		if (ta->kind != SL_TENSOR_ACTIVATION || first[a] < 0)
			continue;
		cr_assert_eq(ta->arena_offset % 64, 0);
		cr_assert_leq(ta->arena_offset + ta->bytes, m->arena_size);
		for (int b = a + 1; b < nt; b++) {
			const sl_tensor *tb = &m->tensors[b];
			if (tb->kind != SL_TENSOR_ACTIVATION || first[b] < 0)
				continue;
			if (first[a] > last[b] || first[b] > last[a] || root[a] == root[b])
				continue;
			bool disjoint = ta->arena_offset + ta->bytes <= tb->arena_offset ||
					tb->arena_offset + tb->bytes <= ta->arena_offset;
			cr_assert(disjoint, "tensors %d [%d,%d] @%zu+%zu and %d [%d,%d] @%zu+%zu overlap", a,
				  first[a], last[a], ta->arena_offset, ta->bytes, b, first[b], last[b],
				  tb->arena_offset, tb->bytes);
		}
	}
}

Test(model, arena_random_graphs)
{
	for (int iter = 0; iter < 300; iter++) {
		_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
		int n_in = 1 + (int)rnd(2);
		int avail[256], na = 0;
		int ins[2];
		/* Every tensor is [1, width[t]]; outputs are declared rank 0 and
		 * inferred by finalize, so widths are tracked here. */
		static int width[1024];
		for (int i = 0; i < n_in; i++) {
			int w = 1 + (int)rnd(300);
			avail[na++] = ins[i] = add_t(m, SL_DTYPE_F32, 2, 1, w);
			width[ins[i]] = w;
		}
		int len = 1 + (int)rnd(40);
		for (int k = 0; k < len; k++) {
			/* Chains (most recent), diamonds (random earlier + recent). */
			int a = avail[na - 1];
			int y, wy = width[a];
			if (rnd(3) == 0 && na > 1) {
				int b = avail[rnd((unsigned)na)];
				int da = width[a], db = width[b];
				y = add_t(m, SL_DTYPE_F32, 0);
				if (da != db && da != 1 && db != 1) {
					add_n(m, SL_OP_RELU, y, 1, b);
					wy = db;
				} else {
					add_n(m, SL_OP_ADD, y, 2, a, b);
					wy = SL_MAX(da, db);
				}
			} else if (rnd(4) == 0) {
				/* RESHAPE (aliased) + LOGISTIC + FC to a fresh size. */
				int tmp = add_t(m, SL_DTYPE_F32, 1, width[a]);
				add_n(m, SL_OP_RESHAPE, tmp, 1, a);
				int c = add_t(m, SL_DTYPE_F32, 0);
				add_n(m, SL_OP_LOGISTIC, c, 1, tmp);
				wy = 1 + (int)rnd(300);
				int wc = add_c(m, SL_DTYPE_F32, 2, wy, width[a]);
				y = add_t(m, SL_DTYPE_F32, 0);
				add_n(m, SL_OP_FULLY_CONNECTED, y, 3, c, wc, -1);
			} else {
				y = add_t(m, SL_DTYPE_F32, 0);
				add_n(m, rnd(2) ? SL_OP_RELU : SL_OP_RELU6, y, 1, a);
			}
			width[y] = wy;
			avail[na++] = y;
			if (na > 200)
				break;
		}
		int outs[2] = {avail[na - 1], avail[rnd((unsigned)na)]};
		if (outs[1] == outs[0] || outs[1] == ins[0] || (n_in > 1 && outs[1] == ins[1]))
			outs[1] = outs[0];
		set_io(m, n_in, ins, outs[1] == outs[0] ? 1 : 2, outs);
		/* Shuffle node order in the file: finalize must sort it. */
		for (int i = m->n_nodes - 1; i > 0; i--) {
			int j = (int)rnd((unsigned)i + 1);
			sl_node tmp = m->nodes[i];
			m->nodes[i] = m->nodes[j];
			m->nodes[j] = tmp;
		}
		sl_error err;
		cr_assert_eq(sl_model_finalize(m, &err), 0, "iter %d: %s", iter, err.msg);
		check_plan(m);
	}
}

Test(model, arena_reuses_memory_in_chains)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int prev = add_t(m, SL_DTYPE_F32, 1, 1000);
	int x = prev;
	for (int i = 0; i < 20; i++) {
		int y = add_t(m, SL_DTYPE_F32, 1, 1000);
		add_n(m, SL_OP_RELU, y, 1, prev);
		prev = y;
	}
	io1(m, x, prev);
	sl_error err;
	cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	check_plan(m);
	/* A chain needs two buffers (plus the pinned input and output). */
	cr_assert_leq(m->arena_size, 4 * 4032u, "arena %zu", m->arena_size);
}

/* ---- statistics ---- */

Test(model, macs_params_sparsity)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int x = add_t(m, SL_DTYPE_I8, 4, 1, 8, 8, 3);
	int w = add_c(m, SL_DTYPE_I8, 4, 4, 3, 3, 3);
	int b = add_c(m, SL_DTYPE_I32, 1, 4);
	int c = add_t(m, SL_DTYPE_I8, 0);
	add_n(m, SL_OP_CONV_2D, c, 3, x, w, b);
	int dw = add_c(m, SL_DTYPE_I8, 4, 1, 3, 3, 8);
	int db = add_c(m, SL_DTYPE_I32, 1, 8);
	int d = add_t(m, SL_DTYPE_I8, 0);
	add_n(m, SL_OP_DEPTHWISE_CONV_2D, d, 3, c, dw, db);
	int r = add_t(m, SL_DTYPE_I8, 2, 1, 512);
	add_n(m, SL_OP_RESHAPE, r, 1, d);
	int fw = add_c(m, SL_DTYPE_I8, 2, 10, 512);
	int f = add_t(m, SL_DTYPE_I8, 0);
	add_n(m, SL_OP_FULLY_CONNECTED, f, 3, r, fw, -1);
	io1(m, x, f);

	/* Per-channel zero points on the conv filter: channel k has zp k, and
	 * channel k's first k+1 elements equal it. */
	sl_tensor *wt = &m->tensors[w];
	free(wt->q.scale);
	free(wt->q.zero_point);
	wt->q.n = 4;
	wt->q.axis = 0;
	wt->q.scale = malloc(4 * sizeof(float));
	wt->q.zero_point = malloc(4 * sizeof(int32_t));
	int8_t *wd = (int8_t *)wt->data;
	for (int k = 0; k < 4; k++) {
		wt->q.scale[k] = 0.1f;
		wt->q.zero_point[k] = k;
		for (int i = 0; i < 27; i++)
			wd[k * 27 + i] = (int8_t)(i <= k ? k : 100);
	}
	sl_error err;
	cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_node_macs(m, &m->nodes[0]), 8 * 8 * 4 * 27);
	cr_assert_eq(sl_node_macs(m, &m->nodes[1]), 8 * 8 * 8 * 9);
	cr_assert_eq(m->nodes[1].p.conv.depth_multiplier, 2);
	cr_assert_eq(sl_node_macs(m, &m->nodes[2]), 0);
	cr_assert_eq(sl_node_macs(m, &m->nodes[3]), 10 * 512);
	cr_assert_eq(sl_node_params(m, &m->nodes[0]), 4 * 27 + 4);
	cr_assert_eq(sl_node_params(m, &m->nodes[3]), 10 * 512);
	cr_assert_float_eq(sl_node_weight_sparsity(m, &m->nodes[0]), 10.0 / 108.0, 1e-9);
	cr_assert_float_eq(sl_node_weight_sparsity(m, &m->nodes[1]), 1.0, 1e-9);
	cr_assert_float_eq(sl_node_weight_sparsity(m, &m->nodes[2]), 0.0, 1e-9);
}

Test(model, sparsity_float)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	int x = add_t(m, SL_DTYPE_F32, 2, 1, 4);
	int w = add_c(m, SL_DTYPE_F32, 2, 2, 4);
	int y = add_t(m, SL_DTYPE_F32, 0);
	add_n(m, SL_OP_FULLY_CONNECTED, y, 2, x, w);
	io1(m, x, y);
	float *wd = (float *)m->tensors[w].data;
	wd[0] = 1.0f;
	wd[1] = -0.0f;
	wd[2] = 1e-30f;
	wd[5] = 3.0f;
	sl_error err;
	cr_assert_eq(sl_model_finalize(m, &err), 0, "%s", err.msg);
	cr_assert_float_eq(sl_node_weight_sparsity(m, &m->nodes[0]), 5.0 / 8.0, 1e-9);
	cr_assert_eq(sl_node_params(m, &m->nodes[0]), 8);
}
