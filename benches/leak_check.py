"""Leak check: each op's calls of tests/leak_calls.py (good, with out= or return_indices=True,
and bad ones raising every other call) 100,000 times, and what that left behind: the RSS,
malloc's and tracemalloc's memory, and the reference counts of the arrays passed.

    python benches/leak_check.py [--calls 100000] [--ops conv2d relu ...]

After a warm-up, n calls between two readings of the RSS, malloc's memory and the reference
counts, then n more with tracemalloc on between two readings of the traced memory; each
reading once garbage, the type attribute cache and malloc's free pages are released
(tests/process_memory.py). Linux with glibc (for the RSS and malloc's statistics).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
import tracemalloc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

import fastconv  # noqa: E402
from leak_calls import MAKERS, alternate  # noqa: E402
from process_memory import malloc_bytes, rss_bytes, settle, traced_bytes  # noqa: E402

# A leak grows the RSS in both halves of the calls; Python's allocator taking one more arena
# (a one-off step when its peak use grows) or a thread's stack growing, in the first.
COLUMNS = ("op", "second call", "RSS before KB", "RSS after KB", "RSS drift KB", "of which in the 2nd half",
           "malloc drift KB", "traced growth B", "refcounts before", "refcounts after", "s for n calls")


def refcounts(arrays):
    return "/".join(str(sys.getrefcount(array)) for array in arrays.values())


def check(calls, n):
    """One table row: the RSS, malloc's memory and the reference counts before and after n calls,
    then the traced memory over n more with tracemalloc on (its own memory not in the RSS)."""
    alternate(calls, 8 * len(calls.bad))  # fills the argument caches and workspaces
    counts = refcounts(calls.arrays)
    settle()
    rss, malloc = rss_bytes(), malloc_bytes()
    start = time.perf_counter()
    alternate(calls, n // 2)
    settle()
    rss_half = rss_bytes()
    alternate(calls, n - n // 2)
    seconds = time.perf_counter() - start
    settle()
    malloc, rss_after = malloc_bytes() - malloc, rss_bytes()
    counts_after = refcounts(calls.arrays)
    tracemalloc.start()
    try:
        settle()
        traced = traced_bytes()
        alternate(calls, n)
        settle()
        traced = traced_bytes() - traced
    finally:
        tracemalloc.stop()
    return (calls.op, calls.second_kind, rss // 1024, rss_after // 1024, (rss_after - rss) / 1024,
            (rss_after - rss_half) / 1024, malloc / 1024, traced, counts, counts_after, seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls per op, half of them raising")
    parser.add_argument("--ops", nargs="*", help="only these ops")
    args = parser.parse_args()
    makers = [make for make in MAKERS if not args.ops or make.__name__.removesuffix("_calls") in args.ops]
    print(f"fastconv {fastconv.__version__}, backend {fastconv.backend()}, {fastconv.get_num_threads()} threads, "
          f"Python {sys.version.split()[0]}; {args.calls} calls per op")
    print(" | ".join(COLUMNS))
    rows = []
    for make in makers:
        row = check(make(), args.calls)
        rows.append(row)
        print(f"{row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]:+.0f} | {row[5]:+.0f} | {row[6]:+.1f} | "
              f"{row[7]:+d} | {row[8]} | {row[9]} | {row[10]:.1f}", flush=True)
    worst = max(rows, key=lambda row: row[4])
    print(f"maximum RSS drift: {worst[4]:+.0f} KB ({worst[0]}); "
          f"in the 2nd half: {max(row[5] for row in rows):+.0f} KB; "
          f"maximum malloc drift: {max(row[6] for row in rows):+.1f} KB; maximum traced growth: "
          f"{max(row[7] for row in rows):+d} B; reference counts changed: {sum(row[8] != row[9] for row in rows)} ops")


if __name__ == "__main__":
    main()
