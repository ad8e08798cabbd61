// Elementwise SIMD kernels: relu and its backward.
#pragma once
// ISA-neutral SIMD kernel template: the including fill file defines FASTCONV_ISA and
// provides that ISA's Vec<T> traits (see avx2/vec_avx2.h) before including this header.
#include <cstdint>

namespace fastconv::FASTCONV_ISA {

template <class T>
void relu_simd(const T* in, T* out, int64_t n) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) X::store(out + i, X::max_keep_nan(X::zero(), X::load(in + i)));
  for (; i < n; ++i) out[i] = in[i] < T(0) ? T(0) : in[i];
}

template <class T>
void relu_backward_simd(const T* grad_out, const T* x, T* grad_in, int64_t n) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L)
    X::store(grad_in + i, X::blend(X::zero(), X::load(grad_out + i), X::gt_or_nan(X::load(x + i), X::zero())));
  for (; i < n; ++i) grad_in[i] = x[i] <= T(0) ? T(0) : grad_out[i];
}

}  // namespace fastconv::FASTCONV_ISA
