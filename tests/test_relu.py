"""relu against the NumPy reference: exact, any shape and layout, NaN kept, -0.0 kept, out=."""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, random
from fastconv import reference as ref


def values(shape, dtype, seed=0):
    """Random values with NaN, +-inf, +-0.0 and values tiny in magnitude sprinkled in."""
    x = random(shape, np.float64, seed).ravel()
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -1e-300, 1e-40, -1e-40])
    x[::7] = specials[np.arange(x[::7].size) % specials.size]
    return x.reshape(shape).astype(dtype)


def assert_identical(got, want):
    """Same shape, dtype, values, NaN positions and signs of zero."""
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 0, 3), (2, 3, 4, 5), (2, 1, 3, 1, 2), (100_003,)]

LAYOUTS = {
    "contiguous": lambda x: x,
    "strided": lambda x: x[..., ::2] if x.ndim else x,
    "negative-strides": lambda x: x[..., ::-1] if x.ndim else x,
    "fortran": np.asfortranarray,
    "transposed": lambda x: x.T,
    "broadcast": lambda x: np.broadcast_to(x, (2,) + x.shape),   # zero stride, read-only
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_relu_matches_reference(shape, layout, dtype):
    x = LAYOUTS[layout](values(shape, dtype))
    before = x.copy()
    got = fastconv.relu(x)
    assert_identical(got, ref.relu(x))
    assert_identical(x, before)
    assert got is not x and not np.shares_memory(got, x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_relu_out(shape, layout, dtype):
    x = LAYOUTS[layout](values(shape, dtype, seed=1))
    out = np.full(x.shape, 123.0, dtype)
    result = fastconv.relu(x, out=out)
    assert result is out
    assert_identical(out, ref.relu(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_relu_in_place(shape, dtype):
    x = values(shape, dtype, seed=2)
    want = ref.relu(x)
    result = fastconv.relu(x, out=x)
    assert result is x
    assert_identical(x, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_in_place_on_a_contiguous_view(dtype):
    base = values((4, 6), dtype, seed=3)
    want = base.copy()
    want[1:3] = ref.relu(base[1:3])
    view = base[1:3]
    assert fastconv.relu(view, out=view) is view
    assert_identical(base, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_nan_inf_and_signed_zero_by_hand(dtype):
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, -2.5, 2.5], dtype)
    got = fastconv.relu(x)
    np.testing.assert_array_equal(got, [np.nan, np.nan, np.inf, 0, 0, 0, 0, 2.5])
    assert np.signbit(got[4])  # -0.0 is not < 0, so it is kept (as torch.relu)


@pytest.mark.parametrize("x,dtype", [([-1.0, 2.0], np.float64), (-3.0, np.float64), (np.float32(-3.0), np.float32),
                                     ([[np.float32(1.5), np.float32(-1)]], np.float32)])
def test_relu_array_likes(x, dtype):
    got = fastconv.relu(x)
    assert got.dtype == dtype and got.shape == np.shape(x)
    assert_identical(got, ref.relu(x))
