"""Runs one fuzz Call and judges it.

A call must either return or raise TypeError, ValueError, MemoryError or OverflowError.
When it returns: the result has the input's dtype (indices int64) and shares no memory with
an input, the inputs' bytes are unchanged, a repeated call gives the same bits, and an out=
array is filled exactly when it is a valid one (fuzz_out). When the NumPy reference is cheap
(fuzz_compare.comparable) fastconv and the reference must agree: both raise, or both return
results that fuzz_compare.compare accepts.
"""

from __future__ import annotations

import collections
import contextlib

import numpy as np

import fastconv
import fuzz_report
from conftest import assert_exact, num_threads
from fastconv import reference as ref
from fuzz_arrays import build
from fuzz_calls import array_args
from fuzz_compare import comparable, compare, documented_refusal, lp_comparable
from fuzz_limits import bounded
from fuzz_out import make_out, out_is_valid

ACCEPTED = (TypeError, ValueError, MemoryError, OverflowError)

COUNTS = collections.defaultdict(collections.Counter)  # function name -> outcome -> calls
_calls = [0]


class Outcome:
    """What one call did: returned ``value``, or raised ``error`` (an accepted type)."""

    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    @property
    def returned(self):
        return self.error is None

    @property
    def results(self):
        if isinstance(self.value, dict):  # the convolution backwards: {gradient name: array}
            return list(self.value.values())
        return list(self.value) if isinstance(self.value, tuple) else [self.value]

    def __repr__(self):
        if not self.returned:
            return f"raised {self.error!r}"
        return "returned " + ", ".join(
            f"array(shape={r.shape}, dtype={r.dtype})" if isinstance(r, np.ndarray) else repr(r) for r in self.results)


def attempt(fn, args, kwargs, call):
    """Call fn under the memory cap and the watchdog; any exception outside ACCEPTED propagates."""
    try:
        with bounded(call):
            return Outcome(fn(*args, **kwargs))
    except ACCEPTED as error:
        return Outcome(error=error)


def _materialise(call):
    """(args, kwargs, {position or keyword: fuzz_arrays.Built}) with every ArraySpec built."""
    built = {key: build(spec) for key, spec in array_args(call)}
    args = tuple(built[i].value if i in built else a for i, a in enumerate(call.args))
    kwargs = {k: built[k].value if k in built else v for k, v in call.kwargs.items()}
    return args, kwargs, built


@contextlib.contextmanager
def _threads(n):
    if n is None:
        yield
    else:
        with num_threads(n):
            yield


def check_out(call, args, kwargs, built, first):
    """The call again with out=: filled and returned when out is valid, refused otherwise.
    Returns whether out was x itself and valid (relu in place: x was written)."""
    like = first.value if first.returned else np.zeros((1,))
    out = make_out(call.out, like, built, args)
    inputs = list(args) + [v for v in kwargs.values() if isinstance(v, np.ndarray)]
    valid = first.returned and out_is_valid(out, like, inputs, call.name == "relu")
    # x itself is covered by the inputs' snapshot (and may claim a huge shape: never copy it)
    before = np.array(out, copy=True) if isinstance(out, np.ndarray) and not valid and out is not args[0] else None
    second = attempt(getattr(fastconv, call.name), args, dict(kwargs, out=out), call)
    if not first.returned:
        assert not second.returned, f"with out= the call returned, without it it raised {first.error!r}"
    elif valid:
        assert second.returned, f"a valid out= was refused: {second.error!r}"
        assert second.value is out, "the result is not the out= array"
        assert_exact(np.asarray(out), first.value)
    else:
        assert not second.returned, "an invalid out= was accepted"
        assert isinstance(second.error, (TypeError, ValueError)), f"an invalid out= raised {second.error!r}"
        if before is not None and not any(np.shares_memory(out, b) for k in built for b in built[k].buffers):
            assert np.array_equal(out, before, equal_nan=True), "a refused out= was written to"
    return valid and out is args[0]


def _check_result(outcome, args, built):
    """dtype of the input (every gradient of a backward), indices int64, no memory shared with an input."""
    x = args[0]
    dtype = x.dtype if isinstance(x, np.ndarray) else np.asarray(x).dtype
    results = outcome.results
    assert all(isinstance(r, np.ndarray) for r in results), f"not arrays: {outcome}"
    assert all(r.dtype == dtype for r in results[:1 if isinstance(outcome.value, tuple) else None]), \
        f"result dtypes {[r.dtype for r in results]}, input dtype {dtype}"
    if isinstance(outcome.value, tuple):
        assert results[1].dtype == np.int64, f"indices dtype {results[1].dtype}"
    for r in results:
        for b in built.values():
            for buffer in b.buffers:
                assert not np.may_share_memory(r, buffer), "the result shares memory with an input"


def run(call):
    """Run one Call and assert everything this module's docstring promises; count it."""
    label = "failed"
    try:
        label = _run(call)
    finally:
        COUNTS[call.name][label] += 1
        _calls[0] += 1
        fuzz_report.checkpoint(COUNTS, _calls[0])


def _run(call):
    args, kwargs, built = _materialise(call)
    fn = getattr(fastconv, call.name)
    snapshot = {key: [(buf, buf.copy()) for buf in b.buffers] for key, b in built.items()}
    want = None
    if comparable(call):
        with np.errstate(all="ignore"):  # the reference's float64 arithmetic on inf and NaN
            want = attempt(getattr(ref, call.name), args, kwargs, call)
    with _threads(call.threads):
        got = attempt(fn, args, kwargs, call)
        if call.repeat:  # the second call may take a cached plan
            again = attempt(fn, args, kwargs, call)
            assert again.returned == got.returned, f"first call {got}, second call {again}"
            for a, b in zip(got.results if got.returned else [], again.results):
                assert_exact(b, a)
        written = call.out is not None and check_out(call, args, kwargs, built, got)  # relu(x, out=x)
    for key, buffers in snapshot.items():
        for buf, before in buffers:
            assert (written and key == 0) or np.array_equal(buf, before), "an input array was modified"
    if got.returned:
        _check_result(got, args, built)
    if want is None:
        return "returned" if got.returned else type(got.error).__name__
    if want.returned and documented_refusal(call, args, kwargs):
        assert isinstance(got.error, ValueError), f"fastconv {got} where it documents a ValueError"
        return "ValueError"
    assert got.returned == want.returned, f"fastconv {got}, the reference {want}"
    if not got.returned:
        return type(got.error).__name__
    if call.name in ("lp_pool2d", "lp_pool2d_backward") and not lp_comparable(args[call.name != "lp_pool2d":], kwargs):
        return "returned"
    with np.errstate(all="ignore"):
        compare(call.name, args, kwargs, got.value, want.value)
    return "checked"
