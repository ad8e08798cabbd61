// Kernels::dot for any lane type X (an ISA's Vec<T>, or ScalarLane<T> for the portable
// kernel): four chains of X::kLanes partial sums (a row's last n % L values in a fifth,
// scalar one), added in a fixed order at the end.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/dot.h"
#endif
#include <cstdint>

#include "kernels/generic/scalar_lane.h"

namespace fastconv::FASTCONV_ISA {

template <class T, class X>
T dot_lanes(const T* a, int64_t lda, const T* b, int64_t ldb, int64_t rows, int64_t n) {
  constexpr int L = X::kLanes;
  typename X::V acc[4] = {X::zero(), X::zero(), X::zero(), X::zero()};
  T tail = T(0);
  for (int64_t r = 0; r < rows; ++r, a += lda, b += ldb) {
    int64_t i = 0;
    for (; i + 4 * L <= n; i += 4 * L)
      for (int j = 0; j < 4; ++j) acc[j] = X::fma(X::load(a + i + j * L), X::load(b + i + j * L), acc[j]);
    for (int j = 0; i + L <= n; i += L, ++j) acc[j] = X::fma(X::load(a + i), X::load(b + i), acc[j]);
    for (; i < n; ++i) tail += a[i] * b[i];
  }
  T lanes[L];
  X::store(lanes, X::add(X::add(acc[0], acc[1]), X::add(acc[2], acc[3])));
  T sum = T(0);
  for (int j = 0; j < L; ++j) sum += lanes[j];
  return sum + tail;
}

}  // namespace fastconv::FASTCONV_ISA
