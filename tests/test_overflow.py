"""Sizes beyond 64-bit arithmetic get a clear OverflowError before anything is allocated, and
flat max-pool indices stay exact past 2**31 positions.

The extension computes sizes in signed 64-bit arithmetic; the Python layer bounds every
integer argument and every size formula below 2**62 (_args.SIZE_LIMIT), counting a zero
dimension as 1 so that empty arrays with enormous other dimensions are caught too. Each case
below passes every formula checked before the one it targets, so each formula is tested on
its own. Arrays whose shapes claim huge sizes are empty (no memory) or anonymous mappings that
are never touched (no memory until written).
"""

import mmap

import numpy as np
import pytest

import fastconv

F32 = np.float32


def untouched_zeros(shape):
    """A writeable float32 array of zeros backed by an anonymous mapping: reading it maps one
    shared zero page, so its size costs address space, not memory."""
    mapping = mmap.mmap(-1, int(np.prod(shape)) * 4, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(mapping, F32).reshape(shape)


def expect_overflow(call, what):
    with pytest.raises(OverflowError, match=what):
        call()


ONE = np.ones((1, 1, 4, 4), F32)
K3 = np.ones((1, 1, 3, 3), F32)


@pytest.mark.parametrize("call, name", [
    (lambda big: fastconv.conv2d(ONE, K3, stride=big), "stride"),
    (lambda big: fastconv.conv2d(ONE, K3, padding=big), "padding"),
    (lambda big: fastconv.conv2d(ONE, K3, padding=(0, big)), "padding"),
    (lambda big: fastconv.conv2d(ONE, K3[:, :, :1, :1], dilation=big), "dilation"),
    (lambda big: fastconv.conv2d(ONE, K3, groups=big), "groups"),
    (lambda big: fastconv.conv1d(ONE[0, :, 0], K3[:, :, 0], stride=big), "stride"),
    (lambda big: fastconv.conv_transpose2d(ONE, K3, output_padding=big), "output_padding"),
    (lambda big: fastconv.max_pool2d(ONE, big), "kernel_size"),
    (lambda big: fastconv.max_pool2d(ONE, 2, stride=big), "stride"),
    (lambda big: fastconv.avg_pool2d(ONE, 2, divisor_override=big), "divisor_override"),
    (lambda big: fastconv.adaptive_avg_pool2d(ONE, big), "output_size"),
    (lambda big: fastconv.set_num_threads(big), "n"),
])
@pytest.mark.parametrize("big", [2 ** 62, 2 ** 64, -2 ** 63, np.int64(2 ** 62)])
def test_integer_arguments_beyond_2_62_name_the_argument(call, name, big):
    expect_overflow(lambda: call(big), f"^{name} must be below 2\\*\\*62")


def test_conv_output_size():
    expect_overflow(lambda: fastconv.conv2d(np.empty((0, 1, 4, 4), F32), K3, padding=2 ** 31), "^the output")


def test_conv_padded_input_size():
    # output 3 x 3 (stride 2**31), padded input (2**32 + 4)**2
    expect_overflow(lambda: fastconv.conv2d(ONE, K3, padding=2 ** 31, stride=2 ** 31), "^the padded input")


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv_im2col_matrix_size(layout):
    # output and padded input about 2**40; one image's im2col matrix 2**38 rows x 2**38 columns
    x = np.empty((0, 1, 2 ** 20, 2 ** 20) if layout == "NCHW" else (0, 2 ** 20, 2 ** 20, 1), F32)
    w = np.empty((0, 1, 2 ** 19, 2 ** 19), F32)
    expect_overflow(lambda: fastconv.conv2d(x, w, layout=layout), "^the im2col matrix of one image")


def test_conv_multiply_add_count():
    # output about 2**60, padded input 2**50, im2col 2**60, multiply-adds 2**80
    x = np.empty((2 ** 10, 0, 2 ** 20, 2 ** 20), F32)
    w = np.empty((2 ** 10, 0, 2 ** 10, 2 ** 10), F32)
    expect_overflow(lambda: fastconv.conv2d(x, w), "^the multiply-add count")


def test_conv_transpose_output_size():
    expect_overflow(lambda: fastconv.conv_transpose2d(ONE, K3, stride=2 ** 61), "^the output")


def test_conv_transpose_multiply_add_count():
    # output about 2**40 positions (no images, no channels); 2**20 input channels of 2**10
    # positions and 2**40 taps make 2**70 multiply-adds (empty axes counted as 1)
    x = np.empty((0, 2 ** 20, 1, 2 ** 10), F32)
    w = np.empty((2 ** 20, 0, 2 ** 20, 2 ** 20), F32)
    expect_overflow(lambda: fastconv.conv_transpose2d(x, w, stride=1), "^the multiply-add count")


def test_correlate_multiply_add_count():
    # full mode: (2**17 - 1)**2 outputs of 2**32 products each; the arrays are never read
    image = untouched_zeros((2 ** 16, 2 ** 16))
    expect_overflow(lambda: fastconv.correlate2d(image, image), "^the multiply-add count")


@pytest.mark.parametrize("pool", [fastconv.max_pool2d, fastconv.avg_pool2d])
def test_pool_padded_input_size(pool):
    # a 2**30 x 2**30 plane (empty batch) padded by 2**30 on each side: about 2**63 positions
    # (the output, stride 1, about 2**60)
    x = np.empty((0, 1, 2 ** 30, 2 ** 30), F32)
    expect_overflow(lambda: pool(x, 2 ** 31, stride=1, padding=2 ** 30), "^the padded input")


def test_pool_window_read_count():
    # output (2**30 - 2**20 + 1)**2, each window 2**20 x 2**20
    x = np.empty((0, 1, 2 ** 30, 2 ** 30), F32)
    expect_overflow(lambda: fastconv.max_pool2d(x, 2 ** 20, stride=1), "^the count of window reads")


def test_adaptive_pool_window_read_count():
    # input and output 2**60; the windows of 2**30 outputs over 2**30 rows read 2**31 rows
    x = np.empty((0, 1, 2 ** 30, 2 ** 30), F32)
    expect_overflow(lambda: fastconv.adaptive_max_pool2d(x, 2 ** 30), "^the count of window reads")


def test_sizes_just_below_the_limits_still_run():
    """The bounds are not stricter than they say: huge but representable geometry works."""
    out = fastconv.conv2d(ONE, K3, stride=2 ** 40, padding=1)
    assert out.shape == (1, 1, 1, 1) and out[0, 0, 0, 0] == 4
    empty = fastconv.conv2d(np.empty((0, 1, 2 ** 15, 2 ** 15), F32), np.empty((0, 1, 3, 3), F32))
    assert empty.shape == (0, 0, 2 ** 15 - 2, 2 ** 15 - 2)


# Flat indices past 2**31: float32 kernels keep indices in 32-bit lanes only for planes of
# fewer than 2**31 positions. The windows sit at the start, middle and end of the plane, so
# only a few pages are ever touched.
LONG = 2 ** 31 + 64


def test_max_pool1d_indices_past_2_31():
    x = untouched_zeros((1, 1, LONG))
    x[0, 0, LONG - 3] = 1.0
    out, idx = fastconv.max_pool1d(x, 64, stride=2 ** 30, return_indices=True)
    assert out.shape == (1, 1, 3) and out[0, 0, 2] == 1.0
    assert idx.dtype == np.int64 and idx[0, 0, 2] == LONG - 3 and idx[0, 0, 0] == 0


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_max_pool2d_indices_past_2_31(layout):
    H, W = 2 ** 16, 2 ** 15 + 64  # H*W > 2**31; two output rows, each as wide as SIMD rows get
    x = untouched_zeros((1, 1, H, W) if layout == "NCHW" else (1, H, W, 1))
    plane = x[0, 0] if layout == "NCHW" else x[0, :, :, 0]
    col = W - 64  # away from the right edge, whose windows take the scalar path
    plane[H - 1, col] = 1.0
    out, idx = fastconv.max_pool2d(x, 2, stride=(H - 2, 2), return_indices=True, layout=layout)
    there = (0, 0, 1, col // 2) if layout == "NCHW" else (0, 1, col // 2, 0)
    assert out[there] == 1.0 and idx[there] == (H - 1) * W + col
    first_row = idx[0, 0, 0] if layout == "NCHW" else idx[0, 0, :, 0]
    assert np.array_equal(first_row, np.arange(0, W, 2))  # ties: the first position of each window


def claimed(shape):
    """A float32 array of ``shape`` whose elements all alias one zero: no memory."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, F32), shape, (0,) * len(shape))


@pytest.mark.parametrize("call", [
    pytest.param(lambda: fastconv.adaptive_max_pool2d(claimed((2**40, 1, 6, 0)), (5, 1), layout="NHWC"),
                 id="adaptive-nhwc-no-channels"),
    pytest.param(lambda: fastconv.adaptive_avg_pool2d(claimed((2**40, 0, 6, 6)), 3), id="adaptive-no-channels"),
    pytest.param(lambda: fastconv.max_pool2d(claimed((2**40, 0, 6, 6)), 2, return_indices=True), id="max-pool"),
    pytest.param(lambda: fastconv.avg_pool2d(claimed((2**40, 6, 6, 0)), 2, layout="NHWC"), id="avg-pool-nhwc"),
    pytest.param(lambda: fastconv.conv2d(claimed((2**40, 0, 6, 6)), claimed((0, 0, 1, 1))), id="conv-no-channels"),
    pytest.param(lambda: fastconv.conv_transpose2d(claimed((2**40, 0, 6, 6)), claimed((0, 0, 1, 1))),
                 id="conv-transpose-no-channels"),
])
def test_an_empty_result_returns_without_looping_over_the_other_axes(call):
    """Found by the fuzz harness: an NHWC adaptive pool of 2**40 images with no channel looped
    2**40 * 5 times (a hang) to write nothing."""
    result = call()
    assert (result[0] if isinstance(result, tuple) else result).size == 0
