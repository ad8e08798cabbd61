# Type stubs for fastconv.invariance: measuring shift equivariance and invariance of any
# callable on NumPy arrays.

from typing import Any, Callable, Iterable, Literal, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import TypeAlias

__all__ = ["shift", "shift_equivariance_error", "shift_consistency"]

_S = TypeVar("_S", bound=np.generic)
_Int: TypeAlias = int | np.integer[Any]
_Mode: TypeAlias = Literal["circular", "zeros"]
# One amount for every axis, or one per axis.
_Amount: TypeAlias = _Int | tuple[_Int, ...] | list[_Int]

SHIFT_MODES: tuple[_Mode, ...]

@overload
def shift(x: NDArray[_S], amount: _Amount, mode: _Mode = "circular",
          axes: Iterable[_Int] = (-2, -1)) -> NDArray[_S]: ...
@overload
def shift(x: ArrayLike, amount: _Amount, mode: _Mode = "circular", axes: Iterable[_Int] = (-2, -1)) -> NDArray[Any]: ...

def shift_equivariance_error(fn: Callable[[NDArray[Any]], ArrayLike], x: ArrayLike, shifts: Iterable[_Amount], *,
                             stride: _Int | tuple[_Int, ...] | list[_Int] = 1, mode: _Mode = "circular",
                             border: _Int = 0, axes: Iterable[_Int] = (-2, -1)) -> NDArray[np.float64]: ...

def shift_consistency(predict: Callable[[NDArray[Any]], ArrayLike], images: ArrayLike, max_shift: _Int,
                      trials: _Int = 1000, *, mode: _Mode = "circular", seed: int | None = 0,
                      batch_size: int = 256) -> float: ...
