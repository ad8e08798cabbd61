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
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float v) { return _mm256_set1_ps(v); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // max(a, b) that returns b when b is NaN (so NaN in b propagates).
  static V max_keep_nan(V a, V b) { return _mm256_max_ps(a, b); }
  static V gt_or_nan(V v, V best) { return _mm256_cmp_ps(v, best, _CMP_NLE_UQ); }
  static V blend(V a, V b, V mask) { return _mm256_blendv_ps(a, b, mask); }
};

template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double v) { return _mm256_set1_pd(v); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V max_keep_nan(V a, V b) { return _mm256_max_pd(a, b); }
  static V gt_or_nan(V v, V best) { return _mm256_cmp_pd(v, best, _CMP_NLE_UQ); }
  static V blend(V a, V b, V mask) { return _mm256_blendv_pd(a, b, mask); }
};

}  // namespace fastconv::avx2
