// Register-tiled GEMM microkernel in plain C++ (the compiler may auto-vectorise it for
// the baseline ISA). MR x NR accumulators; see Kernels::gemm_ukernel for the layout.
#pragma once
#include <cstdint>

#ifndef FASTCONV_ISA
#define FASTCONV_ISA portable
#endif
#include "kernels/generic/conv_row.h"

namespace fastconv::portable {

template <class T, int MR, int NR>
void gemm_ukernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m, int64_t n,
                  const GemmEpilogue<T>& ep) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* ak = a + k * MR;
    const T* bk = b + k * NR;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ak[i] * bk[j];
  }
  store_tile(&acc[0][0], NR, c, ldc, m, n, ep);
}

}  // namespace fastconv::portable
