#include "conv/flipped_weights.h"

#include <algorithm>

#include "common/parallel.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

constexpr int64_t kFilterBlock = 16;  // filters whose rows one work item reads side by side

// Filters [k0, k1) of one group: out[c][k][taps - 1 - t] = w[k][c][t]. Taps: the kernel
// size when fixed at compile time (3x3), else 0.
template <class T, int Taps>
void reverse_kernels(const T* w, T* out, int64_t Kg, int64_t Cg, int64_t taps, int64_t k0, int64_t k1) {
  const int64_t n = Taps > 0 ? Taps : taps;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t k = k0; k < k1; ++k) {
      const T* kernel = w + (k * Cg + c) * n;
      T* flipped = out + (c * Kg + k) * n;
      for (int64_t t = 0; t < n; ++t) flipped[t] = kernel[n - 1 - t];
    }
}

}  // namespace

template <class T>
void flipped_transposed_weights(const T* w, int64_t groups, int64_t Kg, int64_t Cg, int64_t taps, T* out) {
  const int64_t group_values = Kg * Cg * taps;
  const Kernels<T>& kern = kernels<T>();
  const int64_t blocks = (Kg + kFilterBlock - 1) / kFilterBlock;
  if (taps == 1) {  // a plain transpose per group, in blocks of filters
    parallel_for(groups * blocks, groups * group_values, [&](int64_t item) {
      const int64_t g = item / blocks, k0 = item % blocks * kFilterBlock, rows = std::min(kFilterBlock, Kg - k0);
      kern.transpose(w + g * group_values + k0 * Cg, Cg, out + g * group_values + k0, Kg, rows, Cg);
    });
    return;
  }
  // A work item reads a block of filters' rows side by side and writes, per channel, the
  // block's reversed kernels: a contiguous run of out.
  parallel_for(groups * blocks, groups * group_values, [&](int64_t item) {
    const int64_t g = item / blocks, k0 = item % blocks * kFilterBlock, k1 = std::min(Kg, k0 + kFilterBlock);
    const T* wg = w + g * group_values;
    T* og = out + g * group_values;
    if (taps == 9)
      reverse_kernels<T, 9>(wg, og, Kg, Cg, taps, k0, k1);
    else
      reverse_kernels<T, 0>(wg, og, Kg, Cg, taps, k0, k1);
  });
}

template void flipped_transposed_weights<float>(const float*, int64_t, int64_t, int64_t, int64_t, float*);
template void flipped_transposed_weights<double>(const double*, int64_t, int64_t, int64_t, int64_t, double*);

}  // namespace fastconv
