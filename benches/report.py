"""Side-by-side timing report on the shape suite: fastconv vs the NumPy reference and PyTorch.

    python benches/report.py [--threads 1 2] [--repeat-seconds 0.5] [--shapes S1_resnet3x3 P1_max2x2s2 tiny ...]
                             [--png report.png]

Every number is the median of many calls in this one process, the libraries (all but the
NumPy reference) taking turns in slices of 20 ms so that the shared machine's drift falls on
all of them; ratios are peer time divided
by fastconv time (above 1: fastconv is faster), layout against layout: the reference and
torch NCHW against fastconv NCHW, torch channels_last against fastconv layout="NHWC" (the
conversion not counted on either side; in each layout both libraries read the very same
input buffer, torch through a zero-copy view, so that neither gets better-aligned data),
and "best" the faster torch layout against the faster fastconv one.
GFLOP/s = 2*N*K*(C/groups)*kh*kw*OH*OW / t for convolutions; GB/s = (input + output
bytes) / t for pooling. "% peak" is of this machine's float32 FMA peak on the active
backend, measured first with fastconv's register-only probe;
PyTorch's own matrix product (torch.mm, 2048x2048, one core) is timed beside it as the share
of that peak a tuned GEMM reaches on this machine, and so is torch.mm on each convolution's
own matrix product with the im2col matrix already formed (one group, more than one filter),
for the share a tuned GEMM reaches on that shape's multiply-adds alone.
Image filters (S8) are also timed against scipy.ndimage.correlate when SciPy is installed.
Then the per-call overhead: µs per call of a tiny conv2d and max_pool2d ("tiny" in --shapes).
With --png (needs matplotlib: pip install ".[bench]") it also draws the ratios as a bar chart.

    python benches/report.py --quick --json new.json       # seconds: one thread, short medians
    python benches/report.py --compare old.json            # this run against an earlier one
    python benches/report.py --compare old.json new.json   # two earlier runs, nothing timed

--json writes every row (fastconv's time per shape and thread count, and its ratios) with the
machine and versions, for tracking over time; --compare prints fastconv's time per row of two
such files side by side with the change. --quick (CI runs it, so the report cannot rot) times
every shape on one thread with 10 ms medians: its numbers are rough.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import sys
import time

import numpy as np

import fastconv
from fastconv import reference

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

try:
    from scipy import ndimage
except ImportError:
    ndimage = None

SHAPES = json.loads((pathlib.Path(__file__).parent / "bench_shapes.json").read_text())
REFERENCE_MAX_SECONDS = 2.0   # the NumPy reference is timed only where one call is quick


def median_time(fn, seconds, min_reps=5, max_reps=2000):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < seconds and len(times) < max_reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def interleaved_medians(calls, seconds, slice_seconds=0.02, min_reps=5, max_reps=2000):
    """{name: median time of one call}, the functions taking turns in slices of about
    slice_seconds until each has run for `seconds` (at least min_reps, at most max_reps calls):
    a drift in the shared machine's speed then falls on every library alike, not on whichever
    was timed during it."""
    for fn in calls.values():
        fn()
    times = {name: [] for name in calls}
    spent = dict.fromkeys(calls, 0.0)

    def wants_more(name):
        return len(times[name]) < min_reps or (spent[name] < seconds and len(times[name]) < max_reps)

    while any(wants_more(name) for name in calls):
        for name, fn in calls.items():
            if not wants_more(name):
                continue
            start = time.perf_counter()
            while True:
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
                if time.perf_counter() - start >= slice_seconds or not wants_more(name):
                    break
            spent[name] += time.perf_counter() - start
    return {name: float(np.median(ts)) for name, ts in times.items()}


def per_call_micros(fn, calls=2000, batches=21):
    """Median over batches of the mean time of one call, in µs (for calls too short to time one by one)."""
    fn()
    times = []
    for _ in range(batches):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t) / calls * 1e6)
    return float(np.median(times))


def tiny_calls():
    """The per-call overhead cases (the speed issue's tiny conv2d and max_pool2d): {label: {lib: fn}}."""
    x = np.ones((1, 1, 8, 8), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    cases = {"conv2d 1x1x8x8, 3x3": {"fastconv": lambda: fastconv.conv2d(x, w)},
             "max_pool2d 1x1x8x8, 2": {"fastconv": lambda: fastconv.max_pool2d(x, 2)}}
    if torch is not None:
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        cases["conv2d 1x1x8x8, 3x3"]["torch"] = lambda: F.conv2d(tx, tw)
        cases["max_pool2d 1x1x8x8, 2"]["torch"] = lambda: F.max_pool2d(tx, 2)
    return cases


def print_table_head(columns):
    """A Markdown table's header row and separator."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))


def print_scipy_table(scipy_rows):
    """Single-image filters against scipy.ndimage.correlate (zero padding, same size)."""
    if not scipy_rows:
        return
    print("\nImage filters against scipy.ndimage.correlate (mode='constant'; it runs on one thread):\n")
    print_table_head(["shape", "threads", "fastconv ms", "scipy ms", "vs scipy"])
    for name, threads, ours, theirs in scipy_rows:
        print(f"| {name} | {threads} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} | {theirs / ours:.1f}x |")


def print_matrix_product_table(product_rows):
    """fastconv's whole convolution against torch.mm on the bare matrix product (im2col formed)."""
    if not product_rows:
        return
    print("\nThe same multiply-adds as one matrix product (torch.mm, im2col already formed, the faster "
          "orientation; % of the probe's peak per thread; above 1: fastconv faster):\n")
    print_table_head(["shape", "threads", "fastconv % peak (better layout)", "torch.mm % peak", "fastconv / torch.mm"])
    for name, threads, ours, product in product_rows:
        print(f"| {name} | {threads} | {100 * ours:.0f}% | {100 * product:.0f}% | {ours / product:.2f} |")


def print_per_call_overhead():
    libs = ["fastconv"] + (["torch"] if torch is not None else [])
    print()
    print_table_head(["tiny call (1 thread)"] + [f"{lib} µs" for lib in libs])
    with torch.no_grad() if torch is not None else contextlib.nullcontext():
        for label, fns in tiny_calls().items():
            print(f"| {label} | " + " | ".join(f"{per_call_micros(fns[lib]):.2f}" for lib in libs) + " |")


def peak_gflops_per_core(rounds=5):
    """float32 FMA throughput of one core on the active backend, from fastconv's own probe
    (the best of ``rounds`` runs)."""
    from fastconv import _core

    _core.fma_probe(10**6)
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        _, flops = _core.fma_probe(2 * 10**7)
        best = max(best, flops / (time.perf_counter() - t) / 1e9)
    return best


def vendor_gemm_gflops(n=2048, seconds=2.0):
    """PyTorch's own float32 matrix product (MKL on x86) on one core: how much of the FMA peak
    this machine gives a tuned GEMM, the yardstick for the convolutions' "% peak"."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    return 2 * n**3 / median_time(lambda: torch.mm(a, b, out=c), seconds) / 1e9


def channels_last_view(x_nhwc):
    """torch's NCHW-indexed, channels_last-strided view of an NHWC NumPy array, sharing its
    memory: torch reads the buffer fastconv's NHWC call reads."""
    return torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)


def conv_calls(s):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"]), dtype=np.float32)
    w = rng.standard_normal((s["K"], s["C"] // s["groups"], s["kh"], s["kw"]), dtype=np.float32)
    kw = dict(stride=s["stride"], padding=s["padding"], groups=s["groups"])
    y = fastconv.conv2d(x, w, **kw)
    work = 2 * s["N"] * s["K"] * (s["C"] // s["groups"]) * s["kh"] * s["kw"] * y.shape[2] * y.shape[3]
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    calls = {"fastconv": lambda v=x: fastconv.conv2d(v, w, **kw),
             "fastconv NHWC": lambda v=x_nhwc: fastconv.conv2d(v, w, layout="NHWC", **kw),
             "reference": lambda: reference.conv2d(x, w, **kw)}
    if (s["kh"], s["kw"], s["stride"], s["groups"]) == (3, 3, 1, 1):  # opt-in Winograd applies
        calls["winograd"] = lambda: fastconv.conv2d(x, w, algorithm="winograd", **kw)
        calls["winograd NHWC"] = lambda: fastconv.conv2d(x_nhwc, w, algorithm="winograd", layout="NHWC", **kw)
    same_size = s["stride"] == 1 and (s["padding"], s["padding"]) == (s["kh"] // 2, s["kw"] // 2)
    if ndimage is not None and (s["N"], s["C"], s["K"]) == (1, 1, 1) and same_size:  # an image filter (S8)
        calls["scipy"] = lambda: ndimage.correlate(x[0, 0], w[0, 0], mode="constant")
    if torch is not None:
        wt = torch.from_numpy(w)
        wcl = wt.contiguous(memory_format=torch.channels_last)
        calls["torch NCHW"] = lambda v=torch.from_numpy(x): F.conv2d(v, wt, **kw)
        calls["torch channels_last"] = lambda v=channels_last_view(x_nhwc): F.conv2d(v, wcl, **kw)
        if s["groups"] == 1 and s["K"] > 1:
            calls.update(matrix_product_calls(s, y.shape[2] * y.shape[3]))
    return calls, work / 1e9, "GFLOP/s"


def matrix_product_operands(s, image_pixels):
    """Random operands of the convolution's own matrix product with the im2col matrix already
    formed, in both orientations: (filters x taps, taps x pixels) and (pixels x taps, taps x
    filters), taps = C*kh*kw (groups == 1) and pixels = N * image_pixels (N*OH*OW)."""
    taps, pixels, g = s["C"] * s["kh"] * s["kw"], s["N"] * image_pixels, torch.Generator().manual_seed(0)
    return {"torch.mm filters x pixels": (torch.randn(s["K"], taps, generator=g),
                                          torch.randn(taps, pixels, generator=g)),
            "torch.mm pixels x filters": (torch.randn(pixels, taps, generator=g),
                                          torch.randn(taps, s["K"], generator=g))}


def matrix_product_calls(s, image_pixels):
    """torch.mm on those operands: the share of the peak a tuned GEMM reaches on this shape's
    multiply-adds alone, with no window gathering."""
    operands = matrix_product_operands(s, image_pixels)
    return {name: (lambda a=a, b=b: torch.mm(a, b)) for name, (a, b) in operands.items()}


def pool_calls(s):
    x = np.random.default_rng(0).standard_normal((s["N"], s["C"], s["H"], s["W"]), dtype=np.float32)

    def call(lib, v, **layout):
        if s["op"] == "global_avg":
            return lib.adaptive_avg_pool2d(v, 1, **layout)
        fn = lib.max_pool2d if s["op"] == "max" else lib.avg_pool2d
        return fn(v, s["k"], s["stride"], s["padding"], **layout)

    y = call(fastconv, x)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    calls = {"fastconv": lambda v=x: call(fastconv, v), "reference": lambda: call(reference, x),
             "fastconv NHWC": lambda v=x_nhwc: call(fastconv, v, layout="NHWC")}
    if torch is not None:
        calls["torch NCHW"] = lambda v=torch.from_numpy(x): call(F, v)
        calls["torch channels_last"] = lambda v=channels_last_view(x_nhwc): call(F, v)
    return calls, (x.nbytes + y.nbytes) / 1e9, "GB/s"


def layout_ratios(times):
    """Peer time / fastconv time, layout against layout (see the module docstring)."""
    ours_for = {"reference": "fastconv", "torch NCHW": "fastconv", "torch channels_last": "fastconv NHWC"}
    ratios = {peer: times[peer] / times[ours] for peer, ours in ours_for.items() if peer in times}
    if "torch NCHW" in times and "torch channels_last" in times:
        ratios["best"] = min(times["torch NCHW"], times["torch channels_last"]) / \
            min(times["fastconv"], times["fastconv NHWC"])
    return ratios


def progress(done, total, label, width=30):
    """One line on stderr, redrawn in place: [#####-----] done/total label."""
    filled = width * done // max(total, 1)
    print(f"\r[{'#' * filled}{'-' * (width - filled)}] {done}/{total} {label:<28}", end="", file=sys.stderr,
          flush=True)


def write_chart(rows, peers, path):
    """Grouped bars of each peer's time / fastconv's time per shape and thread count (log scale;
    above the line at 1, fastconv is faster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['name'].split('_')[0]} {r['threads']}t" for r in rows]
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * len(rows)), 4.5))
    width = 0.8 / len(peers)
    for i, peer in enumerate(peers):
        values = [r["ratios"].get(peer, float("nan")) for r in rows]
        ax.bar([x + i * width for x in range(len(rows))], values, width, label=f"{peer} time / fastconv time")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks([x + width * (len(peers) - 1) / 2 for x in range(len(rows))], labels, rotation=60, fontsize=8)
    ax.set_ylabel("ratio (above 1: fastconv faster)")
    ax.set_title(f"fastconv {fastconv.__version__} ({fastconv.backend()}) vs peers, float32 medians")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(peers))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_winograd_table(winograd_rows):
    """The opt-in algorithm="winograd" (never picked by auto) on the shapes it takes."""
    if not winograd_rows:
        return
    print("\nOpt-in algorithm=\"winograd\" (ms; vs X is X's time / fastconv's, layout against layout):\n")
    print_table_head(["shape", "threads", "winograd ms", "NHWC ms", "vs auto", "vs torch NCHW",
                      "vs torch channels_last"])
    for name, threads, wino, times in winograd_rows:
        def ratio(peer, ours):
            return f"{times[peer] / wino[ours]:.2f}x" if peer in times else "—"
        print(f"| {name} | {threads} | {wino['winograd'] * 1e3:.3f} | {wino['winograd NHWC'] * 1e3:.3f} | "
              f"{ratio('fastconv', 'winograd')} | {ratio('torch NCHW', 'winograd')} | "
              f"{ratio('torch channels_last', 'winograd NHWC')} |")


def report_json(rows, threads, repeat_seconds):
    """The rows of a run, with what they were measured on (--json)."""
    import platform

    return {"fastconv": fastconv.__version__, "backend": fastconv.backend(),
            "torch": torch.__version__ if torch is not None else None, "machine": platform.processor() or
            platform.machine(), "python": platform.python_version(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "threads": threads, "repeat_seconds": repeat_seconds, "rows": rows}


def compare_reports(old, new):
    """A Markdown table of fastconv's time per (shape, threads) in two --json reports: old ms,
    new ms and new / old; rows in only one of them are listed with a dash."""
    def times(report):
        return {(r["name"], r["threads"]): r["fastconv_ms"] for r in report["rows"]}

    before, after = times(old), times(new)
    lines = [f"fastconv {old['fastconv']} ({old['date']}, {old['backend']}) -> "
             f"{new['fastconv']} ({new['date']}, {new['backend']})", "",
             "| shape | threads | old ms | new ms | new / old |", "|---|---|---|---|---|"]
    for key in list(before) + [k for k in after if k not in before]:
        a, b = before.get(key), after.get(key)
        cells = [f"{a:.3f}" if a else "—", f"{b:.3f}" if b else "—", f"{b / a:.2f}" if a and b else "—"]
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_arguments(description):
    """The arguments every report takes: --threads, --repeat-seconds, --shapes."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat-seconds", type=float, default=0.5)
    parser.add_argument("--shapes", nargs="*", default=None)
    return parser


def main(argv=None):
    parser = table_arguments(__doc__)
    parser.add_argument("--png", default=None, help="also write a bar chart of the ratios to this file")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--compare", nargs="+", metavar="JSON", default=None,
                        help="OLD: compare this run with OLD; OLD NEW: compare two files, timing nothing")
    parser.add_argument("--quick", action="store_true", help="one thread, 10 ms medians (rough numbers)")
    args = parser.parse_args(argv)
    if args.compare and len(args.compare) == 2:
        old, new = (json.loads(pathlib.Path(f).read_text()) for f in args.compare)
        print(compare_reports(old, new))
        return new["rows"]
    if args.quick:
        args.threads, args.repeat_seconds = [1], 0.01
    cases = [(n, s, conv_calls) for n, s in SHAPES["conv2d"].items()] + \
            [(n, s, pool_calls) for n, s in SHAPES["pool2d"].items()]
    if args.shapes:
        cases = [c for c in cases if c[0] in args.shapes]
    peers = ["reference"] + (["torch NCHW", "torch channels_last", "best"] if torch is not None else [])
    fastconv.set_num_threads(1)
    peak = peak_gflops_per_core(1 if args.quick else 5)
    print(f"fastconv {fastconv.__version__}, backend {fastconv.backend()} (measured peak {peak:.0f} GFLOP/s "
          f"per core), torch {torch.__version__ if torch is not None else 'not installed'}; float32; medians")
    if torch is not None:
        torch.set_num_threads(1)
        gemm = vendor_gemm_gflops(seconds=0.2 if args.quick else 2.0)
        print(f"torch.mm 2048x2048 float32 on one core: {gemm:.0f} GFLOP/s ({100 * gemm / peak:.0f}% of the peak)")
    print()
    print_table_head(["shape", "threads", "fastconv ms", "rate", "% peak", "NHWC ms"] + [f"vs {p}" for p in peers])
    rows, winograd_rows, scipy_rows, product_rows, total = [], [], [], [], len(args.threads) * len(cases)
    for threads in args.threads:
        fastconv.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for name, s, make in cases:
            progress(len(rows), total, f"{name} ({threads}t)")
            calls, amount, unit = make(s)
            times = interleaved_medians({k: fn for k, fn in calls.items() if k != "reference"}, args.repeat_seconds)
            t0 = time.perf_counter()
            calls["reference"]()
            if time.perf_counter() - t0 <= REFERENCE_MAX_SECONDS:
                times["reference"] = median_time(calls["reference"], args.repeat_seconds, min_reps=3)
            ratio_of = layout_ratios(times)
            rows.append({"name": name, "threads": threads, "fastconv_ms": times["fastconv"] * 1e3,
                         "fastconv_nhwc_ms": times["fastconv NHWC"] * 1e3, "ratios": ratio_of})
            ratios = [f"{ratio_of[p]:.2f}x" if p in ratio_of else "—" for p in peers]
            ours = times["fastconv"]
            rate = amount / ours
            share = f"{100 * rate / (peak * threads):.0f}%" if unit == "GFLOP/s" else ""
            print(f"| {name} | {threads} | {ours * 1e3:.3f} | {rate:.1f} {unit} | {share} | "
                  f"{times['fastconv NHWC'] * 1e3:.3f} | " + " | ".join(ratios) + " |")
            if "winograd" in calls:
                winograd_rows.append((name, threads, {k: times[k] for k in ("winograd", "winograd NHWC")}, times))
            if "scipy" in calls:
                scipy_rows.append((name, threads, ours, times["scipy"]))
            if "torch.mm filters x pixels" in times:
                product = min(times["torch.mm filters x pixels"], times["torch.mm pixels x filters"])
                best = min(ours, times["fastconv NHWC"])
                product_rows.append((name, threads, amount / best / (peak * threads),
                                     amount / product / (peak * threads)))
    progress(total, total, "done")
    print(file=sys.stderr)
    print_winograd_table(winograd_rows)
    print_scipy_table(scipy_rows)
    print_matrix_product_table(product_rows)
    if not args.shapes or "tiny" in args.shapes:
        fastconv.set_num_threads(1)
        if torch is not None:
            torch.set_num_threads(1)
        print_per_call_overhead()
    if args.png:
        write_chart(rows, [p for p in peers if p != "reference"] or peers, args.png)
        print(f"\nchart: {args.png}")
    report = report_json(rows, args.threads, args.repeat_seconds)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"rows: {args.json}")
    if args.compare:
        print()
        print(compare_reports(json.loads(pathlib.Path(args.compare[0]).read_text()), report))
    return rows


if __name__ == "__main__":
    main()
