#!/usr/bin/env python3
"""Feeds the input tensors written by dump_io to LiteRT's interpreter and
compares five engines pairwise: ours-ref, ours-xnnpack (from the dump) and
litert-ref (BUILTIN_REF), litert-opt (BUILTIN_WITHOUT_DEFAULT_DELEGATES: the
optimized builtin kernels, no delegate), litert-xnnpack (BUILTIN: the default
XNNPACK delegate). All on one thread.

    python3 tests/bench/litert_compare.py DUMPDIR [--label-offset K] [--md FILE]

Per pair: images whose top-1 agrees, images whose outputs all lie within one
quantization step, images bit-exact, the largest step difference; per engine:
top-1 accuracy against labels.txt. Before running, it checks that LiteRT sees
the input/output tensors dump_io described, and which nodes the XNNPACK
delegate took (a delegated node is replaced by a DELEGATE node whose inputs
and outputs bound its partition). LiteRT's outputs are saved next to ours
(NNNNN.litert-*.out) and reused by --reuse.

Needs: pip install ai-edge-litert numpy
"""
import argparse
import itertools
import os
import sys

import numpy as np

try:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
except ImportError:  # pragma: no cover - environment without LiteRT
    sys.exit("litert_compare: needs ai-edge-litert (pip install ai-edge-litert numpy)")

DTYPES = {"uint8": np.uint8, "int8": np.int8, "float32": np.float32, "int32": np.int32}
LITERT = [
    ("litert-ref", "BUILTIN_REF"),
    ("litert-opt", "BUILTIN_WITHOUT_DEFAULT_DELEGATES"),
    ("litert-xnnpack", "BUILTIN"),
]
OURS = ["ours-ref", "ours-xnnpack"]


def read_index(dump):
    meta, images = {}, []
    with open(os.path.join(dump, "index.tsv")) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                k, _, v = line[1:].partition("\t")
                meta[k] = v
            elif line:
                stem, label, path = line.split("\t", 2)
                images.append((stem, int(label), path))
    if not images:
        sys.exit(f"litert_compare: {dump}/index.tsv lists no images")
    return meta, images


def tensor_meta(meta, key):
    shape = [int(x) for x in meta[f"{key}_shape"].split(",")]
    q = None
    if f"{key}_scale" in meta:
        q = (float(meta[f"{key}_scale"]), int(meta[f"{key}_zero_point"]))
    return DTYPES[meta[f"{key}_dtype"]], shape, q


def check_tensor(name, detail, dtype, shape, q):
    """LiteRT must see the tensor dump_io described, or the comparison is void."""
    problems = []
    if detail["dtype"] != dtype:
        problems.append(f"dtype {detail['dtype']} vs ours {dtype}")
    if list(detail["shape"]) != shape:
        problems.append(f"shape {list(detail['shape'])} vs ours {shape}")
    if q:
        s, zp = detail["quantization"]
        if zp != q[1] or abs(s - q[0]) > 1e-6 * q[0]:
            problems.append(f"quantization ({s}, {zp}) vs ours {q}")
    if problems:
        sys.exit(f"litert_compare: {name}: " + "; ".join(problems))


def delegation(it):
    """Which original nodes each DELEGATE node replaced: those reachable from
    its non-constant inputs without crossing its outputs, that lead to one of
    its outputs. Returns (partitions, [names of nodes left to the builtin kernels])."""
    ops = it._get_ops_details()
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    graph_inputs = {d["index"] for d in it.get_input_details()}
    produced = set()
    for o in ops:
        produced.update(int(t) for t in o["outputs"])

    def variable(t):
        return t >= 0 and (t in produced or t in graph_inputs)

    originals = [o for o in ops if o["op_name"] != "DELEGATE"]
    parts = []
    for d in (o for o in ops if o["op_name"] == "DELEGATE"):
        outs = {int(t) for t in d["outputs"]}
        reach = {int(t) for t in d["inputs"] if variable(int(t))}
        members, changed = [], True
        while changed:
            changed = False
            for o in originals:
                if o["index"] in members:
                    continue
                ins = {int(t) for t in o["inputs"] if variable(int(t))}
                if ins and ins <= reach:
                    members.append(o["index"])
                    new = {int(t) for t in o["outputs"]} - outs
                    reach |= new
                    changed = True
        parts.append((d["index"], sorted(members)))
    taken = {n for _, m in parts for n in m}
    rest = [f"{o['index']}:{o['op_name']}" for o in originals if o["index"] not in taken]
    return parts, rest, {o["index"]: o["op_name"] for o in originals}, tensors


def make_interpreter(model, resolver):
    return Interpreter(
        model_path=model,
        num_threads=1,
        experimental_op_resolver_type=getattr(OpResolverType, resolver),
    )


def run_litert(dump, meta, images, reuse):
    model = meta["model"]
    in_dt, in_shape, in_q = tensor_meta(meta, "input")
    out_dt, out_shape, out_q = tensor_meta(meta, "output")
    n_out = int(np.prod(out_shape))
    results = {}
    for name, resolver in LITERT:
        files = [os.path.join(dump, f"{s}.{name}.out") for s, _, _ in images]
        if reuse and all(os.path.exists(p) for p in files):
            results[name] = np.stack([np.fromfile(p, dtype=out_dt) for p in files])
            print(f"{name}: reused {len(files)} saved outputs", file=sys.stderr)
            continue
        it = make_interpreter(model, resolver)
        it.allocate_tensors()
        ind, outd = it.get_input_details(), it.get_output_details()
        if len(ind) != 1 or len(outd) != 1:
            sys.exit(f"litert_compare: {model}: expected one input and one output")
        check_tensor(f"{name} input", ind[0], in_dt, in_shape, in_q)
        check_tensor(f"{name} output", outd[0], out_dt, out_shape, out_q)
        parts, rest, opnames, _ = delegation(it)
        if resolver == "BUILTIN":
            if not parts:
                sys.exit(f"litert_compare: {name}: no DELEGATE node: XNNPACK was not applied")
            for idx, members in parts:
                kinds = sorted({opnames[m] for m in members})
                print(f"{name}: DELEGATE node {idx} took {len(members)} nodes ({', '.join(kinds)})",
                      file=sys.stderr)
            print(f"{name}: left to builtin kernels: {', '.join(rest) or 'none'}", file=sys.stderr)
        elif parts:
            sys.exit(f"litert_compare: {name}: unexpected DELEGATE node(s) under {resolver}")
        else:
            print(f"{name}: {len(opnames)} nodes on {resolver} kernels, no delegate", file=sys.stderr)
        out = np.empty((len(images), n_out), dtype=out_dt)
        for i, (stem, _, _) in enumerate(images):
            x = np.fromfile(os.path.join(dump, f"{stem}.in"), dtype=in_dt).reshape(in_shape)
            it.set_tensor(ind[0]["index"], x)
            it.invoke()
            out[i] = it.get_tensor(outd[0]["index"]).reshape(-1)
            out[i].tofile(files[i])
            if (i + 1) % 100 == 0:
                print(f"{name}: {i + 1}/{len(images)}", file=sys.stderr)
        results[name] = out
    return results


def load_ours(dump, meta, images):
    out_dt, _, _ = tensor_meta(meta, "output")
    return {
        name: np.stack([np.fromfile(os.path.join(dump, f"{s}.{name[5:]}.out"), dtype=out_dt)
                        for s, _, _ in images])
        for name in OURS
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", help="folder written by dump_io")
    ap.add_argument("--label-offset", type=int, default=None,
                    help="added to labels.txt classes (default: 1 for 1001-class outputs, else 0)")
    ap.add_argument("--reuse", action="store_true", help="reuse LiteRT outputs saved by an earlier run")
    ap.add_argument("--md", help="append the tables, in Markdown, to this file")
    args = ap.parse_args()

    meta, images = read_index(args.dump)
    out_dt, out_shape, _ = tensor_meta(meta, "output")
    n_cls = out_shape[-1]
    offset = args.label_offset if args.label_offset is not None else (1 if n_cls == 1001 else 0)
    res = load_ours(args.dump, meta, images)
    res.update(run_litert(args.dump, meta, images, args.reuse))
    names = OURS + [n for n, _ in LITERT]
    vals = {n: res[n].astype(np.int64) for n in names}
    top1 = {n: vals[n].argmax(axis=1) for n in names}  # first maximum on ties, for every engine
    labels = np.array([lab for _, lab, _ in images])
    labelled = labels >= 0
    n = len(images)

    lines = [f"### {os.path.basename(meta['model'])}: {n} images, label offset {offset}, "
             f"output {meta['output_dtype']}, ours on XNNPACK: {meta.get('xnnpack_nodes', '?')} nodes", "",
             "| pair | top-1 agrees | all within 1 step | bit-exact | max step diff |",
             "| --- | --- | --- | --- | --- |"]
    for a, b in itertools.combinations(names, 2):
        d = np.abs(vals[a] - vals[b]).max(axis=1)
        lines.append(f"| {a} vs {b} | {int((top1[a] == top1[b]).sum())}/{n} | {int((d <= 1).sum())}/{n} "
                     f"| {int((d == 0).sum())}/{n} | {int(d.max())} |")
    lines += ["", "| engine | top-1 accuracy |", "| --- | --- |"]
    for e in names:
        if labelled.any():
            ok = int((top1[e][labelled] == labels[labelled] + offset).sum())
            lines.append(f"| {e} | {ok}/{int(labelled.sum())} = {100.0 * ok / labelled.sum():.1f} % |")
        else:
            lines.append(f"| {e} | (no labels) |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.md:
        with open(args.md, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
