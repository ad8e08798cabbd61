// Scalar pooling of single windows, shared by every ISA's plane kernels (whole planes on the
// portable path, the edges of the vectorised interior on SIMD paths). The including file
// defines FASTCONV_ISA so that each ISA gets its own copy compiled with its own flags.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/pool_window.h"
#endif
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// PyTorch's rule: scan the window row-major, take a value if it is greater or NaN; the
// index starts at the first in-bounds position, so ties keep the first and the last NaN wins.
// A window with no in-bounds position gives -inf and index -1.
template <class T>
void max_pool_at(const T* in, const PoolGeom& g, int64_t oy, int64_t ox, T* out, int64_t* idx) {
  const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  T best = -std::numeric_limits<T>::infinity();
  int64_t best_i = -1;
  const TapRange rows = taps_inside(y0, g.dh, g.kh, g.H), cols = taps_inside(x0, g.dw, g.kw, g.W);
  for (int64_t ky = rows.lo; ky < rows.hi; ++ky) {
    const int64_t y = y0 + ky * g.dh;
    for (int64_t kx = cols.lo; kx < cols.hi; ++kx) {
      const int64_t x = x0 + kx * g.dw;
      const T v = in[y * g.W + x];
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

// x**p for one Lp term (or the root, p -> 1/p): in T when T holds p exactly (powf is then good to an ulp), else in
// double, since p rounded to float would cost |p ln x| * 2**-24 of relative error.
template <class T>
T lp_term(T x, double p) {
  const T p_in_t = static_cast<T>(p);
  if (static_cast<double>(p_in_t) == p) return std::pow(x, p_in_t);
  return static_cast<T>(std::pow(static_cast<double>(x), p));
}

// Turns a window sum (of x, or of x**p for Lp) into the pooled value.
template <class T>
T finish_window(T sum, const PoolGeom& g, const WindowPoolParams& p, int64_t divisor) {
  if (p.kind == WindowPoolKind::Sum) return sum;
  const T avg = divisor > 0 ? sum / static_cast<T>(divisor) : T(0);
  if (p.kind == WindowPoolKind::Avg) return avg;
  // PyTorch's lp_pool2d: (avg_pool2d(x**p) * kh * kw) ** (1/p)
  return lp_term(avg * static_cast<T>(g.kh * g.kw), 1.0 / p.norm_type);
}

// Sum, average or power-average over one window, rows then columns in order.
template <class T>
void window_pool_at(const T* in, const PoolGeom& g, const WindowPoolParams& p, int64_t oy, int64_t ox, T* out) {
  const WindowSpan ys = window_span(oy, g.sh, g.ph, g.kh, g.H), xs = window_span(ox, g.sw, g.pw, g.kw, g.W);
  T acc = 0;
  for (int64_t y = ys.lo; y < ys.hi; ++y)
    for (int64_t x = xs.lo; x < xs.hi; ++x) {
      const T v = in[y * g.W + x];
      acc += p.kind == WindowPoolKind::Lp ? lp_term(v, p.norm_type) : v;
    }
  out[oy * g.OW + ox] = finish_window(acc, g, p, window_divisor(p, ys, xs));
}

}  // namespace fastconv::FASTCONV_ISA
