// Elementwise AVX2 kernels: relu.
#pragma once
#include "kernels/avx2/vec_avx2.h"

namespace fastconv::avx2 {

template <class T>
void relu_avx2(const T* in, T* out, int64_t n) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) X::store(out + i, X::max_keep_nan(X::zero(), X::load(in + i)));
  for (; i < n; ++i) out[i] = in[i] < T(0) ? T(0) : in[i];
}

}  // namespace fastconv::avx2
