#include "daemon/loader.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { JOB_LOAD, JOB_FREE, JOB_FLUSH } job_kind;

typedef struct job {
	job_kind kind;
	uint64_t id;
	sl_variant_desc v;
	sl_engine_options o;
	char *backend;
	uint64_t generation;
	sl_engine *engine;  /* JOB_FREE */
	size_t cache_bytes; /* JOB_FLUSH */
	struct done *done;  /* JOB_LOAD: allocated up front so that an answer always comes */
	struct job *next;
} job;

typedef struct done {
	sl_load_done d;
	struct done *next;
} done;

struct sl_loader {
	int wake_fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	job *head, **tail;
	done *done_head, **done_tail;
	uint64_t next_id;
	sl_model_cache *cache; /* loader thread only */
};

static void job_free(job *j)
{
	sl_variant_desc_clear(&j->v);
	free(j->backend);
	sl_engine_free(j->engine);
	free(j->done);
	free(j);
}

static void run_job(sl_loader *l, job *j)
{
	if (j->kind == JOB_FREE) {
		j->engine = sl_engine_free(j->engine);
		return;
	}
	if (j->kind == JOB_FLUSH) {
		sl_model_cache_flush(l->cache);
		sl_model_cache_set_limit(l->cache, j->cache_bytes);
		return;
	}
	done *d = j->done;
	j->done = NULL;
	d->d.id = j->id;
	d->d.error = sl_engine_load(&j->v, &j->o, l->cache, j->generation, &d->d.engine, d->d.message,
				    sizeof(d->d.message));
	pthread_mutex_lock(&l->lock);
	*l->done_tail = d;
	l->done_tail = &d->next;
	pthread_mutex_unlock(&l->lock);
	uint64_t one = 1;
	(void)!write(l->wake_fd, &one, sizeof(one));
}

static void *thread_main(void *arg)
{
	sl_loader *l = arg;
	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->stop && !l->head)
			pthread_cond_wait(&l->cond, &l->lock);
		if (l->stop)
			break;
		job *j = l->head;
		l->head = j->next;
		if (!l->head)
			l->tail = &l->head;
		pthread_mutex_unlock(&l->lock);
		run_job(l, j);
		job_free(j);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int sl_loader_new(int wake_fd, size_t cache_bytes, sl_loader **ret)
{
	sl_loader *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->wake_fd = wake_fd;
	l->tail = &l->head;
	l->done_tail = &l->done_head;
	l->next_id = 1;
	l->cache = sl_model_cache_new(cache_bytes);
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	int r = l->cache ? -pthread_create(&l->thread, NULL, thread_main, l) : -ENOMEM;
	if (r < 0) {
		sl_model_cache_free(l->cache);
		pthread_mutex_destroy(&l->lock);
		pthread_cond_destroy(&l->cond);
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

sl_loader *sl_loader_free(sl_loader *l)
{
	if (!l)
		return NULL;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	/* Queued frees still have to happen; queued loads are moot. */
	while (l->head) {
		job *j = l->head;
		l->head = j->next;
		job_free(j);
	}
	while (l->done_head) {
		done *d = l->done_head;
		l->done_head = d->next;
		sl_engine_free(d->d.engine);
		free(d);
	}
	sl_model_cache_free(l->cache);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
	return NULL;
}

/* Returns the job's id: j belongs to the loader thread once queued. */
static uint64_t enqueue(sl_loader *l, job *j)
{
	pthread_mutex_lock(&l->lock);
	uint64_t id = j->id = l->next_id++;
	*l->tail = j;
	l->tail = &j->next;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return id;
}

int sl_loader_load(sl_loader *l, const sl_variant_desc *v, const sl_engine_options *o, uint64_t generation,
		   uint64_t *ret_id)
{
	job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->kind = JOB_LOAD;
	j->done = calloc(1, sizeof(*j->done));
	j->o = *o;
	j->generation = generation;
	int r = sl_variant_desc_copy(v, &j->v);
	if (r >= 0 && ((o->backend && !(j->backend = strdup(o->backend))) || !j->done))
		r = -ENOMEM;
	if (r < 0) {
		job_free(j);
		return r;
	}
	j->o.backend = j->backend;
	*ret_id = enqueue(l, j);
	return 0;
}

void sl_loader_free_engine(sl_loader *l, sl_engine *e)
{
	if (!e)
		return;
	job *j = calloc(1, sizeof(*j));
	if (!j) {
		sl_engine_free(e); /* on this thread then, rather than leak it */
		return;
	}
	j->kind = JOB_FREE;
	j->engine = e;
	enqueue(l, j);
}

void sl_loader_flush_cache(sl_loader *l, size_t cache_bytes)
{
	job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->kind = JOB_FLUSH;
	j->cache_bytes = cache_bytes;
	enqueue(l, j);
}

int sl_loader_pop_done(sl_loader *l, sl_load_done *ret)
{
	pthread_mutex_lock(&l->lock);
	done *d = l->done_head;
	if (d) {
		l->done_head = d->next;
		if (!l->done_head)
			l->done_tail = &l->done_head;
	}
	pthread_mutex_unlock(&l->lock);
	if (!d)
		return 0;
	*ret = d->d;
	free(d);
	return 1;
}
