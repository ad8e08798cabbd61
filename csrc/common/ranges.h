#pragma once
#include <algorithm>
#include <cstdint>

namespace fastconv {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

struct Range {
  int64_t begin, end;
  int64_t size() const { return end - begin; }
};

// The o in [0, count) for which 0 <= o * step + offset < limit (step > 0).
inline Range valid_range(int64_t count, int64_t step, int64_t offset, int64_t limit) {
  int64_t lo = offset >= 0 ? 0 : (-offset + step - 1) / step;
  int64_t last = limit - 1 - offset;
  int64_t hi = last < 0 ? 0 : last / step + 1;
  lo = std::min(lo, count);
  hi = std::max(std::min(hi, count), lo);
  return {lo, hi};
}

}  // namespace fastconv
