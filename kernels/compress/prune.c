/* Magnitude pruning in 1x4 blocks (four consecutive output channels sharing an
 * input position, the block the sparse SpMM kernels consume), with per-layer
 * sparsity allocated from measured sensitivity. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

#define BLOCK_ROWS	   4
#define MAX_LAYER_SPARSITY 0.97

const double cc_sens_levels[CC_SENS_LEVELS] = {0.3, 0.5, 0.7, 0.8, 0.9, 0.95};

typedef struct {
	float score;
	int idx;
} scored;

static int cmp_scored(const void *a, const void *b)
{
	const scored *x = a, *y = b;
	return x->score < y->score ? -1 : (x->score > y->score ? 1 : (x->idx - y->idx));
}

/* Zero the weakest `s` of the blocks of w[o][k] (rows grouped by four). A
 * block's weight is its energy times the mean square of the input it reads
 * (in_sq, per input channel, NULL: plain magnitude): a small weight on a
 * large activation matters as much as a large weight on a small one, and
 * MobileNet's folded batch norms make channel scales differ by orders of
 * magnitude. */
static int prune_blocks(float *w, int o, int k, const double *in_sq, int ci, double s)
{
	const int ng = (o + BLOCK_ROWS - 1) / BLOCK_ROWS;
	const size_t nb = (size_t)ng * (size_t)k;
	scored *v = malloc(sizeof(*v) * (nb ? nb : 1));
	double *inv = malloc(sizeof(double) * (size_t)(o ? o : 1));
	if (!v || !inv) {
		free(v);
		free(inv);
		return -ENOMEM;
	}
	/* Each row's share of its own output energy: folded batch norms give
	 * the four rows of a block output scales orders of magnitude apart, and
	 * absolute energies would let the largest row decide for all four. */
	for (int r = 0; r < o; r++) {
		double e = 0;
		for (int kk = 0; kk < k; kk++)
			e += (double)w[(size_t)r * k + kk] * w[(size_t)r * k + kk] *
			     (in_sq ? in_sq[kk % ci] : 1.0);
		inv[r] = e > 0 ? 1.0 / e : 0.0;
	}
	for (int g = 0; g < ng; g++) {
		const int r1 = SL_MIN(o, (g + 1) * BLOCK_ROWS);
		for (int kk = 0; kk < k; kk++) {
			double e = 0;
			for (int r = g * BLOCK_ROWS; r < r1; r++)
				e += (double)w[(size_t)r * k + kk] * w[(size_t)r * k + kk] * inv[r];
			if (in_sq)
				e *= in_sq[kk % ci];
			v[(size_t)g * k + kk] = (scored){(float)e, (int)((size_t)g * k + kk)};
		}
	}
	qsort(v, nb, sizeof(*v), cmp_scored);
	const size_t cut = (size_t)llround(s * (double)nb);
	for (size_t i = 0; i < cut && i < nb; i++) {
		const int g = v[i].idx / k, kk = v[i].idx % k;
		for (int r = g * BLOCK_ROWS; r < SL_MIN(o, (g + 1) * BLOCK_ROWS); r++)
			w[(size_t)r * k + kk] = 0;
	}
	free(v);
	free(inv);
	return 0;
}

/* Mean square of each input channel of a layer on the calibration set, or NULL. */
static const double *in_sq(const sl_compress_ctx *c, const cl_layer *L)
{
	const co_stats *st = &c->master_stats[L->in];
	if (!st->ch_sq || st->channels != L->ci || st->count <= 0)
		return NULL;
	return st->ch_sq; /* a common factor (the count) does not change the ranking */
}

/* The tensor whose distortion measures damage: the logits when the model ends in a softmax. */
static int logits_tensor(const sl_model *m)
{
	const int out = m->outputs[0];
	for (int i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].outputs[0] == out && m->nodes[i].op == SL_OP_SOFTMAX)
			return m->nodes[i].inputs[0];
	return out;
}

typedef struct {
	int tensor;
	int64_t len;
	float *dst;
} grab_ctx;

static void grab(void *ud, int t, const void *data)
{
	grab_ctx *g = ud;
	if (t == g->tensor)
		memcpy(g->dst, data, (size_t)g->len * sizeof(float));
}

/* Outputs of `m` (logits) for the first n calibration inputs into y[n][len]. */
static int run_logits(sl_compress_ctx *c, sl_model *m, int n, int lt, int64_t len, float *y, sl_error *err)
{
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	int r = co_runtime(m, &c->o, &rt, err);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		grab_ctx g = {.tensor = lt, .len = len, .dst = y + (size_t)i * len};
		co_set_input(rt, c->cs, i);
		if ((r = sl_runtime_invoke_observed(rt, grab, &g)) < 0)
			return r;
	}
	return 0;
}

static double sq_error(const float *a, const float *b, int64_t n)
{
	double e = 0;
	for (int64_t i = 0; i < n; i++)
		e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return e;
}

/* Mean KL(softmax(ref) || softmax(y)) over n rows of logits: what a
 * classifier's ranking feels, unlike a plain logit error that also counts
 * shifts the softmax ignores. */
static double mean_kl(const float *ref, const float *y, int n, int64_t len)
{
	double total = 0;
	for (int i = 0; i < n; i++) {
		const float *a = ref + (size_t)i * len, *b = y + (size_t)i * len;
		double ma = -INFINITY, mb = -INFINITY, za = 0, zb = 0, kl = 0;
		for (int64_t k = 0; k < len; k++) {
			ma = fmax(ma, a[k]);
			mb = fmax(mb, b[k]);
		}
		for (int64_t k = 0; k < len; k++) {
			za += exp(a[k] - ma);
			zb += exp(b[k] - mb);
		}
		for (int64_t k = 0; k < len; k++) {
			const double la = a[k] - ma - log(za), lb = b[k] - mb - log(zb);
			kl += exp(la) * (la - lb);
		}
		total += kl;
	}
	return total / (n ? n : 1);
}

static int measure_sensitivity(sl_compress_ctx *c, sl_error *err)
{
	if (c->sens)
		return 0;
	_cleanup_(sl_model_unrefp) sl_model *work = NULL;
	int r = cg_clone(c->master, &work, err);
	if (r < 0 || (r = sl_model_finalize(work, err)) < 0)
		return r;
	const int n = SL_MIN(c->o.sens_images, c->cs->n);
	const int lt = logits_tensor(work);
	const bool softmax_out = lt != work->outputs[0];
	const int64_t len = sl_tensor_numel(&work->tensors[lt]);
	_cleanup_free_ float *ref = malloc(sizeof(float) * (size_t)(n * len));
	_cleanup_free_ float *y = malloc(sizeof(float) * (size_t)(n * len));
	double *sens = calloc((size_t)c->n_layers * CC_SENS_LEVELS, sizeof(double));
	if (!ref || !y || !sens) {
		free(sens);
		return -ENOMEM;
	}
	if ((r = run_logits(c, work, n, lt, len, ref, err)) < 0) {
		free(sens);
		return r;
	}
	double ref_energy = 0;
	for (int64_t i = 0; i < n * len; i++)
		ref_energy += (double)ref[i] * ref[i];
	if (ref_energy <= 0)
		ref_energy = 1;

	for (int l = 0; l < c->n_layers; l++) {
		const cl_layer *L = &c->layers[l];
		if (!L->prunable)
			continue;
		float *w = (float *)work->tensors[L->w].data;
		const size_t nw = (size_t)L->o * L->k;
		float *orig = malloc(sizeof(float) * nw);
		if (!orig) {
			free(sens);
			return -ENOMEM;
		}
		memcpy(orig, w, sizeof(float) * nw);
		for (int j = 0; j < CC_SENS_LEVELS && r >= 0; j++) {
			memcpy(w, orig, sizeof(float) * nw);
			if ((r = prune_blocks(w, L->o, L->k, in_sq(c, L), L->ci, cc_sens_levels[j])) < 0)
				break;
			if ((r = run_logits(c, work, n, lt, len, y, err)) < 0)
				break;
			sens[l * CC_SENS_LEVELS + j] =
			    softmax_out ? mean_kl(ref, y, n, len) : sq_error(ref, y, n * len) / ref_energy;
		}
		memcpy(w, orig, sizeof(float) * nw);
		free(orig);
		if (r < 0) {
			free(sens);
			return r;
		}
		cg_progress(&c->o, "sensitivity %d/%d: node %d (%dx%d) at 50%%: %.3g, 90%%: %.3g", l + 1,
			    c->n_layers, L->node, L->o, L->k, sens[l * CC_SENS_LEVELS + 1],
			    sens[l * CC_SENS_LEVELS + 4]);
	}
	c->sens = sens;
	return 0;
}

/* Distortion of layer l at sparsity s: piecewise linear through the measured
 * points, made monotone, extrapolated steeply past the last one. */
static double distortion(const sl_compress_ctx *c, int l, double s)
{
	const double *d = c->sens + (size_t)l * CC_SENS_LEVELS;
	double px = 0, py = 0, best = 0;
	for (int j = 0; j < CC_SENS_LEVELS; j++) {
		double x = cc_sens_levels[j], yv = SL_MAX(d[j], best);
		best = yv;
		if (s <= x)
			return py + (yv - py) * (s - px) / (x - px);
		px = x;
		py = yv;
	}
	const double slope = (d[CC_SENS_LEVELS - 1] - d[CC_SENS_LEVELS - 2]) /
			     (cc_sens_levels[CC_SENS_LEVELS - 1] - cc_sens_levels[CC_SENS_LEVELS - 2]);
	return py + 2.0 * SL_MAX(slope, 0.0) * (s - px);
}

/* Greedy allocation in 1 % steps: always prune further where one more weight
 * zeroed costs the least distortion, until the model-wide target is met. */
static void allocate(const sl_compress_ctx *c, double target, double *s)
{
	int64_t total = 0, zeros = 0;
	for (int i = 0; i < c->master->n_nodes; i++) {
		const sl_node *nd = &c->master->nodes[i];
		if (nd->op == SL_OP_CONV_2D || nd->op == SL_OP_FULLY_CONNECTED ||
		    nd->op == SL_OP_DEPTHWISE_CONV_2D)
			total += sl_tensor_numel(&c->master->tensors[nd->inputs[1]]);
	}
	const double need = target * (double)total;
	for (int l = 0; l < c->n_layers; l++)
		s[l] = 0;
	const double step = 0.01;
	for (;;) {
		if ((double)zeros >= need)
			break;
		int best = -1;
		double best_cost = INFINITY;
		for (int l = 0; l < c->n_layers; l++) {
			const cl_layer *L = &c->layers[l];
			if (!L->prunable || s[l] + step > MAX_LAYER_SPARSITY + 1e-9)
				continue;
			const double n = (double)L->o * L->k;
			const double cost =
			    (distortion(c, l, s[l] + step) - distortion(c, l, s[l])) / (step * n);
			if (cost < best_cost) {
				best_cost = cost;
				best = l;
			}
		}
		if (best < 0)
			break;
		s[best] += step;
		zeros = 0;
		for (int l = 0; l < c->n_layers; l++)
			zeros += (int64_t)(s[l] * (double)c->layers[l].o * c->layers[l].k);
	}
}

int sl_compress_sparse(sl_compress_ctx *c, double sparsity, sl_model **ret, sl_error *err)
{
	if (!c || !ret || !(sparsity >= 0 && sparsity < 1))
		return -EINVAL;
	int r = measure_sensitivity(c, err);
	if (r < 0)
		return r;
	_cleanup_free_ double *s = calloc((size_t)c->n_layers + 1, sizeof(double));
	if (!s)
		return -ENOMEM;
	allocate(c, sparsity, s);

	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	if ((r = cg_clone(c->master, &m, err)) < 0 || (r = sl_model_finalize(m, err)) < 0)
		return r;
	for (int l = 0; l < c->n_layers; l++) {
		const cl_layer *L = &c->layers[l];
		if (s[l] <= 0)
			continue;
		if ((r = prune_blocks((float *)m->tensors[L->w].data, L->o, L->k, in_sq(c, L), L->ci, s[l])) <
		    0)
			return r;
	}
	{
		char line[200];
		int len = snprintf(line, sizeof(line), "sparse-%.0f: per-layer sparsity", sparsity * 100);
		for (int l = 0; l < c->n_layers && len < (int)sizeof(line) - 8; l++)
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %.0f", s[l] * 100);
		cg_progress(&c->o, "%s", line);
	}
	if (c->o.recovery && (r = cr_recover(c, m, err)) < 0)
		return r;
	free(m->description);
	m->description =
	    strdup(c->o.recovery ? "sightline sparse (recovered)" : "sightline sparse (magnitude)");
	*ret = SL_TAKE_PTR(m);
	return 0;
}
