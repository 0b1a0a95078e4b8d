/* A small SVG scatter plot with the Pareto frontier of accuracy against
 * latency: enough for people to see which variants are worth keeping. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sightline_tools.h"

#define W  760
#define H  480
#define ML 70
#define MR 180
#define MT 40
#define MB 60

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for the span. */
static double nice_step(double span, int ticks)
{
	double raw = span / ticks, p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static int cmp_x(const void *a, const void *b)
{
	const sl_svg_point *p = *(const sl_svg_point *const *)a, *q = *(const sl_svg_point *const *)b;
	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	return p->y > q->y ? -1 : (p->y < q->y);
}

int sl_svg_pareto_plot(const char *path, const char *title, const char *xlabel, const char *ylabel,
		       const sl_svg_point *p, int n)
{
	if (n <= 0)
		return -EINVAL;
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	for (int i = 0; i < n; i++) {
		x0 = fmin(x0, p[i].x);
		x1 = fmax(x1, p[i].x);
		y0 = fmin(y0, p[i].y);
		y1 = fmax(y1, p[i].y);
	}
	double xs = nice_step(fmax(x1 - x0, 1e-3), 6), ys = nice_step(fmax(y1 - y0, 1e-3), 6);
	x0 = fmax(0, floor(x0 / xs) * xs - (x0 == x1 ? xs : 0));
	x1 = ceil(x1 / xs) * xs + (x1 == floor(x1 / xs) * xs ? xs : 0);
	y0 = floor(y0 / ys) * ys - ys;
	y1 = ceil(y1 / ys) * ys + (y0 == y1 ? ys : 0);
	if (y0 < 0)
		y0 = 0;
	const double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + ((v)-x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - ((v)-y0) / (y1 - y0) * ph)

	/* Frontier: sorted by latency, a point is on it when it beats every faster one. */
	const sl_svg_point **s = malloc(sizeof(*s) * (size_t)n);
	bool *front = calloc((size_t)n, 1);
	if (!s || !front) {
		free(s);
		free(front);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		s[i] = &p[i];
	qsort(s, (size_t)n, sizeof(*s), cmp_x);
	double best = -INFINITY;
	for (int i = 0; i < n; i++)
		if (s[i]->y > best) {
			best = s[i]->y;
			front[i] = true;
		}

	FILE *f = fopen(path, "w");
	if (!f) {
		int e = -errno;
		free(s);
		free(front);
		return e;
	}
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", ML);
	xml_text(f, title);
	fprintf(f, "</text>\n");
	for (double v = x0; v <= x1 + xs * 1e-6; v += xs) {
		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", PX(v),
			MT, PX(v), MT + ph);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(v),
			MT + ph + 18, v);
	}
	for (double v = y0; v <= y1 + ys * 1e-6; v += ys) {
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ML,
			PY(v), ML + pw, PY(v));
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ML - 6, PY(v) + 4, v);
	}
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n",
		ML, MT, pw, ph);
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + pw / 2, H - 16);
	xml_text(f, xlabel);
	fprintf(f, "</text>\n<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">",
		MT + ph / 2);
	xml_text(f, ylabel);
	fprintf(f, "</text>\n");

	/* The frontier as a step line: accuracy only improves by paying latency. */
	fprintf(f, "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"");
	double py = NAN;
	for (int i = 0; i < n; i++) {
		if (!front[i])
			continue;
		if (!isnan(py))
			fprintf(f, "%.1f,%.1f ", PX(s[i]->x), PY(py));
		fprintf(f, "%.1f,%.1f ", PX(s[i]->x), PY(s[i]->y));
		py = s[i]->y;
	}
	fprintf(f, "%.1f,%.1f\"/>\n", ML + pw, PY(py));

	for (int i = 0; i < n; i++) {
		const bool fr = front[i];
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" stroke=\"#333\"/>\n",
			PX(s[i]->x), PY(s[i]->y), fr ? 6 : 4, fr ? "#d62728" : "#1f77b4");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\"%s>", PX(s[i]->x) + 8,
			PY(s[i]->y) - 6 + (i % 2) * 14, fr ? " font-weight=\"bold\"" : "");
		xml_text(f, s[i]->name);
		fprintf(f, "</text>\n");
	}
	/* Legend */
	fprintf(f,
		"<circle cx=\"%.0f\" cy=\"%d\" r=\"6\" fill=\"#d62728\" stroke=\"#333\"/>"
		"<text x=\"%.0f\" y=\"%d\">Pareto frontier</text>\n",
		ML + pw + 20, MT + 10, ML + pw + 32, MT + 14);
	fprintf(f,
		"<circle cx=\"%.0f\" cy=\"%d\" r=\"4\" fill=\"#1f77b4\" stroke=\"#333\"/>"
		"<text x=\"%.0f\" y=\"%d\">dominated</text>\n",
		ML + pw + 20, MT + 30, ML + pw + 32, MT + 34);
	fprintf(f, "</svg>\n");
	int r = fclose(f) == 0 ? 0 : -EIO;
	free(s);
	free(front);
	return r;
#undef PX
#undef PY
}
