// Kernels::tap_row_dots for any lane type X (an ISA's Vec<T>, or ScalarLane<T> for the
// portable kernel): the sums of products a weight gradient reduces, for up to NF filters'
// grad_out planes and the KW taps of one kernel row at once, vectorised along output pixels.
// Each of the NF*KW sums keeps one vector of partial sums (each x vector is loaded once for
// all NF filters, each grad_out vector once for all KW taps), a row's last n % L pixels in
// masked lanes; the lanes are added in order at the end (generic/row_vectors.h). The order
// depends on the sizes only.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/tap_dots.h"
#endif
#include <cstdint>

#include "kernels/generic/row_vectors.h"
#include "kernels/generic/scalar_lane.h"
#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

// Filters per pass for a row of kw taps: NF*KW sums, NF grad_out vectors and one x vector
// in registers.
template <class X>
constexpr int tap_dots_filters(int kw) {
  const int nf = (X::kRegisters - 1) / (kw + 1);
  return nf < 1 ? 1 : nf > 6 ? 6 : nf;
}

// One vector of pixels i .. i + L - 1 (only the first `lanes` when Masked) of a row into every
// sum; g[f] and x are the row's first pixels.
template <class T, class X, int KW, int NF, bool Masked>
[[gnu::always_inline]] inline void tap_dots_step(typename X::V (&acc)[NF][KW], const T* const* g, const T* x,
                                                 int64_t dw, int64_t i, int64_t lanes) {
  typename X::V gv[NF];
#pragma GCC unroll 8
  for (int f = 0; f < NF; ++f) gv[f] = load_lanes<X, Masked>(g[f] + i, lanes);
#pragma GCC unroll 8
  for (int k = 0; k < KW; ++k) {
    const typename X::V xv = load_lanes<X, Masked>(x + i + k * dw, lanes);
#pragma GCC unroll 8
    for (int f = 0; f < NF; ++f) acc[f][k] = X::fma(gv[f], xv, acc[f][k]);
  }
}

template <class T, class X, int KW, int NF>
void tap_row_dots_fixed(const T* const* g, int64_t ldg, const T* x, int64_t ldx, int64_t dw, const TapDotsRows& rows,
                        int64_t n, T* sums) {
  typename X::V acc[NF][KW];
  zero_all<X>(acc);
  // The current row of each filter's grad_out, and of x, as addresses: after the last row they
  // step past their arrays, where pointers may not go.
  RowAddress<T> gr[NF];
#pragma GCC unroll 8
  for (int f = 0; f < NF; ++f) gr[f] = RowAddress<T>(g[f]);
  RowAddress<T> xr(x);
  const int64_t g_image = rows.g_image_step - rows.rows * ldg, x_image = rows.x_image_step - rows.rows * ldx;
  for_each_row_vector<X::kLanes>(
      rows.images, rows.rows, n,
      [&](auto masked, int64_t, int64_t i, int64_t lanes) {
        const T* g_rows[NF];
#pragma GCC unroll 8
        for (int f = 0; f < NF; ++f) g_rows[f] = gr[f].get();
        tap_dots_step<T, X, KW, NF, decltype(masked)::value>(acc, g_rows, xr.get(), dw, i, lanes);
      },
      [&](bool next_image) {
#pragma GCC unroll 8
        for (int f = 0; f < NF; ++f) gr[f].advance(ldg + (next_image ? g_image : 0));
        xr.advance(ldx + (next_image ? x_image : 0));
      });
  add_lanes_in_order<X>(acc, sums);
}

// nf filters in passes of up to tap_dots_filters(KW).
template <class T, class X, int KW>
void tap_row_dots_kw(const T* const* g, int nf, int64_t ldg, const T* x, int64_t ldx, int64_t dw, const TapDotsRows& rows,
                     int64_t n, T* sums) {
  constexpr int NF = tap_dots_filters<X>(KW);
  static_assert(NF <= 6);
  for (int f = 0; f < nf; f += NF) {
    const T* const* gf = g + f;
    T* s = sums + f * KW;
    switch (nf - f < NF ? nf - f : NF) {
      case 1: tap_row_dots_fixed<T, X, KW, 1>(gf, ldg, x, ldx, dw, rows, n, s); break;
      case 2: tap_row_dots_fixed<T, X, KW, NF < 2 ? NF : 2>(gf, ldg, x, ldx, dw, rows, n, s); break;
      case 3: tap_row_dots_fixed<T, X, KW, NF < 3 ? NF : 3>(gf, ldg, x, ldx, dw, rows, n, s); break;
      case 4: tap_row_dots_fixed<T, X, KW, NF < 4 ? NF : 4>(gf, ldg, x, ldx, dw, rows, n, s); break;
      case 5: tap_row_dots_fixed<T, X, KW, NF < 5 ? NF : 5>(gf, ldg, x, ldx, dw, rows, n, s); break;
      default: tap_row_dots_fixed<T, X, KW, NF>(gf, ldg, x, ldx, dw, rows, n, s); break;
    }
  }
}

template <class T, class X>
void tap_row_dots_lanes(const T* const* g, int nf, int64_t ldg, const T* x, int64_t ldx, int kw, int64_t dw,
                        const TapDotsRows& rows, int64_t n, T* sums) {
  switch (kw) {
    case 1: return tap_row_dots_kw<T, X, 1>(g, nf, ldg, x, ldx, dw, rows, n, sums);
    case 2: return tap_row_dots_kw<T, X, 2>(g, nf, ldg, x, ldx, dw, rows, n, sums);
    case 3: return tap_row_dots_kw<T, X, 3>(g, nf, ldg, x, ldx, dw, rows, n, sums);
    case 4: return tap_row_dots_kw<T, X, 4>(g, nf, ldg, x, ldx, dw, rows, n, sums);
    case 5: return tap_row_dots_kw<T, X, 5>(g, nf, ldg, x, ldx, dw, rows, n, sums);
    case 6: return tap_row_dots_kw<T, X, 6>(g, nf, ldg, x, ldx, dw, rows, n, sums);
    default: return tap_row_dots_kw<T, X, 7>(g, nf, ldg, x, ldx, dw, rows, n, sums);
  }
}

}  // namespace fastconv::FASTCONV_ISA
