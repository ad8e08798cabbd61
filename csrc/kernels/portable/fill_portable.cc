#include "kernels/kernel_table.h"
#define FASTCONV_ISA portable
#include "kernels/generic/batched_conv.h"
#include "kernels/generic/blur_taps.h"
#include "kernels/portable/gemm_portable.h"
#include "kernels/generic/depthwise_nhwc.h"
#include "kernels/generic/tap_dots.h"
#include "kernels/generic/tap_plane_dots.h"
#include "kernels/generic/pool_nhwc.h"
#include "kernels/generic/transpose.h"
#include "kernels/generic/winograd.h"

namespace fastconv {
namespace portable {
namespace {

template <class T>
void conv_rows(T* out, const T* in, const T* w, const ConvRows<T>& g) {
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t i = 0; i < g.count; ++i) {
      T* o = out + r * g.out_step + i;
      T acc = g.accumulate ? *o : g.start;
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx)
          acc += w[ky * g.kw + kx] * in[r * g.in_step + ky * g.row_step + i * g.sw + kx * g.dw];
      *o = acc;
    }
}

template <class T>
void relu(const T* in, T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] < T(0) ? T(0) : in[i];
}

// restrict: without it the select is not vectorised, and a branch on random signs mispredicts.
template <class T>
void relu_backward(const T* __restrict grad_out, const T* __restrict x, T* __restrict grad_in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) grad_in[i] = x[i] <= T(0) ? T(0) : grad_out[i];
}

// 8 independent scalar multiply-add chains.
template <class T>
double fma_probe(int64_t iterations) {
  T acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = T(i);
  for (int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 8; ++i) acc[i] = acc[i] * T(0.999999) + T(1e-7);
  double total = 0;
  for (int i = 0; i < 8; ++i) total += acc[i];
  return total;
}

template <class T>
void fill(Kernels<T>& k) {
  constexpr int MR = 4, NR = 8;
  k.gemm_mr = MR;
  static_assert(NR <= Kernels<T>::kMaxGemmCols);
  k.gemm_nr = NR;
  k.gemm_mr_min = MR;
  k.gemm_ukernel[MR] = gemm_packed<T, MR, NR>;
  k.gemm_ukernel_offsets[MR] = gemm_offsets<T, MR, NR>;
  k.gemm_ukernel_taps = gemm_taps<T, MR, NR>;
  k.conv_rows = conv_rows<T>;
  k.depthwise_nhwc = depthwise_nhwc_scalar<T>;
  k.max_pool_plane = max_pool_plane<T>;
  k.window_pool_plane = window_pool_plane<T>;
  k.adaptive_avg_plane = adaptive_avg_plane<T>;
  k.adaptive_max_plane = adaptive_max_plane<T>;
  k.max_pool_nhwc_row = max_pool_nhwc_row<T>;
  k.window_pool_nhwc_row = window_pool_nhwc_row<T>;
  k.adaptive_pool_nhwc = adaptive_pool_nhwc<T>;
  k.winograd_filter = winograd_filter_scalar<T>;
  k.winograd_input = winograd_input_scalar<T>;
  k.winograd_output = winograd_output_scalar<T>;
  fill_batched_conv<T, ScalarLane<T>>(k);
  k.relu = relu<T>;
  k.relu_backward = relu_backward<T>;
  k.weighted_rows = weighted_rows_lanes<T, ScalarLane<T>>;
  k.strided_taps = strided_taps_lanes<T, ScalarLane<T>>;
  k.tap_row_dots = tap_row_dots_lanes<T, ScalarLane<T>>;
  k.tap_row_dots_filters = tap_dots_filters<ScalarLane<T>>;
  k.tap_plane_dots = tap_plane_dots_lanes<T, ScalarLane<T>>;
  k.transpose = transpose_scalar<T>;
  k.fma_probe = fma_probe<T>;
  k.probe_flops = 16;
}

}  // namespace
}  // namespace portable

void fill_portable(Kernels<float>& f, Kernels<double>& d) {
  portable::fill(f);
  portable::fill(d);
}

}  // namespace fastconv
