/* A model opened for running on images: runtime, head and the mapping from
 * pixels to input values. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "tools/sightline/cli.h"

static int input_spec(sl_cli_session *s, const sl_cli_opts *o)
{
	const sl_tensor *in = sl_runtime_input_tensor(s->rt, 0);
	char desc[160];
	sl_cli_format_tensor(in, desc, sizeof(desc));
	if (in->rank != 4 || in->dims[0] != 1 || in->dims[3] != 3 || in->dims[1] < 1 || in->dims[2] < 1) {
		sl_cli_error("%s: input 0 is %s; only [1,H,W,3] image inputs are supported", s->path, desc);
		return -SL_E_UNSUPPORTED;
	}
	sl_preprocess_spec *sp = &s->spec;
	*sp = (sl_preprocess_spec){.width = in->dims[2], .height = in->dims[1], .resize = o->resize};

	float qs = 1.0f;
	int32_t zp = 0;
	if (in->q.n > 1) {
		sl_cli_error("%s: input 0 has per-channel quantization, not supported for images", s->path);
		return -SL_E_UNSUPPORTED;
	}
	if (in->q.n == 1) {
		qs = in->q.scale[0];
		zp = in->q.zero_point[0];
		if (!(qs > 0.0f) || !isfinite(qs)) {
			sl_cli_error("%s: input 0 has an invalid quantization scale %g", s->path, (double)qs);
			return -SL_E_FORMAT;
		}
	}
	float lo, hi;
	if (in->dtype == SL_DTYPE_U8 || in->dtype == SL_DTYPE_I8) {
		const bool u8 = in->dtype == SL_DTYPE_U8;
		const int qmin = u8 ? 0 : -128, qmax = u8 ? 255 : 127;
		sp->type = u8 ? SL_PIXEL_U8 : SL_PIXEL_I8;
		sp->q_scale = qs;
		sp->q_zero_point = zp;
		/* Spanning the whole quantized range makes q = pixel + qmin: exactly
		 * what these models were fed in training and what reference tools feed. */
		lo = (float)(qmin - zp) * qs;
		hi = (float)(qmax - zp) * qs;
		s->range_why = "the range the input quantization covers";
	} else if (in->dtype == SL_DTYPE_F32) {
		sp->type = SL_PIXEL_F32;
		const bool det = s->head.kind == SL_HEAD_DETECT_BLAZEFACE;
		lo = det ? -1.0f : 0.0f;
		hi = det ? 1.0f : 255.0f;
		s->range_why = det ? "default for BlazeFace-like float detectors"
				   : "default for float classifiers: raw pixels";
	} else {
		sl_cli_error("%s: input 0 is %s; only uint8, int8 and float32 inputs are supported", s->path,
			     desc);
		return -SL_E_UNSUPPORTED;
	}
	if (o->range_set) {
		lo = o->range_lo;
		hi = o->range_hi;
		s->range_why = "--input-range";
	}
	sp->float_scale = (hi - lo) / 255.0f;
	sp->float_offset = lo;
	s->range_lo = lo;
	s->range_hi = hi;

	s->fit = o->fit;
	if (s->fit == SL_CLI_FIT_DEFAULT)
		s->fit = s->head.kind == SL_HEAD_DETECT_BLAZEFACE && o->crop < 0 ? SL_CLI_FIT_LETTERBOX
										 : SL_CLI_FIT_CENTRAL;
	s->crop = o->crop > 0 ? o->crop : (s->head.kind == SL_HEAD_CLASSIFY ? 0.875f : 1.0f);
	switch (s->fit) {
	case SL_CLI_FIT_CROP:
		sp->fit = SL_FIT_CROP;
		sp->crop_fraction = s->crop;
		break;
	case SL_CLI_FIT_LETTERBOX:
		sp->fit = SL_FIT_LETTERBOX;
		sp->pad_value = 0;
		break;
	default: /* central crops a view of the source itself, then stretches */
		sp->fit = SL_FIT_STRETCH;
		break;
	}
	return 0;
}

static int open_head(sl_cli_session *s, const sl_cli_opts *o)
{
	sl_error err = {{0}};
	int r;
	s->head = sl_head_guess_kind(s->model);
	switch (s->head.kind) {
	case SL_HEAD_CLASSIFY: {
		bool sm = sl_classifier_wants_softmax(s->model, 0, o->softmax);
		r = sl_classifier_new(sl_runtime_output_tensor(s->rt, 0), sm, &s->cls, &err);
		break;
	}
	case SL_HEAD_DETECT_BLAZEFACE: {
		sl_ssd_anchor_options ao;
		sl_ssd_decode_options dopt;
		sl_ssd_anchor_options_blazeface(&ao);
		sl_ssd_decode_options_blazeface(&dopt);
		dopt.nms = o->nms;
		if (o->score_threshold >= 0)
			dopt.score_threshold = o->score_threshold;
		if (o->iou_threshold >= 0)
			dopt.iou_threshold = o->iou_threshold;
		r = sl_detector_new(&ao, &dopt, sl_runtime_output_tensor(s->rt, s->head.boxes_output),
				    sl_runtime_output_tensor(s->rt, s->head.scores_output), &s->det, &err);
		break;
	}
	default:
		sl_cli_error(
		    "%s: cannot tell what the outputs mean (%d outputs); supported: classifiers "
		    "(one [1,..,classes] output) and BlazeFace-like detectors ([1,896,16] + [1,896,1])",
		    s->path, s->model->n_outputs);
		return -SL_E_UNSUPPORTED;
	}
	if (r < 0) {
		sl_cli_error("%s: %s", s->path, err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	return 0;
}

void sl_cli_session_close(sl_cli_session *s)
{
	sl_classifier_free(s->cls);
	sl_detector_free(s->det);
	sl_labels_free(s->labels);
	sl_runtime_free(s->rt);
	sl_model_unref(s->model);
	*s = (sl_cli_session){0};
}

int sl_cli_session_open(sl_cli_session *s, const char *model_path, const sl_cli_opts *o)
{
	*s = (sl_cli_session){.path = model_path};
	int r = sl_cli_load_model(model_path, &s->model);
	if (r < 0)
		return r;
	if (s->model->n_inputs != 1) {
		sl_cli_error("%s: %d inputs; only single-input image models are supported", model_path,
			     s->model->n_inputs);
		return -SL_E_UNSUPPORTED;
	}
	sl_error err = {{0}};
	const sl_runtime_options ro = {
	    .backend = o->backend, .numerics = sl_cli_numerics(o), .threads = o->threads};
	r = sl_runtime_new(s->model, &ro, &s->rt, &err);
	if (r < 0) {
		sl_cli_error("%s: cannot create the %s runtime: %s", model_path, sl_backend_name(o->backend),
			     err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	if ((r = open_head(s, o)) < 0 || (r = input_spec(s, o)) < 0)
		return r;

	if (o->labels) {
		r = sl_labels_load_file(o->labels, &s->labels, &err);
		if (r < 0) {
			sl_cli_error("%s", err.msg);
			return r;
		}
		if (s->cls && s->labels->n != sl_classifier_n_classes(s->cls))
			sl_cli_warn("%s has %d labels but %s has %d classes", o->labels, s->labels->n,
				    model_path, sl_classifier_n_classes(s->cls));
	}

	/* One untimed run so that the first measured frame does not pay for cold
	 * caches and lazy initialisation. */
	const sl_tensor *in = sl_runtime_input_tensor(s->rt, 0);
	memset(sl_runtime_input(s->rt, 0), 0, in->bytes);
	r = sl_runtime_invoke(s->rt);
	if (r < 0) {
		sl_cli_error("%s: inference failed: %s", model_path, sl_strerror(r));
		return r;
	}
	return 0;
}

int sl_cli_session_load_input(sl_cli_session *s, const char *image_path, int *ret_w, int *ret_h,
			      sl_preprocess_map *ret_map)
{
	_cleanup_(sl_image_free) sl_image img = {0};
	int r = sl_image_load_file(image_path, &img);
	if (r < 0) {
		/* capture/ reports corrupt or unknown data as EBADMSG; say it in image terms. */
		sl_cli_error("%s: cannot load image: %s", image_path,
			     r == -EBADMSG
				 ? "not a valid JPEG, BMP or PPM/PGM file (corrupt, truncated or unsupported)"
				 : sl_strerror(r));
		return r;
	}
	sl_image view = img;
	float vx = 0, vy = 0;
	if (s->fit == SL_CLI_FIT_CENTRAL && s->crop < 1.0f) {
		const double cw = img.width * (double)s->crop, ch = img.height * (double)s->crop;
		long x0 = lround((img.width - cw) / 2), x1 = lround((img.width + cw) / 2);
		long y0 = lround((img.height - ch) / 2), y1 = lround((img.height + ch) / 2);
		if (x1 <= x0)
			x1 = x0 + 1;
		if (y1 <= y0)
			y1 = y0 + 1;
		view.width = (int)(x1 - x0);
		view.height = (int)(y1 - y0);
		view.data = img.data + (size_t)y0 * img.stride + (size_t)x0 * 3;
		vx = (float)x0;
		vy = (float)y0;
	}
	sl_preprocess_map map;
	r = sl_preprocess(&view, &s->spec, sl_runtime_input(s->rt, 0), &map);
	if (r < 0) {
		sl_cli_error("%s: preprocessing (%dx%d to %dx%d) failed: %s", image_path, img.width,
			     img.height, s->spec.width, s->spec.height, sl_strerror(r));
		return r;
	}
	map.x0 += vx;
	map.y0 += vy;
	if (ret_w)
		*ret_w = img.width;
	if (ret_h)
		*ret_h = img.height;
	if (ret_map)
		*ret_map = map;
	return 0;
}

void sl_cli_session_describe(const sl_cli_session *s, char *buf, size_t len)
{
	static const char *const fits[] = {
	    [SL_CLI_FIT_CENTRAL] = "central crop",
	    [SL_CLI_FIT_CROP] = "aspect crop",
	    [SL_CLI_FIT_LETTERBOX] = "letterbox",
	    [SL_CLI_FIT_STRETCH] = "stretch",
	};
	static const char *const resizes[] = {
	    [SL_RESIZE_BILINEAR] = "bilinear",
	    [SL_RESIZE_AREA] = "area",
	    [SL_RESIZE_AUTO] = "auto",
	};
	char fit[48];
	if (s->fit == SL_CLI_FIT_CENTRAL || s->fit == SL_CLI_FIT_CROP)
		snprintf(fit, sizeof(fit), "%s %.3g", fits[s->fit], (double)s->crop);
	else
		snprintf(fit, sizeof(fit), "%s", fits[s->fit]);
	snprintf(buf, len, "%s, resize %s to %dx%d, pixels 0..255 -> [%g, %g] (%s)", fit,
		 resizes[s->spec.resize], s->spec.width, s->spec.height, (double)s->range_lo,
		 (double)s->range_hi, s->range_why);
}

int sl_cli_session_invoke(sl_cli_session *s, double *ret_ms)
{
	const double t0 = sl_cli_now_ms();
	int r = sl_runtime_invoke(s->rt);
	const double t1 = sl_cli_now_ms();
	if (r < 0) {
		sl_cli_error("%s: inference failed: %s", s->path, sl_strerror(r));
		return r;
	}
	if (ret_ms)
		*ret_ms = t1 - t0;
	return 0;
}
