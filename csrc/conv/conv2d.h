// 2-D convolution (cross-correlation) operators on NCHW data with zero padding.
// Non-zero padding modes are handled by conv2d() materialising a padded input first.
#pragma once
#include <cstdint>

#include "conv/pad2d.h"

namespace fastconv {

struct Conv2dShape {
  int64_t N, C, H, W;  // input
  int64_t K, kh, kw;   // weight (K, C / groups, kh, kw)
  int64_t OH, OW;      // output
  int64_t sh, sw, dh, dw;
  int64_t pt, pl;      // zero padding at top / left; bottom / right follow from OH, OW
  int64_t groups;
  int64_t Cg() const { return C / groups; }
  int64_t Kg() const { return K / groups; }
};

enum class ConvAlgorithm : int { Auto = 0, Direct = 1, Im2col = 2 };

// Per-tap accumulation over output rows; scratch: none.
template <class T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* out, bool relu);

// Packed GEMM over panels of output pixels; scratch per thread: one KC x NC panel of B.
template <class T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* out, bool relu);

ConvAlgorithm choose_conv2d_algorithm(const Conv2dShape& s);

// Entry point: pads with `mode` (bottom/right pads given explicitly) unless it is
// Constant with fill 0, then runs the chosen algorithm.
template <class T>
void conv2d(Conv2dShape s, int64_t pb, int64_t pr, PadMode mode, T fill, ConvAlgorithm algo, const T* x,
            const T* w, const T* bias, T* out, bool relu);

}  // namespace fastconv
