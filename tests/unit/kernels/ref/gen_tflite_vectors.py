#!/usr/bin/env python3
"""Golden vectors for the kernels/ref tests, computed by the real TFLite runtime.

Builds one single-operator .tflite model per case (random shapes, parameters and
data from a fixed seed), runs it with LiteRT's *reference* kernels
(OpResolverType.BUILTIN_REF) and writes inputs, constants and the expected
output to a text file that test_ref_tflite.c replays through sl_ref_prepare.

Needs `pip install ai-edge-litert numpy` (not needed to run the tests):
    python3 gen_tflite_vectors.py data/tflite_ref_vectors.txt
"""
import sys

import flatbuffers
import numpy as np
from ai_edge_litert import interpreter as litert
from ai_edge_litert import schema_py_generated as fb

TT = fb.TensorType
DT = {  # numpy dtype, TFLite type, name in the vector file
    'F32': (np.float32, TT.FLOAT32),
    'F16': (np.float16, TT.FLOAT16),
    'I8': (np.int8, TT.INT8),
    'U8': (np.uint8, TT.UINT8),
    'I32': (np.int32, TT.INT32),
}
QRANGE = {'I8': (-128, 127), 'U8': (0, 255)}
rng = np.random.default_rng(20241129)


class Graph:
    """One operator, its tensors and buffers."""

    def __init__(self):
        self.tensors = []  # dicts: dt, shape, q, data, const

    def add(self, dt, shape, q=None, data=None, const=False):
        if q is not None:  # scales exactly as stored (float32) so the text round-trips
            q = ([float(np.float32(s)) for s in q[0]], q[1], q[2])
        self.tensors.append(dict(dt=dt, shape=list(shape), q=q, data=data, const=const))
        return len(self.tensors) - 1

    def build(self, op, options_type, options, inputs, output):
        buffers = [fb.BufferT()]
        tensors = []
        for t in self.tensors:
            tt = fb.TensorT()
            tt.shape = t['shape']
            tt.type = DT[t['dt']][1]
            tt.buffer = 0
            if t['const']:
                b = fb.BufferT()
                b.data = np.frombuffer(t['data'].tobytes(), np.uint8)
                buffers.append(b)
                tt.buffer = len(buffers) - 1
            if t['q'] is not None:
                scales, zps, axis = t['q']
                qp = fb.QuantizationParametersT()
                qp.scale = [float(s) for s in scales]
                qp.zeroPoint = [int(z) for z in zps]
                qp.quantizedDimension = axis
                tt.quantization = qp
            tensors.append(tt)
        sg = fb.SubGraphT()
        sg.tensors = tensors
        sg.inputs = [i for i in inputs if i >= 0 and not self.tensors[i]['const']]
        sg.outputs = [output]
        o = fb.OperatorT()
        o.opcodeIndex = 0
        o.inputs = inputs
        o.outputs = [output]
        o.builtinOptionsType = options_type
        o.builtinOptions = options
        sg.operators = [o]
        oc = fb.OperatorCodeT()
        code = getattr(fb.BuiltinOperator, op)
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, 127)
        oc.version = 1
        m = fb.ModelT()
        m.version = 3
        m.operatorCodes = [oc]
        m.subgraphs = [sg]
        m.buffers = buffers
        m.description = 'sightline ref vector'
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b'TFL3')
        return bytes(b.Output()), sg.inputs


def run(model, graph, act_inputs, output):
    it = litert.Interpreter(model_content=model,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    ins = it.get_input_details()
    for d, ti in zip(ins, act_inputs):
        it.set_tensor(d['index'], graph.tensors[ti]['data'])
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]['index'])


def hexs(a):
    return a.tobytes().hex() or '-'


class Writer:
    def __init__(self, f):
        self.f = f
        self.n = 0

    def case(self, name, op, act, params, g, inputs, output, options_type, options):
        model, act_inputs = g.build(op, options_type, options, inputs, output)
        try:
            out = run(model, g, act_inputs, output)
        except Exception as e:  # a combination TFLite rejects: not a vector
            print(f'skip {name}: {e}', file=sys.stderr)
            return
        ot = g.tensors[output]
        ot['shape'] = list(out.shape)
        w = self.f.write
        w(f'case {name}\nop {op} {act}\np {len(params)} {" ".join(str(p) for p in params)}\n')
        w(f't {len(g.tensors)}\n')
        for t in g.tensors:
            scales, zps, axis = t['q'] if t['q'] is not None else ([], [], 0)
            data = t['data'] if t['data'] is not None and (t['const'] or t is not ot) else None
            w(f'{t["dt"]} {1 if t["const"] else 0} {len(t["shape"])} {" ".join(map(str, t["shape"]))} '
              f'{len(scales)} {axis} {" ".join("%.9g" % s for s in scales)} {" ".join(map(str, zps))} '
              f'{hexs(data) if data is not None else "-"}\n')
        w(f'node {len(inputs)} {" ".join(map(str, inputs))} {output}\n')
        w(f'expect {hexs(out)}\nend\n')
        self.n += 1


# ---- random data helpers ----

def qdata(dt, shape):
    lo, hi = QRANGE[dt]
    return rng.integers(lo, hi + 1, size=shape).astype(DT[dt][0])


def fdata(shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def qparams(dt):
    scale = float(np.float32(rng.uniform(0.01, 0.2)))
    zp = int(rng.integers(-20, 21)) if dt == 'I8' else int(rng.integers(100, 156))
    return scale, zp


def act_tensor(g, dt, shape, q=None):
    if dt == 'F32':
        return g.add(dt, shape, data=fdata(shape))
    return g.add(dt, shape, q=([q[0]], [q[1]], 0), data=qdata(dt, shape))


def out_tensor(g, dt, shape, q=None):
    return g.add(dt, shape, q=None if dt == 'F32' else ([q[0]], [q[1]], 0))


# ---- cases ----

def conv_cases(w, depthwise):
    op = 'DEPTHWISE_CONV_2D' if depthwise else 'CONV_2D'
    kinds = ['F32', 'U8', 'I8pc', 'I8pc', 'U8', 'F32', 'I8pc', 'U8']
    for n, kind in enumerate(kinds * 2):
        ih, iw = int(rng.integers(3, 9)), int(rng.integers(3, 9))
        ic = int(rng.integers(1, 5))
        dm = int(rng.integers(1, 3)) if depthwise else 1
        oc = ic * dm if depthwise else int(rng.integers(1, 6))
        fh, fw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        dh, dw = (1, 1) if n % 3 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        if (fh - 1) * dh + 1 > ih or (fw - 1) * dw + 1 > iw:
            dh = dw = 1
        pad = int(rng.integers(0, 2))
        act = int(rng.integers(0, 4))
        batch = 2 if n == 5 else 1
        g = Graph()
        fshape = [1, fh, fw, oc] if depthwise else [oc, fh, fw, ic]
        if kind == 'F32':
            x = act_tensor(g, 'F32', [batch, ih, iw, ic])
            f = g.add('F32', fshape, data=fdata(fshape), const=True)
            b = g.add('F32', [oc], data=fdata([oc]), const=True)
            o = out_tensor(g, 'F32', [batch, 1, 1, oc])
        else:
            dt = 'U8' if kind == 'U8' else 'I8'
            iq, oq = qparams(dt), qparams(dt)
            oq = (oq[0] * 4, oq[1])
            x = act_tensor(g, dt, [batch, ih, iw, ic], iq)
            if kind == 'U8':
                fs, fz = [float(np.float32(rng.uniform(0.005, 0.05)))], [int(rng.integers(90, 166))]
                fd = qdata('U8', fshape)
                axis = 0
            else:
                fs = [float(np.float32(rng.uniform(0.002, 0.03))) for _ in range(oc)]
                fz = [0] * oc
                fd = rng.integers(-127, 128, size=fshape).astype(np.int8)
                axis = 3 if depthwise else 0
            f = g.add(dt, fshape, q=(fs, fz, axis), data=fd, const=True)
            bs = [np.float32(iq[0]) * np.float32(s) for s in fs]
            b = g.add('I32', [oc], q=(bs, [0] * len(bs), 0),
                      data=rng.integers(-2000, 2000, size=[oc]).astype(np.int32), const=True)
            o = out_tensor(g, dt, [batch, 1, 1, oc], oq)
        if depthwise:
            opts = fb.DepthwiseConv2DOptionsT(padding=pad, strideW=sw, strideH=sh, depthMultiplier=dm,
                                              fusedActivationFunction=act, dilationWFactor=dw,
                                              dilationHFactor=dh)
            ot = fb.BuiltinOptions.DepthwiseConv2DOptions
        else:
            opts = fb.Conv2DOptionsT(padding=pad, strideW=sw, strideH=sh, fusedActivationFunction=act,
                                     dilationWFactor=dw, dilationHFactor=dh)
            ot = fb.BuiltinOptions.Conv2DOptions
        w.case(f'{op.lower()}_{kind}_{n}', op, act, [sh, sw, dh, dw, pad, dm], g, [x, f, b], o, ot, opts)


def fc_cases(w):
    for n, kind in enumerate(['F32', 'U8', 'I8', 'F32', 'U8', 'I8', 'I8pc', 'I8']):
        batch, depth, oc = int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 12))
        keep = n >= 3 and n % 2 == 1
        ishape = [1, batch, depth] if keep else [batch, depth]
        act = int(rng.integers(0, 4))
        g = Graph()
        if kind == 'F32':
            x = act_tensor(g, 'F32', ishape)
            f = g.add('F32', [oc, depth], data=fdata([oc, depth]), const=True)
            b = g.add('F32', [oc], data=fdata([oc]), const=True) if n % 2 == 0 else -1
            o = out_tensor(g, 'F32', [1])
        else:
            dt = 'U8' if kind == 'U8' else 'I8'
            iq, oq = qparams(dt), qparams(dt)
            oq = (oq[0] * 3, oq[1])
            x = act_tensor(g, dt, ishape, iq)
            if kind == 'U8':
                fs, fz, fd = [0.01], [int(rng.integers(100, 156))], qdata('U8', [oc, depth])
            elif kind == 'I8':
                fs, fz, fd = [0.02], [0], rng.integers(-127, 128, size=[oc, depth]).astype(np.int8)
            else:
                fs = [float(np.float32(rng.uniform(0.005, 0.03))) for _ in range(oc)]
                fz, fd = [0] * oc, rng.integers(-127, 128, size=[oc, depth]).astype(np.int8)
            f = g.add(dt, [oc, depth], q=(fs, fz, 0), data=fd, const=True)
            bs = [np.float32(iq[0]) * np.float32(s) for s in fs]
            b = g.add('I32', [oc], q=(bs, [0] * len(bs), 0),
                      data=rng.integers(-500, 500, size=[oc]).astype(np.int32), const=True) if n % 2 == 0 else -1
            o = out_tensor(g, dt, [1], oq)
        opts = fb.FullyConnectedOptionsT(fusedActivationFunction=act, keepNumDims=keep)
        w.case(f'fc_{kind}_{n}', 'FULLY_CONNECTED', act, [int(keep)], g, [x, f, b], o,
               fb.BuiltinOptions.FullyConnectedOptions, opts)


def binary_cases(w, op):
    shapes = [([2, 3, 4], [2, 3, 4]), ([1, 4, 4, 3], [3]), ([1, 4, 1, 3], [1, 1, 5, 1]), ([5], []),
              ([2, 1, 3], [1, 4, 3]), ([1, 3, 3, 8], [1, 3, 3, 8])]
    for n, dt in enumerate(['F32', 'U8', 'I8'] * 4):
        sa, sb = shapes[n % len(shapes)]
        if n % 5 == 4:
            sa, sb = sb, sa
        act = int(rng.integers(0, 4))
        g = Graph()
        qa, qb, qo = qparams(dt), qparams(dt), qparams(dt)
        if op == 'MUL':
            qo = (qo[0] * 0.3, qo[1])
        a = act_tensor(g, dt, sa, qa)
        # constant second operand now and then (e.g. a folded scale)
        if n % 4 == 3:
            bd = fdata(sb) if dt == 'F32' else qdata(dt, sb)
            b = g.add(dt, sb, q=None if dt == 'F32' else ([qb[0]], [qb[1]], 0), data=bd, const=True)
        else:
            b = act_tensor(g, dt, sb, qb)
        o = out_tensor(g, dt, [1], qo)
        if op == 'ADD':
            ot, opts = fb.BuiltinOptions.AddOptions, fb.AddOptionsT(fusedActivationFunction=act)
        else:
            ot, opts = fb.BuiltinOptions.MulOptions, fb.MulOptionsT(fusedActivationFunction=act)
        w.case(f'{op.lower()}_{dt}_{n}', op, act, [], g, [a, b], o, ot, opts)


def pool_cases(w, op):
    for n, dt in enumerate(['F32', 'U8', 'I8'] * 4):
        ih, iw, c = int(rng.integers(2, 9)), int(rng.integers(2, 9)), int(rng.integers(1, 5))
        fh, fw = int(rng.integers(1, min(ih, 4) + 1)), int(rng.integers(1, min(iw, 4) + 1))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        pad, act = int(rng.integers(0, 2)), int(rng.integers(0, 4))
        g = Graph()
        q = qparams(dt)
        x = act_tensor(g, dt, [1, ih, iw, c], q)
        o = out_tensor(g, dt, [1], q)
        opts = fb.Pool2DOptionsT(padding=pad, strideW=sw, strideH=sh, filterWidth=fw, filterHeight=fh,
                                 fusedActivationFunction=act)
        w.case(f'{op.lower()}_{dt}_{n}', op, act, [fh, fw, sh, sw, pad], g, [x], o,
               fb.BuiltinOptions.Pool2DOptions, opts)


def mean_cases(w):
    setups = [([1, 5, 4, 3], [1, 2], True), ([1, 5, 4, 3], [1, 2], False), ([2, 3, 4], [2], False),
              ([2, 3, 4], [0, 2], True), ([1, 7, 7, 16], [2, 1], False), ([3, 6], [-1], False)]
    n = 0
    for shape, axes, keep in setups:
        for dt in ('F32', 'U8', 'I8'):
            for same in ((False, True) if dt != 'F32' else (False,)):
                g = Graph()
                q = qparams(dt)
                oq = q if same else qparams(dt)
                x = act_tensor(g, dt, shape, q)
                ax = g.add('I32', [len(axes)], data=np.array(axes, np.int32), const=True)
                o = out_tensor(g, dt, [1], oq)
                w.case(f'mean_{dt}_{n}', 'MEAN', 0, [int(keep)], g, [x, ax], o, fb.BuiltinOptions.ReducerOptions,
                       fb.ReducerOptionsT(keepDims=keep))
                n += 1


def unary_cases(w, op):
    for n, dt in enumerate(['F32', 'U8', 'I8'] * 3):
        shape = [1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 9))]
        g = Graph()
        q = qparams(dt)
        if dt == 'F32':
            x = g.add('F32', shape, data=fdata(shape, -8, 8))
        else:
            x = act_tensor(g, dt, shape, (q[0] * 4, q[1]))
        if op == 'LOGISTIC':
            oq = (1.0 / 256, 0 if dt == 'U8' else -128)
        elif op == 'HARD_SWISH':
            oq = (q[0] * 3, q[1])
        else:
            oq = qparams(dt)
        o = out_tensor(g, dt, [1], oq)
        w.case(f'{op.lower()}_{dt}_{n}', op, 0, [], g, [x], o, 0, None)
    # exhaustive 8-bit inputs for the fixed-point/LUT paths
    if op in ('HARD_SWISH', 'LOGISTIC'):
        for dt in ('U8', 'I8'):
            for k in range(3):
                g = Graph()
                lo, hi = QRANGE[dt]
                iq = (float(np.float32([0.02, 0.06, 0.15][k])), [0, 128, 100][k] if dt == 'U8' else [0, -20, 10][k])
                x = g.add(dt, [1, 256], q=([iq[0]], [iq[1]], 0),
                          data=np.arange(lo, hi + 1).astype(DT[dt][0]).reshape(1, 256))
                oq = ((1.0 / 256, 0 if dt == 'U8' else -128) if op == 'LOGISTIC' else
                      (float(np.float32(iq[0] * [0.8, 0.5, 1.0][k])), iq[1] // 2))
                o = out_tensor(g, dt, [1], oq)
                w.case(f'{op.lower()}_{dt}_all_{k}', op, 0, [], g, [x], o, 0, None)


def softmax_cases(w):
    for n, dt in enumerate(['F32', 'U8', 'I8'] * 4):
        shape = [int(rng.integers(1, 4)), int(rng.integers(2, 40))]
        beta = [1.0, 1.0, 0.5, 2.0][n // 3]
        g = Graph()
        q = qparams(dt)
        x = act_tensor(g, dt, shape, (q[0] * [0.5, 1, 3, 10][n // 3], q[1]))
        o = out_tensor(g, dt, [1], (1.0 / 256, 0 if dt == 'U8' else -128))
        w.case(f'softmax_{dt}_{n}', 'SOFTMAX', 0, [beta], g, [x], o, fb.BuiltinOptions.SoftmaxOptions,
               fb.SoftmaxOptionsT(beta=beta))


def convert_cases(w):
    for n, (src, dst) in enumerate([('F32', 'U8'), ('F32', 'I8'), ('I8', 'U8'), ('U8', 'I8'), ('I8', 'I8'),
                                    ('U8', 'U8'), ('I8', 'U8'), ('F32', 'I8')]):
        shape = [2, int(rng.integers(1, 20))]
        g = Graph()
        iq, oq = qparams(src) if src != 'F32' else None, qparams(dst)
        if n == 6:  # TFLite's int8 -> uint8 sign flip: same scale, zero points 128 apart
            oq = (iq[0], iq[1] + 128)
        x = g.add(src, shape, data=fdata(shape, -10, 10)) if src == 'F32' else act_tensor(g, src, shape, iq)
        o = out_tensor(g, dst, [1], oq)
        w.case(f'quantize_{src}_{dst}_{n}', 'QUANTIZE', 0, [], g, [x], o, 0, None)
    for n, src in enumerate(['U8', 'I8', 'F16']):
        shape = [3, int(rng.integers(1, 20))]
        g = Graph()
        if src == 'F16':
            x = g.add('F16', shape, data=fdata(shape, -100, 100).astype(np.float16))
        else:
            x = act_tensor(g, src, shape, qparams(src))
        o = out_tensor(g, 'F32', [1])
        w.case(f'dequantize_{src}_{n}', 'DEQUANTIZE', 0, [], g, [x], o, 0, None)


def shape_cases(w):
    for n, dt in enumerate(['F32', 'U8', 'I8'] * 2):
        shape = [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))]
        pads = np.array([[0, 0], [int(rng.integers(0, 3)), int(rng.integers(0, 3))],
                         [int(rng.integers(0, 3)), int(rng.integers(0, 3))], [0, int(n % 2)]], np.int32)
        g = Graph()
        q = qparams(dt)
        x = act_tensor(g, dt, shape, q)
        p = g.add('I32', [4, 2], data=pads, const=True)
        o = out_tensor(g, dt, [1], q)
        w.case(f'pad_{dt}_{n}', 'PAD', 0, [], g, [x, p], o, fb.BuiltinOptions.PadOptions, fb.PadOptionsT())
    for n, dt in enumerate(['F32', 'U8', 'I8', 'U8', 'F32', 'I8']):
        axis = [3, 3, 3, 1, 0, 2][n]
        base = [1, 3, 4, 2]
        g = Graph()
        oq = qparams(dt)
        ins = []
        for k in range(2 + n % 2):
            s = list(base)
            s[axis] = int(rng.integers(1, 4))
            q = oq if dt == 'I8' or k == 0 else qparams(dt)
            ins.append(act_tensor(g, dt, s, q))
        o = out_tensor(g, dt, [1], oq)
        act = 0
        w.case(f'concat_{dt}_{n}', 'CONCATENATION', act, [axis], g, ins, o,
               fb.BuiltinOptions.ConcatenationOptions,
               fb.ConcatenationOptionsT(axis=axis, fusedActivationFunction=act))
    g = Graph()
    x = act_tensor(g, 'F32', [2, 3, 4])
    o = g.add('F32', [4, 6])
    w.case('reshape_F32', 'RESHAPE', 0, [], g, [x], o, fb.BuiltinOptions.ReshapeOptions,
           fb.ReshapeOptionsT(newShape=[4, 6]))


def realistic_cases(w):
    """MobileNet-like layer shapes and parameters (wider channels, 7x7 pools,
    1001-way softmax) to cover longer accumulations than the random cases."""
    def conv(name, op, dt, ishape, oc, k, stride, dm=1, act=3):
        g = Graph()
        iq, oq = qparams(dt), qparams(dt)
        oq = (oq[0] * 8, oq[1])
        x = act_tensor(g, dt, ishape, iq)
        depthwise = op == 'DEPTHWISE_CONV_2D'
        fshape = [1, k, k, oc] if depthwise else [oc, k, k, ishape[3]]
        if dt == 'U8':
            fs, fz, fd, axis = [0.01], [int(rng.integers(100, 156))], qdata('U8', fshape), 0
        else:
            fs = [float(np.float32(rng.uniform(0.002, 0.02))) for _ in range(oc)]
            fz, fd, axis = [0] * oc, rng.integers(-127, 128, size=fshape).astype(np.int8), 3 if depthwise else 0
        f = g.add(dt, fshape, q=(fs, fz, axis), data=fd, const=True)
        bs = [np.float32(iq[0]) * np.float32(v) for v in fs]
        b = g.add('I32', [oc], q=(bs, [0] * len(bs), 0), data=rng.integers(-5000, 5000, size=[oc]).astype(np.int32),
                  const=True)
        o = out_tensor(g, dt, [1], oq)
        if depthwise:
            opts = fb.DepthwiseConv2DOptionsT(padding=0, strideW=stride, strideH=stride, depthMultiplier=dm,
                                              fusedActivationFunction=act)
            ot = fb.BuiltinOptions.DepthwiseConv2DOptions
        else:
            opts = fb.Conv2DOptionsT(padding=0, strideW=stride, strideH=stride, fusedActivationFunction=act)
            ot = fb.BuiltinOptions.Conv2DOptions
        w.case(name, op, act, [stride, stride, 1, 1, 0, dm], g, [x, f, b], o, ot, opts)

    conv('mnet_conv_i8', 'CONV_2D', 'I8', [1, 16, 16, 8], 16, 3, 2)
    conv('mnet_conv_u8_first', 'CONV_2D', 'U8', [1, 15, 15, 3], 8, 3, 2)
    conv('mnet_pw_i8', 'CONV_2D', 'I8', [1, 8, 8, 32], 24, 1, 1, act=0)
    conv('mnet_dw_i8', 'DEPTHWISE_CONV_2D', 'I8', [1, 16, 16, 16], 16, 3, 1)
    conv('mnet_dw_i8_s2', 'DEPTHWISE_CONV_2D', 'I8', [1, 16, 16, 16], 16, 3, 2)
    conv('mnet_dw_u8_s2', 'DEPTHWISE_CONV_2D', 'U8', [1, 9, 9, 8], 8, 3, 2)
    for dt in ('U8', 'I8'):
        g = Graph()
        q = qparams(dt)
        x = act_tensor(g, dt, [1, 7, 7, 32], q)
        o = out_tensor(g, dt, [1], q)
        w.case(f'mnet_avgpool_{dt}', 'AVERAGE_POOL_2D', 0, [7, 7, 1, 1, 1], g, [x], o,
               fb.BuiltinOptions.Pool2DOptions,
               fb.Pool2DOptionsT(padding=1, strideW=1, strideH=1, filterWidth=7, filterHeight=7))
        g = Graph()
        x = act_tensor(g, dt, [1, 7, 7, 64], q)
        ax = g.add('I32', [2], data=np.array([1, 2], np.int32), const=True)
        o = out_tensor(g, dt, [1], qparams(dt))
        w.case(f'mnet_mean_{dt}', 'MEAN', 0, [0], g, [x, ax], o, fb.BuiltinOptions.ReducerOptions,
               fb.ReducerOptionsT(keepDims=False))
        g = Graph()
        x = act_tensor(g, dt, [1, 1001], (float(np.float32(0.1 + 0.05 * (dt == 'I8'))), q[1]))
        o = out_tensor(g, dt, [1], (1.0 / 256, 0 if dt == 'U8' else -128))
        w.case(f'mnet_softmax_{dt}', 'SOFTMAX', 0, [1.0], g, [x], o, fb.BuiltinOptions.SoftmaxOptions,
               fb.SoftmaxOptionsT(beta=1.0))
        g = Graph()
        iq = qparams(dt)
        x = act_tensor(g, dt, [1, 64], iq)
        f = g.add('U8' if dt == 'U8' else 'I8', [100, 64], q=([0.01], [128 if dt == 'U8' else 0], 0),
                  data=qdata('U8', [100, 64]) if dt == 'U8' else rng.integers(-127, 128, size=[100, 64]).astype(np.int8),
                  const=True)
        b = g.add('I32', [100], q=([np.float32(iq[0]) * np.float32(0.01)], [0], 0),
                  data=rng.integers(-3000, 3000, size=[100]).astype(np.int32), const=True)
        o = out_tensor(g, dt, [1], (iq[0] * 4, iq[1]))
        w.case(f'mnet_fc_{dt}', 'FULLY_CONNECTED', 0, [0], g, [x, f, b], o, fb.BuiltinOptions.FullyConnectedOptions,
               fb.FullyConnectedOptionsT())
        # hard-swish with a right-shifting reluish multiplier (small input scale)
        g = Graph()
        lo, hi = QRANGE[dt]
        x = g.add(dt, [1, 256], q=([0.005], [0 if dt == 'I8' else 128], 0),
                  data=np.arange(lo, hi + 1).astype(DT[dt][0]).reshape(1, 256))
        o = out_tensor(g, dt, [1], (0.004, -10 if dt == 'I8' else 60))
        w.case(f'hard_swish_{dt}_small_scale', 'HARD_SWISH', 0, [], g, [x], o, 0, None)
    g = Graph()
    ins = [act_tensor(g, 'U8', [1, 4, 4, c], qparams('U8')) for c in (3, 5, 2, 4)]
    o = out_tensor(g, 'U8', [1], qparams('U8'))
    w.case('concat_U8_four_scales', 'CONCATENATION', 0, [3], g, ins, o, fb.BuiltinOptions.ConcatenationOptions,
           fb.ConcatenationOptionsT(axis=3))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else 'tflite_ref_vectors.txt'
    with open(path, 'w') as f:
        f.write('# Generated by gen_tflite_vectors.py with LiteRT reference kernels; do not edit.\n')
        w = Writer(f)
        conv_cases(w, False)
        conv_cases(w, True)
        fc_cases(w)
        binary_cases(w, 'ADD')
        binary_cases(w, 'MUL')
        pool_cases(w, 'AVERAGE_POOL_2D')
        pool_cases(w, 'MAX_POOL_2D')
        mean_cases(w)
        for op in ('RELU', 'RELU6', 'HARD_SWISH', 'LOGISTIC'):
            unary_cases(w, op)
        softmax_cases(w)
        convert_cases(w)
        shape_cases(w)
        realistic_cases(w)
    print(f'{w.n} cases written to {path}')


if __name__ == '__main__':
    main()
