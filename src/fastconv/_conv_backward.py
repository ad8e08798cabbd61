"""Backward passes of the convolutions: conv2d_backward, conv1d_backward, conv_transpose2d_backward.

The input gradient of a convolution is a convolution: grad_out correlated over its full
extent with the spatially flipped, per-group transposed weights gives the gradient with
respect to the padded input (with a stride s, one correlation per stride phase, each with the
taps that reach it); the padding's adjoint then adds each padded position's share to the
input position it copied. The weight gradient is the
extension's conv2d_grad_weight (a deterministic GEMM reduction over images and pixels).
"""

from __future__ import annotations

import math

import numpy as np

from . import _args, _common, _conv, _core

_SPATIAL_AXES = {False: (2, 3), True: (1, 2)}  # of a batched array, by nhwc


def _grad_out_input(grad_out, expected, like, op):
    """grad_out checked to be ``expected``'s shape and ``like``'s dtype, kernel-ready."""
    go = _args.as_float_array(grad_out, "grad_out")
    _args.same_dtype("x", like, "grad_out", go)
    if go.shape != tuple(expected):
        raise ValueError(f"grad_out must have shape {tuple(expected)} (the {op} output for these arguments), "
                         f"got {go.shape}")
    return _common.kernel_ready(go)


def _flipped_transposed(weight, groups):
    """(K, C/g, kh, kw) -> (C, K/g, kh, kw), each group's filter/channel roles swapped and
    every kernel rotated by 180 degrees: the weight of the input gradient's convolution."""
    k, c_group, kh, kw = weight.shape
    flipped = _common.new_array((groups * c_group, k // groups, kh, kw), weight.dtype)
    _core.flipped_transposed_weights(np.ascontiguousarray(weight), flipped, groups)
    return flipped


def _phase_taps(k, s, d, r):
    """The taps of a kernel of k taps (stride s, dilation d) that reach the padded positions
    r, r + s, r + 2s, ... (r = t*d mod s for some tap t), as (first tap, tap step, q0,
    dilation between them in grad_out): position r + s*m receives tap first + j*step from
    grad_out position m - q0 - j*dilation."""
    g = math.gcd(s, d)
    first = next(t for t in range(min(k, s // g)) if (t * d - r) % s == 0)
    return first, s // g, (first * d - r) // s, d // g


def _phase_grads(go, weight, stride, dilation, groups, nhwc):
    """The gradient of every padded position (extent (O-1)*s + d*(k-1) + 1 per axis) of a
    strided convolution, one stride phase at a time: the positions r + s*m of a phase receive
    a stride-1 correlation of grad_out with the taps that reach them (Kernels read s*s fewer
    zeros than correlating a zero-spread grad_out)."""
    ya, xa = _SPATIAL_AXES[nhwc]
    out_sizes, kernel = (go.shape[ya], go.shape[xa]), weight.shape[2:]
    extent = tuple((o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out_sizes, stride, dilation, kernel))
    shape = list(go.shape)
    shape[1 if not nhwc else 3] = weight.shape[1] * groups
    shape[ya], shape[xa] = extent
    grad = np.zeros(shape, go.dtype)
    layout = "NHWC" if nhwc else "NCHW"
    flipped = _flipped_transposed(weight, groups)
    # the phases some tap reaches: at most k of the s per axis
    reached = [sorted({t * d % s for t in range(k)}) for k, s, d in zip(kernel, stride, dilation)]
    for ry in reached[0]:
        for rx in reached[1]:
            phase = [_phase_taps(k, s, d, r) for k, s, d, r in zip(kernel, stride, dilation, (ry, rx))]
            sizes = [-(-(e - r) // s) for e, r, s in zip(extent, (ry, rx), stride)]   # positions in the phase
            # the phase's taps first, first + step, ... of the flipped kernel, counted from its end
            taps = [np.arange(k - 1 - first, -1, -step)[::-1] for (first, step, _, _), k in zip(phase, kernel)]
            sub = np.ascontiguousarray(flipped[:, :, taps[0]][:, :, :, taps[1]])
            pads, keep = [], []
            for (first, step, q0, dil), count, size, o in zip(phase, sub.shape[2:], sizes, out_sizes):
                behind = size - o - q0
                keep.append(o + min(behind, 0))
                pads.append((q0 + (count - 1) * dil, max(behind, 0)))
            if min(keep) <= 0:
                continue
            index = [slice(None)] * go.ndim
            index[ya], index[xa] = slice(0, keep[0]), slice(0, keep[1])
            part = _conv.conv2d(go[tuple(index)], sub, None, 1, tuple(pads),
                                tuple(p[3] for p in phase), groups, layout=layout)
            index[ya], index[xa] = slice(ry, None, stride[0]), slice(rx, None, stride[1])
            grad[tuple(index)] = part
    return grad


def _fold_axis(grad, axis, size, before, padding_mode):
    """The adjoint of padding one axis by ``before`` positions in front (and whatever grad's
    extent adds behind): positions inside the input are kept, a padded position's gradient
    is added to the input position it copies (zeros: dropped)."""
    extent = grad.shape[axis]
    folded = np.zeros(grad.shape[:axis] + (size,) + grad.shape[axis + 1:], grad.dtype)
    inside = np.take(grad, np.arange(before, min(before + size, extent)), axis=axis)
    folded[(slice(None),) * axis + (slice(0, inside.shape[axis]),)] = inside
    if padding_mode == "zeros":
        return folded
    padded = np.concatenate([np.arange(min(before, extent)), np.arange(before + size, extent)])
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN here as in the kernels
        np.add.at(folded, (slice(None),) * axis + (_pad_sources(padded - before, size, padding_mode),),
                  np.take(grad, padded, axis=axis))
    return folded


def _pad_sources(i, n, mode):
    """Input index that each padded coordinate in ``i`` (outside [0, n)) copies, by np.pad's
    rules (reflect without repeating the edge, periodically for pads longer than the axis)."""
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    if n == 1:  # reflect
        return np.zeros_like(i)
    period = 2 * (n - 1)
    i = i % period
    return np.where(i < n, i, period - i)


_COL2IM_MAX_VALUES = 1 << 24  # columns of one image (64 MB of float32), where a block of channels outgrows L2


def _correlation_pads(go, weight, dilation, x_sizes, before, padding_mode, nhwc):
    """The padding of the stride-1 input gradient's correlation of grad_out, and whether its
    output is the input's gradient itself (else every padded position's, to fold)."""
    ya, xa = _SPATIAL_AXES[nhwc]
    reach = (dilation[0] * (weight.shape[2] - 1), dilation[1] * (weight.shape[3] - 1))
    # Padded by `reach` on both sides, the correlation yields the gradient of every padded
    # position; padded by (reach - before, size + before - output size) it yields the
    # input's positions only, which is all zero padding needs.
    exact = tuple((r - b, size + b - go.shape[axis]) for r, b, size, axis in zip(reach, before, x_sizes, (ya, xa)))
    direct = padding_mode == "zeros" and min(min(pair) for pair in exact) >= 0
    return (exact if direct else tuple((r, r) for r in reach)), direct


def _col2im_pays(go, weight, stride, dilation, nhwc, correlation, via_nhwc):
    """Whether the input gradient is cheaper as a GEMM per image and a scatter (col2im): one
    multiply-add per (filter, tap, channel, output pixel), against the correlation's per
    padded position, more than twice as many when the maps are small, or the stride phases'
    small correlations and interleaving when there are channels enough for a GEMM (S6); NCHW
    only, and while one image's column matrix (C/groups * kh * kw rows of OH * OW) stays
    moderate. Also one image of a small map of many channels, where col2im reads the weights
    in panels instead of packing them whole (ResNet's 3x3 layers on 7x7 and 14x14); a batch of
    them runs the correlation through the NHWC GEMM where `_correlation_via_nhwc` takes it
    (zero padding within the kernel's reach, channel counts auto runs through NHWC). Not when the
    correlation runs the kernel vectorised across images, which does the padded positions'
    work at the FMA peak (S5b: twice as fast as col2im), unless the channels are many enough
    that col2im's panels are at least as fast (16 images of 512 channels on 5x5: 22 against
    24 ms on one thread, 11 against 17 on two; of 256 channels on 6x6, 9.9 against 8.1 and
    5.1 against 5.3: the correlation). correlation: `_correlation_algorithm`'s answer (stride
    1, NCHW), via_nhwc: `_correlation_via_nhwc`'s."""
    if nhwc:
        return False
    (kh, kw), (oh, ow) = weight.shape[2:], go.shape[2:]
    if weight.shape[1] * kh * kw * oh * ow > _COL2IM_MAX_VALUES:
        return False
    if stride != (1, 1):
        return weight.shape[1] >= 16
    pixels, columns = go.shape[0] * oh * ow, weight.shape[1] * kh * kw
    pixel_rows = kh * kw > 1 and _core.col2im_pixel_rows(go.shape[0], oh, ow, weight.shape[1], kh, kw)
    if correlation == _conv._ALGORITHM_CODE["batched"]:
        return pixel_rows and 8 * pixels <= columns
    if pixel_rows and go.shape[0] > 1 and via_nhwc:
        return False
    return pixel_rows or (oh + dilation[0] * (kh - 1)) * (ow + dilation[1] * (kw - 1)) >= 2 * oh * ow


def _correlation_algorithm(go, weight, dilation, groups, x_sizes, before, padding_mode, nhwc):
    """The algorithm conv2d's auto picks for the stride-1 input gradient's correlation."""
    (kh, kw), (oh, ow) = weight.shape[2:], go.shape[2:]
    pads, _ = _correlation_pads(go, weight, dilation, x_sizes, before, padding_mode, nhwc)
    out_sizes = [o + sum(pair) - d * (k - 1) for o, pair, d, k in zip((oh, ow), pads, dilation, (kh, kw))]
    return _core.conv2d_auto_algorithm(go.shape[0], go.shape[1], oh, ow, weight.shape[1] * groups, kh, kw,
                                       *out_sizes, 1, 1, *dilation, groups, False, go.dtype == np.float64)


def _correlation_via_nhwc(go, weight, dilation, x_sizes, before, padding_mode, correlation):
    """Whether the stride-1 input gradient's correlation runs as conv2d_grad_input_via_nhwc:
    NCHW data whose correlation auto runs through the NHWC GEMM and yields the gradient
    itself (zero padding); the GEMM then packs the flipped weights straight from the
    convolution's, with no flipped copy, and gives the same bits as the correlation by that
    copy. Against col2im's pixel rows (`_col2im_pays`), measured on ResNet's 3x3 layers of
    2-16 images (512 channels on 7x7, 256 on 7x7, 8x8 and 14x14, 128 on 8x8 and 28x28): 1.13-1.39x
    as fast on one thread, 0.97-1.25x on two (2 images of 512 channels on 7x7: 0.97-1.04x), and
    1.5-5x with a quarter as many filters as channels; single images stay with col2im (1 x 512
    on 7x7: 0.74x). The rule reads shapes only, never the thread count, so that the gradient
    is the same for any. correlation: `_correlation_algorithm`'s answer, None unless stride 1
    and NCHW."""
    if correlation != _conv._ALGORITHM_CODE["im2col_nhwc"]:
        return False
    return _correlation_pads(go, weight, dilation, x_sizes, before, padding_mode, False)[1]


class _InputRoute:
    """How _input_grad computes the input gradient of one set of shapes and arguments (read
    from them only, so kept in _input_routes): col2im, the flipped-weights NHWC GEMM
    (via_nhwc), or a correlation of grad_out with the flipped weights (stride 1: `pads`, and
    whether its result is the gradient itself, `direct`; its conv2d plan, `plan`, made by
    _correlate when it first runs) or one per stride phase."""

    __slots__ = ("col2im", "via_nhwc", "pads", "direct", "plan")

    def __init__(self, go, weight, x_sizes, scalars, nhwc, padding_mode):
        sh, sw, dh, dw, pt, pb, pl, pr, groups = scalars[:9]
        correlation = None
        if (sh, sw) == (1, 1) and not nhwc:
            correlation = _correlation_algorithm(go, weight, (dh, dw), groups, x_sizes, (pt, pl), padding_mode, nhwc)
        self.via_nhwc = _correlation_via_nhwc(go, weight, (dh, dw), x_sizes, (pt, pl), padding_mode, correlation)
        self.col2im = _col2im_pays(go, weight, (sh, sw), (dh, dw), nhwc, correlation, self.via_nhwc)
        self.pads, self.direct, self.plan = None, False, None
        if (sh, sw) == (1, 1):
            self.pads, self.direct = _correlation_pads(go, weight, (dh, dw), x_sizes, (pt, pl), padding_mode, nhwc)


_input_routes = _common.PlanCache()


def _input_route(go, weight, x_sizes, scalars, nhwc, padding_mode):
    """_InputRoute for these shapes and arguments on the backend in use (whose conv2d "auto"
    choices it follows), made once. (The key holds only shapes, the validated scalars
    _conv_plan made, and names.)"""
    key = (go.shape, weight.shape, go.dtype.char, tuple(x_sizes), scalars, padding_mode, _core.backend())
    route = _input_routes.get(key)
    if route is None:
        route = _InputRoute(go, weight, x_sizes, scalars, nhwc, padding_mode)
        _input_routes.remember(key, route)
    return route


def _correlate(go, weight, route, dilation, groups, nhwc):
    """The stride-1 correlation of grad_out with the flipped weights, padded by route.pads
    (on the conv2d plan kept in the route, made here on the first call: only the routes that
    correlate validate the correlation's sizes)."""
    flipped = _flipped_transposed(weight, groups)
    layout = "NHWC" if nhwc else "NCHW"
    if weight.shape[0] == 0:  # no filters: conv2d writes the bias alone
        return _conv.conv2d(go, flipped, None, 1, route.pads, dilation, groups, layout=layout)
    if route.plan is None:
        shape, _, _, core = _conv._conv_plan(go.shape, flipped.shape, 2, 1, route.pads, dilation, groups, "zeros",
                                             None, "auto", layout)
        route.plan = (shape, core)
    shape, core = route.plan
    result = _common.new_array(shape, go.dtype)
    _core.conv2d(go, flipped, None, result, *core)
    return result


def _input_grad(go, weight, x_sizes, scalars, nhwc, padding_mode):
    """dL/dx of a batched conv2d (x spatial sizes ``x_sizes``) from kernel-ready grad_out."""
    sh, sw, dh, dw, pt, pb, pl, pr, groups = scalars[:9]
    ya, xa = _SPATIAL_AXES[nhwc]
    route = _input_route(go, weight, x_sizes, scalars, nhwc, padding_mode)
    if route.col2im:
        grad = _common.new_array((go.shape[0], weight.shape[1] * groups) + tuple(x_sizes), go.dtype)
        _core.conv2d_grad_input(go, weight, grad, *scalars[:10])
        return grad
    if route.via_nhwc:
        grad = _common.new_array((go.shape[0], weight.shape[1] * groups) + tuple(x_sizes), go.dtype)
        if _core.conv2d_grad_input_via_nhwc(go, weight, grad, dh, dw, pt, pb, pl, pr, groups):
            return grad  # (not written with a non-finite weight: below)
    if not np.isfinite(weight).all():
        # A correlation would multiply the zeros around grad_out by an infinite weight (NaN
        # where no product exists); the transposed convolution adds only the real products.
        go_nchw = go.transpose(0, 3, 1, 2) if nhwc else go
        grad_padded = _conv.conv_transpose2d(go_nchw, weight, None, (sh, sw), 0, 0, groups, (dh, dw))
        if nhwc:
            grad_padded = grad_padded.transpose(0, 2, 3, 1)
    elif (sh, sw) != (1, 1):
        grad_padded = _phase_grads(go, weight, (sh, sw), (dh, dw), groups, nhwc)
    else:
        grad_padded = _correlate(go, weight, route, (dh, dw), groups, nhwc)
        if route.direct:
            return grad_padded
    if padding_mode == "zeros" and all(grad_padded.shape[axis] >= before + size
                                       for axis, before, size in zip((ya, xa), (pt, pl), x_sizes)):
        index = [slice(None)] * grad_padded.ndim
        index[ya], index[xa] = slice(pt, pt + x_sizes[0]), slice(pl, pl + x_sizes[1])
        return np.ascontiguousarray(grad_padded[tuple(index)])
    grad = _fold_axis(grad_padded, ya, x_sizes[0], pt, padding_mode)
    return _fold_axis(grad, xa, x_sizes[1], pl, padding_mode)


def _weight_grad(x4, go4, weight_shape, scalars, nhwc):
    grad_w = _common.new_array(weight_shape, x4.dtype)
    _core.conv2d_grad_weight(x4, go4, grad_w, *scalars[:10], scalars[10], nhwc)
    return grad_w


def _bias_grad(go4, nhwc):
    grad_b = _common.new_array((go4.shape[3 if nhwc else 1],), go4.dtype)
    _core.conv2d_grad_bias(go4, grad_b, nhwc)
    return grad_b


def _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, padding_mode, needs, nd, layout):
    """Shared body of conv2d_backward (nd=2) and conv1d_backward (nd=1, as 2-D with H = 1)."""
    names = "(N, C, L) or (C, L)" if nd == 1 else "(N, H, W, C) or (H, W, C)" if layout == "NHWC" \
        else "(N, C, H, W) or (C, H, W)"
    xa = _common.float_input(x, "x", (nd + 1, nd + 2), names)
    w = _common.float_input(weight, "weight", (nd + 2,), "(K, C/groups, k)" if nd == 1 else "(K, C/groups, kh, kw)")
    _args.same_dtype("x", xa, "weight", w)
    needs = _args.check_needs(needs)
    shape, unbatched, shape4, scalars = _conv._conv_plan_memo(xa.shape, w.shape, nd, stride, padding, dilation,
                                                              groups, padding_mode, None, "auto", layout)
    go = _grad_out_input(grad_out, shape, xa, f"conv{nd}d")
    nhwc = scalars[-1]
    x4_shape = (1,) * unbatched + xa.shape[:-nd] + (1,) * (2 - nd) + xa.shape[-nd:]
    x4, go4 = xa.reshape(x4_shape), go.reshape(shape4)
    w4 = w if nd == 2 else w.reshape(w.shape[:2] + (1,) + w.shape[2:])
    grads = {}
    if "input" in needs and (xa.size == 0 or math.prod(w.shape[2:]) == 0):  # no input, or no taps
        grads["input"] = np.zeros(xa.shape, xa.dtype)
    elif "input" in needs:
        x_sizes = x4.shape[1:3] if nhwc else x4.shape[2:]
        grads["input"] = _input_grad(go4, w4, x_sizes, scalars, nhwc, padding_mode).reshape(xa.shape)
    if "weight" in needs:
        grads["weight"] = _weight_grad(x4, go4, w4.shape, scalars, nhwc).reshape(w.shape)
    if "bias" in needs:
        grads["bias"] = _bias_grad(go4, nhwc)
    return {name: grads[name] for name in _args.GRAD_NAMES if name in grads}


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
                    needs=("input", "weight", "bias"), layout="NCHW"):
    """Gradients of :func:`conv2d` (without ``activation``: apply :func:`relu_backward` first).

    Parameters
    ----------
    grad_out : array_like
        dL/d(output): exactly the forward output's shape, (N, K, OH, OW) or (K, OH, OW)
        ((N, OH, OW, K) or (OH, OW, K) for NHWC), and x's dtype.
    x, weight, stride, padding, dilation, groups, padding_mode, layout
        The forward call's arguments (the bias is not needed: no gradient depends on it).
    needs : tuple of str
        Which gradients to compute, among "input", "weight" and "bias" (a bare name is one).

    Returns
    -------
    dict
        The gradients named in ``needs``, in the order input, weight, bias: "input" (x's shape
        and layout; a padded position's gradient is added to the input position it copies
        under reflect/replicate/circular padding and dropped under zeros), "weight" (K,
        C/groups, kh, kw), "bias" (K,), all of x's dtype. Each is the same for any thread count.

    Raises
    ------
    ValueError
        If grad_out is not the forward output's shape, or any argument is invalid for conv2d.
    TypeError
        If an array is not float32/float64 or the dtypes differ.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> g = fastconv.conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> g["input"][0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> g["weight"][0, 0], g["bias"]
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, padding_mode, needs, 2, layout)


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
                    needs=("input", "weight", "bias")):
    """Gradients of :func:`conv1d`: :func:`conv2d_backward` with one spatial dimension.

    Parameters
    ----------
    grad_out : array_like, (N, K, OL) or (K, OL)
    x, weight, stride, padding, dilation, groups, padding_mode
        The forward call's arguments.
    needs : tuple of str
        Among "input", "weight", "bias".

    Returns
    -------
    dict
        "input" (x's shape), "weight" (K, C/groups, k), "bias" (K,), as requested.

    Raises
    ------
    ValueError, TypeError
        As :func:`conv2d_backward`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv1d_backward(np.ones((1, 1, 2)), np.arange(3.0).reshape(1, 1, 3), np.ones((1, 1, 2)),
    ...                          needs=("weight",))
    {'weight': array([[[1., 3.]]])}
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, padding_mode, needs, 1, "NCHW")


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                              needs=("input", "weight", "bias")):
    """Gradients of :func:`conv_transpose2d`.

    conv_transpose2d is the adjoint of conv2d, so dL/dx is conv2d of grad_out by the same
    weight, and dL/dweight is conv2d's weight gradient with the roles of x and grad_out
    swapped. Rows and columns that output_padding adds reach only the bias gradient.

    Parameters
    ----------
    grad_out : array_like, (N, K, OH, OW) or (K, OH, OW)
        The forward output's shape and x's dtype.
    x, weight, stride, padding, output_padding, groups, dilation
        The forward call's arguments (weight is (C, K/groups, kh, kw)).
    needs : tuple of str
        Among "input", "weight", "bias".

    Returns
    -------
    dict
        "input" (x's shape), "weight" (C, K/groups, kh, kw), "bias" (K,), as requested.

    Raises
    ------
    ValueError, TypeError
        As :func:`conv_transpose2d`, or if grad_out is not the output's shape.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> g = fastconv.conv_transpose2d_backward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)),
    ...                                        np.ones((1, 1, 2, 2)), stride=2)
    >>> g["input"][0, 0], g["bias"]
    (array([[4., 4.],
           [4., 4.]]), array([16.]))
    """
    xa = _common.float_input(x, "x", (3, 4), "(N, C, H, W) or (C, H, W)")
    w = _common.float_input(weight, "weight", (4,), "(C, K/groups, kh, kw)")
    _args.same_dtype("x", xa, "weight", w)
    needs = _args.check_needs(needs)
    xb, added = _common.add_batch(xa, 4)
    groups, k_out, stride, pad, dilation, out_sizes = _args.conv_transpose_geometry(
        xb.shape, w.shape, groups, stride, padding, output_padding, dilation)
    out_shape = (xb.shape[0], k_out) + out_sizes
    go = _grad_out_input(grad_out, out_shape[1:] if added else out_shape, xa, "conv_transpose2d")
    go4 = go[np.newaxis] if added else go
    # The forward reads output rows iy*s + ky*d - p: conv2d over grad_out padded by p in front
    # and p - output_padding behind (cropped when that is negative) reads the same rows.
    behind = [p - (o - ((i - 1) * s - 2 * p + d * (k - 1) + 1))
              for p, o, i, s, d, k in zip(pad, out_sizes, xb.shape[2:], stride, dilation, w.shape[2:])]
    crop = tuple(slice(0, o + min(b, 0)) for o, b in zip(out_sizes, behind))
    go_read = _common.kernel_ready(go4[(slice(None), slice(None)) + crop])
    pads = ((pad[0], max(behind[0], 0)), (pad[1], max(behind[1], 0)))
    scalars = (stride[0], stride[1], dilation[0], dilation[1], pads[0][0], pads[0][1], pads[1][0], pads[1][1], groups,
               0, 0.0)
    grads = {}
    if "input" in needs:
        grad_x = _conv.conv2d(go_read, w, None, stride, pads, dilation, groups)
        grads["input"] = _common.drop_batch(grad_x, added)
    if "weight" in needs:
        grads["weight"] = _weight_grad(go_read, xb, w.shape, scalars, False)
    if "bias" in needs:
        grads["bias"] = _bias_grad(go4, False)
    return {name: grads[name] for name in _args.GRAD_NAMES if name in grads}
