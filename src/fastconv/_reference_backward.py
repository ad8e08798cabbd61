"""Plain NumPy backward passes (gradients) of the reference operators, re-exported by
``fastconv.reference``: the oracle the compiled backward kernels will be tested against.

Each ``<op>_backward`` takes ``grad_out``, the gradient of a loss with respect to the op's
output (of exactly that output's shape, dtype and layout), plus whatever the op needs to
recompute its geometry, and returns the gradient with respect to the op's inputs, defined as
``torch.autograd`` defines it for the same ``torch.nn.functional`` op (the adjoint of the
linear ops; for max pools, relu and lp_pool2d the same subgradient choices as PyTorch).

- Arithmetic is in float64; results have the input's dtype (float32 or float64).
- Batched and unbatched inputs as in the forwards; 2-D ops take ``layout="NHWC"`` (keyword),
  in which case ``grad_out``, ``x``/``x_shape``, saved indices and the input gradient are all
  channels-last (a conv weight and its gradient keep ``(K, C/groups, kh, kw)``).
- Pool backwards that need only the input's shape take ``x_shape`` (for example ``x.shape``).
- ``conv2d_backward``, ``conv1d_backward`` and ``conv_transpose2d_backward`` return a dict
  holding exactly the gradients named in ``needs``, in the order "input", "weight", "bias";
  every other function returns the one input gradient.
- Arguments are validated as the forwards validate them; a ``grad_out`` whose shape is not
  the forward output's is refused with a ValueError that names the expected shape.
"""

from __future__ import annotations

import math

import numpy as np

from . import _args
from .reference import (_NP_PAD_MODES, _adaptive_axis, _avg_divisors, _check_bool, _check_divisor_override, _conv_operands,
                        _float_input, _pad_spatial, _pool_1d_args, _sliding_view, _strided_axis,
                        _to_1d_input, _unbatch, _window_sum, _window_taps)

__all__ = [
    "conv2d_backward", "conv1d_backward", "conv_transpose2d_backward",
    "max_pool2d_backward", "max_pool1d_backward", "adaptive_max_pool2d_backward", "global_max_pool2d_backward",
    "avg_pool2d_backward", "avg_pool1d_backward", "sum_pool2d_backward", "sum_pool1d_backward",
    "lp_pool2d_backward", "adaptive_avg_pool2d_backward", "global_avg_pool2d_backward", "relu_backward",
]

GRAD_NAMES = _args.GRAD_NAMES

_NCHW_FROM_NHWC = {4: (0, 3, 1, 2), 3: (2, 0, 1)}
_NHWC_FROM_NCHW = {4: (0, 2, 3, 1), 3: (1, 2, 0)}


# --------------------------------------------------------------------------- layout and shapes


def _user_shape(nchw_shape, unbatched, nhwc):
    """A batched NCHW shape as the caller sees it: channels-last if nhwc, batch axis dropped if unbatched."""
    shape = tuple(nchw_shape)
    if nhwc:
        shape = (shape[0],) + shape[2:] + (shape[1],)
    return shape[1:] if unbatched else shape


def _layout_input(x, name, nhwc):
    """A float array given in the caller's layout, as NCHW (transposed only if nhwc)."""
    x = _args.as_float_array(x, name)
    if not nhwc:
        return x
    _args.check_ndim(x, name, (3, 4), "(N, H, W, C) or (H, W, C)")
    return np.transpose(x, _NCHW_FROM_NHWC[x.ndim])


def _to_caller(grad, unbatched, nhwc, dtype):
    """A batched NCHW float64 gradient -> the caller's layout, batchedness and dtype."""
    if nhwc:
        grad = np.transpose(grad, _NHWC_FROM_NCHW[4])
    return np.ascontiguousarray(_unbatch(grad, unbatched).astype(dtype))


def _x_shape(x_shape, n_spatial, nhwc=False):
    """``x_shape`` (the forward input's shape, in the caller's layout) -> (batched NCHW / NCL
    shape, whether it was unbatched)."""
    if not isinstance(x_shape, (tuple, list)):
        raise TypeError(f"x_shape must be a tuple of ints (the input's shape), got {type(x_shape).__name__}")
    dims = tuple(_args.to_int(d, "x_shape") for d in x_shape)
    if len(dims) not in (n_spatial + 1, n_spatial + 2):
        text = "(N, C, L) or (C, L)" if n_spatial == 1 else \
            "(N, H, W, C) or (H, W, C)" if nhwc else "(N, C, H, W) or (C, H, W)"
        raise ValueError(f"x_shape must be {text}, got {x_shape!r}")
    if any(d < 0 for d in dims):
        raise ValueError(f"x_shape must be non-negative, got {x_shape!r}")
    unbatched = len(dims) == n_spatial + 1
    if unbatched:
        dims = (1,) + dims
    if nhwc:
        dims = (dims[0], dims[-1]) + dims[1:-1]
    return dims, unbatched


def _grad_out(grad_out, expected_shape, dtype=None, what="the forward output"):
    """grad_out as a float array of exactly ``expected_shape`` (and ``dtype`` when given)."""
    grad_out = _args.as_float_array(grad_out, "grad_out")
    if dtype is not None and grad_out.dtype != dtype:
        raise TypeError(f"grad_out has dtype {grad_out.dtype} but x has dtype {np.dtype(dtype)}; they must match")
    if grad_out.shape != tuple(expected_shape):
        raise ValueError(f"grad_out must have shape {_shape_text(expected_shape)} ({what}), got {grad_out.shape}")
    return grad_out


def _shape_text(shape):
    """A shape for a message; unknown sizes are given by name, e.g. (2, 3, OH, OW)."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _batched_nchw(arr, unbatched, nhwc):
    """An array in the caller's layout (already shape-checked) -> batched NCHW."""
    if unbatched:
        arr = arr[np.newaxis]
    return np.transpose(arr, _NCHW_FROM_NHWC[4]) if nhwc else arr


# --------------------------------------------------------------------------- convolution


def _pad_adjoint(grad_padded, sizes, pads, padding_mode):
    """The adjoint of ``_pad_spatial`` on the last two axes: each padded position's gradient is
    added to the input position it copies (zero padding copies nothing)."""
    np_mode = _NP_PAD_MODES[padding_mode]
    grad = grad_padded
    for axis, size, pad in zip((2, 3), sizes, pads):
        source = _pad_spatial(np.arange(size), [pad], np_mode, fill=-1)   # input index per padded position
        copied = source >= 0
        folded = np.zeros(grad.shape[:axis] + (size,) + grad.shape[axis + 1:])
        np.add.at(folded, (slice(None),) * axis + (source[copied],), np.compress(copied, grad, axis=axis))
        grad = folded
    return grad


class _ConvProblem:
    """A validated conv2d call: batched NCHW x and weight (float64), stride, dilation, groups,
    per-side pads, padding mode and output sizes."""

    def __init__(self, x, weight, stride, padding, dilation, groups, padding_mode):
        xb, self.unbatched, weight = _conv_operands(x, weight, "(K, C/groups, kh, kw)")
        self.dtype = xb.dtype
        self.stride = _args.positive_tuple(stride, 2, "stride")
        self.dilation = _args.positive_tuple(dilation, 2, "dilation")
        self.groups = _args.check_groups(groups, xb.shape[1], weight.shape[0], weight.shape[1])
        self.pads = _args.conv_padding(padding, xb.shape[2:], weight.shape[2:], self.stride, self.dilation)
        self.padding_mode = _args.choice(padding_mode, "padding_mode", _args.PADDING_MODES)
        self.out_sizes = _args.conv_output_sizes(xb.shape[2:], self.pads, weight.shape[2:], self.stride,
                                                 self.dilation)
        self.x, self.weight = xb.astype(np.float64), weight.astype(np.float64)

    @property
    def out_shape(self):
        return (self.x.shape[0], self.weight.shape[0]) + self.out_sizes

    def grads(self, grad_out, needs):
        """{name: float64 gradient} for the names in ``needs``; grad_out is batched NCHW."""
        n, k_out = grad_out.shape[:2]
        # grouped views, as in reference.conv2d: (N, G, K/G, OH, OW) and (G, K/G, C/G, kh, kw)
        go = grad_out.astype(np.float64).reshape(n, self.groups, k_out // self.groups, *self.out_sizes)
        wg = self.weight.reshape(self.groups, k_out // self.groups, *self.weight.shape[1:])
        grads = {}
        if "input" in needs:
            grads["input"] = self._input_grad(go, wg)
        if "weight" in needs:
            grads["weight"] = self._weight_grad(go).reshape(self.weight.shape)
        if "bias" in needs:
            grads["bias"] = go.sum(axis=(0, 3, 4)).reshape(k_out)
        return grads

    def _taps(self, arr):
        """(ky, kx, view of ``arr``'s padded planes at tap (ky, kx) for every output position)."""
        for ky in range(self.weight.shape[2]):
            for kx in range(self.weight.shape[3]):
                yield ky, kx, _sliding_view(arr, ky, kx, *self.out_sizes, self.stride, self.dilation)

    def _padded_shape(self):
        n, c_in, h, w = self.x.shape
        (top, bottom), (left, right) = self.pads
        return n, self.groups, c_in // self.groups, h + top + bottom, w + left + right

    def _input_grad(self, go, wg):
        """dL/dx: each tap's weights carry grad_out back to the padded input, then the padding's adjoint."""
        grad_xp = np.zeros(self._padded_shape())
        for ky, kx, view in self._taps(grad_xp):
            view += np.einsum("ngkhw,gkc->ngchw", go, wg[..., ky, kx])
        n, c_in, h, w = self.x.shape
        return _pad_adjoint(grad_xp.reshape(n, c_in, *grad_xp.shape[3:]), (h, w), self.pads, self.padding_mode)

    def _weight_grad(self, go):
        """dL/dweight (G, K/G, C/G, kh, kw): per tap, grad_out against the input pixels it met."""
        xp = _pad_spatial(self.x, self.pads, _NP_PAD_MODES[self.padding_mode]).reshape(self._padded_shape())
        grad_w = np.zeros(go.shape[1:3] + self.weight.shape[1:])
        for ky, kx, patch in self._taps(xp):
            grad_w[..., ky, kx] = np.einsum("ngkhw,ngchw->gkc", go, patch)
        return grad_w


def _ordered(grads, dtype, convert_input):
    """The dict returned to the caller: GRAD_NAMES order, the input dtype, the input gradient
    passed through ``convert_input`` (layout / batch axis)."""
    out = {}
    for name in GRAD_NAMES:
        if name in grads:
            grad = convert_input(grads[name]) if name == "input" else grads[name]
            out[name] = np.ascontiguousarray(grad.astype(dtype))
    return out


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    padding_mode="zeros", needs=GRAD_NAMES, layout="NCHW"):
    """Gradients of ``conv2d(x, weight, bias, stride, padding, dilation, groups,
    padding_mode=..., layout=...)`` (no activation: apply relu_backward first).

    grad_out: the output's shape, (N, K, OH, OW) or (K, OH, OW) (NHWC: (N, OH, OW, K) or
    (OH, OW, K)).  Returns a dict with the keys of ``needs``:
        "input":  dL/dx, x's shape.  Padding is part of the op: the gradient at a padded
                  position is added to the input position it copies (reflect / replicate /
                  circular), or dropped (zeros).
        "weight": dL/dweight, (K, C/groups, kh, kw).
        "bias":   dL/dbias = grad_out summed over N, OH, OW, (K,) (the bias itself is not
                  needed: the gradient does not depend on it).
    """
    nhwc = _args.is_nhwc(layout)
    conv = _ConvProblem(_layout_input(x, "x", nhwc), weight, stride, padding, dilation, groups, padding_mode)
    needs = _args.check_needs(needs)
    expected = _user_shape(conv.out_shape, conv.unbatched, nhwc)
    grad_out = _grad_out(grad_out, expected, conv.dtype, "the conv2d output for these arguments")
    grads = conv.grads(_batched_nchw(grad_out, conv.unbatched, nhwc), needs)
    return _ordered(grads, conv.dtype, lambda g: _to_caller(g, conv.unbatched, nhwc, conv.dtype))


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    padding_mode="zeros", needs=GRAD_NAMES):
    """Gradients of ``conv1d`` (conv2d_backward with H = 1), as a dict with the keys of ``needs``.

    grad_out: (N, K, OL) or (K, OL).  "input" has x's shape (N, C, L) or (C, L), "weight"
    (K, C/groups, k), "bias" (K,).
    """
    x4, unbatched = _to_1d_input(x, "x")
    weight = _args.as_float_array(weight, "weight")
    _args.check_ndim(weight, "weight", (3,), "(K, C/groups, k)")
    (s,) = _args.positive_tuple(stride, 1, "stride")
    (d,) = _args.positive_tuple(dilation, 1, "dilation")
    (pad,) = _args.conv_padding(padding, (x4.shape[-1],), (weight.shape[-1],), (s,), (d,))
    conv = _ConvProblem(x4, weight[:, :, np.newaxis, :], (1, s), ((0, 0), pad), (1, d), groups, padding_mode)
    needs = _args.check_needs(needs)
    n, k, _, out_l = conv.out_shape
    grad_out = _grad_out(grad_out, (k, out_l) if unbatched else (n, k, out_l), conv.dtype,
                         "the conv1d output for these arguments")
    grad_out = (grad_out[np.newaxis] if unbatched else grad_out)[:, :, np.newaxis, :]
    grads = conv.grads(grad_out, needs)
    if "weight" in grads:
        grads["weight"] = grads["weight"][:, :, 0, :]
    return _ordered(grads, conv.dtype, lambda g: _unbatch(g[:, :, 0, :], unbatched))


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                              needs=GRAD_NAMES):
    """Gradients of ``conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups,
    dilation)``, as a dict with the keys of ``needs``.

    grad_out: the output's shape (N, K, OH, OW) or (K, OH, OW).  "input" has x's shape
    (N, C_in, H, W) or (C_in, H, W); "weight" (C_in, K/groups, kh, kw); "bias" (K,).  Since
    the forward adds x[n, c, iy, ix] * weight[c, k', ky, kx] to output position
    iy*s + ky*d - p (per dim; dropped outside the output), dL/dx and dL/dweight read
    grad_out at those positions (zero outside it); rows or columns added by output_padding
    reach only the bias gradient.
    """
    xb, unbatched, weight = _conv_operands(x, weight, "(C_in, K/groups, kh, kw)")
    groups, k_out, stride, pad, dilation, out_sizes = _args.conv_transpose_geometry(
        xb.shape, weight.shape, groups, stride, padding, output_padding, dilation)
    needs = _args.check_needs(needs)
    n, c_in, h, w = xb.shape
    expected = _user_shape((n, k_out) + out_sizes, unbatched, False)
    grad_out = _grad_out(grad_out, expected, xb.dtype, "the conv_transpose2d output for these arguments")
    go = _batched_nchw(grad_out, unbatched, False).astype(np.float64)
    # grouped views, as in reference.conv_transpose2d
    xg = xb.astype(np.float64).reshape(n, groups, c_in // groups, h, w)
    wg = weight.astype(np.float64).reshape(groups, c_in // groups, *weight.shape[1:])
    taps = _transposed_taps(go, groups, weight.shape[2:], (h, w), stride, pad, dilation)
    grads = {}
    if "input" in needs:
        grad_x = np.zeros(xg.shape)
        for ky, kx, tap in taps():
            grad_x += np.einsum("ngkhw,gck->ngchw", tap, wg[..., ky, kx])
        grads["input"] = grad_x.reshape(xb.shape)
    if "weight" in needs:
        grad_w = np.zeros(wg.shape)
        for ky, kx, tap in taps():
            grad_w[..., ky, kx] = np.einsum("ngkhw,ngchw->gck", tap, xg)
        grads["weight"] = grad_w.reshape(weight.shape)
    if "bias" in needs:
        grads["bias"] = go.sum(axis=(0, 2, 3))
    return _ordered(grads, xb.dtype, lambda g: _unbatch(g, unbatched))


def _transposed_taps(go, groups, kernel, in_sizes, stride, pad, dilation):
    """A generator function of (ky, kx, grad_out at the output positions that tap (ky, kx) of
    every input pixel wrote to, (N, G, K/G, H, W)); positions the forward dropped read 0."""
    # the forward's uncropped buffer: output row r is buffer row r + p
    buf = _pad_spatial(go, [(pad[0], pad[0]), (pad[1], pad[1])], "constant")
    buf = buf.reshape(go.shape[0], groups, go.shape[1] // groups, *buf.shape[2:])

    def taps():
        for ky in range(kernel[0]):
            for kx in range(kernel[1]):
                yield ky, kx, _sliding_view(buf, ky, kx, *in_sizes, stride, dilation)

    return taps


# --------------------------------------------------------------------------- pooling machinery


def _window_scatter(grad, rows, cols, sizes):
    """The adjoint of reference._window_sum: each output's gradient (N, C, OH, OW) added to every
    input position of its window; returns (N, C, H, W) in float64."""
    out = np.zeros(grad.shape[:2] + tuple(sizes))
    grad = grad.astype(np.float64)
    for iy, ix, valid in _window_taps(rows, cols):
        np.add.at(out, (slice(None), slice(None), iy, ix), np.where(valid, grad, 0.0))
    return out


def _index_scatter(grad, indices, sizes):
    """Each output's gradient (N, C, OH, OW) added to the input position its flat index
    iy*W + ix names (index -1, an empty window, takes nothing); returns (N, C, H, W) float64."""
    n, c = grad.shape[:2]
    flat_shape = (n, c, math.prod(grad.shape[2:]))
    flat = indices.reshape(flat_shape)
    taken = flat >= 0
    out = np.zeros((n, c, math.prod(sizes)))
    planes = (np.arange(n)[:, None, None], np.arange(c)[None, :, None])
    np.add.at(out, (planes[0], planes[1], np.where(taken, flat, 0)),
              np.where(taken, grad.astype(np.float64).reshape(flat_shape), 0.0))
    return out.reshape((n, c) + tuple(sizes))


def _pool_axes(sizes, kernel_size, stride, padding, dilation, ceil_mode):
    """Validated pool geometry (as the forwards) -> (kernel, padding, row windows, column windows)."""
    kernel, stride, pad, dil, out_sizes = _args.pool_geometry(
        sizes, kernel_size, stride, padding, dilation, ceil_mode, 2)
    rows = _strided_axis(out_sizes[0], sizes[0], kernel[0], stride[0], pad[0], dil[0])
    cols = _strided_axis(out_sizes[1], sizes[1], kernel[1], stride[1], pad[1], dil[1])
    return kernel, pad, rows, cols


def _out_shape(shape, rows, cols):
    return tuple(shape[:2]) + (len(rows.start), len(cols.start))


# --------------------------------------------------------------------------- max pools


def _nonempty_planes(shape, x_shape):
    if 0 in shape[2:]:
        raise ValueError(f"x_shape must have non-empty spatial dimensions for pooling, got {x_shape!r}")


def _int_indices(indices, expected_shape, plane_size):
    """Saved max-pool indices: an integer array of grad_out's shape, each -1 or in [0, plane_size)."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer array (the int64 indices the forward returned), "
                        f"got dtype {indices.dtype}")
    if indices.shape != tuple(expected_shape):
        raise ValueError(f"indices must have grad_out's shape {tuple(expected_shape)}, got {indices.shape}")
    if indices.size and (indices.min() < -1 or indices.max() >= plane_size):
        raise ValueError(f"indices must be -1 or lie in [0, {plane_size}) (positions h*W + w in one input plane), "
                         f"got values from {indices.min()} to {indices.max()}")
    return indices.astype(np.int64)


def _free_size_grad_out(grad_out, shape, unbatched, nhwc, what):
    """grad_out of a pool whose output size is known only from grad_out itself (max pools from
    indices, adaptive pools): checked to have x's N and C, batchedness and layout."""
    grad_out = _args.as_float_array(grad_out, "grad_out")
    if grad_out.ndim == len(shape) - unbatched:
        sizes = _batched_nchw(grad_out, unbatched, nhwc).shape[2:]
    else:
        sizes = ("OH", "OW") if len(shape) == 4 else ("OL",)
    return _grad_out(grad_out, _user_shape(shape[:2] + tuple(sizes), unbatched, nhwc), what=what)


def _max_backward(grad_out, indices, x_shape, layout, what, out_sizes=None):
    """Shared body of the 2-D max pool backwards; ``out_sizes`` fixes (OH, OW) when known."""
    nhwc = _args.is_nhwc(layout)
    shape, unbatched = _x_shape(x_shape, 2, nhwc)
    _nonempty_planes(shape, x_shape)
    if out_sizes is None:
        grad_out = _free_size_grad_out(grad_out, shape, unbatched, nhwc, what)
    else:
        grad_out = _grad_out(grad_out, _user_shape(shape[:2] + tuple(out_sizes), unbatched, nhwc), what=what)
    indices = _int_indices(indices, grad_out.shape, shape[2] * shape[3])
    grad = _index_scatter(_batched_nchw(grad_out, unbatched, nhwc), _batched_nchw(indices, unbatched, nhwc),
                          shape[2:])
    return _to_caller(grad, unbatched, nhwc, grad_out.dtype)


def max_pool2d_backward(grad_out, indices, x_shape, *, layout="NCHW"):
    """Gradient of ``max_pool2d`` with respect to x, from the indices it returned.

    grad_out and indices: the forward output's shape (N, C, OH, OW) or (C, OH, OW) (NHWC:
    (N, OH, OW, C) or (OH, OW, C)); indices are the forward's int64 flat positions
    iy*W + ix in each input plane.  x_shape: x's shape (N and C must match grad_out's).
    Each output's gradient goes to the position its index names (summed where windows
    overlap); an index of -1 (a dilated window lying wholly in the padding, whose -inf does
    not depend on x) passes nothing on.
    """
    return _max_backward(grad_out, indices, x_shape, layout, "max_pool2d's output for x_shape")


def adaptive_max_pool2d_backward(grad_out, indices, x_shape, *, layout="NCHW"):
    """Gradient of ``adaptive_max_pool2d`` with respect to x, from the indices it returned;
    as max_pool2d_backward (the output size is grad_out's)."""
    return _max_backward(grad_out, indices, x_shape, layout, "adaptive_max_pool2d's output for x_shape")


def global_max_pool2d_backward(grad_out, indices, x_shape, *, layout="NCHW"):
    """Gradient of ``global_max_pool2d`` with respect to x: grad_out and indices (N, C, 1, 1)
    (or (C, 1, 1); NHWC (N, 1, 1, C) or (1, 1, C)), the indices of
    ``adaptive_max_pool2d(x, 1, return_indices=True)``."""
    return _max_backward(grad_out, indices, x_shape, layout, "global_max_pool2d's output", out_sizes=(1, 1))


def max_pool1d_backward(grad_out, indices, x_shape):
    """Gradient of ``max_pool1d`` with respect to x, from the indices (positions along L) it returned.

    grad_out and indices: (N, C, OL) or (C, OL); x_shape: (N, C, L) or (C, L).
    """
    shape, unbatched = _x_shape(x_shape, 1)
    _nonempty_planes(shape, x_shape)
    grad_out = _free_size_grad_out(grad_out, shape, unbatched, False, "max_pool1d's output for x_shape")
    indices = _int_indices(indices, grad_out.shape, shape[2])
    lift = (lambda a: a[np.newaxis, :, np.newaxis, :]) if unbatched else (lambda a: a[:, :, np.newaxis, :])
    grad = _index_scatter(lift(grad_out), lift(indices), (1, shape[2]))
    return np.ascontiguousarray(_unbatch(grad[:, :, 0, :], unbatched).astype(grad_out.dtype))


# --------------------------------------------------------------------------- sum, average and power pools


def _summing_pool_backward(grad_out, x_shape, kernel_size, stride, padding, ceil_mode, layout, what,
                           divisors=None):
    """Shared body of sum_pool2d_backward and avg_pool2d_backward: ``divisors(kernel, pad, rows,
    cols, sizes)`` gives the per-output divisor (None: a plain sum)."""
    nhwc = _args.is_nhwc(layout)
    shape, unbatched = _x_shape(x_shape, 2, nhwc)
    kernel, pad, rows, cols = _pool_axes(shape[2:], kernel_size, stride, padding, 1, ceil_mode)
    expected = _user_shape(_out_shape(shape, rows, cols), unbatched, nhwc)
    grad_out = _grad_out(grad_out, expected, what=what)
    grad = _batched_nchw(grad_out, unbatched, nhwc).astype(np.float64)
    if divisors is not None:
        grad = grad / divisors(kernel, pad, rows, cols, shape[2:])
    return _to_caller(_window_scatter(grad, rows, cols, shape[2:]), unbatched, nhwc, grad_out.dtype)


def sum_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False, *,
                        layout="NCHW"):
    """Gradient of ``sum_pool2d`` with respect to x: every output's gradient added to each input
    position of its window (padding takes nothing).  grad_out: the output's shape."""
    return _summing_pool_backward(grad_out, x_shape, kernel_size, stride, padding, ceil_mode, layout,
                                  "sum_pool2d's output for x_shape and these arguments")


def avg_pool2d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, *, layout="NCHW"):
    """Gradient of ``avg_pool2d`` with respect to x: every output's gradient divided by that
    output's divisor (divisor_override, or the window with or without padding, exactly as the
    forward) and added to each input position of its window.  grad_out: the output's shape."""
    count_include_pad = _check_bool(count_include_pad, "count_include_pad")
    divisor_override = _check_divisor_override(divisor_override)

    def divisors(kernel, pad, rows, cols, sizes):
        return _avg_divisors(rows, cols, sizes, kernel, pad, count_include_pad, divisor_override)

    return _summing_pool_backward(grad_out, x_shape, kernel_size, stride, padding, ceil_mode, layout,
                                  "avg_pool2d's output for x_shape and these arguments", divisors)


def _pool1d_backward(grad_out, x_shape, pool2d_backward, kernel_size, stride, padding, ceil_mode, *options):
    """A 1-D pool backward through its 2-D one with H = 1 (grad_out's shape checked in 1-D terms first)."""
    shape, unbatched = _x_shape(x_shape, 1)
    k, s, p, _ = _pool_1d_args(kernel_size, stride, padding)
    _, _, _, cols = _pool_axes((1, shape[2]), k, s, p, 1, ceil_mode)
    grad_out = _grad_out(grad_out, shape[unbatched:2] + (len(cols.start),),
                         what="the pool's output for x_shape and these arguments")
    x_shape_2d = shape[unbatched:2] + (1, shape[2])
    grad = pool2d_backward(grad_out[..., np.newaxis, :], x_shape_2d, k, s, p, ceil_mode, *options)
    return grad[..., 0, :]


def sum_pool1d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Gradient of ``sum_pool1d`` (sum_pool2d_backward with H = 1); grad_out (N, C, OL) or (C, OL)."""
    return _pool1d_backward(grad_out, x_shape, sum_pool2d_backward, kernel_size, stride, padding, ceil_mode)


def avg_pool1d_backward(grad_out, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of ``avg_pool1d`` (avg_pool2d_backward with H = 1); grad_out (N, C, OL) or (C, OL)."""
    return _pool1d_backward(grad_out, x_shape, avg_pool2d_backward, kernel_size, stride, padding, ceil_mode,
                            count_include_pad)


def lp_pool2d_backward(grad_out, x, norm_type, kernel_size, stride=None, ceil_mode=False, *, layout="NCHW"):
    """Gradient of ``lp_pool2d(x, norm_type, kernel_size, stride, ceil_mode)`` with respect to x.

    Needs x itself (the forward output is recomputed from it).  With p = norm_type, the forward is
        a = avg_pool2d(x**p) (no padding, count_include_pad),  u = sign(a)*relu(|a|)*kh*kw,
        out = u**(1/p),
    and the gradient is PyTorch's chain rule through exactly these steps:
        dL/da = dL/dout * (1/p) * u**(1/p - 1) * kh*kw   where a != 0, else 0,
        dL/dx = avg_pool2d_backward(dL/da) * p * x**(p - 1).
    So a window whose pooled value is 0 (a == 0: all its x**p zero, or cancelling) passes no
    gradient (relu's gradient at 0 is 0), although u**(1/p - 1) is infinite there when p > 1.
    As in PyTorch, an input x == 0 with p < 1 gets inf times its incoming gradient (NaN when
    that is 0); NaN propagates.
    """
    p = _args.real_scalar(norm_type, "norm_type")
    if not (np.isfinite(p) and p > 0):
        raise ValueError(f"norm_type must be a finite positive number, got {norm_type!r}")
    nhwc = _args.is_nhwc(layout)
    xb, unbatched = _float_input(_layout_input(x, "x", nhwc), "x", 2)
    kh, kw = _args.positive_tuple(kernel_size, 2, "kernel_size")
    kernel, pad, rows, cols = _pool_axes(xb.shape[2:], (kh, kw), stride, 0, 1, ceil_mode)
    expected = _user_shape(_out_shape(xb.shape, rows, cols), unbatched, nhwc)
    grad_out = _grad_out(grad_out, expected, xb.dtype, "the lp_pool2d output for x and these arguments")
    g = _batched_nchw(grad_out, unbatched, nhwc).astype(np.float64)
    x64 = xb.astype(np.float64)
    divisor = _avg_divisors(rows, cols, xb.shape[2:], kernel, pad, True, None)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a = _window_sum(x64 ** p, rows, cols) / divisor
        u = a * (kh * kw)                         # sign(a) * relu(|a|) is a itself
        grad_u = g * ((1.0 / p) * u ** (1.0 / p - 1.0)) * (kh * kw)
        # d(sign(a) * relu(|a|))/da = sign(a)**2 = 1, except that relu passes nothing where |a| == 0
        grad_a = np.where(a == 0, 0.0, grad_u)
        grad_x = _window_scatter(grad_a / divisor, rows, cols, xb.shape[2:]) * (p * x64 ** (p - 1.0))
    return _to_caller(grad_x, unbatched, nhwc, xb.dtype)


# --------------------------------------------------------------------------- adaptive and global average pools


def adaptive_avg_pool2d_backward(grad_out, x_shape, *, layout="NCHW"):
    """Gradient of ``adaptive_avg_pool2d`` with respect to x; the output size is grad_out's
    (OH, OW).  Output cell (oy, ox) averages rows floor(oy*H/OH) .. ceil((oy+1)*H/OH) - 1 (and
    likewise columns), so its gradient, divided by the cell's size, goes to each of them."""
    nhwc = _args.is_nhwc(layout)
    shape, unbatched = _x_shape(x_shape, 2, nhwc)
    _nonempty_planes(shape, x_shape)
    grad_out = _free_size_grad_out(grad_out, shape, unbatched, nhwc, "adaptive_avg_pool2d's output for x_shape")
    out_h, out_w = _args.adaptive_output_size(_batched_nchw(grad_out, unbatched, nhwc).shape[2:], shape[2:], 2)
    rows, cols = _adaptive_axis(out_h, shape[2]), _adaptive_axis(out_w, shape[3])
    counts = ((rows.hi - rows.lo)[:, None] * (cols.hi - cols.lo)[None, :]).astype(np.float64)
    grad = _batched_nchw(grad_out, unbatched, nhwc).astype(np.float64) / counts
    return _to_caller(_window_scatter(grad, rows, cols, shape[2:]), unbatched, nhwc, grad_out.dtype)


def global_avg_pool2d_backward(grad_out, x_shape, *, layout="NCHW"):
    """Gradient of ``global_avg_pool2d`` with respect to x: grad_out (N, C, 1, 1) (or (C, 1, 1);
    NHWC (N, 1, 1, C) or (1, 1, C)) divided by H*W, at every position."""
    nhwc = _args.is_nhwc(layout)
    shape, unbatched = _x_shape(x_shape, 2, nhwc)
    _grad_out(grad_out, _user_shape(shape[:2] + (1, 1), unbatched, nhwc), what="global_avg_pool2d's output")
    return adaptive_avg_pool2d_backward(grad_out, x_shape, layout=layout)


# --------------------------------------------------------------------------- activation


def relu_backward(grad_out, x):
    """Gradient of ``relu(x)`` with respect to x, any shape: grad_out where x > 0, else 0 (also
    at x == 0, as PyTorch); where x is NaN grad_out passes (PyTorch masks where relu(x) <= 0)."""
    x = _args.as_float_array(x, "x")
    grad_out = _grad_out(grad_out, x.shape, x.dtype, "x's shape")
    return np.where(x <= 0, np.zeros((), x.dtype), grad_out)
