"""Thread and fork safety: concurrent calls from Python threads give the single-threaded results
bit for bit, a call releases the GIL while it runs, and fastconv works in a ThreadPoolExecutor and
in a worker process started after the parent used OpenMP."""

import concurrent.futures
import multiprocessing
import os
import sys
import threading
import time
import traceback
import types

import numpy as np
import pytest
from conftest import assert_exact, num_threads, random, special

import fastconv

CONCURRENT_THREADS = 8
CONCURRENT_SECONDS = 1.5  # per backend; every thread also makes at least one full pass over the table
PROCESS_TIMEOUT_S = 15  # a healthy worker takes ~0.1 s (fork) or ~1 s (spawn: a fresh interpreter)

# Every public op, with the options that select a different kernel. A call takes the arrays of one
# dtype (see op_inputs) and, when it accepts out=, a buffer of its result's shape.
OP_CALLS = {
    "conv2d auto, bias": lambda a, out: fastconv.conv2d(a.x, a.w3, a.bias, padding=1),
    "conv2d direct": lambda a, out: fastconv.conv2d(a.x, a.w3, padding=1, algorithm="direct"),
    "conv2d im2col, out=": lambda a, out: fastconv.conv2d(a.x, a.w3, padding=1, algorithm="im2col", out=out),
    "conv2d im2col_nhwc": lambda a, out: fastconv.conv2d(a.x, a.w3, padding=1, algorithm="im2col_nhwc"),
    "conv2d winograd, relu": lambda a, out: fastconv.conv2d(a.x, a.w3, padding=1, algorithm="winograd",
                                                            activation="relu"),
    "conv2d winograd, inf and NaN": lambda a, out: fastconv.conv2d(a.x_special, a.w3, padding=1,
                                                                   algorithm="winograd"),
    "conv2d batched": lambda a, out: fastconv.conv2d(a.x_batch, a.w_batch, padding=1, algorithm="batched"),
    "conv2d groups, reflect, stride, dilation": lambda a, out: fastconv.conv2d(
        a.x, a.w_grouped, stride=2, padding=4, dilation=2, groups=4, padding_mode="reflect"),
    "conv2d NHWC im2col, out=": lambda a, out: fastconv.conv2d(a.x_nhwc, a.w3, padding=1, layout="NHWC",
                                                               algorithm="im2col", out=out),
    "conv2d NHWC depthwise direct": lambda a, out: fastconv.conv2d(a.x_nhwc, a.w_depthwise, padding=1, groups=16,
                                                                   layout="NHWC", algorithm="direct"),
    "conv2d NHWC winograd": lambda a, out: fastconv.conv2d(a.x_nhwc, a.w3, padding=1, layout="NHWC",
                                                           algorithm="winograd"),
    "conv2d NHWC batched": lambda a, out: fastconv.conv2d(a.x_batch_nhwc, a.w_batch, padding=1, layout="NHWC",
                                                          algorithm="batched"),
    "conv1d, out=": lambda a, out: fastconv.conv1d(a.signal, a.w1d, padding=2, out=out),
    "conv_transpose2d": lambda a, out: fastconv.conv_transpose2d(a.x, a.w_transpose, stride=2, padding=1,
                                                                 output_padding=1),
    "correlate2d same": lambda a, out: fastconv.correlate2d(a.image, a.kernel, "same"),
    "correlate2d valid, wrap": lambda a, out: fastconv.correlate2d(a.image, a.kernel, "valid", boundary="wrap"),
    "convolve2d full, symm": lambda a, out: fastconv.convolve2d(a.image, a.kernel, boundary="symm"),
    "max_pool1d, indices": lambda a, out: fastconv.max_pool1d(a.signal, 3, 2, 1, return_indices=True),
    "max_pool2d, indices": lambda a, out: fastconv.max_pool2d(a.x, 3, 2, 1, return_indices=True),
    "max_pool2d inf and NaN": lambda a, out: fastconv.max_pool2d(a.x_special, 2),
    "max_pool2d NHWC, ceil_mode": lambda a, out: fastconv.max_pool2d(a.x_nhwc, 3, 2, ceil_mode=True, layout="NHWC"),
    "avg_pool1d": lambda a, out: fastconv.avg_pool1d(a.signal, 4, 2, 1, count_include_pad=False),
    "avg_pool2d, ceil_mode": lambda a, out: fastconv.avg_pool2d(a.x, 3, 2, 1, ceil_mode=True),
    "avg_pool2d NHWC, divisor": lambda a, out: fastconv.avg_pool2d(a.x_nhwc, 2, divisor_override=3, layout="NHWC"),
    "sum_pool1d": lambda a, out: fastconv.sum_pool1d(a.signal, 3),
    "sum_pool2d": lambda a, out: fastconv.sum_pool2d(a.x, 3, 1, 1),
    "sum_pool2d NHWC": lambda a, out: fastconv.sum_pool2d(a.x_nhwc, 2, layout="NHWC"),
    "lp_pool2d": lambda a, out: fastconv.lp_pool2d(a.x, 3, 3, 2),
    "lp_pool2d NHWC": lambda a, out: fastconv.lp_pool2d(a.x_nhwc, 2, 2, layout="NHWC"),
    "adaptive_avg_pool2d": lambda a, out: fastconv.adaptive_avg_pool2d(a.x, (5, 7)),
    "adaptive_avg_pool2d NHWC": lambda a, out: fastconv.adaptive_avg_pool2d(a.x_nhwc, 6, layout="NHWC"),
    "adaptive_max_pool2d, indices": lambda a, out: fastconv.adaptive_max_pool2d(a.x, 6, return_indices=True),
    "adaptive_max_pool2d NHWC": lambda a, out: fastconv.adaptive_max_pool2d(a.x_nhwc, (4, 9), layout="NHWC"),
    "global_avg_pool2d": lambda a, out: fastconv.global_avg_pool2d(a.x),
    "global_max_pool2d NHWC": lambda a, out: fastconv.global_max_pool2d(a.x_nhwc, layout="NHWC"),
    "relu": lambda a, out: fastconv.relu(a.x),
    "relu, out=": lambda a, out: fastconv.relu(a.x_special, out=out),
}
TAKES_OUT = {name for name in OP_CALLS if "out=" in name}
TABLE = [(name, dtype) for dtype in (np.float32, np.float64) for name in OP_CALLS]


def op_inputs(dtype, seed):
    """The arrays OP_CALLS read, of one dtype; the convolutions are large enough to run on OpenMP threads."""
    x = random((2, 16, 20, 22), dtype, seed)
    x_batch = random((16, 4, 12, 12), dtype, seed + 1)
    return {
        "x": x,
        "x_nhwc": np.ascontiguousarray(np.moveaxis(x, 1, -1)),
        "x_special": special(x.shape, dtype, seed + 2),
        "x_batch": x_batch,
        "x_batch_nhwc": np.ascontiguousarray(np.moveaxis(x_batch, 1, -1)),
        "w3": random((24, 16, 3, 3), dtype, seed + 3),
        "bias": random((24,), dtype, seed + 4),
        "w_grouped": random((16, 4, 5, 5), dtype, seed + 5),
        "w_depthwise": random((16, 1, 3, 3), dtype, seed + 6),
        "w_batch": random((8, 4, 3, 3), dtype, seed + 7),
        "w_transpose": random((16, 8, 3, 3), dtype, seed + 8),
        "signal": random((3, 8, 50), dtype, seed + 9),
        "w1d": random((6, 8, 5), dtype, seed + 10),
        "image": random((40, 36), dtype, seed + 11),
        "kernel": random((5, 4), dtype, seed + 12),
    }


def input_set(seed, read_only=False):
    """{dtype: namespace of op_inputs(dtype, seed)}, optionally marked read-only."""
    by_dtype = {}
    for dtype in (np.float32, np.float64):
        arrays = op_inputs(dtype, seed)
        for array in arrays.values():
            array.flags.writeable = not read_only
        by_dtype[dtype] = types.SimpleNamespace(**arrays)
    return by_dtype


def call(entry, inputs, outs=None):
    name, dtype = entry
    return OP_CALLS[name](inputs[dtype], None if outs is None else outs.get(entry))


def results_on_one_thread(inputs):
    with num_threads(1):
        return {entry: call(entry, inputs) for entry in TABLE}


def mismatch(got, want):
    """What differs between two results ("" if nothing): dtype, shape or values, where NaN equals
    NaN and 0.0 differs from -0.0."""
    if isinstance(want, tuple):
        return "; ".join(filter(None, map(mismatch, got, want)))
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"got {got.dtype} {got.shape}, expected {want.dtype} {want.shape}"
    same = (got == want) & (np.signbit(got) == np.signbit(want)) | (np.isnan(got) & np.isnan(want))
    return "" if same.all() else f"{same.size - np.count_nonzero(same)} of {same.size} values differ"


def call_table_until(seconds, order, inputs, expected, outs, barrier, label, failures, call_counts):
    """Thread body: passes over the table in the given order until `seconds` after the barrier,
    each result checked; the first failure is appended to failures and ends the thread."""
    calls, doing = 0, "waiting at the barrier"
    try:
        barrier.wait()
        stop = time.monotonic() + seconds
        while True:
            for entry in order:
                doing = f"{entry[0]}, {np.dtype(entry[1]).name}"
                result = call(entry, inputs, outs)
                calls += 1
                assert entry not in outs or result is outs[entry], "out= was not returned"
                assert not mismatch(result, expected[entry]), mismatch(result, expected[entry])
            if time.monotonic() > stop:
                break
    except BaseException:
        failures.append(f"{label}, after {calls} calls, {doing}:\n{traceback.format_exc()}")
    finally:
        call_counts.append(calls)


def test_concurrent_calls_match_the_single_threaded_results(record_property):
    shared = input_set(seed=0, read_only=True)
    shared_expected = results_on_one_thread(shared)
    barrier = threading.Barrier(CONCURRENT_THREADS, timeout=30)
    failures, call_counts, threads = [], [], []
    for i in range(CONCURRENT_THREADS):
        private = i % 2 == 0  # private inputs hold other values: a result leaking between threads shows
        inputs = input_set(seed=100 * (i + 1)) if private else shared
        expected = results_on_one_thread(inputs) if private else shared_expected
        outs = {entry: np.empty_like(expected[entry]) for entry in TABLE if entry[0] in TAKES_OUT}
        start = i * len(TABLE) // CONCURRENT_THREADS  # the threads begin on different ops
        label = f"thread {i} ({'private' if private else 'shared read-only'} inputs)"
        threads.append(threading.Thread(target=call_table_until, args=(
            CONCURRENT_SECONDS, TABLE[start:] + TABLE[:start], inputs, expected, outs, barrier, label, failures,
            call_counts)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=CONCURRENT_SECONDS + 120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    record_property("concurrent_calls", sum(call_counts))
    print(f"\n{sum(call_counts)} concurrent calls on {CONCURRENT_THREADS} threads ({fastconv.backend()}), "
          f"per thread: {sorted(call_counts)}")
    assert not failures, "\n".join(failures)
    assert min(call_counts) >= len(TABLE)


def test_thread_pool_executor_results_match_the_serial_ones():
    input_sets = [input_set(seed, read_only=True) for seed in (0, 100)]
    expected = [results_on_one_thread(inputs) for inputs in input_sets]
    jobs = [(entry, i) for _ in range(2) for i in range(len(input_sets)) for entry in TABLE]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: call(job[0], input_sets[job[1]]), jobs))
    for (entry, i), result in zip(jobs, results):
        assert not mismatch(result, expected[i][entry]), (entry, mismatch(result, expected[i][entry]))


def batch_taking(seconds, call_on_images):
    """call_on_images(n) makes a call on n images; returns the one that takes about `seconds`."""
    one = call_on_images(1)
    one()
    start = time.perf_counter()
    one()
    took = time.perf_counter() - start
    return call_on_images(max(1, min(32, round(seconds / took))))


def large_conv2d(n):
    x, w = random((n, 128, 56, 56), np.float32), random((128, 128, 3, 3), np.float32, seed=1)
    return lambda: fastconv.conv2d(x, w, padding=1)


def large_max_pool2d(n):
    x = random((n, 64, 112, 112), np.float32)
    return lambda: fastconv.max_pool2d(x, 7, 1, 3)


def counter_progress_during(long_call):
    """(count before, count after, seconds) of a pure-Python counter thread around long_call().

    The switch interval is raised far above the call's duration, so the interpreter never takes
    the GIL from the calling thread: the counter can only run while the call has released it.
    """
    count = [0]
    go, stop = threading.Event(), threading.Event()

    def counter():
        go.wait()
        while not stop.is_set():
            count[0] += 1
            if count[0] % 1000 == 0:
                time.sleep(0)  # gives the GIL back when the call returns, before the long interval ends

    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    thread = threading.Thread(target=counter)
    try:
        thread.start()
        go.set()
        before = count[0]
        start = time.perf_counter()
        long_call()
        seconds = time.perf_counter() - start
        after = count[0]
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(previous_interval)
    return before, after, seconds


@pytest.mark.parametrize("call_on_images", [large_conv2d, large_max_pool2d], ids=["conv2d", "max_pool2d"])
def test_another_python_thread_runs_during_a_call(call_on_images, record_property):
    with num_threads(1):
        long_call = batch_taking(0.15, call_on_images)
        before, after, seconds = counter_progress_during(long_call)
    record_property("counter_advance", after - before)
    print(f"\ncounter {before} -> {after} during a {seconds * 1000:.0f} ms call ({fastconv.backend()})")
    assert after > before, "the counter thread never ran: the call held the GIL"


# Worker processes. The fork hazard lives in the OpenMP runtime, not in the microkernels, and a
# hang costs PROCESS_TIMEOUT_S: these run on the default backend and the portable one only.
PROCESS_BACKENDS = sorted({fastconv.backend(), "portable"})


def conv2d_and_max_pool2d():
    x, w = random((1, 64, 56, 56), np.float32), random((64, 64, 3, 3), np.float32, seed=1)
    return fastconv.conv2d(x, w, padding=1), fastconv.max_pool2d(x, 3, 2, 1)


def conv2d_and_max_pool2d_in_worker(sender, backend, threads):
    fastconv.set_backend(backend)
    if threads is not None:
        fastconv.set_num_threads(threads)
    sender.send(conv2d_and_max_pool2d())


def threads_in_this_process():
    """The number of OS threads (OpenMP's included), or None where /proc does not tell."""
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None


@pytest.mark.parametrize("backend", PROCESS_BACKENDS, indirect=True)
@pytest.mark.parametrize("method, threads", [("fork", None), ("fork", 2), ("spawn", None)],
                         ids=["fork, default threads", "fork, set_num_threads(2)", "spawn"])
def test_worker_process_started_after_the_parent_used_openmp(backend, method, threads):
    with num_threads(2):
        expected = conv2d_and_max_pool2d()
    if fastconv._core.openmp and threads_in_this_process() is not None:
        assert threads_in_this_process() > 1, "the parent's OpenMP threads should exist when the worker starts"
    context = multiprocessing.get_context(method)
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=conv2d_and_max_pool2d_in_worker, args=(sender, backend, threads), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(PROCESS_TIMEOUT_S):
            pytest.fail(f"the {method} worker hung: no result after {PROCESS_TIMEOUT_S} s")
        got = receiver.recv()
        worker.join(PROCESS_TIMEOUT_S)
    except EOFError:
        worker.join(PROCESS_TIMEOUT_S)
        pytest.fail(f"the {method} worker died before sending its result (exit code {worker.exitcode})")
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
    for g, w in zip(got, expected):
        assert_exact(g, w)
