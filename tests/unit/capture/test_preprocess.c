/* Resize kernels and sl_preprocess against the scalar versions in ref.h. */
#include <criterion/criterion.h>
#include <errno.h>

#include "capture/resize.h"
#include "ref.h"

typedef void (*row_fn)(const sl_image *, const sl_region *, int, int, int, uint8_t *);
typedef void (*ref_fn)(const sl_image *, double, double, double, double, int, int, int, int, uint8_t *);

static void check_kernel(row_fn fn, ref_fn ref, const char *name)
{
	static const int src_sizes[][2] = {{1, 1}, {2, 3}, {7, 5}, {64, 48}, {100, 37}};
	static const int out_sizes[][2] = {{1, 1}, {3, 2}, {16, 16}, {31, 9}, {128, 96}};
	static const double regions[][4] = {{0, 0, 1, 1}, {0.1, 0.2, 0.5, 0.7}, {0.25, 0, 0.75, 1}};
	uint8_t row[128 * 3];
	for (size_t s = 0; s < 5; s++)
		for (size_t o = 0; o < 5; o++)
			for (size_t g = 0; g < 3; g++) {
				sl_image img = ref_random_image(src_sizes[s][0], src_sizes[s][1],
								(unsigned)(s * 7 + o), 5);
				sl_region r = {regions[g][0] * img.width, regions[g][1] * img.height,
					       regions[g][2] * img.width, regions[g][3] * img.height};
				int cw = out_sizes[o][0], ch = out_sizes[o][1];
				for (int dy = 0; dy < ch; dy++) {
					fn(&img, &r, cw, ch, dy, row);
					for (int dx = 0; dx < cw; dx++) {
						uint8_t want[3];
						ref(&img, r.x0, r.y0, r.w, r.h, cw, ch, dx, dy, want);
						for (int c = 0; c < 3; c++)
							cr_assert(
							    abs(row[3 * dx + c] - want[c]) <= 1,
							    "%s %dx%d->%dx%d region %zu (%d,%d)c%d: %d vs %d",
							    name, img.width, img.height, cw, ch, g, dx, dy, c,
							    row[3 * dx + c], want[c]);
					}
				}
				free(img.data);
			}
}

Test(resize, bilinear_matches_reference)
{
	check_kernel(sl_resize_bilinear_row, ref_bilinear, "bilinear");
}

Test(resize, area_matches_reference)
{
	check_kernel(sl_resize_area_row, ref_area, "area");
}

/* Boxes spanning several of the area kernel's 1024-column chunks, and boxes
 * wider than a chunk, which take the direct path. */
Test(resize, area_wide_sources)
{
	static const int outs[] = {1, 2, 7, 1500};
	sl_image img = ref_random_image(3000, 3, 77, 0);
	uint8_t row[1500 * 3];
	for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++) {
		sl_region r = {0.5, 0, 2999, 3};
		int cw = outs[o];
		for (int dy = 0; dy < 2; dy++) {
			sl_resize_area_row(&img, &r, cw, 2, dy, row);
			for (int dx = 0; dx < cw; dx++) {
				uint8_t want[3];
				ref_area(&img, r.x0, r.y0, r.w, r.h, cw, 2, dx, dy, want);
				for (int c = 0; c < 3; c++)
					cr_assert(abs(row[3 * dx + c] - want[c]) <= 1, "%d wide, (%d,%d)", cw,
						  dx, dy);
			}
		}
	}
	free(img.data);
}

static sl_preprocess_spec u8_spec(int w, int h, sl_fit fit, sl_resize rs)
{
	return (sl_preprocess_spec){.width = w,
				    .height = h,
				    .fit = fit,
				    .crop_fraction = 1.f,
				    .resize = rs,
				    .type = SL_PIXEL_U8,
				    .float_scale = 1.f,
				    .q_scale = 1.f};
}

Test(preprocess, same_size_stretch_is_exact_copy)
{
	sl_image img = ref_random_image(13, 7, 3, 9);
	sl_preprocess_spec spec = u8_spec(13, 7, SL_FIT_STRETCH, SL_RESIZE_BILINEAR);
	uint8_t out[13 * 7 * 3];
	sl_preprocess_map map;
	cr_assert_eq(sl_preprocess(&img, &spec, out, &map), 0);
	for (int y = 0; y < 7; y++)
		cr_assert_arr_eq(out + y * 39, img.data + y * img.stride, 39);
	cr_assert_float_eq(map.x0, 0.f, 1e-6);
	cr_assert_float_eq(map.sx, 13.f, 1e-5);
	spec.resize = SL_RESIZE_AREA;
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), 0);
	for (int y = 0; y < 7; y++)
		cr_assert_arr_eq(out + y * 39, img.data + y * img.stride, 39);
	free(img.data);
}

Test(preprocess, crop_geometry_and_map)
{
	sl_layout l;
	sl_preprocess_spec spec = u8_spec(224, 224, SL_FIT_CROP, SL_RESIZE_AUTO);
	spec.crop_fraction = 0.875f;
	cr_assert_eq(sl_preprocess_layout(640, 480, &spec, &l), 0);
	cr_assert_float_eq(l.src.w, 420.0, 1e-3);
	cr_assert_float_eq(l.src.x0, 110.0, 1e-3);
	cr_assert_float_eq(l.src.y0, 30.0, 1e-3);
	cr_assert(!l.area, "420 -> 224 is less than 2x");
	/* non-square model: the largest centred rectangle of its aspect */
	spec = u8_spec(300, 100, SL_FIT_CROP, SL_RESIZE_BILINEAR);
	cr_assert_eq(sl_preprocess_layout(640, 480, &spec, &l), 0);
	cr_assert_float_eq(l.src.w, 640.0, 1e-6);
	cr_assert_float_eq(l.src.h, 640.0 / 3, 1e-6);
	/* map: model (0..1) -> source pixels */
	sl_image img = ref_random_image(640, 480, 1, 0);
	spec = u8_spec(224, 224, SL_FIT_CROP, SL_RESIZE_AUTO);
	spec.crop_fraction = 0.875f;
	uint8_t *out = malloc(224 * 224 * 3);
	sl_preprocess_map map;
	cr_assert_eq(sl_preprocess(&img, &spec, out, &map), 0);
	cr_assert_float_eq(map.x0, 110.f, 1e-3);
	cr_assert_float_eq(map.y0, 30.f, 1e-3);
	cr_assert_float_eq(map.sx, 420.f, 1e-3);
	cr_assert_float_eq(map.sy, 420.f, 1e-3);
	free(out);
	free(img.data);
}

/* Central: a whole-pixel window, crop_fraction of each side, stretched; the
 * same pixels as stretching a view of that window (what `sightline eval`
 * does with a file) when the window shrinks to the output. */
Test(preprocess, central_window_matches_a_stretched_view)
{
	sl_layout l;
	sl_preprocess_spec spec = u8_spec(224, 224, SL_FIT_CENTRAL, SL_RESIZE_BILINEAR);
	spec.crop_fraction = 0.875f;
	cr_assert_eq(sl_preprocess_layout(640, 480, &spec, &l), 0);
	cr_expect_float_eq(l.src.x0, 40.0, 1e-9);
	cr_expect_float_eq(l.src.y0, 30.0, 1e-9);
	cr_expect_float_eq(l.src.w, 560.0, 1e-9);
	cr_expect_float_eq(l.src.h, 420.0, 1e-9);
	/* 101 x 37 at 0.5: 50.5 x 18.5 rounds to columns 25..75, rows 9..27 */
	spec.crop_fraction = 0.5f;
	cr_assert_eq(sl_preprocess_layout(101, 37, &spec, &l), 0);
	cr_expect(l.src.x0 == 25 && l.src.w == 51 && l.src.y0 == 9 && l.src.h == 19, "%g %g %g %g", l.src.x0,
		  l.src.w, l.src.y0, l.src.h);

	sl_image img = ref_random_image(640, 480, 4, 0);
	spec = u8_spec(224, 224, SL_FIT_CENTRAL, SL_RESIZE_BILINEAR);
	spec.crop_fraction = 0.875f;
	sl_preprocess_spec vs = u8_spec(224, 224, SL_FIT_STRETCH, SL_RESIZE_BILINEAR);
	sl_image view = img;
	view.width = 560;
	view.height = 420;
	view.data = img.data + 30 * img.stride + 40 * 3;
	uint8_t *a = malloc(224 * 224 * 3), *b = malloc(224 * 224 * 3);
	sl_preprocess_map map;
	cr_assert_eq(sl_preprocess(&img, &spec, a, &map), 0);
	cr_assert_eq(sl_preprocess(&view, &vs, b, NULL), 0);
	cr_expect_arr_eq(a, b, 224 * 224 * 3);
	cr_expect_float_eq(map.x0, 40.f, 1e-4);
	cr_expect_float_eq(map.sx, 560.f, 1e-3);
	spec.resize = vs.resize = SL_RESIZE_AREA;
	cr_assert_eq(sl_preprocess(&img, &spec, a, NULL), 0);
	cr_assert_eq(sl_preprocess(&view, &vs, b, NULL), 0);
	cr_expect_arr_eq(a, b, 224 * 224 * 3, "area");
	free(a);
	free(b);
	free(img.data);
}

Test(preprocess, letterbox_pads_and_maps)
{
	sl_image img = ref_random_image(200, 100, 5, 0);
	sl_preprocess_spec spec = u8_spec(64, 64, SL_FIT_LETTERBOX, SL_RESIZE_AUTO);
	spec.pad_value = 77;
	uint8_t out[64 * 64 * 3];
	sl_preprocess_map map;
	cr_assert_eq(sl_preprocess(&img, &spec, out, &map), 0);
	/* content 64x32 centred: rows 0..15 and 48..63 are padding */
	for (int y = 0; y < 64; y++) {
		bool pad = y < 16 || y >= 48;
		for (int i = 0; i < 64 * 3; i++)
			if (pad)
				cr_assert_eq(out[y * 192 + i], 77, "row %d", y);
	}
	cr_assert_float_eq(map.x0, 0.f, 1e-4);
	cr_assert_float_eq(map.sx, 200.f, 1e-3);
	cr_assert_float_eq(map.y0, -50.f, 1e-3);
	cr_assert_float_eq(map.sy, 200.f, 1e-3);
	/* content rows equal the reference area resize of the whole image */
	for (int y = 16; y < 48; y++)
		for (int x = 0; x < 64; x++) {
			uint8_t want[3];
			ref_area(&img, 0, 0, 200, 100, 64, 32, x, y - 16, want);
			for (int c = 0; c < 3; c++)
				cr_assert(abs(out[y * 192 + x * 3 + c] - want[c]) <= 1);
		}
	free(img.data);
}

Test(preprocess, auto_uses_area_beyond_2x)
{
	sl_image img = ref_random_image(300, 300, 9, 0);
	uint8_t a[32 * 32 * 3], b[32 * 32 * 3];
	sl_preprocess_spec spec = u8_spec(32, 32, SL_FIT_STRETCH, SL_RESIZE_AUTO);
	cr_assert_eq(sl_preprocess(&img, &spec, a, NULL), 0);
	spec.resize = SL_RESIZE_AREA;
	cr_assert_eq(sl_preprocess(&img, &spec, b, NULL), 0);
	cr_assert_arr_eq(a, b, sizeof(a));
	spec = u8_spec(200, 200, SL_FIT_STRETCH, SL_RESIZE_AUTO);
	sl_layout l;
	cr_assert_eq(sl_preprocess_layout(300, 300, &spec, &l), 0);
	cr_assert(!l.area);
	free(img.data);
}

/* The whole pipeline for every type, against reference resize + mapping. */
Test(preprocess, output_types_and_quantization)
{
	sl_image img = ref_random_image(50, 40, 11, 3);
	const int W = 24, H = 20;
	struct {
		sl_pixel_type t;
		float fs, fo, qs;
		int zp;
	} cases[] = {
	    {SL_PIXEL_U8, 1.f / 255, 0, 1.f / 255, 0},	   /* identity */
	    {SL_PIXEL_U8, 1.f / 128, -1, 1.f / 128, 128},  /* MobileNet v1/v2 uint8 */
	    {SL_PIXEL_I8, 1, -128, 1, 0},		   /* pixel - 128 */
	    {SL_PIXEL_I8, 1.f / 255, 0, 0.5f / 255, -128}, /* saturates above 127 */
	    {SL_PIXEL_F32, 1.f / 127.5f, -1, 0, 0},
	    {SL_PIXEL_F32, 0, 0, 0, 0}, /* zeroed: raw 0..255 */
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		sl_preprocess_spec spec = {.width = W,
					   .height = H,
					   .fit = SL_FIT_STRETCH,
					   .resize = SL_RESIZE_BILINEAR,
					   .type = cases[k].t,
					   .float_scale = cases[k].fs,
					   .float_offset = cases[k].fo,
					   .q_scale = cases[k].qs,
					   .q_zero_point = cases[k].zp};
		float out[24 * 20 * 3];
		cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), 0);
		float fs = cases[k].fs == 0 && cases[k].fo == 0 ? 1 : cases[k].fs;
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				uint8_t px[3];
				ref_bilinear(&img, 0, 0, 50, 40, W, H, x, y, px);
				for (int c = 0; c < 3; c++) {
					size_t i = ((size_t)y * W + x) * 3 + c;
					/* the reference pixel may differ by one level: accept either
					 * neighbour */
					bool ok = false;
					for (int d = -1; d <= 1 && !ok; d++) {
						int p = px[c] + d;
						if (p < 0 || p > 255)
							continue;
						double real = p * fs + cases[k].fo;
						if (cases[k].t == SL_PIXEL_F32) {
							ok = fabs(out[i] - real) < 1e-4;
						} else {
							long q = lround(real / cases[k].qs) + cases[k].zp;
							long lo = cases[k].t == SL_PIXEL_U8 ? 0 : -128;
							q = q < lo ? lo : q > lo + 255 ? lo + 255 : q;
							long got = cases[k].t == SL_PIXEL_U8
								       ? ((uint8_t *)out)[i]
								       : ((int8_t *)out)[i];
							ok = got == q;
						}
					}
					cr_assert(ok, "case %zu at %zu", k, i);
				}
			}
	}
	free(img.data);
}

Test(preprocess, bad_arguments)
{
	sl_image img = ref_random_image(8, 8, 1, 0);
	uint8_t out[64];
	sl_preprocess_spec spec = u8_spec(4, 4, SL_FIT_CROP, SL_RESIZE_AUTO);
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), 0);
	spec.width = 0;
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), -EINVAL);
	spec.width = 5000;
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), -EINVAL);
	spec = u8_spec(4, 4, (sl_fit)9, SL_RESIZE_AUTO);
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), -EINVAL);
	spec = u8_spec(4, 4, SL_FIT_CROP, (sl_resize)9);
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), -EINVAL);
	spec = u8_spec(4, 4, SL_FIT_CROP, SL_RESIZE_AUTO);
	spec.type = (sl_pixel_type)7;
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), -EINVAL);
	spec.type = SL_PIXEL_U8;
	img.stride = 20; /* < width * 3 */
	cr_assert_eq(sl_preprocess(&img, &spec, out, NULL), -EINVAL);
	cr_assert_eq(sl_preprocess(NULL, &spec, out, NULL), -EINVAL);
	free(img.data);
}

Test(preprocess, min_scale_for_dct_scaling)
{
	sl_preprocess_spec spec = u8_spec(224, 224, SL_FIT_CROP, SL_RESIZE_AUTO);
	cr_assert_float_eq(sl_preprocess_min_scale(640, 480, &spec), 224.0 / 480, 1e-9);
	spec.crop_fraction = 0.875f;
	cr_assert_float_eq(sl_preprocess_min_scale(640, 480, &spec), 224.0 / 420, 1e-6);
	spec.fit = SL_FIT_LETTERBOX;
	cr_assert_float_eq(sl_preprocess_min_scale(640, 480, &spec), 224.0 / 640, 1e-9);
	spec.fit = SL_FIT_STRETCH;
	cr_assert_float_eq(sl_preprocess_min_scale(640, 480, &spec), 224.0 / 480, 1e-9);
	cr_assert_float_eq(sl_preprocess_min_scale(100, 100, &spec), 1.0, 1e-9,
			   "never upscale in the decoder");
}
