// GEMM tiles of output pixels that skip the kernel rows falling on zero padding. An output
// row's kernel rows that read input rows form one range [ky_begin, ky_end); the output rows
// with the same range form a class, and tiles of up to MR pixels are cut from each class's
// pixels (every image's, in order), so that a tile runs only its class's kernel rows. On 7x7
// maps with a 3x3 window and padding 1 the first and last output rows read 2 of 3 kernel rows:
// a tenth of the multiply-adds (PyTorch's oneDNN kernel skips them too).
#pragma once
#include <algorithm>
#include <cstdint>

#include "common/heap_vector.h"
#include "common/ranges.h"
#include "conv/conv2d.h"
#include "conv/padding.h"

namespace fastconv {

struct RowClassTiles {
  struct Tile {
    int64_t first, m;  // pixels order[first], ..., order[first + m - 1]
    int64_t ky_begin, ky_end;
  };
  HeapVector<int64_t> order;  // flattened (N*OH*OW) output pixels, class by class
  HeapVector<Tile> tiles;     // empty: the plan does not pay, run the pixels in order
};

// The output rows' classes: each row's class, and each class's range of kernel rows (in order
// of first appearance; empty for a row all of whose kernel rows fall on padding).
struct RowClasses {
  HeapVector<int64_t> of_row;
  HeapVector<Range> kernel_rows;

  explicit RowClasses(const Conv2dShape& s) : of_row(s.OH) {
    for (int64_t oy = 0; oy < s.OH; ++oy) {
      Range r{0, 0};
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
        if (iy < 0 || iy >= s.H) continue;
        if (r.size() == 0) r.begin = ky;
        r.end = ky + 1;
      }
      int64_t c = 0;
      while (c < count() && (kernel_rows[c].begin != r.begin || kernel_rows[c].end != r.end)) ++c;
      if (c == count()) kernel_rows.push_back(r);
      of_row[oy] = c;
    }
  }
  int64_t count() const { return static_cast<int64_t>(kernel_rows.size()); }
  int64_t rows(int64_t c) const { return std::count(of_row.begin(), of_row.end(), c); }
};

// Whether tiles of MR pixels cut class by class run at most 19/20 of the kernel rows that
// tiles of consecutive pixels do, under zero padding (partial tiles at each class's end can
// cost more than the skipped rows: one 7x7 image in tiles of 14, not in tiles of 4).
inline bool row_classes_pay(const Conv2dShape& s, const RowClasses& classes, int64_t MR) {
  if (s.N * s.OH * s.OW == 0) return false;
  int64_t skipping = 0;
  for (int64_t c = 0; c < classes.count(); ++c)
    skipping += ceil_div(s.N * classes.rows(c) * s.OW, MR) * classes.kernel_rows[c].size();
  return 20 * skipping <= 19 * ceil_div(s.N * s.OH * s.OW, MR) * s.kh;
}

// The plan for shape s, or no tiles where padding is not zeros, skipping does not pay
// (row_classes_pay) or the weights are not known finite (a skipped product would have been
// 0 * inf = NaN, as in the reference's zero-padded sum).
template <class T>
RowClassTiles row_class_tiles(const Conv2dShape& s, const Padding<T>& pad, int64_t MR, bool weights_finite) {
  RowClassTiles plan;
  if (pad.mode != PadMode::Constant || pad.fill != T(0) || !weights_finite) return plan;
  const RowClasses classes(s);
  if (!row_classes_pay(s, classes, MR)) return plan;
  plan.order.reserve(s.N * s.OH * s.OW);
  for (int64_t c = 0; c < classes.count(); ++c) {
    const int64_t first = static_cast<int64_t>(plan.order.size());
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t oy = 0; oy < s.OH; ++oy)
        if (classes.of_row[oy] == c)
          for (int64_t ox = 0; ox < s.OW; ++ox) plan.order.push_back((n * s.OH + oy) * s.OW + ox);
    const int64_t end = static_cast<int64_t>(plan.order.size());
    const Range rows = classes.kernel_rows[c];
    for (int64_t p = first; p < end; p += MR) plan.tiles.push_back({p, std::min(MR, end - p), rows.begin, rows.end});
  }
  return plan;
}

}  // namespace fastconv
