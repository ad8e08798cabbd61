"""Hypothesis: random valid pool configurations, fastconv against the NumPy reference.

Every example draws a geometry that the rules accept (padding at most half the kernel, the
(dilated) window no larger than the padded input), a batch (possibly empty), a dtype, a
memory layout and a kind of values (for the max pools also NaN/inf and ties).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
from conftest import DTYPES, assert_close
from fastconv import _args
from fastconv import reference as ref

SETTINGS = dict(deadline=None, derandomize=True)


def make_input(draw, shape, kind):
    """An array of ``shape`` with values of ``kind``, in a layout drawn here (maybe a strided view)."""
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(["contiguous", "reversed", "strided", "unbatched"]))
    if layout == "unbatched" and shape[0] != 1:
        layout = "contiguous"
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    big = shape[:-1] + (2 * shape[-1],) if layout == "strided" else shape
    if kind == "ties":  # small integers, zeros of both signs
        x = rng.integers(-1, 2, big) * np.where(rng.uniform(size=big) < 0.5, -1.0, 1.0)
    elif kind == "positive":
        x = rng.uniform(0.05, 2.0, big)
    else:
        x = rng.uniform(-1, 1, big)
        if kind == "special":
            u = rng.uniform(size=big)
            x[u < 0.1] = np.nan
            x[(u >= 0.1) & (u < 0.15)] = np.inf
            x[(u >= 0.15) & (u < 0.2)] = -np.inf
    x = x.astype(dtype)
    if layout == "reversed":
        x = x[..., ::-1]
    elif layout == "strided":
        x = x[..., ::2]
    elif layout == "unbatched":
        x = x[0]
    return x


def maybe_scalar(draw, t):
    """An int when all entries agree and the draw says so, else the tuple."""
    return t[0] if len(set(t)) == 1 and draw(st.booleans()) else tuple(t)


@st.composite
def window_cases(draw, name):
    """(x, kwargs) for one of the strided window pools."""
    nd = 1 if name.endswith("1d") else 2
    is_max, is_lp = name.startswith("max"), name == "lp_pool2d"
    k = [draw(st.integers(1, 4)) for _ in range(nd)]
    d = [draw(st.integers(1, 3)) for _ in range(nd)] if is_max else [1] * nd
    p = [0] * nd if is_lp else [draw(st.integers(0, kk // 2)) for kk in k]
    s = [draw(st.integers(1, 5)) for _ in range(nd)]
    eff = [_args.effective_kernel(kk, dd) for kk, dd in zip(k, d)]
    extra = [9] * (nd - 1) + [draw(st.sampled_from([9, 40]))]    # sometimes long rows (SIMD interiors)
    sizes = [draw(st.integers(max(1, e - 2 * pp), e - 2 * pp + m)) for e, pp, m in zip(eff, p, extra)]
    shape = (draw(st.integers(0, 2)), draw(st.integers(1, 3))) + tuple(sizes)
    kw = dict(kernel_size=maybe_scalar(draw, k), ceil_mode=draw(st.booleans()))
    if draw(st.booleans()):
        kw["stride"] = maybe_scalar(draw, s)
    if not is_lp:
        kw["padding"] = maybe_scalar(draw, p)
    if is_max:
        kw["dilation"] = maybe_scalar(draw, d)
        kind = draw(st.sampled_from(["uniform", "special", "ties"]))
    elif is_lp:
        kw["norm_type"] = draw(st.sampled_from([1, 2, 3, 3.5, 0.5]))
        kind = "uniform" if kw["norm_type"] in (1, 2) else "positive"
    else:
        kind = "uniform"
    if name.startswith("avg"):
        kw["count_include_pad"] = draw(st.booleans())
        if nd == 2 and draw(st.booleans()):
            kw["divisor_override"] = draw(st.integers(1, 20))
    return make_input(draw, shape, kind), kw, int(np.prod(k))


@st.composite
def adaptive_cases(draw, name):
    hw = tuple(draw(st.integers(1, 12)) for _ in range(2))
    shape = (draw(st.integers(0, 2)), draw(st.integers(1, 3))) + hw
    if name.startswith("global"):
        out, kw = (1, 1), {}
    else:  # output sizes below, equal to and above the input's; None keeps the input size
        size = [draw(st.one_of(st.none(), st.integers(1, 14))) for _ in range(2)]
        out = tuple(h if o is None else o for o, h in zip(size, hw))
        kw = dict(output_size=tuple(size) if None in size else maybe_scalar(draw, size))
    largest = [max(b - a for a, b in (_args.adaptive_window(i, h, o) for i in range(o))) for h, o in zip(hw, out)]
    kind = draw(st.sampled_from(["uniform", "special", "ties"])) if "max" in name else "uniform"
    return make_input(draw, shape, kind), kw, largest[0] * largest[1]


def check(name, x, kw, terms):
    """Max pools exactly (values, signs of zero, indices); the others within assert_close."""
    before = x.copy()
    indexed = name in ("max_pool2d", "max_pool1d", "adaptive_max_pool2d")
    if indexed:
        kw = dict(kw, return_indices=True)
    got, want = getattr(fastconv, name)(x, **kw), getattr(ref, name)(x, **kw)
    np.testing.assert_array_equal(x, before)
    if indexed:
        (got, idx), (want, want_idx) = got, want
        assert idx.dtype == np.int64 and idx.shape == want_idx.shape
        np.testing.assert_array_equal(idx, want_idx)
    if "max" in name:
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    else:
        magnitude = getattr(ref, name)(np.abs(x), **kw)
        assert_close(got, want, magnitude=magnitude, terms=terms + 2 * (name == "lp_pool2d"))


EXAMPLES = {
    "max_pool2d": 45, "avg_pool2d": 40, "sum_pool2d": 25, "lp_pool2d": 35,
    "max_pool1d": 30, "avg_pool1d": 20, "sum_pool1d": 20,
    "adaptive_avg_pool2d": 30, "adaptive_max_pool2d": 35, "global_avg_pool2d": 10, "global_max_pool2d": 10,
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_matches_reference(name):
    strategy = adaptive_cases(name) if "adaptive" in name or "global" in name else window_cases(name)

    @settings(max_examples=EXAMPLES[name], **SETTINGS)
    @given(case=strategy)
    def run(case):
        check(name, *case)

    run()


def test_example_budget():
    assert 280 <= sum(EXAMPLES.values()) <= 320
    assert set(EXAMPLES) == {name for name in fastconv.__all__
                             if "pool" in name and not name.endswith("_backward") and "blur" not in name}
