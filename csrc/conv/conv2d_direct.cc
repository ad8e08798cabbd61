#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {

// Work item: output rows [oy0, oy1) of one plane (n, k); a plane is split into row blocks only
// when there are fewer planes than four a thread. Each input plane the item reads is first
// copied, rows it needs only, into the thread's workspace with its padding (when there is
// any), so the row kernel sees no edges; every output element accumulates over (c, ky, kx)
// in that order. Scratch per thread: at most one padded plane, (H + pads) x (W + pads) values.
template <class T>
void conv2d_direct(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                   bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Cg = s.Cg(), Kg = s.Kg(), plane_in = s.H * s.W, plane_out = s.OH * s.OW;
  // Rows and columns the windows reach, in padded coordinates.
  const int64_t Hp = std::max(s.pt + s.H, (s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1);
  const int64_t Wp = std::max(s.pl + s.W, (s.OW - 1) * s.sw + (s.kw - 1) * s.dw + 1);
  const bool needs_padding = Hp != s.H || Wp != s.W || s.pt != 0 || s.pl != 0;
  IndexMap row_map, col_map;
  if (needs_padding) {
    row_map = pad_index_map(Hp, 1, -s.pt, s.H, pad.mode);
    col_map = pad_index_map(Wp, 1, -s.pl, s.W, pad.mode);
  }
  const Range interior{s.pl, s.pl + s.W};  // padded columns that are input columns, in order
  const int64_t planes = s.N * s.K, threads = num_threads();
  if (planes == 0) return;
  const int64_t row_blocks = planes >= 4 * threads ? 1 : std::min(s.OH, ceil_div(4 * threads, planes));
  const int64_t rows_per_block = ceil_div(s.OH, row_blocks);
  const int64_t work = planes * Cg * s.kh * s.kw * plane_out;

  parallel_for(planes * row_blocks, work, [&](int64_t item) {
    const int64_t nk = item / row_blocks, n = nk / s.K, k = nk % s.K, g = k / Kg;
    const int64_t oy0 = (item % row_blocks) * rows_per_block, oy1 = std::min(s.OH, oy0 + rows_per_block);
    if (oy0 >= oy1) return;
    T* o = out + nk * plane_out + oy0 * s.OW;
    const int64_t count = (oy1 - oy0) * s.OW;
    std::fill(o, o + count, bias != nullptr ? bias[k] : T(0));
    // Padded rows [r0, r1) feed output rows [oy0, oy1).
    const int64_t r0 = oy0 * s.sh, r1 = (oy1 - 1) * s.sh + (s.kh - 1) * s.dh + 1;
    T* padded = needs_padding ? workspace_as<T>((r1 - r0) * Wp) : nullptr;
    for (int64_t c = 0; c < Cg; ++c) {
      const T* xc = x + (n * s.C + g * Cg + c) * plane_in;
      const T* rows = xc + r0 * s.W;  // padded row r0, when there is no padding
      if (padded != nullptr) {
        for (int64_t r = r0; r < r1; ++r)
          pad_row(padded + (r - r0) * Wp, row_map[r] < 0 ? nullptr : xc + row_map[r] * s.W, col_map.data(), Wp,
                  interior, pad.fill);
        rows = padded;
      }
      const T* wc = w + (k * Cg + c) * s.kh * s.kw;
      kern.conv_rows(o, s.OW, rows, s.sh * Wp, s.dh * Wp, wc, s.kh, s.kw, s.dw, s.OW, s.sw, oy1 - oy0);
    }
    if (relu) kern.relu(o, o, count);
  });
}

template void conv2d_direct<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                   const float*, float*, bool);
template void conv2d_direct<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                    const double*, double*, bool);

}  // namespace fastconv
