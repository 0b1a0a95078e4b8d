#!/usr/bin/env python3
"""Run every variant of a ladder in an independent TFLite runtime and compare
its top-1 with the figure `sightline bench` wrote into the manifest.

usage: ladder-crosscheck.py LADDER_DIR DIR [--label-offset K] [--crop F]
                            [--limit N] [--runtime litert|litert-ref|armnn]
                            [--sightline BIN] [--variants a,b,...]

litert: the ai-edge-litert package (pip), with its XNNPACK delegate;
litert-ref: the same with TFLite's reference kernels; armnn: Debian's python3-pyarmnn
(CpuRef backend, run with /usr/bin/python3; slow: ~7 s per MobileNet image; apt
packages python3-pyarmnn libarmnn-cpuref-backend22 python3-numpy python3-pil).
Preprocessing: --preprocess sightline (default) mirrors `sightline eval`
(central crop F with rounded edges, then its default area resize, a box
filter), so that any difference is the runtime's; --preprocess pil follows
../shared/reference/ref_eval.py (PIL's antialiasing bilinear). uint8 inputs
get raw pixels, int8 pixel-128, float inputs the manifest's preprocessing
range (default raw 0..255).
With --sightline BIN, the reference figure is `BIN eval` on exactly the same
images (the first N with --limit) instead of the manifest's, which `sightline
bench` measured on the whole folder: use it with --limit for slow runtimes.
With --dump-io BIN (tests/bench/dump_io), every variant instead gets the very
input bytes `sightline eval` feeds it (dumped with ours' outputs, first N images
with --limit): the runtime's top-1 is compared image by image with ours, so any
difference is the runtime's arithmetic, not preprocessing (PIL's box filter
and ours can differ by one level on some pixels, enough to flip an image in a
heavily pruned variant).
Exit status 1 when a variant differs from the reference by more than 1 point."""
import argparse, json, os, sys
import numpy as np
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument('ladder'); ap.add_argument('dir')
ap.add_argument('--label-offset', type=int, default=0)
ap.add_argument('--crop', type=float, default=None)
ap.add_argument('--limit', type=int, default=0)
ap.add_argument('--runtime', choices=['litert', 'litert-ref', 'armnn'], default='litert')
ap.add_argument('--preprocess', choices=['sightline', 'pil'], default='sightline')
ap.add_argument('--sightline', default=None, help='sightline binary: compare with its eval on the same images')
ap.add_argument('--variants', default=None, help='comma list of variant names (default: all)')
ap.add_argument('--dump-io', default=None, help='dump_io binary: feed the runtime our exact input bytes')
a = ap.parse_args()

mpath = a.ladder if a.ladder.endswith('.json') else os.path.join(a.ladder, 'manifest.json')
man = json.load(open(mpath))
pp = man.get('preprocessing', {})
crop = a.crop if a.crop is not None else pp.get('crop_fraction', 0.875)
lo, hi = pp.get('range', [0.0, 255.0])
rows = [l.split() for l in open(os.path.join(a.dir, 'labels.txt')) if l.strip()]
if a.limit:
    rows = rows[:a.limit]


class LiteRT:
    def __init__(self, path, ref=False):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        # litert-ref: TFLite's reference kernels, the int8 semantics ours are bit-exact with
        kw = {'experimental_op_resolver_type': OpResolverType.BUILTIN_REF} if ref else {}
        self.it = Interpreter(model_path=path, num_threads=1, **kw)
        self.it.allocate_tensors()
        self.i = self.it.get_input_details()[0]
        self.o = self.it.get_output_details()[0]
        self.shape, self.dtype = self.i['shape'], self.i['dtype']

    def run(self, x):
        self.it.set_tensor(self.i['index'], x.astype(self.dtype))
        self.it.invoke()
        y = self.it.get_tensor(self.o['index']).reshape(-1).astype(np.float64)
        s, z = self.o['quantization']
        return (y - z) * s if s else y


class ArmNN:
    def __init__(self, path):
        import pyarmnn as ann
        self.ann = ann
        p = ann.ITfLiteParser()
        net = p.CreateNetworkFromBinaryFile(path)
        self.ib = p.GetNetworkInputBindingInfo(0, p.GetSubgraphInputTensorNames(0)[0])
        self.ob = p.GetNetworkOutputBindingInfo(0, p.GetSubgraphOutputTensorNames(0)[0])
        self.rt = ann.IRuntime(ann.CreationOptions())
        opt, _ = ann.Optimize(net, [ann.BackendId('CpuRef')], self.rt.GetDeviceSpec(), ann.OptimizerOptions())
        self.nid, _ = self.rt.LoadNetwork(opt)
        sh = self.ib[1].GetShape()
        self.shape = [sh[k] for k in range(4)]
        dt = self.ib[1].GetDataType()
        self.dtype = {ann.DataType_Float32: np.float32, ann.DataType_QAsymmS8: np.int8}.get(dt, np.uint8)

    def run(self, x):
        ann = self.ann
        it = ann.make_input_tensors([self.ib], [x.astype(self.dtype)])
        ot = ann.make_output_tensors([self.ob])
        self.rt.EnqueueWorkload(self.nid, it, ot)
        return ann.workload_tensors_to_ndarray(ot)[0].reshape(-1).astype(np.float64)


cache = {}


def load(f, H, W):
    key = (f, H, W)
    if key not in cache:
        im = Image.open(os.path.join(a.dir, f)).convert('RGB')
        if a.preprocess == 'pil':
            if crop < 1.0:
                w, h = im.size; cw, ch = w * crop, h * crop
                im = im.crop(((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2))
            x = np.asarray(im.resize((W, H), Image.BILINEAR), dtype=np.float32)
        else:
            if crop < 1.0:
                w, h = im.size; cw, ch = w * crop, h * crop
                x0, x1 = int(np.floor((w - cw) / 2 + 0.5)), int(np.floor((w + cw) / 2 + 0.5))
                y0, y1 = int(np.floor((h - ch) / 2 + 0.5)), int(np.floor((h + ch) / 2 + 0.5))
                im = im.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)))
            w, h = im.size
            if (w, h) == (W, H):
                x = np.asarray(im, dtype=np.float32)
            else:  # `sightline eval`'s default resize is area (a box filter)
                x = np.asarray(im.resize((W, H), Image.BOX), dtype=np.float32)
        cache[key] = x[None]
    return cache[key]


bad = 0
want = set(a.variants.split(',')) if a.variants else None


def sightline_top1(path):
    import subprocess
    cmd = [a.sightline, 'eval', path, a.dir, '--label-offset', str(a.label_offset), '--crop', str(crop),
           '--json']
    if a.limit:
        cmd += ['--limit', str(a.limit)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)['top1']


def variants():
    """The selected variants of the manifest: (entry, file path, loaded runtime)."""
    for v in man['variants']:
        if want is not None and v['name'] not in want:
            continue
        path = v['file'] if os.path.isabs(v['file']) else os.path.join(os.path.dirname(mpath), v['file'])
        yield v, path, ArmNN(path) if a.runtime == 'armnn' else LiteRT(path, a.runtime == 'litert-ref')


def dumped(path, name):
    """Inputs and our (xnnpack backend) outputs of the first --limit images, as dump_io writes them."""
    import subprocess, tempfile
    out = os.path.join(tempfile.mkdtemp(prefix='crosscheck-'), name)
    cmd = [a.dump_io, '--dir', a.dir, '--crop', str(crop)]
    if a.limit:
        cmd += ['--limit', str(a.limit)]
    subprocess.run(cmd + [path, out], check=True, capture_output=True)
    meta, imgs = {}, []
    for line in open(os.path.join(out, 'index.tsv')):
        f = line.rstrip('\n').split('\t')
        if line.startswith('#'):
            meta[f[0][1:]] = f[1]
        else:
            imgs.append((f[0], int(f[1])))
    dt = {'uint8': np.uint8, 'int8': np.int8, 'float32': np.float32}
    ishape = [int(x) for x in meta['input_shape'].split(',')]
    for key, lab in imgs:
        x = np.fromfile(os.path.join(out, key + '.in'), dtype=dt[meta['input_dtype']]).reshape(ishape)
        y = np.fromfile(os.path.join(out, key + '.xnnpack.out'), dtype=dt[meta['output_dtype']])
        yield x, lab, int(np.argmax(y.astype(np.float64)))


if a.dump_io:
    print('%-22s %8s %8s %8s %6s' % ('variant', 'runtime', 'ours', 'agree', 'diff'))
    for v, path, r in variants():
        n = t_rt = t_ours = agree = 0
        for x, lab, ours in dumped(path, v['name']):
            y = r.run(x)
            top = int(np.argmax(y))  # first maximum, as ours
            lab += a.label_offset
            n += 1
            t_rt += int(top == lab)
            t_ours += int(ours == lab)
            agree += int(top == ours)
        diff = 100.0 * (t_rt - t_ours) / n
        bad += abs(diff) > 1.0
        print('%-22s %7.2f%% %7.2f%% %5d/%-3d %+6.2f' % (v['name'], 100.0 * t_rt / n, 100.0 * t_ours / n,
              agree, n, diff), flush=True)
    print('%d images, runtime %s, inputs: the bytes sightline feeds each variant' % (n, a.runtime))
    sys.exit(1 if bad else 0)

print('%-22s %8s %8s %8s %6s' % ('variant', 'top1', 'top5', 'bench', 'diff'))
for v, path, r in variants():
    H, W = int(r.shape[1]), int(r.shape[2])
    t1 = t5 = 0
    for f, lab in rows:
        x = load(f, H, W)
        if r.dtype == np.float32:
            x = x * ((hi - lo) / 255.0) + lo
        elif r.dtype == np.int8:
            x = x - 128
        y = r.run(x)
        top = np.argsort(-y, kind='stable')[:5]
        lab = int(lab) + a.label_offset
        t1 += int(top[0] == lab); t5 += int(lab in top)
    n = len(rows)
    ref = sightline_top1(path) if a.sightline else v.get('top1')
    diff = '' if ref is None else '%+.2f' % (100 * (t1 / n - ref))
    if ref is not None and abs(100 * (t1 / n - ref)) > 1.0:
        bad += 1
    print('%-22s %7.2f%% %7.2f%% %7s%% %6s' % (v['name'], 100 * t1 / n, 100 * t5 / n,
          '-' if ref is None else '%.2f' % (100 * ref), diff), flush=True)
print('%d images, runtime %s, preprocessing %s' % (len(rows), a.runtime, a.preprocess))
sys.exit(1 if bad else 0)
