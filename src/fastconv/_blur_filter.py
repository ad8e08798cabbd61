"""The blur pools' filters: normalised binomial rows, and the padding that keeps a stride-1
blur the input's size (shared by the kernels' Python layer and the NumPy reference)."""

from __future__ import annotations

import math

import numpy as np

from . import _args

MAX_FILTER_SIZE = 7


def check_filter_size(filter_size):
    n = _args.to_int(filter_size, "filter_size")
    if not 1 <= n <= MAX_FILTER_SIZE:
        raise ValueError(f"filter_size must be between 1 and {MAX_FILTER_SIZE}, got {n}")
    return n


def binomial_filter(filter_size):
    """Row ``n`` of Pascal's triangle over its sum, n = filter_size - 1: [1], [1, 1]/2,
    [1, 2, 1]/4, [1, 3, 3, 1]/8, ... (float64, sums to 1). filter_size is 1..7."""
    n = check_filter_size(filter_size)
    return np.array([math.comb(n - 1, i) for i in range(n)], dtype=np.float64) / 2.0 ** (n - 1)


def blur_padding(filter_size):
    """(before, after) padding of each axis: (k-1)//2 and ceil((k-1)/2), so that a stride-1
    blur keeps the input's size."""
    k = check_filter_size(filter_size)
    return (k - 1) // 2, k // 2
