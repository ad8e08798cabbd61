// ISA-neutral SIMD kernel template: the including fill file defines FASTCONV_ISA and
// provides that ISA's Vec<T> traits (see avx2/vec_avx2.h) before including this header.
// Direct-convolution rows (Kernels::conv_rows). Stride 1: register blocks of several output
// rows by up to 4 vectors, the row's last n % L outputs in one masked vector. Stride 2: one
// row at a time, a strip of up to 8 vectors staying in registers while every tap is applied,
// loads deinterleaved; other strides and a stride-2 row's tail are scalar.
#pragma once
#include <algorithm>

#include "kernels/generic/conv_row.h"

namespace fastconv::FASTCONV_ISA {

// Stride 2: one row's NV vectors from `out` on.
template <class T, int NV>
void stride2_row_strip(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  typename X::V acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = X::load(out + v * L);
  for (int64_t ky = 0; ky < kh; ++ky) {
    const T* row = in + ky * row_step;
    for (int64_t kx = 0; kx < kw; ++kx) {
      const typename X::V wv = X::set1(w[ky * kw + kx]);
      const T* p = row + kx * dw;
      for (int v = 0; v < NV; ++v) acc[v] = X::fma(wv, X::load_even(p + v * L * 2), acc[v]);
    }
  }
  for (int v = 0; v < NV; ++v) X::store(out + v * L, acc[v]);
}

// The last n (< NV) vectors of a row as one strip, so that their FMA chains overlap.
template <class T, int NV>
void stride2_row_rest(int64_t n, T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw,
                      int64_t dw) {
  if constexpr (NV > 0) {
    if (n == NV) return stride2_row_strip<T, NV>(out, in, row_step, w, kh, kw, dw);
    stride2_row_rest<T, NV - 1>(n, out, in, row_step, w, kh, kw, dw);
  }
}

template <class T>
int64_t stride2_row_vectors(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw,
                            int64_t count) {
  constexpr int L = Vec<T>::kLanes, NV = 8;  // 8 independent accumulator chains hide the FMA latency
  // Stride 2 loads one element past the last output's tap: stop a vector short of the end.
  const int64_t limit = count - 1;
  int64_t i = 0;
  for (; i + NV * L <= limit; i += NV * L) stride2_row_strip<T, NV>(out + i, in + i * 2, row_step, w, kh, kw, dw);
  const int64_t rest = (limit - i) / L;
  stride2_row_rest<T, NV - 1>(rest, out + i, in + i * 2, row_step, w, kh, kw, dw);
  return i + rest * L;
}

// One row of stride sw != 1, added to out.
template <class T>
void strided_conv_row(T* out, const T* in, int64_t row_step, const T* w, int64_t kh, int64_t kw, int64_t dw,
                      int64_t count, int64_t sw) {
  int64_t i = 0;
  if (sw == 2)
    i = stride2_row_vectors<T>(out, in, row_step, w, kh, kw, dw, count);
  conv_row_scalar(out, in, row_step, w, kh, kw, dw, i, count, sw);
}

// Stride-1 rows in register blocks: R output rows by NV vectors of columns, the last
// vector holding `last` lanes when Masked. When in_step == row_step (stride equal to
// dilation: every 3x3 stride-1 layer), output row r's tap row ky is input row r + ky, so each
// input row is loaded once per kx for the up to R output rows that read it; every output
// still sums its taps in (ky, kx) order.
template <class T, int R, int NV, bool Masked>
void conv_rows_block(T* out, const T* in, const T* w, const ConvRows<T>& g, int64_t last) {
  using X = Vec<T>;
  constexpr int L = X::kLanes;
  const auto load = [last](const T* p, int v) {
    return Masked && v == NV - 1 ? X::load_first(p + v * L, last) : X::load(p + v * L);
  };
  typename X::V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = g.accumulate ? load(out + r * g.out_step, v) : X::set1(g.start);
  const int64_t kh = g.kh, kw = g.kw, dw = g.dw;
  if (g.in_step == g.row_step) {
    for (int64_t j = 0; j < kh + R - 1; ++j) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        typename X::V x[NV];
        for (int v = 0; v < NV; ++v) x[v] = load(in + j * g.row_step + kx * dw, v);
        for (int r = 0; r < R; ++r) {
          const int64_t ky = j - r;
          if (ky < 0 || ky >= kh) continue;
          const typename X::V wv = X::set1(w[ky * kw + kx]);
          for (int v = 0; v < NV; ++v) acc[r][v] = X::fma(wv, x[v], acc[r][v]);
        }
      }
    }
  } else {
    for (int r = 0; r < R; ++r)
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx) {
          const typename X::V wv = X::set1(w[ky * kw + kx]);
          for (int v = 0; v < NV; ++v)
            acc[r][v] = X::fma(wv, load(in + r * g.in_step + ky * g.row_step + kx * dw, v), acc[r][v]);
        }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) {
      if (Masked && v == NV - 1)
        X::store_first(out + r * g.out_step + v * L, acc[r][v], last);
      else
        X::store(out + r * g.out_step + v * L, acc[r][v]);
    }
}

// The last nv (<= NV) vectors of R rows, the final one holding `last` lanes.
template <class T, int R, int NV>
void conv_rows_rest(int64_t nv, int64_t last, T* out, const T* in, const T* w, const ConvRows<T>& g) {
  if constexpr (NV > 0) {
    if (nv < NV) return conv_rows_rest<T, R, NV - 1>(nv, last, out, in, w, g);
    if (last < Vec<T>::kLanes) return conv_rows_block<T, R, NV, true>(out, in, w, g, last);
    conv_rows_block<T, R, NV, false>(out, in, w, g, last);
  }
}

// Vectors of columns per block: R rows of accumulators, one row of loaded inputs and the
// broadcast weight fit the ISA's registers.
template <class T, int R>
constexpr int rows_block_vectors() {
  return std::min(4, (Vec<T>::kRegisters - 2) / (R + 1));
}

// R stride-1 output rows, block by block along the columns.
template <class T, int R>
void conv_rows_cols(T* out, const T* in, const T* w, const ConvRows<T>& g) {
  constexpr int L = Vec<T>::kLanes, NV = rows_block_vectors<T, R>();
  int64_t i = 0;
  for (; i + NV * L <= g.count; i += NV * L) conv_rows_block<T, R, NV, false>(out + i, in + i, w, g, L);
  if (i == g.count) return;
  const int64_t nv = (g.count - i + L - 1) / L;
  conv_rows_rest<T, R, NV>(nv, g.count - i - (nv - 1) * L, out + i, in + i, w, g);
}

template <class T, int R>
void conv_rows_up_to(int64_t rows, T* out, const T* in, const T* w, const ConvRows<T>& g) {
  if constexpr (R > 0) {
    if (rows < R) return conv_rows_up_to<T, R - 1>(rows, out, in, w, g);
    conv_rows_cols<T, R>(out, in, w, g);
  }
}

// Kernels::conv_rows: stride-1 rows in register blocks of R rows; other strides row by row.
template <class T>
void conv_rows_simd(T* out, const T* in, const T* w, const ConvRows<T>& g) {
  if (g.sw != 1) {
    for (int64_t r = 0; r < g.rows; ++r) {
      T* o = out + r * g.out_step;
      if (!g.accumulate) std::fill(o, o + g.count, g.start);
      strided_conv_row(o, in + r * g.in_step, g.row_step, w, g.kh, g.kw, g.dw, g.count, g.sw);
    }
    return;
  }
  constexpr int R = Vec<T>::kRegisters >= 32 ? 4 : 2;
  int64_t r = 0;
  for (; r + R <= g.rows; r += R) conv_rows_cols<T, R>(out + r * g.out_step, in + r * g.in_step, w, g);
  conv_rows_up_to<T, R - 1>(g.rows - r, out + r * g.out_step, in + r * g.in_step, w, g);
}

}  // namespace fastconv::FASTCONV_ISA
