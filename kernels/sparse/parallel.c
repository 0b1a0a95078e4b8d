/* Splitting a layer's rows over a pthreadpool. pthreadpool's 1D-tile tasks do
 * not say which thread runs them, so per-call scratch comes from a small pool
 * of slots claimed with an atomic bitmap: at most `threads` tasks run at once,
 * so a free slot always exists and nothing is allocated per frame. */
#include <errno.h>
#include <pthreadpool.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/macros.h"
#include "kernels/sparse/sparse.h"

struct sl_sparse_scratch {
	size_t bytes; /* per slot, multiple of 64 */
	int slots;
	_Atomic uint64_t busy;
	uint8_t *mem;
};

int sl_sparse_scratch_new(size_t bytes_per_call, int threads, sl_sparse_scratch **ret)
{
	if (threads < 1 || threads > 64 || bytes_per_call == 0)
		return -EINVAL;
	size_t per = SL_ALIGN_UP(bytes_per_call, 64), total;
	if (!sl_mul_size(per, (size_t)threads, &total))
		return -EOVERFLOW;
	sl_sparse_scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mem = aligned_alloc(64, total);
	if (!s->mem) {
		free(s);
		return -ENOMEM;
	}
	s->bytes = per;
	s->slots = threads;
	atomic_init(&s->busy, 0);
	*ret = s;
	return 0;
}

sl_sparse_scratch *sl_sparse_scratch_free(sl_sparse_scratch *s)
{
	if (s) {
		free(s->mem);
		free(s);
	}
	return NULL;
}

static int claim(sl_sparse_scratch *s)
{
	for (;;) {
		uint64_t b = atomic_load_explicit(&s->busy, memory_order_relaxed);
		for (int i = 0; i < s->slots; i++)
			if (!(b & ((uint64_t)1 << i)) &&
			    atomic_compare_exchange_weak_explicit(&s->busy, &b, b | ((uint64_t)1 << i),
								  memory_order_acquire, memory_order_relaxed))
				return i;
	}
}

static void release(sl_sparse_scratch *s, int i)
{
	atomic_fetch_and_explicit(&s->busy, ~((uint64_t)1 << i), memory_order_release);
}

typedef struct {
	const sl_sparse_q8_impl *q8;
	const sl_sparse_f32_impl *f32;
	const void *p;
	const void *in;
	void *out;
	size_t in_stride, out_stride;
	sl_sparse_scratch *scratch;
} run_ctx;

static void task(void *arg, size_t start, size_t count)
{
	run_ctx *c = arg;
	const int slot = claim(c->scratch);
	void *mem = c->scratch->mem + (size_t)slot * c->scratch->bytes;
	if (c->q8)
		c->q8->fn(c->p, start, start + count, c->in, c->in_stride, c->out, c->out_stride, mem);
	else
		c->f32->fn(c->p, start, start + count, c->in, c->in_stride, c->out, c->out_stride, mem);
	release(c->scratch, slot);
}

/* Rows [i, i + ni) of output channels [j, j + nj): the kernels see a view of
 * the packed layer holding only those channels (row pointers and per-channel
 * terms offset, block data shared: row[] holds absolute offsets) writing at
 * column j. A copy of a small struct on the stack, nothing allocated. */
static void task2d(void *arg, size_t i, size_t j, size_t ni, size_t nj)
{
	run_ctx *c = arg;
	const int slot = claim(c->scratch);
	void *mem = c->scratch->mem + (size_t)slot * c->scratch->bytes;
	if (c->q8) {
		sl_sparse_q8 v = *(const sl_sparse_q8 *)c->p;
		v.n = (int32_t)nj;
		v.row += j;
		v.ch += j;
		c->q8->fn(&v, i, i + ni, c->in, c->in_stride, (uint8_t *)c->out + j, c->out_stride, mem);
	} else {
		sl_sparse_f32 v = *(const sl_sparse_f32 *)c->p;
		v.n = (int32_t)nj;
		v.row += j;
		v.bias += j;
		c->f32->fn(&v, i, i + ni, c->in, c->in_stride, (float *)c->out + j, c->out_stride, mem);
	}
	release(c->scratch, slot);
}

/* Work split when the caller leaves it to us. Pixel tiles are whole 32-pixel
 * kernel tiles (17..32 rows cost a full tile anyway), about 16 per thread
 * when there are many, so that dynamic scheduling evens out the last one;
 * whole `wide`-pixel tiles where the kernel takes wider ones on the layer
 * (the AVX-512 kernels: 64 pixels while the tile fits in L1): a
 * 96-pixel task ran as a 64- and a 32-pixel tile, the second at up to twice
 * the cost per pixel on small-K layers.
 * Late layers have few: 14x14 is 6 tiles and 4 rows, 7x7 two tiles, which
 * split evenly over 2 threads but not over 4. Only then are the output
 * channels split too, one group per thread (multiples of 16, the kernels'
 * store width): every group transposes the same input tile again, which
 * costs as much as a good part of the MACs in the projection layers (large
 * K, few channels), so it is a last resort, not a default. */
static void plan(size_t m, size_t n, size_t threads, size_t wide, size_t *tile_m, size_t *tile_n)
{
	const size_t tiles = (m + 31) / 32, rem = m % 32;
	*tile_n = n;
	*tile_m = 32;
	if (tiles >= 8 * threads) {
		const size_t u = SL_MAX(wide, (size_t)32), per = m / (u * 16 * threads);
		*tile_m = u * (per ? per : 1);
		return;
	}
	/* A kernel with wide tiles has few of them here, so each is worth
	 * keeping whole: a layer that one tile holds (7x7) is split by channels
	 * instead, every thread packing the same small input tile (2 threads,
	 * against 32-pixel tasks: b15-17 expand at 70 % 23.7 -> 14.2 us); a
	 * larger one (14x14) goes in whole tiles (b12-14 expand 35 -> 26 us). */
	if (wide > 32) {
		*tile_m = SL_MIN(m, wide);
		if (m <= wide && n >= 32 * threads)
			*tile_n = SL_ALIGN_UP((n + threads - 1) / threads, 16);
		return;
	}
	/* A remainder of at most 8 rows runs as a cheap 8-row tile. */
	const size_t whole = rem && rem <= 8 ? tiles - 1 : tiles;
	if (whole % threads != 0 && n >= 32 * threads)
		*tile_n = SL_ALIGN_UP((n + threads - 1) / threads, 16);
}

static int run(run_ctx *c, size_t m, size_t n, size_t need, struct pthreadpool *pool, size_t tile,
	       size_t wide)
{
	const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
	if (c->scratch->bytes < need || (size_t)c->scratch->slots < threads)
		return -EINVAL;
	if (m == 0)
		return 0;
	if (threads <= 1 || (tile && m <= tile)) {
		task(c, 0, m);
		return 0;
	}
	if (tile) {
		pthreadpool_parallelize_1d_tile_1d(pool, task, c, m, tile, 0);
		return 0;
	}
	size_t tm, tn;
	plan(m, n, threads, wide, &tm, &tn);
	if (tn >= n)
		pthreadpool_parallelize_1d_tile_1d(pool, task, c, m, tm, 0);
	else
		pthreadpool_parallelize_2d_tile_2d(pool, task2d, c, m, n, tm, tn, 0);
	return 0;
}

int sl_sparse_q8_run(const sl_sparse_q8_impl *impl, const sl_sparse_q8 *p, size_t m, const void *in,
		     size_t in_stride, void *out, size_t out_stride, struct pthreadpool *pool, size_t tile,
		     sl_sparse_scratch *scratch)
{
	run_ctx c = {.q8 = impl,
		     .p = p,
		     .in = in,
		     .out = out,
		     .in_stride = in_stride,
		     .out_stride = out_stride,
		     .scratch = scratch};
	return run(&c, m, (size_t)p->n, sl_sparse_q8_scratch_bytes(p), pool, tile,
		   impl->widest ? impl->widest(p->kb) : 32);
}

int sl_sparse_f32_run(const sl_sparse_f32_impl *impl, const sl_sparse_f32 *p, size_t m, const float *in,
		      size_t in_stride, float *out, size_t out_stride, struct pthreadpool *pool, size_t tile,
		      sl_sparse_scratch *scratch)
{
	run_ctx c = {.f32 = impl,
		     .p = p,
		     .in = in,
		     .out = out,
		     .in_stride = in_stride,
		     .out_stride = out_stride,
		     .scratch = scratch};
	return run(&c, m, (size_t)p->n, sl_sparse_f32_scratch_bytes(p), pool, tile, 32);
}
