// Kernels::winograd_filter / _input / _output vectorised along filters and channels: the lane-generic tile
// transforms of generic/winograd.h on whole vectors, the channel tail one lane at a time.
// ISA-neutral (see simd/gemm_mx2v.h).
#pragma once
#include "kernels/generic/winograd.h"

namespace fastconv::FASTCONV_ISA {

// body<X>(begin, end) over the whole vectors of [0, count), then over the tail one lane at a time.
template <class T, class Body>
auto vectors_then_tail(int64_t count, Body body) {
  const int64_t whole = count / Vec<T>::kLanes * Vec<T>::kLanes;
  const auto vectors = body(Vec<T>{}, 0, whole);
  return body(ScalarLane<T>{}, whole, count) && vectors;
}

template <class T>
void winograd_filter_simd(const T* g, int64_t g_stride, int64_t count, T* u, int64_t u_stride) {
  vectors_then_tail<T>(count, [&](auto lane, int64_t begin, int64_t end) {
    filter_tile<decltype(lane)>(g, g_stride, begin, end, u, u_stride);
    return true;
  });
}

template <class T>
bool winograd_input_simd(const T* const* taps, int64_t C, T* v, int64_t v_stride) {
  return vectors_then_tail<T>(C, [&](auto lane, int64_t begin, int64_t end) {
    return input_tile<decltype(lane)>(taps, begin, end, v, v_stride);
  });
}

template <class T>
bool winograd_output_simd(const T* m, int64_t m_stride, int64_t K, T* const* outs, const T* bias, bool relu) {
  return vectors_then_tail<T>(K, [&](auto lane, int64_t begin, int64_t end) {
    return output_tile<decltype(lane)>(m, m_stride, begin, end, outs, bias, relu);
  });
}

}  // namespace fastconv::FASTCONV_ISA
