#include "conv/conv2d.h"

namespace fastconv {

ConvAlgorithm choose_conv2d_algorithm(const Conv2dShape& s) {
  // Measured on the benchmark suite (README, "algorithm=auto"): the in-place GEMM wins as
  // soon as a group has a few output channels to share each B row (S1-S3, S5a-S7, even with
  // a 25-long reduction); with one or two per group (depthwise S4, the single image filter
  // S8) most of its register tile would be idle and the direct row kernel wins.
  return s.Kg() >= 4 ? ConvAlgorithm::Im2col : ConvAlgorithm::Direct;
}

template <class T>
void conv2d(const Conv2dShape& s, const Padding<T>& pad, ConvAlgorithm algo, const T* x, const T* w, const T* bias,
            T* out, bool relu) {
  if (algo == ConvAlgorithm::Auto) algo = choose_conv2d_algorithm(s);
  if (algo == ConvAlgorithm::Direct)
    conv2d_direct(s, pad, x, w, bias, out, relu);
  else
    conv2d_im2col(s, pad, x, w, bias, out, relu);
}

template void conv2d<float>(const Conv2dShape&, const Padding<float>&, ConvAlgorithm, const float*, const float*,
                            const float*, float*, bool);
template void conv2d<double>(const Conv2dShape&, const Padding<double>&, ConvAlgorithm, const double*, const double*,
                             const double*, double*, bool);

}  // namespace fastconv
