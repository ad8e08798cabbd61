"""Shared test helpers: the backend fixture, random data and the tolerance rule."""

import contextlib

import numpy as np
import pytest

import fastconv
from fastconv import _core
from fastconv import reference as ref

BACKENDS = _core.available_backends().split(",")
DTYPES = (np.float32, np.float64)
CONV_ALGORITHMS = ("direct", "im2col", "im2col_nhwc", "batched", "auto")  # every conv path, each tested


@pytest.fixture(params=BACKENDS, autouse=True)
def backend(request):
    """Every test runs once per microkernel set this CPU supports (the portable one always)."""
    previous = fastconv.backend()
    fastconv.set_backend(request.param)
    yield request.param
    fastconv.set_backend(previous)


@contextlib.contextmanager
def num_threads(n):
    """fastconv on n threads inside the block, the previous count restored after it."""
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(n)
    try:
        yield
    finally:
        fastconv.set_num_threads(before)


def random(shape, dtype=np.float64, seed=0, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


def assert_close(actual, expected, magnitude=None, terms=1):
    """Compare with a bound that fits the dtype and the reduction length.

    A sum of ``terms`` products computed in floating point differs from the exact one by at
    most about ``terms * eps * sum(|products|)``; ``magnitude`` is that sum of absolute values
    per output (e.g. the reference applied to |x| and |w|), or |expected| when omitted. The
    bound is tight enough that reading a wrong element fails.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    eps = np.finfo(actual.dtype).eps
    mag = np.abs(expected) if magnitude is None else np.abs(np.asarray(magnitude, dtype=np.float64))
    tol = 2 * eps * (terms + 1) * mag + np.finfo(actual.dtype).tiny
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), "NaN positions differ"
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bad = ~nan_a & (err > tol)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} elements out of tolerance; worst error {err[bad].max():.3g} "
        f"at {np.unravel_index(np.argmax(np.where(bad, err, 0)), err.shape)}")


def special(shape, dtype, seed=0, frac=0.2):
    """Random values with a fraction ``frac`` non-finite: half NaN, a quarter +inf, a quarter -inf."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape)
    u = rng.uniform(size=shape) / frac
    x[u < 0.5] = np.nan
    x[(u >= 0.5) & (u < 0.75)] = np.inf
    x[(u >= 0.75) & (u < 1)] = -np.inf
    return x.astype(dtype)


def ties(shape, dtype, seed=0):
    """Small integers, zeros of both signs: most windows hold repeated maxima."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, shape).astype(dtype)
    x[(x == 0) & (rng.uniform(size=shape) < 0.5)] = -0.0
    return x


def assert_exact(got, want):
    """Same shape, dtype, values, NaN positions and signs of zero (and of infinities). A NaN's
    sign bit is not compared: IEEE 754 leaves it unspecified for a NaN made by arithmetic, and
    which of two NaN operands an add passes on depends on the order the compiler gave it."""
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    assert np.array_equal(got, want, equal_nan=True), f"\n{got}\n!=\n{want}"
    if got.dtype.kind == "f":
        numbers = ~np.isnan(want)
        assert np.array_equal(np.signbit(got[numbers]), np.signbit(want[numbers])), "signs of zero differ"


def conv_inputs(xshape, wshape, dtype, bias=False, seed=0):
    """Random x, weight and (optionally) bias of one dtype."""
    x = random(xshape, dtype, seed)
    w = random(wshape, dtype, seed + 1)
    b = random((wshape[0],), dtype, seed + 2) if bias else None
    return x, w, b


def conv_check(x, w, b=None, fn="conv2d", **kw):
    """fastconv.<fn> matches the reference within the rounding bound; returns fastconv's result."""
    got = getattr(fastconv, fn)(x, w, b, **kw)
    expected = getattr(ref, fn)(x, w, b, **kw)
    mag_kw = {k: v for k, v in kw.items() if k != "activation"}
    magnitude = getattr(ref, fn)(np.abs(x), np.abs(w), None if b is None else np.abs(b), **mag_kw)
    assert_close(got, expected, magnitude, terms=int(np.prod(w.shape[1:])))
    return got


def load_script(name, path):
    """A repository script outside the package (a benchmark report, an example) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



def torch_blur(torch, t, filter_size, stride, padding_mode="reflect"):
    """blur_pool2d composed from torch ops (Zhang's recipe): F.pad with the blur's padding, then
    a depthwise convolution with the normalised binomial filter at the stride."""
    from fastconv import reference

    F = torch.nn.functional
    row = torch.from_numpy(reference.binomial_filter(filter_size)).to(t.dtype)
    channels = t.shape[1]
    weight = torch.outer(row, row).expand(channels, 1, filter_size, filter_size).contiguous()
    before, after = reference.blur_padding(filter_size)
    mode = "constant" if padding_mode == "zeros" else padding_mode
    return F.conv2d(F.pad(t, (before, after, before, after), mode=mode), weight, stride=stride, groups=channels)
