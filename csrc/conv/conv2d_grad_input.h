// The gradient of a 2-D convolution with respect to its input by GEMM and scatter
// (conv2d_grad_input.cc).
#pragma once
#include "conv/conv2d.h"
#include "conv/padding.h"

namespace fastconv {

// grad_in (N, C, H, W), NCHW, from grad_out (N, K, OH, OW) and w (K, C/groups, kh, kw): for
// each image and group, cols = W_g^T (Cg*kh*kw x Kg) * grad_out_g (Kg x OH*OW), one GEMM;
// then each value of cols is added to the input position its tap read (col2im), a padded
// position's value to the input position `mode` copied there (Constant: dropped). Each plane
// of grad_in is summed by one thread in (tap, output pixel) order, whatever the thread count.
template <class T>
void conv2d_grad_input_col2im(const Conv2dShape& s, PadMode mode, const T* grad_out, const T* w, T* grad_in);

// Whether conv2d_grad_input_col2im takes the pixels of all images as the GEMM's rows (W read
// in panels, not packed whole): small maps of many channels, N*OH*OW at most kPixelRowsMax
// and a quarter of Cg*kh*kw (ResNet's 3x3 layers on 7x7 and 14x14: 1.1-7x faster than the
// correlation by a flipped copy of the weights; a batch of such maps now runs the
// correlation with the weights packed flipped, conv2d_grad_input_via_nhwc, where it may).
// Else the channels' rows of W^T.
constexpr int64_t kPixelRowsMax = 1024;
bool col2im_pixel_rows_suit(const Conv2dShape& s);

}  // namespace fastconv
