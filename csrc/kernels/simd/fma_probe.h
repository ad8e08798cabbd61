// Peak floating-point throughput probe: NACC independent FMA chains that stay in registers.
// ISA-neutral SIMD kernel template (see simd/gemm_mx2v.h for the including convention).
#pragma once
#include <cstdint>

#include "kernels/kernel_table.h"

namespace fastconv::FASTCONV_ISA {

// Runs `iterations` rounds of NACC vector FMAs and returns a value that depends on all of
// them (so nothing is optimised away); flops = iterations * NACC * lanes * 2.
template <class T, int NACC>
double fma_probe(int64_t iterations) {
  using X = Vec<T>;
  typename X::V acc[NACC];
  const typename X::V a = X::set1(T(0.999999)), b = X::set1(T(1e-7));
  for (int i = 0; i < NACC; ++i) acc[i] = X::set1(T(i));
  for (int64_t it = 0; it < iterations; ++it)
#pragma GCC unroll 32
    for (int i = 0; i < NACC; ++i) acc[i] = X::fma(acc[i], a, b);
  T lanes[X::kLanes];
  typename X::V sum = acc[0];
  for (int i = 1; i < NACC; ++i) sum = X::add(sum, acc[i]);
  X::store(lanes, sum);
  double total = 0;
  for (int i = 0; i < X::kLanes; ++i) total += lanes[i];
  return total;
}

// 2*MR chains: as many independent accumulators as the GEMM tile keeps in registers.
template <class T, int MR>
void fill_probe(Kernels<T>& k) {
  k.fma_probe = fma_probe<T, 2 * MR>;
  k.probe_flops = 2 * MR * Vec<T>::kLanes * 2;
}

}  // namespace fastconv::FASTCONV_ISA
