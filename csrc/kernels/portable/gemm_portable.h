// Register-tiled GEMM microkernel in plain C++ (the compiler may auto-vectorise it for
// the baseline ISA). MR x NR accumulators; see Kernels::gemm_ukernel for the layout.
#pragma once
#include <algorithm>
#include <cstdint>

#ifndef FASTCONV_ISA
#define FASTCONV_ISA portable
#endif
#include "kernels/generic/conv_row.h"

namespace fastconv::portable {

// copy: if not null, each B row is also stored there, packed (copy + k*NR).
template <class T, int MR, int NR, class Rows>
void gemm_tile(int64_t kc, const T* a, Rows b, T* c, int64_t ldc, int64_t m, int64_t n, const GemmEpilogue<T>& ep,
               T* copy = nullptr) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* ak = a + k * MR;
    const T* bk = b.row(k);
    if (copy != nullptr) std::copy(bk, bk + NR, copy + k * NR);
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ak[i] * bk[j];
  }
  store_tile(&acc[0][0], NR, c, ldc, m, n, ep);
}

template <class T, int MR, int NR>
void gemm_taps(int64_t ntaps, int64_t Cg, const T* const* taps, int64_t c0, const T* b, T* c, int64_t ldc, int64_t m,
               int64_t n, const GemmEpilogue<T>& ep) {
  T acc[MR][NR] = {};
  for (int64_t t = 0; t < ntaps; ++t)
    for (int64_t k = 0; k < Cg; ++k) {
      const T* bk = b + (t * Cg + k) * NR;
      for (int i = 0; i < MR; ++i) {
        const T ai = taps[i * ntaps + t][c0 + k];
        for (int j = 0; j < NR; ++j) acc[i][j] += ai * bk[j];
      }
    }
  store_tile(&acc[0][0], NR, c, ldc, m, n, ep);
}

template <class T, int MR, int NR>
void gemm_packed(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m, int64_t n,
                 const GemmEpilogue<T>& ep) {
  gemm_tile<T, MR, NR>(kc, a, PackedRows<T>{b, NR}, c, ldc, m, n, ep);
}

template <class T, int MR, int NR>
void gemm_offsets(int64_t kc, const T* a, const T* base, const int64_t* offsets, T* c, int64_t ldc, int64_t m,
                  int64_t n, const GemmEpilogue<T>& ep, T* copy) {
  gemm_tile<T, MR, NR>(kc, a, OffsetRows<T>{base, offsets}, c, ldc, m, n, ep, copy);
}

}  // namespace fastconv::portable
