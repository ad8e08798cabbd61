// Pooling of one NHWC image (H, W, C contiguous): every window tap is a contiguous run of C
// channels, so the output pixel's channels are updated tap by tap in the scalar code's
// (row-major) order. Channels [c0, C) are done here; SIMD kernels do [0, c0) in vectors and
// call these for the tail. Per-ISA namespace as in pool_window.h.
#pragma once
#include "kernels/generic/pool_planes.h"

namespace fastconv::FASTCONV_ISA {

// Calls tap(y, x) for the in-bounds taps of output (oy, ox) in scan order.
template <class Tap>
void for_each_tap(const PoolGeom& g, int64_t oy, int64_t ox, Tap&& tap) {
  const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  const TapRange rows = taps_inside(y0, g.dh, g.kh, g.H), cols = taps_inside(x0, g.dw, g.kw, g.W);
  for (int64_t ky = rows.lo; ky < rows.hi; ++ky)
    for (int64_t kx = cols.lo; kx < cols.hi; ++kx) tap(y0 + ky * g.dh, x0 + kx * g.dw);
}

template <class T>
void max_pool_nhwc_channels(const T* in, T* out, int64_t* idx, const PoolGeom& g, int64_t C, int64_t oy, int64_t ox,
                            int64_t c0) {
  T* o = out + (oy * g.OW + ox) * C;
  int64_t* oi = idx != nullptr ? idx + (oy * g.OW + ox) * C : nullptr;
  for (int64_t c = c0; c < C; ++c) o[c] = -std::numeric_limits<T>::infinity();
  bool first = true;
  for_each_tap(g, oy, ox, [&](int64_t y, int64_t x) {
    const T* v = in + (y * g.W + x) * C;
    for (int64_t c = c0; c < C; ++c) {
      const bool take = v[c] > o[c] || std::isnan(v[c]);
      if (take) o[c] = v[c];
      if (oi != nullptr && (take || first)) oi[c] = y * g.W + x;
    }
    first = false;
  });
  if (first && oi != nullptr)
    for (int64_t c = c0; c < C; ++c) oi[c] = -1;
}

template <class T>
void window_pool_nhwc_channels(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p, int64_t C,
                               int64_t oy, int64_t ox, int64_t c0) {
  T* o = out + (oy * g.OW + ox) * C;
  for (int64_t c = c0; c < C; ++c) o[c] = T(0);
  for_each_tap(g, oy, ox, [&](int64_t y, int64_t x) {
    const T* v = in + (y * g.W + x) * C;
    for (int64_t c = c0; c < C; ++c) o[c] += p.kind == WindowPoolKind::Lp ? lp_term(v[c], p.norm_type) : v[c];
  });
  const int64_t divisor = window_divisor(p, window_span(oy, g.sh, g.ph, g.kh, g.H), window_span(ox, g.sw, g.pw, g.kw, g.W));
  for (int64_t c = c0; c < C; ++c) o[c] = finish_window(o[c], g, p, divisor);
}

// Output row oy of one NHWC image.
template <class T>
void max_pool_nhwc_row(const T* in, T* out, int64_t* idx, const PoolGeom& g, int64_t C, int64_t oy) {
  for (int64_t ox = 0; ox < g.OW; ++ox) max_pool_nhwc_channels(in, out, idx, g, C, oy, ox, 0);
}

template <class T>
void window_pool_nhwc_row(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p, int64_t C, int64_t oy) {
  for (int64_t ox = 0; ox < g.OW; ++ox) window_pool_nhwc_channels(in, out, g, p, C, oy, ox, 0);
}

// Adaptive pooling of one NHWC image (windows as adaptive_avg_plane), channels inner.
template <class T>
void adaptive_pool_nhwc(const T* in, T* out, int64_t* idx, bool is_max, int64_t H, int64_t W, int64_t OH,
                        int64_t OW, int64_t C) {
  for (int64_t oy = 0; oy < OH; ++oy)
    for (int64_t ox = 0; ox < OW; ++ox) {
      const int64_t y0 = adaptive_start(oy, H, OH), y1 = adaptive_end(oy, H, OH);
      const int64_t x0 = adaptive_start(ox, W, OW), x1 = adaptive_end(ox, W, OW);
      T* o = out + (oy * OW + ox) * C;
      int64_t* oi = idx != nullptr ? idx + (oy * OW + ox) * C : nullptr;
      for (int64_t c = 0; c < C; ++c) o[c] = is_max ? -std::numeric_limits<T>::infinity() : T(0);
      if (oi != nullptr)
        for (int64_t c = 0; c < C; ++c) oi[c] = y0 * W + x0;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) {
          const T* v = in + (y * W + x) * C;
          for (int64_t c = 0; c < C; ++c) {
            if (!is_max) {
              o[c] += v[c];
            } else if (v[c] > o[c] || std::isnan(v[c])) {
              o[c] = v[c];
              if (oi != nullptr) oi[c] = y * W + x;
            }
          }
        }
      if (!is_max)
        for (int64_t c = 0; c < C; ++c) o[c] /= static_cast<T>((y1 - y0) * (x1 - x0));
    }
}

}  // namespace fastconv::FASTCONV_ISA
