/* Recovery without retraining: re-fit each changed layer's surviving weights
 * (and its bias) by damped least squares so that, fed the pruned network's
 * own activations, it reproduces the dense layer's pre-activation output on
 * calibration data.
 *
 * Layers are re-fitted strictly one after the other along the network, one
 * pass of the target network over the calibration set per layer, so each
 * layer sees the inputs that the already re-fitted layers before it produce.
 * Every layer after the first changed one is re-fitted, pruned or not: the
 * dense ones downstream can absorb part of the upstream error.
 *
 * For output row r with dense pre-activation outputs y_r, kept set S of the
 * target row (bias last), and x' the pruned network's input patch (with a
 * trailing 1):
 *     (H'_SS + l I) v = (G_r)_S + l w0_S,   H' = sum x' x'^T,  G = sum x' y^T
 * where w0 is the row before the re-fit and l = damp * mean(diag H'). The
 * dense outputs y at the sampled positions are computed once per context and
 * shared by every variant. A classifier behind a global average pool sees
 * one vector per image; since the pool is linear, FC(mean x) = mean FC(x), so
 * it is fitted on the per-position features before the pool instead.
 *
 * A layer pruned in 1x4 blocks keeps a different set of inputs in every row,
 * and an exact re-fit would need one factorisation per row (O(k^3) each). Its
 * rows are instead re-fitted with all their inputs (one factorisation for the
 * layer), then pruned back to the same number of blocks per row by OBS
 * (obs.c), which chooses the blocks again on the pruned network's own inputs
 * and moves what they carried onto the weights that stay.
 *
 * One calibration image in five is held out. Its layer statistics choose the
 * damping and, row by row, the best of {pruned row, pruned row with its bias
 * re-estimated, re-fitted row}. A closer linear output is not always a better
 * network (ReLU6 clipping, pooling), so each layer then keeps whichever of
 * {as pruned, biases re-estimated, re-fitted} gives the network output
 * closest to the dense model's on the held-out images (KL of the softmax),
 * measured with the layers not yet re-fitted put back to dense: recovery
 * therefore never keeps a change that the held-out images say hurts. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

#define BATCH_COLS    256
static const double damp_grid[] = {1e-3, 1e-2, 1e-1, 1.0};
#define N_DAMP	    (int)(sizeof(damp_grid) / sizeof(damp_grid[0]))
#define DAMP_GROUPS 8

/* Where a layer's patches come from in a model. */
typedef struct {
	int src;     /* tensor the patches are read from */
	bool pooled; /* src is the map before a global average pool: one patch per position */
	int k;	     /* patch length without the trailing 1 */
	int npos, p; /* positions per image, patches taken per image */
} rl_geom;

struct cr_cache {
	int n;
	int *node;
	rl_geom *g;
	int *o;
	float **y; /* [image][p][o]: dense pre-activation outputs at the sampled positions */
	int lt;	   /* logits tensor */
	int64_t nl;
	float *logits; /* [image][nl] of the dense model */
};

static int geometry(const sl_model *m, int node, int n_pos_per_image, rl_geom *g)
{
	const sl_node *nd = &m->nodes[node];
	const sl_tensor *w = &m->tensors[nd->inputs[1]];
	const int o = w->dims[0];
	g->src = nd->inputs[0];
	g->pooled = false;
	g->k = (int)(sl_tensor_numel(w) / (o ? o : 1));
	const sl_tensor *out = &m->tensors[nd->outputs[0]];
	g->npos = (int)(sl_tensor_numel(out) / (o ? o : 1));
	if (g->npos == 1) {
		/* Follow RESHAPEs back to a global AVERAGE_POOL_2D / MEAN. */
		int t = g->src, pn;
		while ((pn = cg_producer(m, t)) >= 0 && m->nodes[pn].op == SL_OP_RESHAPE)
			t = m->nodes[pn].inputs[0];
		if (pn >= 0 && (m->nodes[pn].op == SL_OP_AVERAGE_POOL_2D || m->nodes[pn].op == SL_OP_MEAN)) {
			const sl_tensor *pin = &m->tensors[m->nodes[pn].inputs[0]];
			const sl_tensor *pout = &m->tensors[m->nodes[pn].outputs[0]];
			if (pin->rank == 4 && pin->dtype == SL_DTYPE_F32 && pin->dims[3] == g->k &&
			    sl_tensor_numel(pout) == g->k) {
				g->src = m->nodes[pn].inputs[0];
				g->pooled = true;
				g->npos = pin->dims[1] * pin->dims[2];
			}
		}
	}
	g->p = SL_MIN(n_pos_per_image, g->npos);
	if (g->pooled)
		g->p = g->npos; /* all positions: they make up the mean exactly */
	return 0;
}

static uint32_t rng_next(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* The positions sampled from image `img` for layer `node`: the same in the
 * dense and in every target model. */
static void positions(int img, int node, const rl_geom *g, int *pos)
{
	if (g->p >= g->npos) {
		for (int j = 0; j < g->npos; j++)
			pos[j] = j;
		return;
	}
	uint32_t s = 0x9e3779b9u ^ (uint32_t)img * 2654435761u ^ (uint32_t)node * 40503u;
	for (int j = 0; j < g->p; j++)
		pos[j] = (int)(rng_next(&s) % (uint32_t)g->npos);
}

static void extract(const sl_model *m, const sl_node *nd, const rl_geom *g, const float *x, int pos,
		    float *dst)
{
	if (g->pooled || nd->op == SL_OP_FULLY_CONNECTED) {
		memcpy(dst, x + (size_t)pos * g->k, sizeof(float) * (size_t)g->k);
		dst[g->k] = 1;
		return;
	}
	const sl_tensor *in = &m->tensors[nd->inputs[0]];
	const sl_tensor *w = &m->tensors[nd->inputs[1]];
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

/* Any length: eight partial sums, then the tail. */
static inline float dot_any(const float *a, const float *b, int n)
{
	float s[8] = {0}, t = 0;
	const int n8 = n & ~7;
	for (int i = 0; i < n8; i += 8)
		for (int l = 0; l < 8; l++)
			s[l] += a[i + l] * b[i + l];
	for (int i = n8; i < n; i++)
		t += a[i] * b[i];
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t;
}

/* n a multiple of 8. */
static inline double dotf(const float *a, const float *b, int n)
{
	float s[8] = {0};
	for (int i = 0; i < n; i += 8)
		for (int l = 0; l < 8; l++)
			s[l] += a[i + l] * b[i + l];
	return ((double)s[0] + s[1]) + ((double)s[2] + s[3]) + ((double)s[4] + s[5]) + ((double)s[6] + s[7]);
}

/* ---- dense outputs, once per context ---- */

typedef struct {
	const sl_model *m;
	struct cr_cache *cc;
	int img;
	int *pos;
	float *patch;
} cache_pass;

static void cache_observe(void *ud, int t, const void *data)
{
	cache_pass *c = ud;
	const sl_model *m = c->m;
	if (m->tensors[t].dtype != SL_DTYPE_F32)
		return;
	if (t == c->cc->lt)
		memcpy(c->cc->logits + (size_t)c->img * c->cc->nl, data, sizeof(float) * (size_t)c->cc->nl);
	for (int i = 0; i < c->cc->n; i++) {
		const rl_geom *g = &c->cc->g[i];
		if (g->src != t)
			continue;
		const sl_node *nd = &m->nodes[c->cc->node[i]];
		const float *w = m->tensors[nd->inputs[1]].data;
		const float *b =
		    nd->n_inputs > 2 && nd->inputs[2] >= 0 ? m->tensors[nd->inputs[2]].data : NULL;
		const int o = c->cc->o[i];
		float *y = c->cc->y[i] + (size_t)c->img * g->p * o;
		positions(c->img, c->cc->node[i], g, c->pos);
		for (int p = 0; p < g->p; p++) {
			extract(m, nd, g, data, c->pos[p], c->patch);
			for (int r = 0; r < o; r++) {
				const float *wr = w + (size_t)r * g->k;
				y[(size_t)p * o + r] = (b ? b[r] : 0) + dot_any(wr, c->patch, g->k);
			}
		}
	}
}

void cr_cache_free(struct cr_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		free(c->y[i]);
	free(c->y);
	free(c->g);
	free(c->o);
	free(c->node);
	free(c->logits);
	free(c);
}

static int build_cache(sl_compress_ctx *cc, sl_error *err)
{
	if (cc->cache)
		return 0;
	const sl_model *m = cc->master;
	const int n_img = cc->cs->n;
	struct cr_cache *c = calloc(1, sizeof(*c));
	int r = 0, maxp = 1, maxk = 1;
	if (!c)
		return -ENOMEM;
	c->node = calloc((size_t)cc->n_layers + 1, sizeof(int));
	c->g = calloc((size_t)cc->n_layers + 1, sizeof(rl_geom));
	c->o = calloc((size_t)cc->n_layers + 1, sizeof(int));
	c->y = calloc((size_t)cc->n_layers + 1, sizeof(float *));
	c->lt = cg_logits_tensor(m);
	c->nl = sl_tensor_numel(&m->tensors[c->lt]);
	c->logits = malloc(sizeof(float) * (size_t)(n_img * c->nl));
	if (!c->node || !c->g || !c->o || !c->y || !c->logits) {
		cr_cache_free(c);
		return -ENOMEM;
	}
	for (int l = 0; l < cc->n_layers; l++) {
		const cl_layer *L = &cc->layers[l];
		const int i = c->n++;
		c->node[i] = L->node;
		c->o[i] = L->o;
		geometry(m, L->node, cc->o.positions_per_image, &c->g[i]);
		maxp = SL_MAX(maxp, c->g[i].p);
		maxk = SL_MAX(maxk, c->g[i].k + 1);
		if (!(c->y[i] = malloc(sizeof(float) * (size_t)n_img * c->g[i].p * L->o))) {
			cr_cache_free(c);
			return -ENOMEM;
		}
	}
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	_cleanup_free_ int *pos = malloc(sizeof(int) * (size_t)maxp);
	_cleanup_free_ float *patch = malloc(sizeof(float) * (size_t)maxk);
	if (!pos || !patch || (r = co_runtime(cc->master, &cc->o, &rt, err)) < 0) {
		cr_cache_free(c);
		return r < 0 ? r : -ENOMEM;
	}
	cache_pass cp = {.m = m, .cc = c, .pos = pos, .patch = patch};
	for (int i = 0; i < n_img; i++) {
		cp.img = i;
		co_set_input(rt, cc->cs, i);
		for (int k = 0; k < m->n_inputs; k++)
			cache_observe(&cp, m->inputs[k], sl_runtime_input(rt, k));
		if ((r = sl_runtime_invoke_observed(rt, cache_observe, &cp)) < 0) {
			cr_cache_free(c);
			return cg_fail(err, r, "recovery: inference failed on calibration input %d", i);
		}
	}
	cc->cache = c;
	cg_progress(&cc->o, "recovery: dense outputs of %d layers sampled", c->n);
	return 0;
}

/* ---- one layer ---- */

typedef struct {
	double *h, *g;	/* (kt+1)^2 lower, (kt+1) x o */
	double yy;	/* sum of squared dense outputs */
	long n;		/* patches */
	float *xt, *yt; /* staging: [kt+1][BATCH_COLS], [o][BATCH_COLS] */
	int cols;
} acc;

typedef struct {
	int node, ci; /* ci: index into the cache */
	rl_geom gd, gt;
	int kt, ot;
	int *rowmap;	      /* target row -> dense row */
	const float *wd, *bd; /* the dense layer's weights and bias when the shapes agree, else NULL */
	acc a[2];	      /* fit, held out */
	int *pos;
	float *patch;
	int img;
} rl;

static void acc_flush(acc *a, int kt, int o)
{
	const int n = (a->cols + 7) & ~7;
	for (int c = a->cols; c < n; c++) {
		for (int i = 0; i < kt; i++)
			a->xt[(size_t)i * BATCH_COLS + c] = 0;
		for (int r = 0; r < o; r++)
			a->yt[(size_t)r * BATCH_COLS + c] = 0;
	}
	for (int i = 0; i < kt; i++) {
		const float *xi = a->xt + (size_t)i * BATCH_COLS;
		double *hr = a->h + (size_t)i * kt, *gr = a->g + (size_t)i * o;
		for (int j = 0; j <= i; j++)
			hr[j] += dotf(xi, a->xt + (size_t)j * BATCH_COLS, n);
		for (int r = 0; r < o; r++)
			gr[r] += dotf(xi, a->yt + (size_t)r * BATCH_COLS, n);
	}
	for (int r = 0; r < o; r++)
		a->yy += dotf(a->yt + (size_t)r * BATCH_COLS, a->yt + (size_t)r * BATCH_COLS, n);
	a->n += a->cols;
	a->cols = 0;
}

typedef struct {
	const sl_model *target;
	const struct cr_cache *cache;
	rl *l;
} layer_pass;

static void layer_observe(void *ud, int t, const void *data)
{
	layer_pass *c = ud;
	rl *l = c->l;
	if (t != l->gt.src || c->target->tensors[t].dtype != SL_DTYPE_F32)
		return;
	const sl_node *nd = &c->target->nodes[l->node];
	acc *a = &l->a[l->img % CO_HOLDOUT_EVERY == CO_HOLDOUT_EVERY - 1];
	const int kt = l->kt + 1, od = c->cache->o[l->ci];
	const float *y = c->cache->y[l->ci] + (size_t)l->img * l->gd.p * od;
	positions(l->img, l->node, &l->gd, l->pos);
	for (int p = 0; p < l->gd.p; p++) {
		extract(c->target, nd, &l->gt, data, l->pos[p], l->patch);
		for (int i = 0; i < kt; i++)
			a->xt[(size_t)i * BATCH_COLS + a->cols] = l->patch[i];
		for (int r = 0; r < l->ot; r++)
			a->yt[(size_t)r * BATCH_COLS + a->cols] = y[(size_t)p * od + l->rowmap[r]];
		if (++a->cols == BATCH_COLS)
			acc_flush(a, kt, l->ot);
	}
}

/* Held-out objective of row r for v (length ns over S): v'Hv - 2 v'g + yy_r
 * (the constant is only known summed over rows, so it is left out). */
static double row_obj(const acc *a, int kt, int o, const int *S, int ns, const double *v, int r)
{
	double q = 0;
	for (int i = 0; i < ns; i++) {
		if (v[i] == 0)
			continue;
		const int si = S[i];
		double hv = 0;
		for (int j = 0; j < ns; j++) {
			const int sj = S[j];
			hv += (si >= sj ? a->h[(size_t)si * kt + sj] : a->h[(size_t)sj * kt + si]) * v[j];
		}
		q += v[i] * (hv - 2 * a->g[(size_t)si * o + r]);
	}
	return q;
}

/* Factor H_SS + lambda I into fac (ns x ns); -EDOM when not SPD. */
static int factor(const acc *a, int kt, const int *S, int ns, double lambda, double *fac)
{
	for (int i = 0; i < ns; i++) {
		for (int j = 0; j <= i; j++) {
			const int si = S[i], sj = S[j];
			fac[(size_t)i * ns + j] = fac[(size_t)j * ns + i] =
			    si >= sj ? a->h[(size_t)si * kt + sj] : a->h[(size_t)sj * kt + si];
		}
		fac[(size_t)i * ns + i] += lambda;
	}
	return la_cholesky(fac, ns);
}

/* Solve the damped normal equations of the rows [g0, g0 + rows) over S. */
static void solve_rows(const acc *a, int o, const int *S, int ns, double lambda, const double *w0, int g0,
		       int rows, const double *fac, double *out)
{
	for (int q = 0; q < rows; q++)
		for (int i = 0; i < ns; i++)
			out[(size_t)q * ns + i] =
			    a->g[(size_t)S[i] * o + g0 + q] + lambda * w0[(size_t)q * ns + i];
	la_cholesky_solve(fac, ns, out, rows);
}

/* Bias alone, by least squares with the other weights fixed. */
static void fit_bias(const acc *a, int kt, int o, const int *S, int ns, double *v, int r)
{
	const int b = kt - 1;
	double s = a->g[(size_t)b * o + r];
	for (int i = 0; i < ns - 1; i++)
		s -= a->h[(size_t)b * kt + S[i]] * v[i];
	v[ns - 1] = s / SL_MAX(a->h[(size_t)b * kt + b], 1.0);
}

typedef struct {
	double mag, bias, fit, best, yy;
	int kept_fit, kept_bias;
	double damp;
} fit_report;

static bool all_finite(const double *v, int n)
{
	for (int i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/* Held-out objectives e[] of a row's candidates {pruned, bias re-estimated,
 * re-fitted} (INFINITY: not available) into the layer's report; best kept. */
static void report_row(fit_report *rep, const double e[3], int best)
{
	rep->mag += e[0];
	rep->bias += isfinite(e[1]) ? e[1] : e[0];
	rep->fit += isfinite(e[2]) ? e[2] : e[0];
	rep->best += e[best];
	rep->kept_fit += best == 2;
	rep->kept_bias += best == 1;
}

/* Row r as a compact (S, v) over its non-zero entries; returns ns. */
static int compact_row(const double *v, int kt, int *S, double *vs)
{
	int ns = 0;
	for (int i = 0; i < kt; i++)
		if (v[i] != 0 || i == kt - 1) {
			S[ns] = i;
			vs[ns++] = v[i];
		}
	return ns;
}

/* Zero blocks of four consecutive inputs in row r of the target (ret) and
 * how many of them the dense row does not have: what the pruning took. */
static int zero_blocks(const float *wt, const float *wd, int k, int r, int *ret_new)
{
	int n = 0, fresh = 0;
	for (int b = 0; 4 * b < k; b++) {
		bool zt = true, zd = true;
		for (int j = 4 * b; j < SL_MIN(k, 4 * b + 4); j++) {
			zt &= wt[(size_t)r * k + j] == 0.0f;
			zd &= wd[(size_t)r * k + j] == 0.0f;
		}
		n += zt;
		fresh += zt && !zd;
	}
	*ret_new = fresh;
	return n;
}

/* Row r re-fitted to the dense outputs with all its inputs (damped toward
 * the dense row), then pruned back to `nprune` blocks by OBS: the mask is
 * chosen again on the pruned network's own inputs. v: length kt. */
static void fit_sparse_row(const acc *a, const rl *l, const ob_factors *f, double lambda, int r, int nprune,
			   double *v)
{
	const int kt = l->kt + 1, k = l->kt, o = l->ot, rd = l->rowmap[r];
	for (int i = 0; i < k; i++)
		v[i] = a->g[(size_t)i * o + r] + lambda * l->wd[(size_t)rd * k + i];
	v[k] = a->g[(size_t)k * o + r] + lambda * (l->bd ? l->bd[rd] : 0);
	la_cholesky_solve(f->l, kt, v, 1);
	ob_prune_row(f, k, v, nprune);
}

/* The re-fit of a layer pruned in 1x4 blocks (each row its own kept set):
 * per row the best on held-out images of {pruned, bias re-estimated,
 * re-fitted and pruned again by OBS}. */
static int solve_sparse(sl_model *target, rl *l, double damp_floor, double mean_diag, const int *nprune,
			fit_report *rep)
{
	const int kt = l->kt + 1, k = l->kt, o = l->ot;
	const sl_node *nd = &target->nodes[l->node];
	float *wt = (float *)target->tensors[nd->inputs[1]].data;
	const bool has_bias = nd->n_inputs > 2 && nd->inputs[2] >= 0;
	float *bt = has_bias ? (float *)target->tensors[nd->inputs[2]].data : NULL;
	const acc *fa = &l->a[0], *va = &l->a[1];
	ob_factors best = {0};
	int *S = malloc(sizeof(int) * (size_t)kt);
	double *v = malloc(sizeof(double) * (size_t)kt), *vs = malloc(sizeof(double) * (size_t)kt);
	double *cand = malloc(sizeof(double) * (size_t)kt * 3);
	int r = 0;
	if (!S || !v || !vs || !cand) {
		r = -ENOMEM;
		goto out;
	}
	double best_e = INFINITY, best_lambda = 0;
	const int samples = SL_MIN(o, DAMP_GROUPS * 4);
	for (int d = 0; d < N_DAMP; d++) {
		const double lambda = SL_MAX(damp_grid[d], damp_floor) * mean_diag;
		ob_factors f;
		if ((r = ob_factor(fa->h, kt, lambda, &f)) == -ENOMEM)
			goto out;
		if (r < 0) {
			r = 0;
			continue;
		}
		double e = 0;
		for (int s = 0; s < samples; s++) {
			const int row = (int)((long)s * o / samples);
			fit_sparse_row(fa, l, &f, lambda, row, nprune[row], v);
			const int ns = compact_row(v, kt, S, vs);
			e += row_obj(va, kt, o, S, ns, vs, row);
		}
		if (e < best_e) {
			ob_factors_free(&best);
			best = f;
			best_e = e;
			best_lambda = lambda;
			rep->damp = SL_MAX(damp_grid[d], damp_floor);
		} else {
			ob_factors_free(&f);
		}
	}
	for (int row = 0; row < o; row++) {
		double *c0 = cand, *c1 = cand + kt, *c2 = cand + 2 * (size_t)kt;
		for (int i = 0; i < k; i++)
			c0[i] = wt[(size_t)row * k + i];
		c0[k] = bt ? bt[row] : 0;
		/* bias re-estimated over the row's kept set */
		int ns = compact_row(c0, kt, S, vs);
		memcpy(c1, c0, sizeof(double) * (size_t)kt);
		if (bt) {
			fit_bias(fa, kt, o, S, ns, vs, row);
			c1[k] = vs[ns - 1];
		}
		const bool fitted = best.n > 0;
		if (fitted)
			fit_sparse_row(fa, l, &best, best_lambda, row, nprune[row], c2);
		double e[3];
		int pick = 0;
		for (int c = 0; c < 3; c++) {
			const double *cv = cand + (size_t)c * kt;
			e[c] = INFINITY;
			if ((c == 1 && !bt) || (c == 2 && !fitted) || !all_finite(cv, kt))
				continue;
			ns = compact_row(cv, kt, S, vs);
			e[c] = row_obj(va, kt, o, S, ns, vs, row);
			if (e[c] < e[pick])
				pick = c;
		}
		report_row(rep, e, pick);
		const double *pv = cand + (size_t)pick * kt;
		for (int i = 0; i < k; i++)
			wt[(size_t)row * k + i] = (float)pv[i];
		if (bt)
			bt[row] = (float)pv[k];
	}
out:
	ob_factors_free(&best);
	free(S);
	free(v);
	free(vs);
	free(cand);
	return r;
}

/* bias_only: keep every row's weights, re-estimate the biases alone. */
static int solve_layer(sl_model *target, rl *l, double damp_floor, bool bias_only, fit_report *rep)
{
	const int kt = l->kt + 1, o = l->ot;
	const sl_node *nd = &target->nodes[l->node];
	float *wt = (float *)target->tensors[nd->inputs[1]].data;
	const bool has_bias = nd->n_inputs > 2 && nd->inputs[2] >= 0;
	float *bt = has_bias ? (float *)target->tensors[nd->inputs[2]].data : NULL;
	const acc *fa = &l->a[0], *va = &l->a[1];
	memset(rep, 0, sizeof(*rep));
	rep->yy = va->yy;
	if (bias_only && !bt)
		return 0;

	double mean_diag = 0;
	for (int i = 0; i < kt - 1; i++)
		mean_diag += fa->h[(size_t)i * kt + i];
	mean_diag = mean_diag / SL_MAX(kt - 1, 1) + 1e-12;

	if (!bias_only && l->wd) {
		int *np = malloc(sizeof(int) * (size_t)o), total = 0;
		if (!np)
			return -ENOMEM;
		for (int row = 0; row < o; row++) {
			int fresh;
			np[row] = zero_blocks(wt, l->wd, kt - 1, row, &fresh);
			total += fresh;
		}
		int r = total > 0 ? solve_sparse(target, l, damp_floor, mean_diag, np, rep) : 1;
		free(np);
		if (r <= 0)
			return r;
	}

	const int ng = (o + 3) / 4;
	int *S = malloc(sizeof(int) * (size_t)kt), *prevS = malloc(sizeof(int) * (size_t)kt);
	double *fac = malloc(sizeof(double) * (size_t)kt * kt);
	double *w0 = malloc(sizeof(double) * (size_t)kt * 4);
	double *vb = malloc(sizeof(double) * (size_t)kt * 4);
	double *vf = malloc(sizeof(double) * (size_t)kt * 4);
	int r = 0;
	if (!S || !prevS || !fac || !w0 || !vb || !vf) {
		r = -ENOMEM;
		goto out;
	}

	/* Kept set of group g (four rows share one factorisation when their
	 * kept sets agree: dense layers, or ones that lost input channels) and
	 * its current rows. */
#define GROUP_SETUP(g)                                                                                       \
	const int g0 = (g)*4, rows = SL_MIN(4, o - g0);                                                      \
	int ns = 0;                                                                                          \
	for (int k = 0; k < kt - 1; k++) {                                                                   \
		bool keep = false;                                                                           \
		for (int q = 0; q < rows; q++)                                                               \
			keep |= wt[(size_t)(g0 + q) * (kt - 1) + k] != 0.0f;                                 \
		if (keep)                                                                                    \
			S[ns++] = k;                                                                         \
	}                                                                                                    \
	if (bt)                                                                                              \
		S[ns++] = kt - 1;                                                                            \
	for (int q = 0; q < rows; q++)                                                                       \
		for (int i = 0; i < ns; i++)                                                                 \
			w0[(size_t)q * ns + i] =                                                             \
			    S[i] == kt - 1 ? (bt ? bt[g0 + q] : 0) : wt[(size_t)(g0 + q) * (kt - 1) + S[i]];

	/* Damping from a few groups spread over the layer, on held-out images. */
	double best_damp = damp_grid[1], best_e = INFINITY;
	for (int d = 0; d < N_DAMP && !bias_only; d++) {
		const double damp = SL_MAX(damp_grid[d], damp_floor);
		double e = 0;
		int pns = -1;
		for (int s = 0; s < SL_MIN(DAMP_GROUPS, ng); s++) {
			const int g = (int)((long)s * ng / SL_MIN(DAMP_GROUPS, ng));
			GROUP_SETUP(g)
			if (!(ns == pns && memcmp(S, prevS, sizeof(int) * (size_t)ns) == 0)) {
				if (factor(fa, kt, S, ns, damp * mean_diag, fac) < 0) {
					e = INFINITY;
					break;
				}
				pns = ns;
				memcpy(prevS, S, sizeof(int) * (size_t)ns);
			}
			solve_rows(fa, o, S, ns, damp * mean_diag, w0, g0, rows, fac, vf);
			for (int q = 0; q < rows; q++)
				e += row_obj(va, kt, o, S, ns, vf + (size_t)q * ns, g0 + q);
		}
		if (e < best_e) {
			best_e = e;
			best_damp = damp;
		}
	}
	rep->damp = best_damp;

	/* Groups with the same kept set (all of them, for a layer that lost
	 * input channels or none) share one factorisation. */
	int prev_ns = -1;
	memset(prevS, 0xff, sizeof(int) * (size_t)kt);
	bool prev_ok = false;
	for (int g = 0; g < ng; g++) {
		GROUP_SETUP(g)
		memcpy(vb, w0, sizeof(double) * (size_t)rows * ns);
		for (int q = 0; q < rows && bt; q++)
			fit_bias(fa, kt, o, S, ns, vb + (size_t)q * ns, g0 + q);
		if (bias_only) {
			prev_ok = false;
		} else if (!(ns == prev_ns && memcmp(S, prevS, sizeof(int) * (size_t)ns) == 0)) {
			prev_ok = factor(fa, kt, S, ns, best_damp * mean_diag, fac) == 0;
			prev_ns = ns;
			memcpy(prevS, S, sizeof(int) * (size_t)ns);
		}
		const bool fitted = prev_ok;
		if (fitted)
			solve_rows(fa, o, S, ns, best_damp * mean_diag, w0, g0, rows, fac, vf);
		for (int q = 0; q < rows; q++) {
			const int row = g0 + q;
			const double *cand[3] = {w0 + (size_t)q * ns, vb + (size_t)q * ns,
						 fitted ? vf + (size_t)q * ns : NULL};
			double e[3];
			int best = 0;
			for (int c = 0; c < 3; c++) {
				e[c] = INFINITY;
				if (!cand[c] || (!bt && c == 1) || !all_finite(cand[c], ns))
					continue;
				e[c] = row_obj(va, kt, o, S, ns, cand[c], row);
				if (e[c] < e[best] || (bias_only && c == 1))
					best = c;
			}
			report_row(rep, e, best);
			/* Without a bias tensor the bias column must stay 0. */
			for (int i = 0; i < ns; i++) {
				const float v = (float)cand[best][i];
				if (S[i] == kt - 1) {
					if (bt)
						bt[row] = v;
				} else {
					wt[(size_t)row * (kt - 1) + S[i]] = v;
				}
			}
		}
	}
#undef GROUP_SETUP
out:
	free(S);
	free(prevS);
	free(fac);
	free(w0);
	free(vb);
	free(vf);
	return r;
}

static void rl_free(rl *l)
{
	for (int s = 0; s < 2; s++) {
		free(l->a[s].h);
		free(l->a[s].g);
		free(l->a[s].xt);
		free(l->a[s].yt);
	}
	free(l->rowmap);
	free(l->pos);
	free(l->patch);
	memset(l, 0, sizeof(*l));
}

/* Which dense row each target row is: the identity, or for a layer that lost
 * output channels, the dense rows its rows were copied from (in order). */
static int map_rows(const sl_tensor *wt, const sl_tensor *wd, int kt, int *map)
{
	const int ot = wt->dims[0], od = wd->dims[0];
	if (ot == od) {
		for (int r = 0; r < ot; r++)
			map[r] = r;
		return 0;
	}
	if (kt != (int)(sl_tensor_numel(wd) / od))
		return -1;
	const float *a = wt->data, *b = wd->data;
	int j = 0;
	for (int r = 0; r < ot; r++) {
		while (j < od &&
		       memcmp(a + (size_t)r * kt, b + (size_t)j * kt, sizeof(float) * (size_t)kt) != 0)
			j++;
		if (j == od)
			return -1;
		map[r] = j++;
	}
	return 0;
}

static int weights_changed(const sl_tensor *wt, const sl_tensor *wd)
{
	const int64_t n = sl_tensor_numel(wt);
	if (n != sl_tensor_numel(wd))
		return 1;
	return memcmp(wt->data, wd->data, sizeof(float) * (size_t)n) != 0;
}

static int setup_layer(const sl_compress_ctx *cc, sl_model *target, int ci, rl *l)
{
	const struct cr_cache *c = cc->cache;
	const sl_node *nt = &target->nodes[c->node[ci]];
	const sl_tensor *wt = &target->tensors[nt->inputs[1]];
	const sl_tensor *wd = &cc->master->tensors[cc->master->nodes[c->node[ci]].inputs[1]];
	memset(l, 0, sizeof(*l));
	l->node = c->node[ci];
	l->ci = ci;
	l->gd = c->g[ci];
	geometry(target, l->node, cc->o.positions_per_image, &l->gt);
	l->gt.p = l->gd.p;
	l->kt = l->gt.k;
	l->ot = wt->dims[0];
	if (l->gt.npos != l->gd.npos || l->gt.pooled != l->gd.pooled)
		return 0;
	l->rowmap = malloc(sizeof(int) * (size_t)l->ot);
	if (!l->rowmap)
		return -ENOMEM;
	if (map_rows(wt, wd, l->kt, l->rowmap) < 0) {
		free(l->rowmap);
		l->rowmap = NULL;
		return 0;
	}
	if (l->ot == wd->dims[0] && sl_tensor_numel(wt) == sl_tensor_numel(wd)) {
		const sl_node *ndn = &cc->master->nodes[c->node[ci]];
		l->wd = wd->data;
		l->bd = ndn->n_inputs > 2 && ndn->inputs[2] >= 0 ? cc->master->tensors[ndn->inputs[2]].data
								 : NULL;
	}
	const size_t kt = (size_t)l->kt + 1, o = (size_t)l->ot;
	l->pos = malloc(sizeof(int) * (size_t)l->gd.p);
	l->patch = malloc(sizeof(float) * kt);
	if (!l->pos || !l->patch)
		return -ENOMEM;
	for (int s = 0; s < 2; s++) {
		acc *a = &l->a[s];
		a->h = calloc(kt * kt, sizeof(double));
		a->g = calloc(kt * o, sizeof(double));
		a->xt = malloc(sizeof(float) * kt * BATCH_COLS);
		a->yt = malloc(sizeof(float) * o * BATCH_COLS);
		if (!a->h || !a->g || !a->xt || !a->yt)
			return -ENOMEM;
	}
	return 1;
}

typedef struct {
	const struct cr_cache *c;
	float *dst;
} grab_ctx;

static void grab(void *ud, int t, const void *data)
{
	grab_ctx *g = ud;
	if (t == g->c->lt)
		memcpy(g->dst, data, sizeof(float) * (size_t)g->c->nl);
}

/* Copy the dense weights and bias of a layer into m when the shapes agree. */
static int restore_dense(const sl_model *dense, sl_model *m, int node)
{
	const sl_node *nd = &dense->nodes[node], *nm = &m->nodes[node];
	for (int k = 1; k < SL_MIN(nd->n_inputs, nm->n_inputs); k++) {
		if (nd->inputs[k] < 0 || nm->inputs[k] < 0)
			continue;
		const sl_tensor *a = &dense->tensors[nd->inputs[k]];
		sl_tensor *b = &m->tensors[nm->inputs[k]];
		if (a->bytes != b->bytes || a->dtype != b->dtype)
			return 0;
	}
	for (int k = 1; k < SL_MIN(nd->n_inputs, nm->n_inputs); k++) {
		if (nd->inputs[k] < 0 || nm->inputs[k] < 0)
			continue;
		const sl_tensor *a = &dense->tensors[nd->inputs[k]];
		void *buf = malloc(a->bytes);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, a->data, a->bytes);
		int r = cg_set_data(m, nm->inputs[k], buf, a->bytes);
		if (r < 0) {
			free(buf);
			return r;
		}
	}
	return 0;
}

/* Output distortion on the held-out calibration images of target with the
 * layers after cache entry `upto` put back to dense where their shapes allow:
 * what the layers re-fitted so far cost, without the noise of the layers
 * still waiting for theirs. */
static int held_out_damage(sl_compress_ctx *cc, sl_model *target, int upto, float *buf, double *ret,
			   sl_error *err)
{
	const struct cr_cache *c = cc->cache;
	const bool kl = c->lt != target->outputs[0];
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	int r = cg_clone(target, &m, err);
	for (int ci = upto + 1; ci < c->n && r >= 0; ci++)
		r = restore_dense(cc->master, m, c->node[ci]);
	if (r < 0 || (r = sl_model_finalize(m, err)) < 0)
		return r;
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	if ((r = co_runtime(m, &cc->o, &rt, err)) < 0)
		return r;
	double d = 0;
	grab_ctx g = {.c = c, .dst = buf};
	for (int i = CO_HOLDOUT_EVERY - 1; i < cc->cs->n; i += CO_HOLDOUT_EVERY) {
		co_set_input(rt, cc->cs, i);
		if ((r = sl_runtime_invoke_observed(rt, grab, &g)) < 0)
			return r;
		d += co_logit_dist(c->logits + (size_t)i * c->nl, buf, c->nl, kl);
	}
	*ret = d;
	return 0;
}

int cr_recover(sl_compress_ctx *cc, sl_model *target, sl_error *err)
{
	int r = build_cache(cc, err);
	if (r < 0)
		return r;
	const struct cr_cache *c = cc->cache;
	const sl_model *dense = cc->master;
	/* Layers in execution order; everything from the first changed one on. */
	bool started = false;
	int fitted = 0, kept = 0, kept_bias = 0;
	double damage = NAN;
	_cleanup_free_ float *lbuf = malloc(sizeof(float) * (size_t)c->nl);
	if (!lbuf)
		return -ENOMEM;
	for (int ci = 0; ci < c->n && r >= 0; ci++) {
		const sl_node *nt = &target->nodes[c->node[ci]];
		const sl_tensor *wt = &target->tensors[nt->inputs[1]];
		const sl_tensor *wd = &dense->tensors[dense->nodes[c->node[ci]].inputs[1]];
		if (wt->dtype != SL_DTYPE_F32 || wt->kind != SL_TENSOR_CONST)
			continue;
		if (!started) {
			bool changed = weights_changed(wt, wd);
			/* An input that lost channels is a change too. */
			const sl_tensor *it = &target->tensors[nt->inputs[0]],
					*id = &dense->tensors[nt->inputs[0]];
			changed |= it->dims[it->rank - 1] != id->dims[id->rank - 1];
			if (!changed)
				continue;
			started = true;
		}
		rl l;
		if ((r = setup_layer(cc, target, ci, &l)) <= 0) {
			rl_free(&l);
			continue;
		}
		_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
		if ((r = co_runtime(target, &cc->o, &rt, err)) < 0) {
			rl_free(&l);
			break;
		}
		layer_pass lp = {.target = target, .cache = c, .l = &l};
		for (int i = 0; i < cc->cs->n && r >= 0; i++) {
			l.img = i;
			co_set_input(rt, cc->cs, i);
			for (int k = 0; k < target->n_inputs; k++)
				layer_observe(&lp, target->inputs[k], sl_runtime_input(rt, k));
			if ((r = sl_runtime_invoke_observed(rt, layer_observe, &lp)) < 0)
				r = cg_fail(err, r, "recovery: inference failed on calibration input %d", i);
		}
		for (int s = 0; s < 2; s++)
			acc_flush(&l.a[s], l.kt + 1, l.ot);
		/* The layer before its re-fit, to go back to when the re-fit, though
		 * closer to the dense layer's linear output, hurts the network's
		 * output on held-out images (ReLU6 clipping makes the two differ). */
		sl_tensor *tw = &target->tensors[nt->inputs[1]];
		const bool hb = nt->n_inputs > 2 && nt->inputs[2] >= 0;
		sl_tensor *tb = hb ? &target->tensors[nt->inputs[2]] : NULL;
		void *save_w = malloc(tw->bytes), *save_b = hb ? malloc(tb->bytes) : NULL;
		if (!save_w || (hb && !save_b)) {
			free(save_w);
			free(save_b);
			rl_free(&l);
			r = -ENOMEM;
			break;
		}
		memcpy(save_w, tw->data, tw->bytes);
		if (hb)
			memcpy(save_b, tb->data, tb->bytes);
		if (r >= 0)
			r = held_out_damage(cc, target, ci, lbuf, &damage, err);
		/* Candidates: 0 as pruned, 1 biases re-estimated, 2 re-fitted; the
		 * one the network's output on held-out images likes best stays. */
		fit_report rep = {0}, rep_b;
		double dmg[3] = {damage, INFINITY, INFINITY};
		void *bias_w = malloc(tw->bytes), *bias_b = hb ? malloc(tb->bytes) : NULL;
		if (!bias_w || (hb && !bias_b))
			r = -ENOMEM;
		const bool have = l.a[0].n > 0 && l.a[1].n > 0;
		if (r >= 0 && have && hb && (r = solve_layer(target, &l, cc->o.damp, true, &rep_b)) >= 0 &&
		    (r = held_out_damage(cc, target, ci, lbuf, &dmg[1], err)) >= 0) {
			memcpy(bias_w, tw->data, tw->bytes);
			memcpy(bias_b, tb->data, tb->bytes);
			memcpy((void *)tw->data, save_w, tw->bytes);
			memcpy((void *)tb->data, save_b, tb->bytes);
		}
		if (r >= 0 && have && (r = solve_layer(target, &l, cc->o.damp, false, &rep)) >= 0)
			r = held_out_damage(cc, target, ci, lbuf, &dmg[2], err);
		if (r >= 0 && have) {
			int best = 0;
			for (int k = 1; k < 3; k++)
				if (dmg[k] < dmg[best])
					best = k;
			if (best == 0) {
				memcpy((void *)tw->data, save_w, tw->bytes);
				if (hb)
					memcpy((void *)tb->data, save_b, tb->bytes);
			} else if (best == 1) {
				memcpy((void *)tw->data, bias_w, tw->bytes);
				memcpy((void *)tb->data, bias_b, tb->bytes);
			}
			if (cc->o.verbose) {
				const double yy = rep.yy > 0 ? rep.yy : 1;
				cg_progress(
				    &cc->o,
				    "node %d (%dx%d): layer output error %.4f pruned, %.4f bias "
				    "re-estimated, "
				    "%.4f re-fit (damp %g, %d rows); held-out network distortion %.4g, %.4g, "
				    "%.4g: %s",
				    l.node, l.ot, l.kt, (rep.mag + yy) / yy, (rep.bias + yy) / yy,
				    (rep.best + yy) / yy, rep.damp, rep.kept_fit, dmg[0], dmg[1], dmg[2],
				    best == 0	? "pruned kept"
				    : best == 1 ? "bias re-estimated"
						: "re-fit");
			}
			damage = dmg[best];
			kept += best == 2;
			kept_bias += best == 1;
			fitted++;
		}
		free(bias_w);
		free(bias_b);
		free(save_w);
		free(save_b);
		rl_free(&l);
	}
	cg_progress(&cc->o,
		    "recovery: of %d layers, %d re-fitted, %d with biases re-estimated; held-out output "
		    "distortion %.4g",
		    fitted, kept, kept_bias, damage);
	return r < 0 ? r : 0;
}
