"""Per-call overhead: a tiny conv2d (1x1x8x8, 3x3) and max_pool2d (1x1x8x8, 2) from Python.

Run: pytest benches/test_bench_overhead.py --benchmark-enable
"""

import numpy as np
import pytest
from conftest import F, torch

import fastconv

X = np.ones((1, 1, 8, 8), np.float32)
W = np.ones((1, 1, 3, 3), np.float32)


def test_fastconv_conv2d(benchmark):
    benchmark(fastconv.conv2d, X, W)


def test_fastconv_max_pool2d(benchmark):
    benchmark(fastconv.max_pool2d, X, 2)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_torch_conv2d(benchmark):
    with torch.no_grad():
        benchmark(F.conv2d, torch.from_numpy(X), torch.from_numpy(W))


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_torch_max_pool2d(benchmark):
    with torch.no_grad():
        benchmark(F.max_pool2d, torch.from_numpy(X), 2)
