#include "conv/padding.h"

#include <algorithm>
#include <cstring>

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

IndexMap pad_index_map(int64_t count, int64_t step, int64_t offset, int64_t n, PadMode mode) {
  IndexMap map(count);
  for (int64_t j = 0; j < count; ++j) map[j] = pad_source_index(j * step + offset, n, mode);
  return map;
}

template <class T>
void pad_row(T* dst, const T* src, const int64_t* map, int64_t count, Range straight, T fill, int64_t width) {
  if (src == nullptr) {
    std::fill(dst, dst + count * width, fill);
    return;
  }
  auto gather = [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j)
      for (int64_t c = 0; c < width; ++c) dst[j * width + c] = map[j] < 0 ? fill : src[map[j] * width + c];
  };
  gather(0, straight.begin);
  if (straight.size() > 0)
    std::memcpy(dst + straight.begin * width, src + map[straight.begin] * width,
                straight.size() * width * sizeof(T));
  gather(std::max(straight.end, straight.begin), count);
}

template void pad_row<float>(float*, const float*, const int64_t*, int64_t, Range, float, int64_t);
template void pad_row<double>(double*, const double*, const int64_t*, int64_t, Range, double, int64_t);

}  // namespace fastconv
