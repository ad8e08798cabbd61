"""The pooling properties the seed articles rely on, checked on fastconv directly.

* Max pooling gives local translation invariance: moving a block's maximum anywhere inside
  its pooling window (e.g. a one-pixel shift inside a 2x2 block) leaves the output unchanged.
* That invariance is only local: a strided max pool is not invariant to a one-pixel shift
  of the whole image in general.
* Global pools ignore where things are: any circular shift of the plane leaves them unchanged.
* Averaging a constant image gives that constant (with count_include_pad=False, even over
  the padded border).
"""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, random


def blocks_with_single_max(positions, dtype, seed=0):
    """An image of 2x2 blocks, one per entry of ``positions`` (N, C, bh, bw): background in [0, 1)
    drawn from ``seed``, and each block's single maximum (in [2, 3), the same for every seed) at
    ``positions`` in {0, 1, 2, 3} (row-major within the block). Returns (image, maxima)."""
    n, c, bh, bw = positions.shape
    x = np.random.default_rng(seed).uniform(0, 1, (n, c, 2 * bh, 2 * bw))
    peaks = np.random.default_rng(1234).uniform(2, 3, positions.shape)
    i_n, i_c, i, j = np.indices(positions.shape)
    x[i_n, i_c, 2 * i + positions // 2, 2 * j + positions % 2] = peaks
    return x.astype(dtype), peaks.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_is_invariant_to_moving_the_maximum_within_its_block(dtype):
    rng = np.random.default_rng(0)
    pos_a = rng.integers(0, 4, (2, 3, 4, 5))
    pos_b = (pos_a + rng.integers(1, 4, pos_a.shape)) % 4            # every maximum moves
    a, peaks = blocks_with_single_max(pos_a, dtype, seed=1)
    b, _ = blocks_with_single_max(pos_b, dtype, seed=2)                # and the background changes
    assert not np.array_equal(a, b)
    out_a, idx_a = fastconv.max_pool2d(a, 2, return_indices=True)
    out_b, idx_b = fastconv.max_pool2d(b, 2, return_indices=True)
    np.testing.assert_array_equal(out_a, peaks)
    np.testing.assert_array_equal(out_b, peaks)
    i, j = np.indices(pos_a.shape[2:])
    for idx, pos in ((idx_a, pos_a), (idx_b, pos_b)):                  # the indices do follow the maxima
        np.testing.assert_array_equal(idx, (2 * i + pos // 2) * a.shape[3] + 2 * j + pos % 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,shift", [(3, 1), (2, 1), (3, -1), (2, -1)])
def test_max_pool_is_invariant_to_a_one_pixel_shift_inside_the_blocks(axis, shift, dtype):
    # Maxima in the top-left (for shift +1) or bottom-right (for -1) corner of each block: a
    # one-pixel circular shift of the whole image keeps every maximum inside its own block.
    pos = np.full((2, 3, 3, 4), 0 if shift > 0 else 3)
    x, peaks = blocks_with_single_max(pos, dtype, seed=3)
    shifted = np.roll(x, shift, axis=axis)
    for img in (x, shifted):
        np.testing.assert_array_equal(fastconv.max_pool2d(img, 2), peaks)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_max_pool_is_not_invariant_to_a_one_pixel_shift(dtype):
    x = np.zeros((1, 4, 4), dtype)
    x[0, 1, 1] = 1.0                                  # bright pixel in the bottom-right of block (0, 0)
    shifted = np.roll(x, 1, axis=2)                   # ... now in block (0, 1)
    out, out_shifted = fastconv.max_pool2d(x, 2), fastconv.max_pool2d(shifted, 2)
    np.testing.assert_array_equal(out[0], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(out_shifted[0], [[0, 1], [0, 0]])
    assert not np.array_equal(out, out_shifted)
    # The 1-D view of the same thing: [0, 1, 0, 0] -> [1, 0], shifted [0, 0, 1, 0] -> [0, 1].
    np.testing.assert_array_equal(fastconv.max_pool1d(np.array([[0, 1, 0, 0]], dtype), 2), [[1, 0]])
    np.testing.assert_array_equal(fastconv.max_pool1d(np.array([[0, 0, 1, 0]], dtype), 2), [[0, 1]])


SHIFTS = [(0, 1), (1, 0), (3, 5), (-2, 7), (6, -1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw", [(7, 9), (1, 5), (8, 8)])
def test_global_pools_are_exactly_invariant_to_circular_shifts(hw, dtype):
    rng = np.random.default_rng(sum(hw))
    # Multiples of 1/64 in [-4, 4): every partial sum is exact, so the mean does not depend on the
    # summation order and must be bit-identical after a shift.
    dyadic = (rng.integers(-256, 256, (2, 3) + hw) / 64).astype(dtype)
    uniform = random((2, 3) + hw, dtype, seed=1)
    uniform[0, 1, 0, -1] = np.nan                     # NaN propagates wherever it moves
    uniform[1, 2, -1, 0] = np.inf
    for dy, dx in SHIFTS:
        for x in (dyadic, uniform):
            np.testing.assert_array_equal(fastconv.global_max_pool2d(np.roll(x, (dy, dx), axis=(2, 3))),
                                          fastconv.global_max_pool2d(x))
        np.testing.assert_array_equal(fastconv.global_avg_pool2d(np.roll(dyadic, (dy, dx), axis=(2, 3))),
                                      fastconv.global_avg_pool2d(dyadic))
        clean = np.nan_to_num(uniform, nan=0.0, posinf=0.0)
        assert_close(fastconv.global_avg_pool2d(np.roll(clean, (dy, dx), axis=(2, 3))),
                     fastconv.global_avg_pool2d(clean), terms=hw[0] * hw[1],
                     magnitude=np.abs(clean).mean(axis=(2, 3), keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [0.75, -3.5, 1 / 3, 1e-3, 12345.678])
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 5), stride=(3, 1), padding=(1, 2)),
                                dict(kernel_size=4, stride=1, padding=2, ceil_mode=True)])
def test_avg_pool_of_a_constant_image_is_that_constant(kw, value, dtype):
    x = np.full((2, 3, 7, 8), value, dtype)
    terms = np.prod(np.broadcast_to(kw["kernel_size"], 2))
    out = fastconv.avg_pool2d(x, count_include_pad=False, **kw)
    assert_close(out, np.full(out.shape, value, dtype), terms=terms)
    kw1 = {k: v if k == "ceil_mode" else int(np.broadcast_to(v, 2)[1]) for k, v in kw.items()}  # the W part
    out1 = fastconv.avg_pool1d(x[0], count_include_pad=False, **kw1)
    assert_close(out1, np.full(out1.shape, value, dtype), terms=kw1["kernel_size"])
    assert_close(fastconv.adaptive_avg_pool2d(x, (3, 5)), np.full((2, 3, 3, 5), value, dtype), terms=8)
    # Counting the zero padding instead dilutes the border windows.
    border = fastconv.avg_pool2d(x, count_include_pad=True, **kw)
    assert abs(border[0, 0, 0, 0]) < abs(value)
