"""Plain NumPy anti-aliased ("blur") pools, re-exported by ``fastconv.reference``: the oracle
for the compiled blur kernels.

Striding and strided pooling subsample without a low-pass filter, so a one-pixel shift of the
input can change the output far more than a shift of the output would (aliasing). Blur
pooling (R. Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019) filters
each channel with a normalised binomial filter before subsampling; max-blur pooling takes the
max at stride 1 first. Written from the mathematics, for clarity: each output is the
separable weighted sum of its padded window, in float64.
"""

from __future__ import annotations

import numpy as np

from . import _args
from ._blur_filter import binomial_filter, blur_padding
from ._blur_filter import check_filter_size as _check_filter_size
from ._reference_backward import (_batched_nchw, _grad_out, _to_caller, _user_shape, _x_shape, max_pool1d_backward,
                                  max_pool2d_backward)
from .reference import (_NP_PAD_MODES, _float_input, _from_1d_output, _pad_spatial, _to_1d_input, _unbatch,
                        _with_layout, max_pool1d, max_pool2d)

__all__ = ["binomial_filter", "blur_padding", "blur_pool2d", "blur_pool1d", "max_blur_pool2d", "max_blur_pool1d",
           "blur_pool2d_backward", "blur_pool1d_backward", "max_blur_pool2d_backward", "max_blur_pool1d_backward"]


def _blur_axis(xp, weights, axis, out_size, stride):
    """sum_i weights[i] * xp[..., i + o*stride, ...] along ``axis`` for o < out_size."""
    total = 0.0
    for i, weight in enumerate(weights):
        index = [slice(None)] * xp.ndim
        index[axis] = slice(i, i + (out_size - 1) * stride + 1, stride)
        total = total + weight * xp[tuple(index)]
    return total


def _blur_nchw(xb, filter_sizes, stride, padding_mode):
    """Blur-subsample a batched NCHW float array: one binomial filter size and one stride per
    spatial axis (a 1-D blur is a 2-D one with a one-tap filter across its single row)."""
    if 0 in xb.shape[2:]:
        raise ValueError(f"x must have non-empty spatial dimensions for blur pooling, got shape {xb.shape}")
    mode = _args.choice(padding_mode, "padding_mode", _args.PADDING_MODES)
    pads = [blur_padding(k) for k in filter_sizes]
    padded = _pad_spatial(xb.astype(np.float64), pads, _NP_PAD_MODES[mode])
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, as in the kernels
        for axis, k, s in zip((2, 3), filter_sizes, stride):
            padded = _blur_axis(padded, binomial_filter(k), axis, (xb.shape[axis] - 1) // s + 1, s)
    return padded.astype(xb.dtype)


def blur_pool2d(x, filter_size=4, stride=2, padding_mode="reflect"):
    """Anti-aliased subsampling: each channel blurred with the outer product of
    ``binomial_filter(filter_size)`` with itself, then every ``stride``-th pixel kept.

    x: (N, C, H, W) or (C, H, W), float32 or float64 -> (N, C, OH, OW) with
    OH = ceil(H / sh), OW = ceil(W / sw). The input is padded by ``blur_padding(filter_size)``
    on each axis with ``padding_mode`` ("reflect", "replicate", "zeros" or "circular", by
    np.pad's rules); output (oy, ox) is the filter's weighted sum of padded rows
    oy*sh .. oy*sh + k - 1 and columns ox*sw .. ox*sw + k - 1.
    """
    xb, unbatched = _float_input(x, "x", 2)
    k = _check_filter_size(filter_size)
    return _unbatch(_blur_nchw(xb, (k, k), _args.positive_tuple(stride, 2, "stride"), padding_mode), unbatched)


def blur_pool1d(x, filter_size=4, stride=2, padding_mode="reflect"):
    """blur_pool2d along L only: x (N, C, L) or (C, L) -> (N, C, ceil(L / stride))."""
    xb, unbatched = _to_1d_input(x, "x")
    k = _check_filter_size(filter_size)
    (s,) = _args.positive_tuple(stride, 1, "stride")
    return _from_1d_output(_blur_nchw(xb, (1, k), (1, s), padding_mode), unbatched)


def max_blur_pool2d(x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect"):
    """Zhang's anti-aliased max pooling: ``max_pool2d(x, kernel_size, stride=1, padding)``
    (max over each window, NaN propagating, padding never chosen) followed by
    ``blur_pool2d(..., filter_size, stride, padding_mode)``.

    x: (N, C, H, W) or (C, H, W) -> (N, C, ceil(MH / sh), ceil(MW / sw)) with
    MH = H + 2*ph - kh + 1 the dense max map's height (likewise MW).
    """
    dense = max_pool2d(x, kernel_size, 1, padding)
    return blur_pool2d(dense, filter_size, stride, padding_mode)


def max_blur_pool1d(x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect"):
    """max_blur_pool2d along L only: x (N, C, L) or (C, L)."""
    return blur_pool1d(max_pool1d(x, kernel_size, 1, padding), filter_size, stride, padding_mode)


blur_pool2d = _with_layout(blur_pool2d)
max_blur_pool2d = _with_layout(max_blur_pool2d)


# --------------------------------------------------------------------------- backward


def blur_matrix(size, filter_size, stride, padding_mode):
    """The (ceil(size / stride), size) matrix A of a blur-subsample along one axis, y = A @ x:
    A[o, source(o*stride + i)] += binomial_filter(filter_size)[i], where source maps a padded
    position to the input position np.pad copies there (no entry for zero padding)."""
    mode = _args.choice(padding_mode, "padding_mode", _args.PADDING_MODES)
    options = {"constant_values": -1} if mode == "zeros" else {}
    source = np.pad(np.arange(size), blur_padding(filter_size), mode=_NP_PAD_MODES[mode], **options)
    taps = binomial_filter(filter_size)
    a = np.zeros(((size - 1) // stride + 1, size))
    for o in range(a.shape[0]):
        for i, weight in enumerate(taps):
            if source[o * stride + i] >= 0:
                a[o, source[o * stride + i]] += weight
    return a


def _transposed_along(a, g, axis):
    """A^T applied along ``axis`` of g: out[..., x, ...] = sum over o of a[o, x] * g[..., o, ...],
    over the nonzero entries of a only (a structural zero times an inf would make a NaN)."""
    out = np.zeros(g.shape[:axis] + (a.shape[1],) + g.shape[axis + 1:])
    with np.errstate(invalid="ignore", over="ignore"):
        for o, x in zip(*np.nonzero(a)):
            index = [slice(None)] * g.ndim
            index[axis] = x
            source = list(index)
            source[axis] = o
            out[tuple(index)] += a[o, x] * g[tuple(source)]
    return out


def _blur_backward(grad_out, x_shape, filter_sizes, strides, padding_mode, n_spatial, nhwc, what):
    """x's gradient A_h^T @ grad_out @ A_w for a batched NCHW-shaped x_shape (1-D: A_h = [[1]])."""
    shape, unbatched = _x_shape(x_shape, n_spatial, nhwc)
    sizes = (1,) + shape[2:] if n_spatial == 1 else shape[2:]
    if 0 in sizes:
        raise ValueError(f"x_shape must have non-empty spatial dimensions for blur pooling, got {tuple(x_shape)!r}")
    a_h, a_w = (blur_matrix(n, k, s, padding_mode) for n, k, s in zip(sizes, filter_sizes, strides))
    out_shape = shape[:2] + ((a_w.shape[0],) if n_spatial == 1 else (a_h.shape[0], a_w.shape[0]))
    grad_out = _grad_out(grad_out, _user_shape(out_shape, unbatched, nhwc), what=what)
    g = _batched_nchw(grad_out, unbatched, nhwc).astype(np.float64).reshape(shape[:2] + (a_h.shape[0], a_w.shape[0]))
    grad = _transposed_along(a_w, _transposed_along(a_h, g, 2), 3).reshape(shape)
    return _to_caller(grad, unbatched, nhwc, grad_out.dtype)


def blur_pool2d_backward(grad_out, x_shape, filter_size=4, stride=2, padding_mode="reflect", *, layout="NCHW"):
    """Gradient of ``blur_pool2d`` with respect to x: the blur is linear, y = A_h x A_w^T per
    plane (``blur_matrix``), so the gradient is A_h^T grad_out A_w.  grad_out: the output's shape."""
    k = _check_filter_size(filter_size)
    return _blur_backward(grad_out, x_shape, (k, k), _args.positive_tuple(stride, 2, "stride"), padding_mode, 2,
                          _args.is_nhwc(layout), "blur_pool2d's output for x_shape")


def blur_pool1d_backward(grad_out, x_shape, filter_size=4, stride=2, padding_mode="reflect"):
    """blur_pool2d_backward along L only: grad_out (N, C, ceil(L / stride)), x_shape (N, C, L)."""
    k = _check_filter_size(filter_size)
    (s,) = _args.positive_tuple(stride, 1, "stride")
    return _blur_backward(grad_out, x_shape, (1, k), (1, s), padding_mode, 1, False, "blur_pool1d's output for x_shape")


def max_blur_pool2d_backward(grad_out, x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect",
                             *, layout="NCHW"):
    """Gradient of ``max_blur_pool2d``: blur_pool2d_backward into the stride-1 max map, then
    max_pool2d_backward through that map's indices (the first maximum of each window)."""
    x = _args.as_float_array(x, "x")
    _args.same_dtype("grad_out", _args.as_float_array(grad_out, "grad_out"), "x", x)
    dense, indices = max_pool2d(x, kernel_size, 1, padding, return_indices=True, layout=layout)
    grad_dense = blur_pool2d_backward(grad_out, dense.shape, filter_size, stride, padding_mode, layout=layout)
    return max_pool2d_backward(grad_dense, indices, x.shape, layout=layout)


def max_blur_pool1d_backward(grad_out, x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect"):
    """max_blur_pool2d_backward along L only: x (N, C, L) or (C, L)."""
    x = _args.as_float_array(x, "x")
    _args.same_dtype("grad_out", _args.as_float_array(grad_out, "grad_out"), "x", x)
    dense, indices = max_pool1d(x, kernel_size, 1, padding, return_indices=True)
    grad_dense = blur_pool1d_backward(grad_out, dense.shape, filter_size, stride, padding_mode)
    return max_pool1d_backward(grad_dense, indices, x.shape)
