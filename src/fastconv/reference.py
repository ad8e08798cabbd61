"""Plain NumPy reference implementations: the oracle the compiled kernels are tested against.

Clarity over speed.  Every function works on whole batches with NumPy and loops only over
kernel taps (or, for adaptive pools, over window offsets), so test-sized inputs take
milliseconds.  All arithmetic is done in float64 and the result is cast back to the input's
dtype (float32 or float64).

Layout is NCHW (N, C, L for the 1-D ops).  A 2-D op also accepts one image of shape
(C, H, W), a 1-D op one signal of shape (C, L); the batch axis is then dropped again on
output.  The 1-D ops are the 2-D ops with H = 1.

Semantics follow ``torch.nn.functional`` (conv, pools, relu) and ``scipy.signal``
(correlate2d, convolve2d).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from . import _args, _common

__all__ = [
    "conv1d", "conv2d", "conv_transpose2d", "correlate2d", "convolve2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "sum_pool1d", "sum_pool2d",
    "lp_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "global_avg_pool2d", "global_max_pool2d", "relu",
    "conv1d_backward", "conv2d_backward", "conv_transpose2d_backward",
    "max_pool1d_backward", "max_pool2d_backward", "avg_pool1d_backward", "avg_pool2d_backward",
    "sum_pool1d_backward", "sum_pool2d_backward", "lp_pool2d_backward", "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d_backward", "global_avg_pool2d_backward", "global_max_pool2d_backward", "relu_backward",
    "binomial_filter", "blur_padding", "blur_pool2d", "blur_pool1d", "max_blur_pool2d", "max_blur_pool1d",
]

_NP_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
_SCIPY_BOUNDARIES = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap",
                     "symm": "symmetric", "symmetric": "symmetric"}
_SCIPY_MODES = ("full", "same", "valid")


# --------------------------------------------------------------------------- small helpers


def _float_input(x, name, n_spatial):
    """Validate a batched or unbatched input; returns (x with batch axis, was_unbatched)."""
    x = _args.as_float_array(x, name)
    batched_ndim = n_spatial + 2
    if n_spatial == 1:
        shape_text = "(N, C, L) or (C, L)"
    else:
        shape_text = "(N, C, H, W) or (C, H, W)"
    _args.check_ndim(x, name, (batched_ndim - 1, batched_ndim), shape_text)
    if x.ndim == batched_ndim - 1:
        return x[np.newaxis], True
    return x, False


def _unbatch(result, was_unbatched):
    """Drop the batch axis added by ``_float_input`` (works on a single array or a tuple)."""
    if isinstance(result, tuple):
        return tuple(_unbatch(r, was_unbatched) for r in result)
    return result[0] if was_unbatched else result


def _to_1d_input(x, name):
    """(N, C, L) or (C, L) -> (N, C, 1, L), plus whether the batch axis was added."""
    xb, unbatched = _float_input(x, name, 1)
    return xb[:, :, np.newaxis, :], unbatched


def _from_1d_output(result, unbatched):
    """(N, C, 1, L) -> (N, C, L) (or (C, L)); also for an (out, indices) pair."""
    if isinstance(result, tuple):
        return tuple(_from_1d_output(r, unbatched) for r in result)
    return _unbatch(result[:, :, 0, :], unbatched)


def _write_out(result, out, name="out"):
    """Return ``result``, or copy it into ``out`` after checking out's type, dtype, shape and layout."""
    if out is None:
        return result
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != result.dtype:
        raise TypeError(f"{name} must have dtype {result.dtype}, got {out.dtype}")
    if out.shape != result.shape:
        raise ValueError(f"{name} must have shape {result.shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    out[...] = result
    return out


def _pad_spatial(x, pads, np_mode, fill=0.0):
    """np.pad on the last len(pads) axes only; ``pads`` holds one (before, after) per axis."""
    widths = [(0, 0)] * (x.ndim - len(pads)) + [tuple(p) for p in pads]
    if np_mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=fill)
    return np.pad(x, widths, mode=np_mode)


def _sliding_view(xp, ky, kx, out_h, out_w, stride, dilation):
    """The input pixels that kernel tap (ky, kx) meets, for every output position.

    ``xp`` is the padded input (..., Hp, Wp); returns xp[..., ky*d + oy*s, kx*d + ox*s]
    for oy < out_h, ox < out_w, as a strided slice of shape (..., out_h, out_w).
    """
    (sy, sx), (dy, dx) = stride, dilation
    y0, x0 = ky * dy, kx * dx
    return xp[..., y0:y0 + (out_h - 1) * sy + 1:sy, x0:x0 + (out_w - 1) * sx + 1:sx]


# --------------------------------------------------------------------------- convolution


def _conv_operands(x, weight, weight_shape):
    """(x as a batched float array, whether it had no batch axis, weight) checked alike."""
    xb, unbatched = _float_input(x, "x", 2)
    weight = _args.as_float_array(weight, "weight")
    _args.same_dtype("x", xb, "weight", weight)
    _args.check_ndim(weight, "weight", (4,), weight_shape)
    return xb, unbatched, weight


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", activation=None, algorithm="auto", out=None):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    x: (N, C, H, W) or (C, H, W); weight: (K, C/groups, kh, kw); bias: (K,) or None.
    Returns (N, K, OH, OW) (or (K, OH, OW)) with, per spatial dim,
        O = floor((size + pad_before + pad_after - d*(k-1) - 1) / s) + 1
        out[n, k, oy, ox] = bias[k] + sum_{c in group(k), ky, kx}
                            xpad[n, c, oy*sy + ky*dy, ox*sx + kx*dx] * weight[k, c - c0(k), ky, kx]
    where xpad is x padded per ``padding`` (int, pair, per-side pairs, or
    "valid"/"same"/"full") with ``padding_mode`` zeros / reflect / replicate / circular
    (np.pad 'constant' / 'reflect' / 'edge' / 'wrap').  ``activation="relu"`` is applied
    after the bias.  ``algorithm`` is validated and ignored.  If ``out`` is given the
    result is written into it and it is returned.  ``layout="NHWC"`` (added by _with_layout)
    takes (N, H, W, C) / (H, W, C) input and returns (N, OH, OW, K) / (OH, OW, K).
    """
    xb, unbatched, weight = _conv_operands(x, weight, "(K, C/groups, kh, kw)")
    n, c_in, h, w = xb.shape
    k_out, c_per_group, kh, kw = weight.shape
    bias = _common.optional_bias(bias, k_out, xb)
    stride = _args.positive_tuple(stride, 2, "stride")
    dilation = _args.positive_tuple(dilation, 2, "dilation")
    groups = _args.check_groups(groups, c_in, k_out, c_per_group)
    pads = _args.conv_padding(padding, (h, w), (kh, kw), stride, dilation)
    _args.choice(padding_mode, "padding_mode", _args.PADDING_MODES)
    _args.choice(activation, "activation", _args.ACTIVATIONS)
    _args.choice(algorithm, "algorithm", _args.ALGORITHMS)
    _args.check_winograd(algorithm, (kh, kw), stride, dilation, groups)
    out_h, out_w = _args.conv_output_sizes((h, w), pads, (kh, kw), stride, dilation)

    xp = _pad_spatial(xb.astype(np.float64), pads, _NP_PAD_MODES[padding_mode])
    # Split channels into groups: x -> (N, G, C/G, Hp, Wp), weight -> (G, K/G, C/G, kh, kw).
    xg = xp.reshape(n, groups, c_in // groups, xp.shape[2], xp.shape[3])
    wg = weight.astype(np.float64).reshape(groups, k_out // groups, c_per_group, kh, kw)
    acc = np.zeros((n, groups, k_out // groups, out_h, out_w))
    for ky in range(kh):
        for kx in range(kw):
            patch = _sliding_view(xg, ky, kx, out_h, out_w, stride, dilation)  # (N, G, C/G, OH, OW)
            acc += np.einsum("ngchw,gkc->ngkhw", patch, wg[:, :, :, ky, kx])
    acc = acc.reshape(n, k_out, out_h, out_w)
    if bias is not None:
        acc += bias.astype(np.float64)[:, None, None]
    if activation == "relu":
        acc = relu(acc)
    return _write_out(_unbatch(acc.astype(xb.dtype), unbatched), out)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", activation=None, algorithm="auto", out=None):
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``; conv2d with H = 1.

    x: (N, C, L) or (C, L); weight: (K, C/groups, k); bias: (K,) or None.
    Returns (N, K, OL) (or (K, OL)), OL = floor((L + pad_before + pad_after - d*(k-1) - 1) / s) + 1.
    ``padding`` is an int, a (before, after) pair, or "valid"/"same"/"full".
    """
    x4, unbatched = _to_1d_input(x, "x")
    weight = _args.as_float_array(weight, "weight")
    _args.check_ndim(weight, "weight", (3,), "(K, C/groups, k)")
    (s,) = _args.positive_tuple(stride, 1, "stride")
    (d,) = _args.positive_tuple(dilation, 1, "dilation")
    (pad,) = _args.conv_padding(padding, (x4.shape[-1],), (weight.shape[-1],), (s,), (d,))
    result = conv2d(x4, weight[:, :, np.newaxis, :], bias, stride=(1, s), padding=((0, 0), pad),
                    dilation=(1, d), groups=groups, padding_mode=padding_mode,
                    activation=activation, algorithm=algorithm)
    return _write_out(_from_1d_output(result, unbatched), out)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the adjoint of conv2d), as ``torch.nn.functional.conv_transpose2d``.

    x: (N, C_in, H, W) or (C_in, H, W); weight: (C_in, K/groups, kh, kw); bias: (K,) or None.
    Returns (N, K, OH, OW) with, per spatial dim,
        O = (size - 1)*s - 2*p + d*(k - 1) + output_padding + 1.
    Definition (scatter-add): every input pixel x[n, c, iy, ix] adds x * weight[c, k', ky, kx]
    to out[n, k, iy*sy + ky*dy - py, ix*sx + kx*dx - px] (k = group(c)*K/groups + k'),
    contributions falling outside [0, O) being dropped.
    """
    xb, unbatched, weight = _conv_operands(x, weight, "(C_in, K/groups, kh, kw)")
    n, c_in, h, w = xb.shape
    _, k_per_group, kh, kw = weight.shape
    groups, k_out, stride, pad, dilation, out_sizes = _args.conv_transpose_geometry(
        xb.shape, weight.shape, groups, stride, padding, output_padding, dilation)
    bias = _common.optional_bias(bias, k_out, xb)
    out_h, out_w = out_sizes

    # Scatter into an uncropped buffer whose row r is output row r - p, then crop.
    xg = xb.astype(np.float64).reshape(n, groups, c_in // groups, h, w)
    wg = weight.astype(np.float64).reshape(groups, c_in // groups, k_per_group, kh, kw)
    buf = np.zeros((n, groups, k_per_group, out_h + 2 * pad[0], out_w + 2 * pad[1]))
    for ky in range(kh):
        for kx in range(kw):
            # positions iy*s + ky*d in the buffer, for iy < H (same strided slice as conv2d's)
            target = _sliding_view(buf, ky, kx, h, w, stride, dilation)
            target += np.einsum("ngchw,gck->ngkhw", xg, wg[:, :, :, ky, kx])
    acc = buf[..., pad[0]:pad[0] + out_h, pad[1]:pad[1] + out_w].reshape(n, k_out, out_h, out_w)
    if bias is not None:
        acc = acc + bias.astype(np.float64)[:, None, None]
    return _unbatch(acc.astype(xb.dtype), unbatched)


# --------------------------------------------------------------------------- scipy-style 2-D


def _scipy_args(image, kernel, mode, boundary, fillvalue):
    image = _args.as_float_array(image, "image")
    kernel = _args.as_float_array(kernel, "kernel")
    _args.same_dtype("image", image, "kernel", kernel)
    _args.check_ndim(image, "image", (2,), "a 2-D array")
    _args.check_ndim(kernel, "kernel", (2,), "a 2-D array")
    _args.choice(mode, "mode", _SCIPY_MODES)
    _args.choice(boundary, "boundary", tuple(_SCIPY_BOUNDARIES))
    fillvalue = _args.real_scalar(fillvalue, "fillvalue")
    for name, arr in (("image", image), ("kernel", kernel)):
        if arr.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return image, kernel, float(fillvalue)


def _correlate_padded(image, kernel, pads, boundary, fillvalue):
    """Pad ``image`` by ``pads`` with the scipy boundary rule, then 'valid' correlation."""
    padded = _pad_spatial(image.astype(np.float64), pads, _SCIPY_BOUNDARIES[boundary], fillvalue)
    kh, kw = kernel.shape
    out_h, out_w = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    acc = np.zeros((out_h, out_w))
    for ky in range(kh):
        for kx in range(kw):
            acc += float(kernel[ky, kx]) * _sliding_view(padded, ky, kx, out_h, out_w, (1, 1), (1, 1))
    return acc


def _valid_mode_swap(image, kernel):
    """scipy's rule for mode='valid': swap the inputs if the image is the smaller one in every
    dim; ValueError if neither is at least as large as the other in every dim."""
    ok_as_is = all(a >= b for a, b in zip(image.shape, kernel.shape))
    ok_swapped = all(b >= a for a, b in zip(image.shape, kernel.shape))
    if not (ok_as_is or ok_swapped):
        raise ValueError("For 'valid' mode, one of image and kernel must be at least as large "
                         "as the other in every dimension")
    return not ok_as_is


def correlate2d(image, kernel, mode="full", boundary="fill", fillvalue=0):
    """2-D cross-correlation matching ``scipy.signal.correlate2d``.

    image: (H, W); kernel: (kh, kw).  out[i, j] = sum_{ky, kx} kernel[ky, kx] * ipad[i + ky, j + kx]
    where ipad is the image padded with ``boundary`` ('fill' with ``fillvalue``, 'wrap',
    'symm' = np.pad 'symmetric'):
      full:  pad k-1 on both sides, output (H + kh - 1, W + kw - 1);
      same:  pad (k-1)//2 before and k//2 after, output (H, W);
      valid: no padding, output (H - kh + 1, W - kw + 1).  If the kernel is larger than the
             image in every dim, scipy swaps the two and flips the result in both axes.
    """
    image, kernel, fillvalue = _scipy_args(image, kernel, mode, boundary, fillvalue)
    (kh, kw) = kernel.shape
    if mode == "valid":
        if _valid_mode_swap(image, kernel):
            flipped = _correlate_padded(kernel, image, ((0, 0), (0, 0)), boundary, fillvalue)[::-1, ::-1]
            return np.ascontiguousarray(flipped).astype(image.dtype)
        pads = ((0, 0), (0, 0))
    elif mode == "same":
        pads = (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2))
    else:
        pads = ((kh - 1, kh - 1), (kw - 1, kw - 1))
    return _correlate_padded(image, kernel, pads, boundary, fillvalue).astype(image.dtype)


def convolve2d(image, kernel, mode="full", boundary="fill", fillvalue=0):
    """2-D convolution matching ``scipy.signal.convolve2d``: correlation with the kernel
    flipped in both axes.

    Output sizes as in correlate2d, except that in 'same' mode the flipped kernel is centred
    the other way for even sizes: the image is padded k//2 before and (k-1)//2 after.
    In 'valid' mode with a kernel larger than the image the two are swapped (convolution
    is symmetric, so no flip follows).
    """
    image, kernel, fillvalue = _scipy_args(image, kernel, mode, boundary, fillvalue)
    if mode == "valid" and _valid_mode_swap(image, kernel):
        image, kernel = kernel, image
    (kh, kw) = kernel.shape
    if mode == "valid":
        pads = ((0, 0), (0, 0))
    elif mode == "same":
        pads = ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2))
    else:
        pads = ((kh - 1, kh - 1), (kw - 1, kw - 1))
    return _correlate_padded(image, kernel[::-1, ::-1], pads, boundary, fillvalue).astype(image.dtype)


# --------------------------------------------------------------------------- pooling machinery


class _Axis(NamedTuple):
    """Windows along one spatial axis: output o reads input positions start[o] + t*step for
    t < n_taps, of which only those in [lo[o], hi[o]) count (lo/hi may be scalars)."""
    start: np.ndarray
    step: int
    n_taps: int
    lo: object
    hi: object


def _strided_axis(out_size, size, k, s, p, d):
    """Pool windows oy*s - p + t*d, t < k, clipped to the input [0, size)."""
    return _Axis(np.arange(out_size) * s - p, d, k, 0, size)


def _adaptive_axis(out_size, size):
    """Adaptive windows [floor(o*size/out), ceil((o+1)*size/out))."""
    bounds = np.array([_args.adaptive_window(o, size, out_size) for o in range(out_size)]).reshape(out_size, 2)
    lo, hi = bounds[:, 0], bounds[:, 1]
    return _Axis(lo, 1, int((hi - lo).max()), lo, hi)


def _window_taps(rows, cols):
    """Walk the pool windows tap by tap in row-major window order.

    Yields (iy, ix, valid) where iy (OH, 1) and ix (1, OW) are the input coordinates of this
    tap for every output (out-of-window positions replaced by 0 so they can be indexed) and
    valid (OH, OW) says which outputs really have this tap inside their window.
    """
    for ty in range(rows.n_taps):
        iy = rows.start + ty * rows.step
        vy = (iy >= rows.lo) & (iy < rows.hi)
        for tx in range(cols.n_taps):
            ix = cols.start + tx * cols.step
            vx = (ix >= cols.lo) & (ix < cols.hi)
            yield np.where(vy, iy, 0)[:, None], np.where(vx, ix, 0)[None, :], vy[:, None] & vx[None, :]


def _window_sum(x, rows, cols):
    """Sum of x (N, C, H, W) over each window (taps outside [lo, hi) count as 0), in float64."""
    acc = np.zeros(x.shape[:2] + (len(rows.start), len(cols.start)))
    x = x.astype(np.float64)
    for iy, ix, valid in _window_taps(rows, cols):
        acc += np.where(valid, x[:, :, iy, ix], 0.0)
    return acc


def _window_max(x, rows, cols):
    """Max of x (N, C, H, W) over each window and its flat index iy*W + ix, with PyTorch's rule.

    Scanning each window in row-major order from best = -inf, a value is taken if it is the
    first in-window value, or ``val > best``, or NaN.  So ties keep the first position, a NaN
    propagates and the last NaN's index wins.  An empty window gives -inf and index -1.
    """
    width = x.shape[-1]
    shape = x.shape[:2] + (len(rows.start), len(cols.start))
    best = np.full(shape, -np.inf, dtype=x.dtype)
    index = np.full(shape, -1, dtype=np.int64)
    for iy, ix, valid in _window_taps(rows, cols):
        val = x[:, :, iy, ix]
        take = valid & ((index == -1) | (val > best) | np.isnan(val))
        best = np.where(take, val, best)
        index = np.where(take, iy * width + ix, index)
    return best, index


def _check_divisor_override(divisor_override):
    if divisor_override is None:
        return None
    divisor_override = _args.to_int(divisor_override, "divisor_override")
    if divisor_override <= 0:
        raise ValueError(f"divisor_override must be a positive int, got {divisor_override}")
    return divisor_override


def _check_bool(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(v).__name__}")
    return bool(v)


def _pool_1d_args(kernel_size, stride, padding, dilation=1):
    """Normalise 1-D pool arguments to the (1, k)-style pairs of the 2-D pools (stride None stays None)."""
    (k,) = _args.positive_tuple(kernel_size, 1, "kernel_size")
    no_stride = stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
    s = None if no_stride else (1, _args.positive_tuple(stride, 1, "stride")[0])
    (p,) = _args.nonnegative_tuple(padding, 1, "padding")
    (d,) = _args.positive_tuple(dilation, 1, "dilation")
    return (1, k), s, (0, p), (1, d)


# --------------------------------------------------------------------------- pools


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling, as ``torch.nn.functional.max_pool2d``.

    x: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW)), per spatial dim
        O = floor_or_ceil((size + 2p - d*(k-1) - 1) / s) + 1
    (in ceil_mode a last window starting inside the right padding is dropped).  Output
    (oy, ox) looks at rows oy*s - p + ky*d, ky < k (likewise columns), ignoring positions
    outside the input (padding is -inf).  Ties keep the first position in row-major window
    order; NaN propagates (the last NaN wins).  With return_indices also returns int64 flat
    indices iy*W + ix within each (n, c) plane.
    """
    xb, unbatched = _float_input(x, "x", 2)
    h, w = xb.shape[2:]
    kernel, stride, pad, dil, (out_h, out_w) = _args.pool_geometry(
        (h, w), kernel_size, stride, padding, dilation, ceil_mode, 2)
    return_indices = _check_bool(return_indices, "return_indices")
    rows = _strided_axis(out_h, h, kernel[0], stride[0], pad[0], dil[0])
    cols = _strided_axis(out_w, w, kernel[1], stride[1], pad[1], dil[1])
    values, indices = _window_max(xb, rows, cols)
    return _unbatch((values, indices) if return_indices else values, unbatched)


def _sum_and_avg_geometry(xb, kernel_size, stride, padding, ceil_mode):
    h, w = xb.shape[2:]
    kernel, stride, pad, _, out_sizes = _args.pool_geometry(
        (h, w), kernel_size, stride, padding, 1, ceil_mode, 2)
    rows = _strided_axis(out_sizes[0], h, kernel[0], stride[0], pad[0], 1)
    cols = _strided_axis(out_sizes[1], w, kernel[1], stride[1], pad[1], 1)
    return kernel, stride, pad, rows, cols


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` (PyTorch's CPU rule).

    x: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), O = floor_or_ceil((size + 2p - k) / s) + 1.
    Per output and dim: start = o*s - p; end = min(start + k, size + p); pool = end - start
    (before clipping); then start = max(start, 0), end = min(end, size).  The window sum
    (zero padding) is divided by divisor_override if given, else by pool_h*pool_w if
    count_include_pad, else by the clipped extent (end-start)_h * (end-start)_w.
    """
    xb, unbatched = _float_input(x, "x", 2)
    count_include_pad = _check_bool(count_include_pad, "count_include_pad")
    divisor_override = _check_divisor_override(divisor_override)
    kernel, stride, pad, rows, cols = _sum_and_avg_geometry(xb, kernel_size, stride, padding, ceil_mode)
    total = _window_sum(xb, rows, cols)
    divisor = _avg_divisors(rows, cols, xb.shape[2:], kernel, pad, count_include_pad, divisor_override)
    return _unbatch((total / divisor).astype(xb.dtype), unbatched)


def _avg_divisors(rows, cols, sizes, kernel, pad, count_include_pad, divisor_override):
    """avg_pool2d's divisor per output (OH, OW), float64 (the rule in avg_pool2d's docstring)."""
    if divisor_override is not None:
        return np.full((len(rows.start), len(cols.start)), float(divisor_override))
    extents = []
    for axis, size, k, p in zip((rows, cols), sizes, kernel, pad):
        end = np.minimum(axis.start + k, size + p)
        with_pad, clipped = end - axis.start, np.minimum(end, size) - np.maximum(axis.start, 0)
        extents.append(with_pad if count_include_pad else clipped)
    return (extents[0][:, None] * extents[1][None, :]).astype(np.float64)


def sum_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Sum pooling: the sum over each window clipped to the input (zero padding).

    x: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), O = floor_or_ceil((size + 2p - k) / s) + 1
    (geometry as avg_pool2d).
    """
    xb, unbatched = _float_input(x, "x", 2)
    _, _, _, rows, cols = _sum_and_avg_geometry(xb, kernel_size, stride, padding, ceil_mode)
    return _unbatch(_window_sum(xb, rows, cols).astype(xb.dtype), unbatched)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling, exactly ``torch.nn.functional.lp_pool2d``'s formula:

        a = avg_pool2d(x**p, k, stride, 0, ceil_mode)        (count_include_pad=True)
        out = (sign(a) * relu(|a|) * (kh*kw)) ** (1/p)

    x: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), O = floor_or_ceil((size - k) / s) + 1.
    norm_type p must be a finite positive real.
    """
    p = _args.real_scalar(norm_type, "norm_type")
    if not (np.isfinite(p) and p > 0):
        raise ValueError(f"norm_type must be a finite positive number, got {norm_type!r}")
    xb, unbatched = _float_input(x, "x", 2)
    kh, kw = _args.positive_tuple(kernel_size, 2, "kernel_size")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        powered = np.power(xb.astype(np.float64), p)
        a = avg_pool2d(powered, (kh, kw), stride, 0, ceil_mode).astype(np.float64)
        result = np.power(np.sign(a) * relu(np.abs(a)) * (kh * kw), 1.0 / p)
    return _unbatch(result.astype(xb.dtype), unbatched)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling over L, as ``torch.nn.functional.max_pool1d``; max_pool2d with H = 1.

    x: (N, C, L) or (C, L) -> (N, C, OL), OL = floor_or_ceil((L + 2p - d*(k-1) - 1) / s) + 1.
    Indices (if return_indices) are positions along L.
    """
    x4, unbatched = _to_1d_input(x, "x")
    k, s, p, d = _pool_1d_args(kernel_size, stride, padding, dilation)
    return _from_1d_output(max_pool2d(x4, k, s, p, d, ceil_mode, return_indices), unbatched)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling over L, as ``torch.nn.functional.avg_pool1d``; avg_pool2d with H = 1.

    x: (N, C, L) or (C, L) -> (N, C, OL), OL = floor_or_ceil((L + 2p - k) / s) + 1.
    """
    x4, unbatched = _to_1d_input(x, "x")
    k, s, p, _ = _pool_1d_args(kernel_size, stride, padding)
    return _from_1d_output(avg_pool2d(x4, k, s, p, ceil_mode, count_include_pad), unbatched)


def sum_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Sum pooling over L (zero padding); sum_pool2d with H = 1.

    x: (N, C, L) or (C, L) -> (N, C, OL), OL = floor_or_ceil((L + 2p - k) / s) + 1.
    """
    x4, unbatched = _to_1d_input(x, "x")
    k, s, p, _ = _pool_1d_args(kernel_size, stride, padding)
    return _from_1d_output(sum_pool2d(x4, k, s, p, ceil_mode), unbatched)


def _adaptive_axes(xb, output_size):
    h, w = xb.shape[2:]
    if h == 0 or w == 0:
        raise ValueError(f"x must have non-empty spatial dimensions for adaptive pooling, got shape {xb.shape}")
    out_h, out_w = _args.adaptive_output_size(output_size, (h, w), 2)
    return _adaptive_axis(out_h, h), _adaptive_axis(out_w, w)


def adaptive_avg_pool2d(x, output_size):
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    x: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) with (OH, OW) = output_size (an int, or a
    pair whose None entries keep the input size).  Output o averages input positions
    [floor(o*size/O), ceil((o+1)*size/O)) in each dim.
    """
    xb, unbatched = _float_input(x, "x", 2)
    rows, cols = _adaptive_axes(xb, output_size)
    counts = (rows.hi - rows.lo)[:, None] * (cols.hi - cols.lo)[None, :]  # window sizes
    return _unbatch((_window_sum(xb, rows, cols) / counts).astype(xb.dtype), unbatched)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Windows as adaptive_avg_pool2d; max, tie and NaN rule and flat int64 indices iy*W + ix
    as max_pool2d.  Returns (out, indices) if return_indices.
    """
    xb, unbatched = _float_input(x, "x", 2)
    return_indices = _check_bool(return_indices, "return_indices")
    rows, cols = _adaptive_axes(xb, output_size)
    values, indices = _window_max(xb, rows, cols)
    return _unbatch((values, indices) if return_indices else values, unbatched)


def global_avg_pool2d(x):
    """Mean over H and W: (N, C, H, W) -> (N, C, 1, 1), (C, H, W) -> (C, 1, 1)."""
    return adaptive_avg_pool2d(x, 1)


def global_max_pool2d(x):
    """Max over H and W (NaN propagates): (N, C, H, W) -> (N, C, 1, 1), (C, H, W) -> (C, 1, 1)."""
    return adaptive_max_pool2d(x, 1)


# --------------------------------------------------------------------------- activation


def relu(x, out=None):
    """max(x, 0) elementwise, any shape; NaN stays NaN and -0.0 stays -0.0 (as torch.relu)."""
    x = _args.as_float_array(x, "x")
    return _write_out(np.where(x < 0, np.zeros((), x.dtype), x), out)


# --------------------------------------------------------------------------- channels-last layout


def _with_layout(fn):
    """Adds ``layout="NCHW" | "NHWC"`` to a 2-D operator written for NCHW: NHWC input (N, H, W, C)
    or (H, W, C) is transposed to NCHW, computed, and every result transposed back (then
    written into ``out`` if one is given)."""

    @functools.wraps(fn)
    def wrapped(x, *args, layout="NCHW", out=None, **kwargs):
        if out is not None:
            kwargs["out"] = out
        if not _args.is_nhwc(layout):
            return fn(x, *args, **kwargs)
        kwargs.pop("out", None)
        xa = _args.as_float_array(x, "x")
        _args.check_ndim(xa, "x", (3, 4), "(N, H, W, C) or (H, W, C)")
        to_nchw, back = ((0, 3, 1, 2), (0, 2, 3, 1)) if xa.ndim == 4 else ((2, 0, 1), (1, 2, 0))
        result = fn(np.transpose(xa, to_nchw), *args, **kwargs)
        if isinstance(result, tuple):
            return tuple(np.ascontiguousarray(np.transpose(r, back)) for r in result)
        return _write_out(np.ascontiguousarray(np.transpose(result, back)), out)

    return wrapped


conv2d = _with_layout(conv2d)
max_pool2d = _with_layout(max_pool2d)
avg_pool2d = _with_layout(avg_pool2d)
sum_pool2d = _with_layout(sum_pool2d)
lp_pool2d = _with_layout(lp_pool2d)
adaptive_avg_pool2d = _with_layout(adaptive_avg_pool2d)
adaptive_max_pool2d = _with_layout(adaptive_max_pool2d)
global_avg_pool2d = _with_layout(global_avg_pool2d)
global_max_pool2d = _with_layout(global_max_pool2d)

from ._reference_backward import *  # noqa: E402,F401,F403  (the backward passes, defined over this module's helpers)
from ._reference_blur import *  # noqa: E402,F401,F403  (the anti-aliased pools)
