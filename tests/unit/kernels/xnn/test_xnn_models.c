/* Whole shared models on the XNNPACK backend vs the reference backend, on a
 * subset of the sample images. Skips when the shared folder is absent.
 *
 * Node by node (each XNNPACK node fed the reference's inputs) every output
 * must be within one quantization step (fp32: 1e-4 of its magnitude): that
 * is the backend's contract, checked on real weights and activations.
 *
 * End to end the two backends are NOT bit-exact: XNNPACK (2022 snapshot)
 * requantizes in fp32 with one rounding, TFLite's reference in fixed point
 * with two (gemmlowp), so ~0.1-1.5 % of a quantized conv's outputs land one
 * step apart, and the PTQ networks amplify such steps layer after layer (up
 * to ~20x in single channels). Final outputs then differ by several steps on
 * some images and the top-1 can flip where the two best classes are close.
 * With fast numerics (XNNPACK's own int8 kernels) the test logs those figures
 * and asserts only a gross sanity bound on top-1 agreement
 * (MIN_TOP1_AGREEMENT). With TFLite numerics, the default, the backend runs
 * its int8 layers on our bit-exact kernels and XNNPACK only where it does not
 * round: every output must then be identical to the reference's. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/image.h"
#include "common/macros.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"

#define N_IMAGENET	   10
#define N_CIFAR		   20
#define N_ISOLATED	   2 /* images for the node-by-node comparison */
#define MIN_TOP1_AGREEMENT 0.8

/* Arena base of a runtime, from any activation's address and offset. */
static uint8_t *arena_of(sl_runtime *rt)
{
	const sl_model *m = sl_runtime_model(rt);
	for (int t = 0; t < m->n_tensors; t++)
		if (m->tensors[t].kind == SL_TENSOR_ACTIVATION && m->tensors[t].bytes)
			return (uint8_t *)sl_runtime_tensor_data(rt, t) - m->tensors[t].arena_offset;
	return NULL;
}

/* Runs both runtimes step by step, giving every XNNPACK node the reference's
 * inputs, and checks each node's output. Both runtimes prepared the same
 * model, so their steps are in the same order. */
static void compare_nodes(const char *model, sl_runtime *ref, sl_runtime *xnn)
{
	const sl_model *m = sl_runtime_model(ref);
	uint8_t *ra = arena_of(ref), *xa = arena_of(xnn);
	cr_assert(ra && xa);
	cr_assert_eq(sl_runtime_n_steps(ref), sl_runtime_n_steps(xnn));
	for (int i = 0; i < sl_runtime_n_steps(ref); i++) {
		sl_step *rs = (sl_step *)sl_runtime_step(ref, i), *xs = (sl_step *)sl_runtime_step(xnn, i);
		cr_assert_eq(rs->node, xs->node);
		const sl_node *n = &m->nodes[rs->node];
		for (int k = 0; k < n->n_inputs; k++) {
			const int t = n->inputs[k];
			if (t >= 0 && m->tensors[t].kind == SL_TENSOR_ACTIVATION)
				memcpy(xa + m->tensors[t].arena_offset, ra + m->tensors[t].arena_offset,
				       m->tensors[t].bytes);
		}
		if (rs->run)
			cr_assert_eq(rs->run(rs, ra), 0);
		if (xs->run)
			cr_assert_eq(xs->run(xs, xa), 0);
		const sl_tensor *o = &m->tensors[n->outputs[0]];
		const uint8_t *a = ra + o->arena_offset, *b = xa + o->arena_offset;
		const int64_t cnt = sl_tensor_numel(o);
		double worst = 0, mag = 1;
		for (int64_t e = 0; e < cnt; e++) {
			if (o->dtype == SL_DTYPE_F32) {
				const double va = ((const float *)a)[e], vb = ((const float *)b)[e];
				mag = fmax(mag, fabs(va));
				worst = fmax(worst, fabs(va - vb));
			} else if (o->dtype == SL_DTYPE_I8) {
				worst = fmax(worst, abs(((const int8_t *)a)[e] - ((const int8_t *)b)[e]));
			} else if (o->dtype == SL_DTYPE_U8) {
				worst = fmax(worst, abs(a[e] - b[e]));
			}
		}
		if (o->dtype == SL_DTYPE_F32)
			cr_expect_leq(worst / mag, 1e-4, "%s node %d (%s, %s): fp32 error %g of %g", model,
				      rs->node, sl_op_name(n->op), xs->why, worst, mag);
		else
			cr_expect_leq(worst, 1.0, "%s node %d (%s, %s): %g steps apart", model, rs->node,
				      sl_op_name(n->op), xs->why, worst);
	}
}

static const char *shared_dir(void)
{
	const char *d = getenv("SL_SHARED_DIR");
	return d && *d ? d : NULL;
}

/* Fills the model's input from an image: quantized inputs take the pixel
 * (uint8) or pixel - 128 (int8), as the shared models expect; float inputs
 * the raw 0..255 value. */
static void load_input(sl_runtime *rt, const char *path, float crop)
{
	const sl_tensor *t = sl_runtime_input_tensor(rt, 0);
	cr_assert_eq(t->rank, 4);
	sl_preprocess_spec spec = {.width = t->dims[2],
				   .height = t->dims[1],
				   .fit = SL_FIT_CROP,
				   .crop_fraction = crop,
				   .resize = SL_RESIZE_BILINEAR,
				   .float_scale = 1.0f};
	if (t->dtype == SL_DTYPE_F32) {
		spec.type = SL_PIXEL_F32;
	} else {
		const float s = t->q.scale[0];
		const int32_t zp = t->q.zero_point[0];
		spec.type = t->dtype == SL_DTYPE_U8 ? SL_PIXEL_U8 : SL_PIXEL_I8;
		spec.q_scale = s;
		spec.q_zero_point = zp;
		spec.float_scale = s;
		spec.float_offset = -(float)(t->dtype == SL_DTYPE_U8 ? zp : zp + 128) * s;
	}
	sl_image img = {0};
	int r = sl_image_load_file(path, &img);
	cr_assert_eq(r, 0, "%s: cannot load (%d)", path, r);
	r = sl_preprocess(&img, &spec, sl_runtime_input(rt, 0), NULL);
	sl_image_free(&img);
	cr_assert_eq(r, 0, "%s: preprocess failed (%d)", path, r);
}

static int argmax(const sl_tensor *t, const void *p)
{
	const int64_t n = sl_tensor_numel(t);
	int best = 0;
	double bv = -1e30;
	for (int64_t i = 0; i < n; i++) {
		double v = t->dtype == SL_DTYPE_F32  ? ((const float *)p)[i]
			   : t->dtype == SL_DTYPE_I8 ? ((const int8_t *)p)[i]
						     : ((const uint8_t *)p)[i];
		if (v > bv) {
			bv = v;
			best = (int)i;
		}
	}
	return best;
}

static void compare_model(const char *model, const char *dataset, int n_images, float crop,
			  sl_numerics numerics)
{
	const char *dir = shared_dir();
	if (!dir)
		cr_skip_test("SL_SHARED_DIR not set: no shared models");
	char path[4096], labels[4096];
	snprintf(path, sizeof(path), "%s/models/%s", dir, model);
	snprintf(labels, sizeof(labels), "%s/data/%s/labels.txt", dir, dataset);
	FILE *lf = fopen(labels, "r");
	if (!lf || access(path, R_OK) != 0) {
		if (lf)
			fclose(lf);
		cr_skip_test("%s or %s missing", path, labels);
	}

	sl_error err = {{0}};
	sl_model *m = NULL;
	int r = sl_tflite_load_file(path, &m, &err);
	if (r == 0 && !m->order)
		r = sl_model_finalize(m, &err);
	cr_assert_eq(r, 0, "%s: %s", path, err.msg);
	sl_runtime *ref = NULL, *xnn = NULL;
	const sl_runtime_options ro = {.backend = SL_BACKEND_REF, .threads = 1};
	const bool exact = numerics == SL_NUMERICS_TFLITE;
	const sl_runtime_options xo = {.backend = SL_BACKEND_XNNPACK, .numerics = numerics, .threads = 2};
	cr_assert_eq(sl_runtime_new(m, &ro, &ref, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_runtime_new(m, &xo, &xnn, &err), 0, "%s", err.msg);
	int on_xnn = 0;
	for (int i = 0; i < sl_runtime_n_steps(xnn); i++)
		on_xnn += sl_runtime_step(xnn, i)->impl == SL_IMPL_XNNPACK;
	if (!exact)
		cr_expect_gt(on_xnn, 0, "%s: no node runs on XNNPACK", model);

	const sl_tensor *ot = sl_runtime_output_tensor(ref, 0);
	const int64_t n_out = sl_tensor_numel(ot);
	int64_t n_diff = 0;
	int max_steps = 0, images = 0, agree = 0;
	char line[512];
	while (images < n_images && fgets(line, sizeof(line), lf)) {
		char file[256];
		int cls;
		if (sscanf(line, "%255s %d", file, &cls) != 2)
			continue;
		char img[4096];
		snprintf(img, sizeof(img), "%s/data/%s/%s", dir, dataset, file);
		load_input(ref, img, crop);
		const size_t in_bytes = sl_runtime_input_tensor(ref, 0)->bytes;
		if (images < N_ISOLATED && !exact) {
			memcpy(sl_runtime_input(xnn, 0), sl_runtime_input(ref, 0), in_bytes);
			compare_nodes(model, ref, xnn);
		}
		memcpy(sl_runtime_input(xnn, 0), sl_runtime_input(ref, 0), in_bytes);
		cr_assert_eq(sl_runtime_invoke(ref), 0);
		cr_assert_eq(sl_runtime_invoke(xnn), 0);
		const void *a = sl_runtime_output(ref, 0), *b = sl_runtime_output(xnn, 0);
		const int ta = argmax(ot, a), tb = argmax(ot, b);
		agree += ta == tb;
		if (ta != tb)
			cr_log_info("%s %s: top-1 %d (reference) vs %d (xnnpack)", model, file, ta, tb);
		if (ot->dtype == SL_DTYPE_F32) {
			cr_expect_eq(ta, tb, "%s %s: fp32 top-1 differs", model, file);
		} else {
			for (int64_t i = 0; i < n_out; i++) {
				const int va = ot->dtype == SL_DTYPE_I8 ? ((const int8_t *)a)[i]
									: ((const uint8_t *)a)[i];
				const int vb = ot->dtype == SL_DTYPE_I8 ? ((const int8_t *)b)[i]
									: ((const uint8_t *)b)[i];
				n_diff += va != vb;
				max_steps = SL_MAX(max_steps, abs(va - vb));
			}
		}
		images++;
	}
	fclose(lf);
	cr_assert_gt(images, 0, "%s: no images listed", labels);
	cr_log_info(
	    "%s: %d images, %d/%d nodes on XNNPACK, top-1 agrees on %d, %lld of %lld outputs differ, max "
	    "%d step(s)",
	    model, images, on_xnn, sl_runtime_n_steps(xnn), agree, (long long)n_diff,
	    (long long)(n_out * images), max_steps);
	if (exact) {
		cr_expect_eq(agree, images, "%s: top-1 agrees on only %d of %d images", model, agree, images);
		cr_expect_eq(n_diff, 0, "%s: %lld outputs differ from the reference (max %d steps)", model,
			     (long long)n_diff, max_steps);
	} else {
		cr_expect_geq(agree, MIN_TOP1_AGREEMENT * images, "%s: top-1 agrees on only %d of %d images",
			      model, agree, images);
	}
	sl_runtime_free(xnn);
	sl_runtime_free(ref);
	sl_model_unref(m);
}

#define MODEL_TESTS(suffix, numerics)                                                                        \
	Test(xnn_models, mobilenet_v2_uint8##suffix, .timeout = 600)                                         \
	{                                                                                                    \
		compare_model("mobilenet_v2_1.0_224_quant.tflite", "imagenet-sample", N_IMAGENET, 0.875f,    \
			      numerics);                                                                     \
	}                                                                                                    \
	Test(xnn_models, mobilenet_v2_int8_per_channel##suffix, .timeout = 600)                              \
	{                                                                                                    \
		compare_model("tf2_mobilenet_v2_1.0_224_ptq.tflite", "imagenet-sample", N_IMAGENET, 0.875f,  \
			      numerics);                                                                     \
	}                                                                                                    \
	Test(xnn_models, mobilenet_v1_uint8##suffix, .timeout = 300)                                         \
	{                                                                                                    \
		compare_model("mobilenet_v1_0.25_128_quant.tflite", "imagenet-sample", N_IMAGENET, 0.875f,   \
			      numerics);                                                                     \
	}                                                                                                    \
	Test(xnn_models, resnet8_int8##suffix, .timeout = 300)                                               \
	{                                                                                                    \
		compare_model("cifar10_resnet8_int8.tflite", "cifar10-test", N_CIFAR, 1.0f, numerics);       \
	}                                                                                                    \
	Test(xnn_models, resnet8_float##suffix, .timeout = 300)                                              \
	{                                                                                                    \
		compare_model("cifar10_resnet8_float.tflite", "cifar10-test", N_CIFAR, 1.0f, numerics);      \
	}

MODEL_TESTS(_fast, SL_NUMERICS_FAST)
MODEL_TESTS(_tflite, SL_NUMERICS_TFLITE)
