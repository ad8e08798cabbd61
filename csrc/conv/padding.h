// Padding of input rows for the convolution kernels' own padded copies. Index rules are
// NumPy's np.pad ones, including pads larger than the input (periodic reflection).
#pragma once
#include <cstdint>
#include "common/heap_vector.h"
#include "common/ranges.h"

namespace fastconv {

enum class PadMode : int { Constant = 0, Reflect = 1, Replicate = 2, Circular = 3, Symmetric = 4 };

// How padded positions are filled: `mode`, and `fill` where it is Constant.
template <class T>
struct Padding {
  PadMode mode;
  T fill;
};

// Source index in [0, n) of padded coordinate i (which may lie outside [0, n)), or -1 for
// Constant mode outside the input.
int64_t pad_source_index(int64_t i, int64_t n, PadMode mode);

// map[j] = source index of position j * step + offset of an axis of n values (see above).
IndexMap pad_index_map(int64_t count, int64_t step, int64_t offset, int64_t n, PadMode mode);

// One padded row of `count` positions of `width` values each (1, or an NHWC pixel's
// channels): position j is source position map[j], the fill where map[j] < 0, and the fill
// everywhere when src is null (a row outside the input in Constant mode). Over `straight`,
// map[j] runs up one by one and is copied in one go.
template <class T>
void pad_row(T* dst, const T* src, const int64_t* map, int64_t count, Range straight, T fill, int64_t width = 1);

}  // namespace fastconv
