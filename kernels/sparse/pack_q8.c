/* Load-time packing of int8/uint8 1x1-conv / FC weights into block-CSR. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/quant.h"
#include "kernels/sparse/sparse.h"
#include "kernels/sparse/sparse_internal.h"

static bool dtype_range(sl_dtype t, int32_t *lo, int32_t *hi)
{
	if (t == SL_DTYPE_I8) {
		*lo = -128;
		*hi = 127;
		return true;
	}
	if (t == SL_DTYPE_U8) {
		*lo = 0;
		*hi = 255;
		return true;
	}
	return false;
}

static int check_desc(const sl_sparse_q8_desc *d, sl_error *err)
{
	int32_t ilo, ihi, wlo, whi, olo, ohi;
	if (!d->w || (!d->fp32_scale && (!d->mult || !d->shift)))
		return sl_sparse_fail(
		    err, -EINVAL,
		    "sparse q8: weights and multipliers and shifts (or fp32 scales) are required");
	if (d->rndnu && !d->fp32_scale)
		return sl_sparse_fail(err, -EINVAL, "sparse q8: rndnu needs the fp32 scales");
	if (d->n < 1 || d->n > SL_SPARSE_MAX_N || d->k < 1 || d->k > SL_SPARSE_MAX_K ||
	    (uint64_t)d->n * (uint64_t)d->k > SL_SPARSE_MAX_WEIGHTS)
		return sl_sparse_fail(err, -EINVAL, "sparse q8: shape %dx%d out of range (n <= %d, k <= %d)",
				      d->n, d->k, SL_SPARSE_MAX_N, SL_SPARSE_MAX_K);
	if (!dtype_range(d->in_type, &ilo, &ihi) || !dtype_range(d->w_type, &wlo, &whi) ||
	    !dtype_range(d->out_type, &olo, &ohi))
		return sl_sparse_fail(err, -EINVAL,
				      "sparse q8: input, weight and output types must be int8 or uint8");
	if (d->nq != 1 && d->nq != d->n)
		return sl_sparse_fail(err, -EINVAL, "sparse q8: %d quantization parameters for %d channels",
				      d->nq, d->n);
	if (d->in_zp < ilo || d->in_zp > ihi || d->out_zp < olo || d->out_zp > ohi)
		return sl_sparse_fail(err, -EINVAL,
				      "sparse q8: zero point out of range (input %d, output %d)", d->in_zp,
				      d->out_zp);
	if (d->act_min > d->act_max || d->act_min < olo || d->act_max > ohi)
		return sl_sparse_fail(err, -EINVAL, "sparse q8: activation range [%d, %d] invalid",
				      d->act_min, d->act_max);
	for (int i = 0; i < d->nq; i++) {
		if (d->fp32_scale && !(d->fp32_scale[i] > 0 && d->fp32_scale[i] < 256))
			return sl_sparse_fail(err, -EINVAL,
					      "sparse q8: channel %d: fp32 scale %g not in (0, 256)", i,
					      (double)d->fp32_scale[i]);
		int32_t rm, rl, rr;
		if (d->rndnu && sl_quantize_rndnu(d->fp32_scale[i], &rm, &rl, &rr) < 0)
			return sl_sparse_fail(err, -EINVAL,
					      "sparse q8: channel %d: scale %g outside [2^-32, 256)", i,
					      (double)d->fp32_scale[i]);
		if (!d->fp32_scale && (d->mult[i] < 0 || d->shift[i] < -31 || d->shift[i] > 30))
			return sl_sparse_fail(err, -EINVAL,
					      "sparse q8: channel %d: multiplier %d / shift %d invalid", i,
					      d->mult[i], d->shift[i]);
		if (d->w_zp && (d->w_zp[i] < wlo || d->w_zp[i] > whi))
			return sl_sparse_fail(err, -EINVAL,
					      "sparse q8: channel %d: weight zero point %d out of range", i,
					      d->w_zp[i]);
	}
	return 0;
}

static inline int32_t weight_at(const sl_sparse_q8_desc *d, int n, int k)
{
	const size_t i = (size_t)n * (size_t)d->k + (size_t)k;
	const int32_t zp = d->w_zp ? d->w_zp[d->nq == 1 ? 0 : n] : 0;
	const int32_t w = d->w_type == SL_DTYPE_I8 ? ((const int8_t *)d->w)[i] : ((const uint8_t *)d->w)[i];
	return w - zp;
}

static size_t layout(sl_sparse_q8 *p, int n, size_t nnzb, unsigned flags, uint8_t *base)
{
	size_t off = SL_ALIGN_UP(sizeof(sl_sparse_q8), 64);
	const size_t o_ch = off;
	off = SL_ALIGN_UP(off + (size_t)n * sizeof(sl_sparse_q8_chan), 64);
	const size_t o_row = off;
	off = SL_ALIGN_UP(off + ((size_t)n + 1) * sizeof(uint32_t), 64);
	const size_t o_w16 = off;
	off = SL_ALIGN_UP(off + nnzb * 4 * sizeof(int16_t), 64);
	const size_t o_w16x2 = off;
	if (SL_SPARSE_HAVE_W16X2)
		off = SL_ALIGN_UP(off + nnzb * 4 * sizeof(int16_t), 64);
	const size_t o_w8 = off;
	if (flags & SL_SPARSE_PACK_W8)
		off = SL_ALIGN_UP(off + nnzb * 4, 64);
	const size_t o_idx = off;
	/* The kernels read idx four at a time: pad so the last read stays inside. */
	off = SL_ALIGN_UP(off + (nnzb + 4) * sizeof(uint16_t), 64);
	if (p) {
		p->ch = (sl_sparse_q8_chan *)(base + o_ch);
		p->row = (uint32_t *)(base + o_row);
		p->w16 = (int16_t *)(base + o_w16);
		p->w16x2 = SL_SPARSE_HAVE_W16X2 ? (int16_t *)(base + o_w16x2) : NULL;
		p->w8 = (flags & SL_SPARSE_PACK_W8) ? (int8_t *)(base + o_w8) : NULL;
		p->idx = (uint16_t *)(base + o_idx);
	}
	return off;
}

/* With an int8 copy, a block whose weights (minus zero point, up to +-255)
 * do not fit int8 is stored as up to three blocks of the same column whose
 * weights add up to them: 255 = 127 + 127 + 1. The kernels just sum every
 * block of a row, so they need no case of their own. +-127, not -128, keeps
 * w8_no_min possible. */
enum { SPLIT_MAX = 127, SPLIT_PARTS_MAX = 3 };

static int split_parts(const int32_t w[4])
{
	int parts = 0;
	for (int j = 0; j < 4; j++) {
		const int32_t a = w[j] < 0 ? -w[j] : w[j];
		parts = SL_MAX(parts, (int)((a + SPLIT_MAX - 1) / SPLIT_MAX));
	}
	return parts;
}

size_t sl_sparse_q8_max_bytes(int n, int k, unsigned flags)
{
	if (n < 1 || k < 1)
		return 0;
	const size_t kb = ((size_t)k + 3) / 4;
	const size_t per = (flags & SL_SPARSE_PACK_W8) ? SPLIT_PARTS_MAX : 1;
	return layout(NULL, n, (size_t)n * kb * per, flags, NULL);
}

size_t sl_sparse_q8_scratch_bytes(const sl_sparse_q8 *p)
{
	const size_t t = sl_sparse_q8_tile_bytes(p->kb);
	return (t > SL_SPARSE_VNNI_TILE ? t : SL_SPARSE_VNNI_TILE) + 64;
}

static void fill_channel(sl_sparse_q8 *p, const sl_sparse_q8_desc *d, int n, int32_t amax, bool *fast)
{
	const int q = d->nq == 1 ? 0 : n;
	const int32_t bias = d->bias ? d->bias[n] : 0;
	int64_t s = 0, sabs = 0;
	for (int k = 0; k < d->k; k++) {
		const int32_t w = weight_at(d, n, k);
		s += w;
		sabs += w < 0 ? -w : w;
	}
	sl_sparse_q8_chan *c = &p->ch[n];
	c->bias = bias;
	c->bias_raw = (int32_t)(uint32_t)((uint64_t)(int64_t)bias - (uint64_t)((int64_t)d->in_zp * s));
	const int32_t zp80 = p->in_u8 ? d->in_zp - 128 : d->in_zp;
	c->bias_x80 = (int32_t)(uint32_t)((uint64_t)(int64_t)bias - (uint64_t)((int64_t)zp80 * s));
	const int32_t zpu8 = p->in_u8 ? d->in_zp : d->in_zp + 128;
	c->bias_u8 = (int32_t)(uint32_t)((uint64_t)(int64_t)bias - (uint64_t)((int64_t)zpu8 * s));
	if (d->rndnu) {
		int32_t rl = 0, rr = 0;
		sl_quantize_rndnu(d->fp32_scale[q], &c->mult, &rl, &rr); /* checked in check_desc */
		c->lshift = (int8_t)rl;
		c->rshift = (int8_t)rr;
		c->out_const =
		    (uint8_t)sl_requantize_rndnu(bias, c->mult, rl, rr, d->out_zp, d->act_min, d->act_max);
		*fast = false;
		return;
	}
	if (d->fp32_scale) {
		c->scale = d->fp32_scale[q];
		c->out_const = (uint8_t)sl_requantize_fp32(bias, c->scale, d->out_zp, d->act_min, d->act_max);
		*fast = false; /* the TFLite-only doubled-accumulator path */
		return;
	}
	c->mult = d->mult[q];
	c->lshift = (int8_t)(d->shift[q] > 0 ? d->shift[q] : 0);
	c->rshift = (int8_t)(d->shift[q] > 0 ? 0 : -d->shift[q]);
	c->nudge = ((int64_t)1 << 31) + (c->rshift ? (int64_t)1 << (31 + c->rshift) : 0);
	int64_t y = (int64_t)d->out_zp + sl_mul_by_quantized_multiplier(bias, c->mult, d->shift[q]);
	y = y < d->act_min ? d->act_min : (y > d->act_max ? d->act_max : y);
	c->out_const = (uint8_t)y; /* the raw byte, for int8 as well */
	/* Largest |accumulator| any input can produce, shifted as the requantization will. */
	const int64_t bound = ((int64_t)(bias < 0 ? -(int64_t)bias : bias) + sabs * amax) << c->lshift;
	if (bound >= ((int64_t)1 << 30))
		*fast = false;
}

int sl_sparse_q8_pack(const sl_sparse_q8_desc *d, unsigned flags, sl_sparse_q8 **ret, sl_error *err)
{
	int r = check_desc(d, err);
	if (r < 0)
		return r;
	const int n = d->n, k = d->k, kb = (k + 3) / 4;

	/* Blocks as stored: split only where an int8 copy is wanted and some
	 * weight does not fit it. */
	size_t nnzb = 0, nnzb_split = 0;
	bool fits8 = true, no_min = true;
	for (int i = 0; i < n; i++)
		for (int b = 0; b < kb; b++) {
			int32_t w[4] = {0, 0, 0, 0};
			for (int j = 0; j < 4 && 4 * b + j < k; j++) {
				w[j] = weight_at(d, i, 4 * b + j);
				fits8 &= w[j] >= -128 && w[j] <= 127;
				no_min &= w[j] != -128;
			}
			const int parts = split_parts(w);
			nnzb += parts > 0;
			nnzb_split += (size_t)parts;
		}
	const bool split = (flags & SL_SPARSE_PACK_W8) && !fits8;
	if (split) {
		nnzb = nnzb_split;
		no_min = true; /* parts lie in [-127, 127] */
	}

	const size_t bytes = layout(NULL, n, nnzb, flags, NULL);
	uint8_t *base = aligned_alloc(64, bytes);
	if (!base)
		return sl_sparse_fail(err, -ENOMEM, "sparse q8: cannot allocate %zu bytes", bytes);
	memset(base, 0, bytes);
	sl_sparse_q8 *p = (sl_sparse_q8 *)base;
	layout(p, n, nnzb, flags, base);
	p->n = n;
	p->k = k;
	p->kb = kb;
	p->nnzb = (uint32_t)nnzb;
	p->in_u8 = d->in_type == SL_DTYPE_U8;
	p->out_u8 = d->out_type == SL_DTYPE_U8;
	p->w8_no_min = p->w8 && no_min;
	p->in_zp = d->in_zp;
	p->out_zp = d->out_zp;
	p->act_min = d->act_min;
	p->act_max = d->act_max;
	p->bytes = bytes;

	const int32_t amax =
	    p->in_u8 ? SL_MAX(d->in_zp, 255 - d->in_zp) : SL_MAX(d->in_zp + 128, 127 - d->in_zp);
	bool fast = true;
	uint32_t at = 0;
	for (int i = 0; i < n; i++) {
		p->row[i] = at;
		for (int b = 0; b < kb; b++) {
			int32_t w[4] = {0, 0, 0, 0};
			bool nz = false;
			for (int j = 0; j < 4 && 4 * b + j < k; j++) {
				w[j] = weight_at(d, i, 4 * b + j);
				nz |= w[j] != 0;
			}
			if (!nz)
				continue;
			/* One stored block, or (split) parts of at most SPLIT_MAX each
			 * until the weights are used up. */
			do {
				p->idx[at] = (uint16_t)b;
				bool more = false;
				for (int j = 0; j < 4; j++) {
					const int32_t part =
					    split ? SL_MAX(-SPLIT_MAX, SL_MIN(SPLIT_MAX, w[j])) : w[j];
					w[j] -= part;
					more |= w[j] != 0;
					p->w16[4 * (size_t)at + j] = (int16_t)part;
					if (p->w16x2)
						p->w16x2[4 * (size_t)at + j] = (int16_t)(2 * part);
					if (p->w8)
						p->w8[4 * (size_t)at + j] = (int8_t)part;
				}
				at++;
				if (!more)
					break;
			} while (true);
		}
		fill_channel(p, d, i, amax, &fast);
	}
	p->row[n] = at;
	p->fast_requant = fast;
	p->rq = !d->fp32_scale ? SL_SPARSE_RQ_TFLITE : (d->rndnu ? SL_SPARSE_RQ_RNDNU : SL_SPARSE_RQ_FP32);
	*ret = p;
	return 0;
}

sl_sparse_q8 *sl_sparse_q8_free(sl_sparse_q8 *p)
{
	free(p);
	return NULL;
}
