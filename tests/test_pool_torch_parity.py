"""Random pool configurations through torch.nn.functional and fastconv, float32 and float64.

Max pools must agree exactly (values with NaN, and indices); summing pools within
``assert_close``. Configurations keep PyTorch's own limits: padding at most half the
(undilated) kernel and a non-empty input plane.
"""

import numpy as np
import pytest

import fastconv
from conftest import DTYPES, assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional

CONFIGS = 50  # random configurations per (op, dtype)


def rand_input(rng, shape, dtype, kind="uniform"):
    if kind == "positive":
        return rng.uniform(0.05, 2.0, shape).astype(dtype)
    x = rng.uniform(-1, 1, shape)
    if kind == "special":
        u = rng.uniform(size=shape)
        x[u < 0.08] = np.nan
        x[(u >= 0.08) & (u < 0.12)] = np.inf
        x[(u >= 0.12) & (u < 0.16)] = -np.inf
    elif kind == "ties":
        x = np.round(x)
    return x.astype(dtype)


def window_config(rng, nd, dilation=False, padding=True):
    """(input spatial sizes, kwargs) of a valid strided pool for PyTorch."""
    k = rng.integers(1, 5, nd)
    d = rng.integers(1, 4, nd) if dilation else np.ones(nd, int)
    p = np.array([rng.integers(0, kk // 2 + 1) for kk in k]) if padding else np.zeros(nd, int)
    s = rng.integers(1, 6, nd)
    eff = d * (k - 1) + 1
    extra = [10] * (nd - 1) + [int(rng.choice([10, 40]))]          # sometimes long rows (SIMD interiors)
    sizes = [int(rng.integers(max(1, e - 2 * pp), e - 2 * pp + m)) for e, pp, m in zip(eff, p, extra)]
    tup = (lambda a: tuple(int(v) for v in a)) if nd == 2 else (lambda a: int(a[0]))
    kw = dict(kernel_size=tup(k), stride=tup(s), ceil_mode=bool(rng.integers(2)))
    if padding:
        kw["padding"] = tup(p)
    if dilation:
        kw["dilation"] = tup(d)
    return sizes, kw


def batch(rng):
    return (int(rng.integers(1, 3)), int(rng.integers(1, 4)))


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def assert_max_equal(got, want, got_idx=None, want_idx=None):
    want = want.numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True), f"\n{got}\n!=\n{want}"
    assert np.array_equal(np.signbit(got), np.signbit(want)), "signs of zero differ"
    if got_idx is not None:
        want_idx = want_idx.numpy()
        assert got_idx.dtype == np.int64 == want_idx.dtype
        # A dilated window can lie wholly in the padding: fastconv says -1, PyTorch names some
        # position outside the window. Both give -inf as the value (checked above).
        empty = got_idx == -1
        assert np.all(got[empty] == -np.inf)
        np.testing.assert_array_equal(got_idx[~empty], want_idx[~empty])


def seeds(name, dtype):
    """CONFIGS reproducible generators, distinct per test and dtype."""
    return [np.random.default_rng([sum(map(ord, name)), i, np.dtype(dtype).itemsize]) for i in range(CONFIGS)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2])
def test_max_pool_vs_torch(nd, dtype):
    for rng in seeds(f"max{nd}", dtype):
        sizes, kw = window_config(rng, nd, dilation=True)
        x = rand_input(rng, batch(rng) + tuple(sizes), dtype, rng.choice(["uniform", "special", "ties"]))
        f, tf = (fastconv.max_pool2d, F.max_pool2d) if nd == 2 else (fastconv.max_pool1d, F.max_pool1d)
        got, idx = f(x, return_indices=True, **kw)
        want, want_idx = tf(t(x), return_indices=True, **kw)
        assert_max_equal(got, want, idx, want_idx)
        assert_max_equal(f(x, **kw), tf(t(x), **kw))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2])
def test_avg_pool_vs_torch(nd, dtype):
    for rng in seeds(f"avg{nd}", dtype):
        sizes, kw = window_config(rng, nd)
        kw["count_include_pad"] = bool(rng.integers(2))
        if nd == 2 and rng.integers(2):
            kw["divisor_override"] = int(rng.integers(1, 10))
        x = rand_input(rng, batch(rng) + tuple(sizes), dtype)
        f, tf = (fastconv.avg_pool2d, F.avg_pool2d) if nd == 2 else (fastconv.avg_pool1d, F.avg_pool1d)
        k = np.prod(kw["kernel_size"])
        assert_close(f(x, **kw), tf(t(x), **kw).numpy(), magnitude=tf(t(np.abs(x)), **kw).numpy(), terms=k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2])
def test_sum_pool_vs_torch_avg_pool_with_divisor_1(nd, dtype):
    for rng in seeds(f"sum{nd}", dtype):
        sizes, kw = window_config(rng, nd)
        x = rand_input(rng, batch(rng) + tuple(sizes), dtype)
        got = (fastconv.sum_pool2d if nd == 2 else fastconv.sum_pool1d)(x, **kw)
        if nd == 1:  # torch's avg_pool1d has no divisor_override: run it as 2-D with H = 1
            x = x[:, :, None]
            kw = dict(kernel_size=(1, kw["kernel_size"]), stride=(1, kw["stride"]), padding=(0, kw["padding"]),
                      ceil_mode=kw["ceil_mode"])
        cip = bool(rng.integers(2))  # irrelevant once divisor_override is given

        def torch_sum(a):
            return F.avg_pool2d(t(a), divisor_override=1, count_include_pad=cip, **kw).numpy()

        want, mag = torch_sum(x), torch_sum(np.abs(x))
        if nd == 1:
            want, mag = want[:, :, 0], mag[:, :, 0]
        assert_close(got, want, magnitude=mag, terms=np.prod(kw["kernel_size"]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [1, 2, 3.5])
def test_lp_pool2d_vs_torch(norm_type, dtype):
    for rng in seeds(f"lp{norm_type}", dtype):
        sizes, kw = window_config(rng, 2, padding=False)
        x = rand_input(rng, batch(rng) + tuple(sizes), dtype, "positive" if norm_type == 3.5 else "uniform")
        got = fastconv.lp_pool2d(x, norm_type, **kw)
        want = F.lp_pool2d(t(x), norm_type, **kw).numpy()
        mag = F.lp_pool2d(t(np.abs(x)), norm_type, **kw).numpy()
        assert_close(got, want, magnitude=mag, terms=np.prod(kw["kernel_size"]) + 2)


def adaptive_config(rng):
    hw = tuple(int(v) for v in rng.integers(1, 13, 2))
    size = tuple(None if rng.integers(4) == 0 else int(rng.integers(1, 15)) for _ in range(2))
    return hw, size if None in size or size[0] != size[1] else size[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_avg_pool2d_vs_torch(dtype):
    for rng in seeds("adaptive-avg", dtype):
        hw, size = adaptive_config(rng)
        x = rand_input(rng, batch(rng) + hw, dtype)
        want = F.adaptive_avg_pool2d(t(x), size).numpy()
        terms = (hw[0] // want.shape[2] + 2) * (hw[1] // want.shape[3] + 2)
        assert_close(fastconv.adaptive_avg_pool2d(x, size), want,
                     magnitude=F.adaptive_avg_pool2d(t(np.abs(x)), size).numpy(), terms=terms)
        assert_close(fastconv.global_avg_pool2d(x), F.adaptive_avg_pool2d(t(x), 1).numpy(),
                     magnitude=np.abs(x).mean(axis=(2, 3), keepdims=True), terms=hw[0] * hw[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_max_pool2d_vs_torch(dtype):
    for rng in seeds("adaptive-max", dtype):
        hw, size = adaptive_config(rng)
        x = rand_input(rng, batch(rng) + hw, dtype, rng.choice(["uniform", "special", "ties"]))
        got, idx = fastconv.adaptive_max_pool2d(x, size, return_indices=True)
        want, want_idx = F.adaptive_max_pool2d(t(x), size, return_indices=True)
        assert_max_equal(got, want, idx, want_idx)
        assert_max_equal(fastconv.global_max_pool2d(x), F.adaptive_max_pool2d(t(x), 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_vs_torch(dtype):
    rng = np.random.default_rng(0)
    x = rand_input(rng, (3, 1000), dtype, "special")
    x[0, :4] = [0.0, -0.0, 1e-45 if dtype == np.float32 else 5e-324, -1e-45 if dtype == np.float32 else -5e-324]
    want = torch.relu(t(x)).numpy()
    for got in (fastconv.relu(x), fastconv.relu(x.copy(), out=np.empty_like(x))):
        assert got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    y = x.copy()
    fastconv.relu(y, out=y)
    assert np.array_equal(y, want, equal_nan=True)
