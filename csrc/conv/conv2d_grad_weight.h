// The gradient of a 2-D convolution with respect to its weight (conv2d_grad_weight.cc).
#pragma once
#include "conv/conv2d.h"

namespace fastconv {

// grad_w (K, C/groups, kh, kw) = the sum over images and output pixels of grad_out (the
// forward output's layout: NCHW or, with nhwc, NHWC) times the padded input value each tap
// read (x in the same layout, padded by `pad` as the forward pads it). Every element is
// reduced by one thread in a fixed order (images, then pixels in blocks), so the result is
// the same for any thread count.
template <class T>
void conv2d_grad_weight(const Conv2dShape& s, const Padding<T>& pad, bool nhwc, const T* x, const T* grad_out,
                        T* grad_w);

}  // namespace fastconv
