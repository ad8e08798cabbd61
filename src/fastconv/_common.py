"""Glue between validated arguments and the extension: contiguous inputs, outputs, batching."""

from __future__ import annotations

import math

import numpy as np

from . import _args, _core

# Results of at least this many bytes start on a 64-byte cache line (_core.empty_aligned):
# NumPy's buffers start 0-48 bytes past one, and the kernels' 64-byte vector stores (and the
# next layer's loads) that straddle two lines cost about twice as much (S4 NHWC: 1.11x).
# Smaller results are not worth the slower allocation (0.37 against 0.21 us).
ALIGN_FROM_BYTES = 16384


def allocator(shape, dtype):
    """The function that makes a result array of ``shape`` and ``dtype`` (called as f(shape, dtype))."""
    return _core.empty_aligned if math.prod(shape) * np.dtype(dtype).itemsize >= ALIGN_FROM_BYTES else np.empty


def new_array(shape, dtype):
    """An uninitialised result array, cache-line aligned when large."""
    return allocator(shape, dtype)(shape, np.dtype(dtype))


class PlanCache(dict):
    """What the extension call of a fully validated public call needs (output shape and
    scalars), keyed by its array shapes and dtypes and its other arguments, for repeated calls.

    A key may only be built from exact ints, bools, strs and None (the caller checks their
    types), so that equal keys mean equal arguments: 1.0, True and (1, 1) never reach a plan
    made for 1.  Bounded: cleared when full.
    """

    SIZE = 1024

    def remember(self, key, plan):
        if key is not None:
            if len(self) >= self.SIZE:
                self.clear()
            self[key] = plan


def is_kernel_ready(arr):
    """Whether the kernels may read ``arr`` in place: C-contiguous, and aligned to its element
    size (a view at an odd byte offset is not, and a misaligned float load is undefined in C++)."""
    flags = arr.flags
    return flags.c_contiguous and flags.aligned


def kernel_ready(arr):
    """``arr`` itself when is_kernel_ready, else a C-contiguous aligned copy."""
    return arr if is_kernel_ready(arr) else np.array(arr, order="C", copy=True)


def float_input(x, name, ndims, shape_text):
    """A C-contiguous aligned float32/float64 array with one of ``ndims`` dimensions (copied only if needed)."""
    arr = _args.as_float_array(x, name)
    _args.check_ndim(arr, name, ndims, shape_text)
    return kernel_ready(arr)


def optional_bias(bias, k, like):
    if bias is None:
        return None
    b = _args.as_float_array(bias, "bias")
    _args.same_dtype("x", like, "bias", b)
    if b.shape != (k,):
        raise ValueError(f"bias must have shape ({k},) (one value per output channel), got {b.shape}")
    return kernel_ready(b)


def output(out, shape, dtype, inputs, allow_same=()):
    """A new array of ``shape``, or ``out`` checked to be exactly that (never a silent copy).

    ``out`` is an ndarray or any writeable object with ``__dlpack__`` or the buffer protocol
    (a CPU torch tensor, a memoryview of a bytearray), written through a NumPy view of its
    memory. It must not overlap any array in ``inputs``, except that it may be one of
    ``allow_same`` itself (in-place elementwise ops).
    """
    if out is None:
        return new_array(shape, dtype)
    if not isinstance(out, np.ndarray):
        if isinstance(out, (list, tuple)) or not (hasattr(out, "__dlpack__") or _has_buffer(out)):
            raise TypeError(f"out must be a numpy.ndarray or an object exposing __dlpack__ or the buffer "
                            f"protocol, got {type(out).__name__}")
        out = _args.array_view(out)
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"out must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    if not out.flags.aligned:
        raise ValueError(f"out must be aligned: its data address must be a multiple of {out.itemsize} bytes")
    for arr in inputs:
        if arr is None or any(out is a for a in allow_same):
            continue
        if np.may_share_memory(out, arr) and np.shares_memory(out, arr):
            raise ValueError("out must not overlap the input arrays")
    return out


def _has_buffer(obj):
    try:
        memoryview(obj).release()
        return True
    except TypeError:
        return False


def add_batch(x, batched_ndim):
    """(x with a leading batch axis, whether one was added) for unbatched input."""
    if x.ndim == batched_ndim:
        return x, False
    return x[np.newaxis], True


def drop_batch(result, added):
    if not added:
        return result
    if isinstance(result, tuple):
        return tuple(r[0] for r in result)
    return result[0]
