"""1-D max / avg / sum pools against the NumPy reference (and against the 2-D pools with H = 1).

Max pools are exact (values with NaN, int64 indices along L); avg/sum use ``assert_close``
with the window length as the number of terms.
"""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, assert_exact, random, special
from fastconv import reference as ref


def call_both(name, x, **kw):
    before = np.array(x, copy=True)
    got, want = getattr(fastconv, name)(x, **kw), getattr(ref, name)(x, **kw)
    assert np.array_equal(np.asarray(x), before, equal_nan=True), "input was modified"
    return got, want


def check(name, x, **kw):
    """fastconv vs the reference; returns fastconv's result (values, or (values, indices))."""
    if name == "max_pool1d":
        (got, idx), (want, want_idx) = call_both(name, x, return_indices=True, **kw)
        assert_exact(got, want)
        assert idx.dtype == np.int64
        assert_exact(idx, want_idx)
        assert_exact(call_both(name, x, **kw)[0], want)
        return got, idx
    got, want = call_both(name, x, **kw)
    k = kw["kernel_size"]
    assert_close(got, want, magnitude=getattr(ref, name)(np.abs(x), **kw), terms=k if isinstance(k, int) else k[0])
    return got


def geom(id_, shape, **kw):
    return pytest.param(shape, kw, id=id_)


GEOMS = [
    geom("L1", (2, 3, 1), kernel_size=1),
    geom("L1-pad", (1, 2, 1), kernel_size=2, padding=1),            # ceil: 2nd window starts in padding, dropped
    geom("L1-k3-pad1", (1, 2, 1), kernel_size=3, padding=1),         # window == padded input
    geom("window-is-input", (2, 2, 7), kernel_size=7),
    geom("window-is-padded-input", (1, 2, 5), kernel_size=7, padding=1),
    geom("odd", (2, 3, 9), kernel_size=3, stride=2),
    geom("stride>kernel", (1, 2, 11), kernel_size=2, stride=3),
    geom("stride1", (1, 2, 7), kernel_size=4, stride=1),
    geom("half-pad", (2, 1, 10), kernel_size=5, stride=3, padding=2),
    geom("ceil-adds", (1, 2, 7), kernel_size=2),                     # floor 3, ceil 4
    geom("ceil-drops", (1, 2, 6), kernel_size=3, stride=4, padding=1),
    geom("tuples", (1, 2, 8), kernel_size=(3,), stride=(2,), padding=(1,)),
    geom("long", (1, 1, 200), kernel_size=5, stride=2, padding=2),
    geom("wide-s1", (2, 3, 45), kernel_size=3, stride=1, padding=1),   # vectorised interior + edges
    geom("wide-s2", (2, 3, 46), kernel_size=2, stride=2, padding=1),
    geom("wide-k1", (1, 2, 33), kernel_size=1, stride=1),
]

MAX_ONLY = [
    geom("dil2", (1, 2, 11), kernel_size=3, dilation=2, padding=1, stride=2),
    geom("dil-window-is-input", (1, 2, 7), kernel_size=4, dilation=2),
    geom("dil-empty-window", (1, 1, 2), kernel_size=2, dilation=3, padding=1),  # taps -1 and 2: only padding
    geom("dil-stride>extent", (2, 1, 15), kernel_size=2, dilation=2, stride=5, padding=1),
    geom("wide-dil-s2", (1, 2, 61), kernel_size=3, dilation=3, stride=2, padding=1),
    geom("wide-dil-s1", (1, 2, 40), kernel_size=4, dilation=2, stride=1, padding=2),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape,kw", GEOMS + MAX_ONLY)
def test_max_pool1d_geometry(shape, kw, ceil_mode, dtype):
    check("max_pool1d", random(shape, dtype, seed=sum(shape)), ceil_mode=ceil_mode, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape,kw", GEOMS)
def test_avg_pool1d_geometry(shape, kw, count_include_pad, ceil_mode, dtype):
    check("avg_pool1d", random(shape, dtype, seed=sum(shape)), ceil_mode=ceil_mode,
          count_include_pad=count_include_pad, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape,kw", GEOMS)
def test_sum_pool1d_geometry(shape, kw, ceil_mode, dtype):
    check("sum_pool1d", random(shape, dtype, seed=sum(shape)), ceil_mode=ceil_mode, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("frac", [0.2, 1.0])
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool1d_nan_and_inf(kw, frac, dtype):
    for seed in range(3):
        check("max_pool1d", special((2, 3, 41), dtype, seed, frac), ceil_mode=True, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool1d_ties_take_the_first_index(dtype):
    x = np.array([[[2, 2, 1, 2, 2, 2, -np.inf, -np.inf, 0]]], dtype)
    out, idx = check("max_pool1d", x, kernel_size=3, stride=3)
    np.testing.assert_array_equal(out[0, 0], [2, 2, 0])
    np.testing.assert_array_equal(idx[0, 0], [0, 3, 8])
    out, idx = check("max_pool1d", np.full((1, 1, 5), -np.inf, dtype), kernel_size=2, padding=1)
    np.testing.assert_array_equal(idx[0, 0], [0, 1, 3])


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("name", ["max_pool1d", "avg_pool1d", "sum_pool1d"])
def test_pool1d_equals_pool2d_with_height_1(name, ceil_mode):
    x = random((2, 3, 13), seed=4)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=ceil_mode)
    got = getattr(fastconv, name)(x, **kw)
    kw2 = dict(kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=ceil_mode)
    want = getattr(fastconv, name.replace("1d", "2d"))(x[:, :, None, :], **kw2)[:, :, 0]
    np.testing.assert_array_equal(got, want)


LAYOUTS = {
    "contiguous": lambda x: x,
    "unbatched": lambda x: x[1],
    "N=0": lambda x: x[:0],
    "C=0": lambda x: x[:, :0],
    "strided": lambda x: x[:, ::2, 1::3],
    "negative-strides": lambda x: x[::-1, ::-1, ::-1],
    "fortran": np.asfortranarray,
    "list": lambda x: x[0, :2, :6].tolist(),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ["max_pool1d", "avg_pool1d", "sum_pool1d"])
def test_pool1d_layouts(name, layout, dtype):
    base = random((2, 4, 20), dtype, seed=9)
    x = LAYOUTS[layout](base)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    got = check(name, x, **kw)
    got = got[0] if isinstance(got, tuple) else got
    assert got.dtype == (np.float64 if layout == "list" else dtype)
    assert got.ndim == np.ndim(x)
    if layout == "unbatched":
        np.testing.assert_array_equal(got, getattr(fastconv, name)(base, **kw)[1])
    if layout in ("N=0", "C=0"):
        assert got.size == 0 and got.shape[:2] == np.shape(x)[:2]
