#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "conv/nhwc_taps.h"
#include "conv/padding.h"
#include "conv/pixel_gemm.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

// Each of `count` consecutive (rows x cols) matrices of src transposed into dst, in parallel
// over blocks of the longer side.
template <class T>
void transpose_matrices(const T* src, int64_t count, int64_t rows, int64_t cols, T* dst) {
  const Kernels<T>& kern = kernels<T>();
  constexpr int64_t kBlock = 256;
  const bool split_rows = rows >= cols;
  const int64_t blocks = ceil_div(split_rows ? rows : cols, kBlock), size = rows * cols;
  parallel_for(count * blocks, count * size, [&](int64_t task) {
    const T* s = src + (task / blocks) * size;
    T* d = dst + (task / blocks) * size;
    const int64_t b0 = (task % blocks) * kBlock;
    if (split_rows)
      kern.transpose(s + b0 * cols, cols, d + b0, rows, std::min(kBlock, rows - b0), cols);
    else
      kern.transpose(s + b0, cols, d + b0 * rows, rows, rows, std::min(kBlock, cols - b0));
  });
}

// Scratch a band should fit in (its NHWC input rows and output rows), so that its transposes
// and its GEMM pass the data through L2.
constexpr int64_t kBandBytes = int64_t{256} << 10;
// GEMM tiles between two shares of prefetches.
constexpr int64_t kPrefetchTiles = 4;
// GEMM tiles of pixels a band keeps when it is cut down to give every thread work.
constexpr int64_t kBandTiles = 4;

// Output rows per band of conv2d_via_nhwc: as many as fit kBandBytes (at least one), fewer
// when that leaves a thread under four bands but not under kBandTiles GEMM tiles of pixels
// (a band of a few pixels would leave most of its one tile idle), then evened out over the
// image.
int64_t band_rows(const Conv2dShape& s, int64_t padded_cols, int64_t value_bytes, int64_t tile_pixels) {
  const int64_t in_row = padded_cols * s.C * value_bytes, out_row = s.OW * s.K * value_bytes;
  const int64_t halo = (s.kh - 1) * s.dh * in_row;
  int64_t rows = std::clamp<int64_t>((kBandBytes - halo) / (s.sh * in_row + out_row), 1, s.OH);
  const int threads = num_threads();
  if (threads > 1) {
    const int64_t fewest = ceil_div(kBandTiles * tile_pixels, s.OW);
    rows = std::min(rows, std::max(fewest, s.N * s.OH / (4 * threads)));
  }
  return ceil_div(s.OH, ceil_div(s.OH, rows));
}

// Padded row `row` (an input row, or -1 for a row of fill) of one NCHW image as `cols.size()`
// NHWC pixels: padded column j is input column cols[j], or the fill where that is -1. The
// padded columns `inside` are the input's, in order, and are transposed in one go.
template <class T>
void nhwc_padded_row(const Conv2dShape& s, const T* image, int64_t row, const IndexMap& cols,
                     Range inside, T fill, T* dst) {
  const int64_t padded = static_cast<int64_t>(cols.size()), plane = s.H * s.W;
  if (row < 0) return std::fill(dst, dst + padded * s.C, fill);
  const T* src = image + row * s.W;
  if (inside.size() > 0)
    kernels<T>().transpose(src + cols[inside.begin], plane, dst + inside.begin * s.C, s.C, s.C, inside.size());
  const auto gather = [&](int64_t j0, int64_t j1) {  // padded columns outside `inside`
    for (int64_t j = j0; j < j1; ++j)
      for (int64_t c = 0; c < s.C; ++c) dst[j * s.C + c] = cols[j] < 0 ? fill : src[c * plane + cols[j]];
  };
  gather(0, inside.begin);
  gather(std::max(inside.end, inside.begin), padded);
}

// Cache lines to bring into L2 a share at a time: `count` runs of `values` values, run r
// starting at first + r*step. A run is fetched a line apart from its start and once more at
// its last value, so that every address lies within it.
template <class T>
struct LineRuns {
  static constexpr int64_t kLine = 64 / sizeof(T);
  const T* first = nullptr;
  int64_t count = 0, values = 0, step = 0;
  int64_t per_run() const { return ceil_div(values, kLine) + 1; }
  int64_t total() const { return count * per_run(); }
  void prefetch(int64_t begin, int64_t end) const {
    end = std::min(end, total());
    if (begin >= end) return;
    const int64_t lines = per_run();
    int64_t run = begin / lines, line = begin % lines;
    for (int64_t l = begin; l < end; ++l) {
      __builtin_prefetch(first + run * step + std::min(line * kLine, values - 1), 0, 2);
      if (++line == lines) line = 0, ++run;
    }
  }
};

// The input rows of image n that padded rows `padded` read, in every channel plane: under
// reflect and circular padding, padding rows map into the image's rows too, so the span
// from the lowest to the highest.
template <class T>
LineRuns<T> input_row_runs(const Conv2dShape& s, const T* x, const IndexMap& rows, int64_t n,
                           Range padded) {
  int64_t lo = s.H, hi = -1;
  for (int64_t py = padded.begin; py < padded.end; ++py)
    if (rows[py] >= 0) lo = std::min(lo, rows[py]), hi = std::max(hi, rows[py]);
  if (hi < lo) return {};
  return {x + (n * s.C * s.H + lo) * s.W, s.C, (hi - lo + 1) * s.W, s.H * s.W};
}

// Images of at most this many output pixels (7x7, 8x8) go through NHWC whole, in blocks of
// images, not in bands: a band would be one image of a few GEMM tiles, each of which reads
// all of the weights (8 images of 512 channels on 7x7: 20.6 -> 18.7 ms on one thread; 14x14
// images ran faster in bands).
constexpr int64_t kBatchImagePixels = 64;
// Scratch of one block of images (their NHWC input and output), at most (one image at least).
constexpr int64_t kBatchBytes = int64_t{16} << 20;

// conv2d_via_nhwc for small images: each block of images transposed to NHWC, the NHWC GEMM
// run on the block (its tiles spanning images), its output transposed back.
template <class T>
void conv2d_batch_via_nhwc(const Conv2dShape& s, const Padding<T>& pad, const T* x, const PixelGemm<T>& gemm,
                           const T* bias, T* out, bool relu) {
  const int64_t in_image = s.C * s.H * s.W, out_image = s.K * s.OH * s.OW;
  const int64_t block = std::clamp<int64_t>(kBatchBytes / ((in_image + out_image) * int64_t{sizeof(T)}), 1, s.N);
  const CallScratch<T> scratch(block * (in_image + out_image));
  T* x_nhwc = scratch.get();
  T* out_nhwc = x_nhwc + block * in_image;
  for (int64_t n0 = 0; n0 < s.N; n0 += block) {
    Conv2dShape part = s;
    part.N = std::min(block, s.N - n0);
    transpose_matrices(x + n0 * in_image, part.N, s.C, s.H * s.W, x_nhwc);
    nhwc_gemm(part, pad, x_nhwc, gemm, bias, out_nhwc, relu);
    transpose_matrices(out_nhwc, part.N, s.OH * s.OW, s.K, out + n0 * out_image);
  }
}

// NCHW data through the NHWC GEMM, by bands of output rows of one image (a batch of small
// images in blocks of whole images instead: conv2d_batch_via_nhwc). A band's padded input rows
// are transposed to NHWC scratch (column padding in place, so that every tile of the GEMM
// reads whole window rows), the GEMM runs on them into more scratch, and that is transposed
// into the band's rows of each output plane. While the GEMM runs, the next work
// item's input rows are prefetched into L2 (the next item is this thread's under the static
// schedule, but for the last of its share), so that its transposes wait on L2 rather than on
// memory (measured: prefetching the output lines too gained nothing). Neighbouring bands
// each transpose the rows they share.
template <class T>
void via_nhwc(const Conv2dShape& s, const Padding<T>& pad, const T* x, const PixelGemm<T>& gemm, const T* bias,
              T* out, bool relu) {
  const int64_t P = s.OH * s.OW, work = s.N * P * s.K * s.Cg() * s.kh * s.kw;
  if (s.N > 1 && P <= kBatchImagePixels) return conv2d_batch_via_nhwc(s, pad, x, gemm, bias, out, relu);
  const int64_t padded_cols = (s.OW - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  const IndexMap rows = pad_index_map((s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1, 1, -s.pt, s.H, pad.mode);
  const IndexMap cols = pad_index_map(padded_cols, 1, -s.pl, s.W, pad.mode);
  const Range inside = valid_range(padded_cols, 1, -s.pl, s.W);
  const int64_t rows_per_band = band_rows(s, padded_cols, sizeof(T), kernels<T>().gemm_mr);
  const int64_t bands = ceil_div(s.OH, rows_per_band), items = s.N * bands;
  const auto input_rows = [&](int64_t band) {  // padded rows [begin, end) of a band
    const int64_t oy1 = std::min(s.OH, (band + 1) * rows_per_band);
    return Range{band * rows_per_band * s.sh, (oy1 - 1) * s.sh + (s.kh - 1) * s.dh + 1};
  };
  Conv2dShape band = s;  // one band as an image whose padding is already in place
  band.N = 1;
  band.OH = rows_per_band;
  band.H = input_rows(0).size();
  band.W = padded_cols;
  band.pt = band.pl = 0;
  const NhwcTaps<T> where(band, pad);
  // Scratch: the band's input rows, its output rows, then (pointer-aligned) the GEMM's taps.
  const int64_t in_values = band.H * band.W * s.C, out_values = rows_per_band * s.OW * s.K;
  const int64_t taps_at = round_up((in_values + out_values) * sizeof(T), sizeof(T*));
  const int64_t scratch_bytes = taps_at + gemm.taps_scratch() * sizeof(T*);
  // Too few bands to give each thread two (small images): the output channels are split
  // too, split-major so that each thread streams only its share of the weights, each part
  // transposing the band's input rows again.
  const int64_t splits = gemm.channel_splits(items, 2, work);
  parallel_for(splits * items, work, [&](int64_t task) {
    const int64_t item = task % items, n = item / bands, oy0 = (item % bands) * rows_per_band;
    const Range panels = gemm.split_panels(task / items, splits);
    char* scratch = static_cast<char*>(workspace(scratch_bytes));
    T* band_in = reinterpret_cast<T*>(scratch);
    T* band_out = band_in + in_values;
    const T** taps = reinterpret_cast<const T**>(scratch + taps_at);
    const Range in_rows = input_rows(item % bands);
    for (int64_t py = in_rows.begin; py < in_rows.end; ++py)
      nhwc_padded_row(s, x + n * s.C * s.H * s.W, rows[py], cols, inside, pad.fill,
                      band_in + (py - in_rows.begin) * band.W * s.C);
    const LineRuns<T> next =
        item + 1 < items ? input_row_runs(s, x, rows, (item + 1) / bands, input_rows((item + 1) % bands))
                         : LineRuns<T>{};
    const int64_t pixels = (std::min(s.OH, oy0 + rows_per_band) - oy0) * s.OW;
    const int64_t share_pixels = kPrefetchTiles * kernels<T>().gemm_mr, shares = ceil_div(pixels, share_pixels);
    const int64_t share = ceil_div(next.total(), shares);
    for (int64_t i = 0; i < shares; ++i) {
      next.prefetch(i * share, (i + 1) * share);
      gemm.run(band, where, band_in, bias, band_out, relu, i * share_pixels, std::min(pixels, (i + 1) * share_pixels),
               taps, panels);
    }
    const int64_t k0 = gemm.first_channel(panels.begin), k1 = gemm.first_channel(panels.end);
    kernels<T>().transpose(band_out + k0, s.K, out + (n * s.K + k0) * P + oy0 * s.OW, P, pixels, k1 - k0);
  });
}

}  // namespace

template <class T>
void conv2d_by_image_nhwc(const Conv2dShape& s, const T* x, T* out,
                          const std::function<void(const T*, T*)>& conv_image) {
  const int64_t in_pixels = s.H * s.W, out_pixels = s.OH * s.OW;
  const CallScratch<T> scratch(s.C * in_pixels + s.K * out_pixels);
  T* x_nhwc = scratch.get();
  T* out_nhwc = x_nhwc + s.C * in_pixels;
  for (int64_t n = 0; n < s.N; ++n) {
    transpose_matrices(x + n * s.C * in_pixels, 1, s.C, in_pixels, x_nhwc);
    conv_image(x_nhwc, out_nhwc);
    transpose_matrices(out_nhwc, 1, out_pixels, s.K, out + n * s.K * out_pixels);
  }
}

template <class T>
void conv2d_via_nhwc(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                     bool relu) {
  if (s.N * s.K * s.OH * s.OW == 0) return;
  if (s.Cg() == 0) return conv2d_im2col(s, pad, x, w, bias, out, relu);  // the bias alone
  via_nhwc(s, pad, x, PixelGemm<T>(s, w), bias, out, relu);
}

template <class T>
bool conv2d_grad_input_via_nhwc(const Conv2dShape& s, const T* grad_out, const T* w, T* grad_in) {
  if (s.N * s.K * s.OH * s.OW == 0 || s.Cg() == 0 || s.kh * s.kw < 2) return false;
  const PixelGemm<T> gemm(s, w, WeightsOrder::FlippedTransposed);
  if (!gemm.weights_finite()) return false;
  via_nhwc<T>(s, Padding<T>{PadMode::Constant, T(0)}, grad_out, gemm, nullptr, grad_in, false);
  return true;
}

template <class T>
void conv2d_nhwc_by_nchw(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                         bool relu) {
  if (s.K == 1) return conv2d(s, pad, ConvAlgorithm::Auto, x, w, bias, out, relu);
  const int64_t out_pixels = s.OH * s.OW, image = s.K * out_pixels;
  // One input channel: auto never picks Winograd (never automatic) or Im2colNhwc (8 channels a
  // group at least), whose NCHW paths take Call scratch too.
  const CallScratch<T> out_nchw(s.N * image);
  conv2d(s, pad, ConvAlgorithm::Auto, x, w, bias, out_nchw.get(), relu);
  transpose_matrices(out_nchw.get(), s.N, s.K, out_pixels, out);
}

template void conv2d_by_image_nhwc<float>(const Conv2dShape&, const float*, float*,
                                          const std::function<void(const float*, float*)>&);
template void conv2d_by_image_nhwc<double>(const Conv2dShape&, const double*, double*,
                                           const std::function<void(const double*, double*)>&);
template void conv2d_via_nhwc<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                     const float*, float*, bool);
template void conv2d_via_nhwc<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                      const double*, double*, bool);
template bool conv2d_grad_input_via_nhwc<float>(const Conv2dShape&, const float*, const float*, float*);
template bool conv2d_grad_input_via_nhwc<double>(const Conv2dShape&, const double*, const double*, double*);
template void conv2d_nhwc_by_nchw<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                         const float*, float*, bool);
template void conv2d_nhwc_by_nchw<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                          const double*, double*, bool);

}  // namespace fastconv
