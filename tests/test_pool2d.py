"""2-D max / avg / sum / lp pools against the NumPy reference over the awkward geometries.

Max pools are exact: values (NaN included) and int64 flat indices must equal the
reference bit for bit. The summing pools are compared with ``assert_close`` using the
window size as the number of terms and the pool of |x| as the magnitude.
"""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, assert_exact, random, special, ties
from fastconv import reference as ref


# --------------------------------------------------------------------------- helpers


def call_both(name, x, *args, **kwargs):
    """(fastconv result, reference result); also checks the input was not modified."""
    before = np.array(x, copy=True)
    got = getattr(fastconv, name)(x, *args, **kwargs)
    want = getattr(ref, name)(x, *args, **kwargs)
    assert np.array_equal(np.asarray(x), before, equal_nan=True), "input was modified"
    return got, want


def check_max(name, x, *args, **kwargs):
    """Values and indices exactly as the reference; without indices the same values."""
    (got, got_idx), (want, want_idx) = call_both(name, x, *args, return_indices=True, **kwargs)
    assert got_idx.dtype == np.int64
    assert_exact(got, want)
    assert_exact(got_idx, want_idx)
    assert_exact(call_both(name, x, *args, **kwargs)[0], want)
    return got, got_idx


def window_size(kernel_size):
    k = np.broadcast_to(kernel_size, (2,))
    return int(k[0] * k[1])


def check_summing(name, x, terms, *args, **kwargs):
    """Within the dtype's tolerance of the reference; non-finite outputs exactly."""
    got, want = call_both(name, x, *args, **kwargs)
    magnitude = getattr(ref, name)(np.abs(x), *args, **kwargs)
    assert_close(got, want, magnitude=magnitude, terms=terms)
    bad = ~np.isfinite(want)
    assert np.array_equal(got[bad], want[bad], equal_nan=True)
    return got


# --------------------------------------------------------------------------- geometries


def geom(id_, shape, **kw):
    return pytest.param(shape, kw, id=id_)


WINDOW_GEOMS = [
    geom("1x1", (2, 3, 1, 1), kernel_size=1),
    geom("1x1-pad", (1, 2, 1, 1), kernel_size=2, padding=1),          # ceil: 2nd window starts in padding, dropped
    geom("1x1-k3-pad1", (1, 2, 1, 1), kernel_size=3, padding=1),       # window == padded input
    geom("window-is-padded-input", (2, 2, 5, 7), kernel_size=(7, 9), padding=1),
    geom("window-is-input", (1, 3, 5, 7), kernel_size=(5, 7)),
    geom("odd", (2, 3, 7, 9), kernel_size=3, stride=2),
    geom("stride>kernel", (1, 2, 10, 11), kernel_size=2, stride=3),
    geom("stride>kernel-asym", (1, 2, 13, 12), kernel_size=(2, 3), stride=(4, 5), padding=(1, 0)),
    geom("stride1", (1, 2, 6, 7), kernel_size=3, stride=1),
    geom("asym", (2, 2, 8, 9), kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
    geom("half-pad", (1, 2, 9, 8), kernel_size=(4, 5), stride=(3, 2), padding=2),
    geom("ceil-adds", (1, 2, 5, 7), kernel_size=2, stride=2),          # floor 2x3, ceil 3x4
    geom("ceil-drops", (1, 2, 6, 6), kernel_size=3, stride=4, padding=1),  # ceil rule drops the 3rd
    geom("tall", (1, 1, 17, 2), kernel_size=(3, 2), stride=(2, 1), padding=1),
    geom("list-args", (1, 2, 7, 6), kernel_size=[3, 2], stride=[2, 2], padding=[1, 0]),
    # Wide rows: SIMD kernels vectorise along the output width (stride 1 and 2) and handle the
    # left/right edge windows and the remainder separately.
    geom("wide-s1", (2, 3, 5, 45), kernel_size=3, stride=1, padding=1),
    geom("wide-s2", (2, 3, 6, 45), kernel_size=3, stride=2, padding=1),
    geom("wide-s2-k2-exact", (1, 2, 4, 64), kernel_size=2, stride=2),
    geom("wide-s2-pad2", (1, 2, 4, 50), kernel_size=(2, 4), stride=(1, 2), padding=(1, 2)),
    geom("wide-k1", (1, 2, 3, 37), kernel_size=1, stride=1),
    geom("wide-s1-k5", (1, 2, 5, 40), kernel_size=(1, 5), stride=1, padding=(0, 2)),
    geom("wide-s3", (1, 2, 4, 70), kernel_size=(2, 3), stride=(2, 3), padding=(1, 1)),
]

MAX_GEOMS = WINDOW_GEOMS + [
    geom("dil2", (1, 2, 9, 10), kernel_size=3, dilation=2, padding=1, stride=2),
    geom("dil-asym", (2, 1, 8, 11), kernel_size=(2, 3), dilation=(3, 2), padding=1, stride=(1, 3)),
    geom("dil-window-is-padded-input", (1, 2, 3, 5), kernel_size=(2, 3), dilation=(2, 2), padding=(0, 0)),
    geom("dil-empty-window", (1, 1, 2, 2), kernel_size=2, dilation=3, padding=1),  # taps -1 and 2: only padding
    geom("dil-stride>extent", (1, 2, 12, 12), kernel_size=2, dilation=2, stride=5, padding=1),
    geom("wide-dil-s2", (1, 2, 5, 49), kernel_size=3, dilation=(1, 3), stride=(1, 2), padding=1),
    geom("wide-dil-s1", (1, 2, 4, 40), kernel_size=2, dilation=2, stride=1, padding=1),
]

LP_GEOMS = [g for g in WINDOW_GEOMS if "padding" not in g.values[1]]


# --------------------------------------------------------------------------- max pool


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape,kw", MAX_GEOMS)
def test_max_pool2d_geometry(shape, kw, ceil_mode, dtype):
    check_max("max_pool2d", random(shape, dtype, seed=len(shape) + sum(shape)), ceil_mode=ceil_mode, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values", [special, ties])
@pytest.mark.parametrize("shape,kw", [g for g in MAX_GEOMS if g.id.startswith("wide") or g.id in
                                      ("odd", "stride1", "asym", "half-pad", "dil2", "dil-asym", "ceil-adds")])
def test_max_pool2d_nan_inf_and_ties(shape, kw, values, dtype):
    for seed in range(3):
        check_max("max_pool2d", values(shape, dtype, seed), ceil_mode=True, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_all_equal_windows_take_the_first_in_bounds_index(dtype):
    x = np.full((1, 2, 5, 5), 0.5, dtype)
    out, idx = check_max("max_pool2d", x, 3, stride=2, padding=1)
    assert np.all(out == 0.5)
    rows = np.maximum(np.arange(3) * 2 - 1, 0)               # first in-bounds row/column of each window
    np.testing.assert_array_equal(idx[0, 0], rows[:, None] * 5 + rows[None, :])
    out, idx = check_max("max_pool2d", np.full((1, 1, 4, 4), -np.inf, dtype), 2, padding=1)
    assert np.all(out == -np.inf)
    np.testing.assert_array_equal(idx[0, 0], [[0, 1, 3], [4, 5, 7], [12, 13, 15]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_beats_inf_and_last_nan_wins(dtype):
    x = np.array([[[[np.inf, np.nan], [np.nan, 1.0]], [[-np.inf, -np.inf], [-np.inf, np.nan]]]], dtype)
    out, idx = check_max("max_pool2d", x, 2)
    assert np.isnan(out).all()
    np.testing.assert_array_equal(idx.ravel(), [2, 3])


# --------------------------------------------------------------------------- avg / sum / lp


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
@pytest.mark.parametrize("shape,kw", WINDOW_GEOMS)
def test_avg_pool2d_geometry(shape, kw, divisor_override, count_include_pad, ceil_mode, dtype):
    check_summing("avg_pool2d", random(shape, dtype, seed=sum(shape)), window_size(kw["kernel_size"]),
                  ceil_mode=ceil_mode, count_include_pad=count_include_pad, divisor_override=divisor_override, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape,kw", WINDOW_GEOMS)
def test_sum_pool2d_geometry(shape, kw, ceil_mode, dtype):
    check_summing("sum_pool2d", random(shape, dtype, seed=sum(shape)), window_size(kw["kernel_size"]),
                  ceil_mode=ceil_mode, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("norm_type", [1, 2, 3.5])
@pytest.mark.parametrize("shape,kw", LP_GEOMS)
def test_lp_pool2d_geometry(shape, kw, norm_type, ceil_mode, dtype):
    # A non-integer power needs positive inputs; p = 1 and 2 also see negative ones.
    x = random(shape, dtype, seed=sum(shape), low=0.05 if norm_type == 3.5 else -1.0, high=2.0)
    # + 2 terms: the rounding of x**p and of the final scaling and root.
    check_summing("lp_pool2d", x, window_size(kw["kernel_size"]) + 2, norm_type, ceil_mode=ceil_mode, **kw)


@pytest.mark.parametrize("norm_type", [1.5, 1.3, 2.7])
def test_lp_pool2d_fractional_power_keeps_float32_accuracy_over_a_wide_range(norm_type):
    """Found by the fuzz harness: p and 1/p rounded to float32 cost |p ln x| * 2**-24 of
    relative error (10 ulp near 1e-18). Each output here is one x**p and one root: a few ulp."""
    rng = np.random.default_rng(3)
    x = (10.0 ** rng.uniform(-8, 3, (2, 3, 8, 8))).astype(np.float32)  # x**p stays a normal float32
    got = fastconv.lp_pool2d(x, norm_type, 1)
    want = ref.lp_pool2d(x.astype(np.float64), norm_type, 1)
    ulps = np.abs(got / want - 1) / np.finfo(np.float32).eps
    assert ulps.max() <= 3, ulps.max()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_max_pool2d_window_far_larger_than_the_input_visits_only_the_input(layout):
    """Found by the fuzz harness: a 2**31-row window padded by 2**30 scanned every padding row
    (a hang). Each window covers rows [oy - 2**30, oy + 2**30), all 4 input rows: each output
    is its column's maximum, its index the first row holding it."""
    x = ties((2, 3, 4, 7), np.float32, seed=11)
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "NHWC" else x
    got, idx = fastconv.max_pool2d(xl, (2**31, 1), stride=1, padding=(2**30, 0), return_indices=True, layout=layout)
    if layout == "NHWC":
        got, idx = got.transpose(0, 3, 1, 2), idx.transpose(0, 3, 1, 2)
    assert got.shape == (2, 3, 5, 7)
    column_max = x.max(axis=2, keepdims=True)
    first_row = np.argmax(x == column_max, axis=2)[:, :, None, :]
    assert_exact(got, np.broadcast_to(column_max, got.shape))
    assert_exact(idx, np.broadcast_to(first_row * 7 + np.arange(7), idx.shape))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lp_pool2d_negative_inputs_with_non_integer_power_give_nan(dtype):
    x = random((1, 2, 6, 6), dtype, seed=5, low=0.1)
    x[0, 0, 1, 4] = x[0, 1, 5, 0] = -0.5
    got = check_summing("lp_pool2d", x, 4 + 2, 3.5, 2)
    assert np.isnan(got).sum() == 2 and np.isnan(got[0, 0, 0, 2]) and np.isnan(got[0, 1, 2, 0])
    assert np.isnan(got).any() and not np.isnan(got).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["avg_pool2d", "sum_pool2d"])
def test_summing_pools_propagate_nan_and_inf(name, dtype):
    x = special((2, 2, 7, 8), dtype, seed=3, frac=0.06)
    with np.errstate(invalid="ignore"):  # the reference's float64 sums of inf + -inf
        got = check_summing(name, x, 9, 3, stride=2, padding=1, ceil_mode=True)
    assert np.isnan(got).any() and np.isinf(got).any() and np.isfinite(got).any()


@pytest.mark.parametrize("ceil_mode,expected", [(False, (2, 3)), (True, (3, 4))])
def test_ceil_mode_adds_a_partial_window(ceil_mode, expected):
    x = random((1, 1, 5, 7))
    for name in ("max_pool2d", "avg_pool2d", "sum_pool2d"):
        assert getattr(fastconv, name)(x, 2, ceil_mode=ceil_mode).shape[2:] == expected
    assert fastconv.lp_pool2d(x, 2, 2, ceil_mode=ceil_mode).shape[2:] == expected


@pytest.mark.parametrize("shape,kw,expected", [
    ((6, 6), dict(kernel_size=3, stride=4, padding=1), (2, 2)),     # ceil gives 3, last starts at 7 >= 6 + 1
    ((1, 1), dict(kernel_size=2, padding=1), (1, 1)),                # ceil gives 2, last starts at 1 >= 1 + 1
    ((5, 9), dict(kernel_size=(3, 2), stride=(3, 4), padding=(1, 1)), (2, 3)),
])
def test_ceil_mode_drops_a_window_starting_in_the_right_padding(shape, kw, expected):
    x = random((1, 1) + shape)
    for name in ("max_pool2d", "avg_pool2d", "sum_pool2d"):
        assert getattr(fastconv, name)(x, ceil_mode=True, **kw).shape[2:] == expected
        assert getattr(fastconv, name)(x, ceil_mode=False, **kw).shape[2:] == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_divisors_by_hand(dtype):
    x = np.ones((1, 1, 3, 3), dtype)
    full = fastconv.avg_pool2d(x, 2, stride=2, padding=1, ceil_mode=True)
    excl = fastconv.avg_pool2d(x, 2, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    over = fastconv.avg_pool2d(x, 2, stride=2, padding=1, ceil_mode=True, divisor_override=3)
    np.testing.assert_array_equal(full[0, 0], [[0.25, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(excl[0, 0], np.ones((2, 2)))
    np.testing.assert_array_equal(over[0, 0], np.array([[1, 2], [2, 4]], dtype) / dtype(3))
    assert full.dtype == excl.dtype == over.dtype == dtype


# --------------------------------------------------------------------------- layouts


def _base(dtype):
    return random((2, 4, 11, 12), dtype, seed=7)


LAYOUTS = {
    "contiguous": lambda x: x,
    "unbatched": lambda x: x[1],
    "N=0": lambda x: x[:0],
    "C=0": lambda x: x[:, :0],
    "strided": lambda x: x[:, ::2, ::2, 1::2],
    "negative-strides": lambda x: x[::-1, 1:, ::-1, ::-1],
    "transposed-hw": lambda x: np.swapaxes(x, 2, 3),
    "fortran": np.asfortranarray,
    "broadcast": lambda x: np.broadcast_to(x[:1, :, :1], (3,) + x.shape[1:]),   # zero strides, read-only
    "list": lambda x: x[:1, :1, :4, :5].tolist(),
}

OPS = {
    "max_pool2d": (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), check_max),
    "avg_pool2d": (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), check_summing),
    "sum_pool2d": (dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0)), check_summing),
    "lp_pool2d": (dict(norm_type=2, kernel_size=3, stride=2, ceil_mode=True), check_summing),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", OPS)
def test_pool2d_layouts(name, layout, dtype):
    kw, check = OPS[name]
    base = _base(dtype)
    x = LAYOUTS[layout](base)
    args = (11,) if check is check_summing else ()  # terms: at most 9 + 2 (lp)
    got = check(name, x, *args, **kw)
    got = got[0] if isinstance(got, tuple) else got
    expected_dtype = np.float64 if layout == "list" else dtype
    assert got.dtype == expected_dtype
    if layout == "unbatched":
        batched = getattr(fastconv, name)(base, **kw)
        assert np.array_equal(got, batched[1])
    if layout in ("N=0", "C=0"):
        assert got.size == 0 and got.shape[:2] == np.shape(x)[:2]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", OPS)
def test_pool2d_large_input(name, dtype):
    """Enough work for the threaded path (planes split across threads) and long vector rows."""
    kw, check = OPS[name]
    x = random((3, 8, 41, 67), dtype, seed=11)
    if name == "max_pool2d":
        x[0, 0, ::5, ::3] = np.nan
    check(name, x, *((11,) if check is check_summing else ()), **kw)
