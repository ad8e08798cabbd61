"""fastconv.reference's blur pools (the oracle for the blur kernels to come) against two other
constructions of the same operation: fastconv's depthwise conv2d with the binomial filter,
and PyTorch's padding plus depthwise conv2d (Zhang's recipe) when torch is installed."""

import numpy as np
import pytest

import fastconv
from conftest import random
from fastconv import reference as ref

MODES = ("reflect", "replicate", "zeros", "circular")


def test_binomial_filters_are_normalised_rows_of_pascals_triangle():
    np.testing.assert_array_equal(ref.binomial_filter(1), [1.0])
    np.testing.assert_array_equal(ref.binomial_filter(3), [0.25, 0.5, 0.25])
    np.testing.assert_array_equal(ref.binomial_filter(7), np.array([1, 6, 15, 20, 15, 6, 1]) / 64)
    for k in range(1, 8):
        assert ref.binomial_filter(k).sum() == 1.0
        assert ref.blur_padding(k) == ((k - 1) // 2, k // 2)


def depthwise_blur(x, k, stride, mode):
    """The same blur as a depthwise convolution in fastconv (another code path entirely)."""
    row = ref.binomial_filter(k).astype(x.dtype)
    w = np.broadcast_to(np.outer(row, row), (x.shape[1], 1, k, k)).copy()
    pads = (ref.blur_padding(k),) * 2
    return fastconv.conv2d(x, w, stride=stride, padding=pads, groups=x.shape[1], padding_mode=mode)


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("stride", [1, 2, 3, (2, 1)])
@pytest.mark.parametrize("mode", MODES)
def test_blur_pool2d_is_a_depthwise_binomial_convolution(k, stride, mode):
    x = random((2, 3, 9, 8), np.float64, seed=k)
    np.testing.assert_allclose(ref.blur_pool2d(x, k, stride, mode), depthwise_blur(x, k, stride, mode),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 2, 1, 5), (2, 1, 3, 2)])
@pytest.mark.parametrize("mode", MODES)
def test_tiny_images_keep_ceil_size_over_stride(shape, mode):
    x = random(shape, np.float32, seed=0)
    y = ref.blur_pool2d(x, 4, 2, mode)
    assert y.shape == shape[:2] + tuple(-(-s // 2) for s in shape[2:]) and y.dtype == np.float32
    np.testing.assert_allclose(y, depthwise_blur(x, 4, 2, mode), rtol=1e-6, atol=1e-6)


def test_a_constant_image_stays_constant_under_every_padding_but_zeros():
    x = np.full((1, 2, 7, 6), 3.5)
    for mode in ("reflect", "replicate", "circular"):
        np.testing.assert_allclose(ref.blur_pool2d(x, 5, 2, mode), 3.5, rtol=1e-15)


@pytest.mark.parametrize("mode", ["reflect", "zeros"])
def test_blur_pool2d_matches_torch_pad_and_depthwise_conv(mode):
    torch = pytest.importorskip("torch")
    x = random((2, 4, 13, 10), np.float64, seed=3)
    k = 4
    row = torch.from_numpy(ref.binomial_filter(k))
    w = torch.outer(row, row).expand(4, 1, k, k)
    (before, after) = ref.blur_padding(k)
    padded = torch.nn.functional.pad(torch.from_numpy(x), (before, after, before, after),
                                     mode="reflect" if mode == "reflect" else "constant")
    want = torch.nn.functional.conv2d(padded, w, stride=2, groups=4).numpy()
    np.testing.assert_allclose(ref.blur_pool2d(x, k, 2, mode), want, rtol=1e-13, atol=1e-14)


def test_blur_pool1d_is_the_2d_blur_of_one_row():
    x = random((2, 3, 11), np.float64, seed=4)
    for k in (1, 2, 4, 7):
        got = ref.blur_pool1d(x, k, 2)
        row = ref.binomial_filter(k)
        w = np.broadcast_to(row, (3, 1, k)).copy()
        want = fastconv.conv1d(x, w, stride=2, padding=ref.blur_padding(k), groups=3, padding_mode="reflect")
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    assert ref.blur_pool1d(x[0], 3, 3).shape == (3, 4)


def test_max_blur_pool_is_a_dense_max_then_a_blur():
    x = random((2, 3, 10, 9), np.float32, seed=5)
    dense = ref.max_pool2d(x, 3, 1, 1)
    np.testing.assert_array_equal(ref.max_blur_pool2d(x, 3, 2, 4, padding=1), ref.blur_pool2d(dense, 4, 2))
    assert ref.max_blur_pool2d(x).shape == (2, 3, 5, 4)  # dense max 9x8 -> ceil halves
    x1 = x[:, :, 0]
    np.testing.assert_array_equal(ref.max_blur_pool1d(x1, 2, 2, 3), ref.blur_pool1d(ref.max_pool1d(x1, 2, 1), 3, 2))


def test_nhwc_layout_is_the_transposed_nchw_result():
    x = random((2, 3, 7, 6), np.float64, seed=6)
    got = ref.blur_pool2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), 3, 2, layout="NHWC")
    np.testing.assert_array_equal(got, ref.blur_pool2d(x, 3, 2).transpose(0, 2, 3, 1))


def test_nan_and_inf_propagate_to_the_outputs_whose_window_holds_them():
    x = np.zeros((1, 1, 8, 8))
    x[0, 0, 3, 3] = np.nan
    x[0, 0, 6, 1] = np.inf
    y = ref.blur_pool2d(x, 3, 2, "zeros")
    assert np.isnan(y[0, 0, 1:3, 1:3]).all() and np.isnan(y).sum() == 4
    assert np.isinf(y[0, 0, 3, 0:2]).all()


@pytest.mark.parametrize("call, error, match", [
    (lambda: ref.blur_pool2d(np.zeros((1, 1, 4, 4)), 0), ValueError, "filter_size"),
    (lambda: ref.blur_pool2d(np.zeros((1, 1, 4, 4)), 8), ValueError, "filter_size"),
    (lambda: ref.blur_pool2d(np.zeros((1, 1, 4, 4)), 2.5), TypeError, "filter_size"),
    (lambda: ref.blur_pool2d(np.zeros((1, 1, 4, 4)), 3, 0), ValueError, "stride"),
    (lambda: ref.blur_pool2d(np.zeros((1, 1, 4, 4)), 3, 2, "mirror"), ValueError, "padding_mode"),
    (lambda: ref.blur_pool2d(np.zeros((1, 1, 0, 4)), 3), ValueError, "non-empty"),
    (lambda: ref.blur_pool2d(np.zeros((4, 4)), 3), ValueError, "x"),
    (lambda: ref.blur_pool2d(np.zeros((1, 1, 4, 4), np.int32), 3), TypeError, "x"),
    (lambda: ref.blur_pool1d(np.zeros((1, 1, 0)), 3), ValueError, "non-empty"),
])
def test_bad_arguments_raise_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("mode", ["reflect", "replicate", "zeros", "circular"])
@pytest.mark.parametrize("shape", [(2, 3, 9, 7), (1, 1, 1, 1), (1, 2, 2, 5), (2, 1, 13, 3)])
def test_backward_is_the_forward_transposed(shape, mode):
    """<blur(x), g> = <x, blur_backward(g)> for every filter size and stride (the blur is
    linear), and max-blur's gradient agrees with central differences where the max is unique."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    for k in range(1, 8):
        for stride in (1, 2, 3, (2, 1)):
            y = ref.blur_pool2d(x, k, stride, mode)
            g = rng.standard_normal(y.shape)
            np.testing.assert_allclose((y * g).sum(), (x * ref.blur_pool2d_backward(g, shape, k, stride, mode)).sum(),
                                       rtol=1e-12, atol=1e-12)
    window = (min(2, shape[2]), min(2, shape[3]))
    y = ref.max_blur_pool2d(x, window, 2, 4, padding_mode=mode)
    g = rng.standard_normal(y.shape)
    grad = ref.max_blur_pool2d_backward(g, x, window, 2, 4, padding_mode=mode)
    h = 1e-6
    for index in list(np.ndindex(*shape))[:40]:
        step = np.zeros(shape)
        step[index] = h
        numeric = ((ref.max_blur_pool2d(x + step, window, 2, 4, padding_mode=mode) -
                    ref.max_blur_pool2d(x - step, window, 2, 4, padding_mode=mode)) * g).sum() / (2 * h)
        np.testing.assert_allclose(grad[index], numeric, rtol=1e-6, atol=1e-8)


def test_blur_backward_matches_torch_autograd_in_1d():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.randn(2, 3, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    k = 5
    w = torch.from_numpy(ref.binomial_filter(k)).expand(3, 1, k).contiguous()
    before, after = ref.blur_padding(k)
    y = F.conv1d(F.pad(F.max_pool1d(x, 3, 1, 1), (before, after), mode="replicate"), w, stride=3, groups=3)
    g = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y.backward(g)
    got = ref.max_blur_pool1d_backward(g.numpy(), x.detach().numpy(), 3, 3, k, padding=1, padding_mode="replicate")
    np.testing.assert_allclose(got, x.grad.numpy(), rtol=1e-12, atol=1e-12)
