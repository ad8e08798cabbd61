#include <vector>

#include "common/parallel.h"
#include "common/ranges.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {

// One output plane (n, k) per work item; the reduction runs over (c, ky, kx) in that
// order for every output element.
template <class T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* out, bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Cg = s.Cg(), Kg = s.Kg(), plane_in = s.H * s.W, plane_out = s.OH * s.OW;
  std::vector<Range> rows(s.kh), cols(s.kw);
  for (int64_t ky = 0; ky < s.kh; ++ky) rows[ky] = valid_range(s.OH, s.sh, ky * s.dh - s.pt, s.H);
  for (int64_t kx = 0; kx < s.kw; ++kx) cols[kx] = valid_range(s.OW, s.sw, kx * s.dw - s.pl, s.W);
  const int64_t work = s.N * s.K * Cg * s.kh * s.kw * plane_out;

  parallel_for(s.N * s.K, work, [&](int64_t nk) {
    const int64_t n = nk / s.K, k = nk % s.K, g = k / Kg;
    T* o = out + nk * plane_out;
    const T b = bias != nullptr ? bias[k] : T(0);
    for (int64_t i = 0; i < plane_out; ++i) o[i] = b;
    for (int64_t c = 0; c < Cg; ++c) {
      const T* xc = x + (n * s.C + g * Cg + c) * plane_in;
      const T* wc = w + (k * Cg + c) * s.kh * s.kw;
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        for (int64_t oy = rows[ky].begin; oy < rows[ky].end; ++oy) {
          const T* xrow = xc + (oy * s.sh + ky * s.dh - s.pt) * s.W;
          T* orow = o + oy * s.OW;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const Range r = cols[kx];
            if (r.size() <= 0) continue;
            kern.axpy_strided(orow + r.begin, xrow + r.begin * s.sw + kx * s.dw - s.pl, wc[ky * s.kw + kx],
                              r.size(), s.sw);
          }
        }
      }
    }
    if (relu) kern.relu(o, o, plane_out);
  });
}

template void conv2d_direct<float>(const Conv2dShape&, const float*, const float*, const float*, float*, bool);
template void conv2d_direct<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                    bool);

}  // namespace fastconv
