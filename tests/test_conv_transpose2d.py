"""fastconv.conv_transpose2d against fastconv.reference: strides, output_padding, dilation, groups."""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, random
from fastconv import reference as ref


def make(xshape, wshape, groups, dtype, bias=False, seed=0):
    x = random(xshape, dtype, seed)
    w = random(wshape, dtype, seed + 1)
    b = random((wshape[1] * groups,), dtype, seed + 2) if bias else None
    return x, w, b


def check(x, w, b=None, **kw):
    """conv_transpose2d matches the reference within the rounding bound; returns fastconv's result.

    Each output sums at most (C/groups) * kh * kw products (fewer when stride > 1)."""
    got = fastconv.conv_transpose2d(x, w, b, **kw)
    expected = ref.conv_transpose2d(x, w, b, **kw)
    magnitude = ref.conv_transpose2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), **kw)
    terms = w.shape[0] // kw.get("groups", 1) * w.shape[2] * w.shape[3]
    assert_close(got, expected, magnitude, terms)
    return got


# (id, x shape (N, C, H, W), weight shape (C, K/groups, kh, kw), keyword arguments)
CASES = [
    ("1x1-image-1x1-kernel", (2, 3, 1, 1), (3, 4, 1, 1), dict(bias=True)),
    ("1x1-image-3x3", (1, 2, 1, 1), (2, 3, 3, 3), {}),
    ("1x1-image-stride-padding", (1, 2, 1, 1), (2, 3, 4, 4), dict(stride=3, padding=1)),
    ("odd-sizes", (1, 3, 5, 7), (3, 5, 3, 5), {}),
    ("even-kernel", (2, 2, 4, 3), (2, 3, 2, 4), dict(bias=True)),
    ("stride-2", (2, 3, 4, 5), (3, 4, 3, 3), dict(stride=2, padding=1)),
    ("stride-larger-than-kernel", (1, 2, 4, 3), (2, 3, 2, 2), dict(stride=(4, 5))),
    ("stride-output-padding", (1, 3, 4, 4), (3, 2, 3, 3), dict(stride=(2, 3), padding=1, output_padding=(1, 2))),
    ("dilation", (1, 2, 5, 4), (2, 3, 3, 2), dict(dilation=(2, 3))),
    ("dilation-output-padding", (1, 2, 4, 4), (2, 3, 3, 3), dict(dilation=3, output_padding=2)),
    ("everything", (2, 4, 5, 4), (4, 3, 3, 2),
     dict(stride=(2, 3), padding=(2, 1), output_padding=(1, 0), dilation=(2, 1), groups=2, bias=True)),
    ("padding-crops-to-1", (1, 2, 3, 3), (2, 3, 3, 3), dict(padding=2)),
    ("groups-K-gt-C", (1, 4, 5, 6), (4, 3, 3, 3), dict(groups=2)),
    ("groups-K-lt-C", (1, 6, 5, 5), (6, 1, 3, 3), dict(groups=3, stride=2, bias=True)),
    ("depthwise", (2, 5, 6, 6), (5, 1, 3, 3), dict(groups=5, padding=1)),
    ("depthwise-multiplier", (1, 3, 4, 4), (3, 2, 2, 2), dict(groups=3, stride=2)),
    ("reduction-288", (1, 32, 5, 5), (32, 4, 3, 3), dict(padding=1, bias=True)),
    ("plane-900", (1, 2, 15, 15), (2, 3, 2, 2), dict(stride=2)),
    ("batch-0", (0, 3, 4, 4), (3, 2, 3, 3), dict(bias=True)),
    ("no-input-channels", (2, 0, 3, 3), (0, 2, 2, 2), dict(bias=True)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xshape, wshape, kw", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_reference(xshape, wshape, kw, dtype):
    kw = dict(kw)
    x, w, b = make(xshape, wshape, kw.get("groups", 1), dtype, bias=kw.pop("bias", False))
    got = check(x, w, b, **kw)
    assert got.dtype == dtype
    # the documented output size
    s, p, op, d = (np.broadcast_to(kw.get(name, default), 2) for name, default in
                   (("stride", 1), ("padding", 0), ("output_padding", 0), ("dilation", 1)))
    sizes = [(n - 1) * s[i] - 2 * p[i] + d[i] * (wshape[2 + i] - 1) + op[i] + 1 for i, n in enumerate(xshape[2:])]
    assert got.shape == (xshape[0], wshape[1] * kw.get("groups", 1), *sizes)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_unbatched_input(dtype):
    x, w, b = make((4, 5, 6), (4, 3, 3, 2), 2, dtype, bias=True)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    got = check(x, w, b, **kw)
    assert got.shape == (6, 10, 11)
    np.testing.assert_array_equal(got, fastconv.conv_transpose2d(x[None], w, b, **kw)[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["transposed", "sliced", "negative-strides"])
def test_noncontiguous_input_gives_the_same_answer(kind, dtype):
    x0, w0, b0 = make((2, 4, 5, 6), (4, 3, 3, 2), 2, dtype, bias=True)
    if kind == "transposed":
        x = np.ascontiguousarray(x0.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0)
        w, b = np.asfortranarray(w0), b0
    elif kind == "sliced":
        big = np.zeros((2, 8, 10, 18), dtype)
        big[:, ::2, ::2, ::3] = x0
        x, w, b = big[:, ::2, ::2, ::3], np.asfortranarray(w0), np.repeat(b0, 3)[::3]
    else:
        x = np.ascontiguousarray(x0[:, ::-1, ::-1, ::-1])[:, ::-1, ::-1, ::-1]
        w = np.ascontiguousarray(w0[::-1, :, :, ::-1])[::-1, :, :, ::-1]
        b = np.ascontiguousarray(b0[::-1])[::-1]
    assert not x.flags.c_contiguous
    kw = dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2)
    got = check(x, w, b, **kw)
    np.testing.assert_array_equal(got, fastconv.conv_transpose2d(x0, w0, b0, **kw))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (3, 2, 2, 1), ((2, 3), (0, 1), (1, 2), 2), (2, 1, 1, 4),
])
def test_is_the_adjoint_of_conv2d(stride, padding, dilation, groups, dtype):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>, with output_padding restoring x's size."""
    x = random((2, 4, 9, 8), dtype, 0)
    w = random((8, 4 // groups, 3, 2), dtype, 1)
    y_shape = ref.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups).shape
    y = random(y_shape, dtype, 2)
    s, p, d = (np.broadcast_to(v, 2) for v in (stride, padding, dilation))
    op = tuple(int((n + 2 * p[i] - d[i] * (w.shape[2 + i] - 1) - 1) % s[i]) for i, n in enumerate(x.shape[2:]))
    xt = check(y, w, stride=stride, padding=padding, output_padding=op, dilation=dilation, groups=groups)
    assert xt.shape == x.shape
    lhs = np.vdot(fastconv.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
                  .astype(np.float64), y.astype(np.float64))
    rhs = np.vdot(x.astype(np.float64), xt.astype(np.float64))
    bound = np.vdot(np.abs(x), ref.conv_transpose2d(np.abs(y), np.abs(w), stride=stride, padding=padding,
                                                    output_padding=op, dilation=dilation, groups=groups))
    assert abs(lhs - rhs) <= 4 * np.finfo(dtype).eps * (w[0].size + 1) * bound
