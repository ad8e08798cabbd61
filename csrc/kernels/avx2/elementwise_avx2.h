// Elementwise AVX2 kernels: relu and the strided axpy of the direct convolution.
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

template <class T>
void axpy_strided_avx2(T* out, const T* in, T w, int64_t count, int64_t in_step) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  const typename X::V wv = X::set1(w);
  int64_t i = 0;
  if (in_step == 1) {
    for (; i + L <= count; i += L) X::store(out + i, X::fma(wv, X::load(in + i), X::load(out + i)));
  } else if (in_step == 2) {  // load_even reads 2L elements: keep the last read inside the row
    for (; i + L <= count - 1; i += L) X::store(out + i, X::fma(wv, X::load_even(in + 2 * i), X::load(out + i)));
  }
  for (; i < count; ++i) out[i] += w * in[i * in_step];
}

}  // namespace fastconv::avx2
