// Generic pooling of one (H, W) plane in plain C++: any window, stride, padding, dilation.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/geometry.h"

namespace fastconv::portable {

// PyTorch's rule: scan the window row-major, take a value if it is greater or NaN; the
// index starts at the first in-bounds position, so ties keep the first and the last NaN wins.
template <class T>
void max_pool_plane(const T* in, T* out, int64_t* idx, const PoolGeom& g) {
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    int64_t y0 = oy * g.sh - g.ph;
    for (int64_t ox = 0; ox < g.OW; ++ox) {
      int64_t x0 = ox * g.sw - g.pw;
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_i = -1;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        int64_t y = y0 + ky * g.dh;
        if (y < 0 || y >= g.H) continue;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          int64_t x = x0 + kx * g.dw;
          if (x < 0 || x >= g.W) continue;
          T v = in[y * g.W + x];
          if (best_i < 0) best_i = y * g.W + x;
          if (v > best || std::isnan(v)) {
            best = v;
            best_i = y * g.W + x;
          }
        }
      }
      out[oy * g.OW + ox] = best;
      if (idx != nullptr) idx[oy * g.OW + ox] = best_i;
    }
  }
}

// Sum, average (PyTorch's divisor rules) and power-average (lp_pool2d) over clipped windows.
template <class T>
void window_pool_plane(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p) {
  const double power = p.norm_type;
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    int64_t y0 = oy * g.sh - g.ph;
    int64_t y1 = std::min(y0 + g.kh, g.H + g.ph);
    int64_t ylo = std::max<int64_t>(y0, 0), yhi = std::min(y1, g.H);
    for (int64_t ox = 0; ox < g.OW; ++ox) {
      int64_t x0 = ox * g.sw - g.pw;
      int64_t x1 = std::min(x0 + g.kw, g.W + g.pw);
      int64_t xlo = std::max<int64_t>(x0, 0), xhi = std::min(x1, g.W);
      T acc = 0;
      for (int64_t y = ylo; y < yhi; ++y)
        for (int64_t x = xlo; x < xhi; ++x) {
          T v = in[y * g.W + x];
          acc += p.kind == WindowPoolKind::Lp ? static_cast<T>(std::pow(v, static_cast<T>(power))) : v;
        }
      T result = acc;
      if (p.kind != WindowPoolKind::Sum) {
        int64_t divisor = p.divisor_override > 0 ? p.divisor_override
                          : p.count_include_pad   ? (y1 - y0) * (x1 - x0)
                                                  : (yhi - ylo) * (xhi - xlo);
        result = divisor > 0 ? acc / static_cast<T>(divisor) : T(0);
      }
      if (p.kind == WindowPoolKind::Lp) {
        // PyTorch: (sign(avg) * relu(|avg|) * kh * kw) ** (1/p)
        T scaled = result * static_cast<T>(g.kh * g.kw);
        result = static_cast<T>(std::pow(scaled, static_cast<T>(1.0 / power)));
      }
      out[oy * g.OW + ox] = result;
    }
  }
}

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

}  // namespace fastconv::portable
