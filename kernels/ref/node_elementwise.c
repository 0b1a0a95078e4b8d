/* Node adapters for ADD and MUL. */
#include <stdlib.h>

#include "kernels/ref/node_internal.h"

typedef struct {
	sl_op op;
	sl_dtype type;
	sl_ref_tref a, b, out;
	sl_ref_binary_f32_args f;
	sl_ref_add_q8_args add;
	sl_ref_mul_q8_args mul;
} binary_state;

static int run_binary(sl_step *s, uint8_t *arena)
{
	const binary_state *st = s->state;
	const void *a = sl_ref_tptr(&st->a, arena), *b = sl_ref_tptr(&st->b, arena);
	void *out = sl_ref_tptr(&st->out, arena);

	if (st->type == SL_DTYPE_F32) {
		sl_ref_binary_f32_args x = st->f;
		x.a = a;
		x.b = b;
		x.out = out;
		(st->op == SL_OP_ADD ? sl_ref_add_f32 : sl_ref_mul_f32)(&x);
	} else if (st->op == SL_OP_ADD) {
		sl_ref_add_q8_args x = st->add;
		x.a = a;
		x.b = b;
		x.out = out;
		sl_ref_add_q8(&x);
	} else {
		sl_ref_mul_q8_args x = st->mul;
		x.a = a;
		x.b = b;
		x.out = out;
		sl_ref_mul_q8(&x);
	}
	return 0;
}

int sl_ref_prep_binary(const sl_ref_nctx *c, sl_step *step)
{
	const sl_tensor *a = sl_ref_in(c, 0), *b = sl_ref_in(c, 1), *out = sl_ref_out(c);

	if (!b)
		return sl_ref_fail(c, -SL_E_GRAPH, "needs two inputs");
	/* TFLite needs one dtype for both operands and the result. */
	if (a->dtype != b->dtype || a->dtype != out->dtype ||
	    (a->dtype != SL_DTYPE_F32 && !sl_ref_is_q8(a->dtype)))
		return sl_ref_unsupported_dtypes(c);
	if (sl_ref_is_q8(a->dtype) && (a->q.n != 1 || b->q.n != 1 || out->q.n != 1))
		return sl_ref_fail(c, -SL_E_UNSUPPORTED, "needs per-tensor quantization of all operands");

	binary_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	sl_ref_bcast bc;
	if (sl_ref_bcast_init(&bc, a->dims, a->rank, b->dims, b->rank) < 0 ||
	    sl_ref_bcast_numel(&bc) != sl_tensor_numel(out)) {
		free(st);
		return sl_ref_fail(c, -SL_E_SHAPE, "operand shapes do not broadcast to the output");
	}
	st->op = c->n->op;
	st->type = a->dtype;
	st->a = sl_ref_tref_of(a);
	st->b = sl_ref_tref_of(b);
	st->out = sl_ref_tref_of(out);
	if (a->dtype == SL_DTYPE_F32) {
		st->f.bc = bc;
		sl_ref_act_range_f32(c->n->act, &st->f.act_min, &st->f.act_max);
	} else if (st->op == SL_OP_ADD) {
		sl_ref_add_q8_args *x = &st->add;
		*x = (sl_ref_add_q8_args){.bc = bc,
					  .type = a->dtype,
					  .a_zp = sl_ref_zp(a),
					  .b_zp = sl_ref_zp(b),
					  .out_zp = sl_ref_zp(out)};
		sl_ref_add_q8_params(sl_ref_scale(a), sl_ref_scale(b), sl_ref_scale(out), x);
		sl_ref_act_range_q8(c->n->act, out->dtype, sl_ref_scale(out), x->out_zp, &x->act_min,
				    &x->act_max);
	} else {
		sl_ref_mul_q8_args *x = &st->mul;
		*x = (sl_ref_mul_q8_args){.bc = bc,
					  .type = a->dtype,
					  .a_zp = sl_ref_zp(a),
					  .b_zp = sl_ref_zp(b),
					  .out_zp = sl_ref_zp(out)};
		sl_ref_mul_q8_params(sl_ref_scale(a), sl_ref_scale(b), sl_ref_scale(out), x);
		sl_ref_act_range_q8(c->n->act, out->dtype, sl_ref_scale(out), x->out_zp, &x->act_min,
				    &x->act_max);
	}
	sl_ref_step_set(step, st, run_binary);
	return 0;
}
