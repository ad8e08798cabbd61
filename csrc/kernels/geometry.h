// Plain-data descriptions of the work a microkernel does. Shared by operators and kernels.
#pragma once
#include <algorithm>
#include <cstdint>

namespace fastconv {

// One 2-D pooling window geometry over a single (H, W) plane. Windows start at
// o*stride - pad; positions outside [0, H) x [0, W) are padding.
struct PoolGeom {
  int64_t H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

// The taps [lo, hi) of a window of `count` taps `step` apart starting at `start` whose
// positions start + i*step lie inside [0, size): a loop over them never visits padding, so a
// window far larger than the input costs only the input it covers. The pool size checks keep
// size - start and step - start below 2**62.
struct TapRange {
  int64_t lo, hi;
};
inline TapRange taps_inside(int64_t start, int64_t step, int64_t count, int64_t size) {
  const int64_t lo = start < 0 ? (step - 1 - start) / step : 0;
  int64_t hi = start < size ? (size - 1 - start) / step + 1 : 0;
  if (hi > count) hi = count;
  return {lo, hi > lo ? hi : lo};
}

enum class WindowPoolKind : int { Sum = 0, Avg = 1, Lp = 2 };

// Divisor and power rules of the summing pools (PyTorch's avg_pool2d / lp_pool2d rules).
struct WindowPoolParams {
  WindowPoolKind kind;
  bool count_include_pad;    // Avg: divide by the window clipped to the padded input
  int64_t divisor_override;  // Avg: > 0 replaces the divisor
  double norm_type;          // Lp: p
};

// Rows [y0, y1) of window oy clipped to the padded input, and [ylo, yhi) clipped to the input.
struct WindowSpan {
  int64_t lo, hi, padded;  // clipped range and its length within the padded input
};
inline WindowSpan window_span(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size) {
  const int64_t start = o * stride - pad, end = std::min(start + k, size + pad);
  return {std::max<int64_t>(start, 0), std::min(end, size), end - start};
}

// PyTorch's avg_pool2d divisor: override, or the window within the padded input, or the
// number of input pixels in it.
inline int64_t window_divisor(const WindowPoolParams& p, WindowSpan ys, WindowSpan xs) {
  if (p.divisor_override > 0) return p.divisor_override;
  return p.count_include_pad ? ys.padded * xs.padded : (ys.hi - ys.lo) * (xs.hi - xs.lo);
}

// Rows of a direct convolution (Kernels::conv_rows): `rows` output rows of `count` columns,
// out_step apart; output row r reads the input rows in + r*in_step + ky*row_step, column i
// their columns i*sw + kx*dw. Without accumulate, the sums start from `start`.
template <class T>
struct ConvRows {
  int64_t out_step, in_step, row_step;
  int64_t kh, kw, dw, sw, count, rows;
  bool accumulate;
  T start;
};

// One output row of the batched direct convolution (Kernels::batched_conv_row). Every value
// is a vector of `lanes` images interleaved (element e of image l at [e*lanes + l]), and the
// strides count such vectors: output column ox of filter a is at a*out_filter + ox*out_col
// and reads, for tap (c, ky, kx), the input at c*x_channel + ky*dh*x_row + (ox*sw + kx*dw)*x_col.
struct BatchedConvRow {
  int64_t C, kh, kw, dh, dw, sw, OW;
  int64_t x_channel, x_row, x_col;
  int64_t out_filter, out_col;
};

// A run of depthwise NHWC output pixels along one row (Kernels::depthwise_nhwc): C
// channels, kh x kw taps at dilation dw along the row, stride sw between the run's pixels.
struct DepthwiseRun {
  int64_t C, kh, kw, sw, dw;
};

// Epilogue fused into the GEMM microkernel's output write.
template <class T>
struct GemmEpilogue {
  bool accumulate;  // add to C instead of overwriting it
  const T* bias;    // bias added when !accumulate, or nullptr: one per row of the tile,
                    // or one per column when bias_per_column (NHWC output: pixels x channels)
  bool relu;        // clamp at zero after this block (only on the last k block)
  bool bias_per_column;
};

// The rows Kernels::tap_row_dots sums over: `rows` rows of each of `images` images, each
// image's planes the given number of values after the previous image's.
struct TapDotsRows {
  int64_t images, rows, g_image_step, x_image_step;
};

}  // namespace fastconv
