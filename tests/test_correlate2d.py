"""fastconv.correlate2d / convolve2d against fastconv.reference and scipy.signal directly."""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, random
from fastconv import reference as ref

signal = pytest.importorskip("scipy.signal")

FUNCS = {"correlate2d": (fastconv.correlate2d, ref.correlate2d, signal.correlate2d),
         "convolve2d": (fastconv.convolve2d, ref.convolve2d, signal.convolve2d)}

# (image shape, kernel shape)
SHAPES = [
    ((5, 6), (3, 3)),  # odd kernel
    ((6, 5), (2, 4)),  # even kernel
    ((4, 7), (1, 1)),
    ((1, 1), (1, 1)),
    ((7, 3), (7, 3)),  # kernel as large as the image
    ((3, 8), (5, 2)),  # kernel larger in one dimension only: 'valid' is an error
    ((4, 5), (7, 9)),  # kernel larger in both: SciPy swaps the two in 'valid' mode
    ((4, 5), (4, 7)),  # ... or larger in one and equal in the other: swapped too
    ((1, 3), (2, 3)),
    ((2, 3), (6, 8)),  # ... and wrap / symm pads several times the image
]
BOUNDARIES = [("fill", 0.0), ("fill", 2.5), ("fill", -1.25), ("wrap", 0.0), ("symm", 0.0)]


def swaps(image_shape, kernel_shape, mode):
    return mode == "valid" and not all(i >= k for i, k in zip(image_shape, kernel_shape))


def check(func, image, kernel, mode, boundary, fillvalue):
    """fastconv matches the reference and SciPy within the rounding bound of one output."""
    fast, slow, scipy_func = FUNCS[func]
    got = fast(image, kernel, mode, boundary, fillvalue)
    magnitude = slow(np.abs(image), np.abs(kernel), mode, boundary, abs(fillvalue))
    terms = image.size if swaps(image.shape, kernel.shape, mode) else kernel.size
    assert_close(got, slow(image, kernel, mode, boundary, fillvalue), magnitude, terms)
    assert_close(got, scipy_func(image, kernel, mode, boundary, fillvalue), magnitude, terms)
    return got


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("boundary, fillvalue", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("image_shape, kernel_shape", SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
@pytest.mark.parametrize("func", list(FUNCS))
def test_matches_reference_and_scipy(func, image_shape, kernel_shape, mode, boundary, fillvalue, dtype):
    image, kernel = random(image_shape, dtype, 0), random(kernel_shape, dtype, 1)
    valid_ok = all(i >= k for i, k in zip(image_shape, kernel_shape)) or \
        all(i <= k for i, k in zip(image_shape, kernel_shape))
    if mode == "valid" and not valid_ok:
        with pytest.raises(ValueError):
            FUNCS[func][2](image, kernel, mode, boundary, fillvalue)
        with pytest.raises(ValueError, match="image|kernel"):
            FUNCS[func][0](image, kernel, mode, boundary, fillvalue)
        return
    got = check(func, image, kernel, mode, boundary, fillvalue)
    assert got.dtype == dtype
    (H, W), (kh, kw) = image_shape, kernel_shape
    expected_shape = {"full": (H + kh - 1, W + kw - 1), "same": (H, W),
                      "valid": (abs(H - kh) + 1, abs(W - kw) + 1)}[mode]
    assert got.shape == expected_shape


@pytest.mark.parametrize("func", list(FUNCS))
@pytest.mark.parametrize("alias, canonical", [("pad", "fill"), ("circular", "wrap"), ("symmetric", "symm")])
def test_boundary_aliases(func, alias, canonical):
    image, kernel = random((5, 6), np.float64, 0), random((2, 3), np.float64, 1)
    fast = FUNCS[func][0]
    np.testing.assert_array_equal(fast(image, kernel, "same", alias, 1.5), fast(image, kernel, "same", canonical, 1.5))
    check(func, image, kernel, "same", alias, 1.5)


@pytest.mark.parametrize("func", list(FUNCS))
def test_defaults_are_full_and_zero_fill(func):
    image, kernel = random((5, 6), np.float64, 0), random((3, 2), np.float64, 1)
    np.testing.assert_array_equal(FUNCS[func][0](image, kernel), FUNCS[func][0](image, kernel, "full", "fill", 0))
    assert_close(FUNCS[func][0](image, kernel), FUNCS[func][2](image, kernel),
                 FUNCS[func][1](np.abs(image), np.abs(kernel)), kernel.size)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("func", list(FUNCS))
def test_large_image(func, dtype):
    # 40 x 50 > 512 output pixels per plane, an 8 x 9 kernel: 72 terms
    image, kernel = random((40, 50), dtype, 0), random((8, 9), dtype, 1)
    for mode, boundary in [("full", "fill"), ("same", "symm"), ("valid", "wrap")]:
        check(func, image, kernel, mode, boundary, 0.5)


@pytest.mark.parametrize("func", list(FUNCS))
def test_convolve_is_correlate_with_flipped_kernel(func):
    image, kernel = random((6, 7), np.float64, 0), random((3, 3), np.float64, 1)  # odd: same centring
    other = "convolve2d" if func == "correlate2d" else "correlate2d"
    for mode in ("full", "same", "valid"):
        assert_close(FUNCS[func][0](image, kernel, mode), FUNCS[other][0](image, kernel[::-1, ::-1], mode),
                     ref.correlate2d(np.abs(image), np.abs(kernel), mode), kernel.size)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("func", list(FUNCS))
def test_noncontiguous_input_gives_the_same_answer(func, dtype):
    image0, kernel0 = random((6, 7), dtype, 0), random((3, 2), dtype, 1)
    views = [
        (np.ascontiguousarray(image0.T).T, np.asfortranarray(kernel0)),
        (np.ascontiguousarray(image0[::-1, ::-1])[::-1, ::-1], np.ascontiguousarray(kernel0[:, ::-1])[:, ::-1]),
        (np.repeat(np.repeat(image0, 2, 0), 3, 1)[::2, ::3], np.repeat(kernel0, 2, 1)[:, ::2]),
    ]
    for image, kernel in views:
        assert not image.flags.c_contiguous
        for mode, boundary in [("full", "fill"), ("same", "wrap"), ("valid", "symm")]:
            got = check(func, image, kernel, mode, boundary, 0.75)
            np.testing.assert_array_equal(got, FUNCS[func][0](image0, kernel0, mode, boundary, 0.75))
