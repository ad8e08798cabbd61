// Depthwise NHWC convolution of a run of output pixels (Kernels::depthwise_nhwc), vectorised
// along channels: a register tile of P pixels x V vectors of channels stays in registers
// through every tap. With the window's width and stride known at compile time, an input
// column that several of the tile's pixels read (stride < width) is loaded once for all of
// them. The channel tail runs as one masked vector. ISA-neutral (see simd/gemm_mx2v.h).
#pragma once
#include "kernels/geometry.h"

namespace fastconv::FASTCONV_ISA {

// The window's width, stride and dilation along the row: compile-time (unit dilation) when
// KW > 0, else the run's; its height too when KH > 0 (the tile then unrolls the window rows).
template <int KW, int SW, int KH = 0>
struct RowWindow {
  static constexpr int kWidth = KW, kStride = SW, kHeight = KH;
  const DepthwiseRun& r;
  int64_t kw() const {
    if constexpr (KW > 0) return KW;
    return r.kw;
  }
  int64_t sw() const {
    if constexpr (KW > 0) return SW;
    return r.sw;
  }
  int64_t dw() const {
    if constexpr (KW > 0) return 1;
    return r.dw;
  }
};

// Pixels [j0, j0 + P) of the run, channels [c, c + V*L); when Partial (V == 1), only the
// first `lanes` < L of them, read and written with masks.
template <class T, int P, int V, bool Partial, class Win>
[[gnu::always_inline]] inline void depthwise_nhwc_tile(T* out, const T* const* rows, Win win, int64_t j0,
                                                       const T* w, const T* bias, bool relu, int64_t c,
                                                       int64_t lanes) {
  static_assert(!Partial || V == 1, "a masked tile is one vector wide");
  using X = Vec<T>;
  using R = typename X::V;
  constexpr int L = X::kLanes;
  const auto load = [lanes](const T* p) {
    if constexpr (Partial) return X::load_first(p, lanes);
    return X::load(p);
  };
  const int64_t C = win.r.C, kw = win.kw(), sw = win.sw(), dw = win.dw();
  R acc[P][V];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) acc[p][v] = X::zero();
  constexpr int KH = Win::kHeight;
  const int64_t kh = KH > 0 ? KH : win.r.kh;
#pragma GCC unroll 8
  for (int64_t ky = 0; ky < kh; ++ky) {
    const T* row = rows[ky] + j0 * sw * C + c;
    const T* w_row = w + ky * kw * C + c;
    constexpr int KW = Win::kWidth, SW = Win::kStride, columns = (P - 1) * SW + KW;
    if constexpr (KW > 0 && V == 1 && columns + P + 1 <= X::kRegisters) {
      // The tile's input columns are loaded once each (pixel p's tap kx is column p*SW + kx)
      // and pinned in registers: GCC would otherwise fold a load into every multiply-add that
      // reads them. Taps go kx-major so that an accumulator's successive multiply-adds are P
      // apart, not back to back.
      R in[columns];
      for (int i = 0; i < columns; ++i) {
        in[i] = load(row + i * C);
        asm("" : "+v"(in[i]));
      }
      for (int kx = 0; kx < KW; ++kx) {
        const R wt = load(w_row + kx * C);
        for (int p = 0; p < P; ++p) acc[p][0] = X::fma(in[p * SW + kx], wt, acc[p][0]);
      }
    } else {
      for (int64_t kx = 0; kx < kw; ++kx) {
        R wt[V];
        for (int v = 0; v < V; ++v) wt[v] = load(w_row + kx * C + v * L);
        for (int p = 0; p < P; ++p)
          for (int v = 0; v < V; ++v)
            acc[p][v] = X::fma(load(row + (p * sw + kx * dw) * C + v * L), wt[v], acc[p][v]);
      }
    }
    // The next tile's new columns.
    if constexpr (KW > 0)
      for (int i = columns; i < columns + P * SW; ++i) __builtin_prefetch(row + i * C);
  }
  const R zero = X::zero();
  for (int v = 0; v < V; ++v) {
    const R b = bias != nullptr ? load(bias + c + v * L) : zero;
    for (int p = 0; p < P; ++p) {
      R y = X::add(b, acc[p][v]);
      if (relu) y = X::max_keep_nan(zero, y);
      T* o = out + (j0 + p) * C + c + v * L;
      if constexpr (Partial)
        X::store_first(o, y, lanes);
      else
        X::store(o, y);
    }
  }
}

// Pixels [j, count) in tiles of P pixels, then P/2, ..., 1 for the rest; every channel of a
// tile's pixels before the next tile. Single pixels take four vectors of channels at a
// time, so that their long chains of taps (a border pixel's run as kh*kw rows) overlap.
template <class T, int P, class Win>
void depthwise_nhwc_from(T* out, const T* const* rows, Win win, int64_t j, int64_t count, const T* w,
                         const T* bias, bool relu) {
  constexpr int L = Vec<T>::kLanes, V = P == 1 ? 4 : 1;
  const int64_t C = win.r.C;
  for (; j + P <= count; j += P) {
    int64_t c = 0;
    for (; c + V * L <= C; c += V * L) depthwise_nhwc_tile<T, P, V, false>(out, rows, win, j, w, bias, relu, c, L);
    if constexpr (V > 1)
      for (; c + L <= C; c += L) depthwise_nhwc_tile<T, P, 1, false>(out, rows, win, j, w, bias, relu, c, L);
    if (c < C) depthwise_nhwc_tile<T, P, 1, true>(out, rows, win, j, w, bias, relu, c, C - c);
  }
  if constexpr (P > 1) depthwise_nhwc_from<T, P / 2>(out, rows, win, j, count, w, bias, relu);
}

template <class T>
void depthwise_nhwc_simd(T* out, const T* const* rows, const DepthwiseRun& r, int64_t count, const T* w,
                         const T* bias, bool relu) {
  // Eight accumulators keep both FMA units busy through their latency. With AVX-512 the
  // columns they read fit in the registers too for every window specialised below.
  constexpr int P = 8;
  const auto run = [&](auto win) { depthwise_nhwc_from<T, P>(out, rows, win, 0, count, w, bias, relu); };
  // Square windows (kh == kw) unroll their window rows too.
  const auto run_window = [&](auto square, auto any) { return r.kh == r.kw ? run(square) : run(any); };
  if (r.dw == 1) {
    if (r.kw == 3 && r.sw == 1) return run_window(RowWindow<3, 1, 3>{r}, RowWindow<3, 1>{r});
    if (r.kw == 3 && r.sw == 2) return run_window(RowWindow<3, 2, 3>{r}, RowWindow<3, 2>{r});
    if (r.kw == 5 && r.sw == 1) return run_window(RowWindow<5, 1, 5>{r}, RowWindow<5, 1>{r});
    if (r.kw == 5 && r.sw == 2) return run_window(RowWindow<5, 2, 5>{r}, RowWindow<5, 2>{r});
    if (r.kw == 7 && r.sw == 1) return run_window(RowWindow<7, 1, 7>{r}, RowWindow<7, 1>{r});
  }
  run(RowWindow<0, 0>{r});
}

}  // namespace fastconv::FASTCONV_ISA
