"""Thread count API and bitwise determinism across thread counts."""

import numpy as np
import pytest
from conftest import random

import fastconv

CASES = {
    "conv2d_im2col": lambda x: fastconv.conv2d(x, random((24, 16, 3, 3), x.dtype, seed=1), padding=1, algorithm="im2col"),
    "conv2d_im2col_nhwc": lambda x: fastconv.conv2d(x, random((24, 16, 3, 3), x.dtype, seed=1), padding=1,
                                                    algorithm="im2col_nhwc"),
    "conv2d_winograd": lambda x: fastconv.conv2d(x, random((24, 16, 3, 3), x.dtype, seed=1), padding=1,
                                                 algorithm="winograd"),
    "conv2d_nhwc_winograd": lambda x: fastconv.conv2d(np.moveaxis(x, 1, -1),
                                                      random((24, 16, 3, 3), x.dtype, seed=1),
                                                      padding=1, layout="NHWC", algorithm="winograd"),
    "conv2d_batched": lambda x: fastconv.conv2d(np.concatenate([x] * 5), random((12, 16, 3, 3), x.dtype, seed=1),
                                                padding=1, algorithm="batched"),
    "conv2d_nhwc_batched": lambda x: fastconv.conv2d(np.moveaxis(np.concatenate([x] * 5), 1, -1),
                                                     random((12, 16, 3, 3), x.dtype, seed=1), padding=1,
                                                     layout="NHWC", algorithm="batched"),
    "conv2d_direct": lambda x: fastconv.conv2d(x, random((24, 16, 3, 3), x.dtype, seed=1), padding=1, algorithm="direct"),
    "conv2d_grouped": lambda x: fastconv.conv2d(x, random((16, 4, 5, 5), x.dtype, seed=1), padding="same", groups=4),
    "conv2d_nhwc_gemm": lambda x: fastconv.conv2d(np.moveaxis(x, 1, -1), random((24, 16, 3, 3), x.dtype, seed=1),
                                                  padding=1, layout="NHWC", algorithm="im2col"),
    "conv2d_nhwc_depthwise": lambda x: fastconv.conv2d(np.moveaxis(x, 1, -1), random((16, 1, 3, 3), x.dtype, seed=1),
                                                       padding=1, groups=16, layout="NHWC", algorithm="direct"),
    "conv_transpose2d": lambda x: fastconv.conv_transpose2d(x, random((16, 8, 3, 3), x.dtype, seed=1), stride=2),
    "max_pool2d": lambda x: fastconv.max_pool2d(x, 3, 2, 1, return_indices=True),
    "avg_pool2d": lambda x: fastconv.avg_pool2d(x, 3, 2, 1),
    "adaptive_avg_pool2d": lambda x: fastconv.adaptive_avg_pool2d(x, 5),
    "relu": fastconv.relu,
}


@pytest.fixture
def restore_threads():
    before = fastconv.get_num_threads()
    yield
    fastconv.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_results_are_bitwise_identical_for_any_thread_count(case, dtype, restore_threads):
    x = random((4, 16, 40, 44), dtype)
    results = []
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        results.append(CASES[case](x))
    as_list = [r if isinstance(r, tuple) else (r,) for r in results]
    for other in as_list[1:]:
        for a, b in zip(as_list[0], other):
            assert np.array_equal(a, b, equal_nan=True)


def test_set_num_threads(restore_threads):
    fastconv.set_num_threads(1)
    assert fastconv.get_num_threads() == 1
    with pytest.raises(ValueError, match="n"):
        fastconv.set_num_threads(0)
    with pytest.raises(TypeError, match="n"):
        fastconv.set_num_threads(1.5)


def test_threadpoolctl_sees_and_limits_the_pool(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastconv.conv2d(random((1, 8, 64, 64), np.float32), random((8, 8, 3, 3), np.float32))
    assert any(info["internal_api"] == "openmp" for info in threadpoolctl.threadpool_info())
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastconv.get_num_threads() == 1
