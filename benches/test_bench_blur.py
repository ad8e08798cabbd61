"""Anti-aliased pooling on the suite's max-pool inputs (P1, P2, P5): fastconv's
max_blur_pool2d and blur_pool2d, forward and backward, vs the NumPy reference and the same
operations composed from PyTorch ops (max_pool2d at stride 1, F.pad, depthwise conv2d).

Run: pytest benches/test_bench_blur.py --benchmark-enable --benchmark-group-by=param:name
(benches/blur_report.py prints the ratios, measured side by side.)
"""

import numpy as np
import pytest
from conftest import BLUR_NAMES, blur_case, blur_only, torch, torch_blur, torch_max_blur

import fastconv
from fastconv import reference


def _record(benchmark, x):
    benchmark.extra_info["MB_moved"] = x.nbytes / 1e6


@pytest.mark.parametrize("name", BLUR_NAMES)
def test_fastconv_max_blur(benchmark, name):
    x, options = blur_case(name)
    _record(benchmark, x)
    benchmark(fastconv.max_blur_pool2d, x, **options)


@pytest.mark.parametrize("name", BLUR_NAMES)
def test_fastconv_blur(benchmark, name):
    x, options = blur_case(name)
    _record(benchmark, x)
    benchmark(fastconv.blur_pool2d, x, **blur_only(options))


@pytest.mark.parametrize("name", BLUR_NAMES)
def test_fastconv_max_blur_backward(benchmark, name):
    x, options = blur_case(name)
    _record(benchmark, x)
    grad = np.random.default_rng(1).standard_normal(fastconv.max_blur_pool2d(x, **options).shape, dtype=np.float32)
    benchmark(fastconv.max_blur_pool2d_backward, grad, x, **options)


@pytest.mark.parametrize("name", BLUR_NAMES)
def test_reference_max_blur(benchmark, name):
    x, options = blur_case(name)
    _record(benchmark, x)
    benchmark.pedantic(reference.max_blur_pool2d, args=(x,), kwargs=options, rounds=3, iterations=1)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", BLUR_NAMES)
def test_torch_max_blur(benchmark, name):
    x, options = blur_case(name)
    _record(benchmark, x)
    y = benchmark(torch_max_blur, torch.from_numpy(x), **options)
    np.testing.assert_allclose(y.numpy(), fastconv.max_blur_pool2d(x, **options), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", BLUR_NAMES)
def test_torch_blur(benchmark, name):
    x, options = blur_case(name)
    _record(benchmark, x)
    y = benchmark(torch_blur, torch.from_numpy(x), **blur_only(options))
    np.testing.assert_allclose(y.numpy(), fastconv.blur_pool2d(x, **blur_only(options)), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", BLUR_NAMES)
def test_torch_max_blur_backward(benchmark, name):
    x, options = blur_case(name)
    _record(benchmark, x)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch_max_blur(xt, **options)
    grad = torch.from_numpy(np.random.default_rng(1).standard_normal(tuple(yt.shape), dtype=np.float32))
    (got,) = benchmark(torch.autograd.grad, yt, (xt,), grad, retain_graph=True)
    np.testing.assert_allclose(got.numpy(), fastconv.max_blur_pool2d_backward(grad.numpy(), x, **options),
                               rtol=1e-4, atol=1e-5)
