"""Every public function of fastconv, called once with annotated results.

A small forward and backward pass through conv / pool / blur layers, type-checked against the
package's stubs (``src/fastconv/__init__.pyi``, ``py.typed``):

    python -m mypy --strict examples/typed_usage.py     # no issues
    python examples/typed_usage.py                       # runs, prints the shapes

float32 arrays in give float32 arrays out (the annotations below say so, and mypy checks
them); ``return_indices=True`` gives a (result, int64 indices) tuple; the convolution
backwards give a dict of the gradients named in ``needs``. ``fastconv.torch`` needs PyTorch
and is not used here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

import fastconv
from fastconv import invariance, reference

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Index = npt.NDArray[np.int64]


def convolutions(rng: np.random.Generator) -> F32:
    """conv2d / conv1d / conv_transpose2d / correlate2d / convolve2d and their gradients."""
    x: F32 = rng.standard_normal((2, 3, 16, 16), dtype=np.float32)
    w: F32 = rng.standard_normal((8, 3, 3, 3), dtype=np.float32)
    b: F32 = np.zeros(8, np.float32)

    y: F32 = fastconv.conv2d(x, w, b, stride=1, padding="same", activation="relu", algorithm="auto")
    y_nhwc: F32 = fastconv.conv2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), w, padding=1, layout="NHWC")
    y_wino: F32 = fastconv.conv2d(x, w, padding=1, padding_mode="circular", algorithm="winograd")
    grads: dict[str, F32] = fastconv.conv2d_backward(np.ones_like(y), x, w, padding="same")
    dx: F32 = grads["input"]

    w_t: F32 = rng.standard_normal((8, 4, 2, 2), dtype=np.float32)
    up: F32 = fastconv.conv_transpose2d(y, w_t, stride=2)
    up_grads: dict[str, F32] = fastconv.conv_transpose2d_backward(np.ones_like(up), y, w_t, stride=2,
                                                                 needs=("input", "weight"))

    audio: F64 = rng.standard_normal((1, 2, 100))
    w1: F64 = rng.standard_normal((4, 2, 5))
    heard: F64 = fastconv.conv1d(audio, w1, stride=2, padding=(2, 2))
    heard_grads: dict[str, F64] = fastconv.conv1d_backward(np.ones_like(heard), audio, w1, stride=2, padding=(2, 2),
                                                           needs="weight")

    image: F64 = rng.standard_normal((32, 32))
    kernel: F64 = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    edges: F64 = fastconv.correlate2d(image, kernel, mode="same", boundary="symm")
    smoothed: F64 = fastconv.convolve2d(image, kernel / 16, mode="valid", boundary="fill", fillvalue=0.0)

    expected: F32 = reference.conv2d(x, w, b, padding="same", activation="relu")
    assert np.allclose(y, expected, atol=1e-4)
    print("conv2d", y.shape, y_nhwc.shape, y_wino.shape, "dx", dx.shape, "conv_transpose2d", up.shape,
          sorted(up_grads), "conv1d", heard.shape, heard_grads["weight"].shape, "correlate2d", edges.shape,
          "convolve2d", smoothed.shape)
    return y


def pools(y: F32) -> None:
    """Every pool, forward and backward, on the conv output."""
    shape = y.shape
    pooled, idx = fastconv.max_pool2d(y, 3, stride=2, padding=1, return_indices=True)
    pooled_typed: F32 = pooled
    idx_typed: Index = idx
    plain: F32 = fastconv.max_pool2d(y, 2)
    d_max: F32 = fastconv.max_pool2d_backward(np.ones_like(pooled), idx, shape)

    avg: F32 = fastconv.avg_pool2d(y, 2, count_include_pad=False)
    d_avg: F32 = fastconv.avg_pool2d_backward(np.ones_like(avg), shape, 2, count_include_pad=False)
    total: F32 = fastconv.sum_pool2d(y, (2, 3), ceil_mode=True)
    d_total: F32 = fastconv.sum_pool2d_backward(np.ones_like(total), shape, (2, 3), ceil_mode=True)
    lp: F32 = fastconv.lp_pool2d(y + 1, 2.0, 2)
    d_lp: F32 = fastconv.lp_pool2d_backward(np.ones_like(lp), y + 1, 2.0, 2)

    adaptive: F32 = fastconv.adaptive_avg_pool2d(y, (7, None))
    d_adaptive: F32 = fastconv.adaptive_avg_pool2d_backward(np.ones_like(adaptive), shape)
    amax, amax_idx = fastconv.adaptive_max_pool2d(y, 4, return_indices=True)
    d_amax: F32 = fastconv.adaptive_max_pool2d_backward(np.ones_like(amax), amax_idx, shape)
    gavg: F32 = fastconv.global_avg_pool2d(y)
    d_gavg: F32 = fastconv.global_avg_pool2d_backward(np.ones_like(gavg), shape)
    gmax: F32 = fastconv.global_max_pool2d(y)
    _, gmax_idx = fastconv.adaptive_max_pool2d(y, 1, return_indices=True)
    d_gmax: F32 = fastconv.global_max_pool2d_backward(np.ones_like(gmax), gmax_idx, shape)

    seq: F64 = np.linspace(-1.0, 1.0, 2 * 3 * 20).reshape(2, 3, 20)
    p1, p1_idx = fastconv.max_pool1d(seq, 4, return_indices=True)
    d_p1: F64 = fastconv.max_pool1d_backward(np.ones_like(p1), p1_idx, seq.shape)
    a1: F64 = fastconv.avg_pool1d(seq, 3, stride=1, padding=1)
    d_a1: F64 = fastconv.avg_pool1d_backward(np.ones_like(a1), seq.shape, 3, stride=1, padding=1)
    s1: F64 = fastconv.sum_pool1d(seq, 2)
    d_s1: F64 = fastconv.sum_pool1d_backward(np.ones_like(s1), seq.shape, 2)

    r: F32 = fastconv.relu(y - 0.5)
    fastconv.relu(r, out=r)  # in place
    d_r: F32 = fastconv.relu_backward(np.ones_like(y), y - 0.5)

    reference_pooled, reference_idx = reference.max_pool2d(y, 3, stride=2, padding=1, return_indices=True)
    assert np.array_equal(pooled, reference_pooled) and np.array_equal(idx, reference_idx)
    grads = (d_max, d_avg, d_total, d_lp, d_adaptive, d_amax, d_gavg, d_gmax, d_r)
    assert all(g.shape == shape and g.dtype == np.float32 for g in grads)
    assert d_p1.shape == d_a1.shape == d_s1.shape == seq.shape
    print("max_pool2d", pooled_typed.shape, idx_typed.dtype, plain.shape, "avg", avg.shape, "sum", total.shape,
          "lp", lp.shape, "adaptive", adaptive.shape, amax.shape, "global", gavg.shape, gmax.shape,
          "1-D", p1.shape, a1.shape, s1.shape)


def anti_aliased(y: F32) -> None:
    """Blur pools and max-blur pools (2-D and 1-D), their gradients, and shift equivariance."""
    blurred: F32 = fastconv.blur_pool2d(y, filter_size=4, stride=2, padding_mode="reflect")
    d_blurred: F32 = fastconv.blur_pool2d_backward(np.ones_like(blurred), y.shape, 4, 2)
    mb: F32 = fastconv.max_blur_pool2d(y, 2, 2, filter_size=4)
    d_mb: F32 = fastconv.max_blur_pool2d_backward(np.ones_like(mb), y, 2, 2, filter_size=4)

    sig: F64 = np.sin(np.linspace(0.0, 6.0, 2 * 24)).reshape(2, 24)
    b1: F64 = fastconv.blur_pool1d(sig, filter_size=3)
    d_b1: F64 = fastconv.blur_pool1d_backward(np.ones_like(b1), sig.shape, filter_size=3)
    mb1: F64 = fastconv.max_blur_pool1d(sig, 2, 2, filter_size=3, padding=1)
    d_mb1: F64 = fastconv.max_blur_pool1d_backward(np.ones_like(mb1), sig, 2, 2, filter_size=3, padding=1)

    taps: F64 = reference.binomial_filter(4)
    before, after = reference.blur_padding(4)

    def layer(v: npt.NDArray[Any]) -> F64:
        return fastconv.max_blur_pool2d(np.asarray(v, np.float64), 2, 2)

    err: F64 = invariance.shift_equivariance_error(layer, y.astype(np.float64), [(1, 0), (0, 1)], stride=2)
    moved: F32 = invariance.shift(y, (1, 1))

    def brightest(batch: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
        return np.asarray(batch.sum(axis=(2, 3)).argmax(axis=1))

    consistency: float = invariance.shift_consistency(brightest, y, max_shift=2, trials=50)
    assert d_blurred.shape == d_mb.shape == y.shape and d_b1.shape == d_mb1.shape == sig.shape
    print("blur_pool2d", blurred.shape, "max_blur_pool2d", mb.shape, "1-D", b1.shape, mb1.shape,
          "filter", taps.tolist(), (before, after), "equivariance error", round(float(err.mean()), 3),
          "shift", moved.shape, "consistency", consistency)


def configuration() -> None:
    """Backend and thread controls."""
    name: str = fastconv.backend()
    threads: int = fastconv.get_num_threads()
    fastconv.set_backend("portable")
    fastconv.set_num_threads(1)
    small: F32 = fastconv.conv2d(np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32))
    fastconv.set_backend(name)
    fastconv.set_num_threads(threads)
    fastconv.show_config()
    print("portable conv2d", small.shape, "backend", name, "threads", threads)


def main() -> None:
    rng = np.random.default_rng(0)
    y = convolutions(rng)
    pools(y)
    anti_aliased(y)
    configuration()


if __name__ == "__main__":
    main()
