#include "conv/conv2d_grad_input.h"

#include <algorithm>
#include <utility>

#include "common/constant_step.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/gemm_packing.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

// A work item's channels: `channels` consecutive channels of one group and image, whose rows
// of W^T (taps each) it multiplies into cols and scatters while cols is still in L2. `count`
// blocks a group, each in `tiles` GEMM tiles of MR rows.
struct ChannelBlocks {
  int64_t channels, count, MR, tiles;
};

// A work item's columns (cols, and the pixel rows' transpose) fit in this much of L2.
constexpr int64_t kColsBytes = int64_t{256} << 10;

// The channel count in [1, fitting] of least cost(channels), the larger on ties.
template <class Cost>
int64_t cheapest_block(int64_t fitting, Cost&& cost) {
  int64_t best = 1, best_cost = cost(1);
  for (int64_t channels = 2; channels <= fitting; ++channels) {
    const int64_t c = cost(channels);
    if (c <= best_cost) best = channels, best_cost = c;
  }
  return best;
}

// Channel rows' blocks: among the block sizes whose cols fit kColsBytes (or that fill one
// tile), the one whose work items (of `images` images at a time), dealt to the threads,
// compute the fewest tile rows (a tile of mr rows costing mr + 1, as in gemm_tile_rows).
// Smaller blocks cost nothing else worth counting where grad_out's panels, read again per
// block, stay in L2 or L3 (S6: blocks of 1 and of 8 channels ran at the same speed).
template <class T>
ChannelBlocks choose_channel_blocks(const Kernels<T>& kern, const Conv2dShape& s, int64_t P, int64_t images,
                                    int threads) {
  const int64_t taps = s.kh * s.kw, channel_bytes = std::max<int64_t>(taps * P * sizeof(T), 1);
  const int64_t fitting = std::min(std::max(kColsBytes / channel_bytes, ceil_div(kern.gemm_mr, taps)), s.Cg());
  const auto tiling = [&](int64_t channels) {  // {mr, tiles}
    const int64_t mr = gemm_tile_rows(kern, channels * taps);
    return std::pair<int64_t, int64_t>{mr, ceil_div(channels * taps, mr)};
  };
  const int64_t channels = cheapest_block(fitting, [&](int64_t c) {
    const auto [mr, tiles] = tiling(c);
    return ceil_div(images * s.groups * ceil_div(s.Cg(), c), threads) * tiles * (mr + 1);
  });
  const auto [mr, tiles] = tiling(channels);
  return {channels, ceil_div(s.Cg(), channels), mr, tiles};
}

// Pixel rows' blocks: MR and tiles over all N*P pixels; among the channel counts whose
// columns (N*P x channels*taps) fit kColsBytes (or that fill one panel), the one whose work
// items, dealt to the threads, compute the fewest NR-column panels.
template <class T>
ChannelBlocks choose_pixel_row_blocks(const Kernels<T>& kern, const Conv2dShape& s, int threads) {
  const int64_t taps = s.kh * s.kw, R = s.N * s.OH * s.OW, NR = kern.gemm_nr, MR = gemm_tile_rows(kern, R);
  const int64_t channel_bytes = std::max<int64_t>(taps * R * sizeof(T), 1);
  const int64_t fitting = std::min(std::max(kColsBytes / channel_bytes, ceil_div(NR, taps)), s.Cg());
  const int64_t channels = cheapest_block(fitting, [&](int64_t c) {
    return ceil_div(s.groups * ceil_div(s.Cg(), c), threads) * ceil_div(c * taps, NR);
  });
  return {channels, ceil_div(s.Cg(), channels), MR, ceil_div(R, MR)};
}

// Every block's rows of W^T in GEMM tiles: row c*taps + t of block b (channels c0 = b *
// blocks.channels on) of group g is w[g*Kg + k][c0 + c][t] over k (the depth); block b of
// group g at a + (g * count + b) * tiles * MR * Kg, its tiles k-major, MR rows per k, the
// rows past the block's channels zero (a last, narrower block's unused tiles unwritten).
template <class T>
void pack_transposed_weights(const Conv2dShape& s, const ChannelBlocks& blocks, const T* w, T* a) {
  const int64_t Cg = s.Cg(), Kg = s.Kg(), taps = s.kh * s.kw, MR = blocks.MR;
  parallel_for(s.groups * blocks.count, s.K * Cg * taps, [&](int64_t item) {
    const int64_t g = item / blocks.count, c0 = item % blocks.count * blocks.channels;
    const int64_t rows = std::min(blocks.channels, Cg - c0) * taps;
    T* block = a + item * blocks.tiles * MR * Kg;
    for (int64_t k = 0; k < Kg; ++k) {  // each filter's channels read in one run
      const T* src = w + ((g * Kg + k) * Cg + c0) * taps;
      for (int64_t m0 = 0; m0 < rows; m0 += MR)
        copy_zero_padded(src + m0, std::min(MR, rows - m0), block + (m0 * Kg + k * MR), MR);
    }
  });
}

// The grad_out of `images` images (K x P each) in NR-column panels per image and group,
// k-major (gemm_packing.h); work items of kPackRows rows, each read in one run into every
// panel.
template <class T>
void pack_panels(const Conv2dShape& s, const T* grad_out, int64_t images, T* packed) {
  constexpr int64_t kPackRows = 16;
  const int64_t Kg = s.Kg(), P = s.OH * s.OW, NR = kernels<T>().gemm_nr, panels_size = ceil_div(P, NR) * Kg * NR;
  const int64_t row_blocks = ceil_div(Kg, kPackRows);
  parallel_for(images * s.groups * row_blocks, images * s.K * P, [&](int64_t item) {
    const int64_t image_group = item / row_blocks, k0 = item % row_blocks * kPackRows;
    T* panels = packed + image_group * panels_size;
    for (int64_t k = k0; k < std::min(k0 + kPackRows, Kg); ++k) {
      const T* go = grad_out + (image_group * Kg + k) * P;
      for (int64_t j0 = 0; j0 < P; j0 += NR)
        copy_zero_padded(go + j0, std::min(NR, P - j0), panels + (j0 * Kg + k * NR), NR);
    }
  });
}

// Whether scatter_plane sums a plane in column phases: a column stride above 1 and several
// taps a kernel row (a 1x1 kernel of stride 2 on 56x56 ran 1.4% slower in phases), and below
// the width (so that the phases take less than twice the plane: at most (W + sw - 1) * H).
bool scatter_in_phases(const Conv2dShape& s) { return s.sw > 1 && s.kw > 1 && s.sw < s.W; }

// Values a plane's scatter needs besides the plane (scatter_plane's column phases).
int64_t scatter_scratch(const Conv2dShape& s) {
  return scatter_in_phases(s) ? s.sw * s.H * ceil_div(s.W, s.sw) : 0;
}

// row[m * step + r] = phase r's value m, the phases `phase_step` apart, for the W columns of
// one row (with_constant_step).
template <class T>
void interleave_phases(int64_t step, const T* phases, int64_t phase_step, int64_t W, T* row) {
  with_constant_step(step, [&](auto every) {
    const int64_t whole = W / every;
    for (int64_t m = 0; m < whole; ++m)
      for (int64_t r = 0; r < every; ++r) row[m * every + r] = phases[r * phase_step + m];
    for (int64_t x = whole * every; x < W; ++x) row[x] = phases[(x % every) * phase_step + whole];
  });
}

// Plane `c` of grad_in from its columns: tap t = ky*kw + kx of output pixel p = oy*OW + ox,
// at cols[t * tap_step + p], read padded position (oy*sh + ky*dh - pt, ox*sw + kx*dw - pl);
// added in (tap, pixel) order. Where scatter_in_phases, the plane is summed in its column
// phases (scratch: scatter_scratch values), phase r's row iy holding columns r, r + sw, ... at
// phases[(r * H + iy) * ceil(W / sw)...]: a tap's row adds to one phase's consecutive values,
// which vectorises; the phases are interleaved into the plane at the end. Each value gets the
// same additions in the same order either way.
template <class T>
void scatter_plane(const Conv2dShape& s, PadMode mode, const T* cols, int64_t tap_step, T* plane, T* phases) {
  const int64_t sw = s.sw, q = scatter_in_phases(s) ? sw : 1, step = sw / q;  // q phases, a tap's run `step` apart
  const int64_t Wq = ceil_div(s.W, q), phase_size = s.H * Wq;
  T* sums = q == 1 ? plane : phases;
  std::fill(sums, sums + q * phase_size, T(0));
  const auto value = [&](int64_t iy, int64_t ix) -> T& { return sums[(ix % q) * phase_size + iy * Wq + ix / q]; };
  for (int64_t ky = 0; ky < s.kh; ++ky)
    for (int64_t kx = 0; kx < s.kw; ++kx) {
      const T* col = cols + (ky * s.kw + kx) * tap_step;
      const int64_t x0 = kx * s.dw - s.pl;
      const Range inside = valid_range(s.OW, sw, x0, s.W);
      const int64_t run = inside.size() > 0 ? &value(0, x0 + inside.begin * sw) - sums : 0;  // row 0's
      for (int64_t oy = 0; oy < s.OH; ++oy) {
        const int64_t iy = pad_source_index(oy * s.sh + ky * s.dh - s.pt, s.H, mode);
        if (iy < 0) continue;
        const T* c = col + oy * s.OW;
        for (int64_t ox = 0; ox < s.OW; ++ox) {
          if (ox == inside.begin && inside.size() > 0) {
            T* dst = sums + iy * Wq + run;
            if (step == 1)  // a loop of its own, that vectorises
              for (int64_t j = 0; j < inside.size(); ++j) dst[j] += c[ox + j];
            else
              for (int64_t j = 0; j < inside.size(); ++j) dst[j * step] += c[ox + j];
            ox = inside.end - 1;
            continue;
          }
          const int64_t ix = pad_source_index(ox * sw + x0, s.W, mode);
          if (ix >= 0) value(iy, ix) += c[ox];
        }
      }
    }
  if (q > 1)
    for (int64_t iy = 0; iy < s.H; ++iy) interleave_phases(q, phases + iy * Wq, phase_size, s.W, plane + iy * s.W);
}

}  // namespace

// Channel rows: cols = W_g^T (Cg*taps x Kg) * grad_out (Kg x P) per image and group, W^T
// packed in tiles per channel block, grad_out in NR-column panels per image and group, for
// as many images at a time as kPackedValues holds (one at least); a work item is one channel
// block of one image and group: its GEMM over every panel, then its planes.
template <class T>
void grad_input_channel_rows(const Conv2dShape& s, PadMode mode, const T* grad_out, const T* w, T* grad_in) {
  constexpr int64_t kPackedValues = int64_t{8} << 20;
  const Kernels<T>& kern = kernels<T>();
  const int64_t Cg = s.Cg(), Kg = s.Kg(), taps = s.kh * s.kw, P = s.OH * s.OW;
  const int64_t NR = kern.gemm_nr, panels = ceil_div(P, NR), panels_size = panels * Kg * NR;
  const int64_t images = std::clamp<int64_t>(kPackedValues / std::max<int64_t>(s.groups * panels_size, 1), 1,
                                             std::max<int64_t>(s.N, 1));
  const ChannelBlocks blocks = choose_channel_blocks(kern, s, P, images, num_threads());
  const int64_t MR = blocks.MR, block_rows = blocks.tiles * MR;
  CallScratch<T> packed_w(s.groups * blocks.count * block_rows * Kg, WorkspaceSlot::Weights);
  pack_transposed_weights(s, blocks, w, packed_w.get());
  CallScratch<T> packed_go(images * s.groups * panels_size, WorkspaceSlot::Call);
  const GemmEpilogue<T> ep{false, nullptr, false, false};
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t count = std::min(images, s.N - n0);
    pack_panels(s, grad_out + n0 * s.K * P, count, packed_go.get());
    parallel_for_allocating(count * s.groups * blocks.count, count * s.C * taps * Kg * P, [&](int64_t item) {
      const int64_t image_group = item / blocks.count, block = item % blocks.count;
      const int64_t c0 = block * blocks.channels, rows = std::min(blocks.channels, Cg - c0) * taps;
      CallScratch<T> cols(rows * P + scatter_scratch(s), WorkspaceSlot::Task);
      const T* a = packed_w.get() + (image_group % s.groups * blocks.count + block) * block_rows * Kg;
      const T* b = packed_go.get() + image_group * panels_size;
      for (int64_t nb = 0; nb < panels; ++nb) {
        const int64_t j0 = nb * NR, width = std::min(NR, P - j0);
        for (int64_t m0 = 0; m0 < rows; m0 += MR)
          kern.gemm_ukernel[MR](Kg, a + m0 * Kg, b + nb * Kg * NR, cols.get() + m0 * P + j0, P,
                                std::min(MR, rows - m0), width, ep);
      }
      T* planes = grad_in + ((n0 * s.groups + image_group) * Cg + c0) * s.H * s.W;
      for (int64_t c = 0; c * taps < rows; ++c)
        scatter_plane(s, mode, cols.get() + c * taps * P, P, planes + c * s.H * s.W, cols.get() + rows * P);
    });
  }
}

// Pixel rows: colsT = grad_out_g^T (N*P x Kg) * W_g (Kg x Cg*taps) per group, the pixels of
// every image as rows (packed in MR-row tiles once per call), W read as NR-column panels of
// its rows, each packed by the work item that uses it (the whole depth Kg, in L2: depth
// blocks of 256 ran no faster and would round differently); a work item is one channel
// block of one group: its panels over every pixel tile, then its planes of every image.
// Same sums as the channel rows' (each value one dot product over k in order, scattered in
// (tap, pixel) order, bitwise the same), without packing all of W^T: for small maps of many
// channels.
template <class T>
void grad_input_pixel_rows(const Conv2dShape& s, PadMode mode, const T* grad_out, const T* w, T* grad_in) {
  const Kernels<T>& kern = kernels<T>();
  const ChannelBlocks blocks = choose_pixel_row_blocks(kern, s, num_threads());
  const int64_t Cg = s.Cg(), Kg = s.Kg(), taps = s.kh * s.kw, M = Cg * taps, P = s.OH * s.OW, R = s.N * P;
  const int64_t NR = kern.gemm_nr, MR = blocks.MR, tiles = blocks.tiles;
  CallScratch<T> packed_go(s.groups * tiles * MR * Kg, WorkspaceSlot::Call);
  parallel_for(s.groups * tiles, s.K * R, [&](int64_t item) {
    const int64_t g = item / tiles, r0 = item % tiles * MR;
    T* tile = packed_go.get() + item * Kg * MR;  // k-major: tile[k * MR + i] is row r0 + i
    for (int64_t i = 0; i < MR; ++i) {
      const int64_t r = r0 + i;
      if (r >= R) {
        for (int64_t k = 0; k < Kg; ++k) tile[k * MR + i] = T(0);
        continue;
      }
      const T* src = grad_out + (r / P * s.K + g * Kg) * P + r % P;
      for (int64_t k = 0; k < Kg; ++k) tile[k * MR + i] = src[k * P];
    }
  });
  parallel_for_allocating(s.groups * blocks.count, s.N * s.C * taps * Kg * P, [&](int64_t item) {
    const int64_t g = item / blocks.count, c0 = item % blocks.count * blocks.channels;
    const int64_t columns = std::min(blocks.channels, Cg - c0) * taps;
    CallScratch<T> scratch(Kg * NR + 2 * R * columns + scatter_scratch(s), WorkspaceSlot::Task);
    T* panel = scratch.get();        // columns j0... of W's rows, k-major (gemm_packing.h)
    T* cols = panel + Kg * NR;       // R x columns
    T* by_tap = cols + R * columns;  // its transpose, for the scatter's rows
    T* phases = by_tap + R * columns;
    const GemmEpilogue<T> ep{false, nullptr, false, false};
    for (int64_t j0 = 0; j0 < columns; j0 += NR) {
      const int64_t width = std::min(NR, columns - j0);
      const T* src = w + g * Kg * M + c0 * taps + j0;
      for (int64_t k = 0; k < Kg; ++k) copy_zero_padded(src + k * M, width, panel + k * NR, NR);
      for (int64_t t = 0; t < tiles; ++t)
        kern.gemm_ukernel[MR](Kg, packed_go.get() + (g * tiles + t) * MR * Kg, panel, cols + t * MR * columns + j0,
                              columns, std::min(MR, R - t * MR), width, ep);
    }
    kern.transpose(cols, columns, by_tap, R, R, columns);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t c = 0; c * taps < columns; ++c)
        scatter_plane(s, mode, by_tap + c * taps * R + n * P, R, grad_in + (n * s.C + g * Cg + c0 + c) * s.H * s.W,
                      phases);
  });
}

template <class T>
void conv2d_grad_input_col2im(const Conv2dShape& s, PadMode mode, const T* grad_out, const T* w, T* grad_in) {
  if (col2im_pixel_rows_suit(s))
    grad_input_pixel_rows(s, mode, grad_out, w, grad_in);
  else
    grad_input_channel_rows(s, mode, grad_out, w, grad_in);
}

bool col2im_pixel_rows_suit(const Conv2dShape& s) {
  int64_t pixels = 0, columns = 0;
  if (__builtin_mul_overflow(s.N, s.OH, &pixels) || __builtin_mul_overflow(pixels, s.OW, &pixels) ||
      __builtin_mul_overflow(s.Cg(), s.kh * s.kw, &columns))
    return false;  // sizes no array holds; kh * kw is a real kernel's
  return pixels <= kPixelRowsMax && 4 * pixels <= columns;
}

template void conv2d_grad_input_col2im<float>(const Conv2dShape&, PadMode, const float*, const float*, float*);
template void conv2d_grad_input_col2im<double>(const Conv2dShape&, PadMode, const double*, const double*, double*);

}  // namespace fastconv
