// Blur pooling (anti-aliased subsampling): each channel filtered with the outer product of a
// k-tap row with itself, then every s-th pixel kept; only the kept outputs are computed.
#pragma once
#include <cstdint>

#include "conv/padding.h"
#include "kernels/geometry.h"

namespace fastconv {

constexpr int kMaxBlurTaps = 7;

// Images of H x W pixels of C values each (NHWC: the channels; NCHW: C = 1, one image per
// plane). The input is padded by pad_before rows and columns before it and k-1-pad_before
// after it (`mode`, np.pad's rules), then output (oy, ox) is the filter's weighted sum of
// padded rows oy*sh .. oy*sh + k-1 and columns ox*sw .. ox*sw + k-1.
struct BlurGeom {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw;  // kh, kw <= kMaxBlurTaps; ph, pw: padding before
  PadMode mode;
};

// filter_h (kh taps) runs down the rows, filter_w (kw taps) along them.
template <class T>
void blur_pool2d(const BlurGeom& g, const T* filter_h, const T* filter_w, int64_t images, int64_t C, const T* x,
                 T* out);

// Max-blur pooling: blur_pool2d of the stride-1 max pool `max_g` of x (max_g.OH x max_g.OW is
// g.H x g.W; no dilation). The max map is never materialised: each block of output rows
// keeps a rolling window of the max rows its blur reads.
template <class T>
void max_blur_pool2d(const PoolGeom& max_g, const BlurGeom& g, const T* filter_h, const T* filter_w, int64_t images,
                     int64_t C, const T* x, T* out);

// The gradient of blur_pool2d with respect to its input: grad_in (images x H x W x C) from
// grad_out (images x OH x OW x C). Each input value is the sum of its terms in a fixed
// order, whatever the thread count.
template <class T>
void blur_pool2d_backward(const BlurGeom& g, const T* filter_h, const T* filter_w, int64_t images, int64_t C,
                          const T* grad_out, T* grad_in);

}  // namespace fastconv
