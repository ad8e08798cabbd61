#include "conv/conv_transpose2d.h"

#include "common/heap_vector.h"
#include "common/parallel.h"
#include "common/ranges.h"

namespace fastconv {

// Input pixel (iy, ix) through tap (ky, kx) lands on output (iy*sh - ph + ky*dh, ix*sw - pw + kx*dw).
template <class T>
void conv_transpose2d(const ConvTranspose2dShape& s, const T* x, const T* w, const T* bias, T* out) {
  const int64_t Cg = s.C / s.groups, Kg = s.K / s.groups, plane_in = s.H * s.W, plane_out = s.OH * s.OW;
  HeapVector<Range> rows(s.kh), cols(s.kw);
  for (int64_t ky = 0; ky < s.kh; ++ky) rows[ky] = valid_range(s.H, s.sh, ky * s.dh - s.ph, s.OH);
  for (int64_t kx = 0; kx < s.kw; ++kx) cols[kx] = valid_range(s.W, s.sw, kx * s.dw - s.pw, s.OW);
  const int64_t work = s.N * s.K * Cg * s.kh * s.kw * plane_in;

  parallel_for(s.N * s.K, work, [&](int64_t nk) {
    const int64_t n = nk / s.K, k = nk % s.K, g = k / Kg, kin = k % Kg;
    T* o = out + nk * plane_out;
    const T b = bias != nullptr ? bias[k] : T(0);
    for (int64_t i = 0; i < plane_out; ++i) o[i] = b;
    for (int64_t c = 0; c < Cg; ++c) {
      const T* xc = x + (n * s.C + g * Cg + c) * plane_in;
      const T* wc = w + ((g * Cg + c) * Kg + kin) * s.kh * s.kw;
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        for (int64_t iy = rows[ky].begin; iy < rows[ky].end; ++iy) {
          const T* xrow = xc + iy * s.W;
          T* orow = o + (iy * s.sh + ky * s.dh - s.ph) * s.OW;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const T wv = wc[ky * s.kw + kx];
            T* dst = orow + kx * s.dw - s.pw;
            for (int64_t ix = cols[kx].begin; ix < cols[kx].end; ++ix) dst[ix * s.sw] += wv * xrow[ix];
          }
        }
      }
    }
  });
}

template void conv_transpose2d<float>(const ConvTranspose2dShape&, const float*, const float*, const float*,
                                      float*);
template void conv_transpose2d<double>(const ConvTranspose2dShape&, const double*, const double*,
                                       const double*, double*);

}  // namespace fastconv
