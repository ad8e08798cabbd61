// Depthwise convolution of NHWC pixels in plain C++ (Kernels::depthwise_nhwc) for the
// portable backend: every channel c of an output pixel is its own filter over the taps.
// Per-ISA namespace: the including file defines FASTCONV_ISA (see pool_window.h).
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/depthwise_nhwc.h"
#endif
#include <cstdint>

#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

// Pixel j's channels accumulate in out[j*C ...], taps in order, then bias and relu.
template <class T>
void depthwise_nhwc_scalar(T* out, const T* const* rows, const DepthwiseRun& r, int64_t count, const T* w,
                           const T* bias, bool relu) {
  const int64_t C = r.C;
  for (int64_t j = 0; j < count; ++j) {
    T* o = out + j * C;
    for (int64_t c = 0; c < C; ++c) o[c] = T(0);
    for (int64_t ky = 0; ky < r.kh; ++ky)
      for (int64_t kx = 0; kx < r.kw; ++kx) {
        const T* in = rows[ky] + (j * r.sw + kx * r.dw) * C;
        const T* wt = w + (ky * r.kw + kx) * C;
        for (int64_t c = 0; c < C; ++c) o[c] += in[c] * wt[c];
      }
    for (int64_t c = 0; c < C; ++c) {
      const T v = (bias != nullptr ? bias[c] : T(0)) + o[c];
      o[c] = relu && v < T(0) ? T(0) : v;
    }
  }
}

}  // namespace fastconv::FASTCONV_ISA
