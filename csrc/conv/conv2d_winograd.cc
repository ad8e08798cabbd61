// 3x3 convolution with unit stride and dilation and one group by Winograd's minimal filtering
// F(4x4, 3x3): each 4x4 block of outputs (a tile) is computed from its 6x6 input window as
// A^T [ (G g G^T) . (B^T d B) ] A (transforms in kernels/generic/winograd.h), and the sum over
// input channels of the 36 elementwise products is 36 GEMMs (tiles x C) * (C x K): 4 times
// fewer multiply-adds than the direct sum. The price is rounding: an output's error is bounded
// by the magnitudes in its tile's whole 6x6 input window (at most 4(C+64) eps P, P the sum over
// channels of the window's sum of |x| times the filter channel's sum of |w|; ~35 eps times the
// largest |x|.|w| sum of the 16 outputs on random data), not by those of its own 3x3 windows as
// for a direct sum, so one large input value perturbs its tile's 16 outputs. Hence Winograd is
// never chosen by auto.
#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <vector>

#include "common/aligned.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

constexpr int64_t kPoints = 36;           // transform points of a tile (6x6)
constexpr int64_t kBlockBytes = 3 << 17;  // V and M of one work item, to stay in L2
constexpr int64_t kMaxTileSide = 64;      // bound on the GEMM tile's MR and NR (stack arrays)

// The filters' transforms U = G g G^T in the GEMM's B layout: point p's micro-panel nb of NR
// output channels holds U[p][k][c] at ((p * panels + nb) * C + c) * NR + k - nb*NR, zero
// past K. Built once per call, on the calling thread.
template <class T>
class WinogradFilters {
 public:
  WinogradFilters(const Conv2dShape& s, const T* w, int64_t NR)
      : C_(s.C), NR_(NR), panels_(ceil_div(s.K, NR)), u_(kPoints * panels_ * s.C * NR, WorkspaceSlot::Weights) {
    const int64_t K = s.K, point_stride = panels_ * C_ * NR;
    if (NR > kMaxTileSide) throw std::logic_error("Winograd: GEMM tile wider than kMaxTileSide");
    const auto filter = kernels<T>().winograd_filter;
    parallel_for(C_ * panels_, kPoints * 4 * K * C_, [&](int64_t item) {
      const int64_t c = item / panels_, nb = item % panels_, count = std::min(NR, K - nb * NR);
      // The panel's filters of channel c side by side (tap t of filter j at g[t*NR + j]), as
      // the transform kernel takes them.
      T g[9 * kMaxTileSide];
      for (int64_t j = 0; j < count; ++j)
        for (int64_t t = 0; t < 9; ++t) g[t * NR + j] = w[((nb * NR + j) * C_ + c) * 9 + t];
      T* dst = u_.get() + (nb * C_ + c) * NR;
      filter(g, NR, count, dst, point_stride);
      for (int64_t p = 0; p < kPoints; ++p)
        std::fill(dst + p * point_stride + count, dst + p * point_stride + NR, T(0));
    });
  }

  // Micro-panel nb (C x NR) of point p.
  const T* panel(int64_t p, int64_t nb) const { return u_.get() + ((p * panels_ + nb) * C_) * NR_; }
  int64_t panels() const { return panels_; }

 private:
  int64_t C_, NR_, panels_;
  CallScratch<T> u_;
};

// Where the tiles of an NHWC batch read and write. Tile t is image t / per_image, tile row
// (t % per_image) / cols, tile column t % cols; its 6x6 window starts at padded coordinates
// (4*row, 4*col). Padded positions map to input pixels under the padding mode, to the fill
// (Constant padding), or, past the padded input (the last tiles of images whose sides are
// not multiples of 4, whose extra outputs are dropped), to zeros: finite, so that they do
// not reach the kept outputs through the transforms.
template <class T>
class WinogradTiles {
 public:
  WinogradTiles(const Conv2dShape& s, const Padding<T>& pad)
      : s_(s),
        rows_(ceil_div(s.OH, 4)),
        cols_(ceil_div(s.OW, 4)),
        row_map_(edge_map(rows_ * 4 + 2, s.OH + 2, -s.pt, s.H, pad.mode)),
        col_map_(edge_map(cols_ * 4 + 2, s.OW + 2, -s.pl, s.W, pad.mode)),
        fill_(s.C, pad.fill),
        zeros_(s.C, T(0)) {}

  int64_t count() const { return s_.N * rows_ * cols_; }

  // ptrs[i*6 + j] = channel 0 of position (i, j) of tile t's window in x (N, H, W, C).
  void window(const T* x, int64_t t, const T** ptrs) const {
    const auto [n, y0, x0] = origin(t);
    const T* image = x + n * s_.H * s_.W * s_.C;
    for (int64_t i = 0; i < 6; ++i) {
      const int64_t row = row_map_[y0 + i];
      for (int64_t j = 0; j < 6; ++j) {
        const int64_t col = col_map_[x0 + j];
        ptrs[i * 6 + j] = row == kPastEdge || col == kPastEdge ? zeros_.data()
                          : row < 0 || col < 0                 ? fill_.data()
                                                               : image + (row * s_.W + col) * s_.C;
      }
    }
  }

  // ptrs[a*4 + b] = output pixel (a, b) of tile t in out (N, OH, OW, K), nullptr past the edge.
  void outputs(T* out, int64_t t, T** ptrs) const {
    const auto [n, y0, x0] = origin(t);
    for (int64_t a = 0; a < 4; ++a)
      for (int64_t b = 0; b < 4; ++b) {
        const int64_t oy = y0 + a, ox = x0 + b;
        ptrs[a * 4 + b] = oy < s_.OH && ox < s_.OW ? out + ((n * s_.OH + oy) * s_.OW + ox) * s_.K : nullptr;
      }
  }

 private:
  struct Origin {
    int64_t n, y0, x0;  // image, and first output row and column of the tile
  };
  Origin origin(int64_t t) const { return {t / (rows_ * cols_), (t / cols_) % rows_ * 4, t % cols_ * 4}; }

  static constexpr int64_t kPastEdge = -2;
  // pad_index_map over the padded extent, kPastEdge beyond it.
  static IndexMap edge_map(int64_t count, int64_t padded, int64_t offset, int64_t n, PadMode mode) {
    IndexMap map = pad_index_map(padded, 1, offset, n, mode);
    map.resize(count, kPastEdge);
    return map;
  }

  Conv2dShape s_;
  int64_t rows_, cols_;
  IndexMap row_map_, col_map_;
  HeapVector<T> fill_, zeros_;
};

// Tiles per work item: a multiple of MR whose V and M fit kBlockBytes, small enough to give
// each thread at least four items.
int64_t tiles_per_item(int64_t tiles, int64_t MR, int64_t C, int64_t K, int64_t value_bytes) {
  const int64_t fit = kBlockBytes / (kPoints * MR * (C + K) * value_bytes);
  const int64_t spread = ceil_div(tiles, MR) / (4 * num_threads());
  return MR * std::max<int64_t>(1, std::min(fit, spread));
}

// Work items of TB tiles: their 36 x TB x C transformed inputs V, then for each point the
// (TB x C) * (C x K) product into M (36 x TB x K), then the output transforms; every output
// is written by one item with its whole sum, for any thread count. Returns false if a value
// was not finite anywhere (an inf or NaN input, or an overflow in a transform): the caller
// then recomputes by the im2col GEMM, which keeps such values to the windows that hold them.
template <class T>
bool winograd_nhwc(const Conv2dShape& s, const Padding<T>& pad, const WinogradFilters<T>& u, const T* x,
                   const T* bias, T* out, bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t MR = kern.gemm_mr, NR = kern.gemm_nr, C = s.C, K = s.K, panels = u.panels();
  const WinogradTiles<T> tiles(s, pad);
  const int64_t count = tiles.count();
  const int64_t TB = tiles_per_item(count, MR, C, K, sizeof(T));
  if (MR > kMaxTileSide) throw std::logic_error("Winograd: GEMM tile taller than kMaxTileSide");
  std::atomic<bool> finite{true};
  parallel_for(ceil_div(count, TB), count * K * C * kPoints, [&](int64_t item) {
    const int64_t t0 = item * TB, m_tiles = std::min(TB, count - t0);
    T* v = workspace_as<T>(kPoints * TB * (C + K));
    T* m = v + kPoints * TB * C;
    bool ok = true;
    for (int64_t i = 0; i < m_tiles; ++i) {
      const T* window[kPoints];
      tiles.window(x, t0 + i, window);
      ok &= kern.winograd_input(window, C, v + i * C, TB * C);
    }
    const GemmEpilogue<T> overwrite{false, nullptr, false, true};
    for (int64_t p = 0; p < kPoints; ++p)
      for (int64_t i0 = 0; i0 < m_tiles; i0 += MR) {
        const int64_t rows = std::min(MR, m_tiles - i0);
        const T* a[kMaxTileSide];  // MR rows of V; rows past the block repeat its last tile
        for (int64_t i = 0; i < MR; ++i) a[i] = v + (p * TB + i0 + std::min(i, rows - 1)) * C;
        for (int64_t nb = 0; nb < panels; ++nb)
          kern.gemm_ukernel_taps(1, C, a, 0, u.panel(p, nb), m + (p * TB + i0) * K + nb * NR, K, rows,
                                 std::min(NR, K - nb * NR), overwrite);
      }
    for (int64_t i = 0; i < m_tiles; ++i) {
      T* outs[16];
      tiles.outputs(out, t0 + i, outs);
      ok &= kern.winograd_output(m + i * K, TB * K, K, outs, bias, relu);
    }
    if (!ok) finite.store(false, std::memory_order_relaxed);
  });
  return finite.load();
}

// Winograd on NHWC data with prepared filters, or the GEMM where it gives up (see winograd_nhwc).
template <class T>
void winograd_or_gemm(const Conv2dShape& s, const Padding<T>& pad, const WinogradFilters<T>& u, const T* x,
                      const T* w, const T* bias, T* out, bool relu) {
  if (s.C == 0 || !winograd_nhwc(s, pad, u, x, bias, out, relu))
    conv2d_nhwc(s, pad, ConvAlgorithm::Im2col, x, w, bias, out, relu);
}

}  // namespace

bool winograd_applies(const Conv2dShape& s) {
  return s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.groups == 1;
}

template <class T>
void conv2d_nhwc_winograd(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                          bool relu) {
  if (s.N * s.OH * s.OW * s.K == 0) return;
  winograd_or_gemm(s, pad, WinogradFilters<T>(s, w, kernels<T>().gemm_nr), x, w, bias, out, relu);
}

// NCHW: the filters are transformed once, each image goes through an NHWC copy.
template <class T>
void conv2d_winograd(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                     bool relu) {
  if (s.N * s.OH * s.OW * s.K == 0) return;
  const WinogradFilters<T> u(s, w, kernels<T>().gemm_nr);
  Conv2dShape one = s;
  one.N = 1;
  conv2d_by_image_nhwc<T>(s, x, out, [&](const T* x_nhwc, T* out_nhwc) {
    winograd_or_gemm(one, pad, u, x_nhwc, w, bias, out_nhwc, relu);
  });
}

template void conv2d_winograd<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                     const float*, float*, bool);
template void conv2d_winograd<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                      const double*, double*, bool);
template void conv2d_nhwc_winograd<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                          const float*, float*, bool);
template void conv2d_nhwc_winograd<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                           const double*, double*, bool);

}  // namespace fastconv
