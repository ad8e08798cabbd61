// Depthwise NHWC convolution vectorised along channels: a register tile of P pixels x V
// vectors of channels; each tap loads V weight vectors once for the P pixels. Channels past
// the last whole vector use the scalar code. ISA-neutral (see simd/gemm_mx2v.h).
#pragma once
#include "kernels/generic/depthwise_nhwc.h"

namespace fastconv::FASTCONV_ISA {

// Pixels [j0, j0+P), channels [c, c + V*L).
template <class T, int P, int V>
void depthwise_nhwc_tile(T* out, const T* const* taps, int64_t ntaps, int64_t pixel_step, int64_t j0, const T* w,
                         const T* bias, int64_t C, bool relu, int64_t c) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  typename X::V acc[P][V];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) acc[p][v] = X::zero();
  for (int64_t t = 0; t < ntaps; ++t) {
    const T* src = taps[t] + j0 * pixel_step + c;
    typename X::V wt[V];
    for (int v = 0; v < V; ++v) wt[v] = X::load(w + t * C + c + v * L);
    for (int p = 0; p < P; ++p)
      for (int v = 0; v < V; ++v) acc[p][v] = X::fma(X::load(src + p * pixel_step + v * L), wt[v], acc[p][v]);
  }
  const typename X::V zero = X::zero();
  for (int v = 0; v < V; ++v) {
    const typename X::V b = bias != nullptr ? X::load(bias + c + v * L) : zero;
    for (int p = 0; p < P; ++p) {
      typename X::V r = X::add(b, acc[p][v]);
      if (relu) r = X::max_keep_nan(zero, r);
      X::store(out + (j0 + p) * C + c + v * L, r);
    }
  }
}

// Pixels [j0, j0+P), every whole vector of channels.
template <class T, int P>
void depthwise_nhwc_pixels(T* out, const T* const* taps, int64_t ntaps, int64_t pixel_step, int64_t j0, const T* w,
                           const T* bias, int64_t C, bool relu) {
  constexpr int L = Vec<T>::kLanes;
  int64_t c = 0;
  for (; c + 2 * L <= C; c += 2 * L) depthwise_nhwc_tile<T, P, 2>(out, taps, ntaps, pixel_step, j0, w, bias, C, relu, c);
  if (c + L <= C) depthwise_nhwc_tile<T, P, 1>(out, taps, ntaps, pixel_step, j0, w, bias, C, relu, c);
}

template <class T>
void depthwise_nhwc_simd(T* out, const T* const* taps, int64_t ntaps, int64_t pixel_step, int64_t count, const T* w,
                         const T* bias, int64_t C, bool relu) {
  constexpr int L = Vec<T>::kLanes;
  int64_t j = 0;
  for (; j + 4 <= count; j += 4) depthwise_nhwc_pixels<T, 4>(out, taps, ntaps, pixel_step, j, w, bias, C, relu);
  for (; j < count; ++j) depthwise_nhwc_pixels<T, 1>(out, taps, ntaps, pixel_step, j, w, bias, C, relu);
  depthwise_nhwc_channels(out, taps, ntaps, pixel_step, count, w, bias, C, relu, C / L * L);
}

}  // namespace fastconv::FASTCONV_ISA
