"""Inputs and out= arrays from other libraries: anything with __dlpack__ or the buffer
protocol (CPU torch tensors, memoryviews, memory-mapped and read-only arrays) is read or
written in place, without a copy, when it is contiguous; the proof is the data address the
kernel receives, and the traced memory of a large call."""

import mmap
import tracemalloc

import numpy as np
import pytest

import fastconv
from conftest import random


@pytest.fixture(autouse=True)
def backend():
    """One run (the default backend): the conversion happens before any kernel."""
    yield None


class DLPackOnly:
    """An array known to NumPy only through the DLPack protocol (as a JAX or CuPy host array)."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def address(arr):
    return np.asarray(arr).__array_interface__["data"][0]


def sources(x):
    """(kind, an object holding x's values, the address of the memory it holds them in)."""
    read_only = x.copy()
    read_only.flags.writeable = False
    mapped = np.frombuffer(mmap.mmap(-1, x.nbytes), x.dtype).reshape(x.shape)
    mapped[...] = x
    found = [("ndarray, read-only", read_only, address(read_only)), ("memoryview", memoryview(x), address(x)),
             ("DLPack-only object", DLPackOnly(x), address(x)), ("memory-mapped", mapped, address(mapped))]
    try:
        import torch
    except ImportError:
        return found
    tensor = torch.from_numpy(x.copy())
    return found + [("torch tensor", tensor, tensor.data_ptr())]


CALLS = {
    "conv2d": ("conv2d", lambda v, w: fastconv.conv2d(v, w, padding=1)),
    "max_pool2d": ("max_pool2d", lambda v, w: fastconv.max_pool2d(v, 2)),
    "avg_pool2d": ("window_pool2d", lambda v, w: fastconv.avg_pool2d(v, 3, 2, 1)),
    "blur_pool2d": ("blur_pool2d", lambda v, w: fastconv.blur_pool2d(v)),
    "relu": ("relu", lambda v, w: fastconv.relu(v)),
    "conv2d_backward (grad_out)": ("conv2d_grad_weight",
                                   lambda v, w: fastconv.conv2d_backward(v, v, w[:, :, :1, :1], needs="weight")),
}


@pytest.mark.parametrize("call", CALLS)
def test_contiguous_inputs_reach_the_kernel_in_place(call, monkeypatch):
    kernel, fn = CALLS[call]
    x = random((2, 4, 16, 16), np.float32, seed=1)
    w = random((4, 4, 3, 3), np.float32, seed=2)
    want = fn(x, w)
    seen = []
    original = getattr(fastconv._core, kernel)

    def recording(*args, **kwargs):
        seen.append(address(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(fastconv._core, kernel, recording)
    for kind, source, memory in sources(x):
        seen.clear()
        got = fn(source, w)
        assert seen and seen[0] == memory, kind  # the kernel read the source's own memory
        for a, b in zip(got.values() if isinstance(got, dict) else (got,),
                        want.values() if isinstance(want, dict) else (want,)):
            np.testing.assert_array_equal(a, b, err_msg=kind)


def test_a_large_input_is_not_copied():
    """64 MB in, 16 MB out: the traced peak stays below the input's size for a contiguous
    tensor or memoryview, and reaches it for a transposed view (which must be copied)."""
    x = np.zeros((16, 64, 128, 128), np.float32)
    x[:, :, ::3, ::5] = 1.0

    def peak_of(source):
        tracemalloc.start()
        try:
            fastconv.max_pool2d(source, 2)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    inputs = [memoryview(x), DLPackOnly(x)]
    try:
        import torch
        inputs.append(torch.from_numpy(x))
    except ImportError:
        pass
    for source in inputs:
        assert peak_of(source) < x.nbytes // 4, type(source).__name__
    transposed = np.swapaxes(x, 2, 3)
    assert peak_of(transposed) >= x.nbytes  # the measurement does see a copy


def test_out_may_be_a_tensor_or_a_writeable_buffer():
    x = random((2, 3, 8, 8), np.float32, seed=3)
    want = fastconv.relu(x)
    buffer = bytearray(x.nbytes)
    view = memoryview(buffer).cast("B").cast("f", x.shape)
    result = fastconv.relu(x, out=view)
    np.testing.assert_array_equal(np.frombuffer(buffer, np.float32).reshape(x.shape), want)
    assert address(result) == address(np.frombuffer(buffer, np.float32))
    w = random((5, 3, 3, 3), np.float32, seed=4)
    torch = pytest.importorskip("torch")
    out = torch.empty(2, 5, 6, 6)
    result = fastconv.conv2d(x, w, out=out)
    assert address(result) == out.data_ptr()
    np.testing.assert_array_equal(out.numpy(), fastconv.conv2d(x, w))


def test_out_objects_that_cannot_take_the_result_are_refused():
    x = random((2, 3, 8, 8), np.float32, seed=5)
    with pytest.raises(ValueError, match="writeable"):
        fastconv.relu(x, out=memoryview(bytes(x.nbytes)).cast("B").cast("f", x.shape))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray or an object exposing"):
        fastconv.relu(x, out=[0.0] * x.size)
    with pytest.raises(TypeError, match="dtype"):
        fastconv.relu(x, out=memoryview(bytearray(x.nbytes)))  # bytes, not float32


def test_tensors_the_kernels_cannot_read_give_a_clear_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="x must"):
        fastconv.max_pool2d(torch.ones(1, 1, 4, 4, requires_grad=True), 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        fastconv.max_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.float16), 2)
