// Whole-plane pooling loops in plain C++ (any window, stride, padding, dilation); the
// portable backend's kernels. Per-ISA namespace as in pool_window.h.
#pragma once
#include "kernels/generic/pool_window.h"

namespace fastconv::FASTCONV_ISA {

template <class T>
void max_pool_plane(const T* in, T* out, int64_t* idx, const PoolGeom& g) {
  for (int64_t oy = 0; oy < g.OH; ++oy)
    for (int64_t ox = 0; ox < g.OW; ++ox) max_pool_at(in, g, oy, ox, out, idx);
}

template <class T>
void window_pool_plane(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p) {
  for (int64_t oy = 0; oy < g.OH; ++oy)
    for (int64_t ox = 0; ox < g.OW; ++ox) window_pool_at(in, g, p, oy, ox, out);
}

// Adaptive window i of `out` cells over `in`: [floor(i*in/out), ceil((i+1)*in/out)).
inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <class T>
void adaptive_avg_plane(const T* in, T* out, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t oy = 0; oy < OH; ++oy) {
    const int64_t y0 = adaptive_start(oy, H, OH), y1 = adaptive_end(oy, H, OH);
    for (int64_t ox = 0; ox < OW; ++ox) {
      const int64_t x0 = adaptive_start(ox, W, OW), x1 = adaptive_end(ox, W, OW);
      T acc = 0;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) acc += in[y * W + x];
      out[oy * OW + ox] = acc / static_cast<T>((y1 - y0) * (x1 - x0));
    }
  }
}

template <class T>
void adaptive_max_plane(const T* in, T* out, int64_t* idx, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t oy = 0; oy < OH; ++oy) {
    const int64_t y0 = adaptive_start(oy, H, OH), y1 = adaptive_end(oy, H, OH);
    for (int64_t ox = 0; ox < OW; ++ox) {
      const int64_t x0 = adaptive_start(ox, W, OW), x1 = adaptive_end(ox, W, OW);
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_i = y0 * W + x0;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) {
          const T v = in[y * W + x];
          if (v > best || std::isnan(v)) {
            best = v;
            best_i = y * W + x;
          }
        }
      out[oy * OW + ox] = best;
      if (idx != nullptr) idx[oy * OW + ox] = best_i;
    }
  }
}

}  // namespace fastconv::FASTCONV_ISA
