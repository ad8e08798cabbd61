"""fastconv against torch.nn.functional on random configurations, float32 and float64.

Non-zero padding modes go through F.pad (as torch.nn.Conv2d's padding_mode does); padding="same"
is passed to torch directly (torch allows it only for stride 1). The tolerance is conftest's
rounding bound with the magnitude from the NumPy reference on |x|, |w|, |bias|.
"""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close, random
from fastconv import reference as ref

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_PAD_MODES = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def t(a):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


def conv_config(rng, n):
    """A random valid conv1d (n=1) / conv2d (n=2) configuration torch accepts."""
    groups = int(rng.integers(1, 4))
    cg, kg = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    kernel = tuple(int(k) for k in rng.integers(1, 5, n))
    dilation = tuple(int(d) for d in rng.integers(1, 3, n))
    mode = str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"]))
    if rng.random() < 0.25:  # torch's padding="same" needs stride 1
        stride, padding = (1,) * n, "same"
        pairs = None
    else:
        stride = tuple(int(s) for s in rng.integers(1, 4, n))
        pairs = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (n, 2)))
        if mode == "zeros" and rng.random() < 0.5:  # symmetric: torch's own padding argument
            pairs = tuple((a, a) for a, _ in pairs)
    sizes = []
    for i in range(n):
        eff = dilation[i] * (kernel[i] - 1) + 1
        low = eff if pairs is None else max(eff - sum(pairs[i]), 1)
        if mode == "reflect":  # torch: reflect padding must be smaller than the input
            low = max(low, 1 + max(pairs[i]) if pairs else eff)
        if mode == "circular" and pairs:  # at most the input size
            low = max(low, max(pairs[i]))
        sizes.append(int(rng.integers(low, low + 6)))
    x_shape = (int(rng.integers(1, 3)), groups * cg) + tuple(sizes)
    w_shape = (groups * kg, cg) + kernel
    return x_shape, w_shape, dict(stride=stride, padding=padding if pairs is None else pairs, dilation=dilation,
                                  groups=groups, padding_mode=mode), bool(rng.random() < 0.5)


def torch_conv(x, w, b, stride, padding, dilation, groups, padding_mode):
    """torch.nn.functional's result for fastconv's arguments (per-side pairs via F.pad)."""
    n = w.ndim - 2
    conv = F.conv1d if n == 1 else F.conv2d
    xt = t(x)
    if padding == "same":
        if padding_mode != "zeros":  # what torch.nn.ConvNd does for "same" with a padding mode
            total = [d * (k - 1) for d, k in zip(dilation, w.shape[2:])]
            pad = []
            for tot in reversed(total):
                pad += [tot // 2, tot - tot // 2]
            xt = F.pad(xt, pad, mode=TORCH_PAD_MODES[padding_mode])
            padding = 0
        return conv(xt, t(w), t(b), stride, padding, dilation, groups).numpy()
    if padding_mode == "zeros" and all(a == b_ for a, b_ in padding):
        return conv(xt, t(w), t(b), stride, tuple(a for a, _ in padding), dilation, groups).numpy()
    flat = [p for pair in reversed(padding) for p in pair]  # F.pad: last dim first
    xt = F.pad(xt, flat, mode="constant" if padding_mode == "zeros" else TORCH_PAD_MODES[padding_mode])
    return conv(xt, t(w), t(b), stride, 0, dilation, groups).numpy()


def magnitude_of(slow, x, w, b, **kw):
    return slow(np.abs(x), np.abs(w), None if b is None else np.abs(b), **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n", [1, 2], ids=["conv1d", "conv2d"])
@pytest.mark.parametrize("seed", range(40))
def test_conv_matches_torch(seed, n, dtype):
    rng = np.random.default_rng(1000 * n + seed)
    x_shape, w_shape, kw, bias = conv_config(rng, n)
    x, w = random(x_shape, dtype, seed), random(w_shape, dtype, seed + 1)
    b = random((w_shape[0],), dtype, seed + 2) if bias else None
    fast, slow = (fastconv.conv1d, ref.conv1d) if n == 1 else (fastconv.conv2d, ref.conv2d)
    algorithm = ("auto", "direct", "im2col")[seed % 3]
    got = fast(x, w, b, algorithm=algorithm, **kw)
    terms = int(np.prod(w_shape[1:]))
    assert_close(got, torch_conv(x, w, b, **kw), magnitude_of(slow, x, w, b, **kw), terms)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("seed", range(40))
def test_conv2d_relu_matches_torch(seed, dtype):
    rng = np.random.default_rng(5000 + seed)
    x_shape, w_shape, kw, _ = conv_config(rng, 2)
    x, w, b = random(x_shape, dtype, seed), random(w_shape, dtype, seed + 1), random((w_shape[0],), dtype, seed + 2)
    got = fastconv.conv2d(x, w, b, activation="relu", **kw)
    expected = torch.relu(torch.from_numpy(torch_conv(x, w, b, **kw))).numpy()
    assert_close(got, expected, magnitude_of(ref.conv2d, x, w, b, **kw), int(np.prod(w_shape[1:])))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("seed", range(40))
def test_conv_transpose2d_matches_torch(seed, dtype):
    rng = np.random.default_rng(9000 + seed)
    groups = int(rng.integers(1, 4))
    cg, kg = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
    out_pad = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    sizes = tuple(int(s) for s in rng.integers(1, 7, 2))
    pad = tuple(int(rng.integers(0, ((n - 1) * s + d * (k - 1) + op) // 2 + 1))
                for n, s, d, k, op in zip(sizes, stride, dilation, kernel, out_pad))
    x = random((int(rng.integers(1, 3)), groups * cg) + sizes, dtype, seed)
    w = random((groups * cg, kg) + kernel, dtype, seed + 1)
    b = random((groups * kg,), dtype, seed + 2) if rng.random() < 0.5 else None
    kw = dict(stride=stride, padding=pad, output_padding=out_pad, groups=groups, dilation=dilation)
    got = fastconv.conv_transpose2d(x, w, b, **kw)
    expected = F.conv_transpose2d(t(x), t(w), t(b), **kw).numpy()
    assert_close(got, expected, magnitude_of(ref.conv_transpose2d, x, w, b, **kw), cg * kernel[0] * kernel[1])


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kernel, dilation", [((3, 3), 1), ((2, 4), 1), ((4, 1), 2), ((1, 2), (2, 3))])
def test_same_padding_matches_torch(kernel, dilation, dtype):
    """Even kernels: torch puts the odd pixel of "same" padding at the bottom / right, as fastconv."""
    x, w, b = random((2, 3, 7, 8), dtype, 0), random((4, 3) + kernel, dtype, 1), random((4,), dtype, 2)
    got = fastconv.conv2d(x, w, b, padding="same", dilation=dilation)
    expected = F.conv2d(t(x), t(w), t(b), padding="same", dilation=dilation).numpy()
    magnitude = ref.conv2d(np.abs(x), np.abs(w), np.abs(b), padding="same", dilation=dilation)
    assert_close(got, expected, magnitude, 3 * kernel[0] * kernel[1])
    x1, w1 = x[:, :, 0], w[:, :, 0]
    d1 = dilation if isinstance(dilation, int) else dilation[1]
    assert_close(fastconv.conv1d(x1, w1, b, padding="same", dilation=d1),
                 F.conv1d(t(x1), t(w1), t(b), padding="same", dilation=d1).numpy(),
                 ref.conv1d(np.abs(x1), np.abs(w1), np.abs(b), padding="same", dilation=d1), 3 * kernel[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular", "zeros"])
def test_torch_module_padding_mode(padding_mode, dtype):
    """torch.nn.Conv2d(padding_mode=...) itself, not just F.pad + F.conv2d."""
    layer = torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=2,
                            padding_mode=padding_mode, dtype=torch.float32 if dtype == np.float32 else torch.float64)
    x = random((2, 4, 9, 7), dtype, 0)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    with torch.no_grad():
        expected = layer(t(x)).numpy()
    kw = dict(stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=2, padding_mode=padding_mode)
    assert_close(fastconv.conv2d(x, w, b, **kw), expected, magnitude_of(ref.conv2d, x, w, b, **kw), 2 * 3 * 2)
