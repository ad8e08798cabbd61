// Where the window taps of an NHWC convolution read. Tap t = ky*kw + kx of output pixel
// (oy, ox) sits at padded coordinates (oy*sh + ky*dh, ox*sw + kx*dw); the maps send each
// padded row and column to its input index under the padding mode, or to -1 on Constant
// padding, where the tap reads the fill row instead: one row of padded columns of C fill
// values, so that it can advance by whole pixels exactly like an input row.
#pragma once
#include <cstdint>
#include <vector>

#include "common/ranges.h"
#include "conv/conv2d.h"
#include "conv/padding.h"

namespace fastconv {

template <class T>
class NhwcTaps {
 public:
  NhwcTaps(const Conv2dShape& s, const Padding<T>& pad)
      : s_(s),
        rows_(pad_index_map(reach(s.OH, s.sh, s.kh, s.dh), 1, -s.pt, s.H, pad.mode)),
        cols_(pad_index_map(reach(s.OW, s.sw, s.kw, s.dw), 1, -s.pl, s.W, pad.mode)),
        fill_(cols_.size() * s.C, pad.fill) {}

  int64_t count() const { return s_.kh * s_.kw; }

  // ptrs[t] = channel 0 of tap t of output pixel (oy, ox) of `image`, an (H, W, C) array.
  void pixel(const T* image, int64_t oy, int64_t ox, const T** ptrs) const {
    for (int64_t ky = 0; ky < s_.kh; ++ky) {
      const int64_t py = oy * s_.sh + ky * s_.dh, row = rows_[py];
      for (int64_t kx = 0; kx < s_.kw; ++kx) {
        const int64_t px = ox * s_.sw + kx * s_.dw, col = cols_[px];
        *ptrs++ = row < 0 || col < 0 ? fill_.data() + px * s_.C : image + (row * s_.W + col) * s_.C;
      }
    }
  }

  // ptrs[ky] = channel 0 of tap (ky, 0) of output pixel (oy, ox), whose window must lie on
  // input columns (interior_columns()): tap (ky, kx) is then kx*dw*C values further on, and
  // with unit dilation window row ky is kw*C consecutive values.
  void window_rows(const T* image, int64_t oy, int64_t ox, const T** ptrs) const {
    const int64_t col = ox * s_.sw - s_.pl;
    for (int64_t ky = 0; ky < s_.kh; ++ky) {
      const int64_t py = oy * s_.sh + ky * s_.dh, row = rows_[py];
      ptrs[ky] = row < 0 ? fill_.data() + (ox * s_.sw) * s_.C : image + (row * s_.W + col) * s_.C;
    }
  }

  // The input column of each padded column the windows reach, -1 where it is the fill.
  const IndexMap& columns() const { return cols_; }

  // A row of padded columns of C fill values: readable filler for any tap.
  const T* fill_row() const { return fill_.data(); }

  // The output columns whose taps all lie on input columns: over them, tap t of pixel ox is
  // tap t of the range's first pixel plus (ox - begin) * sw * C.
  Range interior_columns() const { return valid_range(s_.OW, s_.sw, -s_.pl, s_.W - (s_.kw - 1) * s_.dw); }

 private:
  // Padded rows (or columns) the windows of `out` outputs reach.
  static int64_t reach(int64_t out, int64_t stride, int64_t k, int64_t dilation) {
    return out > 0 ? (out - 1) * stride + (k - 1) * dilation + 1 : 0;
  }

  Conv2dShape s_;
  IndexMap rows_, cols_;
  HeapVector<T> fill_;
};

}  // namespace fastconv
