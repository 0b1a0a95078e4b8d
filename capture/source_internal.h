/* What a frame source backend (v4l2, file, testsrc) implements for the
 * generic capture thread in source.c. Internal to capture/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/frame.h"
#include "capture/source.h"

typedef struct {
	sl_raw_frame raw;      /* raw.len == 0: the device flagged the buffer bad */
	uint64_t dev_sequence; /* the backend's own counter: gaps are frames it dropped */
	uint64_t timestamp_us; /* CLOCK_MONOTONIC */
	int index;	       /* backend buffer, handed back to put() */
	const char *name;      /* file sources: the file, for messages; NULL otherwise */
} sl_capture_item;

typedef struct sl_backend sl_backend;

typedef struct {
	/* (Re)open. On failure return a negative errno and write why. */
	int (*open)(sl_backend *b, char *why, size_t n);
	/* Next frame: 0 with *it filled (valid until put), -EAGAIN (nothing yet,
	 * call again), -ECANCELED (stop requested), -EPIPE (end of the file),
	 * anything else: the device is lost (why written). */
	int (*get)(sl_backend *b, sl_capture_item *it, char *why, size_t n);
	void (*put)(sl_backend *b, const sl_capture_item *it);
	void (*close)(sl_backend *b); /* idempotent; releases every fd and mapping */
	void (*free)(sl_backend *b);
} sl_backend_ops;

struct sl_backend {
	const sl_backend_ops *ops;
	int stop_fd;	    /* readable once the source is stopping */
	sl_framedec *dec;   /* open() reserves its buffer for the stream */
	bool open_is_final; /* a failed open ends the source (files) rather than backing off */
};

/* arg: what follows "v4l2:", "file:" or "testsrc". On error, why is written. */
int sl_backend_v4l2_new(const char *arg, const sl_source_config *cfg, sl_backend **ret, char *why, size_t n);
int sl_backend_file_new(const char *arg, const sl_source_config *cfg, sl_backend **ret, char *why, size_t n);
int sl_backend_testsrc_new(const char *arg, const sl_source_config *cfg, sl_backend **ret, char *why,
			   size_t n);

/* The same URI checks as _new, nothing opened or allocated for frames. */
int sl_backend_v4l2_check(const char *arg, char *why, size_t n);
int sl_backend_testsrc_check(const char *arg, char *why, size_t n);

uint64_t sl_capture_now_us(void);

/* Frame pacing for synthetic and file sources. */
typedef struct {
	uint64_t interval_us, next_us;
} sl_pacer;
void sl_pacer_init(sl_pacer *p, int fps);
/* Sleep until the next frame is due; -ECANCELED if stop_fd fires first. */
int sl_pacer_wait(sl_pacer *p, int stop_fd);
