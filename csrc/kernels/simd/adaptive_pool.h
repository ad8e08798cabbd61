// Adaptive average pooling: the whole-plane case (global average pooling) sums the
// contiguous plane in vector lanes with two accumulators instead of one dependent scalar
// chain; other output sizes use the scalar kernel. ISA-neutral (see simd/gemm_mx2v.h).
#pragma once
#include "kernels/generic/pool_planes.h"

namespace fastconv::FASTCONV_ISA {

template <class T>
T plane_sum(const T* in, int64_t n) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  typename X::V a = X::zero(), b = X::zero();
  int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    a = X::add(a, X::load(in + i));
    b = X::add(b, X::load(in + i + L));
  }
  T lanes[L];
  X::store(lanes, X::add(a, b));
  T total = 0;
  for (int l = 0; l < L; ++l) total += lanes[l];
  for (; i < n; ++i) total += in[i];
  return total;
}

template <class T>
void adaptive_avg_plane_simd(const T* in, T* out, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  if (OH == 1 && OW == 1)
    out[0] = plane_sum(in, H * W) / static_cast<T>(H * W);
  else
    adaptive_avg_plane(in, out, H, W, OH, OW);
}

}  // namespace fastconv::FASTCONV_ISA
