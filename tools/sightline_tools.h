/* Helpers shared by `sightline compress` and `sightline bench`: image lists,
 * calibration/evaluation overlap, JSON files, and the SVG plot. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

typedef struct {
	int n;
	char **path; /* full paths */
	int *label;  /* from labels.txt, -1 when the folder has none */
	bool labelled;
} sl_tool_filelist;

/* The images of DIR: labels.txt order ("file class" lines) when present,
 * otherwise every .jpg/.jpeg/.bmp/.ppm/.pgm file, sorted. limit 0: all.
 * Prints the reason on failure. */
int sl_tool_list_images(const char *dir, int limit, sl_tool_filelist *ret);
void sl_tool_filelist_free(sl_tool_filelist *l);
/* Keep n entries spread evenly over the list (all when n <= 0 or n >= l->n):
 * a folder listed by class then still gives every part of it, where its
 * first n entries would be a few neighbouring classes. */
void sl_tool_filelist_spread(sl_tool_filelist *l, int n);

/* Warn (stderr) about every image of `a` that is also an image of folder
 * `dir` or of the list `b` (same file, by device and inode). Returns the count. */
int sl_tool_warn_overlap(const sl_tool_filelist *a, const char *dir);
int sl_tool_warn_overlap_lists(const sl_tool_filelist *a, const sl_tool_filelist *b, const char *what);

/* Pretty-printed, written through a temporary file and renamed. */
int sl_tool_write_json(const char *path, json_object *o);

typedef struct {
	const char *name;
	double x, y; /* latency ms, accuracy % */
} sl_svg_point;

/* Accuracy against latency, the Pareto frontier (no other point is both
 * faster and at least as accurate) drawn as a step line and its points
 * marked. Returns 0 or negative errno. */
int sl_svg_pareto_plot(const char *path, const char *title, const char *xlabel, const char *ylabel,
		       const sl_svg_point *p, int n);

int sl_cli_compress(int argc, char **argv);
int sl_cli_bench(int argc, char **argv);
