"""algorithm="winograd" (F(4x4, 3x3)) against the reference on awkward shapes, both layouts, both
dtypes and every padding mode; its fallback when values are not finite; and that auto never
picks it."""

import numpy as np
import pytest
from conftest import assert_close, assert_exact, conv_inputs, random, special

import fastconv
from fastconv import reference as ref
from fastconv._error_bounds import winograd_tile_max

# (N, C, K, H, W, padding)
SHAPES = {
    "1x1-image": (1, 1, 1, 1, 1, 1),
    "kernel-as-large-as-input": (1, 1, 1, 3, 3, 0),
    "one-tile": (2, 3, 5, 4, 4, 0),
    "padding-larger-than-half": (1, 7, 9, 5, 6, 2),
    "odd-sides": (2, 8, 8, 9, 11, 1),
    "same": (1, 9, 17, 13, 7, "same"),
    "full": (2, 17, 16, 6, 10, "full"),
    "one-row": (2, 16, 7, 1, 9, 1),
    "asymmetric-padding": (1, 5, 3, 8, 8, ((0, 2), (1, 0))),
    "channels-33-40": (1, 33, 40, 12, 12, 1),
    "batch-0": (0, 4, 4, 8, 8, 1),
}
MODES = ("zeros", "reflect", "replicate", "circular")


def winograd_check(x, w, b=None, layout="NCHW", out=None, **kw):
    """fastconv's Winograd matches the reference within the rounding bound of a sum of C*9
    products plus the transforms' own growth (64 more terms: measured worst 35-46 eps for one
    channel), each output bounded by its tile's magnitude; returns the NCHW result."""
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if layout == "NHWC" else x
    got = fastconv.conv2d(xl, w, b, algorithm="winograd", layout=layout, out=out, **kw)
    if out is not None:
        assert got is out
    if layout == "NHWC":
        got = np.moveaxis(got, -1, 1)
    expected = ref.conv2d(x, w, b, **kw)
    mag_kw = {k: v for k, v in kw.items() if k != "activation"}
    magnitude = ref.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), **mag_kw)
    assert_close(got, expected, winograd_tile_max(magnitude), terms=w.shape[1] * 9 + 64)
    return got


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_matches_the_reference(name, mode, dtype, layout):
    n, c, k, h, w_, padding = SHAPES[name]
    x, w, b = conv_inputs((n, c, h, w_), (k, c, 3, 3), dtype, bias=True, seed=len(name))
    winograd_check(x, w, b, layout, padding=padding, padding_mode=mode)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_relu_and_many_tiles(dtype, layout):
    x, w, b = conv_inputs((3, 24, 30, 27), (40, 24, 3, 3), dtype, bias=True, seed=5)
    got = winograd_check(x, w, b, layout, padding=1, activation="relu")
    assert (got >= 0).all() and (got == 0).any()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_out_argument(layout):
    x, w, b = conv_inputs((2, 6, 9, 10), (5, 6, 3, 3), np.float32, bias=True, seed=3)
    out = np.empty((2, 9, 10, 5) if layout == "NHWC" else (2, 5, 9, 10), np.float32)
    winograd_check(x, w, b, layout, out=out, padding=1)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_non_contiguous_input(layout):
    base = random((2, 12, 20, 22), np.float32)
    x = base[:, ::2, ::2, 1::2]
    w = random((8, 6, 3, 3), np.float32, seed=1)
    assert not x.flags.c_contiguous
    winograd_check(x, w, layout=layout, padding=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inf_and_nan_go_to_the_direct_sum(dtype):
    """A transform would spread an inf or NaN over its whole tile: an image holding one is
    summed by the GEMM instead (NCHW: that image alone), whose non-finite outputs are exactly
    the windows that hold one (tested with the GEMM's own cases)."""
    x = random((2, 8, 12, 13), dtype)
    x[1] = special((8, 12, 13), dtype, frac=0.02)
    w = random((6, 8, 3, 3), dtype, seed=1)
    got = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
    assert_exact(got[:1], fastconv.conv2d(x[:1], w, padding=1, algorithm="winograd"))
    assert_exact(got[1:], fastconv.conv2d(x[1:], w, padding=1, algorithm="im2col_nhwc"))
    assert not np.array_equal(got[:1], fastconv.conv2d(x[:1], w, padding=1, algorithm="im2col_nhwc"))
    xn = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    got = fastconv.conv2d(xn, w, padding=1, layout="NHWC", algorithm="winograd")
    assert_exact(got, fastconv.conv2d(xn, w, padding=1, layout="NHWC", algorithm="im2col"))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_a_nan_weight_goes_to_the_direct_sum(layout):
    x = random((1, 8, 10, 10), np.float32)
    w = random((4, 8, 3, 3), np.float32, seed=1)
    w[2, 5, 1, 1] = np.nan
    if layout == "NHWC":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    gemm = "im2col" if layout == "NHWC" else "im2col_nhwc"
    got = fastconv.conv2d(x, w, padding=1, layout=layout, algorithm="winograd")
    assert_exact(got, fastconv.conv2d(x, w, padding=1, layout=layout, algorithm=gemm))
    assert np.isnan(got).sum() == 100  # output channel 2 only


def test_a_transform_overflow_falls_back_to_the_direct_sum():
    """Near the top of float32 the input transform (values up to 100x the input) overflows
    where the sum itself does not: the result is the GEMM's (through NHWC, as the NCHW Winograd
    runs), finite."""
    x = random((1, 8, 10, 10), np.float32) * np.float32(3e37)
    w = random((8, 8, 3, 3), np.float32, seed=1) * np.float32(1e-3)
    got = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
    assert np.isfinite(got).all()
    assert_exact(got, fastconv.conv2d(x, w, padding=1, algorithm="im2col_nhwc"))
    xn = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    got = fastconv.conv2d(xn, w, padding=1, layout="NHWC", algorithm="winograd")
    assert np.isfinite(got).all()
    assert_exact(got, fastconv.conv2d(xn, w, padding=1, layout="NHWC", algorithm="im2col"))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_auto_never_picks_winograd(layout):
    """Its error is bounded by its tile, not by each output's window: an outlier input
    perturbs its neighbours. auto keeps the GEMM's rounding even where Winograd is fastest."""
    x = random((1, 32, 28, 28), np.float32)
    x[0, :, 13, 13] = 1e7
    w = random((32, 32, 3, 3), np.float32, seed=1)
    if layout == "NHWC":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    auto = fastconv.conv2d(x, w, padding=1, layout=layout)
    winograd = fastconv.conv2d(x, w, padding=1, layout=layout, algorithm="winograd")
    expected = ref.conv2d(x, w, padding=1, layout=layout)
    far = np.ones(expected.shape, bool)  # outputs whose window misses the outlier
    if layout == "NHWC":
        far[0, 12:15, 12:15, :] = False
    else:
        far[0, :, 12:15, 12:15] = False
    scale = np.abs(expected[far]).max()
    assert np.abs(auto - expected)[far].max() < 1e-5 * scale
    assert np.abs(winograd - expected)[far].max() > 1e-3 * scale  # what auto avoids
