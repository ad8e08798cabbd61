// Kernels::winograd_filter / _input / _output vectorised along filters and channels: the lane-generic tile
// transforms of generic/winograd.h on whole vectors, the channel tail one lane at a time.
// ISA-neutral (see simd/gemm_mx2v.h).
#pragma once
#include "kernels/generic/winograd.h"

namespace fastconv::FASTCONV_ISA {

template <class T>
void winograd_filter_simd(const T* g, int64_t g_stride, int64_t count, T* u, int64_t u_stride) {
  const int64_t whole = count / Vec<T>::kLanes * Vec<T>::kLanes;
  filter_tile<Vec<T>>(g, g_stride, 0, whole, u, u_stride);
  filter_tile<ScalarLane<T>>(g, g_stride, whole, count, u, u_stride);
}

template <class T>
bool winograd_input_simd(const T* const* taps, int64_t C, T* v, int64_t v_stride) {
  const int64_t whole = C / Vec<T>::kLanes * Vec<T>::kLanes;
  const bool vectors = input_tile<Vec<T>>(taps, 0, whole, v, v_stride);
  return input_tile<ScalarLane<T>>(taps, whole, C, v, v_stride) && vectors;
}

template <class T>
bool winograd_output_simd(const T* m, int64_t m_stride, int64_t K, T* const* outs, const T* bias, bool relu) {
  const int64_t whole = K / Vec<T>::kLanes * Vec<T>::kLanes;
  const bool vectors = output_tile<Vec<T>>(m, m_stride, 0, whole, outs, bias, relu);
  return output_tile<ScalarLane<T>>(m, m_stride, whole, K, outs, bias, relu) && vectors;
}

}  // namespace fastconv::FASTCONV_ISA
