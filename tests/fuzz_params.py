"""Scalar arguments for the fuzz tests: mostly sensible values, sometimes edge values, huge
integers and values of the wrong type."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from fuzz_arrays import cached, mixture, pick

HUGE_INTS = (2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**62, 2**63 - 1, 2**63, 2**64, -2**63)
# Values of the wrong type or meaning for an int / tuple / string argument.
JUNK = (None, True, False, 1.0, 2.5, float("nan"), float("inf"), -1, 0, "same", "valid", "full", "bogus", "", "1.5",
        (), [], (1, 2, 3), [1, [2]], ((1, 2), (3,)), np.int64(2), np.int32(1), np.uint64(2**63), np.float64(2.0),
        np.bool_(True), np.array([1, 2]), np.array(2), 1j, b"same", {"a": 1})

_INT_TYPES = st.sampled_from((int, int, int, np.int64, np.intp))
_SEQUENCE_TYPES = st.sampled_from((tuple, list))
_COIN = st.booleans()
_WRONG_LENGTHS = {n: st.sampled_from([m for m in (0, 1, 2, 3) if m != n]) for n in (1, 2)}


@cached
def junk():
    return st.sampled_from(JUNK)


@cached
@st.composite
def ints(draw, low, high):
    """An exact int, or the same value as a NumPy integer."""
    return draw(_INT_TYPES)(draw(st.integers(low, high)))


@cached
@st.composite
def int_param(draw, n, low=1, high=4):
    """An int or n-tuple argument (stride, dilation, kernel_size, ...): valid in [low, high]
    mostly; sometimes zero or negative, huge, a tuple of the wrong length, or junk."""
    kind = pick(draw, (70, "valid"), (10, "edge"), (8, "huge"), (4, "length"), (8, "junk"))
    if kind == "junk":
        return draw(junk())
    values = {"valid": ints(low, high), "edge": st.integers(-3, 0), "length": ints(low, high),
              "huge": mixture((1, st.sampled_from(HUGE_INTS)), (1, ints(low, high)))}[kind]
    if kind != "length" and draw(_COIN):
        return draw(values)
    length = draw(_WRONG_LENGTHS[n]) if kind == "length" else n
    return draw(_SEQUENCE_TYPES)(draw(values) for _ in range(length))


_PADDING_STRINGS = st.sampled_from(("valid", "narrow", "same", "full", "wide", "bogus", "SAME"))
_HUGE_OR_EDGE = st.sampled_from(HUGE_INTS + (-1, 0, 1))


@cached
@st.composite
def conv_padding(draw, n):
    """conv padding: an int, per-dim ints, (before, after) pairs, a padding string, or bad values."""
    kind = pick(draw, (40, "int"), (25, "pairs"), (20, "string"), (15, "junk"))
    if kind == "int":
        return draw(int_param(n, 0, 3))
    if kind == "string":
        return draw(_PADDING_STRINGS)
    if kind == "junk":
        return draw(junk())
    before = ints(0, 3) if pick(draw, (90, True), (10, False)) else _HUGE_OR_EDGE
    pair = st.tuples(before, ints(0, 3))
    if n == 1 and draw(_COIN):
        return draw(pair)  # conv1d's bare (left, right)
    return tuple(draw(pair) for _ in range(n))


_BAD_CHOICES = ("bogus", None, 0, True)


@cached
def choice(valid, extra=()):
    """One of the valid values of a string argument, or a bad one."""
    return mixture((90, st.sampled_from(valid)), (10, st.sampled_from(_BAD_CHOICES + extra)))


@cached
def flag():
    """A bool argument: a bool mostly, sometimes a NumPy bool, an int or None."""
    return mixture((90, st.booleans()), (10, st.sampled_from((np.True_, np.False_, 0, 1, None, "yes"))))


class _Omit:
    def __repr__(self):
        return "OMIT"


OMIT = _Omit()


@cached
def maybe(strategy):
    """Leave the argument out (its default), or pass a value from ``strategy``."""
    return st.one_of(st.just(OMIT), strategy)
