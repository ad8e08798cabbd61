// Pooling planes vectorised along the output width: each vector holds L consecutive
// outputs of one row; stride 1 reads contiguous inputs (the row's last outputs inside the
// input in one masked vector), stride 2 deinterleaves. Outputs whose windows leave the input
// on the left or right, and other strides, use the scalar per-window code; both follow the
// same order, so results equal the portable ones.
#pragma once
// ISA-neutral SIMD kernel template: the including fill file defines FASTCONV_ISA and
// provides that ISA's Vec<T> traits (see avx2/vec_avx2.h) before including this header.
#include "kernels/generic/pool_planes.h"
#include "kernels/simd/first_lanes.h"
#include "kernels/simd/pool_stride2.h"

namespace fastconv::FASTCONV_ISA {

template <class T, int SW>
typename Vec<T>::V load_strided(const T* p) {
  if constexpr (SW == 1)
    return Vec<T>::load(p);
  else
    return Vec<T>::load_even(p);
}

// Output columns [begin, end) whose windows (and, for stride 2, the odd neighbour each
// vector load also reads) lie inside [0, W).
inline WindowSpan interior_columns(const PoolGeom& g, int64_t sw) {
  const int64_t begin = (g.pw + sw - 1) / sw;
  const int64_t last_read = (g.kw - 1) * g.dw + (sw - 1);  // offset of the last element read from x0
  const int64_t limit = g.W - 1 - last_read + g.pw;       // ox*sw <= limit
  const int64_t end = limit < 0 ? 0 : imin(limit / sw + 1, g.OW);
  return {imin(begin, g.OW), imax(end, imin(begin, g.OW)), 0};
}

template <class T, int SW>
void max_pool_plane_strided(const T* in, T* out, int64_t* idx, const PoolGeom& g) {
  using X = Vec<T>;
  using V = typename X::V;
  constexpr int L = X::kLanes;
  const WindowSpan cols = interior_columns(g, SW);
  const bool with_index = idx != nullptr;
  // Outputs ox .. ox + n - 1 (n <= L; fewer only at stride 1, whose loads are then masked).
  const auto windows = [&](int64_t oy, int64_t ox, int64_t n) {
    const int64_t y0 = oy * g.sh - g.ph, x0 = ox * SW - g.pw;
    V best = X::set1(-std::numeric_limits<T>::infinity());
    typename X::I best_i{};
    bool first = true;
    const TapRange rows = taps_inside(y0, g.dh, g.kh, g.H);
    for (int64_t ky = rows.lo; ky < rows.hi; ++ky) {
      const int64_t y = y0 + ky * g.dh;
      if (first && with_index) best_i = X::index_lanes(y * g.W + x0, SW);
      first = false;
      const T* row = in + y * g.W + x0;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const V v = n == L ? load_strided<T, SW>(row + kx * g.dw) : load_up_to<X>(row + kx * g.dw, n);
        const auto take = X::gt_or_nan(v, best);
        best = X::blend(best, v, take);
        if (with_index) best_i = X::blend_index(best_i, X::index_lanes(y * g.W + x0 + kx * g.dw, SW), take);
      }
    }
    store_up_to<X>(out + oy * g.OW + ox, best, n);
    if (with_index) {
      if (first) best_i = X::index_lanes(-1, 0);
      store_index_up_to<X>(idx + oy * g.OW + ox, best_i, n);
    }
  };
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    int64_t ox = 0;
    for (; ox < cols.lo; ++ox) max_pool_at(in, g, oy, ox, out, idx);
    for (; ox + L <= cols.hi; ox += L) windows(oy, ox, L);
    if (SW == 1 && ox < cols.hi) {
      windows(oy, ox, cols.hi - ox);
      ox = cols.hi;
    }
    for (; ox < g.OW; ++ox) max_pool_at(in, g, oy, ox, out, idx);
  }
}

template <class T>
void max_pool_plane_simd(const T* in, T* out, int64_t* idx, const PoolGeom& g) {
  if (auto kernel = max_pool_stride2_kernel<T>(g, idx != nullptr)) return kernel(in, out, g);
  const bool index_fits = sizeof(T) == 8 || g.H * g.W < (int64_t{1} << 31);
  if (g.sw == 1 && index_fits)
    max_pool_plane_strided<T, 1>(in, out, idx, g);
  else if (g.sw == 2 && index_fits)
    max_pool_plane_strided<T, 2>(in, out, idx, g);
  else
    max_pool_plane(in, out, idx, g);
}

template <class T, int SW>
void window_pool_plane_strided(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p) {
  using X = Vec<T>;
  using V = typename X::V;
  constexpr int L = X::kLanes;
  const WindowSpan cols = interior_columns(g, SW);
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    const WindowSpan ys = window_span(oy, g.sh, g.ph, g.kh, g.H);
    const int64_t divisor = window_divisor(p, ys, WindowSpan{0, g.kw, g.kw});
    const V div = X::set1(static_cast<T>(divisor > 0 ? divisor : 1));
    int64_t ox = 0;
    for (; ox < cols.lo; ++ox) window_pool_at(in, g, p, oy, ox, out);
    for (; ox + L <= cols.hi; ox += L) {
      const T* base = in + ox * SW - g.pw;
      V acc = X::zero();
      for (int64_t y = ys.lo; y < ys.hi; ++y)
        for (int64_t kx = 0; kx < g.kw; ++kx) acc = X::add(acc, load_strided<T, SW>(base + y * g.W + kx));
      X::store(out + oy * g.OW + ox, p.kind == WindowPoolKind::Sum ? acc : X::div(acc, div));
    }
    for (; ox < g.OW; ++ox) window_pool_at(in, g, p, oy, ox, out);
  }
}

// Lp pooling (a pow per element) stays scalar.
template <class T>
void window_pool_plane_simd(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p) {
  if (p.kind != WindowPoolKind::Lp && g.sw == 2 && g.kh <= 64 && (g.kw == 2 || g.kw == 3))
    g.kw == 2 ? window_pool_plane_s2<T, 2>(in, out, g, p) : window_pool_plane_s2<T, 3>(in, out, g, p);
  else if (p.kind != WindowPoolKind::Lp && g.sw == 1)
    window_pool_plane_strided<T, 1>(in, out, g, p);
  else if (p.kind != WindowPoolKind::Lp && g.sw == 2)
    window_pool_plane_strided<T, 2>(in, out, g, p);
  else
    window_pool_plane(in, out, g, p);
}

}  // namespace fastconv::FASTCONV_ISA
