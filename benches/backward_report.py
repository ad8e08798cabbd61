"""Backward passes on the shape suite: fastconv vs torch.autograd, side by side.

    python benches/backward_report.py [--threads 1 2] [--repeat-seconds 0.5] [--runs 1]
                                      [--shapes S1_resnet3x3 P1_max2x2s2 ...]

For each convolution shape: the three gradients together (input, weight, bias), then the
input gradient alone and the weight gradient alone; for each pool, the input gradient. Torch
computes the backward of one recorded forward (torch.autograd.grad with retain_graph, the
forward not timed) on the very same buffers; fastconv's backward functions take the same
grad_out (and the max pools the forward's indices). Every number is a median of calls taken
in turns of 20 ms (report.interleaved_medians); ratios are torch time / fastconv time (above
1: fastconv is faster). With --runs R, the whole table is timed R times over, on buffers made
afresh each time (PyTorch's times are bimodal from one set of buffers to another on some
shapes): the times shown are the medians of the runs' medians, the ratio the median of the
runs' ratios, with their range. GFLOP/s counts 2*N*K*(C/groups)*kh*kw*OH*OW per gradient computed
(input, weight); GB/s counts the bytes of grad_out and the input gradient.
"""

import importlib.util
import pathlib
import sys

import numpy as np

import fastconv


def _load(name, file):
    """A sibling module by path (benches/ is no package, and tests/ has a conftest of its own)."""
    spec = importlib.util.spec_from_file_location(name, pathlib.Path(__file__).resolve().parent / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_cases = _load("fastconv_bench_cases", "conftest.py")
_report = _load("fastconv_report", "report.py")
SHAPES, F, torch, conv_case = _cases.SHAPES, _cases.F, _cases.torch, _cases.conv_case
interleaved_medians, print_table_head, progress = (_report.interleaved_medians, _report.print_table_head,
                                                   _report.progress)

CONV_PARTS = {"all": ("input", "weight", "bias"), "input": ("input",), "weight": ("weight",)}


def conv_backward_calls(name):
    """{part: {"fastconv": fn, "torch": fn}} and the GFLOP of one forward."""
    x, w, kwargs, flops = conv_case(name)
    y = fastconv.conv2d(x, w, **kwargs)
    go = np.random.default_rng(1).standard_normal(y.shape, dtype=np.float32)
    calls = {}
    for part, needs in CONV_PARTS.items():
        calls[part] = {"fastconv": lambda needs=needs: fastconv.conv2d_backward(go, x, w, needs=needs, **kwargs)}
    if torch is not None:
        xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        bt = torch.zeros(w.shape[0], requires_grad=True)
        yt, got = F.conv2d(xt, wt, bt, **kwargs), torch.from_numpy(go)
        wrt = {"all": (xt, wt, bt), "input": (xt,), "weight": (wt,)}
        for part, inputs in wrt.items():
            calls[part]["torch"] = lambda inputs=inputs: torch.autograd.grad(yt, inputs, got, retain_graph=True)
    return calls, flops / 1e9


def pool_backward_calls(name):
    """{"input": {"fastconv": fn, "torch": fn}} and the GB moved (grad_out and grad_input)."""
    x, s, go, idx = _cases.pool_backward_case(name)
    calls = {"input": {"fastconv": lambda: _cases.pool_backward(fastconv, go, idx, x, s)}}
    if torch is not None:
        xt = torch.from_numpy(x).requires_grad_()
        yt, got = _cases.pool_forward(F, xt, s), torch.from_numpy(go)
        calls["input"]["torch"] = lambda: torch.autograd.grad(yt, (xt,), got, retain_graph=True)
    return calls, (go.nbytes + x.nbytes) / 1e9


def main(argv=None):
    parser = _report.table_arguments(__doc__)
    parser.add_argument("--runs", type=int, default=1, help="time the whole table this many times over")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be 1 or more, got {args.runs}")
    cases = [(n, conv_backward_calls) for n in SHAPES["conv2d"]] + [(n, pool_backward_calls) for n in SHAPES["pool2d"]]
    if args.shapes:
        cases = [c for c in cases if c[0] in args.shapes]
    runs = "" if args.runs == 1 else f"; the ratio is the median of {args.runs} runs (their range)"
    print(f"fastconv {fastconv.__version__}, backend {fastconv.backend()}, torch "
          f"{torch.__version__ if torch is not None else 'not installed'}; float32 NCHW; medians; torch / fastconv"
          f"{runs}\n")
    timed, total = {}, args.runs * len(args.threads) * len(cases)  # (threads, name, part) -> [times of each run]
    for run in range(args.runs):
        for round_, threads in enumerate(args.threads):
            fastconv.set_num_threads(threads)
            if torch is not None:
                torch.set_num_threads(threads)
            for done, (name, make) in enumerate(cases):
                progress((run * len(args.threads) + round_) * len(cases) + done, total, f"{name} ({threads}t)")
                calls, amount = make(name)
                for part, peers in calls.items():
                    entry = timed.setdefault((threads, name, part), {"make": make, "amount": amount, "runs": []})
                    entry["runs"].append(interleaved_medians(peers, args.repeat_seconds))
    progress(total, total, "done")
    print(file=sys.stderr)
    print_table_head(["shape", "threads", "gradients", "fastconv ms", "rate", "torch ms", "vs torch.autograd"])
    rows = []
    for (threads, name, part), entry in timed.items():
        ours = float(np.median([t["fastconv"] for t in entry["runs"]]))
        if entry["make"] is conv_backward_calls:
            rate = f"{entry['amount'] * sum(p in CONV_PARTS[part] for p in ('input', 'weight')) / ours:.1f} GFLOP/s"
        else:
            rate = f"{entry['amount'] / ours:.1f} GB/s"
        ratios = [t["torch"] / t["fastconv"] for t in entry["runs"]] if torch is not None else []
        ratio = float(np.median(ratios)) if ratios else None
        rows.append({"name": name, "threads": threads, "part": part, "ratio": ratio, "ratios": ratios})
        if ratio is None:
            print(f"| {name} | {threads} | {part} | {ours * 1e3:.3f} | {rate} | — | — |")
            continue
        theirs = float(np.median([t["torch"] for t in entry["runs"]]))
        spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
        print(f"| {name} | {threads} | {part} | {ours * 1e3:.3f} | {rate} | {theirs * 1e3:.3f} | "
              f"{ratio:.2f}x{spread} |")
    return rows


if __name__ == "__main__":
    main()
