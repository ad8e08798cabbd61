"""The structural properties of convolution layers, tested exactly where arithmetic allows.

Integer-valued float inputs make every sum exact, whatever the summation order, so the
equivariance and linearity identities below hold bit for bit (np.array_equal):
  * with circular padding, conv2d commutes with circular shifts (np.roll), for every shift;
  * with zero padding it commutes with shifts away from the borders;
  * a stride-s layer is equivariant to shifts by multiples of s (the output shifts by
    shift/s), and not, in general, to other shifts;
  * a 1x1 convolution is a fully connected layer applied at every pixel (and a kernel the
    size of the image is a fully connected layer on the flattened image);
  * convolution is linear in x and in w.
"""

import numpy as np
import pytest

import fastconv
from conftest import CONV_ALGORITHMS as ALGORITHMS
from conftest import DTYPES, assert_close, random
from fastconv import reference as ref



def ints(shape, seed, bound=4, dtype=np.float64):
    """Integer-valued floats in [-bound, bound]: all the sums below are exact."""
    return np.random.default_rng(seed).integers(-bound, bound + 1, size=shape).astype(dtype)


# ---------------------------------------------------------------- circular padding: every shift


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kernel, kw", [
    ((3, 3), dict(padding="same")),
    ((2, 4), dict(padding="same")),  # even kernel: asymmetric padding
    ((3, 2), dict(padding="same", dilation=(2, 3))),
    ((5, 1), dict(padding=((1, 3), (0, 0)))),  # any split of k-1 keeps the output the input's size
], ids=["3x3", "2x4", "dilated", "asym"])
def test_circular_padding_commutes_with_every_circular_shift(kernel, kw, algorithm, dtype):
    x, w = ints((2, 3, 6, 7), 0, dtype=dtype), ints((8, 3) + kernel, 1, 3, dtype=dtype)
    conv = lambda a: fastconv.conv2d(a, w, padding_mode="circular", algorithm=algorithm, **kw)  # noqa: E731
    y = conv(x)
    assert y.shape == (2, 8, 6, 7)
    np.testing.assert_array_equal(y, ref.conv2d(x, w, padding_mode="circular", **kw))
    for dy in range(6):
        for dx in range(7):
            shifted = conv(np.roll(x, (dy, dx), axis=(2, 3)))
            assert np.array_equal(shifted, np.roll(y, (dy, dx), axis=(2, 3))), (dy, dx)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv1d_circular_padding_commutes_with_every_circular_shift(algorithm):
    x, w = ints((2, 3, 11), 0), ints((5, 3, 4), 1, 3)
    conv = lambda a: fastconv.conv1d(a, w, padding="same", padding_mode="circular", algorithm=algorithm)  # noqa
    y = conv(x)
    for shift in range(11):
        assert np.array_equal(conv(np.roll(x, shift, axis=2)), np.roll(y, shift, axis=2)), shift


# ---------------------------------------------------------------- zero padding: away from the borders


def interior(size, pad_before, eff, shift):
    """Output positions whose window, before and after the shift, touches neither padding nor wrap."""
    return slice(pad_before + max(shift, 0), size - eff + pad_before + min(shift, 0) + 1)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kernel, kw", [
    ((3, 3), dict(padding=1)),
    ((2, 4), dict(padding="same")),
    ((3, 2), dict(padding=((2, 0), (1, 3)), dilation=2)),
    ((3, 3), dict(padding=0)),
], ids=["3x3", "2x4-same", "asym-dilated", "valid"])
def test_zero_padding_commutes_with_shifts_away_from_the_borders(kernel, kw, algorithm):
    H, W = 10, 9
    x, w = ints((1, 3, H, W), 0), ints((4, 3) + kernel, 1, 3)
    conv = lambda a: fastconv.conv2d(a, w, algorithm=algorithm, **kw)  # noqa: E731
    y = conv(x)
    dil = np.broadcast_to(kw.get("dilation", 1), 2)
    pads = fastconv._args.conv_padding(kw["padding"], (H, W), kernel, (1, 1), tuple(dil))
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dil)]
    checked = 0
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            rows = interior(H, pads[0][0], eff[0], dy)
            cols = interior(W, pads[1][0], eff[1], dx)
            shifted = conv(np.roll(x, (dy, dx), axis=(2, 3)))
            expected = np.roll(y, (dy, dx), axis=(2, 3))
            assert np.array_equal(shifted[..., rows, cols], expected[..., rows, cols]), (dy, dx)
            checked += shifted[..., rows, cols].size
            if (dy, dx) != (0, 0):  # the borders do see the shift
                assert not np.array_equal(shifted, expected), (dy, dx)
    assert checked > 0


# ---------------------------------------------------------------- strided layers


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("stride, kernel", [(2, (3, 3)), (2, (2, 2)), (3, (3, 2)), ((2, 3), (4, 3)), (2, (1, 1))])
def test_stride_equivariance_to_multiples_of_the_stride_only(stride, kernel, algorithm):
    sy, sx = np.broadcast_to(stride, 2)
    H, W = 4 * sy, 3 * sx  # multiples of the stride: circular padding wraps consistently
    x, w = ints((2, 2, H, W), 0), ints((3, 2) + kernel, 1, 3)
    conv = lambda a: fastconv.conv2d(a, w, stride=stride, padding="same", padding_mode="circular",  # noqa
                                     algorithm=algorithm)
    y = conv(x)
    OH, OW = y.shape[2:]
    assert (OH, OW) == (H // sy, W // sx)
    for m in range(OH):
        for n in range(OW):
            shifted = conv(np.roll(x, (m * sy, n * sx), axis=(2, 3)))
            assert np.array_equal(shifted, np.roll(y, (m, n), axis=(2, 3))), (m, n)
    for shift in [(1, 0), (0, 1), (1, 1), (sy + 1, 0), (0, 2 * sx - 1)]:
        shifted = conv(np.roll(x, shift, axis=(2, 3)))
        assert not any(np.array_equal(shifted, np.roll(y, (m, n), axis=(2, 3)))
                       for m in range(OH) for n in range(OW)), shift


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv1d_stride_equivariance(algorithm):
    x, w = ints((1, 2, 12), 0), ints((3, 2, 3), 1, 3)
    conv = lambda a: fastconv.conv1d(a, w, stride=3, padding="same", padding_mode="circular",  # noqa: E731
                                     algorithm=algorithm)
    y = conv(x)
    for m in range(4):
        assert np.array_equal(conv(np.roll(x, 3 * m, axis=2)), np.roll(y, m, axis=2))
    for shift in (1, 2, 4):
        shifted = conv(np.roll(x, shift, axis=2))
        assert not any(np.array_equal(shifted, np.roll(y, m, axis=2)) for m in range(4)), shift


# ---------------------------------------------------------------- 1x1 convolution = fully connected layer


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("groups, stride", [(1, 1), (1, 2), (3, 1), (6, 3)])
def test_1x1_convolution_is_a_fully_connected_layer_at_every_pixel(groups, stride, algorithm, dtype):
    C, K = 6, 12
    x, w, b = random((2, C, 7, 8), dtype, 0), random((K, C // groups, 1, 1), dtype, 1), random((K,), dtype, 2)
    # the dense (K, C) matrix: block diagonal, one block per group
    dense = np.zeros((K, C), dtype)
    for g in range(groups):
        kg, cg = K // groups, C // groups
        dense[g * kg:(g + 1) * kg, g * cg:(g + 1) * cg] = w[g * kg:(g + 1) * kg, :, 0, 0]
    pixels = x[:, :, ::stride, ::stride]
    fc = np.einsum("kc,nchw->nkhw", dense.astype(np.float64), pixels.astype(np.float64)) + b[:, None, None]
    magnitude = np.einsum("kc,nchw->nkhw", np.abs(dense).astype(np.float64),
                          np.abs(pixels).astype(np.float64)) + np.abs(b)[:, None, None]
    got = fastconv.conv2d(x, w, b, stride=stride, groups=groups, algorithm=algorithm)
    assert_close(got, fc.astype(dtype), magnitude, terms=C // groups)
    # per pixel, the same as a matrix-vector product
    assert_close(got[1, :, 2, 1], (dense.astype(np.float64) @ pixels[1, :, 2, 1] + b).astype(dtype),
                 magnitude[1, :, 2, 1], terms=C // groups)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_kernel_the_size_of_the_image_is_a_fully_connected_layer(algorithm, dtype):
    x, w = random((3, 4, 5, 6), dtype, 0), random((7, 4, 5, 6), dtype, 1)
    got = fastconv.conv2d(x, w, algorithm=algorithm)
    assert got.shape == (3, 7, 1, 1)
    flat_x, flat_w = x.reshape(3, -1).astype(np.float64), w.reshape(7, -1).astype(np.float64)
    assert_close(got[:, :, 0, 0], (flat_x @ flat_w.T).astype(dtype), np.abs(flat_x) @ np.abs(flat_w).T,
                 terms=flat_w.shape[1])


# ---------------------------------------------------------------- linearity

LINEAR_OPS = {
    "conv2d-zeros": lambda x, w, alg: fastconv.conv2d(x, w, padding=1, stride=(1, 2), algorithm=alg),
    "conv2d-reflect": lambda x, w, alg: fastconv.conv2d(x, w, padding=2, padding_mode="reflect", algorithm=alg),
    "conv2d-replicate-groups": lambda x, w, alg: fastconv.conv2d(
        x[:, :2], w[:2, :1], padding="same", groups=2, padding_mode="replicate", algorithm=alg),
    "conv2d-circular-dilated": lambda x, w, alg: fastconv.conv2d(
        x, w, padding="full", dilation=2, padding_mode="circular", algorithm=alg),
    "conv1d": lambda x, w, alg: fastconv.conv1d(x[:, :, 0], w[:, :, 0], padding=(2, 1), algorithm=alg),
    "conv_transpose2d": lambda x, w, alg: fastconv.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
    "correlate2d": lambda x, w, alg: fastconv.correlate2d(x[0, 0], w[0, 0], "same", "symm"),
    "convolve2d": lambda x, w, alg: fastconv.convolve2d(x[0, 0], w[0, 0], "full", "wrap"),
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("op", list(LINEAR_OPS))
def test_linear_in_x_and_in_w(op, algorithm):
    f = LINEAR_OPS[op]
    x1, x2 = ints((2, 3, 7, 8), 0), ints((2, 3, 7, 8), 1)
    w1, w2 = ints((3, 3, 3, 3), 2, 3), ints((3, 3, 3, 3), 3, 3)
    a, b = 3.0, -2.0
    assert np.array_equal(f(a * x1 + b * x2, w1, algorithm), a * f(x1, w1, algorithm) + b * f(x2, w1, algorithm))
    assert np.array_equal(f(x1, a * w1 + b * w2, algorithm), a * f(x1, w1, algorithm) + b * f(x1, w2, algorithm))
    assert np.array_equal(f(np.zeros_like(x1), w1, algorithm), np.zeros_like(f(x1, w1, algorithm)))
