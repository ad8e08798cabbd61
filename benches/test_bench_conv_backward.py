"""conv2d_backward (input, weight and bias gradients) on the shape suite: fastconv vs the
NumPy reference and torch.autograd on the same data.

Run: pytest benches/test_bench_conv_backward.py --benchmark-enable --benchmark-group-by=param:name
"""

import numpy as np
import pytest
from conftest import SHAPES, conv_case, torch

import fastconv
from fastconv import reference

NAMES = sorted(SHAPES["conv2d"])
REFERENCE_NAMES = ["S3_pointwise", "S4_depthwise", "S5b_lenet2"]  # the reference takes seconds on the others


def _grad_out(x, w, kwargs):
    out_shape = fastconv.conv2d(x, w, **kwargs).shape
    return np.random.default_rng(1).standard_normal(out_shape, dtype=np.float32)


def _record(benchmark, flops):
    benchmark.extra_info["GFLOP"] = 2 * flops / 1e9  # input and weight gradients: a forward's worth each


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("name", NAMES)
def test_fastconv(benchmark, name, layout):
    x, w, kwargs, flops = conv_case(name)
    go = _grad_out(x, w, kwargs)
    if layout == "NHWC":
        x, go = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(go.transpose(0, 2, 3, 1))
    _record(benchmark, flops)
    grads = benchmark(fastconv.conv2d_backward, go, x, w, layout=layout, **kwargs)
    assert grads["input"].shape == x.shape and grads["weight"].shape == w.shape


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference(benchmark, name):
    x, w, kwargs, flops = conv_case(name)
    go = _grad_out(x, w, kwargs)
    _record(benchmark, flops)
    benchmark.pedantic(reference.conv2d_backward, args=(go, x, w), kwargs=kwargs, rounds=3, iterations=1)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_torch_autograd(benchmark, name):
    """The backward of one recorded forward, timed alone (retain_graph), three gradients as ours."""
    x, w, kwargs, flops = conv_case(name)
    go = _grad_out(x, w, kwargs)
    _record(benchmark, flops)
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    bt = torch.zeros(w.shape[0], requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, bt, **kwargs)
    got = benchmark(torch.autograd.grad, y, (xt, wt, bt), torch.from_numpy(go), retain_graph=True)
    ours = fastconv.conv2d_backward(go, x, w, **kwargs)
    scale = float(np.abs(ours["weight"]).max()) + 1.0
    np.testing.assert_allclose(got[1].numpy(), ours["weight"], rtol=1e-3, atol=1e-4 * scale)
