"""conv2d(layout="NHWC") against fastconv.reference: the tap-pointer GEMM ("im2col"), the
depthwise channel kernel ("direct"), the kernel vectorised across images ("batched") and
"auto", on the same awkward geometries as NCHW.

Inputs are made in NCHW (conftest.conv_inputs) and moved to channels-last; the reference runs
on the same NHWC array (it transposes internally), and the tolerance is conftest's rounding
bound for the reduction length.
"""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, num_threads, random
from conftest import conv_check as check
from conftest import conv_inputs as make
from fastconv import reference as ref
from test_conv2d import CASES, PADDING_MODE_CASES


def nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, -3, -1))


def algorithms_for(xshape, wshape, groups):
    depthwise = groups == xshape[1] == wshape[0]
    return ("im2col", "batched", "auto", "direct") if depthwise else ("im2col", "batched", "auto")


ALGORITHM_CASES = [(c, a) for c in CASES for a in algorithms_for(c[1], c[2], c[3].get("groups", 1))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case, algorithm", ALGORITHM_CASES, ids=[f"{c[0]}-{a}" for c, a in ALGORITHM_CASES])
def test_matches_reference(case, algorithm, dtype):
    _, xshape, wshape, kw = case
    kw = dict(kw)
    x, w, b = make(xshape, wshape, dtype, bias=kw.pop("bias", False))
    got = check(nhwc(x), w, b, algorithm=algorithm, layout="NHWC", **kw)
    assert got.dtype == dtype
    # The same numbers as the NCHW result, moved to channels-last.
    expected = fastconv.conv2d(x, w, b, **kw)
    assert got.shape == nhwc(expected).shape


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ["im2col", "auto", "direct"])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("xhw, khw, kw", PADDING_MODE_CASES + [((7, 40), (3, 5), dict(padding="full", stride=(1, 2)))])
def test_padding_modes(padding_mode, xhw, khw, kw, algorithm, dtype):
    C = 5
    K, Cg, groups = (C, 1, C) if algorithm == "direct" else (7, C, 1)
    x, w, b = make((2, C) + xhw, (K, Cg) + khw, dtype, bias=True)
    check(nhwc(x), w, b, padding_mode=padding_mode, algorithm=algorithm, groups=groups, layout="NHWC", **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("channels", [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 65])
@pytest.mark.parametrize("width, stride, padding", [(1, 1, 1), (5, 1, 1), (9, 2, 1), (12, 1, 0), (13, 2, 2),
                                                    (4, 3, 3)])
def test_depthwise_channel_and_row_tails(channels, width, stride, padding, dtype):
    """Channel counts around every vector width (8 and 16 lanes, single pixels' tiles of 4
    vectors) and short rows, with border pixels on both sides or none."""
    x, w, b = make((2, channels, 3, width), (channels, 1, 3, 3), dtype, bias=True)
    check(nhwc(x), w, b, stride=stride, padding=padding, groups=channels, algorithm="direct", layout="NHWC",
          activation="relu")


# (kh, kw), stride, dilation: each window width the depthwise kernel specialises (3, 5, 7 at
# stride 1, 3 and 5 at stride 2), square (its rows unrolled too) and not, then windows it
# runs with run-time geometry.
DEPTHWISE_WINDOWS = [((3, 3), 1, 1), ((3, 3), 2, 1), ((5, 5), 1, 1), ((5, 5), 2, 1), ((7, 7), 1, 1),
                     ((2, 3), 1, 1), ((4, 3), 2, 1), ((3, 5), 1, 1), ((4, 5), 2, 1), ((1, 7), 1, 1),
                     ((2, 2), 1, 1), ((3, 4), 3, 1), ((3, 3), 1, 2), ((1, 1), 1, 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("channels", [1, 7, 8, 9, 16, 17, 24, 33])
@pytest.mark.parametrize("window, stride, dilation", DEPTHWISE_WINDOWS)
@pytest.mark.parametrize("width", [1, 4, 11, 20, 30])
def test_depthwise_windows_and_runs(window, stride, dilation, width, channels, dtype):
    """Every window the depthwise kernel compiles, and the general one, on rows whose interior
    runs take every tile length (8-pixel tiles, then 4, 2 and 1), with border pixels on both
    sides (half-window padding) and a masked channel tail after whole vectors."""
    (kh, kw), pad = window, tuple(((k - 1) * dilation + 1) // 2 for k in window)
    x, w, b = make((2, channels, kh + 3, width), (channels, 1, kh, kw), dtype, bias=True)
    check(nhwc(x), w, b, stride=stride, padding=pad, dilation=dilation, groups=channels, algorithm="direct",
          layout="NHWC", activation="relu")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("K", [1, 5, 8, 15, 16, 17, 31, 32, 33, 64, 65])
@pytest.mark.parametrize("pixels, C, kernel, kw", [
    (1, 3, (1, 1), {}),
    (13, 4, (3, 3), dict(padding=1)),
    (14, 9, (2, 3), dict(stride=2, padding=(1, 2))),
    (29, 16, (3, 3), dict(dilation=(1, 2), padding=2)),
    (45, 3, (7, 7), dict(stride=2, padding=3)),
])
def test_gemm_output_channel_and_pixel_tails(K, pixels, C, kernel, kw, dtype):
    """Output channels around the micro-panel width NR (8/16/32), pixel counts around the MR
    tile rows (4, 6, 14), whole-window-row tiles and tiles that cross a padded border."""
    x, w, b = make((1, C, 3, pixels), (K, C) + kernel, dtype, bias=True)
    check(nhwc(x), w, b, algorithm="im2col", layout="NHWC", **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ["im2col", "batched", "auto", "direct"])
def test_unbatched_and_non_contiguous_inputs(algorithm, dtype):
    # An NCHW array viewed as NHWC (the usual way channels-last data arrives) and a strided crop.
    x = random((2, 6, 9, 11), dtype)
    w = random((6, 1, 3, 3), dtype, seed=1) if algorithm == "direct" else random((4, 6, 3, 3), dtype, seed=1)
    groups = 6 if algorithm == "direct" else 1
    view = np.moveaxis(x, 1, -1)
    assert not view.flags.c_contiguous
    got = check(view, w, None, padding=1, groups=groups, algorithm=algorithm, layout="NHWC")
    np.testing.assert_array_equal(got, fastconv.conv2d(nhwc(x), w, padding=1, groups=groups, algorithm=algorithm,
                                                       layout="NHWC"))
    check(view[:, ::2, 1::3], w, None, stride=2, groups=groups, algorithm=algorithm, layout="NHWC")
    single = check(view[0], w, None, padding="same", groups=groups, algorithm=algorithm, layout="NHWC")
    assert single.shape == (9, 11, w.shape[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_out_argument_and_fused_relu(dtype):
    x, w, b = make((2, 5, 6, 7), (8, 5, 3, 3), dtype, bias=True)
    out = np.empty((2, 6, 7, 8), dtype)
    got = fastconv.conv2d(nhwc(x), w, b, padding=1, activation="relu", layout="NHWC", out=out)
    assert got is out
    expected = ref.conv2d(nhwc(x), w, b, padding=1, activation="relu", layout="NHWC")
    magnitude = ref.conv2d(np.abs(nhwc(x)), np.abs(w), np.abs(b), padding=1, layout="NHWC")
    assert_close(got, expected, magnitude, terms=45)
    assert (got >= 0).all() and (got == 0).any()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ["im2col", "batched", "direct"])
def test_zero_sized_batches(algorithm, dtype):
    w = random((3, 1, 3, 3), dtype)
    out = fastconv.conv2d(np.zeros((0, 5, 5, 3), dtype), w, groups=3, algorithm=algorithm, layout="NHWC")
    assert out.shape == (0, 3, 3, 3) and out.dtype == dtype


def test_single_channel_image_filter_runs_as_nchw_bytes():
    # C == K == 1: NHWC and NCHW are the same bytes; auto takes the row kernel for both.
    x, w, b = make((2, 1, 40, 37), (1, 1, 5, 5), np.float32, bias=True)
    got = check(nhwc(x), w, b, padding=2, layout="NHWC")
    np.testing.assert_array_equal(got[..., 0], fastconv.conv2d(x, w, b, padding=2)[:, 0])


def test_direct_needs_a_depthwise_convolution():
    x = np.zeros((1, 5, 5, 4), np.float32)
    with pytest.raises(ValueError, match="depthwise.*groups == C == K"):
        fastconv.conv2d(x, np.zeros((8, 4, 3, 3), np.float32), algorithm="direct", layout="NHWC")
    with pytest.raises(ValueError, match="depthwise"):
        fastconv.conv2d(x, np.zeros((8, 1, 3, 3), np.float32), groups=4, algorithm="direct", layout="NHWC")


@pytest.mark.parametrize("layout", ["nhwc", "NCWH", "", None, 1])
def test_unknown_layout(layout):
    with pytest.raises((ValueError, TypeError), match="layout"):
        fastconv.conv2d(np.zeros((1, 4, 4, 2)), np.zeros((1, 2, 1, 1)), layout=layout)


def test_channel_mismatch_names_the_channels_last_axis():
    # (N, H, W, C) with C = 3, but the weight expects 2 input channels.
    with pytest.raises(ValueError, match="weight"):
        fastconv.conv2d(np.zeros((1, 4, 4, 3), np.float32), np.zeros((5, 2, 3, 3), np.float32), layout="NHWC")
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        fastconv.conv2d(np.zeros((4, 4), np.float32), np.zeros((5, 2, 3, 3), np.float32), layout="NHWC")


def test_out_must_have_the_channels_last_shape():
    x, w = np.zeros((1, 6, 7, 2), np.float32), np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="shape"):
        fastconv.conv2d(x, w, layout="NHWC", out=np.zeros((1, 3, 4, 5), np.float32))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("C", [3, 15, 16, 20])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("width, kernel, stride, padding", [(30, 3, 1, 1), (31, 7, 2, 3), (16, 5, 1, (1, 4))])
def test_window_rows_across_column_padding(C, padding_mode, width, kernel, stride, padding, dtype):
    """Tiles whose windows cross the left or right padding: under 16 channels the GEMM runs on a
    copy of the input with its columns padded, from 16 on such tiles run tap by tap."""
    x, w, b = make((2, C, 4, width), (9, C, kernel, kernel), dtype, bias=True)
    check(nhwc(x), w, b, stride=stride, padding=padding, padding_mode=padding_mode, algorithm="im2col",
          layout="NHWC", activation="relu")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("layout, algorithm", [("NHWC", "im2col"), ("NCHW", "im2col_nhwc")])
@pytest.mark.parametrize("xshape, wshape, padding, stride", [
    ((2, 1000, 9, 8), (40, 1000, 3, 3), 1, 1),  # border pixels, a part micro-panel
    ((1, 920, 5, 7), (33, 920, 3, 3), 0, 2),
    ((1, 8300, 3, 2), (20, 8300, 1, 1), 0, 1)])
def test_weights_larger_than_the_cache(xshape, wshape, padding, stride, layout, algorithm, dtype):
    """Micro-panels of weights over 256 KB (kh*kw*C rows of NR on every backend here), reductions
    of up to 9,000 products, with the bias and relu fused."""
    x, w, b = make(xshape, wshape, dtype, bias=True)
    if layout == "NHWC":
        x = nhwc(x)
    kw = dict(padding=padding, stride=stride, layout=layout)
    got = fastconv.conv2d(x, w, b, activation="relu", algorithm=algorithm, **kw)
    expected = ref.conv2d(x, w, b, activation="relu", **kw)
    magnitude = ref.conv2d(np.abs(x), np.abs(w), np.abs(b), **kw)
    assert_close(got, expected, magnitude, terms=int(np.prod(wshape[1:])) + 1)
    assert (got > 0).any() and (got == 0).any()


ROW_CLASS_CASES = [
    ("7x7-bias-relu", (4, 16, 7, 7), (40, 16, 3, 3), dict(padding=1, bias=True, activation="relu")),
    ("5x3-stride-wide", (8, 8, 6, 9), (33, 8, 5, 3), dict(padding=(2, 1), stride=(1, 2))),
    ("groups-taps", (4, 12, 7, 7), (36, 6, 3, 3), dict(padding=1, groups=2, bias=True)),
    ("rows-all-padding", (3, 8, 5, 5), (32, 8, 3, 3), dict(padding=3, bias=True, activation="relu")),
    ("dilated-stride-2", (8, 8, 9, 9), (32, 8, 3, 3), dict(padding=2, dilation=2, stride=2)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xshape, wshape, kw", [c[1:] for c in ROW_CLASS_CASES], ids=[c[0] for c in ROW_CLASS_CASES])
def test_gemm_tiles_by_row_classes_skip_padding_rows(xshape, wshape, kw, dtype):
    """Where row classes pay (checked on the active backend), the pixel GEMM cuts its tiles
    class by class and skips the kernel rows on zero padding: first and last rows of small
    maps, a wide kernel with stride, groups (taps one by one), rows whose every kernel row is
    padding (the bias alone, then relu), dilation. The reference within rounding; bit for bit
    on one and two threads, and NCHW data (im2col_nhwc: whole small images through the NHWC
    GEMM) equal to NHWC data."""
    options = {k: v for k, v in kw.items() if k != "bias"}
    x, w, b = make(xshape, wshape, dtype, bias=kw.get("bias", False))
    got = fastconv.conv2d(nhwc(x), w, b, layout="NHWC", algorithm="im2col", **options)
    oh, ow = got.shape[1:3]
    sh, dh = (options.get(k, 1) for k in ("stride", "dilation"))
    sh, dh = (v[0] if isinstance(v, tuple) else v for v in (sh, dh))
    pad = options["padding"][0] if isinstance(options["padding"], tuple) else options["padding"]
    assert fastconv._core.row_classes(xshape[0], xshape[2], oh, ow, wshape[2], wshape[3], sh, dh, pad,
                                      dtype == np.float64)
    expected = check(nhwc(x), w, b, layout="NHWC", algorithm="im2col", **options)
    np.testing.assert_array_equal(got, expected)
    with num_threads(2):
        two = fastconv.conv2d(nhwc(x), w, b, layout="NHWC", algorithm="im2col", **options)
        nchw = fastconv.conv2d(x, w, b, algorithm="im2col_nhwc", **options)
    np.testing.assert_array_equal(two, got)
    np.testing.assert_array_equal(nchw, got.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("value", [np.inf, np.nan], ids=["inf", "nan"])
def test_gemm_row_classes_keep_padding_rows_of_nonfinite_weights(value, dtype):
    """A weight that is not finite makes its padding rows' products NaN in the reference's
    zero-padded sum: the GEMM then runs every kernel row, as the reference does."""
    x, w, _ = make((4, 16, 7, 7), (40, 16, 3, 3), dtype)
    w[3, 5, 0, 1] = value
    assert fastconv._core.row_classes(4, 7, 7, 7, 3, 3, 1, 1, 1, dtype == np.float64)
    got = fastconv.conv2d(nhwc(x), w, layout="NHWC", algorithm="im2col", padding=1)
    expected = nhwc(ref.conv2d(x, w, padding=1))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    assert np.isnan(got[:, 0, :, 3]).all()  # the first output row meets the inf on padding
