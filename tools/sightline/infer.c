/* `sightline infer MODEL IMAGE...`: top-k classes or detection boxes. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "tools/sightline/cli.h"

#define MAX_DETECTIONS 100

static const struct option longopts[] = {
    SL_CLI_LONGOPTS_ENGINE, SL_CLI_LONGOPTS_NUMERICS, SL_CLI_LONGOPTS_JSON,
    SL_CLI_LONGOPTS_LABELS, SL_CLI_LONGOPTS_RESULTS,  SL_CLI_LONGOPTS_INPUT,
    SL_CLI_LONGOPTS_DETECT, SL_CLI_LONGOPTS_HELP,     {0},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sightline infer MODEL IMAGE... [options]\n"
		"Runs MODEL on each JPEG, BMP or PPM/PGM image and prints the top classes (classifiers) or\n"
		"the boxes (BlazeFace-like detectors, recognised by their [1,896,16] + [1,896,1] outputs).\n"
		"Latency is sl_runtime_invoke() alone, after one untimed warm-up run.\n"
		"Options:\n");
	sl_cli_print_common_help(f, longopts);
}

static json_object *jdouble(double v)
{
	return json_object_new_double(v);
}

static int classify(sl_cli_session *s, const sl_cli_opts *o, const char *image, double ms,
		    json_object *results)
{
	sl_class_score top[1000];
	const int n = sl_classifier_run(s->cls, sl_runtime_output(s->rt, 0), top, o->top);
	if (o->json) {
		json_object *r = json_object_new_object(), *arr = json_object_new_array();
		json_object_object_add(r, "image", json_object_new_string(image));
		json_object_object_add(r, "latency_ms", jdouble(ms));
		for (int i = 0; i < n; i++) {
			json_object *e = json_object_new_object();
			const char *label = sl_labels_get(s->labels, top[i].index);
			json_object_object_add(e, "index", json_object_new_int(top[i].index));
			json_object_object_add(e, "label", label ? json_object_new_string(label) : NULL);
			json_object_object_add(e, "score", jdouble(top[i].score));
			json_object_array_add(arr, e);
		}
		json_object_object_add(r, "top", arr);
		json_object_array_add(results, r);
		return 0;
	}
	printf("%s (%.2f ms)\n", image, ms);
	for (int i = 0; i < n; i++) {
		const char *label = sl_labels_get(s->labels, top[i].index);
		printf("  %d. %-5d %.4f  %s\n", i + 1, top[i].index, (double)top[i].score,
		       label ? label : "");
	}
	return 0;
}

static float clampf(float v, float lo, float hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

static int detect(sl_cli_session *s, const sl_cli_opts *o, const char *image, int w, int h,
		  const sl_preprocess_map *map, double ms, json_object *results)
{
	static sl_detection det[MAX_DETECTIONS];
	const int n = sl_detector_run(s->det, sl_runtime_output(s->rt, s->head.boxes_output),
				      sl_runtime_output(s->rt, s->head.scores_output), det, MAX_DETECTIONS);
	json_object *r = NULL, *arr = NULL;
	if (o->json) {
		r = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(r, "image", json_object_new_string(image));
		json_object_object_add(r, "width", json_object_new_int(w));
		json_object_object_add(r, "height", json_object_new_int(h));
		json_object_object_add(r, "latency_ms", jdouble(ms));
	} else {
		printf("%s (%dx%d, %.2f ms): %d detection%s\n", image, w, h, ms, n, n == 1 ? "" : "s");
	}
	for (int i = 0; i < n; i++) {
		const sl_detection *d = &det[i];
		/* Model-normalised -> source pixels, clipped to the image. */
		const float px0 = clampf(map->x0 + d->x0 * map->sx, 0, (float)w);
		const float py0 = clampf(map->y0 + d->y0 * map->sy, 0, (float)h);
		const float px1 = clampf(map->x0 + d->x1 * map->sx, 0, (float)w);
		const float py1 = clampf(map->y0 + d->y1 * map->sy, 0, (float)h);
		const char *label = sl_labels_get(s->labels, d->cls);
		if (!o->json) {
			printf("  %d. class %d%s%s score %.3f box (%.1f, %.1f)-(%.1f, %.1f) px, normalised "
			       "(%.4f, "
			       "%.4f)-(%.4f, %.4f)\n",
			       i + 1, d->cls, label ? " " : "", label ? label : "", (double)d->score,
			       (double)px0, (double)py0, (double)px1, (double)py1, (double)(px0 / (float)w),
			       (double)(py0 / (float)h), (double)(px1 / (float)w), (double)(py1 / (float)h));
			if (d->n_keypoints > 0) {
				printf("     keypoints px:");
				for (int k = 0; k < d->n_keypoints; k++)
					printf(" (%.1f, %.1f)", (double)(map->x0 + d->kp[k][0] * map->sx),
					       (double)(map->y0 + d->kp[k][1] * map->sy));
				putchar('\n');
			}
			continue;
		}
		json_object *e = json_object_new_object(), *box = json_object_new_array(),
			    *px = json_object_new_array(), *kps = json_object_new_array();
		json_object_object_add(e, "class", json_object_new_int(d->cls));
		json_object_object_add(e, "label", label ? json_object_new_string(label) : NULL);
		json_object_object_add(e, "score", jdouble(d->score));
		const float v[4] = {px0 / (float)w, py0 / (float)h, px1 / (float)w, py1 / (float)h};
		const float vp[4] = {px0, py0, px1, py1};
		for (int k = 0; k < 4; k++) {
			json_object_array_add(box, jdouble(v[k]));
			json_object_array_add(px, jdouble(vp[k]));
		}
		for (int k = 0; k < d->n_keypoints; k++) {
			json_object *kp = json_object_new_array();
			json_object_array_add(kp, jdouble((map->x0 + d->kp[k][0] * map->sx) / (float)w));
			json_object_array_add(kp, jdouble((map->y0 + d->kp[k][1] * map->sy) / (float)h));
			json_object_array_add(kps, kp);
		}
		json_object_object_add(e, "box", box);
		json_object_object_add(e, "box_px", px);
		json_object_object_add(e, "keypoints", kps);
		json_object_array_add(arr, e);
	}
	if (o->json) {
		json_object_object_add(r, "detections", arr);
		json_object_array_add(results, r);
	}
	return 0;
}

int sl_cli_infer(int argc, char **argv)
{
	sl_cli_opts o;
	sl_cli_opts_init(&o);
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h' || c == SL_CLI_OPT_HELP) {
			usage(stdout);
			return 0;
		}
		int r = sl_cli_common_opt(c, optarg, &o);
		if (r <= 0) {
			if (r == 0)
				usage(stderr);
			return SL_CLI_EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return SL_CLI_EXIT_USAGE;
	}
	const char *model = argv[optind];
	_cleanup_(sl_cli_session_close) sl_cli_session s = {0};
	if (sl_cli_session_open(&s, model, &o) < 0)
		return 1;

	json_object *root = NULL, *results = NULL;
	if (o.json) {
		json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
		root = json_object_new_object();
		results = json_object_new_array();
		json_object_object_add(root, "model", json_object_new_string(model));
		json_object_object_add(root, "kind", json_object_new_string(s.cls ? "classify" : "detect"));
		json_object_object_add(root, "backend", json_object_new_string(sl_backend_name(o.backend)));
		json_object_object_add(root, "numerics",
				       json_object_new_string(sl_numerics_name(sl_cli_numerics(&o))));
		json_object_object_add(root, "threads", json_object_new_int(o.threads));
	}
	char prep[256];
	sl_cli_session_describe(&s, prep, sizeof(prep));
	if (o.json)
		json_object_object_add(root, "preprocessing", json_object_new_string(prep));
	else
		printf("preprocessing: %s\n", prep);
	int failed = 0;
	for (int i = optind + 1; i < argc; i++) {
		int w, h;
		sl_preprocess_map map;
		double ms;
		if (sl_cli_session_load_input(&s, argv[i], &w, &h, &map) < 0 ||
		    sl_cli_session_invoke(&s, &ms) < 0) {
			failed++;
			continue;
		}
		if (s.cls)
			classify(&s, &o, argv[i], ms, results);
		else
			detect(&s, &o, argv[i], w, h, &map, ms, results);
	}
	if (o.json) {
		json_object_object_add(root, "results", results);
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
	if (failed)
		sl_cli_error("%d of %d image%s failed", failed, argc - optind - 1,
			     argc - optind - 1 == 1 ? "" : "s");
	return failed ? 1 : 0;
}
