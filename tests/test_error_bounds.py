"""The documented float32 error bounds of every conv algorithm and summing pool against a
float64 reference, on the benchmark shapes (channels and kernels as in bench_shapes.json,
images cut to 16x16; shapes, data and measures from benches/error_bounds.py, which prints the
measured errors); and float64 against the float64 reference.

Bounds, for an output that sums L = C/groups*kh*kw products (L + 1 terms with a bias, whose
|b| then joins the magnitude; a fused relu adds no error), u = 2**-24, gamma_n = n u/(1 - n u):

  direct, im2col, im2col_nhwc, batched, auto, either layout, any data:
      |y - y_exact| <= gamma_L * sum_i |x_i w_i|
  The rigorous bound of a sum of L products in any order, with or without FMA: c = 1.
  Measured worst: 0.55 L u (S4, L = 9); at most 0.13 L u at L >= 147 (errors grow about as sqrt(L) u).

  winograd (F(4x4, 3x3)), two bounds:
      any data:  |y - y_exact| <= 4 (C + 64) u * P,  P = sum_c (sum of |x_c| over the 6x6 input
                 window of the output's 4x4 tile) * (sum of |w_kc|)
      data without outliers in both x and w:  |y - y_exact| <= 2 (L + 64) u * T,
                 T = the largest sum |x w| of the 16 outputs of the output's tile
  The first has the form of the rigorous bound (the GEMM over C channels plus the transforms'
  roundings, times the transformed magnitudes, which P bounds); its constant is fitted: worst
  measured 0.42 of it (spiky data, C = 64). The second is what conv2d's docstring promises;
  it fails when a large x and a large w meet in a tile's transforms without meeting in any of
  its outputs (spiky data: up to 44 times it on S7 at 32x32), so it is asserted on normal and
  uniform data only (worst measured: 0.03 of it).

  sum and avg pools: gamma_L * pool(|x|) (the divisor's rounding included); lp (p = 2):
  gamma_(L+2) * lp(|x|) (x**2, the scaling and the root); max pools: exact.

  float64: max|err| / max|y| <= 1e-12, and the bounds above with u = 2**-53, twice over (the
  reference rounds too).

A wrong index (a term missing or doubled) moves an output by one |x_j w_j|, on average
sum |x w| / L: against gamma_L * sum |x w| ~ L u sum |x w| that is a factor 1/(L**2 u), over 12
for every benchmark L (at most 1152). test_one_wrong_term_breaks_the_bounds checks that every
bound catches it on every shape: measured, the worst output exceeds the GEMM bound 51 times
(S6, L = 1152), Winograd's pairs bound 9 times and its tile bound 88 times.
"""

import functools
import importlib.util
import pathlib

import numpy as np
import pytest
from conftest import num_threads

from fastconv._error_bounds import winograd_tile_max

ERROR_BOUNDS = pathlib.Path(__file__).resolve().parent.parent / "benches" / "error_bounds.py"
_spec = importlib.util.spec_from_file_location("fastconv_error_bounds", ERROR_BOUNDS)
eb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eb)

U64 = 2.0 ** -53
MAX_SIDE = 16  # images cut further than the script's, for time
CONV_SHAPES = eb.conv_shapes(max_side=MAX_SIDE)
# (distribution, with bias and relu)
DATA = [("normal", False), ("uniform", False), ("spiky", False), ("normal", True)]
OUTLIER_FREE = ("normal", "uniform")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The results do not depend on the thread count (test_determinism); on a busy machine
    idle OpenMP threads spinning at each call cost more than this file's work."""
    with num_threads(1):
        yield


@functools.lru_cache(maxsize=None)
def conv_case(name, distribution, bias, dtype):
    """(x, w, b, kw, exact y, sum |x w| + |b|, L + bias terms) for a benchmark shape."""
    xshape, wshape, kw = CONV_SHAPES[name]
    x, w, b = eb.conv_inputs(xshape, wshape, distribution, dtype, bias)
    y, magnitude = eb.conv_reference(x, w, b, kw)
    if bias:
        y = np.maximum(y, 0)
    return x, w, b, kw, y, magnitude, eb.reduction_length(wshape) + bias


def conv_bounds(algorithm, x, w, b, kw, magnitude, terms, distribution, u=eb.U32):
    """The bounds that apply: [(name, per-output bound)]."""
    if algorithm != "winograd":
        return [("gamma_L sum|xw|", eb.gamma(terms, u) * magnitude)]
    pairs = eb.pairs_magnitude(x, w, kw["padding"]) + (0 if b is None else np.abs(b)[:, None, None])
    bounds = [("4 (C+64) u P", 4 * (w.shape[1] + 64) * u * pairs)]
    if distribution in OUTLIER_FREE:
        bounds.append(("2 (L+64) u T", 2 * (terms + 64) * u * winograd_tile_max(magnitude)))
    return bounds


def worst_ratio(y, exact, bound):
    return float((np.abs(y.astype(np.float64) - exact) / bound).max())


CONV_CASES = [pytest.param(name, label, algorithm, layout, id=f"{name}-{label.replace(' ', '-')}")
              for name, (_, wshape, kw) in CONV_SHAPES.items()
              for label, algorithm, layout in eb.conv_variants(wshape, kw)]


@pytest.mark.parametrize("name, label, algorithm, layout", CONV_CASES)
def test_conv2d_float32_error_is_within_the_bound(name, label, algorithm, layout):
    for distribution, bias in DATA:
        x, w, b, kw, exact, magnitude, terms = conv_case(name, distribution, bias, np.float32)
        y = eb.conv_fast(x, w, b, algorithm, layout, kw, activation="relu" if bias else None)
        for bound_name, bound in conv_bounds(algorithm, x, w, b, kw, magnitude, terms, distribution):
            ratio = worst_ratio(y, exact, bound)
            assert ratio <= 1, f"{distribution}, bias={bias}: error {ratio:.3g} x {bound_name}"


@pytest.mark.parametrize("name, label, algorithm, layout", CONV_CASES)
def test_conv2d_float64_matches_the_float64_reference(name, label, algorithm, layout):
    for distribution in OUTLIER_FREE:
        x, w, b, kw, exact, magnitude, terms = conv_case(name, distribution, False, np.float64)
        y = eb.conv_fast(x, w, b, algorithm, layout, kw)
        normwise, _ = eb.errors(y, exact, magnitude)
        assert normwise <= 1e-12, f"{distribution}: max|err|/max|y| = {normwise:.3g}"
        for bound_name, bound in conv_bounds(algorithm, x, w, b, kw, magnitude, terms, distribution, U64):
            ratio = worst_ratio(y, exact, 2 * bound)
            assert ratio <= 1, f"{distribution}: error {ratio:.3g} x twice {bound_name} (u = 2**-53)"


POOL_CASES = eb.pool_cases(max_side=MAX_SIDE)


def pool_bound(op, L, magnitude, u=eb.U32):
    return eb.gamma(L + 2 if op == "lp2" else L, u) * magnitude


@pytest.mark.parametrize("name, op", list(POOL_CASES), ids="-".join)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_pool_error_is_within_the_bound(name, op, dtype):
    xshape, L, fast, slow, mag = POOL_CASES[name, op]
    u = eb.U32 if dtype == np.float32 else U64
    for distribution in eb.DISTRIBUTIONS:
        x = eb.draw(xshape, distribution, dtype, 4)
        exact = slow(x.astype(np.float64))
        y = fast(x)
        if op == "max":
            np.testing.assert_array_equal(y, exact.astype(dtype))
            continue
        bound = pool_bound(op, L, mag(np.abs(x.astype(np.float64))), u)
        ratio = worst_ratio(y, exact, bound if dtype == np.float32 else 2 * bound)  # float64: the reference rounds too
        assert ratio <= 1, f"{distribution}: error {ratio:.3g} x the bound"
        if dtype == np.float64:
            assert eb.errors(y, exact, bound)[0] <= 1e-12


# --------------------------------------------------------------------------- the bounds are tight enough


@functools.lru_cache(maxsize=None)
def missing_term(name, distribution):
    """The float32 result of a conv that is exact but for one missing term in every output
    whose window reaches it: tap (0, 0) of each group's first channel (doubling it would
    move the output as much)."""
    x, w, _, kw, *_ = conv_case(name, distribution, False, np.float32)
    w_missing = w.copy()
    w_missing[:, 0, 0, 0] = 0
    return eb.conv_reference(x, w_missing, None, kw)[0].astype(np.float32)


@pytest.mark.parametrize("name", list(CONV_SHAPES))
def test_one_wrong_term_breaks_the_bounds(name):
    """Each bound of the shape's algorithms that applies to the data is exceeded by a result
    with one wrong term."""
    for distribution in OUTLIER_FREE:
        x, w, b, kw, exact, magnitude, terms = conv_case(name, distribution, False, np.float32)
        algorithms = {algorithm for _, algorithm, _ in eb.conv_variants(w.shape, kw)}
        for algorithm in sorted(algorithms & {"im2col", "winograd"}):
            for bound_name, bound in conv_bounds(algorithm, x, w, b, kw, magnitude, terms, distribution):
                wrong = missing_term(name, distribution)
                assert worst_ratio(wrong, exact, bound) > 1, f"{distribution}: {bound_name} misses a wrong term"


@pytest.mark.parametrize("name, op", [k for k in POOL_CASES if k[1] != "max"], ids="-".join)
def test_one_wrong_pool_term_breaks_the_bound(name, op):
    xshape, L, _, slow, mag = POOL_CASES[name, op]
    x = eb.draw(xshape, "uniform", np.float64, 4)
    missing = x.copy()
    missing[:, :, 0, 0] = 0
    wrong = slow(missing).astype(np.float32)
    assert worst_ratio(wrong, slow(x), pool_bound(op, L, mag(np.abs(x)))) > 1
