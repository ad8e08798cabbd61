"""Benchmark fixtures: the shape suite (a copy of the project's shared one) and the peers."""

import json
import pathlib

import numpy as np

import fastconv

SHAPES = json.loads((pathlib.Path(__file__).parent / "bench_shapes.json").read_text())

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the benchmarks compare with PyTorch only when it is installed
    torch = None
    F = None


def conv_case(name):
    """(x, w, kwargs, flops) for a conv2d shape of the suite, float32 NCHW."""
    s = SHAPES["conv2d"][name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"]), dtype=np.float32)
    w = rng.standard_normal((s["K"], s["C"] // s["groups"], s["kh"], s["kw"]), dtype=np.float32)
    kwargs = dict(stride=s["stride"], padding=s["padding"], groups=s["groups"])
    oh = (s["H"] + 2 * s["padding"] - s["kh"]) // s["stride"] + 1
    ow = (s["W"] + 2 * s["padding"] - s["kw"]) // s["stride"] + 1
    flops = 2 * s["N"] * s["K"] * (s["C"] // s["groups"]) * s["kh"] * s["kw"] * oh * ow
    return x, w, kwargs, flops


def pool_case(name):
    """(x, params) for a pool2d shape of the suite, float32 NCHW."""
    s = SHAPES["pool2d"][name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"]), dtype=np.float32)
    return x, s


def pool_forward(lib, x, s, **kwargs):
    """The suite's pool ``s`` through fastconv, the reference or torch.nn.functional (the same names)."""
    if s["op"] == "global_avg":
        return lib.adaptive_avg_pool2d(x, 1, **kwargs)
    fn = lib.max_pool2d if s["op"] == "max" else lib.avg_pool2d
    return fn(x, s["k"], s["stride"], s["padding"], **kwargs)


def pool_backward(lib, grad_out, idx, x, s):
    """The input gradient of pool ``s`` through fastconv or the reference (idx: the max pools' indices)."""
    if s["op"] == "global_avg":
        return lib.adaptive_avg_pool2d_backward(grad_out, x.shape)
    if s["op"] == "max":
        return lib.max_pool2d_backward(grad_out, idx, x.shape)
    return lib.avg_pool2d_backward(grad_out, x.shape, s["k"], s["stride"], s["padding"])


def pool_backward_case(name):
    """(x, s, grad_out, indices or None) of a pool of the suite, through fastconv's forward."""
    x, s = pool_case(name)
    y = pool_forward(fastconv, x, s, **({"return_indices": True} if s["op"] == "max" else {}))
    y, idx = y if s["op"] == "max" else (y, None)
    return x, s, np.random.default_rng(1).standard_normal(y.shape, dtype=np.float32), idx



BLUR_FILTER_SIZE = 4  # Zhang's default


def blur_case(name):
    """(x, options) of anti-aliased pooling on a max pool of the suite (P1, P2, P5): the pool's
    window and padding at stride 1, then the 4-tap binomial blur at the pool's stride, reflect
    padding; float32 NCHW."""
    x, s = pool_case(name)
    return x, dict(kernel_size=s["k"], stride=s["stride"], filter_size=BLUR_FILTER_SIZE, padding=s["padding"],
                   padding_mode="reflect")


BLUR_NAMES = sorted(n for n, s in SHAPES["pool2d"].items() if s["op"] == "max")


def torch_blur(t, filter_size, stride, padding_mode):
    """blur_pool2d composed from torch ops: F.pad, then a depthwise convolution with the
    binomial filter at the stride (Zhang's recipe)."""
    row = torch.from_numpy(fastconv.reference.binomial_filter(filter_size).astype(np.float32))
    channels = t.shape[1]
    weight = torch.outer(row, row).expand(channels, 1, filter_size, filter_size).contiguous()
    before, after = fastconv.reference.blur_padding(filter_size)
    mode = "constant" if padding_mode == "zeros" else padding_mode
    return F.conv2d(F.pad(t, (before, after, before, after), mode=mode), weight, stride=stride, groups=channels)


def torch_max_blur(t, kernel_size, stride, filter_size, padding, padding_mode):
    """max_blur_pool2d composed from torch ops: F.max_pool2d at stride 1, then torch_blur."""
    return torch_blur(F.max_pool2d(t, kernel_size, 1, padding), filter_size, stride, padding_mode)


def blur_only(options):
    """The blur_pool2d options within max-blur options."""
    return {k: options[k] for k in ("filter_size", "stride", "padding_mode")}
