"""The blur pools' backward passes (fastconv.blur_pool2d_backward and friends) against the
NumPy reference on every backend (conftest's autouse fixture), both dtypes and layouts,
awkward shapes and bad input; against torch.autograd through the same operation composed
from PyTorch ops; and the fused max-blur forward across its blocks of output rows."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, num_threads, random, special, torch_blur
from fastconv import reference as ref

MODES = ("reflect", "replicate", "zeros", "circular")


def nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, -3, -1))


def grad_for(y, dtype, seed):
    return random(y.shape, dtype, seed=seed)


def check(got, name, grad_out, first, *args, **kwargs):
    """got against the reference backward; the bound is for as many terms as one input
    position can receive (every output of its plane, at worst)."""
    want = getattr(ref, name)(grad_out, first, *args, **kwargs)
    selects = name.startswith("max_blur")  # x picks the max positions: keep it as it is
    magnitude = getattr(ref, name)(np.abs(grad_out), first if selects or not isinstance(first, np.ndarray)
                                   else np.abs(first), *args, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert_close(got, want, magnitude, max(grad_out.size, 1))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("stride", [1, 2, 3, (1, 2), (4, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_pool2d_backward_matches_reference(k, stride, dtype):
    shape = (2, 3, 23, 34)
    for mode in MODES:
        g = grad_for(ref.blur_pool2d(np.zeros(shape), k, stride, mode), dtype, seed=k)
        check(fastconv.blur_pool2d_backward(g, shape, k, stride, mode), "blur_pool2d_backward", g, shape, k, stride,
              mode)
        shape_n, g_n = (2, 23, 34, 3), nhwc(g)
        check(fastconv.blur_pool2d_backward(g_n, shape_n, k, stride, mode, layout="NHWC"), "blur_pool2d_backward",
              g_n, shape_n, k, stride, mode, layout="NHWC")


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 1, 1, 9), (1, 2, 9, 1), (1, 1, 2, 3), (3, 17, 5, 4),
                                   (1, 40, 3, 3), (0, 3, 8, 8), (2, 0, 8, 8), (4, 5, 6)])
@pytest.mark.parametrize("mode", MODES)
def test_awkward_shapes(shape, mode):
    """1x1 images, images smaller than the filter (reflect and circular fold the gradient back
    more than once), a stride larger than the image (input rows no output reads), many
    channels, batch 0, no channels, an unbatched image."""
    for k, stride in ((7, 2), (4, 5), (2, 1), (1, 3)):
        g = grad_for(ref.blur_pool2d(np.zeros(shape), k, stride, mode), np.float32, seed=1)
        check(fastconv.blur_pool2d_backward(g, shape, k, stride, mode), "blur_pool2d_backward", g, shape, k, stride,
              mode)
        shape_n = shape[:-3] + shape[-2:] + shape[-3:-2]
        g_n = nhwc(g)
        check(fastconv.blur_pool2d_backward(g_n, shape_n, k, stride, mode, layout="NHWC"), "blur_pool2d_backward",
              g_n, shape_n, k, stride, mode, layout="NHWC")


@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_pool1d_backward_matches_reference(dtype):
    shape = (3, 5, 41)
    for k in range(1, 8):
        for stride in (1, 2, 3):
            for mode in MODES:
                g = grad_for(ref.blur_pool1d(np.zeros(shape), k, stride, mode), dtype, seed=k)
                check(fastconv.blur_pool1d_backward(g, shape, k, stride, mode), "blur_pool1d_backward", g, shape, k,
                      stride, mode)
    g = random((5, 1), dtype)
    check(fastconv.blur_pool1d_backward(g, (5, 1), 5, 2), "blur_pool1d_backward", g, (5, 1), 5, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_max_blur_pool_backward_matches_reference(dtype, layout):
    x = random((2, 3, 17, 14), dtype, seed=3)
    x = nhwc(x) if layout == "NHWC" else x
    for kernel, padding, stride, k, mode in ((2, 0, 2, 4, "reflect"), (3, 1, 2, 3, "zeros"),
                                             ((2, 3), (1, 1), (1, 2), 5, "circular"), (1, 0, 3, 7, "replicate")):
        y = fastconv.max_blur_pool2d(x, kernel, stride, k, padding, mode, layout=layout)
        g = grad_for(y, dtype, seed=4)
        check(fastconv.max_blur_pool2d_backward(g, x, kernel, stride, k, padding, mode, layout=layout),
              "max_blur_pool2d_backward", g, x, kernel, stride, k, padding, mode, layout=layout)
    x1 = random((2, 3, 30), dtype, seed=5)
    g1 = grad_for(fastconv.max_blur_pool1d(x1, 3, 2, 4, padding=1), dtype, seed=6)
    check(fastconv.max_blur_pool1d_backward(g1, x1, 3, 2, 4, padding=1), "max_blur_pool1d_backward", g1, x1, 3, 2, 4,
          padding=1)


def test_non_finite_gradients_reach_exactly_the_inputs_that_read_them():
    """An inf in grad_out spreads to the positions its window read (inf - inf: NaN), nowhere
    else: the transpose only has the filter's taps, no multiplications by structural zeros."""
    shape = (2, 3, 19, 16)
    for mode in MODES:
        g = special(ref.blur_pool2d(np.zeros(shape), 5, 2, mode).shape, np.float64, seed=7, frac=0.05)
        with np.errstate(invalid="ignore"):  # the comparison's own inf - inf
            check(fastconv.blur_pool2d_backward(g, shape, 5, 2, mode), "blur_pool2d_backward", g, shape, 5, 2,
                  mode)


@pytest.mark.parametrize("height", [33, 34, 80])
@pytest.mark.parametrize("mode", MODES)
def test_fused_max_blur_across_row_blocks(height, mode):
    """Tall images: the fused forward computes blocks of 16 output rows, each with its own
    rolling window of max rows; the blocks' seams and both borders match the reference."""
    x = random((2, 2, height, 19), np.float32, seed=height)
    for kernel, padding, stride, k in ((2, 0, 1, 4), (3, 1, 2, 7), (2, 1, 1, 5)):
        for layout, xi in (("NCHW", x), ("NHWC", nhwc(x))):
            got = fastconv.max_blur_pool2d(xi, kernel, stride, k, padding, mode, layout=layout)
            want = ref.max_blur_pool2d(xi, kernel, stride, k, padding, mode, layout=layout)
            magnitude = ref.max_blur_pool2d(np.abs(xi), kernel, stride, k, padding, mode, layout=layout)
            assert_close(got, want, magnitude, k * k)


def test_results_do_not_depend_on_the_thread_count():
    x = random((4, 16, 64, 61), np.float32, seed=8)
    g = random(fastconv.blur_pool2d(x, 5, 2).shape, np.float32, seed=9)
    gm = random(fastconv.max_blur_pool2d(x, 3, 2, 4, padding=1).shape, np.float32, seed=10)
    results = []
    for threads in (1, 2, 3, 4):
        with num_threads(threads):
            results.append((fastconv.blur_pool2d_backward(g, x.shape, 5, 2),
                            fastconv.blur_pool2d_backward(nhwc(g), nhwc(x).shape, 5, 2, layout="NHWC"),
                            fastconv.max_blur_pool2d_backward(gm, x, 3, 2, 4, padding=1),
                            fastconv.max_blur_pool2d(x, 3, 2, 4, padding=1)))
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_array_equal(a, b)


def test_noncontiguous_and_list_inputs():
    x = random((2, 3, 20, 18), np.float64, seed=11)
    g = random((3, 3, 10, 9), np.float64, seed=12)[1:, ::-1]
    np.testing.assert_array_equal(fastconv.blur_pool2d_backward(g, x.shape),
                                  fastconv.blur_pool2d_backward(np.ascontiguousarray(g), x.shape))
    view = x[:, :, ::-1]
    gm = random(fastconv.max_blur_pool2d(view).shape, np.float64, seed=13)
    np.testing.assert_array_equal(fastconv.max_blur_pool2d_backward(gm, view),
                                  fastconv.max_blur_pool2d_backward(gm, np.ascontiguousarray(view)))
    assert fastconv.blur_pool1d_backward([[1.0, 2.0]], [1, 3]).shape == (1, 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reflect", "zeros", "replicate", "circular"])
def test_matches_torch_autograd_through_the_composed_operation(dtype, mode):
    """The gradients of Zhang's recipe in PyTorch (max_pool2d at stride 1, F.pad, a depthwise
    convolution with the binomial filter at the stride), by torch.autograd."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = random((2, 6, 31, 28), dtype, seed=14)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for max_first in (False, True):
        tx = torch.from_numpy(x).requires_grad_()
        y = torch_blur(torch, F.max_pool2d(tx, 2, 1) if max_first else tx, 4, 2, mode)
        g = random(tuple(y.shape), dtype, seed=15)
        y.backward(torch.from_numpy(g))
        got = fastconv.max_blur_pool2d_backward(g, x, 2, 2, 4, padding_mode=mode) if max_first else \
            fastconv.blur_pool2d_backward(g, x.shape, 4, 2, mode)
        np.testing.assert_allclose(got, tx.grad.numpy(), **tol)


X = np.zeros((1, 2, 6, 6))
G = np.zeros((1, 2, 3, 3))


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.blur_pool2d_backward(G, X.shape, 0), ValueError, "filter_size"),
    (lambda: fastconv.blur_pool2d_backward(G, X.shape, 3, -1), ValueError, "stride"),
    (lambda: fastconv.blur_pool2d_backward(G, X.shape, 3, 2, "symmetric"), ValueError, "padding_mode"),
    (lambda: fastconv.blur_pool2d_backward(G, X.shape, 3, 2, layout="CHWN"), ValueError, "layout"),
    (lambda: fastconv.blur_pool2d_backward(G[:, :, :2], X.shape, 3), ValueError, r"grad_out must have shape \(1, 2, 3, 3\)"),
    (lambda: fastconv.blur_pool2d_backward(G.astype(np.int64), X.shape, 3), TypeError, "grad_out"),
    (lambda: fastconv.blur_pool2d_backward(G, (1, 2, 0, 6), 3), ValueError, "non-empty"),
    (lambda: fastconv.blur_pool2d_backward(G, (2, 6, 6), 3), ValueError, "grad_out must have shape"),
    (lambda: fastconv.blur_pool2d_backward(G, (6, 6), 3), ValueError, "x_shape"),
    (lambda: fastconv.blur_pool2d_backward(G, X, 3), TypeError, "x_shape"),
    (lambda: fastconv.blur_pool1d_backward(G[0], (2, 6), 3, 2), ValueError, "grad_out must have shape"),
    (lambda: fastconv.max_blur_pool2d_backward(G, X, 7), ValueError, "kernel_size|window|input"),
    (lambda: fastconv.max_blur_pool2d_backward(G.astype(np.float32), X), TypeError, "dtype"),
    (lambda: fastconv.max_blur_pool2d_backward(G[:, :, 1:], X), ValueError, r"grad_out must have shape \(1, 2, 3, 3\)"),
    (lambda: fastconv.max_blur_pool1d_backward(G[0, :, 0], X[0, :, 0], 2, padding=2), ValueError, "padding"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


OOM_SCRIPT = """
import resource, sys, numpy as np, fastconv
fastconv.set_num_threads(2)
fastconv.max_blur_pool2d(np.zeros((1, 2, 64, 64)), 2, 1, 7)  # the OpenMP threads exist before the cap
x = np.zeros((1, 2, 1, 2 ** 21))
grad = np.ones((1, 2, 1, 2 ** 21))
with open("/proc/self/statm") as f:
    mapped = int(f.read().split()[0]) * resource.getpagesize()
# the outputs and index maps (32 + 16 MB) fit, not a thread's rows of 2**21 values (16 MB each, 3 to 8)
resource.setrlimit(resource.RLIMIT_AS, (mapped + (100 << 20), resource.RLIM_INFINITY))
for call in (lambda: fastconv.max_blur_pool2d(x, 1, 1, 7), lambda: fastconv.blur_pool2d_backward(grad, (1, 2, 1, 2 ** 21), 7, 1)):
    try:
        call()
        print("returned")
    except MemoryError:
        print("MemoryError")
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the address space from /proc")
@pytest.mark.skipif("address" in fastconv._core.sanitizers,
                    reason="ASan's own bookkeeping may not fit under so tight an address-space cap")
def test_running_out_of_memory_in_a_blur_raises_memory_error():
    """Found in review: the blur kernels took their rows' scratch inside the parallel loop,
    where a bad_alloc ended the process (an exception leaving an OpenMP region) on two threads."""
    done = subprocess.run([sys.executable, "-c", OOM_SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["MemoryError", "MemoryError"], done.stdout


def test_a_stride_far_past_the_image():
    """Found in review: the max-blur work estimate multiplied the stride in (a signed overflow
    at stride 2**61); one output, the blur of the max map's first rows."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    for stride in (2 ** 61, (3, 2 ** 40)):
        np.testing.assert_allclose(fastconv.max_blur_pool2d(x, 2, stride), ref.max_blur_pool2d(x, 2, stride))


def test_the_bindings_refuse_empty_images_that_padding_would_fill():
    """Found in review: internal entry points, guarded by the Python layer: an empty image
    with a padded max window made a one-row map of -inf."""
    with pytest.raises(ValueError, match="non-empty"):
        fastconv._core.blur_pool2d(np.zeros((1, 1, 0, 2)), np.zeros((1, 1, 1, 1)), [1.0], [0.5, 0.5], 1, 2, 0, 0, 1,
                                   False, 2, 2, 1, 1)
    with pytest.raises(ValueError, match="max_kh"):
        fastconv._core.blur_pool2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 1)), [1.0], [0.5, 0.5], 1, 2, 0, 0, 1,
                                   False, -1, 2, 0, 0)
