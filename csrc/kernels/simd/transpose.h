// Kernels::transpose with the ISA's in-register L x L transpose: Vec<T>::transpose_block
// (masked loads and stores) on every block where the ISA has one, else
// Vec<T>::transpose_square on whole blocks and the scalar kernel on the ragged edges.
#pragma once
#include <algorithm>
#include <type_traits>

#include "kernels/generic/transpose.h"

namespace fastconv::FASTCONV_ISA {

// Whether the ISA's Vec<T> transposes partial L x L blocks with masked loads and stores.
template <class X, class = void>
struct HasTransposeBlock : std::false_type {};
template <class X>
struct HasTransposeBlock<X, std::void_t<decltype(&X::transpose_block)>> : std::true_type {};

template <class T>
void transpose_simd(const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t rows, int64_t cols) {
  constexpr int64_t L = Vec<T>::kLanes;
  if constexpr (HasTransposeBlock<Vec<T>>::value) {
    const auto block = [&](int64_t i, int64_t j) {
      Vec<T>::transpose_block(src + i * ld_src + j, ld_src, dst + j * ld_dst + i, ld_dst, std::min(L, rows - i),
                              std::min(L, cols - j));
    };
    // Along the rows of the side whose rows lie farther apart (fewer pages and prefetch
    // streams at a time: NCHW planes into channels-last pixels walk slabs of L planes).
    if (ld_src > ld_dst) {
      for (int64_t i = 0; i < rows; i += L)
        for (int64_t j = 0; j < cols; j += L) block(i, j);
    } else {  // along dst's rows, so that each dst line is completed while in cache
      for (int64_t j = 0; j < cols; j += L)
        for (int64_t i = 0; i < rows; i += L) block(i, j);
    }
  } else {
    const int64_t rows_full = rows / L * L, cols_full = cols / L * L;
    for (int64_t j = 0; j < cols_full; j += L)
      for (int64_t i = 0; i < rows_full; i += L)
        Vec<T>::transpose_square(src + i * ld_src + j, ld_src, dst + j * ld_dst + i, ld_dst);
    transpose_scalar(src + cols_full, ld_src, dst + cols_full * ld_dst, ld_dst, rows, cols - cols_full);
    transpose_scalar(src + rows_full * ld_src, ld_src, dst + rows_full, ld_dst, rows - rows_full, cols_full);
  }
}

}  // namespace fastconv::FASTCONV_ISA
