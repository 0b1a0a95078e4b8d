/* "No malloc on the per-frame path": malloc and friends are wrapped at link
 * time (-Wl,--wrap, which reaches every call from the capture library's
 * objects), and counted while frames flow. libjpeg-turbo's own internal
 * allocations happen inside the shared library and are not ours to count. */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "capture/frame.h"
#include "capture/source.h"
#include "ref.h"

static atomic_int counting, calls;

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);

void *__wrap_malloc(size_t n)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&calls, 1);
	return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&calls, 1);
	return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&calls, 1);
	return __real_realloc(p, n);
}
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&calls, 1);
	return __real_posix_memalign(p, a, n);
}

Test(alloc, the_wrapper_sees_library_allocations)
{
	atomic_store(&calls, 0);
	atomic_store(&counting, 1);
	sl_image img;
	static const char ppm[] = "P5\n1 1\n255\n\x80";
	cr_assert_eq(sl_image_load_mem(ppm, sizeof(ppm) - 1, &img), 0);
	atomic_store(&counting, 0);
	cr_assert_geq(atomic_load(&calls), 1, "loading allocates, so the wrapper must see it");
	sl_image_free(&img);
}

Test(alloc, preprocess_and_raw_frame_decode_allocate_nothing)
{
	const int W = 320, H = 240;
	sl_image src = ref_random_image(W, H, 3, 0);
	uint8_t *raw = malloc((size_t)W * H * 3);
	memcpy(raw, src.data, (size_t)W * H * 3);
	sl_framedec d;
	cr_assert_eq(sl_framedec_init(&d, false), 0);
	cr_assert_eq(sl_framedec_reserve(&d, W, H), 0);
	float *out = malloc(224 * 224 * 3 * sizeof(float));
	static const sl_pixfmt fmts[] = {SL_PIXFMT_YUYV, SL_PIXFMT_NV12, SL_PIXFMT_RGB24, SL_PIXFMT_GREY};
	atomic_store(&calls, 0);
	atomic_store(&counting, 1);
	for (int fit = 0; fit < 3; fit++)
		for (int rs = 0; rs < 3; rs++)
			for (int t = 0; t < 3; t++) {
				sl_preprocess_spec spec = {.width = 224,
							   .height = 224,
							   .fit = (sl_fit)fit,
							   .crop_fraction = 0.875f,
							   .resize = (sl_resize)rs,
							   .type = (sl_pixel_type)t};
				cr_assert_eq(sl_preprocess(&src, &spec, out, NULL), 0);
				for (size_t f = 0; f < 4; f++) {
					sl_raw_frame fr = {.fmt = fmts[f],
							   .width = W,
							   .height = H,
							   .data = raw,
							   .len = (size_t)W * H * 3};
					cr_assert_eq(
					    sl_framedec_process(&d, &fr, &spec, out, NULL, NULL, NULL), 0);
				}
			}
	atomic_store(&counting, 0);
	cr_assert_eq(atomic_load(&calls), 0, "%d allocations on the per-frame path", atomic_load(&calls));
	sl_framedec_done(&d);
	free(out);
	free(raw);
	free(src.data);
}

/* The whole capture thread (testsrc in YUYV: render, convert, resize, slot
 * hand-off, stats) once it is streaming. */
Test(alloc, streaming_source_allocates_nothing_per_frame)
{
	sl_source_config cfg = {
	    .uri = "testsrc:160x120@200?format=YUYV",
	    .spec = {.width = 64, .height = 64, .type = SL_PIXEL_I8, .q_scale = 1.f, .q_zero_point = -128}};
	sl_source *s;
	sl_frame f;
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	cr_assert_eq(sl_source_start(s), 0);
	for (int i = 0; i < 3; i++) { /* warm up: the stream is open */
		cr_assert_eq(sl_source_acquire(s, 2000, &f), 0);
		sl_source_release(s, &f);
	}
	sl_source_stats before, after;
	sl_source_get_stats(s, &before);
	atomic_store(&calls, 0);
	atomic_store(&counting, 1);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(sl_source_acquire(s, 2000, &f), 0);
		sl_source_release(s, &f);
	}
	atomic_store(&counting, 0);
	sl_source_get_stats(s, &after);
	cr_assert_geq(after.captured - before.captured, 20);
	cr_assert_eq(atomic_load(&calls), 0, "%d allocations while streaming", atomic_load(&calls));
	sl_source_free(s);
}
