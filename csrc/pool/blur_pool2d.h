// Blur pooling (anti-aliased subsampling): each channel filtered with the outer product of a
// k-tap row with itself, then every s-th pixel kept; only the kept outputs are computed.
#pragma once
#include <cstdint>

#include "conv/padding.h"

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

}  // namespace fastconv
