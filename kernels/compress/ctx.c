/* The compression context: the master, the calibration set and what is
 * measured once and shared by every variant (activation statistics of the
 * master, the greedy sparsity allocation path). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "kernels/compress/compress_internal.h"

void sl_compress_opts_init(sl_compress_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->backend = SL_BACKEND_XNNPACK;
	o->threads = 1;
	o->method = SL_CALIB_MSE;
	o->percentile = 99.99;
	o->bias_correction = true;
	o->recovery = true;
	o->damp = 0.01;
	o->positions_per_image = 48;
	o->sens_images = 32;
}

int sl_calib_method_from_string(const char *s, sl_calib_method *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "mse") == 0)
		*ret = SL_CALIB_MSE;
	else if (strcmp(s, "minmax") == 0)
		*ret = SL_CALIB_MINMAX;
	else if (strcmp(s, "percentile") == 0)
		*ret = SL_CALIB_PERCENTILE;
	else
		return -EINVAL;
	return 0;
}

int sl_compress_ctx_new(sl_model *master, const sl_calib_set *cs, const sl_compress_opts *o,
			sl_compress_ctx **ret, sl_error *err)
{
	if (!master || !cs || !o || !ret || !master->order)
		return -EINVAL;
	if (cs->n < 1)
		return cg_fail(err, EINVAL, "no calibration inputs");
	const sl_tensor *in = &master->tensors[master->inputs[0]];
	if (cs->bytes != in->bytes)
		return cg_fail(err, EINVAL, "calibration inputs are %zu bytes, the model input needs %zu",
			       cs->bytes, in->bytes);
	_cleanup_(sl_compress_ctx_freep) sl_compress_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->master = sl_model_ref(master);
	c->cs = cs;
	c->o = *o;
	int r = cl_find_layers(master, &c->layers, &c->n_layers);
	if (r < 0)
		return r;
	if ((r = co_collect(master, cs, o, &c->master_stats, err)) < 0)
		return r;
	*ret = SL_TAKE_PTR(c);
	return 0;
}

sl_compress_ctx *sl_compress_ctx_free(sl_compress_ctx *c)
{
	if (!c)
		return NULL;
	if (c->master)
		co_stats_free(c->master_stats, c->master->n_tensors);
	sl_model_unref(c->master);
	free(c->layers);
	free(c->path_s);
	free(c->master_top);
	cr_cache_free(c->cache);
	free(c);
	return NULL;
}
