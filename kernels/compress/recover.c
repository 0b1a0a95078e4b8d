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
 * therefore never keeps a change that the held-out images say hurts.
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

int cr_recover(sl_compress_ctx *cc, sl_model *target, sl_error *err)
{
	int r = cr_build_cache(cc, err);
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
			cr_layer_free(&l);
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
		if (r >= 0 && have && hb && (r = cr_solve_layer(target, &l, cc->o.damp, true, &rep_b)) >= 0 &&
		    (r = held_out_damage(cc, target, ci, lbuf, &dmg[1], err)) >= 0) {
			memcpy(bias_w, tw->data, tw->bytes);
			memcpy(bias_b, tb->data, tb->bytes);
			memcpy((void *)tw->data, save_w, tw->bytes);
			memcpy((void *)tb->data, save_b, tb->bytes);
		}
		if (r >= 0 && have && (r = cr_solve_layer(target, &l, cc->o.damp, false, &rep)) >= 0)
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
		cr_layer_free(&l);
	}
	cg_progress(&cc->o,
		    "recovery: of %d layers, %d re-fitted, %d with biases re-estimated; held-out output "
		    "distortion %.4g",
		    fitted, kept, kept_bias, damage);
	return r < 0 ? r : 0;
}
