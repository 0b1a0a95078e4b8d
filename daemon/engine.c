#include "daemon/engine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/macros.h"
#include "kernels/heads/heads.h"
#include "kernels/runtime.h"
#include "kernels/tflite/tflite.h"

struct sl_engine {
	char name[SL_DBUS_NAME_MAX + 1];
	uint64_t generation;
	sl_runtime *rt;
	sl_preprocess_spec spec;
	sl_task task;
	int top_k;
	sl_labels *labels;
	sl_classifier *classifier;
	sl_detector *detector;
	int boxes_output, scores_output;
	sl_class_score top[SL_RESULT_MAX_CLASSES];
	sl_detection dets[SL_RESULT_MAX_DETECTIONS];
	double macs;
	char note[320]; /* a problem worth a warning that does not stop it serving */
};

/* --- model cache --- */

typedef struct {
	char *path;
	struct timespec mtime;
	off_t size;
	uint64_t used; /* tick of the last use, for least-recently-used eviction */
	sl_model *model;
} cache_entry;

struct sl_model_cache {
	int n;
	size_t max_bytes, bytes;
	uint64_t tick;
	cache_entry e[64];
};

sl_model_cache *sl_model_cache_new(size_t max_bytes)
{
	sl_model_cache *c = calloc(1, sizeof(sl_model_cache));
	if (c)
		c->max_bytes = max_bytes;
	return c;
}

static void drop(sl_model_cache *c, int i)
{
	free(c->e[i].path);
	sl_model_unref(c->e[i].model);
	c->bytes -= (size_t)c->e[i].size;
	c->e[i] = c->e[--c->n];
}

/* Evict the least recently used until `extra` more bytes fit (and a slot). */
static void make_room(sl_model_cache *c, size_t extra)
{
	while (c->n > 0 && (c->bytes + extra > c->max_bytes || c->n == (int)SL_ARRAY_SIZE(c->e))) {
		int lru = 0;
		for (int i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[lru].used)
				lru = i;
		drop(c, lru);
	}
}

void sl_model_cache_flush(sl_model_cache *c)
{
	while (c->n > 0)
		drop(c, c->n - 1);
}

void sl_model_cache_set_limit(sl_model_cache *c, size_t max_bytes)
{
	c->max_bytes = max_bytes;
	make_room(c, 0);
}

sl_model_cache *sl_model_cache_free(sl_model_cache *c)
{
	if (c)
		sl_model_cache_flush(c);
	free(c);
	return NULL;
}

int sl_model_cache_count(const sl_model_cache *c)
{
	return c->n;
}

size_t sl_model_cache_bytes(const sl_model_cache *c)
{
	return c->bytes;
}

int sl_model_cache_get(sl_model_cache *c, const char *path, sl_model **ret, sl_error *err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(errno));
		return -errno;
	}
	for (int i = 0; c && i < c->n; i++) {
		cache_entry *e = &c->e[i];
		if (strcmp(e->path, path) != 0)
			continue;
		if (e->size == st.st_size && e->mtime.tv_sec == st.st_mtim.tv_sec &&
		    e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			e->used = ++c->tick;
			*ret = sl_model_ref(e->model);
			return 0;
		}
		drop(c, i);
		break;
	}
	sl_model *m = NULL;
	int r = sl_tflite_load_file(path, &m, err);
	if (r < 0)
		return r;
	if (c && (size_t)st.st_size <= c->max_bytes) {
		make_room(c, (size_t)st.st_size);
		char *p = strdup(path);
		if (p) {
			c->e[c->n++] = (cache_entry){.path = p,
						     .mtime = st.st_mtim,
						     .size = st.st_size,
						     .used = ++c->tick,
						     .model = sl_model_ref(m)};
			c->bytes += (size_t)st.st_size;
		}
	}
	*ret = m;
	return 0;
}

/* --- loading --- */

static int input_spec(const sl_variant_desc *v, const sl_tensor *t, sl_preprocess_spec *spec, char *errbuf,
		      size_t errlen)
{
	if (t->rank != 4 || t->dims[0] != 1 || t->dims[3] != 3 || t->dims[1] < 1 || t->dims[2] < 1) {
		snprintf(errbuf, errlen, "%s: input must be 1xHxWx3, the model has rank %d", v->file,
			 t->rank);
		return -EINVAL;
	}
	*spec = (sl_preprocess_spec){
	    .width = t->dims[2],
	    .height = t->dims[1],
	    .fit = SL_FIT_STRETCH, /* the capture spec already cropped or letterboxed */
	    .crop_fraction = 1.0f,
	    .resize = SL_RESIZE_AUTO,
	    .float_scale = 1,
	    .q_scale = 1,
	};
	int qmin;
	switch (t->dtype) {
	case SL_DTYPE_U8:
		spec->type = SL_PIXEL_U8;
		qmin = 0;
		break;
	case SL_DTYPE_I8:
		spec->type = SL_PIXEL_I8;
		qmin = -128;
		break;
	case SL_DTYPE_F32:
		spec->type = SL_PIXEL_F32;
		qmin = 0;
		break;
	default:
		snprintf(errbuf, errlen, "%s: input type %s is not supported (u8, i8 or f32)", v->file,
			 sl_dtype_name(t->dtype));
		return -EINVAL;
	}
	if (t->q.n > 0) {
		spec->q_scale = t->q.scale[0];
		spec->q_zero_point = t->q.zero_point[0];
	}
	if (v->has_range) {
		spec->float_scale = (v->range_hi - v->range_lo) / 255.0f;
		spec->float_offset = v->range_lo;
	} else if (spec->type != SL_PIXEL_F32) {
		/* The pixel lands unchanged in the input's integer range: q = pixel + qmin. */
		spec->float_scale = spec->q_scale;
		spec->float_offset = (float)(qmin - spec->q_zero_point) * spec->q_scale;
	}
	return 0;
}

static int setup_head(sl_engine *e, const sl_variant_desc *v, const sl_engine_options *o, char *errbuf,
		      size_t errlen)
{
	sl_model *m = sl_runtime_model(e->rt);
	sl_error err = {{0}};
	int r;

	if (v->labels) {
		r = sl_labels_load_file(v->labels, &e->labels, &err);
		if (r < 0) {
			snprintf(errbuf, errlen, "labels: %s", err.msg[0] ? err.msg : strerror(-r));
			return r;
		}
	}
	if (v->task == SL_TASK_CLASSIFICATION) {
		bool softmax = sl_classifier_wants_softmax(m, 0, SL_SOFTMAX_AUTO);
		const sl_tensor *out = sl_runtime_output_tensor(e->rt, 0);
		r = sl_classifier_new(out, softmax, &e->classifier, &err);
		/* Labels for another model name every class wrongly, and quietly. */
		const int classes = out->rank > 0 ? out->dims[out->rank - 1] : 0;
		if (r >= 0 && e->labels && e->labels->n != classes)
			snprintf(e->note, sizeof(e->note), "%s has %d lines for the model's %d classes",
				 v->labels, e->labels->n, classes);
	} else {
		sl_head_guess g = sl_head_guess_kind(m);
		if (g.kind != SL_HEAD_DETECT_BLAZEFACE) {
			snprintf(errbuf, errlen,
				 "%s: outputs do not look like a BlazeFace-style SSD detector", v->file);
			return -EINVAL;
		}
		sl_ssd_anchor_options a;
		sl_ssd_decode_options d;
		sl_ssd_anchor_options_blazeface(&a);
		sl_ssd_decode_options_blazeface(&d);
		a.input_w = e->spec.width;
		a.input_h = e->spec.height;
		if (o->score_threshold > 0)
			d.score_threshold = o->score_threshold;
		d.max_detections = SL_RESULT_MAX_DETECTIONS;
		e->boxes_output = g.boxes_output;
		e->scores_output = g.scores_output;
		r = sl_detector_new(&a, &d, sl_runtime_output_tensor(e->rt, g.boxes_output),
				    sl_runtime_output_tensor(e->rt, g.scores_output), &e->detector, &err);
	}
	if (r < 0)
		snprintf(errbuf, errlen, "%s: %s head: %s", v->file, sl_task_name(v->task),
			 err.msg[0] ? err.msg : strerror(-r));
	return r;
}

int sl_engine_load(const sl_variant_desc *v, const sl_engine_options *o, sl_model_cache *cache,
		   uint64_t generation, sl_engine **ret, char *errbuf, size_t errlen)
{
	sl_error err = {{0}};
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	errbuf[0] = 0;

	int r = sl_model_cache_get(cache, v->file, &m, &err);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s", err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	if (m->n_inputs != 1 || m->n_outputs < 1) {
		snprintf(errbuf, errlen, "%s: %d inputs and %d outputs; one image input is needed", v->file,
			 m->n_inputs, m->n_outputs);
		return -EINVAL;
	}

	sl_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	snprintf(e->name, sizeof(e->name), "%s", v->name);
	e->generation = generation;
	e->task = v->task;
	e->top_k = SL_MAX(1, SL_MIN(o->top_k, SL_RESULT_MAX_CLASSES));

	sl_runtime_options ro = {.backend = SL_BACKEND_XNNPACK,
				 .numerics = o->fast_numerics ? SL_NUMERICS_FAST : SL_NUMERICS_TFLITE,
				 .threads = o->threads,
				 /* frames come tens of ms apart: idle workers must sleep,
				  * and wake where they can run at once */
				 .yield_workers = true,
				 .pin_threads = true};
	if (o->backend)
		(void)sl_backend_from_string(o->backend, &ro.backend);
	r = sl_runtime_new(m, &ro, &e->rt, &err);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s: runtime: %s", v->file, err.msg[0] ? err.msg : strerror(-r));
		goto fail;
	}
	r = input_spec(v, sl_runtime_input_tensor(e->rt, 0), &e->spec, errbuf, errlen);
	if (r < 0)
		goto fail;
	r = setup_head(e, v, o, errbuf, errlen);
	if (r < 0)
		goto fail;
	/* Here, not on the first frame: a swap would otherwise show its first
	 * result late (16.6 ms against 1 ms for MobileNet v1 0.25), and a model
	 * that cannot run fails before the running variant is replaced. */
	r = sl_runtime_warm_up(e->rt);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s: first run failed: %s", v->file, strerror(-r));
		goto fail;
	}
	for (int i = 0; i < m->n_nodes; i++)
		e->macs += (double)sl_node_macs(m, &m->nodes[i]);
	*ret = e;
	return 0;
fail:
	sl_engine_free(e);
	return r;
}

sl_engine *sl_engine_free(sl_engine *e)
{
	if (!e)
		return NULL;
	sl_classifier_free(e->classifier);
	sl_detector_free(e->detector);
	sl_labels_free(e->labels);
	sl_runtime_free(e->rt);
	free(e);
	return NULL;
}

const char *sl_engine_name(const sl_engine *e)
{
	return e->name;
}

uint64_t sl_engine_generation(const sl_engine *e)
{
	return e->generation;
}

const char *sl_engine_note(const sl_engine *e)
{
	return e->note[0] ? e->note : NULL;
}

double sl_engine_macs(const sl_engine *e)
{
	return e->macs;
}

static float clamp01(float x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* Model-normalised x -> source-normalised x, through the capture mapping
 * (the second stage stretches the whole capture image, so it is the identity). */
static float map_x(const sl_frame *f, float nx)
{
	return f->src_width > 0 ? clamp01((f->map.x0 + nx * f->map.sx) / (float)f->src_width) : clamp01(nx);
}

static float map_y(const sl_frame *f, float ny)
{
	return f->src_height > 0 ? clamp01((f->map.y0 + ny * f->map.sy) / (float)f->src_height) : clamp01(ny);
}

int sl_engine_run(sl_engine *e, const sl_image *src, const sl_frame *f, sl_result *out)
{
	out->n_classes = 0;
	out->n_detections = 0;
	out->error = 0;
	out->generation = e->generation;
	memcpy(out->variant, e->name, sizeof(out->variant));

	int r = sl_preprocess(src, &e->spec, sl_runtime_input(e->rt, 0), NULL);
	if (r >= 0)
		r = sl_runtime_invoke(e->rt);
	if (r < 0) {
		out->error = r;
		return r;
	}
	if (e->classifier) {
		int n = sl_classifier_run(e->classifier, sl_runtime_output(e->rt, 0), e->top, e->top_k);
		for (int i = 0; i < n; i++) {
			sl_result_class *c = &out->classes[i];
			const char *label = e->labels ? sl_labels_get(e->labels, e->top[i].index) : NULL;
			c->index = e->top[i].index;
			c->score = e->top[i].score;
			snprintf(c->label, sizeof(c->label), "%s", label ? label : "");
		}
		out->n_classes = n;
	}
	if (e->detector) {
		int n = sl_detector_run(e->detector, sl_runtime_output(e->rt, e->boxes_output),
					sl_runtime_output(e->rt, e->scores_output), e->dets,
					SL_RESULT_MAX_DETECTIONS);
		for (int i = 0; i < n; i++) {
			const sl_detection *d = &e->dets[i];
			out->detections[i] = (sl_result_det){
			    .cls = d->cls,
			    .score = d->score,
			    .x0 = map_x(f, d->x0),
			    .y0 = map_y(f, d->y0),
			    .x1 = map_x(f, d->x1),
			    .y1 = map_y(f, d->y1),
			};
		}
		out->n_detections = n;
	}
	return 0;
}
