// One vector of the first n <= kLanes values: the values past n neither read (they load as 0)
// nor written. ISA-neutral (see simd/gemm_mx2v.h).
#pragma once
#include <algorithm>
#include <cstdint>

namespace fastconv::FASTCONV_ISA {

template <class X, class T>
typename X::V load_up_to(const T* p, int64_t n) {
  return n == X::kLanes ? X::load(p) : X::load_first(p, n);
}

template <class X, class T>
void store_up_to(T* p, typename X::V v, int64_t n) {
  if (n == X::kLanes)
    X::store(p, v);
  else
    X::store_first(p, v, n);
}

template <class X>
void store_index_up_to(int64_t* p, typename X::I v, int64_t n) {
  if (n == X::kLanes) return X::store_index(p, v);
  alignas(64) int64_t lanes[X::kLanes];
  X::store_index(lanes, v);
  std::copy(lanes, lanes + n, p);
}

}  // namespace fastconv::FASTCONV_ISA
