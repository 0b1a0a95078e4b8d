/* Capture benchmark (run by hand, not a test): CPU time per frame of
 *   A. 640x480 MJPEG -> 224x224 uint8 with DCT scaling (the capture path),
 *   B. the same frame decoded at full size, then resized,
 *   C. 640x480 YUYV -> 224x224 uint8,
 * for a centre crop of 100 % and 87.5 %, measured in the same run with the
 * three paths interleaved (rounds of each, median of rounds) so that machine
 * load affects them alike. Prints the per-frame times and the ratios.
 *   build/tests/bench/bench_capture [rounds] [frames-per-round] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "capture/frame.h"
#include "capture/image.h"
#include "capture/pixfmt.h"

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A camera-like picture: smooth gradients, edges and (noisy) sensor noise.
 * The noise level sets the JPEG's entropy, which decides how much of the
 * decode time DCT scaling can save: both are measured. */
static uint8_t *scene(int w, int h, int noisy)
{
	uint8_t *p = malloc((size_t)w * h * 3);
	unsigned seed = 1;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			seed = seed * 1103515245u + 12345u;
			int noise = noisy ? (int)((seed >> 16) % 17) - 8 : 0;
			int edge = ((x / 40) + (y / 30)) & 1 ? 60 : 0;
			for (int c = 0; c < 3; c++) {
				double v = 110 + 70 * sin(x * (0.02 + 0.01 * c) + y * 0.013) + edge + noise;
				p[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
		}
	return p;
}

typedef struct {
	const char *name;
	double per_frame_ms;
} result;

enum { PATH_DCT, PATH_FULL, PATH_YUYV, N_PATHS };

static int run(int W, int H, int noisy, int rounds, int per_round);

int main(int argc, char **argv)
{
	const int W = 640, H = 480;
	int rounds = argc > 1 ? atoi(argv[1]) : 9, per_round = argc > 2 ? atoi(argv[2]) : 40;
	if (rounds < 1 || per_round < 1)
		return 2;
	printf("capture benchmark: 640x480 -> 224x224 uint8, %d rounds x %d frames, CPU time per frame "
	       "(median)\n",
	       rounds, per_round);
	for (int noisy = 1; noisy >= 0; noisy--)
		if (run(W, H, noisy, rounds, per_round))
			return 1;
	return 0;
}

static int run(int W, int H, int noisy, int rounds, int per_round)
{
	uint8_t *rgb = scene(W, H, noisy);

	/* UVC cameras send 4:2:2 MJPEG */
	tjhandle enc = tjInitCompress();
	unsigned char *jpg = NULL;
	unsigned long jlen = 0;
	if (tjCompress2(enc, rgb, W, 0, H, TJPF_RGB, &jpg, &jlen, TJSAMP_422, 85, 0) < 0) {
		fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(enc));
		return 1;
	}
	size_t ylen = sl_pixfmt_frame_size(SL_PIXFMT_YUYV, W, H, 0);
	uint8_t *yuyv = malloc(ylen);
	sl_pixfmt_from_rgb(rgb, (size_t)W * 3, W, H, SL_PIXFMT_YUYV, NULL, yuyv, 0);

	sl_framedec dec;
	if (sl_framedec_init(&dec, false) < 0 || sl_framedec_reserve(&dec, W, H) < 0)
		return 1;
	tjhandle tj = tjInitDecompress();
	uint8_t *full = malloc((size_t)W * H * 3);
	uint8_t *out = malloc(224 * 224 * 3);
	sl_raw_frame mjpeg = {.fmt = SL_PIXFMT_MJPEG, .width = W, .height = H, .data = jpg, .len = jlen};
	sl_raw_frame yuv = {.fmt = SL_PIXFMT_YUYV, .width = W, .height = H, .data = yuyv, .len = ylen};

	printf("\n=== %s scene: MJPEG frame of %lu bytes (4:2:2, quality 85)\n", noisy ? "noisy" : "clean",
	       jlen);
	static const float crops[] = {1.f, 0.875f};
	for (int ci = 0; ci < 2; ci++) {
		sl_preprocess_spec spec = {.width = 224,
					   .height = 224,
					   .fit = SL_FIT_CROP,
					   .crop_fraction = crops[ci],
					   .resize = SL_RESIZE_AUTO,
					   .type = SL_PIXEL_U8,
					   .float_scale = 1.f,
					   .q_scale = 1.f};
		sl_decoded d;
		if (sl_framedec_decode(&dec, &mjpeg, &spec, &d) < 0)
			return 1;
		double *t[N_PATHS];
		for (int p = 0; p < N_PATHS; p++)
			t[p] = calloc((size_t)rounds, sizeof(double));
		for (int r = 0; r < rounds; r++)
			for (int p = 0; p < N_PATHS; p++) {
				double t0 = cpu_s();
				for (int i = 0; i < per_round; i++) {
					int e = 0;
					if (p == PATH_DCT) {
						e = sl_framedec_process(&dec, &mjpeg, &spec, out, NULL, NULL,
									NULL);
					} else if (p == PATH_FULL) {
						e = tjDecompress2(tj, jpg, jlen, full, W, W * 3, H, TJPF_RGB,
								  0);
						sl_image img = {W, H, (size_t)W * 3, full};
						e |= sl_preprocess(&img, &spec, out, NULL);
					} else {
						e = sl_framedec_process(&dec, &yuv, &spec, out, NULL, NULL,
									NULL);
					}
					if (e) {
						fprintf(stderr, "path %d failed\n", p);
						return 1;
					}
				}
				t[p][r] = (cpu_s() - t0) / per_round * 1e3;
			}
		double med[N_PATHS];
		for (int p = 0; p < N_PATHS; p++) {
			qsort(t[p], (size_t)rounds, sizeof(double), cmp_double);
			med[p] = t[p][rounds / 2];
			free(t[p]);
		}
		printf("centre crop %.1f %% (DCT scale picked: decode at %dx%d)\n", crops[ci] * 100,
		       d.img.width, d.img.height);
		printf("  A  MJPEG, DCT-scaled decode + resize : %7.3f ms/frame\n", med[PATH_DCT]);
		printf("  B  MJPEG, full decode + resize       : %7.3f ms/frame\n", med[PATH_FULL]);
		printf("  C  YUYV convert + resize             : %7.3f ms/frame\n", med[PATH_YUYV]);
		printf("  ratio B/A (DCT scaling speed-up)     : %7.2fx\n", med[PATH_FULL] / med[PATH_DCT]);
		printf("  ratio C/A (YUYV vs scaled MJPEG)     : %7.2fx\n", med[PATH_YUYV] / med[PATH_DCT]);
	}
	sl_framedec_done(&dec);
	tjDestroy(tj);
	tjDestroy(enc);
	tjFree(jpg);
	free(full);
	free(out);
	free(yuyv);
	free(rgb);
	return 0;
}
