#include "conv/conv2d_grad_bias.h"

#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "common/ranges.h"

namespace fastconv {
namespace {

constexpr int kLanes = 8;              // independent double accumulators of a contiguous sum
constexpr int64_t kChannelBlock = 64;  // NHWC channels summed by one work item

// n contiguous values summed in double: lane l takes elements l, l + 8, ..., then the tail.
template <class T>
double contiguous_sum(const T* v, int64_t n) {
  double lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(v[i + l]);
  double total = 0;
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  for (; i < n; ++i) total += static_cast<double>(v[i]);
  return total;
}

}  // namespace

template <class T>
void conv2d_grad_bias(const T* go, int64_t images, int64_t K, int64_t pixels, bool nhwc, T* grad_b) {
  const int64_t work = images * K * pixels;
  if (!nhwc) {
    parallel_for(K, work, [&](int64_t k) {
      double total = 0;
      for (int64_t n = 0; n < images; ++n) total += contiguous_sum(go + (n * K + k) * pixels, pixels);
      grad_b[k] = static_cast<T>(total);
    });
    return;
  }
  parallel_for(ceil_div(K, kChannelBlock), work, [&](int64_t block) {
    const int64_t c0 = block * kChannelBlock, width = std::min(kChannelBlock, K - c0);
    double sums[kChannelBlock] = {};
    for (int64_t p = 0; p < images * pixels; ++p) {
      const T* row = go + p * K + c0;
      for (int64_t c = 0; c < width; ++c) sums[c] += static_cast<double>(row[c]);
    }
    for (int64_t c = 0; c < width; ++c) grad_b[c0 + c] = static_cast<T>(sums[c]);
  });
}

template void conv2d_grad_bias<float>(const float*, int64_t, int64_t, int64_t, bool, float*);
template void conv2d_grad_bias<double>(const double*, int64_t, int64_t, int64_t, bool, double*);

}  // namespace fastconv
