"""SciPy-style 2-D correlation and convolution of single arrays."""

from __future__ import annotations

from . import _args, _common, _core

_BOUNDARY_CODE = {"fill": 0, "wrap": 3, "symm": 4}
_BOUNDARY_ALIASES = {"fill": "fill", "pad": "fill", "wrap": "wrap", "circular": "wrap",
                     "symm": "symm", "symmetric": "symm"}
_MODES = ("full", "same", "valid")


def _correlate(image, kernel, mode, boundary, fillvalue, flip):
    a = _common.float_input(image, "image", (2,), "a 2-D array")
    k = _common.float_input(kernel, "kernel", (2,), "a 2-D array")
    _args.same_dtype("image", a, "kernel", k)
    _args.choice(mode, "mode", _MODES)
    if boundary not in _BOUNDARY_ALIASES:
        raise ValueError(f"boundary must be one of 'fill', 'wrap', 'symm'; got {boundary!r}")
    boundary = _BOUNDARY_ALIASES[boundary]
    fill = _args.real_scalar(fillvalue, "fillvalue")
    for name, arr in (("image", a), ("kernel", k)):
        if arr.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    swapped = False
    if mode == "valid" and not all(i >= j for i, j in zip(a.shape, k.shape)):
        if not all(j >= i for i, j in zip(a.shape, k.shape)):
            raise ValueError("for mode 'valid', one of image and kernel must be at least as large as the other "
                             f"in every dimension; got {a.shape} and {k.shape}")
        a, k, swapped = k, a, True  # as SciPy: the result is that of the swapped call, reversed
    if flip:
        k = k[::-1, ::-1]
    kh, kw = k.shape
    if mode == "full":
        pads = ((kh - 1, kh - 1), (kw - 1, kw - 1))
    elif mode == "same":  # SciPy's centring differs between correlation and convolution for even sizes
        pads = tuple((n // 2, (n - 1) // 2) if flip else ((n - 1) // 2, n // 2) for n in (kh, kw))
    else:
        pads = ((0, 0), (0, 0))
    oh = a.shape[0] + sum(pads[0]) - kh + 1
    ow = a.shape[1] + sum(pads[1]) - kw + 1
    _args.check_sizes(("multiply-add count", (oh, ow, kh, kw)))
    result = _common.output(None, (oh, ow), a.dtype, ())
    k4 = k.copy()[None, None]
    _core.conv2d(a[None, None], k4, None, result[None, None], 1, 1, 1, 1, pads[0][0], pads[0][1], pads[1][0],
                 pads[1][1], 1, _BOUNDARY_CODE[boundary], fill, 0, False)
    if swapped and not flip:
        result = result[::-1, ::-1].copy()
    return result


def correlate2d(image, kernel, mode="full", boundary="fill", fillvalue=0):
    """2-D cross-correlation of two arrays, as ``scipy.signal.correlate2d`` (real input).

    Parameters
    ----------
    image : array_like, (H, W), float32 or float64
    kernel : array_like, (kh, kw), same dtype
    mode : "full" (H+kh-1, W+kw-1), "same" (H, W, centred like SciPy) or "valid" (H-kh+1, W-kw+1)
    boundary : "fill" (pad with fillvalue), "wrap" (circular) or "symm" (mirror, edge repeated)
        SciPy's aliases "pad", "circular" and "symmetric" are accepted too.
    fillvalue : float

    Returns
    -------
    ndarray of the image's dtype
        Its shape is given by mode; for "valid" with a kernel at least as large as the image in
        every dimension, the two swap roles as in SciPy: (kh-H+1, kw-W+1).

    Raises
    ------
    TypeError
        If image or kernel is not float32/float64 or their dtypes differ, or fillvalue is not a
        real number (a bool is refused).
    ValueError
        If image or kernel is not 2-D or is empty; mode or boundary is not one of its values; or,
        for mode "valid", neither array is at least as large as the other in every dimension.
    OverflowError
        If the multiply-add count (output size times kernel size) reaches 2**62.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.correlate2d(np.eye(3), np.array([[1.0, 2.0]]), mode="valid")
    array([[1., 0.],
           [2., 1.],
           [0., 2.]])
    """
    return _correlate(image, kernel, mode, boundary, fillvalue, flip=False)


def convolve2d(image, kernel, mode="full", boundary="fill", fillvalue=0):
    """2-D convolution (kernel flipped in both axes), as ``scipy.signal.convolve2d`` (real input).

    Parameters and output sizes are those of :func:`correlate2d`.

    Parameters
    ----------
    image : array_like, (H, W), float32 or float64
    kernel : array_like, (kh, kw), same dtype
        Flipped in both axes before it is correlated with image.
    mode, boundary, fillvalue : as in :func:`correlate2d`
        For "same" with an even kernel size, the output is centred as ``scipy.signal.convolve2d``
        centres it (which differs from correlate2d's centring).

    Returns
    -------
    ndarray of the image's dtype
        (H+kh-1, W+kw-1) for "full", (H, W) for "same", (H-kh+1, W-kw+1) for "valid" (or
        (kh-H+1, kw-W+1) when the kernel is at least as large in every dimension, as in SciPy).

    Raises
    ------
    TypeError, ValueError, OverflowError
        As :func:`correlate2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.convolve2d(np.eye(3), np.array([[1.0, 2.0]]), mode="valid")
    array([[2., 0.],
           [1., 2.],
           [0., 1.]])
    """
    return _correlate(image, kernel, mode, boundary, fillvalue, flip=True)
