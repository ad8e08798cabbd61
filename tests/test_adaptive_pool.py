"""Adaptive and global pools against the NumPy reference.

Windows: output i covers [floor(i*H/OH), ceil((i+1)*H/OH)). Max pools are exact (values
with NaN and int64 flat indices); averages use ``assert_close`` with the largest window
as the number of terms.
"""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, assert_exact, random, special, ties
from fastconv import _args
from fastconv import reference as ref


def call_both(name, x, *args, **kw):
    before = np.array(x, copy=True)
    got, want = getattr(fastconv, name)(x, *args, **kw), getattr(ref, name)(x, *args, **kw)
    assert np.array_equal(np.asarray(x), before, equal_nan=True), "input was modified"
    return got, want


def largest_window(in_size, out_size):
    return max(b - a for a, b in (_args.adaptive_window(i, in_size, out_size) for i in range(out_size)))


def check_avg(name, x, *args):
    got, want = call_both(name, x, *args)
    h, w = np.shape(x)[-2:]
    oh, ow = want.shape[-2:]
    terms = largest_window(h, oh) * largest_window(w, ow)
    assert_close(got, want, magnitude=getattr(ref, name)(np.abs(x), *args), terms=terms)
    return got


def check_max(name, x, *args):
    if name == "adaptive_max_pool2d":
        (got, idx), (want, want_idx) = call_both(name, x, *args, return_indices=True)
        assert idx.dtype == np.int64
        assert_exact(idx, want_idx)
        assert_exact(got, want)
    got, want = call_both(name, x, *args)
    assert_exact(got, want)
    return got


SIZES = [  # (H, W), output_size
    pytest.param((5, 7), (3, 2), id="non-dividing"),
    pytest.param((7, 5), (3, 4), id="non-dividing-2"),
    pytest.param((8, 6), (4, 3), id="dividing"),
    pytest.param((2, 3), (5, 7), id="output>input"),
    pytest.param((1, 1), (3, 2), id="1x1-up"),
    pytest.param((1, 1), 1, id="1x1"),
    pytest.param((6, 9), (6, 9), id="identity"),
    pytest.param((6, 9), 1, id="global"),
    pytest.param((5, 7), 3, id="int"),
    pytest.param((5, 7), (None, 3), id="None-H"),
    pytest.param((5, 7), (2, None), id="None-W"),
    pytest.param((5, 7), (None, None), id="None-both"),
    pytest.param((13, 3), [4, 5], id="list"),
    pytest.param((1, 10), (3, 4), id="row"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw,output_size", SIZES)
def test_adaptive_avg_pool2d(hw, output_size, dtype):
    check_avg("adaptive_avg_pool2d", random((2, 3) + hw, dtype, seed=sum(hw)), output_size)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values", ["uniform", "special", "ties"])
@pytest.mark.parametrize("hw,output_size", SIZES)
def test_adaptive_max_pool2d(hw, output_size, values, dtype):
    shape = (2, 3) + hw
    x = {"uniform": lambda: random(shape, dtype, seed=sum(hw)),
         "special": lambda: special(shape, dtype, seed=sum(hw)),
         "ties": lambda: ties(shape, dtype, seed=sum(hw))}[values]()
    check_max("adaptive_max_pool2d", x, output_size)


def test_adaptive_output_shapes():
    x = np.zeros((2, 3, 5, 7))
    for name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        f = getattr(fastconv, name)
        assert f(x, (None, 3)).shape == (2, 3, 5, 3)
        assert f(x, (2, None)).shape == (2, 3, 2, 7)
        assert f(x, 9).shape == (2, 3, 9, 9)
        assert f(x[0], (4, 1)).shape == (3, 4, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_max_pool2d_ties_and_nan_by_hand(dtype):
    x = np.array([[[1, 1, 0], [1, np.nan, np.nan], [-np.inf, -np.inf, -np.inf]]], dtype)
    out, idx = fastconv.adaptive_max_pool2d(x, (3, 1), return_indices=True)
    np.testing.assert_array_equal(out[0, :, 0], [1, np.nan, -np.inf])
    np.testing.assert_array_equal(idx[0, :, 0], [0, 5, 6])   # first of the ties, last NaN, first -inf


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values", ["uniform", "special"])
@pytest.mark.parametrize("hw", [(1, 1), (4, 4), (7, 3), (1, 19)])
def test_global_pools(hw, values, dtype):
    x = random((3, 2) + hw, dtype) if values == "uniform" else special((3, 2) + hw, dtype, frac=0.15)
    got = check_max("global_max_pool2d", x)
    assert_exact(got, fastconv.adaptive_max_pool2d(x, 1))
    if values == "uniform":
        got = check_avg("global_avg_pool2d", x)
        assert_close(got, x.mean(axis=(2, 3), keepdims=True, dtype=np.float64).astype(dtype),
                     magnitude=np.abs(x).mean(axis=(2, 3), keepdims=True), terms=hw[0] * hw[1])
    else:
        with np.errstate(invalid="ignore"):  # inf - inf in the reference's float64 sums
            check_avg("global_avg_pool2d", x)


LAYOUTS = {
    "contiguous": lambda x: x,
    "unbatched": lambda x: x[1],
    "N=0": lambda x: x[:0],
    "C=0": lambda x: x[:, :0],
    "strided": lambda x: x[:, ::2, ::3, 1::2],
    "negative-strides": lambda x: x[::-1, :, ::-1, ::-1],
    "fortran": np.asfortranarray,
    "list": lambda x: x[:1, :2, :3, :4].tolist(),
}

OPS = {
    "adaptive_avg_pool2d": (((3, 4),), check_avg),
    "adaptive_max_pool2d": (((3, 4),), check_max),
    "global_avg_pool2d": ((), check_avg),
    "global_max_pool2d": ((), check_max),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", OPS)
def test_adaptive_layouts(name, layout, dtype):
    args, check = OPS[name]
    base = random((2, 3, 10, 9), dtype, seed=2)
    x = LAYOUTS[layout](base)
    got = check(name, x, *args)
    assert got.dtype == (np.float64 if layout == "list" else dtype)
    if layout == "unbatched":
        np.testing.assert_array_equal(got, getattr(fastconv, name)(base, *args)[1])
    if layout in ("N=0", "C=0"):
        assert got.size == 0 and got.shape[:2] == np.shape(x)[:2]
