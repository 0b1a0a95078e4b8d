/* Capture against a real kernel driver (vivid), run inside the test VM:
 *  1. negotiate and stream >= 100 frames at 640x480 through sl_source;
 *     sequence numbers go forward, timestamps are CLOCK_MONOTONIC, frames are
 *     not blank and change over time;
 *  2. every raw format vivid offers that we decode (YUYV, NV12, RGB3, GREY);
 *  3. press vivid's "Disconnect" control: the source must report lost, come
 *     back once its own last close lets vivid re-register, and stream again;
 *  4. unbind/bind vivid through sysfs (the node disappears and reappears):
 *     lost, backoff while the node is missing, streaming again;
 *  after each recovery, no fd and no buffer mapping may have leaked.
 * Prints TAP. Exit 0 pass, 1 fail, 77 when there is no vivid device (e.g.
 * when run on a host rather than in the VM). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "capture/source.h"

static int failures, tests;
static const char *device = "/dev/video0";

static void check(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s %d - ", ok ? "ok" : "not ok", ++tests);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	failures += !ok;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- state log, filled by the capture thread ------------------------------ */
#define MAX_EVENTS 256
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	sl_source_state st[MAX_EVENTS];
} ev = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};

static void on_state(void *ud, sl_source_state st, const char *why)
{
	(void)ud;
	printf("# state %-9s %s\n", sl_source_state_name(st), why);
	fflush(stdout);
	pthread_mutex_lock(&ev.lock);
	if (ev.n < MAX_EVENTS)
		ev.st[ev.n++] = st;
	pthread_cond_broadcast(&ev.cond);
	pthread_mutex_unlock(&ev.lock);
}

/* Wait until state `want` is reported at or after event index *from. */
static bool wait_state(sl_source_state want, int *from, double timeout_s)
{
	double end = now_s() + timeout_s;
	bool found = false;
	pthread_mutex_lock(&ev.lock);
	while (!found) {
		for (; *from < ev.n && !found; (*from)++)
			found = ev.st[*from] == want;
		if (found || now_s() > end)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&ev.cond, &ev.lock, &ts);
	}
	pthread_mutex_unlock(&ev.lock);
	return found;
}

static int events_now(void)
{
	pthread_mutex_lock(&ev.lock);
	int n = ev.n;
	pthread_mutex_unlock(&ev.lock);
	return n;
}

/* --- process resources ------------------------------------------------------ */
static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Mappings of video device buffers (vb2 names them after the device node). */
static int count_video_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/dev/video") != NULL;
	fclose(f);
	return n;
}

/* --- frames ------------------------------------------------------------------ */
typedef struct {
	int frames, out_of_order;
	uint64_t first_seq, last_seq;
	double min_stddev;
	int identical_to_previous;
	int bad_timestamps;
} stream_result;

static double stddev_u8(const uint8_t *p, size_t n)
{
	double s = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		s += p[i];
		s2 += (double)p[i] * p[i];
	}
	double m = s / n;
	return sqrt(fmax(s2 / n - m * m, 0));
}

static stream_result take_frames(sl_source *s, int count, double timeout_s, size_t bytes)
{
	stream_result r = {.min_stddev = 1e9};
	uint8_t *prev = calloc(1, bytes);
	double end = now_s() + timeout_s;
	while (r.frames < count && now_s() < end) {
		sl_frame f;
		if (sl_source_acquire(s, 1000, &f) < 0)
			continue;
		if (r.frames == 0)
			r.first_seq = f.sequence;
		else if (f.sequence <= r.last_seq)
			r.out_of_order++;
		r.last_seq = f.sequence;
		double sd = stddev_u8(f.data, bytes);
		r.min_stddev = fmin(r.min_stddev, sd);
		if (r.frames && !memcmp(prev, f.data, bytes))
			r.identical_to_previous++;
		memcpy(prev, f.data, bytes);
		double age = now_s() - f.timestamp_us / 1e6;
		if (age < -0.01 || age > 5.0) /* CLOCK_MONOTONIC, and recent */
			r.bad_timestamps++;
		r.frames++;
		sl_source_release(s, &f);
	}
	free(prev);
	return r;
}

static sl_source_config config(const char *uri)
{
	return (sl_source_config){
	    .uri = uri,
	    .width = 640,
	    .height = 480,
	    .fps = 30,
	    .buffers = 4,
	    .backoff_initial_ms = 100,
	    .backoff_max_ms = 1000,
	    /* the whole picture: vivid's moving parts (its OSD text) are near the edge */
	    .spec = {.width = 224,
		     .height = 224,
		     .fit = SL_FIT_STRETCH,
		     .resize = SL_RESIZE_AUTO,
		     .type = SL_PIXEL_U8},
	    .on_state = on_state,
	};
}

/* --- vivid's Disconnect button ------------------------------------------------ */
static int press_disconnect(void)
{
	int fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct v4l2_queryctrl q = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
	uint32_t id = 0;
	while (!ioctl(fd, VIDIOC_QUERYCTRL, &q)) {
		if (!strcasecmp((const char *)q.name, "Disconnect") && q.type == V4L2_CTRL_TYPE_BUTTON)
			id = q.id;
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	int r = -ENOENT;
	if (id) {
		/* EXT_CTRLS: vivid's own controls are not in the user class S_CTRL wants */
		struct v4l2_ext_control c = {.id = id, .value = 1};
		struct v4l2_ext_controls cs = {.which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1, .controls = &c};
		r = ioctl(fd, VIDIOC_S_EXT_CTRLS, &cs) < 0 ? -errno : 0;
	}
	/* closed at once: vivid only re-registers after the last user closes */
	close(fd);
	return r;
}

static int sysfs_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* The platform device vivid is bound to ("vivid.0"). */
static int vivid_device_name(char *buf, size_t n)
{
	DIR *d = opendir("/sys/bus/platform/drivers/vivid");
	struct dirent *e;
	int r = -ENOENT;
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vivid.", 6)) {
			snprintf(buf, n, "%s", e->d_name);
			r = 0;
			break;
		}
	closedir(d);
	return r;
}

/* ------------------------------------------------------------------------------ */

static void test_formats(void)
{
	static const char *const fmts[] = {"YUYV", "NV12", "RGB3", "GREY"};
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		char uri[128];
		snprintf(uri, sizeof(uri), "v4l2:%s?format=%s", device, fmts[i]);
		sl_source_config cfg = config(uri);
		sl_source *s;
		int from = events_now();
		if (sl_source_new(&cfg, &s) < 0 || sl_source_start(s) < 0) {
			check(0, "%s: source starts", fmts[i]);
			continue;
		}
		bool up = wait_state(SL_SOURCE_STREAMING, &from, 20);
		stream_result r = take_frames(s, 10, 30, 224 * 224 * 3);
		sl_source_stats st;
		sl_source_get_stats(s, &st);
		check(up && r.frames == 10 && r.min_stddev > 10 && st.corrupt == 0,
		      "%s: 10 frames, none blank (min stddev %.1f), %lu corrupt", fmts[i], r.min_stddev,
		      (unsigned long)st.corrupt);
		sl_source_free(s);
	}
}

/* Recovery after `trigger`; returns whether the source streamed again. */
static bool recover(sl_source *s, const char *what, int (*trigger)(void), int fds_streaming,
		    int maps_streaming)
{
	int from = events_now();
	double t0 = now_s();
	int r = trigger();
	check(r == 0, "%s: triggered (%s)", what, r ? strerror(-r) : "ok");
	if (r)
		return false;
	bool lost = wait_state(SL_SOURCE_LOST, &from, 15);
	check(lost, "%s: source reports lost (after %.2f s)", what, now_s() - t0);
	bool back = wait_state(SL_SOURCE_STREAMING, &from, 60);
	check(back, "%s: source streams again (after %.2f s)", what, now_s() - t0);
	if (!back)
		return false;
	stream_result res = take_frames(s, 30, 60, 224 * 224 * 3);
	check(res.frames == 30 && res.out_of_order == 0 && res.min_stddev > 10,
	      "%s: 30 more frames in order, not blank (seq %lu..%lu)", what, (unsigned long)res.first_seq,
	      (unsigned long)res.last_seq);
	int fds = count_fds(), maps = count_video_maps();
	check(fds == fds_streaming, "%s: no fd leaked (%d open, %d before)", what, fds, fds_streaming);
	check(maps == maps_streaming, "%s: no buffer mapping leaked (%d, %d before)", what, maps,
	      maps_streaming);
	return true;
}

static char vivid_dev[256];

static int unplug_replug(void)
{
	int r = sysfs_write("/sys/bus/platform/drivers/vivid/unbind", vivid_dev);
	if (r)
		return r;
	/* long enough for the source to find the node gone and back off */
	usleep(1500 * 1000);
	return sysfs_write("/sys/bus/platform/drivers/vivid/bind", vivid_dev);
}

int main(int argc, char **argv)
{
	int frames = 100;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--device") && i + 1 < argc)
			device = argv[++i];
		else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
			frames = atoi(argv[++i]);
	}
	if (access(device, F_OK) || vivid_device_name(vivid_dev, sizeof(vivid_dev)) < 0) {
		printf("1..0 # SKIP no vivid device at %s (run me in the VM: meson test --suite vm)\n",
		       device);
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int fds_idle = count_fds();

	test_formats();

	char uri[128];
	snprintf(uri, sizeof(uri), "v4l2:%s", device);
	sl_source_config cfg = config(uri);
	sl_source *s;
	int from = events_now();
	check(sl_source_new(&cfg, &s) == 0 && sl_source_start(s) == 0, "source %s created and started", uri);
	check(wait_state(SL_SOURCE_STREAMING, &from, 20), "negotiated and streaming");
	double t0 = now_s();
	stream_result r = take_frames(s, frames, 120, 224 * 224 * 3);
	double dt = now_s() - t0;
	sl_source_stats st;
	sl_source_get_stats(s, &st);
	check(r.frames == frames, "%d frames at 640x480 in %.1f s (%.1f fps delivered)", r.frames, dt,
	      r.frames / dt);
	check(r.out_of_order == 0, "sequence numbers go forward (%lu..%lu, %d backwards)",
	      (unsigned long)r.first_seq, (unsigned long)r.last_seq, r.out_of_order);
	check(st.captured >= (uint64_t)frames && st.corrupt == 0,
	      "counters: captured %lu decoded %lu corrupt %lu dropped_driver %lu dropped_stale %lu",
	      (unsigned long)st.captured, (unsigned long)st.decoded, (unsigned long)st.corrupt,
	      (unsigned long)st.dropped_driver, (unsigned long)st.dropped_stale);
	check(r.bad_timestamps == 0, "timestamps are CLOCK_MONOTONIC and recent (%d bad)", r.bad_timestamps);
	check(r.min_stddev > 10, "frame content is not blank (min stddev %.1f)", r.min_stddev);
	check(r.identical_to_previous < r.frames / 2,
	      "frames change over time (%d identical to the previous)", r.identical_to_previous);
	int fds_streaming = count_fds(), maps_streaming = count_video_maps();
	check(maps_streaming >= 2, "%d buffers mapped while streaming", maps_streaming);

	if (recover(s, "vivid Disconnect control", press_disconnect, fds_streaming, maps_streaming))
		recover(s, "sysfs unbind/bind", unplug_replug, fds_streaming, maps_streaming);
	sl_source_get_stats(s, &st);
	check(st.reconnects >= 2, "reconnects counted (%lu)", (unsigned long)st.reconnects);

	sl_source_free(s);
	check(count_fds() == fds_idle, "every fd closed after sl_source_free (%d, %d at start)", count_fds(),
	      fds_idle);
	check(count_video_maps() == 0, "every buffer unmapped after sl_source_free");
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
