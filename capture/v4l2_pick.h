/* Pure negotiation rules for V4L2 devices, separate from the ioctls so that
 * they can be unit-tested without a camera. Internal to capture/. */
#pragma once

#include <stdint.h>

#include "capture/pixfmt.h"

/* Preference order when the user does not force a format: compressed first
 * (USB 2 cameras only reach full rate in MJPEG), then the cheapest to convert. */
extern const sl_pixfmt sl_v4l2_preference[5];

/* Index into offered[] (V4L2 fourccs) of the preferred format we can decode;
 * -1 if none. forced >= 0 restricts the choice to that format. */
int sl_v4l2_pick_format(const uint32_t *offered, int n, int forced, sl_pixfmt *ret);

/* Closest of n discrete sizes to want (0 = any: the largest is taken). */
int sl_v4l2_pick_size(const int (*sizes)[2], int n, int want_w, int want_h);
/* Within a stepwise range (continuous = step 1). */
void sl_v4l2_fit_size(int min_w, int max_w, int step_w, int min_h, int max_h, int step_h, int want_w,
		      int want_h, int *ret_w, int *ret_h);
/* Closest frame rate among n intervals (seconds per frame as num/denom);
 * want 0 prefers the fastest. */
int sl_v4l2_pick_interval(const uint32_t (*intervals)[2], int n, int want_fps);
