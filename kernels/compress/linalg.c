/* Dense Cholesky for the re-fit's normal equations (small, SPD after damping). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/compress/compress_internal.h"

int la_cholesky(double *a, int n)
{
	for (int j = 0; j < n; j++) {
		double *rj = a + (size_t)j * n;
		double d = rj[j];
		for (int k = 0; k < j; k++)
			d -= rj[k] * rj[k];
		if (!(d > 0))
			return -EDOM;
		d = sqrt(d);
		rj[j] = d;
		const double inv = 1.0 / d;
		for (int i = j + 1; i < n; i++) {
			double *ri = a + (size_t)i * n;
			double s = ri[j];
			for (int k = 0; k < j; k++)
				s -= ri[k] * rj[k];
			ri[j] = s * inv;
		}
	}
	return 0;
}

void la_cholesky_solve(const double *l, int n, double *b, int nrhs)
{
	for (int r = 0; r < nrhs; r++) {
		double *x = b + (size_t)r * n;
		for (int i = 0; i < n; i++) {
			const double *li = l + (size_t)i * n;
			double s = x[i];
			for (int k = 0; k < i; k++)
				s -= li[k] * x[k];
			x[i] = s / li[i];
		}
		for (int i = n - 1; i >= 0; i--) {
			double s = x[i];
			for (int k = i + 1; k < n; k++)
				s -= l[(size_t)k * n + i] * x[k];
			x[i] = s / l[(size_t)i * n + i];
		}
	}
}

int la_inverse_from_cholesky(const double *l, int n, double *inv)
{
	/* rt holds L^-1 transposed, so both products below read rows. */
	double *rt = malloc(sizeof(double) * (size_t)n * (size_t)n);
	if (!rt)
		return -ENOMEM;
	for (int j = 0; j < n; j++) {
		double *rj = rt + (size_t)j * n;
		for (int i = 0; i < j; i++)
			rj[i] = 0;
		rj[j] = 1.0 / l[(size_t)j * n + j];
		for (int i = j + 1; i < n; i++) {
			const double *li = l + (size_t)i * n;
			double s = 0;
			for (int k = j; k < i; k++)
				s += li[k] * rj[k];
			rj[i] = -s / li[i];
		}
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j <= i; j++) {
			const double *a = rt + (size_t)i * n, *b = rt + (size_t)j * n;
			double s = 0;
			for (int k = i; k < n; k++)
				s += a[k] * b[k];
			inv[(size_t)i * n + j] = inv[(size_t)j * n + i] = s;
		}
	free(rt);
	return 0;
}
