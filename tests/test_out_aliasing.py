"""out= that overlaps an input is refused (ValueError), and out= in the same buffer as an input
but on none of its elements is accepted and written correctly.

test_conv_bad_input refuses out that is x, the weight, a prefix view of x or of the bias,
and x's base under a transposed x; test_relu runs relu in place. Here: out overlapping part
of x, of the weight or of the bias from an offset, for conv2d in both layouts and conv1d,
and for relu; and views of one buffer that share no element, including one lying in the
gaps of a strided x (whose memory bounds overlap it), which must be accepted.
The pools, conv_transpose2d and correlate2d / convolve2d take no out= at all.
"""

import inspect
import math

import numpy as np
import pytest
from conftest import random

import fastconv


def carve(buffer, start, shape):
    """The C-contiguous view of buffer[start:] with ``shape``."""
    return buffer[start:start + math.prod(shape)].reshape(shape)


def operands(op, layout="NCHW"):
    """(x, weight, bias shapes, out shape, keyword arguments) of a small conv with no padding."""
    if op == "conv1d":
        return (2, 3, 9), (4, 3, 3), (4,), (2, 4, 7), {}
    if layout == "NHWC":
        return (2, 6, 6, 3), (4, 3, 3, 3), (4,), (2, 4, 4, 4), dict(layout="NHWC")
    return (2, 3, 6, 6), (4, 3, 3, 3), (4,), (2, 4, 4, 4), {}


CONVS = [pytest.param("conv2d", "NCHW", id="conv2d"), pytest.param("conv2d", "NHWC", id="conv2d-NHWC"),
         pytest.param("conv1d", "NCHW", id="conv1d")]


def in_one_buffer(op, layout, overlapped, dtype):
    """x, weight, bias and out carved one after another from one buffer, ``overlapped`` last
    but out, and out starting 2 elements before its end: they share 2 elements."""
    shapes = dict(zip(("x", "weight", "bias", "out"), operands(op, layout)[:4]))
    order = [n for n in ("x", "weight", "bias") if n != overlapped] + [overlapped, "out"]
    buffer = random((sum(math.prod(s) for s in shapes.values()),), dtype, seed=1)
    views, at = {}, 0
    for name in order:
        at -= 2 if name == "out" else 0
        views[name] = carve(buffer, at, shapes[name])
        at += math.prod(shapes[name])
    return views["x"], views["weight"], views["bias"], views["out"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("overlapped", ["x", "weight", "bias"])
@pytest.mark.parametrize("op, layout", CONVS)
def test_out_overlapping_part_of_an_input_is_refused(op, layout, overlapped, dtype):
    x, w, b, out = in_one_buffer(op, layout, overlapped, dtype)
    assert np.shares_memory(out, {"x": x, "weight": w, "bias": b}[overlapped])
    before = out.copy()
    with pytest.raises(ValueError, match="overlap"):
        getattr(fastconv, op)(x, w, b, out=out, **operands(op, layout)[4])
    np.testing.assert_array_equal(out, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op, layout", CONVS)
def test_out_overlapping_an_unbatched_x_is_refused(op, layout, dtype):
    xs, ws, _, outs, kw = operands(op, layout)
    buffer = random((math.prod(xs) + math.prod(outs),), dtype)
    x = carve(buffer, 0, xs[1:])
    out = carve(buffer, math.prod(xs[1:]) - 1, outs[1:])
    with pytest.raises(ValueError, match="overlap"):
        getattr(fastconv, op)(x, random(ws, dtype), out=out, **kw)


def conv_algorithms(op, layout):
    algorithms = ["auto", "im2col", "im2col_nhwc", "batched"]
    if layout == "NCHW":
        algorithms.append("direct")
    if op == "conv2d":
        algorithms.append("winograd")
    return algorithms


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op, layout", CONVS)
def test_out_beside_the_inputs_in_one_buffer_is_accepted_and_correct(op, layout, dtype):
    xs, ws, bs, outs, kw = operands(op, layout)
    sizes = [math.prod(s) for s in (xs, ws, bs, outs)]
    for algorithm in conv_algorithms(op, layout):
        buffer = random((sum(sizes),), dtype, seed=3)
        x, w, b = carve(buffer, 0, xs), carve(buffer, sizes[0], ws), carve(buffer, sum(sizes[:2]), bs)
        out = carve(buffer, sum(sizes[:3]), outs)
        want = getattr(fastconv, op)(x.copy(), w.copy(), b.copy(), algorithm=algorithm, **kw)
        inputs_before = buffer[:sum(sizes[:3])].copy()
        assert getattr(fastconv, op)(x, w, b, out=out, algorithm=algorithm, **kw) is out
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(buffer[:sum(sizes[:3])], inputs_before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op, layout", CONVS)
def test_out_in_the_gaps_of_a_strided_x_is_accepted_and_correct(op, layout, dtype):
    """x takes the first columns of wide rows; out lies in the unused rest of the first row:
    within x's memory bounds, on none of its elements."""
    xs, ws, bs, outs, kw = operands(op, layout)
    gap = math.prod(outs)
    base = random(xs[:-1] + (xs[-1] + gap,), dtype, seed=4)
    x = base[..., :xs[-1]]
    out = base[(0,) * (len(xs) - 1)][xs[-1]:].reshape(outs)
    assert np.may_share_memory(x, out) and not np.shares_memory(x, out)
    w, b = random(ws, dtype, seed=5), random(bs, dtype, seed=6)
    x_before = x.copy()
    assert getattr(fastconv, op)(x, w, b, out=out, **kw) is out
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(out, getattr(fastconv, op)(x_before, w, b, **kw))


# --------------------------------------------------------------------------- relu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shift", [1, -1, 999])
def test_relu_out_overlapping_part_of_x_is_refused(shift, dtype):
    buffer = random((3000,), dtype)
    x = buffer[1000:2000]
    out = buffer[1000 + shift:2000 + shift]
    assert np.shares_memory(x, out)
    with pytest.raises(ValueError, match="overlap"):
        fastconv.relu(x, out=out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_out_over_a_strided_x_is_refused(dtype):
    """out = x is allowed only for x itself: a contiguous out over the strided x's elements
    would be read and written in a different order."""
    buffer = random((2000,), dtype)
    with pytest.raises(ValueError, match="overlap"):
        fastconv.relu(buffer[::2], out=buffer[:1000])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_out_beside_or_between_x_in_one_buffer_is_accepted_and_correct(dtype):
    buffer = random((3000,), dtype)
    rows = buffer.reshape(2, 1500)
    beside = buffer[:1000], buffer[1000:2000]
    between = rows[:, :500], rows[0, 500:1500].reshape(2, 500)  # within x's bounds, on none of it
    for x, out in (beside, between):
        assert not np.shares_memory(x, out)
        x_before = x.copy()
        assert fastconv.relu(x, out=out) is out
        np.testing.assert_array_equal(out, np.maximum(x_before, 0))


def test_only_conv2d_conv1d_and_relu_take_out():
    """If another op gains out=, it needs the tests above."""
    ops = [name for name in fastconv.__all__ if callable(getattr(fastconv, name))]
    takes_out = {name for name in ops if "out" in inspect.signature(getattr(fastconv, name)).parameters}
    assert takes_out == {"conv2d", "conv1d", "relu"}


def misaligned(shape, dtype, value):
    """A C-contiguous array of ``shape`` starting one byte past an element boundary."""
    buffer = np.zeros(math.prod(shape) * np.dtype(dtype).itemsize + 1, np.uint8)
    arr = np.ndarray(shape, dtype, buffer=buffer, offset=1)
    arr[...] = value
    assert not arr.flags.aligned and arr.flags.c_contiguous
    return arr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_inputs_are_read_through_an_aligned_copy(dtype):
    """Found by the fuzz harness under UBSan: the kernels loaded floats from odd addresses."""
    x, w = random((2, 3, 7, 7), dtype, seed=1), random((4, 3, 3, 3), dtype, seed=2)
    mx, mw = misaligned(x.shape, dtype, x), misaligned(w.shape, dtype, w)
    for _ in range(2):  # the second call takes the cached-plan path
        np.testing.assert_array_equal(fastconv.conv2d(mx, mw), fastconv.conv2d(x, w))
        np.testing.assert_array_equal(fastconv.max_pool2d(mx, 2), fastconv.max_pool2d(x, 2))
    np.testing.assert_array_equal(fastconv.relu(mx), fastconv.relu(x))
    np.testing.assert_array_equal(fastconv.avg_pool1d(mx[0, 0], 3), fastconv.avg_pool1d(x[0, 0], 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_passes_read_misaligned_arrays_through_an_aligned_copy(dtype):
    """Found by the sanitizer stage of CI: max_pool2d_backward loaded int64 indices from an odd address."""
    x, w = random((2, 3, 7, 7), dtype, seed=1), random((4, 3, 3, 3), dtype, seed=2)
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    go = random(y.shape, dtype, seed=3)
    mgo, midx = misaligned(go.shape, dtype, go), misaligned(idx.shape, np.int64, idx)
    np.testing.assert_array_equal(fastconv.max_pool2d_backward(mgo, midx, x.shape),
                                  fastconv.max_pool2d_backward(go, idx, x.shape))
    np.testing.assert_array_equal(fastconv.lp_pool2d_backward(mgo, misaligned(x.shape, dtype, x), 2, 2),
                                  fastconv.lp_pool2d_backward(go, x, 2, 2))
    gc = random((2, 4, 5, 5), dtype, seed=4)
    got = fastconv.conv2d_backward(misaligned(gc.shape, dtype, gc), misaligned(x.shape, dtype, x),
                                   misaligned(w.shape, dtype, w))
    want = fastconv.conv2d_backward(gc, x, w)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


@pytest.mark.parametrize("op", ["conv2d", "relu"])
def test_misaligned_out_is_refused_and_not_written(op):
    x, w = random((2, 3, 7, 7), np.float32, seed=1), random((4, 3, 3, 3), np.float32, seed=2)
    call = (lambda out: fastconv.conv2d(x, w, out=out)) if op == "conv2d" else (lambda out: fastconv.relu(x, out=out))
    out = misaligned(call(None).shape, np.float32, 7.0)
    with pytest.raises(ValueError, match="out must be aligned"):
        call(out)
    assert (out == 7.0).all()
