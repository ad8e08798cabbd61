#include "ops/relu.h"

#include <algorithm>

#include "common/parallel.h"
#include "kernels/kernel_table.h"

namespace fastconv {

namespace {

// body(begin, count) over chunks of n elements, in parallel.
template <class Body>
void for_each_chunk(int64_t n, Body&& body) {
  constexpr int64_t kChunk = 1 << 14;
  parallel_for((n + kChunk - 1) / kChunk, n, [&](int64_t i) { body(i * kChunk, std::min(kChunk, n - i * kChunk)); });
}

}  // namespace

template <class T>
void relu(const T* x, T* out, int64_t n) {
  const auto kernel = kernels<T>().relu;
  for_each_chunk(n, [&](int64_t begin, int64_t count) { kernel(x + begin, out + begin, count); });
}

template <class T>
void relu_backward(const T* grad_out, const T* x, T* grad_in, int64_t n) {
  const auto kernel = kernels<T>().relu_backward;
  for_each_chunk(n, [&](int64_t begin, int64_t count) { kernel(grad_out + begin, x + begin, grad_in + begin, count); });
}

template void relu<float>(const float*, float*, int64_t);
template void relu<double>(const double*, double*, int64_t);
template void relu_backward<float>(const float*, const float*, float*, int64_t);
template void relu_backward<double>(const double*, const double*, double*, int64_t);

}  // namespace fastconv
