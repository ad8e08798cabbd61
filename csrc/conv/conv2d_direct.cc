#include <algorithm>
#include <cstring>

#include "common/parallel.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {

// One output plane (n, k) per work item. Each input plane it reads is first copied into the
// thread's workspace with its zero padding (when there is any), so the row kernel sees no
// edges; every output element accumulates over (c, ky, kx) in that order.
// Scratch per thread: one padded plane, (H + pt + pb) x (W + pl + pr) values.
template <class T>
void conv2d_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* out, bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Cg = s.Cg(), Kg = s.Kg(), plane_in = s.H * s.W, plane_out = s.OH * s.OW;
  // Rows and columns the windows reach, in padded coordinates.
  const int64_t Hp = std::max(s.pt + s.H, (s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1);
  const int64_t Wp = std::max(s.pl + s.W, (s.OW - 1) * s.sw + (s.kw - 1) * s.dw + 1);
  const bool needs_padding = Hp != s.H || Wp != s.W || s.pt != 0 || s.pl != 0;
  const int64_t work = s.N * s.K * Cg * s.kh * s.kw * plane_out;

  parallel_for(s.N * s.K, work, [&](int64_t nk) {
    const int64_t n = nk / s.K, k = nk % s.K, g = k / Kg;
    T* o = out + nk * plane_out;
    const T b = bias != nullptr ? bias[k] : T(0);
    std::fill(o, o + plane_out, b);
    T* padded = needs_padding ? workspace_as<T>(Hp * Wp) : nullptr;
    if (padded != nullptr) std::fill(padded, padded + Hp * Wp, T(0));
    for (int64_t c = 0; c < Cg; ++c) {
      const T* xc = x + (n * s.C + g * Cg + c) * plane_in;
      if (padded != nullptr) {
        const int64_t rows = std::min(s.H, Hp - s.pt), cols = std::min(s.W, Wp - s.pl);
        for (int64_t y = 0; y < rows; ++y)
          std::memcpy(padded + (y + s.pt) * Wp + s.pl, xc + y * s.W, cols * sizeof(T));
        xc = padded;
      }
      const T* wc = w + (k * Cg + c) * s.kh * s.kw;
      for (int64_t oy = 0; oy < s.OH; ++oy)
        kern.conv_row(o + oy * s.OW, xc + oy * s.sh * Wp, s.dh * Wp, wc, s.kh, s.kw, s.dw, s.OW, s.sw);
    }
    if (relu) kern.relu(o, o, plane_out);
  });
}

template void conv2d_direct<float>(const Conv2dShape&, const float*, const float*, const float*, float*, bool);
template void conv2d_direct<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                    bool);

}  // namespace fastconv
