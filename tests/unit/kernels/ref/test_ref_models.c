/* Whole models from ../shared through the TFLite importer and the reference
 * backend, against outputs of TFLite's own reference kernels for the same
 * pseudo-random input (data/model_golden.txt, from gen_model_golden.py).
 * Quantized outputs must match bit for bit; fp32 outputs to float rounding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"
#include "tests/unit/kernels/ref/ref_testutil.h"

static void make_input(void *buf, const sl_tensor *t, uint64_t seed)
{
	tu_rng r = {seed};
	const int64_t n = sl_tensor_numel(t);
	for (int64_t i = 0; i < n; i++) {
		const uint8_t b = (uint8_t)(tu_next(&r) & 0xff);
		switch (t->dtype) {
		case SL_DTYPE_U8:
			((uint8_t *)buf)[i] = b;
			break;
		case SL_DTYPE_I8:
			((int8_t *)buf)[i] = (int8_t)(b - 128);
			break;
		case SL_DTYPE_F32:
			((float *)buf)[i] = (float)b / 127.5f - 1.0f;
			break;
		default:
			cr_assert_fail("input dtype %s", sl_dtype_name(t->dtype));
		}
	}
}

/* Compares one output against its golden line. */
static void check_output(FILE *f, const char *model, int k, const sl_tensor *t, const void *got)
{
	char kind[8];
	long count, stride;
	cr_assert_eq(fscanf(f, "%7s %ld %ld", kind, &count, &stride), 3, "%s: bad golden file", model);
	cr_assert_eq(count, sl_tensor_numel(t), "%s output %d: %lld elements, TFLite has %ld", model, k,
		     (long long)sl_tensor_numel(t), count);
	if (strcmp(kind, "f32") == 0) {
		cr_assert_eq(t->dtype, SL_DTYPE_F32);
		const float *g = got;
		for (long i = 0; i < count; i += stride) {
			float want;
			cr_assert_eq(fscanf(f, "%f", &want), 1);
			cr_assert(fabsf(g[i] - want) <= 1e-5f + 1e-4f * fabsf(want),
				  "%s output %d element %ld: %.9g, TFLite %.9g", model, k, i, (double)g[i],
				  (double)want);
		}
		return;
	}
	const sl_dtype dt = strcmp(kind, "u8") == 0 ? SL_DTYPE_U8 : SL_DTYPE_I8;
	cr_assert_eq(t->dtype, dt, "%s output %d: dtype", model, k);
	long bad = 0, first = -1;
	int first_want = 0;
	for (long i = 0; i < count; i++) {
		unsigned v;
		cr_assert_eq(fscanf(f, "%2x", &v), 1);
		const int want = dt == SL_DTYPE_U8 ? (int)v : (int)(int8_t)(uint8_t)v;
		if (tu_ld(got, (size_t)i, dt) != want && !bad++) {
			first = i;
			first_want = want;
		}
	}
	cr_assert_eq(bad, 0, "%s output %d: %ld of %ld differ from TFLite, first at %ld (%d vs %d)", model, k,
		     bad, count, first, first >= 0 ? tu_ld(got, (size_t)first, dt) : 0, first_want);
}

Test(ref_models, shared_models_match_tflite_reference, .timeout = 300)
{
	const char *shared = getenv("SL_SHARED_DIR");
	const char *root = getenv("SL_SOURCE_ROOT");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/unit/kernels/ref/data/model_golden.txt", root ? root : ".");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "missing %s", path);
	char line[512];
	cr_assert_not_null(fgets(line, sizeof(line), f)); /* comment */

	char name[256];
	unsigned long long seed;
	int n_out, n_models = 0;
	while (fscanf(f, " model %255s %llu %d", name, &seed, &n_out) == 3) {
		snprintf(path, sizeof(path), "%s/models/%s", shared ? shared : "../shared", name);
		FILE *probe = fopen(path, "rb");
		if (!probe)
			cr_skip_test("%s not found (set SL_SHARED_DIR)", path);
		fclose(probe);

		sl_model *m = NULL;
		sl_error err = {0};
		cr_assert_eq(sl_tflite_load_file(path, &m, &err), 0, "%s", err.msg);
		sl_runtime *rt = NULL;
		const sl_runtime_options opt = {.backend = SL_BACKEND_REF};
		cr_assert_eq(sl_runtime_new(m, &opt, &rt, &err), 0, "%s", err.msg);
		cr_assert_eq(m->n_outputs, n_out, "%s: %d outputs, TFLite has %d", name, m->n_outputs, n_out);
		for (int i = 0; i < sl_runtime_n_steps(rt); i++) {
			const sl_impl impl = sl_runtime_step(rt, i)->impl;
			cr_assert(impl == SL_IMPL_REF || impl == SL_IMPL_NONE);
		}
		make_input(sl_runtime_input(rt, 0), sl_runtime_input_tensor(rt, 0), seed);
		cr_assert_eq(sl_runtime_invoke(rt), 0);
		for (int k = 0; k < n_out; k++)
			check_output(f, name, k, sl_runtime_output_tensor(rt, k), sl_runtime_output(rt, k));
		sl_runtime_free(rt);
		sl_model_unref(m);
		n_models++;
	}
	fclose(f);
	cr_log_info("%d models match TFLite's reference kernels", n_models);
	cr_assert_gt(n_models, 0);
}
