// Kernels::tap_plane_dots for any lane type X (an ISA's Vec<T>, or ScalarLane<T> for the
// portable kernel): the weight-gradient sums of one filter's grad_out planes and all KH x KW
// taps of a kernel whose rows are consecutive input rows (stride 1 and dilation 1 along
// rows). Each input row is loaded once, as KW shifted vectors, for the KH grad_out rows that
// read it (tap_row_dots loads it once per kernel row), so a 3x3 kernel takes 6 loads for 9
// multiply-adds instead of 12. Each sum keeps one vector of partial sums, added over images,
// grad_out rows and pixels in that order (tap_row_dots' order), a row's last n % L pixels in
// masked lanes; the lanes are added in order at the end (generic/row_vectors.h).
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/tap_plane_dots.h"
#endif
#include <cstdint>

#include "kernels/generic/row_vectors.h"
#include "kernels/generic/scalar_lane.h"
#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

// Input row y's vector of pixels i .. i + L - 1 (only the first `lanes` when Masked) into the
// sums of every kernel row ky whose grad_out row y - ky exists; g: the image's grad_out
// plane, x: input row y.
template <class T, class X, int KH, int KW, bool Masked>
[[gnu::always_inline]] inline void tap_plane_step(typename X::V (&acc)[KH][KW], const T* g, int64_t ldg,
                                                  const T* x, int64_t dw, int64_t y, int64_t rows, int64_t i,
                                                  int64_t lanes) {
  typename X::V xv[KW];
#pragma GCC unroll 8
  for (int kx = 0; kx < KW; ++kx) xv[kx] = load_lanes<X, Masked>(x + i + kx * dw, lanes);
#pragma GCC unroll 8
  for (int ky = 0; ky < KH; ++ky) {
    if (y - ky < 0 || y - ky >= rows) continue;
    const typename X::V gv = load_lanes<X, Masked>(g + (y - ky) * ldg + i, lanes);
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; ++kx) acc[ky][kx] = X::fma(gv, xv[kx], acc[ky][kx]);
  }
}

template <class T, class X, int KH, int KW>
void tap_plane_dots_fixed(const T* g, int64_t ldg, const T* x, int64_t ldx, int64_t dw, const TapDotsRows& rows,
                          int64_t n, T* sums) {
  typename X::V acc[KH][KW];
  zero_all<X>(acc);
  // Input rows y of each image; grad_out advances by images only (the step picks the rows).
  const int64_t input_rows = rows.rows > 0 ? rows.rows + KH - 1 : 0, x_image = rows.x_image_step - input_rows * ldx;
  RowAddress<T> gi(g), xr(x);  // (addresses: see tap_row_dots)
  for_each_row_vector<X::kLanes>(
      rows.images, input_rows, n,
      [&](auto masked, int64_t y, int64_t i, int64_t lanes) {
        tap_plane_step<T, X, KH, KW, decltype(masked)::value>(acc, gi.get(), ldg, xr.get(), dw, y, rows.rows, i,
                                                              lanes);
      },
      [&](bool next_image) {
        xr.advance(ldx + (next_image ? x_image : 0));
        if (next_image) gi.advance(rows.g_image_step);
      });
  add_lanes_in_order<X>(acc, sums);
}

// Square kernels whose sums, input vectors and a grad_out vector fit the registers; false
// (nothing computed) for any other.
template <class T, class X>
bool tap_plane_dots_lanes(const T* g, int64_t ldg, const T* x, int64_t ldx, int kh, int kw, int64_t dw,
                          const TapDotsRows& rows, int64_t n, T* sums) {
  constexpr auto fits = [](int k) { return k * k + k + 1 <= X::kRegisters; };
  if (kh != kw) return false;
  if constexpr (fits(2))
    if (kh == 2) return tap_plane_dots_fixed<T, X, 2, 2>(g, ldg, x, ldx, dw, rows, n, sums), true;
  if constexpr (fits(3))
    if (kh == 3) return tap_plane_dots_fixed<T, X, 3, 3>(g, ldg, x, ldx, dw, rows, n, sums), true;
  if constexpr (fits(4))
    if (kh == 4) return tap_plane_dots_fixed<T, X, 4, 4>(g, ldg, x, ldx, dw, rows, n, sums), true;
  if constexpr (fits(5))
    if (kh == 5) return tap_plane_dots_fixed<T, X, 5, 5>(g, ldg, x, ldx, dw, rows, n, sums), true;
  return false;
}

}  // namespace fastconv::FASTCONV_ISA
