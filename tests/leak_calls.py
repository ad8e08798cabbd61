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


def _blur_calls(name, nd, extra=()):
    """blur pools fn(x, *extra, filter_size): a second call in NHWC (2-D) or unbatched (1-D)."""
    fn = getattr(fastconv, name)
    spatial = (6,) * nd
    x, x_int, x_empty = ones(1, 2, *spatial), ones(1, 2, *spatial, dtype=np.int64), ones(1, 2, *spatial[:-1], 0)
    if nd == 2:
        x_second = ones(1, *spatial, 2)
        second, second_kind = (lambda: fn(x_second, *extra, layout="NHWC")), "NHWC"
    else:
        x_second = ones(2, *spatial)
        second, second_kind = (lambda: fn(x_second, *extra)), "no batch axis"
    return OpCalls(name, dict(x=x, x_second=x_second, x_int=x_int, x_empty=x_empty),
                   good=lambda: fn(x, *extra), second=second, second_kind=second_kind,
                   bad=(BadCall("x int64", lambda: fn(x_int, *extra), TypeError),
                        BadCall("empty x", lambda: fn(x_empty, *extra), ValueError),
                        BadCall("filter_size 8", lambda: fn(x, *extra, filter_size=8), ValueError),
                        BadCall("unknown padding_mode", lambda: fn(x, *extra, padding_mode="mirror"), ValueError)))


def blur_pool2d_calls():
    return _blur_calls("blur_pool2d", 2)


def blur_pool1d_calls():
    return _blur_calls("blur_pool1d", 1)


def max_blur_pool2d_calls():
    return _blur_calls("max_blur_pool2d", 2, extra=(2,))


def max_blur_pool1d_calls():
    return _blur_calls("max_blur_pool1d", 1, extra=(2,))


def _blur_backward_calls(name, nd, max_window=False):
    """blur pools' backward fn(grad_out, x_shape or x, [kernel_size]): a second call without the
    batch axis."""
    fn = getattr(fastconv, name)
    spatial, out_spatial = (6,) * nd, (3,) * nd
    x = ones(1, 2, *spatial)
    first, extra = (x, (2,)) if max_window else (x.shape, ())
    go, go_int, go_wrong = ones(1, 2, *out_spatial), ones(1, 2, *out_spatial, dtype=np.int64), ones(1, 2, *spatial)
    second_first = x[0] if max_window else x.shape[1:]
    arrays = dict(x=x, grad_out=go, go_int=go_int, go_wrong=go_wrong)
    return OpCalls(name, arrays, good=lambda: fn(go, first, *extra, filter_size=3),
                   second=lambda: fn(go[0], second_first, *extra, filter_size=3), second_kind="no batch axis",
                   bad=(BadCall("grad_out int64", lambda: fn(go_int, first, *extra, filter_size=3), TypeError),
                        BadCall("grad_out of the wrong shape", lambda: fn(go_wrong, first, *extra, filter_size=3),
                                ValueError),
                        BadCall("filter_size 0", lambda: fn(go, first, *extra, filter_size=0), ValueError)))


def blur_pool2d_backward_calls():
    return _blur_backward_calls("blur_pool2d_backward", 2)


def blur_pool1d_backward_calls():
    return _blur_backward_calls("blur_pool1d_backward", 1)


def max_blur_pool2d_backward_calls():
    return _blur_backward_calls("max_blur_pool2d_backward", 2, max_window=True)


def max_blur_pool1d_backward_calls():
    return _blur_backward_calls("max_blur_pool1d_backward", 1, max_window=True)


# --------------------------------------------------------------------------- backward passes


def _grads(result):
    """A convolution backward's dict as a tuple, so that each gradient's references are counted."""
    return tuple(result.values())


def _conv_backward_calls(op, x, w, go, second_go, second_kwargs, second_kind, bad_shape_go):
    """go: grad_out of the forward with default arguments, second_go of one with second_kwargs."""
    fn = getattr(fastconv, op)
    go_int, go64 = go.astype(np.int64), go.astype(np.float64)
    return OpCalls(op, dict(x=x, weight=w, grad_out=go, second_go=second_go, go_int=go_int, go64=go64,
                            bad_shape_go=bad_shape_go),
                   good=lambda: _grads(fn(go, x, w)),
                   second=lambda: _grads(fn(second_go, x, w, **second_kwargs)), second_kind=second_kind,
                   bad=(BadCall("grad_out int64", lambda: fn(go_int, x, w), TypeError),
                        BadCall("grad_out float64", lambda: fn(go64, x, w), TypeError),
                        BadCall("grad_out of the wrong shape", lambda: fn(bad_shape_go, x, w), ValueError),
                        BadCall("unknown gradient", lambda: fn(go, x, w, needs=("x",)), ValueError)))


def conv2d_backward_calls():
    return _conv_backward_calls("conv2d_backward", ones(1, 2, 6, 6), ones(3, 2, 3, 3), ones(1, 3, 4, 4),
                                ones(1, 3, 3, 3), dict(stride=2, padding=1, needs=("input",)), "stride 2, input only",
                                ones(1, 3, 4, 3))


def conv1d_backward_calls():
    return _conv_backward_calls("conv1d_backward", ones(1, 2, 8), ones(3, 2, 3), ones(1, 3, 6), ones(1, 3, 8),
                                dict(padding="same", padding_mode="reflect", needs="weight"),
                                'padding "same", reflect, weight only', ones(1, 3, 7))


def conv_transpose2d_backward_calls():
    return _conv_backward_calls("conv_transpose2d_backward", ones(1, 2, 3, 3), ones(2, 3, 2, 2), ones(1, 3, 4, 4),
                                ones(1, 3, 6, 6), dict(stride=2, needs=("weight", "bias")), "stride 2, weight and bias",
                                ones(1, 3, 5, 6))


def _max_pool_backward_calls(op, x_shape, forward, second_layout=None):
    fn = getattr(fastconv, op)
    _, idx = forward(np.arange(np.prod(x_shape), dtype=F32).reshape(x_shape))
    go = np.ones(idx.shape, F32)
    idx_far, idx_float, go_short = np.full(idx.shape, 10**6), idx.astype(np.float64), go[..., :-1]
    second = (lambda: fn(go[0], idx[0], x_shape[1:])) if second_layout is None else \
        (lambda: fn(go, idx, x_shape, layout=second_layout))
    return OpCalls(op, dict(grad_out=go, indices=idx, idx_far=idx_far, idx_float=idx_float, go_short=go_short),
                   good=lambda: fn(go, idx, x_shape), second=second,
                   second_kind="no batch axis" if second_layout is None else second_layout,
                   bad=(BadCall("index outside the plane", lambda: fn(go, idx_far, x_shape), ValueError,
                                "max_pool2d_backward"),
                        BadCall("float indices", lambda: fn(go, idx_float, x_shape), TypeError),
                        BadCall("grad_out of the wrong shape", lambda: fn(go_short, idx, x_shape), ValueError)))


def max_pool2d_backward_calls():
    return _max_pool_backward_calls("max_pool2d_backward", (1, 2, 6, 6),
                                    lambda x: fastconv.max_pool2d(x, 2, return_indices=True))


def max_pool1d_backward_calls():
    return _max_pool_backward_calls("max_pool1d_backward", (1, 2, 6),
                                    lambda x: fastconv.max_pool1d(x, 2, return_indices=True))


def adaptive_max_pool2d_backward_calls():
    return _max_pool_backward_calls("adaptive_max_pool2d_backward", (1, 2, 6, 6),
                                    lambda x: fastconv.adaptive_max_pool2d(x, 3, return_indices=True))


def global_max_pool2d_backward_calls():
    return _max_pool_backward_calls("global_max_pool2d_backward", (1, 2, 6, 6),
                                    lambda x: fastconv.adaptive_max_pool2d(x, 1, return_indices=True))


def _window_backward_calls(op, x_shape, out_shape, args, bad_kwargs):
    """Calls of a summing pool's backward (lp_pool2d's takes x itself instead of its shape);
    bad_kwargs: keyword arguments the forward refuses."""
    fn = getattr(fastconv, op)
    go, go_int, go_short = ones(*out_shape), ones(*out_shape, dtype=np.int64), ones(*out_shape)[:, :1]  # 1 channel
    lp = op == "lp_pool2d_backward"
    first = ones(*x_shape) if lp else x_shape
    arrays = dict(grad_out=go, go_int=go_int, go_short=go_short, **({"x": first} if lp else {}))
    return OpCalls(op, arrays, good=lambda: fn(go, first, *args), second=lambda: fn(go[0], first[0] if lp else first[1:], *args),
                   second_kind="no batch axis",
                   bad=(BadCall("grad_out int64", lambda: fn(go_int, first, *args), TypeError),
                        BadCall("grad_out of the wrong shape", lambda: fn(go_short, first, *args), ValueError),
                        BadCall(", ".join(bad_kwargs), lambda: fn(go, first, *args, **bad_kwargs), ValueError)))


def avg_pool2d_backward_calls():
    return _window_backward_calls("avg_pool2d_backward", (1, 2, 6, 6), (1, 2, 3, 3), (2,), dict(padding=2))


def sum_pool2d_backward_calls():
    return _window_backward_calls("sum_pool2d_backward", (1, 2, 6, 6), (1, 2, 3, 3), (2,), dict(stride=0))


def avg_pool1d_backward_calls():
    return _window_backward_calls("avg_pool1d_backward", (1, 2, 6), (1, 2, 3), (2,), dict(padding=2))


def sum_pool1d_backward_calls():
    return _window_backward_calls("sum_pool1d_backward", (1, 2, 6), (1, 2, 3), (2,), dict(stride=-1))


def lp_pool2d_backward_calls():
    return _window_backward_calls("lp_pool2d_backward", (1, 2, 6, 6), (1, 2, 3, 3), (2, 2), dict(stride=0))


def adaptive_avg_pool2d_backward_calls():
    return _window_backward_calls("adaptive_avg_pool2d_backward", (1, 2, 6, 6), (1, 2, 3, 3), (),
                                  dict(layout="CHWN"))


def global_avg_pool2d_backward_calls():
    return _window_backward_calls("global_avg_pool2d_backward", (1, 2, 6, 6), (1, 2, 1, 1), (),
                                  dict(layout="HWCN"))


def relu_backward_calls():
    x, go = ones(4096), ones(4096)
    go_int, go_short, go64 = ones(4096, dtype=np.int64), ones(4095), ones(4096, dtype=np.float64)
    return OpCalls("relu_backward", dict(x=x, grad_out=go, go_int=go_int, go_short=go_short, go64=go64),
                   good=lambda: fastconv.relu_backward(go, x),
                   second=lambda: fastconv.relu_backward(go.reshape(64, 64), x.reshape(64, 64)),
                   second_kind="2-D",
                   bad=(BadCall("grad_out int64", lambda: fastconv.relu_backward(go_int, x), TypeError),
                        BadCall("grad_out of the wrong shape", lambda: fastconv.relu_backward(go_short, x),
                                ValueError),
                        BadCall("grad_out float64", lambda: fastconv.relu_backward(go64, x), TypeError)))


MAKERS = (conv2d_calls, conv1d_calls, conv_transpose2d_calls, correlate2d_calls, convolve2d_calls,
          max_pool1d_calls, max_pool2d_calls, avg_pool1d_calls, avg_pool2d_calls, sum_pool1d_calls, sum_pool2d_calls,
          lp_pool2d_calls, adaptive_avg_pool2d_calls, adaptive_max_pool2d_calls, global_avg_pool2d_calls,
          global_max_pool2d_calls, relu_calls,
          blur_pool2d_calls, blur_pool1d_calls, max_blur_pool2d_calls, max_blur_pool1d_calls,
          conv2d_backward_calls, conv1d_backward_calls, conv_transpose2d_backward_calls, max_pool2d_backward_calls,
          max_pool1d_backward_calls, adaptive_max_pool2d_backward_calls, global_max_pool2d_backward_calls,
          avg_pool2d_backward_calls, sum_pool2d_backward_calls, avg_pool1d_backward_calls, sum_pool1d_backward_calls,
          lp_pool2d_backward_calls, adaptive_avg_pool2d_backward_calls, global_avg_pool2d_backward_calls,
          relu_backward_calls, blur_pool2d_backward_calls, blur_pool1d_backward_calls,
          max_blur_pool2d_backward_calls, max_blur_pool1d_backward_calls)


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
