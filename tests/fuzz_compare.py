"""fastconv against its NumPy reference for one fuzzed call: when the reference is cheap
enough to run, whether fastconv may refuse a call the reference computes, and the
comparison of two results (conftest.assert_close's rounding bound; bit for bit for the max
pools and relu)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from conftest import assert_close, assert_exact
from fastconv import reference as ref
from fuzz_calls import NORM_TYPES, array_args

REFERENCE_MAX_INT = 64  # every integer argument at most this: the reference's loops stay short

EXACT = ("max_pool1d", "max_pool2d", "adaptive_max_pool2d", "global_max_pool2d", "relu")
CONV = ("conv1d", "conv2d", "conv_transpose2d")
CORRELATE = ("correlate2d", "convolve2d")
BACKWARD = ("conv1d_backward", "conv2d_backward", "conv_transpose2d_backward")


def _ints(value):
    """Every integer inside an argument (tuples and lists searched)."""
    if isinstance(value, (bool, np.bool_)):
        return []
    if isinstance(value, numbers.Integral):
        return [int(value)]
    if isinstance(value, (tuple, list)):
        return [i for v in value for i in _ints(v)]
    return []


def _is_one_of(value, values):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value in values


def _fits_float32(fillvalue):
    """A fill value beyond float32's range is inf in float32 images (as SciPy) but finite in
    the reference's float64 arithmetic: their results differ, neither is wrong."""
    try:
        value = float(fillvalue)
    except (TypeError, ValueError):
        return True  # refused by both
    return not math.isfinite(value) or abs(value) <= float(np.finfo(np.float32).max)


def comparable(call):
    """Whether the reference runs quickly on this call and computes what fastconv should."""
    scalars = [v for _, v in call.kwargs.items()] + list(call.args)
    return (all(spec.small for _, spec in array_args(call))
            and all(abs(i) <= REFERENCE_MAX_INT for v in scalars for i in _ints(v))
            and not (call.name.startswith("lp_pool2d") and not _is_one_of(call.kwargs.get("norm_type"), NORM_TYPES))
            and not (call.name in CORRELATE and not _fits_float32(call.kwargs.get("fillvalue", 0))))


def documented_refusal(call, args, kwargs):
    """Whether fastconv documents a ValueError for a call the reference (which ignores
    ``algorithm``) computes: conv2d's NHWC "direct" kernel is depthwise only."""
    if call.name != "conv2d" or kwargs.get("layout") != "NHWC" or kwargs.get("algorithm") != "direct":
        return False
    x, w = np.asarray(args[0]), np.asarray(args[1])
    return not kwargs.get("groups", 1) == x.shape[-1] == w.shape[0]


def lp_comparable(args, kwargs):
    """lp_pool2d of x**p for odd or fractional p cancels (or is NaN) on negative inputs: the
    root of a sum near zero amplifies rounding without bound, so compare only p = 1, 2 or
    inputs without negative values."""
    return kwargs["norm_type"] in (1, 2) or not np.any(np.asarray(args[0]) < 0)


def _lp_floor(dtype, terms, p):
    """x**p below the smallest normal number keeps less precision (or flushes to 0), so a
    sum of ``terms`` of them is only good to about terms * tiny, and its p-th root to
    (terms * tiny)**(1/p): as a magnitude, for conftest.assert_close's relative bound."""
    info = np.finfo(dtype)
    return (terms * float(info.tiny)) ** (1.0 / p) / (2 * float(info.eps) * (terms + 1))


def _abs(value):
    return value if value is None else np.abs(np.asarray(value))


def _without(kwargs, *names):
    return {k: v for k, v in kwargs.items() if k not in names}


def _plane_max(magnitude, layout):
    """Each output's magnitude raised to the largest of its (n, k) plane: the bound for
    Winograd, whose tile transforms spread one output's rounding over 16 outputs."""
    axes = (-3, -2) if layout == "NHWC" else (-2, -1)
    return np.broadcast_to(np.max(magnitude, axis=axes, keepdims=True), magnitude.shape)


def _winograd_pairs(x, w, kwargs):
    """An upper bound of the documented Winograd P = sum_c (sum of |x_c| over the tile's 6x6
    input window) * (sum of |w_kc|), broadcast to the output: 36 times each channel's largest
    |x| (padding only repeats input values or adds zeros), plus |bias|."""
    nhwc = kwargs.get("layout") == "NHWC"
    xb = x if x.ndim == 4 else x[None]
    planes = np.abs(xb.astype(np.float64)).max(axis=(1, 2) if nhwc else (2, 3), initial=0.0)  # (N, C)
    pairs = 36 * planes @ np.abs(w.astype(np.float64)).sum(axis=(2, 3)).T  # (N, K)
    bias = kwargs.get("bias")
    if bias is not None:
        pairs = pairs + np.abs(np.asarray(bias, np.float64))
    pairs = pairs[:, None, None, :] if nhwc else pairs[:, :, None, None]
    return pairs if x.ndim == 4 else pairs[0]


def _arrays(value):
    return list(value) if isinstance(value, tuple) else [value]


def _compare_backward(name, args, kwargs, got, want):
    """The gradients of a convolution backward, each within its own reduction's bound: an
    input gradient adds at most (filters or channels per group) x taps products, a weight or
    bias gradient at most one per element of grad_out (transposed: of x)."""
    grad_out, x, w = (np.asarray(a) for a in args[:3])
    assert list(got) == list(want), f"gradients {list(got)}, the reference's {list(want)}"
    magnitudes = getattr(ref, name)(np.abs(grad_out), np.abs(x), np.abs(w), **kwargs)
    taps = math.prod(w.shape[2:])
    transposed = name == "conv_transpose2d_backward"
    terms = {"input": (w.shape[1] if transposed else w.shape[0]) * taps,
             "weight": x.size if transposed else grad_out.size, "bias": grad_out.size}
    for key in want:
        assert_close(got[key], want[key], magnitudes[key], terms[key])
        not_finite = ~np.isfinite(want[key])
        assert np.array_equal(got[key][not_finite], want[key][not_finite], equal_nan=True), \
            f"non-finite {key} gradients differ"


def _compare_pool_backward(name, args, kwargs, got, want):
    """A pool's input gradient: each input position receives at most one share of each output
    of its plane (so that many terms), of at most |grad_out| (times x's factor for lp)."""
    if name == "relu_backward":
        assert_exact(got, want)
        return
    grad_out = np.asarray(args[0])
    selects = name.startswith("max_blur")  # x picks the max positions: |x| would pick others
    abs_args = (np.abs(grad_out),) + tuple(np.abs(np.asarray(a)) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                                           and not selects else a for a in args[1:])
    magnitude = getattr(ref, name)(*abs_args, **kwargs)
    nhwc = kwargs.get("layout") == "NHWC"
    plane = grad_out.shape[-3:-1] if nhwc and name != "max_pool1d_backward" else \
        grad_out.shape[-1:] if name.endswith("1d_backward") else grad_out.shape[-2:]
    terms = max(math.prod(plane), 1) + 2 * (name == "lp_pool2d_backward")
    assert_close(got, want, magnitude, terms)
    not_finite = ~np.isfinite(want)
    assert np.array_equal(got[not_finite], want[not_finite], equal_nan=True), "non-finite gradients differ"


def compare(name, args, kwargs, got, want):
    """fastconv's result ``got`` against the reference's ``want`` for the same arguments."""
    if name in BACKWARD:
        _compare_backward(name, args, kwargs, got, want)
        return
    if name.endswith("_backward"):
        _compare_pool_backward(name, args, kwargs, got, want)
        return
    if name in EXACT:
        for g, w in zip(_arrays(got), _arrays(want)):
            assert_exact(g, w)
        return
    x = np.asarray(args[0])
    if name in CONV:
        w = np.asarray(args[1])
        magnitude = getattr(ref, name)(_abs(x), _abs(w), _abs(kwargs.get("bias")),
                                       **_without(kwargs, "bias", "activation"))
        terms = math.prod(w.shape[1:]) if name != "conv_transpose2d" else w.shape[0] * math.prod(w.shape[2:])
        if kwargs.get("algorithm") == "winograd":
            magnitude = np.maximum(_plane_max(magnitude, kwargs.get("layout")),
                                   _winograd_pairs(x, w, kwargs) * 2 * (w.shape[1] + 64) / (terms + 65))
            terms += 64
    elif name in CORRELATE:
        fill = abs(float(kwargs.get("fillvalue", 0)))
        magnitude = getattr(ref, name)(_abs(x), _abs(args[1]), **dict(kwargs, fillvalue=fill))
        terms = np.asarray(args[1]).size
    else:  # summing pools: a window holds at most every pixel of a plane
        magnitude = getattr(ref, name)(_abs(x), **kwargs)
        plane = x.shape[-3:-1] if kwargs.get("layout") == "NHWC" else x.shape[-2:]
        terms = math.prod(x.shape[-1:] if name.endswith("1d") else plane) + 2 * (name == "lp_pool2d")
        if name == "lp_pool2d":
            magnitude = magnitude + _lp_floor(got.dtype, terms, kwargs["norm_type"])
    assert_close(got, want, magnitude, terms)
    not_finite = ~np.isfinite(want)
    assert np.array_equal(got[not_finite], want[not_finite], equal_nan=True), "non-finite outputs differ"
