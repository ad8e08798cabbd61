"""fastconv.conv1d against fastconv.reference: awkward lengths, paddings, groups, both algorithms."""

import numpy as np
import pytest

import fastconv
from conftest import CONV_ALGORITHMS as ALGORITHMS
from conftest import DTYPES, assert_close, random
from conftest import conv_check, conv_inputs as make
from fastconv import reference as ref



def check(x, w, b=None, **kw):
    return conv_check(x, w, b, fn="conv1d", **kw)


CASES = [
    ("length-1", (2, 3, 1), (4, 3, 1), dict(bias=True)),
    ("length-1-padded", (1, 2, 1), (3, 2, 5), dict(padding=2)),
    ("kernel-equals-input", (2, 3, 9), (4, 3, 9), {}),
    ("kernel-equals-padded-input", (1, 2, 4), (3, 2, 7), dict(padding=(1, 2))),
    ("odd", (1, 3, 13), (5, 3, 5), {}),
    ("even-kernel", (2, 2, 10), (3, 2, 4), dict(padding=1)),
    ("stride-larger-than-kernel", (1, 2, 17), (3, 2, 2), dict(stride=5)),
    ("stride-larger-than-input", (1, 2, 4), (3, 2, 3), dict(stride=9, padding=1)),
    ("dilation", (1, 2, 15), (3, 2, 3), dict(dilation=3)),
    ("dilation-stride-padding", (2, 3, 14), (4, 3, 3), dict(stride=2, dilation=2, padding=3, bias=True)),
    ("groups-K-gt-C", (1, 4, 9), (6, 2, 3), dict(groups=2)),
    ("groups-K-lt-C", (1, 6, 9), (3, 2, 3), dict(groups=3)),
    ("depthwise", (2, 5, 12), (5, 1, 3), dict(groups=5, padding=1, bias=True)),
    ("depthwise-multiplier", (1, 3, 11), (12, 1, 4), dict(groups=3, stride=2)),
    ("asym-padding-pair", (1, 2, 7), (3, 2, 3), dict(padding=(0, 3))),
    ("asym-padding-nested", (1, 2, 7), (3, 2, 3), dict(padding=((3, 1),), stride=2)),
    ("padding-1-tuple", (1, 2, 7), (3, 2, 3), dict(padding=(2,))),
    ("bias-relu", (2, 3, 11), (7, 3, 3), dict(bias=True, activation="relu", padding=1)),
    ("reduction-300", (1, 100, 9), (6, 100, 3), dict(padding=1, bias=True)),
    ("reduction-520-relu", (2, 130, 6), (5, 130, 4), dict(activation="relu")),
    ("length-700", (1, 3, 702), (4, 3, 3), {}),
    ("length-1100-reduction-264", (1, 88, 1100), (6, 88, 3), dict(padding=1)),
    ("batch-0", (0, 3, 8), (4, 3, 3), dict(bias=True)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("xshape, wshape, kw", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_reference(xshape, wshape, kw, algorithm, dtype):
    kw = dict(kw)
    x, w, b = make(xshape, wshape, dtype, bias=kw.pop("bias", False))
    assert check(x, w, b, algorithm=algorithm, **kw).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("padding", ["valid", "narrow", "same", "full", "wide"])
@pytest.mark.parametrize("k, stride, dilation", [(3, 1, 1), (4, 1, 1), (2, 2, 1), (4, 3, 1), (3, 2, 2), (1, 3, 1)])
def test_padding_strings(padding, k, stride, dilation, algorithm, dtype):
    L = 11
    x, w, b = make((2, 3, L), (4, 3, k), dtype, bias=True)
    got = check(x, w, b, stride=stride, padding=padding, dilation=dilation, algorithm=algorithm)
    eff = dilation * (k - 1) + 1
    expected = {"valid": (L - eff) // stride + 1, "narrow": (L - eff) // stride + 1, "same": -(-L // stride),
                "full": (L + eff - 2) // stride + 1, "wide": (L + eff - 2) // stride + 1}[padding]
    assert got.shape == (2, 4, expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("L, k, kw", [
    (7, 3, dict(padding=1)),
    (7, 2, dict(padding=(0, 3), stride=2)),
    (6, 4, dict(padding="same", dilation=2)),
    (3, 3, dict(padding=(5, 7))),  # pads larger than the input
    (2, 2, dict(padding=9, stride=4)),
    (1, 3, dict(padding=2)),
])
def test_padding_modes(padding_mode, L, k, kw, algorithm, dtype):
    x, w, b = make((2, 3, L), (5, 3, k), dtype, bias=True)
    check(x, w, b, padding_mode=padding_mode, algorithm=algorithm, **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_input(algorithm, dtype):
    x, w, b = make((4, 10), (6, 2, 3), dtype, bias=True)
    kw = dict(padding="same", groups=2, padding_mode="circular", algorithm=algorithm, activation="relu")
    got = check(x, w, b, **kw)
    assert got.shape == (6, 10)
    np.testing.assert_array_equal(got, fastconv.conv1d(x[None], w, b, **kw)[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("unbatched", [False, True])
def test_out_is_written_in_place_and_returned(unbatched, algorithm, dtype):
    x, w, b = make((2, 3, 12), (5, 3, 3), dtype, bias=True)
    if unbatched:
        x = x[0]
    kw = dict(stride=2, padding=(2, 1), algorithm=algorithm)
    out = np.full(ref.conv1d(x, w, b, **kw).shape, np.nan, dtype)
    assert fastconv.conv1d(x, w, b, out=out, **kw) is out
    np.testing.assert_array_equal(out, check(x, w, b, **kw))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kind", ["transposed", "sliced", "negative-strides"])
def test_noncontiguous_input_gives_the_same_answer(kind, algorithm, dtype):
    x0, w0, b0 = make((3, 4, 11), (6, 2, 3), dtype, bias=True)
    if kind == "transposed":
        x, w, b = (np.ascontiguousarray(x0.transpose(2, 1, 0)).transpose(2, 1, 0),
                   np.asfortranarray(w0), b0)
    elif kind == "sliced":
        big = np.zeros((3, 8, 33), dtype)
        big[:, ::2, ::3] = x0
        x, w, b = big[:, ::2, ::3], np.asfortranarray(w0), np.repeat(b0, 2)[::2]
    else:
        x = np.ascontiguousarray(x0[::-1, ::-1, ::-1])[::-1, ::-1, ::-1]
        w = np.ascontiguousarray(w0[:, :, ::-1])[:, :, ::-1]
        b = np.ascontiguousarray(b0[::-1])[::-1]
    assert not x.flags.c_contiguous
    kw = dict(stride=2, padding=(1, 2), groups=2, padding_mode="reflect", algorithm=algorithm)
    got = check(x, w, b, **kw)
    np.testing.assert_array_equal(got, fastconv.conv1d(x0, w0, b0, **kw))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_equals_conv2d_with_height_1(algorithm, dtype):
    x, w, b = make((2, 4, 13), (6, 4, 3), dtype, bias=True)
    kw = dict(stride=2, dilation=2, algorithm=algorithm)
    np.testing.assert_array_equal(
        fastconv.conv1d(x, w, b, padding=(1, 3), **kw),
        fastconv.conv2d(x[:, :, None], w[:, :, None], b, padding=((0, 0), (1, 3)), **kw)[:, :, 0])
