// The weight of a convolution's input gradient as a correlation (flipped_weights.cc).
#pragma once
#include <cstdint>

namespace fastconv {

// out (groups*Cg, Kg, taps) from w (groups*Kg, Cg, taps): each group's filter and channel
// roles swapped and every kernel's taps reversed (rotated by 180 degrees):
// out[g*Cg + c][k][taps - 1 - t] = w[g*Kg + k][c][t].
template <class T>
void flipped_transposed_weights(const T* w, int64_t groups, int64_t Kg, int64_t Cg, int64_t taps, T* out);

}  // namespace fastconv
