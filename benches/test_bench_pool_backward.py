"""Pool backward passes on the shape suite: fastconv vs the NumPy reference and
torch.autograd on the same data (the backward of one recorded forward, timed alone).

Run: pytest benches/test_bench_pool_backward.py --benchmark-enable --benchmark-group-by=param:name
"""

import numpy as np
import pytest
from conftest import SHAPES, F, pool_case, torch

import fastconv
from fastconv import reference

NAMES = sorted(SHAPES["pool2d"])


def _forward(x, s):
    """fastconv's forward: (output, indices or None)."""
    if s["op"] == "global_avg":
        return fastconv.adaptive_avg_pool2d(x, 1), None
    if s["op"] == "max":
        return fastconv.max_pool2d(x, s["k"], s["stride"], s["padding"], return_indices=True)
    return fastconv.avg_pool2d(x, s["k"], s["stride"], s["padding"]), None


def _backward(lib, grad_out, idx, x, s):
    if s["op"] == "global_avg":
        return lib.adaptive_avg_pool2d_backward(grad_out, x.shape)
    if s["op"] == "max":
        return lib.max_pool2d_backward(grad_out, idx, x.shape)
    return lib.avg_pool2d_backward(grad_out, x.shape, s["k"], s["stride"], s["padding"])


def _case(name):
    x, s = pool_case(name)
    y, idx = _forward(x, s)
    return x, s, np.random.default_rng(1).standard_normal(y.shape, dtype=np.float32), idx


@pytest.mark.parametrize("name", NAMES)
def test_fastconv(benchmark, name):
    x, s, grad_out, idx = _case(name)
    benchmark.extra_info["MB_moved"] = (x.nbytes + grad_out.nbytes) / 1e6
    grad = benchmark(_backward, fastconv, grad_out, idx, x, s)
    assert grad.shape == x.shape


@pytest.mark.parametrize("name", NAMES)
def test_reference(benchmark, name):
    x, s, grad_out, idx = _case(name)
    benchmark.pedantic(_backward, args=(reference, grad_out, idx, x, s), rounds=3, iterations=1)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_torch_autograd(benchmark, name):
    x, s, grad_out, idx = _case(name)
    xt = torch.from_numpy(x).requires_grad_()
    if s["op"] == "global_avg":
        y = F.adaptive_avg_pool2d(xt, 1)
    elif s["op"] == "max":
        y = F.max_pool2d(xt, s["k"], s["stride"], s["padding"])
    else:
        y = F.avg_pool2d(xt, s["k"], s["stride"], s["padding"])
    (grad,) = benchmark(torch.autograd.grad, y, (xt,), torch.from_numpy(grad_out), retain_graph=True)
    np.testing.assert_allclose(grad.numpy(), _backward(fastconv, grad_out, idx, x, s), rtol=1e-5, atol=1e-6)
