// Register-tiled GEMM microkernel in plain C++ (the compiler may auto-vectorise it for
// the baseline ISA). MR x NR accumulators; see Kernels::gemm_ukernel for the layout.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/geometry.h"

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
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T base = ep.bias != nullptr ? ep.bias[i] : T(0);
    for (int64_t j = 0; j < n; ++j) {
      T v = ep.accumulate ? ci[j] + acc[i][j] : base + acc[i][j];
      ci[j] = ep.relu ? (v < T(0) ? T(0) : v) : v;
    }
  }
}

}  // namespace fastconv::portable
