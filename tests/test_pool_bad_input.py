"""Bad input to the pools and relu raises TypeError / ValueError naming the argument; dtypes are never changed.

Which bad values apply to which function is read from the function's signature, so every
pool that takes an argument is checked with every bad value of it.
"""

import inspect
import math

import numpy as np
import pytest

import fastconv

POOLS = {  # name -> (valid arguments besides x, number of spatial dims)
    "max_pool2d": (dict(kernel_size=2), 2),
    "avg_pool2d": (dict(kernel_size=2), 2),
    "sum_pool2d": (dict(kernel_size=2), 2),
    "lp_pool2d": (dict(norm_type=2, kernel_size=2), 2),
    "max_pool1d": (dict(kernel_size=2), 1),
    "avg_pool1d": (dict(kernel_size=2), 1),
    "sum_pool1d": (dict(kernel_size=2), 1),
    "adaptive_avg_pool2d": (dict(output_size=2), 2),
    "adaptive_max_pool2d": (dict(output_size=2), 2),
    "global_avg_pool2d": ({}, 2),
    "global_max_pool2d": ({}, 2),
}
ALL = {**POOLS, "relu": ({}, None)}


def x_for(nd, dtype=np.float64):
    return np.ones((1, 2) + (6,) * nd if nd else (3, 4), dtype)


_VALID = object()


def call(name, x=_VALID, **overrides):
    """fastconv.<name> on a valid input (or ``x``) with valid arguments, some replaced by ``overrides``."""
    kwargs, nd = ALL[name]
    return getattr(fastconv, name)(x_for(nd) if x is _VALID else x, **{**kwargs, **overrides})


def positive_int_cases(nd, none_ok):
    cases = [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError),
             (np.float64(2.0), TypeError), ((2,) * (nd + 1), ValueError), ((2,) * (nd - 1) + (0,), ValueError),
             ((2,) * (nd - 1) + (1.5,), TypeError), ((2,) * (nd - 1) + (-2,), ValueError)]
    if nd == 2:
        cases.append(((2,), ValueError))
    if not none_ok:
        cases.append((None, TypeError))
    return cases


BAD = {  # argument -> nd -> [(bad value, exception)]; valid defaults are kernel_size=2 on a 6-pixel input
    "kernel_size": lambda nd: positive_int_cases(nd, none_ok=False),
    "stride": lambda nd: positive_int_cases(nd, none_ok=True),
    "dilation": lambda nd: positive_int_cases(nd, none_ok=False),
    "padding": lambda nd: [(-1, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError),
                           (2, ValueError), ((1,) * (nd + 1), ValueError), ((0,) * (nd - 1) + (-1,), ValueError),
                           ((0,) * (nd - 1) + (2,), ValueError)],
    "ceil_mode": lambda nd: [(1, TypeError), (0, TypeError), (None, TypeError), ("True", TypeError)],
    "return_indices": lambda nd: [(1, TypeError), (None, TypeError), ("yes", TypeError)],
    "count_include_pad": lambda nd: [(1, TypeError), (0, TypeError), (None, TypeError)],
    "divisor_override": lambda nd: [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError),
                                    ("2", TypeError)],
    "norm_type": lambda nd: [(0, ValueError), (-1, ValueError), (-0.5, ValueError), (math.inf, ValueError),
                             (-math.inf, ValueError), (math.nan, ValueError), ("2", TypeError), (None, TypeError),
                             (True, TypeError), (2j, TypeError)],
    "output_size": lambda nd: [(0, ValueError), (-1, ValueError), ((0, 2), ValueError), ((2, -1), ValueError),
                               ((None, 0), ValueError), ((2,), ValueError), ((2, 2, 2), ValueError), ((), ValueError),
                               (1.5, TypeError), ("2", TypeError), (True, TypeError), (None, TypeError),
                               ((None, 1.5), TypeError)],
}


def bad_argument_cases():
    for name, (_, nd) in POOLS.items():
        params = inspect.signature(getattr(fastconv, name)).parameters
        for arg, values in BAD.items():
            if arg in params:
                for value, exc in values(nd):
                    yield pytest.param(name, arg, value, exc, id=f"{name}-{arg}={value!r}")


@pytest.mark.parametrize("name,arg,value,exc", list(bad_argument_cases()))
def test_bad_argument_is_named(name, arg, value, exc):
    with pytest.raises(exc, match=rf"\b{arg}\b"):
        call(name, **{arg: value})


@pytest.mark.parametrize("name,x,kwargs", [
    ("max_pool2d", np.ones((1, 1, 3, 3)), dict(kernel_size=4)),
    ("max_pool2d", np.ones((1, 1, 3, 3)), dict(kernel_size=(2, 6), padding=(1, 1))),   # W: 6 > 3 + 2
    ("max_pool2d", np.ones((1, 1, 3, 5)), dict(kernel_size=2, dilation=3)),           # dilated extent 4 > 3
    ("avg_pool2d", np.ones((1, 1, 1, 1)), dict(kernel_size=4, padding=1)),           # 4 > 1 + 2
    ("sum_pool2d", np.ones((2, 6, 5)), dict(kernel_size=(2, 6))),                     # unbatched (C, H, W)
    ("lp_pool2d", np.ones((1, 1, 3, 3)), dict(norm_type=2, kernel_size=(1, 4))),
    ("max_pool1d", np.ones((1, 1, 3)), dict(kernel_size=3, dilation=2)),
    ("avg_pool1d", np.ones((1, 1, 2)), dict(kernel_size=5, padding=1)),
], ids=lambda v: "" if isinstance(v, (np.ndarray, dict)) else v)
def test_window_larger_than_padded_input(name, x, kwargs):
    with pytest.raises(ValueError, match=r"\bkernel_size\b"):
        getattr(fastconv, name)(x, **kwargs)


@pytest.mark.parametrize("name", ["max_pool2d", "max_pool1d"])
def test_padding_limit_is_half_the_undilated_kernel(name):
    # PyTorch's rule: dilation widens the window but not the allowed padding (3 // 2 = 1).
    call(name, kernel_size=3, dilation=2, padding=1)
    with pytest.raises(ValueError, match=r"\bpadding\b"):
        call(name, kernel_size=3, dilation=2, padding=2)


def plain(v):
    """NumPy scalars (also inside tuples/lists) as the Python int/float/bool they stand for."""
    if isinstance(v, (list, tuple)):
        return type(v)(plain(e) for e in v)
    return v.item() if isinstance(v, np.generic) else v


@pytest.mark.parametrize("name,kwargs", [
    ("max_pool2d", dict(kernel_size=np.int64(3), stride=np.int32(2), padding=np.int8(1), dilation=np.uint8(1),
                        ceil_mode=np.bool_(True), return_indices=np.bool_(True))),
    ("avg_pool2d", dict(kernel_size=[2, np.int16(3)], stride=(), count_include_pad=np.bool_(False),
                        divisor_override=np.int16(3))),
    ("sum_pool2d", dict(kernel_size=(np.int64(2), 3), stride=[1, np.int64(2)])),
    ("lp_pool2d", dict(norm_type=np.float32(2.0), kernel_size=2)),
    ("lp_pool2d", dict(norm_type=np.int64(3), kernel_size=2, stride=None)),
    ("max_pool1d", dict(kernel_size=(2,), stride=[])),
    ("avg_pool1d", dict(kernel_size=np.int32(3), padding=(np.int64(1),), ceil_mode=np.bool_(False))),
    ("adaptive_avg_pool2d", dict(output_size=(np.int64(2), None))),
    ("adaptive_max_pool2d", dict(output_size=[np.uint8(4), 3], return_indices=np.bool_(True))),
], ids=lambda v: v if isinstance(v, str) else "")
def test_numpy_scalars_and_empty_stride_are_accepted(name, kwargs):
    """NumPy ints/bools/floats work as their Python values; stride=() or [] means the default."""
    x = np.random.default_rng(0).uniform(0.1, 1, (2, 3, 7, 8) if "1d" not in name else (2, 3, 8))
    got, want = call(name, x, **kwargs), call(name, x, **plain(kwargs))
    for a, b in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(a, b)
    if isinstance(kwargs.get("stride"), (list, tuple)) and not kwargs["stride"]:
        np.testing.assert_array_equal(got, call(name, x, **{**kwargs, "stride": None}))


def wrong_shapes(nd):
    if nd is None:
        return []
    return [(), (4,)] + ([(4, 4), (1, 1, 1, 4, 4)] if nd == 2 else [(1, 1, 4, 4), (1, 1, 1, 1, 4)])


@pytest.mark.parametrize("name,shape", [pytest.param(name, shape, id=f"{name}-{shape}")
                                        for name, (_, nd) in POOLS.items() for shape in wrong_shapes(nd)])
def test_wrong_ndim(name, shape):
    with pytest.raises(ValueError, match=r"^x\b"):
        call(name, np.ones(shape))


BAD_DTYPES = [np.int8, np.int32, np.int64, np.uint8, np.bool_, np.float16, np.complex64, np.complex128, object,
              np.str_, np.datetime64]
if np.dtype(np.longdouble) != np.dtype(np.float64):
    BAD_DTYPES.append(np.longdouble)


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ALL)
def test_unsupported_dtype_is_rejected_not_cast(name, dtype):
    x = np.ones(x_for(ALL[name][1]).shape).astype(dtype) if dtype is not np.datetime64 \
        else np.zeros(x_for(ALL[name][1]).shape, "datetime64[s]")
    with pytest.raises(TypeError, match=r"^x\b"):
        call(name, x)


@pytest.mark.parametrize("x", [None, "abc", {"a": 1}, [[1.0], [1.0, 2.0]], [[1, 2]], object()],
                         ids=["None", "str", "dict", "ragged", "int-list", "object"])
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool1d", "adaptive_max_pool2d", "relu"])
def test_non_array_input(name, x):
    with pytest.raises(TypeError, match=r"^x\b"):
        call(name, x)


@pytest.mark.parametrize("shape", [(1, 1, 0, 3), (1, 1, 3, 0), (0, 2, 0, 0), (2, 0, 3)])
@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d", "global_avg_pool2d",
                                  "global_max_pool2d"])
def test_adaptive_pool_of_an_empty_plane(name, shape):
    with pytest.raises(ValueError, match=r"^x\b"):
        call(name, np.ones(shape))


# fastconv bug: a padded window pool of an input with an empty spatial dim (max_pool2d of shape
# (1, 1, 0, 4), kernel_size=2, padding=1) returns a (1, 1, 1, 3) array of -inf with index -1 (avg/sum:
# zeros) where torch raises "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size";
# the reference raises IndexError there.
EMPTY_PLANE_BUG = pytest.mark.xfail(strict=True, reason="bug: padded pool of an empty plane does not raise")


@pytest.mark.parametrize("name,shape", [pytest.param(n, s, id=f"{n}-{s}") for n, s in [
    ("max_pool2d", (1, 1, 0, 4)), ("avg_pool2d", (1, 1, 4, 0)), ("sum_pool2d", (2, 0, 0)),
    ("max_pool1d", (1, 1, 0)), ("avg_pool1d", (2, 0)), ("sum_pool1d", (1, 2, 0))]])
def test_padded_window_pool_of_an_empty_plane(name, shape):
    # The kernel (2) fits the padded size (0 + 2*1), so only the empty input itself is wrong.
    with pytest.raises(ValueError, match=r"^x\b"):
        call(name, np.ones(shape), kernel_size=2, padding=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("name", ALL)
def test_dtype_is_kept(name, unbatched, dtype):
    x = x_for(ALL[name][1], dtype)
    kwargs = {"return_indices": True} if "return_indices" in inspect.signature(getattr(fastconv, name)).parameters \
        else {}
    result = call(name, x[0] if unbatched else x, **kwargs)
    if kwargs:
        result, indices = result
        assert indices.dtype == np.int64 and indices.shape == result.shape
    assert result.dtype == dtype


# --------------------------------------------------------------------------- relu out=


def _relu_out_cases():
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    buf = np.zeros(13)
    flat = buf[:12]
    ro = np.zeros((3, 4))
    ro.flags.writeable = False
    yield "wrong-shape", x, np.zeros((4, 3)), ValueError
    yield "wrong-size", x, np.zeros(13), ValueError
    yield "flat", x, np.zeros(12), ValueError
    yield "wrong-dtype", x, np.zeros((3, 4), np.float32), TypeError
    yield "int-dtype", x, np.zeros((3, 4), np.int64), TypeError
    yield "non-contiguous", x, np.zeros((3, 8))[:, ::2], ValueError
    yield "fortran", x, np.zeros((3, 4), order="F"), ValueError
    yield "read-only", x, ro, ValueError
    yield "list", x, [[0.0] * 4] * 3, TypeError
    yield "overlap-shifted", flat.reshape(3, 4), buf[1:].reshape(3, 4), ValueError
    base = np.linspace(-1, 1, 20)
    yield "overlap-partial", base[:12].reshape(3, 4), base[8:20].reshape(3, 4), ValueError
    nc = np.linspace(-1, 1, 24).reshape(3, 8)
    yield "out=x-non-contiguous", nc[:, ::2], nc[:, ::2], ValueError


@pytest.mark.parametrize("x,out,exc", [pytest.param(*c[1:], id=c[0]) for c in _relu_out_cases()])
def test_relu_bad_out(x, out, exc):
    before = x.copy()
    with pytest.raises(exc, match=r"\bout\b"):
        fastconv.relu(x, out=out)
    np.testing.assert_array_equal(x, before)
