#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/aligned.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "conv/gemm_packing.h"

namespace fastconv {
namespace {

constexpr int64_t kBlockK = 256;  // reduction depth of one B block
constexpr int64_t kBlockN = 512;  // output pixels of one work item

// Packs rows [k0, k0+kc) x pixels [0, ncols) of the implicit im2col matrix of group g of the
// image at x, straight from the input, one NR-wide micro-panel at a time (sequential
// writes). Row r is (c, ky, kx); column j is output pixel (oy, ox) whose window starts at
// (y_base[j], x_base[j]). A micro-panel is split into runs of one output row; each run is a
// strided copy of one input row between two runs of zero padding.
template <class T>
void pack_im2col(const Conv2dShape& s, const T* x, int64_t g, int64_t k0, int64_t kc, int64_t ncols,
                 int64_t NR, const int64_t* y_base, const int64_t* x_base, T* dst) {
  struct Run {
    int64_t begin, end, y, x;  // columns [begin, end) of the panel; window origin of `begin`
  };
  Run runs[64];  // NR <= 64 columns, so at most NR runs
  const int64_t taps = s.kh * s.kw;
  const T* xg = x + g * s.Cg() * s.H * s.W;
  for (int64_t j0 = 0; j0 < ncols; j0 += NR, dst += kc * NR) {
    const int64_t cols = std::min(NR, ncols - j0);
    int64_t nruns = 0;
    for (int64_t j = 0; j < cols; ++j)
      if (j == 0 || y_base[j0 + j] != y_base[j0 + j - 1]) runs[nruns++] = {j, j + 1, y_base[j0 + j], x_base[j0 + j]};
      else runs[nruns - 1].end = j + 1;
    for (int64_t r = 0; r < kc; ++r) {
      const int64_t row = k0 + r, c = row / taps, ky = (row % taps) / s.kw, kx = row % s.kw;
      const T* xc = xg + c * s.H * s.W;
      T* d = dst + r * NR;
      for (int64_t i = 0; i < nruns; ++i) {
        const Run& run = runs[i];
        const int64_t iy = run.y + ky * s.dh, ix = run.x + kx * s.dw;
        const Range ok = (iy >= 0 && iy < s.H) ? valid_range(run.end - run.begin, s.sw, ix, s.W) : Range{0, 0};
        T* seg = d + run.begin;
        for (int64_t j = 0; j < ok.begin; ++j) seg[j] = T(0);
        const T* src = xc + iy * s.W + ix;
        if (s.sw == 1)
          std::copy(src + ok.begin, src + ok.end, seg + ok.begin);
        else
          for (int64_t j = ok.begin; j < ok.end; ++j) seg[j] = src[j * s.sw];
        for (int64_t j = ok.end; j < run.end - run.begin; ++j) seg[j] = T(0);
      }
      for (int64_t j = cols; j < NR; ++j) d[j] = T(0);
    }
  }
}

// Work items per image: one block of pixels is enough on one thread (bigger blocks re-read
// the weights less); with several threads, at least four a thread so that they divide evenly.
inline int64_t min_tasks_per_image() {
  const int threads = num_threads();
  return threads > 1 ? 4 * threads : 1;
}

// Output planes of one image and group when the input has no input channels: the bias alone.
template <class T>
void write_bias_only(T* c, int64_t Kg, int64_t P, const T* bias_g, bool relu) {
  for (int64_t k = 0; k < Kg; ++k) {
    const T v = bias_g != nullptr ? bias_g[k] : T(0);
    std::fill(c + k * P, c + (k + 1) * P, relu && v < T(0) ? T(0) : v);
  }
}

// Where the in-place GEMM finds B: reduction row r = (c, ky, kx) of the micro-panel that
// starts at output (oy, ox0) of group g is the input row at
//   x + g*Cg*channel + oy*row_step + ox0 + offsets[r].
// A micro-panel of NR columns reads up to `reach` elements past its origin.
struct InPlaceLayout {
  int64_t channel, row_step, reach;
  HeapVector<int64_t> offsets;
};

// Whether some k block of a micro-panel's B rows, read in place, puts more than 6 distinct
// lines into one L1 set (half of a 12-way L1, three quarters of an 8-way one), so that the
// rows evict each other between the tiles of the panel. A 4 KB way (64 sets of 64-byte
// lines) is assumed, as on every x86 core since Nehalem: rows a plane apart fall into few
// sets when the plane is a multiple of 256 bytes (56x56 floats: 16 lines in each of 32
// sets). Offsets are never negative (phase_split_layout).
template <class T>
bool rows_crowd_l1(const HeapVector<int64_t>& offsets, int64_t KC, int64_t NR) {
  constexpr int64_t kSets = 64, kLine = 64 / sizeof(T), kMostLinesPerSet = 6;
  const int64_t R = static_cast<int64_t>(offsets.size());
  for (int64_t k0 = 0; k0 < R; k0 += KC) {
    int64_t lines[kSets][kMostLinesPerSet], count[kSets] = {};  // the distinct lines of each set
    for (int64_t k = k0; k < std::min(R, k0 + KC); ++k)
      for (int64_t line = offsets[k] / kLine; line <= (offsets[k] + NR - 1) / kLine; ++line) {
        const int64_t set = line % kSets;
        if (std::find(lines[set], lines[set] + count[set], line) != lines[set] + count[set]) continue;
        if (count[set] == kMostLinesPerSet) return true;
        lines[set][count[set]++] = line;
      }
  }
  return false;
}

// A padded copy of one image split into `sw` column phases: phase f of channel c holds
// padded columns f, f + sw, f + 2*sw, ... so tap (ky, kx) of every output row is a
// contiguous run of phase (kx*dw) % sw starting (kx*dw) / sw further on. With unit stride and
// no padding the input itself has this layout ({H, W}: one phase).
struct PhaseSplit {
  int64_t Hp, Wq;                                // rows, and columns per phase
  IndexMap rows;                                 // input row of each padded row (pad_index_map)
  HeapVector<IndexMap> phase_cols;               // input column of each column of each phase
};

PhaseSplit phase_split(const Conv2dShape& s, PadMode mode) {
  PhaseSplit ps{(s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1, s.OW + ((s.kw - 1) * s.dw) / s.sw, {}, {}};
  ps.rows = pad_index_map(ps.Hp, 1, -s.pt, s.H, mode);
  for (int64_t f = 0; f < s.sw; ++f) ps.phase_cols.push_back(pad_index_map(ps.Wq, s.sw, f - s.pl, s.W, mode));
  return ps;
}

InPlaceLayout phase_split_layout(const Conv2dShape& s, const PhaseSplit& ps, int64_t NR) {
  const int64_t phase = ps.Hp * ps.Wq;
  InPlaceLayout lay{s.sw * phase, s.sh * ps.Wq, 0, HeapVector<int64_t>(s.Cg() * s.kh * s.kw)};
  for (int64_t r = 0; r < static_cast<int64_t>(lay.offsets.size()); ++r) {
    const int64_t c = r / (s.kh * s.kw), ky = (r / s.kw) % s.kh, col = (r % s.kw) * s.dw;
    lay.offsets[r] = c * lay.channel + (col % s.sw) * phase + ky * s.dh * ps.Wq + col / s.sw;
  }
  lay.reach = *std::max_element(lay.offsets.begin(), lay.offsets.end()) + NR;
  return lay;
}

template <class T>
void phase_split_pad(const Conv2dShape& s, const PhaseSplit& ps, const Padding<T>& pad, const T* image, T* dst) {
  // With unit stride the columns that are input columns, in order, are copied in one go.
  const Range interior = s.sw == 1 ? valid_range(ps.Wq, 1, -s.pl, s.W) : Range{0, 0};
  parallel_for(s.C * s.sw, s.C * ps.Hp * ps.Wq * s.sw, [&](int64_t cf) {
    const T* xc = image + (cf / s.sw) * s.H * s.W;
    const int64_t* cols = ps.phase_cols[cf % s.sw].data();
    T* d = dst + cf * ps.Hp * ps.Wq;
    for (int64_t y = 0; y < ps.Hp; ++y, d += ps.Wq)
      pad_row(d, ps.rows[y] < 0 ? nullptr : xc + ps.rows[y] * s.W, cols, ps.Wq, interior, pad.fill);
  });
}

// Values of scratch gemm_rows needs for `rows` output rows.
int64_t rows_scratch(const Conv2dShape& s, int64_t row_step, int64_t rows, int64_t KC, int64_t NR) {
  return KC * NR + (s.sh == 1 && row_step != s.OW ? s.Kg() * rows * row_step : 0);
}

// The GEMM of one micro-panel of group g: all Kg filters times up to NR columns of B, read
// in place through `lay`, or packed from x into `pack` (KC x NR values) when the reads would
// pass x_end (the last rows of an unpadded input; x then must be the input itself). With
// first_tile_packs_b, the first tile of an in-place micro-panel copies B there for the others.
template <class T>
struct PanelGemm {
  const Conv2dShape& s;
  const InPlaceLayout& lay;
  const T *x, *x_end, *a_g, *bias_g;  // a_g: packed in tiles of MR rows
  int64_t MR, g;
  bool relu, first_tile_packs_b;
  T* pack;

  // Column j < ncols of the micro-panel whose B starts at `base` is output (oy_of(j), ox_of(j)).
  template <class OyOf, class OxOf>
  void operator()(const T* base, T* c, int64_t ldc, int64_t ncols, OyOf oy_of, OxOf ox_of) const {
    const Kernels<T>& kern = kernels<T>();
    const int64_t Kg = s.Kg(), R = s.Cg() * s.kh * s.kw, KC = std::min(R, kBlockK);
    const bool in_place = base + lay.reach <= x_end;
    for (int64_t k0 = 0; k0 < R; k0 += KC) {
      const int64_t kc = std::min(KC, R - k0);
      if (in_place) {
        gemm_block_in_place(kern, MR, Kg, ncols, R, k0, kc, a_g, base, lay.offsets.data(), c, ldc, bias_g, relu,
                            first_tile_packs_b ? pack : nullptr);
        continue;
      }
      int64_t y_base[64], x_base[64];
      for (int64_t j = 0; j < ncols; ++j) y_base[j] = oy_of(j) * s.sh, x_base[j] = ox_of(j);
      pack_im2col(s, x, g, k0, kc, ncols, kern.gemm_nr, y_base, x_base, pack);
      gemm_block(kern, MR, Kg, ncols, R, k0, kc, a_g, pack, c, ldc, bias_g, relu);
    }
  }
};

// With unit vertical stride the input rows of consecutive output rows follow each other
// (row_step apart), so micro-panels run across rows on a grid: grid column q is output
// (q / row_step, q % row_step) and reads B at xg + q; columns past OW are computed and
// dropped by the caller. Micro-panel boundaries are q0, then phase + multiples of NR.
// When the grid has no dropped columns (a window one column wide, row_step == OW), it is
// the output plane itself.
template <class T>
void gemm_grid(const PanelGemm<T>& panel, const T* xg, T* c_q0, int64_t ldc, int64_t q0, int64_t q1,
               int64_t phase) {
  const int64_t NR = kernels<T>().gemm_nr, RS = panel.lay.row_step;
  for (int64_t a = q0; a < q1;) {
    const int64_t b = std::min(q1, a + NR - ((a - phase) % NR + NR) % NR);
    panel(xg + a, c_q0 + (a - q0), ldc, b - a, [&](int64_t j) { return (a + j) / RS; },
          [&](int64_t j) { return (a + j) % RS; });
    a = b;
  }
}

// Output rows [oy0, oy1) of group g of one image. With unit vertical stride they are grid
// columns [oy0, oy1) * row_step: their block of C goes to scratch, then into the output rows.
// Otherwise micro-panels are NR outputs of one row written in place.
template <class T>
void gemm_rows(const PanelGemm<T>& panel, const T* xg, T* c_g, int64_t oy0, int64_t oy1, T* block) {
  const Conv2dShape& s = panel.s;
  const int64_t NR = kernels<T>().gemm_nr, RS = panel.lay.row_step, P = s.OH * s.OW;
  if (s.sh == 1) {
    const int64_t span = (oy1 - oy0) * RS;
    gemm_grid(panel, xg, block, span, oy0 * RS, oy1 * RS, oy0 * RS);
    for (int64_t k = 0; k < s.Kg(); ++k)
      for (int64_t oy = oy0; oy < oy1; ++oy)
        std::copy(block + k * span + (oy - oy0) * RS, block + k * span + (oy - oy0) * RS + s.OW,
                  c_g + k * P + oy * s.OW);
    return;
  }
  for (int64_t oy = oy0; oy < oy1; ++oy)
    for (int64_t ox0 = 0; ox0 < s.OW; ox0 += NR)
      panel(xg + oy * RS + ox0, c_g + oy * s.OW + ox0, P, std::min(NR, s.OW - ox0), [&](int64_t) { return oy; },
            [&](int64_t j) { return ox0 + j; });
}

// Micro-panels of a grid of `size` columns that is the output plane: the first starts at 0,
// the others at phase + multiples of NR.
struct PanelSplit {
  int64_t phase, NR, size;
  int64_t count() const { return (phase > 0) + ceil_div(std::max<int64_t>(0, size - phase), NR); }
  int64_t start(int64_t i) const { return i == 0 ? 0 : std::min(size, phase + (i - (phase > 0)) * NR); }
};

// Whether every B row of `lay` starts at the same place within a cache line.
template <class T>
bool rows_share_alignment(const InPlaceLayout& lay) {
  constexpr int64_t line = 64 / sizeof(T);
  return std::all_of(lay.offsets.begin(), lay.offsets.end(),
                     [&](int64_t o) { return (o - lay.offsets[0]) % line == 0; });
}

// How many elements past p the next cache line starts (0 if p is not element-aligned).
template <class T>
int64_t to_cache_line(const T* p) {
  constexpr int64_t line = 64 / sizeof(T);
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  return addr % sizeof(T) != 0 ? 0 : static_cast<int64_t>((line - (addr / sizeof(T)) % line) % line);
}

}  // namespace

// C_g (Kg x OH*OW) = W_g (Kg x Cg*kh*kw) * im2col(x_n,g) without materialising im2col: the
// GEMM reads B in place, from the input itself when it needs no padding and has unit
// horizontal stride, else from a padded, stride-phase-split copy of one image (about one
// padded image of values). Large images run one at a time split into parts over the
// threads (row blocks, or runs of micro-panels); small ones run whole, one image per task.
// Scratch per task: 256 x NR values plus, with unit vertical stride and dropped grid
// columns, the task's block of C.
template <class T>
void conv2d_im2col(const Conv2dShape& s, const Padding<T>& pad, const T* x, const T* w, const T* bias, T* out,
                   bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t NR = kern.gemm_nr, Kg = s.Kg(), R = s.Cg() * s.kh * s.kw, P = s.OH * s.OW;
  if (s.N * s.K * P == 0) return;
  if (R == 0) {
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t g = 0; g < s.groups; ++g)
        write_bias_only(out + (n * s.K + g * Kg) * P, Kg, P, bias != nullptr ? bias + g * Kg : nullptr, relu);
    return;
  }
  const int64_t MR = gemm_tile_rows(kern, Kg), a_block = ceil_div(Kg, MR) * R * MR;
  AlignedBuffer<T> a_packed(s.groups * a_block);
  pack_a(w, s.groups, Kg, R, MR, a_packed.get());
  const int64_t image_in = s.C * s.H * s.W, image_out = s.K * P, KC = std::min(R, kBlockK);

  // Where each image's B comes from: the input, or a copy of `copy` values plus slack
  // covering the reads of every micro-panel (so that none is ever packed).
  const bool unpadded = s.sw == 1 && s.pt == 0 && s.pl == 0 && (s.OH - 1) * s.sh + (s.kh - 1) * s.dh < s.H &&
                        s.OW + (s.kw - 1) * s.dw <= s.W;
  const PhaseSplit ps = unpadded ? PhaseSplit{s.H, s.W, {}, {}} : phase_split(s, pad.mode);
  const InPlaceLayout lay = phase_split_layout(s, ps, NR);
  const int64_t copy = unpadded ? 0 : s.C * s.sw * ps.Hp * ps.Wq;
  const int64_t copy_size =
      unpadded ? 0 : std::max(copy, (s.groups - 1) * s.Cg() * lay.channel + s.OH * lay.row_step + lay.reach);
  auto source = [&](int64_t n, T* buffer) -> std::pair<const T*, const T*> {
    if (unpadded) return {x + n * image_in, x + s.N * image_in};
    phase_split_pad(s, ps, pad, x + n * image_in, buffer);
    std::fill(buffer + copy, buffer + copy_size, T(0));
    return {buffer, buffer + copy_size};
  };
  Conv2dShape one = s;
  one.N = 1;
  // Part `part` of `parts` of group g of image n: a run of whole micro-panels when the grid
  // is the output plane (see gemm_grid), else row block `part` of `rows` rows.
  // Its micro-panels start on the input's cache lines when every B row has the same
  // alignment, so that no vector load of B straddles two lines.
  const bool grid_is_output = s.sh == 1 && lay.row_step == s.OW, aligned = rows_share_alignment<T>(lay);
  // Packing B by the first tile pays when the in-place rows crowd L1, or when there are
  // enough tiles that reading B in place (an offset load and two prefetches a row) costs the
  // later ones more than the copy (measured: 1.05-1.07x from 8 tiles up).
  const bool first_tile_packs_b = ceil_div(Kg, MR) >= 8 || rows_crowd_l1<T>(lay.offsets, KC, NR);
  auto gemm_part = [&](const T* xs, const T* xs_end, int64_t n, int64_t g, int64_t part, int64_t parts,
                       int64_t rows, T* scratch) {
    const PanelGemm<T> panel{one, lay, xs, xs_end, a_packed.get() + g * a_block,
                             bias != nullptr ? bias + g * Kg : nullptr, MR, g, relu, first_tile_packs_b, scratch};
    const T* xg = xs + g * s.Cg() * lay.channel;
    T* c_g = out + n * image_out + g * Kg * P;
    if (grid_is_output) {
      const PanelSplit split{aligned ? to_cache_line(xg + lay.offsets[0]) : 0, NR, P};
      const int64_t panels = split.count();
      const int64_t q0 = split.start(part * panels / parts), q1 = split.start((part + 1) * panels / parts);
      gemm_grid(panel, xg, c_g + q0, P, q0, q1, split.phase);
    } else {
      gemm_rows(panel, xg, c_g, part * rows, std::min(s.OH, (part + 1) * rows), scratch + KC * NR);
    }
  };

  const int threads = num_threads();
  if (threads > 1 && s.N >= threads && s.K * R * P < (int64_t{1} << 22)) {  // small images: one per task
    const int64_t rows = std::max<int64_t>(1, std::min(kBlockN / s.OW, s.OH));
    const int64_t parts = grid_is_output ? 1 : ceil_div(s.OH, rows);
    parallel_for(s.N, s.N * s.K * R * P, [&](int64_t n) {
      // The scratch after the copy starts on a cache line, like the workspace itself.
      const int64_t scratch_at = round_up(copy_size, 64 / sizeof(T));
      T* buffer = workspace_as<T>(scratch_at + rows_scratch(s, lay.row_step, rows, KC, NR));
      const auto [xs, xs_end] = source(n, buffer);
      for (int64_t g = 0; g < s.groups; ++g)
        for (int64_t part = 0; part < parts; ++part)
          gemm_part(xs, xs_end, n, g, part, parts, rows, buffer + scratch_at);
    });
    return;
  }
  // Large images: one at a time (its copy is still in cache when the GEMM reads it), in parts
  // of at most about kBlockN pixels, at least four parts a thread, but of rows enough for a
  // micro-panel (a one-row part of a 7-pixel-wide image would leave 25 of its 32 columns idle).
  const int64_t rows = std::max({int64_t{1}, std::min(kBlockN / s.OW, s.OH / min_tasks_per_image()),
                                 std::min(ceil_div(NR, s.OW), s.OH)});
  const int64_t parts = grid_is_output
                            ? std::min(ceil_div(P, NR), std::max(ceil_div(P, kBlockN), min_tasks_per_image()))
                            : ceil_div(s.OH, rows);
  AlignedBuffer<T> buffer(copy_size);
  for (int64_t n = 0; n < s.N; ++n) {
    const auto [xs, xs_end] = source(n, buffer.get());
    parallel_for(s.groups * parts, s.K * R * P, [&](int64_t task) {
      T* scratch = workspace_as<T>(rows_scratch(s, lay.row_step, rows, KC, NR));
      gemm_part(xs, xs_end, n, task / parts, task % parts, parts, rows, scratch);
    });
  }
}

template void conv2d_im2col<float>(const Conv2dShape&, const Padding<float>&, const float*, const float*,
                                   const float*, float*, bool);
template void conv2d_im2col<double>(const Conv2dShape&, const Padding<double>&, const double*, const double*,
                                    const double*, double*, bool);

}  // namespace fastconv
