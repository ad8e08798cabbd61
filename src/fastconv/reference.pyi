# Type stubs for fastconv.reference, the plain-NumPy reference implementations.
#
# Every operator has the signature, defaults and result types of its fastconv namesake (the
# 2-D operators take ``layout=`` too), so this stub re-exports those declarations; only the
# blur pools' filter helpers are the reference's own.

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import (adaptive_avg_pool2d as adaptive_avg_pool2d,
               adaptive_avg_pool2d_backward as adaptive_avg_pool2d_backward,
               adaptive_max_pool2d as adaptive_max_pool2d,
               adaptive_max_pool2d_backward as adaptive_max_pool2d_backward,
               avg_pool1d as avg_pool1d,
               avg_pool1d_backward as avg_pool1d_backward,
               avg_pool2d as avg_pool2d,
               avg_pool2d_backward as avg_pool2d_backward,
               blur_pool1d as blur_pool1d,
               blur_pool1d_backward as blur_pool1d_backward,
               blur_pool2d as blur_pool2d,
               blur_pool2d_backward as blur_pool2d_backward,
               conv1d as conv1d,
               conv1d_backward as conv1d_backward,
               conv2d as conv2d,
               conv2d_backward as conv2d_backward,
               conv_transpose2d as conv_transpose2d,
               conv_transpose2d_backward as conv_transpose2d_backward,
               convolve2d as convolve2d,
               correlate2d as correlate2d,
               global_avg_pool2d as global_avg_pool2d,
               global_avg_pool2d_backward as global_avg_pool2d_backward,
               global_max_pool2d as global_max_pool2d,
               global_max_pool2d_backward as global_max_pool2d_backward,
               lp_pool2d as lp_pool2d,
               lp_pool2d_backward as lp_pool2d_backward,
               max_blur_pool1d as max_blur_pool1d,
               max_blur_pool1d_backward as max_blur_pool1d_backward,
               max_blur_pool2d as max_blur_pool2d,
               max_blur_pool2d_backward as max_blur_pool2d_backward,
               max_pool1d as max_pool1d,
               max_pool1d_backward as max_pool1d_backward,
               max_pool2d as max_pool2d,
               max_pool2d_backward as max_pool2d_backward,
               relu as relu,
               relu_backward as relu_backward,
               sum_pool1d as sum_pool1d,
               sum_pool1d_backward as sum_pool1d_backward,
               sum_pool2d as sum_pool2d,
               sum_pool2d_backward as sum_pool2d_backward)

__all__ = [
    "conv1d", "conv2d", "conv_transpose2d", "correlate2d", "convolve2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "sum_pool1d", "sum_pool2d",
    "lp_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "global_avg_pool2d", "global_max_pool2d", "relu",
    "conv1d_backward", "conv2d_backward", "conv_transpose2d_backward",
    "max_pool1d_backward", "max_pool2d_backward", "avg_pool1d_backward", "avg_pool2d_backward",
    "sum_pool1d_backward", "sum_pool2d_backward", "lp_pool2d_backward", "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d_backward", "global_avg_pool2d_backward", "global_max_pool2d_backward", "relu_backward",
    "binomial_filter", "blur_padding", "blur_pool2d", "blur_pool1d", "max_blur_pool2d", "max_blur_pool1d",
]

def binomial_filter(filter_size: int | np.integer[Any]) -> NDArray[np.float64]: ...
def blur_padding(filter_size: int | np.integer[Any]) -> tuple[int, int]: ...
