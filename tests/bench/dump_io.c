/* Dumps, per image, the exact input tensor a model gets and the raw output
 * tensor of the ref and the xnnpack backend (1 thread), so that another
 * runtime (tests/bench/litert_compare.py: LiteRT) can be fed the very same
 * bytes and its outputs compared step by step with ours.
 *
 *   dump_io [--dir DIR [--limit N]] [--crop F] [--resize auto|bilinear|area]
 *           [--numerics tflite|fast] MODEL.tflite OUTDIR [IMAGE...]
 *
 * Preprocessing repeats `sightline eval`'s defaults for a classifier
 * (tools/sightline/session.c): central crop of F (0.875) of each side, then
 * stretched to the input with sl_preprocess (resize area by default, as eval),
 * pixel values spanning the whole quantized range of the input. It is
 * duplicated rather than linked because tools/ is an executable, not a
 * library; keep the two in step.
 *
 * OUTDIR gets index.tsv: '#' lines "key<TAB>value" describing the model's
 * input and output tensors, then one line per image
 *   "NNNNN<TAB>label<TAB>image path"
 * (label from labels.txt, -1 for images given on the command line), and per
 * image NNNNN.in, NNNNN.ref.out, NNNNN.xnnpack.out: the raw tensor bytes in
 * the model's dtype, native byte order. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/image.h"
#include "common/macros.h"
#include "kernels/model.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"

typedef struct {
	int n, cap;
	char **path;
	int *label;
} image_list;

static void image_list_free(image_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->path[i]);
	free(l->path);
	free(l->label);
	*l = (image_list){0};
}

static int image_list_add(image_list *l, const char *path, int label)
{
	if (l->n == l->cap) {
		const int cap = l->cap ? l->cap * 2 : 256;
		char **np = realloc(l->path, (size_t)cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		l->path = np;
		int *nl = realloc(l->label, (size_t)cap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		l->label = nl;
		l->cap = cap;
	}
	if (!(l->path[l->n] = strdup(path)))
		return -ENOMEM;
	l->label[l->n++] = label;
	return 0;
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* "file class" lines of DIR/labels.txt, in file order. */
static int read_labels(const char *dir, int limit, image_list *l)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/labels.txt", dir);
	_cleanup_(fclosep) FILE *f = fopen(path, "r");
	if (!f) {
		const int e = errno;
		fprintf(stderr, "dump_io: %s: %s\n", path, strerror(e));
		return -e;
	}
	char line[PATH_MAX + 64];
	int lineno = 0;
	while ((limit <= 0 || l->n < limit) && fgets(line, sizeof(line), f)) {
		lineno++;
		char file[PATH_MAX];
		int cls;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%4095s %d", file, &cls) != 2 || cls < 0) {
			fprintf(stderr, "dump_io: %s:%d: expected \"file class_index\"\n", path, lineno);
			return -EINVAL;
		}
		char full[2 * PATH_MAX + 2];
		snprintf(full, sizeof(full), "%s/%s", dir, file);
		if (image_list_add(l, full, cls) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The input mapping of `sightline eval` (session.c input_spec) for a
 * classifier without --input-range, --fit or --crop overrides. */
static int make_spec(const sl_tensor *in, sl_resize resize, sl_preprocess_spec *ret)
{
	if (in->rank != 4 || in->dims[0] != 1 || in->dims[3] != 3 || in->q.n > 1)
		return -SL_E_UNSUPPORTED;
	sl_preprocess_spec sp = {.width = in->dims[2], .height = in->dims[1], .resize = resize};
	float lo, hi;
	if (in->dtype == SL_DTYPE_U8 || in->dtype == SL_DTYPE_I8) {
		const bool u8 = in->dtype == SL_DTYPE_U8;
		const int qmin = u8 ? 0 : -128, qmax = u8 ? 255 : 127;
		const float qs = in->q.n ? in->q.scale[0] : 1.0f;
		const int32_t zp = in->q.n ? in->q.zero_point[0] : 0;
		sp.type = u8 ? SL_PIXEL_U8 : SL_PIXEL_I8;
		sp.q_scale = qs;
		sp.q_zero_point = zp;
		lo = (float)(qmin - zp) * qs;
		hi = (float)(qmax - zp) * qs;
	} else if (in->dtype == SL_DTYPE_F32) {
		sp.type = SL_PIXEL_F32;
		lo = 0.0f;
		hi = 255.0f;
	} else {
		return -SL_E_UNSUPPORTED;
	}
	sp.float_scale = (hi - lo) / 255.0f;
	sp.float_offset = lo;
	/* eval's "central" fit: the crop is a view of the source, then stretched. */
	sp.fit = SL_FIT_STRETCH;
	*ret = sp;
	return 0;
}

/* session.c sl_cli_session_load_input, central fit. */
static int load_input(const char *path, float crop, const sl_preprocess_spec *spec, void *dst)
{
	_cleanup_(sl_image_free) sl_image img = {0};
	int r = sl_image_load_file(path, &img);
	if (r < 0)
		return r;
	sl_image view = img;
	if (crop < 1.0f) {
		const double cw = img.width * (double)crop, ch = img.height * (double)crop;
		long x0 = lround((img.width - cw) / 2), x1 = lround((img.width + cw) / 2);
		long y0 = lround((img.height - ch) / 2), y1 = lround((img.height + ch) / 2);
		if (x1 <= x0)
			x1 = x0 + 1;
		if (y1 <= y0)
			y1 = y0 + 1;
		view.width = (int)(x1 - x0);
		view.height = (int)(y1 - y0);
		view.data = img.data + (size_t)y0 * img.stride + (size_t)x0 * 3;
	}
	return sl_preprocess(&view, spec, dst, NULL);
}

static int write_file(const char *path, const void *data, size_t len)
{
	_cleanup_(fclosep) FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fflush(f) != 0) {
		const int e = errno ? errno : EIO;
		fprintf(stderr, "dump_io: %s: %s\n", path, strerror(e));
		return -e;
	}
	return 0;
}

static void describe(FILE *f, const char *key, const sl_tensor *t)
{
	fprintf(f, "#%s_dtype\t%s\n#%s_shape\t", key, sl_dtype_name(t->dtype), key);
	for (int d = 0; d < t->rank; d++)
		fprintf(f, "%s%d", d ? "," : "", t->dims[d]);
	fprintf(f, "\n#%s_bytes\t%zu\n", key, t->bytes);
	if (t->q.n == 1)
		fprintf(f, "#%s_scale\t%.9g\n#%s_zero_point\t%d\n", key, (double)t->q.scale[0], key,
			t->q.zero_point[0]);
}

static void usage(FILE *f)
{
	fputs("usage: dump_io [--dir DIR [--limit N]] [--crop F] [--resize auto|bilinear|area]\n"
	      "               [--numerics tflite|fast] MODEL.tflite OUTDIR [IMAGE...]\n"
	      "Writes OUTDIR/index.tsv and, per image, NNNNN.in, NNNNN.ref.out, NNNNN.xnnpack.out\n"
	      "(raw tensor bytes; xnnpack on 1 thread). --dir takes the images of DIR/labels.txt.\n",
	      f);
}

static int run(const char *model_path, const char *outdir, const image_list *imgs, float crop,
	       sl_resize resize, sl_numerics numerics)
{
	sl_error err = {{0}};
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	int r = sl_tflite_load_file(model_path, &m, &err);
	if (r == 0 && !m->order)
		r = sl_model_finalize(m, &err);
	if (r < 0) {
		fprintf(stderr, "dump_io: %s: %s\n", model_path, err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	if (m->n_inputs != 1 || m->n_outputs != 1) {
		fprintf(stderr, "dump_io: %s: need one input and one output\n", model_path);
		return -SL_E_UNSUPPORTED;
	}
	_cleanup_(sl_runtime_freep) sl_runtime *ref = NULL;
	_cleanup_(sl_runtime_freep) sl_runtime *xnn = NULL;
	const sl_runtime_options ro = {.backend = SL_BACKEND_REF, .threads = 1};
	const sl_runtime_options xo = {.backend = SL_BACKEND_XNNPACK, .numerics = numerics, .threads = 1};
	if ((r = sl_runtime_new(m, &ro, &ref, &err)) < 0 || (r = sl_runtime_new(m, &xo, &xnn, &err)) < 0) {
		fprintf(stderr, "dump_io: %s: runtime: %s\n", model_path,
			err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	const sl_tensor *in = sl_runtime_input_tensor(ref, 0), *out = sl_runtime_output_tensor(ref, 0);
	sl_preprocess_spec spec;
	if ((r = make_spec(in, resize, &spec)) < 0) {
		fprintf(stderr, "dump_io: %s: input is not a [1,H,W,3] u8/i8/f32 image tensor\n", model_path);
		return r;
	}
	_cleanup_free_ void *input = malloc(in->bytes);
	if (!input) {
		fprintf(stderr, "dump_io: out of memory\n");
		return -ENOMEM;
	}
	int on_xnn = 0;
	for (int i = 0; i < sl_runtime_n_steps(xnn); i++)
		on_xnn += sl_runtime_step(xnn, i)->impl == SL_IMPL_XNNPACK;

	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		const int e = errno;
		fprintf(stderr, "dump_io: %s: %s\n", outdir, strerror(e));
		return -e;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.tsv", outdir);
	_cleanup_(fclosep) FILE *idx = fopen(path, "w");
	if (!idx) {
		const int e = errno;
		fprintf(stderr, "dump_io: %s: %s\n", path, strerror(e));
		return -e;
	}
	static const char *const resizes[] = {
	    [SL_RESIZE_BILINEAR] = "bilinear", [SL_RESIZE_AREA] = "area", [SL_RESIZE_AUTO] = "auto"};
	fprintf(idx, "#model\t%s\n#crop\t%g\n#fit\tcentral\n#resize\t%s\n#pixel_range\t%g,%g\n", model_path,
		(double)crop, resizes[resize], (double)spec.float_offset,
		(double)(spec.float_offset + 255.0f * spec.float_scale));
	fprintf(idx, "#xnnpack_nodes\t%d/%d\n#xnnpack_threads\t1\n", on_xnn, sl_runtime_n_steps(xnn));
	describe(idx, "input", in);
	describe(idx, "output", out);

	for (int i = 0; i < imgs->n; i++) {
		r = load_input(imgs->path[i], crop, &spec, sl_runtime_input(ref, 0));
		if (r < 0) {
			fprintf(stderr, "dump_io: %s: cannot load or preprocess: %s\n", imgs->path[i],
				sl_strerror(r));
			return r;
		}
		/* Saved before invoking: the arena planner lets later activations
		 * overwrite the input tensor's memory. */
		memcpy(input, sl_runtime_input(ref, 0), in->bytes);
		memcpy(sl_runtime_input(xnn, 0), input, in->bytes);
		if ((r = sl_runtime_invoke(ref)) < 0 || (r = sl_runtime_invoke(xnn)) < 0) {
			fprintf(stderr, "dump_io: %s: inference failed: %s\n", imgs->path[i], sl_strerror(r));
			return r;
		}
		static const char *const kinds[] = {"in", "ref.out", "xnnpack.out"};
		const void *data[] = {input, sl_runtime_output(ref, 0), sl_runtime_output(xnn, 0)};
		const size_t len[] = {in->bytes, out->bytes, out->bytes};
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/%05d.%s", outdir, i, kinds[k]);
			if ((r = write_file(path, data[k], len[k])) < 0)
				return r;
		}
		fprintf(idx, "%05d\t%d\t%s\n", i, imgs->label[i], imgs->path[i]);
		if ((i + 1) % 50 == 0 || i + 1 == imgs->n)
			fprintf(stderr, "dump_io: %d/%d images\n", i + 1, imgs->n);
	}
	if (fflush(idx) != 0 || ferror(idx)) {
		fprintf(stderr, "dump_io: %s/index.tsv: write error\n", outdir);
		return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dir", 1, NULL, 'd'},
	    {"limit", 1, NULL, 'n'},
	    {"crop", 1, NULL, 'c'},
	    {"resize", 1, NULL, 'r'},
	    {"numerics", 1, NULL, 'N'},
	    {"help", 0, NULL, 'h'},
	    {0},
	};
	const char *dir = NULL;
	int limit = 0, c;
	float crop = 0.875f;
	sl_resize resize = SL_RESIZE_AREA;
	sl_numerics numerics = SL_NUMERICS_TFLITE;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			limit = (int)strtol(optarg, &end, 10);
			if (*end || limit < 1) {
				fprintf(stderr, "dump_io: --limit: '%s' is not a positive integer\n", optarg);
				return 2;
			}
			break;
		case 'c':
			crop = strtof(optarg, &end);
			if (*end || !(crop > 0.0f && crop <= 1.0f)) {
				fprintf(stderr, "dump_io: --crop: '%s' is not in (0, 1]\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (strcmp(optarg, "auto") == 0)
				resize = SL_RESIZE_AUTO;
			else if (strcmp(optarg, "bilinear") == 0)
				resize = SL_RESIZE_BILINEAR;
			else if (strcmp(optarg, "area") == 0)
				resize = SL_RESIZE_AREA;
			else {
				fprintf(stderr, "dump_io: --resize: '%s' (auto, bilinear, area)\n", optarg);
				return 2;
			}
			break;
		case 'N':
			if (sl_numerics_from_string(optarg, &numerics) < 0) {
				fprintf(stderr, "dump_io: --numerics: '%s' (tflite, fast)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2 || (!dir && argc - optind == 2)) {
		usage(stderr);
		return 2;
	}
	_cleanup_(image_list_free) image_list imgs = {0};
	if (dir && read_labels(dir, limit, &imgs) < 0)
		return 1;
	for (int i = optind + 2; i < argc; i++)
		if (image_list_add(&imgs, argv[i], -1) < 0) {
			fprintf(stderr, "dump_io: out of memory\n");
			return 1;
		}
	if (imgs.n == 0) {
		fprintf(stderr, "dump_io: no images\n");
		return 1;
	}
	return run(argv[optind], argv[optind + 1], &imgs, crop, resize, numerics) < 0 ? 1 : 0;
}
