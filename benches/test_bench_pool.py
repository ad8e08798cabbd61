"""Pooling on the shape suite: fastconv vs the NumPy reference and PyTorch.

Run: pytest benches --benchmark-enable --benchmark-group-by=param:name
"""

import numpy as np
import pytest
from conftest import SHAPES, F, pool_case, torch

import fastconv
from fastconv import reference

NAMES = sorted(SHAPES["pool2d"])


def _call(lib, x, s, **layout):
    if s["op"] == "global_avg":
        return lib.adaptive_avg_pool2d(x, 1, **layout)
    fn = lib.max_pool2d if s["op"] == "max" else lib.avg_pool2d
    return fn(x, s["k"], s["stride"], s["padding"], **layout)


def _record(benchmark, x, s):
    benchmark.extra_info["MB_moved"] = x.nbytes / 1e6


@pytest.mark.parametrize("name", NAMES)
def test_fastconv(benchmark, name):
    x, s = pool_case(name)
    _record(benchmark, x, s)
    benchmark(_call, fastconv, x, s)


@pytest.mark.parametrize("name", NAMES)
def test_fastconv_nhwc(benchmark, name):
    x, s = pool_case(name)
    _record(benchmark, x, s)
    benchmark(_call, fastconv, np.ascontiguousarray(x.transpose(0, 2, 3, 1)), s, layout="NHWC")


@pytest.mark.parametrize("name", NAMES)
def test_reference(benchmark, name):
    x, s = pool_case(name)
    _record(benchmark, x, s)
    benchmark.pedantic(_call, args=(reference, x, s), rounds=3, iterations=1)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_torch(benchmark, name):
    x, s = pool_case(name)
    _record(benchmark, x, s)
    y = benchmark(_call, F, torch.from_numpy(x), s)
    np.testing.assert_array_equal(y.numpy(), _call(fastconv, x, s)) if s["op"] == "max" else \
        np.testing.assert_allclose(y.numpy(), _call(fastconv, x, s), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_torch_channels_last(benchmark, name):
    x, s = pool_case(name)
    _record(benchmark, x, s)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # as the NHWC bench's input (see test_bench_conv.py)
    y = benchmark(_call, F, torch.from_numpy(x_nhwc).permute(0, 3, 1, 2), s)
    ours = _call(fastconv, x_nhwc, s, layout="NHWC")
    np.testing.assert_allclose(y.permute(0, 2, 3, 1).numpy(), ours, rtol=1e-5, atol=1e-6)
