/* Load-time packing of fp32 1x1-conv / FC weights into block-CSR. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/sparse/sparse.h"
#include "kernels/sparse/sparse_internal.h"

static size_t layout(sl_sparse_f32 *p, int n, size_t nnzb, uint8_t *base)
{
	size_t off = SL_ALIGN_UP(sizeof(sl_sparse_f32), 64);
	const size_t o_bias = off;
	off = SL_ALIGN_UP(off + (size_t)n * sizeof(float), 64);
	const size_t o_row = off;
	off = SL_ALIGN_UP(off + ((size_t)n + 1) * sizeof(uint32_t), 64);
	const size_t o_w = off;
	off = SL_ALIGN_UP(off + nnzb * 4 * sizeof(float), 64);
	const size_t o_idx = off;
	off = SL_ALIGN_UP(off + (nnzb + 4) * sizeof(uint16_t), 64);
	if (p) {
		p->bias = (float *)(base + o_bias);
		p->row = (uint32_t *)(base + o_row);
		p->w = (float *)(base + o_w);
		p->idx = (uint16_t *)(base + o_idx);
	}
	return off;
}

size_t sl_sparse_f32_max_bytes(int n, int k)
{
	if (n < 1 || k < 1)
		return 0;
	return layout(NULL, n, (size_t)n * (((size_t)k + 3) / 4), NULL);
}

size_t sl_sparse_f32_scratch_bytes(const sl_sparse_f32 *p)
{
	return sl_sparse_f32_tile_bytes(p->kb) + 64;
}

int sl_sparse_f32_pack(const sl_sparse_f32_desc *d, sl_sparse_f32 **ret, sl_error *err)
{
	if (!d->w)
		return sl_sparse_fail(err, -EINVAL, "sparse f32: weights are required");
	if (d->n < 1 || d->n > SL_SPARSE_MAX_N || d->k < 1 || d->k > SL_SPARSE_MAX_K ||
	    (uint64_t)d->n * (uint64_t)d->k > SL_SPARSE_MAX_WEIGHTS)
		return sl_sparse_fail(err, -EINVAL, "sparse f32: shape %dx%d out of range (n <= %d, k <= %d)",
				      d->n, d->k, SL_SPARSE_MAX_N, SL_SPARSE_MAX_K);
	if (isnan(d->out_min) || isnan(d->out_max) || d->out_min > d->out_max)
		return sl_sparse_fail(err, -EINVAL, "sparse f32: output range [%g, %g] invalid",
				      (double)d->out_min, (double)d->out_max);
	const int n = d->n, k = d->k, kb = (k + 3) / 4;
	size_t nnzb = 0;
	for (int i = 0; i < n; i++)
		for (int b = 0; b < kb; b++) {
			bool nz = false;
			for (int j = 4 * b; j < 4 * b + 4 && j < k; j++)
				nz |= d->w[(size_t)i * k + j] != 0.0f;
			nnzb += nz;
		}
	const size_t bytes = layout(NULL, n, nnzb, NULL);
	uint8_t *base = aligned_alloc(64, bytes);
	if (!base)
		return sl_sparse_fail(err, -ENOMEM, "sparse f32: cannot allocate %zu bytes", bytes);
	memset(base, 0, bytes);
	sl_sparse_f32 *p = (sl_sparse_f32 *)base;
	layout(p, n, nnzb, base);
	p->n = n;
	p->k = k;
	p->kb = kb;
	p->nnzb = (uint32_t)nnzb;
	p->out_min = d->out_min;
	p->out_max = d->out_max;
	p->bytes = bytes;
	uint32_t at = 0;
	for (int i = 0; i < n; i++) {
		p->row[i] = at;
		p->bias[i] = d->bias ? d->bias[i] : 0.0f;
		for (int b = 0; b < kb; b++) {
			float w[4] = {0, 0, 0, 0};
			bool nz = false;
			for (int j = 0; j < 4 && 4 * b + j < k; j++) {
				w[j] = d->w[(size_t)i * k + 4 * b + j];
				nz |= w[j] != 0.0f;
			}
			if (!nz)
				continue;
			p->idx[at] = (uint16_t)b;
			memcpy(&p->w[4 * (size_t)at], w, sizeof(w));
			at++;
		}
	}
	p->row[n] = at;
	*ret = p;
	return 0;
}

sl_sparse_f32 *sl_sparse_f32_free(sl_sparse_f32 *p)
{
	free(p);
	return NULL;
}
