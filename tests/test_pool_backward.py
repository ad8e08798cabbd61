"""The pools' and relu's backward passes against the NumPy reference's (themselves checked
against finite differences and torch in test_reference_backward.py), on every backend, both
dtypes and both layouts; torch parity; bad input."""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, random, special
from fastconv import reference as ref


def nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def random_pool(seed, nd=2):
    """A random valid pool configuration: (x shape NCHW or NCL, keyword arguments)."""
    rng = np.random.default_rng(seed)
    k = tuple(int(v) for v in rng.integers(1, 5, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    sizes = tuple(int(kk + rng.integers(0, 9)) for kk in k)
    shape = (int(rng.integers(0, 3)), int(rng.integers(1, 5))) + sizes
    return shape, dict(kernel_size=k, stride=s, padding=p, ceil_mode=bool(rng.integers(0, 2)))


def window_terms(kwargs):
    """Most windows one input position can lie in (all taps' windows at stride 1)."""
    return int(np.prod(kwargs["kernel_size"]))


def layout_input(x, layout):
    return nhwc(x) if layout == "NHWC" else x


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_matches_reference(seed, layout, dtype):
    shape, kwargs = random_pool(seed)
    dilation = 1 + seed % 2
    x = layout_input(random(shape, dtype, seed) if seed % 3 else special(shape, dtype, seed), layout)
    try:
        y, idx = fastconv.max_pool2d(x, dilation=dilation, return_indices=True, layout=layout, **kwargs)
    except ValueError:  # the dilated window does not fit: nothing to differentiate
        return
    grad_out = random(y.shape, dtype, seed + 1)
    got = fastconv.max_pool2d_backward(grad_out, idx, x.shape, layout=layout)
    want = ref.max_pool2d_backward(grad_out, idx, x.shape, layout=layout)
    assert_close(got, want, ref.max_pool2d_backward(np.abs(grad_out), idx, x.shape, layout=layout),
                 window_terms(kwargs))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool1d_backward_matches_reference(seed, dtype):
    shape, kwargs = random_pool(seed, nd=1)
    x = random(shape, dtype, seed)
    y, idx = fastconv.max_pool1d(x, return_indices=True, **kwargs)
    grad_out = random(y.shape, dtype, seed + 1)
    got = fastconv.max_pool1d_backward(grad_out, idx, x.shape)
    assert_close(got, ref.max_pool1d_backward(grad_out, idx, x.shape),
                 ref.max_pool1d_backward(np.abs(grad_out), idx, x.shape), window_terms(kwargs))


@pytest.mark.parametrize("output_size", [1, 3, (2, 5), (7, 4)])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_pools_backward_match_reference(output_size, layout, dtype):
    x = layout_input(random((2, 3, 7, 9), dtype, 0), layout)
    y, idx = fastconv.adaptive_max_pool2d(x, output_size, return_indices=True, layout=layout)
    grad_out = random(y.shape, dtype, 1)
    terms = 16  # the most cells that share a row or column: ceil(H/OH) + 1 per axis
    assert_close(fastconv.adaptive_max_pool2d_backward(grad_out, idx, x.shape, layout=layout),
                 ref.adaptive_max_pool2d_backward(grad_out, idx, x.shape, layout=layout),
                 ref.adaptive_max_pool2d_backward(np.abs(grad_out), idx, x.shape, layout=layout), terms)
    assert_close(fastconv.adaptive_avg_pool2d_backward(grad_out, x.shape, layout=layout),
                 ref.adaptive_avg_pool2d_backward(grad_out, x.shape, layout=layout),
                 ref.adaptive_avg_pool2d_backward(np.abs(grad_out), x.shape, layout=layout), terms)


@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_global_pools_backward_match_reference(unbatched, layout, dtype):
    x = layout_input(special((2, 5, 6, 7), dtype, 0, frac=0.05), layout)
    x = x[0] if unbatched else x
    y = fastconv.global_avg_pool2d(x, layout=layout)
    grad_out = random(y.shape, dtype, 1)
    assert_close(fastconv.global_avg_pool2d_backward(grad_out, x.shape, layout=layout),
                 ref.global_avg_pool2d_backward(grad_out, x.shape, layout=layout))
    _, idx = fastconv.adaptive_max_pool2d(x, 1, return_indices=True, layout=layout)
    got = fastconv.global_max_pool2d_backward(grad_out, idx, x.shape, layout=layout)
    np.testing.assert_array_equal(got, ref.global_max_pool2d_backward(grad_out, idx, x.shape, layout=layout))


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_and_sum_pool2d_backward_match_reference(seed, layout, dtype):
    shape, kwargs = random_pool(seed)
    x_shape = layout_input(np.empty(shape), layout).shape
    options = [dict(), dict(count_include_pad=False), dict(divisor_override=1 + seed % 5)][seed % 3]
    out = fastconv.avg_pool2d(np.zeros(x_shape, dtype), layout=layout, **kwargs, **options)
    grad_out = random(out.shape, dtype, seed)
    terms = window_terms(kwargs)
    got = fastconv.avg_pool2d_backward(grad_out, x_shape, layout=layout, **kwargs, **options)
    want = ref.avg_pool2d_backward(grad_out, x_shape, layout=layout, **kwargs, **options)
    assert_close(got, want, ref.avg_pool2d_backward(np.abs(grad_out), x_shape, layout=layout, **kwargs, **options),
                 terms)
    got = fastconv.sum_pool2d_backward(grad_out, x_shape, layout=layout, **kwargs)
    want = ref.sum_pool2d_backward(grad_out, x_shape, layout=layout, **kwargs)
    assert_close(got, want, ref.sum_pool2d_backward(np.abs(grad_out), x_shape, layout=layout, **kwargs), terms)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_and_sum_pool1d_backward_match_reference(seed, dtype):
    shape, kwargs = random_pool(seed, nd=1)
    out = fastconv.avg_pool1d(np.zeros(shape, dtype), count_include_pad=bool(seed % 2), **kwargs)
    grad_out = random(out.shape, dtype, seed)
    for fast, slow, extra in ((fastconv.avg_pool1d_backward, ref.avg_pool1d_backward,
                               dict(count_include_pad=bool(seed % 2))),
                              (fastconv.sum_pool1d_backward, ref.sum_pool1d_backward, {})):
        assert_close(fast(grad_out, shape, **kwargs, **extra), slow(grad_out, shape, **kwargs, **extra),
                     slow(np.abs(grad_out), shape, **kwargs, **extra), window_terms(kwargs))


@pytest.mark.parametrize("p", [1, 2, 3, 1.5, 0.5])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lp_pool2d_backward_matches_reference(p, layout, dtype):
    """Positive inputs (for p = 2 also mixed signs): the chain rule's factors are then all
    finite, and |x| bounds each term."""
    for seed, low in ((0, 0.1), (1, -1.0 if p == 2 else 0.1)):
        x = layout_input(random((2, 3, 9, 8), dtype, seed, low=low), layout)
        kwargs = dict(kernel_size=(3, 2), stride=(2, 2), ceil_mode=True)
        y = fastconv.lp_pool2d(x, p, layout=layout, **kwargs)
        grad_out = random(y.shape, dtype, seed + 2)
        got = fastconv.lp_pool2d_backward(grad_out, x, p, layout=layout, **kwargs)
        want = ref.lp_pool2d_backward(grad_out, x, p, layout=layout, **kwargs)
        magnitude = ref.lp_pool2d_backward(np.abs(grad_out), np.abs(x), p, layout=layout, **kwargs)
        assert_close(got, want, magnitude, 16)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_summing_pools_backward_add_in_output_order(layout):
    """Each input position sums the outputs whose windows hold it in output order, as
    PyTorch does: (3e38 + 3e38) - 3e38 - 3e38 overflows to inf in float32 and stays inf (summed
    as (3e38 + 3e38) + (-3e38 - 3e38) it would be NaN)."""
    go = np.array([[[[3e38, 3e38], [-3e38, -3e38]]]], np.float32)
    want = np.array([[3e38, np.inf, 3e38], [0, np.inf, 0], [-3e38, -np.inf, -3e38]], np.float32)
    if layout == "NHWC":
        go = nhwc(go)
    for got in (fastconv.sum_pool2d_backward(go, (1, 1, 3, 3) if layout == "NCHW" else (1, 3, 3, 1), 2, stride=1,
                                             layout=layout),
                fastconv.avg_pool2d_backward(go, (1, 1, 3, 3) if layout == "NCHW" else (1, 3, 3, 1), 2, stride=1,
                                             divisor_override=1, layout=layout)):
        plane = got[0, 0] if layout == "NCHW" else got[0, :, :, 0]
        np.testing.assert_array_equal(plane, want)


def test_lp_pool2d_backward_zero_windows_pass_nothing():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = 1.0
    got = fastconv.lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, 2)
    np.testing.assert_array_equal(got, ref.lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, 2))
    assert not got[0, 0, :2, :2].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_matches_reference(dtype):
    x = special((3, 4, 50), dtype, 0, frac=0.1)
    x[0, 0, :5] = [0.0, -0.0, 1e-30, -1e-30, 2.0]
    grad_out = random(x.shape, dtype, 1)
    got = fastconv.relu_backward(grad_out, x)
    np.testing.assert_array_equal(got, ref.relu_backward(grad_out, x))
    assert got.dtype == dtype


@pytest.mark.parametrize("op", ["max", "avg", "lp"])
def test_pool_backward_matches_torch(op):
    torch = pytest.importorskip("torch")
    x = random((2, 3, 11, 10), np.float64, 0, low=0.1)
    tx = torch.tensor(x, requires_grad=True)
    kwargs = dict(kernel_size=3, stride=2)
    if op == "max":
        y, idx = fastconv.max_pool2d(x, padding=1, return_indices=True, **kwargs)
        ty = torch.nn.functional.max_pool2d(tx, padding=1, **kwargs)
    elif op == "avg":
        y = fastconv.avg_pool2d(x, padding=1, ceil_mode=True, count_include_pad=False, **kwargs)
        ty = torch.nn.functional.avg_pool2d(tx, padding=1, ceil_mode=True, count_include_pad=False, **kwargs)
    else:
        y = fastconv.lp_pool2d(x, 2, ceil_mode=True, **kwargs)
        ty = torch.nn.functional.lp_pool2d(tx, 2, ceil_mode=True, **kwargs)
    grad_out = random(y.shape, np.float64, 1)
    ty.backward(torch.tensor(grad_out))
    got = {"max": lambda: fastconv.max_pool2d_backward(grad_out, idx, x.shape),
           "avg": lambda: fastconv.avg_pool2d_backward(grad_out, x.shape, padding=1, ceil_mode=True,
                                                      count_include_pad=False, **kwargs),
           "lp": lambda: fastconv.lp_pool2d_backward(grad_out, x, 2, ceil_mode=True, **kwargs)}[op]()
    np.testing.assert_allclose(got, tx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_batch_zero_and_empty_results():
    assert fastconv.avg_pool2d_backward(np.zeros((0, 3, 2, 2)), (0, 3, 4, 4), 2).shape == (0, 3, 4, 4)
    assert fastconv.adaptive_avg_pool2d_backward(np.zeros((0, 2, 3, 3)), (0, 2, 4, 4)).shape == (0, 2, 4, 4)
    with pytest.raises(ValueError, match="output_size"):  # no forward has an empty output
        fastconv.adaptive_avg_pool2d_backward(np.zeros((1, 2, 0, 3)), (1, 2, 4, 4))


X = np.zeros((1, 2, 4, 4))
GO = np.zeros((1, 2, 2, 2))
IDX = np.zeros((1, 2, 2, 2), np.int64)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.max_pool2d_backward(GO, np.full((1, 2, 2, 2), 16), X.shape), ValueError, r"indices.*\[0, 16\)"),
    (lambda: fastconv.max_pool2d_backward(GO, np.full((1, 2, 2, 2), -2), X.shape), ValueError, "indices"),
    (lambda: fastconv.max_pool2d_backward(GO, IDX.astype(np.float64), X.shape), TypeError, "indices"),
    (lambda: fastconv.max_pool2d_backward(GO, IDX[0], X.shape), ValueError, "indices"),
    (lambda: fastconv.max_pool2d_backward(GO[0], IDX, X.shape), ValueError, r"grad_out.*\(1, 2, OH, OW\)"),
    (lambda: fastconv.max_pool2d_backward(GO, IDX, (1, 2, 4)), ValueError, "x_shape"),
    (lambda: fastconv.max_pool2d_backward(GO, IDX, "x"), TypeError, "x_shape"),
    (lambda: fastconv.max_pool2d_backward(GO, IDX, (1, 2, 4, 1.5)), TypeError, "x_shape"),
    (lambda: fastconv.avg_pool2d_backward(np.zeros((1, 2, 3, 2)), X.shape, 2), ValueError,
     r"grad_out.*\(1, 2, 2, 2\)"),
    (lambda: fastconv.avg_pool2d_backward(GO.astype(np.int32), X.shape, 2), TypeError, "grad_out"),
    (lambda: fastconv.avg_pool2d_backward(GO, X.shape, 2, count_include_pad=1), TypeError, "count_include_pad"),
    (lambda: fastconv.avg_pool2d_backward(GO, X.shape, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: fastconv.avg_pool2d_backward(GO, X.shape, 2, padding=2), ValueError, "padding"),
    (lambda: fastconv.sum_pool2d_backward(GO, X.shape, 2, layout="CHWN"), ValueError, "layout"),
    (lambda: fastconv.lp_pool2d_backward(GO, X.astype(np.float32), 2, 2), TypeError, "grad_out"),
    (lambda: fastconv.lp_pool2d_backward(GO, X, 0, 2), ValueError, "norm_type"),
    (lambda: fastconv.lp_pool2d_backward(GO, X, "2", 2), TypeError, "norm_type"),
    (lambda: fastconv.adaptive_avg_pool2d_backward(GO, (1, 3, 4, 4)), ValueError, "grad_out"),
    (lambda: fastconv.global_avg_pool2d_backward(GO, X.shape), ValueError, r"grad_out.*\(1, 2, 1, 1\)"),
    (lambda: fastconv.relu_backward(np.zeros(3), np.zeros(4)), ValueError, "grad_out"),
    (lambda: fastconv.relu_backward(np.zeros(3, np.float32), np.zeros(3)), TypeError, "grad_out"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("layout", ("NCHW", "NHWC"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_backward_adds_nothing_for_the_index_minus_1(layout, dtype):
    # outputs (channel, oy, ox) with their indices (h*4 + w); -1 (a window with no input) adds nothing
    grad_out = np.arange(1.0, 9.0, dtype=dtype).reshape(1, 2, 2, 2)
    indices = np.array([[[[5, -1], [5, 15]], [[-1, -1], [0, 10]]]])
    want = np.zeros((1, 2, 4, 4), dtype)
    want[0, 0, 1, 1] = 1.0 + 3.0
    want[0, 0, 3, 3] = 4.0
    want[0, 1, 0, 0] = 7.0
    want[0, 1, 2, 2] = 8.0
    x_shape = (1, 4, 4, 2) if layout == "NHWC" else (1, 2, 4, 4)
    got = fastconv.max_pool2d_backward(layout_input(grad_out, layout), layout_input(indices, layout), x_shape,
                                       layout=layout)
    np.testing.assert_array_equal(got, layout_input(want, layout))


def test_lp_pool2d_backward_regressions_found_by_the_fuzz():
    """float32 x = 6e-28, p = 3: the chain rule's coefficient (1e53) overflows float32 unless
    multiplied by p*x**(p-1) first; positions no window reads get 0 * p*x**(p-1), NaN where
    x is inf (as the reference and PyTorch)."""
    tiny = np.array([[[6.149981e-28]]], np.float32)
    got = fastconv.lp_pool2d_backward(np.array([[[0.27392337]]], np.float32), tiny, 3, 1)
    np.testing.assert_allclose(got, ref.lp_pool2d_backward(np.array([[[0.27392337]]], np.float32), tiny, 3, 1),
                               rtol=1e-6)
    x = np.array([[[0.5, 1.0, np.inf], [2.0, 0.25, -np.inf]]])
    got = fastconv.lp_pool2d_backward(np.ones((1, 1, 1)), x, 2, 2)
    np.testing.assert_array_equal(got, ref.lp_pool2d_backward(np.ones((1, 1, 1)), x, 2, 2))
    assert np.isnan(got[0, :, 2]).all()


def test_the_relu_backward_kernel_refuses_an_overlapping_grad_in():
    """The portable kernel reads through restrict pointers; the public function always writes
    a new array, the extension itself refuses overlap."""
    g, buffer = np.ones(64), np.ones(128)
    with pytest.raises(ValueError, match="overlap"):
        fastconv._core.relu_backward(g, buffer[:64], g)
    with pytest.raises(ValueError, match="overlap"):
        fastconv._core.relu_backward(g, buffer[:64], buffer[32:96])
    fastconv._core.relu_backward(g, buffer[:64], buffer[64:])  # the same buffer, no shared byte
