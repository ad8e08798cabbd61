"""fastconv: convolution and pooling kernels in C++ (SIMD, OpenMP) for NumPy arrays.

The functions mirror ``torch.nn.functional`` (and ``scipy.signal`` for correlate2d /
convolve2d); ``fastconv.reference`` holds the same functions in plain NumPy.
"""

from . import _core, reference
from ._config import backend, get_num_threads, set_backend, set_num_threads, show_config
from ._conv import conv1d, conv2d, conv_transpose2d
from ._correlate import convolve2d, correlate2d
from ._elementwise import relu
from ._pool import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, global_avg_pool2d,
                    global_max_pool2d, lp_pool2d, max_pool1d, max_pool2d, sum_pool1d, sum_pool2d)

__version__ = "0.1.0"

__all__ = [
    "conv1d", "conv2d", "conv_transpose2d", "correlate2d", "convolve2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "sum_pool1d", "sum_pool2d", "lp_pool2d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "global_avg_pool2d", "global_max_pool2d", "relu",
    "backend", "set_backend", "get_num_threads", "set_num_threads", "show_config",
]
