#include <algorithm>

#include "common/aligned.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/conv2d.h"
#include "conv/gemm_packing.h"

namespace fastconv {
namespace {

constexpr int64_t kBlockK = 256;  // reduction depth of one packed B block
constexpr int64_t kBlockN = 512;  // output pixels in one packed B block

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

}  // namespace

// C_g (Kg x OH*OW) = W_g (Kg x Cg*kh*kw) * im2col(x_n,g), one block of output pixels per
// work item. Scratch per thread: kBlockK x kBlockN values plus 2 x kBlockN indices.
template <class T>
void conv2d_im2col(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* out, bool relu) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t MR = kern.gemm_mr, NR = kern.gemm_nr;
  const int64_t Kg = s.Kg(), R = s.Cg() * s.kh * s.kw, P = s.OH * s.OW;
  const int64_t a_block = ceil_div(Kg, MR) * R * MR;
  AlignedBuffer<T> a_packed(s.groups * a_block);
  for (int64_t g = 0; g < s.groups; ++g) pack_a(w + g * Kg * R, Kg, R, MR, a_packed.get() + g * a_block);

  const int64_t NC = std::min(ceil_div(P, NR) * NR, kBlockN);
  const int64_t KC = std::min(R, kBlockK);
  const int64_t panels = ceil_div(P, NC);
  parallel_for(s.N * s.groups * panels, s.N * s.K * R * P, [&](int64_t task) {
    const int64_t n = task / (s.groups * panels), g = (task / panels) % s.groups, p0 = (task % panels) * NC;
    const int64_t ncols = std::min(NC, P - p0);
    T* c = out + (n * s.K + g * Kg) * P + p0;
    const T* bias_g = bias != nullptr ? bias + g * Kg : nullptr;
    if (R == 0) {  // no input channels: the output is the bias alone
      for (int64_t k = 0; k < Kg; ++k)
        for (int64_t j = 0; j < ncols; ++j) {
          T v = bias_g != nullptr ? bias_g[k] : T(0);
          c[k * P + j] = relu && v < T(0) ? T(0) : v;
        }
      return;
    }
    const int64_t b_count = ceil_div(NC, NR) * NR * KC;
    char* scratch = static_cast<char*>(workspace(b_count * sizeof(T) + 2 * NC * sizeof(int64_t)));
    T* b_packed = reinterpret_cast<T*>(scratch);
    int64_t* y_base = reinterpret_cast<int64_t*>(scratch + b_count * sizeof(T));
    int64_t* x_base = y_base + NC;
    for (int64_t j = 0; j < ncols; ++j) {
      y_base[j] = ((p0 + j) / s.OW) * s.sh - s.pt;
      x_base[j] = ((p0 + j) % s.OW) * s.sw - s.pl;
    }
    for (int64_t k0 = 0; k0 < R; k0 += KC) {
      const int64_t kc = std::min(KC, R - k0);
      pack_im2col(s, x, n, g, k0, kc, ncols, NR, y_base, x_base, b_packed);
      gemm_block(kern, Kg, ncols, R, k0, kc, a_packed.get() + g * a_block, b_packed, c, P, bias_g, relu);
    }
  });
}

template void conv2d_im2col<float>(const Conv2dShape&, const float*, const float*, const float*, float*, bool);
template void conv2d_im2col<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                    bool);

}  // namespace fastconv
