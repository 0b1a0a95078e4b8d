/* TFLite writer: write -> import gives the same graph and, on the reference
 * backend, bit-identical outputs. Uses the shared models when present. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"
#include "kernels/tflite/tflite_write.h"

static char *shared_model(const char *name)
{
	const char *dir = getenv("SL_SHARED_DIR");
	if (!dir)
		return NULL;
	char *p;
	if (asprintf(&p, "%s/models/%s", dir, name) < 0)
		return NULL;
	FILE *f = fopen(p, "rb");
	if (!f) {
		free(p);
		return NULL;
	}
	fclose(f);
	return p;
}

static void same_graph(const sl_model *a, const sl_model *b)
{
	cr_assert_eq(a->n_nodes, b->n_nodes);
	cr_assert_eq(a->n_inputs, b->n_inputs);
	cr_assert_eq(a->n_outputs, b->n_outputs);
	/* The writer emits nodes in execution order; compare in that order. */
	for (int p = 0; p < a->n_nodes; p++) {
		const sl_node *x = &a->nodes[a->order[p]], *y = &b->nodes[b->order[p]];
		cr_assert_eq(x->op, y->op, "node %d", p);
		cr_assert_eq(x->act, y->act, "node %d", p);
		cr_assert_eq(x->n_inputs, y->n_inputs, "node %d", p);
		for (int k = 0; k < x->n_inputs; k++) {
			if (x->inputs[k] < 0) {
				cr_assert_lt(y->inputs[k], 0);
				continue;
			}
			const sl_tensor *s = &a->tensors[x->inputs[k]], *t = &b->tensors[y->inputs[k]];
			cr_assert_eq(s->dtype, t->dtype, "node %d input %d", p, k);
			cr_assert_eq(s->rank, t->rank);
			cr_assert_arr_eq(s->dims, t->dims, sizeof(int32_t) * (size_t)s->rank);
			cr_assert_eq(s->kind, t->kind);
			cr_assert_eq(s->q.n, t->q.n);
			for (int q = 0; q < s->q.n; q++) {
				cr_assert_eq(s->q.scale[q], t->q.scale[q]);
				cr_assert_eq(s->q.zero_point[q], t->q.zero_point[q]);
			}
			if (s->kind == SL_TENSOR_CONST) {
				cr_assert_eq(s->bytes, t->bytes);
				cr_assert(memcmp(s->data, t->data, s->bytes) == 0, "node %d input %d data", p,
					  k);
			}
		}
	}
}

static void round_trip(const char *name)
{
	char *path = shared_model(name);
	if (!path)
		cr_skip_test("SL_SHARED_DIR/models/%s not available", name);
	sl_model *a = NULL, *b = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_tflite_load_file(path, &a, &err), 0, "%s", err.msg);
	void *buf;
	size_t size;
	cr_assert_eq(sl_tflite_write_mem(a, &buf, &size, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp((char *)buf + 4, "TFL3", 4), 0);
	cr_assert_eq(sl_tflite_load_mem(buf, size, "written", &b, &err), 0, "%s", err.msg);
	same_graph(a, b);

	sl_runtime_options o = {.backend = SL_BACKEND_REF};
	sl_runtime *ra = NULL, *rb = NULL;
	cr_assert_eq(sl_runtime_new(a, &o, &ra, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_runtime_new(b, &o, &rb, &err), 0, "%s", err.msg);
	const sl_tensor *in = sl_runtime_input_tensor(ra, 0);
	uint8_t *x = sl_runtime_input(ra, 0);
	for (size_t i = 0; i < in->bytes; i++)
		x[i] = (uint8_t)(i * 2654435761u >> 24);
	if (in->dtype == SL_DTYPE_F32)
		for (size_t i = 0; i < in->bytes / 4; i++)
			((float *)x)[i] = (float)((i * 37) % 256);
	memcpy(sl_runtime_input(rb, 0), x, in->bytes);
	cr_assert_eq(sl_runtime_invoke(ra), 0);
	cr_assert_eq(sl_runtime_invoke(rb), 0);
	const sl_tensor *out = sl_runtime_output_tensor(ra, 0);
	cr_assert(memcmp(sl_runtime_output(ra, 0), sl_runtime_output(rb, 0), out->bytes) == 0,
		  "%s: outputs differ after a write/read round trip", name);
	sl_runtime_free(ra);
	sl_runtime_free(rb);
	free(buf);
	sl_model_unref(a);
	sl_model_unref(b);
	free(path);
}

Test(tflite_write, round_trip_cifar_float)
{
	round_trip("cifar10_resnet8_float.tflite");
}

Test(tflite_write, round_trip_cifar_int8)
{
	round_trip("cifar10_resnet8_int8.tflite");
}

Test(tflite_write, round_trip_mobilenet_v1_uint8)
{
	round_trip("mobilenet_v1_0.25_128_quant.tflite");
}

Test(tflite_write, round_trip_tf2_int8_ptq)
{
	round_trip("tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

Test(tflite_write, rejects_unwritable_dtype)
{
	sl_model *m = sl_model_new();
	sl_tensor t = {.dtype = SL_DTYPE__COUNT, .rank = 1, .dims = {1}};
	m->tensors = calloc(1, sizeof(sl_tensor));
	m->tensors[0] = t;
	m->n_tensors = 1;
	void *buf = NULL;
	size_t size;
	sl_error err = {{0}};
	cr_assert_lt(sl_tflite_write_mem(m, &buf, &size, &err), 0);
	cr_assert(strstr(err.msg, "tensor 0") != NULL, "%s", err.msg);
	sl_model_unref(m);
}
