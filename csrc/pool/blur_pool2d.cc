#include "pool/blur_pool2d.h"

#include <algorithm>

#include "common/heap_vector.h"
#include "common/parallel.h"
#include "common/workspace.h"
#include "kernels/kernel_table.h"

namespace fastconv {

// Work item (image, output row): the vertical pass sums the kh padded input rows of the
// output row over the W input columns into a row of Wp = W + kw - 1 padded columns (the
// padding columns copied from the columns they mirror, or zero), then the horizontal pass
// sums kw of those columns at stride sw for each output pixel.
template <class T>
void blur_pool2d(const BlurGeom& g, const T* filter_h, const T* filter_w, int64_t images, int64_t C, const T* x,
                 T* out) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Wp = g.W + g.kw - 1, row_values = g.W * C, out_row = g.OW * C;
  const IndexMap cols = pad_index_map(Wp, 1, -g.pw, g.W, g.mode);
  const int64_t work = images * g.OH * (g.kh * row_values + g.kw * out_row);
  parallel_for(images * g.OH, work, [&](int64_t item) {
    const int64_t n = item / g.OH, oy = item % g.OH;
    const T* image = x + n * g.H * row_values;
    T* padded = workspace_as<T>(Wp * C + 1);  // one value of slack for strided_taps
    padded[Wp * C] = T(0);
    const T* rows[kMaxBlurTaps];
    T weights[kMaxBlurTaps];
    int count = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = pad_source_index(oy * g.sh + i - g.ph, g.H, g.mode);
      if (iy < 0) continue;  // a zero row adds nothing
      rows[count] = image + iy * row_values;
      weights[count++] = filter_h[i];
    }
    T* interior = padded + g.pw * C;
    kern.weighted_rows(rows, weights, count, row_values, interior);
    for (int64_t j = 0; j < Wp; ++j) {
      if (j >= g.pw && j < g.pw + g.W) continue;
      T* dst = padded + j * C;
      if (cols[j] < 0)
        std::fill(dst, dst + C, T(0));
      else
        std::copy(interior + cols[j] * C, interior + cols[j] * C + C, dst);
    }
    T* o = out + item * out_row;
    if (C == 1) {
      kern.strided_taps(padded, filter_w, static_cast<int>(g.kw), g.sw, g.OW, o);
      return;
    }
    for (int64_t ox = 0; ox < g.OW; ++ox) {
      for (int64_t j = 0; j < g.kw; ++j) rows[j] = padded + (ox * g.sw + j) * C;
      kern.weighted_rows(rows, filter_w, static_cast<int>(g.kw), C, o + ox * C);
    }
  });
}

template void blur_pool2d<float>(const BlurGeom&, const float*, const float*, int64_t, int64_t, const float*,
                                 float*);
template void blur_pool2d<double>(const BlurGeom&, const double*, const double*, int64_t, int64_t, const double*,
                                  double*);

}  // namespace fastconv
