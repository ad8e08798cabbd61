"""No leaks: every public op's calls (leak_calls.py: good calls, out= or return_indices=True,
and bad calls raising every other time), repeated, keep the inputs' reference counts, keep no
reference to their results, and grow neither traced memory, nor malloc's, nor the RSS."""

import sys
import tracemalloc

import numpy as np
import pytest

import fastconv
from leak_calls import MAKERS, alternate
from process_memory import GLIBC_LINUX, malloc_bytes, rss_bytes, settle, traced_bytes

OPS = pytest.mark.parametrize("make", MAKERS, ids=[make.__name__.removesuffix("_calls") for make in MAKERS])

REFCOUNT_CALLS = 1000  # a reference kept by one kind of call shows as 250

# tracemalloc sees Python objects and NumPy's buffers, the same whatever the microkernel set,
# and the RSS is the summary: those run on the default set only (a direct parametrization
# replaces conftest's backend fixture). The C++ memory that differs by set is malloc's.
DEFAULT_BACKEND_ONLY = pytest.mark.parametrize("backend", [fastconv.backend()])

# Bounds, from measurements on every op and backend of no leak against a leak of one small
# array (the result) per call of one kind, a quarter of the calls, each reading after settle():
#
# Traced memory (not C++ memory such as relu's 16 KB results): no leak adds 0 bytes; the leak
# adds 168 bytes per array (relu: its ndarray object) to 600, >= 84 KB over TRACED_CALLS.
# 4 KB: 21 times below the smallest leak.
TRACED_CALLS = 2000
TRACED_BOUND = 4 * 1024

# Memory handed out by malloc (C and C++ allocations, NumPy's buffers and array dimensions):
# no leak adds 0 bytes; the leak adds 122 bytes per array (global pools) to 535 (16.5 KB for
# relu's), >= 122 KB over MALLOC_CALLS. 16 KB: 7 times below the smallest leak, and half of
# what leaking malloc's smallest block (32 bytes) per call of one kind would add.
MALLOC_CALLS = 4000
MALLOC_BOUND = 16 * 1024

# RSS: no leak adds 0 to 28 KB; the leak adds 75 bytes per array (global pools) to 545, and
# 16 KB for relu's: 368 KB to 2.7 MB over RSS_CALLS, 80 MB for relu. 128 KB: 2.9 times below
# the smallest leak, 4.5 times above the noise. Only while Python's allocator has no free
# memory to put the leaked objects in: memory that earlier tests freed can hide some from the
# RSS, never from the two bounds above.
RSS_CALLS = 20000
RSS_BOUND = 128 * 1024


def warm_up(calls):
    """Each kind of call a few times: the argument caches and per-thread workspaces fill once."""
    alternate(calls, 8 * len(calls.bad))


def refcounts(arrays):
    return {name: sys.getrefcount(array) for name, array in arrays.items()}


def extra_references(result, inputs=()):
    """References to each new array of ``result`` (an array or a tuple of arrays; ``inputs``,
    e.g. out=, left out) and to each object down its base chain, besides the one holding it
    (the caller, whose reference is now ``result``; a view, for its base). All 0 unless
    something else, e.g. a cache inside fastconv, keeps it."""
    chain = []  # (object, how many others hold it)
    for part in result if isinstance(result, tuple) else (result,):
        obj, holders = part, 0
        while obj is not None and not any(obj is a for a in inputs):
            chain.append((obj, holders))
            obj, holders = getattr(obj, "base", None), 1
    del result, part, obj
    # besides the holders: the tuple in chain, the name obj, and getrefcount's argument
    return [sys.getrefcount(obj) - 3 - holders for obj, holders in chain]


def test_the_table_has_every_public_op():
    ops = {name for name in fastconv.__all__ if getattr(fastconv, name).__module__ != "fastconv._config"}
    assert {make().op for make in MAKERS} == ops


def test_extra_references_counts_a_kept_array_and_a_kept_base():
    kept = [np.empty(3), np.empty((2, 3))]
    counts = [extra_references(np.empty(3)), extra_references((np.empty(3), np.empty((2, 3))[1])),
              extra_references(kept[0]), extra_references(kept[1][0])]
    assert counts == [[0], [0, 0, 0], [1], [0, 1]]


@OPS
def test_bad_calls_raise_where_the_table_says(make):
    raised_by = []

    def record_extension_exceptions(frame, event, function):
        if event == "c_exception" and getattr(function, "__module__", None) == "fastconv._core":
            raised_by.append(function.__name__)

    for bad in make().bad:
        raised_by.clear()
        sys.setprofile(record_extension_exceptions)
        try:
            with pytest.raises(bad.raises):
                bad.call()
        finally:
            sys.setprofile(None)
        assert raised_by == ([] if bad.raised_by == "Python" else [bad.raised_by]), bad.wrong


@OPS
def test_calls_leave_the_inputs_refcounts_unchanged(make):
    calls = make()
    warm_up(calls)
    before = refcounts(calls.arrays)
    alternate(calls, REFCOUNT_CALLS)
    assert refcounts(calls.arrays) == before


@OPS
def test_results_are_referenced_by_the_caller_only(make):
    calls = make()
    warm_up(calls)
    inputs = tuple(calls.arrays.values())
    # counted before the assert: pytest's assertion rewriting keeps the values in it
    good, second = extra_references(calls.good(), inputs), extra_references(calls.second(), inputs)
    assert (good, second) == ([0] * len(good), [0] * len(second)), calls.second_kind


@DEFAULT_BACKEND_ONLY
@OPS
def test_calls_do_not_grow_traced_memory(make, backend):
    calls = make()
    warm_up(calls)
    tracemalloc.start()
    try:
        warm_up(calls)  # blocks allocated before start() are not traced, and neither are their frees
        settle()
        before = traced_bytes()
        alternate(calls, TRACED_CALLS)
        settle()
        growth = traced_bytes() - before
    finally:
        tracemalloc.stop()
    assert growth <= TRACED_BOUND, f"{growth} bytes more traced after {TRACED_CALLS} calls"


GLIBC_LINUX_ONLY = pytest.mark.skipif(not GLIBC_LINUX, reason="reads glibc's malloc statistics and /proc/self/statm")


@GLIBC_LINUX_ONLY
@OPS
def test_calls_do_not_grow_malloc(make):
    calls = make()
    warm_up(calls)
    settle()
    before = malloc_bytes()
    alternate(calls, MALLOC_CALLS)
    settle()
    growth = malloc_bytes() - before
    assert growth <= MALLOC_BOUND, f"malloc holds {growth} bytes more after {MALLOC_CALLS} calls"


@GLIBC_LINUX_ONLY
@pytest.mark.skipif("address" in fastconv._core.sanitizers,
                    reason="AddressSanitizer keeps freed memory in quarantine (RSS grows by design); "
                           "LeakSanitizer checks the same run for leaks")
@DEFAULT_BACKEND_ONLY
@OPS
def test_calls_keep_the_rss_flat(make, backend):
    calls = make()
    warm_up(calls)
    settle()
    before = rss_bytes()
    alternate(calls, RSS_CALLS)
    settle()
    growth = rss_bytes() - before
    assert growth <= RSS_BOUND, f"RSS grew by {growth // 1024} KB over {RSS_CALLS} calls"
