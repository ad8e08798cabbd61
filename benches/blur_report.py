"""Anti-aliased pooling on the suite's max-pool inputs: fastconv vs the same operations
composed from PyTorch ops, and vs the NumPy reference, side by side.

    python benches/blur_report.py [--threads 1 2] [--repeat-seconds 0.5] [--shapes P1_max2x2s2 ...]

For each max pool of the suite (P1, P2, P5: its window and padding, its stride) the table has
max_blur_pool2d (the max at stride 1, then the 4-tap binomial blur at the stride, reflect
padding) and blur_pool2d alone, forward and backward. PyTorch's side is Zhang's recipe:
F.max_pool2d at stride 1, F.pad, a depthwise F.conv2d with the binomial filter (backward:
torch.autograd.grad of one recorded forward, the forward not timed). Medians of calls taken in
turns of 20 ms (report.interleaved_medians); ratios are peer time / fastconv time (above 1:
fastconv is faster); the NumPy reference is timed on the forward passes only (3 calls).
GB/s counts the input and output bytes (backward: grad_out and the input gradient).
"""

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import backward_report  # noqa: E402  (loads the bench cases and the report helpers)

import fastconv  # noqa: E402
from fastconv import reference  # noqa: E402

_cases, _report = backward_report._cases, backward_report._report
torch = _cases.torch
OPS = ("max_blur_pool2d", "blur_pool2d", "max_blur_pool2d_backward", "blur_pool2d_backward")


def blur_calls(name):
    """{op: ({"fastconv": fn, "torch": fn}, reference fn or None, bytes moved)} for one shape."""
    x, options = _cases.blur_case(name)
    blur = _cases.blur_only(options)
    y_max, y_blur = fastconv.max_blur_pool2d(x, **options), fastconv.blur_pool2d(x, **blur)
    rng = np.random.default_rng(1)
    g_max, g_blur = (rng.standard_normal(y.shape, dtype=np.float32) for y in (y_max, y_blur))
    calls = {
        "max_blur_pool2d": ({"fastconv": lambda: fastconv.max_blur_pool2d(x, **options)},
                            lambda: reference.max_blur_pool2d(x, **options), x.nbytes + y_max.nbytes),
        "blur_pool2d": ({"fastconv": lambda: fastconv.blur_pool2d(x, **blur)},
                        lambda: reference.blur_pool2d(x, **blur), x.nbytes + y_blur.nbytes),
        "max_blur_pool2d_backward": ({"fastconv": lambda: fastconv.max_blur_pool2d_backward(g_max, x, **options)},
                                     None, g_max.nbytes + x.nbytes),
        "blur_pool2d_backward": ({"fastconv": lambda: fastconv.blur_pool2d_backward(g_blur, x.shape, **blur)},
                                 None, g_blur.nbytes + x.nbytes),
    }
    if torch is not None:
        xt = torch.from_numpy(x)
        calls["max_blur_pool2d"][0]["torch"] = lambda: _cases.torch_max_blur(xt, **options)
        calls["blur_pool2d"][0]["torch"] = lambda: _cases.torch_blur(xt, **blur)
        xg = torch.from_numpy(x).requires_grad_()
        recorded = {"max_blur_pool2d_backward": (_cases.torch_max_blur(xg, **options), g_max),
                    "blur_pool2d_backward": (_cases.torch_blur(xg, **blur), g_blur)}
        for op, (yt, g) in recorded.items():
            gt = torch.from_numpy(g)
            calls[op][0]["torch"] = lambda yt=yt, gt=gt: torch.autograd.grad(yt, (xg,), gt, retain_graph=True)
    return calls


def main(argv=None):
    args = _report.table_arguments(__doc__).parse_args(argv)
    names = [n for n in _cases.BLUR_NAMES if not args.shapes or n in args.shapes]
    print(f"fastconv {fastconv.__version__}, backend {fastconv.backend()}, torch "
          f"{torch.__version__ if torch is not None else 'not installed'}; float32 NCHW; filter 4, reflect; "
          f"medians; peer / fastconv\n")
    _report.print_table_head(["shape", "threads", "op", "fastconv ms", "GB/s", "torch ms", "vs torch",
                              "reference ms", "vs reference"])
    rows, total = [], len(args.threads) * len(names)
    for round_, threads in enumerate(args.threads):
        fastconv.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for done, name in enumerate(names):
            _report.progress(round_ * len(names) + done, total, f"{name} ({threads}t)")
            for op, (peers, reference_call, nbytes) in blur_calls(name).items():
                times = _report.interleaved_medians(peers, args.repeat_seconds)
                ours = times["fastconv"]
                ratio = times["torch"] / ours if "torch" in times else None
                ref_time = _report.median_time(reference_call, 0.0, min_reps=3, max_reps=3) \
                    if reference_call is not None and round_ == 0 else None
                rows.append({"name": name, "threads": threads, "op": op, "ratio": ratio,
                             "reference_ratio": ref_time / ours if ref_time else None})
                print(f"| {name} | {threads} | {op} | {ours * 1e3:.3f} | {nbytes / 1e9 / ours:.1f} | "
                      + (f"{times['torch'] * 1e3:.3f} | {ratio:.2f}x | " if ratio else "— | — | ")
                      + (f"{ref_time * 1e3:.1f} | {ref_time / ours:.0f}x |" if ref_time else "— | — |"))
    _report.progress(total, total, "done")
    print(file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
