// dst[j*ld_dst + i] = src[i*ld_src + j] for i < rows, j < cols (Kernels::transpose), in
// square blocks so that both sides stay in cache lines; the scalar form of the SIMD kernel
// and its edges.
#pragma once
#include <algorithm>
#include <cstdint>

namespace fastconv::FASTCONV_ISA {

template <class T>
void transpose_scalar(const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t rows, int64_t cols) {
  constexpr int64_t B = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += B)
    for (int64_t j0 = 0; j0 < cols; j0 += B)
      for (int64_t i = i0; i < std::min(rows, i0 + B); ++i)
        for (int64_t j = j0; j < std::min(cols, j0 + B); ++j) dst[j * ld_dst + i] = src[i * ld_src + j];
}

}  // namespace fastconv::FASTCONV_ISA
