/* V4L2 negotiation rules (no device needed). */
#include <criterion/criterion.h>
#include <linux/videodev2.h>

#include "capture/v4l2_pick.h"

Test(v4l2_pick, format_preference_and_forcing)
{
	sl_pixfmt f;
	uint32_t uvc[] = {V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_MJPEG};
	cr_assert_eq(sl_v4l2_pick_format(uvc, 2, -1, &f), 1);
	cr_assert_eq(f, SL_PIXFMT_MJPEG, "MJPEG first");
	uint32_t vivid[] = {V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_GREY, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV};
	cr_assert_eq(sl_v4l2_pick_format(vivid, 4, -1, &f), 3);
	cr_assert_eq(f, SL_PIXFMT_YUYV);
	cr_assert_eq(sl_v4l2_pick_format(vivid, 4, SL_PIXFMT_GREY, &f), 1);
	cr_assert_eq(f, SL_PIXFMT_GREY);
	cr_assert_eq(sl_v4l2_pick_format(vivid, 4, SL_PIXFMT_MJPEG, &f), -1);
	uint32_t odd[] = {V4L2_PIX_FMT_H264, V4L2_PIX_FMT_SBGGR8};
	cr_assert_eq(sl_v4l2_pick_format(odd, 2, -1, &f), -1);
	cr_assert_eq(sl_v4l2_pick_format(NULL, 0, -1, &f), -1);
}

Test(v4l2_pick, sizes)
{
	const int sizes[][2] = {{320, 240}, {640, 480}, {1280, 720}, {1920, 1080}};
	cr_assert_eq(sl_v4l2_pick_size(sizes, 4, 640, 480), 1);
	cr_assert_eq(sl_v4l2_pick_size(sizes, 4, 1000, 600), 2);
	cr_assert_eq(sl_v4l2_pick_size(sizes, 4, 0, 0), 3, "no wish: the largest");
	cr_assert_eq(sl_v4l2_pick_size(sizes, 4, 100, 100), 0);
	cr_assert_eq(sl_v4l2_pick_size(sizes, 0, 640, 480), -1);
	int w, h;
	sl_v4l2_fit_size(16, 1920, 8, 16, 1080, 2, 641, 479, &w, &h);
	cr_assert(w == 640 && h == 480, "%dx%d", w, h);
	sl_v4l2_fit_size(16, 1920, 8, 16, 1080, 2, 5000, 5, &w, &h);
	cr_assert(w == 1920 && h == 16, "%dx%d", w, h);
	sl_v4l2_fit_size(16, 1920, 1, 16, 1080, 1, 0, 0, &w, &h);
	cr_assert(w == 1920 && h == 1080);
}

Test(v4l2_pick, frame_rates)
{
	const uint32_t iv[][2] = {{1, 30}, {1, 15}, {1, 5}, {1001, 60000}};
	cr_assert_eq(sl_v4l2_pick_interval(iv, 4, 30), 0);
	cr_assert_eq(sl_v4l2_pick_interval(iv, 4, 12), 1);
	cr_assert_eq(sl_v4l2_pick_interval(iv, 4, 0), 3, "no wish: the fastest");
	cr_assert_eq(sl_v4l2_pick_interval(iv, 4, 100), 3);
	const uint32_t bad[][2] = {{0, 30}};
	cr_assert_eq(sl_v4l2_pick_interval(bad, 1, 30), -1);
}
