"""Anti-aliased pools: blur pooling and max-blur pooling (R. Zhang, "Making Convolutional
Networks Shift-Invariant Again", ICML 2019), in 1-D and 2-D."""

from __future__ import annotations

from . import _args, _common, _core, _pool
from ._blur_filter import binomial_filter, blur_padding, check_filter_size

_PAD_MODE_CODE = {"zeros": 0, "reflect": 1, "replicate": 2, "circular": 3}


class BlurGeometry:
    """A blur of images of ``sizes`` (H, W; 1-D: (1, L), one tap and stride 1 down the single
    row) into ``outs``: the filters, strides, padding before each axis and the mode's code, as
    the kernels take them (``args``)."""

    def __init__(self, sizes, filter_size, stride, padding_mode, nd):
        k = check_filter_size(filter_size)
        strides = _args.positive_tuple(stride, nd, "stride")
        mode = _args.choice(padding_mode, "padding_mode", _args.PADDING_MODES)
        if nd == 1:
            strides = (1,) + strides
        self.sizes = tuple(sizes)
        self.outs = tuple((n - 1) // s + 1 for n, s in zip(self.sizes, strides))
        self.filters = ([1.0] if nd == 1 else binomial_filter(k).tolist(), binomial_filter(k).tolist())
        pads = tuple(blur_padding(len(f)) for f in self.filters)
        self.pad_total = tuple(sum(p) for p in pads)
        self.args = (self.filters[0], self.filters[1], strides[0], strides[1], pads[0][0], pads[1][0],
                     _PAD_MODE_CODE[mode])

    def check_sizes(self, n, c, extra_reads=1):
        """The size formulas: the padded images, the output, the filter's reads (times
        ``extra_reads`` per blurred value: the max window of max-blur pooling)."""
        taps = len(self.filters[0]) * len(self.filters[1]) * extra_reads
        _args.check_sizes(("padded input", (n, c) + tuple(s + p for s, p in zip(self.sizes, self.pad_total))),
                          ("output", (n, c) + self.outs), ("count of filter reads", (n, c) + self.outs + (taps,)))


def _nonempty(sizes, shape, name="x"):
    if 0 in sizes:
        raise ValueError(f"{name} must have non-empty spatial dimensions for blur pooling, got shape {shape}")


def _blur(x, filter_size, stride, padding_mode, nd, nhwc, max_window=None):
    """Blur pooling of x; with max_window = (kernel_size, padding), max-blur pooling."""
    xb, added, sizes = _pool._pool_input(x, nd, nhwc)
    _nonempty(sizes, xb.shape)
    max_args, reads = (0, 0, 0, 0), 1
    if max_window is not None:
        k, _, p, _, sizes = _args.pool_geometry(sizes, max_window[0], 1, max_window[1], 1, False, nd)
        k, _, p, _ = _pool._as_2d((k, (1,) * nd, p, (1,) * nd), nd)
        max_args, reads = (k[0], k[1], p[0], p[1]), k[0] * k[1]
    geometry = BlurGeometry((1,) + tuple(sizes) if nd == 1 else sizes, filter_size, stride, padding_mode, nd)
    n, c = (xb.shape[0], xb.shape[3]) if nhwc else xb.shape[:2]
    geometry.check_sizes(n, c, reads)
    out = _common.new_array(_pool._pool_output_shape(xb, geometry.outs, 2, nhwc), xb.dtype)
    if out.size:
        _core.blur_pool2d(xb, out, *geometry.args, nhwc, *max_args)
    return _pool._finish(out, added, nd)


def blur_pool2d(x, filter_size=4, stride=2, padding_mode="reflect", *, layout="NCHW"):
    """Anti-aliased subsampling: each channel low-pass filtered, then every stride-th pixel kept.

    The filter is the outer product of the normalised binomial row of ``filter_size`` taps
    ([1], [1, 1]/2, [1, 2, 1]/4, [1, 3, 3, 1]/8, ...) with itself; computed as two 1-D passes
    fused with the subsampling, so only the kept outputs are computed.

    Parameters
    ----------
    x : array_like
        (N, C, H, W) or (C, H, W) ((N, H, W, C) or (H, W, C) with ``layout="NHWC"``),
        float32 or float64, non-empty H and W.
    filter_size : int, 1..7
        Taps of the binomial row (4 is Zhang's default).
    stride : int or (sh, sw)
        Subsampling step.
    padding_mode : "reflect", "replicate", "zeros" or "circular"
        How the input is extended by (k-1)//2 before and k//2 after each axis (np.pad's rules).
    layout : "NCHW" or "NHWC"

    Returns
    -------
    ndarray
        (N, C, ceil(H / sh), ceil(W / sw)) (or the unbatched / NHWC equivalent), x's dtype.

    Raises
    ------
    ValueError
        If filter_size is outside 1..7, stride is not positive, padding_mode or layout is
        unknown, or x has an empty spatial dimension or the wrong number of dimensions.
    TypeError
        If x is not float32/float64 or an argument has the wrong type.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.zeros((1, 1, 4, 4)); x[0, 0, :, 2:] = 1.0
    >>> fastconv.blur_pool2d(x, filter_size=3)[0, 0]  # the edge blurred, then every other pixel
    array([[0.  , 0.75],
           [0.  , 0.75]])
    """
    return _blur(x, filter_size, stride, padding_mode, 2, _args.is_nhwc(layout))


def blur_pool1d(x, filter_size=4, stride=2, padding_mode="reflect"):
    """:func:`blur_pool2d` along L: x (N, C, L) or (C, L) -> (N, C, ceil(L / stride)).

    Parameters
    ----------
    x : array_like
        (N, C, L) or (C, L), float32 or float64, L > 0.
    filter_size, stride, padding_mode
        As in :func:`blur_pool2d` (one stride).

    Returns
    -------
    ndarray
        (N, C, ceil(L / stride)) or (C, ceil(L / stride)), x's dtype.

    Raises
    ------
    ValueError, TypeError
        As :func:`blur_pool2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.blur_pool1d(np.array([[0.0, 0.0, 4.0, 4.0, 4.0]]), filter_size=3)
    array([[0., 3., 4.]])
    """
    return _blur(x, filter_size, stride, padding_mode, 1, False)


def max_blur_pool2d(x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect", *,
                    layout="NCHW"):
    """Anti-aliased max pooling: the max of every ``kernel_size`` window at stride 1, then
    :func:`blur_pool2d` with ``filter_size`` and ``stride``, fused: the full-resolution max
    map is never stored, only a rolling window of its rows.

    Parameters
    ----------
    x : array_like
        (N, C, H, W) or (C, H, W) (NHWC with ``layout="NHWC"``), float32 or float64.
    kernel_size : int or (kh, kw)
        The max window (taken at stride 1, as :func:`max_pool2d`: NaN propagates).
    stride : int or (sh, sw)
        The blur's subsampling step.
    filter_size : int, 1..7
        Taps of the binomial blur.
    padding : int or (ph, pw)
        The max window's padding (at most half the window; padding is never the max).
    padding_mode : str
        The blur's padding, as in :func:`blur_pool2d`.
    layout : "NCHW" or "NHWC"

    Returns
    -------
    ndarray
        (N, C, ceil(MH / sh), ceil(MW / sw)), MH = H + 2*ph - kh + 1 (likewise MW).

    Raises
    ------
    ValueError, TypeError
        As :func:`max_pool2d` and :func:`blur_pool2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.zeros((1, 1, 5, 5)); x[0, 0, 2, 2] = 8.0
    >>> fastconv.max_blur_pool2d(x, 2, 2, filter_size=2)[0, 0]
    array([[2., 2.],
           [2., 2.]])
    """
    return _blur(x, filter_size, stride, padding_mode, 2, _args.is_nhwc(layout), (kernel_size, padding))


def max_blur_pool1d(x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect"):
    """:func:`max_blur_pool2d` along L: x (N, C, L) or (C, L).

    Parameters
    ----------
    x : array_like
        (N, C, L) or (C, L), float32 or float64.
    kernel_size, stride, filter_size, padding, padding_mode
        As in :func:`max_blur_pool2d`, one value each.

    Returns
    -------
    ndarray
        (N, C, ceil(ML / stride)), ML = L + 2*padding - kernel_size + 1.

    Raises
    ------
    ValueError, TypeError
        As :func:`max_pool1d` and :func:`blur_pool1d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_blur_pool1d(np.array([[0.0, 4.0, 0.0, 0.0, 0.0]]), 2, 2, filter_size=2)
    array([[4., 0.]])
    """
    return _blur(x, filter_size, stride, padding_mode, 1, False, (kernel_size, padding))
