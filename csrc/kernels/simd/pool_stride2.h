// Pooling rows for the common stride-2 windows 2 and 3 wide (2x2 s2, 3x3 s2, ...), no
// dilation. Each window row is taken from pair loads that read exactly the window span
// (taps 0/1 are the even/odd elements at the window start, tap 2 the odd elements one
// further), and a row's last vector overlaps the previous one instead of leaving a scalar
// tail. Values are combined in the scalar code's order (window rows top to bottom, taps left
// to right), so results equal the portable kernel's. ISA-neutral (see gemm_mx2v.h).
#pragma once
#include "kernels/generic/pool_planes.h"

namespace fastconv::FASTCONV_ISA {

// The taps of one window row for L outputs starting at window column p[0].
template <class T, int KW>
void window_row_taps(const T* p, typename Vec<T>::V* taps) {
  Vec<T>::load_pairs(p, &taps[0], &taps[1]);
  if constexpr (KW == 3) {
    typename Vec<T>::V skip;
    Vec<T>::load_pairs(p + 1, &skip, &taps[2]);
  }
}

// max over (row, tap) in scan order with PyTorch's rule (greater, or NaN) -- values only.
template <class T, int KW>
typename Vec<T>::V max_window(const T* const* rows, int64_t nrows, int64_t col) {
  using X = Vec<T>;
  typename X::V best = X::set1(-std::numeric_limits<T>::infinity()), taps[3];
  for (int64_t r = 0; r < nrows; ++r) {
    window_row_taps<T, KW>(rows[r] + col, taps);
    for (int t = 0; t < KW; ++t) best = X::blend(best, taps[t], X::gt_or_nan(taps[t], best));
  }
  return best;
}

template <class T, int KW>
typename Vec<T>::V sum_window(const T* const* rows, int64_t nrows, int64_t col) {
  using X = Vec<T>;
  typename X::V acc = X::zero(), taps[3];
  for (int64_t r = 0; r < nrows; ++r) {
    window_row_taps<T, KW>(rows[r] + col, taps);
    for (int t = 0; t < KW; ++t) acc = X::add(acc, taps[t]);
  }
  return acc;
}

// Calls scalar(ox) for outputs whose windows leave the row and vector(ox) for blocks of L
// outputs inside it (the last block overlapping the one before).
template <class T, int KW, class Scalar, class Vector>
void stride2_row(const PoolGeom& g, Scalar&& scalar, Vector&& vector) {
  constexpr int L = Vec<T>::kLanes;
  const int64_t lo = imin((g.pw + 1) / 2, g.OW);                // first window starting at column >= 0
  const int64_t hi = imax(imin((g.W - KW + g.pw) / 2 + 1, g.OW), lo);  // windows ending inside the row
  if (hi - lo < L) {
    for (int64_t ox = 0; ox < g.OW; ++ox) scalar(ox);
    return;
  }
  for (int64_t ox = 0; ox < lo; ++ox) scalar(ox);
  for (int64_t ox = lo;; ox += L) {
    const int64_t start = imin(ox, hi - L);
    vector(start);
    if (start == hi - L) break;
  }
  for (int64_t ox = hi; ox < g.OW; ++ox) scalar(ox);
}

// The input rows of output row oy's window that lie inside the plane.
template <class T>
int64_t window_rows(const T* in, const PoolGeom& g, int64_t oy, const T** rows) {
  int64_t n = 0;
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    const int64_t y = oy * g.sh - g.ph + ky;
    if (y >= 0 && y < g.H) rows[n++] = in + y * g.W;
  }
  return n;
}

template <class T, int KW>
void max_pool_plane_s2(const T* in, T* out, const PoolGeom& g) {
  const T* rows[64];
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    const int64_t nrows = window_rows(in, g, oy, rows);
    T* orow = out + oy * g.OW;
    stride2_row<T, KW>(
        g, [&](int64_t ox) { max_pool_at(in, g, oy, ox, out, static_cast<int64_t*>(nullptr)); },
        [&](int64_t ox) { Vec<T>::store(orow + ox, max_window<T, KW>(rows, nrows, 2 * ox - g.pw)); });
  }
}

template <class T, int KW>
void window_pool_plane_s2(const T* in, T* out, const PoolGeom& g, const WindowPoolParams& p) {
  const T* rows[64];
  for (int64_t oy = 0; oy < g.OH; ++oy) {
    const int64_t nrows = window_rows(in, g, oy, rows);
    const WindowSpan ys = window_span(oy, g.sh, g.ph, g.kh, g.H);
    const T divisor = static_cast<T>(imax(window_divisor(p, ys, WindowSpan{0, KW, KW}), 1));
    T* orow = out + oy * g.OW;
    stride2_row<T, KW>(
        g, [&](int64_t ox) { window_pool_at(in, g, p, oy, ox, out); },
        [&](int64_t ox) {
          const typename Vec<T>::V sum = sum_window<T, KW>(rows, nrows, 2 * ox - g.pw);
          Vec<T>::store(orow + ox, p.kind == WindowPoolKind::Sum ? sum : Vec<T>::div(sum, Vec<T>::set1(divisor)));
        });
  }
}

// The specialised kernel for this geometry, or nullptr.
template <class T>
void (*max_pool_stride2_kernel(const PoolGeom& g, bool with_index))(const T*, T*, const PoolGeom&) {
  if (with_index || g.sw != 2 || g.dw != 1 || g.dh != 1 || g.kh > 64) return nullptr;
  return g.kw == 2 ? max_pool_plane_s2<T, 2> : g.kw == 3 ? max_pool_plane_s2<T, 3> : nullptr;
}

}  // namespace fastconv::FASTCONV_ISA
