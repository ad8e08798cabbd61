"""out= arguments for the fuzz tests: the array an OutSpec describes, and whether the
documented contract makes it valid."""

from __future__ import annotations

import math

import numpy as np

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # NumPy < 2
    byte_bounds = np.byte_bounds


class Subclass(np.ndarray):
    pass


def _overlapping(shape, dtype, target, array):
    """An array of ``shape`` in the buffer of input ``target`` (a fuzz_arrays.Built) that
    shares memory with its data ``array``, or None when there is none (empty data, or a
    buffer too small)."""
    nbytes = math.prod(shape) * dtype.itemsize
    if target is None or not target.buffers or not isinstance(array, np.ndarray) or array.size == 0 or nbytes == 0:
        return None
    buffer = target.buffers[0]
    offset = min(byte_bounds(array)[0] - buffer.ctypes.data, buffer.nbytes - nbytes)
    if offset < 0:
        return None
    out = np.ndarray(shape, dtype, buffer=buffer, offset=offset)
    return out if np.shares_memory(out, array) else None


def make_out(spec, like, built, args):
    """The out= array an OutSpec describes, for a result ``like``; ``built`` and ``args`` are
    the call's inputs (for "self" and "overlap")."""
    shape, dtype, kind = like.shape, like.dtype, spec.kind
    if kind == "self":
        return args[0]
    if kind == "list":
        return like.ravel()[:8].tolist()
    if kind == "overlap":
        out = _overlapping(shape, dtype, built.get(spec.target), args[spec.target])
        if out is not None:
            return out
    if kind == "wrong-shape":
        shape = shape[:-1] + (shape[-1] + 1,) if shape else (1,)
        if math.prod(shape) > 2**20:  # a result claiming 2**31 rows of nothing: not gigabytes of out
            shape = (1,) * (len(shape) - 1) + (2,)
    if kind == "wrong-dtype":
        dtype = np.dtype(np.float64 if dtype == np.float32 else np.float32)
    if kind == "noncontiguous" and shape:
        return np.full(shape[:-1] + (2 * shape[-1],), 7.0, dtype)[..., ::2]
    if kind == "misaligned":
        buffer = np.zeros(math.prod(shape) * dtype.itemsize + 64, np.uint8)
        out = np.ndarray(shape, dtype, buffer=buffer, offset=1 + spec.target % 63)
        out[...] = 7.0
        return out
    out = np.full(shape, 7.0, dtype)
    if kind == "readonly":
        out.flags.writeable = False
    if kind == "fortran":
        out = np.asfortranarray(out)
    if kind == "subclass":
        out = out.view(Subclass)
    return out


def out_is_valid(out, like, inputs, may_be_x):
    """The documented contract: an ndarray of the result's shape and dtype, C-contiguous,
    aligned, writeable, sharing no memory with an input (relu: unless it is x itself,
    ``may_be_x``)."""
    if not isinstance(out, np.ndarray) or out.dtype != like.dtype or out.shape != like.shape:
        return False
    if not (out.flags.c_contiguous and out.flags.aligned and out.flags.writeable):
        return False
    if may_be_x and out is inputs[0]:
        return True
    return not any(isinstance(a, np.ndarray) and np.shares_memory(out, a) for a in inputs)
