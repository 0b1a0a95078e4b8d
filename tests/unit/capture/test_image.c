/* BMP and PPM/PGM loaders, and loading from files. The test files are built
 * here byte by byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "capture/image.h"
#include "ref.h"

typedef struct {
	uint8_t *p;
	size_t len, cap;
} bytes;

static void put(bytes *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}
static void put8(bytes *b, uint8_t v)
{
	put(b, &v, 1);
}
static void put16(bytes *b, uint16_t v)
{
	put8(b, v & 0xFF), put8(b, v >> 8);
}
static void put32(bytes *b, uint32_t v)
{
	put16(b, v & 0xFFFF), put16(b, v >> 16);
}

/* The pixel every test image has at (x, y). */
static void pattern(int x, int y, uint8_t rgb[3])
{
	rgb[0] = (uint8_t)(x * 40 + y);
	rgb[1] = (uint8_t)(y * 50 + 3);
	rgb[2] = (uint8_t)(255 - x * 10 - y * 7);
}

/* BMP writer: bpp 24/32 (bitfields: BGRA masks), 8 (palette of grey or the
 * pattern's first 256 colours), top_down stores rows first-to-last. */
static bytes make_bmp(int w, int h, int bpp, bool top_down, bool bitfields, bool grey, uint32_t hsize)
{
	bytes b = {0};
	size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
	size_t pal = bpp == 8 ? 256 * 4 : 0, masks = bitfields && hsize == 40 ? 12 : 0;
	uint32_t off = 14 + hsize + (uint32_t)(pal + masks);
	put(&b, "BM", 2);
	put32(&b, off + (uint32_t)(stride * h));
	put32(&b, 0);
	put32(&b, off);
	put32(&b, hsize);
	put32(&b, (uint32_t)w);
	put32(&b, (uint32_t)(top_down ? -h : h));
	put16(&b, 1);
	put16(&b, (uint16_t)bpp);
	put32(&b, bitfields ? 3 : 0);
	put32(&b, (uint32_t)(stride * h));
	put32(&b, 2835), put32(&b, 2835), put32(&b, bpp == 8 ? 256 : 0), put32(&b, 0);
	if (bitfields) /* 40-byte header: masks after it; V4/V5: the first fields of the extension */
		put32(&b, 0xFF0000), put32(&b, 0xFF00), put32(&b, 0xFF);
	while (b.len < 14 + hsize + masks)
		put8(&b, 0);
	if (bpp == 8)
		for (int i = 0; i < 256; i++) {
			uint8_t c[3];
			pattern(i % 16, i / 16, c);
			if (grey)
				c[0] = c[1] = c[2] = (uint8_t)i;
			put8(&b, c[2]), put8(&b, c[1]), put8(&b, c[0]), put8(&b, 0);
		}
	for (int r = 0; r < h; r++) {
		int y = top_down ? r : h - 1 - r;
		size_t start = b.len;
		for (int x = 0; x < w; x++) {
			uint8_t c[3];
			pattern(x, y, c);
			if (bpp == 8) {
				put8(&b, (uint8_t)((y % 16) * 16 + x % 16));
			} else {
				put8(&b, c[2]), put8(&b, c[1]), put8(&b, c[0]);
				if (bpp == 32)
					put8(&b, 0x55);
			}
		}
		while (b.len - start < stride)
			put8(&b, 0xEE);
	}
	return b;
}

static void check_pattern(const sl_image *img, int w, int h, int bpp, bool grey)
{
	cr_assert_eq(img->width, w);
	cr_assert_eq(img->height, h);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t want[3];
			if (bpp == 8) {
				int i = (y % 16) * 16 + x % 16;
				pattern(i % 16, i / 16, want);
				if (grey)
					want[0] = want[1] = want[2] = (uint8_t)i;
			} else {
				pattern(x, y, want);
			}
			cr_assert_arr_eq(img->data + (size_t)y * img->stride + 3 * x, want, 3,
					 "bpp %d at (%d,%d)", bpp, x, y);
		}
}

Test(bmp, all_supported_variants)
{
	static const struct {
		int bpp;
		bool top_down, bitfields, grey;
		uint32_t hsize;
	} v[] = {{24, false, false, false, 40}, {24, true, false, false, 40},  {32, false, false, false, 40},
		 {32, true, true, false, 40},	{32, false, true, false, 124}, {8, false, false, false, 40},
		 {8, true, false, true, 40},	{24, false, false, false, 108}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (int w = 1; w <= 7; w += 3) {
			bytes b =
			    make_bmp(w, 5, v[i].bpp, v[i].top_down, v[i].bitfields, v[i].grey, v[i].hsize);
			sl_image img;
			cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), 0, "variant %zu w %d", i, w);
			check_pattern(&img, w, 5, v[i].bpp, v[i].grey);
			sl_image_free(&img);
			free(b.p);
		}
}

Test(bmp, malformed_and_unsupported)
{
	bytes b = make_bmp(7, 5, 24, false, false, false, 40);
	sl_image img;
	/* missing rows; the last row's padding alone may be missing */
	cr_assert_eq(sl_image_load_mem(b.p, b.len - 24, &img), -EBADMSG);
	cr_assert_eq(sl_image_load_mem(b.p, b.len - 3, &img), 0);
	sl_image_free(&img);
	cr_assert_eq(sl_image_load_mem(b.p, 30, &img), -EBADMSG);
	b.p[30] = 1; /* BI_RLE8 */
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), -ENOTSUP);
	b.p[30] = 0;
	b.p[28] = 16; /* 16 bpp */
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), -ENOTSUP);
	b.p[28] = 24;
	memcpy(b.p + 18, "\xff\xff\xff\x7f", 4); /* 2^31 - 1 wide */
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), -EBADMSG);
	memcpy(b.p + 18, "\x07\x00\x00\x00", 4);
	memcpy(b.p + 10, "\xff\xff\x00\x00", 4); /* pixel data beyond the end */
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), -EBADMSG);
	free(b.p);
	b = make_bmp(4, 4, 8, false, false, false, 40);
	memcpy(b.p + 46, "\x00\x02\x00\x00", 4); /* 512 palette entries */
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), -EBADMSG);
	free(b.p);
}

static bytes make_pnm(const char *magic, int w, int h, int maxval, const char *comment)
{
	bytes b = {0};
	char hdr[128];
	int n = snprintf(hdr, sizeof(hdr), "%s\n%s%d %d\n%d\n", magic, comment, w, h, maxval);
	put(&b, hdr, (size_t)n);
	bool rgb = magic[1] == '6';
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t c[3];
			pattern(x, y, c);
			for (int k = 0; k < (rgb ? 3 : 1); k++) {
				unsigned v = (unsigned)c[k] * (unsigned)maxval / 255;
				if (maxval > 255)
					put8(&b, (uint8_t)(v >> 8));
				put8(&b, (uint8_t)v);
			}
		}
	return b;
}

Test(pnm, p6_p5_comments_and_wide_samples)
{
	sl_image img;
	bytes b = make_pnm("P6", 6, 4, 255, "# a comment\n");
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), 0);
	check_pattern(&img, 6, 4, 24, false);
	sl_image_free(&img);
	cr_assert_eq(sl_image_load_mem(b.p, b.len - 1, &img), -EBADMSG);
	free(b.p);

	b = make_pnm("P5", 5, 3, 255, "");
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), 0);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 5; x++) {
			uint8_t c[3];
			pattern(x, y, c);
			const uint8_t *p = img.data + y * img.stride + 3 * x;
			cr_assert(p[0] == c[0] && p[1] == c[0] && p[2] == c[0]);
		}
	sl_image_free(&img);
	free(b.p);

	b = make_pnm("P6", 3, 3, 65535, "#x\n#y\n");
	cr_assert_eq(sl_image_load_mem(b.p, b.len, &img), 0);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 3; x++) {
			uint8_t c[3];
			pattern(x, y, c);
			for (int k = 0; k < 3; k++)
				cr_assert(abs(img.data[y * img.stride + 3 * x + k] - c[k]) <= 1);
		}
	sl_image_free(&img);
	free(b.p);

	static const char *const bad[] = {"P6\n3 3\n",
					  "P6\n0 3\n255\n",
					  "P6\n3 3\n0\n",
					  "P6\n3 3\n70000\n",
					  "P6 99999999999 3 255\n",
					  "P7\nWIDTH 1\n",
					  "P3\n1 1\n255\n1 2 3\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sl_image_load_mem(bad[i], strlen(bad[i]), &img);
		cr_assert(r == -EBADMSG || r == -ENOTSUP, "case %zu: %d", i, r);
	}
	cr_assert_eq(sl_image_load_mem("P3\n1 1\n255\n1 2 3\n", 17, &img), -ENOTSUP);
	cr_assert_eq(sl_image_load_mem("GIF89a", 6, &img), -EBADMSG);
	cr_assert_eq(sl_image_load_mem(NULL, 0, &img), -EBADMSG);
}

Test(image, load_file)
{
	char path[] = "/tmp/sl-capture-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	bytes b = make_bmp(9, 4, 24, false, false, false, 40);
	cr_assert_eq(write(fd, b.p, b.len), (ssize_t)b.len);
	close(fd);
	sl_image img;
	cr_assert_eq(sl_image_load_file(path, &img), 0);
	check_pattern(&img, 9, 4, 24, false);
	sl_image_free(&img);
	sl_image_free(NULL);
	unlink(path);
	free(b.p);
	cr_assert_eq(sl_image_load_file("/nonexistent/x.bmp", &img), -ENOENT);
	cr_assert_eq(sl_image_load_file("/tmp", &img), -EISDIR);
}

Test(image, shared_test_photos)
{
	const char *dir = getenv("SL_SHARED_DIR");
	char path[4096];
	static const char *const names[] = {"grace_hopper.bmp", "cat.bmp", "bird.bmp", "sunflower.bmp",
					    "dragonfly.bmp"};
	if (!dir || snprintf(path, sizeof(path), "%s/data/images/cat.bmp", dir) < 0 || access(path, R_OK))
		cr_skip_test("SL_SHARED_DIR/data/images not available");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/data/images/%s", dir, names[i]);
		sl_image img;
		cr_assert_eq(sl_image_load_file(path, &img), 0, "%s", path);
		cr_assert_gt(img.width, 16);
		cr_assert_gt(img.height, 16);
		sl_image_free(&img);
	}
}
