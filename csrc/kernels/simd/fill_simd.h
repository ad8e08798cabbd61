// Fills a dispatch table with the ISA-neutral SIMD kernels instantiated for the including
// ISA (FASTCONV_ISA and its Vec<T> traits must be defined first). MR: GEMM tile rows.
#pragma once
#include "kernels/kernel_table.h"
#include "kernels/generic/batched_conv.h"
#include "kernels/generic/blur_taps.h"
#include "kernels/generic/tap_dots.h"
#include "kernels/generic/tap_plane_dots.h"
#include "kernels/simd/adaptive_pool.h"
#include "kernels/simd/conv_row_strip.h"
#include "kernels/simd/depthwise_nhwc.h"
#include "kernels/simd/fma_probe.h"
#include "kernels/simd/gemm_mx2v.h"
#include "kernels/simd/pool_nhwc.h"
#include "kernels/simd/pool_rows.h"
#include "kernels/simd/relu.h"
#include "kernels/simd/transpose.h"
#include "kernels/simd/winograd.h"

namespace fastconv::FASTCONV_ISA {

// GEMM tiles of every height from MinMR to MR rows (Kernels::gemm_ukernel).
template <class T, int MR, int MinMR>
void fill_gemm_tiles(Kernels<T>& k) {
  static_assert(MR <= Kernels<T>::kMaxGemmRows, "raise Kernels::kMaxGemmRows");
  k.gemm_ukernel[MR] = gemm_packed<T, MR>;
  k.gemm_ukernel_offsets[MR] = gemm_offsets<T, MR>;
  if constexpr (MR > MinMR) fill_gemm_tiles<T, MR - 1, MinMR>(k);
}

// The kernels that vectorise along channels or a register tile, whatever the image width:
// the GEMM tiles, the depthwise NHWC kernel, the Winograd transforms, the batched
// convolution, relu and the peak probe. MR: the GEMM tile's rows; MinMR: the shortest tile
// that a GEMM with fewer rows to fill may use instead.
template <class T, int MR, int MinMR = MR>
void fill_simd_tile_kernels(Kernels<T>& k) {
  k.gemm_mr = MR;
  k.gemm_mr_min = MinMR;
  static_assert(2 * Vec<T>::kLanes <= Kernels<T>::kMaxGemmCols);
  k.gemm_nr = 2 * Vec<T>::kLanes;
  fill_gemm_tiles<T, MR, MinMR>(k);
  k.gemm_ukernel_taps = gemm_taps<T, MR>;
  k.depthwise_nhwc = depthwise_nhwc_simd<T>;
  k.winograd_filter = winograd_filter_simd<T>;
  k.winograd_input = winograd_input_simd<T>;
  k.winograd_output = winograd_output_simd<T>;
  fill_batched_conv<T, Vec<T>>(k);
  k.relu = relu_simd<T>;
  k.relu_backward = relu_backward_simd<T>;
  k.weighted_rows = weighted_rows_lanes<T, Vec<T>>;
  k.strided_taps = strided_taps_lanes<T, Vec<T>>;
  k.tap_row_dots = tap_row_dots_lanes<T, Vec<T>>;
  k.tap_row_dots_filters = tap_dots_filters<Vec<T>>;
  k.tap_plane_dots = tap_plane_dots_lanes<T, Vec<T>>;
  fill_probe<T, MR>(k);
}

// Every kernel: the tile kernels and those vectorised along image rows.
template <class T, int MR>
void fill_simd(Kernels<T>& k) {
  fill_simd_tile_kernels<T, MR>(k);
  k.conv_rows = conv_rows_simd<T>;
  k.max_pool_plane = max_pool_plane_simd<T>;
  k.window_pool_plane = window_pool_plane_simd<T>;
  k.adaptive_avg_plane = adaptive_avg_plane_simd<T>;
  k.max_pool_nhwc_row = max_pool_nhwc_row_simd<T>;
  k.window_pool_nhwc_row = window_pool_nhwc_row_simd<T>;
  k.adaptive_pool_nhwc = adaptive_pool_nhwc<T>;
  k.transpose = transpose_simd<T>;
}

}  // namespace fastconv::FASTCONV_ISA
