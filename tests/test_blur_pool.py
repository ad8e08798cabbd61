"""The blur pool kernels (fastconv.blur_pool2d/1d, max_blur_pool2d/1d) against the NumPy
reference on every backend (conftest's autouse fixture), both dtypes and layouts, awkward
shapes, non-finite values and bad input; and against the same operation composed from
PyTorch ops."""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, num_threads, random, special, torch_blur
from fastconv import reference as ref

MODES = ("reflect", "replicate", "zeros", "circular")


def nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, -3, -1))


def check(got, x_for_ref, name, *args, **kwargs):
    """got against the reference, within the rounding of k*k terms of Σ|w x|."""
    want = getattr(ref, name)(x_for_ref, *args, **kwargs)
    magnitude = getattr(ref, name)(np.abs(x_for_ref), *args, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert_close(got, want, magnitude, 49)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("stride", [1, 2, 3, (1, 2), (4, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_pool2d_matches_reference(k, stride, dtype):
    x = random((2, 3, 23, 34), dtype, seed=k)
    for mode in MODES:
        check(fastconv.blur_pool2d(x, k, stride, mode), x, "blur_pool2d", k, stride, mode)
        check(fastconv.blur_pool2d(nhwc(x), k, stride, mode, layout="NHWC"), nhwc(x), "blur_pool2d", k, stride, mode,
              layout="NHWC")


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 1, 1, 9), (1, 2, 9, 1), (1, 1, 2, 3), (3, 17, 5, 4),
                                   (1, 40, 3, 3), (0, 3, 8, 8), (2, 0, 8, 8), (4, 5)])
@pytest.mark.parametrize("mode", MODES)
def test_awkward_shapes(shape, mode):
    """1x1 images, images smaller than the filter (reflect and circular then wrap more than
    once), a stride larger than the image, many channels (NHWC's channel vectors), batch 0,
    no channels, an unbatched image."""
    x = random(shape if len(shape) == 4 else (2,) + shape, np.float32, seed=1)  # (2, 4, 5): unbatched
    for k, stride in ((7, 2), (4, 5), (2, 1)):
        check(fastconv.blur_pool2d(x, k, stride, mode), x, "blur_pool2d", k, stride, mode)
        check(fastconv.blur_pool2d(nhwc(x), k, stride, mode, layout="NHWC"), nhwc(x), "blur_pool2d", k, stride, mode,
              layout="NHWC")


@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_pool1d_matches_reference(dtype):
    x = random((3, 5, 41), dtype, seed=2)
    for k in range(1, 8):
        for stride in (1, 2, 3):
            for mode in MODES:
                check(fastconv.blur_pool1d(x, k, stride, mode), x, "blur_pool1d", k, stride, mode)
    check(fastconv.blur_pool1d(x[0, :, :1], 5, 2), x[0, :, :1], "blur_pool1d", 5, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_max_blur_pool_matches_reference(dtype, layout):
    x = special((2, 3, 17, 14), dtype, seed=3, frac=0.05)  # NaN and inf: the max keeps them, the blur spreads them
    x = nhwc(x) if layout == "NHWC" else x
    for kernel, padding, stride, k in ((2, 0, 2, 4), (3, 1, 2, 3), ((2, 3), (1, 1), (1, 2), 5)):
        got = fastconv.max_blur_pool2d(x, kernel, stride, k, padding, layout=layout)
        want = ref.max_blur_pool2d(x, kernel, stride, k, padding, layout=layout)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        finite = np.isfinite(want)
        np.testing.assert_array_equal(got[~finite], want[~finite])
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5 if dtype == np.float32 else 1e-13,
                                   atol=1e-5 if dtype == np.float32 else 1e-13)
    x1 = random((2, 3, 30), dtype, seed=4)
    check(fastconv.max_blur_pool1d(x1, 3, 2, 4, padding=1), x1, "max_blur_pool1d", 3, 2, 4, padding=1)


def test_noncontiguous_and_list_inputs():
    x = random((2, 3, 20, 18), np.float64, seed=5)
    view = x[:, ::-1, ::2, 1::2]
    np.testing.assert_array_equal(fastconv.blur_pool2d(view), fastconv.blur_pool2d(np.ascontiguousarray(view)))
    assert fastconv.blur_pool1d([[1.0, 2.0, 3.0]]).shape == (1, 2)


def test_results_do_not_depend_on_the_thread_count():
    x = random((4, 16, 64, 61), np.float32, seed=6)
    results = []
    for threads in (1, 2, 3, 4):
        with num_threads(threads):
            results.append((fastconv.blur_pool2d(x, 5, 2), fastconv.blur_pool2d(nhwc(x), 4, 2, layout="NHWC")))
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_the_same_operation_composed_from_torch_ops(dtype):
    """Zhang's recipe in PyTorch: max_pool2d at stride 1, reflect padding, a depthwise
    convolution with the binomial filter at the stride."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = random((2, 6, 31, 28), dtype, seed=7)
    tx = torch.from_numpy(x)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(fastconv.blur_pool2d(x, 4, 2), torch_blur(torch, tx, 4, 2).numpy(), **tol)
    np.testing.assert_allclose(fastconv.max_blur_pool2d(x, 2, 2, 4),
                               torch_blur(torch, F.max_pool2d(tx, 2, 1), 4, 2).numpy(), **tol)


X = np.zeros((1, 2, 6, 6))


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.blur_pool2d(X, 0), ValueError, "filter_size"),
    (lambda: fastconv.blur_pool2d(X, 8), ValueError, "filter_size"),
    (lambda: fastconv.blur_pool2d(X, 3.0), TypeError, "filter_size"),
    (lambda: fastconv.blur_pool2d(X, 3, -1), ValueError, "stride"),
    (lambda: fastconv.blur_pool2d(X, 3, (2, 2, 2)), ValueError, "stride"),
    (lambda: fastconv.blur_pool2d(X, 3, 2, "symmetric"), ValueError, "padding_mode"),
    (lambda: fastconv.blur_pool2d(X, 3, 2, layout="CHWN"), ValueError, "layout"),
    (lambda: fastconv.blur_pool2d(X[:, :, :0], 3), ValueError, "non-empty"),
    (lambda: fastconv.blur_pool2d(X[0, 0], 3), ValueError, r"\(N, C, H, W\) or \(C, H, W\)"),
    (lambda: fastconv.blur_pool2d(X.astype(np.int32), 3), TypeError, "x"),
    (lambda: fastconv.blur_pool1d(X, 3), ValueError, r"\(N, C, L\) or \(C, L\)"),
    (lambda: fastconv.max_blur_pool2d(X, 7), ValueError, "kernel_size|window|input"),
    (lambda: fastconv.max_blur_pool2d(X, 2, padding=2), ValueError, "padding"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("width", [7, 15, 31])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_whose_last_vector_reads_the_slack_value(width, dtype):
    """W = 2L - 1 with an odd filter and stride 2: the last full vector of the horizontal pass
    reads one value past the padded row (into the zeroed slack), for L = 4, 8 and 16 lanes."""
    x = random((1, 2, 5, width), dtype, seed=width)
    for k in (3, 5, 7):
        for mode in MODES:
            check(fastconv.blur_pool2d(x, k, 2, mode), x, "blur_pool2d", k, 2, mode)
