/* sightlined: command line, then the daemon's main loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

#ifndef SL_VERSION
#define SL_VERSION "0.0.0"
#endif
#ifndef SL_DEFAULT_CONFIG
#define SL_DEFAULT_CONFIG "/etc/sightline/sightline.conf"
#endif

static void usage(FILE *f)
{
	fprintf(f, "Usage: sightlined [OPTIONS]\n"
		   "Runs the Sightline inference daemon: captures frames, runs the active model\n"
		   "variant and publishes results as org.sightline.Sightline1 on D-Bus.\n\n"
		   "  -c, --config FILE     configuration (default " SL_DEFAULT_CONFIG ")\n"
		   "  -s, --source URI      frame source: testsrc[:WxH@FPS], file:PATH, v4l2:/dev/videoN\n"
		   "  -l, --ladder PATH     ladder manifest (or the folder holding manifest.json)\n"
		   "  -m, --models-dir DIR  folder of the model and label files the manifest names\n"
		   "      --variant NAME    variant to start with\n"
		   "      --backend NAME    xnnpack (default), ref or dense\n"
		   "      --numerics MODE   int8 rounding: tflite (default, bit-exact with TFLite) or fast\n"
		   "      --auto MS         start in auto mode with this p95 latency target\n"
		   "      --user            serve on the session bus instead of the system bus\n"
		   "      --address ADDR    serve on the bus at this D-Bus address\n"
		   "  -v, --verbose         log debug messages\n"
		   "  -h, --help            show this help\n"
		   "      --version         show the version\n\n"
		   "The system bus address comes from DBUS_SYSTEM_BUS_ADDRESS when set.\n"
		   "SIGHUP reloads the configuration and the ladder; SIGTERM stops.\n");
}

int main(int argc, char **argv)
{
	enum { OPT_VARIANT = 256, OPT_BACKEND, OPT_NUMERICS, OPT_AUTO, OPT_USER, OPT_ADDRESS, OPT_VERSION };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"source", required_argument, NULL, 's'},
	    {"ladder", required_argument, NULL, 'l'},
	    {"models-dir", required_argument, NULL, 'm'},
	    {"variant", required_argument, NULL, OPT_VARIANT},
	    {"backend", required_argument, NULL, OPT_BACKEND},
	    {"numerics", required_argument, NULL, OPT_NUMERICS},
	    {"auto", required_argument, NULL, OPT_AUTO},
	    {"user", no_argument, NULL, OPT_USER},
	    {"address", required_argument, NULL, OPT_ADDRESS},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	sl_daemon_args a = {.bus = SL_BUS_SYSTEM, .ov = {.target_ms = -1}};
	bool config_given = false;
	int c;

	sl_log_init();
	while ((c = getopt_long(argc, argv, "c:s:l:m:vh", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			a.ov.config_path = optarg;
			config_given = true;
			break;
		case 's':
			a.ov.source = optarg;
			break;
		case 'l':
			a.ov.ladder = optarg;
			break;
		case 'm':
			a.ov.models_dir = optarg;
			break;
		case OPT_VARIANT:
			a.ov.variant = optarg;
			break;
		case OPT_BACKEND:
			if (!sl_daemon_backend_valid(optarg)) {
				fprintf(stderr,
					"sightlined: --backend must be xnnpack, ref or dense, not '%s'\n",
					optarg);
				return 2;
			}
			a.ov.backend = optarg;
			break;
		case OPT_NUMERICS: {
			bool fast;
			if (sl_daemon_numerics_parse(optarg, &fast) < 0) {
				fprintf(stderr, "sightlined: --numerics must be tflite or fast, not '%s'\n",
					optarg);
				return 2;
			}
			a.ov.numerics = optarg;
			break;
		}
		case OPT_AUTO: {
			char *end;
			a.ov.target_ms = strtod(optarg, &end);
			if (*end || !(a.ov.target_ms >= 0.1 && a.ov.target_ms <= 60000)) {
				fprintf(
				    stderr,
				    "sightlined: --auto takes a target in ms within [0.1, 60000], not '%s'\n",
				    optarg);
				return 2;
			}
			break;
		}
		case OPT_USER:
		case OPT_ADDRESS:
			if (a.bus != SL_BUS_SYSTEM &&
			    a.bus != (c == OPT_USER ? SL_BUS_USER : SL_BUS_ADDRESS)) {
				fprintf(stderr,
					"sightlined: --user and --address are alternatives; give one\n");
				return 2;
			}
			a.bus = c == OPT_USER ? SL_BUS_USER : SL_BUS_ADDRESS;
			if (c == OPT_ADDRESS)
				a.address = optarg;
			break;
		case 'v':
			sl_log_set_level(SL_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("sightlined %s\n", SL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sightlined: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* The default file is optional when the command line says enough. */
	if (!config_given && (access(SL_DEFAULT_CONFIG, R_OK) == 0 || !a.ov.ladder))
		a.ov.config_path = SL_DEFAULT_CONFIG;

	sl_daemon *d = NULL;
	if (sl_daemon_new(&a, &d) < 0)
		return EXIT_FAILURE;
	int status = sl_daemon_run(d);
	sl_daemon_free(d);
	return status;
}
