// Kernels::tap_row_dots for any lane type X (an ISA's Vec<T>, or ScalarLane<T> for the
// portable kernel): the sums of products a weight gradient reduces, for up to NF filters'
// grad_out planes and the KW taps of one kernel row at once, vectorised along output pixels.
// Each of the NF*KW sums keeps one vector of partial sums (each x vector is loaded once for
// all NF filters, each grad_out vector once for all KW taps), a row's last n % L pixels in
// masked lanes; the lanes are added in order at the end. The order depends on the sizes only.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/tap_dots.h"
#endif
#include <cstdint>

#include "kernels/generic/scalar_lane.h"
#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

// Filters per pass for a row of kw taps: NF*KW sums, NF grad_out vectors and one x vector
// in registers.
template <class X>
constexpr int tap_dots_filters(int kw) {
  const int nf = (X::kRegisters - 1) / (kw + 1);
  return nf < 1 ? 1 : nf > 4 ? 4 : nf;
}

// One vector of pixels i .. i + L - 1 of row r (only the first `lanes` when Masked) into
// every sum.
template <class T, class X, int KW, int NF, bool Masked>
[[gnu::always_inline]] inline void tap_dots_step(typename X::V (&acc)[NF][KW], const T* const* g, const T* x,
                                                 int64_t dw, int64_t i, int64_t lanes) {
  typename X::V gv[NF];
#pragma GCC unroll 8
  for (int f = 0; f < NF; ++f) {
    if constexpr (Masked)
      gv[f] = X::load_first(g[f] + i, lanes);
    else
      gv[f] = X::load(g[f] + i);
  }
#pragma GCC unroll 8
  for (int k = 0; k < KW; ++k) {
    typename X::V xv;
    if constexpr (Masked)
      xv = X::load_first(x + i + k * dw, lanes);
    else
      xv = X::load(x + i + k * dw);
#pragma GCC unroll 8
    for (int f = 0; f < NF; ++f) acc[f][k] = X::fma(gv[f], xv, acc[f][k]);
  }
}

template <class T, class X, int KW, int NF>
void tap_row_dots_fixed(const T* const* g, int64_t ldg, const T* x, int64_t ldx, int64_t dw, const TapDotsRows& rows,
                        int64_t n, T* sums) {
  constexpr int L = X::kLanes;
  typename X::V acc[NF][KW];
#pragma GCC unroll 8
  for (int f = 0; f < NF; ++f)
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k) acc[f][k] = X::zero();
  // The sums stay in registers only with every index of acc a constant (the loops over f and
  // k unrolled) and one loop over every vector of every row: with a loop of rows around a
  // loop of vectors GCC kept them in memory between rows (S5a's rows of 24 pixels ran at a
  // fifth of the peak).
  const int64_t per_row = (n + L - 1) / L, steps = rows.images * rows.rows * per_row;
  int64_t i = 0, r = 0, g_off = 0, x_off = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const T* gr[NF];
#pragma GCC unroll 8
    for (int f = 0; f < NF; ++f) gr[f] = g[f] + g_off;
    if constexpr (L > 1) {
      if (n - i < L) tap_dots_step<T, X, KW, NF, true>(acc, gr, x + x_off, dw, i, n - i);
      else tap_dots_step<T, X, KW, NF, false>(acc, gr, x + x_off, dw, i, L);
    } else {
      tap_dots_step<T, X, KW, NF, false>(acc, gr, x + x_off, dw, i, L);
    }
    i += L;
    if (i >= n) {  // the next row, or the next image's first
      i = 0;
      g_off += ldg;
      x_off += ldx;
      if (++r == rows.rows) {
        r = 0;
        g_off += rows.g_image_step - rows.rows * ldg;
        x_off += rows.x_image_step - rows.rows * ldx;
      }
    }
  }
#pragma GCC unroll 8
  for (int f = 0; f < NF; ++f)
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k) {
      T lanes[L];
      X::store(lanes, acc[f][k]);
      T sum = T(0);
      for (int j = 0; j < L; ++j) sum += lanes[j];
      sums[f * KW + k] += sum;
    }
}

// nf filters in passes of up to tap_dots_filters(KW).
template <class T, class X, int KW>
void tap_row_dots_kw(const T* const* g, int nf, int64_t ldg, const T* x, int64_t ldx, int64_t dw, const TapDotsRows& rows,
                     int64_t n, T* sums) {
  constexpr int NF = tap_dots_filters<X>(KW);
  static_assert(NF <= 4);
  for (int f = 0; f < nf; f += NF) {
    const T* const* gf = g + f;
    T* s = sums + f * KW;
    switch (nf - f < NF ? nf - f : NF) {
      case 1: tap_row_dots_fixed<T, X, KW, 1>(gf, ldg, x, ldx, dw, rows, n, s); break;
      case 2: tap_row_dots_fixed<T, X, KW, NF < 2 ? NF : 2>(gf, ldg, x, ldx, dw, rows, n, s); break;
      case 3: tap_row_dots_fixed<T, X, KW, NF < 3 ? NF : 3>(gf, ldg, x, ldx, dw, rows, n, s); break;
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
