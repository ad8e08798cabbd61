"""Result arrays: large ones start on a 64-byte cache line (the kernels' 64-byte vector loads
and stores then never straddle two lines), on the first call and on the cached-plan fast path,
and they are ordinary writeable C-contiguous arrays that own their memory through their base."""

import gc

import numpy as np
import pytest

import fastconv
from fastconv import _common, _core

BIG = (2, 16, 40, 40)  # 204,800 bytes of float32: over ALIGN_FROM_BYTES in and out


def big(dtype=np.float32):
    return np.random.default_rng(0).standard_normal(BIG).astype(dtype)


CALLS = {
    "conv2d": lambda x: fastconv.conv2d(x, np.ones((16, 16, 3, 3), x.dtype), padding=1),
    "conv2d_nhwc": lambda x: fastconv.conv2d(x, np.ones((40, 40, 1, 1), x.dtype), layout="NHWC"),
    "conv_transpose2d": lambda x: fastconv.conv_transpose2d(x, np.ones((16, 4, 2, 2), x.dtype), stride=2),
    "max_pool2d": lambda x: fastconv.max_pool2d(x, 1),
    "max_pool2d_indices": lambda x: fastconv.max_pool2d(x, 1, return_indices=True)[1],
    "avg_pool2d": lambda x: fastconv.avg_pool2d(x, 1),
    "adaptive_max_pool2d": lambda x: fastconv.adaptive_max_pool2d(x, 40, return_indices=True)[0],
    "relu": lambda x: fastconv.relu(x),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", CALLS)
def test_large_results_start_on_a_cache_line(name, dtype):
    for _ in range(3):  # the first call validates and caches a plan, the next ones use it
        result = CALLS[name](big(dtype))
        assert result.nbytes >= _common.ALIGN_FROM_BYTES
        assert result.ctypes.data % 64 == 0
        assert result.flags.c_contiguous and result.flags.writeable


def test_aligned_results_have_the_reference_values():
    x = big()
    w = np.random.default_rng(1).standard_normal((16, 16, 3, 3)).astype(np.float32)
    from fastconv import reference
    np.testing.assert_allclose(fastconv.conv2d(x, w, padding=1), reference.conv2d(x, w, padding=1), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_array_equal(fastconv.max_pool2d(x, 2), reference.max_pool2d(x, 2))


def test_small_results_stay_plain_numpy_arrays():
    result = fastconv.max_pool2d(np.ones((1, 1, 8, 8), np.float32), 2)
    assert result.nbytes < _common.ALIGN_FROM_BYTES
    assert result.flags.owndata


def test_a_view_keeps_the_aligned_buffer_alive():
    result = fastconv.relu(big())
    expected = result.copy()
    view = result[1, 3]
    del result
    gc.collect()
    _core.empty_aligned(BIG, np.dtype(np.float32)).fill(-1.0)  # would reuse freed memory
    np.testing.assert_array_equal(view, expected[1, 3])


def test_empty_aligned_shapes_and_errors():
    f32 = np.dtype(np.float32)
    assert _core.empty_aligned((0, 3), f32).shape == (0, 3)
    assert _core.empty_aligned((), np.dtype(np.float64)).shape == ()
    with pytest.raises(ValueError, match="negative"):
        _core.empty_aligned((2, -1), f32)
    with pytest.raises(MemoryError):
        _core.empty_aligned((1 << 62, 1 << 62), f32)
    with pytest.raises(MemoryError):
        _core.empty_aligned((1 << 61,), f32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", CALLS)
def test_a_float_dtype_carrying_metadata_is_that_float_dtype(name, dtype):
    """np.dtype(float32, metadata=...) equals float32 but is another object: found by the fuzz
    harness refused as "must be float32 or float64". Same values as the plain dtype."""
    x = big(dtype)
    with_metadata = x.view(np.dtype(dtype, metadata={"unit": "volt"}))
    np.testing.assert_array_equal(CALLS[name](with_metadata), CALLS[name](x))


def test_out_with_a_dtype_carrying_metadata_is_written():
    x = big()
    w = np.ones((16, 16, 3, 3), np.float32)
    out = np.empty((2, 16, 40, 40), np.dtype(np.float32, metadata={"unit": "volt"}))
    assert fastconv.conv2d(x, w, padding=1, out=out) is out
    np.testing.assert_array_equal(out, fastconv.conv2d(x, w, padding=1))
