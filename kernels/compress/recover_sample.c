/* Recovery, sampling: where a layer's input patches come from, the dense
 * outputs sampled once per context, and the normal equations of one layer
 * accumulated over a pass of the target network. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/recover_internal.h"

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

int cr_build_cache(sl_compress_ctx *cc, sl_error *err)
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

void cr_acc_flush(acc *a, int kt, int o)
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
	for (int r = 0; r < o; r++) {
		const double e = dotf(a->yt + (size_t)r * BATCH_COLS, a->yt + (size_t)r * BATCH_COLS, n);
		a->yyr[r] += e;
		a->yy += e;
	}
	a->n += a->cols;
	a->cols = 0;
}

void cr_layer_observe(void *ud, int t, const void *data)
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
			cr_acc_flush(a, kt, l->ot);
	}
}

void cr_layer_free(rl *l)
{
	for (int s = 0; s < 2; s++) {
		free(l->a[s].h);
		free(l->a[s].g);
		free(l->a[s].xt);
		free(l->a[s].yt);
		free(l->a[s].yyr);
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

int cr_setup_layer(const sl_compress_ctx *cc, sl_model *target, int ci, rl *l)
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
		a->yyr = calloc(o, sizeof(double));
		if (!a->h || !a->g || !a->xt || !a->yt || !a->yyr)
			return -ENOMEM;
	}
	return 1;
}
