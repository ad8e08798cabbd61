#include "conv/conv2d.h"

namespace fastconv {

template <class T>
ConvAlgorithm choose_conv2d_algorithm(const Conv2dShape& s) {
  // Measured on the benchmark suite and more shapes (README, "algorithm=auto"). A batch that
  // fills the SIMD lanes, with few filters or small images, runs the batched kernel (S5a,
  // S5b; see batched_pays). Otherwise, with one or two output channels per group (depthwise
  // S4, the single image filter S8) most of a GEMM register tile would be idle and the
  // direct row kernel wins. Otherwise a GEMM: through NHWC with at least 8 input and 32
  // output channels a group and a window wider than 1x1 (S1, S6, S7, and small images like
  // 7x7 with many channels: its tiles fit 32-multiples of channels exactly and its reads
  // stream, worth more than the two transposes of its bands), else the in-place NCHW GEMM
  // (S2, with 3 input channels, and the 1x1 S3).
  // Never Winograd, whose rounding error is not bounded by each output's own window (see
  // conv2d_winograd.cc): it is opt-in.
  if (batched_pays<T>(s, false)) return ConvAlgorithm::Batched;
  if (s.Kg() < 4) return ConvAlgorithm::Direct;
  const bool via_nhwc = s.Cg() >= 8 && s.Kg() >= 32 && s.kh * s.kw > 1;
  return via_nhwc ? ConvAlgorithm::Im2colNhwc : ConvAlgorithm::Im2col;
}

template <class T>
void conv2d(const Conv2dShape& s, const Padding<T>& pad, ConvAlgorithm algo, const T* x, const T* w, const T* bias,
            T* out, bool relu) {
  if (algo == ConvAlgorithm::Auto) algo = choose_conv2d_algorithm<T>(s);
  if (algo == ConvAlgorithm::Direct)
    conv2d_direct(s, pad, x, w, bias, out, relu);
  else if (algo == ConvAlgorithm::Im2colNhwc)
    conv2d_via_nhwc(s, pad, x, w, bias, out, relu);
  else if (algo == ConvAlgorithm::Winograd)
    conv2d_winograd(s, pad, x, w, bias, out, relu);
  else if (algo == ConvAlgorithm::Batched)
    conv2d_batched(s, pad, false, x, w, bias, out, relu);
  else
    conv2d_im2col(s, pad, x, w, bias, out, relu);
}

template void conv2d<float>(const Conv2dShape&, const Padding<float>&, ConvAlgorithm, const float*, const float*,
                            const float*, float*, bool);
template void conv2d<double>(const Conv2dShape&, const Padding<double>&, ConvAlgorithm, const double*, const double*,
                             const double*, double*, bool);
template ConvAlgorithm choose_conv2d_algorithm<float>(const Conv2dShape&);
template ConvAlgorithm choose_conv2d_algorithm<double>(const Conv2dShape&);

}  // namespace fastconv
