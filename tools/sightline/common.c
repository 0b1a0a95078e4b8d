/* Option parsing, messages and small utilities shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "kernels/tflite/tflite.h"
#include "tools/sightline/cli.h"

static const struct {
	int opt; /* SL_CLI_OPT_* */
	const char *text;
} common_help[] = {
    {SL_CLI_OPT_BACKEND,
     "  --backend B             xnnpack (default): XNNPACK with our sparse and dense kernels; ref:\n"
     "                          scalar reference only; dense: our dense int8 kernels (AVX2, NEON)\n"},
    {SL_CLI_OPT_NUMERICS,
     "  --numerics tflite|fast  int8 rounding: tflite (default) is bit-exact with TFLite's reference\n"
     "                          kernels on every backend and CPU; fast (xnnpack backend only) lets\n"
     "                          XNNPACK round its own way, as LiteRT's XNNPACK delegate does\n"},
    {SL_CLI_OPT_THREADS, "  --threads N             worker threads for XNNPACK (default 1)\n"},
    {SL_CLI_OPT_JSON, "  --json                  machine-readable output\n"},
    {SL_CLI_OPT_LABELS, "  --labels FILE           class names, one per line (line i = class i)\n"},
    {SL_CLI_OPT_TOP, "  --top K                 classes to print (default 5)\n"},
    {SL_CLI_OPT_CROP,
     "  --crop F                centre-crop fraction, 0.01 <= F <= 1 (default 0.875 for classifiers;\n"
     "                          use 1 for inputs already at the model's size, e.g. CIFAR-10)\n"},
    {SL_CLI_OPT_FIT,
     "  --fit MODE              central: crop F of each side, then stretch to the input (default\n"
     "                          for classifiers, as TF-slim's central_crop); crop: crop F of the\n"
     "                          largest centred region with the input's aspect; letterbox: whole\n"
     "                          image padded to the input's aspect (default for detectors); stretch\n"},
    {SL_CLI_OPT_RESIZE,
     "  --resize MODE           area (default): box filter, which does not alias when shrinking and\n"
     "                          matches the antialiased resize TF/PIL pipelines use; bilinear;\n"
     "                          auto: bilinear, or area when shrinking by more than 2x\n"},
    {SL_CLI_OPT_INPUT_RANGE,
     "  --input-range LO,HI     real value range that pixel values 0..255 map to, linearly. Default:\n"
     "                          quantized inputs use the range their quantization covers (the model\n"
     "                          gets raw 0..255 for uint8, pixel-128 for int8: [-1,1] for MobileNet);\n"
     "                          float inputs use 0,255 for classifiers (CIFAR-10 ResNet) and -1,1 for\n"
     "                          BlazeFace-like detectors\n"},
    {SL_CLI_OPT_SOFTMAX,
     "  --softmax auto|yes|no   apply softmax to classifier outputs (auto: unless the graph ends\n"
     "                          in SOFTMAX/LOGISTIC)\n"},
    {SL_CLI_OPT_NMS,
     "  --nms weighted|hard     detectors: MediaPipe's weighted NMS (default) or plain NMS\n"},
    {SL_CLI_OPT_SCORE_THRESHOLD,
     "  --score-threshold S     detectors: minimum score after the sigmoid (default 0.5)\n"},
    {SL_CLI_OPT_IOU_THRESHOLD,
     "  --iou-threshold T       detectors: overlap above which boxes are merged (default 0.3)\n"},
};

void sl_cli_print_common_help(FILE *f, const struct option *longopts)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(common_help); i++)
		for (const struct option *o = longopts; o->name; o++)
			if (o->val == common_help[i].opt) {
				fputs(common_help[i].text, f);
				break;
			}
}

void sl_cli_opts_init(sl_cli_opts *o)
{
	*o = (sl_cli_opts){
	    .backend = SL_BACKEND_XNNPACK,
	    .threads = 1,
	    .crop = -1.0f,
	    .fit = SL_CLI_FIT_DEFAULT,
	    .resize = SL_RESIZE_AREA,
	    .softmax = SL_SOFTMAX_AUTO,
	    .top = 5,
	    .nms = SL_NMS_WEIGHTED,
	    .score_threshold = -1.0f,
	    .iou_threshold = -1.0f,
	};
}

sl_numerics sl_cli_numerics(const sl_cli_opts *o)
{
	static bool warned;
	const sl_numerics n = sl_numerics_effective(o->backend, o->numerics);
	if (n == o->numerics)
		return n;
	if (!warned)
		sl_cli_warn("--numerics fast changes nothing with --backend %s, which always rounds as "
			    "TFLite does",
			    sl_backend_name(o->backend));
	warned = true;
	return n;
}

void sl_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sightline: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void sl_cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sightline: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int sl_cli_parse_int(const char *opt, const char *s, int lo, int hi, int *ret)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		sl_cli_error("%s: '%s' is not an integer in %d..%d", opt, s, lo, hi);
		return -1;
	}
	*ret = (int)v;
	return 0;
}

int sl_cli_parse_float(const char *opt, const char *s, float lo, float hi, float *ret)
{
	char *end;
	errno = 0;
	float v = strtof(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		sl_cli_error("%s: '%s' is not a number in [%g, %g]", opt, s, (double)lo, (double)hi);
		return -1;
	}
	*ret = v;
	return 0;
}

static int parse_range(const char *s, float *lo, float *hi)
{
	char *end;
	errno = 0;
	float a = strtof(s, &end);
	if (errno || end == s || *end != ',')
		goto bad;
	const char *s2 = end + 1;
	float b = strtof(s2, &end);
	if (errno || end == s2 || *end || !isfinite(a) || !isfinite(b) || a == b)
		goto bad;
	*lo = a;
	*hi = b;
	return 0;
bad:
	sl_cli_error("--input-range: '%s' is not LO,HI (two different numbers, e.g. -1,1 or 0,255)", s);
	return -1;
}

int sl_cli_common_opt(int c, const char *arg, sl_cli_opts *o)
{
	switch (c) {
	case SL_CLI_OPT_BACKEND:
		if (sl_backend_from_string(arg, &o->backend) < 0) {
			sl_cli_error("--backend: unknown backend '%s' (ref, xnnpack, dense)", arg);
			return -1;
		}
		return 1;
	case SL_CLI_OPT_NUMERICS:
		if (sl_numerics_from_string(arg, &o->numerics) < 0) {
			sl_cli_error("--numerics: '%s' is neither tflite nor fast", arg);
			return -1;
		}
		return 1;
	case SL_CLI_OPT_THREADS:
		return sl_cli_parse_int("--threads", arg, 1, 64, &o->threads) < 0 ? -1 : 1;
	case SL_CLI_OPT_JSON:
		o->json = true;
		return 1;
	case SL_CLI_OPT_CROP:
		if (sl_cli_parse_float("--crop", arg, 0.01f, 1.0f, &o->crop) < 0)
			return -1;
		return 1;
	case SL_CLI_OPT_FIT:
		if (strcmp(arg, "central") == 0)
			o->fit = SL_CLI_FIT_CENTRAL;
		else if (strcmp(arg, "crop") == 0)
			o->fit = SL_CLI_FIT_CROP;
		else if (strcmp(arg, "letterbox") == 0)
			o->fit = SL_CLI_FIT_LETTERBOX;
		else if (strcmp(arg, "stretch") == 0)
			o->fit = SL_CLI_FIT_STRETCH;
		else {
			sl_cli_error("--fit: unknown mode '%s' (central, crop, letterbox, stretch)", arg);
			return -1;
		}
		return 1;
	case SL_CLI_OPT_RESIZE:
		if (strcmp(arg, "bilinear") == 0)
			o->resize = SL_RESIZE_BILINEAR;
		else if (strcmp(arg, "area") == 0)
			o->resize = SL_RESIZE_AREA;
		else if (strcmp(arg, "auto") == 0)
			o->resize = SL_RESIZE_AUTO;
		else {
			sl_cli_error("--resize: unknown mode '%s' (bilinear, area, auto)", arg);
			return -1;
		}
		return 1;
	case SL_CLI_OPT_INPUT_RANGE:
		if (parse_range(arg, &o->range_lo, &o->range_hi) < 0)
			return -1;
		o->range_set = true;
		return 1;
	case SL_CLI_OPT_SOFTMAX:
		if (strcmp(arg, "auto") == 0)
			o->softmax = SL_SOFTMAX_AUTO;
		else if (strcmp(arg, "yes") == 0)
			o->softmax = SL_SOFTMAX_ALWAYS;
		else if (strcmp(arg, "no") == 0)
			o->softmax = SL_SOFTMAX_NEVER;
		else {
			sl_cli_error("--softmax: expected auto, yes or no, not '%s'", arg);
			return -1;
		}
		return 1;
	case SL_CLI_OPT_TOP:
		return sl_cli_parse_int("--top", arg, 1, 1000, &o->top) < 0 ? -1 : 1;
	case SL_CLI_OPT_LABELS:
		o->labels = arg;
		return 1;
	case SL_CLI_OPT_NMS:
		if (strcmp(arg, "weighted") == 0)
			o->nms = SL_NMS_WEIGHTED;
		else if (strcmp(arg, "hard") == 0)
			o->nms = SL_NMS_HARD;
		else {
			sl_cli_error("--nms: expected weighted or hard, not '%s'", arg);
			return -1;
		}
		return 1;
	case SL_CLI_OPT_SCORE_THRESHOLD:
		return sl_cli_parse_float("--score-threshold", arg, 0.0f, 1.0f, &o->score_threshold) < 0 ? -1
													 : 1;
	case SL_CLI_OPT_IOU_THRESHOLD:
		return sl_cli_parse_float("--iou-threshold", arg, 0.0f, 1.0f, &o->iou_threshold) < 0 ? -1 : 1;
	default:
		return 0;
	}
}

int sl_cli_load_model(const char *path, sl_model **ret)
{
	sl_error err = {{0}};
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	int r = sl_tflite_load_file(path, &m, &err);
	if (r < 0) {
		/* Importer messages usually name the file already. */
		if (err.msg[0] && strstr(err.msg, path))
			sl_cli_error("%s", err.msg);
		else
			sl_cli_error("%s: %s", path, err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	if (!m->order) {
		r = sl_model_finalize(m, &err);
		if (r < 0) {
			sl_cli_error("%s: %s", path, err.msg[0] ? err.msg : sl_strerror(r));
			return r;
		}
	}
	*ret = SL_TAKE_PTR(m);
	return 0;
}

void sl_cli_format_tensor(const sl_tensor *t, char *buf, size_t len)
{
	size_t o = 0;
#define PUT(...)                                                                                             \
	do {                                                                                                 \
		int n_ = snprintf(o < len ? buf + o : NULL, o < len ? len - o : 0, __VA_ARGS__);             \
		if (n_ > 0)                                                                                  \
			o += (size_t)n_;                                                                     \
	} while (0)
	PUT("[");
	for (int i = 0; i < t->rank; i++)
		PUT("%s%d", i ? "," : "", (int)t->dims[i]);
	PUT("] %s", sl_dtype_name(t->dtype));
	if (t->q.n == 1)
		PUT(" q(scale=%.9g, zp=%d)", (double)t->q.scale[0], (int)t->q.zero_point[0]);
	else if (t->q.n > 1) {
		float lo = t->q.scale[0], hi = t->q.scale[0];
		for (int i = 1; i < t->q.n; i++) {
			lo = fminf(lo, t->q.scale[i]);
			hi = fmaxf(hi, t->q.scale[i]);
		}
		PUT(" q(per-channel axis %d, %d scales in [%.3g, %.3g])", t->q.axis, t->q.n, (double)lo,
		    (double)hi);
	}
#undef PUT
	if (o >= len && len > 0)
		buf[len - 1] = '\0';
}

double sl_cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void sl_cli_sort_doubles(double *v, int n)
{
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), cmp_double);
}

double sl_cli_percentile(const double *sorted, int n, double p)
{
	if (n <= 0)
		return 0.0;
	int rank = (int)ceil(p / 100.0 * n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}
