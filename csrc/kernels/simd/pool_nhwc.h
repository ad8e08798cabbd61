// NHWC pooling rows vectorised along channels: each window tap is one vector load per block
// of channels, combined in the scalar code's order; the channel tail (and a whole image of
// fewer channels than lanes) is one masked vector. ISA-neutral (see simd/gemm_mx2v.h).
#pragma once
#include "kernels/generic/pool_nhwc.h"
#include "kernels/simd/first_lanes.h"

namespace fastconv::FASTCONV_ISA {

template <class T>
void max_pool_nhwc_row_simd(const T* in, T* out, int64_t* idx, const PoolGeom& g, int64_t C, int64_t oy) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  const bool index_fits = sizeof(T) == 8 || g.H * g.W < (int64_t{1} << 31);
  const int64_t vector_channels = index_fits ? C : 0;
  for (int64_t ox = 0; ox < g.OW; ++ox) {
    T* o = out + (oy * g.OW + ox) * C;
    int64_t* oi = idx != nullptr ? idx + (oy * g.OW + ox) * C : nullptr;
    for (int64_t c = 0; c < vector_channels; c += L) {
      const int64_t n = std::min<int64_t>(L, C - c);
      typename X::V best = X::set1(-std::numeric_limits<T>::infinity());
      typename X::I best_i = X::index_lanes(-1, 0);
      bool first = true;
      for_each_tap(g, oy, ox, [&](int64_t y, int64_t x) {
        const typename X::V v = load_up_to<X>(in + (y * g.W + x) * C + c, n);
        const auto take = X::gt_or_nan(v, best);
        best = X::blend(best, v, take);
        if (oi != nullptr) {
          const typename X::I here = X::index_lanes(y * g.W + x, 0);
          best_i = first ? here : X::blend_index(best_i, here, take);
        }
        first = false;
      });
      store_up_to<X>(o + c, best, n);
      if (oi != nullptr) store_index_up_to<X>(oi + c, best_i, n);
    }
    if (vector_channels < C) max_pool_nhwc_channels(in, out, idx, g, C, oy, ox, vector_channels);
  }
}

template <class T>
void window_pool_nhwc_row_simd(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p, int64_t C,
                               int64_t oy) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  const int64_t vector_channels = p.kind == WindowPoolKind::Lp ? 0 : C;  // Lp: a pow per element, scalar
  const WindowSpan ys = window_span(oy, g.sh, g.ph, g.kh, g.H);
  for (int64_t ox = 0; ox < g.OW; ++ox) {
    T* o = out + (oy * g.OW + ox) * C;
    const int64_t divisor = window_divisor(p, ys, window_span(ox, g.sw, g.pw, g.kw, g.W));
    const typename X::V div = X::set1(static_cast<T>(divisor > 0 ? divisor : 1));
    for (int64_t c = 0; c < vector_channels; c += L) {
      const int64_t n = std::min<int64_t>(L, C - c);
      typename X::V acc = X::zero();
      for_each_tap(g, oy, ox,
                   [&](int64_t y, int64_t x) { acc = X::add(acc, load_up_to<X>(in + (y * g.W + x) * C + c, n)); });
      store_up_to<X>(o + c, p.kind == WindowPoolKind::Sum ? acc : X::div(acc, div), n);
    }
    if (vector_channels < C) window_pool_nhwc_channels(in, out, g, p, C, oy, ox, vector_channels);
  }
}

}  // namespace fastconv::FASTCONV_ISA
