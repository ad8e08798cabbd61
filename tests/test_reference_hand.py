"""The NumPy reference (fastconv.reference) against hand-computed examples, then against
scipy.signal and torch.nn.functional where those are importable.

The reference is the oracle for the compiled kernels, so these tests pin it down
independently: every expected array in the first part was worked out by hand and is
written out literally.
"""

import math

import numpy as np
import pytest

from fastconv import reference as ref

NAN = np.nan


def A(*rows):
    """A float64 array from nested lists."""
    return np.array(rows if len(rows) > 1 else rows[0], dtype=np.float64)


def as4d(a):
    """(H, W) -> (1, 1, H, W)."""
    return np.asarray(a, dtype=np.float64)[None, None]


def as3d(a):
    """(L,) -> (1, 1, L)."""
    return np.asarray(a, dtype=np.float64)[None, None]


def assert_same(actual, expected):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12, equal_nan=True)


IMG3 = A([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
K2 = A([[1, 2], [3, 4]])


# =========================================================================== conv2d / conv1d


def test_conv2d_3x3_image_2x2_kernel_every_output():
    # out[i, j] = 1*x[i,j] + 2*x[i,j+1] + 3*x[i+1,j] + 4*x[i+1,j+1]
    out = ref.conv2d(as4d(IMG3), as4d(K2))
    assert_same(out, as4d([[37, 47], [67, 77]]))
    out = ref.conv2d(as4d(IMG3), as4d(K2), bias=A([0.5]))
    assert_same(out, as4d([[37.5, 47.5], [67.5, 77.5]]))


def test_conv2d_zero_padding_and_stride():
    # zero-padded 5x5 image, 2x2 windows at rows/cols 0 and 2
    out = ref.conv2d(as4d(IMG3), as4d(K2), stride=2, padding=1)
    assert_same(out, as4d([[4, 18], [36, 77]]))


def test_conv2d_dilation():
    # taps at (0,0), (0,2), (2,0), (2,2): 1*1 + 2*3 + 3*7 + 4*9
    out = ref.conv2d(as4d(IMG3), as4d(K2), dilation=2)
    assert_same(out, as4d([[64]]))


def test_conv2d_channels_and_groups():
    x = np.stack([IMG3, 10 * IMG3])[None]  # (1, 2, 3, 3)
    w = A([2.0, -1.0]).reshape(2, 1, 1, 1)
    out = ref.conv2d(x, w, groups=2)  # each channel with its own 1x1 kernel
    assert_same(out, np.stack([2 * IMG3, -10 * IMG3])[None])
    w_mix = A([1.0, 10.0]).reshape(1, 2, 1, 1)
    out = ref.conv2d(x, w_mix)  # one output channel summing both inputs
    assert_same(out, (IMG3 + 100 * IMG3)[None, None])


def test_conv2d_padding_modes_tiny():
    x = as4d([[1, 2, 3], [4, 5, 6]])
    ident = as4d([[1]])
    assert_same(ref.conv2d(x, ident, padding=1, padding_mode="zeros"),
                as4d([[0, 0, 0, 0, 0], [0, 1, 2, 3, 0], [0, 4, 5, 6, 0], [0, 0, 0, 0, 0]]))
    assert_same(ref.conv2d(x, ident, padding=1, padding_mode="reflect"),
                as4d([[5, 4, 5, 6, 5], [2, 1, 2, 3, 2], [5, 4, 5, 6, 5], [2, 1, 2, 3, 2]]))
    assert_same(ref.conv2d(x, ident, padding=1, padding_mode="replicate"),
                as4d([[1, 1, 2, 3, 3], [1, 1, 2, 3, 3], [4, 4, 5, 6, 6], [4, 4, 5, 6, 6]]))
    assert_same(ref.conv2d(x, ident, padding=1, padding_mode="circular"),
                as4d([[6, 4, 5, 6, 4], [3, 1, 2, 3, 1], [6, 4, 5, 6, 4], [3, 1, 2, 3, 1]]))


def test_conv1d_padding_modes_and_large_pads():
    x = as3d([1, 2, 3])
    ident = as3d([1])
    assert_same(ref.conv1d(x, ident, padding=2), as3d([0, 0, 1, 2, 3, 0, 0]))
    assert_same(ref.conv1d(x, ident, padding=2, padding_mode="reflect"), as3d([3, 2, 1, 2, 3, 2, 1]))
    assert_same(ref.conv1d(x, ident, padding=2, padding_mode="replicate"), as3d([1, 1, 1, 2, 3, 3, 3]))
    assert_same(ref.conv1d(x, ident, padding=2, padding_mode="circular"), as3d([2, 3, 1, 2, 3, 1, 2]))
    # pads larger than the input follow np.pad
    x2 = as3d([1, 2])
    assert_same(ref.conv1d(x2, ident, padding=3, padding_mode="reflect"), as3d([2, 1, 2, 1, 2, 1, 2, 1]))
    assert_same(ref.conv1d(x2, ident, padding=3, padding_mode="circular"), as3d([2, 1, 2, 1, 2, 1, 2, 1]))
    assert_same(ref.conv1d(x2, ident, padding=3, padding_mode="replicate"), as3d([1, 1, 1, 1, 2, 2, 2, 2]))


def test_conv1d_padding_strings_even_kernel():
    x = as3d([1, 2, 3, 4])
    w = as3d([1, 1])
    assert_same(ref.conv1d(x, w, padding="valid"), as3d([3, 5, 7]))
    assert_same(ref.conv1d(x, w, padding="narrow"), as3d([3, 5, 7]))
    assert_same(ref.conv1d(x, w, padding="same"), as3d([3, 5, 7, 4]))  # odd pad at the end
    assert_same(ref.conv1d(x, w, padding="full"), as3d([1, 3, 5, 7, 4]))
    assert_same(ref.conv1d(x, w, padding=(1, 0)), as3d([1, 3, 5, 7]))  # per-side pair
    assert_same(ref.conv1d(x, w, stride=2, padding="same"), as3d([3, 7]))


def test_conv1d_bias_relu_stride_dilation():
    x = as3d([1, -2, 3])
    assert_same(ref.conv1d(x, as3d([1]), bias=A([-1.5])), as3d([-0.5, -3.5, 1.5]))
    assert_same(ref.conv1d(x, as3d([1]), bias=A([-1.5]), activation="relu"), as3d([0, 0, 1.5]))
    x = as3d([1, 2, 3, 4, 5, 6])
    # taps at i and i+2: [1+3, 2+4, 3+5, 4+6], then every second one
    assert_same(ref.conv1d(x, as3d([1, 1]), dilation=2), as3d([4, 6, 8, 10]))
    assert_same(ref.conv1d(x, as3d([1, 1]), dilation=2, stride=2), as3d([4, 8]))


def test_conv_unbatched_inputs_and_dtype():
    x32 = IMG3[None].astype(np.float32)  # (C, H, W)
    out = ref.conv2d(x32, as4d(K2).astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (1, 2, 2)
    assert_same(out, A([[[37, 47], [67, 77]]]))
    out = ref.conv1d(A([[1, 2, 3]]), as3d([1, -1]))  # (C, L)
    assert_same(out, A([[-1, -1]]))


def test_conv2d_out_argument():
    x = as4d(IMG3)
    buf = np.empty((1, 1, 2, 2))
    res = ref.conv2d(x, as4d(K2), out=buf)
    assert res is buf
    assert_same(buf, as4d([[37, 47], [67, 77]]))
    with pytest.raises(ValueError, match="out"):
        ref.conv2d(x, as4d(K2), out=np.empty((1, 1, 2, 3)))
    with pytest.raises(TypeError, match="out"):
        ref.conv2d(x, as4d(K2), out=np.empty((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="out"):
        ref.conv2d(x, as4d(K2), out=np.empty((1, 1, 2, 4))[..., ::2])
    buf1 = np.empty((1, 1, 2))
    assert ref.conv1d(as3d([1, 2, 3]), as3d([1, 1]), out=buf1) is buf1
    assert_same(buf1, as3d([3, 5]))


def test_conv_argument_errors():
    x = as4d(IMG3)
    with pytest.raises(TypeError, match="x"):
        ref.conv2d(x.astype(np.int64), as4d(K2))
    with pytest.raises(TypeError, match="weight"):
        ref.conv2d(x, as4d(K2).astype(np.float32))
    with pytest.raises(ValueError, match="padding_mode"):
        ref.conv2d(x, as4d(K2), padding_mode="mirror")
    with pytest.raises(ValueError, match="activation"):
        ref.conv2d(x, as4d(K2), activation="tanh")
    with pytest.raises(ValueError, match="algorithm"):
        ref.conv2d(x, as4d(K2), algorithm="fft")
    with pytest.raises(ValueError, match="bias"):
        ref.conv2d(x, as4d(K2), bias=A([1.0, 2.0]))
    with pytest.raises(ValueError, match="groups"):
        ref.conv2d(np.zeros((1, 3, 3, 3)), np.zeros((2, 1, 1, 1)), groups=2)
    with pytest.raises(ValueError, match="weight"):
        ref.conv2d(x, np.zeros((1, 1, 4, 4)))  # kernel larger than the input
    for algorithm in ("auto", "direct", "im2col"):
        assert_same(ref.conv2d(x, as4d(K2), algorithm=algorithm), as4d([[37, 47], [67, 77]]))


# =========================================================================== conv_transpose2d


def test_conv_transpose2d_stride2_nonoverlapping():
    x = as4d([[1, 2], [3, 4]])
    w = as4d([[1, 10], [100, 1000]])
    out = ref.conv_transpose2d(x, w, stride=2)
    assert_same(out, as4d([[1, 10, 2, 20],
                           [100, 1000, 200, 2000],
                           [3, 30, 4, 40],
                           [300, 3000, 400, 4000]]))


def test_conv_transpose2d_stride2_overlapping_padding_output_padding():
    x = as4d([[1, 2], [3, 4]])
    w = np.ones((1, 1, 3, 3))
    # output row 2*iy + ky: rows 0,1 from iy=0; row 2 from both; rows 3,4 from iy=1
    full = as4d([[1, 1, 3, 2, 2],
                 [1, 1, 3, 2, 2],
                 [4, 4, 10, 6, 6],
                 [3, 3, 7, 4, 4],
                 [3, 3, 7, 4, 4]])
    assert_same(ref.conv_transpose2d(x, w, stride=2), full)
    assert_same(ref.conv_transpose2d(x, w, stride=2, padding=1), as4d([[1, 3, 2], [4, 10, 6], [3, 7, 4]]))
    assert_same(ref.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
                as4d([[1, 3, 2, 2], [4, 10, 6, 6], [3, 7, 4, 4], [3, 7, 4, 4]]))
    # output_padding adds rows that receive nothing when there is no cropping
    out = ref.conv_transpose2d(x, w, stride=2, output_padding=(1, 0))
    assert out.shape == (1, 1, 6, 5)
    assert_same(out[..., :5, :], full)
    assert_same(out[..., 5, :], np.zeros((1, 1, 5)))


def test_conv_transpose2d_channels_groups_bias_dilation():
    x = np.stack([IMG3, 10 * IMG3])[None]
    w = A([2.0, 3.0]).reshape(2, 1, 1, 1)  # (C_in=2, K/groups=1, 1, 1)
    assert_same(ref.conv_transpose2d(x, w), (2 * IMG3 + 30 * IMG3)[None, None])
    out = ref.conv_transpose2d(x, w, groups=2, bias=A([1.0, -1.0]))
    assert_same(out, np.stack([2 * IMG3 + 1, 30 * IMG3 - 1])[None])
    # 1x2 kernel with dilation 2 on a 1x2 input: positions ix + 2*kx
    out = ref.conv_transpose2d(as4d([[1, 2]]), as4d([[1, 10]]), dilation=2)
    assert_same(out, as4d([[1, 2, 10, 20]]))
    out = ref.conv_transpose2d(IMG3[None], as4d([[1]]))  # unbatched
    assert_same(out, IMG3[None])


def test_conv_transpose2d_errors():
    x = as4d([[1, 2], [3, 4]])
    w = np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match="output_padding"):
        ref.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        ref.conv_transpose2d(x, w, stride=1, output_padding=1)
    ref.conv_transpose2d(x, w, stride=1, dilation=2, output_padding=1)  # < dilation is fine
    with pytest.raises(ValueError):
        ref.conv_transpose2d(as4d([[1]]), as4d([[1]]), padding=1)  # output size -1
    with pytest.raises(ValueError, match="padding"):
        ref.conv_transpose2d(x, w, padding=-1)
    with pytest.raises(ValueError):
        ref.conv_transpose2d(np.zeros((1, 2, 2, 2)), np.zeros((3, 1, 1, 1)))


# =========================================================================== correlate2d / convolve2d


CORR_FULL = A([[4, 11, 18, 9], [18, 37, 47, 21], [36, 67, 77, 33], [14, 23, 26, 9]])
CONV_FULL = A([[1, 4, 7, 6], [7, 23, 33, 24], [19, 53, 63, 42], [21, 52, 59, 36]])


def test_correlate2d_modes_by_hand():
    assert_same(ref.correlate2d(IMG3, K2), CORR_FULL)
    assert_same(ref.correlate2d(IMG3, K2, "valid"), A([[37, 47], [67, 77]]))
    # even kernel, 'same': pad (k-1)//2 = 0 before and k//2 = 1 after -> full[1:, 1:]
    assert_same(ref.correlate2d(IMG3, K2, "same"), A([[37, 47, 21], [67, 77, 33], [23, 26, 9]]))


def test_convolve2d_modes_by_hand():
    assert_same(ref.convolve2d(IMG3, K2), CONV_FULL)
    assert_same(ref.convolve2d(IMG3, K2, "valid"), A([[23, 33], [53, 63]]))
    # even kernel, 'same' for convolution is the other centring: full[:3, :3]
    assert_same(ref.convolve2d(IMG3, K2, "same"), A([[1, 4, 7], [7, 23, 33], [19, 53, 63]]))
    # convolve = correlate with the kernel flipped both ways (full and valid modes)
    assert_same(ref.correlate2d(IMG3, K2[::-1, ::-1]), CONV_FULL)


def test_correlate2d_boundaries_by_hand():
    img = A([[1, 2, 3]])
    pick_left = A([[1, 0, 0]])  # out[j] = padded[j]
    assert_same(ref.correlate2d(img, pick_left, "full", "fill", 9), A([[9, 9, 1, 2, 3]]))
    assert_same(ref.correlate2d(img, pick_left, "full", "wrap"), A([[2, 3, 1, 2, 3]]))
    assert_same(ref.correlate2d(img, pick_left, "full", "symm"), A([[2, 1, 1, 2, 3]]))
    assert_same(ref.correlate2d(img, pick_left, "same", "fill", 9), A([[9, 1, 2]]))
    assert_same(ref.correlate2d(img, pick_left, "same", "wrap"), A([[3, 1, 2]]))
    assert_same(ref.correlate2d(img, pick_left, "same", "symm"), A([[1, 1, 2]]))
    assert_same(ref.correlate2d(img, pick_left, "same", "symmetric"), A([[1, 1, 2]]))
    assert_same(ref.correlate2d(img, pick_left, "same", "circular"), A([[3, 1, 2]]))
    # convolve2d flips the kernel: picks the right neighbour
    assert_same(ref.convolve2d(img, pick_left, "same", "wrap"), A([[2, 3, 1]]))
    assert_same(ref.convolve2d(img, pick_left, "same", "fill", -1), A([[2, 3, -1]]))


def test_correlate2d_valid_kernel_larger_than_image():
    a = A([[1, 2]])
    b = A([[1, 2, 3]])
    # scipy swaps the inputs: correlate(b, a) = [1+4, 2+6], then flips it
    assert_same(ref.correlate2d(a, b, "valid"), A([[8, 5]]))
    # convolution is symmetric: convolve(b, a) valid = [4, 7]
    assert_same(ref.convolve2d(a, b, "valid"), A([[4, 7]]))
    with pytest.raises(ValueError, match="valid"):
        ref.correlate2d(np.zeros((1, 5)), np.zeros((2, 2)), "valid")
    with pytest.raises(ValueError, match="mode"):
        ref.correlate2d(a, b, "wide")
    with pytest.raises(ValueError, match="boundary"):
        ref.convolve2d(a, b, boundary="edge")
    with pytest.raises(ValueError, match="image"):
        ref.correlate2d(a[None], b)
    with pytest.raises(TypeError, match="kernel"):
        ref.correlate2d(a, b.astype(np.float32))


# =========================================================================== max pools


X44 = A([[1, 5, 2, 0], [3, 4, 8, 7], [9, 0, 6, 6], [2, 9, 6, 1]])


def test_max_pool2d_4x4_with_indices():
    out, idx = ref.max_pool2d(as4d(X44), 2, return_indices=True)
    assert_same(out, as4d([[5, 8], [9, 6]]))
    assert idx.dtype == np.int64
    # ties keep the first position in row-major order: 9 at 8 (not 13), 6 at 10 (not 11, 14)
    np.testing.assert_array_equal(idx, [[[[1, 6], [8, 10]]]])
    assert_same(ref.max_pool2d(as4d(X44), 2), as4d([[5, 8], [9, 6]]))


def test_max_pool2d_padding_stride_overlap():
    # k=3, s=2, p=1: row windows {0,1} and {1,2,3}, same for columns
    out, idx = ref.max_pool2d(as4d(X44), 3, stride=2, padding=1, return_indices=True)
    assert_same(out, as4d([[5, 8], [9, 9]]))
    np.testing.assert_array_equal(idx, [[[[1, 6], [8, 13]]]])


def test_max_pool2d_dilation_and_negative_padding_is_never_selected():
    x = -as4d(np.arange(1, 17).reshape(4, 4))  # all negative, padding must not win
    out, idx = ref.max_pool2d(x, 2, stride=1, dilation=2, return_indices=True)
    # taps (y, x), (y, x+2), (y+2, x), (y+2, x+2): the max is at (y, x)
    assert_same(out, as4d([[-1, -2], [-5, -6]]))
    np.testing.assert_array_equal(idx, [[[[0, 1], [4, 5]]]])
    out, idx = ref.max_pool2d(x, 2, stride=2, padding=1, return_indices=True)
    assert_same(out, as4d([[-1, -2, -4], [-5, -6, -8], [-13, -14, -16]]))
    np.testing.assert_array_equal(idx, [[[[0, 1, 3], [4, 5, 7], [12, 13, 15]]]])


def test_max_pool2d_nan_rule():
    x = as4d([[NAN, 1, 1, 7], [NAN, 2, NAN, 3]])
    out, idx = ref.max_pool2d(x, 2, return_indices=True)
    # left window: two NaNs, the last one (flat index 4) wins; right window: one NaN at 6
    assert_same(out, as4d([[NAN, NAN]]))
    np.testing.assert_array_equal(idx, [[[[4, 6]]]])
    x = as4d([[-np.inf, -np.inf], [-np.inf, -np.inf]])
    out, idx = ref.max_pool2d(x, 2, return_indices=True)
    assert_same(out, as4d([[-np.inf]]))
    np.testing.assert_array_equal(idx, [[[[0]]]])  # first in-bounds position


def test_max_pool_empty_dilated_window():
    # k=2, d=5, p=1 on L=4: the only window reads positions -1 and 4, both outside the input.
    # torch gives -inf with an out-of-range index; the reference gives -inf and index -1.
    out, idx = ref.max_pool1d(as3d([1, 2, 3, 4]), 2, 1, 1, 5, return_indices=True)
    assert_same(out, as3d([-np.inf]))
    np.testing.assert_array_equal(idx, [[[-1]]])


def test_max_pool1d_ceil_mode():
    x = as3d([1, 2, 3, 4, 5])
    assert_same(ref.max_pool1d(x, 2), as3d([2, 4]))
    assert_same(ref.max_pool1d(x, 2, ceil_mode=True), as3d([2, 4, 5]))  # partial last window
    # k=2, s=2, p=1: a 4th window would start at 5 = L + p - 1 + 1, inside the right padding: dropped
    out, idx = ref.max_pool1d(x, 2, 2, 1, ceil_mode=True, return_indices=True)
    assert_same(out, as3d([1, 3, 5]))
    np.testing.assert_array_equal(idx, [[[0, 2, 4]]])
    x6 = as3d([1, 2, 3, 4, 5, 6])
    assert_same(ref.max_pool1d(x6, 3, 2, 1), as3d([2, 4, 6]))
    assert_same(ref.max_pool1d(x6, 3, 2, 1, ceil_mode=True), as3d([2, 4, 6, 6]))
    out, idx = ref.max_pool1d(A([[3, 1, 3]]), 2, 1, dilation=2, return_indices=True)  # (C, L)
    assert_same(out, A([[3]]))
    np.testing.assert_array_equal(idx, [[0]])


# =========================================================================== avg / sum pools


SUMS_K2_P1 = A([[1, 3, 5, 3], [5, 12, 16, 9], [11, 24, 28, 15], [7, 15, 17, 9]])


def test_avg_pool2d_count_include_pad():
    out = ref.avg_pool2d(as4d(IMG3), 2, stride=1, padding=1)
    assert_same(out, as4d([[0.25, 0.75, 1.25, 0.75],
                           [1.25, 3.00, 4.00, 2.25],
                           [2.75, 6.00, 7.00, 3.75],
                           [1.75, 3.75, 4.25, 2.25]]))
    assert_same(out, as4d(SUMS_K2_P1 / 4))


def test_avg_pool2d_exclude_pad_and_divisor_override():
    out = ref.avg_pool2d(as4d(IMG3), 2, stride=1, padding=1, count_include_pad=False)
    # divisors: [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]
    assert_same(out, as4d([[1.0, 1.5, 2.5, 3.0],
                           [2.5, 3.0, 4.0, 4.5],
                           [5.5, 6.0, 7.0, 7.5],
                           [7.0, 7.5, 8.5, 9.0]]))
    for cip in (True, False):
        out = ref.avg_pool2d(as4d(IMG3), 2, stride=1, padding=1, count_include_pad=cip, divisor_override=3)
        assert_same(out, as4d(SUMS_K2_P1 / 3))
    assert_same(ref.avg_pool2d(as4d(IMG3), 2), as4d([[3]]))  # stride defaults to kernel_size


def test_avg_pool1d_ceil_mode_pool_size_rule():
    x = as3d([1, 2, 3, 4, 5, 6])
    # windows start -1, 1, 3, 5; the last one ends at min(5+3, L+p=7) = 7, so its pool size is 2
    assert_same(ref.avg_pool1d(x, 3, 2, 1, ceil_mode=True), as3d([3 / 3, 9 / 3, 15 / 3, 6 / 2]))
    assert_same(ref.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                as3d([3 / 2, 9 / 3, 15 / 3, 6 / 1]))
    assert_same(ref.avg_pool1d(x, 3, 2, 1, ceil_mode=False), as3d([1, 3, 5]))
    # ceil mode without padding: the partial window is divided by its clipped size
    assert_same(ref.avg_pool1d(as3d([1, 2, 3, 4, 6]), 2, ceil_mode=True), as3d([1.5, 3.5, 6]))
    # a window that would start in the right padding is dropped
    assert_same(ref.avg_pool1d(as3d([1, 2, 3, 4, 5]), 2, 2, 1, ceil_mode=True), as3d([0.5, 2.5, 4.5]))


def test_sum_pools():
    assert_same(ref.sum_pool2d(as4d(IMG3), 2, stride=1, padding=1), as4d(SUMS_K2_P1))
    assert_same(ref.sum_pool2d(as4d(IMG3), (1, 3)), as4d([[6], [15], [24]]))
    assert_same(ref.sum_pool1d(as3d([1, 2, 3, 4, 5, 6]), 3, 2, 1, ceil_mode=True), as3d([3, 9, 15, 6]))
    assert_same(ref.sum_pool1d(A([[1, 2, 3, 4]]), 2), A([[3, 7]]))  # (C, L)


def test_avg_pool_errors():
    x = as4d(IMG3)
    with pytest.raises(ValueError, match="divisor_override"):
        ref.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="divisor_override"):
        ref.avg_pool2d(x, 2, divisor_override=1.5)
    with pytest.raises(ValueError, match="padding"):
        ref.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        ref.avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="kernel_size"):
        ref.max_pool2d(x, 4)
    with pytest.raises(TypeError, match="ceil_mode"):
        ref.sum_pool2d(x, 2, ceil_mode=1)
    with pytest.raises(TypeError, match="x"):
        ref.max_pool2d(x.astype(np.int32), 2)
    with pytest.raises(ValueError, match="x"):
        ref.max_pool2d(IMG3, 2)


# =========================================================================== lp_pool2d


def test_lp_pool2d():
    assert_same(ref.lp_pool2d(as4d([[3, 4], [0, 0]]), 2, 2), as4d([[5]]))
    assert_same(ref.lp_pool2d(as4d([[1, -2], [3, 4]]), 1, 2), as4d([[6]]))
    # ceil mode: the partial window [12] is averaged over 1 element then multiplied by kh*kw = 2
    assert_same(ref.lp_pool2d(as4d([[3, 4, 12]]), 2, (1, 2), ceil_mode=True), as4d([[5, 12 * math.sqrt(2)]]))
    assert_same(ref.lp_pool2d(as4d([[1, 2, 3, 4]]), 3, (1, 2), stride=(1, 1)),
                as4d([[9 ** (1 / 3), 35 ** (1 / 3), 91 ** (1 / 3)]]))
    # a negative power mean has no real root: NaN, like torch.pow
    assert_same(ref.lp_pool2d(as4d([[-2]]), 3, 1), as4d([[NAN]]))
    with pytest.raises(ValueError, match="norm_type"):
        ref.lp_pool2d(as4d(IMG3), 0, 2)
    with pytest.raises(ValueError, match="norm_type"):
        ref.lp_pool2d(as4d(IMG3), float("inf"), 2)
    with pytest.raises(TypeError, match="norm_type"):
        ref.lp_pool2d(as4d(IMG3), "2", 2)


# =========================================================================== adaptive / global pools


def test_adaptive_pools_non_divisible():
    x = as4d([[1, 2, 3, 4, 5]])
    # 5 -> 3: windows [0, 2), [1, 4), [3, 5)
    assert_same(ref.adaptive_avg_pool2d(x, (1, 3)), as4d([[1.5, 3, 4.5]]))
    out, idx = ref.adaptive_max_pool2d(x, (1, 3), return_indices=True)
    assert_same(out, as4d([[2, 4, 5]]))
    np.testing.assert_array_equal(idx, [[[[1, 3, 4]]]])
    # 3x3 -> 2x2: windows [0, 2) and [1, 3) in both dims
    assert_same(ref.adaptive_avg_pool2d(as4d(IMG3), 2), as4d([[3, 4], [6, 7]]))
    out, idx = ref.adaptive_max_pool2d(as4d(IMG3), 2, return_indices=True)
    assert_same(out, as4d([[5, 6], [8, 9]]))
    np.testing.assert_array_equal(idx, [[[[4, 5], [7, 8]]]])
    # None keeps the input size
    assert_same(ref.adaptive_avg_pool2d(as4d(IMG3), (None, 2)), as4d([[1.5, 2.5], [4.5, 5.5], [7.5, 8.5]]))
    # upsampling 2 -> 3: windows [0, 1), [0, 2), [1, 2)
    assert_same(ref.adaptive_avg_pool2d(as4d([[1, 3]]), (1, 3)), as4d([[1, 2, 3]]))
    assert_same(ref.adaptive_max_pool2d(as4d([[1, 3]]), (1, 3)), as4d([[1, 3, 3]]))


def test_adaptive_max_ties_and_nan():
    x = as4d([[7, 7, 1], [NAN, 0, NAN]])
    out, idx = ref.adaptive_max_pool2d(x, (1, 2), return_indices=True)
    # columns [0, 2) and [1, 3): first has 7,7,NaN,0 -> NaN at 3; second 7,1,0,NaN -> NaN at 5
    assert_same(out, as4d([[NAN, NAN]]))
    np.testing.assert_array_equal(idx, [[[[3, 5]]]])
    out, idx = ref.adaptive_max_pool2d(as4d([[7, 7, 1]]), (1, 2), return_indices=True)
    assert_same(out, as4d([[7, 7]]))
    np.testing.assert_array_equal(idx, [[[[0, 1]]]])
    with pytest.raises(ValueError, match="output_size"):
        ref.adaptive_avg_pool2d(as4d(IMG3), 0)


def test_global_pools():
    x = A([[[1, 2], [3, 4]], [[-1, NAN], [0, 5]]])  # (C, H, W)
    assert_same(ref.global_avg_pool2d(x), A([[[2.5]], [[NAN]]]))
    assert_same(ref.global_max_pool2d(x), A([[[4]], [[NAN]]]))
    xb = np.stack([x, -x])  # (N, C, H, W)
    assert ref.global_avg_pool2d(xb).shape == (2, 2, 1, 1)
    assert_same(ref.global_max_pool2d(xb)[1], A([[[-1]], [[NAN]]]))
    out32 = ref.global_avg_pool2d(x.astype(np.float32))
    assert out32.dtype == np.float32


# =========================================================================== relu


def test_relu():
    x = A([-1, 0, 2, NAN, -0.0, -np.inf, np.inf])
    out = ref.relu(x)
    assert_same(out, A([0, 0, 2, NAN, 0, 0, np.inf]))
    assert np.signbit(out[4])  # -0.0 stays -0.0, as torch.relu
    assert ref.relu(x.astype(np.float32)).dtype == np.float32
    buf = np.empty(7)
    assert ref.relu(x, out=buf) is buf
    assert_same(buf, out)
    with pytest.raises(TypeError, match="x"):
        ref.relu(np.arange(3))
    with pytest.raises(ValueError, match="out"):
        ref.relu(x, out=np.empty(6))


# =========================================================================== scipy cross-checks


KERNEL_SHAPES = [(1, 1), (2, 2), (3, 3), (2, 3), (4, 1), (3, 4), (6, 7), (9, 9)]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_correlate_convolve_match_scipy(mode, boundary):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(hash((mode, boundary)) % 2**32)
    for image_shape in [(5, 6), (1, 1), (7, 3), (4, 4)]:
        image = rng.standard_normal(image_shape)
        for kshape in KERNEL_SHAPES:
            kernel = rng.standard_normal(kshape)
            for fill in (0.0, 1.75):
                for ours, theirs in [(ref.correlate2d, signal.correlate2d), (ref.convolve2d, signal.convolve2d)]:
                    try:
                        expected = theirs(image, kernel, mode, boundary, fill)
                    except ValueError:
                        with pytest.raises(ValueError):
                            ours(image, kernel, mode, boundary, fill)
                        continue
                    got = ours(image, kernel, mode, boundary, fill)
                    assert got.shape == expected.shape, (image_shape, kshape, mode, boundary)
                    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_correlate_convolve_float32_and_valid_swap_match_scipy():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(1)
    image = rng.standard_normal((3, 4)).astype(np.float32)
    kernel = rng.standard_normal((5, 6)).astype(np.float32)  # larger in every dim
    for ours, theirs in [(ref.correlate2d, signal.correlate2d), (ref.convolve2d, signal.convolve2d)]:
        for mode in ("full", "same", "valid"):
            got = ours(image, kernel, mode)
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, theirs(image, kernel, mode), rtol=1e-5, atol=1e-5)


# =========================================================================== torch cross-checks


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def T(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def close64(got, expected):
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)


TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def test_conv2d_matches_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    checked = 0
    while checked < 60:
        groups = int(rng.integers(1, 3))
        c, k = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(4, 9)), int(rng.integers(4, 9))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pad = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        mode = ["zeros", "reflect", "replicate", "circular"][int(rng.integers(0, 4))]
        if any(d * (kk - 1) + 1 > s + 2 * p for d, kk, s, p in zip(dilation, (kh, kw), (h, w), pad)):
            continue
        x = rng.standard_normal((n, c, h, w))
        wt = rng.standard_normal((k, c // groups, kh, kw))
        b = rng.standard_normal(k) if rng.integers(0, 2) else None
        act = "relu" if rng.integers(0, 2) else None
        got = ref.conv2d(x, wt, b, stride, pad, dilation, groups, padding_mode=mode, activation=act)
        xt = F.pad(T(torch, x), (pad[1], pad[1], pad[0], pad[0]), mode=TORCH_PAD_MODES[mode])
        expected = F.conv2d(xt, T(torch, wt), None if b is None else T(torch, b), stride, 0, dilation, groups)
        if act:
            expected = F.relu(expected)
        close64(got, expected)
        checked += 1


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv2d_padding_strings_and_float32_match_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    for kh, kw in [(1, 1), (2, 2), (3, 2), (4, 5)]:
        for dil in (1, 2):
            x = rng.standard_normal((2, 4, 9, 10))
            wt = rng.standard_normal((6, 2, kh, kw))
            for padding in ("same", "valid"):
                got = ref.conv2d(x, wt, padding=padding, dilation=dil, groups=2)
                close64(got, F.conv2d(T(torch, x), T(torch, wt), padding=padding, dilation=dil, groups=2))
            x32, w32 = x.astype(np.float32), wt.astype(np.float32)
            got = ref.conv2d(x32, w32, padding=1, groups=2)
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, F.conv2d(T(torch, x32), T(torch, w32), padding=1, groups=2).numpy(),
                                       rtol=1e-4, atol=1e-5)


def test_conv1d_matches_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    checked = 0
    while checked < 40:
        groups = int(rng.integers(1, 4))
        c, k = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        L, ks = int(rng.integers(4, 12)), int(rng.integers(1, 5))
        s, d, p = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 3))
        mode = ["zeros", "reflect", "replicate", "circular"][int(rng.integers(0, 4))]
        if d * (ks - 1) + 1 > L + 2 * p:
            continue
        x = rng.standard_normal((2, c, L))
        wt = rng.standard_normal((k, c // groups, ks))
        b = rng.standard_normal(k)
        got = ref.conv1d(x, wt, b, s, p, d, groups, padding_mode=mode)
        xt = F.pad(T(torch, x), (p, p), mode=TORCH_PAD_MODES[mode])
        close64(got, F.conv1d(xt, T(torch, wt), T(torch, b), s, 0, d, groups))
        got = ref.conv1d(x[0], wt, b, 1, "same", d, groups)  # unbatched, 'same'
        close64(got, F.conv1d(T(torch, x[0]), T(torch, wt), T(torch, b), 1, "same", d, groups))
        checked += 1


def test_conv_transpose2d_matches_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    checked = 0
    while checked < 60:
        groups = int(rng.integers(1, 3))
        c, k = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        h, w = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pad = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        out_pad = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        sizes = [(i - 1) * s - 2 * p + d * (kk - 1) + op + 1
                 for i, s, p, d, kk, op in zip((h, w), stride, pad, dilation, (kh, kw), out_pad)]
        if min(sizes) <= 0:
            with pytest.raises(ValueError):
                ref.conv_transpose2d(np.zeros((1, c, h, w)), np.zeros((c, k // groups, kh, kw)),
                                     None, stride, pad, out_pad, groups, dilation)
            continue
        x = rng.standard_normal((2, c, h, w))
        wt = rng.standard_normal((c, k // groups, kh, kw))
        b = rng.standard_normal(k) if rng.integers(0, 2) else None
        got = ref.conv_transpose2d(x, wt, b, stride, pad, out_pad, groups, dilation)
        expected = F.conv_transpose2d(T(torch, x), T(torch, wt), None if b is None else T(torch, b),
                                      stride, pad, out_pad, groups, dilation)
        close64(got, expected)
        checked += 1


def test_conv_transpose2d_is_adjoint_of_conv2d():
    # <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for matching geometry
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 2))
    y_shape = ref.conv2d(x, w, stride=2, padding=1, dilation=(1, 2), groups=2).shape
    y = rng.standard_normal(y_shape)
    lhs = np.sum(ref.conv2d(x, w, stride=2, padding=1, dilation=(1, 2), groups=2) * y)
    # output_padding restores the input size lost to the floor in the conv output size
    op = tuple(int(s - ((o - 1) * st - 2 * p + d * (k - 1) + 1))
               for s, o, st, p, d, k in zip((9, 8), y_shape[2:], (2, 2), (1, 1), (1, 2), (3, 2)))
    xt = ref.conv_transpose2d(y, w, stride=2, padding=1, output_padding=op, groups=2, dilation=(1, 2))
    assert xt.shape == x.shape
    np.testing.assert_allclose(lhs, np.sum(x * xt), rtol=1e-10)


def _random_pool_config(rng, dilated):
    k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilated else (1, 1)
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)  # torch: p <= k // 2
    return k, s, p, d, bool(rng.integers(0, 2))


def test_max_pool2d_matches_torch_with_ties_and_nan(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 80:
        k, s, p, d, ceil = _random_pool_config(rng, dilated=True)
        h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        if any(dd * (kk - 1) + 1 > size + 2 * pp for dd, kk, size, pp in zip(d, k, (h, w), p)):
            continue
        x = rng.integers(-3, 4, size=(2, 3, h, w)).astype(np.float64)  # many ties
        x[rng.random(x.shape) < 0.1] = np.nan
        x[rng.random(x.shape) < 0.05] = -np.inf
        got, idx = ref.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
        if (idx < 0).any():  # an empty dilated window: torch returns an out-of-range index
            continue
        expected, expected_idx = F.max_pool2d(T(torch, x), k, s, p, d, ceil, return_indices=True)
        close64(got, expected)
        np.testing.assert_array_equal(idx, expected_idx.numpy())
        checked += 1


def test_max_pool1d_matches_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    checked = 0
    while checked < 40:
        k, s, d = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        p, ceil, L = int(rng.integers(0, k // 2 + 1)), bool(rng.integers(0, 2)), int(rng.integers(1, 12))
        if d * (k - 1) + 1 > L + 2 * p:
            continue
        x = rng.integers(-3, 4, size=(2, 3, L)).astype(np.float64)
        x[rng.random(x.shape) < 0.1] = np.nan
        got, idx = ref.max_pool1d(x, k, s, p, d, ceil, return_indices=True)
        if (idx < 0).any():
            continue
        expected, expected_idx = F.max_pool1d(T(torch, x), k, s, p, d, ceil, return_indices=True)
        close64(got, expected)
        np.testing.assert_array_equal(idx, expected_idx.numpy())
        close64(ref.max_pool1d(x[0], k, s, p, d, ceil), F.max_pool1d(T(torch, x[0]), k, s, p, d, ceil))
        checked += 1


def test_avg_and_sum_pool2d_match_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    checked = 0
    while checked < 80:
        k, s, p, _, ceil = _random_pool_config(rng, dilated=False)
        h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        if any(kk > size + 2 * pp for kk, size, pp in zip(k, (h, w), p)):
            continue
        cip = bool(rng.integers(0, 2))
        div = None if rng.integers(0, 2) else int(rng.integers(1, 6))
        x = rng.standard_normal((2, 3, h, w))
        got = ref.avg_pool2d(x, k, s, p, ceil, cip, div)
        close64(got, F.avg_pool2d(T(torch, x), k, s, p, ceil, cip, div))
        got = ref.sum_pool2d(x, k, s, p, ceil)
        close64(got, F.avg_pool2d(T(torch, x), k, s, p, ceil, True, 1))
        checked += 1
    x32 = rng.standard_normal((3, 7, 7)).astype(np.float32)
    got = ref.avg_pool2d(x32, 3, 2, 1, True, False)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, F.avg_pool2d(T(torch, x32), 3, 2, 1, True, False).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_avg_and_sum_pool1d_match_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(10)
    checked = 0
    while checked < 40:
        k, s = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        p, ceil, L = int(rng.integers(0, k // 2 + 1)), bool(rng.integers(0, 2)), int(rng.integers(1, 12))
        if k > L + 2 * p:
            continue
        cip = bool(rng.integers(0, 2))
        x = rng.standard_normal((2, 3, L))
        close64(ref.avg_pool1d(x, k, s, p, ceil, cip), F.avg_pool1d(T(torch, x), k, s, p, ceil, cip))
        # avg_pool1d has no divisor_override: sum via avg_pool2d over (C, 1, L) with divisor 1
        expected_sum = F.avg_pool2d(T(torch, x[1])[:, None], (1, k), (1, s), (0, p), ceil, True, 1)[:, 0]
        close64(ref.sum_pool1d(x[1], k, s, p, ceil), expected_sum)
        checked += 1


def test_lp_pool2d_matches_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    for norm_type in (1, 2, 3, 1.5, 4.0):
        for k, s, ceil in [(2, None, False), ((2, 3), 1, False), (3, 2, True), ((1, 2), (2, 3), True)]:
            x = rng.standard_normal((2, 3, 7, 8))
            if norm_type == 2 or norm_type == 1.5:
                x = np.abs(x)
            got = ref.lp_pool2d(x, norm_type, k, s, ceil)
            close64(got, F.lp_pool2d(T(torch, x), norm_type, k, s, ceil))


def test_adaptive_pools_match_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(12)
    for h, w in [(1, 1), (5, 7), (8, 8), (3, 10)]:
        for out_size in [1, 2, 3, (4, 5), (None, 3), (7, None), (11, 2)]:
            x = rng.integers(-2, 3, size=(2, 3, h, w)).astype(np.float64)
            x[rng.random(x.shape) < 0.1] = np.nan
            close64(ref.adaptive_avg_pool2d(x, out_size), F.adaptive_avg_pool2d(T(torch, x), out_size))
            got, idx = ref.adaptive_max_pool2d(x, out_size, return_indices=True)
            expected, expected_idx = F.adaptive_max_pool2d(T(torch, x), out_size, return_indices=True)
            close64(got, expected)
            np.testing.assert_array_equal(idx, expected_idx.numpy())
            close64(ref.adaptive_max_pool2d(x[0], out_size), F.adaptive_max_pool2d(T(torch, x[0]), out_size))
    x = rng.standard_normal((2, 3, 5, 6))
    close64(ref.global_avg_pool2d(x), F.adaptive_avg_pool2d(T(torch, x), 1))
    close64(ref.global_max_pool2d(x), F.adaptive_max_pool2d(T(torch, x), 1))


def test_relu_matches_torch(torch):
    x = np.array([-2.0, -0.0, 0.0, 1.5, np.nan, np.inf, -np.inf])
    got = ref.relu(x)
    expected = torch.relu(T(torch, x)).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
