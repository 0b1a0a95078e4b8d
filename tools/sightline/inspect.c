/* `sightline inspect MODEL`: tensors, operators, per-layer cost and, with
 * --backend, which implementation runs each step. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "tools/sightline/cli.h"

static void usage(FILE *f)
{
	fputs("usage: sightline inspect MODEL [--json] [--backend B] [--numerics tflite|fast] [--threads N]\n"
	      "                         [--profile RUNS]\n"
	      "Lists inputs, outputs and operators (execution order) with MACs, parameter counts and\n"
	      "weight sparsity. With --backend (or --threads), also builds a runtime and shows which\n"
	      "implementation runs each step and why. --profile runs the model RUNS times (after two\n"
	      "warm-ups, on a synthetic input) and adds each step's median time.\n",
	      f);
}

static bool has_weights(const sl_node *n)
{
	return n->op == SL_OP_CONV_2D || n->op == SL_OP_DEPTHWISE_CONV_2D || n->op == SL_OP_FULLY_CONNECTED;
}

static int64_t weight_count(const sl_model *m, const sl_node *n)
{
	if (!has_weights(n) || n->n_inputs < 2 || n->inputs[1] < 0 || n->inputs[1] >= m->n_tensors)
		return 0;
	int64_t c = sl_tensor_numel(&m->tensors[n->inputs[1]]);
	return c > 0 ? c : 0;
}

static json_object *json_tensor(const sl_model *m, int idx)
{
	const sl_tensor *t = &m->tensors[idx];
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tensor", json_object_new_int(idx));
	json_object_object_add(o, "name", t->name ? json_object_new_string(t->name) : NULL);
	json_object *shape = json_object_new_array();
	for (int i = 0; i < t->rank; i++)
		json_object_array_add(shape, json_object_new_int(t->dims[i]));
	json_object_object_add(o, "shape", shape);
	json_object_object_add(o, "dtype", json_object_new_string(sl_dtype_name(t->dtype)));
	if (t->q.n == 1) {
		json_object *q = json_object_new_object();
		json_object_object_add(q, "scale", json_object_new_double(t->q.scale[0]));
		json_object_object_add(q, "zero_point", json_object_new_int(t->q.zero_point[0]));
		json_object_object_add(o, "quant", q);
	} else if (t->q.n > 1) {
		json_object *q = json_object_new_object();
		json_object_object_add(q, "axis", json_object_new_int(t->q.axis));
		json_object_object_add(q, "channels", json_object_new_int(t->q.n));
		json_object_object_add(o, "quant", q);
	}
	return o;
}

static const char *act_suffix(const sl_node *n, char *buf, size_t len)
{
	if (n->act == SL_ACT_NONE)
		return "";
	snprintf(buf, len, "+%s", sl_act_name(n->act));
	return buf;
}

typedef struct {
	const sl_step *step; /* NULL without --backend */
	double ms;	     /* median wall time per run, < 0 without --profile */
} node_info;

/* Inputs do not change the work a network does: a fixed pseudo-random image. */
static void fill_inputs(sl_runtime *rt)
{
	const sl_model *m = sl_runtime_model(rt);
	uint32_t st = 12345;
	for (int i = 0; i < m->n_inputs; i++) {
		const sl_tensor *t = sl_runtime_input_tensor(rt, i);
		uint8_t *p = sl_runtime_input(rt, i);
		const bool f32 = t->dtype == SL_DTYPE_F32;
		for (size_t k = 0; k < (f32 ? t->bytes / sizeof(float) : t->bytes); k++) {
			st = st * 1664525u + 1013904223u;
			if (f32)
				((float *)(void *)p)[k] = (float)(st >> 24) / 127.5f - 1.0f;
			else
				p[k] = (uint8_t)(st >> 24);
		}
	}
}

/* Median time of each step over `runs` runs after two warm-up runs. */
static int profile(sl_runtime *rt, int runs, node_info *info)
{
	const int n = sl_runtime_n_steps(rt);
	_cleanup_free_ double *t = malloc(sizeof(double) * (size_t)SL_MAX(n, 1) * (size_t)(runs + 1));
	if (!t)
		return -ENOMEM;
	fill_inputs(rt);
	int r = 0;
	for (int i = 0; i < 2 && r >= 0; i++)
		r = sl_runtime_invoke_timed(rt, t);
	for (int i = 0; i < runs && r >= 0; i++)
		r = sl_runtime_invoke_timed(rt, t + (size_t)(i + 1) * (size_t)n);
	if (r < 0)
		return r;
	double *col = t; /* the warm-up row is free now */
	for (int k = 0; k < n; k++) {
		for (int i = 0; i < runs; i++)
			col[i] = t[(size_t)(i + 1) * (size_t)n + (size_t)k];
		sl_cli_sort_doubles(col, runs);
		const sl_step *s = sl_runtime_step(rt, k);
		info[s->node].ms = sl_cli_percentile(col, runs, 50);
	}
	return 0;
}

static void print_text(const sl_model *m, const char *path, const node_info *info, const sl_cli_opts *o,
		       bool with_rt)
{
	char buf[256], act[32];
	printf("model: %s\n", path);
	if (m->description && m->description[0])
		printf("description: %s\n", m->description);
	printf("inputs:\n");
	for (int i = 0; i < m->n_inputs; i++) {
		const sl_tensor *t = &m->tensors[m->inputs[i]];
		sl_cli_format_tensor(t, buf, sizeof(buf));
		printf("  %d: %s %s\n", i, t->name ? t->name : "(unnamed)", buf);
	}
	printf("outputs:\n");
	for (int i = 0; i < m->n_outputs; i++) {
		const sl_tensor *t = &m->tensors[m->outputs[i]];
		sl_cli_format_tensor(t, buf, sizeof(buf));
		printf("  %d: %s %s\n", i, t->name ? t->name : "(unnamed)", buf);
	}
	if (with_rt)
		printf("backend: %s, numerics: %s, threads: %d\n", sl_backend_name(o->backend),
		       sl_numerics_name(sl_cli_numerics(o)), o->threads);
	printf("operators (execution order):\n");
	const bool prof = with_rt && m->n_nodes > 0 && info[m->order[0]].ms >= 0;
	printf("  %4s %4s  %-28s %-22s %12s %10s %8s%s%s\n", "step", "node", "op", "output", "MACs", "params",
	       "zeros", prof ? "       ms" : "", with_rt ? "  impl     why" : "");
	int64_t macs = 0, params = 0, weights = 0;
	double zeros = 0;
	for (int k = 0; k < m->n_nodes; k++) {
		const int ni = m->order[k];
		const sl_node *n = &m->nodes[ni];
		const int64_t mc = sl_node_macs(m, n), pc = sl_node_params(m, n), wc = weight_count(m, n);
		const double sp = sl_node_weight_sparsity(m, n);
		macs += mc;
		params += pc;
		weights += wc;
		zeros += sp * (double)wc;
		char opname[64], out[64], spb[16];
		snprintf(opname, sizeof(opname), "%s%s", sl_op_name(n->op), act_suffix(n, act, sizeof(act)));
		out[0] = '\0';
		if (n->n_outputs > 0 && n->outputs[0] >= 0) {
			const sl_tensor *t = &m->tensors[n->outputs[0]];
			size_t l = 0;
			for (int d = 0; d < t->rank && l < sizeof(out); d++)
				l += (size_t)snprintf(out + l, sizeof(out) - l, "%s%d", d ? "x" : "",
						      (int)t->dims[d]);
			if (l < sizeof(out))
				snprintf(out + l, sizeof(out) - l, " %s", sl_dtype_name(t->dtype));
		}
		if (wc > 0)
			snprintf(spb, sizeof(spb), "%.1f%%", sp * 100.0);
		else
			snprintf(spb, sizeof(spb), "-");
		printf("  %4d %4d  %-28s %-22s %12lld %10lld %8s", k, ni, opname, out, (long long)mc,
		       (long long)pc, spb);
		if (prof)
			printf(" %8.3f", info[ni].ms);
		if (with_rt) {
			const sl_step *s = info[ni].step;
			printf("  %-8s %s", s ? sl_impl_name(s->impl) : "-", s ? s->why : "(no step)");
		}
		putchar('\n');
	}
	printf("totals: %d operators, %.3f GMACs (%lld), %lld parameters, weight sparsity %.2f%%\n",
	       m->n_nodes, (double)macs / 1e9, (long long)macs, (long long)params,
	       weights > 0 ? zeros / (double)weights * 100.0 : 0.0);
	printf("activation arena: %zu bytes\n", m->arena_size);
	if (with_rt) {
		int count[SL_IMPL_NONE + 1] = {0};
		for (int i = 0; i < m->n_nodes; i++)
			if (info[i].step && (unsigned)info[i].step->impl <= SL_IMPL_NONE)
				count[info[i].step->impl]++;
		double ms[SL_IMPL_NONE + 1] = {0}, total = 0;
		for (int i = 0; i < m->n_nodes; i++)
			if (info[i].step && (unsigned)info[i].step->impl <= SL_IMPL_NONE) {
				ms[info[i].step->impl] += info[i].ms;
				total += info[i].ms;
			}
		printf("steps by implementation:");
		for (int i = 0; i <= SL_IMPL_NONE; i++)
			if (count[i])
				printf(" %s %d", sl_impl_name((sl_impl)i), count[i]);
		putchar('\n');
		if (prof) {
			printf("time by implementation (sum of step medians %.3f ms):", total);
			for (int i = 0; i < SL_IMPL_NONE; i++)
				if (count[i])
					printf(" %s %.3f ms (%.0f%%)", sl_impl_name((sl_impl)i), ms[i],
					       total > 0 ? 100.0 * ms[i] / total : 0.0);
			putchar('\n');
		}
	}
}

static void print_json(const sl_model *m, const char *path, const node_info *info, const sl_cli_opts *o,
		       bool with_rt)
{
	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
	json_object *root = json_object_new_object();
	json_object_object_add(root, "model", json_object_new_string(path));
	json_object *ins = json_object_new_array(), *outs = json_object_new_array(),
		    *ops = json_object_new_array();
	for (int i = 0; i < m->n_inputs; i++)
		json_object_array_add(ins, json_tensor(m, m->inputs[i]));
	for (int i = 0; i < m->n_outputs; i++)
		json_object_array_add(outs, json_tensor(m, m->outputs[i]));
	json_object_object_add(root, "inputs", ins);
	json_object_object_add(root, "outputs", outs);
	if (with_rt) {
		json_object_object_add(root, "backend", json_object_new_string(sl_backend_name(o->backend)));
		json_object_object_add(root, "numerics",
				       json_object_new_string(sl_numerics_name(sl_cli_numerics(o))));
		json_object_object_add(root, "threads", json_object_new_int(o->threads));
	}
	int64_t macs = 0, params = 0, weights = 0;
	double zeros = 0;
	for (int k = 0; k < m->n_nodes; k++) {
		const int ni = m->order[k];
		const sl_node *n = &m->nodes[ni];
		const int64_t mc = sl_node_macs(m, n), pc = sl_node_params(m, n), wc = weight_count(m, n);
		const double sp = sl_node_weight_sparsity(m, n);
		macs += mc;
		params += pc;
		weights += wc;
		zeros += sp * (double)wc;
		json_object *op = json_object_new_object();
		json_object_object_add(op, "step", json_object_new_int(k));
		json_object_object_add(op, "node", json_object_new_int(ni));
		json_object_object_add(op, "op", json_object_new_string(sl_op_name(n->op)));
		json_object_object_add(op, "activation", json_object_new_string(sl_act_name(n->act)));
		json_object *ti = json_object_new_array(), *to = json_object_new_array();
		for (int i = 0; i < n->n_inputs; i++)
			json_object_array_add(ti, json_object_new_int(n->inputs[i]));
		for (int i = 0; i < n->n_outputs; i++)
			json_object_array_add(to, n->outputs[i] >= 0 ? json_tensor(m, n->outputs[i]) : NULL);
		json_object_object_add(op, "inputs", ti);
		json_object_object_add(op, "outputs", to);
		json_object_object_add(op, "macs", json_object_new_int64(mc));
		json_object_object_add(op, "params", json_object_new_int64(pc));
		json_object_object_add(op, "weight_sparsity", wc > 0 ? json_object_new_double(sp) : NULL);
		if (with_rt) {
			const sl_step *s = info[ni].step;
			json_object_object_add(op, "impl",
					       json_object_new_string(s ? sl_impl_name(s->impl) : "none"));
			json_object_object_add(op, "why", json_object_new_string(s ? s->why : "no step"));
			if (info[ni].ms >= 0)
				json_object_object_add(op, "ms", json_object_new_double(info[ni].ms));
		}
		json_object_array_add(ops, op);
	}
	json_object_object_add(root, "operators", ops);
	json_object *tot = json_object_new_object();
	json_object_object_add(tot, "operators", json_object_new_int(m->n_nodes));
	json_object_object_add(tot, "macs", json_object_new_int64(macs));
	json_object_object_add(tot, "params", json_object_new_int64(params));
	json_object_object_add(tot, "weight_sparsity",
			       json_object_new_double(weights > 0 ? zeros / (double)weights : 0.0));
	json_object_object_add(tot, "arena_bytes", json_object_new_int64((int64_t)m->arena_size));
	json_object_object_add(root, "totals", tot);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

int sl_cli_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS_ENGINE, SL_CLI_LONGOPTS_NUMERICS,
	    SL_CLI_LONGOPTS_JSON,   {"profile", 1, NULL, SL_CLI_OPT__FIRST_PRIVATE},
	    SL_CLI_LONGOPTS_HELP,   {0},
	};
	sl_cli_opts o;
	sl_cli_opts_init(&o);
	bool with_rt = false;
	int c, prof_runs = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h' || c == SL_CLI_OPT_HELP) {
			usage(stdout);
			return 0;
		}
		if (c == SL_CLI_OPT__FIRST_PRIVATE) {
			if (sl_cli_parse_int("--profile", optarg, 1, 100000, &prof_runs) < 0)
				return SL_CLI_EXIT_USAGE;
			with_rt = true;
			continue;
		}
		int r = sl_cli_common_opt(c, optarg, &o);
		if (r <= 0) {
			if (r == 0)
				usage(stderr);
			return SL_CLI_EXIT_USAGE;
		}
		if (c == SL_CLI_OPT_BACKEND || c == SL_CLI_OPT_THREADS || c == SL_CLI_OPT_NUMERICS)
			with_rt = true;
	}
	if (argc - optind != 1) {
		usage(stderr);
		return SL_CLI_EXIT_USAGE;
	}
	const char *path = argv[optind];
	_cleanup_(sl_model_unrefp) sl_model *m = NULL;
	if (sl_cli_load_model(path, &m) < 0)
		return 1;

	_cleanup_(sl_runtime_freep) sl_runtime *rt = NULL;
	_cleanup_free_ node_info *info = calloc((size_t)SL_MAX(m->n_nodes, 1), sizeof(*info));
	if (!info) {
		sl_cli_error("out of memory");
		return 1;
	}
	if (with_rt) {
		sl_error err = {{0}};
		const sl_runtime_options ro = {
		    .backend = o.backend, .numerics = sl_cli_numerics(&o), .threads = o.threads};
		int r = sl_runtime_new(m, &ro, &rt, &err);
		if (r < 0) {
			sl_cli_error("%s: cannot create the %s runtime: %s", path, sl_backend_name(o.backend),
				     err.msg[0] ? err.msg : sl_strerror(r));
			return 1;
		}
		for (int i = 0; i < m->n_nodes; i++)
			info[i].ms = -1;
		for (int i = 0; i < sl_runtime_n_steps(rt); i++) {
			const sl_step *s = sl_runtime_step(rt, i);
			if (s && s->node >= 0 && s->node < m->n_nodes)
				info[s->node].step = s;
		}
		if (prof_runs > 0 && (r = profile(rt, prof_runs, info)) < 0) {
			sl_cli_error("%s: profile run failed: %s", path, sl_strerror(r));
			return 1;
		}
	}
	if (o.json)
		print_json(m, path, info, &o, with_rt);
	else
		print_text(m, path, info, &o, with_rt);
	return 0;
}
