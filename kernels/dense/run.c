/* Whole layers on the micro-kernels: activation packing (im2col of a tile of
 * pixels, or the tap-pointer table of a depthwise output row) into scratch
 * allocated when the layer is prepared, and the split over a pthreadpool.
 *
 * The work is cut into a fixed number of chunks (about four per thread, in
 * whole micro-kernel tiles) and each chunk owns one scratch slot: pthreadpool
 * does not say which thread runs a task, but a chunk index is enough, and
 * nothing is allocated or shared per frame. */
#include <errno.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/dense/dense.h"

static size_t chunking(size_t units, size_t quantum, int threads, size_t *ret_per_chunk)
{
	const size_t t = threads > 1 ? (size_t)threads : 1;
	size_t per = (units + 4 * t - 1) / (4 * t);
	per = SL_ALIGN_UP(per ? per : 1, quantum);
	*ret_per_chunk = per;
	return (units + per - 1) / per;
}

/* ---- CONV_2D / FULLY_CONNECTED --------------------------------------------------- */

struct sl_dense_conv {
	sl_ref_conv_geom g;
	const sl_dense_gemm *p;
	const sl_dense_gemm_impl *impl;
	size_t m, mr;
	bool direct, wide;
	size_t per_chunk, n_chunks;
	size_t slot_bytes;
	uint8_t *scratch;
};

typedef struct {
	sl_dense_conv *c;
	const uint8_t *in;
	uint8_t *out;
} conv_run;

sl_dense_conv *sl_dense_conv_free(sl_dense_conv *c)
{
	if (c) {
		free(c->scratch);
		free(c);
	}
	return NULL;
}

bool sl_dense_conv_direct(const sl_dense_conv *c)
{
	return c->direct;
}

int sl_dense_conv_new(const sl_ref_conv_geom *g, const sl_dense_gemm *p, const sl_dense_gemm_impl *impl,
		      int threads, sl_dense_conv **ret, sl_error *err)
{
	if (!g || !p || !impl || !ret || impl->layout != p->layout)
		return -EINVAL;
	const int64_t k = (int64_t)g->filter_h * g->filter_w * g->in_c;
	if ((g->groups > 1) || k != p->k || g->out_c != p->n || g->batch < 1 || g->out_h < 1 ||
	    g->out_w < 1 || g->stride_h < 1 || g->stride_w < 1 || g->dilation_h < 1 || g->dilation_w < 1) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "dense: geometry does not match the packed weights");
		return -EINVAL;
	}
	_cleanup_(sl_dense_conv_freep) sl_dense_conv *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->g = *g;
	c->p = p;
	c->impl = impl;
	c->mr = (size_t)impl->mr;
	c->m = (size_t)g->batch * (size_t)g->out_h * (size_t)g->out_w;
	c->direct = g->filter_h == 1 && g->filter_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
		    g->pad_top == 0 && g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w &&
		    p->in_flip == 0 && !p->cw && p->k == p->kp && !sl_dense_layout_wide(p->layout);
	c->wide = sl_dense_layout_wide(p->layout);
	if (c->wide && !impl->widen)
		return -EINVAL;
	c->n_chunks = chunking(c->m, c->mr, threads, &c->per_chunk);
	if (!c->direct) {
		/* a tile of mr packed rows, then mr row sums */
		c->slot_bytes =
		    SL_ALIGN_UP(c->mr * (size_t)p->kp * (c->wide ? 2 : 1) + c->mr * sizeof(int32_t), 64);
		size_t total;
		if (!sl_mul_size(c->slot_bytes, c->n_chunks, &total))
			return -EOVERFLOW;
		c->scratch = aligned_alloc(64, total);
		if (!c->scratch)
			return -ENOMEM;
	}
	*ret = SL_TAKE_PTR(c);
	return 0;
}

/* A few bytes: word copies inline instead of a memcpy call per tap. */
static inline void copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		memcpy(d + i, s + i, 8);
	for (; i < n; i++)
		d[i] = s[i];
}

/* Batch, row and column of output pixel m. */
static inline void pixel_of(const sl_ref_conv_geom *g, size_t m, size_t *b, size_t *oy, size_t *ox)
{
	const size_t plane = (size_t)g->out_h * (size_t)g->out_w;
	*b = m / plane;
	*oy = m % plane / (size_t)g->out_w;
	*ox = m % (size_t)g->out_w;
}

/* The output pixel after (b, oy, ox): the packers step through a tile's
 * pixels rather than divide each one's index out (three divisions per
 * pixel were 15 % of conv0's packing). */
static inline void next_pixel(const sl_ref_conv_geom *g, size_t *b, size_t *oy, size_t *ox)
{
	if (++*ox == (size_t)g->out_w) {
		*ox = 0;
		if (++*oy == (size_t)g->out_h) {
			*oy = 0;
			++*b;
		}
	}
}

/* Output pixel (b, oy, ox)'s receptive field as filter_h * filter_w * in_c
 * bytes at d, taps outside the input as pad. A window row that lies inside
 * the input, its taps adjacent, is filter_w * in_c contiguous bytes: one copy
 * (a copy per 3-byte RGB tap was most of conv0's packing). */
static void gather_bytes(const sl_ref_conv_geom *g, const uint8_t *in, size_t b, size_t oy, size_t ox,
			 uint8_t pad, uint8_t *d)
{
	const size_t ic = (size_t)g->in_c, span = (size_t)g->filter_w * ic;
	const long ix0 = (long)ox * g->stride_w - g->pad_left;
	const bool inside_w = g->dilation_w == 1 && ix0 >= 0 && ix0 + (long)g->filter_w <= (long)g->in_w;
	for (int fy = 0; fy < g->filter_h; fy++) {
		const long iy = (long)oy * g->stride_h - g->pad_top + (long)fy * g->dilation_h;
		const bool row_in = iy >= 0 && iy < g->in_h;
		const uint8_t *src =
		    row_in ? in + (b * (size_t)g->in_h + (size_t)iy) * (size_t)g->in_w * ic : NULL;
		if (row_in && inside_w) {
			copy_small(d, src + (size_t)ix0 * ic, span);
			d += span;
			continue;
		}
		for (int fx = 0; fx < g->filter_w; fx++, d += ic) {
			const long ix = ix0 + (long)fx * g->dilation_w;
			if (!row_in || ix < 0 || ix >= g->in_w)
				memset(d, pad, ic);
			else
				copy_small(d, src + (size_t)ix * ic, ic);
		}
	}
}

/* im2col of output pixels [m0, m0 + rows) into mr rows of kp bytes, in the
 * int8 domain (the unsigned one for the u8-tile layouts), padding taps as the
 * zero point and the K tail as 0; row sums when the weights have zero points. */
static void pack_tile(const sl_dense_conv *c, const uint8_t *in, size_t m0, size_t rows, int8_t *at,
		      int32_t *rowsum)
{
	const sl_ref_conv_geom *g = &c->g;
	const sl_dense_gemm *p = c->p;
	const size_t kp = (size_t)p->kp, k = (size_t)p->k;
	size_t b, oy, ox;
	pixel_of(g, m0, &b, &oy, &ox);
	for (size_t i = 0; i < rows; i++, next_pixel(g, &b, &oy, &ox)) {
		uint8_t *row = (uint8_t *)(at + i * kp);
		gather_bytes(g, in, b, oy, ox, (uint8_t)p->pad_byte, row);
		if (p->in_flip)
			for (size_t j = 0; j < k; j++)
				row[j] ^= 0x80;
		memset(row + k, 0, kp - k);
		if (p->cw) {
			int32_t s = 0;
			if (sl_dense_layout_u8_tile(p->layout))
				for (size_t j = 0; j < k; j++)
					s += row[j];
			else
				for (size_t j = 0; j < k; j++)
					s += (int8_t)row[j];
			rowsum[i] = s;
		}
	}
	for (size_t i = rows; i < c->mr; i++)
		rowsum[i] = 0;
}

/* The wide layouts' tile: raw values widened to int16, padding taps as the
 * raw zero point, the K tail (one value at most) 0. */
static void pack_tile16(const sl_dense_conv *c, const uint8_t *in, size_t m0, size_t rows, int16_t *at)
{
	const sl_ref_conv_geom *g = &c->g;
	const sl_dense_gemm *p = c->p;
	const size_t ic = (size_t)g->in_c, kp = (size_t)p->kp, k = (size_t)p->k;
	void (*const widen)(int16_t *, const uint8_t *, size_t, bool) = c->impl->widen;
	const bool u8 = p->in_u8;
	size_t b, oy, ox;
	pixel_of(g, m0, &b, &oy, &ox);
	for (size_t i = 0; i < rows; i++, next_pixel(g, &b, &oy, &ox)) {
		int16_t *d = at + i * kp;
		if (g->filter_h == 1 && g->filter_w == 1 && g->pad_top == 0 && g->pad_left == 0) {
			const size_t iy = oy * (size_t)g->stride_h, ix = ox * (size_t)g->stride_w;
			widen(d, in + ((b * (size_t)g->in_h + iy) * (size_t)g->in_w + ix) * ic, ic, u8);
			d += ic;
		} else if (ic < 16 && k <= 1024) {
			/* few channels (an image's RGB): the row gathered as bytes, widened
			 * once rather than per tap */
			uint8_t row[1024];
			gather_bytes(g, in, b, oy, ox, (uint8_t)p->in_zp, row);
			widen(d, row, k, u8);
		} else {
			for (int fy = 0; fy < g->filter_h; fy++) {
				const long iy =
				    (long)oy * g->stride_h - g->pad_top + (long)fy * g->dilation_h;
				for (int fx = 0; fx < g->filter_w; fx++, d += ic) {
					const long ix =
					    (long)ox * g->stride_w - g->pad_left + (long)fx * g->dilation_w;
					if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) {
						for (size_t j = 0; j < ic; j++)
							d[j] = p->in_zp;
					} else {
						widen(d,
						      in + ((b * (size_t)g->in_h + (size_t)iy) *
								(size_t)g->in_w +
							    (size_t)ix) *
							       ic,
						      ic, u8);
					}
				}
			}
		}
		for (size_t j = k; j < kp; j++)
			at[i * kp + j] = 0;
	}
}

static void conv_task(void *arg, size_t chunk)
{
	const conv_run *r = arg;
	const sl_dense_conv *c = r->c;
	const sl_dense_gemm *p = c->p;
	const size_t n = (size_t)p->n;
	const size_t begin = chunk * c->per_chunk, end = SL_MIN(c->m, begin + c->per_chunk);
	int8_t *at = c->direct ? NULL : (int8_t *)(c->scratch + chunk * c->slot_bytes);
	int32_t *rowsum = c->direct ? NULL : (int32_t *)(void *)(at + c->mr * (size_t)p->kp);
	for (size_t m0 = begin; m0 < end; m0 += c->mr) {
		const size_t rows = SL_MIN(c->mr, end - m0);
		if (c->wide) {
			pack_tile16(c, r->in, m0, rows, (int16_t *)(void *)at);
			c->impl->fn(p, rows, at, (size_t)p->kp, NULL, r->out + m0 * n, n);
		} else if (c->direct) {
			c->impl->fn(p, rows, (const int8_t *)r->in + m0 * (size_t)p->k, (size_t)p->k, NULL,
				    r->out + m0 * n, n);
		} else {
			pack_tile(c, r->in, m0, rows, at, rowsum);
			c->impl->fn(p, rows, at, (size_t)p->kp, rowsum, r->out + m0 * n, n);
		}
	}
}

void sl_dense_conv_run(sl_dense_conv *c, const void *in, void *out, struct pthreadpool *pool)
{
	conv_run r = {.c = c, .in = in, .out = out};
	if (pool && c->n_chunks > 1) {
		pthreadpool_parallelize_1d(pool, conv_task, &r, c->n_chunks, 0);
		return;
	}
	for (size_t i = 0; i < c->n_chunks; i++)
		conv_task(&r, i);
}

/* ---- DEPTHWISE_CONV_2D ----------------------------------------------------------------- */

struct sl_dense_dwconv {
	sl_ref_conv_geom g;
	const sl_dense_dw *p;
	const sl_dense_dw_impl *impl;
	size_t rows; /* batch * out_h */
	size_t per_chunk, n_chunks;
	size_t slot_ptrs;
	const uint8_t **ptrs;
};

typedef struct {
	sl_dense_dwconv *c;
	const uint8_t *in;
	uint8_t *out;
} dw_run;

sl_dense_dwconv *sl_dense_dwconv_free(sl_dense_dwconv *c)
{
	if (c) {
		free(c->ptrs);
		free(c);
	}
	return NULL;
}

int sl_dense_dwconv_new(const sl_ref_conv_geom *g, const sl_dense_dw *p, const sl_dense_dw_impl *impl,
			int threads, sl_dense_dwconv **ret, sl_error *err)
{
	if (!g || !p || !impl || !ret)
		return -EINVAL;
	if ((g->depth_multiplier > 1) || g->in_c != p->c || g->out_c != p->c ||
	    (int64_t)g->filter_h * g->filter_w != p->taps || g->batch < 1 || g->out_h < 1 || g->out_w < 1 ||
	    g->stride_h < 1 || g->stride_w < 1 || g->dilation_h < 1 || g->dilation_w < 1 ||
	    !sl_dense_dw_usable(impl, p, g)) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "dense: depthwise geometry or kernel does not match");
		return -EINVAL;
	}
	_cleanup_(sl_dense_dwconv_freep) sl_dense_dwconv *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->g = *g;
	c->p = p;
	c->impl = impl;
	c->rows = (size_t)g->batch * (size_t)g->out_h;
	c->n_chunks = chunking(c->rows, 1, threads, &c->per_chunk);
	c->slot_ptrs = (size_t)g->out_w * (size_t)p->taps;
	size_t total;
	if (!sl_mul_size(c->slot_ptrs, c->n_chunks, &total) || !sl_mul_size(total, sizeof(*c->ptrs), &total))
		return -EOVERFLOW;
	c->ptrs = malloc(total);
	if (!c->ptrs)
		return -ENOMEM;
	*ret = SL_TAKE_PTR(c);
	return 0;
}

static void dw_task(void *arg, size_t chunk)
{
	const dw_run *r = arg;
	const sl_dense_dwconv *c = r->c;
	const sl_ref_conv_geom *g = &c->g;
	const size_t ch = (size_t)g->in_c;
	const uint8_t **ptrs = c->ptrs + chunk * c->slot_ptrs;
	const size_t begin = chunk * c->per_chunk, end = SL_MIN(c->rows, begin + c->per_chunk);
	for (size_t row = begin; row < end; row++) {
		const size_t b = row / (size_t)g->out_h, oy = row % (size_t)g->out_h;
		/* filter row by filter row, so that the row's checks and base leave
		 * the pixel loop; pixels whose taps are all inside get theirs by
		 * adding a constant step (the table costs as much as a narrow
		 * layer's kernel otherwise) */
		const size_t taps = (size_t)c->p->taps;
		const long fw = g->filter_w, dil = g->dilation_w, in_w = g->in_w;
		for (int fy = 0; fy < g->filter_h; fy++) {
			const long iy = (long)oy * g->stride_h - g->pad_top + (long)fy * g->dilation_h;
			const uint8_t **pt = ptrs + (size_t)fy * (size_t)fw;
			if (iy < 0 || iy >= g->in_h) {
				for (int ox = 0; ox < g->out_w; ox++, pt += taps)
					for (long fx = 0; fx < fw; fx++)
						pt[fx] = c->p->zp_row;
				continue;
			}
			const uint8_t *base = r->in + (b * (size_t)g->in_h + (size_t)iy) * (size_t)in_w * ch;
			const size_t step = (size_t)dil * ch;
			for (int ox = 0; ox < g->out_w; ox++, pt += taps) {
				const long ix0 = (long)ox * g->stride_w - g->pad_left;
				if (ix0 >= 0 && ix0 + (fw - 1) * dil < in_w) {
					const uint8_t *q = base + (size_t)ix0 * ch;
					for (long fx = 0; fx < fw; fx++, q += step)
						pt[fx] = q;
					continue;
				}
				for (long fx = 0; fx < fw; fx++) {
					const long ix = ix0 + fx * dil;
					pt[fx] = ix >= 0 && ix < in_w ? base + (size_t)ix * ch : c->p->zp_row;
				}
			}
		}
		c->impl->fn(c->p, (size_t)g->out_w, ptrs, r->out + row * (size_t)g->out_w * ch, ch);
	}
}

void sl_dense_dwconv_run(sl_dense_dwconv *c, const void *in, void *out, struct pthreadpool *pool)
{
	dw_run r = {.c = c, .in = in, .out = out};
	if (pool && c->n_chunks > 1) {
		pthreadpool_parallelize_1d(pool, dw_task, &r, c->n_chunks, 0);
		return;
	}
	for (size_t i = 0; i < c->n_chunks; i++)
		dw_task(&r, i);
}
