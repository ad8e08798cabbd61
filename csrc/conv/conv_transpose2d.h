// Transposed 2-D convolution (the adjoint of conv2d) on NCHW data.
#pragma once
#include <cstdint>

namespace fastconv {

struct ConvTranspose2dShape {
  int64_t N, C, H, W;  // input
  int64_t K, kh, kw;   // K output channels in all; weight is (C, K / groups, kh, kw)
  int64_t OH, OW;
  int64_t sh, sw, dh, dw, ph, pw;
  int64_t groups;
};

// Gather form: every output plane is computed by one thread from the inputs that reach it,
// in a fixed (c, ky, kx) order; scratch: none.
template <class T>
void conv_transpose2d(const ConvTranspose2dShape& s, const T* x, const T* w, const T* bias, T* out);

}  // namespace fastconv
