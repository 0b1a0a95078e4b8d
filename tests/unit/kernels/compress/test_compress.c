/* Compression library: fp32 master, int8 PTQ, block pruning with recovery,
 * Cholesky. Model-level tests use the shared CIFAR-10 ResNet-8 when present. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/compress/compress.h"
#include "kernels/compress/compress_internal.h"
#include "kernels/compress/recover_internal.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"
#include "kernels/tflite/tflite_write.h"

Test(compress_linalg, cholesky_solves_spd_system)
{
	/* A = M M^T + I for a fixed M; check A x = b. */
	enum { N = 7 };
	double m[N][N], a[N * N], l[N * N], b[2 * N], x[2 * N];
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			m[i][j] = sin(1.0 + i * 3 + j * 7);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			double s = i == j;
			for (int k = 0; k < N; k++)
				s += m[i][k] * m[j][k];
			a[i * N + j] = s;
		}
	for (int i = 0; i < 2 * N; i++)
		b[i] = cos(i);
	memcpy(l, a, sizeof(a));
	memcpy(x, b, sizeof(b));
	cr_assert_eq(la_cholesky(l, N), 0);
	la_cholesky_solve(l, N, x, 2);
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < N; i++) {
			double s = 0;
			for (int j = 0; j < N; j++)
				s += a[i * N + j] * x[r * N + j];
			cr_assert_float_eq(s, b[r * N + i], 1e-9);
		}
	double bad[4] = {1, 2, 2, 1}; /* indefinite */
	cr_assert_lt(la_cholesky(bad, 2), 0);
}

static sl_model *load_shared(const char *name)
{
	const char *dir = getenv("SL_SHARED_DIR");
	char path[4096];
	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/models/%s", dir, name);
	sl_model *m = NULL;
	sl_error err = {{0}};
	if (sl_tflite_load_file(path, &m, &err) < 0)
		return NULL;
	return m;
}

/* Deterministic pseudo-images in the model's input format. */
static sl_calib_set make_calib(const sl_model *m, int n)
{
	const sl_tensor *in = &m->tensors[m->inputs[0]];
	sl_calib_set cs = {.n = n, .bytes = in->bytes, .inputs = calloc((size_t)n, sizeof(void *))};
	for (int i = 0; i < n; i++) {
		cs.inputs[i] = malloc(in->bytes);
		const size_t e = in->bytes / sl_dtype_size(in->dtype);
		for (size_t k = 0; k < e; k++) {
			/* smooth gradients with per-image phase, like low-frequency image content */
			double v = 127.5 + 100 * sin(0.05 * (double)k + i) * cos(0.003 * (double)k * (i + 1));
			if (in->dtype == SL_DTYPE_F32)
				((float *)cs.inputs[i])[k] = (float)v;
			else
				((uint8_t *)cs.inputs[i])[k] = (uint8_t)v;
		}
	}
	return cs;
}

static void free_calib(sl_calib_set *cs)
{
	for (int i = 0; i < cs->n; i++)
		free(cs->inputs[i]);
	free(cs->inputs);
}

/* Output of model m on input x, as floats (dequantized). */
static void run(sl_model *m, const void *x, size_t bytes, float *out, int n_out)
{
	sl_runtime_options o = {.backend = SL_BACKEND_REF};
	sl_runtime *rt = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_runtime_new(m, &o, &rt, &err), 0, "%s", err.msg);
	memcpy(sl_runtime_input(rt, 0), x, bytes);
	cr_assert_eq(sl_runtime_invoke(rt), 0);
	const sl_tensor *t = sl_runtime_output_tensor(rt, 0);
	const void *y = sl_runtime_output(rt, 0);
	for (int i = 0; i < n_out; i++) {
		if (t->dtype == SL_DTYPE_F32)
			out[i] = ((const float *)y)[i];
		else if (t->dtype == SL_DTYPE_I8)
			out[i] = (((const int8_t *)y)[i] - t->q.zero_point[0]) * t->q.scale[0];
		else
			out[i] = (((const uint8_t *)y)[i] - t->q.zero_point[0]) * t->q.scale[0];
	}
	sl_runtime_free(rt);
}

static int argmax(const float *v, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

/* Output error w' H w of a weight change d (lower-triangle H). */
static double quad(const double *h, int n, const double *d)
{
	double e = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			e += d[i] * d[j] * (i >= j ? h[i * n + j] : h[j * n + i]);
	return e;
}

Test(compress_obs, identity_hessian_is_block_magnitude_pruning)
{
	enum { K = 10, N = K + 1 }; /* three blocks, the last partial, then a bias */
	double h[N * N] = {0}, w[N];
	for (int i = 0; i < N; i++) {
		h[i * N + i] = 1;
		w[i] = (i % 4 == 1 ? 0.1 : 1.0) * (i + 1) * (i & 1 ? -1 : 1);
	}
	w[4] = w[5] = w[6] = w[7] = 0.01; /* the weakest block */
	ob_factors f;
	cr_assert_eq(ob_factor(h, N, 0.0, &f), 0);
	double v[N];
	memcpy(v, w, sizeof(v));
	ob_prune_row(&f, K, v, 1);
	for (int i = 0; i < N; i++)
		cr_assert_float_eq(v[i], i >= 4 && i < 8 ? 0.0 : w[i], 1e-12, "entry %d", i);
	ob_factors_free(&f);
}

Test(compress_obs, compensates_correlated_inputs)
{
	/* Inputs with strong correlations (x = M z): OBS must zero exactly the
	 * asked blocks, never the bias, and lose less output than zeroing the
	 * same number of blocks by magnitude. */
	enum { K = 24, N = K + 1, S = 400 };
	static double h[N * N];
	double w[N], x[N];
	memset(h, 0, sizeof(h));
	for (int s = 0; s < S; s++) {
		for (int i = 0; i < K; i++)
			x[i] = sin(0.37 * s * (1 + i % 5)) + 0.8 * cos(0.11 * s + i / 4) +
			       0.05 * sin(7.1 * s * i);
		x[K] = 1;
		for (int i = 0; i < N; i++)
			for (int j = 0; j <= i; j++)
				h[i * N + j] += x[i] * x[j];
	}
	for (int i = 0; i < N; i++)
		w[i] = cos(1.3 * i + 0.2);
	ob_factors f;
	cr_assert_eq(ob_factor(h, N, 1e-6, &f), 0);
	double v[N], d_obs[N], d_mag[N];
	memcpy(v, w, sizeof(v));
	ob_prune_row(&f, K, v, 3);
	int zero_blocks = 0;
	for (int b = 0; b < K / 4; b++)
		zero_blocks += v[4 * b] == 0 && v[4 * b + 1] == 0 && v[4 * b + 2] == 0 && v[4 * b + 3] == 0;
	cr_assert_eq(zero_blocks, 3);
	cr_assert_neq(v[K], 0.0);
	/* magnitude: the three blocks of least energy, nothing compensated */
	double m[N];
	memcpy(m, w, sizeof(m));
	for (int q = 0; q < 3; q++) {
		int best = -1;
		double be = 0;
		for (int b = 0; b < K / 4; b++) {
			const double e = m[4 * b] * m[4 * b] + m[4 * b + 1] * m[4 * b + 1] +
					 m[4 * b + 2] * m[4 * b + 2] + m[4 * b + 3] * m[4 * b + 3];
			if (e > 0 && (best < 0 || e < be)) {
				best = b;
				be = e;
			}
		}
		for (int j = 0; j < 4; j++)
			m[4 * best + j] = 0;
	}
	for (int i = 0; i < N; i++) {
		d_obs[i] = v[i] - w[i];
		d_mag[i] = m[i] - w[i];
	}
	cr_assert_lt(quad(h, N, d_obs), 0.5 * quad(h, N, d_mag), "OBS %g, magnitude %g", quad(h, N, d_obs),
		     quad(h, N, d_mag));
	ob_factors_free(&f);
}

Test(compress_recover, batch_norm_reestimation_matches_dense_moments)
{
	/* Rows pruned and shrunk (as least squares leaves them) get the dense
	 * rows' output mean and variance back; the zeros stay zeros. */
	enum { K = 6, O = 3, KT = K + 1, S = 300 };
	static float wd[O * K], wt[O * K], bt[O];
	static double h[KT * KT], g[KT * O], yyr[O], xs[S][KT];
	const float bd[O] = {0.5f, -1.0f, 2.0f};
	for (int r = 0; r < O; r++)
		for (int i = 0; i < K; i++) {
			wd[r * K + i] = (float)cos(0.7 * r + 1.3 * i);
			wt[r * K + i] = i % 3 == r ? 0.0f : 0.6f * wd[r * K + i];
		}
	for (int s = 0; s < S; s++) {
		for (int i = 0; i < K; i++)
			xs[s][i] = sin(0.37 * s * (1 + i)) + 0.5 * i;
		xs[s][K] = 1;
		for (int i = 0; i < KT; i++)
			for (int j = 0; j <= i; j++)
				h[i * KT + j] += xs[s][i] * xs[s][j];
		for (int r = 0; r < O; r++) {
			double y = bd[r];
			for (int i = 0; i < K; i++)
				y += wd[r * K + i] * xs[s][i];
			for (int i = 0; i < KT; i++)
				g[i * O + r] += xs[s][i] * y;
			yyr[r] += y * y;
		}
	}
	sl_model *m = sl_model_new();
	sl_error err = {0};
	const sl_tensor tin = {.dtype = SL_DTYPE_F32, .rank = 4, .dims = {1, 1, 1, K}};
	const sl_tensor tw = {.dtype = SL_DTYPE_F32,
			      .rank = 4,
			      .dims = {O, 1, 1, K},
			      .kind = SL_TENSOR_CONST,
			      .data = wt,
			      .bytes = sizeof(wt)};
	const sl_tensor tb = {.dtype = SL_DTYPE_F32,
			      .rank = 1,
			      .dims = {O},
			      .kind = SL_TENSOR_CONST,
			      .data = bt,
			      .bytes = sizeof(bt)};
	const sl_tensor tout = {.dtype = SL_DTYPE_F32, .rank = 4, .dims = {1, 1, 1, O}};
	cr_assert_eq(sl_model_add_tensor(m, &tin, &err), 0);
	cr_assert_eq(sl_model_add_tensor(m, &tw, &err), 1);
	cr_assert_eq(sl_model_add_tensor(m, &tb, &err), 2);
	cr_assert_eq(sl_model_add_tensor(m, &tout, &err), 3);
	int32_t ins[3] = {0, 1, 2}, outs[1] = {3};
	const sl_node nd = {
	    .op = SL_OP_CONV_2D, .n_inputs = 3, .n_outputs = 1, .inputs = ins, .outputs = outs};
	cr_assert_eq(sl_model_add_node(m, &nd, &err), 0);
	rl l = {.node = 0, .kt = K, .ot = O};
	l.a[0] = (acc){.h = h, .g = g, .yyr = yyr, .n = S};
	cr_assert_eq(cr_rescale_layer(m, &l), 0);
	const float *w = m->tensors[1].data, *b = m->tensors[2].data;
	for (int r = 0; r < O; r++) {
		double m0 = 0, q0 = 0, m1 = 0, q1 = 0;
		for (int s = 0; s < S; s++) {
			double y0 = bd[r], y1 = b[r];
			for (int i = 0; i < K; i++) {
				y0 += wd[r * K + i] * xs[s][i];
				y1 += w[r * K + i] * xs[s][i];
			}
			m0 += y0 / S;
			q0 += y0 * y0 / S;
			m1 += y1 / S;
			q1 += y1 * y1 / S;
		}
		cr_assert_float_eq(m1, m0, 1e-4 * (1 + fabs(m0)), "row %d mean %g, dense %g", r, m1, m0);
		cr_assert_float_eq(q1 - m1 * m1, q0 - m0 * m0, 1e-4 * (q0 - m0 * m0), "row %d variance", r);
		for (int i = r; i < K; i += 3)
			cr_assert_eq(w[r * K + i], 0.0f, "row %d entry %d pruned", r, i);
	}
	sl_model_unref(m);
}

Test(compress, master_of_uint8_model_tracks_it)
{
	sl_model *src = load_shared("mobilenet_v1_0.25_128_quant.tflite");
	if (!src)
		cr_skip_test("SL_SHARED_DIR/models/mobilenet_v1_0.25_128_quant.tflite not available");
	sl_model *master = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_compress_master(src, &master, &err), 0, "%s", err.msg);
	/* Same input contract: the uint8 input is kept, the rest is float. */
	const sl_tensor *in = &master->tensors[master->inputs[0]];
	cr_assert_eq(in->dtype, SL_DTYPE_U8);
	cr_assert_eq(master->tensors[master->outputs[0]].dtype, SL_DTYPE_F32);
	for (int i = 0; i < master->n_tensors; i++)
		if (master->tensors[i].kind == SL_TENSOR_CONST && master->tensors[i].dtype != SL_DTYPE_I32)
			cr_assert_eq(master->tensors[i].dtype, SL_DTYPE_F32, "tensor %d", i);
	sl_calib_set cs = make_calib(src, 4);
	float a[1001], b[1001];
	int agree = 0;
	for (int i = 0; i < cs.n; i++) {
		run(src, cs.inputs[i], cs.bytes, a, 1001);
		run(master, cs.inputs[i], cs.bytes, b, 1001);
		agree += argmax(a, 1001) == argmax(b, 1001);
		double d = 0;
		for (int k = 0; k < 1001; k++)
			d = fmax(d, fabs(a[k] - b[k]));
		cr_assert_lt(d, 0.1, "image %d: probabilities differ by %g", i, d);
	}
	cr_assert_geq(agree, 3);
	free_calib(&cs);
	sl_model_unref(master);
	sl_model_unref(src);
}

Test(compress, int8_and_sparse_variants_of_resnet8)
{
	sl_model *src = load_shared("cifar10_resnet8_float.tflite");
	if (!src)
		cr_skip_test("SL_SHARED_DIR/models/cifar10_resnet8_float.tflite not available");
	sl_model *master = NULL, *q = NULL, *sp = NULL, *spr = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_compress_master(src, &master, &err), 0, "%s", err.msg);
	sl_calib_set cs = make_calib(master, 16);
	sl_compress_opts o;
	sl_compress_opts_init(&o);
	o.backend = SL_BACKEND_REF;
	sl_compress_ctx *c = NULL;
	cr_assert_eq(sl_compress_ctx_new(master, &cs, &o, &c, &err), 0, "%s", err.msg);

	cr_assert_eq(sl_compress_int8(c, master, &q, &err), 0, "%s", err.msg);
	/* int8 keeps the float input contract and quantizes per channel. */
	cr_assert_eq(q->tensors[q->inputs[0]].dtype, SL_DTYPE_F32);
	bool per_channel = false;
	for (int i = 0; i < q->n_nodes; i++)
		if (q->nodes[i].op == SL_OP_CONV_2D) {
			const sl_tensor *w = &q->tensors[q->nodes[i].inputs[1]];
			cr_assert_eq(w->dtype, SL_DTYPE_I8);
			per_channel |= w->q.n == w->dims[0] && w->q.n > 1;
			for (int k = 0; k < w->q.n; k++)
				cr_assert_eq(w->q.zero_point[k], 0);
		}
	cr_assert(per_channel);
	/* ... and classifies the held-out calibration images as the master does. */
	int agree = -1, n = -1;
	cr_assert_eq(sl_compress_agreement(c, q, &agree, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 3);
	cr_expect_eq(agree, n);

	cr_assert_eq(sl_compress_sparse(c, 0.5, &spr, &err), 0, "%s", err.msg);
	cr_assert_geq(sl_compress_weight_sparsity(spr), 0.45);
	/* The sparse kernels' 1x4 blocks: four consecutive inputs of one row
	 * are zero together. */
	for (int i = 0; i < spr->n_nodes; i++) {
		const sl_node *n = &spr->nodes[i];
		if (n->op != SL_OP_CONV_2D && n->op != SL_OP_FULLY_CONNECTED)
			continue;
		const sl_tensor *w = &spr->tensors[n->inputs[1]];
		const int o = w->dims[0], k = (int)(sl_tensor_numel(w) / o);
		const float *f = w->data;
		for (int r = 0; r < o; r++)
			for (int j = 0; j + 4 <= k; j += 4) {
				int z = 0;
				for (int q = 0; q < 4; q++)
					z += f[(size_t)r * k + j + q] == 0.0f;
				cr_assert(z == 0 || z == 4, "node %d: block (%d, %d) partly zero", i, r, j);
			}
	}

	/* Recovery must beat plain magnitude pruning on the calibration data. */
	sl_compress_ctx_free(c);
	o.recovery = false;
	cr_assert_eq(sl_compress_ctx_new(master, &cs, &o, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_compress_sparse(c, 0.5, &sp, &err), 0, "%s", err.msg);
	double e_rec = 0, e_mag = 0;
	for (int i = 0; i < cs.n; i++) {
		float a[10], b[10], d[10];
		run(master, cs.inputs[i], cs.bytes, a, 10);
		run(spr, cs.inputs[i], cs.bytes, b, 10);
		run(sp, cs.inputs[i], cs.bytes, d, 10);
		for (int k = 0; k < 10; k++) {
			e_rec += (a[k] - b[k]) * (a[k] - b[k]);
			e_mag += (a[k] - d[k]) * (a[k] - d[k]);
		}
	}
	cr_assert_lt(e_rec, e_mag, "recovered error %g, magnitude-only %g", e_rec, e_mag);

	/* Every variant serialises and re-imports. */
	sl_model *vs[] = {master, q, sp, spr};
	for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		void *buf;
		size_t size;
		sl_model *back = NULL;
		cr_assert_eq(sl_tflite_write_mem(vs[i], &buf, &size, &err), 0, "%s", err.msg);
		cr_assert_eq(sl_tflite_load_mem(buf, size, "variant", &back, &err), 0, "variant %zu: %s", i,
			     err.msg);
		sl_model_unref(back);
		free(buf);
	}
	sl_compress_ctx_free(c);
	free_calib(&cs);
	sl_model_unref(q);
	sl_model_unref(sp);
	sl_model_unref(spr);
	sl_model_unref(master);
	sl_model_unref(src);
}

/* A dead activation (a heavily pruned network's: ReLU of large negative
 * values, zero on every calibration input) must still get a scale that
 * TFLite (which quantizes the ReLU bounds with it into int32) and XNNPACK
 * (requantization multiplier below 256) accept: LiteRT refused such a model. */
Test(compress, dead_activation_gets_usable_scale)
{
	sl_model *src = load_shared("cifar10_resnet8_float.tflite");
	if (!src)
		cr_skip_test("SL_SHARED_DIR/models/cifar10_resnet8_float.tflite not available");
	sl_model *master = NULL, *q = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_compress_master(src, &master, &err), 0, "%s", err.msg);
	/* The second convolution: its input is int8 once quantized, so its
	 * requantization multiplier is fixed by the calibration. */
	int node = -1;
	for (int i = 0, seen = 0; i < master->n_nodes && node < 0; i++)
		if (master->nodes[i].op == SL_OP_CONV_2D && seen++ == 1)
			node = i;
	cr_assert_geq(node, 0);
	const sl_node *nd = &master->nodes[node];
	cr_assert(nd->act == SL_ACT_RELU || nd->act == SL_ACT_RELU6, "the test needs a fused ReLU");
	sl_tensor *b = &master->tensors[nd->inputs[2]];
	for (int64_t i = 0; i < sl_tensor_numel(b); i++)
		((float *)b->data)[i] = -1e4f;
	sl_calib_set cs = make_calib(master, 4);
	sl_compress_opts o;
	sl_compress_opts_init(&o);
	o.backend = SL_BACKEND_REF;
	sl_compress_ctx *c = NULL;
	cr_assert_eq(sl_compress_ctx_new(master, &cs, &o, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_compress_int8(c, master, &q, &err), 0, "%s", err.msg);
	for (int i = 0; i < q->n_nodes; i++) {
		const sl_node *n = &q->nodes[i];
		if (n->op != SL_OP_CONV_2D)
			continue;
		const sl_tensor *in = &q->tensors[n->inputs[0]], *w = &q->tensors[n->inputs[1]],
				*out = &q->tensors[n->outputs[0]];
		cr_assert_geq(out->q.scale[0], 1e-7f, "node %d: scale %g", i, out->q.scale[0]);
		for (int k = 0; k < w->q.n; k++)
			cr_assert_lt(in->q.scale[0] * w->q.scale[k] / out->q.scale[0], 256.0f,
				     "node %d channel %d: multiplier over XNNPACK's limit", i, k);
	}
	sl_compress_ctx_free(c);
	free_calib(&cs);
	sl_model_unref(q);
	sl_model_unref(master);
	sl_model_unref(src);
}

/* Mean KL(softmax a || softmax b) is what a classifier feels; the models below
 * end in SOFTMAX, so their outputs are probabilities already. */
static double kl_probs(const float *a, const float *b, int n)
{
	double d = 0;
	for (int i = 0; i < n; i++)
		if (a[i] > 0)
			d += a[i] * (log(a[i]) - log(fmax(b[i], 1e-12)));
	return d;
}

/* MobileNet v1: depthwise/pointwise stacks and a 1x1-conv classifier behind a
 * global average pool (re-fitted on per-position features). Recovery keeps a
 * layer's re-fit only when the network's output on held-out calibration
 * inputs gets closer to the master's, so it must not end up worse than plain
 * magnitude pruning on the calibration inputs. */
Test(compress, recovery_not_worse_than_magnitude_on_mobilenet_v1, .timeout = 240)
{
	sl_model *src = load_shared("mobilenet_v1_0.25_128_quant.tflite");
	if (!src)
		cr_skip_test("SL_SHARED_DIR/models/mobilenet_v1_0.25_128_quant.tflite not available");
	sl_model *master = NULL, *rec = NULL, *mag = NULL;
	sl_error err = {{0}};
	cr_assert_eq(sl_compress_master(src, &master, &err), 0, "%s", err.msg);
	sl_calib_set cs = make_calib(master, 20);
	sl_compress_opts o;
	sl_compress_opts_init(&o);
	o.sens_images = 4;
	sl_compress_ctx *c = NULL;
	cr_assert_eq(sl_compress_ctx_new(master, &cs, &o, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_compress_sparse(c, 0.5, &rec, &err), 0, "%s", err.msg);
	sl_compress_ctx_free(c);
	o.recovery = false;
	cr_assert_eq(sl_compress_ctx_new(master, &cs, &o, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_compress_sparse(c, 0.5, &mag, &err), 0, "%s", err.msg);
	sl_compress_ctx_free(c);
	cr_assert_geq(sl_compress_weight_sparsity(rec), 0.45);
	double d_rec = 0, d_mag = 0;
	static float a[1001], b[1001], d[1001];
	for (int i = 0; i < cs.n; i++) {
		run(master, cs.inputs[i], cs.bytes, a, 1001);
		run(rec, cs.inputs[i], cs.bytes, b, 1001);
		run(mag, cs.inputs[i], cs.bytes, d, 1001);
		d_rec += kl_probs(a, b, 1001);
		d_mag += kl_probs(a, d, 1001);
	}
	cr_assert_leq(d_rec, d_mag * 1.05, "recovered KL %g, magnitude-only %g", d_rec / cs.n, d_mag / cs.n);
	free_calib(&cs);
	sl_model_unref(rec);
	sl_model_unref(mag);
	sl_model_unref(master);
	sl_model_unref(src);
}
