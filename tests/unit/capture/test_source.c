/* Sources through the public interface: testsrc in every format, file
 * sources (image, folder, MJPEG stream with a bad frame), URI errors, and the
 * reconnect state machine against a device path that does not exist. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "capture/source.h"
#include "ref.h"

#define MAX_EVENTS 64

typedef struct {
	pthread_mutex_t lock;
	int n;
	sl_source_state st[MAX_EVENTS];
	char why[MAX_EVENTS][160];
} events;

static void on_state(void *ud, sl_source_state st, const char *why)
{
	events *e = ud;
	pthread_mutex_lock(&e->lock);
	if (e->n < MAX_EVENTS) {
		e->st[e->n] = st;
		snprintf(e->why[e->n], sizeof(e->why[0]), "%s", why);
		e->n++;
	}
	pthread_mutex_unlock(&e->lock);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static sl_source_config config(const char *uri, events *e)
{
	if (e)
		*e = (events){.lock = PTHREAD_MUTEX_INITIALIZER};
	return (sl_source_config){
	    .uri = uri,
	    .spec =
		{.width = 32, .height = 24, .fit = SL_FIT_CROP, .crop_fraction = 1.f, .type = SL_PIXEL_U8},
	    .on_state = e ? on_state : NULL,
	    .userdata = e,
	};
}

static bool blank(const uint8_t *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return false;
	return true;
}

static void stream_testsrc(const char *uri, int frames)
{
	events e;
	sl_source *s;
	sl_source_config cfg = config(uri, &e);
	int fds = count_fds();
	cr_assert_eq(sl_source_new(&cfg, &s), 0, "%s", uri);
	cr_assert_eq(sl_source_start(s), 0);
	cr_assert_eq(sl_source_start(s), -EALREADY);
	uint8_t prev[32 * 24 * 3];
	uint64_t last = 0;
	int changed = 0;
	for (int i = 0; i < frames; i++) {
		sl_frame f;
		cr_assert_eq(sl_source_acquire(s, 2000, &f), 0, "%s frame %d", uri, i);
		cr_assert_eq(f.src_width, 64);
		cr_assert_eq(f.src_height, 48);
		cr_assert(!blank(f.data, sizeof(prev)), "%s: blank frame", uri);
		if (i) {
			cr_assert_gt(f.sequence, last);
			changed += memcmp(prev, f.data, sizeof(prev)) != 0;
		}
		cr_assert_gt(f.timestamp_us, 0);
		last = f.sequence;
		memcpy(prev, f.data, sizeof(prev));
		sl_source_release(s, &f);
	}
	cr_assert_gt(changed, frames / 2, "%s: the pattern moves", uri);
	cr_assert_eq(sl_source_get_state(s), SL_SOURCE_STREAMING);
	sl_source_stats st;
	sl_source_get_stats(s, &st);
	cr_assert_geq(st.captured, (uint64_t)frames);
	cr_assert_geq(st.decoded, (uint64_t)frames);
	cr_assert_eq(st.corrupt, 0, "%s", uri);
	cr_assert_eq(st.dropped_driver, 0);
	s = sl_source_free(s);
	cr_assert_null(s);
	cr_assert_eq(count_fds(), fds, "fds leaked");
	cr_assert_geq(e.n, 3);
	cr_assert_eq(e.st[0], SL_SOURCE_OPENING);
	cr_assert_eq(e.st[1], SL_SOURCE_STREAMING);
	cr_assert(strstr(e.why[1], "64x48"), "%s", e.why[1]);
	cr_assert_eq(e.st[e.n - 1], SL_SOURCE_STOPPED);
}

Test(source, testsrc_every_format)
{
	stream_testsrc("testsrc:64x48@200", 20);
	stream_testsrc("testsrc:64x48@200?format=YUYV", 10);
	stream_testsrc("testsrc:64x48@200?format=NV12", 10);
	stream_testsrc("testsrc:64x48@200?format=GREY", 10);
	stream_testsrc("testsrc:64x48@200?format=MJPG", 10);
}

Test(source, testsrc_defaults_from_config_and_event_fd)
{
	sl_source *s;
	sl_source_config cfg = config("testsrc", NULL);
	cfg.width = 64, cfg.height = 48, cfg.fps = 100;
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	int fd = sl_source_fd(s);
	cr_assert_geq(fd, 0);
	cr_assert_eq(sl_source_start(s), 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 2000), 1, "eventfd signals a frame");
	sl_frame f;
	cr_assert_eq(sl_source_acquire(s, 0, &f), 0);
	cr_assert_eq(f.src_width, 64);
	sl_source_release(s, &f);
	/* a consumer that stops taking frames makes them stale, not queued */
	usleep(200000);
	sl_source_stats st;
	sl_source_get_stats(s, &st);
	cr_assert_gt(st.dropped_stale, 5);
	sl_source_free(s);
	sl_source_free(NULL);
}

Test(source, bad_uris_and_specs)
{
	events e;
	sl_source *s = NULL;
	sl_source_config cfg = config("rtsp://camera", &e);
	cr_assert_eq(sl_source_new(&cfg, &s), -EPROTONOSUPPORT);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.st[0], SL_SOURCE_STOPPED);
	static const char *const bad[] = {"testsrc:axb",
					  "testsrc:64x",
					  "testsrc:1x1",
					  "testsrc:64x48@0",
					  "testsrc?format=H264",
					  "testsrc:64x48junk",
					  "v4l2:",
					  "v4l2:/dev/video0?fmt=x",
					  "file:"};
	char why[256];
	cr_expect_eq(sl_source_check_uri("rtsp://camera", why, sizeof(why)), -EPROTONOSUPPORT);
	cr_expect(strstr(why, "rtsp://camera"), "%s", why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = config(bad[i], &e);
		cr_assert_eq(sl_source_new(&cfg, &s), -EINVAL, "%s", bad[i]);
		cr_assert_eq(e.n, 1);
		cr_assert_gt(strlen(e.why[0]), 5, "a reason for %s", bad[i]);
		why[0] = 0;
		cr_expect_eq(sl_source_check_uri(bad[i], why, sizeof(why)), -EINVAL, "checked: %s", bad[i]);
		cr_expect_gt(strlen(why), 5, "a reason for %s", bad[i]);
	}
	/* Well-formed, though nothing by these names exists: only opening finds that out. */
	static const char *const good[] = {"testsrc", "testsrc:64x48@5?format=YUYV", "v4l2:/dev/video9",
					   "/dev/video9?format=MJPG", "file:/nonexistent/file.jpg"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect_eq(sl_source_check_uri(good[i], why, sizeof(why)), 0, "%s: %s", good[i], why);
	cfg = config("file:/nonexistent/file.jpg", &e);
	cr_assert_eq(sl_source_new(&cfg, &s), -ENOENT);
	cr_assert(strstr(e.why[0], "/nonexistent/file.jpg"), "%s", e.why[0]);
	cfg = config("testsrc", NULL);
	cfg.spec.width = 0;
	cr_assert_eq(sl_source_new(&cfg, &s), -EINVAL);
	cfg.spec.width = 32;
	cfg.spec.type = (sl_pixel_type)5;
	cr_assert_eq(sl_source_new(&cfg, &s), -EINVAL);
	cr_assert_eq(sl_source_new(NULL, &s), -EINVAL);
}

/* --- file sources ------------------------------------------------------ */

static char tmpdir[64];

static void write_file(const char *name, const void *d, size_t n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(d, 1, n, f), n);
	fclose(f);
}

static uint8_t *jpeg_of(int w, int h, unsigned long *len)
{
	sl_image img = ref_smooth_image(w, h);
	tjhandle t = tjInitCompress();
	unsigned char *out = NULL;
	cr_assert_eq(tjCompress2(t, img.data, w, 0, h, TJPF_RGB, &out, len, TJSAMP_420, 85, 0), 0);
	tjDestroy(t);
	free(img.data);
	uint8_t *copy = malloc(*len);
	memcpy(copy, out, *len);
	tjFree(out);
	return copy;
}

static void setup_dir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl-capture-src-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void cleanup_dir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(tmpdir);
}

/* Run a source to its end; returns the frames taken. */
static int drain(sl_source *s, uint64_t *seqs, int max)
{
	int n = 0, r;
	sl_frame f;
	while ((r = sl_source_acquire(s, 3000, &f)) == 0) {
		if (n < max)
			seqs[n] = f.sequence;
		n++;
		sl_source_release(s, &f);
	}
	cr_assert_eq(r, -EPIPE, "the source ends with -EPIPE, got %d", r);
	return n;
}

Test(source, file_image_once_then_stopped, .init = setup_dir, .fini = cleanup_dir)
{
	unsigned long len;
	uint8_t *jpg = jpeg_of(80, 60, &len);
	write_file("one.jpg", jpg, len);
	char uri[128];
	snprintf(uri, sizeof(uri), "file:%s/one.jpg", tmpdir);
	events e;
	sl_source_config cfg = config(uri, &e);
	cfg.fps = 100;
	sl_source *s;
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	cr_assert_eq(sl_source_start(s), 0);
	uint64_t seqs[4];
	cr_assert_eq(drain(s, seqs, 4), 1);
	cr_assert_eq(sl_source_get_state(s), SL_SOURCE_STOPPED);
	cr_assert(strstr(e.why[e.n - 1], "end of"), "%s", e.why[e.n - 1]);
	sl_source_free(s);
	free(jpg);
}

Test(source, file_folder_counts_corrupt_and_loops, .init = setup_dir, .fini = cleanup_dir)
{
	unsigned long len;
	uint8_t *jpg = jpeg_of(80, 60, &len);
	write_file("a.jpg", jpg, len);
	write_file("b.jpg", jpg, len / 2); /* truncated */
	write_file("notes.txt", "hello", 5);
	static const char ppm[] = "P6\n2 2\n255\n\xff\x00\x00\x00\xff\x00\x00\x00\xff\xff\xff\xff";
	write_file("c.ppm", ppm, sizeof(ppm) - 1);
	char uri[128];
	snprintf(uri, sizeof(uri), "file:%s", tmpdir);
	sl_source_config cfg = config(uri, NULL);
	cfg.fps = 200;
	sl_source *s;
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	cr_assert_eq(sl_source_start(s), 0);
	uint64_t seqs[8];
	int n = drain(s, seqs, 8);
	sl_source_stats st;
	sl_source_get_stats(s, &st);
	cr_assert_eq(st.captured, 3);
	cr_assert_eq(st.corrupt, 1);
	cr_assert_eq(st.decoded, 2);
	/* a.jpg and c.ppm, each taken or, latest frame wins, counted stale when
	 * the consumer is slow (qemu on a loaded machine) */
	cr_assert_eq((uint64_t)n + st.dropped_stale, 2, "taken %d, stale %llu", n,
		     (unsigned long long)st.dropped_stale);
	sl_source_free(s);

	/* looped: frames keep coming with increasing sequence numbers */
	cfg.loop = true;
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	cr_assert_eq(sl_source_start(s), 0);
	uint64_t last = 0;
	for (int i = 0; i < 8; i++) {
		sl_frame f;
		cr_assert_eq(sl_source_acquire(s, 2000, &f), 0);
		cr_assert(i == 0 || f.sequence > last);
		last = f.sequence;
		sl_source_release(s, &f);
	}
	sl_source_free(s);
	free(jpg);

	/* a folder without images is refused up front */
	cleanup_dir();
	setup_dir();
	write_file("notes.txt", "hello", 5);
	events e;
	cfg = config(uri, &e);
	snprintf(uri, sizeof(uri), "file:%s", tmpdir);
	cfg.uri = uri;
	cr_assert_eq(sl_source_new(&cfg, &s), -ENOENT);
	cr_assert(strstr(e.why[0], "no .jpg"), "%s", e.why[0]);
}

Test(source, mjpeg_stream_file_skips_a_corrupt_frame, .init = setup_dir, .fini = cleanup_dir)
{
	unsigned long l1, l2;
	uint8_t *a = jpeg_of(64, 48, &l1), *b = jpeg_of(64, 48, &l2);
	size_t total = 3 * l1 + l2 / 2 + l1;
	uint8_t *stream = malloc(total), *p = stream;
	memcpy(p, a, l1), p += l1;
	memcpy(p, a, l1), p += l1;
	memcpy(p, b, l2 / 2), p += l2 / 2; /* cut mid-scan; the next SOI resynchronises */
	memcpy(p, a, l1), p += l1;
	memcpy(p, a, l1), p += l1;
	write_file("clip.mjpeg", stream, total);
	char uri[128];
	snprintf(uri, sizeof(uri), "file:%s/clip.mjpeg", tmpdir);
	events e;
	sl_source_config cfg = config(uri, &e);
	cfg.fps = 200;
	sl_source *s;
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	cr_assert_eq(sl_source_start(s), 0);
	uint64_t seqs[8];
	int n = drain(s, seqs, 8);
	sl_source_stats st;
	sl_source_get_stats(s, &st);
	cr_assert_eq(st.captured, 5);
	cr_assert_eq(st.corrupt, 1);
	cr_assert_eq(st.decoded, 4);
	/* Latest frame wins: a slow consumer (qemu, a loaded machine) may see a
	 * good frame overwritten, but every one is either taken or counted stale. */
	cr_assert_eq((uint64_t)n + st.dropped_stale, 4, "taken %d, stale %llu", n,
		     (unsigned long long)st.dropped_stale);
	cr_assert(strstr(e.why[1], "5 frames"), "%s", e.why[1]);
	sl_source_free(s);
	free(stream);
	free(a);
	free(b);
}

/* --- the camera state machine, without a camera ---------------------------- */

Test(source, missing_camera_backs_off_and_stops_promptly)
{
	events e;
	sl_source_config cfg = config("v4l2:/dev/video-sightline-missing", &e);
	cfg.backoff_initial_ms = 20;
	cfg.backoff_max_ms = 80;
	sl_source *s;
	int fds = count_fds();
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	cr_assert_eq(sl_source_start(s), 0);
	sl_frame f;
	cr_assert_eq(sl_source_acquire(s, 600, &f), -ETIMEDOUT);
	sl_source_state st = sl_source_get_state(s);
	cr_assert(st == SL_SOURCE_BACKOFF || st == SL_SOURCE_REOPENING, "%s", sl_source_state_name(st));
	sl_source_free(s);
	cr_assert_eq(count_fds(), fds);
	pthread_mutex_lock(&e.lock);
	cr_assert_gt(e.n, 6, "several attempts in 600 ms with a 80 ms cap");
	cr_assert_eq(e.st[0], SL_SOURCE_OPENING);
	cr_assert_eq(e.st[1], SL_SOURCE_BACKOFF);
	cr_assert(strstr(e.why[1], "No such file"), "%s", e.why[1]);
	cr_assert_eq(e.st[2], SL_SOURCE_REOPENING);
	/* delays grow, with jitter within [d/2, d], up to the cap */
	int prev = 0, grew = 0;
	for (int i = 1; i < e.n; i++) {
		const char *p = strstr(e.why[i], "retrying in ");
		if (e.st[i] != SL_SOURCE_BACKOFF || !p)
			continue;
		int ms = atoi(p + 12);
		cr_assert_leq(ms, 80);
		grew += ms > prev;
		prev = ms;
	}
	cr_assert_geq(grew, 2);
	cr_assert_eq(e.st[e.n - 1], SL_SOURCE_STOPPED);
	pthread_mutex_unlock(&e.lock);
}

Test(source, not_a_camera_is_reported)
{
	events e;
	sl_source_config cfg = config("/dev/null", &e);
	cfg.backoff_initial_ms = 50;
	sl_source *s;
	cr_assert_eq(sl_source_new(&cfg, &s), 0);
	cr_assert_eq(sl_source_start(s), 0);
	usleep(100000);
	sl_source_free(s);
	cr_assert_geq(e.n, 2);
	cr_assert_eq(e.st[1], SL_SOURCE_BACKOFF);
	cr_assert(strstr(e.why[1], "/dev/null"), "%s", e.why[1]);
}
