// The gradient of blur pooling, the transpose of its two passes: first each grad_out row is
// spread back along its row (the horizontal pass transposed, then its padding columns
// folded onto the columns they were copied from), giving rows of W x C values; then each
// input row gathers the rows whose vertical taps read it.
#include <algorithm>

#include "common/heap_vector.h"
#include "common/parallel.h"
#include "common/workspace.h"
#include "kernels/kernel_table.h"
#include "pool/blur_pool2d.h"

namespace fastconv {

namespace {

// Row `spread` (W x C values) of the horizontal pass transposed, for grad_out row `g_row`
// (OW x C): padded column p = ox*sw + j receives filter_w[j] * g_row[ox]. The padded columns
// of phase q (p = q + sw*m) form one weighted sum of shifted copies of the row:
// sum over t of filter_w[q + sw*t] * g_row[m - t], read from a copy of the row with kw zero
// pixels on either side. Then the interior columns are copied out and each padding column
// added onto its source column, in column order.
template <class T>
void spread_row(const Kernels<T>& kern, const BlurGeom& g, const IndexMap& cols, int64_t C, const T* filter_w,
                const T* g_row, T* scratch, T* spread) {
  const int64_t Wp = g.W + g.kw - 1;
  T* zero_ended = scratch;                       // (OW + 2*kw) pixels
  T* phase = zero_ended + (g.OW + 2 * g.kw) * C;  // one phase: up to ceil(Wp / sw) pixels
  T* padded = phase + ((Wp + g.sw - 1) / g.sw) * C;  // Wp pixels
  std::fill(zero_ended, zero_ended + g.kw * C, T(0));
  std::copy(g_row, g_row + g.OW * C, zero_ended + g.kw * C);
  std::fill(zero_ended + (g.kw + g.OW) * C, zero_ended + (g.OW + 2 * g.kw) * C, T(0));
  for (int64_t q = 0; q < std::min(g.sw, Wp); ++q) {
    const T* rows[kMaxBlurTaps];
    T weights[kMaxBlurTaps];
    int count = 0;
    for (int64_t j = q; j < g.kw; j += g.sw, ++count) {
      rows[count] = zero_ended + (g.kw - count) * C;
      weights[count] = filter_w[j];
    }
    const int64_t positions = (Wp - q + g.sw - 1) / g.sw;
    if (g.sw == 1) {
      kern.weighted_rows(rows, weights, count, positions * C, padded);
      continue;
    }
    kern.weighted_rows(rows, weights, count, positions * C, phase);
    for (int64_t m = 0; m < positions; ++m)
      std::copy(phase + m * C, phase + (m + 1) * C, padded + (q + g.sw * m) * C);
  }
  std::copy(padded + g.pw * C, padded + (g.pw + g.W) * C, spread);
  for (int64_t p = 0; p < Wp; ++p) {
    if ((p >= g.pw && p < g.pw + g.W) || cols[p] < 0) continue;
    T* dst = spread + cols[p] * C;
    const T* src = padded + p * C;
    for (int64_t c = 0; c < C; ++c) dst[c] += src[c];
  }
}

// For each input row iy, the (output row, vertical weight) pairs whose padded rows come from
// it, in (oy, i) order: entries [begin[iy], begin[iy + 1]).
template <class T>
struct RowTerms {
  HeapVector<int64_t> begin, oy;
  HeapVector<T> weight;
};

template <class T>
RowTerms<T> row_terms(const BlurGeom& g, const T* filter_h) {
  RowTerms<T> t;
  t.begin.assign(g.H + 1, 0);
  for (int64_t oy = 0; oy < g.OH; ++oy)
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = pad_source_index(oy * g.sh + i - g.ph, g.H, g.mode);
      if (iy >= 0) ++t.begin[iy + 1];
    }
  for (int64_t iy = 0; iy < g.H; ++iy) t.begin[iy + 1] += t.begin[iy];
  t.oy.resize(t.begin[g.H]);
  t.weight.resize(t.begin[g.H]);
  HeapVector<int64_t> next(t.begin.begin(), t.begin.end() - 1);
  for (int64_t oy = 0; oy < g.OH; ++oy)
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = pad_source_index(oy * g.sh + i - g.ph, g.H, g.mode);
      if (iy < 0) continue;
      t.oy[next[iy]] = oy;
      t.weight[next[iy]++] = filter_h[i];
    }
  return t;
}

}  // namespace

template <class T>
void blur_pool2d_backward(const BlurGeom& g, const T* filter_h, const T* filter_w, int64_t images, int64_t C,
                          const T* grad_out, T* grad_in) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Wp = g.W + g.kw - 1, row_values = g.W * C, out_row = g.OW * C;
  const IndexMap cols = pad_index_map(Wp, 1, -g.pw, g.W, g.mode);
  const RowTerms<T> terms = row_terms(g, filter_h);
  HeapVector<T> spread(images * g.OH * row_values);  // the spread grad_out rows
  const int64_t scratch = (g.OW + 2 * g.kw + (Wp + g.sw - 1) / g.sw + Wp) * C;
  parallel_for_allocating(images * g.OH, images * g.OH * (g.kw * (g.OW + Wp) * C), [&](int64_t item) {
    CallScratch<T> memory(scratch, WorkspaceSlot::Task);
    spread_row(kern, g, cols, C, filter_w, grad_out + item * out_row, memory.get(), spread.data() + item * row_values);
  });
  parallel_for_allocating(images * g.H, images * g.OH * g.kh * row_values, [&](int64_t item) {
    const int64_t n = item / g.H, iy = item % g.H, first = terms.begin[iy], count = terms.begin[iy + 1] - first;
    CallScratch<const T*> row_pointers(std::max<int64_t>(count, 1), WorkspaceSlot::Task);
    const T** rows = row_pointers.get();
    for (int64_t e = 0; e < count; ++e) rows[e] = spread.data() + (n * g.OH + terms.oy[first + e]) * row_values;
    kern.weighted_rows(rows, terms.weight.data() + first, static_cast<int>(count), row_values,
                       grad_in + item * row_values);
  });
}

template void blur_pool2d_backward<float>(const BlurGeom&, const float*, const float*, int64_t, int64_t,
                                          const float*, float*);
template void blur_pool2d_backward<double>(const BlurGeom&, const double*, const double*, int64_t, int64_t,
                                           const double*, double*);

}  // namespace fastconv
