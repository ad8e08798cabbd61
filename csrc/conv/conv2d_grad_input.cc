#include "conv/conv2d_grad_input.h"

#include <algorithm>

#include "common/heap_vector.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/workspace.h"
#include "conv/gemm_packing.h"
#include "kernels/kernel_table.h"

namespace fastconv {
namespace {

// Every group's W^T in GEMM tiles: row m = c*taps + t of group g is w[g*Kg + k][c][t] over
// k (the depth); tile mb of group g at a + (g * tiles + mb) * Kg * MR, k-major, MR rows per k.
template <class T>
HeapVector<T> pack_transposed_weights(const Conv2dShape& s, const T* w, int64_t MR) {
  const int64_t Cg = s.Cg(), Kg = s.Kg(), taps = s.kh * s.kw, M = Cg * taps, tiles = ceil_div(M, MR);
  HeapVector<T> a(s.groups * tiles * Kg * MR, T(0));
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < Kg; ++k)
        a[((g * tiles + m / MR) * Kg + k) * MR + m % MR] = w[((g * Kg + k) * Cg + m / taps) * taps + m % taps];
  return a;
}

// Plane `c` of grad_in from its rows of cols (taps x P): tap (ky, kx) of output pixel
// (oy, ox) read padded position (oy*sh + ky*dh - pt, ox*sw + kx*dw - pl).
template <class T>
void scatter_plane(const Conv2dShape& s, PadMode mode, const T* cols, T* plane) {
  std::fill(plane, plane + s.H * s.W, T(0));
  const int64_t P = s.OH * s.OW;
  for (int64_t ky = 0; ky < s.kh; ++ky)
    for (int64_t kx = 0; kx < s.kw; ++kx) {
      const T* col = cols + (ky * s.kw + kx) * P;
      const int64_t x0 = kx * s.dw - s.pl;
      const Range inside = valid_range(s.OW, s.sw, x0, s.W);
      for (int64_t oy = 0; oy < s.OH; ++oy) {
        const int64_t iy = pad_source_index(oy * s.sh + ky * s.dh - s.pt, s.H, mode);
        if (iy < 0) continue;
        T* row = plane + iy * s.W;
        const T* c = col + oy * s.OW;
        for (int64_t ox = 0; ox < s.OW; ++ox) {
          if (ox == inside.begin && inside.size() > 0) {
            T* dst = row + x0 + ox * s.sw;
            for (int64_t j = 0; j < inside.size(); ++j) dst[j * s.sw] += c[ox + j];
            ox = inside.end - 1;
            continue;
          }
          const int64_t ix = pad_source_index(ox * s.sw + x0, s.W, mode);
          if (ix >= 0) row[ix] += c[ox];
        }
      }
    }
}

}  // namespace

// Work item: one image (in parallel when there are several; with one, the loops inside it
// are). Its scratch: grad_out packed in NR-column panels per group, and cols.
template <class T>
void conv2d_grad_input_col2im(const Conv2dShape& s, PadMode mode, const T* grad_out, const T* w, T* grad_in) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t Cg = s.Cg(), Kg = s.Kg(), taps = s.kh * s.kw, M = Cg * taps, P = s.OH * s.OW;
  const int64_t MR = gemm_tile_rows(kern, M), NR = kern.gemm_nr, tiles = ceil_div(M, MR), panels = ceil_div(P, NR);
  const HeapVector<T> a = pack_transposed_weights(s, w, MR);
  const auto image = [&](int64_t n) {
    CallScratch<T> scratch(panels * Kg * NR + M * P, WorkspaceSlot::Task);
    T* b = scratch.get();
    T* cols = b + panels * Kg * NR;
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* go = grad_out + (n * s.K + g * Kg) * P;
      parallel_for(panels, M * Kg * P, [&](int64_t nb) {
        const int64_t j0 = nb * NR, width = std::min(NR, P - j0);
        T* panel = b + nb * Kg * NR;
        for (int64_t k = 0; k < Kg; ++k) {
          std::copy(go + k * P + j0, go + k * P + j0 + width, panel + k * NR);
          std::fill(panel + k * NR + width, panel + (k + 1) * NR, T(0));
        }
        const GemmEpilogue<T> ep{false, nullptr, false, false};
        for (int64_t mb = 0; mb < tiles; ++mb)
          kern.gemm_ukernel[MR](Kg, a.data() + (g * tiles + mb) * Kg * MR, panel, cols + mb * MR * P + j0, P,
                                std::min(MR, M - mb * MR), width, ep);
      });
      parallel_for(Cg, M * P, [&](int64_t c) {
        scatter_plane(s, mode, cols + c * taps * P, grad_in + (n * s.C + g * Cg + c) * s.H * s.W);
      });
    }
  };
  parallel_for_allocating(s.N, s.N * s.groups * M * Kg * P, image);
}

template void conv2d_grad_input_col2im<float>(const Conv2dShape&, PadMode, const float*, const float*, float*);
template void conv2d_grad_input_col2im<double>(const Conv2dShape&, PadMode, const double*, const double*, double*);

}  // namespace fastconv
