"""Pooling: max / avg / sum / lp windows, adaptive and global pools, in 1-D and 2-D."""

from __future__ import annotations

import math

import numpy as np

from . import _args, _common, _core

_SUM, _AVG, _LP = 0, 1, 2


def _pool_input(x, nd, nhwc=False):
    """4-D input with a batch axis (and H = 1 for 1-D pools), whether one was added, and the
    spatial sizes: (N, C, H, W), or (N, H, W, C) with nhwc."""
    names = "(N, C, L) or (C, L)" if nd == 1 else "(N, H, W, C) or (H, W, C)" if nhwc else "(N, C, H, W) or (C, H, W)"
    xa = _common.float_input(x, "x", (nd + 1, nd + 2), names)
    xb, added = _common.add_batch(xa, nd + 2)
    if nd == 1:
        xb = xb[:, :, None]
    return xb, added, (xb.shape[1:3] if nhwc else xb.shape[4 - nd:])


def _pool_output_shape(xb, outs, nd, nhwc):
    if nhwc:
        return (xb.shape[0],) + outs + (xb.shape[3],)
    return xb.shape[:2] + ((1,) if nd == 1 else ()) + outs


def _check_pool_sizes(xb, pad, outs, reads, nhwc):
    """The size formulas of a pool of xb (4-D) padded by pad (per spatial dim) into outs, its
    windows reading the product of ``reads`` positions in all per plane, bounded
    (_args.check_sizes)."""
    (n, c), sizes = ((xb.shape[0], xb.shape[3]), xb.shape[1:3]) if nhwc else (xb.shape[:2], xb.shape[2:])
    padded = tuple(size + 2 * p for size, p in zip(sizes, pad))
    _args.check_sizes(("padded input", (n, c) + padded), ("output", (n, c) + outs),
                      ("count of window reads", (n, c) + tuple(reads)))


def _as_2d(geometry, nd):
    """Pool geometry tuples for a 1-D pool run as 2-D with H = 1."""
    return tuple(((1,) if name != "pad" else (0,)) + t for name, t in zip(("k", "s", "pad", "d"), geometry)) \
        if nd == 1 else geometry


def _finish(result, added, nd):
    """Drop the H=1 axis of a 1-D pool and the batch axis of unbatched input."""
    if nd == 1:
        result = tuple(r[:, :, 0] for r in result) if isinstance(result, tuple) else result[:, :, 0]
    return _common.drop_batch(result, added)


_max_pool2d_plans = _common.PlanCache()


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, nhwc=False, plan_key=None):
    xb, added, sizes = _pool_input(x, nd, nhwc)
    k, s, p, d, outs = _args.pool_geometry_fast(sizes, kernel_size, stride, padding, dilation, ceil_mode, nd)
    k, s, p, d = _as_2d((k, s, p, d), nd)
    _check_pool_sizes(xb, p, outs, outs + k, nhwc)
    shape = _pool_output_shape(xb, outs, nd, nhwc)
    out = _common.new_array(shape, xb.dtype)
    idx = _common.new_array(shape, np.int64) if return_indices else None
    scalars = (k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], nhwc)
    _core.max_pool2d(xb, out, idx, *scalars)
    if xb is x and not return_indices:
        _max_pool2d_plans.remember(plan_key, (shape, scalars, _common.allocator(shape, xb.dtype)))
    return _finish((out, idx) if return_indices else out, added, nd)


def _window_pool(x, kernel_size, stride, padding, ceil_mode, kind, count_include_pad, divisor_override, norm_type,
                 nd, nhwc=False):
    xb, added, sizes = _pool_input(x, nd, nhwc)
    k, s, p, _, outs = _args.pool_geometry_fast(sizes, kernel_size, stride, padding, 1, ceil_mode, nd)
    k, s, p, _ = _as_2d((k, s, p, (1,) * nd), nd)
    _check_pool_sizes(xb, p, outs, outs + k, nhwc)
    out = _common.new_array(_pool_output_shape(xb, outs, nd, nhwc), xb.dtype)
    _core.window_pool2d(xb, out, k[0], k[1], s[0], s[1], p[0], p[1], kind, bool(count_include_pad),
                        divisor_override, norm_type, nhwc)
    return _finish(out, added, nd)


def _divisor(divisor_override):
    if divisor_override is None:
        return 0
    d = _args.to_int(divisor_override, "divisor_override")
    if d <= 0:
        raise ValueError(f"divisor_override must be a positive int, got {divisor_override!r}")
    return d


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, *,
               layout="NCHW"):
    """2-D max pooling of NCHW data (PyTorch semantics: implicit -inf padding, NaN propagates).

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    kernel_size, stride, padding, dilation : int or (int, int); stride defaults to kernel_size
        padding is at most half of kernel_size (as PyTorch).
    ceil_mode : bool
        Round the output size up; a last window that would start in the right padding is dropped.
    return_indices : bool
        Also return int64 flat indices (h*W + w within each plane) of the maxima.
    layout : "NCHW" or "NHWC"
        With "NHWC", x is (N, H, W, C) or (H, W, C) and so are the outputs (channels-last
        kernels, no transposes).

    Returns
    -------
    ndarray, or a tuple (values, indices) with return_indices
        (N, C, OH, OW) of x's dtype ((C, OH, OW) for 3-D x, (N, OH, OW, C) for NHWC), and the
        indices if asked (int64, of the same shape), with
        OH = floor_or_ceil((H + 2*padding - dilation*(kh-1) - 1) / stride) + 1.

    Raises
    ------
    TypeError
        If x is not float32/float64, kernel_size, stride, padding or dilation is not an int (or a
        tuple of ints), or ceil_mode or return_indices is not a bool.
    ValueError
        If x is not (N, C, H, W) or (C, H, W) (NHWC: (N, H, W, C) or (H, W, C)) or has an empty
        spatial axis; kernel_size, stride or dilation is not positive, padding is negative or more
        than half of kernel_size, or a tuple has the wrong length; the dilated window is larger
        than the padded input; or layout is not "NCHW" or "NHWC".
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_pool2d(np.arange(16.0).reshape(1, 4, 4), 2)
    array([[[ 5.,  7.],
            [13., 15.]]])
    """
    key = None
    if (return_indices is False and type(x) is np.ndarray and type(kernel_size) is int
            and (stride is None or type(stride) is int) and type(padding) is int and type(dilation) is int
            and type(ceil_mode) is bool):
        key = (x.shape, x.dtype, kernel_size, stride, padding, dilation, ceil_mode, layout)
        plan = _max_pool2d_plans.get(key)
        flags = x.flags  # _common.is_kernel_ready, inline: this path is the call overhead
        if plan is not None and flags.c_contiguous and flags.aligned:
            out = plan[2](plan[0], x.dtype)
            _core.max_pool2d(x, out, None, *plan[1])
            return out
    _check_bool(return_indices, "return_indices")
    return _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, _args.is_nhwc(layout),
                     key)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, layout="NCHW"):
    """2-D average pooling of NCHW data (PyTorch semantics).

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding : int or (int, int); stride defaults to kernel_size
    ceil_mode : bool
    count_include_pad : bool
        Divide by the window size including zero padding (clipped to the padded input) or
        only by the number of input pixels in the window.
    divisor_override : int, optional
        Divide every window sum by this instead.
    layout : "NCHW" or "NHWC" (see :func:`max_pool2d`)

    Returns
    -------
    ndarray (N, C, OH, OW), OH = floor_or_ceil((H + 2*padding - kh) / stride) + 1.
        Of x's dtype; (C, OH, OW) for 3-D x, (N, OH, OW, C) for NHWC.

    Raises
    ------
    TypeError
        If x is not float32/float64, kernel_size, stride, padding or divisor_override is not an int
        (or a tuple of ints), or ceil_mode or count_include_pad is not a bool.
    ValueError
        If x is not (N, C, H, W) or (C, H, W) (NHWC: (N, H, W, C) or (H, W, C)) or has an empty
        spatial axis; kernel_size, stride or divisor_override is not positive, padding is negative
        or more than half of kernel_size, or a tuple has the wrong length; the window is larger than
        the padded input; or layout is not "NCHW" or "NHWC".
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool2d(np.arange(16.0).reshape(1, 4, 4), 2)
    array([[[ 2.5,  4.5],
            [10.5, 12.5]]])
    """
    _check_bool(count_include_pad, "count_include_pad")
    return _window_pool(x, kernel_size, stride, padding, ceil_mode, _AVG, count_include_pad,
                        _divisor(divisor_override), 0.0, 2, _args.is_nhwc(layout))


def sum_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, *, layout="NCHW"):
    """2-D sum pooling: the sum over each window (zero padding). Sizes and layout as :func:`avg_pool2d`.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    kernel_size, stride, padding : int or (int, int); stride defaults to kernel_size
        padding is at most half of kernel_size (as PyTorch).
    ceil_mode : bool
        Round the output size up, as in :func:`max_pool2d`.
    layout : "NCHW" or "NHWC" (see :func:`max_pool2d`)

    Returns
    -------
    ndarray (N, C, OH, OW), OH = floor_or_ceil((H + 2*padding - kh) / stride) + 1.
        Of x's dtype; (C, OH, OW) for 3-D x, (N, OH, OW, C) for NHWC.

    Raises
    ------
    TypeError
        If x is not float32/float64, kernel_size, stride or padding is not an int (or a tuple of
        ints), or ceil_mode is not a bool.
    ValueError
        If x is not (N, C, H, W) or (C, H, W) (NHWC: (N, H, W, C) or (H, W, C)) or has an empty
        spatial axis; kernel_size or stride is not positive, padding is negative or more than half
        of kernel_size, or a tuple has the wrong length; the window is larger than the padded input;
        or layout is not "NCHW" or "NHWC".
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.sum_pool2d(np.arange(16.0).reshape(1, 4, 4), 2)
    array([[[10., 18.],
            [42., 50.]]])
    """
    return _window_pool(x, kernel_size, stride, padding, ceil_mode, _SUM, False, 0, 0.0, 2, _args.is_nhwc(layout))


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, *, layout="NCHW"):
    """2-D power-average pooling, PyTorch's ``lp_pool2d``: (sum over the window of x**p) ** (1/p).

    In ceil_mode, windows cut by the input's edge are scaled by kh*kw / (window size), as PyTorch does.
    Sizes and layout as :func:`avg_pool2d` with padding 0.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    norm_type : float
        The power p: a finite positive real number.
    kernel_size, stride : int or (int, int); stride defaults to kernel_size
    ceil_mode : bool
        Round the output size up, as in :func:`max_pool2d`.
    layout : "NCHW" or "NHWC" (see :func:`max_pool2d`)

    Returns
    -------
    ndarray (N, C, OH, OW), OH = floor_or_ceil((H - kh) / stride) + 1.
        Of x's dtype; (C, OH, OW) for 3-D x, (N, OH, OW, C) for NHWC.

    Raises
    ------
    TypeError
        If norm_type is not a real number (a bool is refused), x is not float32/float64,
        kernel_size or stride is not an int (or a tuple of ints), or ceil_mode is not a bool.
    ValueError
        If norm_type is not finite and positive; x is not (N, C, H, W) or (C, H, W) (NHWC:
        (N, H, W, C) or (H, W, C)) or has an empty spatial axis; kernel_size or stride is not
        positive or a tuple has the wrong length; the window is larger than the input; or layout is
        not "NCHW" or "NHWC".
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.lp_pool2d(np.full((1, 2, 2), 3.0), 2, 2)
    array([[[6.]]])
    """
    p = _args.real_scalar(norm_type, "norm_type")
    if not (math.isfinite(p) and p > 0):
        raise ValueError(f"norm_type must be a finite positive number, got {norm_type!r}")
    return _window_pool(x, kernel_size, stride, 0, ceil_mode, _LP, True, 0, p, 2, _args.is_nhwc(layout))


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling of (N, C, L) data; options and sizes as :func:`max_pool2d`, indices along L.

    Parameters
    ----------
    x : array_like, (N, C, L) or (C, L), float32 or float64
    kernel_size, stride, padding, dilation : int or (int,); stride defaults to kernel_size
        padding is at most half of kernel_size (as PyTorch).
    ceil_mode : bool
        Round the output size up, as in :func:`max_pool2d`.
    return_indices : bool
        Also return the int64 indices (along L) of the maxima.

    Returns
    -------
    ndarray, or a tuple (values, indices) with return_indices
        (N, C, OL) of x's dtype ((C, OL) for 2-D x), and the indices if asked (int64, of the same
        shape), with OL = floor_or_ceil((L + 2*padding - dilation*(k-1) - 1) / stride) + 1.

    Raises
    ------
    TypeError
        If x is not float32/float64, kernel_size, stride, padding or dilation is not an int (or a
        1-tuple of one), or ceil_mode or return_indices is not a bool.
    ValueError
        If x is not (N, C, L) or (C, L) or has L = 0; kernel_size, stride or dilation is not
        positive, padding is negative or more than half of kernel_size, or a tuple is not of
        length 1; or the dilated window is larger than the padded input.
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_pool1d(np.array([[1.0, 3.0, 2.0, 0.0]]), 2)
    array([[3., 2.]])
    """
    _check_bool(return_indices, "return_indices")
    return _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling of (N, C, L) data; options and sizes as :func:`avg_pool2d`.

    Parameters
    ----------
    x : array_like, (N, C, L) or (C, L), float32 or float64
    kernel_size, stride, padding : int or (int,); stride defaults to kernel_size
        padding is at most half of kernel_size (as PyTorch).
    ceil_mode : bool
        Round the output size up, as in :func:`max_pool2d`.
    count_include_pad : bool
        Divide by the window size including zero padding (clipped to the padded input) or
        only by the number of input samples in the window.

    Returns
    -------
    ndarray (N, C, OL), OL = floor_or_ceil((L + 2*padding - k) / stride) + 1.
        Of x's dtype; (C, OL) for 2-D x.

    Raises
    ------
    TypeError
        If x is not float32/float64, kernel_size, stride or padding is not an int (or a 1-tuple of
        one), or ceil_mode or count_include_pad is not a bool.
    ValueError
        If x is not (N, C, L) or (C, L) or has L = 0; kernel_size or stride is not positive,
        padding is negative or more than half of kernel_size, or a tuple is not of length 1; or the
        window is larger than the padded input.
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool1d(np.array([[1.0, 3.0, 2.0, 0.0]]), 2)
    array([[2., 1.]])
    """
    _check_bool(count_include_pad, "count_include_pad")
    return _window_pool(x, kernel_size, stride, padding, ceil_mode, _AVG, count_include_pad, 0, 0.0, 1)


def sum_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """1-D sum pooling of (N, C, L) data; sizes as :func:`avg_pool1d`.

    Parameters
    ----------
    x : array_like, (N, C, L) or (C, L), float32 or float64
    kernel_size, stride, padding : int or (int,); stride defaults to kernel_size
        padding (zeros) is at most half of kernel_size (as PyTorch).
    ceil_mode : bool
        Round the output size up, as in :func:`max_pool2d`.

    Returns
    -------
    ndarray (N, C, OL), OL = floor_or_ceil((L + 2*padding - k) / stride) + 1.
        Of x's dtype; (C, OL) for 2-D x.

    Raises
    ------
    TypeError
        If x is not float32/float64, kernel_size, stride or padding is not an int (or a 1-tuple of
        one), or ceil_mode is not a bool.
    ValueError
        If x is not (N, C, L) or (C, L) or has L = 0; kernel_size or stride is not positive,
        padding is negative or more than half of kernel_size, or a tuple is not of length 1; or the
        window is larger than the padded input.
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.sum_pool1d(np.array([[1.0, 3.0, 2.0, 0.0]]), 2)
    array([[4., 2.]])
    """
    return _window_pool(x, kernel_size, stride, padding, ceil_mode, _SUM, False, 0, 0.0, 1)


def _adaptive(x, output_size, is_max, return_indices, layout):
    nhwc = _args.is_nhwc(layout)
    xb, added, sizes = _pool_input(x, 2, nhwc)
    outs = _args.adaptive_output_size(output_size, sizes, 2)
    if 0 in sizes:
        raise ValueError(f"x must have non-empty spatial dimensions for adaptive pooling, got {xb.shape}")
    # a window spans at most in/out + 1 rows (columns): all of a row's windows, in + out
    _check_pool_sizes(xb, (0, 0), outs, tuple(i + o for i, o in zip(sizes, outs)), nhwc)
    out = _common.new_array(_pool_output_shape(xb, outs, 2, nhwc), xb.dtype)
    idx = _common.new_array(out.shape, np.int64) if return_indices else None
    _core.adaptive_pool2d(xb, out, idx, is_max, nhwc)
    return _common.drop_batch((out, idx) if return_indices else out, added)


def adaptive_avg_pool2d(x, output_size, *, layout="NCHW"):
    """Average pooling to a fixed output size (PyTorch semantics).

    Output cell i covers input rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 (likewise columns).

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None); None keeps that input size
    layout : "NCHW" or "NHWC" (see :func:`max_pool2d`)

    Returns
    -------
    ndarray (N, C, OH, OW)
        Of x's dtype; (C, OH, OW) for 3-D x, (N, OH, OW, C) for NHWC.

    Raises
    ------
    TypeError
        If x is not float32/float64, or output_size is not an int (or a pair of ints or None).
    ValueError
        If x is not (N, C, H, W) or (C, H, W) (NHWC: (N, H, W, C) or (H, W, C)) or has an empty
        spatial axis; output_size is not positive or is a tuple not of length 2; or layout is
        not "NCHW" or "NHWC".
    OverflowError
        If a size the kernels compute from the shapes reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool2d(np.arange(9.0).reshape(1, 3, 3), 2)
    array([[[2., 3.],
            [5., 6.]]])
    """
    return _adaptive(x, output_size, False, False, layout)


def adaptive_max_pool2d(x, output_size, return_indices=False, *, layout="NCHW"):
    """Max pooling to a fixed output size; windows and layout as :func:`adaptive_avg_pool2d`.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    output_size : int or (int or None, int or None); None keeps that input size
    return_indices : bool
        Also return int64 flat indices (h*W + w within each plane) of the maxima.
    layout : "NCHW" or "NHWC" (see :func:`max_pool2d`)

    Returns
    -------
    ndarray (N, C, OH, OW), and the indices if asked
        Of x's dtype; (C, OH, OW) for 3-D x, (N, OH, OW, C) for NHWC. With return_indices, a tuple
        (values, indices), the indices int64 of the same shape.

    Raises
    ------
    TypeError
        If x is not float32/float64, output_size is not an int (or a pair of ints or None), or
        return_indices is not a bool.
    ValueError
        If x is not (N, C, H, W) or (C, H, W) (NHWC: (N, H, W, C) or (H, W, C)) or has an empty
        spatial axis; output_size is not positive or is a tuple not of length 2; or layout is
        not "NCHW" or "NHWC".
    OverflowError
        If a size the kernels compute from the shapes reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_max_pool2d(np.arange(9.0).reshape(1, 3, 3), 2)
    array([[[4., 5.],
            [7., 8.]]])
    """
    _check_bool(return_indices, "return_indices")
    return _adaptive(x, output_size, True, return_indices, layout)


def global_avg_pool2d(x, *, layout="NCHW"):
    """Mean over each whole (H, W) plane: (N, C, H, W) -> (N, C, 1, 1) (NHWC: -> (N, 1, 1, C)).

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    layout : "NCHW" or "NHWC" (see :func:`max_pool2d`)

    Returns
    -------
    ndarray (N, C, 1, 1)
        Of x's dtype; (C, 1, 1) for 3-D x, (N, 1, 1, C) for NHWC.

    Raises
    ------
    TypeError
        If x is not float32/float64.
    ValueError
        If x is not (N, C, H, W) or (C, H, W) (NHWC: (N, H, W, C) or (H, W, C)) or has an empty
        spatial axis, or layout is not "NCHW" or "NHWC".
    OverflowError
        If a size the kernels compute from the shapes reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.global_avg_pool2d(np.arange(8.0).reshape(2, 2, 2))[:, 0, 0]
    array([1.5, 5.5])
    """
    return _adaptive(x, 1, False, False, layout)


def global_max_pool2d(x, *, layout="NCHW"):
    """Max over each whole (H, W) plane: (N, C, H, W) -> (N, C, 1, 1) (NHWC: -> (N, 1, 1, C)).

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64
    layout : "NCHW" or "NHWC" (see :func:`max_pool2d`)

    Returns
    -------
    ndarray (N, C, 1, 1)
        Of x's dtype; (C, 1, 1) for 3-D x, (N, 1, 1, C) for NHWC.

    Raises
    ------
    TypeError
        If x is not float32/float64.
    ValueError
        If x is not (N, C, H, W) or (C, H, W) (NHWC: (N, H, W, C) or (H, W, C)) or has an empty
        spatial axis, or layout is not "NCHW" or "NHWC".
    OverflowError
        If a size the kernels compute from the shapes reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.global_max_pool2d(np.arange(8.0).reshape(2, 2, 2))[:, 0, 0]
    array([3., 7.])
    """
    return _adaptive(x, 1, True, False, layout)
