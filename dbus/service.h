/* The org.sightline.Sightline1 D-Bus API, served with sd-bus.
 *
 * This library knows nothing of models or cameras: it reaches the daemon only
 * through sl_dbus_ops. Every method follows one order: parse, validate
 * (InvalidArgs naming the bad value), return early on a no-op, authorise, act,
 * emit PropertiesChanged, reply. Acting may finish later (a variant loads off
 * the main loop): the daemon then completes the call with sl_dbus_call_complete. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define SL_DBUS_NAME  "org.sightline.Sightline1"
#define SL_DBUS_PATH  "/org/sightline/Sightline1"
#define SL_DBUS_IFACE "org.sightline.Sightline1"

#define SL_DBUS_ERROR_NO_SUCH_VARIANT SL_DBUS_IFACE ".Error.NoSuchVariant"
#define SL_DBUS_ERROR_LOAD_FAILED     SL_DBUS_IFACE ".Error.LoadFailed"
#define SL_DBUS_ERROR_NO_RESULT	      SL_DBUS_IFACE ".Error.NoResult"
#define SL_DBUS_ERROR_RELOAD_FAILED   SL_DBUS_IFACE ".Error.ReloadFailed"
#define SL_DBUS_ERROR_NOT_READY	      SL_DBUS_IFACE ".Error.NotReady"
#define SL_DBUS_ERROR_CANCELLED	      SL_DBUS_IFACE ".Error.Cancelled"

/* Bounds checked before anything else happens. */
#define SL_DBUS_NAME_MAX      64      /* variant names, bytes */
#define SL_DBUS_TARGET_MIN_MS 0.1     /* below this no variant could ever meet it */
#define SL_DBUS_TARGET_MAX_MS 60000.0 /* a minute per frame is not a latency target */

typedef struct {
	const char *state;	  /* starting|running|degraded|stopping */
	const char *source;	  /* source URI */
	const char *source_state; /* opening|streaming|lost|backoff|reopening|stopped */
	const char *active_variant;
	const char *pending_variant; /* being loaded for a switch, NULL if none */
	const char *mode;	     /* manual|auto */
	double latency_target_ms;
	uint64_t frames_captured, frames_inferred, frames_dropped, frames_corrupt;
	double fps, latency_p50_ms, latency_p95_ms, latency_p99_ms;
	uint64_t latency_samples; /* results the percentiles cover */
} sl_dbus_status;

typedef struct {
	const char *name, *precision, *sparsity_kind;
	double sparsity; /* 0..1 */
	double top1;	 /* 0..1, NaN when not measured */
	uint64_t size_bytes;
	bool auto_ok; /* auto mode may choose it (property AutoVariants) */
} sl_dbus_variant;

typedef struct {
	int32_t index;
	const char *label;
	double score;
} sl_dbus_class;

typedef struct {
	int32_t cls;
	double score;
	double x0, y0, x1, y1; /* normalised to the source image */
} sl_dbus_detection;

typedef struct {
	uint64_t sequence;
	uint64_t timestamp_us; /* capture time, CLOCK_MONOTONIC */
	const char *variant;
	size_t n_classes;
	const sl_dbus_class *classes;
	size_t n_detections;
	const sl_dbus_detection *detections;
} sl_dbus_result;

/* Why an action failed: name is one of the SL_DBUS_ERROR_* (or NULL for a
 * generic failure mapped from the errno). */
typedef struct {
	const char *name;
	char message[1024];
} sl_dbus_error;

/* A method call whose reply is owed by the daemon. */
typedef struct sl_dbus_call sl_dbus_call;

/* What the daemon provides. All callbacks run on the main loop thread; the
 * pointers they hand back stay valid until control returns to the loop. */
typedef struct {
	void (*get_status)(void *userdata, sl_dbus_status *ret);
	void (*list_variants)(void *userdata, const sl_dbus_variant **ret, size_t *ret_n);
	/* -ENODATA when no result exists yet. */
	int (*get_latest_result)(void *userdata, sl_dbus_result *ret);
	/* Actions. Return 0 when done, 1 when `call` was kept and will be
	 * completed later with sl_dbus_call_complete, negative errno with err
	 * filled on failure. `who` describes the caller for the log and reason. */
	int (*set_variant)(void *userdata, const char *name, const char *who, sl_dbus_call *call,
			   sl_dbus_error *err);
	int (*set_auto)(void *userdata, double target_ms, const char *who, sl_dbus_error *err);
	int (*reload)(void *userdata, const char *who, sl_dbus_call *call, sl_dbus_error *err);
} sl_dbus_ops;

typedef struct {
	const char *version;
	/* Callers whose effective uid is 0 or ours, or who are in this group,
	 * may change things (the bus policy says the same: this is the second lock). */
	const char *control_group; /* NULL or "": no group */
	double result_rate_hz;	   /* ResultReady rate limit; 0 = every result */
} sl_dbus_config;

typedef struct sl_dbus_service sl_dbus_service;

int sl_dbus_service_new(sd_bus *bus, const sl_dbus_config *cfg, const sl_dbus_ops *ops, void *userdata,
			sl_dbus_service **ret);
sl_dbus_service *sl_dbus_service_free(sl_dbus_service *s); /* NULL-safe; returns NULL */
static inline void sl_dbus_service_freep(sl_dbus_service **s)
{
	sl_dbus_service_free(*s);
}
void sl_dbus_service_set_result_rate(sl_dbus_service *s, double hz);

/* Emit PropertiesChanged for every signalled property (State, Source,
 * SourceState, ActiveVariant, Mode, LatencyTargetMs) whose value differs from
 * what was last announced. Cheap: call it whenever something may have changed. */
int sl_dbus_service_sync(sl_dbus_service *s);
int sl_dbus_emit_variant_changed(sl_dbus_service *s, const char *old, const char *new_, const char *reason);
/* Emits ResultReady unless the rate limit says not yet (returns 0 then, 1 when sent). */
int sl_dbus_emit_result(sl_dbus_service *s, const sl_dbus_result *r, uint64_t now_us);

/* Finish a call kept by an action. r < 0 replies with err (or an errno error);
 * r >= 0 syncs properties and replies with success. Frees the call. */
void sl_dbus_call_complete(sl_dbus_call *c, int r, const sl_dbus_error *err);

/* Validation shared with the daemon (manifest names) and tests. Each returns
 * 0 or -EINVAL with a message naming the bad value. */
int sl_dbus_validate_variant_name(const char *name, sl_dbus_error *err);
int sl_dbus_validate_target(double target_ms, sl_dbus_error *err);

/* Signatures, shared with clients. */
#define SL_DBUS_RESULT_SIG  "ttsa(isd)a(iddddd)"
#define SL_DBUS_VARIANT_SIG "(sssddt)"
