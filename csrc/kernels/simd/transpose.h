// Kernels::transpose with the ISA's in-register L x L transpose (Vec<T>::transpose_square)
// on whole blocks; the ragged right and bottom edges go to the scalar kernel.
#pragma once
#include "kernels/generic/transpose.h"

namespace fastconv::FASTCONV_ISA {

template <class T>
void transpose_simd(const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t rows, int64_t cols) {
  constexpr int64_t L = Vec<T>::kLanes;
  const int64_t rows_full = rows / L * L, cols_full = cols / L * L;
  // Along dst's rows (i inner), so each dst line is completed while in cache.
  for (int64_t j = 0; j < cols_full; j += L)
    for (int64_t i = 0; i < rows_full; i += L)
      Vec<T>::transpose_square(src + i * ld_src + j, ld_src, dst + j * ld_dst + i, ld_dst);
  transpose_scalar(src + cols_full, ld_src, dst + cols_full * ld_dst, ld_dst, rows, cols - cols_full);
  transpose_scalar(src + rows_full * ld_src, ld_src, dst + rows_full, ld_dst, rows - rows_full, cols_full);
}

}  // namespace fastconv::FASTCONV_ISA
