#include "fake.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const sl_dbus_variant variants[] = {
    {"big", "int8", "dense", 0.0, 0.71, 4000000, true},
    {"small", "uint8", "unstructured", 0.5, NAN, 500000, false},
};

static void get_status(void *userdata, sl_dbus_status *st)
{
	fake_daemon *f = userdata;
	*st = (sl_dbus_status){
	    .state = f->state,
	    .source = "testsrc",
	    .source_state = "streaming",
	    .active_variant = f->active,
	    .pending_variant = f->pending[0] ? f->pending : NULL,
	    .mode = f->mode,
	    .latency_target_ms = f->target,
	    .frames_captured = 10,
	    .frames_inferred = 9,
	    .frames_dropped = 1,
	    .frames_corrupt = 0,
	    .fps = 29.5,
	    .latency_p50_ms = 1.5,
	    .latency_p95_ms = 2.5,
	    .latency_p99_ms = 3.5,
	    .latency_samples = 7,
	};
}

static void list_variants(void *userdata, const sl_dbus_variant **ret, size_t *n)
{
	(void)userdata;
	*ret = variants;
	*n = 2;
}

static const sl_dbus_class classes[] = {{3, "tabby cat", 0.75}, {7, "tiger \"cat\"", 0.125}};
static const sl_dbus_detection dets[] = {{0, 0.9, 0.1, 0.2, 0.3, 0.4}};

static int get_latest_result(void *userdata, sl_dbus_result *ret)
{
	fake_daemon *f = userdata;
	if (!f->have_result)
		return -ENODATA;
	*ret = (sl_dbus_result){.sequence = 42,
				.timestamp_us = 123456789,
				.variant = "big",
				.n_classes = 2,
				.classes = classes,
				.n_detections = 1,
				.detections = dets};
	return 0;
}

static int act(fake_daemon *f, sl_dbus_call *call, sl_dbus_error *err)
{
	if (f->act_result < 0) {
		err->name = f->fail_name;
		snprintf(err->message, sizeof(err->message), "fake failure");
		return f->act_result;
	}
	if (f->act_result == 1) {
		f->kept = call;
		return 1;
	}
	return 0;
}

static int set_variant(void *userdata, const char *name, const char *who, sl_dbus_call *call,
		       sl_dbus_error *err)
{
	(void)who;
	fake_daemon *f = userdata;
	f->set_variant_calls++;
	snprintf(f->last_name, sizeof(f->last_name), "%s", name);
	int r = act(f, call, err);
	if (r == 0) {
		snprintf(f->active, sizeof(f->active), "%s", name);
		snprintf(f->mode, sizeof(f->mode), "manual");
	}
	return r;
}

static int set_auto(void *userdata, double target, const char *who, sl_dbus_error *err)
{
	(void)who;
	fake_daemon *f = userdata;
	f->set_auto_calls++;
	f->last_target = target;
	int r = act(f, NULL, err);
	if (r == 0) {
		f->target = target;
		snprintf(f->mode, sizeof(f->mode), "auto");
	}
	return r == 1 ? 0 : r;
}

static int reload(void *userdata, const char *who, sl_dbus_call *call, sl_dbus_error *err)
{
	(void)who;
	fake_daemon *f = userdata;
	f->reload_calls++;
	return act(f, call, err);
}

static const sl_dbus_ops ops = {get_status, list_variants, get_latest_result, set_variant, set_auto, reload};

static void (*pending_fn)(fake_env *, void *);
static void *pending_arg;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;

static void *server_main(void *arg)
{
	fake_env *e = arg;
	for (;;) {
		int r;
		do
			r = sd_bus_process(e->server, NULL);
		while (r > 0);
		pthread_mutex_lock(&e->lock);
		if (e->fd.kept) {
			sl_dbus_error err = {.name = e->fd.fail_name};
			snprintf(err.message, sizeof(err.message), "completed later");
			sl_dbus_call *c = e->fd.kept;
			e->fd.kept = NULL;
			if (e->fd.complete_with >= 0 && e->fd.last_name[0])
				snprintf(e->fd.active, sizeof(e->fd.active), "%s", e->fd.last_name);
			sl_dbus_call_complete(c, e->fd.complete_with, &err);
		}
		if (pending_fn) {
			pending_fn(e, pending_arg);
			pending_fn = NULL;
			pthread_cond_broadcast(&done_cond);
		}
		pthread_mutex_unlock(&e->lock);
		(void)sd_bus_flush(e->server);
		struct pollfd p[2] = {
		    {.fd = sd_bus_get_fd(e->server), .events = (short)sd_bus_get_events(e->server)},
		    {.fd = e->stop_pipe[0], .events = POLLIN}};
		poll(p, 2, 20);
		if (p[1].revents) {
			char c;
			if (read(e->stop_pipe[0], &c, 1) == 1 && c == 'q')
				break;
		}
	}
	return NULL;
}

void fake_env_on_server(fake_env *e, void (*fn)(fake_env *, void *), void *arg)
{
	pthread_mutex_lock(&e->lock);
	pending_fn = fn;
	pending_arg = arg;
	(void)!write(e->stop_pipe[1], "w", 1);
	while (pending_fn)
		pthread_cond_wait(&done_cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
}

int fake_env_start(fake_env *e, double rate)
{
	int sv[2];
	sd_id128_t id;
	memset(e, 0, sizeof(*e));
	snprintf(e->fd.state, sizeof(e->fd.state), "running");
	snprintf(e->fd.active, sizeof(e->fd.active), "big");
	snprintf(e->fd.mode, sizeof(e->fd.mode), "manual");
	e->fd.target = 50;
	pthread_mutex_init(&e->lock, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe(e->stop_pipe) < 0)
		return -errno;
	sd_id128_randomize(&id);
	int r = sd_bus_new(&e->server);
	if (r >= 0)
		r = sd_bus_set_fd(e->server, sv[0], sv[0]);
	if (r >= 0)
		r = sd_bus_set_server(e->server, 1, id);
	if (r >= 0)
		r = sd_bus_negotiate_creds(e->server, 1, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID);
	if (r >= 0)
		r = sd_bus_start(e->server);
	sl_dbus_config cfg = {.version = "9.9.9", .control_group = "sightline", .result_rate_hz = rate};
	if (r >= 0)
		r = sl_dbus_service_new(e->server, &cfg, &ops, &e->fd, &e->svc);
	if (r >= 0)
		r = sd_bus_new(&e->client);
	if (r >= 0)
		r = sd_bus_set_fd(e->client, sv[1], sv[1]);
	if (r >= 0)
		r = sd_bus_start(e->client);
	if (r >= 0)
		r = -pthread_create(&e->thread, NULL, server_main, e);
	return r;
}

void fake_env_stop(fake_env *e)
{
	(void)!write(e->stop_pipe[1], "q", 1);
	pthread_join(e->thread, NULL);
	sl_dbus_service_free(e->svc);
	sd_bus_flush_close_unref(e->server);
	sd_bus_flush_close_unref(e->client);
	close(e->stop_pipe[0]);
	close(e->stop_pipe[1]);
}
