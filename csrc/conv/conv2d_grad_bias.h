// The gradient of a 2-D convolution with respect to its bias (conv2d_grad_bias.cc).
#pragma once
#include <cstdint>

namespace fastconv {

// grad_b[k] = the sum of grad_out's filter-k values over `images` images of `pixels` pixels
// (NCHW, or NHWC with nhwc), accumulated in double in an order fixed by the shape alone, so
// the result is the same for any thread count.
template <class T>
void conv2d_grad_bias(const T* grad_out, int64_t images, int64_t K, int64_t pixels, bool nhwc, T* grad_b);

}  // namespace fastconv
