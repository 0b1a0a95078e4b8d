/* sightctl: talk to sightlined over D-Bus. Every command prints for a person
 * by default and JSON with --json (one object per line for `watch`). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "common/macros.h"
#include "dbus/client.h"
#include "dbus/service.h"

typedef struct {
	bool json;
	bool user;
	const char *address;
	long count;	  /* watch: stop after this many results (0: never) */
	double timeout_s; /* watch: stop after this long (0: never) */
} opts;

static void usage(FILE *f)
{
	fprintf(f, "Usage: sightctl [--json] [--user | --address ADDR] COMMAND [ARG]\n"
		   "Control and watch the Sightline daemon (org.sightline.Sightline1).\n\n"
		   "Commands:\n"
		   "  status          state, source, variant, mode, counters, fps and latency\n"
		   "  variants        the ladder: name, precision, sparsity, top-1, size, whether auto mode "
		   "uses it\n"
		   "  use NAME        pin variant NAME (manual mode)\n"
		   "  auto MS         auto mode: keep the p95 latency under MS milliseconds\n"
		   "  result          the latest result\n"
		   "  watch           print results and variant changes as they come\n"
		   "  reload          re-read the daemon's configuration and ladder\n\n"
		   "Options:\n"
		   "  -j, --json          machine-readable output\n"
		   "      --user          the session bus (default: the system bus)\n"
		   "      --address ADDR  the bus at this D-Bus address\n"
		   "  -n, --count N       watch: stop after N results\n"
		   "  -t, --timeout SEC   watch: stop after SEC seconds\n"
		   "  -h, --help          this help\n");
}

static int open_bus(const opts *o, sd_bus **ret)
{
	if (o->user)
		return sd_bus_open_user(ret);
	if (!o->address)
		return sd_bus_open_system(ret); /* honours DBUS_SYSTEM_BUS_ADDRESS */
	sd_bus *b = NULL;
	int r = sd_bus_new(&b);
	if (r >= 0)
		r = sd_bus_set_address(b, o->address);
	if (r >= 0)
		r = sd_bus_set_bus_client(b, 1);
	if (r >= 0)
		r = sd_bus_start(b);
	if (r < 0) {
		sd_bus_unref(b);
		return r;
	}
	*ret = b;
	return 0;
}

static int report(const char *what, int r, const sd_bus_error *e)
{
	/* The bus's own words for "nobody owns the name" do not say what to do. */
	if (e && (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
		  sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)))
		fprintf(stderr,
			"sightctl: %s: sightlined is not running on this bus (nobody owns " SL_DBUS_NAME
			"; is the service started? on the session bus, use --user)\n",
			what);
	else if (e && sd_bus_error_is_set(e))
		fprintf(stderr, "sightctl: %s: %s (%s)\n", what, e->message ? e->message : "", e->name);
	else
		fprintf(stderr, "sightctl: %s: %s\n", what, strerror(-r));
	return 1;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}

static json_object *jdouble(double x)
{
	return isfinite(x) ? json_object_new_double(x) : json_object_new_null();
}

/* --- status --- */

static int cmd_status(sd_bus *bus, const opts *o)
{
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r = sd_bus_call_method(bus, SL_DBUS_NAME, SL_DBUS_PATH, "org.freedesktop.DBus.Properties",
				   "GetAll", &e, &reply, "s", SL_DBUS_IFACE);
	if (r < 0)
		return report("status", r, &e);

	json_object *j = json_object_new_object();
	r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	while (r >= 0) {
		const char *name, *sig;
		r = sd_bus_message_enter_container(reply, 'e', "sv");
		if (r <= 0)
			break;
		r = sd_bus_message_read(reply, "s", &name);
		if (r >= 0)
			r = sd_bus_message_peek_type(reply, NULL, &sig);
		if (r < 0)
			break;
		json_object *v = NULL;
		if (strcmp(sig, "s") == 0) {
			const char *s;
			r = sd_bus_message_read(reply, "v", "s", &s);
			v = json_object_new_string(s);
		} else if (strcmp(sig, "t") == 0) {
			uint64_t t;
			r = sd_bus_message_read(reply, "v", "t", &t);
			v = json_object_new_uint64(t);
		} else if (strcmp(sig, "d") == 0) {
			double x;
			r = sd_bus_message_read(reply, "v", "d", &x);
			v = jdouble(x);
		} else {
			r = sd_bus_message_skip(reply, "v");
		}
		if (v)
			json_object_object_add(j, name, v);
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	if (r < 0) {
		json_object_put(j);
		return report("status: bad reply", r, NULL);
	}
	if (o->json) {
		print_json(j);
	} else {
#define S(k) json_object_get_string(json_object_object_get(j, k))
#define D(k) json_object_get_double(json_object_object_get(j, k))
#define T(k) (unsigned long long)json_object_get_uint64(json_object_object_get(j, k))
		printf("Version:        %s\n", S("Version"));
		printf("State:          %s\n", S("State"));
		printf("Source:         %s (%s)\n", S("Source"), S("SourceState"));
		printf("Variant:        %s\n", S("ActiveVariant"));
		if (strcmp(S("Mode"), "auto") == 0)
			printf("Mode:           auto, p95 target %.2f ms\n", D("LatencyTargetMs"));
		else
			printf("Mode:           manual\n");
		printf("Frames:         %llu captured, %llu inferred, %llu dropped, %llu corrupt\n",
		       T("FramesCaptured"), T("FramesInferred"), T("FramesDropped"), T("FramesCorrupt"));
		printf("Rate:           %.1f fps\n", D("Fps"));
		printf("Latency:        p50 %.2f ms, p95 %.2f ms, p99 %.2f ms (last %llu results)\n",
		       D("LatencyP50Ms"), D("LatencyP95Ms"), D("LatencyP99Ms"), T("LatencySamples"));
#undef S
#undef D
#undef T
	}
	json_object_put(j);
	return 0;
}

/* --- variants --- */

static int get_string_property(sd_bus *bus, const char *name, char **ret)
{
	return sd_bus_get_property_string(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, name, NULL, ret);
}

static void strv_freep(char ***p)
{
	for (char **s = *p; s && *s; s++)
		free(*s);
	free(*p);
}

static bool strv_has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static int cmd_variants(sd_bus *bus, const opts *o)
{
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	_cleanup_free_ char *active = NULL;
	int r = sd_bus_call_method(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "ListVariants", &e, &reply,
				   "");
	if (r < 0)
		return report("variants", r, &e);
	(void)get_string_property(bus, "ActiveVariant", &active);
	/* Older daemons have no AutoVariants: then every variant is marked. */
	_cleanup_(strv_freep) char **autov = NULL;
	const bool have_auto = sd_bus_get_property_strv(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE,
							"AutoVariants", NULL, &autov) >= 0;

	json_object *arr = json_object_new_array();
	if (!o->json)
		printf("  %-28s %-9s %-10s %8s %7s %10s  %s\n", "NAME", "PRECISION", "SPARSITY", "LEVEL",
		       "TOP-1", "SIZE", "AUTO");
	r = sd_bus_message_enter_container(reply, 'a', SL_DBUS_VARIANT_SIG);
	for (;;) {
		const char *name, *prec, *kind;
		double sparsity, top1;
		uint64_t size;
		if (r >= 0)
			r = sd_bus_message_read(reply, SL_DBUS_VARIANT_SIG, &name, &prec, &kind, &sparsity,
						&top1, &size);
		if (r <= 0)
			break;
		bool is_active = active && strcmp(active, name) == 0;
		bool in_auto = !have_auto || strv_has(autov, name);
		if (o->json) {
			json_object *v = json_object_new_object();
			json_object_object_add(v, "name", json_object_new_string(name));
			json_object_object_add(v, "precision", json_object_new_string(prec));
			json_object_object_add(v, "sparsity_kind", json_object_new_string(kind));
			json_object_object_add(v, "sparsity", jdouble(sparsity));
			json_object_object_add(v, "top1", jdouble(top1));
			json_object_object_add(v, "size_bytes", json_object_new_uint64(size));
			json_object_object_add(v, "active", json_object_new_boolean(is_active));
			json_object_object_add(v, "auto", json_object_new_boolean(in_auto));
			json_object_array_add(arr, v);
		} else {
			char t1[16];
			if (isnan(top1))
				snprintf(t1, sizeof(t1), "-");
			else
				snprintf(t1, sizeof(t1), "%.1f%%", top1 * 100);
			printf("%c %-28s %-9s %-10s %7.0f%% %7s %7.2f MB  %s\n", is_active ? '*' : ' ', name,
			       prec, kind, sparsity * 100, t1, (double)size / 1e6, in_auto ? "yes" : "-");
		}
	}
	if (r < 0) {
		json_object_put(arr);
		return report("variants: bad reply", r, NULL);
	}
	if (o->json)
		print_json(arr);
	json_object_put(arr);
	return 0;
}

/* --- results --- */

static void print_result(const sl_dbus_result *res, const opts *o, const char *event)
{
	if (o->json) {
		json_object *j = json_object_new_object();
		if (event)
			json_object_object_add(j, "event", json_object_new_string(event));
		json_object_object_add(j, "sequence", json_object_new_uint64(res->sequence));
		json_object_object_add(j, "timestamp_us", json_object_new_uint64(res->timestamp_us));
		json_object_object_add(j, "variant", json_object_new_string(res->variant));
		json_object *cls = json_object_new_array();
		for (size_t i = 0; i < res->n_classes; i++) {
			json_object *c = json_object_new_object();
			json_object_object_add(c, "index", json_object_new_int(res->classes[i].index));
			json_object_object_add(c, "label", json_object_new_string(res->classes[i].label));
			json_object_object_add(c, "score", jdouble(res->classes[i].score));
			json_object_array_add(cls, c);
		}
		json_object_object_add(j, "classes", cls);
		json_object *dets = json_object_new_array();
		for (size_t i = 0; i < res->n_detections; i++) {
			const sl_dbus_detection *d = &res->detections[i];
			json_object *x = json_object_new_object();
			json_object_object_add(x, "class", json_object_new_int(d->cls));
			json_object_object_add(x, "score", jdouble(d->score));
			json_object *box = json_object_new_array();
			json_object_array_add(box, jdouble(d->x0));
			json_object_array_add(box, jdouble(d->y0));
			json_object_array_add(box, jdouble(d->x1));
			json_object_array_add(box, jdouble(d->y1));
			json_object_object_add(x, "box", box);
			json_object_array_add(dets, x);
		}
		json_object_object_add(j, "detections", dets);
		print_json(j);
		json_object_put(j);
		return;
	}
	uint64_t now = mono_us();
	double age_ms = now > res->timestamp_us ? (double)(now - res->timestamp_us) / 1000.0 : 0;
	printf("#%-7llu %-24s %6.1f ms ago ", (unsigned long long)res->sequence, res->variant, age_ms);
	if (res->n_classes == 0 && res->n_detections == 0)
		printf(" (nothing)");
	/* Runners-up that print as 0 % say nothing (the daemon sends TopK
	 * classes whatever their score); --json keeps them all. */
	for (size_t i = 0; i < res->n_classes && i < 3 && (i == 0 || res->classes[i].score >= 0.005); i++) {
		/* Without a labels file the class index is all there is to show. */
		if (res->classes[i].label[0])
			printf("%s %s %.0f%%", i ? "," : "", res->classes[i].label,
			       res->classes[i].score * 100);
		else
			printf("%s class %d %.0f%%", i ? "," : "", res->classes[i].index,
			       res->classes[i].score * 100);
	}
	for (size_t i = 0; i < res->n_detections; i++) {
		const sl_dbus_detection *d = &res->detections[i];
		printf("%s class %d %.0f%% [%.2f %.2f %.2f %.2f]", i ? "," : "", d->cls, d->score * 100,
		       d->x0, d->y0, d->x1, d->y1);
	}
	putchar('\n');
	fflush(stdout);
}

static int cmd_result(sd_bus *bus, const opts *o)
{
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	sl_dbus_class classes[64];
	sl_dbus_detection dets[256];
	sl_dbus_result res;
	int r = sd_bus_call_method(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "GetLatestResult", &e,
				   &reply, "");
	if (r < 0)
		return report("result", r, &e);
	r = sl_dbus_read_result(reply, &res, classes, SL_ARRAY_SIZE(classes), dets, SL_ARRAY_SIZE(dets));
	if (r < 0)
		return report("result: bad reply", r, NULL);
	print_result(&res, o, NULL);
	return 0;
}

typedef struct {
	const opts *o;
	long seen;
	int status;
} watch_ctx;

static int on_result(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	(void)ret_error;
	watch_ctx *w = userdata;
	sl_dbus_class classes[64];
	sl_dbus_detection dets[256];
	sl_dbus_result res;
	if (sl_dbus_read_result(m, &res, classes, SL_ARRAY_SIZE(classes), dets, SL_ARRAY_SIZE(dets)) < 0) {
		fprintf(stderr, "sightctl: malformed ResultReady ignored\n");
		return 0;
	}
	print_result(&res, w->o, w->o->json ? "result" : NULL);
	if (w->o->count > 0 && ++w->seen >= w->o->count)
		return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), 0);
	return 0;
}

static int on_variant_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	(void)ret_error;
	watch_ctx *w = userdata;
	const char *old, *new_, *reason;
	if (sd_bus_message_read(m, "sss", &old, &new_, &reason) < 0)
		return 0;
	if (w->o->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "event", json_object_new_string("variant-changed"));
		json_object_object_add(j, "old", json_object_new_string(old));
		json_object_object_add(j, "new", json_object_new_string(new_));
		json_object_object_add(j, "reason", json_object_new_string(reason));
		print_json(j);
		json_object_put(j);
	} else {
		printf("-- variant %s -> %s: %s\n", old[0] ? old : "(none)", new_, reason);
		fflush(stdout);
	}
	return 0;
}

/* The daemon went away: a watcher that waits for results forever would hide that. */
static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	(void)ret_error;
	watch_ctx *w = userdata;
	const char *name, *old, *new_;
	if (sd_bus_message_read(m, "sss", &name, &old, &new_) < 0)
		return 0;
	if (strcmp(name, SL_DBUS_NAME) == 0 && !new_[0]) {
		fprintf(stderr, "sightctl: %s left the bus\n", SL_DBUS_NAME);
		w->status = 1;
		return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), 1);
	}
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)usec, (void)userdata;
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int cmd_watch(sd_bus *bus, const opts *o)
{
	_cleanup_(sd_event_unrefp) sd_event *ev = NULL;
	watch_ctx w = {.o = o};
	int r = sd_event_default(&ev);
	if (r >= 0)
		r = sd_bus_attach_event(bus, ev, 0);
	if (r >= 0)
		r = sd_bus_match_signal(bus, NULL, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "ResultReady",
					on_result, &w);
	if (r >= 0)
		r = sd_bus_match_signal(bus, NULL, NULL, SL_DBUS_PATH, SL_DBUS_IFACE, "VariantChanged",
					on_variant_changed, &w);
	if (r >= 0)
		/* Only the daemon's name: every client that disconnects changes an owner. */
		r = sd_bus_add_match(
		    bus, NULL,
		    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
		    "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" SL_DBUS_NAME "'",
		    on_owner_changed, &w);
	if (r >= 0 && o->timeout_s > 0)
		r = sd_event_add_time_relative(ev, NULL, CLOCK_MONOTONIC, (uint64_t)(o->timeout_s * 1e6),
					       1000, on_timeout, NULL);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (r >= 0)
		r = sd_event_add_signal(ev, NULL, SIGINT, NULL, NULL);
	if (r >= 0)
		r = sd_event_add_signal(ev, NULL, SIGTERM, NULL, NULL);
	if (r < 0)
		return report("watch", r, NULL);

	/* Say which daemon we watch (and fail early when there is none). */
	_cleanup_free_ char *active = NULL;
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	r = sd_bus_get_property_string(bus, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, "ActiveVariant", &e,
				       &active);
	if (r < 0)
		return report("watch", r, &e);
	if (!o->json) {
		printf("-- watching %s, variant %s (Ctrl-C stops)\n", SL_DBUS_NAME, active);
		fflush(stdout);
	}
	r = sd_event_loop(ev);
	return r < 0 ? report("watch", r, NULL) : w.status ? w.status : r;
}

/* --- actions --- */

static int call_simple(sd_bus *bus, const char *what, const char *method, const char *sig, ...)
{
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	int r = sd_bus_message_new_method_call(bus, &m, SL_DBUS_NAME, SL_DBUS_PATH, SL_DBUS_IFACE, method);
	if (r >= 0 && sig[0]) {
		va_list ap;
		va_start(ap, sig);
		r = sd_bus_message_appendv(m, sig, ap);
		va_end(ap);
	}
	/* Loading a big model can take a while; a minute is plenty. */
	if (r >= 0)
		r = sd_bus_call(bus, m, 60 * 1000000ull, &e, &reply);
	if (r < 0)
		return report(what, r, &e);
	return 0;
}

static void print_ok(const opts *o, const char *what, const char *detail)
{
	if (o->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "ok", json_object_new_boolean(true));
		json_object_object_add(j, what, json_object_new_string(detail));
		print_json(j);
		json_object_put(j);
	}
}

int main(int argc, char **argv)
{
	enum { OPT_USER = 256, OPT_ADDRESS };
	static const struct option lopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"user", no_argument, NULL, OPT_USER},
	    {"address", required_argument, NULL, OPT_ADDRESS},
	    {"count", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	opts o = {0};
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "jn:t:h", lopts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case OPT_USER:
			o.user = true;
			break;
		case OPT_ADDRESS:
			o.address = optarg;
			break;
		case 'n':
			o.count = strtol(optarg, &end, 10);
			if (*end || o.count < 1) {
				fprintf(stderr, "sightctl: --count wants a positive number, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			o.timeout_s = strtod(optarg, &end);
			if (*end || !(o.timeout_s > 0 && o.timeout_s < 1e7)) {
				fprintf(stderr, "sightctl: --timeout wants seconds > 0, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			/* getopt takes "auto -5" for an option: say what it is instead. */
			if (c == '?' && optopt >= '0' && optopt <= '9') {
				fprintf(stderr,
					"sightctl: '-%c...' is a negative number; auto wants a target in "
					"milliseconds above 0\n",
					optopt);
				return 2;
			}
			usage(stderr);
			return 2;
		}
	}
	if (o.user && o.address) {
		fprintf(stderr, "sightctl: --user and --address are alternatives; give one\n");
		return 2;
	}
	if (o.address && !strchr(o.address, ':')) {
		fprintf(stderr,
			"sightctl: --address '%s' is not a D-Bus address (transport:key=value, e.g. "
			"unix:path=/run/dbus/system_bus_socket)\n",
			o.address);
		return 2;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	const char *arg = nargs > 0 ? argv[optind + 1] : NULL;
	bool wants_arg = strcmp(cmd, "use") == 0 || strcmp(cmd, "auto") == 0;
	if (nargs != (wants_arg ? 1 : 0)) {
		fprintf(stderr, "sightctl: '%s' takes %s\n", cmd, wants_arg ? "one argument" : "no argument");
		return 2;
	}

	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r = open_bus(&o, &bus);
	if (r < 0) {
		if (o.address)
			fprintf(stderr, "sightctl: cannot connect to the bus at %s: %s\n", o.address,
				strerror(-r));
		else
			fprintf(stderr, "sightctl: cannot connect to the %s bus: %s\n",
				o.user ? "session" : "system", strerror(-r));
		return 1;
	}

	if (strcmp(cmd, "status") == 0)
		return cmd_status(bus, &o);
	if (strcmp(cmd, "variants") == 0)
		return cmd_variants(bus, &o);
	if (strcmp(cmd, "result") == 0)
		return cmd_result(bus, &o);
	if (strcmp(cmd, "watch") == 0)
		return cmd_watch(bus, &o);
	if (strcmp(cmd, "use") == 0) {
		r = call_simple(bus, "use", "SetVariant", "s", arg);
		if (r == 0) {
			print_ok(&o, "variant", arg);
			if (!o.json)
				printf("Variant %s is active (manual mode).\n", arg);
		}
		return r;
	}
	if (strcmp(cmd, "auto") == 0) {
		double ms = strtod(arg, &end);
		if (*end || end == arg) {
			fprintf(stderr, "sightctl: auto wants a target in milliseconds, not '%s'\n", arg);
			return 2;
		}
		/* Range checks are the daemon's: one rule, one place. */
		r = call_simple(bus, "auto", "SetAuto", "d", ms);
		if (r == 0) {
			print_ok(&o, "target_ms", arg);
			if (!o.json)
				printf("Auto mode, p95 target %g ms.\n", ms);
		}
		return r;
	}
	if (strcmp(cmd, "reload") == 0) {
		r = call_simple(bus, "reload", "Reload", "");
		if (r == 0) {
			print_ok(&o, "reloaded", "yes");
			if (!o.json)
				printf("Reloaded.\n");
		}
		return r;
	}
	fprintf(stderr, "sightctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
