// The blur pools' two passes for any lane type X (an ISA's Vec<T>, or ScalarLane<T> for the
// portable kernels): a weighted sum of whole rows (the vertical pass, and an NHWC pixel's
// channels in the horizontal one) and a weighted sum of taps along one row at a stride (the
// horizontal pass of a plane). Each output is 0 plus its terms in tap order (as the NumPy
// reference sums), whatever its lane: results do not depend on the position in a vector.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/blur_taps.h"
#endif
#include <cstdint>

#include "kernels/generic/scalar_lane.h"

namespace fastconv::FASTCONV_ISA {

template <class T, class X>
void weighted_rows_lanes(const T* const* rows, const T* weights, int count, int64_t n, T* out) {
  using S = ScalarLane<T>;
  constexpr int L = X::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    typename X::V acc = X::zero();
    for (int r = 0; r < count; ++r) acc = X::fma(X::set1(weights[r]), X::load(rows[r] + i), acc);
    X::store(out + i, acc);
  }
  for (; i < n; ++i) {
    T acc = T(0);
    for (int r = 0; r < count; ++r) acc = S::fma(weights[r], rows[r][i], acc);
    out[i] = acc;
  }
}

// out[o] = sum over j < k of weights[j] * in[o*step + j], o < n. With step 2 the SIMD lanes
// read in pairs (Vec::load_pairs), up to one value past in[(n-1)*2 + k - 1]: `in` needs one
// readable value of slack.
template <class T, class X>
void strided_taps_lanes(const T* in, const T* weights, int k, int64_t step, int64_t n, T* out) {
  using S = ScalarLane<T>;
  constexpr int L = X::kLanes;
  int64_t o = 0;
  if constexpr (L > 1) {
    if (step == 1) {
      for (; o + L <= n; o += L) {
        typename X::V acc = X::zero();
        for (int j = 0; j < k; ++j) acc = X::fma(X::set1(weights[j]), X::load(in + o + j), acc);
        X::store(out + o, acc);
      }
    } else if (step == 2) {
      for (; o + L <= n; o += L) {
        typename X::V even, odd, acc;
        X::load_pairs(in + 2 * o, &even, &odd);
        acc = X::fma(X::set1(weights[0]), even, X::zero());
        if (k > 1) acc = X::fma(X::set1(weights[1]), odd, acc);
        for (int j = 2; j < k; j += 2) {
          X::load_pairs(in + 2 * o + j, &even, &odd);
          acc = X::fma(X::set1(weights[j]), even, acc);
          if (j + 1 < k) acc = X::fma(X::set1(weights[j + 1]), odd, acc);
        }
        X::store(out + o, acc);
      }
    }
  }
  for (; o < n; ++o) {
    const T* p = in + o * step;
    T acc = T(0);
    for (int j = 0; j < k; ++j) acc = S::fma(weights[j], p[j], acc);
    out[o] = acc;
  }
}

}  // namespace fastconv::FASTCONV_ISA
