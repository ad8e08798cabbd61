#include <algorithm>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

// Both layouts as planes of rows of pixels: NCHW has C planes of one-value pixels, NHWC one
// plane of C-value pixels. Interleaved copies keep the order, each value becoming a vector of
// `lanes` images.
struct PlaneLayout {
  int64_t planes, pixel;
};

PlaneLayout plane_layout(int64_t channels, bool nhwc) {
  return nhwc ? PlaneLayout{1, channels} : PlaneLayout{channels, 1};
}

// The batch in blocks of L images, each image block's output rows in row blocks; a work item
// is one (image block, row block). Scratch per item: the interleaved input rows its windows
// reach, padded, and its interleaved output rows.
struct BatchedPlan {
  int64_t L, kt, blocks_per_group;  // lanes; filters per register tile and tiles per group
  int64_t Wp, image_blocks, row_blocks, rows_per_block;
  IndexMap row_map, col_map;  // padded row / column -> input one (-1: fill)
  int64_t input_rows(int64_t oy0, int64_t oy1, const Conv2dShape& s) const {
    return (oy1 - oy0 - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  }
};

BatchedPlan plan_batched(const Conv2dShape& s, int64_t lanes, int64_t max_filters, PadMode mode, size_t value_bytes) {
  BatchedPlan p;
  p.L = lanes;
  p.blocks_per_group = ceil_div(s.Kg(), max_filters);
  p.kt = ceil_div(s.Kg(), p.blocks_per_group);
  const int64_t Hp = std::max(s.pt + s.H, (s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1);
  p.Wp = std::max(s.pl + s.W, (s.OW - 1) * s.sw + (s.kw - 1) * s.dw + 1);
  p.row_map = pad_index_map(Hp, 1, -s.pt, s.H, mode);
  p.col_map = pad_index_map(p.Wp, 1, -s.pl, s.W, mode);
  p.image_blocks = ceil_div(s.N, lanes);
  // Row blocks: four items a thread when there are few image blocks, and at most ~512 KB of
  // scratch an item (an output row costs its input rows and its outputs).
  const int64_t threads = num_threads();
  const int64_t by_threads = p.image_blocks >= 4 * threads ? 1 : ceil_div(4 * threads, p.image_blocks);
  const double row_bytes = (double(s.C) * s.sh * p.Wp + double(s.K) * s.OW) * lanes * value_bytes;
  const int64_t rows_by_memory = static_cast<int64_t>(std::clamp(512.0 * 1024 / row_bytes, 1.0, double(s.OH)));
  p.rows_per_block = std::min(ceil_div(s.OH, std::min(s.OH, by_threads)), rows_by_memory);
  p.row_blocks = ceil_div(s.OH, p.rows_per_block);
  return p;
}

// Weights (K, Cg, kh, kw) to register-tile order: for group g and tile b, taps (c, ky, kx)
// of its kt filters side by side, zeros past the group's last filter.
template <class T>
void pack_batched_weights(const Conv2dShape& s, const BatchedPlan& p, const T* w, T* packed) {
  const int64_t taps = s.Cg() * s.kh * s.kw, Kg = s.Kg();
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t b = 0; b < p.blocks_per_group; ++b) {
      T* dst = packed + (g * p.blocks_per_group + b) * taps * p.kt;
      for (int64_t a = 0; a < p.kt; ++a) {
        const int64_t k = b * p.kt + a;
        for (int64_t t = 0; t < taps; ++t) dst[t * p.kt + a] = k < Kg ? w[(g * Kg + k) * taps + t] : T(0);
      }
    }
}

// Interleaves input rows [r0, r0 + rows) (padded coordinates) of images [n0, n0 + count) into
// dst (planes x rows x Wp pixels of `lanes` values), padding as pad says. Lanes past count
// are left as they are.
template <class T>
void interleave_input_rows(const Conv2dShape& s, const BatchedPlan& p, PlaneLayout lay, const Padding<T>& pad,
                           const T* x, int64_t n0, int64_t count, int64_t r0, int64_t rows, T* dst) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t image = s.C * s.H * s.W, row_in = s.W * lay.pixel, row_out = p.Wp * lay.pixel * p.L;
  const int64_t pixel_values = lay.pixel * p.L;
  const bool columns_padded = p.Wp != s.W;
  for (int64_t plane = 0; plane < lay.planes; ++plane) {
    const T* src_plane = x + n0 * image + plane * s.H * s.W;
    T* dst_plane = dst + plane * rows * row_out;
    for (int64_t r = 0; r < rows;) {
      T* d = dst_plane + r * row_out;
      const int64_t src_row = p.row_map[r0 + r];
      if (src_row < 0) {
        std::fill(d, d + row_out, pad.fill);
        ++r;
        continue;
      }
      // Rows that follow each other in the input, with no padded columns, are one transpose.
      int64_t run = 1;
      while (!columns_padded && r + run < rows && p.row_map[r0 + r + run] == src_row + run) ++run;
      kern.transpose(src_plane + src_row * row_in, image, d + s.pl * pixel_values, p.L, count, run * row_in);
      if (columns_padded)
        for (int64_t col = 0; col < p.Wp; ++col) {
          if (col >= s.pl && col < s.pl + s.W) continue;
          T* dc = d + col * pixel_values;
          const int64_t src_col = p.col_map[col];
          if (src_col < 0)
            std::fill(dc, dc + pixel_values, pad.fill);
          else
            std::memcpy(dc, d + (s.pl + src_col) * pixel_values, pixel_values * sizeof(T));
        }
      r += run;
    }
  }
}

}  // namespace

// Measured (README, "algorithm=auto"): the kernel runs near the FMA peak whatever the image
// size, but pays two transposes and the idle lanes of a short last block of images. It wins
// when there are SIMD lanes (the portable backend has one), at most a third of them idle, one
// group, and either
// - a window wider than 1x1 (a 1x1 window does too little per output to pay for the
//   transposes) over fewer filters than the GEMM's tile is wide (NCHW: 32, below which its
//   14-row tiles are mostly idle; NHWC: the tile's gemm_nr columns), with the input a tile
//   of three columns reads (C rows of kh x the windows' width) within 72 KB, L1 and the near
//   part of L2 (tiles of 35-70 KB measured 1.2-1.9x faster than the GEMM on AVX-512, S5b's
//   input gradient among them); or
// - NCHW output images of fewer than 128 pixels, where auto's GEMM is the in-place NCHW one
//   (conv2d.cc), which streams all the weights once per image.
// Sizes are estimated in double: strides may be near 2^63.
template <class T>
bool batched_pays(const Conv2dShape& s, bool nhwc) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t lanes = kern.batched_lanes, blocks = ceil_div(s.N, lanes);
  if (lanes == 1 || s.groups != 1 || blocks == 0 || 3 * s.N < 2 * blocks * lanes) return false;
  const double window_width = 2.0 * s.sw + double(s.kw - 1) * s.dw + 1;
  const double tile_bytes = double(s.C) * s.kh * window_width * lanes * sizeof(T);
  const int64_t gemm_width = nhwc ? kern.gemm_nr : 32;
  const bool few_filters = s.kh * s.kw > 1 && s.K < gemm_width && tile_bytes <= 72 * 1024;
  return few_filters || (!nhwc && s.OH * s.OW < 128);
}

template bool batched_pays<float>(const Conv2dShape&, bool);
template bool batched_pays<double>(const Conv2dShape&, bool);

// Work item: output rows [oy0, oy1) of the images of one block. Its input rows are
// interleaved (and padded) into scratch, every output row runs through the kernel one
// register tile of filters at a time, and the interleaved output rows are transposed back.
template <class T>
void conv2d_batched(const Conv2dShape& s, const Padding<T>& pad, bool nhwc, const T* x, const T* w, const T* bias,
                    T* out, bool relu) {
  const Kernels<T>& kern = kernels<T>();
  if (s.N == 0 || s.K == 0 || s.OH == 0 || s.OW == 0) return;
  const BatchedPlan p = plan_batched(s, kern.batched_lanes, kern.batched_max_filters, pad.mode, sizeof(T));
  const int64_t taps = s.Cg() * s.kh * s.kw, L = p.L;
  CallScratch<T> packed_w(s.groups * p.blocks_per_group * taps * p.kt, WorkspaceSlot::Weights);
  pack_batched_weights(s, p, w, packed_w.get());

  const PlaneLayout in_lay = plane_layout(s.C, nhwc), out_lay = plane_layout(s.K, nhwc);
  const int64_t out_image = s.K * s.OH * s.OW, max_in_rows = p.input_rows(0, p.rows_per_block, s);
  const int64_t in_values = s.C * max_in_rows * p.Wp * L, out_values = s.K * p.rows_per_block * s.OW * L;
  const int64_t work = s.N * s.K * taps * s.OH * s.OW;

  parallel_for(p.image_blocks * p.row_blocks, work, [&](int64_t item) {
    const int64_t n0 = item / p.row_blocks * L, count = std::min(L, s.N - n0);
    const int64_t oy0 = item % p.row_blocks * p.rows_per_block, oy1 = std::min(s.OH, oy0 + p.rows_per_block);
    const int64_t in_rows = p.input_rows(oy0, oy1, s), out_rows = oy1 - oy0;
    CallScratch<T> scratch(in_values + out_values, WorkspaceSlot::Task);  // not kept past 32 MB
    T* xin = scratch.get();
    T* xout = xin + in_values;
    if (count < L) std::fill(xin, xin + in_values, T(0));  // lanes of absent images
    interleave_input_rows(s, p, in_lay, pad, x, n0, count, oy0 * s.sh, in_rows, xin);

    BatchedConvRow g{s.Cg(), s.kh, s.kw, s.dh, s.dw, s.sw, s.OW, 0, 0, 0, 0, 0};
    int64_t out_row;
    if (nhwc) {
      g.x_channel = 1, g.x_col = s.C, g.x_row = p.Wp * s.C;
      g.out_filter = 1, g.out_col = s.K, out_row = s.OW * s.K;
    } else {
      g.x_channel = in_rows * p.Wp, g.x_col = 1, g.x_row = p.Wp;
      g.out_filter = out_rows * s.OW, g.out_col = 1, out_row = s.OW;
    }
    for (int64_t oy = oy0; oy < oy1; ++oy)
      for (int64_t grp = 0; grp < s.groups; ++grp)
        for (int64_t b = 0; b < p.blocks_per_group; ++b) {
          const int64_t k0 = grp * s.Kg() + b * p.kt;
          const T* xr = xin + (grp * s.Cg() * g.x_channel + (oy - oy0) * s.sh * g.x_row) * L;
          kern.batched_conv_row(p.kt, xr, g, packed_w.get() + (grp * p.blocks_per_group + b) * taps * p.kt,
                                bias != nullptr ? bias + k0 : nullptr, std::min(p.kt, s.Kg() - b * p.kt), relu,
                                xout + (k0 * g.out_filter + (oy - oy0) * out_row) * L);
        }

    // Each output plane's rows [oy0, oy1) are contiguous on both sides.
    const int64_t plane_values = out_rows * s.OW * out_lay.pixel;
    for (int64_t plane = 0; plane < out_lay.planes; ++plane)
      kern.transpose(xout + plane * plane_values * L, L,
                     out + n0 * out_image + plane * s.OH * s.OW + oy0 * s.OW * out_lay.pixel, out_image,
                     plane_values, count);
  });
}

template void conv2d_batched<float>(const Conv2dShape&, const Padding<float>&, bool, const float*, const float*,
                                    const float*, float*, bool);
template void conv2d_batched<double>(const Conv2dShape&, const Padding<double>&, bool, const double*, const double*,
                                     const double*, double*, bool);

}  // namespace fastconv
