// 2-D convolution (cross-correlation) operators on NCHW or NHWC data. Each algorithm pads
// the input rows it reads with the padding mode (np.pad rules); the input itself is never
// padded. Conv2dShape is layout-neutral: C, H, W are the input's channels, rows, columns.
#pragma once
#include <cstdint>
#include <functional>

#include "conv/padding.h"

namespace fastconv {

struct Conv2dShape {
  int64_t N, C, H, W;  // input
  int64_t K, kh, kw;   // weight (K, C / groups, kh, kw)
  int64_t OH, OW;      // output
  int64_t sh, sw, dh, dw;
  int64_t pt, pl;      // padding at top / left; bottom / right follow from OH, OW
  int64_t groups;
  int64_t Cg() const { return C / groups; }
  int64_t Kg() const { return K / groups; }
};

// Im2colNhwc: NCHW data through the NHWC GEMM on transposed bands, or a batch of small images
// transposed whole (conv2d_via_nhwc.cc); with NHWC data it is Im2col. Winograd: F(4x4, 3x3) (conv2d_winograd.cc), for the shapes
// winograd_applies to; NCHW data goes through NHWC copies.
enum class ConvAlgorithm : int { Auto = 0, Direct = 1, Im2col = 2, Im2colNhwc = 3, Winograd = 4, Batched = 5 };

// 3x3 window, unit stride and dilation, one group.
bool winograd_applies(const Conv2dShape& s);

// Row kernel over the input planes, or copies of their rows with the padding (see conv2d_direct.cc).
template <class T>
void conv2d_direct(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                   bool relu);

// GEMM over the implicit im2col matrix (see conv2d_im2col.cc).
template <class T>
void conv2d_im2col(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                   bool relu);

// NCHW data through an NHWC convolution: each image transposed to channels-last into
// scratch, conv_image(x_nhwc, out_nhwc) run on it, its output transposed back into out (see
// conv2d_via_nhwc.cc).
template <class T>
void conv2d_by_image_nhwc(const Conv2dShape& s, const T* x, T* out,
                          const std::function<void(const T*, T*)>& conv_image);

// The NHWC GEMM on NCHW data, a band of output rows at a time (or a block of small images)
// transposed to NHWC and back (see conv2d_via_nhwc.cc).
template <class T>
void conv2d_via_nhwc(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                     bool relu);

// The input gradient of a stride-1 NCHW convolution whose zero padding leaves the gradient
// the correlation's whole output: grad_in = the correlation of grad_out by the flipped,
// transposed weights, through the NHWC GEMM as conv2d_via_nhwc, the GEMM's panels packed
// straight from the convolution's weights w (WeightsOrder::FlippedTransposed). s is the
// correlation's shape (grad_out its input, K its output channels: the convolution's C).
// Returns false, having written nothing, unless the weights are all finite (a correlation
// multiplies the zeros around grad_out by every weight: 0 * inf would be NaN), the kernel
// has two taps at least (the packing checks finiteness only then) and there is work.
template <class T>
bool conv2d_grad_input_via_nhwc(const Conv2dShape& s, const T* grad_out, const T* w, T* grad_in);

// Winograd F(4x4, 3x3) on NCHW (through NHWC copies) or NHWC data; the shape must satisfy
// winograd_applies (see conv2d_winograd.cc).
template <class T>
void conv2d_winograd(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                     bool relu);
template <class T>
void conv2d_nhwc_winograd(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                          bool relu);

// Direct convolution vectorised across images, for either layout: each block of
// Kernels::batched_lanes images interleaved lane by lane (see conv2d_batched.cc).
template <class T>
void conv2d_batched(const Conv2dShape& s, const Padding<T>& pad, bool nhwc, const T* x, const T* w, const T* bias,
                    T* out, bool relu);

// NHWC data with one input channel (the NCHW input byte for byte) through the NCHW kernels,
// the output transposed to channels-last (see conv2d_via_nhwc.cc).
template <class T>
void conv2d_nhwc_by_nchw(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                         bool relu);

// Whether auto takes the batched algorithm for T on the active backend (see conv2d_batched.cc).
template <class T>
bool batched_pays(const Conv2dShape& s, bool nhwc);

template <class T>
ConvAlgorithm choose_conv2d_algorithm(const Conv2dShape& s);
template <class T>
ConvAlgorithm choose_conv2d_nhwc_algorithm(const Conv2dShape& s);

// Entry point: runs the chosen algorithm (Auto: choose_conv2d_algorithm).
template <class T>
void conv2d(const Conv2dShape& s, const Padding<T>& pad, ConvAlgorithm algo, const T* x, const T* w, const T* bias,
            T* out, bool relu);

// x (N, H, W, C) to out (N, OH, OW, K); weight (K, C/groups, kh, kw) as for NCHW. Direct is
// the depthwise kernel and needs groups == C == K; Im2col (a GEMM over output pixels) takes
// every configuration; Winograd as above (see conv2d_nhwc.cc).
template <class T>
void conv2d_nhwc(const Conv2dShape& s, const Padding<T>& pad, ConvAlgorithm algo, const T* x, const T* w,
                 const T* bias, T* out, bool relu);

}  // namespace fastconv
