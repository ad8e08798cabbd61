// Materialised padding of (planes, H, W) for the non-zero padding modes. Index rules are
// NumPy's np.pad ones, including pads larger than the input (periodic reflection).
#pragma once
#include <cstdint>

namespace fastconv {

enum class PadMode : int { Constant = 0, Reflect = 1, Replicate = 2, Circular = 3, Symmetric = 4 };

// Source index in [0, n) of padded coordinate i (which may lie outside [0, n)), or -1 for
// Constant mode outside the input.
int64_t pad_source_index(int64_t i, int64_t n, PadMode mode);

// out has shape (planes, H + top + bottom, W + left + right).
template <class T>
void pad2d(const T* in, T* out, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t bottom,
           int64_t left, int64_t right, PadMode mode, T fill);

}  // namespace fastconv
