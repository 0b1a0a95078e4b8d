/* Structured pruning of inverted-residual blocks: 1x1 expand -> depthwise ->
 * 1x1 project. Removing an expanded channel removes one filter of the expand
 * conv, one channel of the depthwise and one input column of the project
 * conv, leaving a smaller dense network. Channels are ranked by how much they
 * can contribute to the block's output: the norm of their projection column
 * times their RMS activation on the calibration set. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

typedef struct {
	int expand, dw, project; /* node indices */
	int ch;
} ir_block;

static bool is_1x1_conv(const sl_model *m, const sl_node *n)
{
	if (n->op != SL_OP_CONV_2D)
		return false;
	const sl_tensor *w = &m->tensors[n->inputs[1]];
	return w->kind == SL_TENSOR_CONST && w->dtype == SL_DTYPE_F32 && w->rank == 4 && w->dims[1] == 1 &&
	       w->dims[2] == 1;
}

static int find_blocks(const sl_model *m, ir_block *b)
{
	int n = 0;
	for (int i = 0; i < m->n_nodes; i++) {
		const sl_node *d = &m->nodes[i];
		if (d->op != SL_OP_DEPTHWISE_CONV_2D || SL_MAX(d->p.conv.depth_multiplier, 1) != 1)
			continue;
		const int e = cg_producer(m, d->inputs[0]);
		int p = -1;
		if (e < 0 || !is_1x1_conv(m, &m->nodes[e]) || cg_consumers(m, d->inputs[0], NULL) != 1 ||
		    cg_consumers(m, d->outputs[0], &p) != 1 || !is_1x1_conv(m, &m->nodes[p]))
			continue;
		if (m->tensors[d->inputs[1]].dtype != SL_DTYPE_F32)
			continue;
		b[n++] =
		    (ir_block){.expand = e, .dw = i, .project = p, .ch = m->tensors[d->inputs[1]].dims[3]};
	}
	return n;
}

typedef struct {
	double score;
	int ch;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
	const ranked *x = a, *y = b;
	return x->score > y->score ? -1 : (x->score < y->score ? 1 : x->ch - y->ch);
}

/* Keep the listed entries of the axis `axis` of a float constant. */
static int slice_const(sl_model *m, int t, int axis, const int *keep, int n_keep)
{
	sl_tensor *x = &m->tensors[t];
	int64_t outer = 1, inner = 1;
	for (int d = 0; d < axis; d++)
		outer *= x->dims[d];
	for (int d = axis + 1; d < x->rank; d++)
		inner *= x->dims[d];
	const int64_t dim = x->dims[axis];
	float *dst = malloc(sizeof(float) * (size_t)(outer * n_keep * inner));
	if (!dst)
		return -ENOMEM;
	const float *src = x->data;
	for (int64_t o = 0; o < outer; o++)
		for (int k = 0; k < n_keep; k++)
			memcpy(dst + (o * n_keep + k) * inner, src + (o * dim + keep[k]) * inner,
			       sizeof(float) * (size_t)inner);
	int r = cg_set_data(m, t, dst, sizeof(float) * (size_t)(outer * n_keep * inner));
	if (r == 0)
		x->dims[axis] = n_keep;
	return r;
}

static void set_channels(sl_model *m, int t, int n)
{
	sl_tensor *x = &m->tensors[t];
	x->dims[x->rank - 1] = n;
}

int sl_compress_channels(sl_compress_ctx *c, double fraction, sl_model **ret, sl_error *err)
{
	if (!c || !ret || !(fraction > 0 && fraction < 1))
		return -EINVAL;
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	int r = cg_clone(c->master, &m, err);
	if (r < 0)
		return r;
	_cleanup_free_ ir_block *blocks = calloc((size_t)m->n_nodes + 1, sizeof(*blocks));
	if (!blocks)
		return -ENOMEM;
	const int nb = find_blocks(m, blocks);
	if (nb == 0)
		return cg_fail(err, SL_E_UNSUPPORTED,
			       "%s: no inverted-residual blocks (1x1 conv -> depthwise -> 1x1 conv) to prune",
			       m->path ? m->path : "model");
	int removed = 0, total = 0;
	for (int b = 0; b < nb; b++) {
		const ir_block *B = &blocks[b];
		const int ch = B->ch;
		/* Multiples of 8 keep the vector kernels' tiles full. */
		int keep_n = (int)lround((1.0 - fraction) * ch / 8.0) * 8;
		keep_n = SL_MAX(8, SL_MIN(keep_n, ch));
		total += ch;
		if (keep_n >= ch)
			continue;
		const sl_node *P = &m->nodes[B->project];
		const sl_tensor *pw = &m->tensors[P->inputs[1]];
		const float *pwf = pw->data;
		const int pout = pw->dims[0];
		const co_stats *st = &c->master_stats[m->nodes[B->dw].outputs[0]];
		ranked *rk = malloc(sizeof(*rk) * (size_t)ch);
		int *keep = malloc(sizeof(int) * (size_t)ch);
		if (!rk || !keep) {
			free(rk);
			free(keep);
			return -ENOMEM;
		}
		for (int j = 0; j < ch; j++) {
			double norm = 0;
			for (int o = 0; o < pout; o++)
				norm += (double)pwf[(size_t)o * ch + j] * pwf[(size_t)o * ch + j];
			double act = st->ch_sq && st->count > 0 && st->channels == ch
					 ? sqrt(st->ch_sq[j] / st->count)
					 : 1.0;
			rk[j] = (ranked){sqrt(norm) * (act + 1e-6), j};
		}
		qsort(rk, (size_t)ch, sizeof(*rk), cmp_ranked);
		for (int j = 0; j < keep_n; j++)
			keep[j] = rk[j].ch;
		/* Ascending channel order keeps the surviving layout stable. */
		for (int i = 1; i < keep_n; i++)
			for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
				int t = keep[j];
				keep[j] = keep[j - 1];
				keep[j - 1] = t;
			}
		const sl_node *E = &m->nodes[B->expand], *D = &m->nodes[B->dw];
		if ((r = slice_const(m, E->inputs[1], 0, keep, keep_n)) < 0 ||
		    (E->n_inputs > 2 && E->inputs[2] >= 0 &&
		     (r = slice_const(m, E->inputs[2], 0, keep, keep_n)) < 0) ||
		    (r = slice_const(m, D->inputs[1], 3, keep, keep_n)) < 0 ||
		    (D->n_inputs > 2 && D->inputs[2] >= 0 &&
		     (r = slice_const(m, D->inputs[2], 0, keep, keep_n)) < 0) ||
		    (r = slice_const(m, P->inputs[1], 3, keep, keep_n)) < 0) {
			free(rk);
			free(keep);
			return r;
		}
		set_channels(m, E->outputs[0], keep_n);
		set_channels(m, D->outputs[0], keep_n);
		removed += ch - keep_n;
		free(rk);
		free(keep);
	}
	if ((r = sl_model_finalize(m, err)) < 0)
		return r;
	cg_progress(&c->o, "channels-%.0f: %d of %d expanded channels removed in %d blocks", fraction * 100,
		    removed, total, nb);
	if (c->o.recovery && (r = cr_recover(c, m, err)) < 0)
		return r;
	free(m->description);
	m->description = strdup("sightline channel-pruned");
	*ret = SL_TAKE_PTR(m);
	return 0;
}
