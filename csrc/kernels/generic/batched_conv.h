// Kernels::batched_conv_row for any lane type X (an ISA's Vec<T>, or ScalarLane<T> for the
// portable backend): direct convolution vectorised across images. With the images
// interleaved lane by lane every tap is one vector load and every weight one broadcast, so a
// register tile of KT filters x P output columns does KT*P multiply-adds for KT + P loads,
// whatever the image size. Each output sums its taps in (c, ky, kx) order from its bias.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/batched_conv.h"
#endif
#include <algorithm>
#include <cstdint>

#include "kernels/generic/scalar_lane.h"
#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

// Filters per register tile: up to 8 with 32 vector registers, 4 with 16.
constexpr int batched_max_filters(int registers) { return registers >= 32 ? 8 : 4; }

// Output columns per tile: the KT x P accumulators, P input vectors and a broadcast weight
// fit in the registers.
constexpr int batched_tile_columns(int kt, int registers) { return std::min(8, (registers - 1) / (kt + 1)); }

// Output columns [0, P) of filters [0, KT) (weights w[tap*KT + a], taps in (c, ky, kx)
// order); filters a < k_store are stored.
template <class T, class X, int KT, int P>
void batched_conv_tile(const T* x, const BatchedConvRow& g, const T* w, const T* bias, int64_t k_store, bool relu,
                       T* out) {
  using V = typename X::V;
  constexpr int64_t L = X::kLanes;
  V acc[KT][P];
  for (int a = 0; a < KT; ++a) {
    const V start = bias != nullptr && a < k_store ? X::set1(bias[a]) : X::zero();
    for (int p = 0; p < P; ++p) acc[a][p] = start;
  }
  const int64_t column_step = g.sw * g.x_col * L, tap_step = g.dw * g.x_col * L;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const T* row = x + (c * g.x_channel + ky * g.dh * g.x_row) * L;
      for (int64_t kx = 0; kx < g.kw; ++kx, w += KT) {
        const T* tap = row + kx * tap_step;
        V xv[P];
        for (int p = 0; p < P; ++p) xv[p] = X::load(tap + p * column_step);
        for (int a = 0; a < KT; ++a) {
          const V wa = X::set1(w[a]);
          for (int p = 0; p < P; ++p) acc[a][p] = X::fma(wa, xv[p], acc[a][p]);
        }
      }
    }
  for (int a = 0; a < KT && a < k_store; ++a)
    for (int p = 0; p < P; ++p)
      X::store(out + (a * g.out_filter + p * g.out_col) * L, relu ? X::max_keep_nan(X::zero(), acc[a][p]) : acc[a][p]);
}

// Columns [0, n) of a row as one tile, n <= P.
template <class T, class X, int KT, int P>
void batched_conv_columns(int64_t n, const T* x, const BatchedConvRow& g, const T* w, const T* bias,
                          int64_t k_store, bool relu, T* out) {
  if constexpr (P > 0) {
    if (n == P) return batched_conv_tile<T, X, KT, P>(x, g, w, bias, k_store, relu, out);
    batched_conv_columns<T, X, KT, P - 1>(n, x, g, w, bias, k_store, relu, out);
  }
}

// The row in as few tiles as the register budget allows, their widths differing by at most
// one (a narrow last tile would do few multiply-adds per load).
template <class T, class X, int KT>
void batched_conv_row_of(const T* x, const BatchedConvRow& g, const T* w, const T* bias, int64_t k_store, bool relu,
                         T* out) {
  constexpr int P = batched_tile_columns(KT, X::kRegisters);
  constexpr int64_t L = X::kLanes;
  const int64_t tiles = (g.OW + P - 1) / P, narrow = g.OW / tiles, wide_tiles = g.OW % tiles;
  for (int64_t t = 0, ox = 0; t < tiles; ++t) {
    const int64_t n = narrow + (t < wide_tiles ? 1 : 0);
    batched_conv_columns<T, X, KT, P>(n, x + ox * g.sw * g.x_col * L, g, w, bias, k_store, relu,
                                      out + ox * g.out_col * L);
    ox += n;
  }
}

// Picks the tile instantiation for kt filters (1 <= kt <= KT).
template <class T, class X, int KT>
void batched_conv_row_up_to(int64_t kt, const T* x, const BatchedConvRow& g, const T* w, const T* bias,
                            int64_t k_store, bool relu, T* out) {
  if constexpr (KT > 0) {
    if (kt == KT) return batched_conv_row_of<T, X, KT>(x, g, w, bias, k_store, relu, out);
    batched_conv_row_up_to<T, X, KT - 1>(kt, x, g, w, bias, k_store, relu, out);
  }
}

template <class T, class X>
void batched_conv_row(int64_t kt, const T* x, const BatchedConvRow& g, const T* w, const T* bias, int64_t k_store,
                      bool relu, T* out) {
  batched_conv_row_up_to<T, X, batched_max_filters(X::kRegisters)>(kt, x, g, w, bias, k_store, relu, out);
}

// Fills the kernel-table entries for lane type X.
template <class T, class X, class Table>
void fill_batched_conv(Table& k) {
  k.batched_lanes = X::kLanes;
  k.batched_max_filters = batched_max_filters(X::kRegisters);
  k.batched_conv_row = batched_conv_row<T, X>;
}

}  // namespace fastconv::FASTCONV_ISA
