"""Pool backward passes on the shape suite: fastconv vs the NumPy reference and
torch.autograd on the same data (the backward of one recorded forward, timed alone).

Run: pytest benches/test_bench_pool_backward.py --benchmark-enable --benchmark-group-by=param:name
"""

import numpy as np
import pytest
from conftest import SHAPES, F, pool_backward, pool_backward_case, pool_forward, torch

import fastconv
from fastconv import reference

NAMES = sorted(SHAPES["pool2d"])


@pytest.mark.parametrize("name", NAMES)
def test_fastconv(benchmark, name):
    x, s, grad_out, idx = pool_backward_case(name)
    benchmark.extra_info["MB_moved"] = (x.nbytes + grad_out.nbytes) / 1e6
    grad = benchmark(pool_backward, fastconv, grad_out, idx, x, s)
    assert grad.shape == x.shape


@pytest.mark.parametrize("name", NAMES)
def test_reference(benchmark, name):
    x, s, grad_out, idx = pool_backward_case(name)
    benchmark.pedantic(pool_backward, args=(reference, grad_out, idx, x, s), rounds=3, iterations=1)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_torch_autograd(benchmark, name):
    x, s, grad_out, idx = pool_backward_case(name)
    xt = torch.from_numpy(x).requires_grad_()
    y = pool_forward(F, xt, s)
    (grad,) = benchmark(torch.autograd.grad, y, (xt,), torch.from_numpy(grad_out), retain_graph=True)
    np.testing.assert_allclose(grad.numpy(), pool_backward(fastconv, grad_out, idx, x, s), rtol=1e-5, atol=1e-6)
