"""Backward passes of the anti-aliased pools: the gradient with respect to the input.

Blur pooling is linear, so its gradient is its transpose applied to grad_out (the filter's
weights spread back over the padded window, each padding position's share added to the input
position it was copied from). Max-blur pooling's gradient runs that into the stride-1 max map,
then through the max's indices, recomputed from x.
"""

from __future__ import annotations

from . import _args, _core, _pool, _pool_backward
from ._blur import BlurGeometry, _nonempty


def _blur_backward(grad_out, x_shape, filter_size, stride, padding_mode, nd, nhwc, what):
    inp = _pool_backward._Input(x_shape, nd, nhwc)
    _nonempty(inp.sizes, tuple(x_shape), "x_shape")
    geometry = BlurGeometry(inp.sizes, filter_size, stride, padding_mode, nd)
    geometry.check_sizes(inp.n, inp.c)
    go = _pool_backward._grad_out(grad_out, inp.output_shape(geometry.outs), what)
    grad = inp.new_grad(go.dtype)
    if grad.size:
        _core.blur_pool2d_backward(inp.as_4d(go, geometry.outs), grad, *geometry.args, nhwc)
    return inp.to_user(grad)


def blur_pool2d_backward(grad_out, x_shape, filter_size=4, stride=2, padding_mode="reflect", *, layout="NCHW"):
    """Gradient of :func:`blur_pool2d` with respect to x.

    Parameters
    ----------
    grad_out : array_like
        The gradient with respect to blur_pool2d's output: exactly its shape, float32 or float64.
    x_shape : tuple of int
        The forward input's shape ((N, C, H, W) or (C, H, W); NHWC with ``layout="NHWC"``).
    filter_size, stride, padding_mode, layout
        As given to :func:`blur_pool2d`.

    Returns
    -------
    ndarray
        x_shape, grad_out's dtype: each input position receives filter weight times grad_out
        for every output whose (padded) window reads it, padding reads included.

    Raises
    ------
    ValueError
        If grad_out does not have the forward output's shape, x_shape has an empty spatial
        dimension, or an argument is out of range (as :func:`blur_pool2d`).
    TypeError
        If grad_out is not float32/float64 or an argument has the wrong type.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.blur_pool2d_backward(np.ones((1, 1, 1, 1)), (1, 1, 2, 2), filter_size=2)[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    return _blur_backward(grad_out, x_shape, filter_size, stride, padding_mode, 2, _args.is_nhwc(layout),
                          "blur_pool2d's output for x_shape")


def blur_pool1d_backward(grad_out, x_shape, filter_size=4, stride=2, padding_mode="reflect"):
    """Gradient of :func:`blur_pool1d` with respect to x (see :func:`blur_pool2d_backward`).

    Parameters
    ----------
    grad_out : array_like
        (N, C, ceil(L / stride)) or (C, ceil(L / stride)), float32 or float64.
    x_shape : tuple of int
        (N, C, L) or (C, L).
    filter_size, stride, padding_mode
        As given to :func:`blur_pool1d`.

    Returns
    -------
    ndarray
        x_shape, grad_out's dtype.

    Raises
    ------
    ValueError, TypeError
        As :func:`blur_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.blur_pool1d_backward(np.array([[1.0, 0.0]]), (1, 4), filter_size=3)
    array([[0.5, 0.5, 0. , 0. ]])
    """
    return _blur_backward(grad_out, x_shape, filter_size, stride, padding_mode, 1, False,
                          "blur_pool1d's output for x_shape")


def _max_blur_backward(grad_out, x, kernel_size, stride, filter_size, padding, padding_mode, nd, layout):
    xa = _args.as_float_array(x, "x")
    _args.same_dtype("grad_out", _args.as_float_array(grad_out, "grad_out"), "x", xa)
    if nd == 2:
        dense, indices = _pool.max_pool2d(xa, kernel_size, 1, padding, return_indices=True, layout=layout)
        grad_dense = blur_pool2d_backward(grad_out, dense.shape, filter_size, stride, padding_mode, layout=layout)
        return _pool_backward.max_pool2d_backward(grad_dense, indices, xa.shape, layout=layout)
    dense, indices = _pool.max_pool1d(xa, kernel_size, 1, padding, return_indices=True)
    grad_dense = blur_pool1d_backward(grad_out, dense.shape, filter_size, stride, padding_mode)
    return _pool_backward.max_pool1d_backward(grad_dense, indices, xa.shape)


def max_blur_pool2d_backward(grad_out, x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect",
                             *, layout="NCHW"):
    """Gradient of :func:`max_blur_pool2d` with respect to x: the blur's transpose into the
    stride-1 max map, then each map position's gradient to the input its max came from (the
    first maximum of its window, as :func:`max_pool2d_backward`).

    Parameters
    ----------
    grad_out : array_like
        The gradient with respect to max_blur_pool2d's output: exactly its shape, x's dtype.
    x : array_like
        The forward input (its max map is recomputed).
    kernel_size, stride, filter_size, padding, padding_mode, layout
        As given to :func:`max_blur_pool2d`.

    Returns
    -------
    ndarray
        x's shape and dtype.

    Raises
    ------
    ValueError, TypeError
        As :func:`max_blur_pool2d`, or if grad_out's shape or dtype does not match its output.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]]])
    >>> fastconv.max_blur_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2, 2, filter_size=2)[0, 0]
    array([[0.  , 0.5 , 0.  ],
           [0.  , 0.25, 0.  ],
           [0.25, 0.  , 0.  ]])
    """
    return _max_blur_backward(grad_out, x, kernel_size, stride, filter_size, padding, padding_mode, 2, layout)


def max_blur_pool1d_backward(grad_out, x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect"):
    """Gradient of :func:`max_blur_pool1d` with respect to x (see :func:`max_blur_pool2d_backward`).

    Parameters
    ----------
    grad_out : array_like
        (N, C, OL) or (C, OL), the forward output's shape, x's dtype.
    x : array_like
        (N, C, L) or (C, L), the forward input.
    kernel_size, stride, filter_size, padding, padding_mode
        As given to :func:`max_blur_pool1d`.

    Returns
    -------
    ndarray
        x's shape and dtype.

    Raises
    ------
    ValueError, TypeError
        As :func:`max_blur_pool2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_blur_pool1d_backward(np.array([[1.0]]), np.array([[0.0, 3.0]]), 2, 2, filter_size=1)
    array([[0., 1.]])
    """
    return _max_blur_backward(grad_out, x, kernel_size, stride, filter_size, padding, padding_mode, 1, "NCHW")
