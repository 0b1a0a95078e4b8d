#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/heads/heads.h"

static sl_tensor out_tensor(sl_dtype dt, int n, float *scale, int32_t *zp)
{
	sl_tensor t = {.dtype = dt, .rank = 2, .dims = {1, n}};
	if (scale) {
		t.q.n = 1;
		t.q.scale = scale;
		t.q.zero_point = zp;
	}
	return t;
}

Test(classify, uint8_top_k_with_ties_to_lower_index)
{
	float s = 1.0f / 256.0f;
	int32_t zp = 0;
	sl_tensor t = out_tensor(SL_DTYPE_U8, 6, &s, &zp);
	sl_classifier *c = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_classifier_new(&t, false, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_classifier_n_classes(c), 6);
	const uint8_t data[6] = {10, 200, 30, 200, 0, 255};
	sl_class_score top[4];
	cr_assert_eq(sl_classifier_run(c, data, top, 4), 4);
	cr_assert_eq(top[0].index, 5);
	cr_assert_eq(top[1].index, 1);
	cr_assert_eq(top[2].index, 3);
	cr_assert_eq(top[3].index, 2);
	cr_assert_float_eq(top[0].score, 255.0f / 256.0f, 1e-6);
	cr_assert_float_eq(top[3].score, 30.0f / 256.0f, 1e-6);
	sl_classifier_free(c);
}

Test(classify, int8_dequantizes_with_zero_point)
{
	float s = 0.5f;
	int32_t zp = -128;
	sl_tensor t = out_tensor(SL_DTYPE_I8, 3, &s, &zp);
	sl_classifier *c = NULL;
	cr_assert_eq(sl_classifier_new(&t, false, &c, NULL), 0);
	const int8_t data[3] = {-128, 0, 127};
	sl_class_score top[3];
	cr_assert_eq(sl_classifier_run(c, data, top, 10), 3, "k is clamped to the class count");
	cr_assert_eq(top[0].index, 2);
	cr_assert_float_eq(top[0].score, 127.5f, 1e-6);
	cr_assert_float_eq(top[2].score, 0.0f, 1e-6);
	sl_classifier_free(c);
}

Test(classify, float_logits_softmax)
{
	sl_tensor t = out_tensor(SL_DTYPE_F32, 4, NULL, NULL);
	t.rank = 4;
	t.dims[0] = t.dims[1] = t.dims[2] = 1;
	t.dims[3] = 4;
	sl_classifier *c = NULL;
	cr_assert_eq(sl_classifier_new(&t, true, &c, NULL), 0);
	const float logits[4] = {1.0f, 3.0f, 2.0f, 10.0f};
	sl_class_score top[2];
	cr_assert_eq(sl_classifier_run(c, logits, top, 2), 2);
	cr_assert_eq(top[0].index, 3);
	cr_assert_eq(top[1].index, 1);
	float sum = 0;
	for (int i = 0; i < 4; i++) {
		cr_assert(isfinite(sl_classifier_scores(c)[i]));
		sum += sl_classifier_scores(c)[i];
	}
	cr_assert_float_eq(sum, 1.0f, 1e-5);
	const double z = exp(1.0) + exp(3.0) + exp(2.0) + exp(10.0);
	cr_assert_float_eq(top[0].score, exp(10.0) / z, 1e-5);
	cr_assert_float_eq(top[1].score, exp(3.0) / z, 1e-6);

	/* Huge logits must not overflow to inf/nan. */
	const float huge[4] = {-1e30f, 1e30f, 0.0f, 88.0f};
	sl_classifier_run(c, huge, top, 2);
	cr_assert_eq(top[0].index, 1);
	cr_assert_float_eq(top[0].score, 1.0f, 1e-6);

	const float small[4] = {0.0f, logf(3.0f), 0.0f, logf(2.0f)};
	sl_classifier_run(c, small, top, 2);
	cr_assert_eq(top[0].index, 1);
	cr_assert_float_eq(top[0].score, 3.0f / 7.0f, 1e-5);
	cr_assert_float_eq(top[1].score, 2.0f / 7.0f, 1e-5);
	sl_classifier_free(c);
}

Test(classify, nan_ranks_last)
{
	sl_tensor t = out_tensor(SL_DTYPE_F32, 3, NULL, NULL);
	sl_classifier *c = NULL;
	cr_assert_eq(sl_classifier_new(&t, false, &c, NULL), 0);
	const float v[3] = {NAN, -5.0f, NAN};
	sl_class_score top[3];
	cr_assert_eq(sl_classifier_run(c, v, top, 3), 3);
	cr_assert_eq(top[0].index, 1);
	cr_assert_eq(top[1].index, 0);
	cr_assert_eq(top[2].index, 2);
	sl_classifier_free(c);
}

Test(classify, rejects_bad_outputs)
{
	sl_classifier *c = NULL;
	sl_error err = {{0}};
	sl_tensor t = {.dtype = SL_DTYPE_F32, .rank = 2, .dims = {2, 5}};
	cr_assert_lt(sl_classifier_new(&t, false, &c, &err), 0);
	cr_assert_null(c);
	t = (sl_tensor){.dtype = SL_DTYPE_I32, .rank = 2, .dims = {1, 5}};
	cr_assert_lt(sl_classifier_new(&t, false, &c, &err), 0);
	cr_assert(strstr(err.msg, "dtype"), "%s", err.msg);
	float sc[2] = {1, 1};
	int32_t zp[2] = {0, 0};
	t = (sl_tensor){
	    .dtype = SL_DTYPE_U8, .rank = 2, .dims = {1, 2}, .q = {.n = 2, .scale = sc, .zero_point = zp}};
	cr_assert_lt(sl_classifier_new(&t, false, &c, &err), 0);
	t = (sl_tensor){.dtype = SL_DTYPE_F32, .rank = 0};
	cr_assert_lt(sl_classifier_new(&t, false, &c, &err), 0);
	cr_assert_null(c);
}

/* in -> [op] -> mid -> RESHAPE -> out; only node structure matters here. */
static sl_model *tiny_model(sl_op last_real_op)
{
	sl_model *m = sl_model_new();
	sl_tensor t = {.dtype = SL_DTYPE_F32, .rank = 2, .dims = {1, 10}};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(sl_model_add_tensor(m, &t, NULL), i);
	int32_t in0 = 0, mid = 1, out = 2;
	sl_node n = {.op = last_real_op, .n_inputs = 1, .n_outputs = 1, .inputs = &in0, .outputs = &mid};
	n.p.softmax.beta = 1.0f;
	cr_assert_geq(sl_model_add_node(m, &n, NULL), 0);
	sl_node r = {.op = SL_OP_RESHAPE, .n_inputs = 1, .n_outputs = 1, .inputs = &mid, .outputs = &out};
	cr_assert_geq(sl_model_add_node(m, &r, NULL), 0);
	m->n_inputs = m->n_outputs = 1;
	m->inputs = malloc(sizeof(int32_t));
	m->outputs = malloc(sizeof(int32_t));
	m->inputs[0] = 0;
	m->outputs[0] = 2;
	return m;
}

Test(classify, auto_softmax_looks_through_reshape)
{
	sl_model *m = tiny_model(SL_OP_SOFTMAX);
	cr_assert_not(sl_classifier_wants_softmax(m, 0, SL_SOFTMAX_AUTO));
	cr_assert(sl_classifier_wants_softmax(m, 0, SL_SOFTMAX_ALWAYS));
	cr_assert_eq(sl_head_guess_kind(m).kind, SL_HEAD_CLASSIFY);
	sl_model_unref(m);

	m = tiny_model(SL_OP_RELU);
	cr_assert(sl_classifier_wants_softmax(m, 0, SL_SOFTMAX_AUTO));
	cr_assert_not(sl_classifier_wants_softmax(m, 0, SL_SOFTMAX_NEVER));
	sl_model_unref(m);
}

Test(classify, auto_softmax_survives_a_cyclic_graph)
{
	sl_model *m = sl_model_new();
	sl_tensor t = {.dtype = SL_DTYPE_F32, .rank = 2, .dims = {1, 10}};
	cr_assert_eq(sl_model_add_tensor(m, &t, NULL), 0);
	cr_assert_eq(sl_model_add_tensor(m, &t, NULL), 1);
	int32_t a = 0, b = 1;
	sl_node n1 = {.op = SL_OP_RESHAPE, .n_inputs = 1, .n_outputs = 1, .inputs = &a, .outputs = &b};
	sl_node n2 = {.op = SL_OP_RESHAPE, .n_inputs = 1, .n_outputs = 1, .inputs = &b, .outputs = &a};
	cr_assert_geq(sl_model_add_node(m, &n1, NULL), 0);
	cr_assert_geq(sl_model_add_node(m, &n2, NULL), 0);
	m->n_outputs = 1;
	m->outputs = malloc(sizeof(int32_t));
	m->outputs[0] = 0;
	cr_assert(sl_classifier_wants_softmax(m, 0, SL_SOFTMAX_AUTO));
	cr_assert(sl_classifier_wants_softmax(m, 5, SL_SOFTMAX_AUTO), "bad output index: assume logits");
	sl_model_unref(m);
}
