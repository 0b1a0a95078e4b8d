/* Prepare-time packing: weights re-laid out for the kernels, zero-point terms
 * folded into the bias, requantization parameters split per channel. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/dense/dense.h"

__attribute__((format(printf, 3, 4))) static int fail(sl_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

static int check_quant(int n, const sl_dense_quant_desc *q, sl_error *err)
{
	if (!q || !sl_dtype_is_q8(q->in_type) || !sl_dtype_is_q8(q->w_type) || !sl_dtype_is_q8(q->out_type))
		return fail(err, -EINVAL, "dense: int8/uint8 input, weights and output required");
	if ((q->nq != 1 && q->nq != n) || !q->w_zp || !q->mult || !q->shift)
		return fail(err, -EINVAL, "dense: %d quantization entries for %d channels", q->nq, n);
	const int32_t lo = q->in_type == SL_DTYPE_U8 ? 0 : -128, hi = lo + 255;
	const int32_t olo = q->out_type == SL_DTYPE_U8 ? 0 : -128, ohi = olo + 255;
	if (q->in_zp < lo || q->in_zp > hi || q->out_zp < olo || q->out_zp > ohi || q->act_min < olo ||
	    q->act_max > ohi || q->act_min > q->act_max)
		return fail(err, -EINVAL, "dense: zero point or activation range outside the data type");
	for (int i = 0; i < q->nq; i++) {
		const int32_t wlo = q->w_type == SL_DTYPE_U8 ? 0 : -128;
		if (q->w_zp[i] < wlo || q->w_zp[i] > wlo + 255)
			return fail(err, -EINVAL, "dense: weight zero point %d outside the data type",
				    q->w_zp[i]);
		if (q->shift[i] < -31 || q->shift[i] > 30 || q->mult[i] < 0)
			return fail(err, -EINVAL, "dense: multiplier %d, shift %d out of range", q->mult[i],
				    q->shift[i]);
	}
	return 0;
}

/* Requantization arrays of np channels (entries past n: multiplier 0). */
static void fill_requant(sl_dense_requant *rq, int n, const sl_dense_quant_desc *q)
{
	rq->any_lsh = false;
	rq->all_rsh = n > 0;
	for (int i = 0; i < n; i++) {
		const int j = q->nq == 1 ? 0 : i;
		rq->mult[i] = q->mult[j];
		rq->lsh[i] = q->shift[j] > 0 ? q->shift[j] : 0;
		rq->rsh[i] = q->shift[j] > 0 ? 0 : q->shift[j];
		rq->any_lsh |= rq->lsh[i] != 0;
		rq->all_rsh &= rq->rsh[i] < 0;
	}
	rq->in_u8 = q->in_type == SL_DTYPE_U8;
	rq->out_u8 = q->out_type == SL_DTYPE_U8;
	rq->out_zp = q->out_zp;
	rq->act_min = q->act_min;
	rq->act_max = q->act_max;
	rq->clamps_negative = q->act_min >= q->out_zp;
}

/* Raw weight as int8 (uint8 seen through ^ 0x80) and its zero point in the
 * same domain. */
static inline int32_t w_int8(const void *w, size_t i, bool u8)
{
	return u8 ? (int32_t)((const uint8_t *)w)[i] - 128 : (int32_t)((const int8_t *)w)[i];
}

/* One allocation for the object and its arrays, each 64-byte aligned. */
typedef struct {
	size_t off[12];
	size_t total;
	int n;
} layout_plan;

static bool plan_add(layout_plan *lp, size_t bytes)
{
	lp->off[lp->n++] = lp->total;
	return sl_add_size(lp->total, SL_ALIGN_UP(bytes, 64), &lp->total);
}

sl_dense_gemm *sl_dense_gemm_free(sl_dense_gemm *p)
{
	free(p);
	return NULL;
}

int sl_dense_gemm_pack(int n, int k, const void *w, const sl_dense_quant_desc *q, sl_dense_layout layout,
		       sl_dense_gemm **ret, sl_error *err)
{
	if (n < 1 || n > SL_DENSE_MAX_N || k < 1 || k > SL_DENSE_MAX_K || !w || !ret)
		return fail(err, -EINVAL, "dense: gemm of %d x %d not supported", n, k);
	if (layout != SL_DENSE_LAYOUT_DOT_8 && layout != SL_DENSE_LAYOUT_C16_4 &&
	    layout != SL_DENSE_LAYOUT_W16_16 && layout != SL_DENSE_LAYOUT_VNNI_16)
		return fail(err, -EINVAL, "dense: unknown weight layout %d", (int)layout);
	int r = check_quant(n, q, err);
	if (r < 0)
		return r;

	const bool wide = sl_dense_layout_wide(layout);
	const bool u8_tile = sl_dense_layout_u8_tile(layout);
	const int nr = layout == SL_DENSE_LAYOUT_DOT_8 ? 8 : (wide || u8_tile ? 16 : 4);
	const size_t kp = SL_ALIGN_UP((size_t)k, wide ? 2 : (u8_tile ? 4 : 8)),
		     np = SL_ALIGN_UP((size_t)n, (size_t)nr);
	const bool wu8 = q->w_type == SL_DTYPE_U8, iu8 = q->in_type == SL_DTYPE_U8;
	bool any_cw = false;
	for (int i = 0; !wide && i < q->nq; i++)
		any_cw |= (wu8 ? q->w_zp[i] - 128 : q->w_zp[i]) != 0;

	layout_plan lp = {.total = SL_ALIGN_UP(sizeof(sl_dense_gemm), 64)};
	size_t wbytes;
	if (!sl_mul_size(kp, np, &wbytes) || (wide && !sl_mul_size(wbytes, 2, &wbytes)))
		return -EOVERFLOW;
	if (!plan_add(&lp, wbytes) || !plan_add(&lp, np * 4) || !plan_add(&lp, any_cw ? np * 4 : 0) ||
	    !plan_add(&lp, np * 4) || !plan_add(&lp, np * 4) || !plan_add(&lp, np * 4))
		return -EOVERFLOW;
	uint8_t *mem = aligned_alloc(64, lp.total);
	if (!mem)
		return -ENOMEM;
	memset(mem, 0, lp.total);
	sl_dense_gemm *p = (sl_dense_gemm *)(void *)mem;
	p->w = wide ? NULL : (int8_t *)(mem + lp.off[0]);
	p->w16 = wide ? (int16_t *)(void *)(mem + lp.off[0]) : NULL;
	p->bias = (int32_t *)(void *)(mem + lp.off[1]);
	p->cw = any_cw ? (int32_t *)(void *)(mem + lp.off[2]) : NULL;
	p->rq.mult = (int32_t *)(void *)(mem + lp.off[3]);
	p->rq.lsh = (int32_t *)(void *)(mem + lp.off[4]);
	p->rq.rsh = (int32_t *)(void *)(mem + lp.off[5]);
	p->n = n;
	p->k = k;
	p->kp = (int32_t)kp;
	p->np = (int32_t)np;
	p->nr = nr;
	p->layout = layout;
	p->bytes = lp.total;
	/* the int8 domain, or (u8 tile) the unsigned one: a' + 128 */
	p->ca = (iu8 ? q->in_zp - 128 : q->in_zp) + (u8_tile ? 128 : 0);
	p->in_flip = (iu8 ? 0x80 : 0) ^ (u8_tile ? 0x80 : 0);
	p->pad_byte = (int8_t)(uint8_t)q->in_zp;
	p->in_zp = (int16_t)q->in_zp;
	p->in_u8 = iu8;
	p->pair_ok = true;
	fill_requant(&p->rq, n, q);

	for (int c = 0; c < n; c++) {
		const int j = q->nq == 1 ? 0 : c;
		const int32_t cw = wu8 ? q->w_zp[j] - 128 : q->w_zp[j];
		/* int32 wrap-around, as the reference accumulates */
		uint32_t sum_w = 0;
		for (int i = 0; i < k; i++) {
			const size_t src = (size_t)c * (size_t)k + (size_t)i;
			if (wide) {
				/* [block][k / 2][16 channels][2] */
				const int32_t raw =
				    wu8 ? ((const uint8_t *)w)[src] : ((const int8_t *)w)[src];
				const int32_t v = raw - q->w_zp[j];
				sum_w += (uint32_t)v;
				p->w16[(size_t)(c / 16) * kp * 16 + (size_t)(i / 2) * 32 +
				       (size_t)(c % 16) * 2 + (size_t)(i % 2)] = (int16_t)v;
				continue;
			}
			const int32_t v = w_int8(w, src, wu8);
			sum_w += (uint32_t)v;
			p->pair_ok &= v != -128;
			size_t at;
			if (layout == SL_DENSE_LAYOUT_DOT_8 || u8_tile) {
				/* [block][k / 4][nr channels][4] */
				at = (size_t)(c / nr) * kp * nr + (size_t)(i / 4) * 4 * nr +
				     (size_t)(c % nr) * 4 + (size_t)(i % 4);
			} else {
				/* [block][k / 16][4 channels][16], a K tail of 8 as [4][8] */
				const size_t chunk = (size_t)i / 16 * 16, len = kp - chunk >= 16 ? 16 : 8;
				at = (size_t)(c / 4) * kp * 4 + chunk * 4 + (size_t)(c % 4) * len +
				     (size_t)i - chunk;
			}
			p->w[at] = (int8_t)v;
		}
		const uint32_t b = q->bias ? (uint32_t)q->bias[c] : 0;
		if (wide)
			p->bias[c] = (int32_t)(b - (uint32_t)q->in_zp * sum_w);
		else
			p->bias[c] = (int32_t)(b - (uint32_t)p->ca * sum_w +
					       (uint32_t)k * (uint32_t)p->ca * (uint32_t)cw);
		if (p->cw)
			p->cw[c] = cw;
	}
	*ret = p;
	return 0;
}

sl_dense_dw *sl_dense_dw_free(sl_dense_dw *p)
{
	free(p);
	return NULL;
}

int sl_dense_dw_pack(int c, int taps, const void *w, const sl_dense_quant_desc *q, sl_dense_dw **ret,
		     sl_error *err)
{
	if (c < 1 || c > SL_DENSE_MAX_N || taps < 1 || taps > 4096 || !w || !ret)
		return fail(err, -EINVAL, "dense: depthwise of %d channels x %d taps not supported", c, taps);
	int r = check_quant(c, q, err);
	if (r < 0)
		return r;
	const size_t cp = SL_ALIGN_UP((size_t)c, 16), pairs = ((size_t)taps + 1) / 2;
	const bool wu8 = q->w_type == SL_DTYPE_U8, iu8 = q->in_type == SL_DTYPE_U8;

	bool fast = !iu8 && !wu8;
	for (int i = 0; i < q->nq; i++)
		fast &= q->w_zp[i] == 0;
	for (size_t i = 0; fast && i < (size_t)taps * (size_t)c; i++)
		fast &= ((const int8_t *)w)[i] != -128;

	layout_plan lp = {.total = SL_ALIGN_UP(sizeof(sl_dense_dw), 64)};
	if (!plan_add(&lp, fast ? (size_t)taps * cp : 0) || !plan_add(&lp, (size_t)taps * cp * 2) ||
	    !plan_add(&lp, fast ? cp * 4 : 0) || !plan_add(&lp, cp * 4) || !plan_add(&lp, cp * 4) ||
	    !plan_add(&lp, cp * 4) || !plan_add(&lp, cp * 4) || !plan_add(&lp, cp) ||
	    !plan_add(&lp, pairs * cp * 4) || !plan_add(&lp, cp * 4))
		return -EOVERFLOW;
	uint8_t *mem = aligned_alloc(64, lp.total);
	if (!mem)
		return -ENOMEM;
	memset(mem, 0, lp.total);
	sl_dense_dw *p = (sl_dense_dw *)(void *)mem;
	p->w8 = fast ? (int8_t *)(mem + lp.off[0]) : NULL;
	p->w16 = (int16_t *)(void *)(mem + lp.off[1]);
	p->bias8 = fast ? (int32_t *)(void *)(mem + lp.off[2]) : NULL;
	p->bias16 = (int32_t *)(void *)(mem + lp.off[3]);
	p->rq.mult = (int32_t *)(void *)(mem + lp.off[4]);
	p->rq.lsh = (int32_t *)(void *)(mem + lp.off[5]);
	p->rq.rsh = (int32_t *)(void *)(mem + lp.off[6]);
	p->zp_row = mem + lp.off[7];
	p->wp = (int16_t *)(void *)(mem + lp.off[8]);
	p->biasp = (int32_t *)(void *)(mem + lp.off[9]);
	p->c = c;
	p->cp = (int32_t)cp;
	p->taps = taps;
	p->fast = fast;
	p->in_zp = q->in_zp;
	p->bytes = lp.total;
	memset(p->zp_row, (uint8_t)q->in_zp, cp);
	fill_requant(&p->rq, c, q);

	for (int ch = 0; ch < c; ch++) {
		const int j = q->nq == 1 ? 0 : ch;
		uint32_t sum_w = 0, sum_wz = 0;
		for (int t = 0; t < taps; t++) {
			const size_t src = (size_t)t * (size_t)c + (size_t)ch,
				     dst = (size_t)t * cp + (size_t)ch;
			const int32_t raw = wu8 ? ((const uint8_t *)w)[src] : ((const int8_t *)w)[src];
			p->w16[dst] = (int16_t)(raw - q->w_zp[j]);
			sum_wz += (uint32_t)(raw - q->w_zp[j]);
			/* 256-bit rows of 8 channel pairs: VPUNPCKLWD takes channels
			 * 0-3 and 8-11 of a block, VPUNPCKHWD 4-7 and 12-15 */
			const size_t cb = (size_t)ch % 16, half = cb % 8 / 4, lane = cb / 8;
			p->wp[((size_t)ch / 16 * pairs + (size_t)t / 2) * 32 + half * 16 + lane * 8 +
			      cb % 4 * 2 + (size_t)t % 2] = (int16_t)(raw - q->w_zp[j]);
			if (fast)
				p->w8[dst] = (int8_t)raw;
			sum_w += (uint32_t)raw;
		}
		const uint32_t b = q->bias ? (uint32_t)q->bias[ch] : 0;
		p->bias16[ch] = (int32_t)b;
		p->biasp[ch] = (int32_t)(b - (uint32_t)q->in_zp * sum_wz);
		if (fast)
			p->bias8[ch] = (int32_t)(b - (uint32_t)q->in_zp * sum_w);
	}
	*ret = p;
	return 0;
}
