// ISA-neutral SIMD kernel template: the including fill file defines FASTCONV_ISA and
// provides that ISA's Vec<T> traits (see avx2/vec_avx2.h) before including this header.
// Direct-convolution row kernel: a strip of up to 8 vectors of one output row stays in registers while every tap is applied, then is stored once. Stride 1
// loads contiguously (the row's last n % L outputs in one masked vector), stride 2
// deinterleaves; other strides and a stride-2 row's tail are scalar.
#pragma once
#include "kernels/generic/conv_row.h"

namespace fastconv::FASTCONV_ISA {

template <class T, int SW, int NV>
void conv_row_strip(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  typename X::V acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = X::load(out + v * L);
  for (int64_t ky = 0; ky < kh; ++ky) {
    const T* row = in + ky * row_step;
    for (int64_t kx = 0; kx < kw; ++kx) {
      const typename X::V wv = X::set1(w[ky * kw + kx]);
      const T* p = row + kx * dw;
      for (int v = 0; v < NV; ++v) {
        const typename X::V x = SW == 1 ? X::load(p + v * L) : X::load_even(p + v * L * SW);
        acc[v] = X::fma(wv, x, acc[v]);
      }
    }
  }
  for (int v = 0; v < NV; ++v) X::store(out + v * L, acc[v]);
}

// The last n (< NV) vectors of a row as one strip, so that their FMA chains overlap.
template <class T, int SW, int NV>
void conv_row_rest(int64_t n, T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw) {
  if constexpr (NV > 0) {
    if (n == NV) return conv_row_strip<T, SW, NV>(out, in, row_step, w, kh, kw, dw);
    conv_row_rest<T, SW, NV - 1>(n, out, in, row_step, w, kh, kw, dw);
  }
}

template <class T, int SW>
int64_t conv_row_vectors(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw,
                         int64_t count) {
  constexpr int L = Vec<T>::kLanes, NV = 8;  // 8 independent accumulator chains hide the FMA latency
  // Stride 2 loads one element past the last output's tap: stop a vector short of the end.
  const int64_t limit = SW == 1 ? count : count - 1;
  int64_t i = 0;
  for (; i + NV * L <= limit; i += NV * L) conv_row_strip<T, SW, NV>(out + i, in + i * SW, row_step, w, kh, kw, dw);
  const int64_t rest = (limit - i) / L;
  conv_row_rest<T, SW, NV - 1>(rest, out + i, in + i * SW, row_step, w, kh, kw, dw);
  return i + rest * L;
}

// The last n < L outputs of a stride-1 row in one masked vector (the taps in the same order).
template <class T>
void conv_row_masked_tail(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw,
                          int64_t n) {
  using X = Vec<T>;
  typename X::V acc = X::load_first(out, n);
  for (int64_t ky = 0; ky < kh; ++ky)
    for (int64_t kx = 0; kx < kw; ++kx)
      acc = X::fma(X::set1(w[ky * kw + kx]), X::load_first(in + ky * row_step + kx * dw, n), acc);
  X::store_first(out, acc, n);
}

template <class T>
void conv_row_simd(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw,
                   int64_t count, int64_t sw) {
  int64_t i = 0;
  if (sw == 1) {
    i = conv_row_vectors<T, 1>(out, in, row_step, w, kh, kw, dw, count);
    if (i < count) conv_row_masked_tail(out + i, in + i, row_step, w, kh, kw, dw, count - i);
    return;
  }
  if (sw == 2)
    i = conv_row_vectors<T, 2>(out, in, row_step, w, kh, kw, dw, count);
  conv_row_scalar(out, in, row_step, w, kh, kw, dw, i, count, sw);
}

}  // namespace fastconv::FASTCONV_ISA
