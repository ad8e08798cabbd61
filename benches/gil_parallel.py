"""Do Python threads calling fastconv run in parallel?

With fastconv on one OpenMP thread per call, times R convolutions of the suite's S1 shape
(1x64x56x56, 64 3x3 filters, padding 1, float32) on one Python thread, and R on each of two
Python threads at once; prints the medians and their ratio (two threads' wall time / one
thread's): 1.0 is fully parallel, 2.0 is what a held GIL would give. The one- and two-thread
runs alternate, so that a change in the machine's load affects both. For scale, the same for
hashlib's SHA-256 of 4 MB, a single-threaded C call known to release the GIL: on a machine that
others keep busy, it too comes out above 1.0.

Run: python benches/gil_parallel.py [--repeats N] [--seconds S]
"""

import argparse
import hashlib
import json
import pathlib
import statistics
import threading
import time

import numpy as np

import fastconv

SHAPES = pathlib.Path(__file__).with_name("bench_shapes.json")  # read here: conftest.py would import PyTorch


def wall_time(threads, calls, call):
    """Seconds from the moment `threads` Python threads start together until the last of them
    has made `calls` calls of call()."""
    barrier = threading.Barrier(threads + 1)
    ends = []

    def run():
        barrier.wait()
        for _ in range(calls):
            call()
        ends.append(time.perf_counter())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return max(ends) - start


def calls_taking(seconds, call):
    """How many calls of call() take about `seconds` on one thread."""
    call()
    start = time.perf_counter()
    for _ in range(5):
        call()
    return max(1, round(seconds / ((time.perf_counter() - start) / 5)))


def s1_conv():
    s = json.loads(SHAPES.read_text())["conv2d"]["S1_resnet3x3"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"]), dtype=np.float32)
    w = rng.standard_normal((s["K"], s["C"] // s["groups"], s["kh"], s["kw"]), dtype=np.float32)

    def conv():
        fastconv.conv2d(x, w, stride=s["stride"], padding=s["padding"], groups=s["groups"])

    return conv


def sha256_of_4mb():
    data = bytes(4 << 20)
    return lambda: hashlib.sha256(data).digest()


def measure(name, call, repeats, seconds):
    calls = calls_taking(seconds, call)
    one, two = [], []
    for _ in range(repeats):
        one.append(wall_time(1, calls, call))
        two.append(wall_time(2, calls, call))
    t1, t2 = statistics.median(one), statistics.median(two)
    ratios = [b / a for a, b in zip(one, two)]
    print(f"{name:22s} R={calls:4d}  1 thread: {t1 * 1000:6.1f} ms  2 threads: {t2 * 1000:6.1f} ms  "
          f"ratio {t2 / t1:.2f}  (per repeat {min(ratios):.2f}-{max(ratios):.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="one- and two-thread runs each (default 15)")
    parser.add_argument("--seconds", type=float, default=0.2, help="one thread's time per run (default 0.2)")
    args = parser.parse_args()
    fastconv.set_num_threads(1)
    for backend in dict.fromkeys([fastconv.backend(), "portable"]):
        fastconv.set_backend(backend)
        measure(f"conv2d S1, {backend}", s1_conv(), args.repeats, args.seconds)
    measure("sha256 4 MB (control)", sha256_of_4mb(), args.repeats, args.seconds)


if __name__ == "__main__":
    main()
