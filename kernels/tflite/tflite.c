/* TFLite importer: file/memory loading, tensors, quantization, operator list,
 * constant DEQUANTIZE folding. Operator options live in ops.c, the FlatBuffers
 * checks in flatbuf.c. */
#include "kernels/tflite/tflite.h"

#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/macros.h"
#include "kernels/tflite/import.h"

#define SL_TFL_MAX_FILE ((size_t)2 << 30) /* FlatBuffers cannot address more */
#define SL_TFL_MAX_NAME 256
#define SL_TFL_MAX_DESC 1024
#define SL_TFL_MAX_IO	4096

/* Table slots from TFLite's schema.fbs. */
enum { MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_DESCRIPTION = 3, MODEL_BUFFERS = 4 };
enum { OPCODE_DEPRECATED = 0, OPCODE_CUSTOM = 1, OPCODE_BUILTIN = 3 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum { T_SHAPE = 0, T_TYPE = 1, T_BUFFER = 2, T_NAME = 3, T_QUANT = 4, T_VARIABLE = 5, T_SPARSITY = 6 };
enum { Q_SCALE = 2, Q_ZERO_POINT = 3, Q_DETAILS_TYPE = 4, Q_DIM = 6 };
enum { OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2 };
enum { BUF_DATA = 0, BUF_OFFSET = 1, BUF_SIZE = 2 };

typedef struct {
	sl_fb fb;
	sl_model *m;
	sl_error *err;
	const char *name;
	int n_codes;
	int32_t *codes; /* resolved builtin code per OperatorCode */
	sl_fb_table *code_tables;
	sl_fb_vec buffers;
	int32_t *node_op; /* IR node -> file operator index, for messages */
} imp;

static int ferr(imp *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ferr(imp *c, int code, const char *fmt, ...)
{
	if (c->err) {
		char text[200];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		/* The identifier is not required (the reader does not need it), but
		 * its absence is the likeliest story behind a malformed file. */
		const bool tfl3 = c->fb.len >= 8 && memcmp(c->fb.buf + 4, "TFL3", 4) == 0;
		if (code == SL_E_FORMAT && c->fb.why && !tfl3)
			snprintf(c->err->msg, sizeof(c->err->msg),
				 "%s: not a TFLite file (no TFL3 identifier): %s (%s)", c->name, text, c->fb.why);
		else if (code == SL_E_FORMAT && c->fb.why)
			snprintf(c->err->msg, sizeof(c->err->msg), "%s: malformed or truncated file: %s (%s)",
				 c->name, text, c->fb.why);
		else
			snprintf(c->err->msg, sizeof(c->err->msg), "%s: %s", c->name, text);
	}
	return -code;
}

#define TRYF(x, ...)                                                                                         \
	do {                                                                                                 \
		int r_ = (x);                                                                                \
		if (r_ < 0)                                                                                  \
			return ferr(c, -r_, __VA_ARGS__);                                                    \
	} while (0)

/* Names and descriptions end up in logs and on D-Bus (which needs valid
 * UTF-8): keep printable ASCII only. */
static char *sanitize(const char *s, uint32_t len, size_t max)
{
	size_t n = SL_MIN((size_t)len, max);
	char *r = malloc(n + 1);
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++)
		r[i] = (s[i] >= 0x20 && s[i] <= 0x7e) ? s[i] : '?';
	r[n] = 0;
	return r;
}

static const char *tfl_type_name(int t)
{
	static const char *const names[] = {"FLOAT32", "FLOAT16",    "INT32",  "UINT8",	    "INT64",
					    "STRING",  "BOOL",	     "INT16",  "COMPLEX64", "INT8",
					    "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE",  "VARIANT",
					    "UINT32",  "UINT16",     "INT4"};
	return t >= 0 && (size_t)t < SL_ARRAY_SIZE(names) ? names[t] : "UNKNOWN";
}

static bool map_dtype(int t, sl_dtype *ret)
{
	switch (t) {
	case 0:
		*ret = SL_DTYPE_F32;
		return true;
	case 1:
		*ret = SL_DTYPE_F16;
		return true;
	case 2:
		*ret = SL_DTYPE_I32;
		return true;
	case 3:
		*ret = SL_DTYPE_U8;
		return true;
	case 4:
		*ret = SL_DTYPE_I64;
		return true;
	case 9:
		*ret = SL_DTYPE_I8;
		return true;
	default:
		return false;
	}
}

/* ---- tensors ---- */

static int load_quant(imp *c, const sl_fb_table *qt, int idx, sl_tensor *t)
{
	sl_fb_vec sv, zv;
	uint8_t details;
	int32_t dim;
	TRYF(sl_fb_u8(&c->fb, qt, Q_DETAILS_TYPE, 0, &details), "tensor %d: quantization", idx);
	if (details != 0)
		return ferr(c, SL_E_UNSUPPORTED, "tensor %d: custom quantization is not supported", idx);
	TRYF(sl_fb_vec_field(&c->fb, qt, Q_SCALE, 4, &sv), "tensor %d: quantization scales", idx);
	TRYF(sl_fb_vec_field(&c->fb, qt, Q_ZERO_POINT, 8, &zv), "tensor %d: quantization zero points", idx);
	TRYF(sl_fb_i32(&c->fb, qt, Q_DIM, 0, &dim), "tensor %d: quantized dimension", idx);
	if (sv.n == 0)
		return 0; /* min/max only: not quantized for inference */
	if (zv.n != sv.n)
		return ferr(c, SL_E_FORMAT, "tensor %d: %u scales but %u zero points", idx, sv.n, zv.n);
	if (sv.n > 1 && (dim < 0 || dim >= t->rank || t->dims[dim] != (int32_t)sv.n))
		return ferr(c, SL_E_FORMAT, "tensor %d: %u per-channel scales do not match dimension %d", idx,
			    sv.n, dim);
	t->q.n = (int)sv.n;
	t->q.axis = sv.n > 1 ? dim : 0;
	t->q.scale = malloc(sizeof(float) * sv.n);
	t->q.zero_point = malloc(sizeof(int32_t) * sv.n);
	if (!t->q.scale || !t->q.zero_point)
		return ferr(c, ENOMEM, "out of memory");
	for (uint32_t i = 0; i < sv.n; i++) {
		int64_t z;
		TRYF(sl_fb_vec_f32(&c->fb, &sv, i, &t->q.scale[i]), "tensor %d: scale", idx);
		TRYF(sl_fb_vec_i64(&c->fb, &zv, i, &z), "tensor %d: zero point", idx);
		if (z < INT32_MIN || z > INT32_MAX)
			return ferr(c, SL_E_FORMAT, "tensor %d: zero point %lld out of range", idx,
				    (long long)z);
		t->q.zero_point[i] = (int32_t)z;
	}
	return 0;
}

static int load_buffer(imp *c, uint32_t b, int idx, const uint8_t **ret, size_t *ret_len)
{
	sl_fb_table bt;
	sl_fb_vec data;
	uint64_t off, size;
	*ret = NULL;
	*ret_len = 0;
	if (b >= c->buffers.n)
		return ferr(c, SL_E_FORMAT, "tensor %d: buffer %u out of range (%u buffers)", idx, b,
			    c->buffers.n);
	TRYF(sl_fb_vec_table(&c->fb, &c->buffers, b, &bt), "buffer %u", b);
	TRYF(sl_fb_vec_field(&c->fb, &bt, BUF_DATA, 1, &data), "buffer %u", b);
	TRYF(sl_fb_u64(&c->fb, &bt, BUF_OFFSET, 0, &off), "buffer %u", b);
	TRYF(sl_fb_u64(&c->fb, &bt, BUF_SIZE, 0, &size), "buffer %u", b);
	if (off > 1) {
		/* Models over 2 GiB keep data after the FlatBuffer; offsets are
		 * relative to the start of the file. */
		if (off > c->fb.len || size > c->fb.len - off)
			return ferr(c, SL_E_FORMAT, "buffer %u: data outside the file", b);
		*ret = c->fb.buf + off;
		*ret_len = (size_t)size;
	} else if (data.n > 0) {
		*ret = sl_fb_vec_data(&c->fb, &data);
		*ret_len = data.n;
	}
	return 0;
}

static int load_tensor(imp *c, const sl_fb_table *tt, int idx)
{
	sl_tensor t = {.kind = SL_TENSOR_ACTIVATION};
	_cleanup_free_ char *name = NULL;
	_cleanup_free_ float *scale = NULL;
	_cleanup_free_ int32_t *zp = NULL;
	sl_fb_vec shape;
	int8_t type;
	uint32_t buffer;
	uint8_t variable;
	const char *s;
	uint32_t slen;
	sl_fb_table qt, sp;

	TRYF(sl_fb_string(&c->fb, tt, T_NAME, &s, &slen), "tensor %d: name", idx);
	if (s && !(name = sanitize(s, slen, SL_TFL_MAX_NAME)))
		return ferr(c, ENOMEM, "out of memory");
	const char *tn = name ? name : "";
	TRYF(sl_fb_vec_field(&c->fb, tt, T_SHAPE, 4, &shape), "tensor %d (%s): shape", idx, tn);
	if (shape.n > SL_MAX_RANK)
		return ferr(c, SL_E_UNSUPPORTED, "tensor %d (%s): rank %u is not supported (max %d)", idx, tn,
			    shape.n, SL_MAX_RANK);
	t.rank = (int)shape.n;
	for (uint32_t i = 0; i < shape.n; i++)
		TRYF(sl_fb_vec_i32(&c->fb, &shape, i, &t.dims[i]), "tensor %d (%s): shape", idx, tn);
	TRYF(sl_fb_i8(&c->fb, tt, T_TYPE, 0, &type), "tensor %d (%s): type", idx, tn);
	if (!map_dtype(type, &t.dtype))
		return ferr(c, SL_E_UNSUPPORTED, "tensor %d (%s): type %s is not supported", idx, tn,
			    tfl_type_name(type));
	TRYF(sl_fb_u8(&c->fb, tt, T_VARIABLE, 0, &variable), "tensor %d (%s)", idx, tn);
	if (variable)
		return ferr(c, SL_E_UNSUPPORTED, "tensor %d (%s): variable tensors are not supported", idx,
			    tn);
	TRYF(sl_fb_table_field(&c->fb, tt, T_SPARSITY, &sp), "tensor %d (%s): sparsity", idx, tn);
	if (sp.present)
		return ferr(c, SL_E_UNSUPPORTED, "tensor %d (%s): sparse tensors are not supported", idx, tn);

	TRYF(sl_fb_table_field(&c->fb, tt, T_QUANT, &qt), "tensor %d (%s): quantization", idx, tn);
	int r = load_quant(c, &qt, idx, &t);
	scale = t.q.scale; /* freed here: sl_model_add_tensor copies */
	zp = t.q.zero_point;
	if (r < 0)
		return r;

	TRYF(sl_fb_u32(&c->fb, tt, T_BUFFER, 0, &buffer), "tensor %d (%s): buffer", idx, tn);
	const uint8_t *data;
	size_t len;
	if ((r = load_buffer(c, buffer, idx, &data, &len)) < 0)
		return r;
	if (len > 0) {
		t.kind = SL_TENSOR_CONST;
		t.bytes = len;
		t.data = data;
		if ((uintptr_t)data % sl_dtype_size(t.dtype) != 0) {
			/* Buffers are 16-byte aligned in well-formed files;
			 * kernels may assume natural alignment, so copy. */
			void *copy = aligned_alloc(64, SL_ALIGN_UP(len, 64));
			if (!copy)
				return ferr(c, ENOMEM, "out of memory");
			memcpy(copy, data, len);
			if (sl_model_own(c->m, copy) < 0)
				return ferr(c, ENOMEM, "out of memory");
			t.data = copy;
		}
	}
	t.name = name;
	r = sl_model_add_tensor(c->m, &t, c->err);
	return r < 0 ? r : 0;
}

/* ---- constant DEQUANTIZE folding ---- */

static float half_to_float(uint16_t h)
{
	const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	float v;
	if (exp == 0)
		v = ldexpf((float)mant, -24);
	else if (exp == 31)
		v = mant ? NAN : INFINITY;
	else
		v = ldexpf((float)(mant | 0x400), exp - 25);
	return (h & 0x8000) ? -v : v;
}

static bool is_graph_io(const sl_model *m, int t)
{
	for (int i = 0; i < m->n_inputs; i++)
		if (m->inputs[i] == t)
			return true;
	for (int i = 0; i < m->n_outputs; i++)
		if (m->outputs[i] == t)
			return true;
	return false;
}

/* Returns 1 when the operator became an fp32 constant, 0 when it stays a node
 * (finalize then judges it), <0 on error. */
static int fold_dequantize(imp *c, int op_idx, const int32_t *in, int n_in, const int32_t *out, int n_out)
{
	sl_model *m = c->m;
	if (n_in != 1 || n_out != 1 || in[0] < 0 || in[0] >= m->n_tensors || out[0] < 0 ||
	    out[0] >= m->n_tensors)
		return 0;
	const sl_tensor *src = &m->tensors[in[0]];
	sl_tensor *dst = &m->tensors[out[0]];
	if (src->kind != SL_TENSOR_CONST || dst->kind != SL_TENSOR_ACTIVATION || dst->dtype != SL_DTYPE_F32 ||
	    is_graph_io(m, out[0]))
		return 0;
	if (src->dtype != SL_DTYPE_F16 && src->dtype != SL_DTYPE_I8 && src->dtype != SL_DTYPE_U8)
		return 0;
	const int64_t n = sl_tensor_numel(src);
	if (n < 0 || (size_t)n > SIZE_MAX / 4 || src->bytes != (size_t)n * sl_dtype_size(src->dtype))
		return 0;
	const sl_quant *q = &src->q;
	if (src->dtype != SL_DTYPE_F16 &&
	    (q->n < 1 || (q->n > 1 && (q->axis < 0 || q->axis >= src->rank || src->dims[q->axis] != q->n))))
		return 0;
	if (dst->rank == 0 && src->rank > 0) {
		dst->rank = src->rank;
		memcpy(dst->dims, src->dims, sizeof(dst->dims));
	} else if (sl_tensor_numel(dst) != n) {
		return ferr(c, SL_E_SHAPE,
			    "operator %d (DEQUANTIZE, builtin 6): output has %lld elements, input %lld",
			    op_idx, (long long)sl_tensor_numel(dst), (long long)n);
	}
	float *f = malloc((size_t)n * 4 + 1);
	if (!f || sl_model_own(m, f) < 0)
		return ferr(c, ENOMEM, "out of memory");
	int64_t inner = 1;
	if (q->n > 1)
		for (int d = q->axis + 1; d < src->rank; d++)
			inner *= src->dims[d];
	const uint8_t *p = src->data;
	for (int64_t i = 0; i < n; i++) {
		if (src->dtype == SL_DTYPE_F16) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			f[i] = half_to_float(h);
		} else {
			const int ch = q->n > 1 ? (int)((i / inner) % q->n) : 0;
			const int32_t v = src->dtype == SL_DTYPE_I8 ? (int8_t)p[i] : p[i];
			f[i] = q->scale[ch] * (float)(v - q->zero_point[ch]);
		}
	}
	dst->kind = SL_TENSOR_CONST;
	dst->data = f;
	dst->bytes = (size_t)n * 4;
	return 1;
}

/* ---- operators ---- */

static int load_int_list(imp *c, const sl_fb_vec *v, int32_t **ret, const char *what, int op_idx)
{
	if (v->n > SL_TFL_MAX_IO)
		return ferr(c, SL_E_UNSUPPORTED, "operator %d: %u %s", op_idx, v->n, what);
	int32_t *a = malloc(sizeof(int32_t) * (v->n + 1));
	if (!a)
		return ferr(c, ENOMEM, "out of memory");
	for (uint32_t i = 0; i < v->n; i++) {
		int r = sl_fb_vec_i32(&c->fb, v, i, &a[i]);
		if (r < 0) {
			free(a);
			return ferr(c, SL_E_FORMAT, "operator %d: %s", op_idx, what);
		}
	}
	*ret = a;
	return 0;
}

static int load_operator(imp *c, const sl_fb_table *ot, int i)
{
	uint32_t opc;
	sl_fb_vec iv, ov;
	_cleanup_free_ int32_t *in = NULL, *out = NULL;
	char why[128];

	TRYF(sl_fb_u32(&c->fb, ot, OP_OPCODE, 0, &opc), "operator %d", i);
	if (opc >= (uint32_t)c->n_codes)
		return ferr(c, SL_E_FORMAT, "operator %d: opcode index %u out of range (%d codes)", i, opc,
			    c->n_codes);
	const int code = c->codes[opc];
	const char *on = sl_tflite_builtin_name(code);
	if (code == SL_TFL_CUSTOM) {
		const char *s;
		uint32_t len;
		_cleanup_free_ char *cn = NULL;
		if (sl_fb_string(&c->fb, &c->code_tables[opc], OPCODE_CUSTOM, &s, &len) == 0 && s)
			cn = sanitize(s, len, 64);
		return ferr(c, SL_E_UNSUPPORTED, "operator %d (CUSTOM '%s', builtin 32) is not supported", i,
			    cn ? cn : "?");
	}
	sl_node n = {0};
	int r = sl_tflite_parse_op(&c->fb, ot, code, &n, why, sizeof(why));
	if (r == -SL_E_UNSUPPORTED && !why[0])
		return ferr(c, SL_E_UNSUPPORTED, "operator %d (%s, builtin %d) is not supported", i, on,
			    code);
	if (r < 0)
		return ferr(c, -r, "operator %d (%s, builtin %d): %s", i, on, code, why[0] ? why : "options");

	TRYF(sl_fb_vec_field(&c->fb, ot, OP_INPUTS, 4, &iv), "operator %d (%s): inputs", i, on);
	TRYF(sl_fb_vec_field(&c->fb, ot, OP_OUTPUTS, 4, &ov), "operator %d (%s): outputs", i, on);
	if ((r = load_int_list(c, &iv, &in, "inputs", i)) < 0 ||
	    (r = load_int_list(c, &ov, &out, "outputs", i)) < 0)
		return r;
	if (n.op == SL_OP_DEQUANTIZE) {
		r = fold_dequantize(c, i, in, (int)iv.n, out, (int)ov.n);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	n.n_inputs = (int)iv.n;
	n.inputs = in;
	n.n_outputs = (int)ov.n;
	n.outputs = out;
	r = sl_model_add_node(c->m, &n, c->err);
	if (r < 0)
		return r;
	c->node_op[r] = i;
	return 0;
}

/* finalize names IR nodes; with folded DEQUANTIZE ops those differ from the
 * file's operator indices, which is what users look up. */
static void rename_nodes(imp *c)
{
	if (!c->err)
		return;
	char out[sizeof(c->err->msg)];
	const char *s = c->err->msg;
	size_t o = 0;
	while (*s && o + 1 < sizeof(out)) {
		int node = 0, used = 0;
		if (strncmp(s, "node ", 5) == 0)
			while (used < 9 && s[5 + used] >= '0' && s[5 + used] <= '9')
				node = node * 10 + (s[5 + used++] - '0');
		if (used > 0 && node < c->m->n_nodes) {
			int w = snprintf(out + o, sizeof(out) - o, "operator %d", c->node_op[node]);
			if (w < 0 || (size_t)w >= sizeof(out) - o)
				break;
			o += (size_t)w;
			s += 5 + used;
			continue;
		}
		out[o++] = *s++;
	}
	out[o] = 0;
	memcpy(c->err->msg, out, o + 1);
}

/* ---- model ---- */

static int load_opcodes(imp *c, const sl_fb_table *model)
{
	sl_fb_vec v;
	TRYF(sl_fb_vec_field(&c->fb, model, MODEL_OPCODES, 4, &v), "operator codes");
	c->n_codes = (int)SL_MIN(v.n, (uint32_t)INT32_MAX);
	c->codes = calloc((size_t)v.n + 1, sizeof(int32_t));
	c->code_tables = calloc((size_t)v.n + 1, sizeof(sl_fb_table));
	if (!c->codes || !c->code_tables)
		return ferr(c, ENOMEM, "out of memory");
	for (uint32_t i = 0; i < v.n; i++) {
		int8_t dep;
		int32_t bc;
		TRYF(sl_fb_vec_table(&c->fb, &v, i, &c->code_tables[i]), "operator code %u", i);
		TRYF(sl_fb_i8(&c->fb, &c->code_tables[i], OPCODE_DEPRECATED, 0, &dep), "operator code %u", i);
		TRYF(sl_fb_i32(&c->fb, &c->code_tables[i], OPCODE_BUILTIN, 0, &bc), "operator code %u", i);
		/* As TFLite: the int8 field holds codes < 127 (127 is the
		 * placeholder for larger ones), the int32 field is zero in old
		 * files, so the larger of the two is the code. */
		c->codes[i] = SL_MAX(bc, (int32_t)dep);
	}
	return 0;
}

static int load_io(imp *c, const sl_fb_table *sg, int slot, int32_t **ret, int *ret_n, const char *what)
{
	sl_fb_vec v;
	TRYF(sl_fb_vec_field(&c->fb, sg, slot, 4, &v), "subgraph %s", what);
	if (v.n > SL_TFL_MAX_IO)
		return ferr(c, SL_E_UNSUPPORTED, "%u graph %s", v.n, what);
	int32_t *a = malloc(sizeof(int32_t) * (v.n + 1));
	if (!a)
		return ferr(c, ENOMEM, "out of memory");
	*ret = a; /* owned by the model from here */
	for (uint32_t i = 0; i < v.n; i++)
		TRYF(sl_fb_vec_i32(&c->fb, &v, i, &a[i]), "subgraph %s", what);
	*ret_n = (int)v.n;
	return 0;
}

static int import(imp *c)
{
	sl_fb_table model, sg;
	sl_fb_vec subgraphs, tensors, ops;
	uint32_t version;
	const char *s;
	uint32_t slen;
	int r;

	TRYF(sl_fb_root(&c->fb, &model), "root table");
	TRYF(sl_fb_u32(&c->fb, &model, MODEL_VERSION, 0, &version), "schema version");
	if (version != 3)
		return ferr(c, SL_E_UNSUPPORTED, "schema version %u is not supported (expected 3)", version);
	TRYF(sl_fb_string(&c->fb, &model, MODEL_DESCRIPTION, &s, &slen), "description");
	if (s && !(c->m->description = sanitize(s, slen, SL_TFL_MAX_DESC)))
		return ferr(c, ENOMEM, "out of memory");
	if ((r = load_opcodes(c, &model)) < 0)
		return r;
	TRYF(sl_fb_vec_field(&c->fb, &model, MODEL_BUFFERS, 4, &c->buffers), "buffers");
	TRYF(sl_fb_vec_field(&c->fb, &model, MODEL_SUBGRAPHS, 4, &subgraphs), "subgraphs");
	if (subgraphs.n < 1)
		return ferr(c, SL_E_FORMAT, "no subgraph");
	TRYF(sl_fb_vec_table(&c->fb, &subgraphs, 0, &sg), "subgraph 0");

	TRYF(sl_fb_vec_field(&c->fb, &sg, SG_TENSORS, 4, &tensors), "tensors");
	for (uint32_t i = 0; i < tensors.n; i++) {
		sl_fb_table tt;
		TRYF(sl_fb_vec_table(&c->fb, &tensors, i, &tt), "tensor %u", i);
		if ((r = load_tensor(c, &tt, (int)i)) < 0)
			return r;
	}
	if ((r = load_io(c, &sg, SG_INPUTS, &c->m->inputs, &c->m->n_inputs, "inputs")) < 0 ||
	    (r = load_io(c, &sg, SG_OUTPUTS, &c->m->outputs, &c->m->n_outputs, "outputs")) < 0)
		return r;

	TRYF(sl_fb_vec_field(&c->fb, &sg, SG_OPERATORS, 4, &ops), "operators");
	c->node_op = calloc((size_t)ops.n + 1, sizeof(int32_t));
	if (!c->node_op)
		return ferr(c, ENOMEM, "out of memory");
	for (uint32_t i = 0; i < ops.n; i++) {
		sl_fb_table ot;
		TRYF(sl_fb_vec_table(&c->fb, &ops, i, &ot), "operator %u", i);
		if ((r = load_operator(c, &ot, (int)i)) < 0)
			return r;
	}
	if ((r = sl_model_finalize(c->m, c->err)) < 0) {
		rename_nodes(c);
		return r;
	}
	return 0;
}

/* Takes the model (with its blob already attached) in every case. */
static int import_model(sl_model *m, const char *name, sl_model **ret, sl_error *err)
{
	imp c = {.m = m, .err = err, .name = name};
	sl_fb_init(&c.fb, m->blob, m->blob_size);
	int r;
	if (!(m->path = strdup(name)))
		r = ferr(&c, ENOMEM, "out of memory");
	else
		r = import(&c);
	free(c.codes);
	free(c.code_tables);
	free(c.node_op);
	if (r < 0) {
		sl_model_unref(m);
		return r;
	}
	*ret = m;
	return 0;
}

static void unmap_blob(void *p, size_t size)
{
	munmap(p, size);
}

static void free_blob(void *p, size_t size SL_UNUSED)
{
	free(p);
}

int sl_tflite_load_file(const char *path, sl_model **ret, sl_error *err)
{
	imp c = {.err = err, .name = path};
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		ferr(&c, e, "cannot open: %s", strerrordesc_np(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		ferr(&c, e, "cannot stat: %s", strerrordesc_np(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode))
		return ferr(&c, EINVAL, "not a regular file");
	if (st.st_size < 8)
		return ferr(&c, SL_E_FORMAT, "file too small (%lld bytes)", (long long)st.st_size);
	if ((uint64_t)st.st_size > SL_TFL_MAX_FILE)
		return ferr(&c, SL_E_UNSUPPORTED, "file too large (%lld bytes)", (long long)st.st_size);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		ferr(&c, e, "cannot map: %s", strerrordesc_np(e));
		return -e;
	}
	sl_model *m = sl_model_new();
	if (!m) {
		munmap(p, (size_t)st.st_size);
		return ferr(&c, ENOMEM, "out of memory");
	}
	m->blob = p;
	m->blob_size = (size_t)st.st_size;
	m->blob_free = unmap_blob;
	return import_model(m, path, ret, err);
}

int sl_tflite_load_mem(const void *buf, size_t len, const char *name, sl_model **ret, sl_error *err)
{
	if (!name)
		name = "<memory>";
	imp c = {.err = err, .name = name};
	if (!buf || len < 8)
		return ferr(&c, SL_E_FORMAT, "file too small (%zu bytes)", len);
	if (len > SL_TFL_MAX_FILE)
		return ferr(&c, SL_E_UNSUPPORTED, "file too large (%zu bytes)", len);
	/* 64-byte alignment keeps the file's own 16-byte buffer alignment. */
	void *copy = aligned_alloc(64, SL_ALIGN_UP(len, 64));
	if (!copy)
		return ferr(&c, ENOMEM, "out of memory");
	memcpy(copy, buf, len);
	sl_model *m = sl_model_new();
	if (!m) {
		free(copy);
		return ferr(&c, ENOMEM, "out of memory");
	}
	m->blob = copy;
	m->blob_size = len;
	m->blob_free = free_blob;
	return import_model(m, name, ret, err);
}
