"""The NumPy reference's backward passes (fastconv.reference.*_backward): the oracle for the
backward kernels, pinned down three ways.

1. Central finite differences in float64 of the reference forwards, for every op and option.
2. torch.autograd on random configurations, float32 and float64, within ``assert_close``'s
   rounding bound (skipped without torch).
3. Bad input: TypeError / ValueError naming the argument.

The reference does not depend on the microkernel backend, so these tests run once, not once
per backend (the ``backend`` fixture below replaces conftest's parametrised one here).
"""

import math

import numpy as np
import pytest

from conftest import DTYPES, assert_close
from fastconv import reference as ref

PAD_MODES = ("zeros", "reflect", "replicate", "circular")


@pytest.fixture(autouse=True)
def backend():
    """Overrides conftest's per-backend fixture: the reference runs no kernel."""
    yield None


# =========================================================================== finite differences


def numeric_grad(loss, arr, h=1e-4):
    """Central differences (loss(arr + h e_i) - loss(arr - h e_i)) / 2h for every element i of
    ``arr`` (a C-contiguous float64 array, perturbed in place and restored)."""
    flat = arr.reshape(-1)
    grad = np.empty(flat.size)
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v + h
        up = loss()
        flat[i] = v - h
        down = loss()
        flat[i] = v
        grad[i] = (up - down) / (2 * h)
    return grad.reshape(arr.shape)


def assert_fd(analytic, loss, arr, h=1e-4):
    assert analytic.shape == arr.shape and analytic.dtype == np.float64
    np.testing.assert_allclose(analytic, numeric_grad(loss, arr, h), rtol=1e-6, atol=1e-7)


def rand(shape, seed, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def distinct(shape, seed):
    """Values with no ties anywhere (at least 1e-2 apart), so a max has one arg max."""
    n = math.prod(shape)
    return (np.random.default_rng(seed).permutation(n).reshape(shape) - n / 2) * 1e-2


def x_shape_for(n, c, h, w, layout="NCHW", unbatched=False):
    shape = (n, h, w, c) if layout == "NHWC" else (n, c, h, w)
    return shape[1:] if unbatched else shape


def assert_conv_grads_match_fd(name, x, weight, bias, kw):
    """ref.<name>_backward's three gradients against finite differences of
    sum(ref.<name>(x, weight, bias) * grad_out), in the order "input", "weight", "bias"."""
    forward, backward = getattr(ref, name), getattr(ref, f"{name}_backward")
    grad_out = rand(forward(x, weight, bias, **kw).shape, 4)

    def loss():
        return float(np.sum(forward(x, weight, bias, **kw) * grad_out))

    grads = backward(grad_out, x, weight, **kw)
    assert list(grads) == ["input", "weight", "bias"]
    for arr, grad in zip((x, weight, bias), grads.values()):
        assert_fd(grad, loss, arr)


CONV2D_CASES = {
    "plain": dict(),
    "pad_int": dict(padding=1),
    "pad_pair": dict(padding=(1, 2)),
    "pad_sides": dict(padding=((0, 2), (1, 0))),
    "valid": dict(padding="valid"),
    "same": dict(padding="same"),
    "same_stride2": dict(padding="same", stride=2),
    "same_even_kernel": dict(padding="same", wshape=(3, 2, 2, 4)),
    "full": dict(padding="full", dilation=(1, 2)),
    "reflect": dict(padding=((1, 2), (2, 1)), padding_mode="reflect"),
    "replicate": dict(padding=((1, 2), (2, 1)), padding_mode="replicate"),
    "circular": dict(padding=((1, 2), (2, 1)), padding_mode="circular"),
    "reflect_wider_than_x": dict(padding=((4, 6), (5, 3)), padding_mode="reflect", xshape=(1, 2, 3, 4)),
    "circular_wider_than_x": dict(padding=((4, 6), (5, 3)), padding_mode="circular", xshape=(1, 2, 3, 4)),
    "replicate_same": dict(padding="same", padding_mode="replicate", stride=(2, 3)),
    "stride": dict(stride=(2, 3), padding=1),
    "dilation": dict(dilation=(2, 1), padding=2),
    "groups": dict(groups=2, xshape=(2, 4, 5, 5), wshape=(4, 2, 3, 2), padding=1),
    "depthwise": dict(groups=3, xshape=(1, 3, 5, 6), wshape=(6, 1, 3, 3), padding="same"),
    "nhwc": dict(layout="NHWC", padding=((1, 0), (0, 2)), stride=(1, 2)),
    "nhwc_reflect_groups": dict(layout="NHWC", groups=2, xshape=(1, 4, 5, 6), wshape=(4, 2, 3, 3),
                                padding="same", padding_mode="reflect", stride=2, dilation=(1, 2)),
    "unbatched": dict(unbatched=True, padding=1, padding_mode="circular"),
    "unbatched_nhwc": dict(unbatched=True, layout="NHWC", padding="full"),
    "everything": dict(stride=(2, 1), dilation=(1, 2), groups=2, xshape=(2, 4, 6, 6), wshape=(2, 2, 2, 3),
                       padding=((2, 1), (0, 3)), padding_mode="replicate"),
}


@pytest.mark.parametrize("case", list(CONV2D_CASES))
def test_conv2d_backward_matches_finite_differences(case):
    kw = dict(CONV2D_CASES[case])
    n, c, h, w = kw.pop("xshape", (2, 2, 5, 5))
    wshape = kw.pop("wshape", (3, 2, 3, 3))
    layout, unbatched = kw.get("layout", "NCHW"), kw.pop("unbatched", False)
    x = rand(x_shape_for(n, c, h, w, layout, unbatched), 1)
    weight, bias = rand(wshape, 2), rand(wshape[0], 3)
    assert_conv_grads_match_fd("conv2d", x, weight, bias, kw)


CONV1D_CASES = {
    "plain": dict(),
    "pad_pair": dict(padding=(1, 3)),
    "same_stride2": dict(padding="same", stride=2),
    "full_dilated": dict(padding="full", dilation=2),
    "reflect": dict(padding=(2, 1), padding_mode="reflect"),
    "replicate": dict(padding=3, padding_mode="replicate"),
    "circular": dict(padding=(1, 2), padding_mode="circular"),
    "groups": dict(groups=2, xshape=(2, 4, 7), wshape=(4, 2, 3)),
    "unbatched": dict(unbatched=True, padding="same"),
}


@pytest.mark.parametrize("case", list(CONV1D_CASES))
def test_conv1d_backward_matches_finite_differences(case):
    kw = dict(CONV1D_CASES[case])
    xshape, wshape = kw.pop("xshape", (2, 2, 7)), kw.pop("wshape", (3, 2, 3))
    x = rand(xshape[1:] if kw.pop("unbatched", False) else xshape, 1)
    weight, bias = rand(wshape, 2), rand(wshape[0], 3)
    assert_conv_grads_match_fd("conv1d", x, weight, bias, kw)


CONV_TRANSPOSE_CASES = {
    "plain": dict(),
    "stride_padding": dict(stride=2, padding=1),
    "output_padding": dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
    "output_padding_dilation": dict(stride=1, dilation=(2, 3), output_padding=(1, 2)),
    "groups": dict(groups=2, xshape=(2, 4, 4, 3), wshape=(4, 2, 2, 3), stride=2, output_padding=1),
    "unbatched": dict(unbatched=True, stride=2, padding=(0, 1)),
}


@pytest.mark.parametrize("case", list(CONV_TRANSPOSE_CASES))
def test_conv_transpose2d_backward_matches_finite_differences(case):
    kw = dict(CONV_TRANSPOSE_CASES[case])
    xshape, wshape = kw.pop("xshape", (2, 2, 4, 4)), kw.pop("wshape", (2, 3, 3, 2))
    x = rand(xshape[1:] if kw.pop("unbatched", False) else xshape, 1)
    weight = rand(wshape, 2)
    bias = rand(wshape[1] * kw.get("groups", 1), 3)
    assert_conv_grads_match_fd("conv_transpose2d", x, weight, bias, kw)


MAX_POOL2D_CASES = {
    "2x2": dict(kernel_size=2),
    "3x3_s2_p1": dict(kernel_size=3, stride=2, padding=1),
    "overlapping": dict(kernel_size=(3, 2), stride=1),
    "ceil_mode": dict(kernel_size=(2, 3), stride=2, padding=(1, 0), ceil_mode=True),
    "dilation": dict(kernel_size=2, stride=(1, 2), dilation=(2, 3), padding=1),
    "nhwc": dict(kernel_size=3, stride=2, padding=1, layout="NHWC"),
    "unbatched": dict(kernel_size=2, stride=1, unbatched=True),
}


def max_pool_loss_and_grad(forward, backward, x, grad_seed, **kw):
    _, indices = forward(x, return_indices=True, **kw)
    grad_out = rand(indices.shape, grad_seed)
    layout = {"layout": kw["layout"]} if "layout" in kw else {}
    grad = backward(grad_out, indices, x.shape, **layout)
    return (lambda: float(np.sum(forward(x, **kw) * grad_out))), grad


@pytest.mark.parametrize("case", list(MAX_POOL2D_CASES))
def test_max_pool2d_backward_matches_finite_differences(case):
    kw = dict(MAX_POOL2D_CASES[case])
    x = distinct(x_shape_for(2, 3, 6, 7, kw.get("layout", "NCHW"), kw.pop("unbatched", False)), 5)
    loss, grad = max_pool_loss_and_grad(ref.max_pool2d, ref.max_pool2d_backward, x, 6, **kw)
    assert_fd(grad, loss, x)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, dilation=3, padding=1), dict(kernel_size=3, stride=1)],
                         ids=["2", "3_s2_p1_ceil", "dilated", "overlapping"])
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_max_pool1d_backward_matches_finite_differences(kw, unbatched):
    x = distinct((3, 9) if unbatched else (2, 3, 9), 7)
    loss, grad = max_pool_loss_and_grad(ref.max_pool1d, ref.max_pool1d_backward, x, 8, **kw)
    assert_fd(grad, loss, x)


@pytest.mark.parametrize("output_size, layout", [((3, 4), "NCHW"), ((None, 2), "NCHW"), (4, "NCHW"),
                                                 ((5, 3), "NHWC")])
def test_adaptive_max_pool2d_backward_matches_finite_differences(output_size, layout):
    x = distinct(x_shape_for(2, 2, 6, 5, layout), 9)
    loss, grad = max_pool_loss_and_grad(ref.adaptive_max_pool2d, ref.adaptive_max_pool2d_backward, x, 10,
                                        output_size=output_size, layout=layout)
    assert_fd(grad, loss, x)


@pytest.mark.parametrize("layout, unbatched", [("NCHW", False), ("NHWC", False), ("NCHW", True)])
def test_global_max_pool2d_backward_matches_finite_differences(layout, unbatched):
    x = distinct(x_shape_for(2, 3, 4, 5, layout, unbatched), 11)
    _, indices = ref.adaptive_max_pool2d(x, 1, return_indices=True, layout=layout)
    grad_out = rand(indices.shape, 12)
    grad = ref.global_max_pool2d_backward(grad_out, indices, x.shape, layout=layout)
    assert_fd(grad, lambda: float(np.sum(ref.global_max_pool2d(x, layout=layout) * grad_out)), x)


def test_max_pool_backward_of_a_window_wholly_in_the_padding_is_zero():
    x = np.array([[[[1.0, 2.0]]]])
    out, indices = ref.max_pool2d(x, (1, 2), stride=1, padding=(0, 1), dilation=(1, 3), return_indices=True)
    assert out[0, 0, 0, 0] == -np.inf and indices[0, 0, 0, 0] == -1
    grad = ref.max_pool2d_backward(np.ones(out.shape), indices, x.shape)
    assert np.array_equal(grad, np.zeros_like(x))


AVG_POOL2D_CASES = {
    "2x2": dict(kernel_size=2),
    "3x3_s2_p1": dict(kernel_size=3, stride=2, padding=1),
    "exclude_pad": dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    "ceil_mode": dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True),
    "ceil_exclude_pad": dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True, count_include_pad=False),
    "divisor_override": dict(kernel_size=(2, 3), stride=1, padding=(1, 0), divisor_override=5),
    "nhwc": dict(kernel_size=3, stride=(1, 2), padding=1, ceil_mode=True, layout="NHWC"),
    "unbatched": dict(kernel_size=2, stride=1, unbatched=True),
}


def pool_fd(forward, backward, x, **kw):
    grad_out = rand(forward(x, **kw).shape, 13)
    grad = backward(grad_out, x.shape, **kw)
    assert grad.shape == x.shape
    assert_fd(grad, lambda: float(np.sum(forward(x, **kw) * grad_out)), x)


@pytest.mark.parametrize("case", list(AVG_POOL2D_CASES))
def test_avg_pool2d_backward_matches_finite_differences(case):
    kw = dict(AVG_POOL2D_CASES[case])
    x = rand(x_shape_for(2, 2, 7, 6, kw.get("layout", "NCHW"), kw.pop("unbatched", False)), 14)
    pool_fd(ref.avg_pool2d, ref.avg_pool2d_backward, x, **kw)


@pytest.mark.parametrize("case", ["2x2", "3x3_s2_p1", "ceil_mode", "nhwc", "unbatched"])
def test_sum_pool2d_backward_matches_finite_differences(case):
    kw = {k: v for k, v in AVG_POOL2D_CASES[case].items() if k not in ("count_include_pad", "divisor_override")}
    x = rand(x_shape_for(2, 2, 7, 6, kw.get("layout", "NCHW"), kw.pop("unbatched", False)), 15)
    pool_fd(ref.sum_pool2d, ref.sum_pool2d_backward, x, **kw)


POOL1D_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=4, stride=3, ceil_mode=True)]


@pytest.mark.parametrize("kw", POOL1D_CASES, ids=["2", "3_s2_p1_ceil", "3_s1_p1", "4_s3_ceil"])
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_sum_and_avg_pool1d_backward_match_finite_differences(kw, unbatched):
    x = rand((2, 9) if unbatched else (2, 2, 9), 16)
    pool_fd(ref.sum_pool1d, ref.sum_pool1d_backward, x, **kw)
    pool_fd(ref.avg_pool1d, ref.avg_pool1d_backward, x, **kw)
    pool_fd(ref.avg_pool1d, ref.avg_pool1d_backward, x, count_include_pad=False, **kw)


LP_CASES = {
    "p2": dict(norm_type=2, kernel_size=2),
    "p1_signed": dict(norm_type=1, kernel_size=(2, 3), stride=1),
    "p3.5_ceil": dict(norm_type=3.5, kernel_size=3, stride=2, ceil_mode=True, positive=True),
    "p0.5": dict(norm_type=0.5, kernel_size=2, stride=(1, 2), positive=True),
    "p3_nhwc": dict(norm_type=3, kernel_size=(3, 2), stride=(2, 1), ceil_mode=True, layout="NHWC", positive=True),
    "p2_unbatched": dict(norm_type=2, kernel_size=2, stride=1, unbatched=True),
}


@pytest.mark.parametrize("case", list(LP_CASES))
def test_lp_pool2d_backward_matches_finite_differences(case):
    kw = dict(LP_CASES[case])
    low = 0.5 if kw.pop("positive", False) else -1.0
    x = rand(x_shape_for(2, 2, 6, 7, kw.get("layout", "NCHW"), kw.pop("unbatched", False)), 17, low=low, high=1.5)
    p = kw.pop("norm_type")
    grad_out = rand(ref.lp_pool2d(x, p, **kw).shape, 18)
    grad = ref.lp_pool2d_backward(grad_out, x, p, **kw)
    assert_fd(grad, lambda: float(np.sum(ref.lp_pool2d(x, p, **kw) * grad_out)), x, h=1e-5)


def test_lp_pool2d_backward_passes_nothing_through_a_zero_window():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[1.0, 2.0], [3.0, 4.0]]       # the other three 2x2 windows pool to 0
    grad = ref.lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, 2)
    window = x[0, 0, 2:, 2:]
    expected = np.zeros((4, 4))
    expected[2:, 2:] = window / np.sqrt(np.sum(window ** 2))   # d/dx of the 2-norm
    np.testing.assert_allclose(grad[0, 0], expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("output_size, layout", [((3, 4), "NCHW"), ((None, 2), "NCHW"), (4, "NCHW"),
                                                 ((7, 3), "NHWC")])
def test_adaptive_avg_pool2d_backward_matches_finite_differences(output_size, layout):
    x = rand(x_shape_for(2, 2, 6, 5, layout), 19)
    grad_out = rand(ref.adaptive_avg_pool2d(x, output_size, layout=layout).shape, 20)
    grad = ref.adaptive_avg_pool2d_backward(grad_out, x.shape, layout=layout)
    assert_fd(grad, lambda: float(np.sum(ref.adaptive_avg_pool2d(x, output_size, layout=layout) * grad_out)), x)


@pytest.mark.parametrize("layout, unbatched", [("NCHW", False), ("NHWC", False), ("NHWC", True)])
def test_global_avg_pool2d_backward_matches_finite_differences(layout, unbatched):
    x = rand(x_shape_for(2, 3, 4, 5, layout, unbatched), 21)
    pool_fd(ref.global_avg_pool2d, ref.global_avg_pool2d_backward, x, layout=layout)


def test_relu_backward_matches_finite_differences_and_is_zero_at_zero():
    x = rand((2, 3, 4), 22)
    x[np.abs(x) < 0.05] = 0.5
    grad_out = rand(x.shape, 23)
    assert_fd(ref.relu_backward(grad_out, x), lambda: float(np.sum(ref.relu(x) * grad_out)), x)
    at = np.array([0.0, -0.0, -1.0, 2.0, np.nan])
    assert np.array_equal(ref.relu_backward(np.full(5, 3.0), at), [0.0, 0.0, 0.0, 3.0, 3.0])


# =========================================================================== conventions


def test_conv_backward_returns_only_the_gradients_it_is_asked_for():
    x, weight = rand((2, 2, 5, 5), 1), rand((3, 2, 3, 3), 2)
    grad_out = rand((2, 3, 3, 3), 3)
    everything = ref.conv2d_backward(grad_out, x, weight)
    assert set(ref.conv2d_backward(grad_out, x, weight, needs=("bias", "input"))) == {"input", "bias"}
    assert list(ref.conv2d_backward(grad_out, x, weight, needs=("bias", "input"))) == ["input", "bias"]
    only = ref.conv2d_backward(grad_out, x, weight, needs="weight")
    assert list(only) == ["weight"] and np.array_equal(only["weight"], everything["weight"])
    assert ref.conv2d_backward(grad_out, x, weight, needs=()) == {}
    assert list(ref.conv1d_backward(grad_out[:, :, 0], x[:, :, 0], weight[:, :, 0], needs=["input"])) == ["input"]
    t = ref.conv_transpose2d_backward(rand((2, 2, 5, 5), 4), grad_out, rand((3, 2, 3, 3), 5), needs=("weight",))
    assert list(t) == ["weight"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_backward_returns_the_input_dtype_and_shape(dtype):
    x = rand((2, 3, 6, 6), 1).astype(dtype)
    weight = rand((4, 3, 3, 3), 2).astype(dtype)
    grads = ref.conv2d_backward(ref.conv2d(x, weight), x, weight)
    assert [(g.dtype, g.shape) for g in grads.values()] == [(dtype, x.shape), (dtype, weight.shape), (dtype, (4,))]
    grads = ref.conv_transpose2d_backward(ref.conv_transpose2d(x, weight[:3, :2]), x, weight[:3, :2])
    assert [(g.dtype, g.shape) for g in grads.values()] == [(dtype, x.shape), (dtype, (3, 2, 3, 3)), (dtype, (2,))]
    grads = ref.conv1d_backward(ref.conv1d(x[:, :, 0], weight[:, :, 0]), x[:, :, 0], weight[:, :, 0])
    assert [(g.dtype, g.shape) for g in grads.values()] == [(dtype, (2, 3, 6)), (dtype, (4, 3, 3)), (dtype, (4,))]
    out, idx = ref.max_pool2d(x, 2, return_indices=True)
    results = [
        ref.max_pool2d_backward(out, idx, x.shape),
        ref.adaptive_max_pool2d_backward(*ref.adaptive_max_pool2d(x, 4, return_indices=True), x.shape),
        ref.global_max_pool2d_backward(*ref.adaptive_max_pool2d(x, 1, return_indices=True), x.shape),
        ref.avg_pool2d_backward(ref.avg_pool2d(x, 3), x.shape, 3),
        ref.sum_pool2d_backward(ref.sum_pool2d(x, 3), x.shape, 3),
        ref.lp_pool2d_backward(ref.lp_pool2d(x, 2, 3), x, 2, 3),
        ref.adaptive_avg_pool2d_backward(ref.adaptive_avg_pool2d(x, 4), x.shape),
        ref.global_avg_pool2d_backward(ref.global_avg_pool2d(x), x.shape),
        ref.relu_backward(x, x),
    ]
    assert all(r.dtype == dtype and r.shape == x.shape and r.flags.c_contiguous for r in results)
    x1 = x[:, :, 0]
    out1, idx1 = ref.max_pool1d(x1, 2, return_indices=True)
    results = [ref.max_pool1d_backward(out1, idx1, x1.shape), ref.avg_pool1d_backward(ref.avg_pool1d(x1, 2),
                                                                                      x1.shape, 2),
               ref.sum_pool1d_backward(ref.sum_pool1d(x1, 2), x1.shape, 2)]
    assert all(r.dtype == dtype and r.shape == x1.shape for r in results)


def test_empty_batch():
    x, weight = np.zeros((0, 2, 5, 5)), rand((3, 2, 3, 3), 1)
    grads = ref.conv2d_backward(np.zeros((0, 3, 3, 3)), x, weight)
    assert grads["input"].shape == x.shape and np.array_equal(grads["weight"], np.zeros(weight.shape))
    assert ref.avg_pool2d_backward(np.zeros((0, 2, 2, 2)), x.shape, 2).shape == x.shape
    assert ref.max_pool2d_backward(np.zeros((0, 2, 2, 2)), np.zeros((0, 2, 2, 2), np.int64), x.shape).shape == x.shape


# =========================================================================== against torch.autograd


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


CONFIGS = 25  # random configurations per (op, dtype)


def seeds(name, dtype):
    return [np.random.default_rng([sum(map(ord, name)), i, np.dtype(dtype).itemsize]) for i in range(CONFIGS)]


def ints(rng, low, high, n=2):
    return tuple(int(v) for v in rng.integers(low, high, n))


def leaf(torch, a):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=True)


def torch_pad(torch, x, pads, mode):
    """pads ((top, bottom), (left, right)) or ((left, right),) for F.pad (last axis first)."""
    flat = tuple(v for pair in reversed(pads) for v in pair)
    return torch.nn.functional.pad(x, flat, mode={"zeros": "constant", "replicate": "replicate",
                                                  "reflect": "reflect", "circular": "circular"}[mode])


def torch_pad_ok(pads, sizes, mode):
    """F.pad's limits: reflect needs pad < size, circular pad <= size."""
    limit = {"reflect": -1, "circular": 0}.get(mode)
    return limit is None or all(p <= s + limit for pair, s in zip(pads, sizes) for p in pair)


def conv_config(rng, nd):
    groups = int(rng.integers(1, 3))
    c, k = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    sizes = ints(rng, 3, 9, nd)
    kernel = ints(rng, 1, 4, nd)
    stride, dilation = ints(rng, 1, 3, nd), ints(rng, 1, 3, nd)
    mode = PAD_MODES[int(rng.integers(4))]
    choice = int(rng.integers(3))
    padding = ("valid", "same", "full")[int(rng.integers(3))] if choice == 0 else \
        ints(rng, 0, 3, nd) if choice == 1 else tuple(ints(rng, 0, 3) for _ in range(nd))
    if nd == 1 and choice == 2:
        padding = padding[0]
    return groups, c, k, sizes, kernel, stride, dilation, mode, padding


def conv_tolerance_terms(weight_shape, groups, n, out_sizes, mode):
    k_per_group = weight_shape[0] // groups
    copies = 1 if mode == "zeros" else 3 ** (len(out_sizes))  # a reflect/circular copy reaches up to 3 places
    return {"input": k_per_group * math.prod(weight_shape[2:]) * copies,
            "weight": n * math.prod(out_sizes), "bias": n * math.prod(out_sizes)}


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_vs_torch(torch, dtype):
    F = torch.nn.functional
    checked = 0
    for rng in seeds("conv2d", dtype):
        groups, c, k, (h, w), kernel, stride, dilation, mode, padding = conv_config(rng, 2)
        pads = ref._args.conv_padding(padding, (h, w), kernel, stride, dilation)
        if any(d * (kk - 1) + 1 > s + a + b for d, kk, s, (a, b) in zip(dilation, kernel, (h, w), pads)) \
                or not torch_pad_ok(pads, (h, w), mode):
            continue
        layout, unbatched = ("NCHW", "NHWC")[int(rng.integers(2))], rng.integers(4) == 0
        n = 1 if unbatched else int(rng.integers(1, 3))
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        weight = rng.standard_normal((k, c // groups) + kernel).astype(dtype)
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
        xt, wt, bt = leaf(torch, x), leaf(torch, weight), leaf(torch, np.zeros(k, dtype))
        y = F.conv2d(torch_pad(torch, xt, pads, mode), wt, bt, stride, 0, dilation, groups)
        grad_out = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(torch.from_numpy(grad_out))

        def caller(a):  # NCHW batched -> the layout and batchedness under test
            a = np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1)) if layout == "NHWC" else a)
            return a[0] if unbatched else a

        grads = ref.conv2d_backward(caller(grad_out), caller(x), weight, layout=layout, **kw)
        mags = ref.conv2d_backward(caller(np.abs(grad_out).astype(np.float64)), caller(np.abs(x).astype(np.float64)),
                                   np.abs(weight).astype(np.float64), layout=layout, **kw)
        terms = conv_tolerance_terms(weight.shape, groups, n, y.shape[2:], mode)
        for name, t in (("input", xt), ("weight", wt), ("bias", bt)):
            want = caller(t.grad.numpy()) if name == "input" else t.grad.numpy()
            assert_close(grads[name], want, mags[name], terms[name])
        checked += 1
    assert checked >= CONFIGS // 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv1d_backward_vs_torch(torch, dtype):
    F = torch.nn.functional
    checked = 0
    for rng in seeds("conv1d", dtype):
        groups, c, k, (length,), (kk,), (s,), (d,), mode, padding = conv_config(rng, 1)
        (pad,) = ref._args.conv_padding(padding, (length,), (kk,), (s,), (d,))
        if d * (kk - 1) + 1 > length + sum(pad) or not torch_pad_ok((pad,), (length,), mode):
            continue
        n = int(rng.integers(1, 3))
        x = rng.standard_normal((n, c, length)).astype(dtype)
        weight = rng.standard_normal((k, c // groups, kk)).astype(dtype)
        xt, wt, bt = leaf(torch, x), leaf(torch, weight), leaf(torch, np.zeros(k, dtype))
        y = F.conv1d(torch_pad(torch, xt, (pad,), mode), wt, bt, s, 0, d, groups)
        grad_out = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(torch.from_numpy(grad_out))
        kw = dict(stride=s, padding=padding, dilation=d, groups=groups, padding_mode=mode)
        grads = ref.conv1d_backward(grad_out, x, weight, **kw)
        mags = ref.conv1d_backward(*(np.abs(a).astype(np.float64) for a in (grad_out, x, weight)), **kw)
        terms = conv_tolerance_terms(weight.shape, groups, n, y.shape[2:], mode)
        for name, t in (("input", xt), ("weight", wt), ("bias", bt)):
            assert_close(grads[name], t.grad.numpy(), mags[name], terms[name])
        checked += 1
    assert checked >= CONFIGS // 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose2d_backward_vs_torch(torch, dtype):
    F = torch.nn.functional
    for rng in seeds("conv_transpose2d", dtype):
        groups = int(rng.integers(1, 3))
        c, k_per_group = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
        n, (h, w), kernel = int(rng.integers(1, 3)), ints(rng, 2, 6), ints(rng, 1, 4)
        stride, dilation = ints(rng, 1, 4), ints(rng, 1, 3)
        output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        padding = tuple(int(rng.integers(0, (d * (kk - 1)) // 2 + 1)) for d, kk in zip(dilation, kernel))
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        weight = rng.standard_normal((c, k_per_group) + kernel).astype(dtype)
        xt, wt, bt = leaf(torch, x), leaf(torch, weight), leaf(torch, np.zeros(k_per_group * groups, dtype))
        y = F.conv_transpose2d(xt, wt, bt, stride, padding, output_padding, groups, dilation)
        grad_out = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(torch.from_numpy(grad_out))
        kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
        grads = ref.conv_transpose2d_backward(grad_out, x, weight, **kw)
        mags = ref.conv_transpose2d_backward(*(np.abs(a).astype(np.float64) for a in (grad_out, x, weight)), **kw)
        terms = {"input": k_per_group * math.prod(kernel), "weight": n * h * w, "bias": n * math.prod(y.shape[2:])}
        for name, t in (("input", xt), ("weight", wt), ("bias", bt)):
            assert_close(grads[name], t.grad.numpy(), mags[name], terms[name])


def pool_config(rng, nd, dilation=False, padding=True):
    """(input spatial sizes, kwargs) of a pool PyTorch accepts (padding at most half the kernel)."""
    k = rng.integers(1, 4, nd)
    d = rng.integers(1, 3, nd) if dilation else np.ones(nd, int)
    p = np.array([rng.integers(0, kk // 2 + 1) for kk in k]) if padding else np.zeros(nd, int)
    s = rng.integers(1, 4, nd)
    eff = d * (k - 1) + 1
    sizes = [int(rng.integers(max(1, e - 2 * pp), e - 2 * pp + 6)) for e, pp in zip(eff, p)]
    tup = (lambda a: tuple(int(v) for v in a)) if nd == 2 else (lambda a: int(a[0]))
    kw = dict(kernel_size=tup(k), stride=tup(s), ceil_mode=bool(rng.integers(2)))
    if padding:
        kw["padding"] = tup(p)
    if dilation:
        kw["dilation"] = tup(d)
    return sizes, kw


def pool_input(rng, shape, dtype, kind):
    if kind == "ties":
        return rng.integers(-1, 2, shape).astype(dtype)
    if kind == "positive":
        return rng.uniform(0.1, 1.5, shape).astype(dtype)
    return rng.uniform(-1, 1, shape).astype(dtype)


def torch_grad(torch, fn, x, grad_out_seed_rng, dtype):
    """(x's gradient under torch.autograd, grad_out used, output) for y = fn(x_tensor)."""
    xt = leaf(torch, x)
    y = fn(xt)
    y = y[0] if isinstance(y, tuple) else y
    grad_out = grad_out_seed_rng.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(torch.from_numpy(grad_out))
    return xt.grad.numpy(), grad_out


def windows_per_input(kw):
    """An upper bound on how many windows read one input position (the terms of its gradient)."""
    k, s = np.atleast_1d(kw["kernel_size"]), np.atleast_1d(kw.get("stride", kw["kernel_size"]))
    return int(np.prod(-(-k // s)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2])
def test_max_pool_backward_vs_torch(torch, nd, dtype):
    F = torch.nn.functional
    for rng in seeds(f"max{nd}", dtype):
        sizes, kw = pool_config(rng, nd, dilation=True)
        x = pool_input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(sizes), dtype,
                       ("uniform", "ties")[int(rng.integers(2))])
        forward, backward, tf = (ref.max_pool2d, ref.max_pool2d_backward, F.max_pool2d) if nd == 2 else \
            (ref.max_pool1d, ref.max_pool1d_backward, F.max_pool1d)
        want, grad_out = torch_grad(torch, lambda t: tf(t, **kw), x, rng, dtype)
        _, indices = forward(x, return_indices=True, **kw)
        got = backward(grad_out, indices, x.shape)
        mag = backward(np.abs(grad_out).astype(np.float64), indices, x.shape)
        assert_close(got, want, mag, terms=windows_per_input(kw))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_nhwc_vs_torch(torch, dtype):
    F = torch.nn.functional
    for rng in seeds("max-nhwc", dtype)[:10]:
        sizes, kw = pool_config(rng, 2, dilation=True)
        x = pool_input(rng, (2, 3) + tuple(sizes), dtype, "uniform")
        want, grad_out = torch_grad(torch, lambda t: F.max_pool2d(t, **kw), x, rng, dtype)
        nhwc = (lambda a: np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1))))
        _, indices = ref.max_pool2d(nhwc(x), return_indices=True, layout="NHWC", **kw)
        got = ref.max_pool2d_backward(nhwc(grad_out), indices, nhwc(x).shape, layout="NHWC")
        mag = ref.max_pool2d_backward(np.abs(nhwc(grad_out)).astype(np.float64), indices, nhwc(x).shape,
                                      layout="NHWC")
        assert_close(got, nhwc(want), mag, terms=windows_per_input(kw))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["avg", "sum"])
@pytest.mark.parametrize("nd", [1, 2])
def test_avg_and_sum_pool_backward_vs_torch(torch, nd, op, dtype):
    F = torch.nn.functional
    for rng in seeds(f"{op}{nd}", dtype):
        sizes, kw = pool_config(rng, nd)
        layout = ("NCHW", "NHWC")[int(rng.integers(2))] if nd == 2 else None
        x = pool_input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(sizes), dtype, "uniform")
        if op == "avg":
            kw["count_include_pad"] = bool(rng.integers(2))
            if nd == 2 and rng.integers(2):
                kw["divisor_override"] = int(rng.integers(1, 10))
            tf = F.avg_pool2d if nd == 2 else F.avg_pool1d
            want, grad_out = torch_grad(torch, lambda t: tf(t, **kw), x, rng, dtype)
        else:  # torch's sum pool: avg_pool2d with divisor 1 (1-D through H = 1)
            lift = {"kernel_size": (1,), "stride": (1,), "padding": (0,)}
            kw2 = kw if nd == 2 else {key: lift[key] + (v,) if key in lift else v for key, v in kw.items()}

            def torch_sum(t):
                return F.avg_pool2d(t, divisor_override=1, **kw2) if nd == 2 else \
                    F.avg_pool2d(t[:, :, None], divisor_override=1, **kw2)[:, :, 0]

            want, grad_out = torch_grad(torch, torch_sum, x, rng, dtype)
        backward = getattr(ref, f"{op}_pool{nd}d_backward")
        if layout == "NHWC":
            nhwc = (lambda a: np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1))))
            got = backward(nhwc(grad_out), nhwc(x).shape, layout=layout, **kw)
            mag = backward(np.abs(nhwc(grad_out)).astype(np.float64), nhwc(x).shape, layout=layout, **kw)
            want = nhwc(want)
        else:
            got = backward(grad_out, x.shape, **kw)
            mag = backward(np.abs(grad_out).astype(np.float64), x.shape, **kw)
        assert_close(got, want, mag, terms=windows_per_input(kw) + 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [1, 2, 3.5])
def test_lp_pool2d_backward_vs_torch(torch, norm_type, dtype):
    F = torch.nn.functional
    for rng in seeds(f"lp{norm_type}", dtype):
        sizes, kw = pool_config(rng, 2, padding=False)
        x = pool_input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(sizes), dtype,
                       "positive" if norm_type == 3.5 else "uniform")
        want, grad_out = torch_grad(torch, lambda t: F.lp_pool2d(t, norm_type, **kw), x, rng, dtype)
        got = ref.lp_pool2d_backward(grad_out, x, norm_type, **kw)
        mag = ref.lp_pool2d_backward(np.abs(grad_out).astype(np.float64), np.abs(x).astype(np.float64),
                                     norm_type, **kw)
        terms = int(np.prod(kw["kernel_size"])) * windows_per_input(kw) + 8   # pow, sums, divisions per path
        assert_close(got, want, mag, terms=terms)


@pytest.mark.parametrize("norm_type", [1, 2, 3, 0.5])
def test_lp_pool2d_backward_at_zero_windows_and_zero_inputs_vs_torch(torch, norm_type):
    F = torch.nn.functional
    x = np.zeros((1, 2, 4, 6))
    x[0, 0, :2, :2] = [[0.5, 0.0], [1.0, 2.0]]        # a window with a zero input
    x[0, 1, 2:, 4:] = [[1.0, -1.0], [0.0, 0.0]]       # pools to 0 for odd p: cancelling
    grad_out = np.arange(1.0, 13.0).reshape(1, 2, 2, 3)
    xt = leaf(torch, x)
    F.lp_pool2d(xt, norm_type, 2).backward(torch.from_numpy(grad_out))
    got = ref.lp_pool2d_backward(grad_out, x, norm_type, 2)
    np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-14, atol=0, equal_nan=True)
    assert np.array_equal(np.isnan(got), np.isnan(xt.grad.numpy()))


def adaptive_config(rng):
    hw = ints(rng, 1, 9)
    size = tuple(None if rng.integers(4) == 0 else int(rng.integers(1, 11)) for _ in range(2))
    return hw, size if None in size or size[0] != size[1] else size[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_and_global_pool_backward_vs_torch(torch, dtype):
    F = torch.nn.functional
    for rng in seeds("adaptive", dtype):
        hw, size = adaptive_config(rng)
        x = pool_input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + hw, dtype,
                       ("uniform", "ties")[int(rng.integers(2))])
        layout = ("NCHW", "NHWC")[int(rng.integers(2))]
        to = (lambda a: np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1)))) if layout == "NHWC" else (lambda a: a)
        for out_size, avg_fn, max_fn in ((size, ref.adaptive_avg_pool2d_backward, ref.adaptive_max_pool2d_backward),
                                         (1, ref.global_avg_pool2d_backward, ref.global_max_pool2d_backward)):
            want, grad_out = torch_grad(torch, lambda t: F.adaptive_avg_pool2d(t, out_size), x, rng, dtype)
            got = avg_fn(to(grad_out), to(x).shape, layout=layout)
            mag = avg_fn(np.abs(to(grad_out)).astype(np.float64), to(x).shape, layout=layout)
            cells = grad_out.shape[2] * grad_out.shape[3]
            assert_close(got, to(want), mag, terms=-(-cells // (hw[0] * hw[1])) * 4 + 1)

            want, grad_out = torch_grad(torch, lambda t: F.adaptive_max_pool2d(t, out_size), x, rng, dtype)
            _, indices = ref.adaptive_max_pool2d(to(x), out_size, return_indices=True, layout=layout)
            got = max_fn(to(grad_out), indices, to(x).shape, layout=layout)
            mag = max_fn(np.abs(to(grad_out)).astype(np.float64), indices, to(x).shape, layout=layout)
            assert_close(got, to(want), mag, terms=cells)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_vs_torch(torch, dtype):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3, 50)).astype(dtype)
    x[0, :5] = [0.0, -0.0, np.nan, np.inf, -np.inf]
    grad_out = rng.standard_normal(x.shape).astype(dtype)
    xt = leaf(torch, x)
    torch.relu(xt).backward(torch.from_numpy(grad_out))
    got = ref.relu_backward(grad_out, x)
    assert got.dtype == dtype and np.array_equal(got, xt.grad.numpy())


# =========================================================================== bad input


X = rand((2, 3, 6, 6), 0)
W = rand((4, 3, 3, 3), 1)
G = rand((2, 4, 4, 4), 2)
P = rand((2, 3, 3, 3), 3)                               # a 2x2 pool's output of X
IDX = ref.max_pool2d(X, 2, return_indices=True)[1]

BAD_INPUTS = {
    "conv_grad_shape": (lambda: ref.conv2d_backward(G[:, :, :3], X, W), ValueError,
                        r"grad_out must have shape \(2, 4, 4, 4\)"),
    "conv_grad_shape_nhwc": (lambda: ref.conv2d_backward(G[:, :, :, :3], X[:, :, :, :5].transpose(0, 2, 3, 1), W,
                                                         layout="NHWC"),
                             ValueError, r"grad_out must have shape \(2, 4, 3, 4\)"),
    "conv_grad_shape_unbatched": (lambda: ref.conv2d_backward(G, X[0], W), ValueError,
                                  r"grad_out must have shape \(4, 4, 4\)"),
    "conv_grad_dtype": (lambda: ref.conv2d_backward(G.astype(np.float32), X, W), TypeError, "grad_out"),
    "conv_grad_int": (lambda: ref.conv2d_backward(G.astype(np.int64), X, W), TypeError, "grad_out"),
    "conv_x_int": (lambda: ref.conv2d_backward(G, X.astype(np.int32), W), TypeError, "x must have dtype"),
    "conv_weight_dtype": (lambda: ref.conv2d_backward(G, X, W.astype(np.float32)), TypeError, "weight"),
    "conv_weight_ndim": (lambda: ref.conv2d_backward(G, X, W[0]), ValueError, "weight must be"),
    "conv_groups": (lambda: ref.conv2d_backward(G, X, W, groups=2), ValueError, "groups"),
    "conv_stride": (lambda: ref.conv2d_backward(G, X, W, stride=0), ValueError, "stride"),
    "conv_padding": (lambda: ref.conv2d_backward(G, X, W, padding="middle"), ValueError, "padding"),
    "conv_padding_mode": (lambda: ref.conv2d_backward(G, X, W, padding_mode="mirror"), ValueError, "padding_mode"),
    "conv_layout": (lambda: ref.conv2d_backward(G, X, W, layout="CHWN"), ValueError, "layout"),
    "conv_needs_name": (lambda: ref.conv2d_backward(G, X, W, needs=("input", "x")), ValueError, "needs"),
    "conv_needs_type": (lambda: ref.conv2d_backward(G, X, W, needs=3), TypeError, "needs"),
    "conv_kernel_too_large": (lambda: ref.conv2d_backward(G, X[:, :, :2], W), ValueError, "larger than"),
    "conv1d_grad_shape": (lambda: ref.conv1d_backward(G[:, :, 0], X[:, :, 0], W[:, :, 0], padding=1),
                          ValueError, r"grad_out must have shape \(2, 4, 6\)"),
    "conv1d_weight_ndim": (lambda: ref.conv1d_backward(G[:, :, 0], X[:, :, 0], W), ValueError, "weight must be"),
    "conv_transpose_grad_shape": (lambda: ref.conv_transpose2d_backward(X[:, :, :5], G, W[:, :3]), ValueError,
                                  r"grad_out must have shape \(2, 3, 6, 6\)"),
    "conv_transpose_output_padding": (lambda: ref.conv_transpose2d_backward(X, G, W[:, :3], output_padding=1),
                                      ValueError, "output_padding"),
    "max_indices_float": (lambda: ref.max_pool2d_backward(P, IDX.astype(np.float64), X.shape), TypeError, "indices"),
    "max_indices_shape": (lambda: ref.max_pool2d_backward(P, IDX[:, :, :2], X.shape), ValueError, "indices"),
    "max_indices_range": (lambda: ref.max_pool2d_backward(P, IDX + 36, X.shape), ValueError, r"indices .*\[0, 36\)"),
    "max_x_shape_type": (lambda: ref.max_pool2d_backward(P, IDX, X), TypeError, "x_shape"),
    "max_x_shape_float": (lambda: ref.max_pool2d_backward(P, IDX, (2, 3, 6.0, 6)), TypeError, "x_shape"),
    "max_x_shape_len": (lambda: ref.max_pool2d_backward(P, IDX, (6, 6)), ValueError, "x_shape"),
    "max_x_shape_empty": (lambda: ref.max_pool2d_backward(P, IDX, (2, 3, 0, 6)), ValueError, "x_shape"),
    "max_grad_channels": (lambda: ref.max_pool2d_backward(P, IDX, (2, 4, 6, 6)), ValueError,
                          r"grad_out must have shape \(2, 4, 3, 3\)"),
    "max_grad_ndim": (lambda: ref.max_pool2d_backward(P[0], IDX, X.shape), ValueError,
                      r"grad_out must have shape \(2, 3, OH, OW\)"),
    "max1d_grad_ndim": (lambda: ref.max_pool1d_backward(P, IDX, (2, 3, 6)), ValueError,
                        r"grad_out must have shape \(2, 3, OL\)"),
    "global_max_grad_shape": (lambda: ref.global_max_pool2d_backward(P, IDX, X.shape), ValueError,
                              r"grad_out must have shape \(2, 3, 1, 1\)"),
    "avg_grad_shape": (lambda: ref.avg_pool2d_backward(P, X.shape, 3), ValueError,
                       r"grad_out must have shape \(2, 3, 2, 2\)"),
    "avg_grad_shape_nhwc": (lambda: ref.avg_pool2d_backward(P, (2, 6, 6, 4), 2, layout="NHWC"), ValueError,
                            r"grad_out must have shape \(2, 3, 3, 4\)"),
    "avg_grad_int": (lambda: ref.avg_pool2d_backward(P.astype(np.int64), X.shape, 2), TypeError, "grad_out"),
    "avg_divisor": (lambda: ref.avg_pool2d_backward(P, X.shape, 2, divisor_override=0), ValueError,
                    "divisor_override"),
    "avg_count_include_pad": (lambda: ref.avg_pool2d_backward(P, X.shape, 2, count_include_pad=1), TypeError,
                              "count_include_pad"),
    "avg_padding": (lambda: ref.avg_pool2d_backward(P, X.shape, 2, padding=2), ValueError, "padding"),
    "avg_ceil_mode": (lambda: ref.avg_pool2d_backward(P, X.shape, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    "sum_kernel": (lambda: ref.sum_pool2d_backward(P, X.shape, 0), ValueError, "kernel_size"),
    "avg1d_grad_shape": (lambda: ref.avg_pool1d_backward(P[:, :, 0], (2, 3, 6), 3), ValueError,
                         r"grad_out must have shape \(2, 3, 2\)"),
    "sum1d_x_shape": (lambda: ref.sum_pool1d_backward(P[:, :, 0], X.shape, 2), ValueError, "x_shape"),
    "lp_norm_type": (lambda: ref.lp_pool2d_backward(P, X, 0, 2), ValueError, "norm_type"),
    "lp_norm_type_bool": (lambda: ref.lp_pool2d_backward(P, X, True, 2), TypeError, "norm_type"),
    "lp_grad_shape": (lambda: ref.lp_pool2d_backward(P, X, 2, 3), ValueError,
                      r"grad_out must have shape \(2, 3, 2, 2\)"),
    "lp_grad_dtype": (lambda: ref.lp_pool2d_backward(P.astype(np.float32), X, 2, 2), TypeError, "grad_out"),
    "adaptive_avg_grad_ndim": (lambda: ref.adaptive_avg_pool2d_backward(P[0], X.shape), ValueError,
                               r"grad_out must have shape \(2, 3, OH, OW\)"),
    "adaptive_avg_empty": (lambda: ref.adaptive_avg_pool2d_backward(P, (2, 3, 0, 6)), ValueError, "x_shape"),
    "adaptive_avg_zero_output": (lambda: ref.adaptive_avg_pool2d_backward(P[:, :, :0], X.shape), ValueError,
                                 "output_size"),
    "global_avg_grad_shape": (lambda: ref.global_avg_pool2d_backward(P, X.shape), ValueError,
                              r"grad_out must have shape \(2, 3, 1, 1\)"),
    "relu_shape": (lambda: ref.relu_backward(X[0], X), ValueError, r"grad_out must have shape \(2, 3, 6, 6\)"),
    "relu_dtype": (lambda: ref.relu_backward(X.astype(np.float32), X), TypeError, "grad_out"),
    "relu_x_type": (lambda: ref.relu_backward(X, "x"), TypeError, "x must"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_naming_the_argument(case):
    call, error, match = BAD_INPUTS[case]
    with pytest.raises(error, match=match):
        call()
