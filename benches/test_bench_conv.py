"""conv2d on the shape suite: fastconv (each algorithm) vs the NumPy reference and PyTorch.

Run: pytest benches --benchmark-enable --benchmark-group-by=param:name
"""

import numpy as np
import pytest
from conftest import SHAPES, F, conv_case, torch

import fastconv
from fastconv import reference

NAMES = sorted(SHAPES["conv2d"])
# The NumPy reference is slow; time it only where it finishes in well under a second.
REFERENCE_NAMES = ["S1_resnet3x3", "S3_pointwise", "S4_depthwise", "S5b_lenet2", "S8_image5x5"]


def _winograd_applies(s):
    return (s["kh"], s["kw"], s["stride"], s.get("dilation", 1), s["groups"]) == (3, 3, 1, 1, 1)


# Every algorithm on every shape it takes: Winograd takes 3x3, stride 1, dilation 1, one group.
NCHW_ALGORITHMS = ("auto", "direct", "im2col", "im2col_nhwc", "batched")
ALGORITHM_CASES = [(name, algorithm) for name in NAMES for algorithm in NCHW_ALGORITHMS]
ALGORITHM_CASES += [(name, "winograd") for name in NAMES if _winograd_applies(SHAPES["conv2d"][name])]
NHWC_CASES = [(name, algorithm) for name in NAMES for algorithm in ("auto", "im2col", "batched")]
NHWC_CASES += [(name, "winograd") for name in NAMES if _winograd_applies(SHAPES["conv2d"][name])]


def _record(benchmark, flops):
    benchmark.extra_info["GFLOP"] = flops / 1e9


@pytest.mark.parametrize("name, algorithm", ALGORITHM_CASES)
def test_fastconv(benchmark, name, algorithm):
    x, w, kwargs, flops = conv_case(name)
    _record(benchmark, flops)
    y = benchmark(fastconv.conv2d, x, w, algorithm=algorithm, **kwargs)
    assert y.shape[0] == x.shape[0] and y.shape[1] == w.shape[0]


@pytest.mark.parametrize("name, algorithm", NHWC_CASES)
def test_fastconv_nhwc(benchmark, name, algorithm):
    x, w, kwargs, flops = conv_case(name)
    _record(benchmark, flops)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = benchmark(fastconv.conv2d, x_nhwc, w, algorithm=algorithm, layout="NHWC", **kwargs)
    assert y.shape[0] == x.shape[0] and y.shape[3] == w.shape[0]


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference(benchmark, name):
    x, w, kwargs, flops = conv_case(name)
    _record(benchmark, flops)
    benchmark.pedantic(reference.conv2d, args=(x, w), kwargs=kwargs, rounds=3, iterations=1)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_torch(benchmark, name):
    x, w, kwargs, flops = conv_case(name)
    _record(benchmark, flops)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    with torch.no_grad():
        y = benchmark(F.conv2d, xt, wt, **kwargs)
    np.testing.assert_allclose(y.numpy(), fastconv.conv2d(x, w, **kwargs), rtol=1e-3, atol=1e-3)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_torch_channels_last(benchmark, name):
    x, w, kwargs, flops = conv_case(name)
    _record(benchmark, flops)
    # A view of an NHWC NumPy array made as the fastconv NHWC benches make theirs (see
    # benches/report.py: neither library gets better-aligned data).
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    xt = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)
    wt = torch.from_numpy(w).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        y = benchmark(F.conv2d, xt, wt, **kwargs)
    np.testing.assert_allclose(y.permute(0, 2, 3, 1).numpy(), fastconv.conv2d(x_nhwc, w, layout="NHWC", **kwargs),
                               rtol=1e-3, atol=1e-3)
