"""Array inputs for the fuzz tests: an ArraySpec says what to build (hypothesis draws it and
prints it in a falsifying example), ``build`` makes it over a byte buffer that the fuzz
checks afterwards to prove the call did not write to its inputs."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided

GOOD_DTYPES = ("float32", "float64")
# Wrong dtypes must raise TypeError. ">f4"/">f8" are byte-swapped floats (not equal to
# float32/float64); "float32+meta" is float32 with dtype metadata: equal to float32.
WRONG_DTYPES = ("float16", "int32", "int64", "bool", "complex64", "object", "uint8", "longdouble", ">f4", ">f8")
ODD_DTYPES = ("float32+meta", "float64+meta")
SMALL_DIMS = (0, 1, 2, 3, 4, 5, 7, 9)
HUGE_DIMS = (2**31, 2**31 + 1, 2**40, 2**60, 2**62, 2**63 - 1)  # cut to what NumPy can describe
LAYOUTS = ("C", "F", "step2", "negative", "permuted", "broadcast")
VALUES = ("uniform", "special", "ties", "wide")
# What is passed instead of an array: handled by ``build`` before any buffer is made.
NOT_ARRAYS = ("list", "scalar", "int", "none", "string", "ragged", "zero-d")


def numpy_dtype(name):
    if name.endswith("+meta"):
        return np.dtype(name[:-len("+meta")], metadata={"fuzz": 1})
    return np.dtype(name)


@dataclasses.dataclass(frozen=True)
class ArraySpec:
    shape: tuple
    dtype: str = "float64"
    layout: str = "C"
    values: str = "uniform"
    seed: int = 0
    readonly: bool = False
    offset: int = 0  # bytes from the buffer's start to the data: not a multiple of the itemsize = misaligned
    kind: str = "array"  # or one of NOT_ARRAYS

    @property
    def huge(self):
        return any(d > 2**20 for d in self.shape)

    @property
    def small(self):
        """Cheap enough to hand to the NumPy reference."""
        return not self.huge and math.prod(self.shape) <= 4096


class Built:
    """The value passed to the function, and the buffers (uint8) its data lives in."""

    def __init__(self, value, buffers=()):
        self.value = value
        self.buffers = list(buffers)


def fill_values(kind, size, seed):
    rng = np.random.default_rng(seed)
    if kind == "ties":
        v = rng.integers(-1, 2, size).astype(np.float64)
        v[(v == 0) & (rng.uniform(size=size) < 0.5)] = -0.0
        return v
    if kind == "wide":  # log-uniform 1e-30 .. 1e4 with signs, a few subnormals and zeros
        v = np.exp(rng.uniform(np.log(1e-30), np.log(1e4), size)) * rng.choice([-1.0, 1.0], size)
        v[rng.uniform(size=size) < 0.05] = 1e-41
        v[rng.uniform(size=size) < 0.05] = -0.0
        return v
    v = rng.uniform(-1.0, 1.0, size)
    if kind == "special":
        u = rng.uniform(size=size)
        v[u < 0.08] = np.nan
        v[(u >= 0.08) & (u < 0.14)] = np.inf
        v[(u >= 0.14) & (u < 0.2)] = -np.inf
    return v


def _fill(arr, spec):
    if arr.size == 0:
        return
    v = fill_values(spec.values, arr.size, spec.seed).reshape(arr.shape)
    with np.errstate(all="ignore"):  # inf * 1j, and casts out of range of the dtype
        if arr.dtype.kind == "c":
            arr[...] = v + 1j * v[::-1] if v.ndim else v
        elif arr.dtype.kind in "iub":
            arr[...] = np.nan_to_num(v * 3, posinf=7, neginf=-7).astype(arr.dtype)
        else:
            arr[...] = v


def _strided_view(buffer, spec, dtype, shape):
    """A view of ``shape`` in ``buffer`` laid out as spec.layout says (not yet filled)."""
    def array(shape, order="C"):
        return np.ndarray(shape, dtype, buffer=buffer, offset=spec.offset, order=order)

    every = (Ellipsis,)  # keeps a 0-d result an array
    if spec.layout == "F":
        return array(shape, "F")
    if spec.layout == "step2":
        return array(tuple(2 * d for d in shape))[every + (slice(None, None, 2),) * len(shape)]
    if spec.layout == "negative":
        return array(shape)[every + (slice(None, None, -1),) * len(shape)]
    if spec.layout == "permuted":
        order = np.random.default_rng(spec.seed).permutation(len(shape))
        return array(tuple(shape[i] for i in order)).transpose(np.argsort(order))
    return array(shape)


def _buffer_bytes(spec, itemsize):
    n = math.prod(spec.shape)
    if spec.layout == "step2":
        n = math.prod(2 * d for d in spec.shape)
    return n * itemsize + spec.offset + 64


def _not_an_array(spec):
    dtype = numpy_dtype(spec.dtype) if spec.dtype in GOOD_DTYPES else np.float64
    shape = tuple(min(d, 9) for d in spec.shape)  # a nested list cannot claim a huge shape for free
    values = fill_values(spec.values, math.prod(shape), spec.seed).reshape(shape).astype(dtype)
    return {
        "list": lambda: values.tolist(),
        "scalar": lambda: float(values.ravel()[0]) if values.size else 1.5,
        "int": lambda: 3,
        "none": lambda: None,
        "string": lambda: "x",
        "ragged": lambda: [[1.0, 2.0], [3.0]],
        "zero-d": lambda: np.asarray(values.ravel()[0] if values.size else 1.5, dtype),
    }[spec.kind]()


def build(spec):
    """The input an ArraySpec describes, as a Built."""
    if spec.kind != "array":
        return Built(_not_an_array(spec))
    dtype = numpy_dtype(spec.dtype)
    if dtype.hasobject:  # NumPy cannot put objects in a byte buffer
        arr = np.empty(1 if spec.huge else spec.shape, dtype)
        _fill(arr, spec)
        if spec.huge:
            return Built(as_strided(arr, shape=spec.shape, strides=(0,) * len(spec.shape), writeable=False))
        arr.flags.writeable = not spec.readonly
        return Built(arr)
    if spec.huge or spec.layout == "broadcast":
        # One element claims the whole shape through zero strides: no memory is used.
        buffer = np.zeros(spec.offset + dtype.itemsize + 64, np.uint8)
        one = np.ndarray((1,), dtype, buffer=buffer, offset=spec.offset)
        _fill(one, spec)
        view = as_strided(one, shape=spec.shape, strides=(0,) * len(spec.shape), writeable=False)
        return Built(view, [buffer])
    buffer = np.zeros(_buffer_bytes(spec, dtype.itemsize), np.uint8)
    view = _strided_view(buffer, spec, dtype, spec.shape)
    _fill(view, spec)
    if spec.readonly:
        view.flags.writeable = False
    return Built(view, [buffer])


# --------------------------------------------------------------------------- strategies
# Strategy factories are cached: Hypothesis validates every new strategy object on its first
# draw, which would otherwise cost more than the fuzzed call itself.

cached = functools.lru_cache(maxsize=4096)
_CHOICE_INDEX = {}


def _index(draw, weights):
    total = sum(weights)
    if total not in _CHOICE_INDEX:
        _CHOICE_INDEX[total] = st.integers(0, total - 1)
    i = draw(_CHOICE_INDEX[total])
    for n, w in enumerate(weights):
        if i < w:
            return n
        i -= w
    raise AssertionError("unreachable")


def pick(draw, *choices):
    """One of the values of (weight, value) pairs; shrinks towards the first."""
    return choices[_index(draw, [w for w, _ in choices])][1]


def weighted(draw, *choices):
    """A draw from one of the strategies of (weight, strategy) pairs; shrinks towards the first."""
    return draw(pick(draw, *choices))


@st.composite
def _mixture(draw, choices):
    return weighted(draw, *choices)


@cached
def mixture(*choices):
    """The strategy of weighted(): (weight, strategy) pairs."""
    return _mixture(choices)


@cached
def float_dtypes(names=GOOD_DTYPES):
    return st.sampled_from(names)


@cached
def dims():
    """One dimension: mostly small, rarely huge."""
    return mixture((97, st.sampled_from(SMALL_DIMS)), (3, st.sampled_from(HUGE_DIMS)))


@cached
def any_shape():
    return st.lists(dims(), min_size=0, max_size=5).map(tuple)


def describable(shape, itemsize):
    """Whether NumPy can make an array of this shape (its byte count fits in an intp)."""
    nbytes = itemsize
    for d in shape:
        nbytes *= max(d, 1)
    return nbytes < 2**63


def _describable_shape(shape, itemsize):
    """``shape`` with huge dims cut down until NumPy can make it."""
    for cap in (None, 2**60, 2**40, 2**31, 1):
        cut = shape if cap is None else tuple(min(d, cap) for d in shape)
        if describable(cut, itemsize):
            return cut
    raise AssertionError("unreachable")


_OTHER_DTYPES = st.sampled_from(WRONG_DTYPES + GOOD_DTYPES)
_NOT_ARRAYS = st.sampled_from(NOT_ARRAYS)
_LAYOUTS = st.sampled_from(LAYOUTS)
_VALUES = st.sampled_from(VALUES)
_SEEDS = st.integers(0, 2**16)
_ONE_IN_FIVE = st.integers(0, 4)
_BYTE_OFFSETS = st.integers(1, 63)
_COIN = st.booleans()


@cached
@st.composite
def array_specs(draw, shape, dtype):
    """An input meant to have ``shape`` and ``dtype``: mostly exactly that in a random memory
    layout; sometimes another dtype, another rank, or not an array at all."""
    kind = "array"
    mutation = pick(draw, (85, None), (5, "dtype"), (4, "shape"), (6, "kind"))
    if mutation == "dtype":
        dtype = draw(_OTHER_DTYPES)
    elif mutation == "shape":
        shape = draw(any_shape())
    elif mutation == "kind":
        kind = draw(_NOT_ARRAYS)
    itemsize = numpy_dtype(dtype).itemsize
    offset = pick(draw, (60, 0), (40, None))
    if offset is None:  # bytes (misaligned) or whole items (aligned, not on a cache line)
        offset = draw(_BYTE_OFFSETS) * (itemsize if draw(_COIN) else 1)
    layout = draw(_LAYOUTS) if pick(draw, (40, False), (60, True)) else "C"
    return ArraySpec(_describable_shape(tuple(shape), itemsize), dtype, layout, draw(_VALUES), draw(_SEEDS),
                     draw(_ONE_IN_FIVE) == 4, offset, kind)
