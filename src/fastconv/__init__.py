"""fastconv: convolution and pooling kernels in C++ (SIMD, OpenMP) for NumPy arrays.

The functions mirror ``torch.nn.functional`` (and ``scipy.signal`` for correlate2d /
convolve2d); ``fastconv.reference`` holds the same functions in plain NumPy.
"""

from . import _core, invariance, reference
from ._blur import blur_pool1d, blur_pool2d, max_blur_pool1d, max_blur_pool2d
from ._blur_backward import (blur_pool1d_backward, blur_pool2d_backward, max_blur_pool1d_backward,
                             max_blur_pool2d_backward)
from ._config import backend, get_num_threads, set_backend, set_num_threads, show_config
from ._conv import conv1d, conv2d, conv_transpose2d
from ._conv_backward import conv1d_backward, conv2d_backward, conv_transpose2d_backward
from ._correlate import convolve2d, correlate2d
from ._elementwise import relu
from ._pool_backward import (adaptive_avg_pool2d_backward, adaptive_max_pool2d_backward, avg_pool1d_backward,
                             avg_pool2d_backward, global_avg_pool2d_backward, global_max_pool2d_backward,
                             lp_pool2d_backward, max_pool1d_backward, max_pool2d_backward, relu_backward,
                             sum_pool1d_backward, sum_pool2d_backward)
from ._pool import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, global_avg_pool2d,
                    global_max_pool2d, lp_pool2d, max_pool1d, max_pool2d, sum_pool1d, sum_pool2d)

__version__ = "0.1.0"

__all__ = [
    "conv1d", "conv2d", "conv_transpose2d", "correlate2d", "convolve2d",
    "conv1d_backward", "conv2d_backward", "conv_transpose2d_backward",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "sum_pool1d", "sum_pool2d", "lp_pool2d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "global_avg_pool2d", "global_max_pool2d", "relu",
    "max_pool2d_backward", "max_pool1d_backward", "adaptive_max_pool2d_backward", "global_max_pool2d_backward",
    "avg_pool2d_backward", "avg_pool1d_backward", "sum_pool2d_backward", "sum_pool1d_backward",
    "lp_pool2d_backward", "adaptive_avg_pool2d_backward", "global_avg_pool2d_backward", "relu_backward",
    "blur_pool2d", "blur_pool1d", "max_blur_pool2d", "max_blur_pool1d",
    "blur_pool2d_backward", "blur_pool1d_backward", "max_blur_pool2d_backward", "max_blur_pool1d_backward",
    "backend", "set_backend", "get_num_threads", "set_num_threads", "show_config",
]
