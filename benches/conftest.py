"""Benchmark fixtures: the shape suite (a copy of the project's shared one) and the peers."""

import json
import pathlib

import numpy as np

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
