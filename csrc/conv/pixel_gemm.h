// The convolution GEMM whose rows are output pixels, on NHWC data: (pixels x K) = im2col(x) *
// W per group, with im2col never formed, the microkernel reading each pixel's window in place
// through tap pointers. The weights are packed once (B, per group, in micro-panels of NR
// output channels); any range of output pixels then runs on the calling thread, so callers
// choose their own work items (conv2d_nhwc.cc, nhwc_gemm: tiles of the whole batch;
// conv2d_via_nhwc.cc: bands of NCHW images transposed to NHWC, or blocks of whole small
// images through nhwc_gemm, on weights packed once a call).
#pragma once
#include <cstdint>

#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "conv/nhwc_taps.h"
#include "conv/row_class_tiles.h"

namespace fastconv {

// Whether a tile whose windows lie on input columns takes each window row as one run of
// kw*C values (kh taps of kw*C channels: the same B rows in the same order, so the same sums):
// with one group and unit horizontal dilation.
inline bool takes_window_rows(const Conv2dShape& s) { return s.groups == 1 && s.dw == 1 && s.kw > 1; }

// How PixelGemm reads its weights: as the convolution's (K, Cg, kh, kw), or as the weights
// of the convolution whose input gradient this one is, (Cg, K, kh, kw) per group (each of
// s's output channels one of their input channels, every kernel rotated by 180 degrees).
enum class WeightsOrder { Filters, FlippedTransposed };

template <class T>
class PixelGemm {
 public:
  // Packs w, (K, Cg, kh, kw), for every shape with s's K, groups, channels and window:
  // B[r][k] = w[g*Kg + k][c][t] with r = t*Cg + c. FlippedTransposed: w is (groups*Cg, Kg, kh,
  // kw) and B[r][k] = w[g*Cg + c][k][taps - 1 - t], the same B as Filters on the weights
  // flipped_transposed_weights makes of it.
  PixelGemm(const Conv2dShape& s, const T* w, WeightsOrder order = WeightsOrder::Filters);

  // Tap pointers of scratch run() needs.
  int64_t taps_scratch() const;

  // The micro-panels of output channels, numbered g*panels + nb over groups g: all of them,
  // and the first output channel of micro-panel gp (K for the end of the range).
  Range all_panels() const { return {0, s_.groups * panels_}; }
  int64_t first_channel(int64_t gp) const;
  // Whether every weight is known finite (false for 1x1 kernels in filter order, whose
  // packing does not look: pack_b_weights).
  bool weights_finite() const { return weights_finite_; }

  // Parts to split the micro-panels into so that `items` work items (of total_work
  // multiply-adds in all) make at least `per_thread` a thread: 1 when parallel_for would run
  // them on one thread.
  int64_t channel_splits(int64_t items, int64_t per_thread, int64_t total_work) const;
  // Part `part` of `parts` of the micro-panels.
  Range split_panels(int64_t part, int64_t parts) const {
    return {part * all_panels().end / parts, (part + 1) * all_panels().end / parts};
  }

  // Output pixels [p_begin, p_end) of the flattened (N*OH*OW) output of shape s, whose
  // taps `where` finds in x, into out (pixel p's K channels at out + p*K), bias and relu
  // fused; only the output channels of micro-panels `panels`.
  void run(const Conv2dShape& s, const NhwcTaps<T>& where, const T* x, const T* bias, T* out, bool relu,
           int64_t p_begin, int64_t p_end, const T** taps, Range panels) const;
  // The same on tiles [t_begin, t_end) of `plan`, each running its class's kernel rows only;
  // taps: twice taps_scratch().
  void run_tiles(const Conv2dShape& s, const NhwcTaps<T>& where, const T* x, const T* bias, T* out, bool relu,
                 const RowClassTiles& plan, int64_t t_begin, int64_t t_end, const T** taps, Range panels) const;

 private:
  // Group g's micro-panel nb: NR output channels, kh*kw*Cg deep.
  const T* panel(int64_t g, int64_t nb) const;
  template <class PixelAt>
  void run_tile(const Conv2dShape& s, const NhwcTaps<T>& where, const T* x, const T* bias, T* out, bool relu,
                PixelAt pixel_at, int64_t m, Range rows, Range inner, const T** taps, Range panels) const;

  Conv2dShape s_;
  int64_t panels_;
  bool weights_finite_;
  CallScratch<T> b_packed_;  // kept memory: 9.4 MB for 512 channels 3x3 page-faulted on every call
};

// out (N*OH*OW x K, NHWC) = the convolution of NHWC x by gemm's weights, bias and relu
// fused (conv2d_nhwc.cc; s with at least one input channel and one output value).
template <class T>
void nhwc_gemm(const Conv2dShape& s, const Padding<T>& pad, const T* x, const PixelGemm<T>& gemm, const T* bias,
               T* out, bool relu);

}  // namespace fastconv
