# Type stubs for fastconv (PEP 561: shipped beside __init__.py with the py.typed marker).
#
# Inputs are ``ArrayLike`` (anything numpy.asarray accepts); results are new NumPy arrays of the
# input's dtype. Every array-returning function has two overloads: a float32 or float64
# ``NDArray`` first argument gives an ``NDArray`` of that dtype, any other array-like gives
# ``NDArray[np.floating[Any]]`` (float32 or float64 at run time; other dtypes raise TypeError).
# String options are ``Literal`` types; ``return_indices=True`` returns a tuple (result, int64
# indices); the convolution backwards return a dict of the gradients named in ``needs``.
# Parameter names and defaults are those of the implementation (tests/test_typing.py checks).

from typing import Any, Iterable, Literal, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

from . import invariance as invariance
from . import reference as reference

__version__: str

__all__ = [
    "conv1d", "conv2d", "conv_transpose2d", "correlate2d", "convolve2d",
    "conv1d_backward", "conv2d_backward", "conv_transpose2d_backward",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "sum_pool1d", "sum_pool2d", "lp_pool2d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "global_avg_pool2d", "global_max_pool2d", "relu",
    "max_pool2d_backward", "max_pool1d_backward", "adaptive_max_pool2d_backward", "global_max_pool2d_backward",
    "avg_pool2d_backward", "avg_pool1d_backward", "sum_pool2d_backward", "sum_pool1d_backward",
    "lp_pool2d_backward", "adaptive_avg_pool2d_backward", "global_avg_pool2d_backward", "relu_backward",
    "blur_pool2d", "blur_pool1d", "max_blur_pool2d", "max_blur_pool1d",
    "blur_pool2d_backward", "blur_pool1d_backward", "max_blur_pool2d_backward", "max_blur_pool1d_backward",
    "backend", "set_backend", "get_num_threads", "set_num_threads", "show_config",
]

# ----------------------------------------------------------------------------- shared aliases

# The dtypes the kernels compute in: an NDArray of one of them keeps its dtype through every call.
_F = TypeVar("_F", np.float32, np.float64)
_FloatArray: TypeAlias = NDArray[np.floating[Any]]
_IndexArray: TypeAlias = NDArray[np.int64]

# Integers: Python ints or NumPy integer scalars (bool is refused at run time).
_Int: TypeAlias = int | np.integer[Any]
_Real: TypeAlias = float | np.integer[Any] | np.floating[Any]
_Int1: TypeAlias = _Int | tuple[_Int]
_Int2: TypeAlias = _Int | tuple[_Int, _Int]
_Shape: TypeAlias = tuple[_Int, ...] | list[_Int]  # x_shape: the forward input's shape

_PaddingString: TypeAlias = Literal["valid", "narrow", "same", "full", "wide"]
# int, (ph, pw), ((top, bottom), (left, right)) or a padding string
_Padding2d: TypeAlias = _Int | tuple[_Int, _Int] | tuple[tuple[_Int, _Int], tuple[_Int, _Int]] | _PaddingString
# int, (p,), (left, right), ((left, right),) or a padding string
_Padding1d: TypeAlias = _Int | tuple[_Int] | tuple[_Int, _Int] | tuple[tuple[_Int, _Int]] | _PaddingString
_PaddingMode: TypeAlias = Literal["zeros", "reflect", "replicate", "circular"]
_Activation: TypeAlias = Literal["relu"] | None
_Algorithm: TypeAlias = Literal["auto", "direct", "im2col", "im2col_nhwc", "winograd", "batched"]
_Layout: TypeAlias = Literal["NCHW", "NHWC"]
_GradName: TypeAlias = Literal["input", "weight", "bias"]
_Needs: TypeAlias = _GradName | Iterable[_GradName]
_OutputSize: TypeAlias = _Int | tuple[_Int | None, _Int | None]  # None keeps that input size
_CorrelateMode: TypeAlias = Literal["full", "same", "valid"]
_Boundary: TypeAlias = Literal["fill", "pad", "wrap", "circular", "symm", "symmetric"]

# ----------------------------------------------------------------------------- convolution

@overload
def conv2d(x: NDArray[_F], weight: ArrayLike, bias: ArrayLike | None = None, stride: _Int2 = 1,
           padding: _Padding2d = 0, dilation: _Int2 = 1, groups: _Int = 1, *, padding_mode: _PaddingMode = "zeros",
           activation: _Activation = None, algorithm: _Algorithm = "auto", out: NDArray[_F] | None = None,
           layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def conv2d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: _Int2 = 1,
           padding: _Padding2d = 0, dilation: _Int2 = 1, groups: _Int = 1, *, padding_mode: _PaddingMode = "zeros",
           activation: _Activation = None, algorithm: _Algorithm = "auto", out: _FloatArray | None = None,
           layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def conv1d(x: NDArray[_F], weight: ArrayLike, bias: ArrayLike | None = None, stride: _Int1 = 1,
           padding: _Padding1d = 0, dilation: _Int1 = 1, groups: _Int = 1, *, padding_mode: _PaddingMode = "zeros",
           activation: _Activation = None, algorithm: _Algorithm = "auto",
           out: NDArray[_F] | None = None) -> NDArray[_F]: ...
@overload
def conv1d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: _Int1 = 1,
           padding: _Padding1d = 0, dilation: _Int1 = 1, groups: _Int = 1, *, padding_mode: _PaddingMode = "zeros",
           activation: _Activation = None, algorithm: _Algorithm = "auto",
           out: _FloatArray | None = None) -> _FloatArray: ...

@overload
def conv_transpose2d(x: NDArray[_F], weight: ArrayLike, bias: ArrayLike | None = None, stride: _Int2 = 1,
                     padding: _Int2 = 0, output_padding: _Int2 = 0, groups: _Int = 1,
                     dilation: _Int2 = 1) -> NDArray[_F]: ...
@overload
def conv_transpose2d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: _Int2 = 1,
                     padding: _Int2 = 0, output_padding: _Int2 = 0, groups: _Int = 1,
                     dilation: _Int2 = 1) -> _FloatArray: ...

@overload
def correlate2d(image: NDArray[_F], kernel: ArrayLike, mode: _CorrelateMode = "full", boundary: _Boundary = "fill",
                fillvalue: _Real = 0) -> NDArray[_F]: ...
@overload
def correlate2d(image: ArrayLike, kernel: ArrayLike, mode: _CorrelateMode = "full", boundary: _Boundary = "fill",
                fillvalue: _Real = 0) -> _FloatArray: ...

@overload
def convolve2d(image: NDArray[_F], kernel: ArrayLike, mode: _CorrelateMode = "full", boundary: _Boundary = "fill",
               fillvalue: _Real = 0) -> NDArray[_F]: ...
@overload
def convolve2d(image: ArrayLike, kernel: ArrayLike, mode: _CorrelateMode = "full", boundary: _Boundary = "fill",
               fillvalue: _Real = 0) -> _FloatArray: ...

# Gradients of the convolutions: {"input": ..., "weight": ..., "bias": ...}, the names in ``needs``.

@overload
def conv2d_backward(grad_out: NDArray[_F], x: ArrayLike, weight: ArrayLike, stride: _Int2 = 1,
                    padding: _Padding2d = 0, dilation: _Int2 = 1, groups: _Int = 1, *,
                    padding_mode: _PaddingMode = "zeros", needs: _Needs = ("input", "weight", "bias"),
                    layout: _Layout = "NCHW") -> dict[str, NDArray[_F]]: ...
@overload
def conv2d_backward(grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike, stride: _Int2 = 1,
                    padding: _Padding2d = 0, dilation: _Int2 = 1, groups: _Int = 1, *,
                    padding_mode: _PaddingMode = "zeros", needs: _Needs = ("input", "weight", "bias"),
                    layout: _Layout = "NCHW") -> dict[str, _FloatArray]: ...

@overload
def conv1d_backward(grad_out: NDArray[_F], x: ArrayLike, weight: ArrayLike, stride: _Int1 = 1,
                    padding: _Padding1d = 0, dilation: _Int1 = 1, groups: _Int = 1, *,
                    padding_mode: _PaddingMode = "zeros",
                    needs: _Needs = ("input", "weight", "bias")) -> dict[str, NDArray[_F]]: ...
@overload
def conv1d_backward(grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike, stride: _Int1 = 1,
                    padding: _Padding1d = 0, dilation: _Int1 = 1, groups: _Int = 1, *,
                    padding_mode: _PaddingMode = "zeros",
                    needs: _Needs = ("input", "weight", "bias")) -> dict[str, _FloatArray]: ...

@overload
def conv_transpose2d_backward(grad_out: NDArray[_F], x: ArrayLike, weight: ArrayLike, stride: _Int2 = 1,
                              padding: _Int2 = 0, output_padding: _Int2 = 0, groups: _Int = 1, dilation: _Int2 = 1,
                              *, needs: _Needs = ("input", "weight", "bias")) -> dict[str, NDArray[_F]]: ...
@overload
def conv_transpose2d_backward(grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike, stride: _Int2 = 1,
                              padding: _Int2 = 0, output_padding: _Int2 = 0, groups: _Int = 1, dilation: _Int2 = 1,
                              *, needs: _Needs = ("input", "weight", "bias")) -> dict[str, _FloatArray]: ...

# ----------------------------------------------------------------------------- max pools
# return_indices=True (by keyword, or positionally after every earlier argument) returns
# (result, int64 indices); a plain bool gives the union.

@overload
def max_pool2d(x: NDArray[_F], kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               dilation: _Int2 = 1, ceil_mode: bool = False, return_indices: Literal[False] = False, *,
               layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def max_pool2d(x: ArrayLike, kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               dilation: _Int2 = 1, ceil_mode: bool = False, return_indices: Literal[False] = False, *,
               layout: _Layout = "NCHW") -> _FloatArray: ...
@overload
def max_pool2d(x: NDArray[_F], kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               dilation: _Int2 = 1, ceil_mode: bool = False, *, return_indices: Literal[True],
               layout: _Layout = "NCHW") -> tuple[NDArray[_F], _IndexArray]: ...
@overload
def max_pool2d(x: ArrayLike, kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               dilation: _Int2 = 1, ceil_mode: bool = False, *, return_indices: Literal[True],
               layout: _Layout = "NCHW") -> tuple[_FloatArray, _IndexArray]: ...
@overload
def max_pool2d(x: NDArray[_F], kernel_size: _Int2, stride: _Int2 | None, padding: _Int2, dilation: _Int2,
               ceil_mode: bool, return_indices: Literal[True], *,
               layout: _Layout = "NCHW") -> tuple[NDArray[_F], _IndexArray]: ...
@overload
def max_pool2d(x: ArrayLike, kernel_size: _Int2, stride: _Int2 | None, padding: _Int2, dilation: _Int2,
               ceil_mode: bool, return_indices: Literal[True], *,
               layout: _Layout = "NCHW") -> tuple[_FloatArray, _IndexArray]: ...
@overload
def max_pool2d(x: ArrayLike, kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               dilation: _Int2 = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               layout: _Layout = "NCHW") -> _FloatArray | tuple[_FloatArray, _IndexArray]: ...

@overload
def max_pool1d(x: NDArray[_F], kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               dilation: _Int1 = 1, ceil_mode: bool = False, return_indices: Literal[False] = False) -> NDArray[_F]: ...
@overload
def max_pool1d(x: ArrayLike, kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               dilation: _Int1 = 1, ceil_mode: bool = False, return_indices: Literal[False] = False) -> _FloatArray: ...
@overload
def max_pool1d(x: NDArray[_F], kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               dilation: _Int1 = 1, ceil_mode: bool = False, *,
               return_indices: Literal[True]) -> tuple[NDArray[_F], _IndexArray]: ...
@overload
def max_pool1d(x: ArrayLike, kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               dilation: _Int1 = 1, ceil_mode: bool = False, *,
               return_indices: Literal[True]) -> tuple[_FloatArray, _IndexArray]: ...
@overload
def max_pool1d(x: NDArray[_F], kernel_size: _Int1, stride: _Int1 | None, padding: _Int1, dilation: _Int1,
               ceil_mode: bool, return_indices: Literal[True]) -> tuple[NDArray[_F], _IndexArray]: ...
@overload
def max_pool1d(x: ArrayLike, kernel_size: _Int1, stride: _Int1 | None, padding: _Int1, dilation: _Int1,
               ceil_mode: bool, return_indices: Literal[True]) -> tuple[_FloatArray, _IndexArray]: ...
@overload
def max_pool1d(x: ArrayLike, kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               dilation: _Int1 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> _FloatArray | tuple[_FloatArray, _IndexArray]: ...

@overload
def adaptive_max_pool2d(x: NDArray[_F], output_size: _OutputSize, return_indices: Literal[False] = False, *,
                        layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def adaptive_max_pool2d(x: ArrayLike, output_size: _OutputSize, return_indices: Literal[False] = False, *,
                        layout: _Layout = "NCHW") -> _FloatArray: ...
@overload
def adaptive_max_pool2d(x: NDArray[_F], output_size: _OutputSize, return_indices: Literal[True], *,
                        layout: _Layout = "NCHW") -> tuple[NDArray[_F], _IndexArray]: ...
@overload
def adaptive_max_pool2d(x: ArrayLike, output_size: _OutputSize, return_indices: Literal[True], *,
                        layout: _Layout = "NCHW") -> tuple[_FloatArray, _IndexArray]: ...
@overload
def adaptive_max_pool2d(x: ArrayLike, output_size: _OutputSize, return_indices: bool = False, *,
                        layout: _Layout = "NCHW") -> _FloatArray | tuple[_FloatArray, _IndexArray]: ...

@overload
def global_max_pool2d(x: NDArray[_F], *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def global_max_pool2d(x: ArrayLike, *, layout: _Layout = "NCHW") -> _FloatArray: ...

# ----------------------------------------------------------------------------- average, sum, power pools

@overload
def avg_pool2d(x: NDArray[_F], kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: _Int | None = None, *,
               layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def avg_pool2d(x: ArrayLike, kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: _Int | None = None, *,
               layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def avg_pool1d(x: NDArray[_F], kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> NDArray[_F]: ...
@overload
def avg_pool1d(x: ArrayLike, kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> _FloatArray: ...

@overload
def sum_pool2d(x: NDArray[_F], kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               ceil_mode: bool = False, *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def sum_pool2d(x: ArrayLike, kernel_size: _Int2, stride: _Int2 | None = None, padding: _Int2 = 0,
               ceil_mode: bool = False, *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def sum_pool1d(x: NDArray[_F], kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               ceil_mode: bool = False) -> NDArray[_F]: ...
@overload
def sum_pool1d(x: ArrayLike, kernel_size: _Int1, stride: _Int1 | None = None, padding: _Int1 = 0,
               ceil_mode: bool = False) -> _FloatArray: ...

@overload
def lp_pool2d(x: NDArray[_F], norm_type: _Real, kernel_size: _Int2, stride: _Int2 | None = None,
              ceil_mode: bool = False, *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def lp_pool2d(x: ArrayLike, norm_type: _Real, kernel_size: _Int2, stride: _Int2 | None = None,
              ceil_mode: bool = False, *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def adaptive_avg_pool2d(x: NDArray[_F], output_size: _OutputSize, *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def adaptive_avg_pool2d(x: ArrayLike, output_size: _OutputSize, *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def global_avg_pool2d(x: NDArray[_F], *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def global_avg_pool2d(x: ArrayLike, *, layout: _Layout = "NCHW") -> _FloatArray: ...

# ----------------------------------------------------------------------------- activation

@overload
def relu(x: NDArray[_F], out: NDArray[_F] | None = None) -> NDArray[_F]: ...
@overload
def relu(x: ArrayLike, out: _FloatArray | None = None) -> _FloatArray: ...

# ----------------------------------------------------------------------------- pool and relu backwards
# The input's gradient, x_shape (or x's shape), in grad_out's dtype.

@overload
def max_pool2d_backward(grad_out: NDArray[_F], indices: ArrayLike, x_shape: _Shape, *,
                        layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def max_pool2d_backward(grad_out: ArrayLike, indices: ArrayLike, x_shape: _Shape, *,
                        layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def max_pool1d_backward(grad_out: NDArray[_F], indices: ArrayLike, x_shape: _Shape) -> NDArray[_F]: ...
@overload
def max_pool1d_backward(grad_out: ArrayLike, indices: ArrayLike, x_shape: _Shape) -> _FloatArray: ...

@overload
def adaptive_max_pool2d_backward(grad_out: NDArray[_F], indices: ArrayLike, x_shape: _Shape, *,
                                 layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def adaptive_max_pool2d_backward(grad_out: ArrayLike, indices: ArrayLike, x_shape: _Shape, *,
                                 layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def global_max_pool2d_backward(grad_out: NDArray[_F], indices: ArrayLike, x_shape: _Shape, *,
                               layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def global_max_pool2d_backward(grad_out: ArrayLike, indices: ArrayLike, x_shape: _Shape, *,
                               layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def avg_pool2d_backward(grad_out: NDArray[_F], x_shape: _Shape, kernel_size: _Int2, stride: _Int2 | None = None,
                        padding: _Int2 = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: _Int | None = None, *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def avg_pool2d_backward(grad_out: ArrayLike, x_shape: _Shape, kernel_size: _Int2, stride: _Int2 | None = None,
                        padding: _Int2 = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: _Int | None = None, *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def avg_pool1d_backward(grad_out: NDArray[_F], x_shape: _Shape, kernel_size: _Int1, stride: _Int1 | None = None,
                        padding: _Int1 = 0, ceil_mode: bool = False,
                        count_include_pad: bool = True) -> NDArray[_F]: ...
@overload
def avg_pool1d_backward(grad_out: ArrayLike, x_shape: _Shape, kernel_size: _Int1, stride: _Int1 | None = None,
                        padding: _Int1 = 0, ceil_mode: bool = False,
                        count_include_pad: bool = True) -> _FloatArray: ...

@overload
def sum_pool2d_backward(grad_out: NDArray[_F], x_shape: _Shape, kernel_size: _Int2, stride: _Int2 | None = None,
                        padding: _Int2 = 0, ceil_mode: bool = False, *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def sum_pool2d_backward(grad_out: ArrayLike, x_shape: _Shape, kernel_size: _Int2, stride: _Int2 | None = None,
                        padding: _Int2 = 0, ceil_mode: bool = False, *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def sum_pool1d_backward(grad_out: NDArray[_F], x_shape: _Shape, kernel_size: _Int1, stride: _Int1 | None = None,
                        padding: _Int1 = 0, ceil_mode: bool = False) -> NDArray[_F]: ...
@overload
def sum_pool1d_backward(grad_out: ArrayLike, x_shape: _Shape, kernel_size: _Int1, stride: _Int1 | None = None,
                        padding: _Int1 = 0, ceil_mode: bool = False) -> _FloatArray: ...

@overload
def lp_pool2d_backward(grad_out: NDArray[_F], x: ArrayLike, norm_type: _Real, kernel_size: _Int2,
                       stride: _Int2 | None = None, ceil_mode: bool = False, *,
                       layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def lp_pool2d_backward(grad_out: ArrayLike, x: ArrayLike, norm_type: _Real, kernel_size: _Int2,
                       stride: _Int2 | None = None, ceil_mode: bool = False, *,
                       layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def adaptive_avg_pool2d_backward(grad_out: NDArray[_F], x_shape: _Shape, *,
                                 layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def adaptive_avg_pool2d_backward(grad_out: ArrayLike, x_shape: _Shape, *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def global_avg_pool2d_backward(grad_out: NDArray[_F], x_shape: _Shape, *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def global_avg_pool2d_backward(grad_out: ArrayLike, x_shape: _Shape, *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def relu_backward(grad_out: NDArray[_F], x: ArrayLike) -> NDArray[_F]: ...
@overload
def relu_backward(grad_out: ArrayLike, x: ArrayLike) -> _FloatArray: ...

# ----------------------------------------------------------------------------- anti-aliased pools

@overload
def blur_pool2d(x: NDArray[_F], filter_size: _Int = 4, stride: _Int2 = 2, padding_mode: _PaddingMode = "reflect", *,
                layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def blur_pool2d(x: ArrayLike, filter_size: _Int = 4, stride: _Int2 = 2, padding_mode: _PaddingMode = "reflect", *,
                layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def blur_pool1d(x: NDArray[_F], filter_size: _Int = 4, stride: _Int1 = 2,
                padding_mode: _PaddingMode = "reflect") -> NDArray[_F]: ...
@overload
def blur_pool1d(x: ArrayLike, filter_size: _Int = 4, stride: _Int1 = 2,
                padding_mode: _PaddingMode = "reflect") -> _FloatArray: ...

@overload
def max_blur_pool2d(x: NDArray[_F], kernel_size: _Int2 = 2, stride: _Int2 = 2, filter_size: _Int = 4,
                    padding: _Int2 = 0, padding_mode: _PaddingMode = "reflect", *,
                    layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def max_blur_pool2d(x: ArrayLike, kernel_size: _Int2 = 2, stride: _Int2 = 2, filter_size: _Int = 4,
                    padding: _Int2 = 0, padding_mode: _PaddingMode = "reflect", *,
                    layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def max_blur_pool1d(x: NDArray[_F], kernel_size: _Int1 = 2, stride: _Int1 = 2, filter_size: _Int = 4,
                    padding: _Int1 = 0, padding_mode: _PaddingMode = "reflect") -> NDArray[_F]: ...
@overload
def max_blur_pool1d(x: ArrayLike, kernel_size: _Int1 = 2, stride: _Int1 = 2, filter_size: _Int = 4,
                    padding: _Int1 = 0, padding_mode: _PaddingMode = "reflect") -> _FloatArray: ...

@overload
def blur_pool2d_backward(grad_out: NDArray[_F], x_shape: _Shape, filter_size: _Int = 4, stride: _Int2 = 2,
                         padding_mode: _PaddingMode = "reflect", *, layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def blur_pool2d_backward(grad_out: ArrayLike, x_shape: _Shape, filter_size: _Int = 4, stride: _Int2 = 2,
                         padding_mode: _PaddingMode = "reflect", *, layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def blur_pool1d_backward(grad_out: NDArray[_F], x_shape: _Shape, filter_size: _Int = 4, stride: _Int1 = 2,
                         padding_mode: _PaddingMode = "reflect") -> NDArray[_F]: ...
@overload
def blur_pool1d_backward(grad_out: ArrayLike, x_shape: _Shape, filter_size: _Int = 4, stride: _Int1 = 2,
                         padding_mode: _PaddingMode = "reflect") -> _FloatArray: ...

@overload
def max_blur_pool2d_backward(grad_out: NDArray[_F], x: ArrayLike, kernel_size: _Int2 = 2, stride: _Int2 = 2,
                             filter_size: _Int = 4, padding: _Int2 = 0, padding_mode: _PaddingMode = "reflect", *,
                             layout: _Layout = "NCHW") -> NDArray[_F]: ...
@overload
def max_blur_pool2d_backward(grad_out: ArrayLike, x: ArrayLike, kernel_size: _Int2 = 2, stride: _Int2 = 2,
                             filter_size: _Int = 4, padding: _Int2 = 0, padding_mode: _PaddingMode = "reflect", *,
                             layout: _Layout = "NCHW") -> _FloatArray: ...

@overload
def max_blur_pool1d_backward(grad_out: NDArray[_F], x: ArrayLike, kernel_size: _Int1 = 2, stride: _Int1 = 2,
                             filter_size: _Int = 4, padding: _Int1 = 0,
                             padding_mode: _PaddingMode = "reflect") -> NDArray[_F]: ...
@overload
def max_blur_pool1d_backward(grad_out: ArrayLike, x: ArrayLike, kernel_size: _Int1 = 2, stride: _Int1 = 2,
                             filter_size: _Int = 4, padding: _Int1 = 0,
                             padding_mode: _PaddingMode = "reflect") -> _FloatArray: ...

# ----------------------------------------------------------------------------- configuration

def backend() -> str: ...
def set_backend(name: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: _Int) -> None: ...
def show_config() -> None: ...
