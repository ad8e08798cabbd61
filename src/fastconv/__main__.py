"""``python -m fastconv``: what fastconv is, its version and build, and a self-check.

The self-check runs a handful of shapes of every family (conv2d through each algorithm and
both layouts, conv1d, conv_transpose2d, correlate2d, the pools, the anti-aliased pools and
some backward passes) on the backend this CPU uses, and compares each result with
``fastconv.reference`` (plain NumPy, computed in float64). A sum of L terms must lie within
2 eps (L + 1) times the sum of its terms' magnitudes (the test suite's rule; for Winograd the
largest such magnitude of its 4x4 output tile, with 64 more terms); the max pools, their
indices and relu must match exactly. The whole run takes well under a second on a current
machine (the budget is 10 s). Exit status 0 when every check passes, 1 when any fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Optional, Sequence, TextIO, Tuple

import numpy as np
import numpy.typing as npt

import fastconv
from fastconv import reference as ref
from fastconv._error_bounds import winograd_tile_max

SUMMARY = (
    "fastconv {version}: convolution and pooling kernels in C++ (AVX2/AVX-512 microkernels chosen\n"
    "at run time, a portable path for other CPUs, OpenMP threads) for NumPy arrays. Its functions\n"
    "follow torch.nn.functional (conv2d, conv1d, conv_transpose2d, max/avg/sum/lp/adaptive/global\n"
    "pools, relu, blur pools; scipy.signal for correlate2d/convolve2d), take float32 or float64\n"
    "NCHW arrays (NHWC with layout=\"NHWC\"), and have backward passes for training;\n"
    "fastconv.reference has the same functions in plain NumPy. See help(fastconv) and the README."
)


Array = npt.NDArray[Any]
Check = Callable[["_Clock"], float]  # runs fastconv's calls through the clock; returns the worst error / bound


class _Failure(Exception):
    """A comparison outside its bound."""


class _Clock:
    """Accumulates the seconds spent in fastconv's calls (timed apart from the reference)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        return result


def _uniform(shape: Any, dtype: Any, seed: int) -> Array:
    values: Array = np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype(dtype)
    return values


def _bound(dtype: Any, terms: int, magnitude: Any) -> Array:
    """The suite's rounding bound of a sum of ``terms`` products: 2 eps (terms + 1) |magnitude|."""
    eps = float(np.finfo(dtype).eps)
    return 2 * eps * (terms + 1) * np.abs(np.asarray(magnitude, np.float64)) + float(np.finfo(dtype).tiny)


def _compare(what: str, got: Any, want: Any, bound: Optional[Array] = None) -> float:
    """Raise _Failure unless got has want's shape and dtype and lies within bound of it
    (bound None: exactly equal). Returns the largest error over its bound (0 when exact)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        raise _Failure(f"{what}: got {got.dtype} {got.shape}, expected {want.dtype} {want.shape}")
    if bound is None:
        if not np.array_equal(got, want, equal_nan=True):
            wrong = int(np.sum(got != want))
            raise _Failure(f"{what}: {wrong} of {got.size} elements differ (expected exactly equal)")
        return 0.0
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    ratio = err / bound
    worst = float(ratio.max()) if ratio.size else 0.0
    if not worst <= 1.0:  # also catches NaN
        at = np.unravel_index(int(np.nanargmax(np.where(np.isnan(ratio), np.inf, ratio))), ratio.shape)
        raise _Failure(f"{what}: error {float(err[at]):.3g} at {tuple(int(i) for i in at)} exceeds the bound "
                       f"{float(np.broadcast_to(bound, err.shape)[at]):.3g} ({worst:.3g} x)")
    return worst


# --------------------------------------------------------------------------- the checks
# Each takes the clock (to time fastconv's calls) and returns the worst error / bound ratio.


def _conv2d(algorithm: Any, dtype: Any, x_shape: Tuple[int, ...], w_shape: Tuple[int, ...], layout: str = "NCHW",
            bias: bool = True, **kw: Any) -> Tuple[str, Check]:
    def check(clock: _Clock) -> float:
        x, w = _uniform(x_shape, dtype, 1), _uniform(w_shape, dtype, 2)
        b = _uniform(w_shape[:1], dtype, 3) if bias else None
        want = ref.conv2d(x, w, b, **kw)
        mag_kw = {k: v for k, v in kw.items() if k != "activation"}
        magnitude = ref.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), **mag_kw)
        terms = int(np.prod(w_shape[1:]))
        if algorithm == "winograd":
            magnitude, terms = winograd_tile_max(magnitude), w_shape[1] * 9 + 64
        if layout == "NHWC":
            x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            got = clock(fastconv.conv2d, x_nhwc, w, b, algorithm=algorithm, layout="NHWC", **kw).transpose(0, 3, 1, 2)
        else:
            got = clock(fastconv.conv2d, x, w, b, algorithm=algorithm, **kw)
        return _compare("conv2d", got, want, _bound(dtype, terms, magnitude))

    options = "".join(f", {k}={v!r}" for k, v in kw.items())
    return f"conv2d  algorithm={algorithm!r}{options}, {layout} {np.dtype(dtype).name} x{x_shape} w{w_shape}", check


def _conv1d(clock: _Clock) -> float:
    x, w, b = _uniform((2, 4, 50), np.float64, 4), _uniform((6, 4, 5), np.float64, 5), _uniform(6, np.float64, 6)
    kw: dict[str, Any] = dict(stride=2, padding=(2, 2))
    got = clock(fastconv.conv1d, x, w, b, **kw)
    magnitude = ref.conv1d(np.abs(x), np.abs(w), np.abs(b), **kw)
    return _compare("conv1d", got, ref.conv1d(x, w, b, **kw), _bound(np.float64, 4 * 5, magnitude))


def _conv_transpose2d(clock: _Clock) -> float:
    x, w = _uniform((2, 4, 9, 9), np.float32, 7), _uniform((4, 3, 3, 3), np.float32, 8)
    kw: dict[str, Any] = dict(stride=2, padding=1, output_padding=1)
    got = clock(fastconv.conv_transpose2d, x, w, **kw)
    magnitude = ref.conv_transpose2d(np.abs(x), np.abs(w), **kw)
    return _compare("conv_transpose2d", got, ref.conv_transpose2d(x, w, **kw), _bound(np.float32, 4 * 9, magnitude))


def _correlate2d(clock: _Clock) -> float:
    image, kernel = _uniform((20, 23), np.float64, 9), _uniform((5, 4), np.float64, 10)
    worst = 0.0
    for fn, name in ((fastconv.correlate2d, "correlate2d"), (fastconv.convolve2d, "convolve2d")):
        got = clock(fn, image, kernel, mode="same", boundary="symm")
        reference = getattr(ref, name)
        magnitude = reference(np.abs(image), np.abs(kernel), mode="same", boundary="symm")
        want = reference(image, kernel, mode="same", boundary="symm")
        worst = max(worst, _compare(name, got, want, _bound(np.float64, kernel.size, magnitude)))
    return worst


def _max_pool2d(layout: str) -> Tuple[str, Check]:
    def check(clock: _Clock) -> float:
        x = _uniform((2, 8, 17, 17), np.float32, 11)
        want, want_idx = ref.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
        if layout == "NHWC":
            xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            got, idx = clock(fastconv.max_pool2d, xl, 3, stride=2, padding=1, return_indices=True, layout="NHWC")
            got, idx = got.transpose(0, 3, 1, 2), idx.transpose(0, 3, 1, 2)
        else:
            got, idx = clock(fastconv.max_pool2d, x, 3, stride=2, padding=1, return_indices=True)
        _compare("max_pool2d", got, want)
        return _compare("max_pool2d indices", idx, want_idx)

    return f"max_pool2d  3x3 stride 2 padding 1, indices, {layout} float32 x(2, 8, 17, 17)", check


def _window_pools(clock: _Clock) -> float:
    x = _uniform((2, 8, 17, 17), np.float32, 12)
    ax = np.abs(x)
    kw: dict[str, Any] = dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    worst = _compare("avg_pool2d", clock(fastconv.avg_pool2d, x, 3, **kw), ref.avg_pool2d(x, 3, **kw),
                     _bound(np.float32, 9, ref.avg_pool2d(ax, 3, **kw)))
    worst = max(worst, _compare("sum_pool2d", clock(fastconv.sum_pool2d, x, (2, 3)), ref.sum_pool2d(x, (2, 3)),
                                _bound(np.float32, 6, ref.sum_pool2d(ax, (2, 3)))))
    want = ref.lp_pool2d(x, 2, 2)
    return max(worst, _compare("lp_pool2d", clock(fastconv.lp_pool2d, x, 2, 2), want, _bound(np.float32, 4 + 2, want)))


def _adaptive_pools(clock: _Clock) -> float:
    x = _uniform((2, 8, 17, 13), np.float64, 13)
    worst = _compare("adaptive_avg_pool2d", clock(fastconv.adaptive_avg_pool2d, x, (5, 4)),
                     ref.adaptive_avg_pool2d(x, (5, 4)),
                     _bound(np.float64, 5 * 5, ref.adaptive_avg_pool2d(np.abs(x), (5, 4))))
    got, idx = clock(fastconv.adaptive_max_pool2d, x, 3, return_indices=True)
    want, want_idx = ref.adaptive_max_pool2d(x, 3, return_indices=True)
    _compare("adaptive_max_pool2d", got, want)
    _compare("adaptive_max_pool2d indices", idx, want_idx)
    _compare("global_max_pool2d", clock(fastconv.global_max_pool2d, x), ref.global_max_pool2d(x))
    return max(worst, _compare("global_avg_pool2d", clock(fastconv.global_avg_pool2d, x), ref.global_avg_pool2d(x),
                               _bound(np.float64, 17 * 13, ref.global_avg_pool2d(np.abs(x)))))


def _pools_1d(clock: _Clock) -> float:
    x = _uniform((2, 3, 40), np.float32, 14)
    _compare("max_pool1d", clock(fastconv.max_pool1d, x, 4, stride=3, padding=2), ref.max_pool1d(x, 4, 3, 2))
    kw: dict[str, Any] = dict(stride=1, padding=1)
    return _compare("avg_pool1d", clock(fastconv.avg_pool1d, x, 3, **kw), ref.avg_pool1d(x, 3, **kw),
                    _bound(np.float32, 3, ref.avg_pool1d(np.abs(x), 3, **kw)))


def _relu(clock: _Clock) -> float:
    x = _uniform((3, 5, 7, 9), np.float32, 15)
    return _compare("relu", clock(fastconv.relu, x), ref.relu(x))


def _blur_pools(dtype: Any, layout: str) -> Tuple[str, Check]:
    def check(clock: _Clock) -> float:
        x = _uniform((2, 6, 19, 16), dtype, 16)
        ax = np.abs(x)
        if layout == "NHWC":
            xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            blur = clock(fastconv.blur_pool2d, xl, 4, 2, layout="NHWC").transpose(0, 3, 1, 2)
            max_blur = clock(fastconv.max_blur_pool2d, xl, 3, 2, 4, 1, layout="NHWC").transpose(0, 3, 1, 2)
        else:
            blur = clock(fastconv.blur_pool2d, x, 4, 2)
            max_blur = clock(fastconv.max_blur_pool2d, x, 3, 2, 4, 1)
        worst = _compare("blur_pool2d", blur, ref.blur_pool2d(x, 4, 2), _bound(dtype, 16, ref.blur_pool2d(ax, 4, 2)))
        return max(worst, _compare("max_blur_pool2d", max_blur, ref.max_blur_pool2d(x, 3, 2, 4, 1),
                                   _bound(dtype, 16, ref.max_blur_pool2d(ax, 3, 2, 4, 1))))

    return f"blur_pool2d, max_blur_pool2d  filter 4 stride 2, {layout} {np.dtype(dtype).name} x(2, 6, 19, 16)", check


def _blur_pools_1d(clock: _Clock) -> float:
    x = _uniform((2, 3, 31), np.float64, 17)
    ax = np.abs(x)
    worst = _compare("blur_pool1d", clock(fastconv.blur_pool1d, x, 3, 2, "circular"), ref.blur_pool1d(x, 3, 2, "circular"),
                     _bound(np.float64, 3, ref.blur_pool1d(ax, 3, 2, "circular")))
    return max(worst, _compare("max_blur_pool1d", clock(fastconv.max_blur_pool1d, x, 2, 2, 5),
                               ref.max_blur_pool1d(x, 2, 2, 5), _bound(np.float64, 5, ref.max_blur_pool1d(ax, 2, 2, 5))))


def _conv2d_backward(dtype: Any, layout: str) -> Tuple[str, Check]:
    def check(clock: _Clock) -> float:
        x, w = _uniform((2, 6, 13, 11), dtype, 18), _uniform((8, 3, 3, 3), dtype, 19)
        kw: dict[str, Any] = dict(stride=2, padding=1, groups=2)
        y = ref.conv2d(x, w, **kw)
        dy = _uniform(y.shape, dtype, 20)
        want = ref.conv2d_backward(dy, x, w, **kw)
        magnitude = ref.conv2d_backward(np.abs(dy), np.abs(x), np.abs(w), **kw)
        if layout == "NHWC":
            to, back = (0, 2, 3, 1), (0, 3, 1, 2)
            got = clock(fastconv.conv2d_backward, np.ascontiguousarray(dy.transpose(to)),
                        np.ascontiguousarray(x.transpose(to)), w, layout="NHWC", **kw)
            got["input"] = got["input"].transpose(back)
        else:
            got = clock(fastconv.conv2d_backward, dy, x, w, **kw)
        if sorted(got) != ["bias", "input", "weight"]:
            raise _Failure(f"conv2d_backward returned {sorted(got)}, expected bias, input and weight")
        pixels = y.shape[0] * y.shape[2] * y.shape[3]
        terms = {"input": 4 * 9, "weight": pixels, "bias": pixels}  # K/groups * kh * kw; N * OH * OW
        return max(_compare(f"conv2d_backward[{name!r}]", got[name], want[name],
                            _bound(dtype, terms[name], magnitude[name])) for name in terms)

    return (f"conv2d_backward  3x3 stride 2 padding 1 groups 2, {layout} {np.dtype(dtype).name} x(2, 6, 13, 11) "
            f"w(8, 3, 3, 3)"), check


def _pool_backward(clock: _Clock) -> float:
    x = _uniform((2, 5, 15, 14), np.float32, 21)
    y, idx = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    dy = _uniform(y.shape, np.float32, 22)
    got = clock(fastconv.max_pool2d_backward, dy, idx, x.shape)
    worst = _compare("max_pool2d_backward", got, ref.max_pool2d_backward(dy, idx, x.shape),
                     _bound(np.float32, 4, ref.max_pool2d_backward(np.abs(dy), idx, x.shape)))
    a = fastconv.avg_pool2d(x, 3, 2, 1)
    da = _uniform(a.shape, np.float32, 23)
    got = clock(fastconv.avg_pool2d_backward, da, x.shape, 3, 2, 1)
    worst = max(worst, _compare("avg_pool2d_backward", got, ref.avg_pool2d_backward(da, x.shape, 3, 2, 1),
                                _bound(np.float32, 4, ref.avg_pool2d_backward(np.abs(da), x.shape, 3, 2, 1))))
    b = fastconv.blur_pool2d(x)
    db = _uniform(b.shape, np.float32, 24)
    got = clock(fastconv.blur_pool2d_backward, db, x.shape)
    worst = max(worst, _compare("blur_pool2d_backward", got, ref.blur_pool2d_backward(db, x.shape),
                                _bound(np.float32, 16, ref.blur_pool2d_backward(np.abs(db), x.shape))))
    got = clock(fastconv.relu_backward, dy, y)
    return max(worst, _compare("relu_backward", got, ref.relu_backward(dy, y)))


def checks() -> list[Tuple[str, Check]]:
    """[(label, check)]: each check takes a _Clock and returns its worst error / bound ratio."""
    conv_shape: dict[str, Any] = dict(x_shape=(2, 16, 20, 18), w_shape=(24, 16, 3, 3), padding=1)
    items = [_conv2d(algorithm, np.float32, **conv_shape)
             for algorithm in ("auto", "direct", "im2col", "im2col_nhwc", "batched", "winograd")]
    items += [
        _conv2d("auto", np.float32, (2, 16, 20, 18), (24, 16, 3, 3), layout="NHWC", padding=1, activation="relu"),
        _conv2d("winograd", np.float32, (1, 8, 13, 10), (8, 8, 3, 3), layout="NHWC", padding="same",
                padding_mode="reflect"),
        _conv2d("auto", np.float64, (2, 3, 32, 32), (8, 3, 7, 7), stride=2, padding=3),
        _conv2d("auto", np.float32, (2, 8, 15, 17), (8, 1, 3, 3), groups=8, padding="same", padding_mode="circular"),
        _conv2d("auto", np.float32, (2, 12, 12, 12), (16, 12, 1, 1), layout="NHWC", bias=False),
        ("conv1d  stride 2 padding (2, 2), float64 x(2, 4, 50) w(6, 4, 5)", _conv1d),
        ("conv_transpose2d  stride 2 padding 1 output_padding 1, float32 x(2, 4, 9, 9) w(4, 3, 3, 3)",
         _conv_transpose2d),
        ("correlate2d, convolve2d  mode 'same' boundary 'symm', float64 (20, 23) * (5, 4)", _correlate2d),
        _max_pool2d("NCHW"),
        _max_pool2d("NHWC"),
        ("avg_pool2d, sum_pool2d, lp_pool2d  float32 x(2, 8, 17, 17)", _window_pools),
        ("adaptive_avg/max_pool2d, global_avg/max_pool2d  float64 x(2, 8, 17, 13)", _adaptive_pools),
        ("max_pool1d, avg_pool1d  float32 x(2, 3, 40)", _pools_1d),
        ("relu  float32 x(3, 5, 7, 9)", _relu),
        _blur_pools(np.float32, "NCHW"),
        _blur_pools(np.float64, "NHWC"),
        ("blur_pool1d, max_blur_pool1d  float64 x(2, 3, 31)", _blur_pools_1d),
        _conv2d_backward(np.float32, "NCHW"),
        _conv2d_backward(np.float64, "NHWC"),
        ("max_pool2d, avg_pool2d, blur_pool2d, relu backward  float32 x(2, 5, 15, 14)", _pool_backward),
    ]
    return items


def self_check(out: Optional[TextIO] = None) -> int:
    """Run every check, print two lines each (to out, default stdout); return the number of failures."""
    out = sys.stdout if out is None else out
    failures = 0
    start = time.perf_counter()
    items = checks()
    for label, check in items:
        clock = _Clock()
        began = time.perf_counter()
        try:
            worst = check(clock)
            status, detail = "PASS", f"worst error {worst:.2%} of its bound" if worst else "exact"
        except _Failure as exc:
            failures += 1
            status, detail = "FAIL", str(exc)
        except Exception as exc:  # a crash of the check is a failure too, reported, not raised
            failures += 1
            status, detail = "FAIL", f"{type(exc).__name__}: {exc}"
        total = time.perf_counter() - began
        print(f"  {status}  {label}", file=out)
        print(f"        {detail}; fastconv {clock.seconds * 1e3:.2f} ms, whole check {total * 1e3:.1f} ms",
              file=out)
    elapsed = time.perf_counter() - start
    if failures:
        print(f"FAILED: {failures} of {len(items)} checks in {elapsed:.2f} s. fastconv disagrees with its reference "
              f"on this machine (backend {fastconv.backend()}); please report this output.", file=out)
    else:
        print(f"All {len(items)} checks passed in {elapsed:.2f} s: fastconv agrees with fastconv.reference "
              f"on this machine.", file=out)
    return failures


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fastconv",
        description="Print what fastconv is, its version and build configuration, and check its kernels "
                    "against the NumPy reference on a handful of shapes (a few seconds at most).")
    parser.parse_args(argv)
    print(SUMMARY.format(version=fastconv.__version__))
    print()
    print("Configuration (fastconv.show_config()):")
    fastconv.show_config()
    print()
    print(f"Self-check against fastconv.reference (backend {fastconv.backend()}, "
          f"{fastconv.get_num_threads()} threads):")
    sys.stdout.flush()
    return 1 if self_check() else 0


if __name__ == "__main__":
    sys.exit(main())
