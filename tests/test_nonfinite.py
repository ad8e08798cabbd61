"""NaN and +-inf propagate as in torch.nn.functional: the same outputs are NaN, the same are
+inf and -inf, and the finite outputs agree within the rounding bound.

Extends test_conv2d (non-finite conv2d against the NumPy reference) and the torch parity
files (finite data for summing pools; max pools with NaN or ties, never both in a window):
here every conv algorithm and layout, conv1d, conv_transpose2d and correlate2d meet NaN and
inf against torch, as do the summing, adaptive and global pools, and max pools meet windows
holding NaN, infinities and tied maxima together.

torch's convolutions run with oneDNN off. With it on (torch's default for float32 batches of
more than one image), torch skips the taps that fall in the zero padding, so an infinite
weight there gives +-inf where torch's own native kernels, its float64 path and fastconv
give NaN (inf * 0): torch disagrees with itself, and fastconv follows its native kernels.
"""

import contextlib

import numpy as np
import pytest
from conftest import DTYPES, assert_close, special
from test_conv_torch_parity import torch_conv
from test_pool_torch_parity import assert_max_equal, batch, seeds, t, window_config

import fastconv

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(autouse=True, scope="module")
def torch_native_kernels_on_one_thread():
    """oneDNN off (see above); one thread, as torch's OpenMP pool spinning beside fastconv's
    makes these small calls many times slower."""
    before = torch.backends.mkldnn.enabled, torch.get_num_threads()
    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(1)
    yield
    torch.backends.mkldnn.enabled = before[0]
    torch.set_num_threads(before[1])


def assert_nonfinite_like(got, want, magnitude, terms):
    """Equal NaN positions, equal infinities, finite values within conftest's rounding bound.
    Returns whether any output is NaN or inf (if none, the case tested nothing of this file's)."""
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN positions differ"
    inf = np.isinf(want)
    assert np.array_equal(np.isinf(got), inf), "inf positions differ"
    assert np.array_equal(got[inf], want[inf]), "signs of inf differ"
    finite = np.isfinite(want)
    assert_close(got[finite], want[finite], np.broadcast_to(magnitude, want.shape)[finite], terms)
    return not finite.all()


# --------------------------------------------------------------------------- convolutions


@contextlib.contextmanager
def labelled(label):
    """Assertion errors inside the block name ``label`` (the case of a loop)."""
    try:
        yield
    except AssertionError as e:
        raise AssertionError(f"{label}: {e}") from None


def integers(shape, dtype, rng):
    """Small integers: every finite convolution output is exact in any summation order."""
    return rng.integers(-3, 4, shape).astype(dtype)


# Non-finite values of each case: (array, value, position as a fraction of each axis's last index).
PLACEMENTS = {
    "x-nan": [("x", np.nan, (0, 0.4, 0.4, 0.6))],
    "x-inf": [("x", np.inf, (1, 1, 0, 0))],
    "x-inf-beside-minus-inf": [("x", np.inf, (0, 0, 0.4, 0.4)), ("x", -np.inf, (0, 0, 0.4, 0.6))],
    "weight-inf": [("w", np.inf, (0.2, 0, 0.5, 0.5))],
    # A corner tap reaches the zero padding on two sides: inf * 0 = NaN there.
    "weight-corner-minus-inf": [("w", -np.inf, (0.4, 0, 0, 0))],
    "weight-nan": [("w", np.nan, (0.6, 1, 1, 0.5))],
    "bias-inf": [("b", np.inf, (0,)), ("b", -np.inf, (1,))],
    "bias-nan": [("b", np.nan, (0.5,))],
}


def conv_operands(xshape, wshape, dtype, placement, bias_length=None):
    """Integer x, weight and bias (4-D x and weight) with the placement's non-finite values."""
    rng = np.random.default_rng(len(placement))
    arrays = {"x": integers(xshape, dtype, rng), "w": integers(wshape, dtype, rng),
              "b": integers((bias_length or wshape[0],), dtype, rng)}
    for name, value, where in PLACEMENTS[placement]:
        a = arrays[name]
        a[tuple(int(f * (n - 1)) for f, n in zip(where, a.shape))] = value
    return arrays["x"], arrays["w"], arrays["b"]


PAD1 = ((1, 1), (1, 1))
# (weight shape, keyword arguments); x is (2, 4, 6, 7)
CONV_GEOMETRIES = {
    "padding-1": ((6, 4, 3, 3), dict(padding=PAD1)),
    "asymmetric-stride-2-relu": ((6, 4, 3, 3), dict(padding=((2, 0), (0, 1)), stride=2, activation="relu")),
    "reflect-groups-2": ((6, 2, 3, 3), dict(padding=PAD1, padding_mode="reflect", groups=2)),
    "depthwise": ((4, 1, 3, 3), dict(padding=PAD1, groups=4)),
}


def conv_valid(geometry, algorithm, layout):
    _, kw = CONV_GEOMETRIES[geometry]
    if algorithm == "winograd":
        return kw.get("groups", 1) == 1 and "stride" not in kw
    if algorithm == "direct" and layout == "NHWC":
        return geometry == "depthwise"
    return True


CONV_CASES = [pytest.param(g, a, lay, id=f"{g}-{a}-{lay}") for g in CONV_GEOMETRIES
              for a in ("auto", "direct", "im2col", "im2col_nhwc", "winograd", "batched")
              for lay in ("NCHW", "NHWC") if conv_valid(g, a, lay)]


def torch_conv2d(x, w, b, stride=1, padding=0, groups=1, padding_mode="zeros", activation=None):
    y = torch_conv(x, w, b, stride, padding, 1, groups, padding_mode)
    return torch.relu(t(y)).numpy() if activation == "relu" else y


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("geometry, algorithm, layout", CONV_CASES)
def test_conv2d_nan_and_inf_as_torch(geometry, algorithm, layout, dtype):
    wshape, kw = CONV_GEOMETRIES[geometry]
    for placement in PLACEMENTS:
        x, w, b = conv_operands((2, 4, 6, 7), wshape, dtype, placement)
        xl = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if layout == "NHWC" else x
        got = fastconv.conv2d(xl, w, b, algorithm=algorithm, layout=layout, **kw)
        got = np.moveaxis(got, -1, 1) if layout == "NHWC" else got
        magnitude = torch_conv2d(np.abs(x), np.abs(w), np.abs(b), **dict(kw, activation=None))
        if algorithm == "winograd":  # it rounds the images it keeps with a bound spanning a tile
            magnitude = np.max(magnitude, where=np.isfinite(magnitude), initial=0)
        with labelled(placement):
            assert assert_nonfinite_like(got, torch_conv2d(x, w, b, **kw), magnitude, int(np.prod(wshape[1:])) + 64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col", "im2col_nhwc", "batched"])
def test_conv1d_nan_and_inf_as_torch(algorithm, dtype):
    for placement in PLACEMENTS:
        x, w, b = conv_operands((2, 4, 1, 9), (6, 4, 1, 3), dtype, placement)
        x, w = x[:, :, 0], w[:, :, 0]
        got = fastconv.conv1d(x, w, b, padding=1, algorithm=algorithm)
        want = F.conv1d(t(x), t(w), t(b), padding=1).numpy()
        magnitude = F.conv1d(t(np.abs(x)), t(np.abs(w)), t(np.abs(b)), padding=1).numpy()
        with labelled(placement):
            assert assert_nonfinite_like(got, want, magnitude, terms=12)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_conv_transpose2d_nan_and_inf_as_torch(dtype):
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    for placement in PLACEMENTS:
        # weight (C, K/groups, kh, kw): K = 6
        x, w, b = conv_operands((2, 4, 5, 6), (4, 3, 3, 3), dtype, placement, bias_length=6)
        x[0, 0, 3, 3] = 0.0  # an infinite weight times this input pixel is NaN
        got = fastconv.conv_transpose2d(x, w, b, **kw)
        want = F.conv_transpose2d(t(x), t(w), t(b), **kw).numpy()
        magnitude = F.conv_transpose2d(t(np.abs(x)), t(np.abs(w)), t(np.abs(b)), **kw).numpy()
        with labelled(placement):
            assert assert_nonfinite_like(got, want, magnitude, terms=2 * 9)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("fn, mode", [("correlate2d", "full"), ("correlate2d", "same"), ("convolve2d", "full"),
                                      ("convolve2d", "valid")])
def test_correlate2d_nan_and_inf_as_torch(fn, mode, dtype):
    """SciPy-style correlation with zero fill is torch's conv2d of one image and one filter."""
    for placement in ("x-nan", "x-inf-beside-minus-inf", "weight-corner-minus-inf", "weight-nan"):
        x, w, _ = conv_operands((1, 1, 8, 9), (1, 1, 3, 3), dtype, placement)
        got = getattr(fastconv, fn)(x[0, 0], w[0, 0], mode=mode)
        kernel = w[:, :, ::-1, ::-1] if fn == "convolve2d" else w
        pad = {"full": 2, "same": 1, "valid": 0}[mode]
        want = F.conv2d(t(x), t(kernel), padding=pad).numpy()[0, 0]
        magnitude = F.conv2d(t(np.abs(x)), t(np.abs(kernel)), padding=pad).numpy()[0, 0]
        with labelled(placement):
            assert assert_nonfinite_like(got, want, magnitude, terms=9)


# --------------------------------------------------------------------------- summing pools

CONFIGS = 30  # random pool configurations per test


def configs(name, dtype):
    return seeds(name, dtype)[:CONFIGS]


def nonfinite_input(rng, shape, dtype):
    return special(shape, dtype, seed=int(rng.integers(1 << 30)), frac=0.1)


def nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def nchw(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def assert_most_configs_were_non_finite(hits):
    assert hits >= CONFIGS // 2, f"only {hits} of {CONFIGS} configurations had a NaN or inf output"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC", "1d"])
def test_avg_pool_nan_and_inf_as_torch(layout, dtype):
    nd, hits = 1 if layout == "1d" else 2, 0
    for rng in configs(f"nonfinite-avg-{layout}", dtype):
        sizes, kw = window_config(rng, nd)
        kw["count_include_pad"] = bool(rng.integers(2))
        if nd == 2 and rng.integers(2):
            kw["divisor_override"] = int(rng.integers(1, 10))
        x = nonfinite_input(rng, batch(rng) + tuple(sizes), dtype)
        tf = F.avg_pool1d if nd == 1 else F.avg_pool2d
        if layout == "NHWC":
            got = nchw(fastconv.avg_pool2d(nhwc(x), **kw, layout="NHWC"))
        else:
            got = (fastconv.avg_pool1d if nd == 1 else fastconv.avg_pool2d)(x, **kw)
        hits += assert_nonfinite_like(got, tf(t(x), **kw).numpy(), tf(t(np.abs(x)), **kw).numpy(),
                                      terms=np.prod(kw["kernel_size"]))
    assert_most_configs_were_non_finite(hits)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC", "1d"])
def test_sum_pool_nan_and_inf_as_torch_avg_pool_with_divisor_1(layout, dtype):
    nd, hits = 1 if layout == "1d" else 2, 0
    for rng in configs(f"nonfinite-sum-{layout}", dtype):
        sizes, kw = window_config(rng, nd)
        x = nonfinite_input(rng, batch(rng) + tuple(sizes), dtype)
        if layout == "NHWC":
            got = nchw(fastconv.sum_pool2d(nhwc(x), **kw, layout="NHWC"))
        else:
            got = (fastconv.sum_pool1d if nd == 1 else fastconv.sum_pool2d)(x, **kw)
        if nd == 1:  # torch's avg_pool1d has no divisor_override: as 2-D with H = 1
            x, got = x[:, :, None], got[:, :, None]
            kw = dict(kernel_size=(1, kw["kernel_size"]), stride=(1, kw["stride"]), padding=(0, kw["padding"]),
                      ceil_mode=kw["ceil_mode"])

        def torch_sum(a):
            return F.avg_pool2d(t(a), divisor_override=1, **kw).numpy()

        hits += assert_nonfinite_like(got, torch_sum(x), torch_sum(np.abs(x)), terms=np.prod(kw["kernel_size"]))
    assert_most_configs_were_non_finite(hits)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("norm_type", [1, 2, 3.5])
def test_lp_pool2d_nan_and_inf_as_torch(norm_type, layout, dtype):
    """Also -inf: (-inf)**1 stays -inf, (-inf)**2 is inf, (-inf)**3.5 is NaN (as any negative)."""
    hits = 0
    for rng in configs(f"nonfinite-lp-{norm_type}-{layout}", dtype):
        sizes, kw = window_config(rng, 2, padding=False)
        x = nonfinite_input(rng, batch(rng) + tuple(sizes), dtype)
        if layout == "NHWC":
            got = nchw(fastconv.lp_pool2d(nhwc(x), norm_type, **kw, layout="NHWC"))
        else:
            got = fastconv.lp_pool2d(x, norm_type, **kw)
        hits += assert_nonfinite_like(got, F.lp_pool2d(t(x), norm_type, **kw).numpy(),
                                      F.lp_pool2d(t(np.abs(x)), norm_type, **kw).numpy(),
                                      terms=np.prod(kw["kernel_size"]) + 2)
    assert_most_configs_were_non_finite(hits)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_adaptive_and_global_avg_pool2d_nan_and_inf_as_torch(layout, dtype):
    def fast(fn, x, *args):
        return nchw(fn(nhwc(x), *args, layout="NHWC")) if layout == "NHWC" else fn(x, *args)

    hits = 0
    for rng in configs(f"nonfinite-adaptive-{layout}", dtype):
        hw = tuple(int(v) for v in rng.integers(1, 13, 2))
        size = tuple(int(v) for v in rng.integers(1, 8, 2))
        x = nonfinite_input(rng, batch(rng) + hw, dtype)
        terms = (hw[0] // size[0] + 2) * (hw[1] // size[1] + 2)
        hits += assert_nonfinite_like(fast(fastconv.adaptive_avg_pool2d, x, size),
                                      F.adaptive_avg_pool2d(t(x), size).numpy(),
                                      F.adaptive_avg_pool2d(t(np.abs(x)), size).numpy(), terms)
        hits += assert_nonfinite_like(fast(fastconv.global_avg_pool2d, x), F.adaptive_avg_pool2d(t(x), 1).numpy(),
                                      F.adaptive_avg_pool2d(t(np.abs(x)), 1).numpy(), hw[0] * hw[1])
    assert_most_configs_were_non_finite(hits // 2)


# --------------------------------------------------------------------------- max pools


def nan_inf_and_ties(rng, shape, dtype):
    """Values from a small set: most windows hold a NaN or an infinity and a tied maximum."""
    alphabet = np.array([np.nan, np.inf, -np.inf, 1.0, 1.0, 0.0, -0.0, -1.0])
    return rng.choice(alphabet, shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC", "1d"])
def test_max_pool_with_nan_inf_and_ties_in_one_window_as_torch(layout, dtype):
    nd = 1 if layout == "1d" else 2
    for rng in configs(f"nonfinite-max-{layout}", dtype):
        sizes, kw = window_config(rng, nd, dilation=True)
        x = nan_inf_and_ties(rng, batch(rng) + tuple(sizes), dtype)
        tf = F.max_pool1d if nd == 1 else F.max_pool2d
        if layout == "NHWC":
            got, idx = (nchw(a) for a in fastconv.max_pool2d(nhwc(x), **kw, return_indices=True, layout="NHWC"))
        else:
            got, idx = (fastconv.max_pool1d if nd == 1 else fastconv.max_pool2d)(x, **kw, return_indices=True)
        want, want_idx = tf(t(x), **kw, return_indices=True)
        assert_max_equal(got, want, idx, want_idx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_adaptive_max_pool2d_with_nan_inf_and_ties_as_torch(layout, dtype):
    for rng in configs(f"nonfinite-adaptive-max-{layout}", dtype):
        hw = tuple(int(v) for v in rng.integers(1, 13, 2))
        size = tuple(int(v) for v in rng.integers(1, 8, 2))
        x = nan_inf_and_ties(rng, batch(rng) + hw, dtype)
        if layout == "NHWC":
            got, idx = (nchw(a) for a in fastconv.adaptive_max_pool2d(nhwc(x), size, True, layout="NHWC"))
            whole = nchw(fastconv.global_max_pool2d(nhwc(x), layout="NHWC"))
        else:
            got, idx = fastconv.adaptive_max_pool2d(x, size, True)
            whole = fastconv.global_max_pool2d(x)
        want, want_idx = F.adaptive_max_pool2d(t(x), size, return_indices=True)
        assert_max_equal(got, want, idx, want_idx)
        assert_max_equal(whole, F.adaptive_max_pool2d(t(x), 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_max_pool2d_index_of_nan_and_of_ties_as_torch(layout, dtype):
    """One 2x2 window each: torch takes a NaN over anything and the last NaN of several, and
    of tied maxima the first, keeping its sign of zero."""
    windows = [[0.0, -0.0, np.nan, 0.0], [2.0, np.nan, 2.0, np.nan], [np.inf, np.nan, np.inf, -np.inf],
               [-0.0, 0.0, -0.0, 0.0], [np.nan, 5.0, 7.0, 7.0], [-np.inf, -np.inf, -np.inf, -np.inf]]
    x = np.array(windows, dtype).reshape(1, len(windows), 2, 2)
    x = np.concatenate([x, x[:, :, ::-1], x[:, :, :, ::-1]], axis=1)  # the same windows scanned in other orders
    if layout == "NHWC":
        got, idx = (nchw(a) for a in fastconv.max_pool2d(nhwc(x), 2, return_indices=True, layout="NHWC"))
    else:
        got, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    want, want_idx = F.max_pool2d(t(x), 2, return_indices=True)
    assert_max_equal(got, want, idx, want_idx)


# --------------------------------------------------------------------------- relu


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_keeps_each_nan_bit_for_bit_as_torch(dtype):
    """NaNs of either sign and any payload come out with the same bits as from torch.relu."""
    bits = np.uint32 if dtype == np.float32 else np.uint64
    nbits = 32 if dtype == np.float32 else 64
    quiet = np.finfo(dtype).nmant - 1  # bit of the quiet flag
    exponent = ((1 << (nbits - 1)) - 1) ^ ((1 << (quiet + 1)) - 1)
    payloads = np.array([0, 1, 5, (1 << quiet) - 1], dtype=np.uint64)
    nans = np.concatenate([exponent | (1 << quiet) | payloads, (1 << (nbits - 1)) | exponent | (1 << quiet) | payloads])
    x = np.tile(nans.astype(bits).view(dtype), 40)  # long enough for the vector loop and its tail
    got, want = fastconv.relu(x), torch.relu(t(x)).numpy()
    assert np.isnan(got).all()
    assert np.array_equal(got.view(bits), want.view(bits))
