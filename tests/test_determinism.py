"""Every public op returns bitwise identical results on repeated calls and on 1, 2, 3 and 4
threads, for each conv algorithm and layout, both dtypes and (conftest) every backend.

Every case is far above the work that runs on the calling thread (kMinParallelWork = 2**15
multiply-adds, csrc/common/parallel.h) and has at least 8 work items on 2 threads, so 2..4
threads really split it; the blockings that depend on the thread count (the NCHW GEMM takes
one image per task for a batch of small images only when threads > 1, Winograd's and the
batched kernel's item sizes, the direct kernel's row blocks) all change between the counts
compared. Bitwise means every bit of every number, and NaN in the same places; not which NaN
(its sign and payload): IEEE 754 leaves that unspecified, x86 returns one of an operation's
NaN operands, and a compiler may swap the operands of a commutative add (the portable GEMM's
tiles, auto-vectorised differently, return -NaN or +NaN for inf - inf + NaN).
"""

import numpy as np
import pytest
from conftest import DTYPES, num_threads, random, special, ties

import fastconv

THREADS = (1, 2, 3, 4)
CALLS_PER_COUNT = 2  # the second conv2d / max_pool2d call takes the cached-plan path


def nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def canonical_nans(x):
    """x with every NaN replaced by the same NaN (integer arrays as they are)."""
    return np.where(np.isnan(x), np.array(np.nan, x.dtype), x) if x.dtype.kind == "f" else x


def assert_bitwise_equal(a, b):
    a, b = (r if isinstance(r, tuple) else (r,) for r in (a, b))
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        x, y = canonical_nans(x), canonical_nans(y)
        assert x.tobytes() == y.tobytes(), f"{np.count_nonzero(x.view(np.uint8) != y.view(np.uint8))} bytes differ"


def assert_deterministic(call):
    first = call()
    for threads in THREADS:
        with num_threads(threads):
            for _ in range(CALLS_PER_COUNT):
                assert_bitwise_equal(call(), first)


# --------------------------------------------------------------------------- conv2d

# (x shape NCHW, weight shape, bias, keyword arguments)
CONV_GEOMETRIES = {
    "3x3-bias-relu": ((2, 16, 34, 38), (32, 16, 3, 3), True, dict(padding=1, activation="relu")),
    # Under 2**22 multiply-adds an image: the NCHW GEMM's one-image-per-task path with threads > 1.
    "batch-of-small-images": ((8, 16, 10, 12), (32, 16, 3, 3), False, dict(padding=1)),
    "grouped-strided-dilated": ((2, 16, 30, 33), (24, 4, 3, 5), True,
                                dict(stride=(2, 1), dilation=(1, 2), groups=4, padding=2, padding_mode="reflect")),
    "depthwise": ((2, 32, 30, 30), (32, 1, 3, 3), True, dict(groups=32, padding=1)),
    # NaN and inf: Winograd sends an image holding one to the GEMM, the other images not.
    "non-finite-image": ((3, 16, 20, 20), (32, 16, 3, 3), False, dict(padding=1)),
}
ALGORITHMS = ("auto", "direct", "im2col", "im2col_nhwc", "winograd", "batched")


def conv_valid(geometry, algorithm, layout):
    _, wshape, _, kw = CONV_GEOMETRIES[geometry]
    if algorithm == "winograd":
        return wshape[2:] == (3, 3) and kw.get("groups", 1) == 1 and "stride" not in kw
    if algorithm == "direct" and layout == "NHWC":
        return geometry == "depthwise"
    return True


CONV_CASES = [pytest.param(g, a, lay, id=f"{g}-{a}-{lay}") for g in CONV_GEOMETRIES for a in ALGORITHMS
              for lay in ("NCHW", "NHWC") if conv_valid(g, a, lay)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("geometry, algorithm, layout", CONV_CASES)
def test_conv2d_is_deterministic(geometry, algorithm, layout, dtype):
    xshape, wshape, bias, kw = CONV_GEOMETRIES[geometry]
    x = random(xshape, dtype, seed=1)
    if geometry == "non-finite-image":
        x[1] = special(xshape[1:], dtype, seed=2, frac=0.01)
    w = random(wshape, dtype, seed=3)
    b = random((wshape[0],), dtype, seed=4) if bias else None
    x = nhwc(x) if layout == "NHWC" else x
    assert_deterministic(lambda: fastconv.conv2d(x, w, b, algorithm=algorithm, layout=layout, **kw))


# --------------------------------------------------------------------------- the other ops

X4 = (8, 16, 32, 34)  # 128 planes; NHWC: 8 images of 32 rows; relu: 9 chunks of 2**14
X3 = (8, 32, 500)


def other_cases(dtype):
    x = random(X4, dtype, seed=5)
    xn = nhwc(x)
    x3 = random(X3, dtype, seed=6)
    img = random((300, 310), dtype, seed=7)
    ker = random((7, 6), dtype, seed=8)
    tied, odd = ties(X4, dtype, seed=9), special(X4, dtype, seed=10, frac=0.05)
    w1 = random((24, 16, 5), dtype, seed=11)
    wt = random((16, 6, 3, 3), dtype, seed=12)
    b = random((24,), dtype, seed=13)
    return {
        **{f"conv1d-{a}": (lambda a=a: fastconv.conv1d(x3[:, :16], w1, b, padding=2, algorithm=a))
           for a in ("auto", "direct", "im2col", "im2col_nhwc", "batched")},
        "conv1d-grouped-strided": lambda: fastconv.conv1d(x3, random((24, 8, 3), dtype), stride=2, groups=4),
        "conv_transpose2d": lambda: fastconv.conv_transpose2d(x, wt, b[:12], stride=2, padding=1, groups=2),
        "correlate2d": lambda: fastconv.correlate2d(img, ker, mode="same", boundary="symm"),
        "convolve2d": lambda: fastconv.convolve2d(img, ker, mode="full"),
        "max_pool1d": lambda: fastconv.max_pool1d(x3, 3, 2, 1, return_indices=True),
        "avg_pool1d": lambda: fastconv.avg_pool1d(x3, 4, 3, 2, ceil_mode=True, count_include_pad=False),
        "sum_pool1d": lambda: fastconv.sum_pool1d(x3, 5, 2, 2),
        "max_pool2d": lambda: fastconv.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True),
        "max_pool2d-indices-nan-inf": lambda: fastconv.max_pool2d(odd, 3, 2, 1, return_indices=True),
        "max_pool2d-indices-ties": lambda: fastconv.max_pool2d(tied, 3, 1, 1, return_indices=True),
        "max_pool2d-nhwc": lambda: fastconv.max_pool2d(nhwc(odd), 3, 2, 1, return_indices=True, layout="NHWC"),
        "avg_pool2d": lambda: fastconv.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        "avg_pool2d-nhwc": lambda: fastconv.avg_pool2d(xn, 3, 2, 1, layout="NHWC"),
        "avg_pool2d-divisor": lambda: fastconv.avg_pool2d(x, (2, 3), (2, 1), divisor_override=5),
        "sum_pool2d": lambda: fastconv.sum_pool2d(x, 3, 1, 1),
        "sum_pool2d-nhwc": lambda: fastconv.sum_pool2d(xn, 3, 1, 1, layout="NHWC"),
        "lp_pool2d": lambda: fastconv.lp_pool2d(x, 2, 3, 2, ceil_mode=True),
        "lp_pool2d-nhwc": lambda: fastconv.lp_pool2d(xn, 1.5, 2, layout="NHWC"),
        "adaptive_avg_pool2d": lambda: fastconv.adaptive_avg_pool2d(x, (7, 9)),
        "adaptive_avg_pool2d-nhwc": lambda: fastconv.adaptive_avg_pool2d(xn, (7, 9), layout="NHWC"),
        "adaptive_max_pool2d": lambda: fastconv.adaptive_max_pool2d(odd, (7, 9), return_indices=True),
        "adaptive_max_pool2d-nhwc": lambda: fastconv.adaptive_max_pool2d(nhwc(odd), 5, True, layout="NHWC"),
        "global_avg_pool2d": lambda: fastconv.global_avg_pool2d(x),
        "global_avg_pool2d-nhwc": lambda: fastconv.global_avg_pool2d(xn, layout="NHWC"),
        "global_max_pool2d": lambda: fastconv.global_max_pool2d(odd),
        "global_max_pool2d-nhwc": lambda: fastconv.global_max_pool2d(nhwc(odd), layout="NHWC"),
        "relu": lambda: fastconv.relu(odd),
        "blur_pool2d": lambda: fastconv.blur_pool2d(odd, 5, 2, "reflect"),
        "blur_pool2d-nhwc": lambda: fastconv.blur_pool2d(nhwc(odd), 4, (2, 3), "circular", layout="NHWC"),
        "blur_pool1d": lambda: fastconv.blur_pool1d(x3, 7, 3, "zeros"),
        "max_blur_pool2d": lambda: fastconv.max_blur_pool2d(odd, 3, 2, 4, padding=1),
        "max_blur_pool1d": lambda: fastconv.max_blur_pool1d(x3, 2, 2, 3, padding_mode="replicate"),
        **backward_cases(dtype, x, xn, x3, odd),
    }


def backward_cases(dtype, x, xn, x3, odd):
    """The backward passes: their reductions (a weight gradient over images and pixels, inputs
    that several windows or stride phases reach) are where a thread split would show."""
    go = random((8, 24, 32, 34), dtype, seed=14)
    go_s2 = random((8, 24, 16, 17), dtype, seed=15)
    w = random((24, 16, 3, 3), dtype, seed=16)
    wd = random((16, 1, 3, 3), dtype, seed=17)
    _, idx = fastconv.max_pool2d(odd, 3, 2, 1, return_indices=True)
    _, idx_n = fastconv.max_pool2d(nhwc(odd), 3, 2, 1, return_indices=True, layout="NHWC")
    _, idx1 = fastconv.max_pool1d(x3, 3, 2, 1, return_indices=True)
    _, idx_a = fastconv.adaptive_max_pool2d(odd, (7, 9), return_indices=True)
    _, idx_g = fastconv.adaptive_max_pool2d(odd, 1, return_indices=True)
    g_pool, g_pool_n = random((8, 16, 16, 17), dtype, seed=18), random((8, 16, 17, 16), dtype, seed=19)

    def grads(result):
        return tuple(result.values())

    return {
        "conv2d_backward": lambda: grads(fastconv.conv2d_backward(go, x, w, padding=1)),
        "conv2d_backward-stride2-reflect": lambda: grads(fastconv.conv2d_backward(
            go_s2, x, w, stride=2, padding=1, padding_mode="reflect")),
        "conv2d_backward-nhwc-depthwise": lambda: grads(fastconv.conv2d_backward(
            nhwc(go[:, :16]), xn, wd, padding=1, groups=16, layout="NHWC")),
        "conv1d_backward": lambda: grads(fastconv.conv1d_backward(
            random((8, 24, 500), dtype, seed=20), x3[:, :16], random((24, 16, 5), dtype, seed=21), padding=2)),
        "conv_transpose2d_backward": lambda: grads(fastconv.conv_transpose2d_backward(
            random((8, 12, 63, 67), dtype, seed=22), x, random((16, 6, 3, 3), dtype, seed=12), stride=2, padding=1,
            groups=2)),
        "max_pool2d_backward": lambda: fastconv.max_pool2d_backward(g_pool, idx, X4),
        "max_pool2d_backward-nhwc": lambda: fastconv.max_pool2d_backward(g_pool_n, idx_n, xn.shape, layout="NHWC"),
        "max_pool1d_backward": lambda: fastconv.max_pool1d_backward(random(idx1.shape, dtype), idx1, X3),
        "adaptive_max_pool2d_backward": lambda: fastconv.adaptive_max_pool2d_backward(
            random(idx_a.shape, dtype), idx_a, X4),
        "global_max_pool2d_backward": lambda: fastconv.global_max_pool2d_backward(
            random(idx_g.shape, dtype), idx_g, X4),
        "avg_pool2d_backward": lambda: fastconv.avg_pool2d_backward(g_pool, X4, 3, 2, 1, count_include_pad=False),
        "avg_pool2d_backward-nhwc": lambda: fastconv.avg_pool2d_backward(g_pool_n, xn.shape, 3, 2, 1, layout="NHWC"),
        "sum_pool2d_backward": lambda: fastconv.sum_pool2d_backward(go[:, :16], X4, 3, 1, 1),
        "avg_pool1d_backward": lambda: fastconv.avg_pool1d_backward(random((8, 32, 250), dtype), X3, 4, 2, 1),
        "sum_pool1d_backward": lambda: fastconv.sum_pool1d_backward(random((8, 32, 499), dtype), X3, 2, 1),
        "lp_pool2d_backward": lambda: fastconv.lp_pool2d_backward(random((8, 16, 16, 17), dtype), x, 2, 2),
        "adaptive_avg_pool2d_backward": lambda: fastconv.adaptive_avg_pool2d_backward(
            random((8, 16, 7, 9), dtype), X4),
        "global_avg_pool2d_backward": lambda: fastconv.global_avg_pool2d_backward(random((8, 16, 1, 1), dtype), X4),
        "relu_backward": lambda: fastconv.relu_backward(random(X4, dtype), odd),
        "blur_pool2d_backward": lambda: fastconv.blur_pool2d_backward(
            random(fastconv.blur_pool2d(x, 5, 2).shape, dtype), X4, 5, 2, "reflect"),
        "blur_pool2d_backward-nhwc": lambda: fastconv.blur_pool2d_backward(
            nhwc(random(fastconv.blur_pool2d(x, 4, (2, 3)).shape, dtype)), xn.shape, 4, (2, 3), "circular",
            layout="NHWC"),
        "blur_pool1d_backward": lambda: fastconv.blur_pool1d_backward(
            random(fastconv.blur_pool1d(x3, 7, 3).shape, dtype), X3, 7, 3, "zeros"),
        "max_blur_pool2d_backward": lambda: fastconv.max_blur_pool2d_backward(
            random(fastconv.max_blur_pool2d(odd, 3, 2, 4, padding=1).shape, dtype), odd, 3, 2, 4, padding=1),
        "max_blur_pool1d_backward": lambda: fastconv.max_blur_pool1d_backward(
            random(fastconv.max_blur_pool1d(x3, 2, 2, 3).shape, dtype), x3, 2, 2, 3, padding_mode="replicate"),
    }


OTHER_NAMES = sorted(other_cases(np.float64))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", OTHER_NAMES)
def test_op_is_deterministic(name, dtype):
    assert_deterministic(other_cases(dtype)[name])


def test_every_public_op_is_covered():
    ops = {n for n in fastconv.__all__ if n not in ("backend", "set_backend", "get_num_threads", "set_num_threads",
                                                      "show_config")}
    covered = {name.split("-")[0] for name in OTHER_NAMES} | {"conv2d"}
    assert ops == covered
