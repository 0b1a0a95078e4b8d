/* OBS pruning of one layer's rows in the sparse kernels' 1x4 blocks, in the
 * manner of SparseGPT (Frantar & Alistarh, 2023): columns are eliminated left
 * to right; removing weight j moves its contribution onto the columns after
 * it through row j of U, the upper Cholesky factor of the inverse Hessian, so
 * one factorisation serves every row although each row keeps its own blocks.
 * An exact least-squares re-fit per row would need a factorisation per row
 * (per distinct kept set), O(k^3) each: hours for MobileNet's classifier.
 * Rows are independent, so they are processed one at a time and the
 * "lazy batch" bookkeeping of the GPU version is unnecessary. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

#define OB_BATCH_BLOCKS 32

void ob_factors_free(ob_factors *f)
{
	free(f->l);
	free(f->u);
	memset(f, 0, sizeof(*f));
}

int ob_factor(const double *h, int n, double lambda, ob_factors *f)
{
	memset(f, 0, sizeof(*f));
	const size_t nn = (size_t)n * (size_t)n;
	double *l = malloc(sizeof(double) * nn), *inv = malloc(sizeof(double) * nn);
	int r = 0;
	if (!l || !inv) {
		r = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j <= i; j++)
			l[(size_t)i * n + j] = l[(size_t)j * n + i] = h[(size_t)i * n + j];
		l[(size_t)i * n + i] += lambda;
	}
	if ((r = la_cholesky(l, n)) < 0 || (r = la_inverse_from_cholesky(l, n, inv)) < 0 ||
	    (r = la_cholesky(inv, n)) < 0)
		goto fail;
	/* U = L2^T, stored by rows so that the elimination reads row j at once. */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++) {
			inv[(size_t)j * n + i] = inv[(size_t)i * n + j];
			inv[(size_t)i * n + j] = 0;
		}
	f->n = n;
	f->l = l;
	f->u = inv;
	return 0;
fail:
	free(l);
	free(inv);
	return r;
}

void ob_prune_row(const ob_factors *f, int k, double *w, int nprune)
{
	const int n = f->n, kb = (k + 3) / 4;
	int done = 0;
	for (int b0 = 0; b0 < kb && done < nprune; b0 += OB_BATCH_BLOCKS) {
		const int b1 = SL_MIN(kb, b0 + OB_BATCH_BLOCKS);
		/* The row's count spread over its batches in proportion to their size. */
		int want = (int)llround((double)nprune * b1 / kb) - done;
		want = SL_MIN(want, b1 - b0);
		double sal[OB_BATCH_BLOCKS];
		bool cut[OB_BATCH_BLOCKS] = {false};
		for (int b = b0; b < b1; b++) {
			double s = 0;
			for (int j = 4 * b; j < SL_MIN(k, 4 * b + 4); j++) {
				const double d = f->u[(size_t)j * n + j];
				s += w[j] * w[j] / (d * d);
			}
			sal[b - b0] = s;
		}
		for (int q = 0; q < want; q++) {
			int best = -1;
			for (int b = 0; b < b1 - b0; b++)
				if (!cut[b] && (best < 0 || sal[b] < sal[best]))
					best = b;
			cut[best] = true;
		}
		done += want;
		for (int j = 4 * b0; j < SL_MIN(k, 4 * b1); j++) {
			if (!cut[j / 4 - b0])
				continue;
			const double *uj = f->u + (size_t)j * n;
			const double e = w[j] / uj[j];
			for (int c = j + 1; c < n; c++)
				w[c] -= e * uj[c];
			w[j] = 0;
		}
	}
}
