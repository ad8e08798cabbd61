"""Backward passes of the pools and of relu: the gradient with respect to the input, from the
gradient with respect to the output, as ``torch.autograd`` defines it.

Each takes ``grad_out`` (exactly the forward output's shape, in the forward's layout) and what
the forward needs to recompute its geometry: the input's shape ``x_shape`` (or, for lp_pool2d
and relu, the input itself). The max pools take the int64 indices the forward returned
(``return_indices=True``). Results are new arrays of the input's shape and grad_out's dtype.
"""

from __future__ import annotations

import numpy as np

from . import _args, _common, _core
from ._pool import _AVG, _LP, _SUM, _as_2d, _check_bool, _divisor

_NAMES = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)", "NHWC": "(N, H, W, C) or (H, W, C)"}


class _Input:
    """The forward input's shape as the kernels see it: 4-D (N, C, H, W), or (N, H, W, C) when
    nhwc, with H = 1 for 1-D pools; ``user`` is the shape the caller gave."""

    def __init__(self, x_shape, nd, nhwc):
        if not isinstance(x_shape, (tuple, list)):
            raise TypeError(f"x_shape must be a tuple of ints (the input's shape), got {type(x_shape).__name__}")
        dims = tuple(_args.to_int(d, "x_shape") for d in x_shape)
        names = _NAMES["NHWC" if nhwc else nd]
        if len(dims) not in (nd + 1, nd + 2) or any(d < 0 for d in dims):
            raise ValueError(f"x_shape must be {names} with non-negative sizes, got {tuple(x_shape)!r}")
        self.user, self.nd, self.nhwc = dims, nd, nhwc
        self.unbatched = len(dims) == nd + 1
        batched = (1,) * self.unbatched + dims
        self.shape = batched[:2] + (1,) + batched[2:] if nd == 1 else batched
        self.sizes = self.shape[1:3] if nhwc else self.shape[2:]
        self.n, self.c = (self.shape[0], self.shape[3]) if nhwc else self.shape[:2]

    def output_shape(self, out_sizes):
        """The forward output's shape as the caller sees it, for (OH, OW) (1-D: (1, OL))."""
        shape = (self.n,) + tuple(out_sizes) + (self.c,) if self.nhwc else (self.n, self.c) + tuple(out_sizes)
        if self.nd == 1:
            shape = shape[:2] + shape[3:]
        return shape[1:] if self.unbatched else shape

    def as_4d(self, arr, out_sizes):
        """An array of output_shape(out_sizes) as the kernels' 4-D array."""
        return arr.reshape(self.shape[:1] + ((out_sizes[0], out_sizes[1], self.c) if self.nhwc
                                             else (self.c,) + tuple(out_sizes)))

    def new_grad(self, dtype):
        return _common.new_array(self.shape, dtype)

    def to_user(self, grad):
        return grad.reshape(self.user)


def _grad_out(grad_out, expected, what, dtype=None):
    """grad_out as a kernel-ready float array of exactly ``expected`` (and ``dtype``)."""
    go = _args.as_float_array(grad_out, "grad_out")
    if dtype is not None and go.dtype != dtype:
        raise TypeError(f"grad_out has dtype {go.dtype} but x has dtype {np.dtype(dtype)}; they must match")
    if go.shape != tuple(expected):
        raise ValueError(f"grad_out must have shape {tuple(expected)} ({what}), got {go.shape}")
    return _common.kernel_ready(go)


def _free_out_sizes(grad_out, inp, what):
    """(OH, OW) of a pool whose output size only grad_out knows (max pools from indices,
    adaptive pools): grad_out must have the input's N and C, batchedness and layout."""
    go = _args.as_float_array(grad_out, "grad_out")
    if go.ndim == len(inp.user):
        spatial = go.shape[-3:-1] if inp.nhwc else go.shape[len(inp.user) - inp.nd:]
        sizes = (1,) + tuple(spatial) if inp.nd == 1 else tuple(spatial)
        expected = inp.output_shape(sizes)
    else:
        sizes, expected = None, inp.output_shape(("OL",) if inp.nd == 1 else ("OH", "OW"))
    if go.shape != tuple(expected):
        shape = "(" + ", ".join(map(str, expected)) + ")"
        raise ValueError(f"grad_out must have shape {shape} ({what}), got {go.shape}")
    return _common.kernel_ready(go), sizes


# --------------------------------------------------------------------------- max pools


def _max_backward(grad_out, indices, x_shape, nd, layout, what):
    inp = _Input(x_shape, nd, _args.is_nhwc(layout))
    if 0 in inp.sizes:
        raise ValueError(f"x_shape must have non-empty spatial dimensions for pooling, got {tuple(x_shape)!r}")
    go, sizes = _free_out_sizes(grad_out, inp, what)
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer array (the int64 indices the forward returned), "
                        f"got dtype {idx.dtype}")
    if idx.shape != go.shape:
        raise ValueError(f"indices must have grad_out's shape {go.shape}, got {idx.shape}")
    if idx.dtype.kind == "u" and idx.size and idx.max() > np.iinfo(np.int64).max:
        raise ValueError("indices must be -1 or lie in one input plane")
    idx = _common.kernel_ready(idx.astype(np.int64, copy=False))  # misaligned views are copied
    grad = inp.new_grad(go.dtype)
    _core.max_pool2d_backward(inp.as_4d(go, sizes), inp.as_4d(idx, sizes), grad, inp.nhwc)
    return inp.to_user(grad)


def max_pool2d_backward(grad_out, indices, x_shape, *, layout="NCHW"):
    """Gradient of :func:`max_pool2d` with respect to x, from the indices it returned.

    Parameters
    ----------
    grad_out : array_like, the forward output's shape, (N, C, OH, OW) or (C, OH, OW)
        ((N, OH, OW, C) or (OH, OW, C) for NHWC), float32 or float64.
    indices : array_like of int
        The forward's ``return_indices=True`` indices (h*W + w in each plane), grad_out's shape.
    x_shape : tuple of int
        The forward input's shape.
    layout : "NCHW" or "NHWC"

    Returns
    -------
    ndarray of shape x_shape: each output's gradient added at its index (ties and NaN as the
    forward chose them; -1, a window with no input, adds nothing).

    Raises
    ------
    ValueError
        If the shapes do not fit or an index lies outside [-1, H*W).
    TypeError
        If grad_out is not float32/float64 or indices not integers.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> y, idx = fastconv.max_pool2d(np.arange(16.0).reshape(1, 4, 4), 2, return_indices=True)
    >>> fastconv.max_pool2d_backward(np.ones_like(y), idx, (1, 4, 4))[0]
    array([[0., 0., 0., 0.],
           [0., 1., 0., 1.],
           [0., 0., 0., 0.],
           [0., 1., 0., 1.]])
    """
    return _max_backward(grad_out, indices, x_shape, 2, layout, "max_pool2d's output for x_shape")


def max_pool1d_backward(grad_out, indices, x_shape):
    """Gradient of :func:`max_pool1d` with respect to x (see :func:`max_pool2d_backward`).

    Parameters
    ----------
    grad_out, indices : (N, C, OL) or (C, OL)
    x_shape : (N, C, L) or (C, L)

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`max_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> y, idx = fastconv.max_pool1d(np.array([[1.0, 3.0, 2.0, 0.0]]), 2, return_indices=True)
    >>> fastconv.max_pool1d_backward(np.ones_like(y), idx, (1, 4))
    array([[0., 1., 1., 0.]])
    """
    return _max_backward(grad_out, indices, x_shape, 1, "NCHW", "max_pool1d's output for x_shape")


def adaptive_max_pool2d_backward(grad_out, indices, x_shape, *, layout="NCHW"):
    """Gradient of :func:`adaptive_max_pool2d` with respect to x (see :func:`max_pool2d_backward`).

    Parameters
    ----------
    grad_out, indices : the forward output's shape (any output size)
    x_shape : tuple of int
    layout : "NCHW" or "NHWC"

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`max_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> y, idx = fastconv.adaptive_max_pool2d(np.arange(6.0).reshape(1, 2, 3), 1, return_indices=True)
    >>> fastconv.adaptive_max_pool2d_backward(np.ones_like(y), idx, (1, 2, 3))
    array([[[0., 0., 0.],
            [0., 0., 1.]]])
    """
    return _max_backward(grad_out, indices, x_shape, 2, layout, "adaptive_max_pool2d's output for x_shape")


def global_max_pool2d_backward(grad_out, indices, x_shape, *, layout="NCHW"):
    """Gradient of :func:`global_max_pool2d` with respect to x (see :func:`max_pool2d_backward`).

    Parameters
    ----------
    grad_out, indices : (N, C, 1, 1) or (C, 1, 1) ((N, 1, 1, C) or (1, 1, C) for NHWC)
        indices from ``adaptive_max_pool2d(x, 1, return_indices=True)``.
    x_shape : tuple of int
    layout : "NCHW" or "NHWC"

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`max_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.global_max_pool2d_backward(np.ones((1, 1, 1)), np.array([[[2]]]), (1, 2, 2))
    array([[[0., 0.],
            [1., 0.]]])
    """
    inp = _Input(x_shape, 2, _args.is_nhwc(layout))
    _grad_out(grad_out, inp.output_shape((1, 1)), "global_max_pool2d's output for x_shape")
    return _max_backward(grad_out, indices, x_shape, 2, layout, "global_max_pool2d's output for x_shape")


# --------------------------------------------------------------------------- sum, average and power pools


def _window_backward(grad_out, x, x_shape, kernel_size, stride, padding, ceil_mode, kind, count_include_pad,
                     divisor_override, norm_type, nd, layout, what):
    """Shared body of the summing pools' backwards; x is lp_pool2d's input (else None)."""
    nhwc = _args.is_nhwc(layout)
    xa = None
    if x is not None:
        xa = _common.float_input(x, "x", (nd + 1, nd + 2), _NAMES["NHWC" if nhwc else nd])
        x_shape = xa.shape
    inp = _Input(x_shape, nd, nhwc)
    _check_bool(ceil_mode, "ceil_mode")
    k, s, p, _, outs = _args.pool_geometry_fast(inp.sizes[2 - nd:], kernel_size, stride, padding, 1, ceil_mode, nd)
    k, s, p, _ = _as_2d((k, s, p, (1,) * nd), nd)
    outs = (1,) + outs if nd == 1 else outs
    padded = tuple(size + 2 * q for size, q in zip(inp.sizes, p))
    _args.check_sizes(("padded input", (inp.n, inp.c) + padded), ("output", (inp.n, inp.c) + outs),
                      ("count of window reads", (inp.n, inp.c) + outs + k))
    go = _grad_out(grad_out, inp.output_shape(outs), what, None if xa is None else xa.dtype)
    grad = inp.new_grad(go.dtype)
    x4 = None if xa is None else xa.reshape(inp.shape)
    _core.window_pool2d_backward(inp.as_4d(go, outs), x4, grad, k[0], k[1], s[0], s[1], p[0], p[1], kind,
                                 count_include_pad, divisor_override, norm_type, nhwc)
    return inp.to_user(grad)


def sum_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False, *, layout="NCHW"):
    """Gradient of :func:`sum_pool2d` with respect to x: each output's gradient added to every
    input position of its window (padding takes nothing).

    Parameters
    ----------
    grad_out : array_like, the forward output's shape
    x_shape : tuple of int
        The forward input's shape.
    kernel_size, stride, padding, ceil_mode, layout
        The forward's arguments.

    Returns
    -------
    ndarray of shape x_shape, grad_out's dtype.

    Raises
    ------
    ValueError
        If grad_out is not the forward output's shape, or an argument is invalid for the forward.
    TypeError
        If grad_out is not float32/float64 or an argument has the wrong type.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.sum_pool2d_backward(np.ones((1, 1, 2)), (1, 2, 3), 2, stride=1)
    array([[[1., 2., 1.],
            [1., 2., 1.]]])
    """
    return _window_backward(grad_out, None, x_shape, kernel_size, stride, padding, ceil_mode, _SUM, True, 0, 1.0, 2,
                            layout, "sum_pool2d's output for x_shape and these arguments")


def avg_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, *, layout="NCHW"):
    """Gradient of :func:`avg_pool2d` with respect to x: each output's gradient divided by its
    divisor (divisor_override, or the window with or without padding, as the forward) and
    added to every input position of its window.

    Parameters
    ----------
    grad_out : array_like, the forward output's shape
    x_shape : tuple of int
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        The forward's arguments.

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`sum_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool2d_backward(np.ones((1, 1, 1)), (1, 2, 2), 2)
    array([[[0.25, 0.25],
            [0.25, 0.25]]])
    """
    _check_bool(count_include_pad, "count_include_pad")
    return _window_backward(grad_out, None, x_shape, kernel_size, stride, padding, ceil_mode, _AVG,
                            bool(count_include_pad), _divisor(divisor_override), 1.0, 2, layout,
                            "avg_pool2d's output for x_shape and these arguments")


def sum_pool1d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Gradient of :func:`sum_pool1d` (:func:`sum_pool2d_backward` in one dimension).

    Parameters
    ----------
    grad_out : (N, C, OL) or (C, OL)
    x_shape : (N, C, L) or (C, L)
    kernel_size, stride, padding, ceil_mode
        The forward's arguments.

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`sum_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.sum_pool1d_backward(np.ones((1, 2)), (1, 4), 2)
    array([[1., 1., 1., 1.]])
    """
    return _window_backward(grad_out, None, x_shape, kernel_size, stride, padding, ceil_mode, _SUM, True, 0, 1.0, 1,
                            "NCHW", "sum_pool1d's output for x_shape and these arguments")


def avg_pool1d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of :func:`avg_pool1d` (:func:`avg_pool2d_backward` in one dimension).

    Parameters
    ----------
    grad_out : (N, C, OL) or (C, OL)
    x_shape : (N, C, L) or (C, L)
    kernel_size, stride, padding, ceil_mode, count_include_pad
        The forward's arguments.

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`sum_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool1d_backward(np.ones((1, 2)), (1, 4), 2)
    array([[0.5, 0.5, 0.5, 0.5]])
    """
    _check_bool(count_include_pad, "count_include_pad")
    return _window_backward(grad_out, None, x_shape, kernel_size, stride, padding, ceil_mode, _AVG,
                            bool(count_include_pad), 0, 1.0, 1, "NCHW",
                            "avg_pool1d's output for x_shape and these arguments")


def lp_pool2d_backward(grad_out, x, norm_type, kernel_size, stride=None, ceil_mode=False, *, layout="NCHW"):
    """Gradient of :func:`lp_pool2d` with respect to x (needs x itself).

    With p = norm_type the forward is out = (kh*kw * a) ** (1/p), a = the window average of
    x**p; the gradient is PyTorch's chain rule through exactly these steps: a window with
    a == 0 passes nothing, and x == 0 with p < 1 gets inf times its gradient (NaN when that
    is 0), as in PyTorch.

    Parameters
    ----------
    grad_out : array_like, the forward output's shape, x's dtype
    x : array_like, the forward input
    norm_type, kernel_size, stride, ceil_mode, layout
        The forward's arguments.

    Returns
    -------
    ndarray of x's shape and dtype.

    Raises
    ------
    ValueError, TypeError
        As :func:`sum_pool2d_backward`; norm_type must be a finite positive number.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.lp_pool2d_backward(np.ones((1, 1, 1)), np.array([[[3.0, 4.0]]]), 2, (1, 2))
    array([[[0.6, 0.8]]])
    """
    p = _args.real_scalar(norm_type, "norm_type")
    if not (np.isfinite(p) and p > 0):
        raise ValueError(f"norm_type must be a finite positive number, got {norm_type!r}")
    if x is None:
        raise TypeError("x must be the forward's input array, got None")
    return _window_backward(grad_out, x, None, kernel_size, stride, 0, ceil_mode, _LP, True, 0, float(p), 2, layout,
                            "the lp_pool2d output for x and these arguments")


# --------------------------------------------------------------------------- adaptive and global average pools


def adaptive_avg_pool2d_backward(grad_out, x_shape, *, layout="NCHW"):
    """Gradient of :func:`adaptive_avg_pool2d` with respect to x; the output size is
    grad_out's. Cell (oy, ox) averages rows floor(oy*H/OH) .. ceil((oy+1)*H/OH) - 1 (and
    likewise columns): its gradient, divided by its size, goes to each of them.

    Parameters
    ----------
    grad_out : array_like, (N, C, OH, OW) or (C, OH, OW) ((N, OH, OW, C) or (OH, OW, C) for NHWC)
    x_shape : tuple of int
    layout : "NCHW" or "NHWC"

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`sum_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool2d_backward(np.ones((1, 1, 1)), (1, 2, 2))
    array([[[0.25, 0.25],
            [0.25, 0.25]]])
    """
    inp = _Input(x_shape, 2, _args.is_nhwc(layout))
    if 0 in inp.sizes:  # as the forward
        raise ValueError(f"x_shape must have non-empty spatial dimensions for pooling, got {tuple(x_shape)!r}")
    go, sizes = _free_out_sizes(grad_out, inp, "adaptive_avg_pool2d's output for x_shape")
    _args.adaptive_output_size(sizes, inp.sizes, 2)  # sizes the forward can produce: positive
    grad = inp.new_grad(go.dtype)
    _core.adaptive_avg_pool2d_backward(inp.as_4d(go, sizes), grad, inp.nhwc)
    return inp.to_user(grad)


def global_avg_pool2d_backward(grad_out, x_shape, *, layout="NCHW"):
    """Gradient of :func:`global_avg_pool2d` with respect to x: grad_out divided by H*W at
    every position.

    Parameters
    ----------
    grad_out : array_like, (N, C, 1, 1) or (C, 1, 1) ((N, 1, 1, C) or (1, 1, C) for NHWC)
    x_shape : tuple of int
    layout : "NCHW" or "NHWC"

    Returns
    -------
    ndarray of shape x_shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`sum_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.global_avg_pool2d_backward(np.full((1, 1, 1), 4.0), (1, 2, 2))
    array([[[1., 1.],
            [1., 1.]]])
    """
    inp = _Input(x_shape, 2, _args.is_nhwc(layout))
    _grad_out(grad_out, inp.output_shape((1, 1)), "global_avg_pool2d's output for x_shape")
    return adaptive_avg_pool2d_backward(grad_out, x_shape, layout=layout)


# --------------------------------------------------------------------------- activation


def relu_backward(grad_out, x):
    """Gradient of :func:`relu` with respect to x, any shape: grad_out where x > 0, else 0
    (also at x == 0, as PyTorch); where x is NaN, grad_out passes (PyTorch masks where
    relu(x) <= 0).

    Parameters
    ----------
    grad_out : array_like, x's shape and dtype
    x : array_like, the forward input (float32 or float64)

    Returns
    -------
    ndarray of x's shape and dtype.

    Raises
    ------
    ValueError
        If the shapes differ.
    TypeError
        If an array is not float32/float64 or the dtypes differ.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.relu_backward(np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 3.])
    """
    xa = _common.kernel_ready(_args.as_float_array(x, "x"))
    go = _grad_out(grad_out, xa.shape, "x's shape", xa.dtype)
    result = _common.new_array(xa.shape, xa.dtype)
    _core.relu_backward(go, xa, result)
    return result
