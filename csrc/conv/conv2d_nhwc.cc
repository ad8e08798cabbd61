// 2-D convolution of NHWC images into NHWC output, with no transposes: a GEMM whose rows are
// output pixels (any groups), and a depthwise kernel vectorised along channels.
#include <algorithm>

#include "common/aligned.h"
#include "common/heap_vector.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "conv/nhwc_taps.h"
#include "conv/padding.h"
#include "conv/pixel_gemm.h"
#include "conv/row_class_tiles.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

constexpr int64_t kBlockM = 8;  // MR-row tiles per work item, at most
// Below this many channels a window row crossing the left or right padding, which makes its
// tile run kh*kw taps of Cg channels, costs more in per-tap set-up than padding a copy.
constexpr int64_t kPadColumnsBelowChannels = 16;

// x with its columns padded: (N, H, Wp, C), column j being input column cols[j] under the
// padding mode (NhwcTaps' column map, running up one by one over `straight`), or C fill
// values where that is -1.
template <class T>
void pad_columns_nhwc(const Conv2dShape& s, const Padding<T>& pad, const IndexMap& cols, Range straight,
                      const T* x, T* dst) {
  const int64_t Wp = static_cast<int64_t>(cols.size());
  parallel_for(s.N * s.H, s.N * s.H * Wp * s.C, [&](int64_t row) {
    pad_row(dst + row * Wp * s.C, x + row * s.W * s.C, cols.data(), Wp, straight, pad.fill, s.C);
  });
}

// Every micro-panel of GEMM B (group g's panel nb of NR output channels, R deep, at
// (g * panels + nb) * R * NR), in parallel: fill(g, nb, filters, panel, copy_row) writes one,
// moving its values through copy_row(from, to) (NR values) wherever it is to check them.
// Returns whether every panel moved values that way and all of them were finite.
template <class T, class Fill>
bool pack_b_panels(const Conv2dShape& s, int64_t NR, T* dst, Fill&& fill) {
  const int64_t Kg = s.Kg(), R = s.kh * s.kw * s.Cg(), panels = ceil_div(Kg, NR);
  HeapVector<char> finite(s.groups * panels, 0);
  parallel_for(s.groups * panels, s.groups * panels * NR * R, [&](int64_t item) {
    // lanes[j] gathers v - v of lane j's values: NaN once one is not finite.
    T lanes[Kernels<T>::kMaxGemmCols] = {};
    bool checked = false;
    const auto copy_row = [&](const T* from, T* to) {
      for (int64_t j = 0; j < NR; ++j) {  // NR values: a loop, not a call
        to[j] = from[j];
        lanes[j] += from[j] - from[j];
      }
      checked = true;
    };
    const int64_t nb = item % panels;
    fill(item / panels, nb, std::min(NR, Kg - nb * NR), dst + item * R * NR, copy_row);
    finite[item] = checked && std::all_of(lanes, lanes + NR, [](T v) { return v == v; });
  });
  return std::all_of(finite.begin(), finite.end(), [](char f) { return f != 0; });
}

// Weights (K, Cg, kh, kw) as GEMM B per group, B[r][k] = w[g*Kg + k][c][t] with r = t*Cg + c,
// in micro-panels of NR output channels (pack_b_panels). Per panel, its filters' rows of
// (c, t) are transposed into scratch rows of NR in (c, t) order, which are then copied in
// (t, c) order. Returns whether every weight is finite (known only with taps > 1: false for
// 1x1, whose transpose is the panel).
template <class T>
bool pack_b_weights(const Conv2dShape& s, const T* w, int64_t NR, T* dst) {
  const int64_t Kg = s.Kg(), Cg = s.Cg(), taps = s.kh * s.kw, R = taps * Cg;
  const Kernels<T>& kern = kernels<T>();
  return pack_b_panels(s, NR, dst, [&](int64_t g, int64_t nb, int64_t filters, T* panel, auto&& copy_row) {
    T* by_channel = taps == 1 ? panel : workspace_as<T>(R * NR);
    if (filters < NR) std::fill(by_channel, by_channel + R * NR, T(0));
    kern.transpose(w + (g * Kg + nb * NR) * R, R, by_channel, NR, filters, R);
    if (taps == 1) return;
    for (int64_t c = 0; c < Cg; ++c)  // read in order, written to `taps` streams
      for (int64_t t = 0; t < taps; ++t) copy_row(by_channel + (c * taps + t) * NR, panel + (t * Cg + c) * NR);
  });
}

// The same panels from weights (groups*Cg, Kg, kh, kw) of the convolution whose input
// gradient this is: B[r][k] = w[g*Cg + c][k][taps - 1 - t]. Per panel, each input channel c's
// NR output channels' kernels are one run of w, transposed into taps rows of NR that are
// copied to the rows (taps - 1 - t)*Cg + c: the weights are read once, with no flipped copy.
// Returns whether every weight is finite.
template <class T>
bool pack_b_flipped_weights(const Conv2dShape& s, const T* w, int64_t NR, T* dst) {
  const int64_t Kg = s.Kg(), Cg = s.Cg(), taps = s.kh * s.kw;
  const Kernels<T>& kern = kernels<T>();
  return pack_b_panels(s, NR, dst, [&](int64_t g, int64_t nb, int64_t filters, T* panel, auto&& copy_row) {
    T* by_tap = workspace_as<T>(taps * NR);
    if (filters < NR) std::fill(by_tap, by_tap + taps * NR, T(0));
    for (int64_t c = 0; c < Cg; ++c) {
      kern.transpose(w + ((g * Cg + c) * Kg + nb * NR) * taps, taps, by_tap, NR, filters, taps);
      for (int64_t t = 0; t < taps; ++t) copy_row(by_tap + t * NR, panel + ((taps - 1 - t) * Cg + c) * NR);
    }
  });
}

// Output pixels of a tile as (image, row, column), one after another: pixel_at(i) ascends
// (a run of consecutive pixels, or a class's in RowClassTiles), so the tile is consecutive if
// its last pixel is m - 1 past its first, and then each next pixel is found by counting on.
template <class PixelAt>
class PixelCursor {
 public:
  PixelCursor(const Conv2dShape& s, PixelAt at, int64_t m)
      : consecutive(at(m - 1) == at(0) + m - 1), s_(s), at_(at) {
    go(at(0));
  }
  void next(int64_t i) {  // to pixel i, from pixel i - 1
    if (!consecutive) return go(at_(i));
    if (++ox == s_.OW) {
      ox = 0;
      if (++oy == s_.OH) oy = 0, ++n;
    }
  }

  const bool consecutive;
  int64_t n = 0, oy = 0, ox = 0;

 private:
  void go(int64_t p) { n = p / (s_.OH * s_.OW), oy = p / s_.OW % s_.OH, ox = p % s_.OW; }
  const Conv2dShape& s_;
  PixelAt at_;
};

// The A rows of one tile: output pixels pixel_at(0), ..., pixel_at(m - 1) of the flattened
// (N*OH*OW) output (PixelCursor), each as its tap pointers (rows past m up to MR read the fill
// row). With row_taps, a tile whose windows all lie on input columns (`inner`) takes a
// pixel's kh window rows as its taps (NhwcTaps::window_rows); others take their kh*kw taps.
// Returns whether it took window rows.
template <class T, class PixelAt>
bool tile_taps(const Conv2dShape& s, const NhwcTaps<T>& where, const T* x, PixelAt pixel_at, int64_t m, int64_t MR,
               bool row_taps, Range inner, const T** taps) {
  const int64_t image_size = s.H * s.W * s.C;
  bool whole_rows = row_taps;
  PixelCursor<PixelAt> check(s, pixel_at, m);
  for (int64_t i = 0; i < m && whole_rows; ++i) {
    if (i > 0) check.next(i);
    whole_rows = check.ox >= inner.begin && check.ox < inner.end;
  }
  const int64_t per_pixel = whole_rows ? s.kh : s.kh * s.kw;
  PixelCursor<PixelAt> at(s, pixel_at, m);
  if (whole_rows && at.consecutive && at.ox + m <= s.OW) {
    // one output row: pixel i's windows are pixel 0's, i*sw pixels on
    where.window_rows(x + at.n * image_size, at.oy, at.ox, taps);
    for (int64_t i = 1; i < m; ++i)
      for (int64_t ky = 0; ky < s.kh; ++ky) taps[i * s.kh + ky] = taps[ky] + i * s.sw * s.C;
  } else {
    for (int64_t i = 0; i < m; ++i) {
      if (i > 0) at.next(i);
      if (whole_rows)
        where.window_rows(x + at.n * image_size, at.oy, at.ox, taps + i * per_pixel);
      else
        where.pixel(x + at.n * image_size, at.oy, at.ox, taps + i * per_pixel);
    }
  }
  std::fill(taps + m * per_pixel, taps + MR * per_pixel, where.fill_row());
  return whole_rows;
}

}  // namespace

template <class T>
PixelGemm<T>::PixelGemm(const Conv2dShape& s, const T* w, WeightsOrder order)
    : s_(s),
      panels_(ceil_div(s.Kg(), kernels<T>().gemm_nr)),
      b_packed_(s.groups * panels_ * s.kh * s.kw * s.Cg() * kernels<T>().gemm_nr, WorkspaceSlot::GemmWeights) {
  const int64_t NR = kernels<T>().gemm_nr;
  weights_finite_ = order == WeightsOrder::Filters ? pack_b_weights(s, w, NR, b_packed_.get())
                                                   : pack_b_flipped_weights(s, w, NR, b_packed_.get());
}

template <class T>
const T* PixelGemm<T>::panel(int64_t g, int64_t nb) const {
  return b_packed_.get() + (g * panels_ + nb) * s_.kh * s_.kw * s_.Cg() * kernels<T>().gemm_nr;
}

template <class T>
int64_t PixelGemm<T>::taps_scratch() const {
  return kernels<T>().gemm_mr * s_.kh * s_.kw;
}

// One tile: output pixels pixel_at(0), ..., pixel_at(m - 1), over kernel rows `rows` (all of
// them, or a RowClassTiles class's: the B rows of kernel row ky start ky window rows, or ky*kw
// taps, in), run over every micro-panel of `panels` while its windows are in L1. Tiles whose
// windows lie on input columns take window rows (takes_window_rows). A tile whose pixels are
// not consecutive writes through a tile of scratch. inner: where.interior_columns(); taps:
// twice taps_scratch() where `rows` is not all of them.
template <class T>
template <class PixelAt>
void PixelGemm<T>::run_tile(const Conv2dShape& s, const NhwcTaps<T>& where, const T* x, const T* bias, T* out,
                            bool relu, PixelAt pixel_at, int64_t m, Range rows, Range inner, const T** taps,
                            Range panels) const {
  const Kernels<T>& kern = kernels<T>();
  const int64_t MR = kern.gemm_mr, NR = kern.gemm_nr, Kg = s.Kg(), Cg = s.Cg();
  const bool whole_rows = tile_taps(s, where, x, pixel_at, m, MR, takes_window_rows(s), inner, taps);
  const int64_t per_row = whole_rows ? 1 : s.kw, a_taps = rows.size() * per_row;
  const int64_t a_channels = whole_rows ? s.kw * Cg : Cg;
  const T** a = taps;
  if (rows.size() < s.kh) {  // the tile's taps of its kernel rows, past the full ones
    a = taps + taps_scratch();
    for (int64_t i = 0; i < MR; ++i)
      for (int64_t j = 0; j < a_taps; ++j) a[i * a_taps + j] = taps[(i * s.kh + rows.begin) * per_row + j];
  }
  const int64_t p0 = pixel_at(0);
  const bool in_place = pixel_at(m - 1) == p0 + m - 1;
  alignas(64) T tile_out[Kernels<T>::kMaxGemmRows * Kernels<T>::kMaxGemmCols];
  for (int64_t gp = panels.begin; gp < panels.end; ++gp) {
    const int64_t g = gp / panels_, nb = gp % panels_, k0 = first_channel(gp), n = std::min(NR, Kg - nb * NR);
    const T* b = panel(g, nb) + rows.begin * per_row * a_channels * NR;
    const GemmEpilogue<T> ep{false, bias != nullptr ? bias + k0 : nullptr, relu, true};
    if (in_place) {
      kern.gemm_ukernel_taps(a_taps, a_channels, a, g * Cg, b, out + p0 * s.K + k0, s.K, m, n, ep);
      continue;
    }
    kern.gemm_ukernel_taps(a_taps, a_channels, a, g * Cg, b, tile_out, NR, m, n, ep);
    for (int64_t i = 0; i < m; ++i) std::copy_n(tile_out + i * NR, n, out + pixel_at(i) * s.K + k0);
  }
}

// Tiles of MR consecutive pixels, all kernel rows.
template <class T>
void PixelGemm<T>::run(const Conv2dShape& s, const NhwcTaps<T>& where, const T* x, const T* bias, T* out,
                       bool relu, int64_t p_begin, int64_t p_end, const T** taps, Range panels) const {
  const int64_t MR = kernels<T>().gemm_mr;
  const Range inner = where.interior_columns();
  for (int64_t p0 = p_begin; p0 < p_end; p0 += MR)
    run_tile(s, where, x, bias, out, relu, [&](int64_t i) { return p0 + i; }, std::min(MR, p_end - p0),
             Range{0, s.kh}, inner, taps, panels);
}

// Tiles [t_begin, t_end) of a RowClassTiles plan, each over its class's kernel rows.
template <class T>
void PixelGemm<T>::run_tiles(const Conv2dShape& s, const NhwcTaps<T>& where, const T* x, const T* bias, T* out,
                             bool relu, const RowClassTiles& plan, int64_t t_begin, int64_t t_end, const T** taps,
                             Range panels) const {
  const Range inner = where.interior_columns();
  for (int64_t t = t_begin; t < t_end; ++t) {
    const RowClassTiles::Tile& tile = plan.tiles[t];
    const int64_t* pixels = plan.order.data() + tile.first;
    run_tile(s, where, x, bias, out, relu, [&](int64_t i) { return pixels[i]; }, tile.m,
             Range{tile.ky_begin, tile.ky_end}, inner, taps, panels);
  }
}

template <class T>
int64_t PixelGemm<T>::first_channel(int64_t gp) const {
  return gp == s_.groups * panels_ ? s_.K : (gp / panels_) * s_.Kg() + (gp % panels_) * kernels<T>().gemm_nr;
}

template <class T>
int64_t PixelGemm<T>::channel_splits(int64_t items, int64_t per_thread, int64_t total_work) const {
  const int threads = parallel_threads(2, total_work);
  return threads > 1 ? std::clamp<int64_t>(ceil_div(per_thread * threads, items), 1, all_panels().end) : 1;
}

template class PixelGemm<float>;
template class PixelGemm<double>;

// out (N*OH*OW x K, row-major) = im2col(x) * W per group: nothing is packed but the weights,
// once per call, and the microkernel reads each pixel's window in place through its tap
// pointers (NhwcTaps: padding included). Work items of up to kBlockM tiles of MR pixels
// (fewer when that would leave a thread under four items), and of part of the output
// channels when even single tiles are too few. Every output element is written by one item
// with the whole reduction in one pass, for any thread count.
template <class T>
void conv2d_nhwc_gemm(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                      bool relu) {
  const int64_t R = s.kh * s.kw * s.Cg(), M = s.N * s.OH * s.OW;
  if (M * s.K == 0) return;
  if (R == 0) {  // no input channels: the bias alone
    for (int64_t p = 0; p < M; ++p)
      for (int64_t k = 0; k < s.K; ++k) {
        const T v = bias != nullptr ? bias[k] : T(0);
        out[p * s.K + k] = relu && v < T(0) ? T(0) : v;
      }
    return;
  }
  nhwc_gemm(s, pad, x, PixelGemm<T>(s, w), bias, out, relu);
}

template <class T>
void nhwc_gemm(const Conv2dShape& s, const Padding<T>& pad, const T* x, const PixelGemm<T>& gemm, const T* bias,
               T* out, bool relu) {
  const int64_t MR = kernels<T>().gemm_mr, R = s.kh * s.kw * s.Cg(), M = s.N * s.OH * s.OW;
  const NhwcTaps<T> where(s, pad);
  if (takes_window_rows(s) && s.Cg() < kPadColumnsBelowChannels && where.interior_columns().size() < s.OW) {
    // A copy with its columns padded, on which every tile takes window rows (the same
    // packed weights: they depend on the window and channels only).
    Conv2dShape padded = s;
    padded.W = static_cast<int64_t>(where.columns().size());
    padded.pl = 0;
    const CallScratch<T> copy(s.N * s.H * padded.W * s.C, WorkspaceSlot::Input);
    pad_columns_nhwc(s, pad, where.columns(), valid_range(padded.W, 1, -s.pl, s.W), x, copy.get());
    return nhwc_gemm(padded, pad, copy.get(), gemm, bias, out, relu);
  }
  // Tiles of consecutive pixels, or of a RowClassTiles plan where skipping pays.
  const RowClassTiles plan = row_class_tiles(s, pad, MR, gemm.weights_finite());
  const bool classes = !plan.tiles.empty();
  // Too few tiles of pixels for four items a thread (a small image): the output channels are
  // split too, split-major, so that each thread streams only its share of the weights.
  const int64_t tiles = classes ? static_cast<int64_t>(plan.tiles.size()) : ceil_div(M, MR);
  const int64_t splits = gemm.channel_splits(tiles, 4, M * s.K * R);
  const int64_t TB = std::clamp<int64_t>(tiles * splits / (4 * num_threads()), 1, kBlockM);
  const int64_t blocks = ceil_div(tiles, TB);
  parallel_for(splits * blocks, M * s.K * R, [&](int64_t task) {
    const int64_t split = task / blocks, t0 = task % blocks * TB, t1 = std::min(tiles, t0 + TB);
    const T** taps = static_cast<const T**>(workspace((classes ? 2 : 1) * gemm.taps_scratch() * sizeof(T*)));
    if (classes)
      gemm.run_tiles(s, where, x, bias, out, relu, plan, t0, t1, taps, gemm.split_panels(split, splits));
    else
      gemm.run(s, where, x, bias, out, relu, t0 * MR, std::min(M, t1 * MR), taps, gemm.split_panels(split, splits));
  });
}

// Depthwise (groups == C == K): one output row per work item. Weights are laid out tap-major
// (w_t[t*C + c]) so that a tap's weights for a block of channels are one vector load. The
// row's interior pixels, whose windows lie on input columns, run as one run of window rows;
// each border pixel runs on its own, its taps as a column of kh*kw rows.
template <class T>
void conv2d_nhwc_depthwise(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias,
                           T* out, bool relu) {
  const int64_t C = s.C, ntaps = s.kh * s.kw;
  if (s.N * s.OH * s.OW * C == 0) return;
  const auto kernel = kernels<T>().depthwise_nhwc;
  const DepthwiseRun interior{C, s.kh, s.kw, s.sw, s.dw}, border{C, ntaps, 1, s.sw, 1};
  AlignedBuffer<T> w_t(ntaps * C);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < ntaps; ++t) w_t.get()[t * C + c] = w[c * ntaps + t];
  const NhwcTaps<T> where(s, pad);
  const Range inner = where.interior_columns();
  parallel_for(s.N * s.OH, s.N * s.OH * s.OW * C * ntaps, [&](int64_t row) {
    const int64_t n = row / s.OH, oy = row % s.OH;
    const T* image = x + n * s.H * s.W * C;
    T* o = out + row * s.OW * C;
    const T** taps = static_cast<const T**>(workspace(ntaps * sizeof(T*)));
    const auto border_pixel = [&](int64_t ox) {
      where.pixel(image, oy, ox, taps);
      kernel(o + ox * C, taps, border, 1, w_t.get(), bias, relu);
    };
    for (int64_t ox = 0; ox < inner.begin; ++ox) border_pixel(ox);
    if (inner.size() > 0) {
      where.window_rows(image, oy, inner.begin, taps);
      kernel(o + inner.begin * C, taps, interior, inner.size(), w_t.get(), bias, relu);
    }
    for (int64_t ox = std::max(inner.end, inner.begin); ox < s.OW; ++ox) border_pixel(ox);
  });
}

template <class T>
ConvAlgorithm choose_conv2d_nhwc_algorithm(const Conv2dShape& s) {
  // One input channel is the NCHW input byte for byte, so the NCHW rule applies too.
  if (batched_pays<T>(s, true) || (s.C == 1 && batched_pays<T>(s, false))) return ConvAlgorithm::Batched;
  return s.Cg() == 1 && s.Kg() == 1 ? ConvAlgorithm::Direct : ConvAlgorithm::Im2col;
}

template <class T>
void conv2d_nhwc(const Conv2dShape& s, const Padding<T>& pad, ConvAlgorithm algo, const T* x, const T* w,
                 const T* bias, T* out, bool relu) {
  // One input channel: the input is the NCHW one byte for byte, and the NCHW kernels
  // (vectorised along image rows, with no 32-wide column tile for few output channels to
  // fill) are the fast ones; their output is transposed unless it too is one channel. The
  // batched kernel runs on this data directly.
  if (algo == ConvAlgorithm::Auto) {
    algo = choose_conv2d_nhwc_algorithm<T>(s);
    if (algo != ConvAlgorithm::Batched && s.C == 1) return conv2d_nhwc_by_nchw(s, pad, x, w, bias, out, relu);
  }
  if (algo == ConvAlgorithm::Direct)
    conv2d_nhwc_depthwise(s, pad, x, w, bias, out, relu);
  else if (algo == ConvAlgorithm::Winograd)
    conv2d_nhwc_winograd(s, pad, x, w, bias, out, relu);
  else if (algo == ConvAlgorithm::Batched)
    conv2d_batched(s, pad, true, x, w, bias, out, relu);
  else
    conv2d_nhwc_gemm(s, pad, x, w, bias, out, relu);
}

template void nhwc_gemm<float>(const Conv2dShape&, const Padding<float>&, const float*, const PixelGemm<float>&,
                               const float*, float*, bool);
template void nhwc_gemm<double>(const Conv2dShape&, const Padding<double>&, const double*, const PixelGemm<double>&,
                                const double*, double*, bool);
template void conv2d_nhwc<float>(const Conv2dShape&, const Padding<float>&, ConvAlgorithm, const float*,
                                 const float*, const float*, float*, bool);
template void conv2d_nhwc<double>(const Conv2dShape&, const Padding<double>&, ConvAlgorithm, const double*,
                                  const double*, const double*, double*, bool);
template ConvAlgorithm choose_conv2d_nhwc_algorithm<float>(const Conv2dShape&);
template ConvAlgorithm choose_conv2d_nhwc_algorithm<double>(const Conv2dShape&);

}  // namespace fastconv
