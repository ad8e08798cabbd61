#include <algorithm>
#include <memory>

#include "common/aligned.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

// dst (cols x rows) = transpose of src (rows x cols), in parallel over blocks of the longer side.
template <class T>
void transpose_matrix(const T* src, int64_t rows, int64_t cols, T* dst) {
  const Kernels<T>& kern = kernels<T>();
  constexpr int64_t kBlock = 256;
  if (rows >= cols)
    parallel_for(ceil_div(rows, kBlock), rows * cols, [&](int64_t b) {
      const int64_t r0 = b * kBlock;
      kern.transpose(src + r0 * cols, cols, dst + r0, rows, std::min(kBlock, rows - r0), cols);
    });
  else
    parallel_for(ceil_div(cols, kBlock), rows * cols, [&](int64_t b) {
      const int64_t c0 = b * kBlock;
      kern.transpose(src + c0, cols, dst + c0 * rows, rows, rows, std::min(kBlock, cols - c0));
    });
}

}  // namespace

// NCHW convolution by the NHWC GEMM: each image is transposed to channels-last, convolved by
// conv2d_nhwc's im2col and its output transposed back into place. Scratch: one image in and
// one out, in the calling thread's workspace (kept for the next call) unless that is large.
template <class T>
void conv2d_via_nhwc(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                     bool relu) {
  constexpr int64_t kKeptScratchBytes = int64_t{32} << 20;
  Conv2dShape one = s;
  one.N = 1;
  const int64_t in_pixels = s.H * s.W, out_pixels = s.OH * s.OW, scratch = s.C * in_pixels + s.K * out_pixels;
  std::unique_ptr<AlignedBuffer<T>> owned;
  if (scratch * static_cast<int64_t>(sizeof(T)) > kKeptScratchBytes) owned = std::make_unique<AlignedBuffer<T>>(scratch);
  T* x_nhwc = owned ? owned->get() : workspace_as<T>(scratch, WorkspaceSlot::Call);
  T* out_nhwc = x_nhwc + s.C * in_pixels;
  for (int64_t n = 0; n < s.N; ++n) {
    transpose_matrix(x + n * s.C * in_pixels, s.C, in_pixels, x_nhwc);
    conv2d_nhwc(one, pad, ConvAlgorithm::Im2col, x_nhwc, w, bias, out_nhwc, relu);
    transpose_matrix(out_nhwc, out_pixels, s.K, out + n * s.K * out_pixels);
  }
}

template void conv2d_via_nhwc<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                     const float*, float*, bool);
template void conv2d_via_nhwc<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                      const double*, double*, bool);

}  // namespace fastconv
