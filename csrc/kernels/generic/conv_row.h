// Scalar direct-convolution row and GEMM tile store, shared by every ISA (the portable
// kernels themselves, and the tails of SIMD kernels). Per-ISA namespace: the including file
// defines FASTCONV_ISA (see pool_window.h).
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/conv_row.h"
#endif
#include <cstdint>

#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

// out[i] += sum over (ky, kx) of w[ky*kw + kx] * in[ky*row_step + i*sw + kx*dw], i in [begin, count).
template <class T>
void conv_row_scalar(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw,
                     int64_t begin, int64_t count, int64_t sw) {
  for (int64_t i = begin; i < count; ++i) {
    T acc = out[i];
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx) acc += w[ky * kw + kx] * in[ky * row_step + i * sw + kx * dw];
    out[i] = acc;
  }
}

// How a GEMM microkernel finds row k of its kc x NR block of B: packed rows one after
// another, or rows read in place at base + offsets[k] (an input plane, see conv2d_im2col.cc).
// prefetch(k, ahead) asks for row k's values `ahead` further on (the same row of a later
// micro-panel): in-place rows lie far apart, too many streams for the hardware prefetcher;
// packed rows are one stream and need nothing.
template <class T>
struct PackedRows {
  const T* b;
  int64_t nr;
  const T* row(int64_t k) const { return b + k * nr; }
  void prefetch(int64_t, int64_t) const {}
};
template <class T>
struct OffsetRows {
  const T* base;
  const int64_t* offsets;
  const T* row(int64_t k) const { return base + offsets[k]; }
  void prefetch(int64_t k, int64_t ahead) const {
    __builtin_prefetch(row(k) + ahead);
    __builtin_prefetch(row(k) + ahead + 64 / sizeof(T));
  }
};

// Writes the m x n corner of an accumulator tile (row stride ld) to C with the epilogue.
template <class T>
void store_tile(const T* tile, int64_t ld, T* c, int64_t ldc, int64_t m, int64_t n, const GemmEpilogue<T>& ep) {
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      const T base = ep.bias == nullptr ? T(0) : ep.bias[ep.bias_per_column ? j : i];
      const T v = ep.accumulate ? ci[j] + tile[i * ld + j] : base + tile[i * ld + j];
      ci[j] = ep.relu ? (v < T(0) ? T(0) : v) : v;
    }
  }
}

}  // namespace fastconv::FASTCONV_ISA
