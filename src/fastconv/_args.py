"""Argument normalisation and validation shared by the public API and the reference.

Everything here is pure Python on small tuples: shapes, strides, paddings and the
output-size formulas.  Errors name the argument and what was expected.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_STRINGS = {"valid": "valid", "narrow": "valid", "same": "same", "full": "full", "wide": "full"}
ACTIVATIONS = (None, "relu")
ALGORITHMS = ("auto", "direct", "im2col", "im2col_nhwc", "winograd", "batched")
LAYOUTS = ("NCHW", "NHWC")
GRAD_NAMES = ("input", "weight", "bias")  # what a convolution backward computes, in this order

# The extension computes sizes in 64-bit signed arithmetic. Every size it computes is a product
# of dimensions that appear together in one of the formulas that check_sizes bounds, or a sum
# of two such sizes, and every integer argument is bounded the same way: below 2**62, nothing
# it computes can overflow.
SIZE_LIMIT = 2 ** 62


def array_view(x):
    """x as a NumPy array without a copy where its memory allows: an ndarray (or memmap) as
    it is, an object with ``__dlpack__`` (a CPU torch tensor, JAX or CuPy host arrays) through
    ``numpy.from_dlpack``, else ``numpy.asarray`` (the buffer protocol, ``__array__``, lists)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__") and not isinstance(x, type):
        try:
            return np.from_dlpack(x)
        except (TypeError, ValueError, BufferError, RuntimeError, AttributeError):
            pass  # e.g. a tensor that requires grad, or on another device: asarray says why
    return np.asarray(x)


def as_float_array(x, name):
    """x as an array (``array_view``: no copy) if it holds float32 or float64, else TypeError
    (never a cast)."""
    try:
        arr = array_view(x)
    except Exception as exc:  # objects numpy cannot convert at all
        raise TypeError(f"{name} must be an array of float32 or float64, got {type(x).__name__}") from exc
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    return arr


def same_dtype(name_a, a, name_b, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{name_b} has dtype {b.dtype} but {name_a} has dtype {a.dtype}; they must match")


def check_ndim(arr, name, allowed, shape_text):
    if arr.ndim not in allowed:
        raise ValueError(f"{name} must be {shape_text}, got an array of shape {arr.shape}")


def to_int(v, name):
    """An exact integer (Python or NumPy int, not bool, not float), below 2**62 in magnitude."""
    if type(v) is not int:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        v = operator.index(v)
    if not -SIZE_LIMIT < v < SIZE_LIMIT:
        raise OverflowError(f"{name} must be below 2**62 in magnitude, got {v}")
    return v


def real_scalar(v, name):
    """v as a Python float: a real number, or a one-element array of one; bool is refused
    (True as a fill value is a slip, not a number)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        arr = np.asarray(v) if isinstance(v, (np.ndarray, np.generic)) else None
        if arr is None or arr.size != 1 or arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) \
                or np.iscomplexobj(arr):
            raise TypeError(f"{name} must be a real number, got {v!r}")
        v = arr.item()
    return float(v)


def check_sizes(*formulas):
    """OverflowError unless each formula, a (what, dimensions) pair, multiplies out below
    SIZE_LIMIT with every zero dimension counted as 1 (so that no partial product overflows,
    in whatever order the extension multiplies, even when the array is empty)."""
    for what, dims in formulas:
        elements = math.prod(max(d, 1) for d in dims)
        if elements >= SIZE_LIMIT:
            raise OverflowError(f"the {what} ({' x '.join(map(str, dims))} = {elements}) would be beyond 2**62, "
                                f"the limit of fastconv's 64-bit size arithmetic")


def ntuple(v, n, name):
    """An int or a sequence of n ints -> tuple of n ints."""
    if type(v) is int:
        return (to_int(v, name),) * n
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
        return tuple(to_int(e, name) for e in v)
    return (to_int(v, name),) * n


def positive_tuple(v, n, name):
    t = ntuple(v, n, name)
    if any(e <= 0 for e in t):
        raise ValueError(f"{name} must be positive, got {v!r}")
    return t


def nonnegative_tuple(v, n, name):
    t = ntuple(v, n, name)
    if any(e < 0 for e in t):
        raise ValueError(f"{name} must be non-negative, got {v!r}")
    return t


def choice(v, name, allowed):
    if v not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {v!r}")
    return v


def check_winograd(algorithm, kernel, stride, dilation, groups):
    """algorithm="winograd" is F(4x4, 3x3): a 2-D 3x3 kernel, stride 1, dilation 1, one group."""
    if algorithm == "winograd" and not (tuple(kernel) == (3, 3) and tuple(stride) == (1, 1)
                                        and tuple(dilation) == (1, 1) and groups == 1):
        raise ValueError(f"algorithm='winograd' is F(4x4, 3x3): it needs a 3x3 conv2d kernel, stride 1, "
                         f"dilation 1 and groups=1; got kernel {tuple(kernel)}, stride {tuple(stride)}, "
                         f"dilation {tuple(dilation)}, groups={groups}")


def effective_kernel(k, d):
    """Extent of a dilated kernel: d*(k-1)+1."""
    return d * (k - 1) + 1


# --------------------------------------------------------------------------- convolution


def conv_padding(padding, in_sizes, kernel, stride, dilation, name="padding"):
    """Per-side padding ``((before, after), ...)``, one pair per spatial dim.

    Accepted: an int; one int per dim; one (before, after) pair per dim; for 1-D also a bare
    (before, after); the strings "valid"/"narrow" (no padding), "same" (output size
    ceil(in/stride), the odd pixel of padding at the end), "full"/"wide" (d*(k-1) each side).
    """
    n = len(in_sizes)
    if isinstance(padding, str):
        mode = PADDING_STRINGS.get(padding)
        if mode is None:
            raise ValueError(
                f"{name} must be an int, a tuple, or one of {', '.join(map(repr, PADDING_STRINGS))}; got {padding!r}")
        if mode == "valid":
            return ((0, 0),) * n
        if mode == "full":
            if 0 in kernel:
                raise ValueError(f"{name}={padding!r} pads dilation*(k-1) on each side: it needs a kernel of at "
                                 f"least one tap per axis, got kernel size {tuple(kernel)}")
            return tuple((d * (k - 1),) * 2 for k, d in zip(kernel, dilation))
        pads = []
        for size, k, s, d in zip(in_sizes, kernel, stride, dilation):
            out = -(-size // s)
            total = max((out - 1) * s + effective_kernel(k, d) - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, (list, tuple)):
        if all(isinstance(p, (list, tuple)) for p in padding) and len(padding) == n:
            pairs = tuple(tuple(p) for p in padding)
            if any(len(p) != 2 for p in pairs):
                raise ValueError(f"{name} as per-side pairs must be {n} pairs (before, after); got {padding!r}")
        elif n == 1 and len(padding) == 2 and not any(isinstance(p, (list, tuple)) for p in padding):
            pairs = (tuple(padding),)
        else:
            t = ntuple(padding, n, name)
            pairs = tuple((p, p) for p in t)
    else:
        p = to_int(padding, name)
        pairs = ((p, p),) * n
    pairs = tuple((to_int(a, name), to_int(b, name)) for a, b in pairs)
    if any(a < 0 or b < 0 for a, b in pairs):
        raise ValueError(f"{name} must be non-negative, got {padding!r}")
    return pairs


def conv_output_size(size, pad, k, s, d):
    """floor((size + before + after - d*(k-1) - 1) / s) + 1."""
    return (size + pad[0] + pad[1] - effective_kernel(k, d)) // s + 1


def conv_output_sizes(in_sizes, pads, kernel, stride, dilation, name="weight"):
    outs = []
    for size, pad, k, s, d in zip(in_sizes, pads, kernel, stride, dilation):
        if effective_kernel(k, d) > size + pad[0] + pad[1]:
            raise ValueError(
                f"{name}: the dilated kernel ({effective_kernel(k, d)}) is larger than the padded input "
                f"({size + pad[0] + pad[1]}) along a spatial dimension")
        outs.append(conv_output_size(size, pad, k, s, d))
    return tuple(outs)


def check_groups(groups, c_in, k_out, c_per_group_weight, x_name="x", w_name="weight"):
    groups = to_int(groups, "groups")
    if groups <= 0:
        raise ValueError(f"groups must be positive, got {groups}")
    if c_in % groups:
        raise ValueError(f"{x_name} has {c_in} channels, not divisible by groups={groups}")
    if k_out % groups:
        raise ValueError(f"{w_name} has {k_out} output channels, not divisible by groups={groups}")
    if c_in // groups != c_per_group_weight:
        raise ValueError(
            f"{w_name} expects {c_per_group_weight * groups} input channels (shape[1]={c_per_group_weight} "
            f"x groups={groups}) but {x_name} has {c_in}")
    return groups


def conv_transpose_geometry(x_shape, w_shape, groups, stride, padding, output_padding, dilation):
    """Validated (groups, K, stride, padding, dilation, output sizes) of conv_transpose2d with
    x (N, C, H, W) and weight (C, K/groups, kh, kw); per spatial dim the output size is
    (size - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1."""
    groups = to_int(groups, "groups")
    if groups <= 0:
        raise ValueError(f"groups must be positive, got {groups}")
    c_in = x_shape[1]
    if c_in % groups:
        raise ValueError(f"x has {c_in} channels, not divisible by groups={groups}")
    if w_shape[0] != c_in:
        raise ValueError(f"weight must have shape (C={c_in}, K/groups, kh, kw) matching x's channels, got {w_shape}")
    if 0 in x_shape[2:]:
        raise ValueError(f"x must have non-empty spatial dims (as PyTorch: only the batch or channel axis may be 0), "
                         f"got shape {tuple(x_shape)}")
    stride = positive_tuple(stride, 2, "stride")
    dilation = positive_tuple(dilation, 2, "dilation")
    pad = nonnegative_tuple(padding, 2, "padding")
    out_pad = nonnegative_tuple(output_padding, 2, "output_padding")
    for op, s, d in zip(out_pad, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(
                f"output_padding ({output_padding!r}) must be smaller than either stride ({s}) or dilation ({d})")
    out_sizes = tuple((size - 1) * s - 2 * p + effective_kernel(k, d) + op
                      for size, s, p, k, d, op in zip(x_shape[2:], stride, pad, w_shape[2:], dilation, out_pad))
    if any(o <= 0 for o in out_sizes):
        raise ValueError(f"padding {padding!r} is too large: the output size would be {out_sizes}")
    return groups, w_shape[1] * groups, stride, pad, dilation, out_sizes


# --------------------------------------------------------------------------- pooling


def pool_output_size(size, k, s, p, d, ceil_mode):
    """PyTorch's rule: floor or ceil of (size + 2p - d*(k-1) - 1)/s, plus 1; in ceil mode a
    last window that would start inside the right padding is dropped."""
    span = size + 2 * p - effective_kernel(k, d)
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def pool_geometry(in_sizes, kernel_size, stride, padding, dilation, ceil_mode, n):
    """Normalise pool arguments; returns (kernel, stride, padding, dilation, out_sizes)."""
    if any(size == 0 for size in in_sizes):
        raise ValueError(f"x must have non-empty spatial dimensions for pooling, got spatial shape {tuple(in_sizes)}")
    kernel = positive_tuple(kernel_size, n, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else positive_tuple(stride, n, "stride")
    pad = nonnegative_tuple(padding, n, "padding")
    dil = positive_tuple(dilation, n, "dilation")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be a bool, got {type(ceil_mode).__name__}")
    for k, p in zip(kernel, pad):
        if p > k // 2:  # PyTorch's rule, on the undilated kernel
            raise ValueError(f"padding ({p}) must be at most half of kernel_size ({k})")
    outs = []
    for size, k, s, p, d in zip(in_sizes, kernel, stride, pad, dil):
        if effective_kernel(k, d) > size + 2 * p:
            raise ValueError(
                f"kernel_size: the (dilated) pool window ({effective_kernel(k, d)}) is larger than the padded "
                f"input ({size + 2 * p})")
        outs.append(pool_output_size(size, k, s, p, d, bool(ceil_mode)))
    return kernel, stride, pad, dil, tuple(outs)


def adaptive_output_size(output_size, in_sizes, n):
    """An int or a tuple of ints / None (None keeps the input size), as in PyTorch."""
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != n:
            raise ValueError(f"output_size must be an int or a tuple of {n}, got {output_size!r}")
        sizes = tuple(s if o is None else to_int(o, "output_size") for o, s in zip(output_size, in_sizes))
    else:
        sizes = (to_int(output_size, "output_size"),) * n
    if any(o <= 0 for o in sizes):
        raise ValueError(f"output_size must be positive, got {output_size!r}")
    return sizes


def adaptive_window(i, in_size, out_size):
    """Window [start, end) of adaptive pooling output i: floor(i*in/out) .. ceil((i+1)*in/out)."""
    return (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)


# --------------------------------------------------------------------------- memoised geometry


_PLAIN_TYPES = frozenset((int, bool, str, type(None)))


def plain(*values):
    """True when every value is an exact int, bool, str or None: then an lru_cache(typed=True)
    key built from them cannot confuse 1 with True or 1.0 (nested tuples could)."""
    for v in values:
        if type(v) not in _PLAIN_TYPES:
            return False
    return True


def check_needs(needs):
    """``needs`` of a convolution backward: names among GRAD_NAMES (a bare name is one name),
    as a frozenset."""
    if isinstance(needs, str):
        needs = (needs,)
    try:
        names = tuple(needs)
    except TypeError:
        raise TypeError(f"needs must be a tuple of names among {GRAD_NAMES}, got {type(needs).__name__}") from None
    for name in names:
        choice(name, "needs", GRAD_NAMES)
    return frozenset(names)


def is_nhwc(layout):
    """Whether ``layout`` (checked: "NCHW" or "NHWC") is channels-last."""
    return choice(layout, "layout", LAYOUTS) == "NHWC"


def memoised(fn, shapes=1):
    """fn with a cache, used when its arguments after the first ``shapes`` (array shapes:
    tuples of exact ints) are plain (see plain())."""
    memo = functools.lru_cache(maxsize=1024, typed=True)(fn)

    @functools.wraps(fn)
    def call(*args):
        if plain(*args[shapes:]):
            try:
                return memo(*args)
            except TypeError:  # a shape given as a list (unhashable), or fn's own TypeError
                pass
        return fn(*args)

    return call


def _conv_geometry(in_sizes, kernel, stride, padding, dilation):
    """(stride, dilation, per-side pads, output sizes) of a convolution."""
    n = len(in_sizes)
    stride = positive_tuple(stride, n, "stride")
    dilation = positive_tuple(dilation, n, "dilation")
    pads = conv_padding(padding, in_sizes, kernel, stride, dilation)
    return stride, dilation, pads, conv_output_sizes(in_sizes, pads, kernel, stride, dilation)


conv_geometry = memoised(_conv_geometry, shapes=2)
pool_geometry_fast = memoised(pool_geometry)
