"""The calls that tests/test_leaks.py and benches/leak_check.py repeat to look for leaks.

For every public op, on small arrays (a few µs a call): a good call, a second good call
(with ``out=``, or ``return_indices=True``, or where the API has neither, another path: NHWC,
no batch axis, SciPy's swapped "valid"), and bad calls raising from different places: the
Python argument checks (dtype, shape, ``out=``) and, where a public call can reach it, the
extension: std::bad_alloc thrown in _core.empty_aligned (MemoryError) for an output that
passes the Python size checks (under 2**62 elements) but needs more bytes than a 64-bit
address space holds (over 2**57), so that the allocation fails at once, touching no memory.
Bad arguments of the window and global pools, correlate2d, convolve2d and relu never reach
the extension: their outputs are no larger than their inputs, and Python checks the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

import fastconv

F32 = np.float32


@dataclasses.dataclass(frozen=True)
class BadCall:
    wrong: str
    call: Callable[[], object]
    raises: type
    raised_by: str = "Python"  # or the _core function the exception leaves


@dataclasses.dataclass(frozen=True)
class OpCalls:
    op: str
    arrays: dict  # every array the calls pass, by name: their refcounts must not change
    good: Callable[[], object]
    second: Callable[[], object]
    second_kind: str
    bad: tuple


def ones(*shape, dtype=F32):
    return np.ones(shape, dtype)


def conv2d_calls():
    x, w, b, out = ones(1, 2, 6, 6), ones(3, 2, 3, 3), ones(3), ones(1, 3, 4, 4)
    x_int, w64 = ones(1, 2, 6, 6, dtype=np.int64), ones(3, 2, 3, 3, dtype=np.float64)
    x2d, out_5x5 = ones(6, 6), ones(1, 3, 5, 5)
    return OpCalls("conv2d", dict(x=x, weight=w, bias=b, out=out, x_int=x_int, w64=w64, x2d=x2d, out_5x5=out_5x5),
                   good=lambda: fastconv.conv2d(x, w),  # the plan-cache path after the first call
                   second=lambda: fastconv.conv2d(x, w, b, out=out), second_kind="bias, out=",
                   bad=(BadCall("x int64", lambda: fastconv.conv2d(x_int, w), TypeError),
                        BadCall("weight float64", lambda: fastconv.conv2d(x, w64), TypeError),
                        BadCall("x 2-D", lambda: fastconv.conv2d(x2d, w), ValueError),
                        BadCall("out= of the wrong shape", lambda: fastconv.conv2d(x, w, b, out=out_5x5),
                                ValueError),
                        BadCall("output over 2**57 bytes", lambda: fastconv.conv2d(x, w, padding=2**26), MemoryError,
                                "empty_aligned")))


def conv1d_calls():
    x, w, b, out = ones(1, 2, 8), ones(3, 2, 3), ones(3), ones(1, 3, 6)
    x_int, x4d, out_7 = ones(1, 2, 8, dtype=np.int64), ones(1, 2, 8, 8), ones(1, 3, 7)
    return OpCalls("conv1d", dict(x=x, weight=w, bias=b, out=out, x_int=x_int, x4d=x4d, out_7=out_7),
                   good=lambda: fastconv.conv1d(x, w),
                   second=lambda: fastconv.conv1d(x, w, b, out=out), second_kind="bias, out=",
                   bad=(BadCall("x int64", lambda: fastconv.conv1d(x_int, w), TypeError),
                        BadCall("x 4-D", lambda: fastconv.conv1d(x4d, w), ValueError),
                        BadCall("out= of the wrong shape", lambda: fastconv.conv1d(x, w, b, out=out_7),
                                ValueError),
                        BadCall("output over 2**57 bytes", lambda: fastconv.conv1d(x, w, padding=2**55), MemoryError,
                                "empty_aligned")))


def conv_transpose2d_calls():
    x, w, b, x3d = ones(1, 2, 3, 3), ones(2, 3, 2, 2), ones(3), ones(2, 3, 3)
    x_int, w_3ch = ones(1, 2, 3, 3, dtype=np.int64), ones(3, 3, 2, 2)
    return OpCalls("conv_transpose2d", dict(x=x, weight=w, bias=b, x3d=x3d, x_int=x_int, w_3ch=w_3ch),
                   good=lambda: fastconv.conv_transpose2d(x, w, b, stride=2),
                   second=lambda: fastconv.conv_transpose2d(x3d, w, stride=2), second_kind="no batch axis",
                   bad=(BadCall("x int64", lambda: fastconv.conv_transpose2d(x_int, w), TypeError),
                        BadCall("weight of other channels", lambda: fastconv.conv_transpose2d(x, w_3ch),
                                ValueError),
                        BadCall("output over 2**57 bytes", lambda: fastconv.conv_transpose2d(x, w, stride=2**28),
                                MemoryError, "empty_aligned")))


def _correlate_calls(name):
    fn = getattr(fastconv, name)
    image, kernel, large_kernel = ones(5, 6), ones(3, 3), ones(5, 6)
    image_int, image3d, kernel64 = ones(5, 6, dtype=np.int64), ones(1, 5, 6), ones(3, 3, dtype=np.float64)
    return OpCalls(name, dict(image=image, kernel=kernel, large_kernel=large_kernel, image_int=image_int,
                              image3d=image3d, kernel64=kernel64),
                   good=lambda: fn(image, kernel),
                   second=lambda: fn(kernel, large_kernel, mode="valid"), second_kind='"valid", kernel larger',
                   bad=(BadCall("image int64", lambda: fn(image_int, kernel), TypeError),
                        BadCall("kernel float64", lambda: fn(image, kernel64), TypeError),
                        BadCall("image 3-D", lambda: fn(image3d, kernel), ValueError),
                        BadCall("unknown boundary", lambda: fn(image, kernel, boundary="nearest"),
                                ValueError)))


def correlate2d_calls():
    return _correlate_calls("correlate2d")


def convolve2d_calls():
    return _correlate_calls("convolve2d")


def _max_pool_calls(name, nd):
    fn = getattr(fastconv, name)
    spatial = (6,) * nd
    x, x_int, x_wrong_ndim = ones(1, 2, *spatial), ones(1, 2, *spatial, dtype=np.int64), ones(1, 1, 2, *spatial)
    return OpCalls(name, dict(x=x, x_int=x_int, x_wrong_ndim=x_wrong_ndim),
                   good=lambda: fn(x, 2),
                   second=lambda: fn(x, 2, return_indices=True), second_kind="return_indices=True",
                   bad=(BadCall("x int64", lambda: fn(x_int, 2), TypeError),
                        BadCall(f"x {nd + 3}-D", lambda: fn(x_wrong_ndim, 2), ValueError),
                        BadCall("padding over half the window", lambda: fn(x, 2, padding=2), ValueError),
                        BadCall("return_indices not a bool", lambda: fn(x, 2, return_indices=1), TypeError)))


def max_pool2d_calls():
    return _max_pool_calls("max_pool2d", 2)


def max_pool1d_calls():
    return _max_pool_calls("max_pool1d", 1)


def _window_pool_calls(name, nd, extra=(), extra_bad=()):
    """avg / sum / lp pools; ``extra``: arguments before kernel_size (lp_pool2d's norm_type)."""
    fn = getattr(fastconv, name)
    spatial = (6,) * nd
    x, x_int, x_wrong_ndim = ones(1, 2, *spatial), ones(1, 2, *spatial, dtype=np.int64), ones(1, 1, 2, *spatial)
    if nd == 2:
        x_second = ones(1, *spatial, 2)
        second, second_kind = (lambda: fn(x_second, *extra, 2, layout="NHWC")), "NHWC"
    else:
        x_second = ones(2, *spatial)
        second, second_kind = (lambda: fn(x_second, *extra, 2)), "no batch axis"
    return OpCalls(name, dict(x=x, x_second=x_second, x_int=x_int, x_wrong_ndim=x_wrong_ndim),
                   good=lambda: fn(x, *extra, 2), second=second, second_kind=second_kind,
                   bad=(BadCall("x int64", lambda: fn(x_int, *extra, 2), TypeError),
                        BadCall(f"x {nd + 3}-D", lambda: fn(x_wrong_ndim, *extra, 2), ValueError),
                        BadCall("window larger than x", lambda: fn(x, *extra, 7), ValueError),
                        *(BadCall(wrong, (lambda kw=kw: fn(x, *extra, 2, **kw)), raises)
                          for wrong, kw, raises in extra_bad)))


def avg_pool2d_calls():
    return _window_pool_calls("avg_pool2d", 2, extra_bad=[
        ("divisor_override 0", dict(divisor_override=0), ValueError)])


def sum_pool2d_calls():
    return _window_pool_calls("sum_pool2d", 2)


def lp_pool2d_calls():
    return _window_pool_calls("lp_pool2d", 2, extra=(2.0,), extra_bad=[
        ("ceil_mode not a bool", dict(ceil_mode=1), TypeError)])


def avg_pool1d_calls():
    return _window_pool_calls("avg_pool1d", 1)


def sum_pool1d_calls():
    return _window_pool_calls("sum_pool1d", 1)


def _adaptive_calls(name, *size, indices=False):
    """Adaptive pools fn(x, size) and global pools fn(x); ``indices``: the second call is
    return_indices=True rather than NHWC."""
    fn = getattr(fastconv, name)
    x, x_nhwc, x_int, x5d = ones(1, 2, 5, 5), ones(1, 5, 5, 2), ones(1, 2, 5, 5, dtype=np.int64), ones(1, 1, 2, 5, 5)
    bad = [BadCall("x int64", lambda: fn(x_int, *size), TypeError),
           BadCall("x 5-D", lambda: fn(x5d, *size), ValueError),
           BadCall("unknown layout", lambda: fn(x, *size, layout="CHWN"), ValueError)]
    if size:
        bad.append(BadCall("output over 2**57 bytes", lambda: fn(x, 2**30), MemoryError, "empty_aligned"))
    if indices:
        second, second_kind = (lambda: fn(x, *size, return_indices=True)), "return_indices=True"
    else:
        second, second_kind = (lambda: fn(x_nhwc, *size, layout="NHWC")), "NHWC"
    return OpCalls(name, dict(x=x, x_nhwc=x_nhwc, x_int=x_int, x5d=x5d), good=lambda: fn(x, *size), second=second,
                   second_kind=second_kind, bad=tuple(bad))


def adaptive_avg_pool2d_calls():
    return _adaptive_calls("adaptive_avg_pool2d", 3)


def adaptive_max_pool2d_calls():
    return _adaptive_calls("adaptive_max_pool2d", 3, indices=True)


def global_avg_pool2d_calls():
    return _adaptive_calls("global_avg_pool2d")


def global_max_pool2d_calls():
    return _adaptive_calls("global_max_pool2d")


def relu_calls():
    # 4096 float32: a 16 KB result, which comes from _core.empty_aligned (C++ memory that
    # tracemalloc does not see) rather than np.empty
    x, out = ones(4096), ones(4096)
    x_int, out_wrong, out64 = ones(4096, dtype=np.int64), ones(4095), ones(4096, dtype=np.float64)
    return OpCalls("relu", dict(x=x, out=out, x_int=x_int, out_wrong=out_wrong, out64=out64),
                   good=lambda: fastconv.relu(x), second=lambda: fastconv.relu(x, out=out), second_kind="out=",
                   bad=(BadCall("x int64", lambda: fastconv.relu(x_int), TypeError),
                        BadCall("out= of the wrong shape", lambda: fastconv.relu(x, out=out_wrong),
                                ValueError),
                        BadCall("out= float64", lambda: fastconv.relu(x, out=out64), TypeError),
                        BadCall("out= a list", lambda: fastconv.relu(x, out=[0.0]), TypeError)))


MAKERS = (conv2d_calls, conv1d_calls, conv_transpose2d_calls, correlate2d_calls, convolve2d_calls,
          max_pool1d_calls, max_pool2d_calls, avg_pool1d_calls, avg_pool2d_calls, sum_pool1d_calls, sum_pool2d_calls,
          lp_pool2d_calls, adaptive_avg_pool2d_calls, adaptive_max_pool2d_calls, global_avg_pool2d_calls,
          global_max_pool2d_calls, relu_calls)


def alternate(calls, n):
    """n calls of one op, every other one raising: good, bad, second, bad, good, ... with the bad
    calls in turn."""
    for i in range(n):
        if i % 2 == 0:
            (calls.good if i % 4 == 0 else calls.second)()
            continue
        bad = calls.bad[(i // 2) % len(calls.bad)]
        try:
            bad.call()
        except bad.raises:
            continue
        raise AssertionError(f"{calls.op}: the call with {bad.wrong} did not raise {bad.raises.__name__}")
