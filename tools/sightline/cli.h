/* Internal interface of the `sightline` command-line tool. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "capture/image.h"
#include "kernels/heads/heads.h"
#include "kernels/model.h"
#include "kernels/runtime.h"

#define SL_CLI_EXIT_USAGE 2

/* How the image is fitted to the model input before resizing. */
typedef enum {
	SL_CLI_FIT_DEFAULT,   /* central for classifiers, letterbox for detectors */
	SL_CLI_FIT_CENTRAL,   /* crop F of each side (TF-slim central_crop), stretch to the input */
	SL_CLI_FIT_CROP,      /* crop F of the largest centred square-ish region of the input's aspect */
	SL_CLI_FIT_LETTERBOX, /* whole image, aspect kept, padded */
	SL_CLI_FIT_STRETCH,   /* whole image, aspect ignored */
} sl_cli_fit;

/* Options shared by infer and eval. */
typedef struct {
	sl_backend backend;
	sl_numerics numerics;
	int threads;
	bool json;
	float crop; /* < 0: default */
	sl_cli_fit fit;
	sl_resize resize;
	bool range_set;
	float range_lo, range_hi;
	sl_softmax_mode softmax;
	int top;
	const char *labels;
	/* detectors */
	sl_nms_kind nms;
	float score_threshold; /* < 0: the model's default */
	float iou_threshold;   /* < 0: the model's default */
} sl_cli_opts;

void sl_cli_opts_init(sl_cli_opts *o);
/* The numerics the run really uses: only the xnnpack backend has a fast
 * mode, the others always compute with TFLite's arithmetic. Warns (once)
 * when --numerics fast was asked for with such a backend. */
sl_numerics sl_cli_numerics(const sl_cli_opts *o);

/* getopt_long values for the shared options; the subcommands append them. */
enum {
	SL_CLI_OPT_BACKEND = 256,
	SL_CLI_OPT_THREADS,
	SL_CLI_OPT_JSON,
	SL_CLI_OPT_CROP,
	SL_CLI_OPT_FIT,
	SL_CLI_OPT_RESIZE,
	SL_CLI_OPT_INPUT_RANGE,
	SL_CLI_OPT_SOFTMAX,
	SL_CLI_OPT_TOP,
	SL_CLI_OPT_LABELS,
	SL_CLI_OPT_HELP,
	SL_CLI_OPT_NMS,
	SL_CLI_OPT_SCORE_THRESHOLD,
	SL_CLI_OPT_IOU_THRESHOLD,
	SL_CLI_OPT_NUMERICS,
	SL_CLI_OPT__FIRST_PRIVATE,
};
/* The shared options in groups. A subcommand lists only the groups that
 * change what it does, so getopt refuses the others ("unrecognized option")
 * instead of accepting and ignoring them. */
/* clang-format off */
#define SL_CLI_LONGOPTS_ENGINE \
	{"backend", 1, NULL, SL_CLI_OPT_BACKEND}, {"threads", 1, NULL, SL_CLI_OPT_THREADS}
#define SL_CLI_LONGOPTS_NUMERICS {"numerics", 1, NULL, SL_CLI_OPT_NUMERICS}
#define SL_CLI_LONGOPTS_JSON {"json", 0, NULL, SL_CLI_OPT_JSON}
#define SL_CLI_LONGOPTS_INPUT                                                                                \
	{"crop", 1, NULL, SL_CLI_OPT_CROP}, {"fit", 1, NULL, SL_CLI_OPT_FIT},                                \
	    {"resize", 1, NULL, SL_CLI_OPT_RESIZE}, {"input-range", 1, NULL, SL_CLI_OPT_INPUT_RANGE}
#define SL_CLI_LONGOPTS_LABELS {"labels", 1, NULL, SL_CLI_OPT_LABELS}
#define SL_CLI_LONGOPTS_RESULTS \
	{"top", 1, NULL, SL_CLI_OPT_TOP}, {"softmax", 1, NULL, SL_CLI_OPT_SOFTMAX}
#define SL_CLI_LONGOPTS_DETECT                                                                               \
	{"nms", 1, NULL, SL_CLI_OPT_NMS}, {"score-threshold", 1, NULL, SL_CLI_OPT_SCORE_THRESHOLD},          \
	    {"iou-threshold", 1, NULL, SL_CLI_OPT_IOU_THRESHOLD}
#define SL_CLI_LONGOPTS_HELP {"help", 0, NULL, SL_CLI_OPT_HELP}
/* clang-format on */

/* Handle one shared option: 1 handled, 0 not a shared option, -1 invalid
 * (message printed). */
int sl_cli_common_opt(int c, const char *arg, sl_cli_opts *o);
/* The help lines of the shared options in longopts (a subcommand's getopt
 * table, {0}-terminated): help and parsing cannot disagree. */
void sl_cli_print_common_help(FILE *f, const struct option *longopts);

/* Message helpers: everything goes to stderr prefixed with "sightline: ". */
__attribute__((format(printf, 1, 2))) void sl_cli_error(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void sl_cli_warn(const char *fmt, ...);

int sl_cli_parse_int(const char *opt, const char *s, int lo, int hi, int *ret);
int sl_cli_parse_float(const char *opt, const char *s, float lo, float hi, float *ret);

/* Load (and finalize) a TFLite model, printing the reason on failure. */
int sl_cli_load_model(const char *path, sl_model **ret);
/* Shape, dtype and quantization of a tensor, e.g. "[1,224,224,3] uint8 q(s=0.0078125,zp=128)". */
void sl_cli_format_tensor(const sl_tensor *t, char *buf, size_t len);

double sl_cli_now_ms(void);
/* Nearest-rank percentile of n sorted values. */
double sl_cli_percentile(const double *sorted, int n, double p);
void sl_cli_sort_doubles(double *v, int n);

/* A model ready to run on images: runtime, head and preprocessing. */
typedef struct {
	const char *path;
	sl_model *model;
	sl_runtime *rt;
	sl_head_guess head;
	sl_classifier *cls;
	sl_detector *det;
	sl_labels *labels;
	sl_preprocess_spec spec;
	sl_cli_fit fit;		  /* resolved */
	float crop;		  /* resolved */
	float range_lo, range_hi; /* real values of pixels 0 and 255 */
	const char *range_why;	  /* how that range was chosen */
} sl_cli_session;

int sl_cli_session_open(sl_cli_session *s, const char *model_path, const sl_cli_opts *o);
void sl_cli_session_close(sl_cli_session *s);

/* Decode and preprocess an image into the model input; *ret_map maps model
 * coordinates (normalised) back to source pixels. Prints the reason on failure. */
int sl_cli_session_load_input(sl_cli_session *s, const char *image_path, int *ret_w, int *ret_h,
			      sl_preprocess_map *ret_map);
/* One line saying how images become input values, for the output. */
void sl_cli_session_describe(const sl_cli_session *s, char *buf, size_t len);
/* sl_runtime_invoke, timed (ms). */
int sl_cli_session_invoke(sl_cli_session *s, double *ret_ms);

int sl_cli_inspect(int argc, char **argv);
int sl_cli_infer(int argc, char **argv);
int sl_cli_eval(int argc, char **argv);
