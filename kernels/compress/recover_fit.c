/* Recovery, the re-fit of one layer from its accumulated normal equations:
 * per group of rows sharing a kept set (dense layers, or ones that lost
 * channels) a damped least-squares solve, per row of a layer pruned in 1x4
 * blocks a re-fit with all inputs pruned back by OBS; the held-out images
 * choose the damping and each row's candidate. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/recover_internal.h"

static const double damp_grid[] = {1e-3, 1e-2, 1e-1, 1.0};
#define N_DAMP	    (int)(sizeof(damp_grid) / sizeof(damp_grid[0]))
#define DAMP_GROUPS 8

/* Entry (i, j) of H, of which only the lower triangle is stored. */
static inline double h_at(const acc *a, int kt, int i, int j)
{
	return i >= j ? a->h[(size_t)i * kt + j] : a->h[(size_t)j * kt + i];
}

/* v'Hv for v (length ns over S). */
static double quad_h(const acc *a, int kt, const int *S, int ns, const double *v)
{
	double q = 0;
	for (int i = 0; i < ns; i++) {
		if (v[i] == 0)
			continue;
		double hv = 0;
		for (int j = 0; j < ns; j++)
			hv += h_at(a, kt, S[i], S[j]) * v[j];
		q += v[i] * hv;
	}
	return q;
}

/* Held-out objective of row r for v (length ns over S): v'Hv - 2 v'g + yy_r
 * (the constant is only known summed over rows, so it is left out). */
static double row_obj(const acc *a, int kt, int o, const int *S, int ns, const double *v, int r)
{
	double vg = 0;
	for (int i = 0; i < ns; i++)
		vg += v[i] * a->g[(size_t)S[i] * o + r];
	return quad_h(a, kt, S, ns, v) - 2 * vg;
}

/* Factor H_SS + lambda I into fac (ns x ns); -EDOM when not SPD. */
static int factor(const acc *a, int kt, const int *S, int ns, double lambda, double *fac)
{
	for (int i = 0; i < ns; i++) {
		for (int j = 0; j <= i; j++) {
			fac[(size_t)i * ns + j] = fac[(size_t)j * ns + i] = h_at(a, kt, S[i], S[j]);
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
int cr_solve_layer(sl_model *target, rl *l, double damp_floor, bool bias_only, fit_report *rep)
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

int cr_rescale_layer(sl_model *target, const rl *l)
{
	const int kt = l->kt + 1, k = l->kt, o = l->ot, b = kt - 1;
	const sl_node *nd = &target->nodes[l->node];
	if (!(nd->n_inputs > 2 && nd->inputs[2] >= 0))
		return 0;
	float *wt = (float *)target->tensors[nd->inputs[1]].data;
	float *bt = (float *)target->tensors[nd->inputs[2]].data;
	const acc *a = &l->a[0];
	if (a->n < 2)
		return 0;
	const double n = (double)a->n;
	int *S = malloc(sizeof(int) * (size_t)kt);
	double *vs = malloc(sizeof(double) * (size_t)kt), *v = malloc(sizeof(double) * (size_t)kt);
	if (!S || !vs || !v) {
		free(S);
		free(vs);
		free(v);
		return -ENOMEM;
	}
	for (int r = 0; r < o; r++) {
		for (int i = 0; i < k; i++)
			v[i] = wt[(size_t)r * k + i];
		v[b] = bt[r];
		const int ns = compact_row(v, kt, S, vs);
		/* Mean and second moment of the row's output over the patches (the
		 * trailing 1 of each patch makes row b of H the input sums). */
		double m1 = 0;
		for (int i = 0; i < ns; i++)
			m1 += vs[i] * a->h[(size_t)b * kt + S[i]];
		m1 /= n;
		const double q1 = quad_h(a, kt, S, ns, vs) / n;
		const double m0 = a->g[(size_t)b * o + r] / n, q0 = a->yyr[r] / n;
		const double var1 = q1 - m1 * m1, var0 = q0 - m0 * m0;
		if (!(var1 > 1e-12 * (q0 + 1e-30)) || !(var0 > 0))
			continue;
		const double s = sqrt(var0 / var1);
		for (int i = 0; i < k; i++)
			wt[(size_t)r * k + i] = (float)(s * v[i]);
		bt[r] = (float)(s * v[b] + m0 - s * m1);
	}
	free(S);
	free(vs);
	free(v);
	return 0;
}
