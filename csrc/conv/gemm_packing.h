// Packing for the register-tiled GEMM (BLIS layout): A in blocks of MR rows stored k-major
// (A_packed[block][k][0..MR)), B in micro-panels of NR columns stored k-major
// (B_packed[panel][k][0..NR)). Rows / columns past the matrix edge are zero.
#pragma once
#include <algorithm>
#include <cstdint>

#include "common/parallel.h"
#include "common/ranges.h"
#include "kernels/kernel_table.h"

namespace fastconv {

// dst[0, width) = src[0, n) and zeros: a loop, not std::copy's call to memmove, which for
// rows of a GEMM tile or panel (tens of values, tens of thousands of them a call) costs
// more than the copying.
template <class T>
void copy_zero_padded(const T* src, int64_t n, T* dst, int64_t width) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  for (int64_t i = n; i < width; ++i) dst[i] = T(0);
}

// a: `groups` matrices of M x R, row-major one after another; group g's blocks go to dst +
// g * ceil(M/MR) * R * MR. Each block is a transpose of its MR rows, all of them in parallel
// (a GEMM's weights can be megabytes).
template <class T>
void pack_a(const T* a, int64_t groups, int64_t M, int64_t R, int64_t MR, T* dst) {
  const Kernels<T>& kern = kernels<T>();
  const int64_t blocks = ceil_div(M, MR);
  parallel_for(groups * blocks, groups * M * R, [&](int64_t item) {
    const int64_t g = item / blocks, mb = item % blocks, rows = std::min(MR, M - mb * MR);
    T* block = dst + item * R * MR;
    if (rows < MR) std::fill(block, block + R * MR, T(0));
    kern.transpose(a + (g * M + mb * MR) * R, R, block, MR, rows, R);
  });
}

// The epilogue of the k block [k0, k0+kc) of a depth-R product, for the tile whose first
// row is row0 and first column col0: the first block adds the bias (one per row, or one per
// column when per_column), the last applies relu, the others accumulate.
template <class T>
GemmEpilogue<T> block_epilogue(int64_t k0, int64_t kc, int64_t R, const T* bias, int64_t row0, int64_t col0,
                               bool relu, bool per_column = false) {
  const bool first = k0 == 0;
  const T* tile_bias = first && bias != nullptr ? bias + (per_column ? col0 : row0) : nullptr;
  return GemmEpilogue<T>{!first, tile_bias, relu && k0 + kc == R, per_column};
}

// The tile height for a GEMM of M rows: the fewest tile rows computed, counting one row's
// worth of loop overhead per tile (M = 64 with 14-row tiles: five 13-row tiles instead).
template <class T>
int64_t gemm_tile_rows(const Kernels<T>& kern, int64_t M) {
  int64_t best = kern.gemm_mr;
  for (int64_t mr = kern.gemm_mr - 1; mr >= kern.gemm_mr_min; --mr)
    if (ceil_div(M, mr) * (mr + 1) < ceil_div(M, best) * (best + 1)) best = mr;
  return best;
}

// C[M x ncols] (ldc) = epilogue(A[:, k0:k0+kc] * B_packed), for one packed B block, in tiles
// of MR rows. a_packed is the whole packed A (depth R, MR rows per block); b_packed holds
// ceil(ncols/NR) micro-panels of depth kc.
template <class T>
void gemm_block(const Kernels<T>& kern, int64_t MR, int64_t M, int64_t ncols, int64_t R, int64_t k0, int64_t kc,
                const T* a_packed, const T* b_packed, T* c, int64_t ldc, const T* bias, bool relu,
                bool bias_per_column = false) {
  const int64_t NR = kern.gemm_nr;
  const auto ukernel = kern.gemm_ukernel[MR];
  // B micro-panel (kc x NR) outer so it stays in L1 while the A blocks stream from L2.
  for (int64_t nb = 0; nb < ceil_div(ncols, NR); ++nb) {
    const int64_t n = std::min(NR, ncols - nb * NR);
    for (int64_t mb = 0; mb < ceil_div(M, MR); ++mb)
      ukernel(kc, a_packed + mb * R * MR + k0 * MR, b_packed + nb * kc * NR, c + mb * MR * ldc + nb * NR, ldc,
              std::min(MR, M - mb * MR), n, block_epilogue(k0, kc, R, bias, mb * MR, nb * NR, relu, bias_per_column));
  }
}

// The same for one micro-panel of B read in place: row k at base + offsets[k0 + k]. If copy
// is not null and there are several tiles, the first tile also copies B there, packed (kc x
// NR values), and the other tiles read the copy.
template <class T>
void gemm_block_in_place(const Kernels<T>& kern, int64_t MR, int64_t M, int64_t ncols, int64_t R, int64_t k0,
                         int64_t kc, const T* a_packed, const T* base, const int64_t* offsets, T* c, int64_t ldc,
                         const T* bias, bool relu, T* copy) {
  const int64_t tiles = ceil_div(M, MR);
  for (int64_t mb = 0; mb < tiles; ++mb) {
    const T* a = a_packed + mb * R * MR + k0 * MR;
    const int64_t m = std::min(MR, M - mb * MR);
    const GemmEpilogue<T> ep = block_epilogue(k0, kc, R, bias, mb * MR, 0, relu);
    if (copy != nullptr && mb > 0)
      kern.gemm_ukernel[MR](kc, a, copy, c + mb * MR * ldc, ldc, m, ncols, ep);
    else
      kern.gemm_ukernel_offsets[MR](kc, a, base, offsets + k0, c + mb * MR * ldc, ldc, m, ncols, ep,
                                    tiles > 1 ? copy : nullptr);
  }
}

}  // namespace fastconv
