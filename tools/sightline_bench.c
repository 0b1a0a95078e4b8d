/* sightline bench LADDER_DIR DIR: accuracy, latency, memory and size of every
 * variant of a ladder on this device; a table, JSON, an SVG plot with the
 * Pareto frontier, and the measured figures written back into the manifest.
 *
 * Each variant runs in its own child process so that its peak RSS is its own
 * and a crash in one variant cannot take the others down. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "tools/sightline/cli.h"
#include "tools/sightline_tools.h"

#define WARMUP 3

typedef struct {
	int ok;
	int images, top1, top5;
	double p50, p95, p99;
	long peak_rss;
} bench_result;

enum { OPT_LABEL_OFFSET = SL_CLI_OPT__FIRST_PRIVATE, OPT_LIMIT, OPT_PLOT, OPT_NO_WRITE };
static const struct option longopts[] = {
    SL_CLI_LONGOPTS_ENGINE,
    SL_CLI_LONGOPTS_NUMERICS,
    SL_CLI_LONGOPTS_JSON,
    SL_CLI_LONGOPTS_INPUT,
    SL_CLI_LONGOPTS_HELP,
    {"label-offset", 1, NULL, OPT_LABEL_OFFSET},
    {"limit", 1, NULL, OPT_LIMIT},
    {"plot", 1, NULL, OPT_PLOT},
    {"no-write", 0, NULL, OPT_NO_WRITE},
    {0},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sightline bench LADDER_DIR DIR [options]\n"
		   "Top-1/top-5 (or, without labels.txt, agreement with the fp32 variant), latency after\n"
		   "warm-up, peak memory and file size of every variant; results go back into the manifest.\n"
		   "  --label-offset K        add K to every class index of labels.txt\n"
		   "  --limit N               only the first N images\n"
		   "  --plot FILE.svg         accuracy against latency with the Pareto frontier\n"
		   "  --no-write              leave the manifest untouched\n");
	sl_cli_print_common_help(f, longopts);
}

/* Dequantized output values, then the indices of the k largest (ties: lower index). */
static int topk(const sl_tensor *t, const void *data, int k, int *idx)
{
	const int64_t n = sl_tensor_numel(t);
	int got = 0;
	double best[5];
	for (int64_t i = 0; i < n; i++) {
		double v;
		switch (t->dtype) {
		case SL_DTYPE_F32:
			v = ((const float *)data)[i];
			break;
		case SL_DTYPE_U8:
			v = ((const uint8_t *)data)[i] - (t->q.n ? t->q.zero_point[0] : 0);
			break;
		case SL_DTYPE_I8:
			v = ((const int8_t *)data)[i] - (t->q.n ? t->q.zero_point[0] : 0);
			break;
		default:
			return 0;
		}
		int pos = got < k ? got : k;
		while (pos > 0 && v > best[pos - 1])
			pos--;
		if (pos >= k)
			continue;
		for (int j = SL_MIN(got, k - 1); j > pos; j--) {
			best[j] = best[j - 1];
			idx[j] = idx[j - 1];
		}
		best[pos] = v;
		idx[pos] = (int)i;
		if (got < k)
			got++;
	}
	return got;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Child: run one variant over the images; writes result + per-image top-1 to fd. */
static int run_variant(const char *path, const sl_tool_filelist *files, const sl_cli_opts *co, int offset,
		       const int *ref_top1, int fd)
{
	bench_result res = {0};
	int *pred = calloc((size_t)files->n, sizeof(int));
	double *ms = calloc((size_t)files->n, sizeof(double));
	sl_cli_session s = {0};
	if (!pred || !ms || sl_cli_session_open(&s, path, co) < 0)
		goto send;
	for (int i = 0; i < files->n; i++)
		pred[i] = -1;
	const sl_tensor *ot = sl_runtime_output_tensor(s.rt, 0);
	int n = 0;
	for (int i = 0; i < files->n; i++) {
		if (sl_cli_session_load_input(&s, files->path[i], NULL, NULL, NULL) < 0)
			continue;
		if (n == 0)
			for (int w = 0; w < WARMUP; w++)
				sl_cli_session_invoke(&s, NULL);
		if (sl_cli_session_invoke(&s, &ms[n]) < 0)
			goto send;
		int idx[5];
		int got = topk(ot, sl_runtime_output(s.rt, 0), 5, idx);
		const int want = files->labelled ? files->label[i] + offset : (ref_top1 ? ref_top1[i] : -1);
		pred[i] = got ? idx[0] : -1;
		if (got && idx[0] == want)
			res.top1++;
		for (int j = 0; j < got; j++)
			if (idx[j] == want) {
				res.top5++;
				break;
			}
		n++;
	}
	res.images = n;
	sl_cli_sort_doubles(ms, n);
	res.p50 = sl_cli_percentile(ms, n, 50);
	res.p95 = sl_cli_percentile(ms, n, 95);
	res.p99 = sl_cli_percentile(ms, n, 99);
	res.ok = n > 0;
send:;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		res.peak_rss = ru.ru_maxrss * 1024L;
	sl_cli_session_close(&s);
	int r = write_all(fd, &res, sizeof(res));
	if (r == 0 && pred)
		r = write_all(fd, pred, sizeof(int) * (size_t)files->n);
	free(pred);
	free(ms);
	return r;
}

static int bench_one(const char *path, const sl_tool_filelist *files, const sl_cli_opts *co, int offset,
		     const int *ref_top1, bench_result *res, int *pred)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		_exit(run_variant(path, files, co, offset, ref_top1, fds[1]) == 0 ? 0 : 1);
	}
	close(fds[1]);
	int r = read_all(fds[0], res, sizeof(*res));
	if (r == 0)
		r = read_all(fds[0], pred, sizeof(int) * (size_t)files->n);
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !res->ok)
		return -EIO;
	return 0;
}

static const char *jstr(json_object *o, const char *key, const char *dflt)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : dflt;
}

static double jnum(json_object *o, const char *key, double dflt)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) &&
		       (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
		   ? json_object_get_double(v)
		   : dflt;
}

int sl_cli_bench(int argc, char **argv)
{
	sl_cli_opts co;
	sl_cli_opts_init(&co);
	int offset = 0, limit = 0, c;
	const char *plot = NULL;
	bool write_back = true;
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
		case OPT_LABEL_OFFSET:
			if (sl_cli_parse_int("--label-offset", optarg, -1000000, 1000000, &offset) < 0)
				return SL_CLI_EXIT_USAGE;
			break;
		case OPT_LIMIT:
			if (sl_cli_parse_int("--limit", optarg, 1, 10000000, &limit) < 0)
				return SL_CLI_EXIT_USAGE;
			break;
		case OPT_PLOT:
			plot = optarg;
			break;
		case OPT_NO_WRITE:
			write_back = false;
			break;
		default:
			usage(stderr);
			return SL_CLI_EXIT_USAGE;
		}
	}
	if (optind + 2 != argc) {
		usage(stderr);
		return SL_CLI_EXIT_USAGE;
	}
	const char *ladder = argv[optind], *dir = argv[optind + 1];
	char mpath[PATH_MAX];
	struct stat st;
	if (stat(ladder, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(mpath, sizeof(mpath), "%s/manifest.json", ladder);
	else
		snprintf(mpath, sizeof(mpath), "%s", ladder);
	char mdir[PATH_MAX];
	snprintf(mdir, sizeof(mdir), "%s", mpath);
	char *slash = strrchr(mdir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(mdir, sizeof(mdir), ".");

	if (access(mpath, R_OK) < 0) {
		sl_cli_error("%s: cannot read: %s", mpath, strerror(errno));
		return 1;
	}
	json_object *root = json_object_from_file(mpath);
	json_object *vars;
	if (!root || !json_object_object_get_ex(root, "variants", &vars) ||
	    !json_object_is_type(vars, json_type_array)) {
		char why[256];
		snprintf(why, sizeof(why), "%s",
			 !root && json_util_get_last_err() ? json_util_get_last_err()
							   : "no \"variants\" array");
		why[strcspn(why, "\n")] = 0;
		sl_cli_error("%s: not a ladder manifest (%s)", mpath, why);
		json_object_put(root);
		return 1;
	}
	sl_tool_filelist files = {0};
	if (sl_tool_list_images(dir, limit, &files) < 0) {
		json_object_put(root);
		return 1;
	}
	/* Calibration files recorded by compress must not be evaluated on. */
	json_object *cal, *cfiles;
	if (json_object_object_get_ex(root, "calibration", &cal) &&
	    json_object_object_get_ex(cal, "files", &cfiles) &&
	    json_object_is_type(cfiles, json_type_array)) {
		sl_tool_filelist cl = {0};
		const int nc = (int)json_object_array_length(cfiles);
		cl.path = calloc((size_t)nc + 1, sizeof(char *));
		for (int i = 0; cl.path && i < nc; i++) {
			const char *p = json_object_get_string(json_object_array_get_idx(cfiles, i));
			if (p)
				cl.path[cl.n++] = strdup(p);
		}
		sl_tool_warn_overlap_lists(&cl, &files, "evaluation");
		sl_tool_filelist_free(&cl);
	}

	const int nv = (int)json_object_array_length(vars);
	bench_result *res = calloc((size_t)nv + 1, sizeof(*res));
	int *pred = calloc((size_t)files.n * (size_t)(nv + 1), sizeof(int));
	long *bytes = calloc((size_t)nv + 1, sizeof(long));
	int *ref = NULL, rc = 0;
	if (!res || !pred || !bytes) {
		rc = 1;
		goto out;
	}
	/* Unlabelled data: the fp32 variant's top-1 is the reference, so it runs first. */
	int order0 = 0;
	for (int i = 0; i < nv; i++)
		if (strcmp(jstr(json_object_array_get_idx(vars, i), "precision", ""), "fp32") == 0 &&
		    strcmp(jstr(json_object_array_get_idx(vars, i), "sparsity_kind", "dense"), "dense") ==
			0) {
			order0 = i;
			break;
		}
	bool told_unreadable = false;
	int n_read = files.n; /* images every variant could read */
	for (int k = 0; k < nv; k++) {
		const int i = k == 0 ? order0 : (k <= order0 ? k - 1 : k);
		json_object *v = json_object_array_get_idx(vars, i);
		const char *file = jstr(v, "file", NULL);
		char path[PATH_MAX];
		if (!file) {
			sl_cli_warn("%s: variant %d has no file", mpath, i);
			continue;
		}
		int len = file[0] == '/' ? snprintf(path, sizeof(path), "%s", file)
					 : snprintf(path, sizeof(path), "%.2000s/%.2000s", mdir, file);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			sl_cli_warn("%s: variant %d: path too long", mpath, i);
			continue;
		}
		bytes[i] = stat(path, &st) == 0 ? (long)st.st_size : 0;
		int r = bench_one(path, &files, &co, offset, files.labelled ? NULL : ref, &res[i],
				  pred + (size_t)i * files.n);
		if (r < 0) {
			sl_cli_warn("%s: variant %s failed", path, jstr(v, "name", "?"));
			res[i].ok = 0;
			continue;
		}
		/* Each variant reads the images again; one total is enough. */
		if (res[i].ok && res[i].images < files.n && !told_unreadable) {
			sl_cli_warn(
			    "%d of %d images could not be read (named above) and are left out of every "
			    "variant's figures",
			    files.n - res[i].images, files.n);
			told_unreadable = true;
		}
		if (res[i].ok)
			n_read = SL_MIN(n_read, res[i].images);
		if (k == 0)
			ref = pred + (size_t)i * files.n;
		if (!co.json)
			fprintf(stderr, "sightline: %s: top-1 %.2f %% p50 %.2f ms\n", jstr(v, "name", "?"),
				100.0 * res[i].top1 / res[i].images, res[i].p50);
	}

	const char *acc = files.labelled ? "top-1" : "agree";
	if (co.json) {
		json_object *o = json_object_new_object(), *arr = json_object_new_array();
		for (int i = 0; i < nv; i++) {
			json_object *v = json_object_array_get_idx(vars, i), *e = json_object_new_object(),
				    *l = json_object_new_object();
			json_object_object_add(e, "name", json_object_new_string(jstr(v, "name", "?")));
			json_object_object_add(e, "precision",
					       json_object_new_string(jstr(v, "precision", "unknown")));
			json_object_object_add(e, "sparsity_kind",
					       json_object_new_string(jstr(v, "sparsity_kind", "dense")));
			json_object_object_add(e, "sparsity", json_object_new_double(jnum(v, "sparsity", 0)));
			if (res[i].ok) {
				json_object_object_add(
				    e, "top1", json_object_new_double((double)res[i].top1 / res[i].images));
				json_object_object_add(
				    e, "top5", json_object_new_double((double)res[i].top5 / res[i].images));
				json_object_object_add(l, "p50", json_object_new_double(res[i].p50));
				json_object_object_add(l, "p95", json_object_new_double(res[i].p95));
				json_object_object_add(l, "p99", json_object_new_double(res[i].p99));
			} else {
				json_object_object_add(e, "top1", NULL);
				json_object_object_add(e, "top5", NULL);
			}
			json_object_object_add(e, "latency_ms", l);
			json_object_object_add(e, "bytes", json_object_new_int64(bytes[i]));
			json_object_object_add(e, "peak_rss_bytes", json_object_new_int64(res[i].peak_rss));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "variants", arr);
		json_object_object_add(o, "threads", json_object_new_int(co.threads));
		json_object_object_add(o, "images", json_object_new_int(n_read));
		json_object_object_add(o, "unreadable", json_object_new_int(files.n - n_read));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("%-22s %-5s %-12s %7s %7s %7s %9s %9s %9s %10s %10s\n", "variant", "prec", "sparsity",
		       "sparse%", acc, files.labelled ? "top-5" : "agree5", "p50 ms", "p95 ms", "p99 ms",
		       "size KiB", "peak MiB");
		for (int i = 0; i < nv; i++) {
			json_object *v = json_object_array_get_idx(vars, i);
			if (!res[i].ok) {
				printf("%-22s (failed)\n", jstr(v, "name", "?"));
				continue;
			}
			printf("%-22s %-5s %-12s %7.1f %7.2f %7.2f %9.2f %9.2f %9.2f %10.0f %10.1f\n",
			       jstr(v, "name", "?"), jstr(v, "precision", "?"), jstr(v, "sparsity_kind", "?"),
			       100 * jnum(v, "sparsity", 0), 100.0 * res[i].top1 / res[i].images,
			       100.0 * res[i].top5 / res[i].images, res[i].p50, res[i].p95, res[i].p99,
			       bytes[i] / 1024.0, res[i].peak_rss / 1048576.0);
		}
		printf("%d images, %d thread(s), backend %s\n", n_read, co.threads,
		       sl_backend_name(co.backend));
	}

	if (plot) {
		sl_svg_point *p = calloc((size_t)nv + 1, sizeof(*p));
		int n = 0;
		for (int i = 0; p && i < nv; i++)
			if (res[i].ok)
				p[n++] = (sl_svg_point){jstr(json_object_array_get_idx(vars, i), "name", "?"),
							res[i].p50, 100.0 * res[i].top1 / res[i].images};
		char title[256], yl[64];
		snprintf(title, sizeof(title), "Variant ladder: %d images, %d thread(s)", n_read, co.threads);
		snprintf(yl, sizeof(yl), "%s accuracy (%%)",
			 files.labelled ? "top-1" : "fp32 top-1 agreement");
		int r = p ? sl_svg_pareto_plot(plot, title, "latency p50 (ms)", yl, p, n) : -ENOMEM;
		if (r < 0) {
			sl_cli_error("%s: %s", plot, strerror(-r));
			rc = 1;
		}
		free(p);
	}

	if (write_back) {
		char host[128] = "";
		gethostname(host, sizeof(host) - 1);
		for (int i = 0; i < nv; i++) {
			if (!res[i].ok)
				continue;
			json_object *v = json_object_array_get_idx(vars, i), *l = json_object_new_object();
			json_object_object_add(v, "top1",
					       json_object_new_double((double)res[i].top1 / res[i].images));
			json_object_object_add(v, "top5",
					       json_object_new_double((double)res[i].top5 / res[i].images));
			/* The daemon reads latency_ms as one number (the median); the spread goes alongside.
			 */
			json_object_object_add(v, "latency_ms", json_object_new_double(res[i].p50));
			json_object_object_add(l, "p50", json_object_new_double(res[i].p50));
			json_object_object_add(l, "p95", json_object_new_double(res[i].p95));
			json_object_object_add(l, "p99", json_object_new_double(res[i].p99));
			json_object_object_add(v, "latency", l);
			json_object_object_add(v, "bytes", json_object_new_int64(bytes[i]));
			json_object_object_add(v, "peak_rss_bytes", json_object_new_int64(res[i].peak_rss));
		}
		json_object *m = json_object_new_object();
		json_object_object_add(m, "host", json_object_new_string(host));
		json_object_object_add(m, "threads", json_object_new_int(co.threads));
		json_object_object_add(m, "backend", json_object_new_string(sl_backend_name(co.backend)));
		json_object_object_add(m, "images", json_object_new_int(files.n));
		json_object_object_add(m, "dataset", json_object_new_string(dir));
		json_object_object_add(
		    m, "accuracy", json_object_new_string(files.labelled ? "top1" : "agreement_with_fp32"));
		json_object_object_add(root, "measured", m);
		if (sl_tool_write_json(mpath, root) < 0)
			rc = 1;
	}
out:
	free(res);
	free(pred);
	free(bytes);
	sl_tool_filelist_free(&files);
	json_object_put(root);
	return rc;
}
