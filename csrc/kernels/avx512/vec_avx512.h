// 512-bit vector traits (AVX-512F only), the same interface as avx2/vec_avx2.h; comparison
// results are mask registers. Include only from files compiled with -mavx512f.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace fastconv::avx512 {

template <class T>
struct Vec;

template <>
struct Vec<float> {
  using V = __m512;
  using M = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr int kRegisters = 32;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float v) { return _mm512_set1_ps(v); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  // The first n < kLanes lanes; the others are neither read (they are 0) nor written.
  static V load_first(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first_lanes(n), p); }
  static void store_first(float* p, V v, int64_t n) { _mm512_mask_storeu_ps(p, first_lanes(n), v); }
  static M first_lanes(int64_t n) { return static_cast<M>((1u << n) - 1); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V max_keep_nan(V a, V b) { return _mm512_max_ps(a, b); }
  static M gt_or_nan(V v, V best) {
    return _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  static V blend(V a, V b, M take_b) { return _mm512_mask_blend_ps(take_b, a, b); }
  static V load_even(const float* p) {  // p[0], p[2], ..., p[30] (reads p[0..31])
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p + 16));
  }
  static void load_pairs(const float* p, V* even, V* odd) {
    const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    *even = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
    *odd = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
  }
  using I = __m512i;  // 32-bit index lanes (planes of fewer than 2^31 pixels)
  static I index_lanes(int64_t base, int64_t step) {
    return _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(base)),
                            _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(static_cast<int32_t>(step))));
  }
  static I blend_index(I a, I b, M take_b) { return _mm512_mask_blend_epi32(take_b, a, b); }
  static void store_index(int64_t* p, I v) {
    _mm512_storeu_si512(p, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
    _mm512_storeu_si512(p + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
  }
  // dst[j*ld_dst + i] = src[i*ld_src + j] for i < rows, j < cols (both at most 16); nothing
  // outside those is read or written. After the two in-lane stages, 128-bit lane l of
  // r[4q + j] holds column 4l + j of rows 4q..4q+3; the 128-bit shuffles gather the lanes.
  static void transpose_block(const float* src, int64_t ld_src, float* dst, int64_t ld_dst, int64_t rows,
                              int64_t cols) {
    V r[16], t[16];
    const M in = first_lanes(cols), out = first_lanes(rows);
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_maskz_loadu_ps(in, src + i * ld_src) : zero();
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
      const V even_lo = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), odd_lo = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
      const V even_hi = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
      const V odd_hi = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
      const V column[4] = {_mm512_shuffle_f32x4(even_lo, even_hi, 0x88), _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88),
                           _mm512_shuffle_f32x4(even_lo, even_hi, 0xDD), _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xDD)};
      for (int l = 0; l < 4; ++l)
        if (4 * l + j < cols) _mm512_mask_storeu_ps(dst + (4 * l + j) * ld_dst, out, column[l]);
    }
  }
};

template <>
struct Vec<double> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr int kLanes = 8;
  static constexpr int kRegisters = 32;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(double v) { return _mm512_set1_pd(v); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V load_first(const double* p, int64_t n) { return _mm512_maskz_loadu_pd(first_lanes(n), p); }
  static void store_first(double* p, V v, int64_t n) { _mm512_mask_storeu_pd(p, first_lanes(n), v); }
  static M first_lanes(int64_t n) { return static_cast<M>((1u << n) - 1); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V div(V a, V b) { return _mm512_div_pd(a, b); }
  static V max_keep_nan(V a, V b) { return _mm512_max_pd(a, b); }
  static M gt_or_nan(V v, V best) {
    return _mm512_cmp_pd_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);
  }
  static V blend(V a, V b, M take_b) { return _mm512_mask_blend_pd(take_b, a, b); }
  static V load_even(const double* p) {  // p[0], p[2], ..., p[14] (reads p[0..15])
    const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    return _mm512_permutex2var_pd(_mm512_loadu_pd(p), idx, _mm512_loadu_pd(p + 8));
  }
  static void load_pairs(const double* p, V* even, V* odd) {
    const __m512d a = _mm512_loadu_pd(p), b = _mm512_loadu_pd(p + 8);
    *even = _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), b);
    *odd = _mm512_permutex2var_pd(a, _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15), b);
  }
  using I = __m512i;  // 64-bit index lanes
  static I index_lanes(int64_t base, int64_t step) {
    return _mm512_add_epi64(_mm512_set1_epi64(base),
                            _mm512_mullox_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(step)));
  }
  static I blend_index(I a, I b, M take_b) { return _mm512_mask_blend_epi64(take_b, a, b); }
  static void store_index(int64_t* p, I v) { _mm512_storeu_si512(p, v); }
  // dst[j*ld_dst + i] = src[i*ld_src + j] for i < rows, j < cols (both at most 8); nothing
  // outside those is read or written. After the in-lane stage, 128-bit lane l of t[2q + h]
  // holds column 2l + h of rows 2q, 2q+1; the 128-bit shuffles gather the lanes.
  static void transpose_block(const double* src, int64_t ld_src, double* dst, int64_t ld_dst, int64_t rows,
                              int64_t cols) {
    V r[8], t[8];
    const M in = first_lanes(cols), out = first_lanes(rows);
    for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm512_maskz_loadu_pd(in, src + i * ld_src) : zero();
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (int h = 0; h < 2; ++h) {
      const V even_lo = _mm512_shuffle_f64x2(t[h], t[2 + h], 0x88), odd_lo = _mm512_shuffle_f64x2(t[h], t[2 + h], 0xDD);
      const V even_hi = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0x88);
      const V odd_hi = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0xDD);
      const V column[4] = {_mm512_shuffle_f64x2(even_lo, even_hi, 0x88), _mm512_shuffle_f64x2(odd_lo, odd_hi, 0x88),
                           _mm512_shuffle_f64x2(even_lo, even_hi, 0xDD), _mm512_shuffle_f64x2(odd_lo, odd_hi, 0xDD)};
      for (int l = 0; l < 4; ++l)
        if (2 * l + h < cols) _mm512_mask_storeu_pd(dst + (2 * l + h) * ld_dst, out, column[l]);
    }
  }
};

}  // namespace fastconv::avx512
