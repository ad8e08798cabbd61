"""Rounding-error bounds shared by the self-check (``python -m fastconv``), the tests and the
error-bound benchmark."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def winograd_tile_max(magnitude: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Each output of an NCHW magnitude map gets the largest value of its 4x4 output tile: a
    Winograd F(4x4, 3x3) tile's rounding reaches all 16 of its outputs."""
    n, k, oh, ow = magnitude.shape
    th, tw = -(-oh // 4), -(-ow // 4)
    padded = np.zeros((n, k, th * 4, tw * 4))
    padded[:, :, :oh, :ow] = magnitude
    tiles = padded.reshape(n, k, th, 4, tw, 4).max(axis=(3, 5))
    result: npt.NDArray[Any] = np.repeat(np.repeat(tiles, 4, axis=2), 4, axis=3)[:, :, :oh, :ow]
    return result
