"""float32 rounding error of every conv algorithm and summing pool against a float64
reference, on the benchmark shapes; prints Markdown tables.

    python benches/error_bounds.py [--backends portable avx2 avx512] [--shapes S1_resnet3x3 P3_avg2x2s2 ...]

Inputs are float32, from N(0, 1) ("normal": sums cancel), U[0, 1) ("uniform": they do not)
or N(0, 1) with 1% of the values times 1000 ("spiky": outliers in x and in w); the reference
is fastconv.reference on the same values as float64 (its own error, about 2**-53 relative,
is negligible here). Per output y of a reduction of L products x_i * w_i:

    (a) normwise       max |y32 - y64| / max |y64|
    (b) componentwise  max |y32 - y64| / sum_i |x_i w_i|   (over that output's own window)

The classical bound for a sum of L products in any order is |y32 - y64| <= gamma_L * sum |x w|,
gamma_L = L u / (1 - L u), u = 2**-24; the columns (b)/u, (b)/(sqrt(L) u) (the random-walk
growth rounding errors typically show) and (b)/(L u) (against that worst case) place each
measure. For a conv L = C/groups * kh * kw; batches and images are cut (MAX_SIDE, MAX_BATCH)
to keep the float64 reference cheap, but the channels and kernels, hence L, are the
benchmark's. Each row is the worst over the backends; algorithms with exactly equal errors
(the same summation) share a row.

Winograd mixes the 16 outputs of a 4x4 tile. Its own table gives the error over T, the
largest sum |x w| of the output's tile ("tile"), and over P = sum_c (sum of |x_c| over the
tile's 6x6 input window) * (sum of |w_kc|) ("pairs"): every product of an input and a tap
enters the transformed sums, also x_i w_j that no output of the tile contains, which then
cancels only up to rounding; with outliers in both x and w ("spiky") T no longer bounds the
error, P does.

Pools: the avg, sum and p = 2 power-average windows of each pool shape (L = the window), max
pooling (exact: its error must be 0) and the global average (L = H*W).
tests/test_error_bounds.py states the bounds and asserts them on these shapes (images cut
to 16x16).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib

import numpy as np

import fastconv
from fastconv import reference
from fastconv._error_bounds import winograd_tile_max

SHAPES = json.loads((pathlib.Path(__file__).parent / "bench_shapes.json").read_text())
U32 = 2.0 ** -24
MAX_SIDE = 32  # image sides cut to this
MAX_BATCH = 2  # batches cut to this, except batches of images no larger than SMALL_IMAGE pixels
SMALL_IMAGE = 28 * 28
DISTRIBUTIONS = ("normal", "uniform", "spiky")
SPIKES = 0.01, 1000.0  # fraction of "spiky" values, and their factor


def gamma(n, u=U32):
    """gamma_n = n u / (1 - n u): the relative bound of a sum of n products in any order."""
    return n * u / (1 - n * u)


# --------------------------------------------------------------------------- convolutions


def conv_shapes(names=None, max_side=MAX_SIDE):
    """{name: (x shape, weight shape, conv2d keyword arguments)} of the benchmark's conv shapes, cut."""
    shapes = {}
    for name, s in SHAPES["conv2d"].items():
        if names and name not in names:
            continue
        n = s["N"] if s["H"] * s["W"] <= SMALL_IMAGE else min(s["N"], MAX_BATCH)
        x = (n, s["C"], min(s["H"], max_side), min(s["W"], max_side))
        w = (s["K"], s["C"] // s["groups"], s["kh"], s["kw"])
        shapes[name] = x, w, dict(stride=s["stride"], padding=s["padding"], groups=s["groups"])
    return shapes


def reduction_length(wshape):
    return math.prod(wshape[1:])


def conv_variants(wshape, kw):
    """(label, algorithm, layout) of every conv path valid for this shape."""
    winograd = wshape[2:] == (3, 3) and kw["stride"] == 1 and kw["groups"] == 1
    depthwise = wshape[1] == 1 and kw["groups"] == wshape[0]
    variants = [("auto", "auto", "NCHW"), ("direct", "direct", "NCHW"), ("im2col", "im2col", "NCHW"),
                ("im2col_nhwc", "im2col_nhwc", "NCHW"), ("batched", "batched", "NCHW"),
                ("auto NHWC", "auto", "NHWC"), ("im2col NHWC", "im2col", "NHWC"), ("batched NHWC", "batched", "NHWC")]
    if depthwise:
        variants.append(("direct NHWC", "direct", "NHWC"))
    if winograd:
        variants += [("winograd", "winograd", "NCHW"), ("winograd NHWC", "winograd", "NHWC")]
    return variants


def draw(shape, distribution, dtype, seed):
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        return rng.uniform(0.0, 1.0, shape).astype(dtype)
    a = rng.standard_normal(shape)
    if distribution == "spiky":
        a[rng.uniform(size=shape) < SPIKES[0]] *= SPIKES[1]
    return a.astype(dtype)


def conv_inputs(xshape, wshape, distribution, dtype=np.float32, bias=False):
    """x, weight and (optionally) bias drawn from the distribution, in dtype."""
    b = draw(wshape[:1], distribution, dtype, 3) if bias else None
    return draw(xshape, distribution, dtype, 1), draw(wshape, distribution, dtype, 2), b


def conv_reference(x, w, b, kw):
    """(y, sum |x w| + |b| per output), both float64 NCHW."""
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    b64 = None if b is None else b.astype(np.float64)
    return (reference.conv2d(x64, w64, b64, **kw),
            reference.conv2d(np.abs(x64), np.abs(w64), None if b is None else np.abs(b64), **kw))


def conv_fast(x, w, b, algorithm, layout, kw, activation=None):
    """fastconv's conv2d of NCHW x in the given layout, returned NCHW."""
    if layout == "NHWC":
        y = fastconv.conv2d(np.ascontiguousarray(np.moveaxis(x, 1, -1)), w, b, algorithm=algorithm, layout="NHWC",
                            activation=activation, **kw)
        return np.moveaxis(y, -1, 1)
    return fastconv.conv2d(x, w, b, algorithm=algorithm, activation=activation, **kw)


def pairs_magnitude(x, w, padding):
    """P per output of a 3x3, stride-1, zero-padded conv of NCHW x: sum over channels of the
    sum of |x_c| over the 6x6 input window of the output's 4x4 tile times sum |w_kc|."""
    n, c, h, wd = x.shape
    oh, ow = h + 2 * padding - 2, wd + 2 * padding - 2
    th, tw = -(-oh // 4), -(-ow // 4)
    padded = np.zeros((n, c, 4 * th + 2, 4 * tw + 2))
    padded[:, :, padding:padding + h, padding:padding + wd] = np.abs(x)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (6, 6), axis=(2, 3))[:, :, ::4, ::4]
    p = np.einsum("ncij,kc->nkij", windows.sum(axis=(4, 5)), np.abs(w).sum(axis=(2, 3)))
    return np.repeat(np.repeat(p, 4, axis=2), 4, axis=3)[:, :, :oh, :ow]


def errors(y, y64, magnitude):
    """((a) normwise, (b) componentwise) error of y against y64, magnitude the per-output sum |x w|."""
    err = np.abs(y.astype(np.float64) - y64)
    return float(err.max() / np.abs(y64).max()), float((err / magnitude).max())


# --------------------------------------------------------------------------- pools


def pool_cases(names=None, max_side=MAX_SIDE):
    """{(shape name, op): (x shape, window size L, fastconv call, reference call, magnitude call)}.

    Each call takes x; the magnitude is the reference on |x| (for p = 2 the same as on x).
    """
    cases = {}
    for name, s in SHAPES["pool2d"].items():
        if names and name not in names:
            continue
        n = s["N"] if s["H"] * s["W"] <= SMALL_IMAGE else min(s["N"], MAX_BATCH)
        xshape = (n, s["C"], min(s["H"], max_side), min(s["W"], max_side))
        if s["op"] == "global_avg":
            cases[name, "global_avg"] = (xshape, xshape[2] * xshape[3], fastconv.global_avg_pool2d,
                                         reference.global_avg_pool2d, reference.global_avg_pool2d)
            continue
        k, stride, pad = s["k"], s["stride"], s["padding"]

        def bind(fn, *args, **kw):
            return lambda x: fn(x, *args, **kw)

        cases[name, "max"] = (xshape, k * k, bind(fastconv.max_pool2d, k, stride, pad),
                              bind(reference.max_pool2d, k, stride, pad), None)
        for op, fast, slow in (("avg", fastconv.avg_pool2d, reference.avg_pool2d),
                               ("sum", fastconv.sum_pool2d, reference.sum_pool2d)):
            cases[name, op] = (xshape, k * k, bind(fast, k, stride, pad), bind(slow, k, stride, pad),
                               bind(slow, k, stride, pad))
        cases[name, "lp2"] = (xshape, k * k, bind(fastconv.lp_pool2d, 2, k, stride),
                              bind(reference.lp_pool2d, 2, k, stride), bind(reference.lp_pool2d, 2, k, stride))
    return cases


# --------------------------------------------------------------------------- report


def fmt(v):
    return f"{v:.3g}"


def conv_rows(shapes, backends):
    """The conv table's rows and the Winograd table's; variants whose errors are exactly equal
    (the same summation) share a row."""
    rows, winograd_rows = {}, []
    for name, (xshape, wshape, kw) in shapes.items():
        L = reduction_length(wshape)
        for distribution in DISTRIBUTIONS:
            x, w, _ = conv_inputs(xshape, wshape, distribution)
            y64, magnitude = conv_reference(x, w, None, kw)
            for label, algorithm, layout in conv_variants(wshape, kw):
                a = b = tile = pairs = 0.0
                for backend in backends:
                    fastconv.set_backend(backend)
                    y = conv_fast(x, w, None, algorithm, layout, kw)
                    normwise, componentwise = errors(y, y64, magnitude)
                    a, b = max(a, normwise), max(b, componentwise)
                    if algorithm == "winograd":
                        tile = max(tile, errors(y, y64, winograd_tile_max(magnitude))[1])
                        pairs = max(pairs, errors(y, y64, pairs_magnitude(x, w, kw["padding"]))[1])
                rows.setdefault((name, L, distribution, a, b), []).append(label)
                if algorithm == "winograd":
                    winograd_rows.append([name, L, label, distribution, fmt(b / (L * U32)), fmt(tile / U32),
                                          fmt(tile / ((L + 64) * U32)), fmt(pairs / U32)])
    table = [[name, L, ", ".join(labels), distribution, fmt(a), fmt(b), fmt(b / U32), fmt(b / (math.sqrt(L) * U32)),
              fmt(b / (L * U32))] for (name, L, distribution, a, b), labels in rows.items()]
    return table, winograd_rows


def pool_rows(cases, backends):
    rows = []
    for (name, op), (xshape, L, fast, slow, mag) in cases.items():
        for distribution in DISTRIBUTIONS:
            x = draw(xshape, distribution, np.float32, 4)
            y64 = slow(x.astype(np.float64))
            magnitude = mag(np.abs(x.astype(np.float64))) if mag else np.abs(y64)  # max: any, its error is 0
            magnitude = np.maximum(magnitude, np.finfo(np.float64).tiny)
            a = b = 0.0
            for backend in backends:
                fastconv.set_backend(backend)
                normwise, componentwise = errors(fast(x), y64, magnitude)
                a, b = max(a, normwise), max(b, componentwise)
            rows.append([name, L, op, distribution, fmt(a), fmt(b), fmt(b / U32), fmt(b / (math.sqrt(L) * U32)),
                         fmt(b / (L * U32))])
    return rows


def print_table(head, rows):
    print("| " + " | ".join(h.replace("|", "\\|") for h in head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=fastconv._core.available_backends().split(","))
    parser.add_argument("--shapes", nargs="+", help="benchmark shape names (default: all)")
    args = parser.parse_args()
    before = fastconv.backend()
    fastconv.set_num_threads(1)  # the results do not depend on it (tests/test_determinism.py)
    try:
        conv, winograd = conv_rows(conv_shapes(args.shapes), args.backends)
        pools = pool_rows(pool_cases(args.shapes), args.backends)
    finally:
        fastconv.set_backend(before)
    measures = ["(a) max|err|/max|y|", "(b) max err/Σ|xw|", "(b)/u", "(b)/(√L·u)", "(b)/(L·u)"]
    print(f"float32 against float64, worst over backends {', '.join(args.backends)}; u = 2^-24\n")
    print_table(["shape", "L", "algorithm", "data"] + measures, conv)
    if winograd:
        print("Winograd: the error over T, the largest Σ|xw| of the output's 4x4 tile, and over P (see above)\n")
        print_table(["shape", "L", "algorithm", "data", "(b)/(L·u)", "tile/u", "tile/((L+64)·u)", "pairs/u"], winograd)
    print_table(["shape", "L", "pool", "data"] + [m.replace("Σ|xw|", "pool(|x|)") for m in measures], pools)


if __name__ == "__main__":
    main()
