#include "pool/blur_pool2d.h"

#include <algorithm>

#include "common/heap_vector.h"
#include "common/parallel.h"
#include "common/workspace.h"
#include "kernels/kernel_table.h"

namespace fastconv {

namespace {

// Output rows per work item of max-blur pooling: its rolling window recomputes kh - sh max
// rows per block, a few percent at 16 rows.
constexpr int64_t kMaxBlurBlockRows = 16;

// One output row `o` (OW x C values) from the `count` rows of W x C values the vertical
// filter weighs: the vertical pass into the interior of `padded` (Wp = W + kw - 1 columns of
// C values, and one value of slack for strided_taps), the padding columns copied from the
// columns they mirror (`cols`) or zero, then the horizontal pass at stride sw over the kept
// columns only.
template <class T>
void blur_output_row(const Kernels<T>& kern, const BlurGeom& g, const IndexMap& cols, int64_t C,
                     const T* const* rows, const T* weights, int count, const T* filter_w, T* padded, T* o) {
  const int64_t Wp = g.W + g.kw - 1;
  padded[Wp * C] = T(0);
  T* interior = padded + g.pw * C;
  kern.weighted_rows(rows, weights, count, g.W * C, interior);
  for (int64_t j = 0; j < Wp; ++j) {
    if (j >= g.pw && j < g.pw + g.W) continue;
    T* dst = padded + j * C;
    if (cols[j] < 0)
      std::fill(dst, dst + C, T(0));
    else
      std::copy(interior + cols[j] * C, interior + cols[j] * C + C, dst);
  }
  if (C == 1) {
    kern.strided_taps(padded, filter_w, static_cast<int>(g.kw), g.sw, g.OW, o);
    return;
  }
  const T* taps[kMaxBlurTaps];
  for (int64_t ox = 0; ox < g.OW; ++ox) {
    for (int64_t j = 0; j < g.kw; ++j) taps[j] = padded + (ox * g.sw + j) * C;
    kern.weighted_rows(taps, filter_w, static_cast<int>(g.kw), C, o + ox * C);
  }
}

// The rows of the vertical filter for output row oy: source rows of the padded rows
// oy*sh .. oy*sh + kh - 1 with their weights, a zero row (Constant mode) left out.
struct FilterRows {
  int64_t source[kMaxBlurTaps];
  int count = 0;
};

template <class T>
FilterRows filter_rows(const BlurGeom& g, const T* filter_h, int64_t oy, T* weights) {
  FilterRows r;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t iy = pad_source_index(oy * g.sh + i - g.ph, g.H, g.mode);
    if (iy < 0) continue;
    r.source[r.count] = iy;
    weights[r.count++] = filter_h[i];
  }
  return r;
}

// Row my of the stride-1 max map of one image: the max pool of the input rows its window
// covers, as a pool of one output row over exactly those rows.
template <class T>
void max_map_row(const Kernels<T>& kern, const PoolGeom& mg, int64_t C, const T* image, int64_t my, T* row) {
  const int64_t lo = std::max<int64_t>(0, my - mg.ph), hi = std::min(mg.H, my - mg.ph + mg.kh);
  PoolGeom rows = mg;
  rows.H = rows.kh = hi - lo;
  rows.OH = rows.sh = rows.dh = 1;
  rows.ph = 0;
  if (C == 1)
    kern.max_pool_plane(image + lo * mg.W, row, nullptr, rows);
  else
    kern.max_pool_nhwc_row(image + lo * mg.W * C, row, nullptr, rows, C, 0);
}

// The max rows a block's blur reads, in kh slots: a row is computed on a miss into the slot
// least recently used before the current output row (at most kh rows are in use at once).
template <class T>
class MaxRowWindow {
 public:
  MaxRowWindow(T* memory, int64_t row_values, int slots) : memory_(memory), row_values_(row_values), slots_(slots) {
    std::fill(key_, key_ + slots, int64_t{-1});
    std::fill(used_, used_ + slots, int64_t{-1});
  }

  template <class Compute>
  const T* row(int64_t my, int64_t stamp, Compute&& compute) {
    int victim = 0;
    for (int s = 0; s < slots_; ++s) {
      if (key_[s] == my) {
        used_[s] = stamp;
        return memory_ + s * row_values_;
      }
      if (used_[s] < used_[victim]) victim = s;
    }
    key_[victim] = my;
    used_[victim] = stamp;
    compute(memory_ + victim * row_values_);
    return memory_ + victim * row_values_;
  }

 private:
  T* memory_;
  int64_t row_values_;
  int slots_;
  int64_t key_[kMaxBlurTaps], used_[kMaxBlurTaps];
};

}  // namespace

// Work item (image, output row): the kh rows of the image the vertical filter weighs.
template <class T>
void blur_pool2d(const BlurGeom& g, const T* filter_h, const T* filter_w, int64_t images, int64_t C, const T* x,
                 T* out) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Wp = g.W + g.kw - 1, row_values = g.W * C, out_row = g.OW * C;
  const IndexMap cols = pad_index_map(Wp, 1, -g.pw, g.W, g.mode);
  const int64_t work = images * g.OH * (g.kh * row_values + g.kw * out_row);
  parallel_for_allocating(images * g.OH, work, [&](int64_t item) {
    const int64_t n = item / g.OH, oy = item % g.OH;
    T weights[kMaxBlurTaps];
    const FilterRows fr = filter_rows(g, filter_h, oy, weights);
    const T* rows[kMaxBlurTaps];
    for (int r = 0; r < fr.count; ++r) rows[r] = x + (n * g.H + fr.source[r]) * row_values;
    CallScratch<T> padded(Wp * C + 1, WorkspaceSlot::Task);
    blur_output_row(kern, g, cols, C, rows, weights, fr.count, filter_w, padded.get(), out + item * out_row);
  });
}

// Work item (image, block of output rows); g.H x g.W is the max map's size.
template <class T>
void max_blur_pool2d(const PoolGeom& mg, const BlurGeom& g, const T* filter_h, const T* filter_w, int64_t images,
                     int64_t C, const T* x, T* out) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Wp = g.W + g.kw - 1, row_values = g.W * C, out_row = g.OW * C;
  const int64_t slot_values = round_up(row_values, 16), blocks = ceil_div(g.OH, kMaxBlurBlockRows);
  const IndexMap cols = pad_index_map(Wp, 1, -g.pw, g.W, g.mode);
  // New max rows per output row: sh, at most kh (a stride past the filter skips rows).
  const int64_t new_rows = std::min(g.sh, g.kh);
  const int64_t work = images * g.OH * (g.kh * row_values + g.kw * out_row + new_rows * row_values * mg.kh * mg.kw);
  parallel_for_allocating(images * blocks, work, [&](int64_t item) {
    const int64_t n = item / blocks, oy_begin = item % blocks * kMaxBlurBlockRows;
    const int64_t oy_end = std::min(g.OH, oy_begin + kMaxBlurBlockRows);
    const T* image = x + n * mg.H * mg.W * C;
    CallScratch<T> scratch(g.kh * slot_values + Wp * C + 1, WorkspaceSlot::Task);
    T* memory = scratch.get();
    T* padded = memory + g.kh * slot_values;
    MaxRowWindow<T> window(memory, slot_values, static_cast<int>(g.kh));
    for (int64_t oy = oy_begin; oy < oy_end; ++oy) {
      T weights[kMaxBlurTaps];
      const FilterRows fr = filter_rows(g, filter_h, oy, weights);
      const T* rows[kMaxBlurTaps];
      for (int r = 0; r < fr.count; ++r)
        rows[r] = window.row(fr.source[r], oy, [&](T* row) { max_map_row(kern, mg, C, image, fr.source[r], row); });
      blur_output_row(kern, g, cols, C, rows, weights, fr.count, filter_w, padded, out + (n * g.OH + oy) * out_row);
    }
  });
}

#define FASTCONV_INSTANTIATE_BLUR(T)                                                                           \
  template void blur_pool2d<T>(const BlurGeom&, const T*, const T*, int64_t, int64_t, const T*, T*);           \
  template void max_blur_pool2d<T>(const PoolGeom&, const BlurGeom&, const T*, const T*, int64_t, int64_t,     \
                                   const T*, T*);
FASTCONV_INSTANTIATE_BLUR(float)
FASTCONV_INSTANTIATE_BLUR(double)

}  // namespace fastconv
