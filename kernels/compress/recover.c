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
 * {as pruned, biases re-estimated, re-fitted, and the pruned or re-fitted
 * layer with its batch norms re-estimated} gives the network output closest
 * to the dense model's on the held-out images (KL of the softmax), measured
 * with the layers not yet re-fitted put back to dense: recovery therefore
 * never keeps a change that the held-out images say hurts.
 *
 * Batch-norm re-estimation scales and shifts each row so that its output's
 * mean and variance on the calibration patches are the dense layer's. Least
 * squares shrinks a row whose inputs lost information toward its mean, and
 * pruning drops part of its variance; both flatten what the layers after it
 * see. On MobileNet v2's last layers it halves the held-out distortion that
 * the re-fit alone leaves (classifier: 44 -> 20), and sparse-50 goes from
 * 44 % to 48 % top-1.
 *
 * recover.c drives the layers and chooses between their candidates;
 * recover_sample.c samples the dense outputs and accumulates each layer's
 * statistics; recover_fit.c re-fits a layer from them. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"
#include "kernels/compress/recover_internal.h"

static int weights_changed(const sl_tensor *wt, const sl_tensor *wd)
{
	const int64_t n = sl_tensor_numel(wt);
	if (n != sl_tensor_numel(wd))
		return 1;
	return memcmp(wt->data, wd->data, sizeof(float) * (size_t)n) != 0;
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

/* A candidate of one layer: a copy of its weights and bias. */
typedef struct {
	void *w, *b;
} cand;
#define N_CAND 5
static const char *const cand_name[N_CAND] = {"pruned kept", "bias re-estimated", "re-fit",
					      "batch norm re-estimated", "re-fit, batch norm re-estimated"};

static int cand_save(cand *c, const sl_tensor *w, const sl_tensor *b)
{
	if (!c->w && !(c->w = malloc(w->bytes)))
		return -ENOMEM;
	if (b && !c->b && !(c->b = malloc(b->bytes)))
		return -ENOMEM;
	memcpy(c->w, w->data, w->bytes);
	if (b)
		memcpy(c->b, b->data, b->bytes);
	return 0;
}

static void cand_load(const cand *c, sl_tensor *w, sl_tensor *b)
{
	memcpy((void *)w->data, c->w, w->bytes);
	if (b)
		memcpy((void *)b->data, c->b, b->bytes);
}

static void cand_free(cand *c)
{
	free(c->w);
	free(c->b);
}

int cr_recover(sl_compress_ctx *cc, sl_model *target, sl_error *err)
{
	int r = cr_build_cache(cc, err);
	if (r < 0)
		return r;
	const struct cr_cache *c = cc->cache;
	const sl_model *dense = cc->master;
	/* Layers in execution order; everything from the first changed one on. */
	bool started = false;
	int fitted = 0, kept = 0, kept_bias = 0, kept_bn = 0;
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
		if ((r = cr_setup_layer(cc, target, ci, &l)) <= 0) {
			cr_layer_free(&l);
			continue;
		}
		_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
		if ((r = co_runtime(target, &cc->o, &rt, err)) < 0) {
			cr_layer_free(&l);
			break;
		}
		layer_pass lp = {.target = target, .cache = c, .l = &l};
		for (int i = 0; i < cc->cs->n && r >= 0; i++) {
			l.img = i;
			co_set_input(rt, cc->cs, i);
			for (int k = 0; k < target->n_inputs; k++)
				cr_layer_observe(&lp, target->inputs[k], sl_runtime_input(rt, k));
			if ((r = sl_runtime_invoke_observed(rt, cr_layer_observe, &lp)) < 0)
				r = cg_fail(err, r, "recovery: inference failed on calibration input %d", i);
		}
		for (int s = 0; s < 2; s++)
			cr_acc_flush(&l.a[s], l.kt + 1, l.ot);
		/* Candidates, each one weights+bias copy: 0 as pruned, 1 biases
		 * re-estimated, 2 re-fitted, 3 and 4: 0 and 2 with their output
		 * mean and variance re-estimated (batch-norm re-estimation). The one
		 * the network's output on held-out images likes best stays: a
		 * closer linear output is not always a better network (ReLU6). */
		sl_tensor *tw = &target->tensors[nt->inputs[1]];
		const bool hb = nt->n_inputs > 2 && nt->inputs[2] >= 0;
		sl_tensor *tb = hb ? &target->tensors[nt->inputs[2]] : NULL;
		cand cd[N_CAND] = {0};
		double dmg[N_CAND];
		for (int k = 0; k < N_CAND; k++)
			dmg[k] = INFINITY;
		fit_report rep = {0}, rep_b;
		const bool have = l.a[0].n > 0 && l.a[1].n > 0;
		if (r >= 0)
			r = cand_save(&cd[0], tw, tb);
		if (r >= 0)
			r = held_out_damage(cc, target, ci, lbuf, &dmg[0], err);
		if (r >= 0 && have && hb && (r = cr_solve_layer(target, &l, cc->o.damp, true, &rep_b)) >= 0 &&
		    (r = held_out_damage(cc, target, ci, lbuf, &dmg[1], err)) >= 0)
			r = cand_save(&cd[1], tw, tb);
		if (r >= 0 && have) {
			cand_load(&cd[0], tw, tb);
			if ((r = cr_solve_layer(target, &l, cc->o.damp, false, &rep)) >= 0 &&
			    (r = held_out_damage(cc, target, ci, lbuf, &dmg[2], err)) >= 0)
				r = cand_save(&cd[2], tw, tb);
		}
		for (int k = 3; k < N_CAND && r >= 0 && have && hb; k++) {
			cand_load(&cd[k == 3 ? 0 : 2], tw, tb);
			if ((r = cr_rescale_layer(target, &l)) >= 0 &&
			    (r = held_out_damage(cc, target, ci, lbuf, &dmg[k], err)) >= 0)
				r = cand_save(&cd[k], tw, tb);
		}
		if (r >= 0 && !have)
			damage = dmg[0];
		if (r >= 0 && have) {
			int best = 0;
			for (int k = 1; k < N_CAND; k++)
				if (cd[k].w && dmg[k] < dmg[best])
					best = k;
			cand_load(&cd[best], tw, tb);
			if (cc->o.verbose) {
				const double yy = rep.yy > 0 ? rep.yy : 1;
				cg_progress(
				    &cc->o,
				    "node %d (%dx%d): layer output error %.4f pruned, %.4f bias "
				    "re-estimated, %.4f re-fit (damp %g, %d rows); held-out network "
				    "distortion %.4g, %.4g, %.4g, batch-norm re-estimated %.4g, %.4g: %s",
				    l.node, l.ot, l.kt, (rep.mag + yy) / yy, (rep.bias + yy) / yy,
				    (rep.best + yy) / yy, rep.damp, rep.kept_fit, dmg[0], dmg[1], dmg[2],
				    dmg[3], dmg[4], cand_name[best]);
			}
			damage = dmg[best];
			kept += best == 2 || best == 4;
			kept_bias += best == 1;
			kept_bn += best == 3 || best == 4;
			fitted++;
		}
		for (int k = 0; k < N_CAND; k++)
			cand_free(&cd[k]);
		cr_layer_free(&l);
	}
	cg_progress(&cc->o,
		    "recovery: of %d layers, %d re-fitted, %d with biases re-estimated, %d with batch "
		    "norms re-estimated; held-out output distortion %.4g",
		    fitted, kept, kept_bias, kept_bn, damage);
	return r < 0 ? r : 0;
}
