"""Measuring translation equivariance and invariance.

A convolution with circular padding is exactly shift-equivariant: shift the input and its
output shifts with it. Striding and strided pooling keep only every s-th position, so that
holds only for shifts that are multiples of the stride; for the others the output can change
far more than a shift of it would (aliasing). These functions measure both properties for any
callable on NumPy arrays, so that a layer, a network or a whole classifier can be checked:

- ``shift``: an image (the last two axes, or the axes named) shifted circularly or with zeros
  filling in;
- ``shift_equivariance_error``: how far ``fn(shift(x, d))`` is from ``fn(x)`` shifted by
  ``d / stride``, per output location;
- ``shift_consistency``: R. Zhang's metric ("Making Convolutional Networks Shift-Invariant
  Again", ICML 2019), the fraction of random pairs of shifts of the same image that get the
  same predicted class.
"""

from __future__ import annotations

import numpy as np

from . import _args

__all__ = ["shift", "shift_equivariance_error", "shift_consistency"]

SHIFT_MODES = ("circular", "zeros")


def _shifts_per_axis(amount, axes):
    if isinstance(amount, (list, tuple)):
        if len(amount) != len(axes):
            raise ValueError(f"shift must have one amount per axis {tuple(axes)}, got {amount!r}")
        return tuple(_args.to_int(a, "shift") for a in amount)
    return (_args.to_int(amount, "shift"),) * len(axes)


def shift(x, amount, mode="circular", axes=(-2, -1)):
    """x moved by ``amount`` positions along ``axes`` (towards higher indices for positive
    amounts; one int for every axis or one per axis). ``mode="circular"`` wraps around
    (``np.roll``); ``"zeros"`` lets zeros in where nothing moves in.

    Parameters
    ----------
    x : array_like
        Any shape and dtype.
    amount : int or tuple of int
        Positions to move by: one int for every axis, or one per axis of ``axes``.
    mode : "circular" or "zeros"
        Wrap around, or let zeros in (a shift of an axis's length or more gives all zeros).
    axes : tuple of int, default (-2, -1)
        The axes to shift along.

    Returns
    -------
    ndarray
        Of x's shape and dtype.

    Raises
    ------
    TypeError
        If amount (or one of its entries) is not an int.
    ValueError
        If amount is a tuple with another length than axes, or mode is not "circular" or "zeros".
    IndexError
        If an entry of axes is out of range for x (in circular mode NumPy's AxisError, which is
        also a ValueError).

    Examples
    --------
    >>> shift(np.arange(4.0), 1, axes=(-1,))
    array([3., 0., 1., 2.])
    >>> shift(np.arange(4.0), 1, mode="zeros", axes=(-1,))
    array([0., 0., 1., 2.])
    """
    x = np.asarray(x)
    axes = tuple(axes)
    amounts = _shifts_per_axis(amount, axes)
    mode = _args.choice(mode, "mode", SHIFT_MODES)
    if mode == "circular":
        return np.roll(x, amounts, axis=axes)
    out = np.zeros_like(x)
    src, dst = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    for axis, d in zip(axes, amounts):
        n = x.shape[axis]
        if abs(d) >= n:
            return out
        src[axis] = slice(0, n - d) if d >= 0 else slice(-d, n)
        dst[axis] = slice(d, n) if d >= 0 else slice(0, n + d)
    out[tuple(dst)] = x[tuple(src)]
    return out


def _fractional_shift(y, amounts, mode, axes):
    """y moved by real ``amounts``: whole positions as ``shift`` moves them; a fraction by
    band-limited (Fourier) interpolation in circular mode, by linear interpolation between
    the two whole shifts around it in zeros mode."""
    for axis, d in zip(axes, amounts):
        whole = int(np.floor(d))
        frac = d - whole
        y = shift(y, whole, mode, (axis,))
        if frac == 0:
            continue
        if mode == "zeros":
            y = (1 - frac) * y + frac * shift(y, 1, mode, (axis,))
            continue
        n = y.shape[axis]
        phase = np.exp(-2j * np.pi * np.fft.fftfreq(n) * frac)
        phase = phase.reshape([n if a == axis % y.ndim else 1 for a in range(y.ndim)])
        y = np.real(np.fft.ifft(np.fft.fft(y, axis=axis) * phase, axis=axis))
    return y


def shift_equivariance_error(fn, x, shifts, *, stride=1, mode="circular", border=0, axes=(-2, -1)):
    """|fn(shift(x, d)) - shift(fn(x), d / stride)| for each shift d, per output location.

    Parameters
    ----------
    fn : callable
        Maps an array like x to an array whose ``axes`` are x's subsampled by ``stride``.
        Whatever it raises propagates.
    x : array_like
        The input (for example (N, C, H, W)); computed in its own dtype by fn.
    shifts : iterable of int or tuple
        Input shifts: an int shifts every axis alike, a tuple one amount per axis.
    stride : int or tuple, default 1
        fn's total stride along each axis (2 for one stride-2 layer, 4 for two, ...).
    mode : "circular" or "zeros"
        How x is shifted (``shift``). A shift that is a multiple of the stride moves fn(x)
        by whole positions in the same way; any other moves it by a fraction, interpolated
        (Fourier in circular mode, linear in zeros mode): the output an ideal band-limited
        subsampler would give, against which aliasing shows as error.
    border : int, default 0
        Output positions this close to an edge of ``axes`` are left out (for zero shifts,
        where padding and the zeros shifted in differ from what an infinite image holds).
    axes : tuple of int, default (-2, -1)
        The axes of x that are shifted, and the axes of fn's output (the same numbers) along
        which its shift is predicted and ``border`` is cropped.

    Returns
    -------
    ndarray, float64
        Shape ``(len(shifts),) + output shape`` (cropped by ``border``): the absolute error.

    Raises
    ------
    TypeError
        If stride (or an entry of it), border or an amount in shifts (or an entry of it) is not an
        int.
    ValueError
        If stride is not positive or is a tuple with another length than axes; border is negative;
        mode is not "circular" or "zeros"; an amount in shifts is a tuple with another length than
        axes; or fn gives a shifted input an output of another shape than fn(x).
    IndexError
        If an entry of axes is out of range for x or fn's output.

    Examples
    --------
    >>> import fastconv
    >>> x = np.random.default_rng(0).standard_normal((1, 1, 8, 8))
    >>> pool = lambda v: fastconv.max_pool2d(v, 2)
    >>> err = shift_equivariance_error(pool, x, [(2, 0), (1, 0)], stride=2)
    >>> err.shape, float(err[0].max()), bool(err[1].max() > 0)
    ((2, 1, 1, 4, 4), 0.0, True)
    """
    axes = tuple(axes)
    strides = _args.positive_tuple(stride, len(axes), "stride")
    mode = _args.choice(mode, "mode", SHIFT_MODES)
    border = _args.to_int(border, "border")
    if border < 0:
        raise ValueError(f"border must be non-negative, got {border}")
    x = np.asarray(x)
    reference = np.asarray(fn(x), dtype=np.float64)
    errors = []
    for d in shifts:
        amounts = _shifts_per_axis(d, axes)
        moved = np.asarray(fn(shift(x, amounts, mode, axes)), dtype=np.float64)
        target = _fractional_shift(reference, [a / s for a, s in zip(amounts, strides)], mode, axes)
        if moved.shape != target.shape:
            raise ValueError(f"fn gave shape {moved.shape} for the shifted input but {reference.shape} for x")
        errors.append(np.abs(moved - target))
    result = np.stack(errors) if errors else np.zeros((0,) + reference.shape)
    if border:
        index = [slice(None)] * result.ndim
        for axis in axes:
            index[axis % reference.ndim + 1] = slice(border, -border)
        result = result[tuple(index)]
    return result


def shift_consistency(predict, images, max_shift, trials=1000, *, mode="circular", seed=0, batch_size=256):
    """The probability that two random shifts of the same image get the same class (Zhang's
    consistency).

    Each trial draws an image and two shifts (dy, dx) with every amount uniform in
    [-max_shift, max_shift], and asks ``predict`` for the class of both shifted images.

    Parameters
    ----------
    predict : callable
        Maps a batch of images (n, ...) to n class labels (or to (n, classes) scores, whose
        argmax is taken). Whatever it raises propagates.
    images : array_like
        (N, ...) with the image axes last: (N, C, H, W) or (N, H, W).
    max_shift : int
        Largest shift along either axis.
    trials : int
        Pairs of shifts drawn.
    mode : "circular" or "zeros"
        How images are shifted (``shift``).
    seed : int
        Seed of the random draws: the same seed gives the same pairs.
    batch_size : int, default 256
        The most shifted images given to one call of ``predict`` (each chunk of trials goes to it
        in two calls, one per shift), at least 1.

    Returns
    -------
    float
        The fraction of trials whose two predictions agree.

    Raises
    ------
    TypeError
        If max_shift, trials or batch_size is not an int, or images has no length (a 0-d array).
    ValueError
        If max_shift is negative, trials is less than 1, images holds no image, mode is not
        "circular" or "zeros", batch_size is less than 1, or seed is not one ``numpy.random.default_rng``
        accepts (such as a negative int).
    IndexError
        If the images have fewer than two axes each (in circular mode NumPy's AxisError, which is
        also a ValueError).

    Examples
    --------
    >>> images = np.random.default_rng(0).standard_normal((10, 3, 8, 8))
    >>> brightest_channel = lambda batch: batch.sum(axis=(2, 3)).argmax(axis=1)
    >>> shift_consistency(brightest_channel, images, max_shift=3, trials=100)
    1.0
    """
    images = np.asarray(images)
    max_shift = _args.to_int(max_shift, "max_shift")
    trials = _args.to_int(trials, "trials")
    batch_size = _args.to_int(batch_size, "batch_size")
    if max_shift < 0 or trials < 1 or batch_size < 1 or len(images) == 0:
        raise ValueError("shift_consistency needs max_shift >= 0, trials >= 1, batch_size >= 1 and at least one "
                         "image")
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, len(images), trials)
    amounts = rng.integers(-max_shift, max_shift + 1, (2, trials, 2))
    agree = 0
    for start in range(0, trials, batch_size):
        part = slice(start, min(start + batch_size, trials))
        labels = []
        for which in range(2):
            batch = np.stack([shift(images[i], tuple(a), mode) for i, a in zip(chosen[part], amounts[which, part])])
            scores = np.asarray(predict(batch))
            labels.append(scores.argmax(axis=1) if scores.ndim == 2 else scores)
        agree += int(np.sum(labels[0] == labels[1]))
    return agree / trials
