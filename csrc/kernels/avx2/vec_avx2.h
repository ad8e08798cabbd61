// 256-bit vector traits so that one kernel template serves float (8 lanes) and double (4).
// Include only from files compiled with -mavx2 -mfma. Nothing here may be an inline function
// shared with portable files (ODR): everything is in this ISA's own namespace.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace fastconv::avx2 {

template <class T>
struct Vec;

template <>
struct Vec<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kRegisters = 16;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float v) { return _mm256_set1_ps(v); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // The first n < kLanes lanes; the others are neither read (they are 0) nor written.
  static __m256i first_lanes(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_first(const float* p, int64_t n) { return _mm256_maskload_ps(p, first_lanes(n)); }
  static void store_first(float* p, V v, int64_t n) { _mm256_maskstore_ps(p, first_lanes(n), v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // max(a, b) that returns b when b is NaN (so NaN in b propagates).
  static V max_keep_nan(V a, V b) { return _mm256_max_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  // Lanes where v > best or v is NaN (PyTorch's max pooling rule).
  static V gt_or_nan(V v, V best) {
    return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  static V blend(V a, V b, V mask) { return _mm256_blendv_ps(a, b, mask); }
  // Elements p[0], p[2], ..., p[14] (reads p[0..15]).
  static V load_even(const float* p) {
    const __m256 even = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8));
  }
  // p[0..15] split into even and odd elements: *even = p[0], p[2], ...; *odd = p[1], p[3], ...
  static void load_pairs(const float* p, V* even, V* odd) {
    const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
  }
  // Flat indices as 32-bit lanes (planes of fewer than 2^31 pixels).
  using I = __m256i;
  static I index_lanes(int64_t base, int64_t step) {
    return _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(base)),
                            _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                               _mm256_set1_epi32(static_cast<int32_t>(step))));
  }
  static I blend_index(I a, I b, V mask) { return _mm256_blendv_epi8(a, b, _mm256_castps_si256(mask)); }
  static void store_index(int64_t* p, I v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  }
  // dst[j*ld_dst + i] = src[i*ld_src + j] for i, j < 8.
  static void transpose_square(const float* src, int64_t ld_src, float* dst, int64_t ld_dst) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld_src);
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(dst + i * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
      _mm256_storeu_ps(dst + (i + 4) * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
  }
};

template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static constexpr int kRegisters = 16;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double v) { return _mm256_set1_pd(v); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static __m256i first_lanes(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V load_first(const double* p, int64_t n) { return _mm256_maskload_pd(p, first_lanes(n)); }
  static void store_first(double* p, V v, int64_t n) { _mm256_maskstore_pd(p, first_lanes(n), v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V max_keep_nan(V a, V b) { return _mm256_max_pd(a, b); }
  static V div(V a, V b) { return _mm256_div_pd(a, b); }
  static V gt_or_nan(V v, V best) {
    return _mm256_or_pd(_mm256_cmp_pd(v, best, _CMP_GT_OQ), _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
  }
  static V blend(V a, V b, V mask) { return _mm256_blendv_pd(a, b, mask); }
  // Elements p[0], p[2], p[4], p[6] (reads p[0..7]).
  static V load_even(const double* p) {
    return _mm256_permute4x64_pd(_mm256_unpacklo_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)), 0xD8);
  }
  static void load_pairs(const double* p, V* even, V* odd) {
    const __m256d a = _mm256_loadu_pd(p), b = _mm256_loadu_pd(p + 4);
    *even = _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8);
    *odd = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8);
  }
  using I = __m256i;  // 64-bit index lanes
  static I index_lanes(int64_t base, int64_t step) {
    return _mm256_setr_epi64x(base, base + step, base + 2 * step, base + 3 * step);
  }
  static I blend_index(I a, I b, V mask) { return _mm256_blendv_epi8(a, b, _mm256_castpd_si256(mask)); }
  static void store_index(int64_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  // dst[j*ld_dst + i] = src[i*ld_src + j] for i, j < 4.
  static void transpose_square(const double* src, int64_t ld_src, double* dst, int64_t ld_dst) {
    const __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + ld_src);
    const __m256d r2 = _mm256_loadu_pd(src + 2 * ld_src), r3 = _mm256_loadu_pd(src + 3 * ld_src);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + ld_dst, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * ld_dst, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * ld_dst, _mm256_permute2f128_pd(t1, t3, 0x31));
  }
};

}  // namespace fastconv::avx2
