// GEMM microkernel: MR rows x 2 vectors in 2*MR accumulators (AVX2: 6x16 float / 6x8 double;
// AVX-512: 14x32 / 14x16). A packed MR values per k, B 2 vectors per k (Kernels::gemm_ukernel).
// ISA-neutral SIMD kernel template: the including fill file defines FASTCONV_ISA and
// provides that ISA's Vec<T> traits (see avx2/vec_avx2.h) before including this header.
#pragma once
#include "kernels/generic/conv_row.h"

namespace fastconv::FASTCONV_ISA {

// Writes the MR x 2-vector accumulator tile to C (its m x n corner) with the epilogue.
template <class T, int MR>
void store_accumulators(typename Vec<T>::V (&acc)[MR][2], T* c, int64_t ldc, int64_t m, int64_t n,
                        const GemmEpilogue<T>& ep) {
  using X = Vec<T>;
  using V = typename X::V;
  constexpr int L = X::kLanes, NR = 2 * L;
  const V zero = X::zero();
  if (n == NR) {
    const bool column_bias = !ep.accumulate && ep.bias != nullptr && ep.bias_per_column;
    const V bias0 = column_bias ? X::load(ep.bias) : zero, bias1 = column_bias ? X::load(ep.bias + L) : zero;
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      if (i == m) break;
      T* ci = c + i * ldc;
      const bool row_bias = ep.bias != nullptr && !ep.bias_per_column;
      V base0 = ep.accumulate ? X::load(ci) : (row_bias ? X::set1(ep.bias[i]) : bias0);
      V base1 = ep.accumulate ? X::load(ci + L) : (row_bias ? X::set1(ep.bias[i]) : bias1);
      V v0 = X::add(base0, acc[i][0]), v1 = X::add(base1, acc[i][1]);
      if (ep.relu) {
        v0 = X::max_keep_nan(zero, v0);
        v1 = X::max_keep_nan(zero, v1);
      }
      X::store(ci, v0);
      X::store(ci + L, v1);
    }
    return;
  }
  alignas(64) T tile[MR][NR];
  for (int i = 0; i < MR; ++i) {
    X::store(tile[i], acc[i][0]);
    X::store(tile[i] + L, acc[i][1]);
  }
  store_tile(&tile[0][0], NR, c, ldc, m, n, ep);
}

// One reduction step of the tile: acc[i] += a_of(i) * (b0, b1) for every row i.
template <class T, int MR, class AOf>
inline void add_outer_product(typename Vec<T>::V (&acc)[MR][2], AOf a_of, typename Vec<T>::V b0,
                              typename Vec<T>::V b1) {
  using X = Vec<T>;
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    const typename X::V ai = X::set1(a_of(i));
    acc[i][0] = X::fma(ai, b0, acc[i][0]);
    acc[i][1] = X::fma(ai, b1, acc[i][1]);
  }
}

// The same with (b0, b1) the B row at bk.
template <class T, int MR, class AOf>
inline void add_outer_product(typename Vec<T>::V (&acc)[MR][2], AOf a_of, const T* bk) {
  add_outer_product<T, MR>(acc, a_of, Vec<T>::load(bk), Vec<T>::load(bk + Vec<T>::kLanes));
}

// B rows that need it (Rows::prefetch) are fetched two micro-panels ahead: callers walk
// micro-panels left to right. With kCopy, each B row is also stored, packed, at copy + k*NR.
template <class T, int MR, class Rows, bool kCopy = false>
void gemm_mx2v(int64_t kc, const T* a, Rows b, T* c, int64_t ldc, int64_t m, int64_t n, const GemmEpilogue<T>& ep,
               T* copy = nullptr) {
  using X = Vec<T>;
  constexpr int64_t ahead = 4 * X::kLanes;
  typename X::V acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = X::zero();
  for (int64_t k = 0; k < kc; ++k) {
    b.prefetch(k, ahead);
    const T* bk = b.row(k);
    const typename X::V b0 = X::load(bk), b1 = X::load(bk + X::kLanes);
    if constexpr (kCopy) {
      X::store(copy + k * 2 * X::kLanes, b0);
      X::store(copy + k * 2 * X::kLanes + X::kLanes, b1);
    }
    add_outer_product<T, MR>(acc, [&](int i) { return a[k * MR + i]; }, b0, b1);
  }
  store_accumulators<T, MR>(acc, c, ldc, m, n, ep);
}

// A read in place through window taps (Kernels::gemm_ukernel_taps): for each tap, the MR
// rows' pointers are loaded once and the Cg channels run as the inner reduction.
template <class T, int MR>
void gemm_taps(int64_t ntaps, int64_t Cg, const T* const* taps, int64_t c0, const T* b, T* c, int64_t ldc, int64_t m,
               int64_t n, const GemmEpilogue<T>& ep) {
  using X = Vec<T>;
  constexpr int NR = 2 * X::kLanes;
  typename X::V acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = X::zero();
  for (int64_t t = 0; t < ntaps; ++t) {
    const T* a[MR];
    for (int i = 0; i < MR; ++i) a[i] = taps[i * ntaps + t] + c0;
    const T* bt = b + t * Cg * NR;
    for (int64_t k = 0; k < Cg; ++k) add_outer_product<T, MR>(acc, [&](int i) { return a[i][k]; }, bt + k * NR);
  }
  store_accumulators<T, MR>(acc, c, ldc, m, n, ep);
}

template <class T, int MR>
void gemm_packed(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m, int64_t n,
                 const GemmEpilogue<T>& ep) {
  gemm_mx2v<T, MR>(kc, a, PackedRows<T>{b, 2 * Vec<T>::kLanes}, c, ldc, m, n, ep);
}

template <class T, int MR>
void gemm_offsets(int64_t kc, const T* a, const T* base, const int64_t* offsets, T* c, int64_t ldc, int64_t m,
                  int64_t n, const GemmEpilogue<T>& ep, T* copy) {
  if (copy != nullptr)
    gemm_mx2v<T, MR, OffsetRows<T>, true>(kc, a, OffsetRows<T>{base, offsets}, c, ldc, m, n, ep, copy);
  else
    gemm_mx2v<T, MR>(kc, a, OffsetRows<T>{base, offsets}, c, ldc, m, n, ep);
}

}  // namespace fastconv::FASTCONV_ISA
