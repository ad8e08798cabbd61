"""Edges of the specialised pooling kernels (stride 2 with 2- and 3-wide windows): row widths
around every vector width and the overlapping last vector, top/bottom padding, NaN, -0.0 and
inf. Max pooling must equal the reference exactly; sum and average must equal the portable
backend bit for bit (same summation order)."""

import numpy as np
import pytest

import fastconv
from fastconv import reference as ref

WIDTHS = [2, 3, 5, 8, 9, 15, 16, 17, 31, 33, 47, 48, 49, 64, 65, 70]


def _input(width, dtype):
    rng = np.random.default_rng(width)
    x = rng.standard_normal((2, 3, 7, width)).astype(dtype)
    x[0, 0, 1, width // 2] = np.nan
    x[0, 1, 2, width - 1] = np.inf
    x[1, 2, 3, 0] = -np.inf
    x[1, 0, 4, :: 3] = -0.0
    return x


def _cases():
    """(width, kernel, padding) with the window fitting the padded row."""
    for width in WIDTHS:
        for kw in (2, 3):
            for pw in range(kw // 2 + 1):
                for kh, ph in ((1, 0), (2, 1), (3, 1), (3, 0)):
                    if kw <= width + 2 * pw:
                        yield pytest.param(width, (kh, kw), (ph, pw), id=f"W{width}-k{kh}x{kw}-p{ph},{pw}")


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("width, kernel, padding", list(_cases()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stride2_windows(width, kernel, padding, ceil_mode, dtype):
    x = _input(width, dtype)
    got = fastconv.max_pool2d(x, kernel, 2, padding, 1, ceil_mode)
    want = ref.max_pool2d(x, kernel, 2, padding, 1, ceil_mode)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    calls = [lambda: fastconv.sum_pool2d(x, kernel, 2, padding, ceil_mode)]
    calls += [lambda c=c: fastconv.avg_pool2d(x, kernel, 2, padding, ceil_mode, c) for c in (True, False)]
    backend = fastconv.backend()
    for call in calls:
        ours = call()
        fastconv.set_backend("portable")
        portable = call()
        fastconv.set_backend(backend)
        assert np.array_equal(ours, portable, equal_nan=True)
