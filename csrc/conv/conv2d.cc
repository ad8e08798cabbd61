#include "conv/conv2d.h"

namespace fastconv {

bool winograd_pays(const Conv2dShape& s) {
  // Measured over C, K in 8..512 and images of 7..56 pixels a side, at 1 and 2 threads
  // (README, "algorithm=auto"): Winograd's 4x fewer multiply-adds win from 16 channels on
  // each side and 28x28 outputs; below, its 4x4 output tiles and its per-call transform of
  // the weights (36 values per filter) cost more than they save, and above 256x256 channels
  // the transformed weights outgrow the cache unless the image is 56x56 or larger.
  const int64_t pixels = s.OH * s.OW, channels = s.Cg() * s.Kg();
  return winograd_applies(s) && s.Cg() >= 16 && s.Kg() >= 16 && pixels >= 28 * 28 &&
         channels * pixels >= (int64_t{1} << 19) && (channels <= 256 * 256 || pixels >= 56 * 56);
}

ConvAlgorithm choose_conv2d_algorithm(const Conv2dShape& s) {
  // Measured on the benchmark suite and more shapes (README, "algorithm=auto"): with one or
  // two output channels per group (depthwise S4, the single image filter S8) most of a GEMM
  // register tile would be idle and the direct row kernel wins. Then Winograd where it pays
  // (S1, S7). Otherwise a GEMM: through NHWC when there are many channels on both sides, a
  // window wider than 1x1 and enough output pixels to fill its pixel tiles (S6: its tiles
  // fit 32-multiples of channels exactly and its reads stream, worth more than the two
  // transposes), else the in-place NCHW GEMM (S2, S3, S5a, S5b, and 7x7 images).
  if (s.Kg() < 4) return ConvAlgorithm::Direct;
  if (winograd_pays(s)) return ConvAlgorithm::Winograd;
  const bool via_nhwc = s.Cg() >= 32 && s.Kg() >= 32 && s.kh * s.kw > 1 && s.OH * s.OW >= 128;
  return via_nhwc ? ConvAlgorithm::Im2colNhwc : ConvAlgorithm::Im2col;
}

template <class T>
void conv2d(const Conv2dShape& s, const Padding<T>& pad, ConvAlgorithm algo, const T* x, const T* w, const T* bias,
            T* out, bool relu) {
  if (algo == ConvAlgorithm::Auto) algo = choose_conv2d_algorithm(s);
  if (algo == ConvAlgorithm::Direct)
    conv2d_direct(s, pad, x, w, bias, out, relu);
  else if (algo == ConvAlgorithm::Im2colNhwc)
    conv2d_via_nhwc(s, pad, x, w, bias, out, relu);
  else if (algo == ConvAlgorithm::Winograd)
    conv2d_winograd(s, pad, x, w, bias, out, relu);
  else
    conv2d_im2col(s, pad, x, w, bias, out, relu);
}

template void conv2d<float>(const Conv2dShape&, const Padding<float>&, ConvAlgorithm, const float*, const float*,
                            const float*, float*, bool);
template void conv2d<double>(const Conv2dShape&, const Padding<double>&, ConvAlgorithm, const double*, const double*,
                             const double*, double*, bool);

}  // namespace fastconv
