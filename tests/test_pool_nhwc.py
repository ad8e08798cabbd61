"""layout="NHWC" for every 2-D pool: against the reference (which transposes) and against
the NCHW kernels, with channel counts around every vector width (tails) and awkward windows."""

import ctypes
import mmap

import numpy as np
import pytest
from conftest import DTYPES, assert_close, assert_exact, special

import fastconv
from fastconv import reference as ref

CHANNELS = [1, 7, 8, 9, 17, 33]
WINDOWS = [  # kernel_size, stride, padding, dilation
    (2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 1), ((2, 3), (1, 2), (1, 1), 1), (3, 3, 0, 2), (1, 1, 0, 1), (5, 2, 2, 1)]


def nhwc(shape_nchw, dtype, seed=0):
    n, c, h, w = shape_nchw
    return np.ascontiguousarray(np.transpose(special((n, c, h, w), dtype, seed, frac=0.1), (0, 2, 3, 1)))


def to_nchw(a):
    return np.transpose(a, (0, 3, 1, 2) if a.ndim == 4 else (2, 0, 1))


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nhwc(channels, window, ceil_mode, dtype):
    k, s, p, d = window
    x = nhwc((2, channels, 9, 11), dtype, seed=channels)
    got, got_i = fastconv.max_pool2d(x, k, s, p, d, ceil_mode, True, layout="NHWC")
    want, want_i = ref.max_pool2d(x, k, s, p, d, ceil_mode, True, layout="NHWC")
    assert_exact(got, want)
    assert np.array_equal(got_i, want_i)
    nchw, nchw_i = fastconv.max_pool2d(np.ascontiguousarray(to_nchw(x)), k, s, p, d, ceil_mode, True)
    assert np.array_equal(to_nchw(got), nchw, equal_nan=True) and np.array_equal(to_nchw(got_i), nchw_i)


@pytest.mark.parametrize("op", ["avg", "avg_exclude_pad", "sum", "lp"])
@pytest.mark.parametrize("window", [w for w in WINDOWS if w[3] == 1], ids=str)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_window_pools_nhwc(op, channels, window, dtype):
    k, s, p, _ = window
    x = np.abs(nhwc((2, channels, 9, 11), dtype, seed=channels))
    x[~np.isfinite(x)] = 0.5
    calls = {
        "avg": lambda lib: lib.avg_pool2d(x, k, s, p, True, True, layout="NHWC"),
        "avg_exclude_pad": lambda lib: lib.avg_pool2d(x, k, s, p, False, False, 3, layout="NHWC"),
        "sum": lambda lib: lib.sum_pool2d(x, k, s, p, layout="NHWC"),
        "lp": lambda lib: lib.lp_pool2d(x, 2.5, k, s, layout="NHWC"),
    }
    got, want = calls[op](fastconv), calls[op](ref)
    window_size = np.prod(np.broadcast_to(k, 2))
    assert_close(got, want, terms=int(window_size) + 2)


@pytest.mark.parametrize("output_size", [1, 3, (2, 5), (None, 4), (12, 13)], ids=str)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_and_global_pools_nhwc(channels, output_size, dtype):
    x = nhwc((2, channels, 7, 9), dtype, seed=channels)
    got, got_i = fastconv.adaptive_max_pool2d(x, output_size, True, layout="NHWC")
    want, want_i = ref.adaptive_max_pool2d(x, output_size, True, layout="NHWC")
    assert_exact(got, want)
    assert np.array_equal(got_i, want_i)
    finite = np.nan_to_num(x, nan=0.25, posinf=2.0, neginf=-2.0)
    for pool, args in ((fastconv.adaptive_avg_pool2d, (output_size,)), (fastconv.global_avg_pool2d, ())):
        want = getattr(ref, pool.__name__)(finite, *args, layout="NHWC")
        magnitude = getattr(ref, pool.__name__)(np.abs(finite), *args, layout="NHWC")
        assert_close(pool(finite, *args, layout="NHWC"), want, magnitude, terms=63)
    assert_exact(fastconv.global_max_pool2d(x, layout="NHWC"), ref.global_max_pool2d(x, layout="NHWC"))


def test_unbatched_nhwc_and_shapes():
    x = nhwc((1, 5, 8, 6), np.float32)[0]  # (H, W, C)
    y = fastconv.max_pool2d(x, 2, layout="NHWC")
    assert y.shape == (4, 3, 5) and y.dtype == np.float32
    assert fastconv.global_avg_pool2d(np.ones((2, 3, 4, 5)), layout="NHWC").shape == (2, 1, 1, 5)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d", "sum_pool2d", "adaptive_avg_pool2d", "global_max_pool2d"])
def test_unknown_layout_is_refused(name):
    args = {"max_pool2d": (2,), "avg_pool2d": (2,), "sum_pool2d": (2,), "adaptive_avg_pool2d": (2,)}.get(name, ())
    with pytest.raises(ValueError, match="layout"):
        getattr(fastconv, name)(np.ones((1, 4, 4, 2)), *args, layout="NCWH")


@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_nhwc_matches_torch_channels_last(window):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    k, s, p, d = window
    x = nhwc((2, 9, 10, 12), np.float64, seed=3)
    xt = torch.from_numpy(np.ascontiguousarray(to_nchw(x))).contiguous(memory_format=torch.channels_last)
    got, got_i = fastconv.max_pool2d(x, k, s, p, d, False, True, layout="NHWC")
    want, want_i = F.max_pool2d(xt, k, s, p, d, False, True)
    assert np.array_equal(to_nchw(got), want.numpy(), equal_nan=True)
    finite = ~np.isinf(to_nchw(got))  # torch's index for an all-padding window is arbitrary
    assert np.array_equal(to_nchw(got_i)[finite], want_i.numpy()[finite])
    if d == 1:
        clean = np.nan_to_num(x)
        ct = torch.from_numpy(np.ascontiguousarray(to_nchw(clean))).contiguous(memory_format=torch.channels_last)
        np.testing.assert_allclose(to_nchw(fastconv.avg_pool2d(clean, k, s, p, layout="NHWC")),
                                   F.avg_pool2d(ct, k, s, p).numpy(), rtol=1e-12, atol=1e-12)


def array_before_guard_page(x):
    """A copy of x whose last byte is the last readable byte before an inaccessible page, so a
    kernel that reads past the end of the input crashes instead of passing."""
    libc = ctypes.CDLL(None, use_errno=True)
    page = mmap.PAGESIZE
    data = -(-x.nbytes // page) * page
    buf = mmap.mmap(-1, data + page)
    start = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    if libc.mprotect(ctypes.c_void_p(start + data), ctypes.c_size_t(page), 0) != 0:
        pytest.skip(f"mprotect failed: errno {ctypes.get_errno()}")
    y = np.frombuffer(buf, x.dtype, count=x.size, offset=data - x.nbytes).reshape(x.shape)
    y[...] = x
    return y


@pytest.mark.parametrize("channels", [1, 3, 7, 9, 17])
@pytest.mark.parametrize("dtype", DTYPES)
def test_channel_tails_read_nothing_past_the_input(channels, dtype):
    # The last vector of channels is a masked load: with a guard page right after the input,
    # the pools of the bottom-right pixel must not touch it.
    x = array_before_guard_page(nhwc((2, channels, 5, 7), dtype, seed=channels))
    for k, s in ((2, 2), (3, 1)):
        got, got_i = fastconv.max_pool2d(x, k, s, return_indices=True, layout="NHWC")
        want, want_i = ref.max_pool2d(x, k, s, return_indices=True, layout="NHWC")
        assert_exact(got, want)
        assert np.array_equal(got_i, want_i)
        finite = np.nan_to_num(x, nan=0.25, posinf=2.0, neginf=-2.0)
        guarded = array_before_guard_page(finite)
        for pool in (fastconv.avg_pool2d, fastconv.sum_pool2d):
            want = getattr(ref, pool.__name__)(finite, k, s, layout="NHWC")
            magnitude = getattr(ref, pool.__name__)(np.abs(finite), k, s, layout="NHWC")
            assert_close(pool(guarded, k, s, layout="NHWC"), want, magnitude, terms=k * k + 2)
