// The loop the weight-gradient dot kernels (tap_dots.h, tap_plane_dots.h) share: every vector
// of L pixels of every row of every image, as one loop (not a loop of rows around a loop of
// vectors: GCC then kept the kernels' sums in memory between rows, and S5a's rows of 24 pixels
// ran at a fifth of the peak), a row's last n % L pixels as a masked vector; and the lanes of
// each sum added in order at the end.
#pragma once
#ifndef FASTCONV_ISA
#error "define FASTCONV_ISA (the ISA namespace) before including generic/row_vectors.h"
#endif
#include <cstdint>
#include <type_traits>

namespace fastconv::FASTCONV_ISA {

template <class X, bool Masked, class T>
[[gnu::always_inline]] inline typename X::V load_lanes(const T* p, int64_t lanes) {
  if constexpr (Masked)
    return X::load_first(p, lanes);
  else
    return X::load(p);
}

// step(masked, row, i, lanes) for pixels i .. i + lanes - 1 of each row of each image, in
// that order (masked: std::true_type for a row's last, partial vector), and next_row(next_image)
// after each row's last vector, where the callers advance their row pointers (recomputing
// every pointer for every vector from offsets, GCC spilled them: S2's weight gradient ran 4%
// slower).
template <int L, class Step, class NextRow>
[[gnu::always_inline]] inline void for_each_row_vector(int64_t images, int64_t rows, int64_t n, Step&& step,
                                                       NextRow&& next_row) {
  if (rows <= 0 || n <= 0) return;
  const int64_t steps = images * rows * ((n + L - 1) / L);
  int64_t i = 0, row = 0;
  for (int64_t k = 0; k < steps; ++k) {
    if constexpr (L > 1) {
      if (n - i < L)
        step(std::true_type{}, row, i, n - i);
      else
        step(std::false_type{}, row, i, int64_t{L});
    } else {
      step(std::false_type{}, row, i, int64_t{L});
    }
    i += L;
    if (i >= n) {
      i = 0;
      const bool next_image = ++row == rows;
      if (next_image) row = 0;
      next_row(next_image);
    }
  }
}

// A row's address, advanced by whole rows: an integer, since after the last row it steps past
// its array, where a pointer may not go (it is not read there).
template <class T>
class RowAddress {
 public:
  RowAddress() = default;
  explicit RowAddress(const T* p) : address_(reinterpret_cast<uintptr_t>(p)) {}
  const T* get() const { return reinterpret_cast<const T*>(address_); }
  void advance(int64_t values) { address_ += static_cast<uintptr_t>(values) * sizeof(T); }

 private:
  uintptr_t address_ = 0;
};

// Every vector of acc set to zero (the loops unrolled, as for add_lanes_in_order).
template <class X, int A, int B>
[[gnu::always_inline]] inline void zero_all(typename X::V (&acc)[A][B]) {
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a)
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[a][b] = X::zero();
}

// sums[a*B + b] += the lanes of acc[a][b], added in lane order. Every index of acc a constant
// (the loops unrolled), or GCC keeps acc in memory.
template <class X, int A, int B, class T>
[[gnu::always_inline]] inline void add_lanes_in_order(const typename X::V (&acc)[A][B], T* sums) {
#pragma GCC unroll 8
  for (int a = 0; a < A; ++a)
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      T lanes[X::kLanes];
      X::store(lanes, acc[a][b]);
      T sum = T(0);
      for (int j = 0; j < X::kLanes; ++j) sum += lanes[j];
      sums[a * B + b] += sum;
    }
}

}  // namespace fastconv::FASTCONV_ISA
