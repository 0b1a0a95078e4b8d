/* Recovery without retraining: re-fit each pruned layer's surviving weights
 * (and its bias) by damped least squares so that, fed the pruned network's
 * own activations, it reproduces the dense layer's output on calibration
 * data. Layers are re-fitted in stages along the network, each stage seeing
 * the already recovered layers before it, so errors do not compound.
 *
 * For one output row w (dense, bias appended) and the kept set S of the
 * target row, with x the dense layer's input patch and x' the pruned
 * network's (both with a trailing 1):
 *     (H'_SS + l I) v = (C w)_S + l w0_S,   H' = sum x' x'^T,  C = sum x' x^T
 * where w0 is the row before the re-fit and l = damp * mean(diag H'). Rows
 * that share a sparsity pattern (the four rows of a 1x4 block) share one
 * factorisation. Before the re-fit of an unstructured-pruned layer, its zero
 * blocks are re-chosen by OBS saliency under H' (same count as magnitude
 * chose). Depthwise layers, which are not pruned, get their biases
 * re-estimated from the shift of their input means. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

#define STAGES 8

typedef struct {
	int node;
	int kd, kt; /* patch length in the dense and in the target model */
	int o;
	int npos, p;  /* output positions, patches taken per image */
	long samples; /* patches accumulated */
	int *pos;
	float *xd, *xt; /* p x (k + 1) */
	double *h, *c;	/* (kt+1)^2, (kt+1) x (kd+1) */
	bool active;
} rl;

typedef struct {
	int node;
	int ch;
	double *sum_d, *sum_t;
	double count;
} dwl;

typedef struct {
	const sl_model *dense, *target;
	rl *layers;
	int n;
	dwl *dw;
	int n_dw;
	bool dense_pass;
} rctx;

static void extract(const sl_model *m, const sl_node *nd, const float *x, int pos, float *dst)
{
	const sl_tensor *in = &m->tensors[nd->inputs[0]];
	const sl_tensor *w = &m->tensors[nd->inputs[1]];
	if (nd->op == SL_OP_FULLY_CONNECTED) {
		const int k = (int)(sl_tensor_numel(w) / w->dims[0]);
		memcpy(dst, x + (size_t)pos * k, sizeof(float) * (size_t)k);
		dst[k] = 1;
		return;
	}
	const sl_tensor *out = &m->tensors[nd->outputs[0]];
	const int H = in->dims[1], W = in->dims[2], C = in->dims[3];
	const int OW = out->dims[2];
	const int kh = w->dims[1], kw = w->dims[2];
	const sl_conv_params *p = &nd->p.conv;
	const int oy = pos / OW, ox = pos % OW;
	float *d = dst;
	for (int ky = 0; ky < kh; ky++) {
		const int iy = oy * p->stride_h - p->pad_top + ky * SL_MAX(p->dilation_h, 1);
		for (int kx = 0; kx < kw; kx++, d += C) {
			const int ix = ox * p->stride_w - p->pad_left + kx * SL_MAX(p->dilation_w, 1);
			if (iy < 0 || iy >= H || ix < 0 || ix >= W)
				memset(d, 0, sizeof(float) * (size_t)C);
			else
				memcpy(d, x + ((size_t)iy * W + ix) * C, sizeof(float) * (size_t)C);
		}
	}
	*d = 1;
}

static void accumulate(rl *l)
{
	const int kt = l->kt + 1, kd = l->kd + 1;
	for (int p = 0; p < l->p; p++) {
		const float *xt = l->xt + (size_t)p * kt, *xd = l->xd + (size_t)p * kd;
		for (int a = 0; a < kt; a++) {
			const double va = xt[a];
			if (va == 0)
				continue;
			double *hr = l->h + (size_t)a * kt, *cr = l->c + (size_t)a * kd;
			for (int b = 0; b <= a; b++)
				hr[b] += va * xt[b];
			for (int b = 0; b < kd; b++)
				cr[b] += va * xd[b];
		}
	}
}

static void observe(void *ud, int t, const void *data)
{
	rctx *c = ud;
	const sl_model *m = c->dense_pass ? c->dense : c->target;
	if (m->tensors[t].dtype != SL_DTYPE_F32)
		return;
	for (int i = 0; i < c->n; i++) {
		rl *l = &c->layers[i];
		const sl_node *nd = &m->nodes[l->node];
		if (!l->active || nd->inputs[0] != t)
			continue;
		const int k = (c->dense_pass ? l->kd : l->kt) + 1;
		float *dst = c->dense_pass ? l->xd : l->xt;
		for (int p = 0; p < l->p; p++)
			extract(m, nd, data, l->pos[p], dst + (size_t)p * k);
		if (!c->dense_pass) {
			accumulate(l);
			l->samples += l->p;
		}
	}
	for (int i = 0; i < c->n_dw; i++) {
		dwl *d = &c->dw[i];
		if (m->nodes[d->node].inputs[0] != t)
			continue;
		const int64_t n = sl_tensor_numel(&m->tensors[t]);
		double *sum = c->dense_pass ? d->sum_d : d->sum_t;
		const float *x = data;
		for (int64_t e = 0; e < n; e++)
			sum[e % d->ch] += x[e];
		if (c->dense_pass)
			d->count += (double)(n / d->ch);
	}
}

static uint32_t rng_next(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* Least-squares objective of one row v (kt entries, bias last) up to a
 * constant: v^T H' v - 2 v^T (C w). */
static double row_objective(const rl *l, const double *v, const float *wd, float bd, bool has_bias)
{
	const int kt = l->kt + 1, kd = l->kd + 1;
	double q = 0;
	for (int a = 0; a < kt; a++) {
		if (v[a] == 0)
			continue;
		const double *hr = l->h + (size_t)a * kt, *cr = l->c + (size_t)a * kd;
		double hv = 0, cw = has_bias ? cr[kd - 1] * bd : 0;
		for (int b = 0; b < kt; b++)
			hv += hr[b] * v[b];
		for (int b = 0; b < kd - 1; b++)
			cw += cr[b] * wd[b];
		q += v[a] * (hv - 2 * cw);
	}
	return q;
}

static double layer_objective(const rl *l, const float *wt, const float *bt, const float *wdn,
			      const float *bd)
{
	const int kt = l->kt + 1;
	double *v = malloc(sizeof(double) * (size_t)kt), q = 0;
	if (!v)
		return NAN;
	for (int r = 0; r < l->o; r++) {
		for (int k = 0; k < kt - 1; k++)
			v[k] = wt[(size_t)r * (kt - 1) + k];
		v[kt - 1] = bt ? bt[r] : 0;
		q += row_objective(l, v, wdn + (size_t)r * l->kd, bd ? bd[r] : 0, bt != NULL);
	}
	free(v);
	return q;
}

typedef struct {
	double sal;
	int idx;
} salient;

static int cmp_salient(const void *a, const void *b)
{
	const salient *x = a, *y = b;
	return x->sal < y->sal ? -1 : (x->sal > y->sal ? 1 : x->idx - y->idx);
}

/* Re-choose which 1x4 blocks are zero by their optimal-brain-surgeon saliency
 * under the pruned network's own input statistics, sum_r w_rj^2 / [H'^-1]_jj,
 * instead of magnitude, keeping the layer's number of zero blocks; the other
 * weights return to their dense values before the re-fit. Correlated inputs
 * make magnitude a poor guide: a small weight whose input the others can
 * stand in for is cheap to drop, a lone carrier of information is not. */
static int obs_reselect(const rl *l, float *wt, const float *wd, double lambda)
{
	const int K = l->kt, kt = K + 1, o = l->o, ng = (o + 3) / 4;
	size_t nz = 0;
	for (int g = 0; g < ng; g++)
		for (int j = 0; j < K; j++) {
			bool zero = true;
			for (int r = g * 4; r < SL_MIN(o, g * 4 + 4); r++)
				zero &= wt[(size_t)r * K + j] == 0.0f;
			nz += zero;
		}
	if (nz == 0)
		return 0;
	double *L = malloc(sizeof(double) * (size_t)K * K), *x = malloc(sizeof(double) * (size_t)K);
	double *hinv = calloc((size_t)K, sizeof(double));
	salient *v = malloc(sizeof(*v) * (size_t)ng * K);
	int r = 0;
	if (!L || !x || !hinv || !v) {
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < K; i++) {
		memcpy(L + (size_t)i * K, l->h + (size_t)i * kt, sizeof(double) * (size_t)K);
		L[(size_t)i * K + i] += lambda;
	}
	if (la_cholesky(L, K) < 0)
		goto out; /* keep the magnitude choice */
	/* diag(H^-1)_j = |L^-1 e_j|^2, column by column of L^-1. */
	for (int j = 0; j < K; j++) {
		double acc = 0;
		for (int i = j; i < K; i++) {
			const double *li = L + (size_t)i * K;
			double s = i == j ? 1.0 : 0.0;
			for (int k = j; k < i; k++)
				s -= li[k] * x[k];
			x[i] = s / li[i];
			acc += x[i] * x[i];
		}
		hinv[j] = acc;
	}
	for (int g = 0; g < ng; g++)
		for (int j = 0; j < K; j++) {
			double e = 0;
			for (int q = g * 4; q < SL_MIN(o, g * 4 + 4); q++)
				e += (double)wd[(size_t)q * K + j] * wd[(size_t)q * K + j];
			v[(size_t)g * K + j] = (salient){e / hinv[j], g * K + j};
		}
	qsort(v, (size_t)ng * K, sizeof(*v), cmp_salient);
	memcpy(wt, wd, sizeof(float) * (size_t)o * K);
	for (size_t i = 0; i < nz; i++) {
		const int g = v[i].idx / K, j = v[i].idx % K;
		for (int q = g * 4; q < SL_MIN(o, g * 4 + 4); q++)
			wt[(size_t)q * K + j] = 0;
	}
out:
	free(L);
	free(x);
	free(hinv);
	free(v);
	return r;
}

static int solve_layer(sl_model *target, const sl_model *dense, rl *l, double damp,
		       const sl_compress_opts *opts)
{
	const int kt = l->kt + 1, kd = l->kd + 1, o = l->o;
	const sl_node *ndt = &target->nodes[l->node], *ndd = &dense->nodes[l->node];
	float *wt = (float *)target->tensors[ndt->inputs[1]].data;
	const float *wdn = dense->tensors[ndd->inputs[1]].data;
	const bool has_bias = ndt->n_inputs > 2 && ndt->inputs[2] >= 0;
	float *bt = has_bias ? (float *)target->tensors[ndt->inputs[2]].data : NULL;
	const float *bd = has_bias ? dense->tensors[ndd->inputs[2]].data : NULL;

	for (int a = 0; a < kt; a++)
		for (int b = a + 1; b < kt; b++)
			l->h[(size_t)a * kt + b] = l->h[(size_t)b * kt + a];
	double mean_diag = 0;
	for (int a = 0; a < kt - 1; a++)
		mean_diag += l->h[(size_t)a * kt + a];
	mean_diag = mean_diag / SL_MAX(kt - 1, 1) + 1e-12;

	int r = 0;
	if (l->kt == l->kd && (r = obs_reselect(l, wt, wdn, damp * mean_diag)) < 0)
		return r;
	const double before = opts->verbose ? layer_objective(l, wt, bt, wdn, bd) : 0;
	double *cw = malloc(sizeof(double) * (size_t)kt * 4);
	double *a = malloc(sizeof(double) * (size_t)kt * kt);
	double *rhs = malloc(sizeof(double) * (size_t)kt * 4);
	int *S = malloc(sizeof(int) * (size_t)kt), *prevS = malloc(sizeof(int) * (size_t)kt);
	int ns = 0, prev_ns = -1;
	double lambda = damp * mean_diag;
	if (!cw || !a || !rhs || !S || !prevS) {
		r = -ENOMEM;
		goto out;
	}
	for (int g = 0; g < o; g += 4) {
		const int rows = SL_MIN(4, o - g);
		ns = 0;
		for (int k = 0; k < kt - 1; k++) {
			bool keep = false;
			for (int q = 0; q < rows; q++)
				keep |= wt[(size_t)(g + q) * (kt - 1) + k] != 0.0f;
			if (keep)
				S[ns++] = k;
		}
		if (has_bias)
			S[ns++] = kt - 1;
		if (ns == 0)
			continue;
		bool same = ns == prev_ns && memcmp(S, prevS, sizeof(int) * (size_t)ns) == 0;
		if (!same) {
			/* Fewer samples than unknowns (a classifier sees one vector per
			 * image) would overfit: damp in proportion, pulling towards w0. */
			lambda = mean_diag * (damp + (double)ns / SL_MAX(l->samples, 1));
			for (int tries = 0;; tries++) {
				for (int i = 0; i < ns; i++) {
					const double *hr = l->h + (size_t)S[i] * kt;
					for (int j = 0; j < ns; j++)
						a[(size_t)i * ns + j] = hr[S[j]];
					a[(size_t)i * ns + i] += lambda;
				}
				if (la_cholesky(a, ns) == 0)
					break;
				if (tries == 4) {
					prev_ns = -1;
					goto next_group;
				}
				lambda *= 10;
			}
			memcpy(prevS, S, sizeof(int) * (size_t)ns);
			prev_ns = ns;
		}
		for (int q = 0; q < rows; q++) {
			const int row = g + q;
			const float *wd = wdn + (size_t)row * (kd - 1);
			/* (C w)_S for this row, and the damping pull towards the current row. */
			for (int i = 0; i < ns; i++) {
				const double *cr = l->c + (size_t)S[i] * kd;
				double s = has_bias ? cr[kd - 1] * bd[row] : 0;
				for (int b = 0; b < kd - 1; b++)
					s += cr[b] * wd[b];
				const double w0 =
				    S[i] == kt - 1 ? bt[row] : wt[(size_t)row * (kt - 1) + S[i]];
				rhs[(size_t)q * ns + i] = s + lambda * w0;
			}
		}
		la_cholesky_solve(a, ns, rhs, rows);
		for (int q = 0; q < rows; q++) {
			const int row = g + q;
			for (int i = 0; i < ns; i++) {
				const float v = (float)rhs[(size_t)q * ns + i];
				if (!isfinite(v))
					continue;
				if (S[i] == kt - 1)
					bt[row] = v;
				else
					wt[(size_t)row * (kt - 1) + S[i]] = v;
			}
		}
	next_group:;
	}
	if (opts->verbose)
		cg_progress(opts, "node %d (%dx%d): objective %.4g -> %.4g", l->node, l->o, l->kt, before,
			    layer_objective(l, wt, bt, wdn, bd));
out:
	free(cw);
	free(a);
	free(rhs);
	free(S);
	free(prevS);
	return r;
}

static void rl_free(rl *l)
{
	free(l->pos);
	free(l->xd);
	free(l->xt);
	free(l->h);
	free(l->c);
	l->pos = NULL;
	l->xd = l->xt = NULL;
	l->h = l->c = NULL;
}

static int run_pass(sl_compress_ctx *cc, sl_model *target, rctx *c, sl_error *err)
{
	_cleanup_(sl_runtime_freep) sl_runtime *rd = NULL;
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	int r = co_runtime(cc->master, &cc->o, &rd, err);
	if (r < 0 || (r = co_runtime(target, &cc->o, &rt, err)) < 0)
		return r;
	for (int i = 0; i < cc->cs->n; i++) {
		uint32_t seed = 0x9e3779b9u ^ (uint32_t)i * 2654435761u;
		for (int j = 0; j < c->n; j++)
			for (int p = 0; c->layers[j].active && p < c->layers[j].p; p++)
				c->layers[j].pos[p] = (int)(rng_next(&seed) % (uint32_t)c->layers[j].npos);
		for (int pass = 0; pass < 2; pass++) {
			sl_runtime *x = pass == 0 ? rd : rt;
			const sl_model *m = pass == 0 ? cc->master : target;
			c->dense_pass = pass == 0;
			co_set_input(x, cc->cs, i);
			for (int k = 0; k < m->n_inputs; k++)
				observe(c, m->inputs[k], sl_runtime_input(x, k));
			if ((r = sl_runtime_invoke_observed(x, observe, c)) < 0)
				return cg_fail(err, r, "recovery: inference failed on calibration input %d",
					       i);
		}
	}
	return 0;
}

int cr_recover(sl_compress_ctx *cc, sl_model *target, const cl_layer *layers, int n_layers, sl_error *err)
{
	const sl_model *dense = cc->master;
	rl *v = calloc((size_t)n_layers + 1, sizeof(*v));
	dwl *dw = calloc((size_t)dense->n_nodes + 1, sizeof(*dw));
	int r = 0, n = 0, n_dw = 0;
	if (!v || !dw) {
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n_layers; i++) {
		const cl_layer *L = &layers[i];
		const sl_node *nt = &target->nodes[L->node];
		const sl_tensor *wt = &target->tensors[nt->inputs[1]];
		const sl_tensor *w0 = &dense->tensors[dense->nodes[L->node].inputs[1]];
		/* Layers that lost output rows keep the surviving rows exactly. */
		if (wt->dtype != SL_DTYPE_F32 || wt->kind != SL_TENSOR_CONST || wt->dims[0] != w0->dims[0])
			continue;
		/* Only layers that lost weights (zeros) or input channels need a re-fit. */
		const int64_t nw = sl_tensor_numel(wt);
		bool changed = nw != sl_tensor_numel(w0);
		for (int64_t k = 0; k < nw && !changed; k++)
			changed = ((const float *)wt->data)[k] != ((const float *)w0->data)[k];
		if (!changed)
			continue;
		rl *l = &v[n++];
		l->node = L->node;
		l->o = wt->dims[0];
		l->kt = (int)(nw / l->o);
		l->kd = (int)(sl_tensor_numel(w0) / l->o);
		const sl_tensor *out = &target->tensors[nt->outputs[0]];
		l->npos = (int)(sl_tensor_numel(out) / l->o);
		l->p = SL_MIN(cc->o.positions_per_image, l->npos);
	}
	for (int i = 0; i < dense->n_nodes; i++) {
		const sl_node *nd = &dense->nodes[i];
		if (nd->op != SL_OP_DEPTHWISE_CONV_2D || nd->n_inputs < 3 || nd->inputs[2] < 0)
			continue;
		const sl_tensor *a = &dense->tensors[nd->inputs[0]],
				*b = &target->tensors[target->nodes[i].inputs[0]];
		const int ch = a->dims[a->rank - 1];
		if (ch != b->dims[b->rank - 1] || a->dtype != SL_DTYPE_F32 || b->dtype != SL_DTYPE_F32)
			continue;
		dwl *d = &dw[n_dw++];
		d->node = i;
		d->ch = ch;
		d->sum_d = calloc((size_t)ch, sizeof(double));
		d->sum_t = calloc((size_t)ch, sizeof(double));
		if (!d->sum_d || !d->sum_t) {
			r = -ENOMEM;
			goto out;
		}
	}

	rctx c = {.dense = dense, .target = target, .layers = v, .n = n, .dw = dw, .n_dw = 0};
	for (int stage = 0; stage < STAGES && r >= 0; stage++) {
		const int first = n * stage / STAGES, last = n * (stage + 1) / STAGES;
		for (int i = 0; i < n; i++) {
			rl *l = &v[i];
			l->active = i >= first && i < last;
			if (!l->active)
				continue;
			const size_t kt = (size_t)l->kt + 1, kd = (size_t)l->kd + 1;
			l->pos = malloc(sizeof(int) * (size_t)l->p);
			l->xd = malloc(sizeof(float) * kd * (size_t)l->p);
			l->xt = malloc(sizeof(float) * kt * (size_t)l->p);
			l->h = calloc(kt * kt, sizeof(double));
			l->c = calloc(kt * kd, sizeof(double));
			if (!l->pos || !l->xd || !l->xt || !l->h || !l->c) {
				r = -ENOMEM;
				break;
			}
		}
		/* The last stage also measures depthwise input means for bias re-estimation. */
		c.n_dw = stage == STAGES - 1 ? n_dw : 0;
		if (r >= 0 && (last > first || c.n_dw))
			r = run_pass(cc, target, &c, err);
		for (int i = first; i < last && r >= 0; i++)
			r = solve_layer(target, dense, &v[i], cc->o.damp, &cc->o);
		for (int i = first; i < last; i++)
			rl_free(&v[i]);
		cg_progress(&cc->o, "recovery stage %d/%d: %d layers re-fitted", stage + 1, STAGES,
			    last - first);
	}
	for (int i = 0; i < n_dw && r >= 0; i++) {
		const dwl *d = &dw[i];
		const sl_node *nd = &target->nodes[d->node];
		const sl_tensor *w = &target->tensors[nd->inputs[1]];
		const float *wf = w->data;
		float *b = (float *)target->tensors[nd->inputs[2]].data;
		const int oc = w->dims[w->rank - 1], taps = (int)(sl_tensor_numel(w) / oc);
		const int mult = oc / d->ch;
		if (d->count <= 0 || mult < 1)
			continue;
		for (int ch = 0; ch < oc; ch++) {
			const int ic = ch / mult;
			const double shift = (d->sum_d[ic] - d->sum_t[ic]) / d->count;
			double s = 0;
			for (int t = 0; t < taps; t++)
				s += wf[(size_t)t * oc + ch];
			b[ch] += (float)(s * shift);
		}
	}
out:
	if (v)
		for (int i = 0; i < n; i++)
			rl_free(&v[i]);
	if (dw)
		for (int i = 0; i < n_dw; i++) {
			free(dw[i].sum_d);
			free(dw[i].sum_t);
		}
	free(v);
	free(dw);
	return r;
}
