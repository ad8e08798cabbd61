#include "conv/pad2d.h"

#include <vector>

#include "common/parallel.h"

namespace fastconv {

int64_t pad_source_index(int64_t i, int64_t n, PadMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::Constant:
      return -1;
    case PadMode::Replicate:
      return i < 0 ? 0 : n - 1;
    case PadMode::Circular:
      return ((i % n) + n) % n;
    case PadMode::Reflect: {  // period 2(n-1), edge not repeated
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      int64_t r = ((i % period) + period) % period;
      return r > n - 1 ? period - r : r;
    }
    case PadMode::Symmetric: {  // period 2n, edge repeated
      int64_t period = 2 * n;
      int64_t r = ((i % period) + period) % period;
      return r >= n ? period - 1 - r : r;
    }
  }
  return -1;
}

template <class T>
void pad2d(const T* in, T* out, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t bottom,
           int64_t left, int64_t right, PadMode mode, T fill) {
  const int64_t Hp = H + top + bottom, Wp = W + left + right;
  std::vector<int64_t> rows(Hp), cols(Wp);
  for (int64_t y = 0; y < Hp; ++y) rows[y] = pad_source_index(y - top, H, mode);
  for (int64_t x = 0; x < Wp; ++x) cols[x] = pad_source_index(x - left, W, mode);
  parallel_for(planes, planes * Hp * Wp, [&](int64_t p) {
    const T* src = in + p * H * W;
    T* dst = out + p * Hp * Wp;
    for (int64_t y = 0; y < Hp; ++y) {
      T* drow = dst + y * Wp;
      if (rows[y] < 0) {
        for (int64_t x = 0; x < Wp; ++x) drow[x] = fill;
        continue;
      }
      const T* srow = src + rows[y] * W;
      for (int64_t x = 0; x < Wp; ++x) drow[x] = cols[x] < 0 ? fill : srow[cols[x]];
    }
  });
}

template void pad2d<float>(const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, PadMode, float);
template void pad2d<double>(const double*, double*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                            int64_t, PadMode, double);

}  // namespace fastconv
