/* Replays golden vectors produced by TFLite's own reference kernels
 * (gen_tflite_vectors.py, LiteRT with OpResolverType.BUILTIN_REF) through the
 * full reference path: IR builder, sl_model_finalize, sl_runtime with the
 * reference backend. Quantized outputs must match bit for bit; fp32 outputs
 * to float rounding (TFLite's summation order is not always ours). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/runtime.h"
#include "tests/unit/kernels/ref/ref_testutil.h"

#define MAX_T 12

typedef struct {
	char name[96];
	char op[48];
	int act;
	int n_p;
	double p[8];
	int n_t;
	sl_tensor t[MAX_T];
	float scale[MAX_T][64];
	int32_t zp[MAX_T][64];
	uint8_t *data[MAX_T];
	size_t data_len[MAX_T];
	int n_in;
	int32_t in[MAX_T];
	int32_t out;
	uint8_t *expect;
	size_t expect_len;
} vcase;

static int tok(FILE *f, char *buf, size_t len)
{
	char fmt[16];
	snprintf(fmt, sizeof(fmt), "%%%zus", len - 1);
	return fscanf(f, fmt, buf) == 1 ? 0 : -1;
}

static long tok_long(FILE *f)
{
	char b[64];
	cr_assert_eq(tok(f, b, sizeof(b)), 0, "truncated vector file");
	return strtol(b, NULL, 10);
}

/* Reads a hex token ("-" = none) into a malloc'd buffer. */
static uint8_t *tok_hex(FILE *f, size_t *ret_len)
{
	static char b[1 << 20];
	cr_assert_eq(tok(f, b, sizeof(b)), 0, "truncated vector file");
	*ret_len = 0;
	if (strcmp(b, "-") == 0)
		return NULL;
	size_t n = strlen(b) / 2;
	uint8_t *p = malloc(n ? n : 1);
	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		cr_assert_eq(sscanf(b + 2 * i, "%2x", &v), 1);
		p[i] = (uint8_t)v;
	}
	*ret_len = n;
	return p;
}

static sl_dtype dtype_of(const char *s)
{
	static const char *names[] = {"F32", "F16", "I8", "U8", "I32", "I64"};
	for (int i = 0; i < (int)SL_ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (sl_dtype)i;
	cr_assert_fail("unknown dtype %s", s);
	return SL_DTYPE_F32;
}

/* 1 on a case, 0 at end of file. */
static int read_case(FILE *f, vcase *c)
{
	char b[128];
	memset(c, 0, sizeof(*c));
	do {
		if (tok(f, b, sizeof(b)) < 0)
			return 0;
		if (b[0] == '#') { /* comment to end of line */
			int ch;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
		}
	} while (strcmp(b, "case") != 0);
	cr_assert_eq(tok(f, c->name, sizeof(c->name)), 0);
	cr_assert_eq(tok(f, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "op");
	cr_assert_eq(tok(f, c->op, sizeof(c->op)), 0);
	c->act = (int)tok_long(f);
	cr_assert_eq(tok(f, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "p");
	c->n_p = (int)tok_long(f);
	cr_assert_leq(c->n_p, 8);
	for (int i = 0; i < c->n_p; i++) {
		cr_assert_eq(tok(f, b, sizeof(b)), 0);
		c->p[i] = strtod(b, NULL);
	}
	cr_assert_eq(tok(f, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "t");
	c->n_t = (int)tok_long(f);
	cr_assert_leq(c->n_t, MAX_T);
	for (int i = 0; i < c->n_t; i++) {
		sl_tensor *t = &c->t[i];
		cr_assert_eq(tok(f, b, sizeof(b)), 0);
		t->dtype = dtype_of(b);
		t->kind = tok_long(f) ? SL_TENSOR_CONST : SL_TENSOR_ACTIVATION;
		t->rank = (int)tok_long(f);
		cr_assert_leq(t->rank, SL_MAX_RANK);
		for (int d = 0; d < t->rank; d++)
			t->dims[d] = (int32_t)tok_long(f);
		t->q.n = (int)tok_long(f);
		t->q.axis = (int)tok_long(f);
		cr_assert_leq(t->q.n, 64);
		for (int k = 0; k < t->q.n; k++) {
			cr_assert_eq(tok(f, b, sizeof(b)), 0);
			c->scale[i][k] = strtof(b, NULL);
		}
		for (int k = 0; k < t->q.n; k++)
			c->zp[i][k] = (int32_t)tok_long(f);
		t->q.scale = c->scale[i];
		t->q.zero_point = c->zp[i];
		c->data[i] = tok_hex(f, &c->data_len[i]);
	}
	cr_assert_eq(tok(f, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "node");
	c->n_in = (int)tok_long(f);
	for (int i = 0; i < c->n_in; i++)
		c->in[i] = (int32_t)tok_long(f);
	c->out = (int32_t)tok_long(f);
	cr_assert_eq(tok(f, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "expect");
	c->expect = tok_hex(f, &c->expect_len);
	cr_assert_eq(tok(f, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "end");
	return 1;
}

static void free_case(vcase *c)
{
	for (int i = 0; i < c->n_t; i++)
		free(c->data[i]);
	free(c->expect);
}

static sl_op op_of(const char *s)
{
	for (int i = 0; i < SL_OP__COUNT; i++)
		if (strcmp(sl_op_name((sl_op)i), s) == 0)
			return (sl_op)i;
	cr_assert_fail("unknown op %s", s);
	return SL_OP__COUNT;
}

static void node_params(const vcase *c, sl_node *n)
{
	switch (n->op) {
	case SL_OP_CONV_2D:
	case SL_OP_DEPTHWISE_CONV_2D:
		n->p.conv = (sl_conv_params){.stride_h = (int)c->p[0],
					     .stride_w = (int)c->p[1],
					     .dilation_h = (int)c->p[2],
					     .dilation_w = (int)c->p[3],
					     .padding = (sl_padding)(int)c->p[4],
					     .depth_multiplier = (int)c->p[5]};
		break;
	case SL_OP_AVERAGE_POOL_2D:
	case SL_OP_MAX_POOL_2D:
		n->p.pool = (sl_pool_params){.filter_h = (int)c->p[0],
					     .filter_w = (int)c->p[1],
					     .stride_h = (int)c->p[2],
					     .stride_w = (int)c->p[3],
					     .padding = (sl_padding)(int)c->p[4]};
		break;
	case SL_OP_FULLY_CONNECTED:
		n->p.fc.keep_dims = c->p[0] != 0;
		break;
	case SL_OP_MEAN:
		n->p.mean.keep_dims = c->p[0] != 0;
		break;
	case SL_OP_SOFTMAX:
		n->p.softmax.beta = (float)c->p[0];
		break;
	case SL_OP_CONCATENATION:
		n->p.concat.axis = (int)c->p[0];
		break;
	default:
		break;
	}
}

typedef struct {
	int n, failed;
	char first_failures[1024];
} tally;

static void note_failure(tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_failure(tally *t, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cr_log_error("%s", line);
	size_t used = strlen(t->first_failures);
	if (used + strlen(line) + 2 < sizeof(t->first_failures))
		snprintf(t->first_failures + used, sizeof(t->first_failures) - used, "%s; ", line);
	t->failed++;
}

static void run_case(const vcase *c, tally *ty)
{
	_cleanup_(sl_model_unrefp) sl_model *m = sl_model_new();
	sl_error err = {0};
	cr_assert_not_null(m);
	for (int i = 0; i < c->n_t; i++) {
		sl_tensor t = c->t[i];
		if (t.kind == SL_TENSOR_CONST) {
			void *copy = malloc(c->data_len[i] ? c->data_len[i] : 1);
			cr_assert_not_null(copy);
			memcpy(copy, c->data[i], c->data_len[i]);
			cr_assert_eq(sl_model_own(m, copy), 0);
			t.data = copy;
			t.bytes = c->data_len[i];
		}
		cr_assert_eq(sl_model_add_tensor(m, &t, &err), i, "%s: %s", c->name, err.msg);
	}
	sl_node n = {.op = op_of(c->op), .act = (sl_act)c->act, .n_inputs = c->n_in, .n_outputs = 1};
	int32_t ins[MAX_T], out = c->out;
	memcpy(ins, c->in, sizeof(ins));
	n.inputs = ins;
	n.outputs = &out;
	node_params(c, &n);
	cr_assert_eq(sl_model_add_node(m, &n, &err), 0, "%s: %s", c->name, err.msg);
	m->inputs = malloc(sizeof(int32_t) * MAX_T);
	m->outputs = malloc(sizeof(int32_t));
	cr_assert(m->inputs && m->outputs);
	for (int i = 0; i < c->n_in; i++)
		if (c->in[i] >= 0 && c->t[c->in[i]].kind == SL_TENSOR_ACTIVATION)
			m->inputs[m->n_inputs++] = c->in[i];
	m->outputs[0] = c->out;
	m->n_outputs = 1;

	int r = sl_model_finalize(m, &err);
	if (r < 0) {
		note_failure(ty, "%s: finalize: %s", c->name, err.msg);
		return;
	}
	const sl_runtime_options opt = {.backend = SL_BACKEND_REF};
	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	r = sl_runtime_new(m, &opt, &rt, &err);
	if (r < 0) {
		note_failure(ty, "%s: runtime: %s", c->name, err.msg);
		return;
	}
	for (int i = 0; i < m->n_inputs; i++) {
		const int t = m->inputs[i];
		cr_assert_eq(m->tensors[t].bytes, c->data_len[t], "%s: input %d size", c->name, i);
		memcpy(sl_runtime_tensor_data(rt, t), c->data[t], c->data_len[t]);
	}
	cr_assert_eq(sl_runtime_invoke(rt), 0);
	const sl_tensor *ot = &m->tensors[c->out];
	cr_assert_eq(ot->bytes, c->expect_len, "%s: output is %zu bytes, TFLite gave %zu", c->name, ot->bytes,
		     c->expect_len);
	const void *got = sl_runtime_tensor_data(rt, c->out);
	if (ot->dtype == SL_DTYPE_F32) {
		const float *g = got;
		float want[8192];
		const size_t cnt = c->expect_len / 4;
		cr_assert_leq(cnt, SL_ARRAY_SIZE(want));
		memcpy(want, c->expect, c->expect_len);
		for (size_t i = 0; i < cnt; i++)
			if (!(fabsf(g[i] - want[i]) <= 2e-6f + 1e-5f * fabsf(want[i]))) {
				note_failure(ty, "%s: element %zu: %.9g, TFLite %.9g", c->name, i,
					     (double)g[i], (double)want[i]);
				return;
			}
	} else {
		size_t bad = 0, first = 0;
		int worst = 0;
		for (size_t i = 0; i < c->expect_len; i++) {
			const int a = tu_ld(got, i, ot->dtype), b = tu_ld(c->expect, i, ot->dtype);
			if (a != b) {
				if (!bad++)
					first = i;
				worst = abs(a - b) > worst ? abs(a - b) : worst;
			}
		}
		if (bad)
			note_failure(ty,
				     "%s: %zu of %zu differ (max %d steps), first at %zu: %d vs TFLite %d",
				     c->name, bad, c->expect_len, worst, first, tu_ld(got, first, ot->dtype),
				     tu_ld(c->expect, first, ot->dtype));
	}
}

Test(ref_tflite, golden_vectors_match)
{
	const char *root = getenv("SL_SOURCE_ROOT");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/unit/kernels/ref/data/tflite_ref_vectors.txt",
		 root ? root : ".");
	FILE *f = fopen(path, "r");
	if (!f)
		cr_skip_test("no golden vectors at %s (generate with gen_tflite_vectors.py)", path);
	tally ty = {0};
	vcase *c = malloc(sizeof(*c));
	cr_assert_not_null(c);
	while (read_case(f, c)) {
		ty.n++;
		run_case(c, &ty);
		free_case(c);
	}
	free(c);
	fclose(f);
	cr_log_info("%d TFLite reference vectors, %d mismatching", ty.n, ty.failed);
	cr_assert_gt(ty.n, 0, "empty vector file");
	cr_assert_eq(ty.failed, 0, "%d of %d cases differ from TFLite: %s", ty.failed, ty.n,
		     ty.first_failures);
}
