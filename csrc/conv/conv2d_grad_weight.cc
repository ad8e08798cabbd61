#include "conv/conv2d_grad_weight.h"

#include <algorithm>
#include <cstdint>
#include <new>
#include <numeric>

#include "common/constant_step.h"
#include "common/heap_vector.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/gemm_packing.h"
#include "kernels/kernel_table.h"

// One group's weight gradient is a GEMM of depth N*OH*OW: G (Kg x kh*kw*Cg, columns in
// (ky, kx, c) order) += grad_out (Kg x pixels) * B, where row p of B holds, for every tap,
// the channels of the padded input pixel that tap of output pixel p reads. With the input
// padded into a channels-last copy, NR consecutive columns of one tap are NR adjacent
// values of that copy, so B is read in place (Kernels::gemm_ukernel_offsets) with one
// offset per pixel (an unpadded NHWC input in place; the planes of an unpadded 1x1 NCHW
// input transposed into packed blocks instead, or, with many more channels than filters, read
// in place as the rows of the transposed GEMM: grad_weight_planes); grad_out is packed into
// tiles of MR filters.
// With few channels (a segment much narrower than NR), B is gathered into packed panels
// instead (grad_weight_gathered), or, for one image, read as whole windows from a copy that
// interleaves each output row's input rows (copy_window_rows). Small images are summed in
// parallel runs of images, a large one in parallel runs of its pixels.
namespace fastconv {
namespace {

// Reduction depth of one GEMM block (C tiles are read and written once a block), and the
// fewest pixels a pixel run of one image takes (ImageSplit: a run's partial gradient is read
// and written whole). Against 256 for both: 2-8% faster on one and two threads on S1, S3, S6
// (784 pixels: one run of one block, not two runs of two), S7, and ResNet's 28x28 and stride-2
// 1x1 layers. Blocks of 2048 were slower on two threads (an unpadded 1x1 of 64 channels on
// 56x56 by a quarter: one run, not three); runs of 512 pixels or more ran as fast as of 1024
// on two threads, and leave more work items to more threads.
constexpr int64_t kBlockPixels = 1024;
constexpr int64_t kRunPixels = 512;
// The gathered path sums the images in this many fixed runs (fewer with fewer images), one
// partial gradient each, added in run order: the order depends on the shape only.
constexpr int64_t kImageRuns = 8;
// An image's weight-gradient GEMM below this many multiply-adds is too little to divide into
// parallel work items (S5b: 0.15 M, where two threads took 3x one thread's time): its images
// run in parallel instead.
constexpr int64_t kSmallImageWork = int64_t{1} << 21;
constexpr int64_t kRunImagePixels = 1024;  // see sum_in_image_runs (measured with blocks of 256)
constexpr int64_t kMaxTapDotsWidth = 7;  // the widest kernel row Kernels::tap_row_dots takes
constexpr int64_t kPlanarFilters = 6;    // filters per work item of the planar path, at most
// A planar work item pads its channel's planes itself up to this many values (256 KB of float).
constexpr int64_t kPlanarItemPadValues = int64_t{1} << 16;
constexpr int64_t kPlanarItemsPerThread = 4;  // planar work items a thread, at least, where shapes allow
constexpr int64_t kMaxTapPlane = 5;      // the largest kernel Kernels::tap_plane_dots may take
constexpr int64_t kMaxPlanarPhases = 4;  // column strides the planar path copies in phases, at most
constexpr int64_t kPlanarChannels = 4;   // channels a group that the planar path takes at any width
constexpr int64_t kPlanarPhaseTaps = 3;  // taps of its widest column phase, at least
constexpr int64_t kPlanarPixels = int64_t{1} << 16;  // and output pixels of all images, at most
// The planar path's output rows are divided into bands (fixed by the shape, a partial sum each)
// only where its (filter, channel, kernel row) items are fewer than kPlanarBands: at most that
// many, one per kPlanarBandPixels output pixels of all images. (S8, one 5x5 filter of one
// channel on 1024x1024: its five kernel rows, each a pass over the whole planes, ran slower on
// two threads than on one.)
constexpr int64_t kPlanarBands = 8;
constexpr int64_t kPlanarBandPixels = int64_t{1} << 15;

// G (size values) as the sum of `runs` parts: part 0 is G itself, the others partials of
// their own, added to G in run order (add_in_order), so that the result depends on the run
// count only, never on the threads.
template <class T>
class Partials {
 public:
  Partials(int64_t runs, T* G, int64_t size) : rest_((runs - 1) * size), G_(G), size_(size), runs_(runs) {}
  T* operator[](int64_t r) { return r == 0 ? G_ : rest_.data() + (r - 1) * size_; }
  void add_in_order() {
    for (int64_t r = 1; r < runs_; ++r) {
      const T* partial = rest_.data() + (r - 1) * size_;
      for (int64_t i = 0; i < size_; ++i) G_[i] += partial[i];
    }
  }

 private:
  HeapVector<T> rest_;
  T* G_;
  int64_t size_, runs_;
};

// G as the sum of runs: run(r, out) writes run r's sum to out (Partials), in parallel.
template <class T, class Run>
void sum_runs(int64_t runs, int64_t work, T* G, int64_t G_size, Run&& run) {
  Partials<T> partials(runs, G, G_size);
  parallel_for_allocating(runs, work, [&](int64_t r) { run(r, partials[r]); });
  partials.add_in_order();
}

// The padded input rows and columns some tap reads, as input indices (pad_index_map).
struct PaddedGrid {
  int64_t Hp, Wp;
  IndexMap rows, cols;
  Range interior;  // padded columns that are the input's columns, in order

  PaddedGrid(const Conv2dShape& s, PadMode mode)
      : Hp((s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1),
        Wp((s.OW - 1) * s.sw + (s.kw - 1) * s.dw + 1),
        rows(pad_index_map(Hp, 1, -s.pt, s.H, mode)),
        cols(pad_index_map(Wp, 1, -s.pl, s.W, mode)),
        interior(valid_range(Wp, 1, -s.pl, s.W)) {}

  // Whether the padded grid is the input itself (no padding, nothing past the last window).
  bool is_input(const Conv2dShape& s) const {
    bool same = Hp == s.H && Wp == s.W;
    for (int64_t y = 0; same && y < Hp; ++y) same = rows[y] == y;
    for (int64_t j = 0; same && j < Wp; ++j) same = cols[j] == j;
    return same;
  }

  // Position of output pixel p's window in the window rows' copy (copy_window_rows).
  HeapVector<int64_t> window_offsets(const Conv2dShape& s) const {
    HeapVector<int64_t> offsets(s.OH * s.OW);
    for (int64_t oy = 0; oy < s.OH; ++oy)
      for (int64_t ox = 0; ox < s.OW; ++ox) offsets[oy * s.OW + ox] = (oy * Wp + ox * s.sw) * s.kh * s.C;
    return offsets;
  }

  // Position of output pixel p's window origin in the padded copy, in values.
  HeapVector<int64_t> pixel_offsets(const Conv2dShape& s) const {
    HeapVector<int64_t> offsets(s.OH * s.OW);
    for (int64_t oy = 0; oy < s.OH; ++oy)
      for (int64_t ox = 0; ox < s.OW; ++ox) offsets[oy * s.OW + ox] = (oy * s.sh * Wp + ox * s.sw) * s.C;
    return offsets;
  }
};

// Image `image` (its layout: NHWC or NCHW) into dst as the padded channels-last copy
// (Hp x Wp pixels of C values).
template <class T>
void pad_channels_last(const Conv2dShape& s, const PaddedGrid& grid, const Padding<T>& pad, bool nhwc,
                       const T* image, T* dst) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t C = s.C, plane = s.H * s.W, row_values = grid.Wp * C;
  parallel_for(grid.Hp, grid.Hp * row_values, [&](int64_t y) {
    T* d = dst + y * row_values;
    const int64_t iy = grid.rows[y];
    if (iy < 0) {
      std::fill(d, d + row_values, pad.fill);
    } else if (nhwc) {
      pad_row(d, image + iy * s.W * C, grid.cols.data(), grid.Wp, grid.interior, pad.fill, C);
    } else {
      const T* row = image + iy * s.W;  // channel c of column ix is row[c * plane + ix]
      for (int64_t j = 0; j < grid.Wp; ++j) {
        if (j == grid.interior.begin && grid.interior.size() > 0) {
          kern.transpose(row + grid.cols[j], plane, d + j * C, C, C, grid.interior.size());
          j = grid.interior.end - 1;
          continue;
        }
        for (int64_t c = 0; c < C; ++c) d[j * C + c] = grid.cols[j] < 0 ? pad.fill : row[c * plane + grid.cols[j]];
      }
    }
  });
}

// One image's grad_out for groups [g0, g0 + count) in tiles of MR filters per group, each
// tile pixel-major: a[(((g - g0) * tiles + t) * P + p) * MR + i] is filter g*Kg + t*MR + i at
// pixel p (zero past Kg).
template <class T>
void pack_grad_out(const Conv2dShape& s, bool nhwc, int64_t MR, const T* go, int64_t g0, int64_t count, T* a) {
  const int64_t P = s.OH * s.OW, Kg = s.Kg(), tiles = ceil_div(Kg, MR);
  if (!nhwc) {  // (K, P): groups matrices of Kg rows
    pack_a(go + g0 * Kg * P, count, Kg, P, MR, a);
    return;
  }
  parallel_for(count * tiles, count * Kg * P, [&](int64_t item) {
    const int64_t g = g0 + item / tiles, t = item % tiles, rows = std::min(MR, Kg - t * MR);
    const T* src = go + g * Kg + t * MR;
    T* d = a + item * P * MR;
    for (int64_t p = 0; p < P; ++p, src += s.K, d += MR) copy_zero_padded(src, rows, d, MR);
  });
}

// The gradient's columns (ky, kx, c) as runs that are contiguous in the padded copy: a whole
// kernel row when adjacent taps are adjacent pixels of all channels (one group, dw = 1),
// else one tap's Cg channels. With `windows`, the copy is the window rows' (below) and one
// run is a whole window, its columns in (kx, ky, c) order.
struct ColumnSegments {
  bool windows, whole_rows;
  int64_t count, length;

  ColumnSegments(const Conv2dShape& s, bool windows_copy)
      : windows(windows_copy),
        whole_rows(s.groups == 1 && s.dw == 1),
        count(windows ? 1 : whole_rows ? s.kh : s.kh * s.kw),
        length(windows ? s.kh * s.kw * s.C : whole_rows ? s.kw * s.C : s.Cg()) {}

  int64_t offset(const Conv2dShape& s, const PaddedGrid& grid, int64_t i) const {
    if (windows) return 0;
    const int64_t ky = whole_rows ? i : i / s.kw, kx = whole_rows ? 0 : i % s.kw;
    return (ky * s.dh * grid.Wp + kx * s.dw) * s.C;
  }
};

// The window rows' copy of a padded channels-last image: for each output row oy, its padded
// rows oy*sh + ky*dh (ky < kh) interleaved per column, value (oy, x, ky, c) at
// ((oy * Wp + x) * kh + ky) * C + c, so that the window of output pixel (oy, ox) is the
// kw*kh*C values from (oy * Wp + ox * sw) * kh * C on (dw = 1).
bool window_rows_pay(const Conv2dShape& s, int64_t NR) {
  if (s.groups != 1 || s.dw != 1) return false;
  // S2 (3 channels, 7x7): 5 panels of 32 columns a window against 7 for its rows of 21.
  const int64_t row_panels = s.kh * ceil_div(s.kw * s.C, NR), window_panels = ceil_div(s.kh * s.kw * s.C, NR);
  const double values = double(s.OH) * double((s.OW - 1) * s.sw + s.kw) * double(s.kh * s.C);
  return 5 * window_panels <= 4 * row_panels && values <= double(int64_t{1} << 24);
}

template <class T>
void copy_window_rows(const Conv2dShape& s, const PaddedGrid& grid, const T* padded, T* dst) {
  const int64_t C = s.C, column = s.kh * C;
  parallel_for(s.OH, s.OH * grid.Wp * column, [&](int64_t oy) {
    T* d = dst + oy * grid.Wp * column;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const T* row = padded + (oy * s.sh + ky * s.dh) * grid.Wp * C;
      T* out = d + ky * C;
      for (int64_t x = 0; x < grid.Wp; ++x)  // a loop, not std::copy: C is a few values
        for (int64_t c = 0; c < C; ++c) out[x * column + c] = row[x * C + c];
    }
  });
}

// How one large image's GEMM is divided into work items: `runs` fixed ranges of its pixels,
// each summed into a partial gradient of its own, times `groups` ranges of its panels. An
// item sweeps its pixel blocks over all its panels, so a block of grad_out is read from cache
// by every panel instead of the whole of grad_out once per panel (a 1x1 convolution of 256
// channels on 224x224 pixels ran at a quarter of the speed). The runs depend on the shape
// only, never on the threads; the groups (which panels an item computes does not change any
// sum) on the threads too.
struct ImageSplit {
  int64_t runs, groups;

  // Runs: enough for kImageItems items with the fewest panel groups, at most one per
  // run_pixels pixels, fewer if their partials would outgrow kPartialBytes; then as many
  // groups as make up the items, or more, until the items are a multiple of the threads or
  // each group is one panel (the static schedule then gives each thread as many panels:
  // S7's 3 runs of 3 groups took 10% longer on two threads than 3 runs of 4).
  ImageSplit(int64_t pixels, int64_t run_pixels, int64_t panels, int64_t G_bytes, int64_t threads)
      : runs(std::clamp(ceil_div(kImageItems, ceil_div(panels, kGroupPanels)), int64_t{1},
                        std::max(int64_t{1}, pixels / run_pixels))) {
    while (runs > 1 && (runs - 1) * G_bytes > kPartialBytes) --runs;
    groups = std::clamp(ceil_div(kImageItems, runs), ceil_div(panels, kGroupPanels), panels);
    while (groups < panels && runs * groups % threads != 0) ++groups;
  }

 private:
  static constexpr int64_t kImageItems = 8;         // work items per image, at least, where pixels allow
  static constexpr int64_t kGroupPanels = 8;        // panels that share a block of grad_out, at most
  static constexpr int64_t kPartialBytes = 32 << 20;  // memory for the runs' partial gradients, at most
};

// Whether a weight-gradient GEMM sums its images in runs of images, each run holding a copy
// of `copy_values` of its own (only for copies of moderate size): small images, or kImageRuns
// images or more of kRunImagePixels pixels or more (one parallel loop for the batch instead of
// a few per image: S7 on two threads 10.1-10.7 -> 9.2-9.5 ms). Not for fewer pixels: each
// image then adds little to a run's partial gradient, which it reads and writes whole (8
// images of 256 channels on 14x14 ran 10% slower in runs).
bool sum_in_image_runs(const Conv2dShape& s, int64_t image_work, int64_t copy_values) {
  const bool runs = image_work < kSmallImageWork || (s.N >= kImageRuns && s.OH * s.OW >= kRunImagePixels);
  return runs && copy_values <= kSmallImageWork;
}

// G (G_size values) as the sum over every image of a GEMM of depth OH*OW whose `units`
// (panels or tiles; which one computes a sum does not change it) are divided among work
// items: in up to kImageRuns fixed runs of images (image_runs), each with a partial G of its
// own, or image by image, each divided into ImageSplit's pixel runs times groups of units.
// The partials are added in run order: the order depends on the shape only.
// prepare(n, scratch) readies image n in `scratch_values` of scratch (a run's own, or the
// call's) and returns what sweep needs of it; sweep(image, p_begin, p_end, first_unit,
// end_unit, partial, accumulate) adds pixels [p_begin, p_end) of units [first_unit, end_unit)
// to a partial (overwriting it unless `accumulate`).
template <class T, class Prepare, class Sweep>
void sum_over_images(const Conv2dShape& s, bool image_runs, int64_t units, int64_t image_work, int64_t scratch_values,
                     T* G, int64_t G_size, Prepare&& prepare, Sweep&& sweep) {
  const int64_t P = s.OH * s.OW;
  if (image_runs) {
    const int64_t runs = std::min(s.N, kImageRuns);
    sum_runs(runs, runs * image_work, G, G_size, [&](int64_t run, T* g_run) {
      CallScratch<T> scratch(scratch_values, WorkspaceSlot::Task);
      const int64_t first = run * s.N / runs, end = (run + 1) * s.N / runs;
      for (int64_t n = first; n < end; ++n) sweep(prepare(n, scratch.get()), 0, P, 0, units, g_run, n > first);
    });
    return;
  }
  const ImageSplit split(P, std::min(P, kRunPixels), units, G_size * int64_t{sizeof(T)}, num_threads());
  CallScratch<T> scratch(scratch_values, WorkspaceSlot::Weights);
  Partials<T> partials(split.runs, G, G_size);
  for (int64_t n = 0; n < s.N; ++n) {
    const auto image = prepare(n, scratch.get());
    parallel_for_allocating(split.runs * split.groups, image_work, [&](int64_t item) {
      const int64_t r = item / split.groups, q = item % split.groups;
      sweep(image, r * P / split.runs, (r + 1) * P / split.runs, q * units / split.groups,
            (q + 1) * units / split.groups, partials[r], n > 0);
    });
  }
  partials.add_in_order();
}

// Whether the GEMM's B columns are the input's planes as they lie: an unpadded 1x1 stride-1
// NCHW convolution (column c, channel c at every pixel, is plane c).
bool planes_unpadded(const Conv2dShape& s, const PaddedGrid& grid, bool nhwc) {
  return !nhwc && s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && grid.is_input(s);
}

// What a GEMM's sweep reads of one image: B's source (the input, or its padded copy) and the
// packed grad_out.
template <class T>
struct PreparedImage {
  const T* read;
  const T* packed;
};

// G[g] (Kg x kh*kw*Cg, (ky, kx, c) columns, or (kx, ky, c) with windows: window_rows_pay)
// accumulated over every image (sum_over_images, the units being B's panels).
template <class T>
void grad_weight_gemm(const Conv2dShape& s, const Padding<T>& pad, bool nhwc, bool windows, const T* x,
                      const T* grad_out, T* G) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t NR = kern.gemm_nr, MR = gemm_tile_rows(kern, s.Kg()), Kg = s.Kg(), tiles = ceil_div(Kg, MR);
  const int64_t P = s.OH * s.OW, Rc = s.kh * s.kw * s.Cg(), KC = std::min(P, kBlockPixels);
  const PaddedGrid grid(s, pad.mode);
  const HeapVector<int64_t> offsets = windows ? grid.window_offsets(s) : grid.pixel_offsets(s);
  const ColumnSegments seg(s, windows);
  const int64_t panels_per_segment = ceil_div(seg.length, NR), panels = s.groups * seg.count * panels_per_segment;
  // A panel reads NR values from any pixel's last segment: NR values of slack past the copy.
  const int64_t padded_values = grid.Hp * grid.Wp * s.C, window_values = windows ? s.OH * grid.Wp * s.kh * s.C : 0;
  const int64_t read_values = windows ? window_values : padded_values, packed_values = s.groups * tiles * MR * P;
  const int64_t image_work = s.groups * Kg * Rc * P, G_size = s.groups * Kg * Rc;
  // Without padding, the panels read the input itself: channels-last pixels in place when no
  // panel reads past its segment; the planes of a 1x1 stride-1 convolution (where
  // grad_weight_planes does not pay) transposed into a packed block at a time.
  const bool read_input = !windows && grid.is_input(s) && nhwc && seg.length % NR == 0;
  const bool read_planes = !windows && planes_unpadded(s, grid, nhwc);
  const int64_t input_values = read_input || read_planes ? 0 : ceil_div(padded_values + window_values + NR, 16) * 16;
  // Scratch: the padded copy (and window rows), unless the panels read the input, then image
  // n's packed grad_out (from a multiple of 16 values: 64-byte aligned).
  const auto prepare = [&](int64_t n, T* scratch) {
    T* packed = scratch + input_values;
    pack_grad_out(s, nhwc, MR, grad_out + n * s.K * P, 0, s.groups, packed);
    if (input_values == 0) return PreparedImage<T>{x + n * s.C * s.H * s.W, packed};
    T* read = scratch + (windows ? padded_values : 0);
    pad_channels_last(s, grid, pad, nhwc, x + n * s.C * s.H * s.W, scratch);
    if (windows) copy_window_rows(s, grid, scratch, read);
    std::fill(read + read_values, read + read_values + NR, T(0));
    return PreparedImage<T>{read, packed};
  };
  // copy (the work item's own): KC x NR values of packed B, written by the first tile (or the
  // transposed planes), that the other tiles read.
  const auto sweep = [&](const PreparedImage<T>& image, int64_t p_begin, int64_t p_end, int64_t first_panel,
                         int64_t end_panel, T* c_run, bool accumulate) {
    T* copy = workspace_as<T>(KC * NR, WorkspaceSlot::Input);
    const int64_t pixels = p_end - p_begin, blocks = ceil_div(pixels, KC);  // of even depths, at most KC
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t k0 = p_begin + b * pixels / blocks, kc = p_begin + (b + 1) * pixels / blocks - k0;
      const GemmEpilogue<T> ep{accumulate || k0 > p_begin, nullptr, false, false};
      for (int64_t item = first_panel; item < end_panel; ++item) {
        const int64_t g = item / (seg.count * panels_per_segment), i = (item / panels_per_segment) % seg.count;
        const int64_t j0 = (item % panels_per_segment) * NR, cols = std::min(NR, seg.length - j0);
        const T* base = image.read + seg.offset(s, grid, i) + g * s.Cg() + j0;
        const T* a_g = image.packed + g * tiles * P * MR + k0 * MR;
        T* c = c_run + g * Kg * Rc + i * seg.length + j0;
        if (read_planes) {  // channels g*Cg + j0... of pixels k0... as kc rows of NR
          if (cols < NR)
            for (int64_t p = 0; p < kc; ++p) std::fill(copy + p * NR + cols, copy + (p + 1) * NR, T(0));
          kern.transpose(image.read + (g * s.Cg() + j0) * P + k0, P, copy, NR, cols, kc);
          for (int64_t t = 0; t < tiles; ++t)
            kern.gemm_ukernel[MR](kc, a_g + t * P * MR, copy, c + t * MR * Rc, Rc, std::min(MR, Kg - t * MR), cols,
                                  ep);
          continue;
        }
        for (int64_t t = 0; t < tiles; ++t) {
          const int64_t m = std::min(MR, Kg - t * MR);
          if (t == 0)
            kern.gemm_ukernel_offsets[MR](kc, a_g, base, offsets.data() + k0, c, Rc, m, cols, ep,
                                          tiles == 1 ? nullptr : copy);
          else
            kern.gemm_ukernel[MR](kc, a_g + t * P * MR, copy, c + t * MR * Rc, Rc, m, cols, ep);
        }
      }
    }
  };
  sum_over_images(s, sum_in_image_runs(s, image_work, padded_values + window_values), panels, image_work,
                  input_values + packed_values, G, G_size, prepare, sweep);
}

// Whether the input's planes are read as the rows of the transposed GEMM where B's columns
// are the planes (planes_unpadded), where that pays. Measured against the GEMM of transposed
// planes on ResNet-50's 1x1 layers: 10-20% faster with 2-4x as many channels as filters
// (256 -> 64 on 56x56, 512 -> 128 on 28x28, 8 images of 1024 -> 256 on 14x14; AVX-512 and
// AVX2), 8-30% slower on AVX-512 with fewer channels than filters, and with fewer pixels than
// filters (2048 -> 512 on 7x7: transposing G^T costs more than the planes did). (A 1x1 of
// at most NR channels takes the planar path before this.)
bool planes_are_rows(const Conv2dShape& s, PadMode mode, bool nhwc) {
  const bool pays = s.Cg() >= 2 * s.Kg() && s.N * s.OH * s.OW >= s.Kg();
  return pays && planes_unpadded(s, PaddedGrid(s, mode), nhwc);
}

// The weight gradient where planes_are_rows, as the transposed GEMM G[g]^T (Cg x Kg) =
// X_g (Cg x pixels) * grad_out_g^T: A's rows are the input's planes, read in place by
// Kernels::gemm_ukernel_taps (one tap whose channels are a block of pixels), B is grad_out
// packed NR filters per pixel, and G^T is transposed into grad_w at the end (the planes
// needed no transposing). Summed by sum_over_images, a unit being a tile of MR channels of
// one group.
template <class T>
void grad_weight_planes(const Conv2dShape& s, const T* x, const T* grad_out, T* grad_w) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t MR = kern.gemm_mr, NR = kern.gemm_nr, Cg = s.Cg(), Kg = s.Kg(), P = s.OH * s.OW;
  const int64_t KC = std::min(P, kBlockPixels), G_size = s.groups * Cg * Kg, image_work = G_size * P;
  const int64_t row_tiles = ceil_div(Cg, MR), panels = ceil_div(Kg, NR), units = s.groups * row_tiles;
  const auto prepare = [&](int64_t n, T* packed) {
    pack_grad_out(s, false, NR, grad_out + n * s.K * P, 0, s.groups, packed);
    return PreparedImage<T>{x + n * s.C * P, packed};
  };
  // G^T's layout in c_run.
  const auto sweep = [&](const PreparedImage<T>& image, int64_t p_begin, int64_t p_end, int64_t first, int64_t end,
                         T* c_run, bool accumulate) {
    const int64_t pixels = p_end - p_begin, blocks = ceil_div(pixels, KC);  // of even depths, at most KC
    const T* rows[Kernels<T>::kMaxGemmRows];
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t k0 = p_begin + b * pixels / blocks, kc = p_begin + (b + 1) * pixels / blocks - k0;
      const GemmEpilogue<T> ep{accumulate || k0 > p_begin, nullptr, false, false};
      for (int64_t u = first; u < end; ++u) {
        const int64_t g = u / row_tiles, c0 = (u % row_tiles) * MR, m = std::min(MR, Cg - c0);
        for (int64_t i = 0; i < MR; ++i)  // the rows past m read the tile's first (computed, discarded)
          rows[i] = image.read + (g * Cg + c0 + (i < m ? i : 0)) * P;
        for (int64_t j = 0; j < panels; ++j)
          kern.gemm_ukernel_taps(1, kc, rows, k0, image.packed + ((g * panels + j) * P + k0) * NR,
                                 c_run + (g * Cg + c0) * Kg + j * NR, Kg, m, std::min(NR, Kg - j * NR), ep);
      }
    }
  };
  CallScratch<T> GT(G_size, WorkspaceSlot::Call);
  sum_over_images(s, sum_in_image_runs(s, image_work, 0), units, image_work, s.groups * panels * NR * P, GT.get(),
                  G_size, prepare, sweep);
  for (int64_t g = 0; g < s.groups; ++g) kern.transpose(GT.get() + g * Cg * Kg, Kg, grad_w + g * Kg * Cg, Cg, Cg, Kg);
}

// Whether gathering B into packed panels computes at most half the columns that reading it
// in place would (one group; two images or more, the gathered path's parallelism).
bool gather_columns(const Conv2dShape& s, int64_t NR) {
  const ColumnSegments seg(s, false);
  return s.groups == 1 && s.N >= 2 && 2 * ceil_div(s.kh * s.kw * s.C, NR) <= seg.count * ceil_div(seg.length, NR);
}

// G (K x kh*kw*C, one group) by gathered B panels. Work item `run` sums its run of images
// into the run's partial gradient; the partials are added in run order.
template <class T>
void grad_weight_gathered(const Conv2dShape& s, const Padding<T>& pad, bool nhwc, const T* x, const T* grad_out,
                          T* G) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t NR = kern.gemm_nr, K = s.K, MR = gemm_tile_rows(kern, K), tiles = ceil_div(K, MR);
  const int64_t P = s.OH * s.OW, Rc = s.kh * s.kw * s.C, KC = std::min(P, kBlockPixels), G_size = K * Rc;
  const int64_t panels = ceil_div(Rc, NR), runs = std::min(s.N, kImageRuns);
  const PaddedGrid grid(s, pad.mode);
  const HeapVector<int64_t> offsets = grid.pixel_offsets(s);
  // Column j = (ky, kx, c): the value at window origin + source[j] goes to panel j / NR,
  // column j % NR, of the packed block (panels of KC x NR values).
  HeapVector<int64_t> source(Rc), target(Rc);
  for (int64_t j = 0; j < Rc; ++j) {
    const int64_t t = j / s.C;
    source[j] = ((t / s.kw) * s.dh * grid.Wp + (t % s.kw) * s.dw) * s.C + j % s.C;
    target[j] = (j / NR) * KC * NR + j % NR;
  }
  const int64_t padded_values = grid.Hp * grid.Wp * s.C, packed_values = tiles * MR * P;
  const auto sum_run = [&](int64_t run, T* c) {
    CallScratch<T> scratch(padded_values + packed_values + panels * KC * NR, WorkspaceSlot::Task);
    T* padded = scratch.get();
    T* a = padded + padded_values;
    T* b = a + packed_values;
    std::fill(b, b + panels * KC * NR, T(0));  // the last panel's columns past Rc stay zero
    const int64_t n_end = (run + 1) * s.N / runs;
    for (int64_t n = run * s.N / runs, first = n; n < n_end; ++n) {
      pad_channels_last(s, grid, pad, nhwc, x + n * s.C * s.H * s.W, padded);
      pack_grad_out(s, nhwc, MR, grad_out + n * K * P, 0, 1, a);
      for (int64_t k0 = 0; k0 < P; k0 += KC) {
        const int64_t kc = std::min(KC, P - k0);
        for (int64_t p = 0; p < kc; ++p) {
          const T* window = padded + offsets[k0 + p];
          T* row = b + p * NR;
          for (int64_t j = 0; j < Rc; ++j) row[target[j]] = window[source[j]];
        }
        const GemmEpilogue<T> ep{n > first || k0 > 0, nullptr, false, false};
        for (int64_t panel = 0; panel < panels; ++panel)
          for (int64_t t = 0; t < tiles; ++t)
            kern.gemm_ukernel[MR](kc, a + (t * P + k0) * MR, b + panel * KC * NR, c + t * MR * Rc + panel * NR, Rc,
                                  std::min(MR, K - t * MR), std::min(NR, Rc - panel * NR), ep);
      }
    }
  };
  sum_runs(runs, runs * K * Rc * P, G, G_size, sum_run);  // each run takes its scratch
}

// The input columns a planar work item reads, in phases: with column stride sw, output pixel
// ox of tap kx reads padded column ox*sw + kx*dw, which is column ox + (kx*dw)/sw of phase
// (kx*dw) % sw, the padded row's columns r, r + sw, ... Each phase's taps are kx = first + j*step
// (j < count), reading columns shift + j*shift_step on from ox: rows of stride 1 for
// Kernels::tap_row_dots.
struct ColumnPhases {
  struct Phase {
    int64_t first, count, shift;
  };
  int64_t phases, step, shift_step, widest;
  Phase of[kMaxPlanarPhases];

  explicit ColumnPhases(const Conv2dShape& s)
      : phases(s.sw), step(s.sw / std::gcd(s.sw, s.dw)), shift_step(s.dw / std::gcd(s.sw, s.dw)), widest(0) {
    if (phases > kMaxPlanarPhases) return;
    for (int64_t r = 0; r < phases; ++r) {
      int64_t first = 0;
      while (first < s.kw && (first * s.dw) % phases != r) ++first;
      const int64_t count = first < s.kw ? (s.kw - 1 - first) / step + 1 : 0;
      of[r] = {first, count, first * s.dw / phases};
      widest = std::max(widest, count);
    }
  }

  // Whether tap_row_dots takes every phase's taps (the rows vectorise).
  bool vectorise() const { return phases <= kMaxPlanarPhases && widest <= kMaxTapDotsWidth; }
};

// Whether the planar path suits: depthwise (Cg = Kg = 1), or, with rows that vectorise, few
// products per filter at column stride 1 (a group's kh*kw*Cg columns fit one GEMM panel: read
// in place or gathered, most of the panel would be padding), or few channels and phases of
// kPlanarPhaseTaps taps or more (a GEMM's panels and tiles would compute columns and rows
// past the gradient's, and copy more; S2, 3 channels 7x7 stride 2: phases of 4 and 3 taps;
// grouped 3x3 layers of 4 channels a group ran 10x faster) over kPlanarPixels pixels at most.
// With narrower phases tap_row_dots loads a vector for every one or two multiply-adds; with
// more pixels a block's grad_out planes, read again for every channel, kernel row and phase,
// outgrow the cache (S2's stem on 32 images ran at two thirds of the GEMM's speed).
bool planar_suits(const Conv2dShape& s, int64_t NR) {
  if (s.Cg() == 1 && s.Kg() == 1) return true;
  const ColumnPhases columns(s);
  if (!columns.vectorise()) return false;
  return (s.sw == 1 && s.kh * s.kw * s.Cg() <= NR) ||
         (s.Cg() <= kPlanarChannels && columns.widest >= kPlanarPhaseTaps && s.N * s.OH * s.OW <= kPlanarPixels);
}

// dst[i] = src[i * step] for i < count (with_constant_step: S2's phase copies took 4% of its
// weight gradient, scalar).
template <class T>
void copy_every(int64_t step, const T* src, int64_t count, T* dst) {
  with_constant_step(step, [&](auto every) {
    for (int64_t i = 0; i < count; ++i) dst[i] = src[i * every];
  });
}

// The planar path, any groups: grad_w[k, c, ky, kx] is the sum over images and output pixels
// of grad_out plane k times the padded input plane of the group's channel c shifted by the
// tap. A work item is (band, group, block of filters, channel, kernel row), or (band, group,
// channel) with all its kernel rows where one block holds all of a group's filters and the
// (channel, band) items are many (depthwise layers; one channel in many bands). A band is a
// range of output rows of every image, one band unless the items are few (kPlanarBands).
// Kernels::tap_row_dots computes a block's sums for the taps of one column phase of a row in
// one pass over the band's rows of every image (the padded planes are copied in column
// phases for a column stride above 1), else a scalar loop does. A whole
// kernel of one filter, square, at most 5x5, with stride 1, rows of dilation 1, is summed by
// Kernels::tap_plane_dots instead, which loads each input row once for all kernel rows. NHWC
// images and grad_out are transposed to planes first, and the input is padded unless it needs
// none.
template <class T>
void grad_weight_planar(const Conv2dShape& s, const Padding<T>& pad, bool nhwc, const T* x, const T* grad_out,
                        T* grad_w) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t C = s.C, K = s.K, Cg = s.Cg(), Kg = s.Kg(), HW = s.H * s.W, P = s.OH * s.OW, taps = s.kh * s.kw;
  const PaddedGrid grid(s, pad.mode);
  const ColumnPhases columns(s);
  const bool vector_rows = columns.vectorise();
  // A padded (image, channel) plane: Hp rows of Wq values in each of `phases` phase planes.
  const int64_t phases = vector_rows ? columns.phases : 1, Wq = ceil_div(grid.Wp, phases);
  const int64_t phase_plane = grid.Hp * Wq, padded_plane = phases * phase_plane;
  const bool in_place = phases == 1 && grid.is_input(s);
  // Blocks of as many filters as tap_row_dots sums in one pass, or fewer, for work items
  // enough for the threads. (Which item computes a sum does not change it.)
  const int64_t pass = vector_rows ? std::min<int64_t>(kPlanarFilters, kern.tap_row_dots_filters(int(columns.widest)))
                                   : kPlanarFilters;
  const int64_t bands = s.groups * Cg * Kg * s.kh >= kPlanarBands
                            ? 1
                            : std::clamp(s.N * P / kPlanarBandPixels, int64_t{1}, std::min(kPlanarBands, s.OH));
  const int64_t wanted = std::min(Kg, ceil_div(kPlanarItemsPerThread * num_threads(), s.groups * Cg * s.kh * bands));
  const int64_t block = ceil_div(Kg, std::max(ceil_div(Kg, pass), wanted)), blocks = ceil_div(Kg, block);
  // With one block of filters a group and kPlanarItemsPerThread (channel, band) items a thread
  // or more, a work item takes all its channel's kernel rows, and, in one band, pads the
  // channel's planes itself if they are small (into memory that stays in cache); else the
  // input is padded whole.
  const bool whole_kernels = blocks == 1 && s.groups * Cg * bands >= kPlanarItemsPerThread * num_threads();
  const bool pad_per_item = !in_place && whole_kernels && bands == 1 && s.N * padded_plane <= kPlanarItemPadValues;
  CallScratch<T> planes(nhwc ? s.N * (C * HW + K * P) : 0, WorkspaceSlot::Weights);
  CallScratch<T> padded(in_place || pad_per_item ? 0 : s.N * C * padded_plane, WorkspaceSlot::Input);
  const T* x_planes = x;
  const T* go = grad_out;
  if (nhwc) {
    T* xt = planes.get();
    T* gt = xt + s.N * C * HW;
    parallel_for(s.N, s.N * (C * HW + K * P), [&](int64_t n) {
      kern.transpose(x + n * HW * C, C, xt + n * C * HW, HW, HW, C);
      kern.transpose(grad_out + n * P * K, K, gt + n * K * P, P, P, K);
    });
    x_planes = xt;
    go = gt;
  }
  // Padded row y of (image, channel) plane `plane` into its phase planes' rows (dst: phase 0's).
  const auto pad_plane_row = [&](int64_t plane, int64_t y, T* dst) {
    const int64_t iy = grid.rows[y];
    const T* src = iy < 0 ? nullptr : x_planes + plane * HW + iy * s.W;
    if (phases == 1) return pad_row(dst, src, grid.cols.data(), grid.Wp, grid.interior, pad.fill);
    const Range in = grid.interior;  // padded column j of it is src[j - shift]
    const bool interior = src != nullptr && in.size() > 0;
    const int64_t shift = interior ? in.begin - grid.cols[in.begin] : 0;
    const auto mapped = [&](int64_t j) { return src == nullptr || grid.cols[j] < 0 ? pad.fill : src[grid.cols[j]]; };
    for (int64_t r = 0; r < phases; ++r) {
      T* d = dst + r * phase_plane;
      int64_t j = r, q = 0;
      for (; j < grid.Wp && (!interior || j < in.begin); j += phases) d[q++] = mapped(j);
      if (interior && j < in.end) {
        const int64_t count = (in.end - 1 - j) / phases + 1;
        copy_every(phases, src + j - shift, count, d + q);
        j += count * phases;
        q += count;
      }
      for (; j < grid.Wp; j += phases) d[q++] = mapped(j);
    }
  };
  if (!in_place && !pad_per_item)
    parallel_for(s.N * C * grid.Hp, s.N * C * padded_plane, [&](int64_t row) {
      const int64_t plane = row / grid.Hp, y = row % grid.Hp;
      pad_plane_row(plane, y, padded.get() + plane * padded_plane + y * Wq);
    });
  const bool consecutive_rows = s.sw == 1 && s.sh == 1 && s.dh == 1 && block == 1;  // tap_plane_dots
  const int64_t item_rows = whole_kernels ? s.kh : 1, row_items = s.kh / item_rows;
  const int64_t band_items = s.groups * blocks * Cg * row_items;
  Partials<T> partials(bands, grad_w, K * Cg * taps);
  // Items in (band, group, filter block, channel, kernel row) order: consecutive items read
  // the same grad_out planes. Band b: output rows [oy0, oy0 + band_rows) of every image.
  parallel_for_allocating(bands * band_items, K * Cg * taps * P * s.N, [&](int64_t item) {
    const int64_t band = item / band_items, oy0 = band * s.OH / bands, band_rows = (band + 1) * s.OH / bands - oy0;
    item %= band_items;
    const int64_t ky0 = item % row_items * item_rows, c = item / row_items % Cg;
    const int64_t f0 = item / (row_items * Cg) % blocks * block, g = item / (row_items * Cg * blocks);
    const int64_t nf = std::min(block, Kg - f0), channel = g * Cg + c;
    // The channel's padded plane of image 0, and the step to the next image's.
    const T* plane = nullptr;
    int64_t image_step = padded_plane;
    if (pad_per_item) {
      T* own = workspace_as<T>(s.N * padded_plane);
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t y = 0; y < grid.Hp; ++y) pad_plane_row(n * C + channel, y, own + n * padded_plane + y * Wq);
      plane = own;
    } else {
      plane = in_place ? x_planes + channel * HW : padded.get() + channel * padded_plane;
      image_step = C * (in_place ? HW : padded_plane);
    }
    plane += oy0 * s.sh * Wq;
    const T* filters[kPlanarFilters];
    for (int64_t f = 0; f < nf; ++f) filters[f] = go + (g * Kg + f0 + f) * P + oy0 * s.OW;
    // The block's first filter's kernel in the band's partial; filter f's: + f * Cg * taps.
    T* kernel = partials[band] + ((g * Kg + f0) * Cg + c) * taps;
    const TapDotsRows rows{s.N, band_rows, K * P, image_step};
    if (whole_kernels && consecutive_rows) {
      T sums[kMaxTapPlane * kMaxTapPlane] = {};
      if (s.kh <= kMaxTapPlane && kern.tap_plane_dots(filters[0], s.OW, plane, Wq, static_cast<int>(s.kh),
                                                      static_cast<int>(s.kw), s.dw, rows, s.OW, sums)) {
        std::copy(sums, sums + taps, kernel);
        return;
      }
    }
    for (int64_t ky = ky0; ky < ky0 + item_rows; ++ky) {
      T* row_weights = kernel + ky * s.kw;
      const T* tap_row = plane + ky * s.dh * Wq;  // of image 0, phase 0
      if (vector_rows) {
        for (int64_t r = 0; r < phases; ++r) {
          const ColumnPhases::Phase ph = columns.of[r];
          if (ph.count == 0) continue;
          T sums[kPlanarFilters * kMaxTapDotsWidth] = {};
          kern.tap_row_dots(filters, static_cast<int>(nf), s.OW, tap_row + r * phase_plane + ph.shift, s.sh * Wq,
                            static_cast<int>(ph.count), columns.shift_step, rows, s.OW, sums);
          for (int64_t f = 0; f < nf; ++f)
            for (int64_t j = 0; j < ph.count; ++j)
              row_weights[f * Cg * taps + ph.first + j * columns.step] = sums[f * ph.count + j];
        }
        continue;
      }
      for (int64_t f = 0; f < nf; ++f)
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          T sum = T(0);
          for (int64_t n = 0; n < s.N; ++n)
            for (int64_t oy = 0; oy < band_rows; ++oy)
              for (int64_t ox = 0; ox < s.OW; ++ox)
                sum += filters[f][n * K * P + oy * s.OW + ox] *
                       tap_row[n * image_step + oy * s.sh * Wq + ox * s.sw + kx * s.dw];
          row_weights[f * Cg * taps + kx] = sum;
        }
    }
  });
  partials.add_in_order();
}

}  // namespace

template <class T>
void conv2d_grad_weight(const Conv2dShape& s, const Padding<T>& pad, bool nhwc, const T* x, const T* grad_out,
                        T* grad_w) {
  const int64_t Cg = s.Cg(), taps = s.kh * s.kw;
  if (s.K * Cg * taps == 0) return;  // no weights (and no filter blocks to divide among)
  if (s.N == 0 || s.OH * s.OW == 0) {
    std::fill(grad_w, grad_w + s.K * Cg * taps, T(0));
    return;
  }
  if (planar_suits(s, kernels<T>().gemm_nr)) {
    grad_weight_planar(s, pad, nhwc, x, grad_out, grad_w);
    return;
  }
  if (planes_are_rows(s, pad.mode, nhwc)) {
    grad_weight_planes(s, x, grad_out, grad_w);
    return;
  }
  // G: (group, filter, tap, channel), taps (kx, ky) with windows; grad_w itself for 1x1.
  const bool one_tap = taps == 1;
  // (kept memory: a fresh 9.4 MB for 512 channels 3x3 page-faulted on every call)
  CallScratch<T> G_values(one_tap ? 0 : s.K * Cg * taps, WorkspaceSlot::Call);
  T* G = one_tap ? grad_w : G_values.get();
  const Kernels<T>& kern = kernels<T>();
  const int64_t NR = kern.gemm_nr;
  const bool gather = gather_columns(s, NR), windows = !gather && window_rows_pay(s, NR);
  if (gather)
    grad_weight_gathered(s, pad, nhwc, x, grad_out, G);
  else
    grad_weight_gemm(s, pad, nhwc, windows, x, grad_out, G);
  if (one_tap) return;
  if (!windows) {  // each filter's (tap, channel) block transposed
    parallel_for(s.K, s.K * Cg * taps,
                 [&](int64_t k) { kern.transpose(G + k * taps * Cg, Cg, grad_w + k * Cg * taps, taps, taps, Cg); });
    return;
  }
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t column = (t % s.kw) * s.kh + t / s.kw;
        grad_w[(k * Cg + c) * taps + t] = G[(k * taps + column) * Cg + c];
      }
}

template void conv2d_grad_weight<float>(const Conv2dShape&, const Padding<float>&, bool, const float*, const float*,
                                        float*);
template void conv2d_grad_weight<double>(const Conv2dShape&, const Padding<double>&, bool, const double*,
                                         const double*, double*);

}  // namespace fastconv
