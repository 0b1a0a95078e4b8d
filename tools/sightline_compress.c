/* sightline compress MODEL --calib DIR --out LADDER_DIR [--variants SPEC]:
 * builds a model's variant ladder (fp32 master, int8, sparse-S, channels-R,
 * each optionally int8) as TFLite files plus the manifest the daemon reads. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/macros.h"
#include "kernels/compress/compress.h"
#include "kernels/tflite/tflite_write.h"
#include "tools/sightline/cli.h"
#include "tools/sightline_tools.h"

#define DEFAULT_VARIANTS                                                                                     \
	"fp32,int8,sparse-50,sparse-50-int8,sparse-70,sparse-70-int8,sparse-80,sparse-80-int8,sparse-90,"    \
	"sparse-90-int8,channels-25,channels-25-int8,channels-50,channels-50-int8"

enum {
	OPT_CALIB = SL_CLI_OPT__FIRST_PRIVATE,
	OPT_CALIB_LIMIT,
	OPT_OUT,
	OPT_VARIANTS,
	OPT_METHOD,
	OPT_PERCENTILE,
	OPT_NO_RECOVERY,
	OPT_NO_BIAS,
	OPT_EVAL,
	OPT_VERBOSE,
	OPT_POSITIONS,
	OPT_SENS_IMAGES,
};
/* No --json, --top, --softmax or detector options: nothing here prints
 * classes or boxes, so they are not taken. */
static const struct option longopts[] = {
    SL_CLI_LONGOPTS_ENGINE,
    SL_CLI_LONGOPTS_LABELS,
    SL_CLI_LONGOPTS_INPUT,
    SL_CLI_LONGOPTS_HELP,
    {"calib", 1, NULL, OPT_CALIB},
    {"calib-limit", 1, NULL, OPT_CALIB_LIMIT},
    {"out", 1, NULL, OPT_OUT},
    {"variants", 1, NULL, OPT_VARIANTS},
    {"method", 1, NULL, OPT_METHOD},
    {"percentile", 1, NULL, OPT_PERCENTILE},
    {"no-recovery", 0, NULL, OPT_NO_RECOVERY},
    {"no-bias-correction", 0, NULL, OPT_NO_BIAS},
    {"eval", 1, NULL, OPT_EVAL},
    {"verbose", 0, NULL, OPT_VERBOSE},
    {"positions", 1, NULL, OPT_POSITIONS},
    {"sens-images", 1, NULL, OPT_SENS_IMAGES},
    {0},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sightline compress MODEL --calib DIR --out LADDER_DIR [options]\n"
		"Builds the variant ladder of MODEL (float, or quantized: dequantized into an fp32 master).\n"
		"  --calib DIR             calibration images (labels.txt order when present)\n"
		"  --calib-limit N         use N calibration images spread evenly over the folder's list\n"
		"                          (a folder sorted by class then still gives every class range)\n"
		"  --out DIR               where the variants and manifest.json go (created)\n"
		"  --variants SPEC         comma list (default " DEFAULT_VARIANTS ")\n"
		"                          fp32 | int8 | sparse-S[-int8] | channels-R[-int8], S and R in %%\n"
		"                          channels-R needs inverted residuals: skipped on other networks\n"
		"                          (with a warning; exit status 1 when SPEC names it)\n"
		"  --method mse|minmax|percentile   activation ranges (default mse)\n"
		"  --percentile P          kept mass for --method percentile (default 99.99)\n"
		"  --no-recovery           plain magnitude/channel pruning, no least-squares re-fit\n"
		"  --no-bias-correction    int8 without bias correction\n"
		"  --eval DIR              warn about images that are also in the evaluation folder\n"
		"  --verbose               sparsity allocation and per-layer re-fit details\n"
		"  --positions N           re-fit samples per image and layer (default 48)\n"
		"  --sens-images N         images the sparsity allocation measures on (default 32)\n"
		"Calibration images are preprocessed as sightline eval does, and the manifest records how:\n"
		"the daemon then prepares its frames the same way.\n");
	sl_cli_print_common_help(f, longopts);
}

static void progress(void *ud, const char *msg)
{
	const double *t0 = ud;
	fprintf(stderr, "sightline: [%6.1fs] %s\n", (sl_cli_now_ms() - *t0) / 1000.0, msg);
}

/* A pruned variant that no longer classifies should not wait for sightline
 * bench to be noticed. */
static void report_agreement(sl_compress_ctx *ctx, const char *name, sl_model *m, json_object *arr)
{
	int agree = 0, n = 0;
	sl_error err = {{0}};
	if (sl_compress_agreement(ctx, m, &agree, &n, &err) < 0)
		return; /* not a classifier, or too few calibration images: nothing to say */
	fprintf(stderr,
		"sightline: %s: top-1 agrees with the master on %d of %d held-out calibration images\n", name,
		agree, n);
	if (agree < SL_COMPRESS_BROKEN_AGREEMENT * n)
		sl_cli_warn(
		    "%s: the master's top-1 on only %d of %d held-out images: expect far lower accuracy "
		    "(sightline bench measures it)",
		    name, agree, n);
	json_object *v = json_object_array_get_idx(arr, json_object_array_length(arr) - 1);
	if (v)
		json_object_object_add(v, "holdout_agreement", json_object_new_double((double)agree / n));
}

static int write_variant(const char *out_dir, const char *name, const sl_model *m, const char *precision,
			 const char *kind, json_object *arr)
{
	char path[PATH_MAX], file[256];
	snprintf(file, sizeof(file), "%s.tflite", name);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", out_dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	sl_error err = {{0}};
	int r = sl_tflite_write_file(m, path, &err);
	if (r < 0) {
		sl_cli_error("%s: %s", path, err.msg[0] ? err.msg : sl_strerror(r));
		return r;
	}
	struct stat st;
	const double sp = sl_compress_weight_sparsity(m);
	json_object *v = json_object_new_object();
	json_object_object_add(v, "name", json_object_new_string(name));
	json_object_object_add(v, "file", json_object_new_string(file));
	json_object_object_add(v, "precision", json_object_new_string(precision));
	json_object_object_add(v, "sparsity_kind", json_object_new_string(kind));
	json_object_object_add(v, "sparsity", json_object_new_double(sp));
	json_object_object_add(v, "bytes", json_object_new_int64(stat(path, &st) == 0 ? st.st_size : 0));
	json_object_array_add(arr, v);
	fprintf(stderr, "sightline: wrote %s (%s, %s, weight sparsity %.1f %%)\n", path, precision, kind,
		sp * 100);
	return 0;
}

/* One --variants entry: fp32 | int8 | sparse-S[-int8] | channels-R[-int8]. */
typedef struct {
	char base[64]; /* fp32, sparse-S or channels-R */
	bool int8;
	const char *kind; /* manifest sparsity_kind */
	double amount;	  /* S or R, % */
} variant_spec;

static int parse_variant(const char *tok, variant_spec *v)
{
	memset(v, 0, sizeof(*v));
	if (strlen(tok) >= sizeof(v->base))
		return -EINVAL;
	snprintf(v->base, sizeof(v->base), "%s", tok);
	const size_t bl = strlen(v->base);
	v->int8 = strcmp(v->base, "int8") == 0 || (bl > 5 && strcmp(v->base + bl - 5, "-int8") == 0);
	if (v->int8)
		v->base[strcmp(v->base, "int8") == 0 ? 0 : bl - 5] = 0;
	v->kind = "dense";
	char *end = NULL;
	if (v->base[0] == 0 || strcmp(v->base, "fp32") == 0) {
		snprintf(v->base, sizeof(v->base), "fp32");
		return 0;
	}
	if (strncmp(v->base, "sparse-", 7) == 0) {
		v->kind = "block-1x4"; /* the sparse kernels' blocks: 1 output x 4 inputs */
		v->amount = strtod(v->base + 7, &end);
	} else if (strncmp(v->base, "channels-", 9) == 0) {
		v->kind = "channels";
		v->amount = strtod(v->base + 9, &end);
	} else {
		return -EINVAL;
	}
	return !*end && v->amount > 0 && v->amount < 100 ? 0 : -EINVAL;
}

/* The whole list, before any calibration work. */
static int check_variants(const char *spec)
{
	_cleanup_free_ char *copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	int n = 0;
	char *save = NULL;
	/* At most one per comma plus one: the list of those seen, for duplicates
	 * (the manifest names variants by their token). */
	size_t cap = 1;
	for (const char *c = spec; *c; c++)
		cap += *c == ',';
	_cleanup_free_ variant_spec *seen = calloc(cap, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		variant_spec v;
		if (parse_variant(tok, &v) < 0) {
			sl_cli_error(
			    "--variants: '%s' is not fp32, int8, sparse-S[-int8] or channels-R[-int8] "
			    "(S, R: percentages between 0 and 100, exclusive)",
			    tok);
			return -EINVAL;
		}
		for (int i = 0; i < n; i++)
			if (seen[i].int8 == v.int8 && strcmp(seen[i].kind, v.kind) == 0 &&
			    seen[i].amount == v.amount) {
				sl_cli_error("--variants: '%s' is listed twice", tok);
				return -EINVAL;
			}
		seen[n] = v;
	}
	if (n == 0) {
		sl_cli_error("--variants: empty list");
		return -EINVAL;
	}
	return 0;
}

int sl_cli_compress(int argc, char **argv)
{
	sl_cli_opts co;
	sl_cli_opts_init(&co);
	sl_compress_opts o;
	sl_compress_opts_init(&o);
	const char *const default_variants = DEFAULT_VARIANTS;
	const char *calib = NULL, *out = NULL, *variants = default_variants, *eval_dir = NULL;
	int limit = 0, skipped = 0, c;
	bool percentile_set = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h' || c == SL_CLI_OPT_HELP) {
			usage(stdout);
			return 0;
		}
		int h = sl_cli_common_opt(c, optarg, &co);
		if (h < 0)
			return SL_CLI_EXIT_USAGE;
		if (h > 0)
			continue;
		switch (c) {
		case OPT_CALIB:
			calib = optarg;
			break;
		case OPT_CALIB_LIMIT:
			if (sl_cli_parse_int("--calib-limit", optarg, 1, 1000000, &limit) < 0)
				return SL_CLI_EXIT_USAGE;
			break;
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_VARIANTS:
			variants = optarg;
			break;
		case OPT_METHOD:
			if (sl_calib_method_from_string(optarg, &o.method) < 0) {
				sl_cli_error("--method: '%s' is not mse, minmax or percentile", optarg);
				return SL_CLI_EXIT_USAGE;
			}
			break;
		case OPT_PERCENTILE: {
			float p;
			if (sl_cli_parse_float("--percentile", optarg, 50, 100, &p) < 0)
				return SL_CLI_EXIT_USAGE;
			o.percentile = p;
			percentile_set = true;
			break;
		}
		case OPT_NO_RECOVERY:
			o.recovery = false;
			break;
		case OPT_NO_BIAS:
			o.bias_correction = false;
			break;
		case OPT_EVAL:
			eval_dir = optarg;
			break;
		case OPT_VERBOSE:
			o.verbose = true;
			break;
		case OPT_SENS_IMAGES:
			if (sl_cli_parse_int("--sens-images", optarg, 1, 100000, &o.sens_images) < 0)
				return SL_CLI_EXIT_USAGE;
			break;
		case OPT_POSITIONS:
			if (sl_cli_parse_int("--positions", optarg, 1, 65536, &o.positions_per_image) < 0)
				return SL_CLI_EXIT_USAGE;
			break;
		default:
			usage(stderr);
			return SL_CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !calib || !out) {
		sl_cli_error("%s (see sightline compress --help)", optind >= argc      ? "no MODEL given"
								   : optind + 1 < argc ? "one MODEL only"
								   : !calib ? "--calib DIR is required"
									    : "--out DIR is required");
		return SL_CLI_EXIT_USAGE;
	}
	if (percentile_set && o.method != SL_CALIB_PERCENTILE) {
		sl_cli_error("--percentile applies to --method percentile only");
		return SL_CLI_EXIT_USAGE;
	}
	if (check_variants(variants) < 0)
		return SL_CLI_EXIT_USAGE;
	if (!co.labels)
		sl_cli_warn("no --labels: the ladder's results will name classes by index only");
	const char *model_path = argv[optind];
	o.threads = co.threads > 0 ? co.threads : 1;
	o.backend = co.backend;
	double t0 = sl_cli_now_ms();
	o.progress = progress;
	o.userdata = &t0;

	sl_tool_filelist files = {0};
	if (sl_tool_list_images(calib, 0, &files) < 0)
		return 1;
	sl_tool_filelist_spread(&files, limit);
	if (eval_dir)
		sl_tool_warn_overlap(&files, eval_dir);

	/* Calibration inputs are preprocessed exactly as `sightline eval` feeds the source model. */
	sl_cli_session s = {0};
	if (sl_cli_session_open(&s, model_path, &co) < 0) {
		sl_tool_filelist_free(&files);
		return 1;
	}
	const sl_tensor *in = sl_runtime_input_tensor(s.rt, 0);
	sl_calib_set cs = {.bytes = in->bytes, .inputs = calloc((size_t)files.n, sizeof(void *))};
	int r = cs.inputs ? 0 : -ENOMEM;
	int unreadable = 0;
	for (int i = 0; i < files.n && r >= 0; i++) {
		if (sl_cli_session_load_input(&s, files.path[i], NULL, NULL, NULL) < 0) {
			unreadable++; /* reason printed; a corrupt image is skipped */
			continue;
		}
		if (!(cs.inputs[cs.n] = malloc(cs.bytes))) {
			r = -ENOMEM;
			break;
		}
		memcpy(cs.inputs[cs.n++], sl_runtime_input(s.rt, 0), cs.bytes);
	}
	json_object *manifest = json_object_new_object(), *arr = json_object_new_array();
	sl_model *src = sl_model_ref(s.model);
	sl_preprocess_spec spec = s.spec;
	const char *fit = s.fit == SL_CLI_FIT_LETTERBOX ? "letterbox"
			  : s.fit == SL_CLI_FIT_CROP	? "crop"
			  : s.fit == SL_CLI_FIT_STRETCH ? "stretch"
							: "central";
	const float crop = s.crop;
	sl_cli_session_close(&s);
	if (unreadable)
		fprintf(stderr, "sightline: %d calibration inputs from %s (%d unreadable, skipped)\n", cs.n,
			calib, unreadable);
	else
		fprintf(stderr, "sightline: %d calibration inputs from %s\n", cs.n, calib);

	sl_model *master = NULL;
	sl_compress_ctx *ctx = NULL;
	sl_error err = {{0}};
	if (r >= 0 && cs.n == 0) {
		sl_cli_error("%s: no usable calibration image", calib);
		r = -EINVAL;
	}
	struct stat st;
	if (r >= 0 && mkdir(out, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		sl_cli_error("%s: cannot create: %s", out, strerror(errno));
	} else if (r >= 0 && (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))) {
		r = -ENOTDIR;
		sl_cli_error("--out %s: not a directory", out);
	}
	if (r >= 0 && (r = sl_compress_master(src, &master, &err)) < 0)
		sl_cli_error("%s: fp32 master: %s", model_path, err.msg[0] ? err.msg : sl_strerror(r));
	if (r >= 0 && (r = sl_compress_ctx_new(master, &cs, &o, &ctx, &err)) < 0)
		sl_cli_error("%s: calibration: %s", model_path, err.msg[0] ? err.msg : sl_strerror(r));

	/* Variants in the order asked; an fp32 base is built once and reused by its -int8. */
	char *spec_copy = strdup(variants), *save = NULL;
	sl_model *last_base = NULL;
	char last_base_name[64] = "";
	for (char *tok = strtok_r(spec_copy, ",", &save); tok && r >= 0; tok = strtok_r(NULL, ",", &save)) {
		variant_spec v;
		if ((r = parse_variant(tok, &v)) < 0)
			break; /* checked before calibration: only out of memory gets here */
		const char *base = v.base, *kind = v.kind;
		const bool int8 = v.int8;
		const double amount = v.amount;
		double t1 = sl_cli_now_ms();
		sl_model *fp = NULL;
		if (strcmp(base, "fp32") == 0) {
			fp = sl_model_ref(master);
		} else if (strcmp(base, last_base_name) == 0) {
			fp = sl_model_ref(last_base);
		} else if (strncmp(base, "sparse-", 7) == 0) {
			r = sl_compress_sparse(ctx, amount / 100.0, &fp, &err);
		} else {
			r = sl_compress_channels(ctx, amount / 100.0, &fp, &err);
		}
		if (r == -SL_E_UNSUPPORTED && strcmp(kind, "channels") == 0) {
			/* Not every architecture has inverted residuals: skip, keep the
			 * rest. Asked for by name, the exit status says it is missing. */
			sl_cli_warn("%s: skipped: %s", tok, err.msg);
			skipped += variants != default_variants;
			r = 0;
			continue;
		}
		if (r < 0) {
			sl_cli_error("%s: %s", tok, err.msg[0] ? err.msg : sl_strerror(r));
			break;
		}
		if (strcmp(base, last_base_name) != 0) {
			sl_model_unref(last_base);
			last_base = sl_model_ref(fp);
			snprintf(last_base_name, sizeof(last_base_name), "%s", base);
		}
		sl_model *q = NULL;
		if (int8 && (r = sl_compress_int8(ctx, fp, &q, &err)) < 0)
			sl_cli_error("%s: int8: %s", tok, err.msg[0] ? err.msg : sl_strerror(r));
		if (r >= 0)
			r = write_variant(out, tok, int8 ? q : fp, int8 ? "int8" : "fp32", kind, arr);
		if (r >= 0 && (int8 || fp != master))
			report_agreement(ctx, tok, int8 ? q : fp, arr);
		sl_model_unref(q);
		sl_model_unref(fp);
		if (r >= 0)
			fprintf(stderr, "sightline: [%6.1fs] %s done in %.1f s\n",
				(sl_cli_now_ms() - t0) / 1000.0, tok, (sl_cli_now_ms() - t1) / 1000.0);
	}
	free(spec_copy);
	sl_model_unref(last_base);

	/* A manifest without variants is a ladder the daemon refuses: write none. */
	if (r >= 0 && json_object_array_length(arr) == 0) {
		sl_cli_error("no variant could be built: %s/manifest.json not written", out);
		r = -EINVAL;
	}
	if (r >= 0) {
		json_object_object_add(manifest, "version", json_object_new_int(1));
		json_object_object_add(manifest, "task", json_object_new_string("classification"));
		if (co.labels) {
			char abs[PATH_MAX];
			json_object_object_add(
			    manifest, "labels",
			    json_object_new_string(realpath(co.labels, abs) ? abs : co.labels));
		}
		json_object *pp = json_object_new_object();
		/* What calibration used, so that the daemon feeds the variants the
		 * inputs they were fitted to. */
		json_object_object_add(pp, "fit", json_object_new_string(fit));
		json_object_object_add(pp, "crop_fraction", json_object_new_double(crop));
		json_object_object_add(pp, "resize",
				       json_object_new_string(spec.resize == SL_RESIZE_AREA   ? "area"
							      : spec.resize == SL_RESIZE_AUTO ? "auto"
											      : "bilinear"));
		if (spec.fit == SL_FIT_LETTERBOX)
			json_object_object_add(pp, "pad_value", json_object_new_int(spec.pad_value));
		json_object *size = json_object_new_array();
		json_object_array_add(size, json_object_new_int(spec.width));
		json_object_array_add(size, json_object_new_int(spec.height));
		json_object_object_add(pp, "size", size);
		if (spec.type == SL_PIXEL_F32) {
			json_object *range = json_object_new_array();
			json_object_array_add(range, json_object_new_double(spec.float_offset));
			json_object_array_add(
			    range, json_object_new_double(spec.float_offset + 255.0 * spec.float_scale));
			json_object_object_add(pp, "range", range);
		}
		json_object_object_add(manifest, "preprocessing", pp);
		json_object *cal = json_object_new_object();
		json_object *list = json_object_new_array();
		for (int i = 0; i < files.n; i++) {
			char abs[PATH_MAX];
			json_object_array_add(
			    list, json_object_new_string(realpath(files.path[i], abs) ? abs : files.path[i]));
		}
		json_object_object_add(cal, "method",
				       json_object_new_string(o.method == SL_CALIB_MSE	    ? "mse"
							      : o.method == SL_CALIB_MINMAX ? "minmax"
											    : "percentile"));
		json_object_object_add(cal, "recovery", json_object_new_boolean(o.recovery));
		json_object_object_add(cal, "files", list);
		json_object_object_add(manifest, "calibration", cal);
		json_object_object_add(manifest, "variants", json_object_get(arr));
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/manifest.json", out);
		if (sl_tool_write_json(path, manifest) < 0)
			r = -EIO;
		else
			fprintf(stderr, "sightline: wrote %s (%zu variants) in %.1f s\n", path,
				json_object_array_length(arr), (sl_cli_now_ms() - t0) / 1000.0);
	}
	json_object_put(arr);
	json_object_put(manifest);
	sl_compress_ctx_free(ctx);
	sl_model_unref(master);
	sl_model_unref(src);
	for (int i = 0; i < cs.n; i++)
		free(cs.inputs[i]);
	free(cs.inputs);
	sl_tool_filelist_free(&files);
	if (r >= 0 && skipped)
		sl_cli_error("%d of the variants asked for with --variants could not be built (above)",
			     skipped);
	return r < 0 || skipped ? 1 : 0;
}
