// One value as a "vector" of one lane, with the interface of the ISAs' Vec<T> traits, so
// that a lane-generic kernel template also gives the portable kernels and the SIMD kernels'
// tails.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/scalar_lane.h"
#endif

namespace fastconv::FASTCONV_ISA {

template <class T>
struct ScalarLane {
  using V = T;
  static constexpr int kLanes = 1;
  static constexpr int kRegisters = 16;  // x86-64 and AArch64 have at least 16 FP registers
  static V zero() { return T(0); }
  static V set1(T v) { return v; }
  static V load(const T* p) { return *p; }
  static void store(T* p, V v) { *p = v; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V max_keep_nan(V a, V b) { return a > b ? a : b; }  // b when either is NaN, as maxps
};

}  // namespace fastconv::FASTCONV_ISA
