"""Hypothesis: random valid configurations of conv2d, conv1d, conv_transpose2d and correlate2d /
convolve2d agree with fastconv.reference within the rounding bound of conftest.assert_close.

Shapes are kept small so the whole file runs in a few seconds; derandomize=True makes the
examples the same on every run (reproducible CI).
"""

import numpy as np
import pytest

import fastconv
from conftest import CONV_ALGORITHMS, DTYPES, assert_close, random
from fastconv import reference as ref

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# The autouse ``backend`` fixture is function scoped: it selects the backend once per test and
# every example of that test runs under it, which is what we want.
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])

dtypes = st.sampled_from(DTYPES)
algorithms = st.sampled_from(CONV_ALGORITHMS)


def side_padding(draw, n):
    """A conv padding argument for n spatial dims, its per-side pairs (None for a string)."""
    kind = draw(st.sampled_from(["int", "tuple", "pairs", "string"]))
    if kind == "string":
        return draw(st.sampled_from(["valid", "narrow", "same", "full", "wide"])), None
    if kind == "int":
        p = draw(st.integers(0, 3))
        return p, ((p, p),) * n
    if kind == "tuple":
        t = tuple(draw(st.integers(0, 3)) for _ in range(n))
        return t, tuple((p, p) for p in t)
    pairs = tuple((draw(st.integers(0, 4)), draw(st.integers(0, 4))) for _ in range(n))
    if n == 1 and draw(st.booleans()):
        return pairs[0], pairs  # conv1d's bare (left, right)
    return pairs, pairs


def spatial(draw, n):
    """Kernel, stride, dilation, padding and input sizes for n spatial dims, always valid."""
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    padding, pairs = side_padding(draw, n)
    sizes = []
    for i in range(n):
        eff = dilation[i] * (kernel[i] - 1) + 1
        if padding in ("valid", "narrow"):
            low = eff
        elif pairs is None:  # same / full never run out of input
            low = 1
        else:
            low = max(1, eff - sum(pairs[i]))
        sizes.append(draw(st.integers(low, low + 6)))
    return kernel, stride, dilation, padding, tuple(sizes)


@st.composite
def conv_configs(draw, n):
    groups = draw(st.integers(1, 3))
    cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kernel, stride, dilation, padding, sizes = spatial(draw, n)
    batch = draw(st.sampled_from([None, 0, 1, 2]))  # None: unbatched input
    xshape = ((batch,) if batch is not None else ()) + (groups * cg,) + sizes
    kw = dict(stride=stride if draw(st.booleans()) else stride[0] if len(set(stride)) == 1 else stride,
              padding=padding, dilation=dilation, groups=groups,
              padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"])),
              activation=draw(st.sampled_from([None, "relu"])), algorithm=draw(algorithms))
    return xshape, (groups * kg, cg) + kernel, draw(st.booleans()), kw, draw(dtypes), draw(st.integers(0, 2**16))


def compare(fast, slow, x, w, b, kw, terms):
    got = fast(x, w, b, **kw)
    mag_kw = {k: v for k, v in kw.items() if k != "activation"}
    magnitude = slow(np.abs(x), np.abs(w), None if b is None else np.abs(b), **mag_kw)
    assert_close(got, slow(x, w, b, **kw), magnitude, terms)


def data(xshape, wshape, k_out, bias, dtype, seed):
    b = random((k_out,), dtype, seed + 2) if bias else None
    return random(xshape, dtype, seed), random(wshape, dtype, seed + 1), b


@settings(max_examples=250, **SETTINGS)
@given(conv_configs(2))
def test_conv2d(config):
    xshape, wshape, bias, kw, dtype, seed = config
    x, w, b = data(xshape, wshape, wshape[0], bias, dtype, seed)
    compare(fastconv.conv2d, ref.conv2d, x, w, b, kw, terms=int(np.prod(wshape[1:])))


@settings(max_examples=150, **SETTINGS)
@given(conv_configs(1))
def test_conv1d(config):
    xshape, wshape, bias, kw, dtype, seed = config
    x, w, b = data(xshape, wshape, wshape[0], bias, dtype, seed)
    compare(fastconv.conv1d, ref.conv1d, x, w, b, kw, terms=int(np.prod(wshape[1:])))


@st.composite
def conv_transpose_configs(draw):
    groups = draw(st.integers(1, 3))
    cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    sizes = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    # the largest padding that keeps the output non-empty: 2p <= (n-1)s + d(k-1) + op
    pad = tuple(draw(st.integers(0, ((n - 1) * s + d * (k - 1) + op) // 2))
                for n, s, d, k, op in zip(sizes, stride, dilation, kernel, out_pad))
    batch = draw(st.sampled_from([None, 0, 1, 2]))
    xshape = ((batch,) if batch is not None else ()) + (groups * cg,) + sizes
    kw = dict(stride=stride, padding=pad, output_padding=out_pad, groups=groups, dilation=dilation)
    return xshape, (groups * cg, kg) + kernel, draw(st.booleans()), kw, draw(dtypes), draw(st.integers(0, 2**16))


@settings(max_examples=200, **SETTINGS)
@given(conv_transpose_configs())
def test_conv_transpose2d(config):
    xshape, wshape, bias, kw, dtype, seed = config
    x, w, b = data(xshape, wshape, wshape[1] * kw["groups"], bias, dtype, seed)
    compare(fastconv.conv_transpose2d, ref.conv_transpose2d, x, w, b, kw,
            terms=wshape[0] // kw["groups"] * wshape[2] * wshape[3])


@st.composite
def correlate_configs(draw):
    mode = draw(st.sampled_from(["full", "same", "valid"]))
    image = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    if mode == "valid":  # one must be at least as large as the other in every dim
        if draw(st.booleans()):
            kernel = tuple(draw(st.integers(1, n)) for n in image)
        else:
            kernel = tuple(draw(st.integers(n, n + 4)) for n in image)
    else:
        kernel = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    boundary = draw(st.sampled_from(["fill", "wrap", "symm", "pad", "circular", "symmetric"]))
    fillvalue = draw(st.sampled_from([0.0, 1.0, -2.5, 0.375]))
    func = draw(st.sampled_from(["correlate2d", "convolve2d"]))
    return func, image, kernel, mode, boundary, fillvalue, draw(dtypes), draw(st.integers(0, 2**16))


@settings(max_examples=200, **SETTINGS)
@given(correlate_configs())
def test_correlate2d_and_convolve2d(config):
    func, ishape, kshape, mode, boundary, fillvalue, dtype, seed = config
    image, kernel = random(ishape, dtype, seed), random(kshape, dtype, seed + 1)
    fast, slow = getattr(fastconv, func), getattr(ref, func)
    got = fast(image, kernel, mode, boundary, fillvalue)
    magnitude = slow(np.abs(image), np.abs(kernel), mode, boundary, abs(fillvalue))
    swapped = mode == "valid" and ishape != kshape and all(i <= k for i, k in zip(ishape, kshape))
    assert_close(got, slow(image, kernel, mode, boundary, fillvalue), magnitude,
                 terms=image.size if swapped else kernel.size)


@settings(max_examples=100, **SETTINGS)
@given(conv_configs(2), st.sampled_from([a for a in CONV_ALGORITHMS if a != "auto"]))
def test_conv2d_algorithms_agree(config, other):
    """"direct", "im2col" and "im2col_nhwc" give the same answer up to rounding (the bound of both against exact)."""
    xshape, wshape, bias, kw, dtype, seed = config
    x, w, b = data(xshape, wshape, wshape[0], bias, dtype, seed)
    first = fastconv.conv2d(x, w, b, **kw)
    second = fastconv.conv2d(x, w, b, **dict(kw, algorithm=other))
    mag_kw = {k: v for k, v in kw.items() if k != "activation"}
    magnitude = ref.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), **mag_kw)
    assert_close(second, first, 2 * magnitude, terms=int(np.prod(wshape[1:])))
