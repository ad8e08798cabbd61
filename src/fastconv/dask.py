"""fastconv on Dask arrays: conv2d, the 2-D pools and the blur pools, chunk by chunk.

``import fastconv.dask`` needs Dask (the ``dask`` extra: ``pip install "fastconv[dask]"``);
``import fastconv`` never imports it. Every function takes a ``dask.array.Array`` (anything
else goes through ``dask.array.asarray``) of shape (N, C, H, W) or (C, H, W) (with
``layout="NHWC"``: (N, H, W, C) or (H, W, C)), the same arguments as its fastconv namesake, and
returns a lazy Dask array with the right shape, chunks and dtype; building it computes
nothing. Each output chunk is one call of the fastconv function on one input window.

How the chunks are computed
---------------------------
- **Batch (and, for the pools, channel) chunks** are independent: a chunk of images is one
  call. ``conv2d`` first rechunks C into one chunk (every output channel of a group needs
  all its input channels); its output has K in one chunk.
- **Chunks along H and W** (one huge image, or a volume of images): output chunk
  ``[o0, o1)`` along an axis is computed from the input rows its windows read, ``[o0*s + c,
  (o1-1)*s + c + E)`` (E = the window's extent, ``dilation*(k-1) + 1``), plus, where the
  fastconv call pads by itself, enough rows before the first kept window for the local
  padding to reach only outputs that are thrown away. Every input window starts at a row
  congruent to the global one modulo the stride, so the local outputs are the global ones
  shifted by a whole number: the stitched result is the unchunked one. The output chunks
  follow the input's (a chunk boundary at input row B becomes one near output row B/s);
  chunks smaller than the halo are fine (windows then span several input chunks). Each
  output chunk is one task that assembles its window (one copy) from the input chunk it
  lies in and slices of the neighbours it reaches into; the slices are small tasks of their
  own, so a distributed scheduler moves only the halo between workers.
- **Padding is applied at the true image borders only.** The pools pad with -inf (max) or
  zeros (sums, with ``count_include_pad`` / ``ceil_mode`` / ``divisor_override`` divisors) and
  a window's value depends only on where it lies in the image, so each border chunk's call
  pads by itself, exactly as the unchunked call (the input windows of border chunks start at
  the image's edge). ``conv2d`` and ``blur_pool2d`` pad the whole array lazily first, with
  NumPy ``np.pad``'s index rules for zeros / reflect / replicate / circular (the padding
  rows are taken from the image by an index map that ``np.pad`` computes, so pads larger
  than the image follow np.pad too, which ``dask.array.pad`` does not for reflect and
  wrap), then compute unpadded windows (for the blur, whose kernel always
  pads, the chunk windows start far enough inside for its own padding to reach only discarded
  outputs). ``max_blur_pool2d`` runs fused per chunk for zeros / reflect / replicate (the
  border chunks are widened to hold every row the blur's padding copies from); for
  ``"circular"`` it is ``max_pool2d`` (stride 1) followed by ``blur_pool2d``, both chunked,
  which is what the fused kernel computes.
- ``ceil_mode=True`` is supported: a chunk that ends at the image's bottom or right edge
  starts at a multiple of the stride, so its call sees the same partial last window (and
  the same clipped divisor) as the unchunked call.
- ``max_pool2d(..., return_indices=True)`` returns global indices ``h*W + w`` of the
  unpadded plane, as fastconv.

Results equal the in-memory fastconv result up to float rounding: the pools' values and
indices are bitwise equal, and so is ``conv2d`` with ``algorithm="im2col"``; the direct
convolution and the blur's vector loops round some outputs differently (about one ulp)
depending on where they fall in the chunk.

Running on a cluster: these are ordinary Dask arrays, so any scheduler runs them; with
``dask.distributed`` every worker needs fastconv installed (the graph refers to its
functions by name). fastconv's kernels use OpenMP threads; with several single-threaded
workers per machine, ``client.run(fastconv.set_num_threads, 1)`` avoids oversubscription
(see ``examples/large_image.py``).
"""

from __future__ import annotations

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("fastconv.dask needs Dask, which is not installed: install fastconv's 'dask' extra "
                      "(pip install \"fastconv[dask]\") or pip install \"dask[array]\"") from exc

import itertools

import numpy as np
from dask.base import tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph
from dask.utils import apply

import fastconv

from . import _args
from ._blur_filter import blur_padding, check_filter_size

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "sum_pool2d", "lp_pool2d", "blur_pool2d", "max_blur_pool2d"]

_NP_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


# --------------------------------------------------------------------------- input and layout


def _prepare(x, layout):
    """x as a 4-D Dask array, whether a batch axis was added, and the (H, W) and C axes."""
    nhwc = _args.is_nhwc(layout)
    if not isinstance(x, da.Array):
        try:
            x = da.asarray(x)
        except Exception as exc:
            raise TypeError(f"x must be a dask array (or array_like) of float32 or float64, got "
                            f"{type(x).__name__}") from exc
    if x.dtype not in _args.FLOAT_DTYPES:
        raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
    if x.ndim not in (3, 4):
        names = "(N, H, W, C) or (H, W, C)" if nhwc else "(N, C, H, W) or (C, H, W)"
        raise ValueError(f"x must be {names}, got an array of shape {x.shape}")
    if any(isinstance(n, float) and np.isnan(n) for n in x.shape):
        raise ValueError(f"x must have known chunk sizes (call x.compute_chunk_sizes() first), got shape {x.shape}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    axes = (1, 2) if nhwc else (2, 3)
    return x, unbatched, nhwc, axes, (3 if nhwc else 1)


def _finish(result, unbatched):
    if isinstance(result, tuple):
        return tuple(_finish(r, unbatched) for r in result)
    return result[0] if unbatched else result


def _meta_input(x, nhwc, spatial, channels=None):
    """A small zero array with x's dtype and channels (for validating arguments by one real call)."""
    c = x.shape[3 if nhwc else 1] if channels is None else channels
    shape = (1,) + tuple(spatial) + (c,) if nhwc else (1, c) + tuple(spatial)
    return np.zeros(shape, x.dtype)


# --------------------------------------------------------------------------- global padding


def _pad_axis(x, axis, before, after, mode, margin=0):
    """x padded along ``axis`` by (before, after) with ``np.pad``'s rules for ``mode`` (a
    fastconv padding_mode), and ``margin`` more zero rows before that (values nobody keeps)."""
    if before == after == margin == 0:
        return x
    length = x.shape[axis]

    def zeros(n):
        chunks = list(x.chunks)
        chunks[axis] = (n,)
        return da.zeros(tuple(sum(c) for c in chunks), dtype=x.dtype, chunks=tuple(chunks))

    if mode == "zeros":
        head = [zeros(before)] if before else []
        tail = [zeros(after)] if after else []
    else:
        if length == 0:
            raise ValueError(f"padding_mode={mode!r} pads an empty axis of x with values taken from it; "
                             f"use padding_mode='zeros' or no padding there")
        index = np.pad(np.arange(length), (before, after), mode=_NP_PAD_MODE[mode])
        head = [da.take(x, index[:before], axis=axis)] if before else []
        tail = [da.take(x, index[before + length:], axis=axis)] if after else []
    pieces = ([zeros(margin)] if margin else []) + head + [x] + tail
    return da.concatenate(pieces, axis=axis)


# --------------------------------------------------------------------------- the chunk engine


class _Axis:
    """How one spatial axis is cut into output chunks and their input windows.

    The array being cut has ``length`` rows. Global output ``o`` reads rows ``[o*s + c,
    o*s + c + extent)``. The fastconv call made on a window pads it by ``local_pad`` rows
    before (its local output ``j`` reads window rows ``[j*s - local_pad, ...)``); when
    ``c == -local_pad`` that padding is the true one at the top border (``trusted``), and
    ``need_top`` / ``need_bottom`` rows at the image's ends are what the local padding copies
    from (reflect / replicate), which the border windows must then hold.
    """

    def __init__(self, length, n_out, stride, offset, extent, local_pad=0, need_top=0, need_bottom=0):
        self.length, self.n_out, self.s, self.c, self.extent = length, n_out, stride, offset, extent
        self.local_pad, self.need_top, self.need_bottom = local_pad, need_top, need_bottom

    def output_chunks(self, in_chunks):
        """Output chunks following the input's: an input boundary at row B becomes the first
        output whose window's centre is at or past B; chunks below the window's extent (in
        outputs) are merged into their neighbours."""
        s, c, n_out = self.s, self.c, self.n_out
        min_out = max(1, -(-self.extent // s))
        cuts = set()
        for b in np.cumsum(in_chunks)[:-1].tolist():
            cut = -(-(2 * b - 2 * c - (self.extent - 1)) // (2 * s))
            if 0 < cut < n_out:
                cuts.add(cut)
        edges = [0]
        for cut in sorted(cuts):
            if cut - edges[-1] >= min_out:
                edges.append(cut)
        if len(edges) > 1 and n_out - edges[-1] < min_out:
            edges.pop()
        edges.append(n_out)
        return tuple(int(e1 - e0) for e0, e1 in zip(edges[:-1], edges[1:]))

    def windows(self, out_chunks):
        """Per output chunk: (first input row r0, end r1, first kept local output j, count)."""
        s, c, extent, pad, length = self.s, self.c, self.extent, self.local_pad, self.length
        q = -(-pad // s)  # local outputs whose windows may reach the local padding before
        result, o0 = [], 0
        for n in out_chunks:
            o1 = o0 + n
            base = o0 * s + c + pad  # window row of local output 0 when the window starts at row 0
            j = min(q, base // s)
            r0 = base - j * s
            r1 = min(length, (o1 - 1) * s + c + extent)
            if o0 == 0:
                r1 = max(r1, min(length, self.need_top))
            if o1 == self.n_out and self.need_bottom and r0 > length - self.need_bottom:
                shift = -(-(r0 - max(length - self.need_bottom, 0)) // s)
                r0, j = r0 - shift * s, j + shift
            if r0 < 0 or r1 <= r0 or (j < q and not (r0 == 0 and c + pad == 0)):
                raise AssertionError(f"fastconv.dask: bad window {(r0, r1, j)} for outputs {(o0, o1)} of {vars(self)}")
            result.append((int(r0), int(r1), int(j), int(n)))
            o0 = o1
        return result


def _rechunk(x, chunks):
    return x.rechunk(chunks, method="tasks")


def _pieces(bounds, r0, r1):
    """The input chunks along an axis (chunk starts ``bounds``, plus the end) that rows
    [r0, r1) cross: (chunk index, start, stop within that chunk)."""
    first = int(np.searchsorted(bounds, r0, side="right")) - 1
    result = []
    for i in range(first, len(bounds) - 1):
        if bounds[i] >= r1:
            break
        result.append((i, max(r0, bounds[i]) - bounds[i], min(r1, bounds[i + 1]) - bounds[i]))
    return result


def _halo(chunk, index):
    """A slice of an input chunk as its own small array (all a neighbour's task needs)."""
    return np.array(chunk[index], copy=True)


def _block(grid, *extra, op, origin, crops, axes, options):
    """One output chunk: the input window assembled from its pieces (``grid``, nested lists
    of arrays along the two spatial axes), the fastconv call on it, cropped to the kept
    outputs."""
    if len(grid) == 1 and len(grid[0]) == 1:
        window = grid[0][0]
    else:
        shape = list(grid[0][0].shape)
        shape[axes[0]] = sum(row[0].shape[axes[0]] for row in grid)
        shape[axes[1]] = sum(piece.shape[axes[1]] for piece in grid[0])
        window = np.empty(shape, grid[0][0].dtype)
        index = [slice(None)] * window.ndim
        h = 0
        for row in grid:
            w = 0
            for piece in row:
                index[axes[0]] = slice(h, h + piece.shape[axes[0]])
                index[axes[1]] = slice(w, w + piece.shape[axes[1]])
                window[tuple(index)] = piece
                w += piece.shape[axes[1]]
            h += row[0].shape[axes[0]]
    y = op(window, *extra, origin=origin, **options)
    (jh, nh), (jw, nw) = crops
    index = [slice(None)] * y.ndim
    index[axes[0]], index[axes[1]] = slice(jh, jh + nh), slice(jw, jw + nw)
    out = y[tuple(index)]
    if out.shape[axes[0]] != nh or out.shape[axes[1]] != nw:
        raise AssertionError(f"fastconv.dask: a window of shape {window.shape} gave {y.shape}, "
                             f"cannot keep outputs {crops}")
    return out


def _run(x, op, plans, axes, other_chunks, dtype, token, extra=(), **options):
    """Cut x along its spatial axes as ``plans`` (two _Axis) say and map ``op`` over the windows.

    ``other_chunks`` maps non-spatial axes to their output chunks (then taken from x's one
    chunk along them; by default an axis keeps x's chunks, block for block). Each output
    chunk is one task on its input window, gathered from the input chunks it crosses: whole
    chunks, and slices of the neighbours (separate small tasks, so that a distributed
    scheduler moves only the halo)."""
    out_chunks = [plan.output_chunks(x.chunks[axis]) for plan, axis in zip(plans, axes)]
    windows = [plan.windows(chunks) for plan, chunks in zip(plans, out_chunks)]
    chunks = [other_chunks.get(axis) or x.chunks[axis] for axis in range(x.ndim)]
    chunks[axes[0]], chunks[axes[1]] = out_chunks
    extra = tuple(_small(e) for e in extra)
    extra_keys = [None if e is None else e.key for e in extra]
    name = f"{token}-{tokenize(x.name, op.__name__, windows, chunks, options, extra_keys)}"
    halo_name = f"{token}-halo-{name.rsplit('-', 1)[1]}"
    pieces = [[_pieces(np.cumsum((0,) + x.chunks[axis]), r0, r1) for r0, r1, _, _ in w]
              for axis, w in zip(axes, windows)]
    dsk, halos = {}, {}
    for out_index in itertools.product(*(range(len(c)) for c in chunks)):
        base = [0 if axis in other_chunks else out_index[axis] for axis in range(x.ndim)]
        bh, bw = out_index[axes[0]], out_index[axes[1]]
        grid = []
        for ih, h0, h1 in pieces[0][bh]:
            row = []
            for iw, w0, w1 in pieces[1][bw]:
                in_index = list(base)
                in_index[axes[0]], in_index[axes[1]] = ih, iw
                key = (x.name,) + tuple(in_index)
                whole = (h0, h1) == (0, x.chunks[axes[0]][ih]) and (w0, w1) == (0, x.chunks[axes[1]][iw])
                if not whole:
                    cut = [slice(None)] * x.ndim
                    cut[axes[0]], cut[axes[1]] = slice(h0, h1), slice(w0, w1)
                    halo_key = halos.get((key, h0, h1, w0, w1))
                    if halo_key is None:
                        halo_key = halos[(key, h0, h1, w0, w1)] = (halo_name, len(halos))
                        dsk[halo_key] = (_halo, key, tuple(cut))
                    key = halo_key
                row.append(key)
            grid.append(row)
        (rh, _, jh, nh), (rw, _, jw, nw) = windows[0][bh], windows[1][bw]
        dsk[(name,) + out_index] = (apply, _block, [grid] + extra_keys,
                                    {"op": op, "origin": (rh, rw), "crops": ((jh, nh), (jw, nw)), "axes": axes,
                                     "options": options})
    dependencies = [x] + [e for e in extra if e is not None]
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=dependencies)
    return da.Array(graph, name, chunks=tuple(chunks), meta=np.empty((0,) * x.ndim, dtype))


def _small(value):
    """A small argument (weights) as one graph key shared by every task."""
    if value is None:
        return None
    if isinstance(value, da.Array):
        return value.rechunk(value.shape).to_delayed().ravel()[0]
    if isinstance(value, Delayed):
        return value
    return dask.delayed(np.asarray(value), pure=True)


# --------------------------------------------------------------------------- convolution


def _conv_op(block, weight, bias, origin, **kwargs):
    return fastconv.conv2d(block, weight, bias, padding=0, **kwargs)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
           activation=None, algorithm="auto", layout="NCHW"):
    """:func:`fastconv.conv2d` of a Dask array, chunk by chunk (same arguments but ``out``).

    Parameters
    ----------
    x : dask.array.Array
        (N, C, H, W) or (C, H, W) ((N, H, W, C) / (H, W, C) with ``layout="NHWC"``), float32
        or float64, chunked any way (C is rechunked into one chunk).
    weight, bias : array_like (NumPy or Dask)
        (K, C/groups, kh, kw) and (K,), x's dtype; sent to the workers once.
    stride, padding, dilation, groups, padding_mode, activation, algorithm, layout
        As :func:`fastconv.conv2d`: padding an int, a pair, ((top, bottom), (left, right)),
        "valid", "same" or "full"; padding_mode "zeros", "reflect", "replicate" or
        "circular", applied at the image's true borders only.

    Returns
    -------
    dask.array.Array
        (N, K, OH, OW) (or the unbatched / NHWC equivalent), x's dtype; K in one chunk, the
        batch chunks of x, and H / W chunks following x's.

    Raises
    ------
    TypeError, ValueError
        As :func:`fastconv.conv2d`, when the graph is built.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv.dask as fcd
    >>> x = da.ones((1, 1, 6, 6), chunks=(1, 1, 3, 3))
    >>> fcd.conv2d(x, np.ones((1, 1, 3, 3)), padding=1, padding_mode="replicate").compute()[0, 0, 0]
    array([9., 9., 9., 9., 9., 9.])
    """
    x, unbatched, nhwc, axes, caxis = _prepare(x, layout)
    w_meta = np.zeros(weight.shape, weight.dtype) if isinstance(weight, da.Array) else np.asarray(weight)
    b_meta = None if bias is None else np.zeros(bias.shape, bias.dtype) if isinstance(bias, da.Array) \
        else np.asarray(bias)
    _args.choice(padding_mode, "padding_mode", tuple(_NP_PAD_MODE))
    if w_meta.ndim != 4:
        raise ValueError(f"weight must be (K, C/groups, kh, kw), got an array of shape {w_meta.shape}")
    sizes = tuple(x.shape[a] for a in axes)
    kernel = w_meta.shape[2:]
    stride_t, dilation_t, pads, outs = _args.conv_geometry(sizes, kernel, stride, padding, dilation)
    extents = tuple(_args.effective_kernel(k, d) for k, d in zip(kernel, dilation_t))
    # one real call on a tiny input checks the weights, bias, groups, dtypes and options as fastconv does
    options = dict(stride=stride_t, dilation=dilation_t, groups=groups, activation=activation, algorithm=algorithm,
                   layout=layout)
    fastconv.conv2d(_meta_input(x, nhwc, extents), w_meta, b_meta, padding=0, **options)
    x = _rechunk(x, {caxis: -1})
    for axis, (before, after) in zip(axes, pads):
        x = _pad_axis(x, axis, before, after, padding_mode)
    plans = [_Axis(x.shape[axis], n, s, 0, e) for axis, n, s, e in zip(axes, outs, stride_t, extents)]
    k_out = w_meta.shape[0]
    result = _run(x, _conv_op, plans, axes, {caxis: (k_out,)}, x.dtype, "fastconv-conv2d",
                  extra=(weight, bias), **options)
    return _finish(result, unbatched)


# --------------------------------------------------------------------------- pools


def _pool_plans(x, axes, kernel, stride, pad, dilation, outs):
    # with ceil_mode the last window may hang over the padded input: the last chunk's call
    # must still get an input its window fits in (fastconv refuses a smaller one)
    return [_Axis(x.shape[axis], n, s, -p, e, p, need_bottom=max(0, e - 2 * p))
            for axis, n, k, s, p, d in zip(axes, outs, kernel, stride, pad, dilation)
            for e in [_args.effective_kernel(k, d)]]


_INDEX_FIELDS = ("values", "indices")


def _max_pool_op(block, origin, *, indices, width, width_axis, **kwargs):
    if not indices:
        return fastconv.max_pool2d(block, **kwargs)
    values, local = fastconv.max_pool2d(block, return_indices=True, **kwargs)
    local_width = block.shape[width_axis]
    rows, cols = np.divmod(local, local_width)
    out = np.empty(values.shape, dtype=[(_INDEX_FIELDS[0], values.dtype), (_INDEX_FIELDS[1], np.int64)])
    out[_INDEX_FIELDS[0]] = values
    out[_INDEX_FIELDS[1]] = (rows + origin[0]) * width + (cols + origin[1])
    return out


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, *,
               layout="NCHW"):
    """:func:`fastconv.max_pool2d` of a Dask array, chunk by chunk.

    Parameters
    ----------
    x : dask.array.Array
        (N, C, H, W) or (C, H, W) (NHWC with ``layout="NHWC"``), float32 or float64.
    kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
        As :func:`fastconv.max_pool2d` (padding is -inf at the image's borders only;
        ``ceil_mode`` is supported).

    Returns
    -------
    dask.array.Array, or (values, indices)
        (N, C, OH, OW); the indices are int64 ``h*W + w`` within each whole plane, as the
        unchunked call returns them.

    Examples
    --------
    >>> import dask.array as da, fastconv.dask as fcd
    >>> x = da.arange(16.0, chunks=4).reshape(1, 4, 4).rechunk((1, 2, 2))
    >>> fcd.max_pool2d(x, 2).compute()
    array([[[ 5.,  7.],
            [13., 15.]]])
    """
    x, unbatched, nhwc, axes, _ = _prepare(x, layout)
    sizes = tuple(x.shape[a] for a in axes)
    kernel, stride_t, pad, dil, outs = _args.pool_geometry(sizes, kernel_size, stride, padding, dilation, ceil_mode, 2)
    options = dict(kernel_size=kernel, stride=stride_t, padding=pad, dilation=dil, ceil_mode=bool(ceil_mode),
                   layout=layout)
    if not isinstance(return_indices, (bool, np.bool_)):
        raise TypeError(f"return_indices must be a bool, got {type(return_indices).__name__}")
    fastconv.max_pool2d(_meta_input(x, nhwc, [_args.effective_kernel(k, d) for k, d in zip(kernel, dil)], 1),
                        **options)
    plans = _pool_plans(x, axes, kernel, stride_t, pad, dil, outs)
    if not return_indices:
        return _finish(_run(x, _max_pool_op, plans, axes, {}, x.dtype, "fastconv-max_pool2d", indices=False,
                            width=sizes[1], width_axis=axes[1], **options), unbatched)
    record = np.dtype([(_INDEX_FIELDS[0], x.dtype), (_INDEX_FIELDS[1], np.int64)])
    both = _run(x, _max_pool_op, plans, axes, {}, record, "fastconv-max_pool2d-indices", indices=True,
                width=sizes[1], width_axis=axes[1], **options)
    return _finish((both[_INDEX_FIELDS[0]], both[_INDEX_FIELDS[1]]), unbatched)


def _window_op(block, origin, *, function, **kwargs):
    return getattr(fastconv, function)(block, **kwargs)


def _window_pool(x, function, layout, kernel_size, stride, padding, ceil_mode, **extra):
    x, unbatched, nhwc, axes, _ = _prepare(x, layout)
    sizes = tuple(x.shape[a] for a in axes)
    kernel, stride_t, pad, dil, outs = _args.pool_geometry(sizes, kernel_size, stride, padding, 1, ceil_mode, 2)
    options = dict(kernel_size=kernel, stride=stride_t, ceil_mode=bool(ceil_mode), layout=layout, **extra)
    if function != "lp_pool2d":
        options["padding"] = pad
    getattr(fastconv, function)(_meta_input(x, nhwc, kernel, 1), **options)
    plans = _pool_plans(x, axes, kernel, stride_t, pad, dil, outs)
    return _finish(_run(x, _window_op, plans, axes, {}, x.dtype, f"fastconv-{function}", function=function,
                        **options), unbatched)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None,
               *, layout="NCHW"):
    """:func:`fastconv.avg_pool2d` of a Dask array, chunk by chunk (same arguments; every
    divisor rule, ``ceil_mode`` included, as the unchunked call).

    Examples
    --------
    >>> import dask.array as da, fastconv.dask as fcd
    >>> x = da.ones((1, 1, 4, 4), chunks=(1, 1, 2, 2))
    >>> fcd.avg_pool2d(x, 3, 2, 1, count_include_pad=True).compute()[0, 0]
    array([[0.44444444, 0.66666667],
           [0.66666667, 1.        ]])
    """
    return _window_pool(x, "avg_pool2d", layout, kernel_size, stride, padding, ceil_mode,
                        count_include_pad=count_include_pad, divisor_override=divisor_override)


def sum_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, *, layout="NCHW"):
    """:func:`fastconv.sum_pool2d` of a Dask array, chunk by chunk (same arguments).

    Examples
    --------
    >>> import dask.array as da, fastconv.dask as fcd
    >>> fcd.sum_pool2d(da.ones((1, 1, 4, 4), chunks=2), 2).compute()[0, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    return _window_pool(x, "sum_pool2d", layout, kernel_size, stride, padding, ceil_mode)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, *, layout="NCHW"):
    """:func:`fastconv.lp_pool2d` of a Dask array, chunk by chunk (same arguments).

    Examples
    --------
    >>> import dask.array as da, fastconv.dask as fcd
    >>> fcd.lp_pool2d(da.ones((1, 1, 4, 4), chunks=2), 2, 2).compute()[0, 0]
    array([[2., 2.],
           [2., 2.]])
    """
    return _window_pool(x, "lp_pool2d", layout, kernel_size, stride, 0, ceil_mode, norm_type=norm_type)


# --------------------------------------------------------------------------- blur pools


def _blur_op(block, origin, **kwargs):
    return fastconv.blur_pool2d(block, **kwargs)


def _blur_arguments(x, layout, filter_size, stride, padding_mode):
    """The blur pools' checked arguments: (x, unbatched, nhwc, spatial axes, filter size,
    strides, spatial sizes)."""
    x, unbatched, nhwc, axes, _ = _prepare(x, layout)
    k = check_filter_size(filter_size)
    stride_t = _args.positive_tuple(stride, 2, "stride")
    _args.choice(padding_mode, "padding_mode", tuple(_NP_PAD_MODE))
    sizes = tuple(x.shape[a] for a in axes)
    if 0 in sizes:
        raise ValueError(f"x must have non-empty spatial dimensions for blur pooling, got shape {x.shape}")
    return x, unbatched, nhwc, axes, k, stride_t, sizes


def blur_pool2d(x, filter_size=4, stride=2, padding_mode="reflect", *, layout="NCHW"):
    """:func:`fastconv.blur_pool2d` of a Dask array, chunk by chunk (same arguments).

    The image is padded lazily ((k-1)//2 before, k//2 after each axis, with ``padding_mode``'s
    ``np.pad`` rules, at its true borders), and each chunk's window starts far enough inside
    the padded image that the kernel's own padding touches only discarded outputs.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv.dask as fcd
    >>> x = np.zeros((1, 1, 4, 4)); x[0, 0, :, 2:] = 1.0
    >>> fcd.blur_pool2d(da.from_array(x, chunks=2), filter_size=3).compute()[0, 0]
    array([[0.  , 0.75],
           [0.  , 0.75]])
    """
    x, unbatched, nhwc, axes, k, stride_t, sizes = _blur_arguments(x, layout, filter_size, stride, padding_mode)
    options = dict(filter_size=k, stride=stride_t, padding_mode=padding_mode, layout=layout)
    fastconv.blur_pool2d(_meta_input(x, nhwc, (1, 1), 1), **options)
    before, after = blur_padding(k)
    plans = []
    for axis, size, s in zip(axes, sizes, stride_t):
        q = -(-before // s)
        x = _pad_axis(x, axis, before, after, padding_mode, margin=q * s - before)
        plans.append(_Axis(x.shape[axis], -(-size // s), s, q * s - before, k, before))
    return _finish(_run(x, _blur_op, plans, axes, {}, x.dtype, "fastconv-blur_pool2d", **options), unbatched)


def _max_blur_op(block, origin, **kwargs):
    return fastconv.max_blur_pool2d(block, **kwargs)


def _source_rows(mode, before, after, length):
    """(rows at the start, rows at the end) of an axis of ``length`` that np.pad's ``mode``
    copies from when padding it by (before, after)."""
    if mode == "zeros":
        return 0, 0
    if mode == "replicate":
        return 1, 1
    if mode == "reflect" and max(before, after) < length - 1:
        return before + 1, after + 1
    return length, length  # circular, or a reflection wider than the axis: the whole axis


def max_blur_pool2d(x, kernel_size=2, stride=2, filter_size=4, padding=0, padding_mode="reflect", *, layout="NCHW"):
    """:func:`fastconv.max_blur_pool2d` of a Dask array, chunk by chunk (same arguments).

    Fused per chunk for ``padding_mode`` zeros, reflect and replicate (the border chunks hold
    every row of the max map that the blur's padding copies from); with "circular" it is
    :func:`max_pool2d` at stride 1 then :func:`blur_pool2d`, both chunked (the same values).

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv.dask as fcd
    >>> x = np.zeros((1, 1, 5, 5)); x[0, 0, 2, 2] = 8.0
    >>> fcd.max_blur_pool2d(da.from_array(x, chunks=(1, 1, 2, 3)), 2, 2, filter_size=2).compute()[0, 0]
    array([[2., 2.],
           [2., 2.]])
    """
    x, unbatched, nhwc, axes, k, stride_t, sizes = _blur_arguments(x, layout, filter_size, stride, padding_mode)
    kernel, _, pad, _, max_sizes = _args.pool_geometry(sizes, kernel_size, 1, padding, 1, False, 2)
    options = dict(kernel_size=kernel, stride=stride_t, filter_size=k, padding=pad, padding_mode=padding_mode,
                   layout=layout)
    fastconv.max_blur_pool2d(_meta_input(x, nhwc, kernel, 1), **options)
    if padding_mode == "circular":
        xb = x[0] if unbatched else x
        pooled = max_pool2d(xb, kernel, 1, pad, layout=layout)
        return blur_pool2d(pooled, k, stride_t, padding_mode, layout=layout)
    before, after = blur_padding(k)
    plans = []
    for axis, size, km, pm, m, s in zip(axes, sizes, kernel, pad, max_sizes, stride_t):
        top, bottom = _source_rows(padding_mode, before, after, m)
        # max-map rows [0, top) read input rows [0, top - 1 - pm + km); rows [m - bottom, m) read
        # from row size - km + 1 - bottom on (and must not see the window's own -inf padding)
        need_top = min(size, top + km - 1 - pm) if top else 0
        need_bottom = min(size, bottom + km - 1) if bottom else 0
        plans.append(_Axis(size, -(-m // s), s, -(before + pm), k + km - 1, before + pm, need_top, need_bottom))
    return _finish(_run(x, _max_blur_op, plans, axes, {}, x.dtype, "fastconv-max_blur_pool2d", **options), unbatched)
