"""Every bad argument of conv2d, conv1d, conv_transpose2d, correlate2d and convolve2d raises
TypeError or ValueError naming the argument, and dtypes never change silently."""

import numpy as np
import pytest

import fastconv
from fastconv import reference as ref

F32, F64 = np.float32, np.float64


def z(*shape, dtype=F64):
    return np.zeros(shape, dtype)


X, W, B = z(1, 4, 6, 6), z(2, 4, 3, 3), z(2)  # conv2d
X1, W1 = z(1, 4, 8), z(2, 4, 3)  # conv1d
XT, WT = z(1, 4, 5, 5), z(4, 2, 3, 3)  # conv_transpose2d: weight (C, K/groups, kh, kw)
IMG, KER = z(5, 6), z(3, 3)  # correlate2d


def case(name, fn, exc, match, *args, **kwargs):
    return pytest.param(fn, args, kwargs, exc, match, id=name)


def x_as(dtype):
    return np.zeros((1, 4, 6, 6), dtype)


def overlapping_out():
    """(x, out) where out is a C-contiguous view of x's first channel: the output's shape."""
    x = z(1, 2, 6, 6)
    return x, x[:, :1, :, :]


_ox, _oview = overlapping_out()
_ro = z(1, 2, 4, 4)
_ro.setflags(write=False)
_same = z(1, 1, 4, 4)  # passed as both x and out
_w_same = z(1, 1, 1, 1)  # passed as both weight and out
_bias_buffer = z(1, 3, 3)  # out (1, 3, 3) of conv1d, its first row also passed as the bias
_t_base = z(1, 1, 4, 4)  # out, and (transposed, so not contiguous) x

CONV2D = [
    # shapes
    case("x-2d", fastconv.conv2d, ValueError, r"\bx\b", z(6, 6), W),
    case("x-5d", fastconv.conv2d, ValueError, r"\bx\b", z(1, 1, 4, 6, 6), W),
    case("x-0d", fastconv.conv2d, ValueError, r"\bx\b", np.float64(1.0), W),
    case("weight-3d", fastconv.conv2d, ValueError, "weight", X, z(2, 4, 3)),
    case("weight-5d", fastconv.conv2d, ValueError, "weight", X, z(2, 4, 3, 3, 1)),
    case("bias-2d", fastconv.conv2d, ValueError, "bias", X, W, z(2, 1)),
    case("bias-wrong-length", fastconv.conv2d, ValueError, "bias", X, W, z(3)),
    case("bias-scalar", fastconv.conv2d, ValueError, "bias", X, W, np.float64(0.0)),
    case("channels-mismatch", fastconv.conv2d, ValueError, "weight", X, z(2, 3, 3, 3)),
    case("channels-mismatch-groups", fastconv.conv2d, ValueError, "weight", X, z(2, 4, 3, 3), None, 1, 0, 1, 2),
    case("C-not-divisible", fastconv.conv2d, ValueError, "groups", X, z(3, 1, 3, 3), None, 1, 0, 1, 3),
    case("K-not-divisible", fastconv.conv2d, ValueError, "groups", X, z(3, 2, 3, 3), None, 1, 0, 1, 2),
    case("groups-0", fastconv.conv2d, ValueError, "groups", X, W, groups=0),
    case("groups-negative", fastconv.conv2d, ValueError, "groups", X, W, groups=-4),
    case("groups-float", fastconv.conv2d, TypeError, "groups", X, W, groups=1.0),
    # geometry
    case("kernel-larger-than-input", fastconv.conv2d, ValueError, "weight|kernel", X, z(2, 4, 7, 3)),
    case("kernel-larger-than-padded-input", fastconv.conv2d, ValueError, "weight|kernel", X, z(2, 4, 9, 3),
         padding=1),
    case("dilated-kernel-larger", fastconv.conv2d, ValueError, "weight|kernel|dilation", X, W, dilation=(1, 3)),
    case("valid-kernel-larger", fastconv.conv2d, ValueError, "weight|kernel", X, z(2, 4, 3, 7), padding="valid"),
    case("stride-0", fastconv.conv2d, ValueError, "stride", X, W, stride=0),
    case("stride-negative", fastconv.conv2d, ValueError, "stride", X, W, stride=(1, -1)),
    case("stride-float", fastconv.conv2d, TypeError, "stride", X, W, stride=1.5),
    case("stride-float-integral", fastconv.conv2d, TypeError, "stride", X, W, stride=2.0),
    case("stride-bool", fastconv.conv2d, TypeError, "stride", X, W, stride=True),
    case("stride-str", fastconv.conv2d, TypeError, "stride", X, W, stride="2"),
    case("stride-wrong-length", fastconv.conv2d, ValueError, "stride", X, W, stride=(1, 1, 1)),
    case("dilation-0", fastconv.conv2d, ValueError, "dilation", X, W, dilation=0),
    case("dilation-negative", fastconv.conv2d, ValueError, "dilation", X, W, dilation=(-1, 1)),
    case("dilation-float", fastconv.conv2d, TypeError, "dilation", X, W, dilation=1.5),
    case("padding-negative", fastconv.conv2d, ValueError, "padding", X, W, padding=-1),
    case("padding-negative-pair", fastconv.conv2d, ValueError, "padding", X, W, padding=(1, -1)),
    case("padding-negative-side", fastconv.conv2d, ValueError, "padding", X, W, padding=((0, 1), (-2, 0))),
    case("padding-3-tuple", fastconv.conv2d, ValueError, "padding", X, W, padding=(1, 1, 1)),
    case("padding-1-tuple", fastconv.conv2d, ValueError, "padding", X, W, padding=(1,)),
    case("padding-4-flat", fastconv.conv2d, ValueError, "padding", X, W, padding=(1, 1, 1, 1)),
    case("padding-3-pairs", fastconv.conv2d, ValueError, "padding", X, W, padding=((1, 1), (1, 1), (1, 1))),
    case("padding-short-pair", fastconv.conv2d, ValueError, "padding", X, W, padding=((1,), (1, 1))),
    case("padding-long-pair", fastconv.conv2d, ValueError, "padding", X, W, padding=((1, 1, 1), (1, 1))),
    case("padding-float", fastconv.conv2d, TypeError, "padding", X, W, padding=1.5),
    case("padding-unknown-string", fastconv.conv2d, ValueError, "padding", X, W, padding="half"),
    case("padding-string-case", fastconv.conv2d, ValueError, "padding", X, W, padding="SAME"),
    case("padding_mode-unknown", fastconv.conv2d, ValueError, "padding_mode", X, W, padding_mode="symmetric"),
    case("padding_mode-None", fastconv.conv2d, ValueError, "padding_mode", X, W, padding_mode=None),
    # Found by the fuzz harness: circular padding of an empty axis divided by zero (SIGFPE),
    # replicate read before the buffer.
    *[case(f"padding_mode-{m}-empty-axis", fastconv.conv2d, ValueError, "padding_mode", z(2, 4, 0, 6), z(2, 4, 1, 1),
           padding=1, padding_mode=m) for m in ("reflect", "replicate", "circular")],
    case("activation-unknown", fastconv.conv2d, ValueError, "activation", X, W, activation="sigmoid"),
    case("activation-case", fastconv.conv2d, ValueError, "activation", X, W, activation="ReLU"),
    case("algorithm-unknown", fastconv.conv2d, ValueError, "algorithm", X, W, algorithm="fft"),
    case("algorithm-None", fastconv.conv2d, ValueError, "algorithm", X, W, algorithm=None),
    case("algorithm-winograd-5x5", fastconv.conv2d, ValueError, "winograd", X, z(2, 4, 5, 5), algorithm="winograd"),
    case("algorithm-winograd-stride", fastconv.conv2d, ValueError, "winograd", X, W, stride=2, algorithm="winograd"),
    case("algorithm-winograd-dilation", fastconv.conv2d, ValueError, "winograd", X, W, padding=2, dilation=2,
         algorithm="winograd"),
    case("algorithm-winograd-groups", fastconv.conv2d, ValueError, "winograd", X, z(2, 2, 3, 3), groups=2,
         algorithm="winograd"),
    case("algorithm-winograd-nhwc-1x3", fastconv.conv2d, ValueError, "winograd", z(1, 6, 6, 4), z(2, 4, 1, 3),
         layout="NHWC", algorithm="winograd"),
    # dtypes
    case("x-f32-weight-f64", fastconv.conv2d, TypeError, "weight|x", x_as(F32), W),
    case("x-f64-weight-f32", fastconv.conv2d, TypeError, "weight|x", X, W.astype(F32)),
    case("bias-dtype", fastconv.conv2d, TypeError, "bias", X, W, B.astype(F32)),
    case("x-int", fastconv.conv2d, TypeError, r"\bx\b", x_as(np.int64), W),
    case("x-int32", fastconv.conv2d, TypeError, r"\bx\b", x_as(np.int32), W),
    case("x-uint8", fastconv.conv2d, TypeError, r"\bx\b", x_as(np.uint8), W),
    case("x-bool", fastconv.conv2d, TypeError, r"\bx\b", x_as(bool), W),
    case("x-float16", fastconv.conv2d, TypeError, r"\bx\b", x_as(np.float16), W),
    case("x-longdouble", fastconv.conv2d, TypeError, r"\bx\b", x_as(np.longdouble), W),
    case("x-complex", fastconv.conv2d, TypeError, r"\bx\b", x_as(np.complex128), W),
    case("x-object", fastconv.conv2d, TypeError, r"\bx\b", x_as(object), W),
    case("x-str", fastconv.conv2d, TypeError, r"\bx\b", "image", W),
    case("x-None", fastconv.conv2d, TypeError, r"\bx\b", None, W),
    case("x-int-list", fastconv.conv2d, TypeError, r"\bx\b", [[[[1, 2], [3, 4]]]], z(1, 1, 1, 1)),
    case("weight-int", fastconv.conv2d, TypeError, "weight", X, W.astype(np.int64)),
    case("weight-float16", fastconv.conv2d, TypeError, "weight", X, W.astype(np.float16)),
    case("weight-complex", fastconv.conv2d, TypeError, "weight", X, W.astype(np.complex64)),
    case("weight-bool", fastconv.conv2d, TypeError, "weight", X, W.astype(bool)),
    case("bias-int", fastconv.conv2d, TypeError, "bias", X, W, np.zeros(2, int)),
    case("bias-object", fastconv.conv2d, TypeError, "bias", X, W, np.zeros(2, object)),
    # out
    case("out-list", fastconv.conv2d, TypeError, "out", X, W, out=[[0.0]]),
    case("out-wrong-dtype", fastconv.conv2d, TypeError, "out", X, W, out=z(1, 2, 4, 4, dtype=F32)),
    case("out-wrong-shape", fastconv.conv2d, ValueError, "out", X, W, out=z(1, 2, 4, 5)),
    case("out-batched-for-unbatched", fastconv.conv2d, ValueError, "out", X[0], W, out=z(1, 2, 4, 4)),
    case("out-noncontiguous", fastconv.conv2d, ValueError, "out", X, W, out=z(1, 2, 4, 8)[..., ::2]),
    case("out-fortran", fastconv.conv2d, ValueError, "out", X, W, out=np.asfortranarray(z(1, 2, 4, 4))),
    case("out-readonly", fastconv.conv2d, ValueError, "out", X, W, out=_ro),
    case("out-is-x", fastconv.conv2d, ValueError, "out", _same, z(1, 1, 1, 1), out=_same),
    case("out-view-of-x", fastconv.conv2d, ValueError, "out", _ox, z(1, 2, 1, 1), out=_oview),
    case("out-is-weight", fastconv.conv2d, ValueError, "out", z(1, 1, 1, 1), _w_same, out=_w_same),
    case("out-is-noncontiguous-x", fastconv.conv2d, ValueError, "out", _t_base.transpose(0, 1, 3, 2), z(1, 1, 1, 1),
         out=_t_base),
]

CONV1D = [
    case("x-4d", fastconv.conv1d, ValueError, r"\bx\b", X, W1),
    case("x-1d", fastconv.conv1d, ValueError, r"\bx\b", z(8), W1),
    case("weight-4d", fastconv.conv1d, ValueError, "weight", X1, W),
    case("channels-mismatch", fastconv.conv1d, ValueError, "weight", X1, z(2, 3, 3)),
    case("C-not-divisible", fastconv.conv1d, ValueError, "groups", X1, z(3, 1, 3), groups=3),
    case("K-not-divisible", fastconv.conv1d, ValueError, "groups", X1, z(3, 2, 3), groups=2),
    case("groups-0", fastconv.conv1d, ValueError, "groups", X1, W1, groups=0),
    case("kernel-larger", fastconv.conv1d, ValueError, "weight|kernel", X1, z(2, 4, 11), padding=1),
    case("dilated-kernel-larger", fastconv.conv1d, ValueError, "weight|kernel|dilation", X1, W1, dilation=4),
    case("stride-0", fastconv.conv1d, ValueError, "stride", X1, W1, stride=0),
    case("stride-float", fastconv.conv1d, TypeError, "stride", X1, W1, stride=1.5),
    case("stride-pair", fastconv.conv1d, ValueError, "stride", X1, W1, stride=(1, 1)),
    case("dilation-negative", fastconv.conv1d, ValueError, "dilation", X1, W1, dilation=-2),
    case("padding-negative", fastconv.conv1d, ValueError, "padding", X1, W1, padding=-1),
    case("padding-negative-side", fastconv.conv1d, ValueError, "padding", X1, W1, padding=(0, -1)),
    case("padding-3-tuple", fastconv.conv1d, ValueError, "padding", X1, W1, padding=(1, 1, 1)),
    case("padding-2-pairs", fastconv.conv1d, ValueError, "padding", X1, W1, padding=((1, 1), (1, 1))),
    case("padding-unknown-string", fastconv.conv1d, ValueError, "padding", X1, W1, padding="causal"),
    case("padding_mode-unknown", fastconv.conv1d, ValueError, "padding_mode", X1, W1, padding_mode="wrap"),
    *[case(f"padding_mode-{m}-empty-axis", fastconv.conv1d, ValueError, "padding_mode", z(4, 0), z(2, 4, 1),
           padding=(0, 2), padding_mode=m) for m in ("reflect", "replicate", "circular")],
    case("activation-unknown", fastconv.conv1d, ValueError, "activation", X1, W1, activation="tanh"),
    case("algorithm-unknown", fastconv.conv1d, ValueError, "algorithm", X1, W1, algorithm="fft"),
    case("algorithm-winograd-1d", fastconv.conv1d, ValueError, "winograd", X1, W1, algorithm="winograd"),
    case("mixed-dtypes", fastconv.conv1d, TypeError, "weight|x", X1.astype(F32), W1),
    case("x-int", fastconv.conv1d, TypeError, r"\bx\b", X1.astype(int), W1),
    case("x-complex", fastconv.conv1d, TypeError, r"\bx\b", X1.astype(complex), W1),
    case("x-float16", fastconv.conv1d, TypeError, r"\bx\b", X1.astype(np.float16), W1),
    case("bias-wrong-length", fastconv.conv1d, ValueError, "bias", X1, W1, z(4)),
    case("out-wrong-shape", fastconv.conv1d, ValueError, "out", X1, W1, out=z(1, 2, 5)),
    case("out-wrong-dtype", fastconv.conv1d, TypeError, "out", X1, W1, out=z(1, 2, 6, dtype=F32)),
    case("out-noncontiguous", fastconv.conv1d, ValueError, "out", X1, W1, out=z(1, 2, 12)[..., ::2]),
    case("out-view-of-bias", fastconv.conv1d, ValueError, "out", z(1, 1, 3), z(3, 1, 1), _bias_buffer[0, 0],
         out=_bias_buffer),
]

CONV_T = [
    case("x-2d", fastconv.conv_transpose2d, ValueError, r"\bx\b", z(5, 5), WT),
    case("x-5d", fastconv.conv_transpose2d, ValueError, r"\bx\b", z(1, 1, 4, 5, 5), WT),
    case("weight-3d", fastconv.conv_transpose2d, ValueError, "weight", XT, z(4, 2, 3)),
    case("weight-channels", fastconv.conv_transpose2d, ValueError, "weight", XT, z(3, 2, 3, 3)),
    case("bias-wrong-length", fastconv.conv_transpose2d, ValueError, "bias", XT, WT, z(4)),
    case("bias-wrong-length-groups", fastconv.conv_transpose2d, ValueError, "bias", XT, WT, z(2), groups=2),
    case("C-not-divisible", fastconv.conv_transpose2d, ValueError, "groups", XT, WT, groups=3),
    case("groups-0", fastconv.conv_transpose2d, ValueError, "groups", XT, WT, groups=0),
    case("groups-float", fastconv.conv_transpose2d, TypeError, "groups", XT, WT, groups=2.0),
    case("stride-0", fastconv.conv_transpose2d, ValueError, "stride", XT, WT, stride=0),
    case("stride-float", fastconv.conv_transpose2d, TypeError, "stride", XT, WT, stride=1.5),
    case("dilation-0", fastconv.conv_transpose2d, ValueError, "dilation", XT, WT, dilation=(1, 0)),
    case("padding-negative", fastconv.conv_transpose2d, ValueError, "padding", XT, WT, padding=-1),
    case("padding-3-tuple", fastconv.conv_transpose2d, ValueError, "padding", XT, WT, padding=(1, 1, 1)),
    case("padding-string", fastconv.conv_transpose2d, TypeError, "padding", XT, WT, padding="same"),
    case("padding-empties-output", fastconv.conv_transpose2d, ValueError, "padding", XT, WT, padding=4),
    case("padding-empties-output-exactly", fastconv.conv_transpose2d, ValueError, "padding", z(1, 4, 4, 4), WT,
         padding=3),
    case("padding-empties-one-dim", fastconv.conv_transpose2d, ValueError, "padding", XT, WT, padding=(0, 4)),
    case("output_padding-equals-stride", fastconv.conv_transpose2d, ValueError, "output_padding", XT, WT,
         stride=2, output_padding=2),
    case("output_padding-no-stride", fastconv.conv_transpose2d, ValueError, "output_padding", XT, WT,
         output_padding=1),
    case("output_padding-one-dim", fastconv.conv_transpose2d, ValueError, "output_padding", XT, WT,
         stride=(3, 2), dilation=(1, 2), output_padding=(2, 2)),
    case("output_padding-negative", fastconv.conv_transpose2d, ValueError, "output_padding", XT, WT,
         output_padding=-1),
    case("mixed-dtypes", fastconv.conv_transpose2d, TypeError, "weight|x", XT.astype(F32), WT),
    case("bias-dtype", fastconv.conv_transpose2d, TypeError, "bias", XT, WT, z(2, dtype=F32)),
    case("x-int", fastconv.conv_transpose2d, TypeError, r"\bx\b", XT.astype(int), WT),
    case("x-bool", fastconv.conv_transpose2d, TypeError, r"\bx\b", XT.astype(bool), WT),
    case("x-complex", fastconv.conv_transpose2d, TypeError, r"\bx\b", XT.astype(complex), WT),
    case("weight-float16", fastconv.conv_transpose2d, TypeError, "weight", XT, WT.astype(np.float16)),
    case("x-empty-height", fastconv.conv_transpose2d, ValueError, "spatial", z(1, 4, 0, 5), WT),
    case("x-empty-width-unbatched", fastconv.conv_transpose2d, ValueError, "spatial", z(4, 5, 0), WT),
]

CORR = []
for _fn in (fastconv.correlate2d, fastconv.convolve2d):
    _n = _fn.__name__
    CORR += [
        case(f"{_n}-image-1d", _fn, ValueError, "image", z(5), KER),
        case(f"{_n}-image-3d", _fn, ValueError, "image", z(1, 5, 6), KER),
        case(f"{_n}-kernel-1d", _fn, ValueError, "kernel", IMG, z(3)),
        case(f"{_n}-kernel-4d", _fn, ValueError, "kernel", IMG, z(1, 1, 3, 3)),
        case(f"{_n}-mode-unknown", _fn, ValueError, "mode", IMG, KER, "wide"),
        case(f"{_n}-mode-case", _fn, ValueError, "mode", IMG, KER, "Same"),
        case(f"{_n}-boundary-unknown", _fn, ValueError, "boundary", IMG, KER, "full", "reflect"),
        case(f"{_n}-boundary-None", _fn, ValueError, "boundary", IMG, KER, "full", None),
        case(f"{_n}-fillvalue-str", _fn, TypeError, "fillvalue", IMG, KER, "full", "fill", "zero"),
        case(f"{_n}-fillvalue-None", _fn, TypeError, "fillvalue", IMG, KER, "full", "fill", None),
        case(f"{_n}-fillvalue-numeric-str", _fn, TypeError, "fillvalue", IMG, KER, "full", "fill", "1.5"),
        case(f"{_n}-fillvalue-bool", _fn, TypeError, "fillvalue", IMG, KER, "full", "fill", True),
        case(f"{_n}-fillvalue-two-values", _fn, TypeError, "fillvalue", IMG, KER, "full", "fill", np.ones(2)),
        case(f"{_n}-image-empty", _fn, ValueError, "image", z(0, 5), KER),
        case(f"{_n}-kernel-empty", _fn, ValueError, "kernel", IMG, z(3, 0)),
        case(f"{_n}-valid-neither-larger", _fn, ValueError, "image|kernel", z(5, 3), z(3, 5), "valid"),
        case(f"{_n}-valid-neither-larger-2", _fn, ValueError, "image|kernel", z(2, 9), z(4, 4), "valid"),
        case(f"{_n}-mixed-dtypes", _fn, TypeError, "kernel|image", IMG.astype(F32), KER),
        case(f"{_n}-image-int", _fn, TypeError, "image", IMG.astype(int), KER),
        case(f"{_n}-image-complex", _fn, TypeError, "image", IMG.astype(complex), KER),
        case(f"{_n}-image-bool", _fn, TypeError, "image", IMG.astype(bool), KER),
        case(f"{_n}-image-object", _fn, TypeError, "image", IMG.astype(object), KER),
        case(f"{_n}-kernel-float16", _fn, TypeError, "kernel", IMG, KER.astype(np.float16)),
    ]


@pytest.mark.parametrize("fn, args, kwargs, exc, match", CONV2D + CONV1D + CONV_T + CORR)
def test_bad_input_raises_naming_the_argument(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_failed_call_leaves_out_untouched():
    out = np.full((1, 2, 4, 4), 7.0)
    with pytest.raises(ValueError, match="activation"):
        fastconv.conv2d(X, W, out=out, activation="gelu")
    assert (out == 7.0).all()


def _reference_cases():
    """The error cases that do not involve ``out``."""
    return [p for p in CONV2D + CONV1D + CONV_T + CORR if not p.id.startswith(("out-", "x-str"))]


@pytest.mark.parametrize("fn, args, kwargs, exc, match", _reference_cases())
def test_the_reference_rejects_the_same_inputs(fn, args, kwargs, exc, match):
    """The oracle agrees on what is an error (it may word the message differently)."""
    with pytest.raises((TypeError, ValueError)):
        getattr(ref, fn.__name__)(*args, **kwargs)


# ---------------------------------------------------------------- no silent dtype change

OPS = {
    "conv2d": lambda d: fastconv.conv2d(np.ones((1, 2, 5, 5), d), np.ones((3, 2, 3, 3), d), np.ones(3, d)),
    "conv2d-unbatched": lambda d: fastconv.conv2d(np.ones((2, 5, 5), d), np.ones((3, 2, 3, 3), d), padding="same",
                                                  padding_mode="reflect", activation="relu", algorithm="im2col"),
    "conv1d": lambda d: fastconv.conv1d(np.ones((1, 2, 7), d), np.ones((3, 2, 3), d), np.ones(3, d), padding=1),
    "conv_transpose2d": lambda d: fastconv.conv_transpose2d(np.ones((1, 2, 4, 4), d), np.ones((2, 3, 3, 3), d),
                                                            np.ones(3, d), stride=2),
    "correlate2d": lambda d: fastconv.correlate2d(np.ones((5, 5), d), np.ones((2, 3), d), "same", "wrap"),
    "convolve2d": lambda d: fastconv.convolve2d(np.ones((5, 5), d), np.ones((7, 6), d), "valid", "symm"),
}


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", list(OPS))
def test_no_silent_dtype_change(op, dtype):
    y = OPS[op](dtype)
    assert isinstance(y, np.ndarray) and y.dtype == dtype
    assert y.flags.c_contiguous and y.flags.writeable


def test_float32_is_not_promoted_by_a_float64_python_scalar_fillvalue():
    y = fastconv.correlate2d(np.ones((4, 4), F32), np.ones((3, 3), F32), "same", "fill", fillvalue=0.1)
    assert y.dtype == F32


# ---------------------------------------------------------------- kernels with no tap


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("weight_shape, kwargs", [
    ((3, 2, 0, 1), dict(padding=(0, 1), dilation=2)),  # a dilated kernel of no rows: effective extent -1
    ((3, 2, 2, 0), dict(padding=1, activation="relu")),
    ((3, 0, 2, 2), dict(padding=1)),
])
def test_a_kernel_with_no_tap_gives_the_bias(weight_shape, kwargs, layout):
    """Found by the long fuzz run: a dilated zero-row kernel raised MemoryError (a negative
    padded extent), and a zero-row kernel over 2**32 channels of an empty image hung; each
    output of a kernel with no tap (or no channel) is its bias, as in the reference."""
    x = np.random.default_rng(0).standard_normal((2, 2 if weight_shape[1] else 0, 3, 6))
    x = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if layout == "NHWC" else x
    b = np.array([1.5, -2.0, np.nan])
    got = fastconv.conv2d(x, np.ones(weight_shape), b, layout=layout, **kwargs)
    np.testing.assert_array_equal(got, ref.conv2d(x, np.ones(weight_shape), b, layout=layout, **kwargs))


def test_a_kernel_with_no_row_over_a_huge_empty_input_returns_at_once():
    claim = np.lib.stride_tricks.as_strided
    x = claim(np.zeros(1), (1, 3 * 2**31, 0, 5), (0, 0, 0, 0))
    w = claim(np.zeros(1), (3, 2**31, 0, 1), (0, 0, 0, 0))
    np.testing.assert_array_equal(fastconv.conv2d(x, w, padding=(0, 3), groups=3), np.zeros((1, 3, 1, 11)))


@pytest.mark.parametrize("call", [
    lambda: fastconv.conv2d(np.zeros((1, 2, 1), np.float32), np.zeros((1, 1, 0, 1), np.float32), padding="full"),
    lambda: fastconv.conv1d(np.zeros((1, 1, 3)), np.zeros((1, 1, 0)), padding="wide"),
    lambda: ref.conv2d(np.zeros((1, 2, 1), np.float32), np.zeros((1, 1, 0, 1), np.float32), padding="full"),
])
def test_full_padding_of_a_kernel_with_no_tap_is_refused(call):
    """Found by the long fuzz run: "full" padding of a zero-row kernel is -1 per side; fastconv
    returned an array where the reference failed inside NumPy."""
    with pytest.raises(ValueError, match="at least one tap"):
        call()
