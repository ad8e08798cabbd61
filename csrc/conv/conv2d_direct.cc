#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

// The output rows in [oy0, oy1) all of whose taps read input rows (no padded row).
Range rows_inside_input(const Conv2dShape& s, int64_t oy0, int64_t oy1) {
  const int64_t last_start = s.H - 1 + s.pt - (s.kh - 1) * s.dh;  // the last padded row a window may start at
  const int64_t lo = std::min(oy1, std::max(oy0, ceil_div(s.pt, s.sh)));
  const int64_t hi = last_start < 0 ? lo : std::min(oy1, last_start / s.sh + 1);
  return {lo, std::max(lo, hi)};
}

}  // namespace

// Work item: output rows [oy0, oy1) of one plane (n, k); a plane is split into row blocks only
// when there are fewer planes than four a thread. When no column is padded, the rows whose
// windows lie within the input's rows read it in place; the others read a copy of the input
// rows they need, padded, in the thread's workspace. Every output element accumulates over
// (c, ky, kx) in that order, starting from the bias. Scratch per thread: at most one padded
// plane, (H + pads) x (W + pads) values.
template <class T>
void conv2d_direct(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                   bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Cg = s.Cg(), Kg = s.Kg(), plane_in = s.H * s.W, plane_out = s.OH * s.OW;
  // Rows and columns the windows reach, in padded coordinates.
  const int64_t Hp = std::max(s.pt + s.H, (s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1);
  const int64_t Wp = std::max(s.pl + s.W, (s.OW - 1) * s.sw + (s.kw - 1) * s.dw + 1);
  const bool needs_padding = Hp != s.H || Wp != s.W || s.pt != 0 || s.pl != 0;
  const bool columns_in_place = s.pl == 0 && Wp == s.W;  // no padded column
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
    const T start = bias != nullptr ? bias[k] : T(0);
    if (Cg == 0) std::fill(o, o + (oy1 - oy0) * s.OW, start);
    const Range inside = columns_in_place ? rows_inside_input(s, oy0, oy1) : Range{oy0, oy0};
    T* padded = needs_padding ? workspace_as<T>((oy1 - oy0 - 1) * s.sh * Wp + (s.kh - 1) * s.dh * Wp + Wp) : nullptr;
    for (int64_t c = 0; c < Cg; ++c) {
      const T* xc = x + (n * s.C + g * Cg + c) * plane_in;
      const T* wc = w + (k * Cg + c) * s.kh * s.kw;
      // Output rows [r0, r1) from rows of `width` values.
      const auto rows_from = [&](int64_t r0, int64_t r1, const T* in, int64_t width) {
        if (r0 >= r1) return;
        const ConvRows<T> rows{s.OW, s.sh * width, s.dh * width, s.kh, s.kw, s.dw, s.sw, s.OW, r1 - r0, c > 0, start};
        kern.conv_rows(o + (r0 - oy0) * s.OW, in, wc, rows);
      };
      // Padded rows of output rows [r0, r1), copied, then the rows computed from the copy.
      const auto rows_copied = [&](int64_t r0, int64_t r1) {
        if (r0 >= r1) return;
        const int64_t first = r0 * s.sh, end = (r1 - 1) * s.sh + (s.kh - 1) * s.dh + 1;
        for (int64_t r = first; r < end; ++r)
          pad_row(padded + (r - first) * Wp, row_map[r] < 0 ? nullptr : xc + row_map[r] * s.W, col_map.data(), Wp,
                  interior, pad.fill);
        rows_from(r0, r1, padded, Wp);
      };
      rows_copied(oy0, inside.begin);
      if (inside.size() > 0)  // padded row r is row r - pt of xc
        rows_from(inside.begin, inside.end, xc + (inside.begin * s.sh - s.pt) * s.W, s.W);
      rows_copied(inside.end, oy1);
    }
    if (relu) kern.relu(o, o, (oy1 - oy0) * s.OW);
  });
}

template void conv2d_direct<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                   const float*, float*, bool);
template void conv2d_direct<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                    const double*, double*, bool);

}  // namespace fastconv
