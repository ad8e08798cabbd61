// The transforms of Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms
// for Convolutional Neural Networks", 2016; interpolation points 0, +-1, +-2, inf): a 3x3
// filter g becomes U = G g G^T, a 6x6 input tile d becomes V = B^T d B, and the 36 products
// M of U and V summed over channels (conv2d_winograd.cc) become the 4x4 outputs A^T M A.
// Every filter and channel is its own transform, so one template serves any lane type: X is
// a Vec<T> of the ISA (kLanes filters or channels at a time) or ScalarLane<T> (the portable
// kernels and the tails of the SIMD ones).
//
// The input and output kernels also report whether every value they read or wrote was
// finite: the caller falls back to a direct summation otherwise, since a transform spreads
// an inf or NaN (or an overflow) over the whole tile where a direct sum keeps it to the
// windows that hold it.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/winograd.h"
#endif
#include <cstdint>

#include "kernels/generic/scalar_lane.h"

namespace fastconv::FASTCONV_ISA {

// probe + v*0: stays zero while every v is finite, NaN for good after an inf or NaN.
template <class X>
inline typename X::V probe_finite(typename X::V probe, typename X::V v) {
  return X::fma(v, X::zero(), probe);
}

// r = B^T x for one line of 6 values.
template <class X>
inline void input_line(const typename X::V (&x)[6], typename X::V (&r)[6]) {
  using V = typename X::V;
  const V four = X::set1(4), minus_four = X::set1(-4), minus_five = X::set1(-5);
  const V a = X::fma(minus_four, x[2], x[4]), b = X::fma(minus_four, x[1], x[3]);
  const V c = X::sub(x[4], x[2]), half_e = X::sub(x[3], x[1]), e = X::add(half_e, half_e);
  r[0] = X::fma(four, x[0], X::fma(minus_five, x[2], x[4]));
  r[1] = X::add(a, b);
  r[2] = X::sub(a, b);
  r[3] = X::add(c, e);
  r[4] = X::sub(c, e);
  r[5] = X::fma(four, x[1], X::fma(minus_five, x[3], x[5]));
}

// r = G x for one line of 3 filter taps.
template <class X, class T>
inline void filter_line(const typename X::V (&x)[3], typename X::V (&r)[6]) {
  using V = typename X::V;
  const V zero = X::zero(), s = X::add(x[0], x[2]), minus_sixth = X::set1(T(-1) / 6);
  const V t = X::fma(X::set1(T(1) / 24), x[0], X::fma(X::set1(T(1) / 6), x[2], zero));
  const V h = X::fma(X::set1(T(1) / 12), x[1], zero);
  r[0] = X::fma(X::set1(T(0.25)), x[0], zero);
  r[1] = X::fma(minus_sixth, X::add(s, x[1]), zero);
  r[2] = X::fma(minus_sixth, X::sub(s, x[1]), zero);
  r[3] = X::add(t, h);
  r[4] = X::sub(t, h);
  r[5] = x[2];
}

// r = A^T m for one line of 6 values.
template <class X>
inline void output_line(const typename X::V (&m)[6], typename X::V (&r)[4]) {
  const typename X::V s12 = X::add(m[1], m[2]), d12 = X::sub(m[1], m[2]);
  const typename X::V s34 = X::add(m[3], m[4]), d34 = X::sub(m[3], m[4]);
  r[0] = X::add(X::add(m[0], s12), s34);
  r[1] = X::fma(X::set1(2), d34, d12);
  r[2] = X::fma(X::set1(4), s34, s12);
  r[3] = X::add(X::fma(X::set1(8), d34, d12), m[5]);
}

// A separable 2-D transform of an In x In block: line() along each row of the block (element
// (i, j) given by read(i, j)), then down each column of the result; emit(i, j, value) receives
// element (i, j) of the Out x Out result, column by column. Always inlined: called through
// the lambdas, it would otherwise cost a fifth of the Winograd convolution.
template <class X, int In, int Out, class Line, class Read, class Emit>
[[gnu::always_inline]] inline void separable_transform(Line line, Read read, Emit emit) {
  using V = typename X::V;
  V rows[In][Out];  // rows[i] = line applied along row i
  for (int i = 0; i < In; ++i) {
    V d[In];
    for (int j = 0; j < In; ++j) d[j] = read(i, j);
    line(d, rows[i]);
  }
  for (int j = 0; j < Out; ++j) {
    V col[In];
    for (int i = 0; i < In; ++i) col[i] = rows[i][j];
    V r[Out];
    line(col, r);
    for (int i = 0; i < Out; ++i) emit(i, j, r[i]);
  }
}

// Filters [j, j + kLanes): tap t = ky*3 + kx of filter j at g[t*g_stride + j]; point p of
// U = G g G^T goes to u[p*u_stride + j]. The block is read transposed (G down each filter
// column first), so element (a, b) of the result is U's point b*6 + a.
template <class X, class T>
void filter_lanes(const T* g, int64_t g_stride, int64_t j, T* u, int64_t u_stride) {
  using V = typename X::V;
  separable_transform<X, 3, 6>([](const V (&x)[3], V (&r)[6]) { filter_line<X, T>(x, r); },
                               [&](int kx, int ky) { return X::load(g + (ky * 3 + kx) * g_stride + j); },
                               [&](int a, int b, V value) { X::store(u + (b * 6 + a) * u_stride + j, value); });
}

// Channels [c, c + kLanes) of one tile: taps[i*6 + j] is channel 0 of tile position (i, j);
// V point p = i*6 + j goes to v[p * v_stride + c]. Returns the updated finiteness probe.
template <class X, class T>
typename X::V input_tile_lanes(const T* const* taps, int64_t c, T* v, int64_t v_stride, typename X::V probe) {
  using V = typename X::V;
  separable_transform<X, 6, 6>([](const V (&x)[6], V (&r)[6]) { input_line<X>(x, r); },
                               [&](int i, int j) { return X::load(taps[i * 6 + j] + c); },
                               [&](int i, int j, V value) {
                                 probe = probe_finite<X>(probe, value);
                                 X::store(v + (i * 6 + j) * v_stride + c, value);
                               });
  return probe;
}

// Channels [k, k + kLanes) of one tile: M point p at m[p * m_stride + k]; output (a, b) of
// the 4x4 block to outs[a*4 + b] + k with the bias and relu, unless outs[a*4 + b] is null
// (past the image edge).
template <class X, class T>
typename X::V output_tile_lanes(const T* m, int64_t m_stride, int64_t k, T* const* outs, const T* bias, bool relu,
                                typename X::V probe) {
  using V = typename X::V;
  const V zero = X::zero(), b = bias != nullptr ? X::load(bias + k) : zero;
  separable_transform<X, 6, 4>([](const V (&x)[6], V (&r)[4]) { output_line<X>(x, r); },
                               [&](int i, int j) {
                                 const V value = X::load(m + (i * 6 + j) * m_stride + k);
                                 probe = probe_finite<X>(probe, value);
                                 return value;
                               },
                               [&](int i, int j, V y) {
                                 probe = probe_finite<X>(probe, y);
                                 T* o = outs[i * 4 + j];
                                 if (o == nullptr) return;
                                 const V r = X::add(b, y);
                                 X::store(o + k, relu ? X::max_keep_nan(zero, r) : r);
                               });
  return probe;
}

// True when every lane of the probe is still zero.
template <class X, class T>
bool probe_is_finite(typename X::V probe) {
  T lanes[X::kLanes];
  X::store(lanes, probe);
  for (int i = 0; i < X::kLanes; ++i)
    if (lanes[i] != T(0)) return false;
  return true;
}

// Kernels::winograd_input for channels [c_begin, c_end), a multiple of X::kLanes of them.
template <class X, class T>
bool input_tile(const T* const* taps, int64_t c_begin, int64_t c_end, T* v, int64_t v_stride) {
  typename X::V probe = X::zero();
  for (int64_t c = c_begin; c < c_end; c += X::kLanes) probe = input_tile_lanes<X>(taps, c, v, v_stride, probe);
  return probe_is_finite<X, T>(probe);
}

// Kernels::winograd_output for channels [k_begin, k_end), a multiple of X::kLanes of them.
template <class X, class T>
bool output_tile(const T* m, int64_t m_stride, int64_t k_begin, int64_t k_end, T* const* outs, const T* bias,
                 bool relu) {
  typename X::V probe = X::zero();
  for (int64_t k = k_begin; k < k_end; k += X::kLanes)
    probe = output_tile_lanes<X>(m, m_stride, k, outs, bias, relu, probe);
  return probe_is_finite<X, T>(probe);
}

// Kernels::winograd_filter for filters [begin, end), a multiple of X::kLanes of them.
template <class X, class T>
void filter_tile(const T* g, int64_t g_stride, int64_t begin, int64_t end, T* u, int64_t u_stride) {
  for (int64_t j = begin; j < end; j += X::kLanes) filter_lanes<X>(g, g_stride, j, u, u_stride);
}

template <class T>
void winograd_filter_scalar(const T* g, int64_t g_stride, int64_t count, T* u, int64_t u_stride) {
  filter_tile<ScalarLane<T>>(g, g_stride, 0, count, u, u_stride);
}

template <class T>
bool winograd_input_scalar(const T* const* taps, int64_t C, T* v, int64_t v_stride) {
  return input_tile<ScalarLane<T>>(taps, 0, C, v, v_stride);
}

template <class T>
bool winograd_output_scalar(const T* m, int64_t m_stride, int64_t K, T* const* outs, const T* bias, bool relu) {
  return output_tile<ScalarLane<T>>(m, m_stride, 0, K, outs, bias, relu);
}

}  // namespace fastconv::FASTCONV_ISA
