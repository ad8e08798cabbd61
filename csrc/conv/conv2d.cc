#include "conv/conv2d.h"

#include "common/aligned.h"

namespace fastconv {

ConvAlgorithm choose_conv2d_algorithm(const Conv2dShape& s) {
  // Measured on the benchmark suite (README, "algorithm=auto"): the in-place GEMM wins as
  // soon as a group has a few output channels to share each B row (S1-S3, S5a-S7, even with
  // a 25-long reduction); with one or two per group (depthwise S4, the single image filter
  // S8) most of its register tile would be idle and the direct row kernel wins.
  return s.Kg() >= 4 ? ConvAlgorithm::Im2col : ConvAlgorithm::Direct;
}

template <class T>
void conv2d(Conv2dShape s, int64_t pb, int64_t pr, PadMode mode, T fill, ConvAlgorithm algo, const T* x,
            const T* w, const T* bias, T* out, bool relu) {
  if (algo == ConvAlgorithm::Auto) algo = choose_conv2d_algorithm(s);
  auto run = [&](const Conv2dShape& shape, const T* input) {
    if (algo == ConvAlgorithm::Direct)
      conv2d_direct(shape, input, w, bias, out, relu);
    else
      conv2d_im2col(shape, input, w, bias, out, relu);
  };
  if (mode == PadMode::Constant && fill == T(0)) {
    run(s, x);
    return;
  }
  // Peak extra memory: N * C * (H + pt + pb) * (W + pl + pr) elements.
  Conv2dShape padded = s;
  padded.H = s.H + s.pt + pb;
  padded.W = s.W + s.pl + pr;
  padded.pt = padded.pl = 0;
  AlignedBuffer<T> buf(s.N * s.C * padded.H * padded.W);
  pad2d(x, buf.get(), s.N * s.C, s.H, s.W, s.pt, pb, s.pl, pr, mode, fill);
  run(padded, buf.get());
}

template void conv2d<float>(Conv2dShape, int64_t, int64_t, PadMode, float, ConvAlgorithm, const float*,
                            const float*, const float*, float*, bool);
template void conv2d<double>(Conv2dShape, int64_t, int64_t, PadMode, double, ConvAlgorithm, const double*,
                             const double*, const double*, double*, bool);

}  // namespace fastconv
