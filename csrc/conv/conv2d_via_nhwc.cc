#include <algorithm>
#include <functional>

#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

// Each of `count` consecutive (rows x cols) matrices of src transposed into dst, in parallel
// over blocks of the longer side.
template <class T>
void transpose_matrices(const T* src, int64_t count, int64_t rows, int64_t cols, T* dst) {
  const Kernels<T>& kern = kernels<T>();
  constexpr int64_t kBlock = 256;
  const bool split_rows = rows >= cols;
  const int64_t blocks = ceil_div(split_rows ? rows : cols, kBlock), size = rows * cols;
  parallel_for(count * blocks, count * size, [&](int64_t task) {
    const T* s = src + (task / blocks) * size;
    T* d = dst + (task / blocks) * size;
    const int64_t b0 = (task % blocks) * kBlock;
    if (split_rows)
      kern.transpose(s + b0 * cols, cols, d + b0, rows, std::min(kBlock, rows - b0), cols);
    else
      kern.transpose(s + b0, cols, d + b0 * rows, rows, rows, std::min(kBlock, cols - b0));
  });
}

}  // namespace

template <class T>
void conv2d_by_image_nhwc(const Conv2dShape& s, const T* x, T* out,
                          const std::function<void(const T*, T*)>& conv_image) {
  const int64_t in_pixels = s.H * s.W, out_pixels = s.OH * s.OW;
  const CallScratch<T> scratch(s.C * in_pixels + s.K * out_pixels);
  T* x_nhwc = scratch.get();
  T* out_nhwc = x_nhwc + s.C * in_pixels;
  for (int64_t n = 0; n < s.N; ++n) {
    transpose_matrices(x + n * s.C * in_pixels, 1, s.C, in_pixels, x_nhwc);
    conv_image(x_nhwc, out_nhwc);
    transpose_matrices(out_nhwc, 1, out_pixels, s.K, out + n * s.K * out_pixels);
  }
}

template <class T>
void conv2d_via_nhwc(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                     bool relu) {
  Conv2dShape one = s;
  one.N = 1;
  conv2d_by_image_nhwc<T>(s, x, out, [&](const T* x_nhwc, T* out_nhwc) {
    conv2d_nhwc(one, pad, ConvAlgorithm::Im2col, x_nhwc, w, bias, out_nhwc, relu);
  });
}

template <class T>
void conv2d_nhwc_by_nchw(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                         bool relu) {
  if (s.K == 1) return conv2d(s, pad, ConvAlgorithm::Auto, x, w, bias, out, relu);
  const int64_t out_pixels = s.OH * s.OW, image = s.K * out_pixels;
  // One input channel: auto never picks im2col_nhwc (nor Winograd, never automatic), the NCHW
  // paths that take Call scratch.
  const CallScratch<T> out_nchw(s.N * image);
  conv2d(s, pad, ConvAlgorithm::Auto, x, w, bias, out_nchw.get(), relu);
  transpose_matrices(out_nchw.get(), s.N, s.K, out_pixels, out);
}

template void conv2d_by_image_nhwc<float>(const Conv2dShape&, const float*, float*,
                                          const std::function<void(const float*, float*)>&);
template void conv2d_by_image_nhwc<double>(const Conv2dShape&, const double*, double*,
                                           const std::function<void(const double*, double*)>&);
template void conv2d_via_nhwc<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                     const float*, float*, bool);
template void conv2d_via_nhwc<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                      const double*, double*, bool);
template void conv2d_nhwc_by_nchw<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                         const float*, float*, bool);
template void conv2d_nhwc_by_nchw<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                          const double*, double*, bool);

}  // namespace fastconv
