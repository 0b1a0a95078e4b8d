/* Whole shared models: every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED
 * (and same-shape ADD, AVERAGE_POOL_2D, MEAN, SOFTMAX and QUANTIZE)
 * node the NEON backend claims, run in lockstep with the reference backend on
 * one image, must give the same bytes, node by node and at the output. On x86
 * the NEON kernels are the SIMDe builds; on aarch64 (cross build, qemu) the
 * native ones, and the real runtime with --backend neon (2 threads) is
 * checked against the reference as well.
 *
 * A plain program rather than a Criterion test, so that it runs the same way
 * under qemu-user. Exit 77 (skip) without SL_SHARED_DIR or the models.
 *   test_kernels_neon_model [model.tflite ...]   (default: the shared set) */
#include <errno.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/image.h"
#include "dense_test_util.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"

#define SKIP 77

static uint8_t *arena_of(sl_runtime *rt)
{
	const sl_model *m = sl_runtime_model(rt);
	for (int t = 0; t < m->n_tensors; t++)
		if (m->tensors[t].kind == SL_TENSOR_ACTIVATION && m->tensors[t].bytes)
			return (uint8_t *)sl_runtime_tensor_data(rt, t) - m->tensors[t].arena_offset;
	return NULL;
}

/* An ADD the dense backend must claim: two activations of the output's shape. */
static bool same_shape_add(const sl_model *m, const sl_node *node)
{
	if (node->op != SL_OP_ADD || node->n_inputs != 2)
		return false;
	const sl_tensor *o = &m->tensors[node->outputs[0]];
	for (int k = 0; k < 2; k++) {
		const sl_tensor *t = &m->tensors[node->inputs[k]];
		if (t->kind != SL_TENSOR_ACTIVATION || t->dtype != o->dtype || t->rank != o->rank ||
		    t->q.n != 1)
			return false;
		for (int d = 0; d < t->rank; d++)
			if (t->dims[d] != o->dims[d])
				return false;
	}
	return true;
}

static int load_input(sl_runtime *rt, const char *image)
{
	const sl_tensor *t = sl_runtime_input_tensor(rt, 0);
	if (t->rank != 4 || (t->dtype != SL_DTYPE_U8 && t->dtype != SL_DTYPE_I8)) {
		fprintf(stderr, "input is not an 8-bit image tensor\n");
		return -1;
	}
	const float s = t->q.scale[0];
	const int32_t zp = t->q.zero_point[0];
	const sl_preprocess_spec spec = {.width = t->dims[2],
					 .height = t->dims[1],
					 .fit = SL_FIT_CROP,
					 .crop_fraction = 0.875f,
					 .resize = SL_RESIZE_BILINEAR,
					 .type = t->dtype == SL_DTYPE_U8 ? SL_PIXEL_U8 : SL_PIXEL_I8,
					 .q_scale = s,
					 .q_zero_point = zp,
					 .float_scale = s,
					 .float_offset =
					     -(float)(t->dtype == SL_DTYPE_U8 ? zp : zp + 128) * s};
	sl_image img = {0};
	int r = sl_image_load_file(image, &img);
	if (r == 0)
		r = sl_preprocess(&img, &spec, sl_runtime_input(rt, 0), NULL);
	sl_image_free(&img);
	if (r < 0)
		fprintf(stderr, "%s: cannot load or preprocess (%d)\n", image, r);
	return r;
}

/* 0 when equal, else 1 (and the first difference printed). */
static int same_bytes(const char *what, const sl_tensor *t, const uint8_t *a, const uint8_t *b)
{
	for (size_t i = 0; i < t->bytes; i++)
		if (a[i] != b[i]) {
			fprintf(stderr, "FAIL %s: byte %zu of %zu: neon %d, reference %d\n", what, i,
				t->bytes, b[i], a[i]);
			return 1;
		}
	return 0;
}

static int check_model(const char *path, const char *image)
{
	sl_error err = {{0}};
	sl_model *m = NULL;
	int r = sl_tflite_load_file(path, &m, &err);
	if (r == 0 && !m->order)
		r = sl_model_finalize(m, &err);
	if (r < 0) {
		fprintf(stderr, "FAIL %s: %s\n", path, err.msg);
		return 1;
	}
	const sl_runtime_options ro = {.backend = SL_BACKEND_REF, .threads = 1};
	sl_runtime *ref = NULL, *lock = NULL;
	int fails = 0;
	if (sl_runtime_new(m, &ro, &ref, &err) < 0 || sl_runtime_new(m, &ro, &lock, &err) < 0 ||
	    load_input(ref, image) < 0) {
		fprintf(stderr, "FAIL %s: runtime: %s\n", path, err.msg);
		fails = 1;
		goto out;
	}
	/* Kept aside: the arena planner reuses the input's memory for later tensors. */
	const size_t in_bytes = sl_runtime_input_tensor(ref, 0)->bytes;
	uint8_t *input = malloc(in_bytes);
	memcpy(input, sl_runtime_input(ref, 0), in_bytes);
	memcpy(sl_runtime_input(lock, 0), input, in_bytes);

	/* Lockstep: the second reference runtime with NEON steps where they claim. */
	pthreadpool_t pool = pthreadpool_create(2);
	const sl_prepare_ctx ctx = {.model = m, .arena = arena_of(lock), .pool = pool, .threads = 2};
	const sl_dense_kernels k = sl_ntest_kernels();
	const int n = sl_runtime_n_steps(ref);
	sl_step *neon = calloc((size_t)n, sizeof(*neon));
	int claimed = 0, claimable = 0;
	uint8_t *ra = arena_of(ref), *la = arena_of(lock);
	for (int i = 0; i < n && !fails; i++) {
		sl_step *rs = (sl_step *)sl_runtime_step(ref, i), *ls = (sl_step *)sl_runtime_step(lock, i);
		const sl_node *node = &m->nodes[rs->node];
		const sl_tensor *out = &m->tensors[node->outputs[0]];
		const bool q8 = out->dtype == SL_DTYPE_I8 || out->dtype == SL_DTYPE_U8;
		claimable += q8 && (node->op == SL_OP_CONV_2D || node->op == SL_OP_DEPTHWISE_CONV_2D ||
				    node->op == SL_OP_FULLY_CONNECTED || same_shape_add(m, node) ||
				    node->op == SL_OP_AVERAGE_POOL_2D || node->op == SL_OP_SOFTMAX ||
				    node->op == SL_OP_MEAN || node->op == SL_OP_QUANTIZE);
		neon[i].node = rs->node;
		r = sl_dense_prepare_kernels(&ctx, rs->node, &k, &neon[i], &err);
		if (r < 0 && r != -EOPNOTSUPP) {
			fprintf(stderr, "FAIL %s node %d: prepare %d %s\n", path, rs->node, r, err.msg);
			fails++;
			break;
		}
		sl_step *run = r == 0 ? &neon[i] : ls;
		claimed += r == 0;
		if (rs->run)
			rs->run(rs, ra);
		if (run->run)
			run->run(run, la);
		char what[4400];
		snprintf(what, sizeof(what), "%s node %d (%s, %s)", path, rs->node, sl_op_name(node->op),
			 r == 0 ? neon[i].why : "reference");
		fails += same_bytes(what, out, ra + out->arena_offset, la + out->arena_offset);
	}
	for (int i = 0; i < n; i++)
		if (neon[i].destroy)
			neon[i].destroy(&neon[i]);
	free(neon);
	if (pool)
		pthreadpool_destroy(pool);
	if (claimed != claimable) {
		fprintf(stderr,
			"FAIL %s: dense claimed %d of %d int8 "
			"conv/depthwise/FC/ADD/pool/mean/softmax/quantize nodes\n",
			path, claimed, claimable);
		fails++;
	}
	printf("%s: lockstep (%s): %d of %d steps on dense kernels, outputs %s\n", path, k.gemm->name,
	       claimed, n, fails ? "DIFFER" : "bit-exact");

	/* The real thing: --backend dense, two threads (native kernels only). */
	if (!fails && sl_dense_gemm_select()) {
		const sl_runtime_options no = {.backend = SL_BACKEND_DENSE, .threads = 2};
		sl_runtime *nrt = NULL;
		if (sl_runtime_new(m, &no, &nrt, &err) < 0) {
			fprintf(stderr, "FAIL %s: dense runtime: %s\n", path, err.msg);
			fails++;
		} else {
			int on_neon = 0;
			const char *why = "";
			for (int i = 0; i < sl_runtime_n_steps(nrt); i++)
				if (sl_runtime_step(nrt, i)->impl == SL_IMPL_DENSE) {
					why = on_neon ? why : sl_runtime_step(nrt, i)->why;
					on_neon++;
				}
			memcpy(sl_runtime_input(nrt, 0), input, in_bytes);
			/* the reference's output is still the lockstep run's */
			if (sl_runtime_invoke(nrt) < 0) {
				fprintf(stderr, "FAIL %s: dense invoke\n", path);
				fails++;
			}
			const sl_tensor *ot = sl_runtime_output_tensor(ref, 0);
			fails += same_bytes("--backend dense output", ot, sl_runtime_output(ref, 0),
					    sl_runtime_output(nrt, 0));
			printf("%s: --backend dense: %d steps on dense kernels (first: %s), output %s\n",
			       path, on_neon, why, fails ? "DIFFERS" : "bit-exact");
			if (on_neon != claimable)
				fails++;
		}
		sl_runtime_free(nrt);
	}
	free(input);
out:
	sl_runtime_free(ref);
	sl_runtime_free(lock);
	sl_model_unref(m);
	return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("SL_SHARED_DIR");
	if (!dir || !*dir) {
		printf("SKIP: SL_SHARED_DIR not set: no shared models\n");
		return SKIP;
	}
	if (!sl_ntest_kernels().gemm) {
		printf("SKIP: no dense kernels for this build and CPU\n");
		return SKIP;
	}
	static const char *models[] = {"tf2_mobilenet_v2_1.0_224_ptq.tflite",
				       "mobilenet_v2_1.0_224_quant.tflite",
				       "mobilenet_v1_0.25_128_quant.tflite", "cifar10_resnet8_int8.tflite"};
	char image[4096];
	snprintf(image, sizeof(image), "%s/data/images/grace_hopper.bmp", dir);
	int passed = 0, failed = 0;
	const int n = argc > 1 ? argc - 1 : (int)(sizeof(models) / sizeof(models[0]));
	for (int i = 0; i < n; i++) {
		char path[4096];
		if (argc > 1)
			snprintf(path, sizeof(path), "%s", argv[i + 1]);
		else
			snprintf(path, sizeof(path), "%s/models/%s", dir, models[i]);
		if (access(path, R_OK) != 0 || access(image, R_OK) != 0) {
			printf("SKIP: %s or %s missing\n", path, image);
			return SKIP;
		}
		if (check_model(path, image))
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
