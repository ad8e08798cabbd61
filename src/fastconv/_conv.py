"""Convolution: conv2d, conv1d, conv_transpose2d."""

from __future__ import annotations

import numpy as np

from . import _args, _common, _core

_PAD_MODE_CODE = {"zeros": 0, "reflect": 1, "replicate": 2, "circular": 3}
_ALGORITHM_CODE = {"auto": 0, "direct": 1, "im2col": 2, "im2col_nhwc": 3, "winograd": 4, "batched": 5}


def _conv_plan(x_shape, w_shape, nd, stride, padding, dilation, groups, padding_mode, activation, algorithm, layout):
    """What a call needs that depends only on shapes and scalar arguments, validated:
    (result shape, whether x had no batch axis, the 4-D output shape, _core.conv2d's scalars)."""
    _args.choice(padding_mode, "padding_mode", tuple(_PAD_MODE_CODE))
    _args.choice(activation, "activation", _args.ACTIVATIONS)
    _args.choice(algorithm, "algorithm", _args.ALGORITHMS)
    nhwc = _args.is_nhwc(layout)
    unbatched = len(x_shape) == nd + 1
    if unbatched:
        x_shape = (1,) + tuple(x_shape)
    if nhwc:
        x_shape = (x_shape[0], x_shape[3], x_shape[1], x_shape[2])
    groups = _args.check_groups(groups, x_shape[1], w_shape[0], w_shape[1])
    if nhwc and algorithm == "direct" and not groups == x_shape[1] == w_shape[0]:
        raise ValueError(f"algorithm='direct' with layout='NHWC' is the depthwise kernel: it needs groups == C == K, "
                         f"got groups={groups}, C={x_shape[1]}, K={w_shape[0]}; use 'im2col' or 'auto'")
    stride, dilation, pads, out_sizes = _args.conv_geometry(x_shape[2:], w_shape[2:], stride, padding, dilation)
    check_conv_sizes(x_shape, w_shape, pads, out_sizes)
    _check_padding_source(padding_mode, x_shape[2:], pads)
    shape = (x_shape[0], w_shape[0]) + out_sizes
    if nd == 1:  # as 2-D with H = 1
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    _args.check_winograd(algorithm, (1,) * (2 - nd) + tuple(w_shape[2:]), stride, dilation, groups)
    shape4 = shape[:2] + (1,) * (2 - nd) + shape[2:]
    if nhwc:
        shape = shape4 = (shape[0],) + out_sizes + (shape[1],)
    scalars = (stride[0], stride[1], dilation[0], dilation[1], pads[0][0], pads[0][1], pads[1][0], pads[1][1], groups,
               _PAD_MODE_CODE[padding_mode], 0.0, _ALGORITHM_CODE[algorithm], activation == "relu", nhwc)
    return shape[1:] if unbatched else shape, unbatched, shape4, scalars


_conv_plan_memo = _args.memoised(_conv_plan, shapes=2)


def _check_padding_source(padding_mode, sizes, pads):
    """reflect, replicate and circular padding copy values from the axis they pad: an empty
    axis has none to copy."""
    if padding_mode == "zeros":
        return
    for axis, (size, (before, after)) in enumerate(zip(sizes, pads)):
        if size == 0 and before + after > 0:
            raise ValueError(f"padding_mode={padding_mode!r} pads spatial axis {axis} of x with values taken from it, "
                             f"but that axis is empty (size 0); use padding_mode='zeros' or no padding there")


def check_conv_sizes(x_shape, w_shape, pads, out_sizes):
    """The size formulas of a convolution of x (N, C, *spatial) with weight (K, C/groups,
    *kernel), bounded (_args.check_sizes). The im2col matrix is never formed whole, but its
    panels are indexed by its own row and column numbers."""
    (n, c), (k, c_group), kernel = x_shape[:2], w_shape[:2], tuple(w_shape[2:])
    padded = tuple(size + before + after for size, (before, after) in zip(x_shape[2:], pads))
    _args.check_sizes(("output", (n, k) + out_sizes), ("padded input", (n, c) + padded),
                      ("im2col matrix of one image", (c_group,) + kernel + out_sizes),
                      ("multiply-add count", (n, k, c_group) + kernel + out_sizes))


_conv2d_plans = _common.PlanCache()
_INT_OR_STR = (int, str)


def _conv_nd(x, weight, bias, stride, padding, dilation, groups, padding_mode, activation, algorithm, out, nd,
             layout="NCHW", plan_key=None):
    """Shared body of conv1d (nd=1) and conv2d (nd=2); the 1-D case runs as 2-D with H=1."""
    batched = nd + 2
    names = "(N, C, L) or (C, L)" if nd == 1 else "(N, H, W, C) or (H, W, C)" if layout == "NHWC" \
        else "(N, C, H, W) or (C, H, W)"
    wnames = "(K, C/groups, k)" if nd == 1 else "(K, C/groups, kh, kw)"
    xa = _common.float_input(x, "x", (batched - 1, batched), names)
    w = _common.float_input(weight, "weight", (batched,), wnames)
    _args.same_dtype("x", xa, "weight", w)
    shape, unbatched, shape4, scalars = _conv_plan_memo(xa.shape, w.shape, nd, stride, padding, dilation, groups,
                                                        padding_mode, activation, algorithm, layout)
    b = _common.optional_bias(bias, w.shape[0], xa)
    result = _common.output(out, shape, xa.dtype, (x, weight, bias, xa, w, b))
    x4 = xa.reshape((1,) * unbatched + xa.shape[:-nd] + (1,) * (2 - nd) + xa.shape[-nd:]) if nd == 1 or unbatched \
        else xa
    w4 = w if nd == 2 else w.reshape(w.shape[:2] + (1,) + w.shape[2:])
    if 0 in w4.shape[1:]:  # no channel per group or no tap: each output is its bias
        _write_bias_only(result, b, activation, -1 if layout == "NHWC" else -(nd + 1))
        return result
    _core.conv2d(x4, w4, b, result if result.ndim == 4 else result.reshape(shape4), *scalars)
    if x4 is x and w4 is weight:
        _conv2d_plans.remember(plan_key, (shape, scalars, _common.allocator(shape, xa.dtype)))
    return result


def _write_bias_only(result, bias, activation, channel_axis):
    """result[..., k, ...] = bias[k] (0 without bias), relu applied, k along channel_axis."""
    if bias is None:
        result[...] = 0
        return
    value = np.maximum(bias, 0) if activation == "relu" else bias
    result[...] = value.reshape((-1,) + (1,) * (-channel_axis - 1))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
           activation=None, algorithm="auto", out=None, layout="NCHW"):
    """2-D convolution (cross-correlation, as in deep learning) of NCHW or NHWC images.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W), float32 or float64; (N, H, W, C) or (H, W, C) for NHWC
    weight : array_like, (K, C/groups, kh, kw), same dtype as x
    bias : array_like, (K,), optional
    stride, dilation : int or (int, int)
    padding : int, (ph, pw), ((top, bottom), (left, right)), or "valid"/"narrow", "same", "full"/"wide"
        "same" gives an output of ceil(in/stride) with any odd pixel of padding at the bottom/right;
        "full" pads dilation*(k-1) on each side.
    groups : int
        C and K must both be divisible by groups; groups == C is a depthwise convolution.
    padding_mode : "zeros", "reflect", "replicate" or "circular"
    activation : None or "relu", fused into the output write
    algorithm : "auto", "direct", "im2col", "im2col_nhwc", "batched" or "winograd"
        "im2col_nhwc" runs NCHW data through the NHWC GEMM, a band of output rows at a time
        (a batch of images of at most 64 output pixels: blocks of whole images) transposed to
        channels-last and back (the same as "im2col" for layout="NHWC"). "batched" is a direct convolution
        vectorised across images (interleaved copies of blocks of 8 or 16 images), for batches
        of small images or few filters. With layout="NHWC", "direct" is the
        depthwise kernel (groups == C == K only). "winograd" (Winograd's F(4x4, 3x3), 3x3 kernel,
        stride 1, dilation 1 and groups=1 only; never chosen by "auto") does 4x fewer
        multiply-adds, but an output's rounding error is bounded by the magnitudes of its
        tile's whole 6x6 input window rather than its own 3x3 one: at most
        4*(C+64)*eps*P, P = sum over channels c of (sum of |x| in the window) times (sum of
        |w[k, c]|) (tests/test_error_bounds.py); on random data ~35 eps times the tile's
        largest sum of |x|*|w|, but thousands of times that when a large input and a large
        weight meet only in the transforms. So one large input value perturbs up to 16
        outputs. Inputs with inf or NaN (NCHW: per image) are summed by the NHWC GEMM instead.
    out : ndarray, optional
        C-contiguous, aligned array of the output shape and dtype, written in place and returned.
    layout : "NCHW" or "NHWC"
        "NHWC" (channels last) reads and writes channels-last arrays with no transposes; the
        weight keeps its (K, C/groups, kh, kw) shape.

    Returns
    -------
    ndarray
        (N, K, OH, OW) (or (K, OH, OW) for 3-D x), (N, OH, OW, K) for NHWC, of x's dtype (out if
        given), with OH = floor((H + top + bottom - dilation*(kh-1) - 1) / stride) + 1 (and likewise OW).

    Raises
    ------
    TypeError
        If x, weight or bias is not float32/float64 or their dtypes differ, stride, padding,
        dilation or groups is not an int (or a tuple of ints), or out has the wrong type or dtype.
    ValueError
        If x or weight has the wrong number of dimensions; C or K is not divisible by groups, or
        weight.shape[1] * groups != C; bias is not of shape (K,); stride, dilation or groups is not
        positive, padding is negative, or a tuple has the wrong length; padding, padding_mode,
        activation, algorithm or layout is not one of its values; the dilated kernel is larger than
        the padded input; algorithm="winograd" gets anything but a 3x3 kernel, stride 1, dilation 1
        and groups=1, or algorithm="direct" with layout="NHWC" anything but groups == C == K;
        padding_mode "reflect", "replicate" or "circular" pads an empty axis; or out has the wrong
        shape, is not C-contiguous, aligned and writeable, or overlaps an input.
    OverflowError
        If an integer argument, or a size the kernels compute from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 1, 4, 4), np.float32)
    >>> fastconv.conv2d(x, np.ones((1, 1, 3, 3), np.float32), padding="same")[0, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]], dtype=float32)
    """
    key = None
    if (bias is None and out is None and type(x) is np.ndarray and type(weight) is np.ndarray and type(stride) is int
            and type(dilation) is int and type(groups) is int and type(padding) in _INT_OR_STR):
        key = (x.shape, x.dtype, weight.shape, weight.dtype, stride, padding, dilation, groups, padding_mode,
               activation, algorithm, layout)
        plan = _conv2d_plans.get(key)
        xf, wf = x.flags, weight.flags  # _common.is_kernel_ready, inline: this path is the call overhead
        if plan is not None and xf.c_contiguous and wf.c_contiguous and xf.aligned and wf.aligned:
            result = plan[2](plan[0], x.dtype)
            _core.conv2d(x, weight, None, result, *plan[1])
            return result
    return _conv_nd(x, weight, bias, stride, padding, dilation, groups, padding_mode, activation, algorithm, out, 2,
                    layout, key)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
           activation=None, algorithm="auto", out=None):
    """1-D convolution (cross-correlation) of (N, C, L) signals, e.g. audio or text embeddings.

    Parameters are those of :func:`conv2d` with one spatial dimension: weight is (K, C/groups, k);
    padding is an int, (p,), (left, right), ((left, right),) or a padding string.

    Parameters
    ----------
    x : array_like, (N, C, L) or (C, L), float32 or float64
    weight : array_like, (K, C/groups, k), same dtype as x
    bias : array_like, (K,), optional
    stride, dilation : int or (int,)
    padding : int, (p,), (left, right), ((left, right),), or "valid"/"narrow", "same", "full"/"wide"
        The strings as in :func:`conv2d`.
    groups, padding_mode, activation, out : as in :func:`conv2d`
        out has the shape (N, K, OL) (or (K, OL)).
    algorithm : "auto", "direct", "im2col", "im2col_nhwc" or "batched", as in :func:`conv2d`
        ("winograd" needs a 3x3 kernel, so it always raises ValueError here).

    Returns
    -------
    ndarray, (N, K, OL) (or (K, OL) for 2-D x), OL = floor((L + left + right - dilation*(k-1) - 1) / stride) + 1.

    Raises
    ------
    TypeError
        As :func:`conv2d`: x, weight or bias not float32/float64 or of different dtypes, an integer
        argument that is not an int, or out of the wrong type or dtype.
    ValueError
        As :func:`conv2d`, with x (N, C, L) or (C, L) and weight (K, C/groups, k); and for
        algorithm="winograd".
    OverflowError
        As :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv1d(np.arange(5.0).reshape(1, 1, 5), np.array([[[1.0, -1.0]]]))
    array([[[-1., -1., -1., -1.]]])
    """
    return _conv_nd(x, weight, bias, stride, padding, dilation, groups, padding_mode, activation, algorithm, out, 1,
                    "NCHW")


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the adjoint of conv2d; "deconvolution") of NCHW images.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or (C, H, W)
    weight : array_like, (C, K/groups, kh, kw)
    bias : array_like, (K,), optional
    stride, padding, output_padding, dilation : int or (int, int)
        output_padding must be smaller than stride or dilation (per dimension), as in PyTorch.
    groups : int

    Returns
    -------
    ndarray, (N, K, OH, OW) with OH = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1.
        (K, OH, OW) for 3-D x; x's dtype.

    Raises
    ------
    TypeError
        If x, weight or bias is not float32/float64 or their dtypes differ, or stride, padding,
        output_padding, dilation or groups is not an int (or a tuple of ints).
    ValueError
        If x or weight has the wrong number of dimensions or x an empty spatial axis; weight.shape[0]
        is not C, or C is not divisible by groups; bias is not of shape (K,); groups, stride or
        dilation is not positive, padding or output_padding is negative, or a tuple has the wrong
        length; output_padding is not smaller than stride or dilation; or padding is so large that
        the output would be empty.
    OverflowError
        If an integer argument, or a size the kernel computes from the shapes, reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2).shape
    (1, 1, 4, 4)
    """
    xa = _common.float_input(x, "x", (3, 4), "(N, C, H, W) or (C, H, W)")
    w = _common.float_input(weight, "weight", (4,), "(C, K/groups, kh, kw)")
    _args.same_dtype("x", xa, "weight", w)
    xb, added = _common.add_batch(xa, 4)
    groups, K, stride, pad, dilation, out_sizes = _args.conv_transpose_geometry(
        xb.shape, w.shape, groups, stride, padding, output_padding, dilation)
    _args.check_sizes(("output", (xb.shape[0], K) + out_sizes),
                      ("multiply-add count", xb.shape[:2] + (K // groups,) + w.shape[2:] + xb.shape[2:]))
    b = _common.optional_bias(bias, K, xa)
    result = _common.output(None, (xb.shape[0], K) + out_sizes, xa.dtype, ())
    _core.conv_transpose2d(xb, w, b, result, stride[0], stride[1], dilation[0], dilation[1], pad[0], pad[1], groups)
    return _common.drop_batch(result, added)
