/* `sightline eval MODEL DIR`: top-1/top-5 accuracy and latency percentiles
 * over a labelled folder. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "tools/sightline/cli.h"

#define MAX_LINE    4096
#define MAX_ENTRIES 10000000

enum {
	OPT_LABEL_OFFSET = SL_CLI_OPT__FIRST_PRIVATE,
	OPT_LIMIT,
	OPT_PER_IMAGE,
};

/* Top-1/top-5 against labels.txt: class names, --top, softmax and the
 * detector options would change nothing, so they are not taken. */
static const struct option longopts[] = {
    SL_CLI_LONGOPTS_ENGINE,
    SL_CLI_LONGOPTS_NUMERICS,
    SL_CLI_LONGOPTS_JSON,
    SL_CLI_LONGOPTS_INPUT,
    SL_CLI_LONGOPTS_HELP,
    {"label-offset", 1, NULL, OPT_LABEL_OFFSET},
    {"limit", 1, NULL, OPT_LIMIT},
    {"per-image", 1, NULL, OPT_PER_IMAGE},
    {0},
};

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: sightline eval MODEL DIR [options]\n"
	       "DIR holds images and labels.txt, one \"file class_index\" a line. Prints top-1, top-5, the\n"
	       "number of images and the latency percentiles of inference alone (sl_runtime_invoke(), after\n"
	       "one untimed warm-up run; decoding and preprocessing are reported separately).\n"
	       "Options:\n"
	       "  --label-offset K        add K to every class index of labels.txt (1 for ImageNet\n"
	       "                          labels 0..999 with 1001-class models)\n"
	       "  --limit N               only the first N images\n"
	       "  --per-image FILE        write \"file<TAB>label<TAB>top-5\" lines (the reference tool's "
	       ".tsv)\n");
	sl_cli_print_common_help(f, longopts);
	fputs("JSON keys: top1, top5 (fractions), images, latency_ms {p50, p95, p99}, backend, threads.\n",
	      f);
}

typedef struct {
	char *file;
	int label;
} entry;

typedef struct {
	entry *v;
	int n;
} entries;

static void entries_free(entries *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->v[i].file);
	free(e->v);
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static int read_labels(const char *path, int limit, entries *ret)
{
	_cleanup_(fclosep) FILE *f = fopen(path, "r");
	if (!f) {
		const int e = errno;
		sl_cli_error("%s: %s", path, strerror(e));
		return -e;
	}
	entries e = {0};
	int cap = 0, lineno = 0, r = 0;
	char line[MAX_LINE + 2];
	while ((limit <= 0 || e.n < limit) && fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len > MAX_LINE) {
			sl_cli_error("%s:%d: line longer than %d bytes", path, lineno, MAX_LINE);
			r = -EINVAL;
			break;
		}
		char *save = NULL, *file = strtok_r(line, " \t\r\n", &save);
		if (!file || file[0] == '#')
			continue;
		char *idx = strtok_r(NULL, " \t\r\n", &save), *end = NULL;
		long v = idx ? strtol(idx, &end, 10) : -1;
		if (!idx || *end || v < 0 || v > INT_MAX / 2 || strtok_r(NULL, " \t\r\n", &save)) {
			sl_cli_error("%s:%d: expected \"file class_index\"", path, lineno);
			r = -EINVAL;
			break;
		}
		if (e.n >= MAX_ENTRIES) {
			sl_cli_error("%s: more than %d entries", path, MAX_ENTRIES);
			r = -E2BIG;
			break;
		}
		if (e.n == cap) {
			cap = cap ? cap * 2 : 1024;
			entry *nv = realloc(e.v, (size_t)cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			e.v = nv;
		}
		e.v[e.n].file = strdup(file);
		if (!e.v[e.n].file) {
			r = -ENOMEM;
			break;
		}
		e.v[e.n++].label = (int)v;
	}
	if (r == 0 && ferror(f)) {
		sl_cli_error("%s: read error", path);
		r = -EIO;
	}
	if (r == 0 && e.n == 0) {
		sl_cli_error("%s: no entries", path);
		r = -EINVAL;
	}
	if (r < 0) {
		if (r == -ENOMEM)
			sl_cli_error("out of memory");
		entries_free(&e);
		return r;
	}
	*ret = e;
	return 0;
}

int sl_cli_eval(int argc, char **argv)
{
	sl_cli_opts o;
	sl_cli_opts_init(&o);
	int offset = 0, limit = 0, c;
	const char *per_image = NULL;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h' || c == SL_CLI_OPT_HELP) {
			usage(stdout);
			return 0;
		}
		if (c == OPT_LABEL_OFFSET) {
			if (sl_cli_parse_int("--label-offset", optarg, -1000000, 1000000, &offset) < 0)
				return SL_CLI_EXIT_USAGE;
			continue;
		}
		if (c == OPT_LIMIT) {
			if (sl_cli_parse_int("--limit", optarg, 1, MAX_ENTRIES, &limit) < 0)
				return SL_CLI_EXIT_USAGE;
			continue;
		}
		if (c == OPT_PER_IMAGE) {
			per_image = optarg;
			continue;
		}
		int r = sl_cli_common_opt(c, optarg, &o);
		if (r <= 0) {
			if (r == 0)
				usage(stderr);
			return SL_CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return SL_CLI_EXIT_USAGE;
	}
	const char *model = argv[optind], *dir = argv[optind + 1];
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/labels.txt", dir) >= sizeof(path)) {
		sl_cli_error("%s: path too long", dir);
		return 1;
	}
	_cleanup_(entries_free) entries e = {0};
	if (read_labels(path, limit, &e) < 0)
		return 1;

	_cleanup_(sl_cli_session_close) sl_cli_session s = {0};
	if (sl_cli_session_open(&s, model, &o) < 0)
		return 1;
	if (!s.cls) {
		sl_cli_error("%s: eval needs a classifier; this model is a detector", model);
		return 1;
	}
	const int classes = sl_classifier_n_classes(s.cls);
	_cleanup_(fclosep) FILE *tsv = NULL;
	if (per_image && !(tsv = fopen(per_image, "w"))) {
		sl_cli_error("%s: %s", per_image, strerror(errno));
		return 1;
	}

	_cleanup_free_ double *lat = calloc((size_t)e.n, sizeof(double));
	_cleanup_free_ double *pre = calloc((size_t)e.n, sizeof(double));
	if (!lat || !pre) {
		sl_cli_error("out of memory");
		return 1;
	}
	int top1 = 0, top5 = 0, off_by[2] = {0, 0}; /* top-1 hits were the offset one lower/higher */
	/* An unreadable image is left out and counted, as infer does: the figures
	 * cover the rest, and the exit status says the run was incomplete. */
	int n = 0, unreadable = 0;
	for (int i = 0; i < e.n; i++) {
		const int label = e.v[i].label + offset;
		if (label < 0 || label >= classes) {
			sl_cli_error("%s: %s: class %d (with --label-offset %d) is outside the model's 0..%d",
				     path, e.v[i].file, label, offset, classes - 1);
			return 1;
		}
		char img[PATH_MAX];
		if ((size_t)snprintf(img, sizeof(img), "%s/%s", dir, e.v[i].file) >= sizeof(img)) {
			sl_cli_error("%s/%s: path too long", dir, e.v[i].file);
			return 1;
		}
		const double t0 = sl_cli_now_ms();
		if (sl_cli_session_load_input(&s, img, NULL, NULL, NULL) < 0) {
			unreadable++; /* the reason is printed */
			continue;
		}
		pre[n] = sl_cli_now_ms() - t0;
		if (sl_cli_session_invoke(&s, &lat[n]) < 0)
			return 1;
		n++;
		sl_class_score top[5];
		const int nt = sl_classifier_run(s.cls, sl_runtime_output(s.rt, 0), top, 5);
		top1 += nt > 0 && top[0].index == label;
		off_by[0] += nt > 0 && top[0].index == label - 1;
		off_by[1] += nt > 0 && top[0].index == label + 1;
		for (int k = 0; k < nt; k++)
			if (top[k].index == label) {
				top5++;
				break;
			}
		if (tsv) {
			fprintf(tsv, "%s\t%d\t", e.v[i].file, label);
			for (int k = 0; k < nt; k++)
				fprintf(tsv, "%s%d", k ? " " : "", top[k].index);
			fputc('\n', tsv);
		}
	}
	if (tsv && (fflush(tsv) != 0 || ferror(tsv))) {
		sl_cli_error("%s: write error", per_image);
		return 1;
	}
	if (n == 0) {
		sl_cli_error("%s: none of the %d images could be read", dir, e.n);
		return 1;
	}
	sl_cli_sort_doubles(lat, n);
	sl_cli_sort_doubles(pre, n);
	const double p50 = sl_cli_percentile(lat, n, 50), p95 = sl_cli_percentile(lat, n, 95),
		     p99 = sl_cli_percentile(lat, n, 99), pp50 = sl_cli_percentile(pre, n, 50);
	const double f1 = (double)top1 / n, f5 = (double)top5 / n;
	const int rc = unreadable ? 1 : 0;
	if (unreadable)
		sl_cli_error("%d of %d images could not be read and are left out of the figures below",
			     unreadable, e.n);
	/* A background class the labels do not count (ImageNet's 1001 outputs)
	 * gives 0 % silently; the miss is easy to see from here. */
	for (int k = 0; k < 2; k++)
		if (n >= 10 && off_by[k] > 4 * top1 + n / 10)
			sl_cli_warn("top-1 would be %.1f %% with --label-offset %d: do the labels count the "
				    "model's classes from a different start?",
				    100.0 * off_by[k] / n, offset + (k ? 1 : -1));

	if (o.json) {
		json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
		json_object *root = json_object_new_object(), *l = json_object_new_object(),
			    *p = json_object_new_object();
		json_object_object_add(root, "model", json_object_new_string(model));
		json_object_object_add(root, "dataset", json_object_new_string(dir));
		json_object_object_add(root, "top1", json_object_new_double(f1));
		json_object_object_add(root, "top5", json_object_new_double(f5));
		json_object_object_add(root, "images", json_object_new_int(n));
		json_object_object_add(root, "unreadable", json_object_new_int(unreadable));
		json_object_object_add(l, "p50", json_object_new_double(p50));
		json_object_object_add(l, "p95", json_object_new_double(p95));
		json_object_object_add(l, "p99", json_object_new_double(p99));
		json_object_object_add(root, "latency_ms", l);
		json_object_object_add(root, "latency_measures", json_object_new_string("sl_runtime_invoke"));
		json_object_object_add(p, "p50", json_object_new_double(pp50));
		json_object_object_add(root, "preprocess_ms", p);
		json_object_object_add(root, "backend", json_object_new_string(sl_backend_name(o.backend)));
		json_object_object_add(root, "numerics",
				       json_object_new_string(sl_numerics_name(sl_cli_numerics(&o))));
		json_object_object_add(root, "threads", json_object_new_int(o.threads));
		json_object_object_add(root, "label_offset", json_object_new_int(offset));
		json_object_object_add(root, "crop", json_object_new_double(s.crop));
		char prep[256];
		sl_cli_session_describe(&s, prep, sizeof(prep));
		json_object_object_add(root, "preprocessing", json_object_new_string(prep));
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
		return rc;
	}
	printf("model: %s\n", model);
	printf("dataset: %s\n", dir);
	printf("backend: %s, numerics: %s, threads: %d, crop: %g, label offset: %d\n",
	       sl_backend_name(o.backend), sl_numerics_name(sl_cli_numerics(&o)), o.threads, (double)s.crop,
	       offset);
	char prep[256];
	sl_cli_session_describe(&s, prep, sizeof(prep));
	printf("preprocessing: %s\n", prep);
	if (unreadable)
		printf("images: %d (%d unreadable, left out)\n", n, unreadable);
	else
		printf("images: %d\n", n);
	printf("top-1: %.2f%% (%d)\n", 100.0 * f1, top1);
	printf("top-5: %.2f%% (%d)\n", 100.0 * f5, top5);
	printf("latency ms (sl_runtime_invoke only): p50 %.3f  p95 %.3f  p99 %.3f\n", p50, p95, p99);
	printf("decode + preprocess ms: p50 %.3f\n", pp50);
	return rc;
}
