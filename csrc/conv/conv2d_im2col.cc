#include <algorithm>
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

// Packs rows [k0, k0+kc) x pixels [0, ncols) of the block's implicit im2col matrix of image
// n, group g, straight from the input, one NR-wide micro-panel at a time (sequential
// writes). Row r is (c, ky, kx); column j is output pixel (oy, ox) whose window starts at
// (y_base[j], x_base[j]). A micro-panel is split into runs of one output row; each run is a
// strided copy of one input row between two runs of zero padding.
template <class T>
void pack_im2col(const Conv2dShape& s, const T* x, int64_t n, int64_t g, int64_t k0, int64_t kc, int64_t ncols,
                 int64_t NR, const int64_t* y_base, const int64_t* x_base, T* dst) {
  struct Run {
    int64_t begin, end, y, x;  // columns [begin, end) of the panel; window origin of `begin`
  };
  Run runs[64];  // NR <= 64 columns, so at most NR runs
  const int64_t taps = s.kh * s.kw;
  const T* xg = x + (n * s.C + g * s.Cg()) * s.H * s.W;
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

// Blocks of output pixels, B packed per block from the input (any stride).
template <class T>
void gemm_packed_blocks(const Conv2dShape& s, const T* x, const T* a_packed, int64_t a_block, const T* bias, T* out,
                        bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t NR = kern.gemm_nr, Kg = s.Kg(), R = s.Cg() * s.kh * s.kw, P = s.OH * s.OW;
  // The image's micro-panels split evenly into blocks of at most ~kBlockN pixels.
  const int64_t micro_panels = ceil_div(P, NR), KC = std::min(R, kBlockK);
  const int64_t panels = std::min(micro_panels, std::max(ceil_div(P, kBlockN), min_tasks_per_image()));
  const int64_t NC = ceil_div(micro_panels, panels) * NR;
  parallel_for(s.N * s.groups * panels, s.N * s.K * R * P, [&](int64_t task) {
    const int64_t n = task / (s.groups * panels), g = (task / panels) % s.groups, t = task % panels;
    const int64_t p0 = t * micro_panels / panels * NR;
    const int64_t ncols = std::min((t + 1) * micro_panels / panels * NR, P) - p0;
    const int64_t b_count = ceil_div(NC, NR) * NR * KC;
    char* scratch = static_cast<char*>(workspace(b_count * sizeof(T) + 2 * NC * sizeof(int64_t)));
    T* b_packed = reinterpret_cast<T*>(scratch);
    int64_t* y_base = reinterpret_cast<int64_t*>(scratch + b_count * sizeof(T));
    int64_t* x_base = y_base + NC;
    for (int64_t j = 0; j < ncols; ++j) {
      y_base[j] = ((p0 + j) / s.OW) * s.sh - s.pt;
      x_base[j] = ((p0 + j) % s.OW) * s.sw - s.pl;
    }
    T* c = out + (n * s.K + g * Kg) * P + p0;
    const T* bias_g = bias != nullptr ? bias + g * Kg : nullptr;
    for (int64_t k0 = 0; k0 < R; k0 += KC) {
      const int64_t kc = std::min(KC, R - k0);
      pack_im2col(s, x, n, g, k0, kc, ncols, NR, y_base, x_base, b_packed);
      gemm_block(kern, Kg, ncols, R, k0, kc, a_packed + g * a_block, b_packed, c, P, bias_g, relu);
    }
  });
}

// Unit horizontal stride and no padding (the caller pads first): micro-panels are NR
// consecutive outputs of one row, and B row (c, ky, kx) of a micro-panel is the input row
// it reads, used in place at offset c*H*W + ky*dh*W + kx*dw. A micro-panel whose last read
// would pass x_end (the last rows of the last plane, without the caller's slack) is packed.
template <class T>
void gemm_in_place_rows(const Conv2dShape& s, const T* x, const T* x_end, const T* a_packed, int64_t a_block,
                        const T* bias, T* out, bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t NR = kern.gemm_nr, Kg = s.Kg(), R = s.Cg() * s.kh * s.kw, P = s.OH * s.OW;
  const int64_t KC = std::min(R, kBlockK), taps = s.kh * s.kw;
  std::vector<int64_t> offsets(R);
  for (int64_t r = 0; r < R; ++r)
    offsets[r] = (r / taps) * s.H * s.W + ((r % taps) / s.kw) * s.dh * s.W + (r % s.kw) * s.dw;
  const int64_t reach = offsets[R - 1] + NR;  // elements a micro-panel reads past its origin
  // At most kBlockN pixels a task.
  const int64_t rows_per_task = std::max<int64_t>(1, std::min(kBlockN / s.OW, s.OH / min_tasks_per_image()));
  const int64_t row_blocks = ceil_div(s.OH, rows_per_task);
  parallel_for(s.N * s.groups * row_blocks, s.N * s.K * R * P, [&](int64_t task) {
    const int64_t n = task / (s.groups * row_blocks), g = (task / row_blocks) % s.groups;
    const int64_t oy_end = std::min(s.OH, (task % row_blocks + 1) * rows_per_task);
    const T* xg = x + (n * s.C + g * s.Cg()) * s.H * s.W;
    const T* a_g = a_packed + g * a_block;
    const T* bias_g = bias != nullptr ? bias + g * Kg : nullptr;
    for (int64_t oy = (task % row_blocks) * rows_per_task; oy < oy_end; ++oy) {
      for (int64_t ox0 = 0; ox0 < s.OW; ox0 += NR) {
        const int64_t ncols = std::min(NR, s.OW - ox0);
        const T* base = xg + oy * s.sh * s.W + ox0;
        T* c = out + (n * s.K + g * Kg) * P + oy * s.OW + ox0;
        const bool in_place = base + reach <= x_end;
        for (int64_t k0 = 0; k0 < R; k0 += KC) {
          const int64_t kc = std::min(KC, R - k0);
          if (in_place) {
            gemm_block_in_place(kern, Kg, ncols, R, k0, kc, a_g, base, offsets.data(), c, P, bias_g, relu);
            continue;
          }
          int64_t y_base[64], x_base[64];
          for (int64_t j = 0; j < ncols; ++j) y_base[j] = oy * s.sh, x_base[j] = ox0 + j;
          T* b_packed = workspace_as<T>(kc * NR);
          pack_im2col(s, x, n, g, k0, kc, ncols, NR, y_base, x_base, b_packed);
          gemm_block(kern, Kg, ncols, R, k0, kc, a_g, b_packed, c, P, bias_g, relu);
        }
      }
    }
  });
}

}  // namespace

// C_g (Kg x OH*OW) = W_g (Kg x Cg*kh*kw) * im2col(x_n,g) without materialising im2col.
// Unit horizontal stride: B is read in place from the input (or, when there is padding,
// from a zero-padded copy of one image at a time: C*(H+pads)*(W+pads) values). Other strides: B is packed
// per block of 512 output pixels; scratch per thread 256 x 512 values plus 1024 indices.
template <class T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* out, bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t MR = kern.gemm_mr, NR = kern.gemm_nr, Kg = s.Kg(), R = s.Cg() * s.kh * s.kw, P = s.OH * s.OW;
  if (s.N * s.K * P == 0) return;
  if (R == 0) {
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t g = 0; g < s.groups; ++g)
        write_bias_only(out + (n * s.K + g * Kg) * P, Kg, P, bias != nullptr ? bias + g * Kg : nullptr, relu);
    return;
  }
  const int64_t a_block = ceil_div(Kg, MR) * R * MR;
  AlignedBuffer<T> a_packed(s.groups * a_block);
  for (int64_t g = 0; g < s.groups; ++g) pack_a(w + g * Kg * R, Kg, R, MR, a_packed.get() + g * a_block);
  if (s.sw != 1) {
    gemm_packed_blocks(s, x, a_packed.get(), a_block, bias, out, relu);
    return;
  }
  const int64_t Hp = std::max(s.pt + s.H, (s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1);
  const int64_t Wp = std::max(s.pl + s.W, s.OW + (s.kw - 1) * s.dw);
  if (Hp == s.H && Wp == s.W && s.pt == 0 && s.pl == 0) {
    gemm_in_place_rows(s, x, x + s.N * s.C * s.H * s.W, a_packed.get(), a_block, bias, out, relu);
    return;
  }
  // One image at a time, so that its padded copy is still in cache when the GEMM reads it.
  const int64_t image_in = s.C * s.H * s.W, image_out = s.K * P, padded_count = s.C * Hp * Wp;
  AlignedBuffer<T> padded(padded_count + NR);  // NR of slack: no micro-panel is ever packed
  std::fill(padded.get() + padded_count, padded.get() + padded_count + NR, T(0));
  Conv2dShape ps = s;
  ps.N = 1, ps.H = Hp, ps.W = Wp, ps.pt = ps.pl = 0;
  for (int64_t n = 0; n < s.N; ++n) {
    pad2d(x + n * image_in, padded.get(), s.C, s.H, s.W, s.pt, Hp - s.H - s.pt, s.pl, Wp - s.W - s.pl,
          PadMode::Constant, T(0));
    gemm_in_place_rows(ps, padded.get(), padded.get() + padded_count + NR, a_packed.get(), a_block, bias,
                       out + n * image_out, relu);
  }
}

template void conv2d_im2col<float>(const Conv2dShape&, const float*, const float*, const float*, float*, bool);
template void conv2d_im2col<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                    bool);

}  // namespace fastconv
