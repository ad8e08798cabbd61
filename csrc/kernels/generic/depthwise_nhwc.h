// Depthwise convolution of NHWC pixels in plain C++: every channel c of an output pixel is its
// own filter over the taps (see Kernels::depthwise_nhwc). Used by the portable backend and
// for the channel tail of the SIMD kernels. Per-ISA namespace: the including file defines
// FASTCONV_ISA (see pool_window.h).
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/depthwise_nhwc.h"
#endif
#include <cstdint>

namespace fastconv::FASTCONV_ISA {

// Channels [c_begin, C) of output pixels [0, count); taps accumulated in order, then bias, relu.
template <class T>
void depthwise_nhwc_channels(T* out, const T* const* taps, int64_t ntaps, int64_t pixel_step, int64_t count,
                             const T* w, const T* bias, int64_t C, bool relu, int64_t c_begin) {
  for (int64_t j = 0; j < count; ++j)
    for (int64_t c = c_begin; c < C; ++c) {
      T acc = T(0);
      for (int64_t t = 0; t < ntaps; ++t) acc += taps[t][j * pixel_step + c] * w[t * C + c];
      const T v = (bias != nullptr ? bias[c] : T(0)) + acc;
      out[j * C + c] = relu && v < T(0) ? T(0) : v;
    }
}

template <class T>
void depthwise_nhwc_scalar(T* out, const T* const* taps, int64_t ntaps, int64_t pixel_step, int64_t count,
                           const T* w, const T* bias, int64_t C, bool relu) {
  depthwise_nhwc_channels(out, taps, ntaps, pixel_step, count, w, bias, C, relu, 0);
}

}  // namespace fastconv::FASTCONV_ISA
