#include "capture/v4l2_pick.h"

#include <math.h>
#include <stdlib.h>

const sl_pixfmt sl_v4l2_preference[5] = {SL_PIXFMT_MJPEG, SL_PIXFMT_YUYV, SL_PIXFMT_NV12, SL_PIXFMT_RGB24,
					 SL_PIXFMT_GREY};

int sl_v4l2_pick_format(const uint32_t *offered, int n, int forced, sl_pixfmt *ret)
{
	for (int p = 0; p < 5; p++) {
		sl_pixfmt want = sl_v4l2_preference[p];
		if (forced >= 0 && want != (sl_pixfmt)forced)
			continue;
		for (int i = 0; i < n; i++) {
			sl_pixfmt f;
			if (sl_pixfmt_from_fourcc(offered[i], &f) == 0 && f == want) {
				*ret = f;
				return i;
			}
		}
	}
	return -1;
}

int sl_v4l2_pick_size(const int (*sizes)[2], int n, int want_w, int want_h)
{
	int best = -1;
	long best_d = 0, best_area = 0;
	for (int i = 0; i < n; i++) {
		long area = (long)sizes[i][0] * sizes[i][1];
		long d = want_w > 0 && want_h > 0
			     ? labs((long)sizes[i][0] - want_w) + labs((long)sizes[i][1] - want_h)
			     : -area;
		/* on a tie the larger size: downscaling loses less than upscaling */
		if (best < 0 || d < best_d || (d == best_d && area > best_area)) {
			best = i;
			best_d = d;
			best_area = area;
		}
	}
	return best;
}

static int fit(int lo, int hi, int step, int want)
{
	if (step < 1)
		step = 1;
	if (want <= 0 || want >= hi)
		return hi;
	if (want <= lo)
		return lo;
	int k = (int)lround((double)(want - lo) / step);
	int v = lo + k * step;
	return v > hi ? hi : v;
}

void sl_v4l2_fit_size(int min_w, int max_w, int step_w, int min_h, int max_h, int step_h, int want_w,
		      int want_h, int *ret_w, int *ret_h)
{
	*ret_w = fit(min_w, max_w, step_w, want_w);
	*ret_h = fit(min_h, max_h, step_h, want_h);
}

int sl_v4l2_pick_interval(const uint32_t (*intervals)[2], int n, int want_fps)
{
	int best = -1;
	double best_d = 0;
	for (int i = 0; i < n; i++) {
		if (!intervals[i][0] || !intervals[i][1])
			continue;
		double fps = (double)intervals[i][1] / intervals[i][0];
		double d = want_fps > 0 ? fabs(fps - want_fps) : -fps;
		if (best < 0 || d < best_d) {
			best = i;
			best_d = d;
		}
	}
	return best;
}
