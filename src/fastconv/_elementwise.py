"""Elementwise activation."""

from __future__ import annotations

import numpy as np

from . import _args, _common, _core


def relu(x, out=None):
    """max(x, 0) elementwise for any shape; NaN stays NaN (as PyTorch).

    Parameters
    ----------
    x : array_like, float32 or float64
    out : ndarray, optional
        C-contiguous, aligned array of x's shape and dtype; may be x itself (in place).

    Returns
    -------
    ndarray
        Of x's shape and dtype: out when given, else a new array.

    Raises
    ------
    TypeError
        If x is not float32/float64, or out is not an array (of a type fastconv can write to) or has
        another dtype than x.
    ValueError
        If out does not have x's shape, is not C-contiguous, aligned and writeable, or overlaps x
        without being x itself.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.relu(np.array([-1.0, 0.5, np.nan]))
    array([0. , 0.5, nan])
    """
    xa = _args.as_float_array(x, "x")
    xc = _common.kernel_ready(xa)
    result = _common.output(out, xa.shape, xa.dtype, (x, xa), allow_same=(xa, xc))
    _core.relu(xc, result)
    return result
