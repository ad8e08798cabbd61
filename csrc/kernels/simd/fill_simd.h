// Fills a dispatch table with the ISA-neutral SIMD kernels instantiated for the including
// ISA (FASTCONV_ISA and its Vec<T> traits must be defined first). MR: GEMM tile rows.
#pragma once
#include "kernels/kernel_table.h"
#include "kernels/generic/batched_conv.h"
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

// The kernels that vectorise along channels or a register tile, whatever the image width:
// the GEMM tiles, the depthwise NHWC kernel, the Winograd transforms, the batched
// convolution, relu and the peak probe.
template <class T, int MR>
void fill_simd_tile_kernels(Kernels<T>& k) {
  k.gemm_mr = MR;
  k.gemm_nr = 2 * Vec<T>::kLanes;
  k.gemm_ukernel = gemm_packed<T, MR>;
  k.gemm_ukernel_offsets = gemm_offsets<T, MR>;
  k.gemm_ukernel_taps = gemm_taps<T, MR>;
  k.depthwise_nhwc = depthwise_nhwc_simd<T>;
  k.winograd_filter = winograd_filter_simd<T>;
  k.winograd_input = winograd_input_simd<T>;
  k.winograd_output = winograd_output_simd<T>;
  fill_batched_conv<T, Vec<T>>(k);
  k.relu = relu_simd<T>;
  fill_probe<T, MR>(k);
}

// Every kernel: the tile kernels and those vectorised along image rows.
template <class T, int MR>
void fill_simd(Kernels<T>& k) {
  fill_simd_tile_kernels<T, MR>(k);
  k.conv_row = conv_row_simd<T>;
  k.max_pool_plane = max_pool_plane_simd<T>;
  k.window_pool_plane = window_pool_plane_simd<T>;
  k.adaptive_avg_plane = adaptive_avg_plane_simd<T>;
  k.max_pool_nhwc_row = max_pool_nhwc_row_simd<T>;
  k.window_pool_nhwc_row = window_pool_nhwc_row_simd<T>;
  k.adaptive_pool_nhwc = adaptive_pool_nhwc<T>;
  k.transpose = transpose_simd<T>;
}

}  // namespace fastconv::FASTCONV_ISA
