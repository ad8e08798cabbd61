#include "ops/relu.h"

#include <algorithm>

#include "common/parallel.h"
#include "kernels/kernel_table.h"

namespace fastconv {

template <class T>
void relu(const T* x, T* out, int64_t n) {
  constexpr int64_t kChunk = 1 << 14;
  const auto kernel = kernels<T>().relu;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, n, [&](int64_t i) {
    const int64_t begin = i * kChunk;
    kernel(x + begin, out + begin, std::min(kChunk, n - begin));
  });
}

template void relu<float>(const float*, float*, int64_t);
template void relu<double>(const double*, double*, int64_t);

}  // namespace fastconv
